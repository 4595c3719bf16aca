/*
 * GitOps sync against a real local repository made with the git CLI
 * (file:// URL), a SQLite store, and an in-process API server for POST /sync,
 * the API writes that drift, and /metrics. The tests run in order and share
 * the repository and the store.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/gitops.h"
#include "controller/server.h"

#define T_ADMIN "admin-token-0123456789"
#define T_RO "readonly-token-0123456789"

static char dir[64] = "/tmp/ctl-gitops-XXXXXX";
static char repo[128], url[160], base[64];
static struct ctl_store *store;
static struct ctl_server *srv;
static struct ctl_gitops *gitops;

__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char full[2300];
	snprintf(full, sizeof(full), "cd %s && (%s) >/dev/null 2>&1", repo, cmd);
	assert_int_equal(system(full), 0);
}

static void write_file(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", repo, rel);
	char d[256];
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = 0;
	char mk[300];
	snprintf(mk, sizeof(mk), "mkdir -p %s", d);
	assert_int_equal(system(mk), 0);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void commit(const char *msg)
{
	sh("git add -A && git -c user.name=test -c user.email=test@example.invalid commit -q -m '%s'",
	   msg);
}

static void head(char out[41])
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "git -C %s rev-parse HEAD", repo);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 41, p));
	pclose(p);
}

static size_t on_body(char *ptr, size_t sz, size_t n, void *ud)
{
	FILE *f = ud;
	return fwrite(ptr, sz, n, f);
}

/* An HTTP request to the in-process server; returns the body (free it). */
static char *http(const char *method, const char *path, const char *token, const char *body,
		  long *code)
{
	CURL *c = curl_easy_init();
	char u[256], auth[128];
	snprintf(u, sizeof(u), "%s%s", base, path);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct curl_slist *h = NULL;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, u);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	fclose(f);
	return buf;
}

static const char *release_yaml(const char *name, const char *version)
{
	static char b[1024];
	snprintf(b, sizeof(b),
		 "apiVersion: flotilla.io/v1\n"
		 "kind: Release\n"
		 "metadata:\n"
		 "  name: %s\n"
		 "  labels: {app: sensor}\n"
		 "spec:\n"
		 "  version: \"%s\"\n"
		 "  hardwareId: board-a\n"
		 "  artifacts:\n"
		 "    app: {url: \"https://artifacts.invalid/%s.bin\", size: 1024}\n",
		 name, version, version);
	return b;
}

static json_t *get(enum ctl_kind k, const char *name)
{
	json_t *o = NULL;
	int r = ctl_store_get(store, k, name, &o);
	return r == 0 ? o : NULL;
}

static const char *annotation(const json_t *o, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(o, "metadata"), "annotations"), key));
}

static const json_t *condition(const json_t *o)
{
	const json_t *cs = json_object_get(json_object_get(o, "status"), "conditions");
	size_t i;
	json_t *x;
	json_array_foreach(cs, i, x)
	{
		if (strcmp(json_string_value(json_object_get(x, "type")), CTL_GITOPS_COND) == 0)
			return x;
	}
	return NULL;
}

