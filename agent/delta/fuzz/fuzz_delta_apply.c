/*
 * libFuzzer harness for the patch decoder. Each input is tried twice: as it
 * is (header parsing), and with its header made to match the harness's old
 * image and the input's length, so the coded body is what gets fuzzed. The
 * first body byte also picks the feeding chunk size and the page size.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bytes.h"
#include "agent/delta.h"
#include "agent/crc.h"

#define OLD_LEN 4096u
#define SLOT 8192u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzz corpus's patches were made against this old image. */
static void make_old(uint8_t *old)
{
	uint32_t x = 1;
	for (unsigned i = 0; i < OLD_LEN; i++) {
		x = x * 1103515245u + 12345u;
		old[i] = (uint8_t)(i % 5 == 0 ? x >> 24 : i * 3);
	}
}

static int sink(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
	uint8_t *slot = ctx;
	if (off > SLOT || len > SLOT - off)
		abort(); /* the decoder wrote outside the slot */
	memcpy(slot + off, buf, len);
	return 0;
}

static void run(const uint8_t *old, const uint8_t *patch, size_t len, size_t chunk, size_t psz)
{
	static uint8_t slot[SLOT], page[1024];
	struct ag_delta d;
	if (ag_delta_init(&d, old, OLD_LEN, page, psz, SLOT, sink, NULL, slot))
		abort();
	for (size_t off = 0; off < len;) {
		size_t k = len - off < chunk ? len - off : chunk;
		if (ag_delta_feed(&d, patch + off, k))
			return;
		off += k;
	}
	size_t n;
	(void)ag_delta_finish(&d, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *old = malloc(OLD_LEN), *p = malloc(size ? size : 1);
	make_old(old);
	memcpy(p, data, size);
	run(old, p, size, size ? size : 1, 256);
	if (size >= AG_DELTA_HEADER_LEN) {
		ag_put_le32(p + 8, OLD_LEN);
		ag_put_le32(p + 12, ag_crc32c(0, old, OLD_LEN));
		ag_put_le32(p + 24, (uint32_t)size);
		ag_put_le32(p + AG_DELTA_HEADER_LEN - 4, ag_crc32c(0, p, AG_DELTA_HEADER_LEN - 4));
		unsigned sel = size > AG_DELTA_HEADER_LEN ? data[AG_DELTA_HEADER_LEN] : 0;
		run(old, p, size, 1u + (sel & 63u) * 7u, 16u << (sel >> 6));
	}
	free(old);
	free(p);
	return 0;
}
