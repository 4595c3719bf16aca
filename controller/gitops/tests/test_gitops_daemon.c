/*
 * The daemon with GitOps on: flotilla-controller started as a process on a
 * repository made from deploy/examples/gitops; POST /sync applies it, the
 * objects are served, /metrics names the commit, and the interval sync
 * picks up a later commit on its own.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"

static char dir[64] = "/tmp/ctl-gitops-d-XXXXXX";
static char base[64];
static pid_t pid;

__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static size_t on_body(char *ptr, size_t sz, size_t n, void *ud)
{
	return fwrite(ptr, sz, n, ud);
}

static char *http(const char *method, const char *path, long *code)
{
	CURL *c = curl_easy_init();
	char u[256];
	snprintf(u, sizeof(u), "%s%s", base, path);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	curl_easy_setopt(c, CURLOPT_URL, u);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	CURLcode r = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_easy_cleanup(c);
	fclose(f);
	if (r != CURLE_OK)
		*code = 0;
	return buf;
}

static void test_daemon_syncs_example(void **st)
{
	(void)st;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(run("cp -r %s %s/repo && cd %s/repo && git init -q -b main && git add -A && "
			     "git -c user.name=t -c user.email=t@example.invalid commit -qm first",
			     EXAMPLE_DIR, dir, dir),
			 0);
	char help[256];
	snprintf(help, sizeof(help), "%s --help | grep -q -- --gitops-repo", CONTROLLER_BIN);
	assert_int_equal(system(help), 0);

	int port = ctl_test_free_port();
	char listen[64], store[128], data[128], repo[128], log[128];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(base, sizeof(base), "http://%s", listen);
	snprintf(store, sizeof(store), "sqlite:%s/c.db", dir);
	snprintf(data, sizeof(data), "%s", dir);
	snprintf(repo, sizeof(repo), "file://%s/repo", dir);
	snprintf(log, sizeof(log), "%s/controller.log", dir);
	const char *argv[] = {CONTROLLER_BIN, "--no-auth", "--listen", listen, "--store", store,
			      "--data-dir", data, "--gitops-repo", repo, "--gitops-path", "fleet",
			      "--gitops-interval", "1", NULL};
	pid = ctl_test_spawn(argv, log);
	assert_true(pid > 0);
	char hz[128];
	snprintf(hz, sizeof(hz), "%s/healthz", base);
	assert_true(ctl_test_wait_http(hz, 10000));

	long code;
	char *b = http("POST", "/sync", &code);
	assert_int_equal(code, 200);
	json_t *res = json_loads(b, 0, NULL);
	free(b);
	assert_string_equal(json_string_value(json_object_get(res, "result")), "ok");
	assert_int_equal(json_integer_value(json_object_get(res, "objects")), 4);
	char sha[64];
	snprintf(sha, sizeof(sha), "%s", json_string_value(json_object_get(res, "commit")));
	json_decref(res);
	b = http("GET", "/apis/flotilla.io/v1/rollouts/sensor-fleet", &code);
	assert_int_equal(code, 200);
	assert_non_null(strstr(b, "\"flotilla.io/managed-by\":\"gitops\""));
	free(b);
	b = http("GET", "/metrics", &code);
	char want[160];
	snprintf(want, sizeof(want), "flotilla_gitops_commit_info{commit=\"%s\",branch=\"main\"} 1",
		 sha);
	assert_non_null(strstr(b, want));
	free(b);

	/* a later commit arrives through the 1 s interval, no webhook */
	assert_int_equal(run("cd %s/repo && git rm -q fleet/analysis/sensor-health.yaml && "
			     "git -c user.name=t -c user.email=t@example.invalid commit -qm second",
			     dir),
			 0);
	code = 0;
	for (int i = 0; i < 100; i++) {
		free(http("GET", "/apis/flotilla.io/v1/analysistemplates/sensor-health", &code));
		if (code == 404)
			break;
		usleep(100000);
	}
	assert_int_equal(code, 404);
	ctl_test_stop(pid, SIGTERM, 5000);
	pid = 0;
	run("rm -rf %s", dir);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_daemon_syncs_example)};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	if (pid > 0)
		ctl_test_stop(pid, SIGKILL, 0);
	curl_global_cleanup();
	return r;
}
