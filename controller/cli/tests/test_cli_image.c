/*
 * `flotilla image ...` end to end: runs the real binary in a temporary
 * directory, with a key it generates, and checks exit codes, files and JSON.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

static char dir[64];

/* Run "flotilla ARGS" in dir with stdout in out.txt, stderr in err.txt. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[1024], cmd[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s >out.txt 2>err.txt", dir, FLOTILLA_BIN, args);
	int st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *slurp(const char *name, size_t *ret_len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (ret_len)
		*ret_len = n;
	return buf;
}

static void spit(const char *name, const void *data, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int exists(const char *name)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static json_t *out_json(void)
{
	char *text = slurp("out.txt", NULL);
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	if (!j)
		fprintf(stderr, "bad JSON (%s): %s\n", err.text, text);
	free(text);
	assert_non_null(j);
	return j;
}

static const char *jstr(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	assert_non_null(s);
	return s;
}

static void assert_out_contains(const char *file, const char *needle)
{
	char *t = slurp(file, NULL);
	if (!strstr(t, needle))
		fprintf(stderr, "%s lacks '%s':\n%s\n", file, needle, t);
	assert_non_null(strstr(t, needle));
	free(t);
}

/* No temporary files of the atomic writer may stay behind. */
static void assert_no_temporaries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		assert_null(strstr(e->d_name, ".flotilla-tmp"));
	closedir(d);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ctl-cli-image-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* A firmware-like payload. */
	uint8_t app[6000];
	for (size_t i = 0; i < sizeof(app); i++)
		app[i] = (uint8_t)(i * 7u + (i >> 8));
	spit("app.bin", app, sizeof(app));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_help_and_usage(void **state)
{
	(void)state;
	assert_int_equal(run("--help"), 0);
	assert_out_contains("out.txt", "usage: flotilla");
	assert_int_equal(run("--version"), 0);
	static const char *subs[] = {"keygen", "pubkey", "sign", "verify", "inspect", "delta", "apply"};
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		assert_int_equal(run("image %s --help", subs[i]), 0);
		char want[64];
		snprintf(want, sizeof(want), "usage: flotilla image %s", subs[i]);
		assert_out_contains("out.txt", want);
	}
	assert_int_equal(run("help image sign"), 0);
	assert_out_contains("out.txt", "usage: flotilla image sign");
	assert_int_equal(run("%s", ""), 2); /* no command at all */
	assert_int_equal(run("nosuch"), 2);
	assert_int_equal(run("image"), 2);
	assert_int_equal(run("image nosuch"), 2);
	assert_int_equal(run("image verify --bogus x"), 2);
	assert_out_contains("err.txt", "unknown option '--bogus'");
	assert_int_equal(run("image verify app.img"), 2); /* no --key */
	assert_int_equal(run("image inspect"), 2);
	assert_int_equal(run("image inspect -o yaml app.bin"), 2);
}

