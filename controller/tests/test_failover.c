/*
 * Failover: a 3-member etcd cluster (Debian's etcd on loopback ports) and
 * two flotilla-controller processes on it.
 *  - exactly one controller leads;
 *  - SIGKILL the leader: the other leads within the lease TTL (plus one
 *    election poll);
 *  - SIGKILL an etcd member: writes through the surviving controller go on;
 *  - every write a controller acknowledged is there at the end.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/client.h"
#include "testlib.h"

#define TTL 2
#define TOKEN "failover-admin-token-0123"

static struct ctl_test_etcd etcd;
static pid_t ctl[2];
static int port[2];
static char dir[64] = "/tmp/ctl-failover-XXXXXX";
static char acked[4096][24];
static int nacked;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t grab(char *p, size_t s, size_t n, void *u)
{
	char *b = u;
	size_t l = strlen(b), k = s * n;
	if (l + k < 16384) {
		memcpy(b + l, p, k);
		b[l + k] = 0;
	}
	return k;
}

/* 1 leader, 0 not, -1 down */
static int is_leader(int i)
{
	static char buf[16384];
	buf[0] = 0;
	char url[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port[i]);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, buf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK)
		return -1;
	return strstr(buf, "\nflotilla_controller_is_leader 1\n") ? 1 : 0;
}

static pid_t start_controller(int i)
{
	char listen[32], store[600], log[128], id[16];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port[i]);
	/* each controller prefers a different member first */
	if (i == 0)
		snprintf(store, sizeof(store), "etcd:%s", etcd.endpoints);
	else
		snprintf(store, sizeof(store), "etcd:http://127.0.0.1:%d,http://127.0.0.1:%d,http://127.0.0.1:%d",
			 etcd.client_port[2], etcd.client_port[1], etcd.client_port[0]);
	snprintf(log, sizeof(log), "%s/ctl%d.log", dir, i);
	snprintf(id, sizeof(id), "ctl-%d", i);
	char tokens[128];
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	const char *argv[] = {CONTROLLER_BIN, "--listen", listen, "--store", store, "--tokens", tokens,
			      "--id", id, "--lease-ttl", "2", NULL};
	return ctl_test_spawn(argv, log);
}

static struct ctl_client *client(int i)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port[i]);
	struct ctl_client_config cfg = {.server = url, .token = TOKEN, .timeout_ms = 8000};
	struct ctl_client *c;
	assert_int_equal(ctl_client_new(&cfg, &c), 0);
	return c;
}

/* Create n devices through controller i; remember those acknowledged. */
static int write_some(int i, int n, const char *tag)
{
	struct ctl_client *c = client(i);
	int ok = 0;
	for (int k = 0; k < n; k++) {
		char name[24];
		snprintf(name, sizeof(name), "%s-%d", tag, k);
		json_t *d = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "flotilla.io/v1", "kind",
				      "Device", "metadata", "name", name);
		int r = -1;
		for (int attempt = 0; attempt < 10 && r; attempt++) {
			r = ctl_client_create(c, "devices", d, NULL);
			if (r == -EEXIST) /* an earlier attempt landed */
				r = 0;
			if (r)
				usleep(200000);
		}
		json_decref(d);
		if (r == 0 && nacked < 4096) {
			snprintf(acked[nacked++], 24, "%s", name);
			ok++;
		}
	}
	ctl_client_free(c);
	return ok;
}

static void test_failover(void **st)
{
	(void)st;
	/* one leader */
	int leader = -1;
	for (int waited = 0; waited < 10000 && leader < 0; waited += 100) {
		int a = is_leader(0), b = is_leader(1);
		if (a == 1 && b == 0)
			leader = 0;
		else if (a == 0 && b == 1)
			leader = 1;
		else
			usleep(100000);
	}
	assert_true(leader >= 0);
	assert_int_equal(write_some(0, 20, "a"), 20);
	assert_int_equal(write_some(1, 20, "b"), 20);

	/* kill the leader: the other takes over within the TTL and one poll */
	int other = 1 - leader;
	ctl_test_stop(ctl[leader], SIGKILL, 100);
	ctl[leader] = 0;
	double t0 = now(), took = -1;
	while (now() - t0 < 3 * TTL + 2) {
		if (is_leader(other) == 1) {
			took = now() - t0;
			break;
		}
		usleep(50000);
	}
	print_message("takeover after %.2f s (lease TTL %d s)\n", took, TTL);
	assert_true(took >= 0);
	assert_true(took <= TTL + (double)TTL / 3 + 1.0);
	assert_int_equal(write_some(other, 20, "c"), 20);

	/* kill an etcd member: the first one in the survivor's list */
	int member = other == 0 ? 0 : 2;
	ctl_test_etcd_kill(&etcd, member);
	assert_int_equal(write_some(other, 30, "d"), 30);
	/* the survivor still leads (its lease lives in the remaining quorum) */
	usleep(1500000);
	assert_int_equal(is_leader(other), 1);

	/* restart the killed controller: it follows, and sees every write */
	ctl[leader] = start_controller(leader);
	char health[64];
	snprintf(health, sizeof(health), "http://127.0.0.1:%d/healthz", port[leader]);
	assert_true(ctl_test_wait_http(health, 10000));
	usleep(1000000);
	assert_int_equal(is_leader(leader), 0);
	for (int i = 0; i < 2; i++) {
		struct ctl_client *c = client(i);
		json_t *l = NULL;
		assert_int_equal(ctl_client_list(c, "devices", NULL, 0, NULL, &l), 0);
		json_t *items = json_object_get(l, "items");
		for (int k = 0; k < nacked; k++) {
			bool found = false;
			size_t j;
			json_t *x;
			json_array_foreach(items, j, x)
				if (strcmp(json_string_value(json_object_get(json_object_get(x, "metadata"), "name")), acked[k]) == 0)
					found = true;
			if (!found)
				print_error("acknowledged %s is missing on ctl-%d\n", acked[k], i);
			assert_true(found);
		}
		assert_int_equal(json_array_size(items), (size_t)nacked);
		json_decref(l);
		ctl_client_free(c);
	}
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(dir))
		return -1;
	char path[128];
	snprintf(path, sizeof(path), "%s/tokens", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, TOKEN " admin\n");
	fclose(f);
	if (ctl_test_etcd_start(&etcd, 3))
		return -1;
	for (int i = 0; i < 2; i++) {
		port[i] = ctl_test_free_port();
		ctl[i] = start_controller(i);
		char health[64];
		snprintf(health, sizeof(health), "http://127.0.0.1:%d/healthz", port[i]);
		if (ctl[i] <= 0 || !ctl_test_wait_http(health, 10000))
			return -1;
	}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	for (int i = 0; i < 2; i++)
		ctl_test_stop(ctl[i], SIGTERM, 3000);
	ctl_test_etcd_stop(&etcd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	if (!ctl_test_have_etcd()) {
		fprintf(stderr, "etcd is not installed (deploy/install-deps.sh)\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
