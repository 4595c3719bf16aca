/* Config: file syntax, value checks, limits and precedence. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/config.h"
#include "gateway/log.h"

static int parse(struct gw_config *c, const char *text, char *err)
{
	gw_config_default(c);
	return gw_config_parse(c, text, strlen(text), err);
}

static void test_defaults_and_file(void **state)
{
	(void)state;
	struct gw_config c;
	char err[GW_CONFIG_ERR_MAX];
	assert_int_equal(parse(&c,
			       "# a comment\n\n  name = edge-7  # trailing\n"
			       "listen_tcp=127.0.0.1:7000\nheartbeat_s = 5\r\n"
			       "db = \"/tmp/x y.db\"\nserial = /dev/ttyUSB0@9600\nserial=/dev/pts/3\n"
			       "pty = /tmp/dev0\nlog_level = debug\nhttp_listen =\n",
			       err),
			 0);
	assert_string_equal(c.name, "edge-7");
	assert_string_equal(c.listen_tcp, "127.0.0.1:7000");
	assert_string_equal(c.http_listen, "");
	assert_int_equal(c.heartbeat_s, 5);
	assert_string_equal(c.db_path, "/tmp/x y.db");
	assert_int_equal(c.n_serial, 2);
	assert_string_equal(c.serial[0].path, "/dev/ttyUSB0");
	assert_int_equal(c.serial[0].baud, 9600);
	assert_int_equal(c.serial[1].baud, 115200);
	assert_int_equal(c.n_pty, 1);
	assert_int_equal(c.log_level, GW_LOG_DEBUG);
	assert_int_equal(c.max_frame, 256);
}

static void test_errors(void **state)
{
	(void)state;
	struct gw_config c;
	char err[GW_CONFIG_ERR_MAX];
	assert_int_equal(parse(&c, "nokey\n", err), -EINVAL);
	assert_non_null(strstr(err, "line 1"));
	assert_int_equal(parse(&c, "a=1\n", err), -ENOENT);
	assert_int_equal(parse(&c, "\n\nheartbeat_s = 0\n", err), -EINVAL);
	assert_non_null(strstr(err, "line 3"));
	assert_int_equal(parse(&c, "heartbeat_s = 99999\n", err), -EINVAL);
	assert_int_equal(parse(&c, "heartbeat_s = -1\n", err), -EINVAL);
	assert_int_equal(parse(&c, "heartbeat_s = 12x\n", err), -EINVAL);
	assert_int_equal(parse(&c, "max_frame = 127\n", err), -EINVAL);
	assert_int_equal(parse(&c, "listen_tcp = 1.2.3:80\n", err), -EINVAL);
	assert_int_equal(parse(&c, "listen_tcp = 127.0.0.1:65536\n", err), -EINVAL);
	assert_int_equal(parse(&c, "listen_tcp = 127.0.0.1:\n", err), -EINVAL);
	assert_int_equal(parse(&c, "serial = dev/tty\n", err), -EINVAL);
	assert_int_equal(parse(&c, "serial = /dev/tty@1234\n", err), -EINVAL);
	assert_int_equal(parse(&c, "db = \"/x\n", err), -EINVAL);
	assert_int_equal(parse(&c, "db = \"/x\" y\n", err), -EINVAL);
	assert_int_equal(parse(&c, "db =\n", err), -EINVAL);
	assert_int_equal(parse(&c, "log_level = loud\n", err), -EINVAL);
	assert_int_equal(parse(&c, "Name = x\n", err), -EINVAL);
	assert_int_equal(parse(&c, " = x\n", err), -EINVAL);
	/* a NUL inside the text */
	gw_config_default(&c);
	assert_int_equal(gw_config_parse(&c, "name = a\0b\n", 11, err), -EINVAL);
	/* the values of a refused line are not applied */
	assert_int_equal(parse(&c, "heartbeat_s = 7\nheartbeat_s = 0\n", err), -EINVAL);
	assert_int_equal(c.heartbeat_s, 7);
}

