/* Metrics registry and the text exposition format. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/metrics.h"

struct gw_mbuf {
	char *p;
	size_t len, cap;
	int err;
};

struct collector {
	const char *name;
	gw_collect_fn fn;
	void *ctx;
};

struct gw_metrics {
	struct collector c[GW_METRICS_COLLECTORS_MAX];
	unsigned n;
	uint64_t scrapes;
	double last_total_s;
};

int gw_metrics_new(struct gw_metrics **ret_m)
{
	struct gw_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*ret_m = m;
	return 0;
}

void gw_metrics_free(struct gw_metrics *m)
{
	free(m);
}

int gw_metrics_add(struct gw_metrics *m, const char *name, gw_collect_fn fn, void *ctx)
{
	for (unsigned i = 0; i < m->n; i++)
		if (strcmp(m->c[i].name, name) == 0)
			return -EEXIST;
	if (m->n >= GW_METRICS_COLLECTORS_MAX)
		return -ENOSPC;
	m->c[m->n++] = (struct collector){name, fn, ctx};
	return 0;
}

static int reserve(struct gw_mbuf *b, size_t more)
{
	if (b->err)
		return b->err;
	if (b->len + more + 1 <= b->cap)
		return 0;
	if (b->len + more + 1 > GW_METRICS_MAX_BYTES)
		return b->err = -E2BIG;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap > GW_METRICS_MAX_BYTES)
		cap = GW_METRICS_MAX_BYTES;
	char *p = realloc(b->p, cap);
	if (!p)
		return b->err = -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void put(struct gw_mbuf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct gw_mbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

void gw_mbuf_printf(struct gw_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void gw_mbuf_family(struct gw_mbuf *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	put(b, " ", 1);
	/* HELP escapes \ and newline */
	for (const char *h = help; *h; h++) {
		if (*h == '\\')
			puts_(b, "\\\\");
		else if (*h == '\n')
			puts_(b, "\\n");
		else
			put(b, h, 1);
	}
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, type);
	put(b, "\n", 1);
}

void gw_mbuf_sample(struct gw_mbuf *b, const char *name, const char *const *labels, double v)
{
	puts_(b, name);
	if (labels && labels[0]) {
		put(b, "{", 1);
		for (const char *const *l = labels; l[0] && l[1]; l += 2) {
			if (l != labels)
				put(b, ",", 1);
			puts_(b, l[0]);
			puts_(b, "=\"");
			for (const char *s = l[1]; *s; s++) {
				if (*s == '\\')
					puts_(b, "\\\\");
				else if (*s == '"')
					puts_(b, "\\\"");
				else if (*s == '\n')
					puts_(b, "\\n");
				else
					put(b, s, 1);
			}
			put(b, "\"", 1);
		}
		put(b, "}", 1);
	}
	char num[48];
	if (isnan(v))
		snprintf(num, sizeof(num), " NaN\n");
	else if (isinf(v))
		snprintf(num, sizeof(num), v > 0 ? " +Inf\n" : " -Inf\n");
	else if (v == (double)(long long)v && fabs(v) < 1e15)
		snprintf(num, sizeof(num), " %lld\n", (long long)v);
	else
		snprintf(num, sizeof(num), " %.9g\n", v);
	puts_(b, num);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int gw_metrics_render(struct gw_metrics *m, char **ret_text, size_t *ret_len)
{
	struct gw_mbuf b = {0};
	double dur[GW_METRICS_COLLECTORS_MAX];
	double t0 = mono_s();
	for (unsigned i = 0; i < m->n; i++) {
		double s = mono_s();
		m->c[i].fn(m->c[i].ctx, &b);
		dur[i] = mono_s() - s;
	}
	m->scrapes++;
	gw_mbuf_family(&b, "flotilla_gateway_scrape_collector_duration_seconds", "gauge",
		       "Time each collector took in this scrape.");
	for (unsigned i = 0; i < m->n; i++) {
		const char *l[] = {"collector", m->c[i].name, NULL};
		gw_mbuf_sample(&b, "flotilla_gateway_scrape_collector_duration_seconds", l, dur[i]);
	}
	gw_mbuf_family(&b, "flotilla_gateway_scrape_duration_seconds", "gauge",
		       "Time the previous scrape took to render, all collectors.");
	gw_mbuf_sample(&b, "flotilla_gateway_scrape_duration_seconds", NULL, m->last_total_s);
	gw_mbuf_family(&b, "flotilla_gateway_scrapes_total", "counter",
		       "Scrapes of /metrics served.");
	gw_mbuf_sample(&b, "flotilla_gateway_scrapes_total", NULL, (double)m->scrapes);
	m->last_total_s = mono_s() - t0;
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*ret_text = b.p ? b.p : strdup("");
	*ret_len = b.len;
	return *ret_text ? 0 : -ENOMEM;
}

static double boot_time_s(void)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	char line[256];
	double bt = 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "btime ", 6) == 0)
			bt = strtod(line + 6, NULL);
	fclose(f);
	return bt;
}

void gw_metrics_collect_process(void *ctx, struct gw_mbuf *b)
{
	(void)ctx;
	static double btime;
	if (btime == 0)
		btime = boot_time_s();
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long utime = 0, stime = 0, vsize = 0;
	unsigned long long start = 0;
	long rss = 0;
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
		char *p = strrchr(buf, ')');
		/* fields after "pid (comm)": state is field 3; utime 14, stime 15,
		 * starttime 22, vsize 23, rss 24 */
		if (p)
			(void)sscanf(p + 2,
				     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d "
				     "%*d %*d %*d %llu %lu %ld",
				     &utime, &stime, &start, &vsize, &rss);
	}
	unsigned fds = 0;
	/* Since Linux 6.2 the directory's size is the number of open fds: no
	 * walk over thousands of entries (that took ~10 ms at 10,000 links). */
	struct stat st;
	DIR *d = NULL;
	if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
		fds = (unsigned)st.st_size;
	else
		d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				fds++;
		closedir(d);
		fds--; /* the directory stream itself */
	}
	struct rlimit rl = {0};
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	gw_mbuf_family(b, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
	gw_mbuf_sample(b, "process_cpu_seconds_total", NULL, (double)(utime + stime) / (double)tck);
	gw_mbuf_family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	gw_mbuf_sample(b, "process_resident_memory_bytes", NULL, (double)rss * (double)page);
	gw_mbuf_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	gw_mbuf_sample(b, "process_virtual_memory_bytes", NULL, (double)vsize);
	gw_mbuf_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	gw_mbuf_sample(b, "process_open_fds", NULL, fds);
	gw_mbuf_family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
	gw_mbuf_sample(b, "process_max_fds", NULL, (double)rl.rlim_cur);
	gw_mbuf_family(b, "process_start_time_seconds", "gauge",
		       "Start time of the process since unix epoch in seconds.");
	gw_mbuf_sample(b, "process_start_time_seconds", NULL, btime + (double)start / (double)tck);
}
