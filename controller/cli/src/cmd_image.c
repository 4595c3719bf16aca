/* `flotilla image ...`: keys, signing, verification, inspection, delta patches. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "agent/bytes.h"
#include "agent/delta.h"
#include "agent/delta_gen.h"
#include "agent/err.h"
#include "agent/image.h"
#include "agent/image_sign.h"
#include "cli.h"

/* Largest file the image commands read: far above any MCU image, far below
 * what would hurt the host. */
#define IMAGE_FILE_MAX (256u * 1024u * 1024u)
/* Largest patch file: a patch never needs to be much bigger than its output. */
#define PATCH_FILE_MAX (2u * AG_DELTA_MAX_IMAGE)

static void key_freep(struct ag_image_key **k)
{
	ag_image_key_free(*k);
}
#define _cleanup_key_ __attribute__((cleanup(key_freep)))


#define ag_err_name ctl_cli_ag_err_name

/* Shared getopt handling: the option string starts with ':' so a missing
 * argument is told apart from an unknown option. */
static int opt_error(const struct ctl_cli_call *call, int c, char **argv)
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		return ctl_cli_usage_error(call, "option '%s' needs a value", arg);
	return ctl_cli_usage_error(call, "unknown option '%s'", arg);
}

static void opt_reset(void)
{
	optind = 0; /* GNU: re-initialize for a new argv */
	opterr = 0;
}

static int print_json(json_t *j)
{
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF)
		return CTL_EXIT_INTERNAL;
	return CTL_EXIT_OK;
}

/* An errno from reading a file: missing, unreadable, too big. */
static int read_error(const struct ctl_cli_call *call, const char *what, const char *path, int rc,
		      size_t max)
{
	if (rc == -EFBIG)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s %s is larger than %zu bytes", what, path,
				    max);
	if (rc == -ENOMEM)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "out of memory reading %s", path);
	return ctl_cli_fail(call, CTL_EXIT_IO, "cannot read %s %s: %s", what, path, strerror(-rc));
}

static int write_error(const struct ctl_cli_call *call, const char *path, int rc)
{
	return ctl_cli_fail(call, CTL_EXIT_IO, "cannot write %s: %s", path, strerror(-rc));
}

static int load_key(const struct ctl_cli_call *call, const char *path, struct ag_image_key **ret)
{
	int rc = ag_image_key_load(path, ret);
	if (rc == -EBADMSG)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is not a PEM or DER key", path);
	if (rc == -EKEYREJECTED)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is not an ECDSA P-256 key", path);
	if (rc == -EFBIG)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is too large for a key", path);
	if (rc < 0)
		return ctl_cli_fail(call, CTL_EXIT_IO, "cannot read key %s: %s", path, strerror(-rc));
	return CTL_EXIT_OK;
}

static void version_str(const struct ag_image_version *v, char buf[32])
{
	if (ag_image_format_version(v, buf, 32) < 0)
		snprintf(buf, 32, "?");
}

static void sha256(const uint8_t *p, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_MAJOR >= 3
	mbedtls_sha256(p, len, out, 0);
#else
	mbedtls_sha256_ret(p, len, out, 0);
#endif
}

/* The header and layout of an image as JSON (no verdict). */
static json_t *info_json(const char *file, const struct ag_image_info *info)
{
	const struct ag_image_header *h = &info->hdr;
	char ver[32], hx[2 * AG_IMAGE_HASH_LEN + 1], addr[16], entry[16];
	version_str(&h->version, ver);
	snprintf(addr, sizeof(addr), "0x%08lx", (unsigned long)h->load_addr);
	snprintf(entry, sizeof(entry), "0x%08lx", (unsigned long)(h->load_addr + h->hdr_size));
	json_t *j = json_pack("{s:s, s:i, s:s, s:{s:i, s:i, s:i, s:I}, s:s, s:s, s:I, s:s, s:i, s:I, "
			      "s:I, s:I, s:i, s:I}",
			      "file", file, "format", (int)h->format, "version", ver, "version_fields",
			      "major", (int)h->version.major, "minor", (int)h->version.minor, "patch",
			      (int)h->version.patch, "build", (json_int_t)h->version.build, "hw_id",
			      h->hw_id, "load_addr", addr, "load_addr_value",
			      (json_int_t)h->load_addr, "payload_addr", entry, "header_size",
			      (int)h->hdr_size, "payload_size", (json_int_t)h->payload_size,
			      "security_counter", (json_int_t)h->security_counter, "flags",
			      (json_int_t)h->flags, "protected_tlv_size", (int)h->ptlv_size,
			      "image_size", (json_int_t)info->total_size);
	if (!j)
		return NULL;
	if (info->has_hash) {
		ctl_cli_hex(info->hash, AG_IMAGE_HASH_LEN, hx);
		json_object_set_new(j, "sha256", json_string(hx));
	}
	if (info->has_key_hash) {
		ctl_cli_hex(info->key_hash, AG_IMAGE_HASH_LEN, hx);
		json_object_set_new(j, "key_hash", json_string(hx));
	}
	return j;
}

