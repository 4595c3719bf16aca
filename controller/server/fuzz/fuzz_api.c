/*
 * libFuzzer: the API's JSON input as the server receives it. One server
 * (no auth, SQLite in a temporary directory) runs for the whole session;
 * each input is sent as the body of a create, an update, a status write or
 * a status batch (chosen by its first byte), over one kept-alive connection.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_store *store;
static struct ctl_server *srv;
static CURL *h;
static char base[64];

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static char dir[] = "/tmp/ctl-fuzz-api-XXXXXX";

static void cleanup(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void start(void)
{
	char url[128];
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(url, sizeof(url), "sqlite:%s/f.db", dir);
	struct ctl_server_config cfg = {.listen = "127.0.0.1:0", .no_auth = true, .version = "fuzz"};
	if (ctl_store_open(url, &store) || ctl_server_start(&cfg, store, &srv))
		abort();
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", ctl_server_port(srv));
	h = curl_easy_init();
	/* something to update */
	const char *seed = "{\"apiVersion\":\"flotilla.io/v1\",\"kind\":\"Device\",\"metadata\":"
			   "{\"name\":\"d\"},\"spec\":{}}";
	snprintf(url, sizeof(url), "%s/apis/flotilla.io/v1/devices", base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, seed);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_perform(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		start();
	if (size < 1)
		return 0;
	static const char *const targets[][2] = {
		{"POST", "/apis/flotilla.io/v1/devices"},
		{"POST", "/apis/flotilla.io/v1/rollouts"},
		{"POST", "/apis/flotilla.io/v1/releases"},
		{"POST", "/apis/flotilla.io/v1/analysistemplates"},
		{"PUT", "/apis/flotilla.io/v1/devices/d"},
		{"PUT", "/apis/flotilla.io/v1/devices/d/status"},
		{"POST", "/apis/flotilla.io/v1/batch/status"},
		{"GET", "/apis/flotilla.io/v1/devices?limit=3&labelSelector="},
	};
	const char *const *t = targets[data[0] % (sizeof(targets) / sizeof(targets[0]))];
	char url[512];
	if (strcmp(t[0], "GET") == 0) {
		/* a length of 0 would make curl take strlen() */
		char *esc = size > 1 ? curl_easy_escape(h, (const char *)data + 1,
							(int)(size - 1 < 256 ? size - 1 : 256))
				     : NULL;
		snprintf(url, sizeof(url), "%s%s%s", base, t[1], esc ? esc : "");
		curl_free(esc);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		snprintf(url, sizeof(url), "%s%s", base, t[1]);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)data + 1);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(size - 1));
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t[0]);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 500)
		abort(); /* bad input must be a 4xx, never a server error */
	return 0;
}
