/**
 * @file image_pubkey.h
 * @brief The trusted-key type of the image format, on its own (no crypto headers),
 *        so generated key sources compile anywhere.
 */
#ifndef AGENT_IMAGE_PUBKEY_H
#define AGENT_IMAGE_PUBKEY_H

#include <stdint.h>

/** Uncompressed P-256 public point: 0x04 || X || Y. */
#define AG_IMAGE_PUBKEY_LEN 65u

/** A trusted public key: an uncompressed P-256 point. */
struct ag_image_pubkey {
	uint8_t point[AG_IMAGE_PUBKEY_LEN]; /**< 0x04 || X || Y */
};

#endif /* AGENT_IMAGE_PUBKEY_H */
