/* Host-side image building and signing with mbedTLS (negative errno). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "agent/bytes.h"
#include "agent/image.h"
#include "agent/image_sign.h"
#include "image_priv.h"

struct ag_image_key {
	mbedtls_pk_context pk;
};

/* Unprotected TLVs written by ag_image_sign(): hash, key hash, signature. */
#define UTLV_SIZE                                                                          \
	(AG_IMAGE_TLV_INFO_LEN + 3 * AG_IMAGE_TLV_HDR_LEN + 2 * AG_IMAGE_HASH_LEN +        \
	 AG_IMAGE_SIG_LEN)

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *r)
{
	static const char pers[] = "flotilla-image";
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1) != 0)
		return -EIO;
	return 0;
}

static void rng_done(struct rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

static struct ag_image_key *key_new(void)
{
	struct ag_image_key *k = calloc(1, sizeof(*k));
	if (k)
		mbedtls_pk_init(&k->pk);
	return k;
}

void ag_image_key_free(struct ag_image_key *key)
{
	if (!key)
		return;
	mbedtls_pk_free(&key->pk); /* zeroizes the private scalar */
	free(key);
}

int ag_image_key_generate(struct ag_image_key **ret_key)
{
	if (!ret_key)
		return -EINVAL;
	struct ag_image_key *k = key_new();
	if (!k)
		return -ENOMEM;
	struct rng r;
	int rc = rng_init(&r);
	if (rc == 0 && mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
		rc = -ENOMEM;
	if (rc == 0 && mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk),
					   mbedtls_ctr_drbg_random, &r.drbg) != 0)
		rc = -EIO;
	rng_done(&r);
	if (rc < 0) {
		ag_image_key_free(k);
		return rc;
	}
	*ret_key = k;
	return 0;
}

static int key_check_p256(const struct ag_image_key *k)
{
	mbedtls_pk_type_t t = mbedtls_pk_get_type(&k->pk);
	if (t != MBEDTLS_PK_ECKEY && t != MBEDTLS_PK_ECDSA)
		return -EKEYREJECTED;
	if (mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return -EKEYREJECTED;
	return 0;
}

int ag_image_key_parse(const uint8_t *data, size_t len, struct ag_image_key **ret_key)
{
	if (!data || !ret_key || len == 0)
		return -EINVAL;
	if (len > AG_IMAGE_PEM_MAX)
		return -EFBIG;
	/* PEM parsing wants a NUL-terminated buffer whose length counts the NUL. */
	unsigned char *buf = malloc(len + 1);
	struct ag_image_key *k = key_new();
	if (!buf || !k) {
		free(buf);
		ag_image_key_free(k);
		return -ENOMEM;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	size_t n = memchr(data, '\0', len) ? len : len + 1;
	int rc;
#if MBEDTLS_VERSION_MAJOR >= 3
	rc = mbedtls_pk_parse_key(&k->pk, buf, n, NULL, 0, NULL, NULL);
	if (rc != 0)
		rc = mbedtls_pk_parse_key(&k->pk, buf, len, NULL, 0, NULL, NULL);
#else
	rc = mbedtls_pk_parse_key(&k->pk, buf, n, NULL, 0);
	if (rc != 0)
		rc = mbedtls_pk_parse_key(&k->pk, buf, len, NULL, 0);
#endif
	if (rc != 0) {
		mbedtls_pk_free(&k->pk);
		mbedtls_pk_init(&k->pk);
		rc = mbedtls_pk_parse_public_key(&k->pk, buf, n);
		if (rc != 0)
			rc = mbedtls_pk_parse_public_key(&k->pk, buf, len);
	}
	mbedtls_platform_zeroize(buf, len + 1);
	free(buf);
	rc = rc != 0 ? -EBADMSG : key_check_p256(k);
	if (rc < 0) {
		ag_image_key_free(k);
		return rc;
	}
	*ret_key = k;
	return 0;
}

int ag_image_key_load(const char *path, struct ag_image_key **ret_key)
{
	if (!path || !ret_key)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t buf[AG_IMAGE_PEM_MAX + 1];
	size_t len = 0;
	int rc = 0;
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc == 0 && len > AG_IMAGE_PEM_MAX)
		rc = -EFBIG;
	if (rc == 0)
		rc = len ? ag_image_key_parse(buf, len, ret_key) : -EBADMSG;
	mbedtls_platform_zeroize(buf, sizeof(buf));
	return rc;
}

int ag_image_key_has_private(const struct ag_image_key *key)
{
	if (!key || key_check_p256(key) < 0)
		return 0;
	return mbedtls_mpi_cmp_int(&mbedtls_pk_ec(key->pk)->d, 0) != 0;
}

int ag_image_key_public(const struct ag_image_key *key, struct ag_image_pubkey *ret_pub)
{
	if (!key || !ret_pub || key_check_p256(key) < 0)
		return -EINVAL;
	const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
	struct ag_image_pubkey pub;
	size_t olen = 0;
	if (mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
					   pub.point, sizeof(pub.point)) != 0 ||
	    olen != sizeof(pub.point))
		return -EINVAL;
	*ret_pub = pub;
	return 0;
}

