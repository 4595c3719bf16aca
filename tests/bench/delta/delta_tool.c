/*
 * Bench helper: make or apply a delta patch between files, and time it.
 *   delta_tool gen OLD NEW PATCH [thumb2: -1|0|1]
 *   delta_tool apply OLD PATCH OUT
 * Prints "seconds N" on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/delta.h"
#include "agent/delta_gen.h"

static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	size_t cap = 1 << 20, len = 0;
	uint8_t *p = malloc(cap);
	size_t n;
	while (p && (n = fread(p + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			p = realloc(p, cap *= 2);
	}
	fclose(f);
	if (!p)
		exit(1);
	*ret_len = len;
	return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "gen") == 0) {
		size_t on, nn, pn;
		uint8_t *o = slurp(argv[2], &on), *n = slurp(argv[3], &nn), *p;
		struct ag_delta_gen_opts opts = { .thumb2 = argc > 5 ? atoi(argv[5]) : -1 };
		double t0 = now();
		int rc = ag_delta_generate(o, on, n, nn, &opts, &p, &pn);
		double t1 = now();
		if (rc) {
			fprintf(stderr, "generate: %s\n", strerror(-rc));
			return 1;
		}
		spit(argv[4], p, pn);
		fprintf(stderr, "seconds %.6f\n", t1 - t0);
		free(o);
		free(n);
		free(p);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "apply") == 0) {
		size_t on, pn, outn;
		uint8_t *o = slurp(argv[2], &on), *p = slurp(argv[3], &pn);
		struct ag_delta_header h;
		int rc = ag_delta_read_header(p, pn, &h);
		if (rc) {
			fprintf(stderr, "header: %s\n", ag_strerror(rc));
			return 1;
		}
		uint8_t *out = malloc(h.new_size + 1);
		double t0 = now();
		rc = ag_delta_apply_mem(o, on, p, pn, out, h.new_size, &outn);
		double t1 = now();
		if (rc) {
			fprintf(stderr, "apply: %s\n", ag_strerror(rc));
			return 1;
		}
		spit(argv[4], out, outn);
		fprintf(stderr, "seconds %.6f\n", t1 - t0);
		free(o);
		free(p);
		free(out);
		return 0;
	}
	fprintf(stderr, "usage: delta_tool gen OLD NEW PATCH [thumb2] | apply OLD PATCH OUT\n");
	return 2;
}
