/*
 * The commands that talk to a controller: get, describe, apply, delete,
 * rollout ..., release create. Server and token come from (later wins) the
 * config file, FLOTILLA_SERVER / FLOTILLA_TOKEN, --server / --token.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/image.h"
#include "agent/image_sign.h"
#include "cli.h"
#include "controller/client.h"
#include "controller/obj.h"
#include "manifest.h"

#define CONFIG_FILE_MAX (64 * 1024)
#define IMAGE_MAX (64 * 1024 * 1024)

enum fmt { FMT_TABLE, FMT_WIDE, FMT_JSON, FMT_YAML };

struct opts {
	char server[512], token[512], ca[512];
	int insecure;
	enum fmt fmt;
	const char *selector;
	const char *file;
	const char *image, *slot, *description;
	int watch;
	int timeout;
	int have_fmt;
};

/* ---- configuration ---- */

static void trim(char *s)
{
	size_t l = strlen(s);
	while (l && (s[l - 1] == '\n' || s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
		s[--l] = 0;
}

static int read_config(const char *path, struct opts *o, int must)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return must ? -errno : 0;
	char line[1200];
	size_t total = 0;
	int r = 0;
	while (fgets(line, sizeof(line), f)) {
		total += strlen(line);
		if (total > CONFIG_FILE_MAX) {
			r = -EFBIG;
			break;
		}
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			r = -EINVAL;
			break;
		}
		*eq = 0;
		char *v = eq + 1;
		trim(p);
		trim(v);
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcmp(p, "server") == 0)
			snprintf(o->server, sizeof(o->server), "%s", v);
		else if (strcmp(p, "token") == 0)
			snprintf(o->token, sizeof(o->token), "%s", v);
		else if (strcmp(p, "ca") == 0)
			snprintf(o->ca, sizeof(o->ca), "%s", v);
		else if (strcmp(p, "insecure") == 0)
			o->insecure = strcmp(v, "true") == 0;
		else {
			r = -EINVAL;
			break;
		}
	}
	fclose(f);
	return r;
}

enum {
	O_SERVER = 1000, O_TOKEN, O_CONFIG, O_INSECURE, O_IMAGE, O_SLOT, O_DESC, O_TIMEOUT, O_CA,
};

static const struct option long_opts[] = {
	{"server", required_argument, NULL, O_SERVER},
	{"token", required_argument, NULL, O_TOKEN},
	{"config", required_argument, NULL, O_CONFIG},
	{"ca", required_argument, NULL, O_CA},
	{"insecure", no_argument, NULL, O_INSECURE},
	{"output", required_argument, NULL, 'o'},
	{"selector", required_argument, NULL, 'l'},
	{"filename", required_argument, NULL, 'f'},
	{"watch", no_argument, NULL, 'w'},
	{"image", required_argument, NULL, O_IMAGE},
	{"slot", required_argument, NULL, O_SLOT},
	{"description", required_argument, NULL, O_DESC},
	{"timeout", required_argument, NULL, O_TIMEOUT},
	{"help", no_argument, NULL, 'h'},
	{0},
};

