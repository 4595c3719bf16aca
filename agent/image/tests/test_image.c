/* ag_image and ag_image_sign: round trips and every refusal, by error code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "agent/bytes.h"
#include "agent/err.h"
#include "agent/image.h"
#include "agent/image_sign.h"
#include "image_fixture.h"

/* The byte layout as agent/IMAGE.md documents it; tests tamper by offset. */
#define OFF_MAGIC 0
#define OFF_HDR_SIZE 4
#define OFF_FORMAT 6
#define OFF_PAYLOAD_SIZE 8
#define OFF_FLAGS 12
#define OFF_SECCNT 28
#define OFF_PTLV_SIZE 32
#define OFF_RESERVED0 34
#define OFF_HW_ID 36
#define OFF_RESERVED1 52
#define UTLV_SIZE (4 + 4 + 32 + 4 + 32 + 4 + 64)

/* Offset of the unprotected TLV area of an image made by ag_image_sign(). */
static size_t utlv_off(const struct fx_image *im)
{
	return im->len - UTLV_SIZE;
}

/* Verify both ways (memory-mapped and streamed in odd chunks); they must agree. */
static int verify_both(const uint8_t *img, size_t len, const struct ag_image_policy *pol)
{
	int a = ag_image_verify_mem(img, len, pol, NULL);
	int b = fx_verify_chunked(img, len, 7, pol, NULL);
	assert_int_equal(a, b);
	return a;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 3000, &p, 0);
	assert_int_equal(im.len, AG_IMAGE_HDR_SIZE_DEFAULT + 3000 + UTLV_SIZE);

	struct ag_image_policy pol = fx_policy(&im.pub);
	struct ag_image_info info;
	assert_int_equal(ag_image_verify_mem(im.img, im.len, &pol, &info), AG_OK);
	assert_int_equal(info.hdr.hdr_size, AG_IMAGE_HDR_SIZE_DEFAULT);
	assert_int_equal(info.hdr.payload_size, 3000);
	assert_int_equal(info.hdr.version.major, 1);
	assert_int_equal(info.hdr.version.minor, 2);
	assert_int_equal(info.hdr.version.patch, 3);
	assert_int_equal(info.hdr.version.build, 45);
	assert_int_equal(info.hdr.load_addr, 0x10000);
	assert_int_equal(info.hdr.security_counter, 5);
	assert_string_equal(info.hdr.hw_id, "board-a");
	assert_int_equal(info.total_size, im.len);
	assert_int_equal(info.utlv_off, utlv_off(&im));
	assert_true(info.has_hash && info.has_key_hash && info.has_sig);

	/* The payload sits at hdr_size, unchanged. */
	for (size_t i = 0; i < 3000; i++)
		assert_int_equal(im.img[512 + i], (uint8_t)(i * 131u + 7u));

	/* inspect's view (parse, no crypto) agrees with verify's. */
	struct ag_image_info parsed;
	assert_int_equal(ag_image_parse(im.img, im.len, &parsed), AG_OK);
	assert_memory_equal(&parsed.hdr, &info.hdr, sizeof(info.hdr));
	assert_memory_equal(parsed.hash, info.hash, AG_IMAGE_HASH_LEN);
	assert_memory_equal(parsed.key_hash, info.key_hash, AG_IMAGE_HASH_LEN);

	uint8_t kh[AG_IMAGE_HASH_LEN];
	assert_int_equal(ag_image_key_hash(&im.pub, kh), AG_OK);
	assert_memory_equal(kh, info.key_hash, sizeof(kh));

	/* Deterministic signatures: the same input signs to the same bytes. */
	struct fx_image again;
	fx_sign(&again, 3000, &p, 0);
	assert_int_equal(again.len, im.len);
	assert_memory_equal(again.img, im.img, im.len);
	fx_free(&again);
	fx_free(&im);
}

