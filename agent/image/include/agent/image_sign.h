/**
 * @file image_sign.h
 * @brief Host-side image building and signing (Linux only; target ag_image_sign).
 *
 * Functions return 0 or a negative errno. Output parameters are written only
 * on success; buffers and strings they return are malloc'd and the caller
 * frees them.
 */
#ifndef AGENT_IMAGE_SIGN_H
#define AGENT_IMAGE_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "agent/image.h"

/** Default header size: the payload (vector table) lands 512-byte aligned. */
#define AG_IMAGE_HDR_SIZE_DEFAULT 512u
/** Largest PEM key file read by ag_image_key_load(). */
#define AG_IMAGE_PEM_MAX (16u * 1024u)

/** A P-256 key: a key pair, or a public key only. Opaque. */
struct ag_image_key;

/** What goes into an image's header and protected TLV area. */
struct ag_image_params {
	struct ag_image_version version; /**< release version */
	const char *hw_id;          /**< hardware id (see ag_image_check_hw_id()) */
	uint32_t load_addr;         /**< address of the image start in its slot */
	uint32_t security_counter;  /**< anti-rollback counter */
	uint32_t flags;             /**< AG_IMAGE_FLAGS_KNOWN bits only */
	uint16_t hdr_size;          /**< 0: AG_IMAGE_HDR_SIZE_DEFAULT */
	const uint8_t *ptlv;        /**< protected TLV entries (type, len, value...), without the info header; may be NULL */
	size_t ptlv_len;            /**< their length */
};

/**
 * @brief Generate a fresh P-256 key pair from the system's entropy.
 * @param[out] ret_key new key; free with ag_image_key_free()
 * @return 0, -ENOMEM, or -EIO when the entropy source fails
 */
int ag_image_key_generate(struct ag_image_key **ret_key);

/**
 * @brief Parse a PEM (or DER) key: a P-256 private key (SEC1 or PKCS#8) or a public key.
 * @param data key text; need not be NUL-terminated
 * @param len its length
 * @param[out] ret_key new key; free with ag_image_key_free()
 * @return 0; -EBADMSG if it is not a key; -EKEYREJECTED if it is not P-256 ECDSA; -ENOMEM
 */
int ag_image_key_parse(const uint8_t *data, size_t len, struct ag_image_key **ret_key);

/**
 * @brief Read and parse a key file (at most AG_IMAGE_PEM_MAX bytes).
 * @return as ag_image_key_parse(); -errno of open/read; -EFBIG if too long
 */
int ag_image_key_load(const char *path, struct ag_image_key **ret_key);

/** @brief Free a key (private parts are wiped). Accepts NULL. */
void ag_image_key_free(struct ag_image_key *key);

/** @brief Nonzero if the key has its private part (can sign). */
int ag_image_key_has_private(const struct ag_image_key *key);

/**
 * @brief The public point of a key.
 * @param key the key
 * @param[out] ret_pub uncompressed point
 * @return 0 or -EINVAL
 */
int ag_image_key_public(const struct ag_image_key *key, struct ag_image_pubkey *ret_pub);

/**
 * @brief Write a key as PEM.
 * @param key the key
 * @param private_part nonzero: the private key (SEC1 "EC PRIVATE KEY"); zero: the public key
 * @param[out] ret_pem NUL-terminated PEM text, malloc'd
 * @return 0; -ENOKEY if the private part is asked for and absent; -ENOMEM
 */
int ag_image_key_write_pem(const struct ag_image_key *key, int private_part, char **ret_pem);

/**
 * @brief Write the public key as a C source file for device builds.
 *
 * It defines `const struct ag_image_pubkey <symbol>` (agent/image.h) holding
 * the uncompressed point, and a comment with its key hash.
 *
 * @param key the key
 * @param symbol a C identifier
 * @param[out] ret_src NUL-terminated C text, malloc'd
 * @return 0; -EINVAL for a bad symbol; -ENOMEM
 */
int ag_image_key_write_c(const struct ag_image_key *key, const char *symbol, char **ret_src);

/**
 * @brief Parse "MAJOR.MINOR.PATCH[+BUILD]" (major, minor <= 255; patch <= 65535; build < 2^32).
 * @return 0 or -EINVAL
 */
int ag_image_parse_version(const char *s, struct ag_image_version *ret_ver);

/**
 * @brief Format a version as "MAJOR.MINOR.PATCH+BUILD".
 * @param v version
 * @param buf output
 * @param size its size; 32 always suffices
 * @return 0, or -ENOSPC if @p size is too small
 */
int ag_image_format_version(const struct ag_image_version *v, char *buf, size_t size);

/**
 * @brief Build and sign an image around a raw payload.
 *
 * Writes header, payload, protected TLVs and the unprotected TLVs (SHA-256,
 * key hash, deterministic ECDSA P-256 signature, RFC 6979), then verifies
 * the result with the key's public part before returning it.
 *
 * @param payload firmware bytes (may be NULL when @p payload_len is 0)
 * @param payload_len at most AG_IMAGE_PAYLOAD_MAX
 * @param params header fields
 * @param key a key with its private part
 * @param[out] ret_img the image, malloc'd
 * @param[out] ret_len its length
 * @return 0; -EINVAL for a bad parameter (hardware id, header size, flags,
 *         protected TLVs that do not parse or exceed AG_IMAGE_PTLV_MAX);
 *         -EFBIG for a payload over the limit; -ENOKEY for a public-only key;
 *         -ENOMEM; -EIO if signing fails
 */
int ag_image_sign(const uint8_t *payload, size_t payload_len, const struct ag_image_params *params,
		  const struct ag_image_key *key, uint8_t **ret_img, size_t *ret_len);

#endif /* AGENT_IMAGE_SIGN_H */