/* Parse options; returns -1 to go on, or an exit code. Positional args stay in argv[optind..]. */
static int parse_opts(const struct ctl_cli_call *call, int argc, char **argv, struct opts *o,
		      const char *allowed)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->server, sizeof(o->server), "http://127.0.0.1:8080");
	const char *cfg = getenv("FLOTILLA_CONFIG");
	char def[600] = "";
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg)
		snprintf(def, sizeof(def), "%s/flotilla/config", xdg);
	else if (home)
		snprintf(def, sizeof(def), "%s/.config/flotilla/config", home);
	/* --config first, so the other options override it */
	for (int i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "--config") == 0)
			cfg = argv[i + 1];
	int r = cfg ? read_config(cfg, o, 1) : def[0] ? read_config(def, o, 0) : 0;
	if (r < 0)
		return ctl_cli_fail(call, CTL_EXIT_IO, "cannot read config %s: %s", cfg ? cfg : def,
				    r == -EINVAL ? "bad line (keys: server, token, ca, insecure)"
						 : strerror(-r));
	if (getenv("FLOTILLA_SERVER"))
		snprintf(o->server, sizeof(o->server), "%s", getenv("FLOTILLA_SERVER"));
	if (getenv("FLOTILLA_TOKEN"))
		snprintf(o->token, sizeof(o->token), "%s", getenv("FLOTILLA_TOKEN"));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "o:l:f:wh", long_opts, NULL)) != -1) {
		if (c != '?' && c < 256 && c != 'h' && !strchr(allowed, c))
			return ctl_cli_usage_error(call, "option -%c does not apply here", c);
		switch (c) {
		case O_SERVER: snprintf(o->server, sizeof(o->server), "%s", optarg); break;
		case O_TOKEN: snprintf(o->token, sizeof(o->token), "%s", optarg); break;
		case O_CA: snprintf(o->ca, sizeof(o->ca), "%s", optarg); break;
		case O_CONFIG: break;
		case O_INSECURE: o->insecure = 1; break;
		case O_IMAGE: o->image = optarg; break;
		case O_SLOT: o->slot = optarg; break;
		case O_DESC: o->description = optarg; break;
		case O_TIMEOUT: o->timeout = atoi(optarg); break;
		case 'o':
			o->have_fmt = 1;
			if (strcmp(optarg, "table") == 0)
				o->fmt = FMT_TABLE;
			else if (strcmp(optarg, "wide") == 0)
				o->fmt = FMT_WIDE;
			else if (strcmp(optarg, "json") == 0)
				o->fmt = FMT_JSON;
			else if (strcmp(optarg, "yaml") == 0)
				o->fmt = FMT_YAML;
			else
				return ctl_cli_usage_error(call, "-o: table, wide, json or yaml");
			break;
		case 'l': o->selector = optarg; break;
		case 'f': o->file = optarg; break;
		case 'w': o->watch = 1; break;
		case 'h': ctl_cli_help(call, stdout); return CTL_EXIT_OK;
		default: return ctl_cli_usage_error(call, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

static int connect_client(const struct ctl_cli_call *call, const struct opts *o,
			  struct ctl_client **ret)
{
	struct ctl_client_config cfg = {.server = o->server,
					.token = o->token[0] ? o->token : NULL,
					.ca_file = o->ca[0] ? o->ca : NULL,
					.insecure = o->insecure};
	if (ctl_client_new(&cfg, ret) < 0)
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "cannot set up a client");
	return -1;
}

/* Map a client error to an exit code, with a message. */
static int api_fail(const struct ctl_cli_call *call, struct ctl_client *c, int err,
		    const char *what)
{
	const char *m = ctl_client_message(c);
	switch (err) {
	case -ENOENT:
		return ctl_cli_fail(call, CTL_EXIT_NOTFOUND, "%s: not found", what);
	case -ESTALE:
	case -EEXIST:
		return ctl_cli_fail(call, CTL_EXIT_CONFLICT, "%s: conflict: %s", what, m);
	case -EINVAL:
	case -E2BIG:
		return ctl_cli_fail(call, CTL_EXIT_INVALID, "%s: invalid: %s", what, m);
	case -EACCES:
	case -EPERM:
		return ctl_cli_fail(call, CTL_EXIT_DENIED, "%s: denied: %s", what, m);
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
		return ctl_cli_fail(call, CTL_EXIT_UNREACHABLE, "controller unreachable: %s", m);
	case -ERANGE:
		return ctl_cli_fail(call, CTL_EXIT_CONFLICT, "%s: version too old: %s", what, m);
	default:
		return ctl_cli_fail(call, CTL_EXIT_INTERNAL, "%s: %s", what, m[0] ? m : strerror(-err));
	}
}

static int kind_arg(const struct ctl_cli_call *call, const char *word)
{
	int k = ctl_kind_parse(word);
	if (k < 0) {
		ctl_cli_usage_error(call, "unknown kind '%s' (gateways, devices, releases, rollouts, "
					  "analysistemplates)",
				    word);
		return -1;
	}
	return k;
}

/* ---- output ---- */

static const json_t *at(const json_t *j, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save, *t = strtok_r(buf, ".", &save);
	while (t && j) {
		j = json_object_get(j, t);
		t = strtok_r(NULL, ".", &save);
	}
	return j;
}

static void cell(const json_t *v, char *out, size_t len)
{
	if (!v || json_is_null(v))
		snprintf(out, len, "-");
	else if (json_is_string(v))
		snprintf(out, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, len, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_object(v)) {
		/* labels-like: k=v,k=v ; other objects: their keys */
		out[0] = 0;
		const char *k;
		json_t *x;
		size_t n = 0;
		json_object_foreach((json_t *)v, k, x) {
			int w = snprintf(out + n, len - n, "%s%s%s%s", n ? "," : "", k,
					 json_is_string(x) ? "=" : "",
					 json_is_string(x) ? json_string_value(x) : "");
			if (w < 0 || (size_t)w >= len - n)
				break;
			n += (size_t)w;
		}
		if (!n)
			snprintf(out, len, "-");
	} else if (json_is_array(v))
		snprintf(out, len, "%zu", json_array_size(v));
}

struct col {
	const char *head, *path;
	int wide;
};

static const struct col cols_gateway[] = {
	{"NAME", "metadata.name", 0},       {"CONNECTED", "status.connected", 0},
	{"DEVICES", "status.devices", 0},   {"VERSION", "status.version", 0},
	{"HEARTBEAT", "status.lastHeartbeat", 0}, {"ADDRESS", "spec.address", 1},
	{"EBPF", "status.ebpf", 1},         {0},
};
static const struct col cols_device[] = {
	{"NAME", "metadata.name", 0},     {"GATEWAY", "status.gateway", 0},
	{"PHASE", "status.phase", 0},     {"SLOT", "status.activeSlot", 0},
	{"HEALTH", "status.health", 0},   {"PROGRESS", "status.progress", 0},
	{"VERSION", "status.version", 1}, {"LAST SEEN", "status.lastSeen", 1},
	{"ASSIGNED", "spec.assignment.release", 1}, {"LABELS", "metadata.labels", 1},
	{0},
};
static const struct col cols_release[] = {
	{"NAME", "metadata.name", 0},         {"VERSION", "spec.version", 0},
	{"HARDWARE", "spec.hardwareId", 0},   {"ARTIFACTS", "spec.artifacts", 0},
	{"COUNTER", "spec.securityCounter", 1}, {"AVAILABLE", "status.available", 1},
	{0},
};
static const struct col cols_rollout[] = {
	{"NAME", "metadata.name", 0},        {"RELEASE", "spec.release", 0},
	{"PHASE", "status.phase", 0},        {"STEP", "status.currentStep", 0},
	{"WEIGHT", "status.canaryWeight", 0}, {"UPDATED", "status.counts.updated", 0},
	{"FAILED", "status.counts.failed", 0}, {"STABLE", "status.stableRelease", 1},
	{"PAUSED", "spec.paused", 1},        {0},
};
static const struct col cols_template[] = {
	{"NAME", "metadata.name", 0}, {"METRICS", "spec.metrics", 0}, {0},
};
static const struct col *const cols[CTL_KIND__COUNT] = {cols_gateway, cols_device, cols_release,
							  cols_rollout, cols_template};

static void print_table(enum ctl_kind kind, const json_t *items, int wide)
{
	const struct col *cs = cols[kind];
	size_t ncol = 0, n = json_array_size(items);
	while (cs[ncol].head)
		ncol++;
	size_t w[16] = {0};
	char buf[256];
	for (size_t c = 0; c < ncol; c++)
		w[c] = strlen(cs[c].head);
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < ncol; c++) {
			cell(at(json_array_get(items, i), cs[c].path), buf, sizeof(buf));
			if (strlen(buf) > w[c])
				w[c] = strlen(buf);
		}
	for (size_t c = 0; c < ncol; c++)
		if (!cs[c].wide || wide)
			printf("%-*s%s", (int)w[c], cs[c].head, c + 1 < ncol ? "   " : "");
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < ncol; c++) {
			if (cs[c].wide && !wide)
				continue;
			cell(at(json_array_get(items, i), cs[c].path), buf, sizeof(buf));
			printf("%-*s%s", (int)w[c], buf, c + 1 < ncol ? "   " : "");
		}
		printf("\n");
	}
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
}

