/* The `flotilla` CLI's dispatch and shared helpers. */
#define _GNU_SOURCE /* asprintf, mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int quiet;

static void print_subcommands(const struct ctl_cli_cmd *sub, FILE *f)
{
	size_t w = 0;
	for (const struct ctl_cli_cmd *c = sub; c->name; c++)
		if (strlen(c->name) > w)
			w = strlen(c->name);
	fprintf(f, "\nCommands:\n");
	for (const struct ctl_cli_cmd *c = sub; c->name; c++)
		fprintf(f, "  %-*s  %s\n", (int)w, c->name, c->summary);
}

void ctl_cli_help(const struct ctl_cli_call *call, FILE *f)
{
	const struct ctl_cli_cmd *cmd = call->cmd;
	fprintf(f, "usage: %s%s\n", call->path, cmd->usage ? cmd->usage : "");
	if (cmd->sub) {
		print_subcommands(cmd->sub, f);
		fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", call->path);
	}
}

int ctl_cli_usage_error(const struct ctl_cli_call *call, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", call->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", call->path);
	return CTL_EXIT_USAGE;
}

int ctl_cli_fail(const struct ctl_cli_call *call, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", call->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int ctl_cli_dispatch(const struct ctl_cli_cmd *table, const char *prefix, int argc, char **argv)
{
	if (argc < 1)
		return CTL_EXIT_USAGE;
	const char *word = argv[0];
	for (const struct ctl_cli_cmd *c = table; c->name; c++) {
		if (strcmp(c->name, word) != 0)
			continue;
		struct ctl_cli_call call = {.cmd = c};
		if ((size_t)snprintf(call.path, sizeof(call.path), "%s %s", prefix, c->name) >=
		    sizeof(call.path))
			return CTL_EXIT_USAGE;
		if (c->run)
			return c->run(&call, argc, argv);
		/* A group: its subcommand, or its help. */
		if (argc < 2) {
			ctl_cli_help(&call, stderr);
			return CTL_EXIT_USAGE;
		}
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "help") == 0) {
			ctl_cli_help(&call, stdout);
			return CTL_EXIT_OK;
		}
		return ctl_cli_dispatch(c->sub, call.path, argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", prefix, word, prefix);
	return CTL_EXIT_USAGE;
}

int ctl_cli_read_file(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	/* Room for one byte more than expected, to see a file that grew. */
	size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	if (cap > max + 1)
		cap = max + 1;
	uint8_t *buf = malloc(cap);
	size_t len = 0;
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		if (len == cap) {
			/* A pipe, or a file that grew: grow, but never past max + 1. */
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if (ncap <= cap) {
				rc = -EFBIG;
				break;
			}
			uint8_t *n = realloc(buf, ncap);
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			buf = n;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			break;
		else
			len += (size_t)n;
		if (len > max)
			rc = -EFBIG;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int ctl_cli_write_file(const char *path, const void *data, size_t len, unsigned mode, int replace)
{
	if (!replace && access(path, F_OK) == 0)
		return -EEXIST;
	_cleanup_free_ char *dircopy = strdup(path);
	if (!dircopy)
		return -ENOMEM;
	const char *dir = dirname(dircopy);
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s/.flotilla-tmp-XXXXXX", dir) < 0)
		return -ENOMEM;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (fchmod(fd, (mode_t)mode) < 0)
		rc = -errno;
	const uint8_t *p = data;
	size_t left = len;
	while (rc == 0 && left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else {
			p += n;
			left -= (size_t)n;
		}
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && !replace && access(path, F_OK) == 0)
		rc = -EEXIST;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int ctl_cli_parse_u32(const char *s, uint32_t *ret)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > 0xffffffffULL)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

void ctl_cli_hex(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

double ctl_cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ctl_cli_progress_enabled(void)
{
	return !quiet && isatty(STDERR_FILENO);
}

void ctl_cli_set_quiet(int q)
{
	quiet = q;
}
