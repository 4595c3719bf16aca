/* Image layout: header decoding, TLV areas, whole-image parse (no crypto). */
#include <string.h>

#include "agent/bytes.h"
#include "agent/image.h"
#include "image_priv.h"

static int hw_id_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int ag_image_check_hw_id(const char *hw_id)
{
	if (!hw_id)
		return AG_EINVAL;
	size_t n = 0;
	for (; hw_id[n]; n++) {
		if (n >= AG_IMAGE_HW_ID_MAX || !hw_id_char_ok((uint8_t)hw_id[n]))
			return AG_EINVAL;
	}
	return n ? AG_OK : AG_EINVAL;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int ag_image_parse_header(const uint8_t *buf, size_t len, struct ag_image_header *ret_hdr)
{
	if (!buf || !ret_hdr)
		return AG_EINVAL;
	if (len < AG_IMAGE_HDR_LEN)
		return AG_ETRUNC;

	struct ag_image_header h;
	memset(&h, 0, sizeof(h));
	if (ag_get_le32(buf + AG__IMG_OFF_MAGIC) != AG_IMAGE_MAGIC)
		return AG_EIMAGE;
	h.hdr_size = ag_get_le16(buf + AG__IMG_OFF_HDR_SIZE);
	h.format = ag_get_le16(buf + AG__IMG_OFF_FORMAT);
	h.payload_size = ag_get_le32(buf + AG__IMG_OFF_PAYLOAD_SIZE);
	h.flags = ag_get_le32(buf + AG__IMG_OFF_FLAGS);
	h.version.major = buf[AG__IMG_OFF_VER_MAJOR];
	h.version.minor = buf[AG__IMG_OFF_VER_MINOR];
	h.version.patch = ag_get_le16(buf + AG__IMG_OFF_VER_PATCH);
	h.version.build = ag_get_le32(buf + AG__IMG_OFF_VER_BUILD);
	h.load_addr = ag_get_le32(buf + AG__IMG_OFF_LOAD_ADDR);
	h.security_counter = ag_get_le32(buf + AG__IMG_OFF_SECCNT);
	h.ptlv_size = ag_get_le16(buf + AG__IMG_OFF_PTLV_SIZE);

	if (h.format != AG_IMAGE_FORMAT)
		return AG_EIMAGE;
	if (h.hdr_size < AG_IMAGE_HDR_LEN || h.hdr_size > AG_IMAGE_HDR_SIZE_MAX ||
	    h.hdr_size % AG_IMAGE_HDR_ALIGN != 0)
		return AG_EIMAGE;
	if (!all_zero(buf + AG__IMG_OFF_RESERVED0, 2) ||
	    !all_zero(buf + AG__IMG_OFF_RESERVED1, AG_IMAGE_HDR_LEN - AG__IMG_OFF_RESERVED1))
		return AG_EIMAGE;
	if (h.flags & AG_IMAGE_FLAGS_CRITICAL & ~AG_IMAGE_FLAGS_KNOWN)
		return AG_EIMAGE;

	/* Hardware id: 1..16 id characters, then only NULs. */
	const uint8_t *id = buf + AG__IMG_OFF_HW_ID;
	size_t n = 0;
	while (n < AG_IMAGE_HW_ID_MAX && id[n] != 0) {
		if (!hw_id_char_ok(id[n]))
			return AG_EIMAGE;
		n++;
	}
	if (n == 0 || !all_zero(id + n, AG_IMAGE_HW_ID_MAX - n))
		return AG_EIMAGE;
	memcpy(h.hw_id, id, n);
	h.hw_id[n] = '\0';

	if (h.payload_size > AG_IMAGE_PAYLOAD_MAX || h.ptlv_size > AG_IMAGE_PTLV_MAX)
		return AG_ETOOBIG;
	if (h.ptlv_size != 0 && h.ptlv_size < AG_IMAGE_TLV_INFO_LEN)
		return AG_ETLV;

	*ret_hdr = h;
	return AG_OK;
}

int ag__image_tlv_info(const uint8_t *info, uint16_t magic, uint16_t max, uint16_t *ret_len)
{
	if (ag_get_le16(info) != magic)
		return AG_ETLV;
	uint16_t len = ag_get_le16(info + 2);
	if (len > max)
		return AG_ETOOBIG;
	if (len < AG_IMAGE_TLV_INFO_LEN)
		return AG_ETLV;
	*ret_len = len;
	return AG_OK;
}

int ag_image_tlv_begin(struct ag_image_tlv_iter *it, const uint8_t *area, size_t avail,
		       uint16_t magic)
{
	if (!it || !area)
		return AG_EINVAL;
	if (avail < AG_IMAGE_TLV_INFO_LEN)
		return AG_ETRUNC;
	if (ag_get_le16(area) != magic)
		return AG_ETLV;
	uint16_t len = ag_get_le16(area + 2);
	if (len < AG_IMAGE_TLV_INFO_LEN)
		return AG_ETLV;
	if (len > avail)
		return AG_ETRUNC;
	it->area = area;
	it->len = len;
	it->off = AG_IMAGE_TLV_INFO_LEN;
	return AG_OK;
}

int ag_image_tlv_next(struct ag_image_tlv_iter *it, uint16_t *ret_type, const uint8_t **ret_val,
		      uint16_t *ret_len)
{
	if (!it || !it->area || !ret_type || !ret_val || !ret_len)
		return AG_EINVAL;
	if (it->off == it->len)
		return 0;
	uint32_t left = (uint32_t)it->len - it->off;
	if (left < AG_IMAGE_TLV_HDR_LEN)
		return AG_ETLV;
	const uint8_t *e = it->area + it->off;
	uint16_t vlen = ag_get_le16(e + 2);
	if (vlen > left - AG_IMAGE_TLV_HDR_LEN)
		return AG_ETLV;
	*ret_type = ag_get_le16(e);
	*ret_val = e + AG_IMAGE_TLV_HDR_LEN;
	*ret_len = vlen;
	it->off = (uint16_t)(it->off + AG_IMAGE_TLV_HDR_LEN + vlen);
	return 1;
}

static int take_once(const uint8_t **slot, const uint8_t *val, uint16_t len, uint16_t want)
{
	if (*slot || len != want)
		return AG_ETLV;
	*slot = val;
	return AG_OK;
}

int ag__image_scan_tlvs(const uint8_t *area, uint16_t len, uint16_t magic,
			struct ag__image_tlvs *ret_found)
{
	struct ag_image_tlv_iter it;
	struct ag__image_tlvs found = {0};
	int rc = ag_image_tlv_begin(&it, area, len, magic);
	if (rc < 0)
		return rc == AG_ETRUNC ? AG_ETLV : rc;
	if (it.len != len)
		return AG_ETLV; /* the info header disagrees with the area's known length */

	for (;;) {
		uint16_t type, vlen;
		const uint8_t *val;
		rc = ag_image_tlv_next(&it, &type, &val, &vlen);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		if (magic == AG_IMAGE_UTLV_MAGIC && type == AG_IMAGE_TLV_SHA256)
			rc = take_once(&found.hash, val, vlen, AG_IMAGE_HASH_LEN);
		else if (magic == AG_IMAGE_UTLV_MAGIC && type == AG_IMAGE_TLV_KEYHASH)
			rc = take_once(&found.key_hash, val, vlen, AG_IMAGE_HASH_LEN);
		else if (magic == AG_IMAGE_UTLV_MAGIC && type == AG_IMAGE_TLV_ECDSA_P256)
			rc = take_once(&found.sig, val, vlen, AG_IMAGE_SIG_LEN);
		else if (!(type & AG_IMAGE_TLV_OPTIONAL))
			rc = AG_ETLV; /* a TLV we must understand and do not */
		if (rc < 0)
			return rc;
	}
	if (ret_found)
		*ret_found = found;
	return AG_OK;
}

int ag_image_parse(const uint8_t *img, size_t len, struct ag_image_info *ret_info)
{
	if (!img || !ret_info)
		return AG_EINVAL;
	struct ag_image_info info;
	memset(&info, 0, sizeof(info));
	int rc = ag_image_parse_header(img, len, &info.hdr);
	if (rc < 0)
		return rc;

	/* Bounded above by AG_IMAGE_SIZE_MAX: no overflow in 32 bits. */
	info.ptlv_off = (uint32_t)info.hdr.hdr_size + info.hdr.payload_size;
	info.utlv_off = info.ptlv_off + info.hdr.ptlv_size;
	if ((size_t)info.utlv_off + AG_IMAGE_TLV_INFO_LEN > len)
		return AG_ETRUNC;

	if (info.hdr.ptlv_size) {
		rc = ag__image_scan_tlvs(img + info.ptlv_off, info.hdr.ptlv_size, AG_IMAGE_PTLV_MAGIC,
					 NULL);
		if (rc < 0)
			return rc;
	}

	uint16_t ulen;
	rc = ag__image_tlv_info(img + info.utlv_off, AG_IMAGE_UTLV_MAGIC, AG_IMAGE_UTLV_MAX, &ulen);
	if (rc < 0)
		return rc;
	if ((size_t)info.utlv_off + ulen > len)
		return AG_ETRUNC;
	struct ag__image_tlvs found;
	rc = ag__image_scan_tlvs(img + info.utlv_off, ulen, AG_IMAGE_UTLV_MAGIC, &found);
	if (rc < 0)
		return rc;

	info.utlv_size = ulen;
	info.total_size = info.utlv_off + ulen;
	if (found.hash) {
		memcpy(info.hash, found.hash, AG_IMAGE_HASH_LEN);
		info.has_hash = 1;
	}
	if (found.key_hash) {
		memcpy(info.key_hash, found.key_hash, AG_IMAGE_HASH_LEN);
		info.has_key_hash = 1;
	}
	info.has_sig = found.sig != NULL;
	*ret_info = info;
	return AG_OK;
}