static void print_info_text(FILE *f, const char *file, const struct ag_image_info *info)
{
	const struct ag_image_header *h = &info->hdr;
	char ver[32], hx[2 * AG_IMAGE_HASH_LEN + 1];
	version_str(&h->version, ver);
	fprintf(f, "file:             %s\n", file);
	fprintf(f, "version:          %s\n", ver);
	fprintf(f, "hardware id:      %s\n", h->hw_id);
	fprintf(f, "load address:     0x%08lx (payload at 0x%08lx)\n", (unsigned long)h->load_addr,
		(unsigned long)(h->load_addr + h->hdr_size));
	fprintf(f, "security counter: %lu\n", (unsigned long)h->security_counter);
	fprintf(f, "header size:      %u\n", (unsigned)h->hdr_size);
	fprintf(f, "payload size:     %lu\n", (unsigned long)h->payload_size);
	fprintf(f, "protected TLVs:   %u bytes\n", (unsigned)h->ptlv_size);
	fprintf(f, "flags:            0x%08lx\n", (unsigned long)h->flags);
	fprintf(f, "image size:       %lu\n", (unsigned long)info->total_size);
	if (info->has_hash) {
		ctl_cli_hex(info->hash, AG_IMAGE_HASH_LEN, hx);
		fprintf(f, "sha256:           %s\n", hx);
	}
	if (info->has_key_hash) {
		ctl_cli_hex(info->key_hash, AG_IMAGE_HASH_LEN, hx);
		fprintf(f, "key hash:         %s\n", hx);
	}
}

/* ---- keygen ---------------------------------------------------------------- */