/* ---- get / describe ---- */

static int cmd_get(const struct ctl_cli_call *call, int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "olw");
	if (r >= 0)
		return r;
	if (optind >= argc)
		return ctl_cli_usage_error(call, "which kind?");
	int kind = kind_arg(call, argv[optind]);
	if (kind < 0)
		return CTL_EXIT_USAGE;
	const char *plural = ctl_kind_plural((enum ctl_kind)kind);
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0)
		return r;
	json_t *items = json_array();
	int code = CTL_EXIT_OK;
	if (optind + 1 < argc) {
		for (int i = optind + 1; i < argc; i++) {
			json_t *obj;
			r = ctl_client_get(c, plural, argv[i], &obj);
			if (r) {
				code = api_fail(call, c, r, argv[i]);
				break;
			}
			json_array_append_new(items, obj);
		}
	} else {
		char *cont = NULL;
		do {
			json_t *l;
			r = ctl_client_list(c, plural, o.selector, 500, cont, &l);
			free(cont);
			cont = NULL;
			if (r) {
				code = api_fail(call, c, r, plural);
				break;
			}
			json_array_extend(items, json_object_get(l, "items"));
			const char *t = json_string_value(
				json_object_get(json_object_get(l, "metadata"), "continue"));
			cont = t ? strdup(t) : NULL;
			json_decref(l);
		} while (cont);
	}
	if (code == CTL_EXIT_OK) {
		if (o.fmt == FMT_JSON || o.fmt == FMT_YAML) {
			json_t *out = argc - optind == 2 ? json_incref(json_array_get(items, 0))
							 : json_pack("{s:s, s:s, s:O}", "apiVersion",
								     CTL_API_VERSION, "kind", "List",
								     "items", items);
			if (o.fmt == FMT_JSON)
				print_json(out);
			else
				ctl_manifest_print_yaml(stdout, out);
			json_decref(out);
		} else if (json_array_size(items) == 0) {
			fprintf(stderr, "No %s found.\n", plural);
		} else {
			print_table((enum ctl_kind)kind, items, o.fmt == FMT_WIDE);
		}
	}
	json_decref(items);
	ctl_client_free(c);
	return code;
}