static void test_keygen_sign_verify_tamper_inspect(void **state)
{
	(void)state;
	/* keygen: a key, its public part; no silent overwrite. */
	assert_int_equal(run("image keygen -o k.pem --public-out k.pub"), 0);
	struct stat st;
	char path[128];
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(run("image keygen -o k.pem"), 3);
	assert_int_equal(run("image keygen -o other.pem --json"), 0);
	json_t *j = out_json();
	assert_int_equal(strlen(jstr(j, "key_hash")), 64);
	json_decref(j);

	/* sign */
	assert_int_equal(run("image sign --key k.pem --version 1.2.3+45 --hw-id mps2-an386 "
			     "--load-addr 0x10000 --security-counter 7 -o app.img app.bin"),
			 0);
	assert_true(exists("app.img"));

	/* verify: ok, then each policy refusal with its exit code and reason. */
	assert_int_equal(run("image verify --key k.pub --hw-id mps2-an386 --min-security-counter 7 "
			     "app.img"),
			 0);
	assert_int_equal(run("image verify --key k.pem app.img"), 0); /* private key works too */
	assert_int_equal(run("image verify --key k.pub --hw-id other-board -o json app.img"), 1);
	j = out_json();
	assert_false(json_is_true(json_object_get(j, "verified")));
	assert_string_equal(jstr(j, "error_code"), "AG_EHWID");
	assert_string_equal(jstr(j, "hw_id"), "mps2-an386"); /* what the image claims */
	json_decref(j);
	assert_int_equal(run("image verify --key k.pub --min-security-counter 8 -o json app.img"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_ESECCNT");
	json_decref(j);
	assert_int_equal(run("image verify --key other.pem -o json app.img"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_EKEY");
	json_decref(j);
	assert_int_equal(run("image verify --key k.pub --load-addr 0x90000 -o json app.img"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_ESLOT");
	json_decref(j);

	/* Tamper one byte of the payload: verify fails with exit 1 (AG_EHASH). */
	size_t len;
	char *img = slurp("app.img", &len);
	img[512 + 1000] ^= 0x01;
	spit("tampered.img", img, len);
	assert_int_equal(run("image verify --key k.pub tampered.img"), 1);
	assert_out_contains("err.txt", "AG_EHASH");
	img[512 + 1000] ^= 0x01;
	/* ...one byte of the signature: AG_ESIG. */
	img[len - 10] ^= 0x01;
	spit("badsig.img", img, len);
	assert_int_equal(run("image verify --key k.pub -o json badsig.img"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_ESIG");
	json_decref(j);
	img[len - 10] ^= 0x01;
	/* Truncated: AG_ETRUNC; oversized for a slot: AG_ETOOBIG. */
	spit("short.img", img, len - 1);
	assert_int_equal(run("image verify --key k.pub -o json short.img"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_ETRUNC");
	json_decref(j);
	assert_int_equal(run("image verify --key k.pub --max-size 4096 -o json app.img"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_ETOOBIG");
	json_decref(j);

	/* verify -o json on success carries the header. */
	assert_int_equal(run("image verify --key k.pub -o json app.img"), 0);
	j = out_json();
	assert_true(json_is_true(json_object_get(j, "verified")));
	assert_string_equal(jstr(j, "version"), "1.2.3+45");
	json_decref(j);

	/* inspect -o json: every field, the TLVs, the hash verdict. */
	assert_int_equal(run("image inspect -o json app.img"), 0);
	j = out_json();
	assert_string_equal(jstr(j, "version"), "1.2.3+45");
	assert_string_equal(jstr(j, "hw_id"), "mps2-an386");
	assert_string_equal(jstr(j, "load_addr"), "0x00010000");
	assert_string_equal(jstr(j, "payload_addr"), "0x00010200");
	assert_int_equal(json_integer_value(json_object_get(j, "security_counter")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "payload_size")), 6000);
	assert_int_equal(json_integer_value(json_object_get(j, "image_size")), len);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(j, "version_fields"), "build")),
			 45);
	assert_true(json_is_true(json_object_get(j, "hash_ok")));
	assert_true(json_is_true(json_object_get(j, "signed")));
	json_t *tlvs = json_object_get(j, "tlvs");
	assert_int_equal(json_array_size(tlvs), 3);
	assert_string_equal(jstr(json_array_get(tlvs, 0), "name"), "sha256");
	assert_string_equal(jstr(json_array_get(tlvs, 0), "value"), jstr(j, "sha256"));
	json_decref(j);
	/* inspect notices the tampering without a key; text mode works. */
	assert_int_equal(run("image inspect -o json tampered.img"), 0);
	j = out_json();
	assert_false(json_is_true(json_object_get(j, "hash_ok")));
	json_decref(j);
	assert_int_equal(run("image inspect app.img"), 0);
	assert_out_contains("out.txt", "hash check:       ok");
	/* Not an image at all. */
	assert_int_equal(run("image inspect -o json app.bin"), 1);
	j = out_json();
	assert_string_equal(jstr(j, "error_code"), "AG_EIMAGE");
	json_decref(j);

	/* pubkey: the C source device builds use. */
	assert_int_equal(run("image pubkey --key k.pem --format c"), 0);
	assert_out_contains("out.txt", "const struct ag_image_pubkey ag_image_builtin_key = {");
	free(img);
}

static void test_sign_refusals_leave_nothing(void **state)
{
	(void)state;
	if (!exists("k.pem"))
		assert_int_equal(run("image keygen -o k.pem --public-out k.pub"), 0);
	/* Usage errors: exit 2, no output. */
	assert_int_equal(run("image sign --key k.pem --version 1.2 --hw-id a --load-addr 0 -o x.img "
			     "app.bin"),
			 2);
	assert_int_equal(run("image sign --key k.pem --version 1.2.3 --hw-id 'bad id' --load-addr 0 "
			     "-o x.img app.bin"),
			 2);
	assert_int_equal(run("image sign --key k.pem --version 1.2.3 --hw-id a --load-addr 0x1g "
			     "-o x.img app.bin"),
			 2);
	assert_int_equal(run("image sign --key k.pem --version 1.2.3 --hw-id a -o x.img app.bin"), 2);
	/* Refused input: a public key, an already signed image; exit 1. */
	assert_int_equal(run("image sign --key k.pub --version 1.2.3 --hw-id a --load-addr 0 "
			     "-o x.img app.bin"),
			 1);
	if (!exists("app.img"))
		assert_int_equal(run("image sign --key k.pem --version 1.2.3 --hw-id a --load-addr 0 "
				     "-o app.img app.bin"),
				 0);
	assert_int_equal(run("image sign --key k.pem --version 1.2.3 --hw-id a --load-addr 0 "
			     "-o x.img app.img"),
			 1);
	/* A missing input, a missing key: exit 3. */
	assert_int_equal(run("image sign --key k.pem --version 1.2.3 --hw-id a --load-addr 0 "
			     "-o x.img nosuch.bin"),
			 3);
	assert_int_equal(run("image sign --key nosuch.pem --version 1.2.3 --hw-id a --load-addr 0 "
			     "-o x.img app.bin"),
			 3);
	/* A key file that is not a key: exit 1. */
	assert_int_equal(run("image verify --key app.bin app.img"), 1);
	assert_false(exists("x.img"));
	assert_no_temporaries();
}

static void test_delta_apply(void **state)
{
	(void)state;
	size_t len;
	char *old = slurp("app.bin", &len);
	char *new = malloc(len + 100);
	memcpy(new, old, len);
	memcpy(new + 2000, "a changed function body", 23);
	memset(new + len, 0x5a, 100);
	spit("new.bin", new, len + 100);

	assert_int_equal(run("image delta --from app.bin --to new.bin -o p.patch --json"), 0);
	json_t *j = out_json();
	assert_int_equal(json_integer_value(json_object_get(j, "new_size")), len + 100);
	assert_true(json_integer_value(json_object_get(j, "patch_size")) < (json_int_t)len / 4);
	json_decref(j);
	assert_int_equal(run("image apply --from app.bin --patch p.patch -o rebuilt.bin"), 0);
	size_t rlen;
	char *rebuilt = slurp("rebuilt.bin", &rlen);
	assert_int_equal(rlen, len + 100);
	assert_memory_equal(rebuilt, new, rlen);
	free(rebuilt);
	/* Forced Thumb-2 pass on and off both round-trip. */
	assert_int_equal(run("image delta --from app.bin --to new.bin -o p2.patch --thumb2 -q"), 0);
	assert_int_equal(run("image delta --from app.bin --to new.bin -o p3.patch --no-thumb2"), 0);
	assert_int_equal(run("image apply --from app.bin --patch p2.patch -o r2.bin"), 0);

	/* Wrong base, corrupt patch, truncated patch: exit 1, no output. */
	assert_int_equal(run("image apply --from new.bin --patch p.patch -o bad1.bin"), 1);
	size_t plen;
	char *patch = slurp("p.patch", &plen);
	patch[plen / 2] ^= 0x40;
	spit("corrupt.patch", patch, plen);
	assert_int_equal(run("image apply --from app.bin --patch corrupt.patch -o bad2.bin"), 1);
	spit("short.patch", patch, 20);
	assert_int_equal(run("image apply --from app.bin --patch short.patch -o bad3.bin"), 1);
	assert_false(exists("bad1.bin"));
	assert_false(exists("bad2.bin"));
	assert_false(exists("bad3.bin"));
	assert_int_equal(run("image delta --from app.bin -o p4.patch"), 2);
	assert_int_equal(run("image delta --from nosuch --to new.bin -o p4.patch"), 3);
	assert_false(exists("p4.patch"));
	assert_no_temporaries();
	free(patch);
	free(old);
	free(new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_usage),
		cmocka_unit_test(test_keygen_sign_verify_tamper_inspect),
		cmocka_unit_test(test_sign_refusals_leave_nothing),
		cmocka_unit_test(test_delta_apply),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
