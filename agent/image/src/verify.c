/* Image verification, in place or streamed: bounds, policy, hash, key, ECDSA P-256. */
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#if defined(AG_IMAGE_STATIC_HEAP)
#include <mbedtls/memory_buffer_alloc.h>
#endif

#include "agent/bytes.h"
#include "agent/image.h"
#include "image_priv.h"

#if defined(AG_IMAGE_STATIC_HEAP)
#ifndef AG_IMAGE_CRYPTO_HEAP_SIZE
#define AG_IMAGE_CRYPTO_HEAP_SIZE 4096
#endif
/* mbedTLS's heap during one signature check, and nothing else. */
static unsigned char crypto_heap[AG_IMAGE_CRYPTO_HEAP_SIZE] __attribute__((aligned(8)));

void flotilla_mbedtls_exit(int status)
{
	/* mbedTLS found its heap corrupted: never go on, wait for the watchdog. */
	(void)status;
	for (;;)
		__asm__ volatile("" ::: "memory");
}

#if defined(AG_IMAGE_HEAP_STATS)
/* Test and bench builds: lend mbedTLS only this much of crypto_heap, so a
 * test can search for the smallest heap a signature check needs. (Painting
 * does not work: mbedTLS wipes every buffer it frees.) */
uint32_t ag__image_heap_limit = AG_IMAGE_CRYPTO_HEAP_SIZE;
#define HEAP_LEN (ag__image_heap_limit < sizeof(crypto_heap) ? ag__image_heap_limit : sizeof(crypto_heap))
#else
#define HEAP_LEN sizeof(crypto_heap)
#endif
#endif

enum stage {
	ST_HDR,     /* fixed header into hdr_buf, hashed */
	ST_HDRPAD,  /* header padding, hashed */
	ST_PAYLOAD, /* hashed */
	ST_PTLV,    /* protected TLV area: hashed and kept */
	ST_UINFO,   /* unprotected TLV info header: kept */
	ST_UTLV,    /* unprotected TLV entries: kept */
	ST_DONE,
};

static int fail(struct ag_image_verifier *v, int err)
{
	v->err = err;
	return err;
}

int ag_image_key_hash(const struct ag_image_pubkey *key, uint8_t ret_hash[AG_IMAGE_HASH_LEN])
{
	if (!key || !ret_hash)
		return AG_EINVAL;
	return ag__sha256(key->point, AG_IMAGE_PUBKEY_LEN, ret_hash, 0) == 0 ? AG_OK : AG_EINVAL;
}

int ag_image_verify_init(struct ag_image_verifier *v, const struct ag_image_policy *pol)
{
	if (!v)
		return AG_EINVAL;
	memset(v, 0, sizeof(*v));
	mbedtls_sha256_init(&v->sha);
	if (!pol || !pol->key)
		return fail(v, AG_EINVAL);
	v->pol = pol;
	v->max_size = pol->max_size ? pol->max_size : AG_IMAGE_SIZE_MAX;
	v->stage = ST_HDR;
	v->stage_end = AG_IMAGE_HDR_LEN;
	if (ag__sha256_starts(&v->sha, 0) != 0)
		return fail(v, AG_EIO);
	return AG_OK;
}

uint32_t ag_image_verify_want(const struct ag_image_verifier *v)
{
	if (!v || v->err || v->stage == ST_DONE)
		return 0;
	return v->stage_end - v->off;
}

/* What the device accepts, judged from the header alone. */
static int check_policy(const struct ag_image_policy *pol, const struct ag_image_header *h)
{
	if (pol->hw_id && strncmp(h->hw_id, pol->hw_id, AG_IMAGE_HW_ID_MAX + 1) != 0)
		return AG_EHWID;
	if (h->security_counter < pol->min_security_counter)
		return AG_ESECCNT;
	if (pol->check_load_addr && h->load_addr != pol->load_addr)
		return AG_ESLOT;
	return AG_OK;
}

/* The fixed header is in: structure, size and policy, before any payload. */
static int header_done(struct ag_image_verifier *v)
{
	const struct ag_image_policy *pol = v->pol;
	struct ag_image_header *h = &v->hdr;
	int rc = ag_image_parse_header(v->hdr_buf, sizeof(v->hdr_buf), h);
	if (rc < 0)
		return rc;
	/* Smallest size the header implies: an empty unprotected TLV area. */
	uint32_t least = (uint32_t)h->hdr_size + h->payload_size + h->ptlv_size +
			 AG_IMAGE_TLV_INFO_LEN;
	if (least > v->max_size)
		return AG_ETOOBIG;
	return check_policy(pol, h);
}