static uint64_t revision(void)
{
	uint64_t rv;
	assert_int_equal(ctl_store_revision(store, &rv), 0);
	return rv;
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(dir))
		return -1;
	snprintf(repo, sizeof(repo), "%s/src", dir);
	snprintf(url, sizeof(url), "file://%s", repo);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "git init -q -b main %s", repo);
	if (system(cmd) != 0)
		return -1;
	char path[128], surl[160];
	snprintf(path, sizeof(path), "%s/tokens", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, T_ADMIN " admin\n" T_RO " read-only\n");
	fclose(f);
	snprintf(surl, sizeof(surl), "sqlite:%s/store.db", dir);
	if (ctl_store_open(surl, &store))
		return -1;
	char data[128];
	snprintf(data, sizeof(data), "%s/data", dir);
	mkdir(data, 0755);
	struct ctl_gitops_config gc = {.url = url, .branch = "main", .path = "fleet/",
				       .data_dir = data};
	if (ctl_gitops_new(&gc, store, &gitops))
		return -1;
	struct ctl_server_config cfg = {.listen = "127.0.0.1:0",
					.tokens_file = path,
					.version = "test",
					.sync_hook = ctl_gitops_sync_hook,
					.metrics_hook = ctl_gitops_metrics_hook,
					.hook_ctx = gitops};
	if (ctl_server_start(&cfg, store, &srv))
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", ctl_server_port(srv));
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	ctl_server_stop(srv);
	ctl_gitops_free(gitops);
	ctl_store_free(store);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A first commit: two releases in one multi-document YAML file, a rollout
 * in JSON; a file outside the path and a README are ignored. */
static void test_commit_creates(void **st)
{
	(void)st;
	char two[2048];
	snprintf(two, sizeof(two), "%s---\n", release_yaml("fw-1-0-0", "1.0.0"));
	strcat(two, release_yaml("fw-1-1-0", "1.1.0"));
	write_file("fleet/releases/releases.yaml", two);
	write_file("fleet/rollouts/sensor.json",
		   "{\"apiVersion\":\"flotilla.io/v1\",\"kind\":\"Rollout\",\"metadata\":"
		   "{\"name\":\"sensor\"},\"spec\":{\"release\":\"fw-1-0-0\",\"steps\":"
		   "[{\"setWeight\":10},{\"pause\":{}},{\"setWeight\":100}]}}\n");
	write_file("fleet/README.md", "not a manifest\n");
	write_file("other/ignored.yaml", release_yaml("outside", "9.9.9"));
	commit("first");
	char sha[41];
	head(sha);

	json_t *res = NULL;
	assert_int_equal(ctl_gitops_sync(gitops, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "result")), "ok");
	assert_string_equal(json_string_value(json_object_get(res, "commit")), sha);
	assert_int_equal(json_integer_value(json_object_get(res, "created")), 3);
	json_decref(res);

	json_t *r = get(CTL_KIND_RELEASE, "fw-1-1-0");
	assert_non_null(r);
	assert_string_equal(annotation(r, CTL_GITOPS_ANN_MANAGED), "gitops");
	assert_string_equal(annotation(r, CTL_GITOPS_ANN_SOURCE), "fleet/releases/releases.yaml");
	assert_string_equal(json_string_value(json_object_get(condition(r), "commit")), sha);
	assert_string_equal(json_string_value(json_object_get(condition(r), "status")), "False");
	json_decref(r);
	json_t *ro = get(CTL_KIND_ROLLOUT, "sensor");
	assert_non_null(ro);
	assert_int_equal(json_array_size(json_object_get(json_object_get(ro, "spec"), "steps")), 3);
	json_decref(ro);
	assert_null(get(CTL_KIND_RELEASE, "outside"));

	/* the same commit again changes nothing */
	uint64_t rv = revision();
	assert_int_equal(ctl_gitops_sync(gitops, &res), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "unchanged")), 3);
	json_decref(res);
	assert_int_equal(revision(), rv);
}

/* A second commit changes one release and removes the other; the removed
 * one is pruned, a release created through the API survives. */