static void test_streaming_any_chunking(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	p.hdr_size = 64; /* no padding stage */
	fx_sign(&im, 1000, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	static const size_t chunks[] = {1, 2, 3, 63, 64, 65, 511, 4096};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct ag_image_info info;
		assert_int_equal(fx_verify_chunked(im.img, im.len, chunks[i], &pol, &info), AG_OK);
		assert_int_equal(info.total_size, im.len);
	}

	/* want() walks a reader exactly to the end without knowing the size. */
	struct ag_image_verifier v;
	assert_int_equal(ag_image_verify_init(&v, &pol), AG_OK);
	size_t off = 0;
	uint32_t want;
	while ((want = ag_image_verify_want(&v)) != 0) {
		assert_true(off + want <= im.len);
		assert_int_equal(ag_image_verify_update(&v, im.img + off, want), AG_OK);
		off += want;
	}
	assert_int_equal(off, im.len);
	assert_int_equal(ag_image_verify_finish(&v, NULL), AG_OK);
	/* finish() is once only. */
	assert_int_equal(ag_image_verify_finish(&v, NULL), AG_ESTATE);
	fx_free(&im);

	/* An empty payload is a valid (if useless) image. */
	fx_sign(&im, 0, &p, 0);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	fx_free(&im);
}

static void test_bad_signature(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 2000, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);

	/* A flipped bit in r, in s: the signature fails. */
	size_t sig = utlv_off(&im) + 4 + 36 + 36 + 4;
	static const size_t at[] = {0, 31, 32, 63};
	for (size_t i = 0; i < 4; i++) {
		im.img[sig + at[i]] ^= 0x01;
		assert_int_equal(verify_both(im.img, im.len, &pol), AG_ESIG);
		im.img[sig + at[i]] ^= 0x01;
	}
	/* r = 0 and s = n are out of range, not a crash. */
	memset(im.img + sig, 0, 32);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ESIG);
	memset(im.img + sig, 0xff, 64);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ESIG);
	fx_free(&im);

	/* No signature TLV at all: drop it by shrinking the area. */
	fx_sign(&im, 100, &p, 0);
	size_t u = utlv_off(&im);
	ag_put_le16(im.img + u + 2, 4 + 36 + 36);
	assert_int_equal(verify_both(im.img, im.len - 68, &pol), AG_ESIG);
	fx_free(&im);
}

static void test_payload_or_hash_tampered(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 2000, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	const uint8_t *orig = im.img;
	uint8_t *copy = malloc(im.len);
	memcpy(copy, orig, im.len);

	/* Any payload byte, the header padding, the hash TLV value. */
	static const size_t at[] = {512, 1000, 2511, 100, 511};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		im.img[at[i]] ^= 0x80;
		assert_int_equal(verify_both(im.img, im.len, &pol), AG_EHASH);
		im.img[at[i]] ^= 0x80;
	}
	im.img[utlv_off(&im) + 8] ^= 1;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EHASH);
	im.img[utlv_off(&im) + 8] ^= 1;
	/* Verification reads, never writes. */
	assert_memory_equal(im.img, copy, im.len);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	free(copy);
	fx_free(&im);
}

static void test_wrong_key(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 500, &p, 1); /* key 1: not the trusted one */
	struct ag_image_pubkey trusted;
	fx_pub(0, &trusted);
	struct ag_image_policy pol = fx_policy(&trusted);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EKEY);

	/* Claiming the trusted key's hash does not help: the signature fails. */
	uint8_t kh[AG_IMAGE_HASH_LEN];
	assert_int_equal(ag_image_key_hash(&trusted, kh), AG_OK);
	memcpy(im.img + utlv_off(&im) + 4 + 36 + 4, kh, sizeof(kh));
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ESIG);
	fx_free(&im);
}

static void test_wrong_hw_id(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	p.hw_id = "board-b";
	fx_sign(&im, 500, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EHWID);
	/* A prefix is not a match. */
	pol.hw_id = "board";
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EHWID);
	pol.hw_id = "board-b";
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	pol.hw_id = NULL; /* host tools may skip the check */
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	fx_free(&im);
}