static int cmd_keygen(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"public-out", required_argument, NULL, 'p'},
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *out = NULL, *pub_out = NULL;
	bool force = false, json = false;
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":o:p:fjh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pub_out = optarg; break;
		case 'f': force = true; break;
		case 'j': json = true; break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (optind != argc)
		return ctl_cli_usage_error(call, "unexpected argument '%s'", argv[optind]);
	if (!out)
		return ctl_cli_usage_error(call, "-o KEY.pem is required");

	_cleanup_key_ struct ag_image_key *key = NULL;
	_cleanup_free_ char *pem = NULL, *pub_pem = NULL;
	int rc = ag_image_key_generate(&key);
	if (rc < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot generate a key: %s",
				    strerror(-rc));
	if (ag_image_key_write_pem(key, 1, &pem) < 0 || ag_image_key_write_pem(key, 0, &pub_pem) < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot encode the key");
	rc = ctl_cli_write_file(out, pem, strlen(pem), 0600, force);
	explicit_bzero(pem, strlen(pem));
	if (rc == -EEXIST)
		return ctl_cli_fail(call, CTL_EXIT_IO, "%s exists; not overwriting a key (--force)",
				    out);
	if (rc < 0)
		return write_error(call, out, rc);
	if (pub_out) {
		rc = ctl_cli_write_file(pub_out, pub_pem, strlen(pub_pem), 0644, force);
		if (rc == -EEXIST)
			return ctl_cli_fail(call, CTL_EXIT_IO, "%s exists (--force)", pub_out);
		if (rc < 0)
			return write_error(call, pub_out, rc);
	}

	struct ag_image_pubkey pub;
	uint8_t kh[AG_IMAGE_HASH_LEN];
	char hx[2 * AG_IMAGE_HASH_LEN + 1];
	if (ag_image_key_public(key, &pub) < 0 || ag_image_key_hash(&pub, kh) < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot hash the public key");
	ctl_cli_hex(kh, sizeof(kh), hx);
	if (json) {
		json_auto_t *j = json_pack("{s:s, s:s?, s:s}", "key", out, "public_key",
						     pub_out, "key_hash", hx);
		return print_json(j);
	}
	fprintf(stderr, "wrote P-256 key %s (key hash %s)\n", out, hx);
	return CTL_EXIT_OK;
}

/* ---- pubkey ---------------------------------------------------------------- */

static int cmd_pubkey(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'F'},
		{"symbol", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *key_path = NULL, *out = NULL, *format = "pem",
		   *symbol = "ag_image_builtin_key";
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":k:o:F:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_path = optarg; break;
		case 'o': out = optarg; break;
		case 'F': format = optarg; break;
		case 's': symbol = optarg; break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (optind != argc)
		return ctl_cli_usage_error(call, "unexpected argument '%s'", argv[optind]);
	if (!key_path)
		return ctl_cli_usage_error(call, "--key KEY.pem is required");

	_cleanup_key_ struct ag_image_key *key = NULL;
	int rc = load_key(call, key_path, &key);
	if (rc)
		return rc;
	_cleanup_free_ char *text = NULL;
	if (strcmp(format, "pem") == 0) {
		rc = ag_image_key_write_pem(key, 0, &text);
	} else if (strcmp(format, "c") == 0) {
		rc = ag_image_key_write_c(key, symbol, &text);
		if (rc == -EINVAL)
			return ctl_cli_usage_error(call, "--symbol '%s' is not a C identifier",
						   symbol);
	} else if (strcmp(format, "hex") == 0 || strcmp(format, "hash") == 0) {
		struct ag_image_pubkey pub;
		uint8_t kh[AG_IMAGE_HASH_LEN];
		char hx[2 * AG_IMAGE_PUBKEY_LEN + 2];
		rc = ag_image_key_public(key, &pub);
		if (rc == 0 && format[1] == 'a')
			rc = ag_image_key_hash(&pub, kh) < 0 ? -EINVAL : 0;
		if (rc == 0) {
			if (format[1] == 'a')
				ctl_cli_hex(kh, sizeof(kh), hx);
			else
				ctl_cli_hex(pub.point, sizeof(pub.point), hx);
			strcat(hx, "\n");
			text = strdup(hx);
			rc = text ? 0 : -ENOMEM;
		}
	} else {
		return ctl_cli_usage_error(call, "--format must be pem, c, hex or hash");
	}
	if (rc < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot encode the public key");
	if (!out || strcmp(out, "-") == 0)
		return fputs(text, stdout) == EOF ? CTL_EXIT_IO : CTL_EXIT_OK;
	rc = ctl_cli_write_file(out, text, strlen(text), 0644, 1);
	return rc < 0 ? write_error(call, out, rc) : CTL_EXIT_OK;
}

/* ---- sign ------------------------------------------------------------------ */

static int cmd_sign(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"version", required_argument, NULL, 'V'},
		{"hw-id", required_argument, NULL, 'H'},
		{"load-addr", required_argument, NULL, 'L'},
		{"security-counter", required_argument, NULL, 'S'},
		{"header-size", required_argument, NULL, 'Z'},
		{"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *key_path = NULL, *out = NULL, *version = NULL, *load = NULL;
	struct ag_image_params p = {0};
	bool force = false, json = false;
	uint32_t v32;
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":k:o:fjh", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_path = optarg; break;
		case 'o': out = optarg; break;
		case 'V': version = optarg; break;
		case 'H': p.hw_id = optarg; break;
		case 'L': load = optarg; break;
		case 'S':
			if (ctl_cli_parse_u32(optarg, &p.security_counter) < 0)
				return ctl_cli_usage_error(call, "bad --security-counter '%s'", optarg);
			break;
		case 'Z':
			if (ctl_cli_parse_u32(optarg, &v32) < 0 || v32 < AG_IMAGE_HDR_LEN ||
			    v32 > AG_IMAGE_HDR_SIZE_MAX || v32 % AG_IMAGE_HDR_ALIGN)
				return ctl_cli_usage_error(
					call, "--header-size must be a multiple of %u in %u..%u",
					AG_IMAGE_HDR_ALIGN, AG_IMAGE_HDR_LEN, AG_IMAGE_HDR_SIZE_MAX);
			p.hdr_size = (uint16_t)v32;
			break;
		case 'f': force = true; break;
		case 'j': json = true; break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (argc - optind != 1)
		return ctl_cli_usage_error(call, argc == optind ? "IN.bin is required"
								: "only one input file");
	const char *in = argv[optind];
	if (!key_path || !version || !p.hw_id || !load || !out)
		return ctl_cli_usage_error(call, "--key, --version, --hw-id, --load-addr and -o are "
						 "required");
	if (ag_image_parse_version(version, &p.version) < 0)
		return ctl_cli_usage_error(call, "bad --version '%s' (want MAJOR.MINOR.PATCH[+BUILD], "
						 "at most 255.255.65535+4294967295)", version);
	if (ag_image_check_hw_id(p.hw_id) < 0)
		return ctl_cli_usage_error(call, "bad --hw-id '%s' (1..%u of [A-Za-z0-9._-])", p.hw_id,
					   AG_IMAGE_HW_ID_MAX);
	if (ctl_cli_parse_u32(load, &p.load_addr) < 0)
		return ctl_cli_usage_error(call, "bad --load-addr '%s'", load);

	_cleanup_key_ struct ag_image_key *key = NULL;
	int rc = load_key(call, key_path, &key);
	if (rc)
		return rc;
	if (!ag_image_key_has_private(key))
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is a public key; signing needs the "
							 "private key", key_path);
	_cleanup_free_ uint8_t *payload = NULL;
	size_t len;
	rc = ctl_cli_read_file(in, AG_IMAGE_PAYLOAD_MAX, &payload, &len);
	if (rc < 0)
		return read_error(call, "input", in, rc, AG_IMAGE_PAYLOAD_MAX);
	if (len >= 4 && ag_get_le32(payload) == AG_IMAGE_MAGIC && !force)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is already a Flotilla image; sign the "
							 "raw binary (or --force)", in);

	_cleanup_free_ uint8_t *img = NULL;
	size_t img_len;
	rc = ag_image_sign(payload, len, &p, key, &img, &img_len);
	if (rc == -ENOMEM)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "out of memory");
	if (rc < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "signing failed: %s", strerror(-rc));
	rc = ctl_cli_write_file(out, img, img_len, 0644, 1);
	if (rc < 0)
		return write_error(call, out, rc);

	struct ag_image_info info;
	if (ag_image_parse(img, img_len, &info) != AG_OK)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot re-read the signed image");
	if (json) {
		json_auto_t *j = info_json(out, &info);
		return print_json(j);
	}
	char ver[32];
	version_str(&p.version, ver);
	fprintf(stderr, "signed %s -> %s: %s for %s at 0x%08lx, counter %lu, %zu bytes\n", in, out,
		ver, p.hw_id, (unsigned long)p.load_addr, (unsigned long)p.security_counter,
		img_len);
	return CTL_EXIT_OK;
}