int ag_image_key_write_pem(const struct ag_image_key *key, int private_part, char **ret_pem)
{
	if (!key || !ret_pem)
		return -EINVAL;
	if (private_part && !ag_image_key_has_private(key))
		return -ENOKEY;
	size_t size = 1024;
	unsigned char *buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	/* mbedtls_pk_* take a non-const context but do not change it. */
	mbedtls_pk_context *pk = (mbedtls_pk_context *)&key->pk;
	int rc = private_part ? mbedtls_pk_write_key_pem(pk, buf, size)
			      : mbedtls_pk_write_pubkey_pem(pk, buf, size);
	if (rc != 0) {
		mbedtls_platform_zeroize(buf, size);
		free(buf);
		return -EINVAL;
	}
	*ret_pem = (char *)buf;
	return 0;
}

static int is_c_identifier(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

int ag_image_key_write_c(const struct ag_image_key *key, const char *symbol, char **ret_src)
{
	if (!key || !ret_src || !is_c_identifier(symbol))
		return -EINVAL;
	struct ag_image_pubkey pub;
	uint8_t kh[AG_IMAGE_HASH_LEN];
	int rc = ag_image_key_public(key, &pub);
	if (rc < 0)
		return rc;
	if (ag_image_key_hash(&pub, kh) < 0)
		return -EINVAL;

	char *src = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&src, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "/* Generated by Flotilla from a P-256 public key. Do not edit.\n"
		   " * key hash (SHA-256 of the point): ");
	for (size_t i = 0; i < sizeof(kh); i++)
		fprintf(f, "%02x", kh[i]);
	fprintf(f, "\n */\n#include \"agent/image_pubkey.h\"\n\n"
		   "const struct ag_image_pubkey %s = {\n\t.point = {",
		symbol);
	for (size_t i = 0; i < sizeof(pub.point); i++)
		fprintf(f, "%s0x%02x,", i % 8 == 0 ? "\n\t\t" : " ", pub.point[i]);
	fprintf(f, "\n\t},\n};\n");
	if (fclose(f) != 0) {
		free(src);
		return -ENOMEM;
	}
	*ret_src = src;
	return 0;
}

/* Strict decimal: digits only, no sign or space, at most @p max. */
static int parse_dec(const char **s, unsigned long max, unsigned long *ret)
{
	const char *p = *s;
	unsigned long v = 0;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*s = p;
	*ret = v;
	return 0;
}