static void test_security_counter(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	p.security_counter = 9;
	fx_sign(&im, 500, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	pol.min_security_counter = 10; /* installed image has 10: downgrade */
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ESECCNT);
	pol.min_security_counter = 9;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	pol.min_security_counter = 0;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	/* Raising the counter in the header breaks the hash. */
	ag_put_le32(im.img + OFF_SECCNT, 11);
	pol.min_security_counter = 10;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EHASH);
	fx_free(&im);
}

static void test_load_addr(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 500, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	pol.check_load_addr = 1;
	pol.load_addr = 0x90000; /* slot B; image is linked for slot A */
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ESLOT);
	pol.load_addr = 0x10000;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	fx_free(&im);
}

static void test_truncated(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	uint8_t ptlv[8] = {0x01, 0x80, 4, 0, 'd', 'e', 'p', 's'};
	p.ptlv = ptlv;
	p.ptlv_len = sizeof(ptlv);
	p.hdr_size = 128;
	fx_sign(&im, 300, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	/* Every strict prefix, both ways; parse agrees. */
	for (size_t n = 0; n < im.len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
		memcpy(cut, im.img, n);
		assert_int_equal(ag_image_verify_mem(cut, n, &pol, NULL), AG_ETRUNC);
		assert_int_equal(fx_verify_chunked(cut, n, 5, &pol, NULL), AG_ETRUNC);
		struct ag_image_info info;
		assert_int_equal(ag_image_parse(cut, n, &info), AG_ETRUNC);
		free(cut);
	}
	/* Extra bytes after the image in a slot are not part of it. */
	uint8_t *slot = calloc(1, im.len + 100);
	memcpy(slot, im.img, im.len);
	assert_int_equal(ag_image_verify_mem(slot, im.len + 100, &pol, NULL), AG_OK);
	/* ...but a stream that goes on past the end is refused. */
	assert_int_equal(fx_verify_chunked(slot, im.len + 1, 64, &pol, NULL), AG_ETOOBIG);
	free(slot);
	fx_free(&im);
}

static void test_oversized(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 1000, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);

	/* Bigger than the slot. */
	pol.max_size = (uint32_t)im.len - 1;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETOOBIG);
	pol.max_size = (uint32_t)im.len;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	/* A header that claims a huge payload is refused before it is read. */
	pol.max_size = 64 * 1024;
	ag_put_le32(im.img + OFF_PAYLOAD_SIZE, 1u << 20);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETOOBIG);
	ag_put_le32(im.img + OFF_PAYLOAD_SIZE, AG_IMAGE_PAYLOAD_MAX + 1);
	pol.max_size = 0;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETOOBIG);
	struct ag_image_header h;
	assert_int_equal(ag_image_parse_header(im.img, im.len, &h), AG_ETOOBIG);
	ag_put_le32(im.img + OFF_PAYLOAD_SIZE, 1000);
	/* Oversized TLV areas. */
	ag_put_le16(im.img + OFF_PTLV_SIZE, AG_IMAGE_PTLV_MAX + 4);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETOOBIG);
	ag_put_le16(im.img + OFF_PTLV_SIZE, 0);
	size_t u = utlv_off(&im);
	ag_put_le16(im.img + u + 2, AG_IMAGE_UTLV_MAX + 1);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETOOBIG);
	struct ag_image_info info;
	assert_int_equal(ag_image_parse(im.img, im.len, &info), AG_ETOOBIG);
	ag_put_le16(im.img + u + 2, UTLV_SIZE);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	fx_free(&im);
}