/* ---- verify ---------------------------------------------------------------- */

static int cmd_verify(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"hw-id", required_argument, NULL, 'H'},
		{"min-security-counter", required_argument, NULL, 'S'},
		{"load-addr", required_argument, NULL, 'L'},
		{"max-size", required_argument, NULL, 'M'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *key_path = NULL, *format = "text";
	struct ag_image_policy pol = {0};
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_path = optarg; break;
		case 'H':
			if (ag_image_check_hw_id(optarg) < 0)
				return ctl_cli_usage_error(call, "bad --hw-id '%s'", optarg);
			pol.hw_id = optarg;
			break;
		case 'S':
			if (ctl_cli_parse_u32(optarg, &pol.min_security_counter) < 0)
				return ctl_cli_usage_error(call, "bad --min-security-counter '%s'",
							   optarg);
			break;
		case 'L':
			if (ctl_cli_parse_u32(optarg, &pol.load_addr) < 0)
				return ctl_cli_usage_error(call, "bad --load-addr '%s'", optarg);
			pol.check_load_addr = 1;
			break;
		case 'M':
			if (ctl_cli_parse_u32(optarg, &pol.max_size) < 0 || pol.max_size == 0)
				return ctl_cli_usage_error(call, "bad --max-size '%s'", optarg);
			break;
		case 'o': format = optarg; break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
		return ctl_cli_usage_error(call, "-o must be json or text");
	if (argc - optind != 1)
		return ctl_cli_usage_error(call, argc == optind ? "IMG is required"
								: "only one image");
	if (!key_path)
		return ctl_cli_usage_error(call, "--key is required");
	const char *file = argv[optind];
	bool json = format[0] == 'j';

	_cleanup_key_ struct ag_image_key *key = NULL;
	int rc = load_key(call, key_path, &key);
	if (rc)
		return rc;
	struct ag_image_pubkey pub;
	if (ag_image_key_public(key, &pub) < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot use key %s", key_path);
	pol.key = &pub;

	_cleanup_free_ uint8_t *img = NULL;
	size_t len;
	rc = ctl_cli_read_file(file, IMAGE_FILE_MAX, &img, &len);
	if (rc < 0)
		return read_error(call, "image", file, rc, IMAGE_FILE_MAX);

	struct ag_image_info info;
	int vrc = ag_image_verify_mem(img, len, &pol, &info);
	if (json) {
		json_auto_t *j = NULL;
		if (vrc == AG_OK) {
			j = info_json(file, &info);
			if (j) {
				json_object_set_new(j, "trailing_bytes",
						    json_integer((json_int_t)(len - info.total_size)));
			}
		} else {
			/* Refused: still show what the image claims, when it parses
			 * (e.g. the hardware id it was built for). */
			struct ag_image_info claimed;
			if (ag_image_parse(img, len, &claimed) == AG_OK)
				j = info_json(file, &claimed);
			else
				j = json_pack("{s:s}", "file", file);
		}
		if (!j)
			return CTL_EXIT_INTERNAL;
		json_object_set_new(j, "verified", json_boolean(vrc == AG_OK));
		json_object_set_new(j, "error", vrc == AG_OK ? json_null() : json_string(ag_strerror(vrc)));
		json_object_set_new(j, "error_code", vrc == AG_OK ? json_null() : json_string(ag_err_name(vrc)));
		rc = print_json(j);
		return vrc == AG_OK ? rc : CTL_EXIT_FAIL;
	}
	if (vrc != AG_OK)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s: REFUSED: %s (%s)", file, ag_strerror(vrc),
				    ag_err_name(vrc));
	char ver[32];
	version_str(&info.hdr.version, ver);
	printf("%s: OK: %s for %s, counter %lu, %lu bytes\n", file, ver, info.hdr.hw_id,
	       (unsigned long)info.hdr.security_counter, (unsigned long)info.total_size);
	if (len > info.total_size)
		fprintf(stderr, "%s: note: %zu bytes after the image are not part of it\n", file,
			len - (size_t)info.total_size);
	return CTL_EXIT_OK;
}