int ag_image_parse_version(const char *s, struct ag_image_version *ret_ver)
{
	if (!s || !ret_ver)
		return -EINVAL;
	unsigned long maj, min, pat, build = 0;
	if (parse_dec(&s, 255, &maj) < 0 || *s++ != '.' || parse_dec(&s, 255, &min) < 0 ||
	    *s++ != '.' || parse_dec(&s, 65535, &pat) < 0)
		return -EINVAL;
	if (*s == '+') {
		s++;
		if (parse_dec(&s, 0xffffffffUL, &build) < 0)
			return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
	ret_ver->major = (uint8_t)maj;
	ret_ver->minor = (uint8_t)min;
	ret_ver->patch = (uint16_t)pat;
	ret_ver->build = (uint32_t)build;
	return 0;
}

int ag_image_format_version(const struct ag_image_version *v, char *buf, size_t size)
{
	if (!v || !buf)
		return -EINVAL;
	int n = snprintf(buf, size, "%u.%u.%u+%lu", (unsigned)v->major, (unsigned)v->minor,
			 (unsigned)v->patch, (unsigned long)v->build);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

static void put_tlv(uint8_t *p, uint16_t type, const uint8_t *val, uint16_t len)
{
	ag_put_le16(p, type);
	ag_put_le16(p + 2, len);
	memcpy(p + AG_IMAGE_TLV_HDR_LEN, val, len);
}

static int ecdsa_sign(const struct ag_image_key *key, const uint8_t *hash, uint8_t *ret_sig)
{
	const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
	mbedtls_ecp_group grp;
	mbedtls_mpi r, s;
	struct rng rng;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int rc = rng_init(&rng);
	/* RFC 6979: the same key and image always give the same signature;
	 * the RNG only blinds the computation. */
	if (rc == 0 && (mbedtls_ecp_group_copy(&grp, &ec->grp) != 0 ||
			mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &ec->d, hash, AG_IMAGE_HASH_LEN,
						   MBEDTLS_MD_SHA256, mbedtls_ctr_drbg_random,
						   &rng.drbg) != 0 ||
			mbedtls_mpi_write_binary(&r, ret_sig, AG_IMAGE_SIG_LEN / 2) != 0 ||
			mbedtls_mpi_write_binary(&s, ret_sig + AG_IMAGE_SIG_LEN / 2,
						 AG_IMAGE_SIG_LEN / 2) != 0))
		rc = -EIO;
	rng_done(&rng);
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int ag_image_sign(const uint8_t *payload, size_t payload_len, const struct ag_image_params *params,
		  const struct ag_image_key *key, uint8_t **ret_img, size_t *ret_len)
{
	if ((!payload && payload_len) || !params || !key || !ret_img || !ret_len)
		return -EINVAL;
	if (!ag_image_key_has_private(key))
		return -ENOKEY;
	if (ag_image_check_hw_id(params->hw_id) < 0)
		return -EINVAL;
	uint32_t hdr_size = params->hdr_size ? params->hdr_size : AG_IMAGE_HDR_SIZE_DEFAULT;
	if (hdr_size < AG_IMAGE_HDR_LEN || hdr_size > AG_IMAGE_HDR_SIZE_MAX ||
	    hdr_size % AG_IMAGE_HDR_ALIGN)
		return -EINVAL;
	if (params->flags & ~AG_IMAGE_FLAGS_KNOWN & AG_IMAGE_FLAGS_CRITICAL)
		return -EINVAL;
	if (payload_len > AG_IMAGE_PAYLOAD_MAX)
		return -EFBIG;
	if ((params->ptlv_len && !params->ptlv) ||
	    params->ptlv_len > AG_IMAGE_PTLV_MAX - AG_IMAGE_TLV_INFO_LEN)
		return -EINVAL;
	uint32_t ptlv_size =
		params->ptlv_len ? (uint32_t)(AG_IMAGE_TLV_INFO_LEN + params->ptlv_len) : 0;

	uint32_t ptlv_off = hdr_size + (uint32_t)payload_len;
	uint32_t utlv_off = ptlv_off + ptlv_size;
	size_t total = (size_t)utlv_off + UTLV_SIZE;
	uint8_t *img = calloc(1, total);
	if (!img)
		return -ENOMEM;

	ag_put_le32(img + AG__IMG_OFF_MAGIC, AG_IMAGE_MAGIC);
	ag_put_le16(img + AG__IMG_OFF_HDR_SIZE, (uint16_t)hdr_size);
	ag_put_le16(img + AG__IMG_OFF_FORMAT, AG_IMAGE_FORMAT);
	ag_put_le32(img + AG__IMG_OFF_PAYLOAD_SIZE, (uint32_t)payload_len);
	ag_put_le32(img + AG__IMG_OFF_FLAGS, params->flags);
	img[AG__IMG_OFF_VER_MAJOR] = params->version.major;
	img[AG__IMG_OFF_VER_MINOR] = params->version.minor;
	ag_put_le16(img + AG__IMG_OFF_VER_PATCH, params->version.patch);
	ag_put_le32(img + AG__IMG_OFF_VER_BUILD, params->version.build);
	ag_put_le32(img + AG__IMG_OFF_LOAD_ADDR, params->load_addr);
	ag_put_le32(img + AG__IMG_OFF_SECCNT, params->security_counter);
	ag_put_le16(img + AG__IMG_OFF_PTLV_SIZE, (uint16_t)ptlv_size);
	memcpy(img + AG__IMG_OFF_HW_ID, params->hw_id, strlen(params->hw_id));
	if (payload_len)
		memcpy(img + hdr_size, payload, payload_len);
	int rc = 0;
	if (ptlv_size) {
		ag_put_le16(img + ptlv_off, AG_IMAGE_PTLV_MAGIC);
		ag_put_le16(img + ptlv_off + 2, (uint16_t)ptlv_size);
		memcpy(img + ptlv_off + AG_IMAGE_TLV_INFO_LEN, params->ptlv, params->ptlv_len);
		if (ag__image_scan_tlvs(img + ptlv_off, (uint16_t)ptlv_size, AG_IMAGE_PTLV_MAGIC,
					NULL) < 0)
			rc = -EINVAL;
	}

	struct ag_image_pubkey pub;
	uint8_t hash[AG_IMAGE_HASH_LEN], kh[AG_IMAGE_HASH_LEN], sig[AG_IMAGE_SIG_LEN];
	if (rc == 0)
		rc = ag_image_key_public(key, &pub);
	if (rc == 0 && (ag__sha256(img, utlv_off, hash, 0) != 0 || ag_image_key_hash(&pub, kh) < 0))
		rc = -EIO;
	if (rc == 0)
		rc = ecdsa_sign(key, hash, sig);
	if (rc == 0) {
		uint8_t *p = img + utlv_off;
		ag_put_le16(p, AG_IMAGE_UTLV_MAGIC);
		ag_put_le16(p + 2, (uint16_t)UTLV_SIZE);
		p += AG_IMAGE_TLV_INFO_LEN;
		put_tlv(p, AG_IMAGE_TLV_SHA256, hash, AG_IMAGE_HASH_LEN);
		p += AG_IMAGE_TLV_HDR_LEN + AG_IMAGE_HASH_LEN;
		put_tlv(p, AG_IMAGE_TLV_KEYHASH, kh, AG_IMAGE_HASH_LEN);
		p += AG_IMAGE_TLV_HDR_LEN + AG_IMAGE_HASH_LEN;
		put_tlv(p, AG_IMAGE_TLV_ECDSA_P256, sig, AG_IMAGE_SIG_LEN);

		/* Never hand out an image our own verifier would refuse. */
		struct ag_image_policy pol = {.key = &pub, .hw_id = params->hw_id};
		if (ag_image_verify_mem(img, total, &pol, NULL) != AG_OK)
			rc = -EIO;
	}
	if (rc < 0) {
		free(img);
		return rc;
	}
	*ret_img = img;
	*ret_len = total;
	return 0;
}