static void test_tlv_area_errors(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 200, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	struct ag_image_info info;
	size_t u = utlv_off(&im);

	/* An entry whose length runs past the area. */
	ag_put_le16(im.img + u + 4 + 2, 33);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	assert_int_equal(ag_image_parse(im.img, im.len, &info), AG_ETLV);
	ag_put_le16(im.img + u + 4 + 2, 0xffff);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	ag_put_le16(im.img + u + 4 + 2, 32);
	/* An area that ends inside an entry. */
	ag_put_le16(im.img + u + 2, UTLV_SIZE - 68 - 1);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	/* An area length below its own info header. */
	ag_put_le16(im.img + u + 2, 3);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	ag_put_le16(im.img + u + 2, UTLV_SIZE);
	/* Wrong magic. */
	im.img[u] ^= 0xff;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	im.img[u] ^= 0xff;
	/* A duplicate hash TLV (the key hash entry retyped). */
	ag_put_le16(im.img + u + 4 + 36, AG_IMAGE_TLV_SHA256);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	/* An unknown type we must understand. */
	ag_put_le16(im.img + u + 4 + 36, 0x0077);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	/* An unknown optional one is skipped -- and then the key hash is missing. */
	ag_put_le16(im.img + u + 4 + 36, 0x8077);
	assert_int_equal(ag_image_parse(im.img, im.len, &info), AG_OK);
	assert_false(info.has_key_hash);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EKEY);
	ag_put_le16(im.img + u + 4 + 36, AG_IMAGE_TLV_KEYHASH);
	/* A known TLV with the wrong length. */
	ag_put_le16(im.img + u + 4 + 36 + 2, 31);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	ag_put_le16(im.img + u + 4 + 36 + 2, 32);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);

	/* The iterator on its own. */
	struct ag_image_tlv_iter it;
	uint16_t type, len;
	const uint8_t *val;
	assert_int_equal(ag_image_tlv_begin(&it, im.img + u, 3, AG_IMAGE_UTLV_MAGIC), AG_ETRUNC);
	assert_int_equal(ag_image_tlv_begin(&it, im.img + u, UTLV_SIZE - 1, AG_IMAGE_UTLV_MAGIC),
			 AG_ETRUNC);
	assert_int_equal(ag_image_tlv_begin(&it, im.img + u, UTLV_SIZE, AG_IMAGE_PTLV_MAGIC), AG_ETLV);
	assert_int_equal(ag_image_tlv_begin(&it, im.img + u, UTLV_SIZE, AG_IMAGE_UTLV_MAGIC), AG_OK);
	int n = 0;
	while (ag_image_tlv_next(&it, &type, &val, &len) == 1)
		n++;
	assert_int_equal(n, 3);
	fx_free(&im);
}

static void test_protected_tlvs(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	/* Two optional protected TLVs, as later dependency records would be. */
	uint8_t ptlv[] = {0x40, 0x80, 3, 0, 'a', 'b', 'c', 0x41, 0x80, 0, 0};
	p.ptlv = ptlv;
	p.ptlv_len = sizeof(ptlv);
	fx_sign(&im, 100, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	struct ag_image_info info;
	assert_int_equal(ag_image_verify_mem(im.img, im.len, &pol, &info), AG_OK);
	assert_int_equal(info.hdr.ptlv_size, 4 + sizeof(ptlv));
	assert_int_equal(info.ptlv_off, 512 + 100);
	assert_memory_equal(im.img + info.ptlv_off + 4, ptlv, sizeof(ptlv));
	/* The protected area is covered by the hash. */
	im.img[info.ptlv_off + 5] ^= 1;
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_EHASH);
	im.img[info.ptlv_off + 5] ^= 1;
	/* And is checked for structure. */
	ag_put_le16(im.img + info.ptlv_off + 2, (uint16_t)(4 + sizeof(ptlv) - 1));
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	fx_free(&im);

	/* The signer refuses protected TLVs a reader would refuse. */
	uint8_t *img;
	size_t len;
	uint8_t bad1[] = {0x40, 0x00, 0, 0}; /* unknown, not optional */
	uint8_t bad2[] = {0x40, 0x80, 9, 0, 1}; /* overruns */
	uint8_t *payload = (uint8_t *)"x";
	p.ptlv = bad1;
	p.ptlv_len = sizeof(bad1);
	assert_int_equal(ag_image_sign(payload, 1, &p, fx_key(0), &img, &len), -EINVAL);
	p.ptlv = bad2;
	p.ptlv_len = sizeof(bad2);
	assert_int_equal(ag_image_sign(payload, 1, &p, fx_key(0), &img, &len), -EINVAL);
	p.ptlv_len = AG_IMAGE_PTLV_MAX;
	assert_int_equal(ag_image_sign(payload, 1, &p, fx_key(0), &img, &len), -EINVAL);
}