/* ---- inspect --------------------------------------------------------------- */

static const char *tlv_name(uint16_t area_magic, uint16_t type)
{
	if (area_magic == AG_IMAGE_UTLV_MAGIC) {
		switch (type) {
		case AG_IMAGE_TLV_SHA256: return "sha256";
		case AG_IMAGE_TLV_KEYHASH: return "key_hash";
		case AG_IMAGE_TLV_ECDSA_P256: return "ecdsa_p256";
		}
	}
	return "unknown";
}

/* Walk one TLV area into @p arr (JSON) and/or @p f (text). */
static void list_tlvs(const uint8_t *area, size_t len, uint16_t magic, json_t *arr, FILE *f)
{
	struct ag_image_tlv_iter it;
	if (len == 0 || ag_image_tlv_begin(&it, area, len, magic) != AG_OK)
		return;
	const char *where = magic == AG_IMAGE_PTLV_MAGIC ? "protected" : "unprotected";
	uint16_t type, vlen;
	const uint8_t *val;
	while (ag_image_tlv_next(&it, &type, &val, &vlen) == 1) {
		char *hx = malloc(2u * vlen + 1);
		if (!hx)
			return;
		ctl_cli_hex(val, vlen, hx);
		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:i, s:s}", "area",
							     where, "type", (int)type, "name",
							     tlv_name(magic, type), "length",
							     (int)vlen, "value", hx));
		if (f)
			fprintf(f, "  %-11s 0x%04x %-10s %3u bytes  %.64s%s\n", where, type,
				tlv_name(magic, type), vlen, hx, strlen(hx) > 64 ? "..." : "");
		free(hx);
	}
}

static int cmd_inspect(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *format = "text";
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': format = optarg; break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
		return ctl_cli_usage_error(call, "-o must be json or text");
	if (argc - optind != 1)
		return ctl_cli_usage_error(call, argc == optind ? "IMG is required"
								: "only one image");
	const char *file = argv[optind];
	bool json = format[0] == 'j';

	_cleanup_free_ uint8_t *img = NULL;
	size_t len;
	int rc = ctl_cli_read_file(file, IMAGE_FILE_MAX, &img, &len);
	if (rc < 0)
		return read_error(call, "image", file, rc, IMAGE_FILE_MAX);
	struct ag_image_info info;
	int prc = ag_image_parse(img, len, &info);
	if (prc != AG_OK) {
		if (json) {
			json_auto_t *j = json_pack("{s:s, s:b, s:s, s:s}", "file", file,
							     "valid", 0, "error", ag_strerror(prc),
							     "error_code", ag_err_name(prc));
			print_json(j);
			return CTL_EXIT_FAIL;
		}
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is not a valid image: %s (%s)", file,
				    ag_strerror(prc), ag_err_name(prc));
	}
	/* Recompute the hash: inspect says whether the image is intact, not
	 * whether to trust it (that is verify's job, with a key). */
	uint8_t h[AG_IMAGE_HASH_LEN];
	sha256(img, info.utlv_off, h);
	bool hash_ok = info.has_hash && memcmp(h, info.hash, sizeof(h)) == 0;
	const uint8_t *ptlv = img + info.ptlv_off, *utlv = img + info.utlv_off;

	if (json) {
		json_auto_t *j = info_json(file, &info);
		json_t *arr = json_array();
		if (!j || !arr) {
			json_decref(arr);
			return CTL_EXIT_INTERNAL;
		}
		list_tlvs(ptlv, info.hdr.ptlv_size, AG_IMAGE_PTLV_MAGIC, arr, NULL);
		list_tlvs(utlv, info.utlv_size, AG_IMAGE_UTLV_MAGIC, arr, NULL);
		json_object_set_new(j, "valid", json_true());
		json_object_set_new(j, "file_size", json_integer((json_int_t)len));
		json_object_set_new(j, "hash_ok", json_boolean(hash_ok));
		json_object_set_new(j, "signed", json_boolean(info.has_sig));
		json_object_set_new(j, "tlvs", arr);
		return print_json(j);
	}
	print_info_text(stdout, file, &info);
	printf("file size:        %zu\n", len);
	printf("hash check:       %s\n", hash_ok ? "ok (matches header, payload and protected TLVs)"
					     : "MISMATCH: the image was modified or is corrupt");
	printf("signature:        %s\n", info.has_sig ? "ECDSA P-256 (check with 'flotilla image verify')"
						     : "none");
	printf("TLVs:\n");
	list_tlvs(ptlv, info.hdr.ptlv_size, AG_IMAGE_PTLV_MAGIC, NULL, stdout);
	list_tlvs(utlv, info.utlv_size, AG_IMAGE_UTLV_MAGIC, NULL, stdout);
	return CTL_EXIT_OK;
}

