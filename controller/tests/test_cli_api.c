/*
 * The `flotilla` CLI against a running flotilla-controller (a real process
 * on a loopback port over SQLite): apply, get, describe, delete, rollout,
 * release create, exit codes; two gateways reporting devices through the
 * client library show up in `flotilla get devices`; SIGHUP reloads tokens;
 * SIGTERM stops cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "controller/client.h"
#include "testlib.h"

#define T_ADMIN "cli-admin-token-0123456789"
#define T_GW1 "cli-gw1-token-0123456789"
#define T_GW2 "cli-gw2-token-0123456789"

static char dir[64] = "/tmp/ctl-cli-XXXXXX";
static char server[64];
static pid_t ctl;

static void spit(const char *name, const char *text)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *name)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return strdup("");
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* flotilla ARGS with the test's config file; stdout in out.txt, stderr in err.txt */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[1024], cmd[1600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && env -u FLOTILLA_SERVER -u FLOTILLA_TOKEN FLOTILLA_CONFIG=%s/cli.conf "
		 "'%s' %s >out.txt 2>err.txt",
		 dir, dir, FLOTILLA_BIN, args);
	int st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(dir))
		return -1;
	int port = ctl_test_free_port();
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", port);
	spit("tokens", T_ADMIN " admin\n" T_GW1 " gateway gw-1\n" T_GW2 " gateway gw-2\n");
	char conf[256];
	snprintf(conf, sizeof(conf), "# test\nserver = %s\ntoken = " T_ADMIN "\n", server);
	spit("cli.conf", conf);
	char listen[32], store[128], tokens[128], log[128];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(store, sizeof(store), "sqlite:%s/c.db", dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	snprintf(log, sizeof(log), "%s/controller.log", dir);
	const char *argv[] = {CONTROLLER_BIN, "--listen", listen, "--store", store, "--tokens",
			      tokens, "--artifacts", dir, NULL};
	ctl = ctl_test_spawn(argv, log);
	char health[96];
	snprintf(health, sizeof(health), "%s/healthz", server);
	return ctl > 0 && ctl_test_wait_http(health, 10000) ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	ctl_test_stop(ctl, SIGKILL, 100);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char manifest[] =
	"apiVersion: flotilla.io/v1\nkind: Device\nmetadata:\n  name: cli-dev\n"
	"  labels: {site: north}\nspec: {hardwareId: mps2-an386}\n"
	"---\napiVersion: flotilla.io/v1\nkind: Rollout\nmetadata:\n  name: ro-1\nspec:\n"
	"  release: rel-2\n  stableRelease: rel-1\n  onFailure: rollback\n  steps:\n"
	"  - setWeight: 10\n  - pause: {duration: 5m}\n  - analysis: {template: errors}\n";

static void test_apply_get_describe_delete(void **st)
{
	(void)st;
	spit("m.yaml", manifest);
	assert_int_equal(run("apply -f m.yaml"), 0);
	char *out = slurp("out.txt");
	assert_non_null(strstr(out, "devices/cli-dev created"));
	assert_non_null(strstr(out, "rollouts/ro-1 created"));
	free(out);
	assert_int_equal(run("apply -f m.yaml"), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "devices/cli-dev configured"));
	free(out);

	assert_int_equal(run("get devices -l site=north"), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "NAME"));
	assert_non_null(strstr(out, "cli-dev"));
	free(out);
	assert_int_equal(run("get devices -l site=south -o json"), 0);
	out = slurp("out.txt");
	json_t *j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	free(out);
	assert_int_equal(run("get rollout ro-1 -o yaml"), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "kind: Rollout"));
	assert_non_null(strstr(out, "- setWeight: 10"));
	free(out);
	assert_int_equal(run("describe device cli-dev"), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "site: north"));
	assert_non_null(strstr(out, "hardwareId: mps2-an386"));
	free(out);

	/* exit codes */
	assert_int_equal(run("get device nope"), 5);
	spit("bad.yaml", "apiVersion: flotilla.io/v1\nkind: Rollout\nmetadata: {name: bad}\n"
			 "spec: {release: r, steps: [{setWeight: 200}]}\n");
	assert_int_equal(run("apply -f bad.yaml"), 7);
	char *err = slurp("err.txt");
	assert_non_null(strstr(err, "spec.steps[0].setWeight"));
	free(err);
	spit("broken.yaml", "a: [1\n");
	assert_int_equal(run("apply -f broken.yaml"), 7);
	assert_int_equal(run("get devices --server http://127.0.0.1:1"), 8);
	assert_int_equal(run("get devices --token not-a-valid-token-123"), 9);
	assert_int_equal(run("get frobs"), 2);
	assert_int_equal(run("get devices -l 'a in (b'"), 7);

	assert_int_equal(run("delete -f m.yaml"), 0);
	assert_int_equal(run("get device cli-dev"), 5);
}

