/*
 * libFuzzer harness for the image parser and verifier.
 *
 * Input: an image. It goes through ag_image_parse(), ag_image_verify_mem()
 * and the streaming verifier (chunk size derived from the input's length);
 * the two verifiers' verdicts must agree. The trusted key is the test key
 * generated at build time, which also signs a seed, so mutations reach the
 * signature check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Generated at build time with the key that signed the built seed. */
extern const struct ag_image_pubkey ag_image_test_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size % 97 + 1;
	/* An exact-size copy: ASan catches any read past the end. */
	uint8_t *img = malloc(size ? size : 1);
	if (!img)
		return 0;
	memcpy(img, data, size);

	struct ag_image_info info;
	int prc = ag_image_parse(img, size, &info);
	if (prc == AG_OK && (info.total_size > size || info.utlv_off + info.utlv_size != info.total_size))
		abort();

	struct ag_image_policy pol = {.key = &ag_image_test_key, .min_security_counter = 1};
	int mrc = ag_image_verify_mem(img, size, &pol, NULL);

	static struct ag_image_verifier v;
	int src = ag_image_verify_init(&v, &pol);
	size_t off = 0;
	while (src == AG_OK && off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		/* Stop at the image's end, as a reader of a slot would. */
		uint32_t want = ag_image_verify_want(&v);
		if (want == 0)
			break;
		if (n > want)
			n = want;
		src = ag_image_verify_update(&v, img + off, n);
		off += n;
	}
	if (src == AG_OK)
		src = ag_image_verify_finish(&v, NULL);
	if (src != mrc)
		abort();
	/* The structure checks agree: a layout parse() refuses, verify refuses. */
	if (prc != AG_OK && mrc == AG_OK)
		abort();
	free(img);
	return 0;
}