static void test_malformed_header(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 100, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	struct {
		size_t off;
		uint8_t val;
	} cases[] = {
		{OFF_MAGIC, 'X'},
		{OFF_FORMAT, 2},
		{OFF_HDR_SIZE, 0x04},      /* 0x204: not a multiple of 8 */
		{OFF_HDR_SIZE + 1, 0x00},  /* 0x000: below the fixed header */
		{OFF_HDR_SIZE + 1, 0x20},  /* 0x2000: above the limit */
		{OFF_FLAGS, 0x01},         /* unknown critical flag */
		{OFF_RESERVED0, 1},
		{OFF_RESERVED1 + 11, 1},
		{OFF_HW_ID, 0},            /* empty */
		{OFF_HW_ID + 2, ' '},      /* not an id character */
		{OFF_HW_ID + 10, 'x'},     /* junk after the NUL */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t was = im.img[cases[i].off];
		im.img[cases[i].off] = cases[i].val;
		assert_int_equal(verify_both(im.img, im.len, &pol), AG_EIMAGE);
		im.img[cases[i].off] = was;
	}
	/* Unknown informational flags (high half) are allowed through the parser. */
	struct ag_image_header h;
	ag_put_le32(im.img + OFF_FLAGS, 0x00010000u);
	assert_int_equal(ag_image_parse_header(im.img, im.len, &h), AG_OK);
	assert_int_equal(h.flags, 0x00010000u);
	ag_put_le32(im.img + OFF_FLAGS, 0);
	/* A protected-area size too small to hold its own info header. */
	ag_put_le16(im.img + OFF_PTLV_SIZE, 2);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_ETLV);
	ag_put_le16(im.img + OFF_PTLV_SIZE, 0);
	assert_int_equal(verify_both(im.img, im.len, &pol), AG_OK);
	fx_free(&im);
}

static void test_outputs_untouched_on_error(void **state)
{
	(void)state;
	struct fx_image im;
	struct ag_image_params p = fx_params();
	fx_sign(&im, 100, &p, 0);
	struct ag_image_policy pol = fx_policy(&im.pub);
	pol.hw_id = "other";
	struct ag_image_info info, blank;
	memset(&info, 0xaa, sizeof(info));
	memset(&blank, 0xaa, sizeof(blank));
	assert_int_equal(ag_image_verify_mem(im.img, im.len, &pol, &info), AG_EHWID);
	assert_memory_equal(&info, &blank, sizeof(info));
	assert_int_equal(ag_image_parse(im.img, 10, &info), AG_ETRUNC);
	assert_memory_equal(&info, &blank, sizeof(info));
	/* Errors are sticky in the streaming verifier. */
	struct ag_image_verifier v;
	assert_int_equal(ag_image_verify_init(&v, &pol), AG_OK);
	assert_int_equal(ag_image_verify_update(&v, im.img, 64), AG_EHWID);
	assert_int_equal(ag_image_verify_want(&v), 0);
	assert_int_equal(ag_image_verify_update(&v, im.img + 64, 10), AG_EHWID);
	assert_int_equal(ag_image_verify_finish(&v, &info), AG_EHWID);
	assert_memory_equal(&info, &blank, sizeof(info));
	/* Argument checks. */
	assert_int_equal(ag_image_verify_init(&v, NULL), AG_EINVAL);
	struct ag_image_policy nokey = {0};
	assert_int_equal(ag_image_verify_mem(im.img, im.len, &nokey, NULL), AG_EINVAL);
	/* An unusable trusted key is a configuration error, not a bad image. */
	struct ag_image_pubkey junk;
	memset(&junk, 0x11, sizeof(junk));
	pol = fx_policy(&junk);
	uint8_t kh[AG_IMAGE_HASH_LEN];
	ag_image_key_hash(&junk, kh);
	memcpy(im.img + utlv_off(&im) + 4 + 36 + 4, kh, sizeof(kh));
	assert_int_equal(ag_image_verify_mem(im.img, im.len, &pol, NULL), AG_EINVAL);
	fx_free(&im);
}