static void test_rollout_commands(void **st)
{
	(void)st;
	spit("m.yaml", manifest);
	assert_int_equal(run("apply -f m.yaml"), 0);
	assert_int_equal(run("rollout pause ro-1"), 0);
	struct ctl_client *c;
	struct ctl_client_config cfg = {.server = server, .token = T_ADMIN};
	assert_int_equal(ctl_client_new(&cfg, &c), 0);
	json_t *ro = NULL;
	assert_int_equal(ctl_client_get(c, "rollouts", "ro-1", &ro), 0);
	assert_true(json_is_true(json_object_get(json_object_get(ro, "spec"), "paused")));
	assert_non_null(json_object_get(json_object_get(json_object_get(ro, "metadata"), "annotations"),
					"flotilla.io/paused-at"));
	json_decref(ro);
	assert_int_equal(run("rollout resume ro-1"), 0);
	assert_int_equal(run("rollout promote ro-1"), 0);
	assert_int_equal(run("rollout abort ro-1"), 0);
	assert_int_equal(ctl_client_get(c, "rollouts", "ro-1", &ro), 0);
	json_t *sp = json_object_get(ro, "spec");
	assert_true(json_is_false(json_object_get(sp, "paused")));
	assert_true(json_is_true(json_object_get(sp, "promote")));
	assert_true(json_is_true(json_object_get(sp, "abort")));
	json_decref(ro);
	assert_int_equal(run("rollout undo ro-1"), 0);
	assert_int_equal(ctl_client_get(c, "rollouts", "ro-1", &ro), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ro, "spec"), "release")),
			    "rel-1");
	json_decref(ro);
	assert_int_equal(run("rollout pause nope"), 5);

	/* status with progress, and -w following it to the end */
	json_t *stt = json_pack("{s:s, s:i, s:i, s:{s:i, s:i, s:i}}", "phase", "Progressing",
				"currentStep", 1, "canaryWeight", 10, "counts", "total", 20,
				"updated", 2, "failed", 0);
	assert_int_equal(ctl_client_update_status(c, "rollouts", "ro-1", stt, 0, NULL), 0);
	assert_int_equal(run("rollout status ro-1"), 0);
	char *out = slurp("out.txt");
	assert_non_null(strstr(out, "Progressing"));
	assert_non_null(strstr(out, "updated 2/20"));
	assert_non_null(strstr(out, "[####"));
	free(out);
	pid_t p = fork();
	if (p == 0) {
		usleep(700000);
		json_t *done = json_pack("{s:s, s:i, s:i, s:{s:i, s:i, s:i}}", "phase", "Healthy",
					 "currentStep", 3, "canaryWeight", 100, "counts", "total",
					 20, "updated", 20, "failed", 0);
		struct ctl_client *c2;
		int r = ctl_client_new(&cfg, &c2) || ctl_client_update_status(c2, "rollouts", "ro-1",
									      done, 0, NULL);
		_exit(r ? 1 : 0);
	}
	assert_int_equal(run("rollout status ro-1 -w --timeout 20"), 0);
	int wst;
	waitpid(p, &wst, 0);
	assert_int_equal(WEXITSTATUS(wst), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "Healthy"));
	assert_non_null(strstr(out, "updated 20/20"));
	free(out);
	json_decref(stt);
	ctl_client_free(c);
}

static void test_release_create(void **st)
{
	(void)st;
	assert_int_equal(run("image keygen -o k.pem --public-out k.pub"), 0);
	char blob[3000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (char)('a' + i % 26);
	blob[sizeof(blob) - 1] = 0;
	spit("app.bin", blob);
	assert_int_equal(run("image sign --key k.pem --version 2.0.1+7 --hw-id mps2-an386 "
			     "--load-addr 0x10000 --security-counter 3 -o app.img app.bin"),
			 0);
	assert_int_equal(run("release create rel-2 --image app.img -o json"), 0);
	char *out = slurp("out.txt");
	json_t *j = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(j);
	json_t *sp = json_object_get(j, "spec");
	assert_string_equal(json_string_value(json_object_get(sp, "version")), "2.0.1+7");
	assert_string_equal(json_string_value(json_object_get(sp, "hardwareId")), "mps2-an386");
	assert_int_equal(json_integer_value(json_object_get(sp, "securityCounter")), 3);
	const char *url = json_string_value(
		json_object_get(json_object_get(json_object_get(sp, "artifacts"), "a"), "url"));
	assert_non_null(url);
	/* the artifact is served back byte for byte, to a gateway's token */
	char got[160], cmd[400];
	snprintf(got, sizeof(got), "%s/got.img", dir);
	FILE *f = fopen(got, "wb");
	assert_non_null(f);
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Authorization: Bearer " T_GW1);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s/app.img'", got, dir);
	assert_int_equal(system(cmd), 0);
	json_decref(j);
	assert_int_equal(run("release create rel-2 --image app.img"), 6); /* exists */
	assert_int_equal(run("release create rel-3 --image app.bin"), 1); /* not an image */
}