static void describe_section(const char *title, const json_t *j)
{
	printf("%s:", title);
	if (!j || (json_is_object(j) && json_object_size(j) == 0)) {
		printf(" <none>\n");
		return;
	}
	printf("\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ctl_manifest_print_yaml(f, j);
	fclose(f);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		printf("  %s\n", line);
	free(buf);
}

static int cmd_describe(const struct ctl_cli_call *call, int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "");
	if (r >= 0)
		return r;
	if (optind + 2 != argc)
		return ctl_cli_usage_error(call, "KIND NAME");
	int kind = kind_arg(call, argv[optind]);
	if (kind < 0)
		return CTL_EXIT_USAGE;
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0)
		return r;
	json_t *obj;
	r = ctl_client_get(c, ctl_kind_plural((enum ctl_kind)kind), argv[optind + 1], &obj);
	if (r) {
		int code = api_fail(call, c, r, argv[optind + 1]);
		ctl_client_free(c);
		return code;
	}
	const json_t *md = json_object_get(obj, "metadata");
	char b[64];
	printf("Name:               %s\n", ctl_obj_name(obj));
	printf("Kind:               %s\n", ctl_kind_name((enum ctl_kind)kind));
	cell(json_object_get(md, "creationTimestamp"), b, sizeof(b));
	printf("Created:            %s\n", b);
	cell(json_object_get(md, "resourceVersion"), b, sizeof(b));
	printf("Resource version:   %s\n", b);
	cell(json_object_get(md, "generation"), b, sizeof(b));
	printf("Generation:         %s\n", b);
	describe_section("Labels", json_object_get(md, "labels"));
	describe_section("Annotations", json_object_get(md, "annotations"));
	describe_section("Spec", json_object_get(obj, "spec"));
	describe_section("Status", json_object_get(obj, "status"));
	json_decref(obj);
	ctl_client_free(c);
	return CTL_EXIT_OK;
}

/* ---- apply / delete ---- */

