/**
 * @file image.h
 * @brief Flotilla firmware image: layout, parser and verifier (device contract).
 *
 * An image is, in this order (agent/IMAGE.md has the byte layout):
 *
 *     header (hdr_size bytes: 64 fixed + zero padding)
 *     payload (payload_size bytes: the firmware, linked at load_addr + hdr_size)
 *     protected TLV area (ptlv_size bytes, may be 0: covered by the hash)
 *     unprotected TLV area (SHA-256, key hash, ECDSA P-256 signature)
 *
 * The SHA-256 covers header, payload and protected TLV area. The signature is
 * ECDSA P-256 over that hash. All integers are little-endian.
 *
 * This part is freestanding: no malloc, no stdio. Functions return 0 or a
 * negative @ref ag_err. Output parameters are written only on success.
 * On the device the signature check borrows a static buffer as mbedTLS's
 * heap for the duration of one ag_image_verify_mem() or
 * ag_image_verify_finish(); those calls must not overlap. Streaming
 * verifiers may be in flight side by side: only finish() uses the crypto
 * heap, and it never yields.
 */
#ifndef AGENT_IMAGE_H
#define AGENT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

#include "agent/err.h"
#include "agent/image_pubkey.h"

/** "FLIM" as read little-endian from the first four bytes. */
#define AG_IMAGE_MAGIC 0x4d494c46u
/** The header layout this code reads and writes. */
#define AG_IMAGE_FORMAT 1u
/** Length of the fixed part of the header. */
#define AG_IMAGE_HDR_LEN 64u
/** Largest accepted hdr_size (fixed part plus padding). */
#define AG_IMAGE_HDR_SIZE_MAX 4096u
/** hdr_size must be a multiple of this. */
#define AG_IMAGE_HDR_ALIGN 8u
/** Largest accepted payload. */
#define AG_IMAGE_PAYLOAD_MAX 0x40000000u
/** Largest protected TLV area, info header included. */
#define AG_IMAGE_PTLV_MAX 256u
/** Largest unprotected TLV area, info header included. */
#define AG_IMAGE_UTLV_MAX 512u
/** Largest whole image. */
#define AG_IMAGE_SIZE_MAX                                                              \
	(AG_IMAGE_HDR_SIZE_MAX + AG_IMAGE_PAYLOAD_MAX + AG_IMAGE_PTLV_MAX + AG_IMAGE_UTLV_MAX)
/** Longest hardware id, in characters ([A-Za-z0-9._-]). */
#define AG_IMAGE_HW_ID_MAX 16u

/** Magic of the protected TLV area's info header ("PT"). */
#define AG_IMAGE_PTLV_MAGIC 0x5450u
/** Magic of the unprotected TLV area's info header ("UT"). */
#define AG_IMAGE_UTLV_MAGIC 0x5455u
/** Length of a TLV area's info header (magic u16, total length u16). */
#define AG_IMAGE_TLV_INFO_LEN 4u
/** Length of one TLV's header (type u16, length u16). */
#define AG_IMAGE_TLV_HDR_LEN 4u

/** SHA-256 digest length. */
#define AG_IMAGE_HASH_LEN 32u
/** Raw ECDSA P-256 signature: r || s, big-endian, 32 bytes each. */
#define AG_IMAGE_SIG_LEN 64u

/** Header flags that a reader must understand (unknown ones are refused). */
#define AG_IMAGE_FLAGS_CRITICAL 0x0000ffffu
/** Header flags known to this code. None yet: the field is for later. */
#define AG_IMAGE_FLAGS_KNOWN 0x00000000u

/** TLV types. Bit 15 set: optional, a reader that does not know it skips it. */
enum ag_image_tlv_type {
	AG_IMAGE_TLV_SHA256 = 0x0010,     /**< unprotected: SHA-256 of hdr+payload+ptlv */
	AG_IMAGE_TLV_KEYHASH = 0x0011,    /**< unprotected: SHA-256 of the signer's public point */
	AG_IMAGE_TLV_ECDSA_P256 = 0x0020, /**< unprotected: r || s over the SHA-256 */
	AG_IMAGE_TLV_OPTIONAL = 0x8000,   /**< flag bit: may be skipped when unknown */
};

/** Semantic version plus build number. */
struct ag_image_version {
	uint8_t major;  /**< incompatible changes */
	uint8_t minor;  /**< compatible features */
	uint16_t patch; /**< fixes */
	uint32_t build; /**< build number, the "+N" suffix */
};