static void test_distinct_codes(void **state)
{
	(void)state;
	/* Each refusal the tests above expect has its own code and name. */
	static const int codes[] = {AG_ESIG, AG_EKEY, AG_EHASH, AG_EHWID, AG_ESECCNT, AG_ESLOT,
				    AG_ETRUNC, AG_ETOOBIG, AG_ETLV, AG_EIMAGE};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(ag_strerror(codes[i]), "unknown");
		for (size_t j = i + 1; j < n; j++) {
			assert_int_not_equal(codes[i], codes[j]);
			assert_string_not_equal(ag_strerror(codes[i]), ag_strerror(codes[j]));
		}
	}
}

static void test_sign_errors(void **state)
{
	(void)state;
	struct ag_image_params p = fx_params();
	uint8_t *img = NULL;
	size_t len = 0;
	uint8_t payload[16] = {0};
	p.hw_id = "bad id";
	assert_int_equal(ag_image_sign(payload, 16, &p, fx_key(0), &img, &len), -EINVAL);
	p.hw_id = "0123456789abcdefg"; /* 17 characters */
	assert_int_equal(ag_image_sign(payload, 16, &p, fx_key(0), &img, &len), -EINVAL);
	p = fx_params();
	p.hdr_size = 60;
	assert_int_equal(ag_image_sign(payload, 16, &p, fx_key(0), &img, &len), -EINVAL);
	p.hdr_size = 100;
	assert_int_equal(ag_image_sign(payload, 16, &p, fx_key(0), &img, &len), -EINVAL);
	p = fx_params();
	p.flags = 1;
	assert_int_equal(ag_image_sign(payload, 16, &p, fx_key(0), &img, &len), -EINVAL);
	p = fx_params();
	assert_int_equal(ag_image_sign(payload, (size_t)AG_IMAGE_PAYLOAD_MAX + 1, &p, fx_key(0),
				       &img, &len),
			 -EFBIG);
	/* A public key cannot sign. */
	char *pem = NULL;
	struct ag_image_key *pub = NULL;
	assert_int_equal(ag_image_key_write_pem(fx_key(0), 0, &pem), 0);
	assert_int_equal(ag_image_key_parse((uint8_t *)pem, strlen(pem), &pub), 0);
	assert_int_equal(ag_image_sign(payload, 16, &p, pub, &img, &len), -ENOKEY);
	assert_null(img);
	free(pem);
	ag_image_key_free(pub);
}