static int load_manifest(const struct ctl_cli_call *call, const char *file, json_t **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;
	if (strcmp(file, "-") == 0) {
		size_t cap = 0;
		r = 0;
		for (;;) {
			if (len + 65536 > cap) {
				cap = cap ? cap * 2 : 65536;
				if (cap > CTL_MANIFEST_MAX + 65536) {
					free(buf);
					return ctl_cli_fail(call, CTL_EXIT_INVALID,
							    "stdin: larger than %d bytes",
							    CTL_MANIFEST_MAX);
				}
				uint8_t *nb = realloc(buf, cap);
				if (!nb) {
					free(buf);
					return CTL_EXIT_INTERNAL;
				}
				buf = nb;
			}
			ssize_t n = read(0, buf + len, cap - len);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
	} else {
		r = ctl_cli_read_file(file, CTL_MANIFEST_MAX, &buf, &len);
		if (r == -EFBIG)
			return ctl_cli_fail(call, CTL_EXIT_INVALID, "%s: larger than %d bytes", file,
					    CTL_MANIFEST_MAX);
		if (r)
			return ctl_cli_fail(call, CTL_EXIT_IO, "%s: %s", file, strerror(-r));
	}
	char err[256];
	r = ctl_manifest_parse((const char *)buf, len, ret, err, sizeof(err));
	free(buf);
	if (r)
		return ctl_cli_fail(call, CTL_EXIT_INVALID, "%s: %s", file, err);
	return -1;
}

/* Worse exit codes win: unreachable > internal > others. */
static int worse(int a, int b)
{
	static const int rank[] = {[CTL_EXIT_OK] = 0, [CTL_EXIT_FAIL] = 1, [CTL_EXIT_USAGE] = 2,
				   [CTL_EXIT_IO] = 3, [CTL_EXIT_INTERNAL] = 8,
				   [CTL_EXIT_NOTFOUND] = 4, [CTL_EXIT_CONFLICT] = 5,
				   [CTL_EXIT_INVALID] = 6, [CTL_EXIT_UNREACHABLE] = 9,
				   [CTL_EXIT_DENIED] = 7};
	return rank[b] > rank[a] ? b : a;
}

static int cmd_apply(const struct ctl_cli_call *call, int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "fo");
	if (r >= 0)
		return r;
	if (!o.file || optind != argc)
		return ctl_cli_usage_error(call, "-f FILE (or -f - for stdin) is required");
	json_t *docs;
	if ((r = load_manifest(call, o.file, &docs)) >= 0)
		return r;
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0) {
		json_decref(docs);
		return r;
	}
	int code = CTL_EXIT_OK;
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d) {
		const char *kn = json_string_value(json_object_get(d, "kind"));
		const char *name = ctl_obj_name(d);
		int kind = kn ? ctl_kind_parse(kn) : -1;
		char what[300];
		snprintf(what, sizeof(what), "document %zu (%s/%s)", i + 1, kn ? kn : "?",
			 name ? name : "?");
		if (kind < 0 || strcmp(kn, ctl_kind_name((enum ctl_kind)kind)) != 0) {
			code = worse(code, ctl_cli_fail(call, CTL_EXIT_INVALID, "%s: unknown kind",
							what));
			continue;
		}
		if (!json_object_get(d, "apiVersion"))
			json_object_set_new(d, "apiVersion", json_string(CTL_API_VERSION));
		int created = 0;
		json_t *out = NULL;
		r = ctl_client_apply(c, ctl_kind_plural((enum ctl_kind)kind), d, &out, &created);
		if (r) {
			code = worse(code, api_fail(call, c, r, what));
			if (code == CTL_EXIT_UNREACHABLE)
				break;
			continue;
		}
		if (o.fmt == FMT_JSON)
			print_json(out);
		else if (o.fmt == FMT_YAML) {
			printf("---\n");
			ctl_manifest_print_yaml(stdout, out);
		} else
			printf("%s/%s %s\n", ctl_kind_plural((enum ctl_kind)kind), name,
			       created ? "created" : "configured");
		json_decref(out);
	}
	json_decref(docs);
	ctl_client_free(c);
	return code;
}

static int cmd_delete(const struct ctl_cli_call *call, int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "f");
	if (r >= 0)
		return r;
	json_t *targets = json_array(); /* [kind, name] */
	if (o.file) {
		json_t *docs;
		if ((r = load_manifest(call, o.file, &docs)) >= 0) {
			json_decref(targets);
			return r;
		}
		size_t i;
		json_t *d;
		json_array_foreach(docs, i, d) {
			int k = ctl_kind_parse(json_string_value(json_object_get(d, "kind")));
			if (k >= 0 && ctl_obj_name(d))
				json_array_append_new(targets, json_pack("[i, s]", k, ctl_obj_name(d)));
		}
		json_decref(docs);
	} else {
		if (optind + 2 > argc) {
			json_decref(targets);
			return ctl_cli_usage_error(call, "KIND NAME... or -f FILE");
		}
		int k = kind_arg(call, argv[optind]);
		if (k < 0) {
			json_decref(targets);
			return CTL_EXIT_USAGE;
		}
		for (int i = optind + 1; i < argc; i++)
			json_array_append_new(targets, json_pack("[i, s]", k, argv[i]));
	}
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0) {
		json_decref(targets);
		return r;
	}
	int code = CTL_EXIT_OK;
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		enum ctl_kind k = (enum ctl_kind)json_integer_value(json_array_get(t, 0));
		const char *name = json_string_value(json_array_get(t, 1));
		r = ctl_client_delete(c, ctl_kind_plural(k), name, 0);
		if (r)
			code = worse(code, api_fail(call, c, r, name));
		else
			printf("%s/%s deleted\n", ctl_kind_plural(k), name);
	}
	json_decref(targets);
	ctl_client_free(c);
	return code;
}

/* ---- rollout ---- */

