/* Internal to ag_image: shared by the parser and the verifier. */
#ifndef AGENT_IMAGE_PRIV_H
#define AGENT_IMAGE_PRIV_H

#include <stdint.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "agent/image.h"

/* Header field offsets: agent/IMAGE.md is the reference. */
enum {
	AG__IMG_OFF_MAGIC = 0,
	AG__IMG_OFF_HDR_SIZE = 4,
	AG__IMG_OFF_FORMAT = 6,
	AG__IMG_OFF_PAYLOAD_SIZE = 8,
	AG__IMG_OFF_FLAGS = 12,
	AG__IMG_OFF_VER_MAJOR = 16,
	AG__IMG_OFF_VER_MINOR = 17,
	AG__IMG_OFF_VER_PATCH = 18,
	AG__IMG_OFF_VER_BUILD = 20,
	AG__IMG_OFF_LOAD_ADDR = 24,
	AG__IMG_OFF_SECCNT = 28,
	AG__IMG_OFF_PTLV_SIZE = 32,
	AG__IMG_OFF_RESERVED0 = 34, /* u16, zero */
	AG__IMG_OFF_HW_ID = 36,     /* 16 bytes, NUL-padded */
	AG__IMG_OFF_RESERVED1 = 52, /* 12 bytes, zero */
};

/* What a scan of a TLV area found (pointers into the area). */
struct ag__image_tlvs {
	const uint8_t *hash;
	const uint8_t *key_hash;
	const uint8_t *sig;
};

/* Check every entry of a TLV area whose info header is already known to be
 * valid and whose length fits: unknown non-optional types, misshapen or
 * duplicate known entries, and overruns are AG_ETLV. */
int ag__image_scan_tlvs(const uint8_t *area, uint16_t len, uint16_t magic,
			struct ag__image_tlvs *ret_found);

/* Read a TLV area's info header and check it against its limit.
 * AG_ETLV: bad magic or length < info; AG_ETOOBIG: length > max. */
int ag__image_tlv_info(const uint8_t *info, uint16_t magic, uint16_t max, uint16_t *ret_len);

/* mbedTLS 2.28 names its fallible hash calls *_ret; 3.x dropped the suffix. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define ag__sha256_starts mbedtls_sha256_starts
#define ag__sha256_update mbedtls_sha256_update
#define ag__sha256_finish mbedtls_sha256_finish
#define ag__sha256 mbedtls_sha256
#else
#define ag__sha256_starts mbedtls_sha256_starts_ret
#define ag__sha256_update mbedtls_sha256_update_ret
#define ag__sha256_finish mbedtls_sha256_finish_ret
#define ag__sha256 mbedtls_sha256_ret
#endif

#endif /* AGENT_IMAGE_PRIV_H */