/** The decoded fixed header. */
struct ag_image_header {
	uint16_t hdr_size;         /**< offset of the payload from the image start */
	uint16_t format;           /**< AG_IMAGE_FORMAT */
	uint32_t payload_size;     /**< bytes of firmware after the header */
	uint32_t flags;            /**< AG_IMAGE_FLAGS_* */
	struct ag_image_version version; /**< release version */
	uint32_t load_addr;        /**< address of the image start in the slot it is linked for */
	uint32_t security_counter; /**< anti-rollback counter */
	uint16_t ptlv_size;        /**< protected TLV area length, 0 when absent */
	char hw_id[AG_IMAGE_HW_ID_MAX + 1]; /**< hardware id, NUL-terminated */
};

/** What a parse or a successful verification learned about an image. */
struct ag_image_info {
	struct ag_image_header hdr; /**< the header */
	uint32_t ptlv_off;    /**< offset of the protected TLV area */
	uint32_t utlv_off;    /**< offset of the unprotected TLV area */
	uint16_t utlv_size;   /**< its length, info header included */
	uint32_t total_size;  /**< header + payload + both TLV areas */
	uint8_t hash[AG_IMAGE_HASH_LEN];     /**< SHA-256 (from the TLV; equal to the computed one after verify) */
	uint8_t key_hash[AG_IMAGE_HASH_LEN]; /**< SHA-256 of the signer's public point */
	uint8_t has_hash;     /**< the SHA256 TLV is present */
	uint8_t has_key_hash; /**< the KEYHASH TLV is present */
	uint8_t has_sig;      /**< the ECDSA_P256 TLV is present */
};

/** What a verifier accepts. */
struct ag_image_policy {
	const struct ag_image_pubkey *key; /**< trusted key; required */
	const char *hw_id;      /**< this device's hardware id; NULL accepts any (host tools only) */
	uint32_t min_security_counter; /**< refuse images with a lower counter */
	uint32_t max_size;      /**< slot size: refuse larger images; 0 means AG_IMAGE_SIZE_MAX */
	uint32_t load_addr;     /**< slot address, checked when check_load_addr is set */
	uint8_t check_load_addr; /**< refuse an image linked for another slot */
};

/** Streaming verifier state. Allocate it anywhere (static on the device); all fields private. */
struct ag_image_verifier {
	const struct ag_image_policy *pol; /**< private */
	mbedtls_sha256_context sha;        /**< private */
	struct ag_image_header hdr;        /**< private: valid once the header is in */
	uint32_t off;       /**< private: bytes consumed */
	uint32_t stage_end; /**< private: offset where the current stage ends */
	uint32_t max_size;  /**< private: effective size limit */
	int stage;          /**< private */
	int err;            /**< private: sticky error */
	uint16_t utlv_size; /**< private */
	uint8_t hdr_buf[AG_IMAGE_HDR_LEN];                     /**< private */
	uint8_t tlv_buf[AG_IMAGE_PTLV_MAX + AG_IMAGE_UTLV_MAX]; /**< private: both TLV areas */
};

/** Iterator over the entries of one TLV area held in memory. */
struct ag_image_tlv_iter {
	const uint8_t *area; /**< private */
	uint16_t len;        /**< private: area length, info header included */
	uint16_t off;        /**< private: next entry */
};

/**
 * @brief Decode and check the fixed header (no policy, no crypto).
 * @param buf the first bytes of an image
 * @param len bytes available at @p buf
 * @param[out] ret_hdr the header, written on success
 * @return 0; AG_ETRUNC if @p len < AG_IMAGE_HDR_LEN; AG_EIMAGE for a bad
 *         magic, format, hdr_size, reserved byte or hardware id; AG_ETOOBIG
 *         for a payload or protected TLV area over its limit.
 */
int ag_image_parse_header(const uint8_t *buf, size_t len, struct ag_image_header *ret_hdr);

/**
 * @brief Parse a whole image in memory: header, bounds, both TLV areas.
 *
 * Checks the layout only. It neither hashes nor checks the signature: use
 * ag_image_verify_mem() before trusting anything.
 *
 * @param img image start
 * @param len bytes available (a file's size, or a slot's size)
 * @param[out] ret_info layout and TLV contents, written on success
 * @return 0; errors of ag_image_parse_header(); AG_ETRUNC if the image
 *         extends past @p len; AG_ETOOBIG if a TLV area is over its limit;
 *         AG_ETLV for a bad TLV area (magic, length, overrun, duplicate or
 *         misshapen entry, unknown non-optional type).
 */