static void progress_line(const json_t *ro, bool tty)
{
	const json_t *st = json_object_get(ro, "status"), *sp = json_object_get(ro, "spec");
	const json_t *counts = json_object_get(st, "counts");
	long long total = json_integer_value(json_object_get(counts, "total")),
		  updated = json_integer_value(json_object_get(counts, "updated")),
		  failed = json_integer_value(json_object_get(counts, "failed")),
		  rolled = json_integer_value(json_object_get(counts, "rolledBack"));
	long long weight = json_integer_value(json_object_get(st, "canaryWeight"));
	long long step = json_integer_value(json_object_get(st, "currentStep"));
	size_t steps = json_array_size(json_object_get(sp, "steps"));
	const char *phase = json_string_value(json_object_get(st, "phase"));
	double frac = total > 0 ? (double)updated / (double)total : (double)weight / 100.0;
	if (frac > 1)
		frac = 1;
	char bar[41];
	int fill = (int)(frac * 40);
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = 0;
	printf("%s%s [%s] %3d%%  phase %-11s step %lld/%zu  weight %lld%%  updated %lld/%lld  "
	       "failed %lld  rolled back %lld%s",
	       tty ? "\r\033[K" : "", ctl_obj_name(ro), bar, (int)(frac * 100),
	       phase ? phase : "Pending", step, steps, weight, updated, total, failed, rolled,
	       tty ? "" : "\n");
	fflush(stdout);
}

static bool rollout_done(const json_t *ro)
{
	const char *p = json_string_value(at(ro, "status.phase"));
	return p && (strcmp(p, "Healthy") == 0 || strcmp(p, "Degraded") == 0 ||
		     strcmp(p, "RolledBack") == 0);
}

struct rwatch {
	const char *name;
	bool tty;
	int done;
};

static int on_rollout(void *user, const char *type, const json_t *obj)
{
	struct rwatch *w = user;
	if (!ctl_obj_name(obj) || strcmp(ctl_obj_name(obj), w->name) != 0)
		return 0;
	if (strcmp(type, "DELETED") == 0) {
		w->done = 2;
		return 1;
	}
	progress_line(obj, w->tty);
	if (rollout_done(obj)) {
		w->done = 1;
		return 1;
	}
	return 0;
}

static int rollout_status(const struct ctl_cli_call *call, int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "wo");
	if (r >= 0)
		return r;
	if (optind + 1 != argc)
		return ctl_cli_usage_error(call, "NAME");
	const char *name = argv[optind];
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0)
		return r;
	json_t *ro;
	r = ctl_client_get(c, "rollouts", name, &ro);
	if (r) {
		int code = api_fail(call, c, r, name);
		ctl_client_free(c);
		return code;
	}
	int code = CTL_EXIT_OK;
	if (o.fmt == FMT_JSON) {
		print_json(json_object_get(ro, "status"));
	} else {
		bool tty = o.watch && isatty(1);
		progress_line(ro, tty);
		if (o.watch && !rollout_done(ro)) {
			struct rwatch w = {.name = name, .tty = tty};
			uint64_t rv = strtoull(json_string_value(at(ro, "metadata.resourceVersion")) ?: "0",
					       NULL, 10);
			double t0 = ctl_cli_now();
			while (!w.done) {
				int left = o.timeout > 0 ? o.timeout - (int)(ctl_cli_now() - t0) : 0;
				if (o.timeout > 0 && left <= 0)
					break;
				r = ctl_client_watch(c, "/apis/flotilla.io/v1/rollouts", rv,
						     left > 0 && left < 60 ? left : 60, on_rollout, &w);
				if (r == -ERANGE) {
					/* fell behind: read the object again and go on */
					json_decref(ro);
					r = ctl_client_get(c, "rollouts", name, &ro);
					if (r)
						break;
					rv = strtoull(json_string_value(at(ro, "metadata.resourceVersion")) ?: "0",
						      NULL, 10);
					continue;
				}
				if (r)
					break;
			}
			if (tty)
				printf("\n");
			if (r && r != -ERANGE)
				code = api_fail(call, c, r, name);
			else if (w.done == 2)
				code = ctl_cli_fail(call, CTL_EXIT_NOTFOUND, "%s was deleted", name);
			else if (!w.done)
				code = ctl_cli_fail(call, CTL_EXIT_FAIL, "timed out waiting for %s", name);
		} else if (tty) {
			printf("\n");
		}
	}
	json_decref(ro);
	ctl_client_free(c);
	return code;
}

enum rollout_op { OP_PROMOTE, OP_PAUSE, OP_RESUME, OP_ABORT, OP_UNDO };