static void test_commit_updates_and_prunes(void **st)
{
	(void)st;
	long code;
	char *b = http("POST", "/apis/flotilla.io/v1/releases", T_ADMIN,
		       "{\"apiVersion\":\"flotilla.io/v1\",\"kind\":\"Release\",\"metadata\":"
		       "{\"name\":\"manual\"},\"spec\":{\"version\":\"2.0.0\",\"hardwareId\":"
		       "\"board-a\",\"artifacts\":{\"app\":{\"url\":\"https://a.invalid/m\"}}}}",
		       &code);
	free(b);
	assert_int_equal(code, 201);

	write_file("fleet/releases/releases.yaml", release_yaml("fw-1-0-0", "1.0.1"));
	commit("second");
	json_t *res = NULL;
	assert_int_equal(ctl_gitops_sync(gitops, &res), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "updated")), 1);
	assert_int_equal(json_integer_value(json_object_get(res, "pruned")), 1);
	json_decref(res);

	assert_null(get(CTL_KIND_RELEASE, "fw-1-1-0"));
	json_t *m = get(CTL_KIND_RELEASE, "manual");
	assert_non_null(m);
	assert_null(annotation(m, CTL_GITOPS_ANN_MANAGED));
	json_decref(m);
	json_t *r = get(CTL_KIND_RELEASE, "fw-1-0-0");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r, "spec"), "version")), "1.0.1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "metadata"),
							    "generation")),
			 2);
	json_decref(r);
}

/* A bad manifest fails the sync with file and line, and nothing of the
 * commit is applied, not even its good changes. */
static void test_bad_manifest_changes_nothing(void **st)
{
	(void)st;
	uint64_t rv = revision();
	/* good change in one file ... */
	write_file("fleet/releases/releases.yaml", release_yaml("fw-1-0-0", "1.0.2"));
	write_file("fleet/new.yaml", release_yaml("fw-new", "3.0.0"));
	/* ... and a schema error in the second document of another, at line 4 */
	write_file("fleet/rollouts/more.yaml",
		   "---\n"
		   "kind: Rollout\napiVersion: flotilla.io/v1\nmetadata: {name: ok-one}\n"
		   "spec: {release: fw-1-0-0}\n"
		   "---\n"
		   "kind: Rollout\n"
		   "apiVersion: flotilla.io/v1\n"
		   "metadata: {name: bad-one}\n"
		   "spec:\n"
		   "  release: fw-1-0-0\n"
		   "  steps: [{setWeight: 250}]\n");
	commit("bad schema");
	json_t *res = NULL;
	assert_int_equal(ctl_gitops_sync(gitops, &res), -EINVAL);
	const json_t *e = json_object_get(res, "error");
	assert_string_equal(json_string_value(json_object_get(e, "file")),
			    "fleet/rollouts/more.yaml");
	assert_int_equal(json_integer_value(json_object_get(e, "line")), 7);
	assert_non_null(strstr(json_string_value(json_object_get(e, "reason")), "setWeight"));
	json_decref(res);
	assert_int_equal(revision(), rv);
	assert_null(get(CTL_KIND_RELEASE, "fw-new"));
	assert_null(get(CTL_KIND_ROLLOUT, "ok-one"));

	/* a YAML syntax error at line 3 */
	write_file("fleet/rollouts/more.yaml", "kind: Rollout\nmetadata:\n  name: [x\n  y: }\n");
	commit("bad yaml");
	assert_int_equal(ctl_gitops_sync(gitops, &res), -EINVAL);
	e = json_object_get(res, "error");
	assert_string_equal(json_string_value(json_object_get(e, "file")),
			    "fleet/rollouts/more.yaml");
	assert_true(json_integer_value(json_object_get(e, "line")) >= 3);
	json_decref(res);
	assert_int_equal(revision(), rv);

	/* a duplicate object across files */
	write_file("fleet/rollouts/more.yaml", release_yaml("fw-new", "3.0.1"));
	commit("duplicate");
	assert_int_equal(ctl_gitops_sync(gitops, &res), -EINVAL);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(res, "error"),
								 "reason")),
			       "also defined"));
	json_decref(res);
	assert_int_equal(revision(), rv);

	/* the commit info still names the last good commit */
	sh("git rm -q fleet/rollouts/more.yaml fleet/new.yaml");
	write_file("fleet/releases/releases.yaml", release_yaml("fw-1-0-0", "1.0.1"));
	commit("fixed");
	assert_int_equal(ctl_gitops_sync(gitops, NULL), 0);
	assert_int_equal(revision(), rv); /* same content as before: nothing written */
}