/* ---- delta, apply ---------------------------------------------------------- */

/* A spinner line on stderr while something long runs on the main thread. */
struct progress {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, running;
	const char *what;
	double start;
};

static void *progress_main(void *arg)
{
	struct progress *pg = arg;
	pthread_mutex_lock(&pg->lock);
	while (!pg->done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&pg->cond, &pg->lock, &ts);
		if (!pg->done)
			fprintf(stderr, "\r%s... %.1f s", pg->what, ctl_cli_now() - pg->start);
	}
	pthread_mutex_unlock(&pg->lock);
	fprintf(stderr, "\r\033[K");
	return NULL;
}

static void progress_start(struct progress *pg, const char *what)
{
	memset(pg, 0, sizeof(*pg));
	pg->what = what;
	pg->start = ctl_cli_now();
	if (!ctl_cli_progress_enabled())
		return;
	pthread_mutex_init(&pg->lock, NULL);
	pthread_cond_init(&pg->cond, NULL);
	pg->running = pthread_create(&pg->thread, NULL, progress_main, pg) == 0;
}

static double progress_stop(struct progress *pg)
{
	if (pg->running) {
		pthread_mutex_lock(&pg->lock);
		pg->done = true;
		pthread_cond_signal(&pg->cond);
		pthread_mutex_unlock(&pg->lock);
		pthread_join(pg->thread, NULL);
		pthread_cond_destroy(&pg->cond);
		pthread_mutex_destroy(&pg->lock);
		pg->running = false;
	}
	return ctl_cli_now() - pg->start;
}