int ag_image_parse(const uint8_t *img, size_t len, struct ag_image_info *ret_info);

/**
 * @brief Start iterating over a TLV area.
 * @param[out] it iterator
 * @param area the area's first byte (its info header)
 * @param avail bytes available at @p area
 * @param magic AG_IMAGE_PTLV_MAGIC or AG_IMAGE_UTLV_MAGIC
 * @return 0; AG_ETRUNC if the info header or the area does not fit in
 *         @p avail; AG_ETLV for a wrong magic or a length below the info header.
 */
int ag_image_tlv_begin(struct ag_image_tlv_iter *it, const uint8_t *area, size_t avail,
		       uint16_t magic);

/**
 * @brief Next TLV entry of the area.
 * @param it iterator from ag_image_tlv_begin()
 * @param[out] ret_type entry type
 * @param[out] ret_val entry value (points into the area)
 * @param[out] ret_len value length
 * @return 1 with an entry, 0 at the end of the area, AG_ETLV if an entry
 *         overruns the area (the outputs are then untouched).
 */
int ag_image_tlv_next(struct ag_image_tlv_iter *it, uint16_t *ret_type, const uint8_t **ret_val,
		      uint16_t *ret_len);

/**
 * @brief Start a streaming verification.
 * @param v verifier, any previous state is discarded
 * @param pol policy; must stay valid until ag_image_verify_finish()
 * @return 0, or AG_EINVAL if @p pol has no key
 */
int ag_image_verify_init(struct ag_image_verifier *v, const struct ag_image_policy *pol);

/**
 * @brief Bytes the verifier wants next to reach its next stage.
 *
 * Feeding exactly this many bytes at a time lets a reader stop at the
 * image's end without knowing its size (the size is known once the header
 * and the unprotected TLV info header are in). 0 when the image is complete
 * or the verifier has failed.
 */
uint32_t ag_image_verify_want(const struct ag_image_verifier *v);

/**
 * @brief Feed the next bytes of the image, in order, in chunks of any size.
 *
 * The header is checked as soon as it is complete, so a wrong hardware id,
 * a lower security counter or an oversized image is refused before the
 * payload is read. Errors are sticky: later calls return the same code.
 *
 * @return 0; AG_EIMAGE, AG_ETOOBIG, AG_EHWID, AG_ESECCNT, AG_ESLOT, AG_ETLV
 *         as the bytes reveal them; AG_ETOOBIG for bytes past the image's end.
 */
int ag_image_verify_update(struct ag_image_verifier *v, const uint8_t *data, size_t len);

/**
 * @brief Finish: check hash, key and signature.
 * @param v verifier fed the whole image
 * @param[out] ret_info may be NULL; written on success only
 * @return 0 when the image is authentic and acceptable; the sticky error of
 *         update(); AG_ETRUNC if the image is incomplete; AG_EHASH for a
 *         missing or wrong SHA-256; AG_EKEY for a missing key hash or one
 *         that is not the trusted key's; AG_ESIG for a missing or invalid
 *         signature; AG_ENOSPC if the crypto heap is too small.
 */
int ag_image_verify_finish(struct ag_image_verifier *v, struct ag_image_info *ret_info);

/**
 * @brief Verify an image that is readable through a pointer (memory-mapped slot, file in RAM).
 *
 * Reads only the bytes the image consists of, never past @p len.
 *
 * @param img image start
 * @param len bytes readable at @p img (the slot size, or a file's size)
 * @param pol policy
 * @param[out] ret_info may be NULL; written on success only
 * @return as ag_image_verify_finish(); AG_ETRUNC if the image claims more
 *         bytes than @p len (and fits the policy's max_size).
 */
int ag_image_verify_mem(const uint8_t *img, size_t len, const struct ag_image_policy *pol,
			struct ag_image_info *ret_info);

/**
 * @brief SHA-256 of a public point: the value of the KEYHASH TLV.
 * @param key the key
 * @param[out] ret_hash 32 bytes
 * @return 0, or AG_EINVAL
 */
int ag_image_key_hash(const struct ag_image_pubkey *key, uint8_t ret_hash[AG_IMAGE_HASH_LEN]);

/**
 * @brief Check a hardware id's spelling: 1..16 characters of [A-Za-z0-9._-].
 * @return 0, or AG_EINVAL
 */
int ag_image_check_hw_id(const char *hw_id);

#endif /* AGENT_IMAGE_H */