static int rollout_write(const struct ctl_cli_call *call, int argc, char **argv, enum rollout_op op)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "");
	if (r >= 0)
		return r;
	if (optind + 1 != argc)
		return ctl_cli_usage_error(call, "NAME");
	const char *name = argv[optind];
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0)
		return r;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	static const char *const verbs[] = {"promoted", "paused", "resumed", "aborted", "undone"};
	static const char *const notes[] = {"flotilla.io/promoted-at", "flotilla.io/paused-at",
					    "flotilla.io/resumed-at", "flotilla.io/aborted-at",
					    "flotilla.io/undone-at"};
	int code = CTL_EXIT_OK;
	for (int attempt = 0;; attempt++) {
		json_t *ro;
		r = ctl_client_get(c, "rollouts", name, &ro);
		if (r) {
			code = api_fail(call, c, r, name);
			break;
		}
		json_t *sp = json_object_get(ro, "spec"), *md = json_object_get(ro, "metadata");
		switch (op) {
		case OP_PROMOTE:
			json_object_set_new(sp, "promote", json_true());
			json_object_set_new(sp, "paused", json_false());
			break;
		case OP_PAUSE: json_object_set_new(sp, "paused", json_true()); break;
		case OP_RESUME: json_object_set_new(sp, "paused", json_false()); break;
		case OP_ABORT: json_object_set_new(sp, "abort", json_true()); break;
		case OP_UNDO: {
			const json_t *stable = at(ro, "status.stableRelease");
			if (!json_is_string(stable))
				stable = json_object_get(sp, "stableRelease");
			if (!json_is_string(stable)) {
				json_decref(ro);
				code = ctl_cli_fail(call, CTL_EXIT_FAIL,
						    "%s: no stable release to go back to", name);
				goto out;
			}
			json_object_set(sp, "release", (json_t *)stable);
			json_object_del(sp, "abort");
			json_object_del(sp, "promote");
			break;
		}
		}
		json_t *ann = json_object_get(md, "annotations");
		if (!ann) {
			ann = json_object();
			json_object_set_new(md, "annotations", ann);
		}
		json_object_set_new(ann, notes[op], json_string(ts));
		r = ctl_client_update(c, "rollouts", ro, NULL);
		json_decref(ro);
		if (r == -ESTALE && attempt < 5)
			continue;
		if (r)
			code = api_fail(call, c, r, name);
		else
			printf("rollout/%s %s\n", name, verbs[op]);
		break;
	}
out:
	ctl_client_free(c);
	return code;
}

static int rollout_promote(const struct ctl_cli_call *call, int argc, char **argv)
{
	return rollout_write(call, argc, argv, OP_PROMOTE);
}
static int rollout_pause(const struct ctl_cli_call *call, int argc, char **argv)
{
	return rollout_write(call, argc, argv, OP_PAUSE);
}
static int rollout_resume(const struct ctl_cli_call *call, int argc, char **argv)
{
	return rollout_write(call, argc, argv, OP_RESUME);
}
static int rollout_abort(const struct ctl_cli_call *call, int argc, char **argv)
{
	return rollout_write(call, argc, argv, OP_ABORT);
}
static int rollout_undo(const struct ctl_cli_call *call, int argc, char **argv)
{
	return rollout_write(call, argc, argv, OP_UNDO);
}

/* ---- release create ---- */

