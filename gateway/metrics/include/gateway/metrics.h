/**
 * @file metrics.h
 * @brief The gateway's metrics registry and Prometheus text format 0.0.4.
 *
 * Modules add collectors; a scrape runs each one into a @ref gw_mbuf, times
 * it, and ends with the registry's own families (scrape duration per
 * collector, scrapes). Every family a collector writes starts with
 * @ref gw_mbuf_family (HELP and TYPE). Metric rules (DESIGN.md §5): prefix
 * flotilla_, base units, counters end in _total, and never a device id or a
 * pid as a label.
 */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define GW_METRICS_MAX_BYTES (16u * 1024u * 1024u) /**< largest exposition */
#define GW_METRICS_COLLECTORS_MAX 64               /**< collectors per registry */
#define GW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct gw_metrics;
struct gw_mbuf;

/** A collector writes its families into @p b. */
typedef void (*gw_collect_fn)(void *ctx, struct gw_mbuf *b);

/** @brief Creates a registry. @return 0 or -ENOMEM. */
int gw_metrics_new(struct gw_metrics **ret_m) __attribute__((warn_unused_result));

/** @brief Frees a registry; NULL is fine. */
void gw_metrics_free(struct gw_metrics *m);

/**
 * @brief Adds a collector, named by @p name in the per-collector scrape
 * duration (a static string). @return 0, -ENOSPC, or -EEXIST.
 */
int gw_metrics_add(struct gw_metrics *m, const char *name, gw_collect_fn fn, void *ctx);

/**
 * @brief Runs every collector and renders the exposition.
 * @param[out] ret_text malloc'd text, owned by the caller (free()).
 * @return 0, -ENOMEM, or -E2BIG (over GW_METRICS_MAX_BYTES).
 */
int gw_metrics_render(struct gw_metrics *m, char **ret_text, size_t *ret_len)
	__attribute__((warn_unused_result));

/** @brief Writes "# HELP" and "# TYPE" (counter, gauge, histogram, untyped). */
void gw_mbuf_family(struct gw_mbuf *b, const char *name, const char *type, const char *help);

/**
 * @brief Writes one sample. @p labels is NULL or pairs of name, value,
 * ending in NULL; values are escaped.
 */
void gw_mbuf_sample(struct gw_mbuf *b, const char *name, const char *const *labels, double v);

/** @brief Appends formatted text as is. */
void gw_mbuf_printf(struct gw_mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * @brief The standard process_* families from /proc/self: CPU seconds,
 * resident and virtual memory, open and max fds, start time. A collector.
 */
void gw_metrics_collect_process(void *ctx, struct gw_mbuf *b);

#endif /* GATEWAY_METRICS_H */
