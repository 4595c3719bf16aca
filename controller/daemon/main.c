/*
 * flotilla-controller: the central control plane.
 *
 * Settings come from (later wins): built-in defaults, the config file
 * (--config, "key = value" lines), FLOTILLA_CONTROLLER_<KEY> environment
 * variables, command-line options. SIGHUP re-reads the tokens file and the
 * log level; SIGTERM/SIGINT stop gracefully (watch streams end, requests in
 * flight finish, the leader lease is revoked).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/gitops.h"
#include "controller/server.h"
#include "controller/store.h"

#ifndef FLOTILLA_VERSION
#define FLOTILLA_VERSION "0.0.0"
#endif

#define CONFIG_MAX (64 * 1024)

enum level { L_DEBUG, L_INFO, L_WARN, L_ERROR };
static enum level log_level = L_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

/* logfmt: ts=... level=... msg="..." key=value ... */
__attribute__((format(printf, 3, 4))) static void logf_(enum level l, const char *msg,
							 const char *fmt, ...)
{
	if (l < log_level)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	char t[32];
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", gmtime_r(&ts.tv_sec, &tm));
	char extra[1024] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"%s%s\n", t, ts.tv_nsec / 1000000,
		level_names[l], msg, extra[0] ? " " : "", extra);
	fflush(stderr);
}

struct settings {
	char listen[128];
	char store[1024];
	char tokens[1024];
	char tls_cert[1024], tls_key[1024];
	char artifacts[1024];
	char id[128];
	char level[16];
	int lease_ttl;
	int no_auth;
	char data_dir[1024];
	char gitops_repo[1024], gitops_branch[256], gitops_path[1024];
	char gitops_ssh_key[1024], gitops_ssh_pubkey[1024];
	char gitops_https_user[256], gitops_https_password[1024];
	int gitops_interval, gitops_drift_interval;
};

static int set_key(struct settings *s, const char *k, const char *v)
{
#define S(name, field)                                                                \
	if (strcmp(k, name) == 0) {                                                   \
		snprintf(s->field, sizeof(s->field), "%s", v);                        \
		return 0;                                                             \
	}
	S("listen", listen)
	S("store", store)
	S("tokens", tokens)
	S("tls_cert", tls_cert)
	S("tls_key", tls_key)
	S("artifacts", artifacts)
	S("id", id)
	S("log_level", level)
	S("data_dir", data_dir)
	S("gitops_repo", gitops_repo)
	S("gitops_branch", gitops_branch)
	S("gitops_path", gitops_path)
	S("gitops_ssh_key", gitops_ssh_key)
	S("gitops_ssh_pubkey", gitops_ssh_pubkey)
	S("gitops_https_user", gitops_https_user)
	S("gitops_https_password", gitops_https_password)
#undef S
	if (strcmp(k, "gitops_interval") == 0) {
		s->gitops_interval = atoi(v);
		return s->gitops_interval >= 1 ? 0 : -EINVAL;
	}
	if (strcmp(k, "gitops_drift_interval") == 0) {
		s->gitops_drift_interval = atoi(v);
		return s->gitops_drift_interval >= 1 ? 0 : -EINVAL;
	}
	if (strcmp(k, "lease_ttl") == 0) {
		s->lease_ttl = atoi(v);
		return s->lease_ttl >= 2 ? 0 : -EINVAL;
	}
	if (strcmp(k, "no_auth") == 0) {
		s->no_auth = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
		return 0;
	}
	return -ENOENT;
}

static int read_config(struct settings *s, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[2048];
	int n = 0, r = 0;
	size_t total = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		total += strlen(line);
		if (total > CONFIG_MAX) {
			r = -EFBIG;
			break;
		}
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			logf_(L_ERROR, "config line without '='", "file=%s line=%d", path, n);
			r = -EINVAL;
			break;
		}
		*eq = 0;
		char *k = p, *v = eq + 1, *e = eq;
		while (e > k && isspace((unsigned char)e[-1]))
			*--e = 0;
		while (isspace((unsigned char)*v))
			v++;
		e = v + strlen(v);
		while (e > v && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (set_key(s, k, v) < 0) {
			logf_(L_ERROR, "unknown or invalid config key", "file=%s line=%d key=%s", path,
			      n, k);
			r = -EINVAL;
			break;
		}
	}
	fclose(f);
	return r;
}

