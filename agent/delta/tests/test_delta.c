/* Delta patches: round trips, hostile patches, streaming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/delta.h"
#include "agent/crc.h"
#include "agent/delta_gen.h"
#include "agent/err.h"

#include "delta_gen_internal.h"

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Firmware-like bytes: Thumb-2 instructions with BLs, literal pools of
 * pointers into a base address, and some text. */
static void make_firmware(uint8_t *p, size_t n, uint32_t base)
{
	for (size_t i = 0; i + 4 <= n; i += 4) {
		uint32_t r = rnd() % 10;
		if (r < 3) {
			uint32_t off = (rnd() % 4096) * 2 - 4096;
			uint32_t s = (off >> 24) & 1, i1 = (off >> 23) & 1, i2 = (off >> 22) & 1;
			uint32_t h1 = 0xf000 | (s << 10) | ((off >> 12) & 0x3ff);
			uint32_t h2 = 0xd000 | ((~(i1 ^ s) & 1) << 13) | ((~(i2 ^ s) & 1) << 11) | ((off >> 1) & 0x7ff);
			ag_put_le16(p + i, (uint16_t)h1);
			ag_put_le16(p + i + 2, (uint16_t)h2);
		} else if (r < 5) {
			ag_put_le32(p + i, base + (rnd() % (uint32_t)n));
		} else if (r < 7) {
			memcpy(p + i, "abcd", 4);
			p[i + (rnd() & 3)] = (uint8_t)rnd();
		} else {
			ag_put_le32(p + i, rnd() & 0x0000ffffu);
		}
	}
	for (size_t i = n & ~(size_t)3; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* A new version: code inserted and deleted, pointers and branches moved. */
static size_t make_new_version(const uint8_t *old, size_t on, uint8_t *nw, size_t cap, uint32_t base)
{
	size_t n = 0, i = 0;
	while (i < on && n < cap) {
		uint32_t r = rnd() % 100;
		if (r < 2 && n + 64 < cap) { /* insert */
			size_t k = 4 + rnd() % 60;
			for (size_t j = 0; j < k; j++)
				nw[n++] = (uint8_t)rnd();
		} else if (r < 4) { /* delete */
			i += 4 + rnd() % 60;
		} else {
			size_t k = 16 + rnd() % 512;
			if (k > on - i)
				k = on - i;
			if (k > cap - n)
				k = cap - n;
			memcpy(nw + n, old + i, k);
			/* shift some pointers in it */
			for (size_t j = 0; j + 4 <= k; j += 4) {
				uint32_t w = ag_get_le32(nw + n + j);
				if (w - base < 0x100000u && (rnd() & 1))
					ag_put_le32(nw + n + j, w + 8);
			}
			n += k;
			i += k;
		}
	}
	return n;
}

static void round_trip(const uint8_t *old, size_t on, const uint8_t *nw, size_t nn, int thumb2)
{
	struct ag_delta_gen_opts opts = { .thumb2 = thumb2 };
	uint8_t *patch = NULL;
	size_t plen = 0, outn = 0;
	assert_int_equal(ag_delta_generate(old, on, nw, nn, &opts, &patch, &plen), 0);
	struct ag_delta_header h;
	assert_int_equal(ag_delta_read_header(patch, plen, &h), 0);
	assert_int_equal(h.old_size, on);
	assert_int_equal(h.new_size, nn);
	assert_int_equal(h.patch_size, plen);
	uint8_t *out = malloc(nn + 1);
	assert_non_null(out);
	assert_int_equal(ag_delta_apply_mem(old, on, patch, plen, out, nn, &outn), 0);
	assert_int_equal(outn, nn);
	assert_memory_equal(out, nw, nn);
	free(out);
	free(patch);
}

static void test_round_trip_firmware(void **state)
{
	(void)state;
	size_t on = 100000, cap = 120000;
	uint8_t *old = malloc(on), *nw = malloc(cap);
	make_firmware(old, on, 0x08000000u);
	size_t nn = make_new_version(old, on, nw, cap, 0x08000000u);
	round_trip(old, on, nw, nn, -1);
	round_trip(old, on, nw, nn, 0);
	round_trip(old, on, nw, nn, 1);
	/* The patch is much smaller than the image. */
	uint8_t *patch;
	size_t plen;
	assert_int_equal(ag_delta_generate(old, on, nw, nn, NULL, &patch, &plen), 0);
	assert_true(plen < nn / 4);
	free(patch);
	free(old);
	free(nw);
}

static void test_round_trip_edges(void **state)
{
	(void)state;
	uint8_t a[3000], b[3000];
	for (size_t i = 0; i < sizeof(a); i++) {
		a[i] = (uint8_t)rnd();
		b[i] = (uint8_t)rnd();
	}
	round_trip(a, sizeof(a), a, sizeof(a), -1); /* identical */
	round_trip(a, sizeof(a), b, sizeof(b), -1); /* unrelated, incompressible */
	round_trip(NULL, 0, b, sizeof(b), -1);       /* no old image */
	round_trip(a, sizeof(a), NULL, 0, -1);       /* empty new image */
	round_trip(a, 1, b, 1, 0);
	round_trip(a, 4, a + 1, 7, 1);
	memset(b, 0, sizeof(b));
	round_trip(a, sizeof(a), b, sizeof(b), -1); /* all zeros */
	round_trip(b, sizeof(b), a, sizeof(a), -1);
}

static void test_round_trip_small_blocks(void **state)
{
	(void)state;
	size_t on = 50000, cap = 60000;
	uint8_t *old = malloc(on), *nw = malloc(cap), *out = malloc(cap), *patch;
	make_firmware(old, on, 0x20000u);
	size_t nn = make_new_version(old, on, nw, cap, 0x20000u), plen, outn;
	assert_int_equal(ag__delta_generate_ex(old, on, nw, nn, NULL, 12, &patch, &plen), 0);
	assert_int_equal(ag_delta_apply_mem(old, on, patch, plen, out, cap, &outn), 0);
	assert_int_equal(outn, nn);
	assert_memory_equal(out, nw, nn);
	free(patch);
	free(old);
	free(nw);
	free(out);
}

/* ---- hostile patches ---- */

struct fixture {
	uint8_t old[4096], nw[4096];
	uint8_t *patch;
	size_t plen;
};

static void fixture_make(struct fixture *f)
{
	make_firmware(f->old, sizeof(f->old), 0x08000000u);
	memcpy(f->nw, f->old, sizeof(f->nw));
	memcpy(f->nw + 1000, "a changed string in the new image", 33);
	f->nw[3000] ^= 0x55;
	assert_int_equal(ag_delta_generate(f->old, sizeof(f->old), f->nw, sizeof(f->nw), NULL,
					   &f->patch, &f->plen), 0);
}

static const uint8_t *expect_on_success;

/* Applies into a buffer with guard bytes on both sides; checks the guards,
 * and that a success built the expected image (if one is set). */
static int apply_guarded(const uint8_t *old, size_t on, const uint8_t *patch, size_t plen, size_t cap)
{
	uint8_t *buf = malloc(cap + 64);
	memset(buf, 0xa5, cap + 64);
	size_t outn;
	/* Exact-size copies so ASan sees any read outside them. */
	uint8_t *o = malloc(on ? on : 1), *p = malloc(plen ? plen : 1);
	memcpy(o, old, on);
	memcpy(p, patch, plen);
	int rc = ag_delta_apply_mem(o, on, p, plen, buf + 32, cap, &outn);
	if (rc == 0 && expect_on_success)
		assert_memory_equal(buf + 32, expect_on_success, outn);
	for (size_t i = 0; i < 32; i++) {
		assert_int_equal(buf[i], 0xa5);
		assert_int_equal(buf[32 + cap + i], 0xa5);
	}
	free(o);
	free(p);
	free(buf);
	return rc;
}

static void reseal_header(uint8_t *p)
{
	ag_put_le32(p + AG_DELTA_HEADER_LEN - 4, ag_crc32c(0, p, AG_DELTA_HEADER_LEN - 4));
}

static void test_hostile_header(void **state)
{
	(void)state;
	struct fixture f;
	fixture_make(&f);
	size_t cap = sizeof(f.nw);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), f.patch, f.plen, cap), 0);

	uint8_t *p = malloc(f.plen + 16);
	struct ag_delta_header h;
	/* truncated header, truncated body */
	assert_int_equal(ag_delta_read_header(f.patch, AG_DELTA_HEADER_LEN - 1, &h), AG_ETRUNC);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), f.patch, 20, cap), AG_ETRUNC);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), f.patch, f.plen - 1, cap), AG_ETRUNC);
	/* oversized: a byte past the declared end */
	memcpy(p, f.patch, f.plen);
	p[f.plen] = 0;
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), p, f.plen + 1, cap), AG_ETOOBIG);
	/* declared patch size beyond the format's limit */
	memcpy(p, f.patch, f.plen);
	ag_put_le32(p + 24, 0x7fffffffu);
	reseal_header(p);
	assert_int_equal(ag_delta_read_header(p, f.plen, &h), AG_ETOOBIG);
	/* bad magic, version, header CRC, reserved bits */
	memcpy(p, f.patch, f.plen);
	p[0] ^= 1;
	reseal_header(p);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), p, f.plen, cap), AG_EPATCH);
	memcpy(p, f.patch, f.plen);
	p[4] = 9;
	reseal_header(p);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), p, f.plen, cap), AG_EVERSION);
	memcpy(p, f.patch, f.plen);
	p[10] ^= 1;
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), p, f.plen, cap), AG_EPATCH);
	memcpy(p, f.patch, f.plen);
	p[5] |= 0x80;
	reseal_header(p);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), p, f.plen, cap), AG_EPATCH);
	/* wrong base: another old image of the same size, or another size */
	uint8_t other[4096];
	memcpy(other, f.old, sizeof(other));
	other[17] ^= 1;
	assert_int_equal(apply_guarded(other, sizeof(other), f.patch, f.plen, cap), AG_EPATCHBASE);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old) - 1, f.patch, f.plen, cap), AG_EPATCHBASE);
	/* the new image does not fit the slot */
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), f.patch, f.plen, cap - 1), AG_ENOSPC);
	/* a result that fails its CRC */
	memcpy(p, f.patch, f.plen);
	ag_put_le32(p + 20, ag_get_le32(p + 20) ^ 1);
	reseal_header(p);
	assert_int_equal(apply_guarded(f.old, sizeof(f.old), p, f.plen, cap), AG_EPATCHCRC);
	free(p);
	free(f.patch);
}

