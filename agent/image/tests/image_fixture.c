#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image_fixture.h"

static struct ag_image_key *keys[2];

const struct ag_image_key *fx_key(int which)
{
	if (!keys[which])
		assert_int_equal(ag_image_key_generate(&keys[which]), 0);
	return keys[which];
}

void fx_pub(int which, struct ag_image_pubkey *ret)
{
	assert_int_equal(ag_image_key_public(fx_key(which), ret), 0);
}

void fx_keys_free(void)
{
	for (int i = 0; i < 2; i++) {
		ag_image_key_free(keys[i]);
		keys[i] = NULL;
	}
}

struct ag_image_params fx_params(void)
{
	struct ag_image_params p = {
		.version = {.major = 1, .minor = 2, .patch = 3, .build = 45},
		.hw_id = "board-a",
		.load_addr = 0x10000,
		.security_counter = 5,
	};
	return p;
}

void fx_sign(struct fx_image *out, size_t payload_len, const struct ag_image_params *p, int key)
{
	uint8_t *payload = malloc(payload_len ? payload_len : 1);
	assert_non_null(payload);
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(i * 131u + 7u);
	memset(out, 0, sizeof(*out));
	assert_int_equal(ag_image_sign(payload, payload_len, p, fx_key(key), &out->img, &out->len), 0);
	fx_pub(key, &out->pub);
	free(payload);
}

void fx_free(struct fx_image *im)
{
	free(im->img);
	im->img = NULL;
}

struct ag_image_policy fx_policy(const struct ag_image_pubkey *pub)
{
	struct ag_image_policy pol = {
		.key = pub,
		.hw_id = "board-a",
		.min_security_counter = 5,
	};
	return pol;
}

int fx_verify_chunked(const uint8_t *img, size_t len, size_t chunk, const struct ag_image_policy *pol,
		      struct ag_image_info *ret_info)
{
	static struct ag_image_verifier v; /* as a device would keep it */
	int rc = ag_image_verify_init(&v, pol);
	for (size_t off = 0; rc == 0 && off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		rc = ag_image_verify_update(&v, img + off, n);
	}
	if (rc == 0)
		rc = ag_image_verify_finish(&v, ret_info);
	return rc;
}