static void read_env(struct settings *s)
{
	static const char *keys[] = {"listen", "store", "tokens", "tls_cert", "tls_key",
				     "artifacts", "id", "log_level", "lease_ttl", "no_auth",
				     "data_dir", "gitops_repo", "gitops_branch", "gitops_path",
				     "gitops_interval", "gitops_drift_interval", "gitops_ssh_key",
				     "gitops_ssh_pubkey", "gitops_https_user",
				     "gitops_https_password", NULL};
	for (const char **k = keys; *k; k++) {
		char name[64] = "FLOTILLA_CONTROLLER_";
		size_t l = strlen(name);
		for (const char *p = *k; *p && l < sizeof(name) - 1; p++)
			name[l++] = (char)toupper((unsigned char)*p);
		name[l] = 0;
		const char *v = getenv(name);
		if (v)
			(void)set_key(s, *k, v);
	}
}

static int parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flotilla-controller [OPTIONS]\n"
		"\n"
		"Flotilla's control plane: the flotilla.io/v1 API, its store, the gateway link.\n"
		"\n"
		"  -c, --config FILE     settings file (\"key = value\" lines, keys as below)\n"
		"  -l, --listen ADDR     listen address (listen; default 127.0.0.1:8080)\n"
		"  -s, --store URL       sqlite:/path/file.db or etcd:http://h:p[,http://h:p...]\n"
		"                        (store; default sqlite:/var/lib/flotilla/controller.db)\n"
		"  -t, --tokens FILE     bearer tokens, lines \"TOKEN admin|read-only|gateway [NAME]\"\n"
		"      --tls-cert FILE   serve HTTPS with this certificate (tls_cert)\n"
		"      --tls-key FILE    and key (tls_key)\n"
		"      --artifacts DIR   where uploaded artifacts live (artifacts)\n"
		"      --id NAME         identity in leader election (id; default host:pid)\n"
		"      --lease-ttl SEC   leader lease (lease_ttl; default 10)\n"
		"      --log-level LVL   debug|info|warn|error (log_level)\n"
		"      --no-auth         every request is admin (no_auth; local tests only)\n"
		"      --data-dir DIR    controller state, e.g. the GitOps clone (data_dir;\n"
		"                        default /var/lib/flotilla)\n"
		"\n"
		"GitOps (off unless gitops_repo is set; POST /sync syncs at once):\n"
		"      --gitops-repo URL      file:///path, /path, https://..., ssh://... (gitops_repo)\n"
		"      --gitops-branch NAME   branch to follow (gitops_branch; default main)\n"
		"      --gitops-path DIR      folder of manifests in the repo (gitops_path; default /)\n"
		"      --gitops-interval SEC  sync period (gitops_interval; default 60)\n"
		"      gitops_drift_interval  seconds between drift checks (default 10)\n"
		"      gitops_ssh_key, gitops_ssh_pubkey          ssh key files\n"
		"      gitops_https_user, gitops_https_password   https basic auth (use the\n"
		"                             environment for the password)\n"
		"  -h, --help            this help\n"
		"  -V, --version         version\n"
		"\n"
		"Environment: FLOTILLA_CONTROLLER_<KEY> (e.g. FLOTILLA_CONTROLLER_STORE).\n"
		"Signals: SIGHUP reloads tokens and log level; SIGTERM stops gracefully.\n");
}

static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