/* Size limits: a file beyond file_max fails the sync by name. */
static void test_size_limits(void **st)
{
	(void)st;
	char data[128];
	snprintf(data, sizeof(data), "%s/data2", dir);
	struct ctl_gitops_config gc = {.url = repo, /* a bare local path works too */
				       .branch = "main",
				       .path = "fleet",
				       .data_dir = data,
				       .file_max = 200};
	struct ctl_gitops *g;
	assert_int_equal(ctl_gitops_new(&gc, store, &g), 0);
	json_t *res = NULL;
	uint64_t rv = revision();
	assert_int_equal(ctl_gitops_sync(g, &res), -E2BIG);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(res, "error"),
								 "reason")),
			       "larger than 200"));
	json_decref(res);
	ctl_gitops_free(g);
	gc.file_max = 0;
	gc.commit_max = 300;
	assert_int_equal(ctl_gitops_new(&gc, store, &g), 0);
	assert_int_equal(ctl_gitops_sync(g, NULL), -E2BIG);
	ctl_gitops_free(g);
	/* a missing branch is a fetch error */
	gc.commit_max = 0;
	gc.branch = "no-such-branch";
	assert_int_equal(ctl_gitops_new(&gc, store, &g), 0);
	assert_int_equal(ctl_gitops_sync(g, NULL), -EIO);
	ctl_gitops_free(g);
	assert_int_equal(revision(), rv);
}

/* A change through the API to a Git-managed spec is flagged OutOfSync and
 * put back by the next sync. */
static void test_drift_flagged_and_healed(void **st)
{
	(void)st;
	long code;
	char *b = http("GET", "/apis/flotilla.io/v1/rollouts/sensor", T_ADMIN, NULL, &code);
	assert_int_equal(code, 200);
	json_t *o = json_loads(b, 0, NULL);
	free(b);
	json_object_set_new(json_object_get(o, "spec"), "release", json_string("manual"));
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	b = http("PUT", "/apis/flotilla.io/v1/rollouts/sensor", T_ADMIN, body, &code);
	free(body);
	free(b);
	assert_int_equal(code, 200);

	size_t n = 0;
	assert_int_equal(ctl_gitops_check_drift(gitops, &n), 0);
	assert_int_equal(n, 1);
	json_t *ro = get(CTL_KIND_ROLLOUT, "sensor");
	const json_t *c = condition(ro);
	assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "SpecDiffers");
	json_decref(ro);
	b = http("GET", "/metrics", T_RO, NULL, &code);
	assert_non_null(strstr(b, "flotilla_gitops_out_of_sync_objects 1\n"));
	free(b);

	json_t *res = NULL;
	assert_int_equal(ctl_gitops_sync(gitops, &res), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "healed")), 1);
	json_decref(res);
	ro = get(CTL_KIND_ROLLOUT, "sensor");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(ro, "spec"), "release")),
		"fw-1-0-0");
	c = condition(ro);
	assert_string_equal(json_string_value(json_object_get(c, "status")), "False");
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "Synced");
	json_decref(ro);
	assert_int_equal(ctl_gitops_check_drift(gitops, &n), 0);
	assert_int_equal(n, 0);
}

