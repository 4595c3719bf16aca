#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *tu_metrics(const struct gw_ebpf *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (gw_ebpf_write_metrics(h, f) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

int tu_promtool_check(const char *text)
{
	char path[] = "/tmp/gw-ebpf-metrics-XXXXXX";
	char cmd[256];
	int fd, st;
	size_t n = strlen(text);

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return 77;
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	st = system(cmd);
	unlink(path);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Series key of a _bucket line: name + labels without le. */
static void series_key(const char *line, char *key, size_t size)
{
	const char *le = strstr(line, "le=\"");
	const char *brace = strchr(line, '{');
	size_t n;

	n = (size_t)(le - line);
	if (n >= size)
		n = size - 1;
	memcpy(key, line, n);
	key[n] = '\0';
	(void)brace;
}

int tu_check_histograms(const char *text)
{
	char *copy = strdup(text), *save = NULL, *line;
	char key[1024] = "", prev_key[1024] = "";
	unsigned long long prev = 0, inf = 0;
	int checked = 0;

	if (!copy)
		return -1;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *sp = strrchr(line, ' ');
		unsigned long long v;

		if (line[0] == '#' || !sp)
			continue;
		v = strtoull(sp + 1, NULL, 10);
		if (strstr(line, "_bucket{")) {
			series_key(line, key, sizeof(key));
			if (strcmp(key, prev_key) != 0) {
				prev = 0;
				snprintf(prev_key, sizeof(prev_key), "%s", key);
			}
			if (v < prev)
				goto bad;
			prev = v;
			if (strstr(line, "le=\"+Inf\""))
				inf = v;
		} else if (strstr(line, "_count")) {
			if (v != inf)
				goto bad;
			checked++;
		}
	}
	free(copy);
	return checked;
bad:
	fprintf(stderr, "histogram check failed at: %s\n", line);
	free(copy);
	return -1;
}

void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}
