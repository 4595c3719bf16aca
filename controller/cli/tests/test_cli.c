/* The CLI's helpers: numbers, atomic file writes, bounded reads, dispatch. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ctl-cli-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_parse_u32(void **state)
{
	(void)state;
	uint32_t v;
	assert_int_equal(ctl_cli_parse_u32("0x10000", &v), 0);
	assert_int_equal(v, 0x10000);
	assert_int_equal(ctl_cli_parse_u32("4294967295", &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(ctl_cli_parse_u32("0", &v), 0);
	assert_int_equal(v, 0);
	static const char *bad[] = {"", "4294967296", "-1", "+1", " 1", "12a", "0x", "0x1g", "1e3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 77;
		assert_int_equal(ctl_cli_parse_u32(bad[i], &v), -EINVAL);
		assert_int_equal(v, 77);
	}
}

static void test_write_file_atomic(void **state)
{
	(void)state;
	char path[128], other[128];
	snprintf(path, sizeof(path), "%s/a.bin", dir);
	assert_int_equal(ctl_cli_write_file(path, "hello", 5, 0600, 0), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* No replace: refused, the old content stays, no temporary is left. */
	assert_int_equal(ctl_cli_write_file(path, "world!", 6, 0644, 0), -EEXIST);
	uint8_t *buf;
	size_t len;
	assert_int_equal(ctl_cli_read_file(path, 100, &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	assert_int_equal(count_entries(), 1);
	/* Replace. */
	assert_int_equal(ctl_cli_write_file(path, "world!", 6, 0644, 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(count_entries(), 1);
	/* A directory that does not exist: an error, nothing created. */
	snprintf(other, sizeof(other), "%s/missing/b.bin", dir);
	assert_int_equal(ctl_cli_write_file(other, "x", 1, 0644, 1), -ENOENT);
	assert_int_equal(count_entries(), 1);
	/* Empty files are files. */
	snprintf(other, sizeof(other), "%s/empty.bin", dir);
	assert_int_equal(ctl_cli_write_file(other, "", 0, 0644, 1), 0);
	assert_int_equal(ctl_cli_read_file(other, 10, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);
	unlink(other);
	unlink(path);
}

static void test_read_file_limits(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/c.bin", dir);
	uint8_t data[100];
	memset(data, 7, sizeof(data));
	assert_int_equal(ctl_cli_write_file(path, data, sizeof(data), 0644, 1), 0);
	uint8_t *buf = (uint8_t *)"untouched";
	size_t len = 1234;
	assert_int_equal(ctl_cli_read_file(path, 99, &buf, &len), -EFBIG);
	assert_int_equal(len, 1234);
	assert_int_equal(ctl_cli_read_file(path, 100, &buf, &len), 0);
	assert_int_equal(len, 100);
	free(buf);
	assert_int_equal(ctl_cli_read_file(dir, 100, &buf, &len), -EISDIR);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(ctl_cli_read_file(path, 100, &buf, &len), -ENOENT);
	/* A pipe has no size up front: the limit still holds. */
	assert_int_equal(ctl_cli_read_file("/dev/zero", 1000, &buf, &len), -EFBIG);
	snprintf(path, sizeof(path), "%s/c.bin", dir);
	unlink(path);
}

static int seen_argc;
static char seen_arg[32];

static int fake_run(const struct ctl_cli_call *call, int argc, char **argv)
{
	seen_argc = argc;
	snprintf(seen_arg, sizeof(seen_arg), "%s", argc > 1 ? argv[1] : "");
	return strcmp(call->path, "flotilla grp leaf") == 0 ? 42 : 43;
}

static const struct ctl_cli_cmd leaves[] = {
	{.name = "leaf", .summary = "a leaf", .usage = " ARG", .run = fake_run},
	{0},
};
static const struct ctl_cli_cmd groups[] = {
	{.name = "grp", .summary = "a group", .usage = " COMMAND", .sub = leaves},
	{0},
};

static void test_dispatch(void **state)
{
	(void)state;
	char *a1[] = {(char *)"grp", (char *)"leaf", (char *)"x", NULL};
	assert_int_equal(ctl_cli_dispatch(groups, "flotilla", 3, a1), 42);
	assert_int_equal(seen_argc, 2);
	assert_string_equal(seen_arg, "x");
	char *a2[] = {(char *)"grp", (char *)"nope", NULL};
	assert_int_equal(ctl_cli_dispatch(groups, "flotilla", 2, a2), CTL_EXIT_USAGE);
	char *a3[] = {(char *)"grp", NULL};
	assert_int_equal(ctl_cli_dispatch(groups, "flotilla", 1, a3), CTL_EXIT_USAGE);
	char *a4[] = {(char *)"grp", (char *)"--help", NULL};
	assert_int_equal(ctl_cli_dispatch(groups, "flotilla", 2, a4), CTL_EXIT_OK);
	char *a5[] = {(char *)"other", NULL};
	assert_int_equal(ctl_cli_dispatch(groups, "flotilla", 1, a5), CTL_EXIT_USAGE);
}

static void test_hex(void **state)
{
	(void)state;
	char out[9];
	ctl_cli_hex((const uint8_t *)"\x00\xab\x10\xff", 4, out);
	assert_string_equal(out, "00ab10ff");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u32),
		cmocka_unit_test(test_write_file_atomic),
		cmocka_unit_test(test_read_file_limits),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