/* Move to the stage after the one that just ended, skipping empty ones. */
static int stage_done(struct ag_image_verifier *v)
{
	const struct ag_image_header *h = &v->hdr;
	int rc;
	switch (v->stage) {
	case ST_HDR:
		rc = header_done(v);
		if (rc < 0)
			return rc;
		v->stage = ST_HDRPAD;
		v->stage_end = h->hdr_size;
		break;
	case ST_HDRPAD:
		v->stage = ST_PAYLOAD;
		v->stage_end = (uint32_t)h->hdr_size + h->payload_size;
		break;
	case ST_PAYLOAD:
		v->stage = ST_PTLV;
		v->stage_end += h->ptlv_size;
		break;
	case ST_PTLV:
		if (h->ptlv_size) {
			rc = ag__image_scan_tlvs(v->tlv_buf, h->ptlv_size, AG_IMAGE_PTLV_MAGIC, NULL);
			if (rc < 0)
				return rc;
		}
		v->stage = ST_UINFO;
		v->stage_end += AG_IMAGE_TLV_INFO_LEN;
		break;
	case ST_UINFO:
		rc = ag__image_tlv_info(v->tlv_buf + h->ptlv_size, AG_IMAGE_UTLV_MAGIC,
					AG_IMAGE_UTLV_MAX, &v->utlv_size);
		if (rc < 0)
			return rc;
		if (v->off - AG_IMAGE_TLV_INFO_LEN + v->utlv_size > v->max_size)
			return AG_ETOOBIG;
		v->stage = ST_UTLV;
		v->stage_end = v->off - AG_IMAGE_TLV_INFO_LEN + v->utlv_size;
		break;
	case ST_UTLV:
		rc = ag__image_scan_tlvs(v->tlv_buf + h->ptlv_size, v->utlv_size,
					 AG_IMAGE_UTLV_MAGIC, NULL);
		if (rc < 0)
			return rc;
		v->stage = ST_DONE;
		return AG_OK;
	default:
		return AG_ESTATE;
	}
	/* An empty stage ends where it starts. */
	return v->off == v->stage_end ? stage_done(v) : AG_OK;
}

int ag_image_verify_update(struct ag_image_verifier *v, const uint8_t *data, size_t len)
{
	if (!v || (!data && len))
		return AG_EINVAL;
	if (v->err)
		return v->err;
	if (!v->pol)
		return AG_ESTATE;
	while (len) {
		if (v->stage == ST_DONE)
			return fail(v, AG_ETOOBIG);
		uint32_t room = v->stage_end - v->off;
		uint32_t n = len < room ? (uint32_t)len : room;
		int hashed = v->stage <= ST_PTLV;
		if (v->stage == ST_HDR) {
			memcpy(v->hdr_buf + v->off, data, n);
		} else if (v->stage >= ST_PTLV) {
			/* Both TLV areas sit back to back in tlv_buf. */
			uint32_t at = v->off - (uint32_t)v->hdr.hdr_size - v->hdr.payload_size;
			memcpy(v->tlv_buf + at, data, n);
		}
		if (hashed && ag__sha256_update(&v->sha, data, n) != 0)
			return fail(v, AG_EIO);
		v->off += n;
		data += n;
		len -= n;
		if (v->off == v->stage_end) {
			int rc = stage_done(v);
			if (rc < 0)
				return fail(v, rc);
		}
	}
	return AG_OK;
}

static int check_signature(const struct ag_image_pubkey *key, const uint8_t *hash,
			   const uint8_t *sig)
{
#if defined(AG_IMAGE_STATIC_HEAP)
	mbedtls_memory_buffer_alloc_init(crypto_heap, HEAP_LEN);
#endif
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_mpi r, s;
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);

	int err = AG_OK;
	int rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
	if (rc == 0)
		rc = mbedtls_ecp_point_read_binary(&grp, &q, key->point, AG_IMAGE_PUBKEY_LEN);
	if (rc == 0)
		rc = mbedtls_ecp_check_pubkey(&grp, &q);
	if (rc != 0) {
		/* The trusted key itself is unusable: a configuration error. */
		err = AG_EINVAL;
		goto out;
	}
	rc = mbedtls_mpi_read_binary(&r, sig, AG_IMAGE_SIG_LEN / 2);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&s, sig + AG_IMAGE_SIG_LEN / 2, AG_IMAGE_SIG_LEN / 2);
	if (rc == 0)
		rc = mbedtls_ecdsa_verify(&grp, hash, AG_IMAGE_HASH_LEN, &q, &r, &s);
	if (rc != 0)
		err = AG_ESIG;
out:
	if (rc == MBEDTLS_ERR_MPI_ALLOC_FAILED || rc == MBEDTLS_ERR_ECP_ALLOC_FAILED)
		err = AG_ENOSPC;
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
#if defined(AG_IMAGE_STATIC_HEAP)
	mbedtls_memory_buffer_alloc_free();
#endif
	return err;
}

/* Hash, key and signature, given the computed hash and the TLVs found;
 * fills @p ret_info (if any) on success. Shared by both verifiers. */
