#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/crc.h"
#include "agent/err.h"
#include "agent/frame.h"

#define WIRE_MAX AG_FRAME_WIRE(AG_FRAME_MAX)

static int encode_data(const uint8_t *p, uint16_t len, uint8_t seq, uint8_t *out)
{
	struct ag_frame f = { .kind = AG_FRAME_DATA, .seq = seq, .ack = 7, .len = len, .payload = p };
	return ag_frame_encode(&f, out, WIRE_MAX);
}

/* Feeds everything; records results in order. Returns the number of results. */
static int feed_all(struct ag_frame_decoder *d, const uint8_t *in, size_t n, int *res,
		    struct ag_frame *frames, int max)
{
	int k = 0;

	while (n && k < max) {
		size_t used;
		struct ag_frame f;
		int rc = ag_frame_decode(d, in, n, &used, &f);

		assert_true(used <= n);
		in += used;
		n -= used;
		if (rc == 0)
			break;
		res[k] = rc;
		if (rc == 1)
			frames[k] = f;
		k++;
		if (rc == 1)
			return k; /* frame points into the decoder: caller checks first */
	}
	return k;
}

static void test_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(ag_crc32c(0, "123456789", 9), 0xe3069283u);
	/* Incremental equals one shot. */
	uint32_t c = ag_crc32c(0, "1234", 4);
	assert_int_equal(ag_crc32c(c, "56789", 5), 0xe3069283u);
}

static void round_trip(const uint8_t *p, uint16_t len)
{
	uint8_t wire[WIRE_MAX];
	struct ag_frame_decoder d;
	struct ag_frame f;
	size_t used;
	int n = encode_data(p, len, 42, wire);

	assert_true(n > 0);
	assert_true((size_t)n <= AG_FRAME_WIRE(AG_FRAME_OVERHEAD + (size_t)len));
	/* Only the two delimiters are zero. */
	assert_int_equal(wire[0], 0);
	assert_int_equal(wire[n - 1], 0);
	for (int i = 1; i < n - 1; i++)
		assert_int_not_equal(wire[i], 0);

	ag_frame_decoder_init(&d, AG_FRAME_MAX);
	assert_int_equal(ag_frame_decode(&d, wire, (size_t)n, &used, &f), 1);
	assert_int_equal(used, n);
	assert_int_equal(f.kind, AG_FRAME_DATA);
	assert_int_equal(f.seq, 42);
	assert_int_equal(f.ack, 7);
	assert_int_equal(f.len, len);
	assert_memory_equal(f.payload, p, len);

	/* Byte by byte gives the same frame. */
	ag_frame_decoder_init(&d, AG_FRAME_MAX);
	for (int i = 0; i < n; i++) {
		int rc = ag_frame_decode(&d, wire + i, 1, &used, &f);
		assert_int_equal(used, 1);
		assert_int_equal(rc, i == n - 1 ? 1 : 0);
	}
	assert_memory_equal(f.payload, p, len);
}

static void test_round_trips(void **state)
{
	(void)state;
	uint8_t p[AG_FRAME_PAYLOAD(AG_FRAME_MAX)];
	const uint16_t max = (uint16_t)sizeof(p);

	/* zeros, 0xff runs, counting bytes, every length */
	for (uint16_t len = 1; len <= max; len++) {
		memset(p, 0, len);
		round_trip(p, len);
		memset(p, 0xff, len);
		round_trip(p, len);
		for (uint16_t i = 0; i < len; i++)
			p[i] = (uint8_t)(i + 1);
		round_trip(p, len);
	}
}

static void test_control_frames(void **state)
{
	(void)state;
	uint8_t wire[WIRE_MAX], nonce[8] = { 1, 0, 0, 0, 2, 0, 0, 0 };
	struct ag_frame_decoder d;
	struct ag_frame f = { .kind = AG_FRAME_ACK, .ack = 9 }, g;
	size_t used;
	int n;

	ag_frame_decoder_init(&d, AG_FRAME_MAX);
	n = ag_frame_encode(&f, wire, sizeof(wire));
	assert_int_equal(ag_frame_decode(&d, wire, (size_t)n, &used, &g), 1);
	assert_int_equal(g.kind, AG_FRAME_ACK);
	assert_int_equal(g.ack, 9);
	assert_int_equal(g.len, 0);

	f = (struct ag_frame){ .kind = AG_FRAME_RST_ACK, .len = 8, .payload = nonce };
	n = ag_frame_encode(&f, wire, sizeof(wire));
	assert_int_equal(ag_frame_decode(&d, wire, (size_t)n, &used, &g), 1);
	assert_int_equal(g.kind, AG_FRAME_RST_ACK);
	assert_memory_equal(g.payload, nonce, 8);

	/* A control frame with the wrong payload size is not a frame of ours. */
	f = (struct ag_frame){ .kind = AG_FRAME_RST, .len = 3, .payload = nonce };
	n = ag_frame_encode(&f, wire, sizeof(wire));
	assert_int_equal(ag_frame_decode(&d, wire, (size_t)n, &used, &g), AG_EGARBAGE);
	/* An empty DATA frame neither. */
	f = (struct ag_frame){ .kind = AG_FRAME_DATA, .len = 0 };
	n = ag_frame_encode(&f, wire, sizeof(wire));
	assert_int_equal(ag_frame_decode(&d, wire, (size_t)n, &used, &g), AG_EGARBAGE);
}