static int cmd_delta(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'F'},
		{"to", required_argument, NULL, 'T'},
		{"output", required_argument, NULL, 'o'},
		{"thumb2", no_argument, NULL, '2'},
		{"no-thumb2", no_argument, NULL, '0'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *from = NULL, *to = NULL, *out = NULL;
	struct ag_delta_gen_opts gopts = {.thumb2 = -1};
	bool json = false;
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":o:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 'F': from = optarg; break;
		case 'T': to = optarg; break;
		case 'o': out = optarg; break;
		case '2': gopts.thumb2 = 1; break;
		case '0': gopts.thumb2 = 0; break;
		case 'j': json = true; break;
		case 'q': ctl_cli_set_quiet(1); break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (optind != argc)
		return ctl_cli_usage_error(call, "unexpected argument '%s'", argv[optind]);
	if (!from || !to || !out)
		return ctl_cli_usage_error(call, "--from, --to and -o are required");

	_cleanup_free_ uint8_t *old_img = NULL, *new_img = NULL, *patch = NULL, *check = NULL;
	size_t old_len, new_len, patch_len = 0, check_len = 0;
	int rc = ctl_cli_read_file(from, AG_DELTA_MAX_IMAGE, &old_img, &old_len);
	if (rc < 0)
		return read_error(call, "old image", from, rc, AG_DELTA_MAX_IMAGE);
	rc = ctl_cli_read_file(to, AG_DELTA_MAX_IMAGE, &new_img, &new_len);
	if (rc < 0)
		return read_error(call, "new image", to, rc, AG_DELTA_MAX_IMAGE);

	struct progress pg;
	progress_start(&pg, "generating patch");
	rc = ag_delta_generate(old_img, old_len, new_img, new_len, &gopts, &patch, &patch_len);
	double secs = progress_stop(&pg);
	if (rc == -ENOMEM)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "out of memory generating the patch");
	if (rc == -EFBIG)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "an image exceeds %u bytes",
				    AG_DELTA_MAX_IMAGE);
	if (rc < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot generate the patch: %s",
				    strerror(-rc));

	/* Never write a patch that does not rebuild NEW exactly. */
	check = malloc(new_len ? new_len : 1);
	if (!check)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "out of memory");
	rc = ag_delta_apply_mem(old_img, old_len, patch, patch_len, check, new_len, &check_len);
	if (rc != AG_OK || check_len != new_len || memcmp(check, new_img, new_len) != 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL,
				    "self-check failed: the patch does not rebuild %s (%s)", to,
				    rc != AG_OK ? ag_strerror(rc) : "content differs");

	rc = ctl_cli_write_file(out, patch, patch_len, 0644, 1);
	if (rc < 0)
		return write_error(call, out, rc);
	struct ag_delta_header hdr;
	bool thumb2 = ag_delta_read_header(patch, patch_len, &hdr) == AG_OK &&
		      (hdr.flags & AG_DELTA_F_THUMB2);
	double ratio = new_len ? (double)patch_len / (double)new_len : 0.0;
	if (json) {
		json_auto_t *j = json_pack(
			"{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:b, s:f}", "from", from, "to", to,
			"patch", out, "old_size", (json_int_t)old_len, "new_size", (json_int_t)new_len,
			"patch_size", (json_int_t)patch_len, "ratio", ratio, "thumb2", thumb2,
			"seconds", secs);
		return print_json(j);
	}
	fprintf(stderr, "wrote %s: %zu bytes (%.1f%% of %s)%s in %.2f s\n", out, patch_len,
		100.0 * ratio, to, thumb2 ? ", Thumb-2 pass" : "", secs);
	return CTL_EXIT_OK;
}

static int cmd_apply(const struct ctl_cli_call *call, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'F'},
		{"patch", required_argument, NULL, 'P'},
		{"output", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *from = NULL, *patch_path = NULL, *out = NULL;
	bool json = false;
	int c;
	opt_reset();
	while ((c = getopt_long(argc, argv, ":o:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 'F': from = optarg; break;
		case 'P': patch_path = optarg; break;
		case 'o': out = optarg; break;
		case 'j': json = true; break;
		case 'q': ctl_cli_set_quiet(1); break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return opt_error(call, c, argv);
		}
	}
	if (optind != argc)
		return ctl_cli_usage_error(call, "unexpected argument '%s'", argv[optind]);
	if (!from || !patch_path || !out)
		return ctl_cli_usage_error(call, "--from, --patch and -o are required");

	_cleanup_free_ uint8_t *old_img = NULL, *patch = NULL, *new_img = NULL;
	size_t old_len, patch_len, new_len = 0;
	int rc = ctl_cli_read_file(from, AG_DELTA_MAX_IMAGE, &old_img, &old_len);
	if (rc < 0)
		return read_error(call, "old image", from, rc, AG_DELTA_MAX_IMAGE);
	rc = ctl_cli_read_file(patch_path, PATCH_FILE_MAX, &patch, &patch_len);
	if (rc < 0)
		return read_error(call, "patch", patch_path, rc, PATCH_FILE_MAX);

	struct ag_delta_header hdr;
	rc = ag_delta_read_header(patch, patch_len, &hdr);
	if (rc != AG_OK)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s is not a valid patch: %s (%s)",
				    patch_path, ag_strerror(rc), ag_err_name(rc));
	if (hdr.old_size != old_len)
		return ctl_cli_fail(call, CTL_EXIT_FAIL,
				    "%s is for a base of %lu bytes; %s has %zu", patch_path,
				    (unsigned long)hdr.old_size, from, old_len);
	if (hdr.new_size > AG_DELTA_MAX_IMAGE)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s claims an output over %u bytes",
				    patch_path, AG_DELTA_MAX_IMAGE);
	new_img = malloc(hdr.new_size ? hdr.new_size : 1);
	if (!new_img)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "out of memory");

	struct progress pg;
	progress_start(&pg, "applying patch");
	rc = ag_delta_apply_mem(old_img, old_len, patch, patch_len, new_img, hdr.new_size, &new_len);
	double secs = progress_stop(&pg);
	if (rc != AG_OK)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "cannot apply %s to %s: %s (%s)", patch_path,
				    from, ag_strerror(rc), ag_err_name(rc));
	rc = ctl_cli_write_file(out, new_img, new_len, 0644, 1);
	if (rc < 0)
		return write_error(call, out, rc);
	if (json) {
		json_auto_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f}", "from",
						     from, "patch", patch_path, "output", out,
						     "old_size", (json_int_t)old_len, "patch_size",
						     (json_int_t)patch_len, "new_size",
						     (json_int_t)new_len, "seconds", secs);
		return print_json(j);
	}
	fprintf(stderr, "wrote %s: %zu bytes in %.2f s\n", out, new_len, secs);
	return CTL_EXIT_OK;
}