static int check_authentic(const struct ag_image_policy *pol, const uint8_t *hash,
			   const struct ag__image_tlvs *found, const struct ag_image_header *h,
			   uint16_t utlv_size, struct ag_image_info *ret_info)
{
	if (!found->hash || memcmp(found->hash, hash, AG_IMAGE_HASH_LEN) != 0)
		return AG_EHASH;
	uint8_t key_hash[AG_IMAGE_HASH_LEN];
	int rc = ag_image_key_hash(pol->key, key_hash);
	if (rc < 0)
		return rc;
	if (!found->key_hash || memcmp(found->key_hash, key_hash, sizeof(key_hash)) != 0)
		return AG_EKEY;
	if (!found->sig)
		return AG_ESIG;
	rc = check_signature(pol->key, hash, found->sig);
	if (rc < 0)
		return rc;
	if (ret_info) {
		memset(ret_info, 0, sizeof(*ret_info));
		ret_info->hdr = *h;
		ret_info->ptlv_off = (uint32_t)h->hdr_size + h->payload_size;
		ret_info->utlv_off = ret_info->ptlv_off + h->ptlv_size;
		ret_info->utlv_size = utlv_size;
		ret_info->total_size = ret_info->utlv_off + utlv_size;
		memcpy(ret_info->hash, hash, AG_IMAGE_HASH_LEN);
		memcpy(ret_info->key_hash, key_hash, sizeof(key_hash));
		ret_info->has_hash = ret_info->has_key_hash = ret_info->has_sig = 1;
	}
	return AG_OK;
}

int ag_image_verify_finish(struct ag_image_verifier *v, struct ag_image_info *ret_info)
{
	if (!v)
		return AG_EINVAL;
	if (v->err)
		return v->err;
	if (!v->pol)
		return AG_ESTATE;
	if (v->stage != ST_DONE)
		return AG_ETRUNC;

	const struct ag_image_header *h = &v->hdr;
	const uint8_t *utlv = v->tlv_buf + h->ptlv_size;
	struct ag__image_tlvs found;
	int rc = ag__image_scan_tlvs(utlv, v->utlv_size, AG_IMAGE_UTLV_MAGIC, &found);
	if (rc < 0)
		return fail(v, rc);

	uint8_t hash[AG_IMAGE_HASH_LEN];
	if (ag__sha256_finish(&v->sha, hash) != 0)
		return fail(v, AG_EIO);
	mbedtls_sha256_free(&v->sha);
	rc = check_authentic(v->pol, hash, &found, h, v->utlv_size, ret_info);
	/* Done for good: a second finish() must not pass on a freed context. */
	v->err = rc == AG_OK ? AG_ESTATE : rc;
	return rc;
}

/*
 * Memory-mapped: the same checks in the same order as the streaming verifier
 * (so the same input gets the same verdict; the tests and the fuzzer hold
 * them to it), but reading the slot in place: one hash pass over flash, the
 * TLVs parsed where they lie, a few hundred bytes of stack.
 */
int ag_image_verify_mem(const uint8_t *img, size_t len, const struct ag_image_policy *pol,
			struct ag_image_info *ret_info)
{
	if (!img || !pol || !pol->key)
		return AG_EINVAL;
	uint32_t max = pol->max_size ? pol->max_size : AG_IMAGE_SIZE_MAX;
	struct ag_image_header h;
	int rc = ag_image_parse_header(img, len, &h);
	if (rc < 0)
		return rc;
	uint32_t ptlv_off = (uint32_t)h.hdr_size + h.payload_size;
	uint32_t utlv_off = ptlv_off + h.ptlv_size;
	if (utlv_off + AG_IMAGE_TLV_INFO_LEN > max)
		return AG_ETOOBIG;
	rc = check_policy(pol, &h);
	if (rc < 0)
		return rc;

	if (h.ptlv_size) {
		if (len < (size_t)utlv_off)
			return AG_ETRUNC;
		rc = ag__image_scan_tlvs(img + ptlv_off, h.ptlv_size, AG_IMAGE_PTLV_MAGIC, NULL);
		if (rc < 0)
			return rc;
	}
	if (len < (size_t)utlv_off + AG_IMAGE_TLV_INFO_LEN)
		return AG_ETRUNC;
	uint16_t ulen;
	rc = ag__image_tlv_info(img + utlv_off, AG_IMAGE_UTLV_MAGIC, AG_IMAGE_UTLV_MAX, &ulen);
	if (rc < 0)
		return rc;
	if (utlv_off + ulen > max)
		return AG_ETOOBIG;
	if (len < (size_t)utlv_off + ulen)
		return AG_ETRUNC;
	struct ag__image_tlvs found;
	rc = ag__image_scan_tlvs(img + utlv_off, ulen, AG_IMAGE_UTLV_MAGIC, &found);
	if (rc < 0)
		return rc;

	uint8_t hash[AG_IMAGE_HASH_LEN];
	if (ag__sha256(img, utlv_off, hash, 0) != 0)
		return AG_EIO;
	return check_authentic(pol, hash, &found, &h, ulen, ret_info);
}