static void test_hostile_reads_outside_old(void **state)
{
	(void)state;
	uint8_t old[2048], nw[2048], *patch;
	size_t plen;
	for (size_t i = 0; i < sizeof(old); i++)
		old[i] = nw[i] = (uint8_t)rnd();
	/* Declared old image: 1000 bytes; the copy reads old[990..1010). */
	struct ag__delta_seg segs[] = { { 0, 0, 100, 0 }, { 100, 990, 20, 0 }, { 120, 0, 400, 0 } };
	assert_int_equal(ag__delta_encode_segs(old, sizeof(old), 1000, nw, 520, 520, segs, 3, 0, 16,
					       &patch, &plen), 0);
	assert_int_equal(apply_guarded(old, 1000, patch, plen, 520), AG_EPATCHRANGE);
	free(patch);
	/* A copy starting exactly at the end of the old image. */
	struct ag__delta_seg end[] = { { 0, 1000, 1, 0 } };
	assert_int_equal(ag__delta_encode_segs(old, sizeof(old), 1000, nw, 1, 1, end, 1, 0, 16,
					       &patch, &plen), 0);
	assert_int_equal(apply_guarded(old, 1000, patch, plen, 1), AG_EPATCHRANGE);
	free(patch);
}

static void test_hostile_writes_past_new(void **state)
{
	(void)state;
	uint8_t old[2048], nw[2048], *patch;
	size_t plen;
	for (size_t i = 0; i < sizeof(old); i++)
		old[i] = nw[i] = (uint8_t)rnd();
	/* Declared new image: 500 bytes; the commands produce 600. */
	struct ag__delta_seg segs[] = { { 0, 0, 400, 50 }, { 450, 450, 150, 0 } };
	assert_int_equal(ag__delta_encode_segs(old, sizeof(old), sizeof(old), nw, 600, 500, segs, 2, 0,
					       16, &patch, &plen), 0);
	assert_int_equal(apply_guarded(old, sizeof(old), patch, plen, 500), AG_EPATCHOVER);
	/* The slot is as large as the output, still refused: the declared size rules. */
	assert_int_equal(apply_guarded(old, sizeof(old), patch, plen, 600), AG_EPATCHOVER);
	free(patch);
}