/* POST /sync runs a sync at once; only an admin may. */
static void test_post_sync(void **st)
{
	(void)st;
	write_file("fleet/releases/extra.yml", release_yaml("fw-extra", "1.2.0"));
	commit("extra");
	long code;
	char *b = http("POST", "/sync", T_RO, NULL, &code);
	free(b);
	assert_int_equal(code, 403);
	assert_null(get(CTL_KIND_RELEASE, "fw-extra"));
	b = http("POST", "/sync", "wrong-token", NULL, &code);
	free(b);
	assert_int_equal(code, 401);
	b = http("POST", "/sync", T_ADMIN, NULL, &code);
	assert_int_equal(code, 200);
	json_t *res = json_loads(b, 0, NULL);
	free(b);
	assert_int_equal(json_integer_value(json_object_get(res, "created")), 1);
	json_decref(res);
	json_t *r = get(CTL_KIND_RELEASE, "fw-extra");
	assert_non_null(r);
	json_decref(r);
	b = http("GET", "/sync", T_RO, NULL, &code);
	assert_int_equal(code, 200);
	assert_non_null(strstr(b, "\"result\":\"ok\""));
	free(b);

	/* a bad commit through the webhook: 422 with file and line */
	write_file("fleet/bad.yaml", "apiVersion: flotilla.io/v1\nkind: Nonsense\nmetadata: {name: x}\n");
	commit("bad kind");
	b = http("POST", "/sync", T_ADMIN, NULL, &code);
	assert_int_equal(code, 422);
	assert_non_null(strstr(b, "\"file\":\"fleet/bad.yaml\""));
	assert_non_null(strstr(b, "\"line\":1"));
	free(b);
	sh("git rm -q fleet/bad.yaml");
	commit("remove bad");

	/* the thread: a trigger syncs without waiting for the interval */
	write_file("fleet/releases/thread.yaml", release_yaml("fw-thread", "1.3.0"));
	commit("thread");
	assert_int_equal(ctl_gitops_start(gitops, 3600, 3600), 0);
	ctl_gitops_trigger(gitops);
	json_t *t = NULL;
	for (int i = 0; i < 100 && !(t = get(CTL_KIND_RELEASE, "fw-thread")); i++)
		usleep(50000);
	assert_non_null(t);
	json_decref(t);
}

/* /metrics: every family with HELP and TYPE, results counted, commit shown. */
static void test_metrics(void **st)
{
	(void)st;
	char sha[41];
	head(sha);
	json_t *res = NULL;
	for (int i = 0; i < 100; i++) { /* the thread's sync may still be finishing */
		res = ctl_gitops_last(gitops);
		bool done = strcmp(json_string_value(json_object_get(res, "commit")), sha) == 0;
		json_decref(res);
		if (done)
			break;
		usleep(50000);
	}
	long code;
	char *b = http("GET", "/metrics", T_RO, NULL, &code);
	assert_int_equal(code, 200);
	static const char *fams[] = {"flotilla_gitops_sync_total",
				     "flotilla_gitops_last_sync_timestamp_seconds",
				     "flotilla_gitops_commit_info", "flotilla_gitops_objects"};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		char h[128];
		snprintf(h, sizeof(h), "# HELP %s ", fams[i]);
		assert_non_null(strstr(b, h));
		snprintf(h, sizeof(h), "# TYPE %s ", fams[i]);
		assert_non_null(strstr(b, h));
	}
	char want[160];
	snprintf(want, sizeof(want), "flotilla_gitops_commit_info{commit=\"%s\",branch=\"main\"} 1\n",
		 sha);
	assert_non_null(strstr(b, want));
	const char *ok = strstr(b, "flotilla_gitops_sync_total{result=\"success\"} ");
	const char *err = strstr(b, "flotilla_gitops_sync_total{result=\"error\"} ");
	assert_non_null(ok);
	assert_non_null(err);
	assert_true(atoi(ok + strlen("flotilla_gitops_sync_total{result=\"success\"} ")) >= 7);
	assert_int_equal(atoi(err + strlen("flotilla_gitops_sync_total{result=\"error\"} ")), 4);
	assert_null(strstr(b, "flotilla_gitops_last_sync_timestamp_seconds 0.000"));
	free(b);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_creates),
		cmocka_unit_test(test_commit_updates_and_prunes),
		cmocka_unit_test(test_bad_manifest_changes_nothing),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_drift_flagged_and_healed),
		cmocka_unit_test(test_post_sync),
		cmocka_unit_test(test_metrics),
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return r;
}
