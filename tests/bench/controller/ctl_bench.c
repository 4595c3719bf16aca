/*
 * Load generator for tests/bench/controller.sh, against a running
 * flotilla-controller (no auth or a token from FLOTILLA_TOKEN).
 *
 *   ctl_bench ingest URL N BATCH CONNS   N device status updates through
 *                                        the batch endpoint; prints seconds
 *   ctl_bench list URL SELECTOR REPEAT   median ms of one list page (limit 500)
 *   ctl_bench fanout URL WATCHERS EVENTS ms until every watcher has seen
 *                                        EVENTS status changes
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *url;
static struct curl_slist *hdrs;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static CURL *handle(void)
{
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	return h;
}

/* ---- ingest ---- */

static long n_total, batch;
static atomic_long next_start, failures;
static int round_no;

static void *ingest_thread(void *arg)
{
	(void)arg;
	CURL *h = handle();
	char u[256];
	snprintf(u, sizeof(u), "%s/apis/flotilla.io/v1/batch/status", url);
	curl_easy_setopt(h, CURLOPT_URL, u);
	size_t cap = (size_t)batch * 256 + 128;
	char *body = malloc(cap);
	for (;;) {
		long start = atomic_fetch_add(&next_start, batch);
		if (start >= n_total)
			break;
		long end = start + batch < n_total ? start + batch : n_total;
		size_t o = (size_t)snprintf(body, cap, "{\"kind\":\"Device\",\"items\":[");
		for (long i = start; i < end; i++)
			o += (size_t)snprintf(body + o, cap - o,
					      "%s{\"name\":\"dev-%07ld\",\"labels\":{\"shard\":\"%ld\","
					      "\"site\":\"s%ld\"},\"status\":{\"gateway\":\"gw-%ld\","
					      "\"phase\":\"idle\",\"activeSlot\":\"a\",\"progress\":%d,"
					      "\"health\":\"ok\",\"version\":\"1.0.%d\"}}",
					      i > start ? "," : "", i, i % 1000, i % 10, i % 100,
					      round_no, round_no);
		o += (size_t)snprintf(body + o, cap - o, "]}");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)o);
		long code = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
			atomic_fetch_add(&failures, 1);
	}
	free(body);
	curl_easy_cleanup(h);
	return NULL;
}

static int ingest(long n, long b, int conns, int rnd, int print)
{
	n_total = n;
	batch = b;
	round_no = rnd;
	pthread_t t[64];
	if (conns > 64)
		conns = 64;
	double t0 = now();
	for (int i = 0; i < conns; i++)
		pthread_create(&t[i], NULL, ingest_thread, NULL);
	for (int i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	double dt = now() - t0;
	if (print)
		printf("%.2f\n", dt);
	if (failures) {
		fprintf(stderr, "ctl_bench: %ld batches failed\n", (long)failures);
		return 1;
	}
	return 0;
}

/* ---- list ---- */

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int list(const char *sel, int repeat)
{
	CURL *h = handle();
	char *esc = curl_easy_escape(h, sel, 0);
	char u[512];
	snprintf(u, sizeof(u), "%s/apis/flotilla.io/v1/devices?limit=500&labelSelector=%s", url, esc);
	curl_free(esc);
	curl_easy_setopt(h, CURLOPT_URL, u);
	double v[64];
	if (repeat > 64)
		repeat = 64;
	for (int i = 0; i < repeat; i++) {
		double t0 = now();
		long code = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
			fprintf(stderr, "ctl_bench: list failed (%ld)\n", code);
			return 1;
		}
		v[i] = (now() - t0) * 1000;
	}
	qsort(v, (size_t)repeat, sizeof(v[0]), cmpd);
	printf("%.1f\n", v[repeat / 2]);
	curl_easy_cleanup(h);
	return 0;
}

/* ---- watch fan-out ---- */

struct watcher {
	pthread_t t;
	long want, got;
	double done_at;
	char rv[24];
	atomic_int ready;
};

static size_t count_lines(char *p, size_t s, size_t n, void *u)
{
	struct watcher *w = u;
	for (size_t i = 0; i < s * n; i++)
		if (p[i] == '\n' && ++w->got == w->want)
			w->done_at = now();
	return w->got >= w->want ? 0 : s * n; /* stop once all arrived */
}

static size_t on_header(char *p, size_t s, size_t n, void *u)
{
	struct watcher *w = u;
	if (strncmp(p, "HTTP/", 5) == 0)
		w->ready = 1;
	return s * n;
}

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;
	CURL *h = handle();
	char u[256];
	snprintf(u, sizeof(u), "%s/apis/flotilla.io/v1/devices?watch=true&resourceVersion=%s&timeoutSeconds=120",
		 url, w->rv);
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count_lines);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, w);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
	return NULL;
}

static size_t grab(char *p, size_t s, size_t n, void *u)
{
	char *b = u;
	size_t l = strlen(b), k = s * n;
	if (l + k < 4096) {
		memcpy(b + l, p, k);
		b[l + k] = 0;
	}
	return k;
}

static int fanout(int nw, long events)
{
	/* the current version: from a one-item list */
	char buf[4096] = "", u[256];
	CURL *h = handle();
	snprintf(u, sizeof(u), "%s/apis/flotilla.io/v1/gateways?limit=1", url);
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)buf);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
	char *p = strstr(buf, "\"resourceVersion\":\"");
	if (!p) {
		fprintf(stderr, "ctl_bench: no resourceVersion in %s\n", buf);
		return 1;
	}
	p += strlen("\"resourceVersion\":\"");
	struct watcher *w = calloc((size_t)nw, sizeof(*w));
	for (int i = 0; i < nw; i++) {
		w[i].want = events;
		snprintf(w[i].rv, sizeof(w[i].rv), "%.*s", (int)strcspn(p, "\""), p);
		pthread_create(&w[i].t, NULL, watch_thread, &w[i]);
	}
	for (int i = 0; i < nw; i++)
		while (!w[i].ready)
			usleep(1000);
	double t0 = now();
	if (ingest(events, events < 1000 ? events : 1000, 1, 7, 0))
		return 1;
	double last = 0;
	for (int i = 0; i < nw; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].got < events) {
			fprintf(stderr, "ctl_bench: watcher %d saw %ld of %ld\n", i, w[i].got, events);
			return 1;
		}
		if (w[i].done_at > last)
			last = w[i].done_at;
	}
	printf("%.1f\n", (last - t0) * 1000);
	free(w);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ctl_bench ingest|list|fanout URL ...\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	url = argv[2];
	const char *tok = getenv("FLOTILLA_TOKEN");
	if (tok) {
		char a[512];
		snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
		hdrs = curl_slist_append(hdrs, a);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (strcmp(argv[1], "ingest") == 0 && argc == 7)
		return ingest(atol(argv[3]), atol(argv[4]), atoi(argv[5]), atoi(argv[6]), 1);
	if (strcmp(argv[1], "list") == 0 && argc == 5)
		return list(argv[3], atoi(argv[4]));
	if (strcmp(argv[1], "fanout") == 0 && argc == 5)
		return fanout(atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "ctl_bench: bad arguments\n");
	return 2;
}