static void test_hostile_corruption(void **state)
{
	(void)state;
	struct fixture f;
	fixture_make(&f);
	uint8_t *p = malloc(f.plen);
	/* A flipped bit in the coded body is refused, or (in the range coder's
	 * last bytes, which carry slack) still builds the right image; never a
	 * read or write out of bounds (ASan and the guards watch). */
	unsigned refused = 0;
	expect_on_success = f.nw;
	for (size_t i = AG_DELTA_HEADER_LEN; i < f.plen; i++) {
		memcpy(p, f.patch, f.plen);
		p[i] ^= (uint8_t)(1u << (rnd() % 8));
		int rc = apply_guarded(f.old, sizeof(f.old), p, f.plen, sizeof(f.nw));
		assert_true(rc <= 0);
		refused += rc < 0;
	}
	expect_on_success = NULL;
	assert_true(refused + 4 >= f.plen - AG_DELTA_HEADER_LEN);
	free(p);
	free(f.patch);
}

/* ---- streaming ---- */

struct sink {
	uint8_t *out;
	size_t cap;
	unsigned writes;
};

static int sink_write(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
	struct sink *s = ctx;
	assert_true(off + len <= s->cap);
	memcpy(s->out + off, buf, len);
	s->writes++;
	return 0;
}

static void test_streaming_random_chunks(void **state)
{
	(void)state;
	size_t on = 40000, cap = 50000;
	uint8_t *old = malloc(on), *nw = malloc(cap), *a = malloc(cap), *b = malloc(cap), *patch;
	make_firmware(old, on, 0x08000000u);
	size_t nn = make_new_version(old, on, nw, cap, 0x08000000u), plen, an;
	assert_int_equal(ag__delta_generate_ex(old, on, nw, nn, NULL, 13, &patch, &plen), 0);
	assert_int_equal(ag_delta_apply_mem(old, on, patch, plen, a, cap, &an), 0);
	static const size_t pages[] = { 16, 256, 1024, 8192 };
	for (unsigned round = 0; round < 24; round++) {
		size_t psz = pages[round % 4];
		uint8_t *page = malloc(psz);
		struct sink s = { b, cap, 0 };
		struct ag_delta d;
		memset(b, 0, cap);
		assert_int_equal(ag_delta_init(&d, old, on, page, psz, cap, sink_write, NULL, &s), 0);
		for (size_t off = 0; off < plen;) {
			size_t k = round & 1 ? rnd() % 7 : rnd() % 3000;
			if (k > plen - off)
				k = plen - off;
			assert_int_equal(ag_delta_feed(&d, patch + off, k), 0);
			off += k;
		}
		size_t bn;
		assert_int_equal(ag_delta_finish(&d, &bn), 0);
		assert_int_equal(bn, an);
		assert_memory_equal(a, b, an);
		assert_int_equal(s.writes, (an + psz - 1) / psz);
		free(page);
	}
	/* page larger than a block, or not a power of two */
	struct ag_delta d;
	uint8_t page[100];
	struct sink s = { b, cap, 0 };
	assert_int_equal(ag_delta_init(&d, old, on, page, 100, cap, sink_write, NULL, &s), AG_EINVAL);
	free(old);
	free(nw);
	free(a);
	free(b);
	free(patch);
}

static void test_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(ag_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(ag_crc32c(ag_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_state_fits_budget(void **state)
{
	(void)state;
	/* The apply state must stay within 4 KiB (plus the caller's page). */
	assert_true(sizeof(struct ag_delta) <= 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_firmware),
		cmocka_unit_test(test_round_trip_edges),
		cmocka_unit_test(test_round_trip_small_blocks),
		cmocka_unit_test(test_hostile_header),
		cmocka_unit_test(test_hostile_reads_outside_old),
		cmocka_unit_test(test_hostile_writes_past_new),
		cmocka_unit_test(test_hostile_corruption),
		cmocka_unit_test(test_streaming_random_chunks),
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_state_fits_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
