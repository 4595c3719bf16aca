/*
 * The device verifier on the host: ag_image compiled against our own mbedTLS
 * configuration (agent/image/mbedtls/) with the static crypto heap, checked
 * on an image signed at build time with a key generated at build time.
 * It proves the configured heap suffices and the device config verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/image.h"

extern const struct ag_image_pubkey ag_image_test_key;
extern uint32_t ag__image_heap_limit;

static uint8_t *img;
static size_t img_len;

static int load(void **state)
{
	(void)state;
	FILE *f = fopen(AG_IMAGE_TEST_IMAGE, "rb");
	if (!f)
		return -1;
	img = malloc(1 << 20);
	img_len = fread(img, 1, 1 << 20, f);
	fclose(f);
	return img_len > 0 ? 0 : -1;
}

static int unload(void **state)
{
	(void)state;
	free(img);
	return 0;
}

static struct ag_image_policy policy(void)
{
	struct ag_image_policy pol = {
		.key = &ag_image_test_key,
		.hw_id = "flotilla-test",
		.min_security_counter = 7,
		.max_size = 64 * 1024,
		.check_load_addr = 1,
		.load_addr = 0x00200000,
	};
	return pol;
}

static void test_verifies(void **state)
{
	(void)state;
	struct ag_image_policy pol = policy();
	struct ag_image_info info;
	for (int i = 0; i < 5; i++) /* the heap is reset every time */
		assert_int_equal(ag_image_verify_mem(img, img_len, &pol, &info), AG_OK);
	assert_int_equal(info.total_size, img_len);
	assert_string_equal(info.hdr.hw_id, "flotilla-test");
	assert_int_equal(info.hdr.version.build, 45);

	static struct ag_image_verifier v;
	assert_int_equal(ag_image_verify_init(&v, &pol), AG_OK);
	for (size_t off = 0; off < img_len; off += 100)
		assert_int_equal(ag_image_verify_update(&v, img + off,
							img_len - off < 100 ? img_len - off : 100),
				 AG_OK);
	assert_int_equal(ag_image_verify_finish(&v, NULL), AG_OK);


	/* The smallest heap that verifies, found by bisection. mbedTLS's
	 * allocation pattern is deterministic, so this is exact for this build
	 * (a 64-bit host's block headers are twice a Cortex-M's: an upper bound). */
	uint32_t size = ag__image_heap_limit, lo = 64, hi = size;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		ag__image_heap_limit = mid;
		int rc = ag_image_verify_mem(img, img_len, &pol, NULL);
		assert_true(rc == AG_OK || rc == AG_ENOSPC);
		if (rc == AG_OK)
			hi = mid;
		else
			lo = mid + 1;
	}
	ag__image_heap_limit = size;
	printf("crypto heap needed: %u of %u bytes\n", (unsigned)lo, (unsigned)size);
	/* Keep an eighth spare. */
	assert_true(lo <= size - size / 8);
}

static void test_refusals(void **state)
{
	(void)state;
	struct ag_image_policy pol = policy();
	size_t hdr = img[4] | (size_t)img[5] << 8;
	img[hdr + 10] ^= 1;
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_EHASH);
	img[hdr + 10] ^= 1;
	img[img_len - 1] ^= 1;
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_ESIG);
	img[img_len - 1] ^= 1;
	assert_int_equal(ag_image_verify_mem(img, img_len - 1, &pol, NULL), AG_ETRUNC);
	pol.max_size = (uint32_t)img_len - 1;
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_ETOOBIG);
	pol = policy();
	pol.hw_id = "other";
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_EHWID);
	pol = policy();
	pol.min_security_counter = 8;
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_ESECCNT);
	pol = policy();
	pol.load_addr = 0x00300000;
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_ESLOT);
	pol = policy();
	assert_int_equal(ag_image_verify_mem(img, img_len, &pol, NULL), AG_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifies),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, load, unload);
}