static void test_limits(void **state)
{
	(void)state;
	struct gw_config c;
	char err[GW_CONFIG_ERR_MAX];
	size_t big = GW_CONFIG_FILE_MAX + 1;
	char *text = malloc(big);
	memset(text, '\n', big);
	gw_config_default(&c);
	assert_int_equal(gw_config_parse(&c, text, big, err), -E2BIG);
	memset(text, '#', GW_CONFIG_LINE_MAX + 10);
	assert_int_equal(gw_config_parse(&c, text, GW_CONFIG_LINE_MAX + 10, err), -E2BIG);
	free(text);
	char list[4096] = "";
	for (int i = 0; i <= GW_CONFIG_LIST_MAX; i++)
		strcat(list, "serial = /dev/ttyS0\n");
	assert_int_equal(parse(&c, list, err), -ENOSPC);
	char longname[300] = "name = ";
	memset(longname + 7, 'a', 200);
	longname[207] = 0;
	assert_int_equal(parse(&c, longname, err), -EINVAL);
}

static void test_precedence(void **state)
{
	(void)state;
	char path[] = "/tmp/test_gw_config_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "heartbeat_s = 10\nname = file\nserial = /dev/a\nserial = /dev/b\n"
			   "flush_ms = 500\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char a0[] = "gw", a1[] = "--config", a3[] = "--heartbeat-s=3", a4[] = "--serial", a5[] = "/dev/c";
	char *argv[] = {a0, a1, path, a3, a4, a5, NULL};
	char env1[] = "FLOTILLA_GW_HEARTBEAT_S=20";
	char env2[] = "FLOTILLA_GW_NAME=env";
	char env3[] = "FLOTILLA_GW_PTY=/tmp/p1,/tmp/p2";
	char *envp[] = {env1, env2, env3, NULL};
	struct gw_config c;
	char err[GW_CONFIG_ERR_MAX];
	int help;
	assert_int_equal(gw_config_load(&c, 6, argv, envp, &help, err), 0);
	assert_int_equal(help, 0);
	assert_int_equal(c.heartbeat_s, 3);       /* flag over env over file */
	assert_string_equal(c.name, "env");       /* env over file */
	assert_int_equal(c.flush_ms, 500);        /* file over default */
	assert_int_equal(c.n_serial, 1);          /* the flag's list replaces the file's */
	assert_string_equal(c.serial[0].path, "/dev/c");
	assert_int_equal(c.n_pty, 2);
	assert_string_equal(c.config_path, path);

	char e_nope[] = "FLOTILLA_GW_NOPE=1";
	char *bad_env[] = {e_nope, NULL};
	assert_int_equal(gw_config_load(&c, 1, argv, bad_env, &help, err), -ENOENT);
	char f1[] = "--heartbeat-s";
	char *bad_flag[] = {a0, f1, NULL};
	assert_int_equal(gw_config_load(&c, 2, bad_flag, envp, &help, err), -EINVAL);
	char f2[] = "--bogus=1";
	char *bad_flag2[] = {a0, f2, NULL};
	assert_int_equal(gw_config_load(&c, 2, bad_flag2, envp, &help, err), -ENOENT);
	char f3[] = "--config=/nonexistent/x.conf";
	char *missing[] = {a0, f3, NULL};
	assert_int_equal(gw_config_load(&c, 2, missing, envp, &help, err), -ENOENT);
	char f4[] = "--help";
	char *helpv[] = {a0, f4, NULL};
	assert_int_equal(gw_config_load(&c, 2, helpv, envp, &help, err), 0);
	assert_int_equal(help, 1);
	unlink(path);
}

static void test_help_lists_every_key(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	gw_config_print_help("gw", f);
	fclose(f);
	const char *want[] = {"--listen-tcp", "FLOTILLA_GW_HTTP_LISTEN", "--db", "--serial",
			      "--pty", "--heartbeat-s", "--log-level", "--config", "SIGHUP"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(buf, want[i]));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_help_lists_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