static void test_keys(void **state)
{
	(void)state;
	struct ag_image_pubkey a, b;
	fx_pub(0, &a);
	fx_pub(1, &b);
	assert_memory_not_equal(a.point, b.point, sizeof(a.point));
	assert_int_equal(a.point[0], 0x04);

	/* Private PEM round trip keeps the key and its private part. */
	char *pem = NULL;
	struct ag_image_key *k = NULL;
	assert_int_equal(ag_image_key_write_pem(fx_key(0), 1, &pem), 0);
	assert_non_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
	assert_int_equal(ag_image_key_parse((uint8_t *)pem, strlen(pem), &k), 0);
	assert_true(ag_image_key_has_private(k));
	struct ag_image_pubkey c;
	assert_int_equal(ag_image_key_public(k, &c), 0);
	assert_memory_equal(a.point, c.point, sizeof(a.point));
	ag_image_key_free(k);
	free(pem);

	/* Public PEM: same point, no private part. */
	assert_int_equal(ag_image_key_write_pem(fx_key(0), 0, &pem), 0);
	assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
	assert_int_equal(ag_image_key_parse((uint8_t *)pem, strlen(pem), &k), 0);
	assert_false(ag_image_key_has_private(k));
	assert_int_equal(ag_image_key_public(k, &c), 0);
	assert_memory_equal(a.point, c.point, sizeof(a.point));
	char *pem2 = NULL;
	assert_int_equal(ag_image_key_write_pem(k, 1, &pem2), -ENOKEY);
	ag_image_key_free(k);
	free(pem);

	/* Not a key; a key on another curve. */
	static const char junk[] = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
	k = NULL;
	assert_int_equal(ag_image_key_parse((const uint8_t *)junk, strlen(junk), &k), -EBADMSG);
	assert_null(k);
	assert_int_equal(ag_image_key_load("/nonexistent/key.pem", &k), -ENOENT);

	mbedtls_pk_context pk;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_init(&pk);
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
	assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(pk),
					     mbedtls_ctr_drbg_random, &drbg),
			 0);
	unsigned char buf[1024];
	assert_int_equal(mbedtls_pk_write_key_pem(&pk, buf, sizeof(buf)), 0);
	assert_int_equal(ag_image_key_parse(buf, strlen((char *)buf), &k), -EKEYREJECTED);
	mbedtls_pk_free(&pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);

	/* The C source for device builds carries the point. */
	char *src = NULL;
	assert_int_equal(ag_image_key_write_c(fx_key(0), "my_key", &src), 0);
	assert_non_null(strstr(src, "const struct ag_image_pubkey my_key = {"));
	char first[32];
	snprintf(first, sizeof(first), "0x04, 0x%02x, 0x%02x,", a.point[1], a.point[2]);
	assert_non_null(strstr(src, first));
	free(src);
	assert_int_equal(ag_image_key_write_c(fx_key(0), "1bad", &src), -EINVAL);
}

static void test_versions(void **state)
{
	(void)state;
	struct ag_image_version v;
	char buf[32];
	assert_int_equal(ag_image_parse_version("1.2.3+45", &v), 0);
	assert_int_equal(v.major, 1);
	assert_int_equal(v.minor, 2);
	assert_int_equal(v.patch, 3);
	assert_int_equal(v.build, 45);
	assert_int_equal(ag_image_format_version(&v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.2.3+45");
	assert_int_equal(ag_image_parse_version("255.255.65535+4294967295", &v), 0);
	assert_int_equal(v.build, 4294967295u);
	assert_int_equal(ag_image_parse_version("0.0.0", &v), 0);
	assert_int_equal(v.build, 0);
	static const char *bad[] = {"", "1", "1.2", "1.2.3.4", "256.0.0", "0.256.0", "0.0.65536",
				    "1.2.3+", "1.2.3+4294967296", "-1.2.3", "1.2.3-rc1", " 1.2.3",
				    "1..3", "1.2.3+4x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ag_image_parse_version(bad[i], &v), -EINVAL);
	assert_int_equal(ag_image_format_version(&v, buf, 4), -ENOSPC);
	assert_int_equal(ag_image_check_hw_id("mps2-an386"), AG_OK);
	assert_int_equal(ag_image_check_hw_id(""), AG_EINVAL);
	assert_int_equal(ag_image_check_hw_id("a/b"), AG_EINVAL);
}

static int teardown(void **state)
{
	(void)state;
	fx_keys_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_streaming_any_chunking),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_payload_or_hash_tampered),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_wrong_hw_id),
		cmocka_unit_test(test_security_counter),
		cmocka_unit_test(test_load_addr),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_tlv_area_errors),
		cmocka_unit_test(test_protected_tlvs),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_outputs_untouched_on_error),
		cmocka_unit_test(test_distinct_codes),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_versions),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