static int release_create(const struct ctl_cli_call *call, int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(call, argc, argv, &o, "o");
	if (r >= 0)
		return r;
	if (optind + 1 != argc || !o.image)
		return ctl_cli_usage_error(call, "NAME --image FILE.img");
	const char *name = argv[optind];
	if (!ctl_obj_name_valid(name))
		return ctl_cli_usage_error(call, "'%s' is not a valid object name", name);
	_cleanup_free_ uint8_t *img = NULL;
	size_t len;
	r = ctl_cli_read_file(o.image, IMAGE_MAX, &img, &len);
	if (r)
		return ctl_cli_fail(call, CTL_EXIT_IO, "%s: %s", o.image, strerror(-r));
	struct ag_image_info info;
	r = ag_image_parse(img, len, &info);
	if (r)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s: not a Flotilla image (%s)", o.image,
				    ctl_cli_ag_err_name(r));
	if (!info.has_sig || !info.has_hash)
		return ctl_cli_fail(call, CTL_EXIT_FAIL,
				    "%s: not signed (use 'flotilla image sign')", o.image);
	char ver[32];
	if (ag_image_format_version(&info.hdr.version, ver, sizeof(ver)) < 0)
		return ctl_cli_fail(call, CTL_EXIT_FAIL, "%s: bad version", o.image);
	struct ctl_client *c;
	if ((r = connect_client(call, &o, &c)) >= 0)
		return r;
	char sha[65];
	int code = CTL_EXIT_OK;
	r = ctl_client_upload_artifact(c, img, info.total_size <= len ? info.total_size : len, sha);
	if (r) {
		code = api_fail(call, c, r, o.image);
		ctl_client_free(c);
		return code;
	}
	char url[700], keyhash[65];
	snprintf(url, sizeof(url), "%s/artifacts/%s", o.server, sha);
	ctl_cli_hex(info.key_hash, 32, keyhash);
	json_t *rel = json_pack(
		"{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:I, s:{s:{s:s, s:I, s:s, s:s}}}}",
		"apiVersion", CTL_API_VERSION, "kind", "Release", "metadata", "name", name,
		"annotations", "flotilla.io/signer-key-sha256", info.has_key_hash ? keyhash : "",
		"spec", "version", ver, "hardwareId", info.hdr.hw_id, "securityCounter",
		(json_int_t)info.hdr.security_counter, "artifacts", o.slot ? o.slot : "a", "url", url,
		"size", (json_int_t)(info.total_size <= len ? info.total_size : len), "sha256", sha,
		"signature", "ecdsa-p256");
	if (o.description)
		json_object_set_new(json_object_get(rel, "spec"), "description",
				    json_string(o.description));
	json_t *out = NULL;
	r = ctl_client_create(c, "releases", rel, &out);
	if (r)
		code = api_fail(call, c, r, name);
	else if (o.fmt == FMT_JSON)
		print_json(out);
	else if (o.fmt == FMT_YAML)
		ctl_manifest_print_yaml(stdout, out);
	else
		printf("releases/%s created (version %s, hardware %s, artifact %s)\n", name, ver,
		       info.hdr.hw_id, sha);
	json_decref(out);
	json_decref(rel);
	ctl_client_free(c);
	return code;
}

#define CONN_HELP                                                                        \
	"\nConnection: --server URL, --token TOKEN, --config FILE, --ca FILE, --insecure\n"  \
	"(env FLOTILLA_SERVER, FLOTILLA_TOKEN, FLOTILLA_CONFIG; default config\n"            \
	"~/.config/flotilla/config with lines 'server = URL', 'token = TOKEN').\n"

static const struct ctl_cli_cmd rollout_cmds[] = {
	{"status", "show a rollout's progress (-w: follow it to the end)",
	 " NAME [-w] [--timeout S] [-o json]\n\nA progress bar with phase, step, canary weight and "
	 "device counts." CONN_HELP,
	 rollout_status, NULL},
	{"promote", "skip the remaining pauses and analysis of the current step", " NAME" CONN_HELP,
	 rollout_promote, NULL},
	{"pause", "hold the rollout where it is", " NAME" CONN_HELP, rollout_pause, NULL},
	{"resume", "continue a paused rollout", " NAME" CONN_HELP, rollout_resume, NULL},
	{"abort", "stop and send canaries back to the stable release", " NAME" CONN_HELP,
	 rollout_abort, NULL},
	{"undo", "point the rollout back at its stable release", " NAME" CONN_HELP, rollout_undo,
	 NULL},
	{0},
};

static const struct ctl_cli_cmd release_cmds[] = {
	{"create", "upload a signed image and create its Release",
	 " NAME --image FILE.img [--slot a] [--description TEXT] [-o json|yaml]\n\n"
	 "The image must be signed ('flotilla image sign'); version, hardware id and\n"
	 "security counter are read from its header. The artifact is uploaded to the\n"
	 "controller and named by its SHA-256." CONN_HELP,
	 release_create, NULL},
	{0},
};

const struct ctl_cli_cmd ctl_cli_api_cmds[] = {
	{"get", "list or show objects",
	 " KIND [NAME...] [-l SELECTOR] [-o table|wide|json|yaml]\n\n"
	 "KIND: gateways, devices, releases, rollouts, analysistemplates (or singular).\n"
	 "SELECTOR: k=v, k!=v, k in (a,b), k notin (a,b), k, !k; comma-separated." CONN_HELP,
	 cmd_get, NULL},
	{"describe", "show one object in detail", " KIND NAME" CONN_HELP, cmd_describe, NULL},
	{"apply", "create or update objects from a manifest",
	 " -f FILE|- [-o json|yaml]\n\nFILE: YAML (several documents separated by ---) or JSON."
	 CONN_HELP,
	 cmd_apply, NULL},
	{"delete", "delete objects", " KIND NAME... | -f FILE" CONN_HELP, cmd_delete, NULL},
	{"rollout", "follow and steer rollouts", " COMMAND NAME", NULL, rollout_cmds},
	{"release", "releases", " COMMAND", NULL, release_cmds},
	{0},
};