static void test_two_gateways_devices(void **st)
{
	(void)st;
	const char *toks[2] = {T_GW1, T_GW2}, *names[2] = {"gw-1", "gw-2"};
	for (int g = 0; g < 2; g++) {
		struct ctl_client *c;
		struct ctl_client_config cfg = {.server = server, .token = toks[g]};
		assert_int_equal(ctl_client_new(&cfg, &c), 0);
		assert_int_equal(ctl_client_gateway_register(c, names[g], NULL, NULL), 0);
		json_t *s[3];
		struct ctl_client_status items[3] = {{0}};
		char dn[3][32];
		for (int i = 0; i < 3; i++) {
			snprintf(dn[i], sizeof(dn[i]), "%s-dev-%d", names[g], i);
			s[i] = json_pack("{s:s, s:s, s:i}", "phase", i ? "idle" : "downloading",
					 "activeSlot", "a", "progress", i ? 0 : 42);
			items[i].device = dn[i];
			items[i].status = s[i];
		}
		size_t failed = 1;
		assert_int_equal(ctl_client_status_batch(c, items, 3, &failed), 0);
		assert_int_equal(failed, 0);
		for (int i = 0; i < 3; i++)
			json_decref(s[i]);
		ctl_client_free(c);
	}
	assert_int_equal(run("get devices -o json"), 0);
	char *out = slurp("out.txt");
	json_t *j = json_loads(out, 0, NULL);
	free(out);
	size_t i, n = 0;
	json_t *d;
	json_array_foreach(json_object_get(j, "items"), i, d) {
		const char *name = json_string_value(json_object_get(json_object_get(d, "metadata"), "name"));
		const char *gw = json_string_value(json_object_get(json_object_get(d, "status"), "gateway"));
		if (!name || strncmp(name, "gw-", 3) != 0)
			continue;
		n++;
		assert_non_null(gw);
		assert_int_equal(strncmp(name, gw, 4), 0); /* gw-1-dev-* belongs to gw-1 */
	}
	assert_int_equal(n, 6);
	json_decref(j);
	assert_int_equal(run("get devices"), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "gw-2-dev-0   gw-2      downloading"));
	free(out);
	assert_int_equal(run("get gateways"), 0);
	out = slurp("out.txt");
	assert_non_null(strstr(out, "gw-1"));
	assert_non_null(strstr(out, "true"));
	free(out);
}

static void test_sighup_sigterm(void **st)
{
	(void)st;
	assert_int_equal(run("get devices --token new-admin-token-0123456"), 9);
	spit("tokens", T_ADMIN " admin\nnew-admin-token-0123456 admin\n");
	kill(ctl, SIGHUP);
	usleep(400000);
	assert_int_equal(run("get devices --token new-admin-token-0123456"), 0);
	/* a broken tokens file keeps the old tokens */
	spit("tokens", "garbage\n");
	kill(ctl, SIGHUP);
	usleep(400000);
	assert_int_equal(run("get devices --token new-admin-token-0123456"), 0);
	kill(ctl, SIGTERM);
	int wst = 0;
	for (int i = 0; i < 100 && waitpid(ctl, &wst, WNOHANG) == 0; i++)
		usleep(50000);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
	ctl = 0;
	char *log = slurp("controller.log");
	assert_non_null(strstr(log, "level=info msg=\"serving\""));
	assert_non_null(strstr(log, "level=error msg=\"reload failed; old tokens kept\""));
	assert_non_null(strstr(log, "msg=\"stopped\""));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_get_describe_delete),
		cmocka_unit_test(test_rollout_commands),
		cmocka_unit_test(test_release_create),
		cmocka_unit_test(test_two_gateways_devices),
		cmocka_unit_test(test_sighup_sigterm),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
