/* Helpers shared by the gw_ebpf tests. */
#ifndef GW_EBPF_TESTUTIL_H
#define GW_EBPF_TESTUTIL_H

#include <stddef.h>
#include "gateway/ebpf.h"

/** Metrics text of h in a malloc'd string (caller frees); NULL on error. */
char *tu_metrics(const struct gw_ebpf *h);

/**
 * Run `promtool check metrics` on text.
 * @return its exit status, 77 when promtool is not installed, -1 on error
 */
int tu_promtool_check(const char *text);

/**
 * Check every histogram series of text: its +Inf bucket equals its _count
 * and its buckets never decrease.
 * @return number of +Inf buckets checked, or -1 on the first mismatch
 */
int tu_check_histograms(const char *text);

/** Sleep ms milliseconds. */
void tu_sleep_ms(unsigned ms);

#endif