int main(int argc, char **argv)
{
	struct settings s = {.listen = "127.0.0.1:8080",
			     .store = "sqlite:/var/lib/flotilla/controller.db",
			     .level = "info",
			     .lease_ttl = 10,
			     .data_dir = "/var/lib/flotilla",
			     .gitops_branch = "main",
			     .gitops_interval = 60,
			     .gitops_drift_interval = 10};
	const char *config = NULL;
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"store", required_argument, NULL, 's'},
		{"tokens", required_argument, NULL, 't'},
		{"tls-cert", required_argument, NULL, 1},
		{"tls-key", required_argument, NULL, 2},
		{"artifacts", required_argument, NULL, 3},
		{"id", required_argument, NULL, 4},
		{"lease-ttl", required_argument, NULL, 5},
		{"log-level", required_argument, NULL, 6},
		{"no-auth", no_argument, NULL, 7},
		{"data-dir", required_argument, NULL, 8},
		{"gitops-repo", required_argument, NULL, 9},
		{"gitops-branch", required_argument, NULL, 10},
		{"gitops-path", required_argument, NULL, 11},
		{"gitops-interval", required_argument, NULL, 12},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	/* First pass: the config file, so options can override it. */
	for (int i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			config = argv[i + 1];
	if (config && read_config(&s, config) < 0) {
		logf_(L_ERROR, "cannot read config", "file=%s", config);
		return 2;
	}
	read_env(&s);
	int c;
	struct settings cli = s;
	while ((c = getopt_long(argc, argv, "c:l:s:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': break;
		case 'l': snprintf(cli.listen, sizeof(cli.listen), "%s", optarg); break;
		case 's': snprintf(cli.store, sizeof(cli.store), "%s", optarg); break;
		case 't': snprintf(cli.tokens, sizeof(cli.tokens), "%s", optarg); break;
		case 1: snprintf(cli.tls_cert, sizeof(cli.tls_cert), "%s", optarg); break;
		case 2: snprintf(cli.tls_key, sizeof(cli.tls_key), "%s", optarg); break;
		case 3: snprintf(cli.artifacts, sizeof(cli.artifacts), "%s", optarg); break;
		case 4: snprintf(cli.id, sizeof(cli.id), "%s", optarg); break;
		case 5: cli.lease_ttl = atoi(optarg); break;
		case 6: snprintf(cli.level, sizeof(cli.level), "%s", optarg); break;
		case 7: cli.no_auth = 1; break;
		case 8: snprintf(cli.data_dir, sizeof(cli.data_dir), "%s", optarg); break;
		case 9: snprintf(cli.gitops_repo, sizeof(cli.gitops_repo), "%s", optarg); break;
		case 10: snprintf(cli.gitops_branch, sizeof(cli.gitops_branch), "%s", optarg); break;
		case 11: snprintf(cli.gitops_path, sizeof(cli.gitops_path), "%s", optarg); break;
		case 12: cli.gitops_interval = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("flotilla-controller %s\n", FLOTILLA_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	s = cli;
	if (optind < argc) {
		fprintf(stderr, "flotilla-controller: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	int lv = parse_level(s.level);
	if (lv < 0 || s.lease_ttl < 2 || s.gitops_interval < 1 || s.gitops_drift_interval < 1) {
		fprintf(stderr, "flotilla-controller: bad log level, lease ttl or gitops interval\n");
		return 2;
	}
	log_level = (enum level)lv;
	if (!s.id[0]) {
		char host[64] = "controller";
		gethostname(host, sizeof(host) - 1);
		snprintf(s.id, sizeof(s.id), "%s:%d", host, (int)getpid());
	}
	if (!s.tokens[0] && !s.no_auth) {
		logf_(L_ERROR, "no tokens file; set tokens (or no_auth for local tests)", NULL);
		return 2;
	}

	sigset_t set;
	sigemptyset(&set);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct ctl_store *store;
	int r = ctl_store_open(s.store, &store);
	if (r < 0) {
		logf_(L_ERROR, "cannot open store", "store=%s err=\"%s\"", s.store, strerror(-r));
		return 1;
	}
	r = ctl_store_leader_start(store, s.id, s.lease_ttl);
	if (r < 0 && r != -EBUSY)
		logf_(L_WARN, "leader election did not start", "err=\"%s\"", strerror(-r));
	struct ctl_gitops *gitops = NULL;
	if (s.gitops_repo[0]) {
		struct ctl_gitops_config gc = {
			.url = s.gitops_repo,
			.branch = s.gitops_branch,
			.path = s.gitops_path,
			.data_dir = s.data_dir,
			.ssh_key = s.gitops_ssh_key,
			.ssh_pubkey = s.gitops_ssh_pubkey,
			.https_user = s.gitops_https_user,
			.https_password = s.gitops_https_password,
			.leader_only = true,
		};
		r = ctl_gitops_new(&gc, store, &gitops);
		if (r < 0) {
			logf_(L_ERROR, "cannot set up GitOps", "err=\"%s\"", strerror(-r));
			ctl_store_free(store);
			return 1;
		}
	}
	struct ctl_server_config cfg = {
		.listen = s.listen,
		.tls_cert = s.tls_cert[0] ? s.tls_cert : NULL,
		.tls_key = s.tls_key[0] ? s.tls_key : NULL,
		.tokens_file = s.tokens[0] ? s.tokens : NULL,
		.artifacts_dir = s.artifacts[0] ? s.artifacts : NULL,
		.no_auth = s.no_auth,
		.version = FLOTILLA_VERSION,
		.sync_hook = gitops ? ctl_gitops_sync_hook : NULL,
		.metrics_hook = gitops ? ctl_gitops_metrics_hook : NULL,
		.hook_ctx = gitops,
	};
	struct ctl_server *srv;
	r = ctl_server_start(&cfg, store, &srv);
	if (r < 0) {
		logf_(L_ERROR, "cannot start the API server", "listen=%s err=\"%s\"", s.listen,
		      strerror(-r));
		ctl_gitops_free(gitops);
		ctl_store_free(store);
		return 1;
	}
	logf_(L_INFO, "serving", "listen=%s port=%u store=%s id=%s tls=%s version=%s", s.listen,
	      ctl_server_port(srv), ctl_store_backend(store), s.id, cfg.tls_cert ? "on" : "off",
	      FLOTILLA_VERSION);
	if (gitops) {
		r = ctl_gitops_start(gitops, s.gitops_interval, s.gitops_drift_interval);
		if (r < 0) {
			logf_(L_ERROR, "cannot start GitOps", "err=\"%s\"", strerror(-r));
			ctl_server_stop(srv);
			ctl_gitops_free(gitops);
			ctl_store_free(store);
			return 1;
		}
		logf_(L_INFO, "gitops", "repo=%s branch=%s path=/%s interval=%d", s.gitops_repo,
		      s.gitops_branch, s.gitops_path, s.gitops_interval);
	}
	json_t *last_sync = NULL;
	bool was_leader = false;
	while (!got_term) {
		usleep(100000);
		if (got_hup) {
			got_hup = 0;
			struct settings n = {.level = ""};
			if (config && read_config(&n, config) == 0 && n.level[0] &&
			    parse_level(n.level) >= 0)
				log_level = (enum level)parse_level(n.level);
			r = ctl_server_reload(srv);
			if (r < 0)
				logf_(L_ERROR, "reload failed; old tokens kept", "err=\"%s\"",
				      strerror(-r));
			else
				logf_(L_INFO, "reloaded", "log_level=%s", level_names[log_level]);
		}
		bool l = ctl_store_is_leader(store);
		if (l != was_leader) {
			char who[128];
			ctl_store_leader_name(store, who, sizeof(who));
			logf_(L_INFO, l ? "became leader" : "lost leadership", "id=%s leader=%s",
			      s.id, who);
			was_leader = l;
		}
		if (gitops) {
			/* log each new sync result once */
			json_t *j = ctl_gitops_last(gitops);
			const char *t = json_string_value(json_object_get(j, "time"));
			const char *res = json_string_value(json_object_get(j, "result"));
			if (t && !(last_sync && json_equal(j, last_sync))) {
				const json_t *e = json_object_get(j, "error");
				if (e)
					logf_(L_ERROR, "gitops sync failed",
					      "commit=%s file=%s line=%d reason=\"%s\"",
					      json_string_value(json_object_get(j, "commit")),
					      json_string_value(json_object_get(e, "file")),
					      (int)json_integer_value(json_object_get(e, "line")),
					      json_string_value(json_object_get(e, "reason")));
				else if (res && strcmp(res, "ok") == 0)
					logf_(json_integer_value(json_object_get(j, "unchanged")) ==
							      json_integer_value(
								      json_object_get(j, "objects")) &&
						      !json_integer_value(json_object_get(j, "pruned"))
					      ? L_DEBUG
					      : L_INFO,
					      "gitops synced",
					      "commit=%s created=%d updated=%d pruned=%d healed=%d",
					      json_string_value(json_object_get(j, "commit")),
					      (int)json_integer_value(json_object_get(j, "created")),
					      (int)json_integer_value(json_object_get(j, "updated")),
					      (int)json_integer_value(json_object_get(j, "pruned")),
					      (int)json_integer_value(json_object_get(j, "healed")));
				json_decref(last_sync);
				last_sync = j;
			} else {
				json_decref(j);
			}
		}
	}
	logf_(L_INFO, "stopping", NULL);
	json_decref(last_sync);
	ctl_server_stop(srv);    /* requests in flight, POST /sync too, finish first */
	ctl_gitops_free(gitops); /* then the sync thread stops */
	ctl_store_free(store);
	logf_(L_INFO, "stopped", NULL);
	return 0;
}
