/* Test helpers: keys generated at test time and images signed with them. */
#ifndef AG_IMAGE_TEST_FIXTURE_H
#define AG_IMAGE_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/image.h"
#include "agent/image_sign.h"

struct fx_image {
	uint8_t *img;
	size_t len;
	struct ag_image_pubkey pub;
};

/* Two keys made once per process, at test time. */
const struct ag_image_key *fx_key(int which);
void fx_pub(int which, struct ag_image_pubkey *ret);
void fx_keys_free(void);

/* Default parameters: version 1.2.3+45, hw "board-a", load 0x10000, counter 5. */
struct ag_image_params fx_params(void);

/* Sign a deterministic payload of @p payload_len bytes; asserts success. */
void fx_sign(struct fx_image *out, size_t payload_len, const struct ag_image_params *p, int key);
void fx_free(struct fx_image *im);

/* A policy that accepts fx_params() images signed with key 0. */
struct ag_image_policy fx_policy(const struct ag_image_pubkey *pub);

/* Feed an image to a streaming verifier in chunks of @p chunk bytes. */
int fx_verify_chunked(const uint8_t *img, size_t len, size_t chunk, const struct ag_image_policy *pol,
		      struct ag_image_info *ret_info);

#endif
