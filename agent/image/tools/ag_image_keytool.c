/*
 * ag_image_keytool: the build's own signing-key helper.
 *
 * CMake compiles it for the build machine at configure time (also in the
 * cross build, where the `flotilla` CLI is not built) to create the
 * development key, to turn the signing key into a C source for device
 * builds, and to sign test images. Operators use `flotilla image ...`.
 *
 *   ag_image_keytool gen OUT.pem
 *   ag_image_keytool csrc KEY.pem SYMBOL OUT.c
 *   ag_image_keytool sign KEY.pem VERSION HW_ID LOAD_ADDR SECCNT IN.bin OUT.img
 *
 * Output files are written to a temporary name and renamed into place.
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/image_sign.h"

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return -errno;
	int rc = 0;
	if (chmod(tmp, mode) != 0 || fwrite(data, 1, len, f) != len)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0)
		remove(tmp);
	return rc;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > AG_IMAGE_PAYLOAD_MAX + 1) {
				rc = -EFBIG;
				break;
			}
			uint8_t *n = realloc(buf, cap);
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			buf = n;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int die(const char *what, const char *arg, int rc)
{
	fprintf(stderr, "ag_image_keytool: %s %s: %s\n", what, arg, strerror(-rc));
	return 1;
}

static int cmd_gen(const char *out)
{
	struct ag_image_key *k = NULL;
	char *pem = NULL;
	int rc = ag_image_key_generate(&k);
	if (rc == 0)
		rc = ag_image_key_write_pem(k, 1, &pem);
	if (rc == 0)
		rc = write_file(out, pem, strlen(pem), 0600);
	if (pem)
		memset(pem, 0, strlen(pem));
	free(pem);
	ag_image_key_free(k);
	return rc < 0 ? die("cannot generate key", out, rc) : 0;
}

static int cmd_csrc(const char *key_path, const char *symbol, const char *out)
{
	struct ag_image_key *k = NULL;
	char *src = NULL;
	int rc = ag_image_key_load(key_path, &k);
	if (rc < 0)
		return die("cannot load key", key_path, rc);
	rc = ag_image_key_write_c(k, symbol, &src);
	if (rc == 0)
		rc = write_file(out, src, strlen(src), 0644);
	free(src);
	ag_image_key_free(k);
	return rc < 0 ? die("cannot write", out, rc) : 0;
}

static int cmd_sign(char **a)
{
	struct ag_image_params p = {0};
	char *end;
	if (ag_image_parse_version(a[1], &p.version) < 0) {
		fprintf(stderr, "ag_image_keytool: bad version %s\n", a[1]);
		return 2;
	}
	p.hw_id = a[2];
	errno = 0;
	unsigned long addr = strtoul(a[3], &end, 0);
	int bad = *a[3] == '\0' || *end != '\0';
	unsigned long cnt = strtoul(a[4], &end, 0);
	bad |= *a[4] == '\0' || *end != '\0';
	if (bad || errno || addr > 0xffffffffUL || cnt > 0xffffffffUL) {
		fprintf(stderr, "ag_image_keytool: bad number\n");
		return 2;
	}
	p.load_addr = (uint32_t)addr;
	p.security_counter = (uint32_t)cnt;

	struct ag_image_key *k = NULL;
	uint8_t *in = NULL, *img = NULL;
	size_t in_len = 0, img_len = 0;
	int rc = ag_image_key_load(a[0], &k);
	if (rc < 0)
		return die("cannot load key", a[0], rc);
	rc = read_file(a[5], &in, &in_len);
	if (rc < 0) {
		ag_image_key_free(k);
		return die("cannot read", a[5], rc);
	}
	rc = ag_image_sign(in, in_len, &p, k, &img, &img_len);
	if (rc == 0)
		rc = write_file(a[6], img, img_len, 0644);
	free(img);
	free(in);
	ag_image_key_free(k);
	return rc < 0 ? die("cannot sign into", a[6], rc) : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "gen") == 0)
		return cmd_gen(argv[2]);
	if (argc == 5 && strcmp(argv[1], "csrc") == 0)
		return cmd_csrc(argv[2], argv[3], argv[4]);
	if (argc == 9 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv + 2);
	fprintf(stderr, "usage: ag_image_keytool gen OUT.pem\n"
			"       ag_image_keytool csrc KEY.pem SYMBOL OUT.c\n"
			"       ag_image_keytool sign KEY.pem VERSION HW_ID LOAD_ADDR SECCNT IN OUT\n");
	return 2;
}