const struct ctl_cli_cmd ctl_cli_image_cmds[] = {
	{
		.name = "keygen",
		.summary = "generate an ECDSA P-256 signing key (PEM)",
		.usage = " -o KEY.pem [--public-out PUB.pem] [--force] [--json]\n"
			 "\n"
			 "Writes a new private key (mode 0600). Refuses to overwrite a file\n"
			 "unless --force. --public-out also writes the public key, which is what\n"
			 "verifiers and device builds (-DFLOTILLA_SIGNING_KEY=PUB.pem) need.",
		.run = cmd_keygen,
	},
	{
		.name = "pubkey",
		.summary = "export a key's public part (PEM, C source, hex, key hash)",
		.usage = " --key KEY.pem [--format pem|c|hex|hash] [--symbol NAME] [-o OUT]\n"
			 "\n"
			 "  --format c   a C source defining `const struct ag_image_pubkey NAME`\n"
			 "               (default NAME: ag_image_builtin_key) for device builds\n"
			 "  --format hash  the key hash an image's KEYHASH TLV carries\n"
			 "Writes to stdout unless -o.",
		.run = cmd_pubkey,
	},
	{
		.name = "sign",
		.summary = "wrap a raw firmware binary in a signed image",
		.usage = " --key KEY.pem --version X.Y.Z[+BUILD] --hw-id ID --load-addr ADDR\n"
			 "           [--security-counter N] [--header-size N] [--force] [--json] -o OUT "
			 "IN.bin\n"
			 "\n"
			 "  --version           semantic version and build number (max 255.255.65535+4294967295)\n"
			 "  --hw-id             hardware id the image is for (1..16 of [A-Za-z0-9._-])\n"
			 "  --load-addr         flash address of the slot the image is linked for; the\n"
			 "                      payload (vector table) lands at ADDR + header size\n"
			 "  --security-counter  anti-rollback counter (default 0); devices refuse lower\n"
			 "  --header-size       bytes before the payload (default 512; multiple of 8)\n"
			 "  --force             sign even if IN already is a Flotilla image\n"
			 "Signatures are deterministic (RFC 6979). OUT is replaced atomically.",
		.run = cmd_sign,
	},
	{
		.name = "verify",
		.summary = "check an image's hash, signature and policy",
		.usage = " --key PUB_OR_PRIV.pem [--hw-id ID] [--min-security-counter N]\n"
			 "             [--load-addr ADDR] [--max-size N] [-o text|json] IMG\n"
			 "\n"
			 "Checks what a device checks: layout and bounds, hash, key, signature,\n"
			 "and the given hardware id, security counter floor, slot address and size.\n"
			 "Exit status 0 if the image is accepted, 1 if refused (the reason and its\n"
			 "device error code, e.g. AG_ESIG, are printed or in the JSON).",
		.run = cmd_verify,
	},
	{
		.name = "inspect",
		.summary = "show an image's header and TLVs",
		.usage = " [-o text|json] IMG\n"
			 "\n"
			 "Parses without a key: header fields, TLVs, and whether the hash matches.\n"
			 "Exit status 1 if the file is not a well-formed image.",
		.run = cmd_inspect,
	},
	{
		.name = "delta",
		.summary = "make a delta patch from OLD to NEW (any files)",
		.usage = " --from OLD --to NEW -o PATCH [--thumb2|--no-thumb2] [--json] [-q]\n"
			 "\n"
			 "  --thumb2/--no-thumb2  force the Cortex-M Thumb-2 pre-pass on or off\n"
			 "                        (default: used when it makes the patch smaller)\n"
			 "The patch is applied in memory and compared with NEW before it is written.",
		.run = cmd_delta,
	},
	{
		.name = "apply",
		.summary = "apply a delta patch to OLD",
		.usage = " --from OLD --patch PATCH -o NEW [--json] [-q]\n"
			 "\n"
			 "Refuses (exit 1) a patch made for another base or a corrupt one; NEW is\n"
			 "written only when the patch applied and its checks passed.",
		.run = cmd_apply,
	},
	{0},
};