static void test_encode_errors(void **state)
{
	(void)state;
	uint8_t wire[WIRE_MAX], p[4] = { 1, 2, 3, 4 };
	struct ag_frame f = { .kind = AG_FRAME_DATA, .len = 4, .payload = p };

	assert_int_equal(ag_frame_encode(&f, wire, 8), AG_ENOSPC);
	f.kind = 9;
	assert_int_equal(ag_frame_encode(&f, wire, sizeof(wire)), AG_EINVAL);
	f.kind = AG_FRAME_DATA;
	f.payload = NULL;
	assert_int_equal(ag_frame_encode(&f, wire, sizeof(wire)), AG_EINVAL);
}

/* Each kind of bad input has its own error, and the next good frame decodes. */
static void bad_then_good(const uint8_t *bad, size_t bad_len, int want)
{
	uint8_t in[2 * WIRE_MAX + 600], good[WIRE_MAX], p[5] = { 'h', 'e', 'l', 'l', 'o' };
	struct ag_frame_decoder d;
	struct ag_frame frames[8];
	int res[8];
	size_t n = 0;
	int gl = encode_data(p, sizeof(p), 1, good);

	memcpy(in, bad, bad_len);
	n = bad_len;
	memcpy(in + n, good, (size_t)gl);
	n += (size_t)gl;

	ag_frame_decoder_init(&d, AG_FRAME_MAX);
	int k = feed_all(&d, in, n, res, frames, 8);
	assert_int_equal(k, 2);
	assert_int_equal(res[0], want);
	assert_int_equal(res[1], 1);
	assert_int_equal(frames[1].len, 5);
	assert_memory_equal(frames[1].payload, p, 5);
}

static void test_truncated(void **state)
{
	(void)state;
	uint8_t wire[WIRE_MAX], p[40];
	int n;

	memset(p, 0x55, sizeof(p));
	n = encode_data(p, sizeof(p), 3, wire);
	/* Cut inside the COBS block: a delimiter arrives early. */
	uint8_t cut[WIRE_MAX];
	memcpy(cut, wire, 20);
	cut[20] = 0;
	bad_then_good(cut, 21, AG_ETRUNC);
	/* Shorter than a header and CRC. */
	const uint8_t tiny[] = { 0, 0x03, 0xa0, 0x01, 0 };
	bad_then_good(tiny, sizeof(tiny), AG_ETRUNC);
	(void)n;
}

static void test_oversized(void **state)
{
	(void)state;
	uint8_t big[600];

	/* 598 nonzero bytes between delimiters: over AG_FRAME_MAX. */
	big[0] = 0;
	for (size_t i = 1; i < sizeof(big) - 1; i++)
		big[i] = (uint8_t)(i % 200 + 1);
	big[sizeof(big) - 1] = 0;
	bad_then_good(big, sizeof(big), AG_ETOOBIG);
}

static void test_bad_crc(void **state)
{
	(void)state;
	uint8_t wire[WIRE_MAX], p[16];
	int n;

	memset(p, 0x11, sizeof(p));
	n = encode_data(p, sizeof(p), 5, wire);
	wire[n / 2] ^= 0x04; /* one bit, not making a zero */
	assert_int_not_equal(wire[n / 2], 0);
	bad_then_good(wire, (size_t)n, AG_ECRC);
}

static void test_garbage(void **state)
{
	(void)state;
	/* Noise between delimiters that does not start with our marker. */
	const uint8_t noise[] = { 0, 0x09, 0x13, 0x37, 0x42, 0x99, 0x12, 0x34, 0x56, 0x78, 0 };
	bad_then_good(noise, sizeof(noise), AG_EGARBAGE);
}

static void test_resync_after_noise_without_delimiter(void **state)
{
	(void)state;
	/* Noise with no zero in it runs straight into a frame: only that frame
	 * is lost (its leading delimiter ends the noise), the next decodes. */
	uint8_t in[3 * WIRE_MAX], p[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct ag_frame_decoder d;
	struct ag_frame frames[8];
	int res[8];
	size_t n = 0;

	for (int i = 0; i < 30; i++)
		in[n++] = (uint8_t)(0x80 + i);
	n += (size_t)encode_data(p, sizeof(p), 1, in + n);
	ag_frame_decoder_init(&d, AG_FRAME_MAX);
	int k = feed_all(&d, in, n, res, frames, 8);
	assert_int_equal(k, 2);
	assert_true(res[0] < 0);
	assert_int_equal(res[1], 1);
	assert_memory_equal(frames[1].payload, p, 8);
}

static void test_idle_delimiters_ignored(void **state)
{
	(void)state;
	uint8_t in[64] = { 0 }, p[3] = { 9, 9, 9 };
	struct ag_frame_decoder d;
	struct ag_frame frames[4];
	int res[4];
	size_t n = 10;

	n += (size_t)encode_data(p, 3, 2, in + n);
	n += 5;
	ag_frame_decoder_init(&d, AG_FRAME_MAX);
	assert_int_equal(feed_all(&d, in, n, res, frames, 4), 1);
	assert_int_equal(res[0], 1);
}

static void test_smaller_limit(void **state)
{
	(void)state;
	uint8_t wire[WIRE_MAX], p[200];
	struct ag_frame_decoder d;
	struct ag_frame f;
	size_t used;
	int n;

	memset(p, 0x33, sizeof(p));
	n = encode_data(p, sizeof(p), 1, wire);
	ag_frame_decoder_init(&d, AG_FRAME_MIN_MAX);
	assert_int_equal(ag_frame_decode(&d, wire, (size_t)n, &used, &f), AG_ETOOBIG);
	/* The rest of the frame is skipped quietly. */
	size_t rest = (size_t)n - used;
	assert_int_equal(ag_frame_decode(&d, wire + used, rest, &used, &f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_control_frames),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_crc),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_resync_after_noise_without_delimiter),
		cmocka_unit_test(test_idle_delimiters_ignored),
		cmocka_unit_test(test_smaller_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
