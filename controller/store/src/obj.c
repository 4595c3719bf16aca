/* Kinds, schema checks and label selectors of the flotilla.io/v1 objects. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "controller/obj.h"

static const struct {
	const char *name, *plural, *singular;
} kinds[CTL_KIND__COUNT] = {
	[CTL_KIND_GATEWAY] = {"Gateway", "gateways", "gateway"},
	[CTL_KIND_DEVICE] = {"Device", "devices", "device"},
	[CTL_KIND_RELEASE] = {"Release", "releases", "release"},
	[CTL_KIND_ROLLOUT] = {"Rollout", "rollouts", "rollout"},
	[CTL_KIND_ANALYSIS_TEMPLATE] = {"AnalysisTemplate", "analysistemplates", "analysistemplate"},
};

const char *ctl_kind_name(enum ctl_kind kind)
{
	return (unsigned)kind < CTL_KIND__COUNT ? kinds[kind].name : "?";
}

const char *ctl_kind_plural(enum ctl_kind kind)
{
	return (unsigned)kind < CTL_KIND__COUNT ? kinds[kind].plural : "?";
}

int ctl_kind_parse(const char *word)
{
	if (!word)
		return -ENOENT;
	for (int k = 0; k < CTL_KIND__COUNT; k++)
		if (strcasecmp(word, kinds[k].plural) == 0 || strcasecmp(word, kinds[k].singular) == 0)
			return k;
	return -ENOENT;
}

bool ctl_obj_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > CTL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !((c == '-' || c == '.') && i > 0 && i + 1 < n))
			return false;
	}
	return true;
}

/* ---- schema checks ---- */

struct vctx {
	char path[256];
	char *out_path, *out_reason;
	size_t path_len, reason_len;
};

__attribute__((format(printf, 3, 4))) static int refuse(struct vctx *v, const char *field,
							const char *fmt, ...)
{
	if (v->out_path)
		snprintf(v->out_path, v->path_len, "%s%s%s", v->path, *v->path && *field ? "." : "",
			 field);
	if (v->out_reason) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->out_reason, v->reason_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Enter a sub-path; returns the old length so leave() can restore it. */
static size_t enter(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t enter(struct vctx *v, const char *fmt, ...)
{
	size_t old = strlen(v->path);
	char seg[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(seg, sizeof(seg), fmt, ap);
	va_end(ap);
	snprintf(v->path + old, sizeof(v->path) - old, "%s%s", old && seg[0] != '[' ? "." : "",
		 seg);
	return old;
}

static void leave(struct vctx *v, size_t old)
{
	v->path[old] = 0;
}

enum ftype { F_STR, F_INT, F_UINT, F_BOOL, F_OBJ, F_ARR, F_NUM, F_ANY };

struct field {
	const char *name;
	enum ftype type;
	bool required;
	int (*check)(struct vctx *v, const char *name, const json_t *val);
};

static const char *type_name(enum ftype t)
{
	static const char *n[] = {"string", "integer", "non-negative integer", "boolean",
				  "object", "array", "number", "any"};
	return n[t];
}

static int check_type(struct vctx *v, const char *name, const json_t *val, enum ftype t)
{
	bool ok;
	switch (t) {
	case F_STR: ok = json_is_string(val); break;
	case F_INT: ok = json_is_integer(val); break;
	case F_UINT: ok = json_is_integer(val) && json_integer_value(val) >= 0; break;
	case F_BOOL: ok = json_is_boolean(val); break;
	case F_OBJ: ok = json_is_object(val); break;
	case F_ARR: ok = json_is_array(val); break;
	case F_NUM: ok = json_is_number(val); break;
	default: ok = true;
	}
	return ok ? 0 : refuse(v, name, "must be a %s", type_name(t));
}

/* Check the fields of @obj; unknown fields are refused so typos show. */
static int check_fields(struct vctx *v, const json_t *obj, const struct field *fields)
{
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		const struct field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name)
			return refuse(v, key, "unknown field");
		int r = check_type(v, key, val, f->type);
		if (r)
			return r;
		if (f->check) {
			size_t old = enter(v, "%s", key);
			r = f->check(v, "", val);
			leave(v, old);
			if (r)
				return r;
		}
	}
	for (const struct field *f = fields; f->name; f++)
		if (f->required && !json_object_get(obj, f->name))
			return refuse(v, f->name, "required");
	return 0;
}

static int one_of(struct vctx *v, const char *name, const json_t *val, const char *const *allowed)
{
	for (const char *const *a = allowed; *a; a++)
		if (strcmp(json_string_value(val), *a) == 0)
			return 0;
	return refuse(v, name, "must be one of the documented values");
}

static int check_nonempty(struct vctx *v, const char *name, const json_t *val)
{
	return json_string_length(val) ? 0 : refuse(v, name, "must not be empty");
}

static int check_duration(struct vctx *v, const char *name, const json_t *val)
{
	/* "30s", "5m", "1h", "250ms" */
	const char *s = json_string_value(val);
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (end == s || n > 1000000UL ||
	    (strcmp(end, "s") && strcmp(end, "m") && strcmp(end, "h") && strcmp(end, "ms")))
		return refuse(v, name, "must be a duration like 30s, 5m, 1h");
	return 0;
}

static int check_string_map(struct vctx *v, const char *name, const json_t *val, size_t kmax,
			    size_t vmax)
{
	const char *k;
	const json_t *x;
	json_object_foreach((json_t *)val, k, x) {
		size_t kl = strlen(k);
		if (kl == 0 || kl > kmax)
			return refuse(v, k, "key must be 1..%zu characters", kmax);
		for (const char *p = k; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("-_./", *p))
				return refuse(v, k, "key has a character outside [A-Za-z0-9-_./]");
		if (!json_is_string(x))
			return refuse(v, k, "must be a string");
		if (json_string_length(x) > vmax)
			return refuse(v, k, "value longer than %zu", vmax);
	}
	(void)name;
	return 0;
}

static int check_labels(struct vctx *v, const char *name, const json_t *val)
{
	int r = check_string_map(v, name, val, CTL_LABEL_MAX + 254, CTL_LABEL_MAX);
	if (r)
		return r;
	const char *k;
	const json_t *x;
	json_object_foreach((json_t *)val, k, x) {
		for (const char *p = json_string_value(x); *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
				return refuse(v, k, "value has a character outside [A-Za-z0-9-_.]");
	}
	return 0;
}

static int check_annotations(struct vctx *v, const char *name, const json_t *val)
{
	return check_string_map(v, name, val, 317, 64 * 1024);
}

static int check_name(struct vctx *v, const char *name, const json_t *val)
{
	return ctl_obj_name_valid(json_string_value(val))
		       ? 0
		       : refuse(v, name, "must be lower-case alphanumerics, '-' or '.', 1..%d long",
				CTL_NAME_MAX);
}

static int check_uint_str(struct vctx *v, const char *name, const json_t *val)
{
	const char *s = json_string_value(val);
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return refuse(v, name, "must be a decimal number");
	return 0;
}

static const struct field metadata_fields[] = {
	{"name", F_STR, true, check_name},
	{"labels", F_OBJ, false, check_labels},
	{"annotations", F_OBJ, false, check_annotations},
	{"resourceVersion", F_STR, false, check_uint_str},
	{"generation", F_UINT, false, NULL},
	{"creationTimestamp", F_STR, false, NULL},
	{"uid", F_STR, false, NULL},
	{0},
};

static int check_metadata(struct vctx *v, const char *name, const json_t *val)
{
	return check_fields(v, val, metadata_fields);
}

/* Gateway */
static const struct field gateway_spec[] = {
	{"address", F_STR, false, NULL},
	{"labels", F_OBJ, false, check_labels},
	{"description", F_STR, false, NULL},
	{0},
};

/* Device */
static int check_action(struct vctx *v, const char *name, const json_t *val)
{
	static const char *const a[] = {"install", "activate", "confirm", "rollback", "none", NULL};
	return one_of(v, name, val, a);
}
static const struct field assignment_fields[] = {
	{"release", F_STR, false, check_name},
	{"action", F_STR, true, check_action},
	{"rollout", F_STR, false, check_name},
	{"cohort", F_STR, false, NULL},
	{"slot", F_STR, false, NULL},
	{0},
};
static int check_assignment(struct vctx *v, const char *name, const json_t *val)
{
	return check_fields(v, val, assignment_fields);
}
static const struct field device_spec[] = {
	{"labels", F_OBJ, false, check_labels},
	{"hardwareId", F_STR, false, NULL},
	{"assignment", F_OBJ, false, check_assignment},
	{0},
};

/* Release */
static int check_sha256(struct vctx *v, const char *name, const json_t *val)
{
	const char *s = json_string_value(val);
	if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		return refuse(v, name, "must be 64 lower-case hex digits");
	return 0;
}
static const struct field artifact_fields[] = {
	{"url", F_STR, true, check_nonempty},
	{"size", F_UINT, false, NULL},
	{"sha256", F_STR, false, check_sha256},
	{"signature", F_STR, false, NULL},
	{"delta", F_OBJ, false, NULL},
	{0},
};
static int check_artifacts(struct vctx *v, const char *name, const json_t *val)
{
	const char *k;
	const json_t *x;
	if (json_object_size(val) == 0)
		return refuse(v, name, "at least one artifact is required");
	json_object_foreach((json_t *)val, k, x) {
		size_t old = enter(v, "%s", k);
		int r = json_is_object(x) ? check_fields(v, x, artifact_fields)
					  : refuse(v, "", "must be an object");
		leave(v, old);
		if (r)
			return r;
	}
	return 0;
}
static int check_version(struct vctx *v, const char *name, const json_t *val)
{
	const char *s = json_string_value(val);
	unsigned a, b, c;
	int n = 0;
	if (sscanf(s, "%u.%u.%u%n", &a, &b, &c, &n) != 3 || (s[n] && s[n] != '+' && s[n] != '-'))
		return refuse(v, name, "must be a version MAJOR.MINOR.PATCH[+BUILD]");
	return 0;
}
static const struct field release_spec[] = {
	{"version", F_STR, true, check_version},
	{"hardwareId", F_STR, true, check_nonempty},
	{"artifacts", F_OBJ, true, check_artifacts},
	{"securityCounter", F_UINT, false, NULL},
	{"description", F_STR, false, NULL},
	{0},
};

/* Rollout */
static int check_weight(struct vctx *v, const char *name, const json_t *val)
{
	json_int_t w = json_integer_value(val);
	return w >= 0 && w <= 100 ? 0 : refuse(v, name, "must be 0..100");
}
static const struct field pause_fields[] = {{"duration", F_STR, false, check_duration}, {0}};
static int check_pause(struct vctx *v, const char *name, const json_t *val)
{
	return check_fields(v, val, pause_fields);
}
static const struct field analysis_step_fields[] = {
	{"template", F_STR, true, check_name},
	{0},
};
static int check_analysis_step(struct vctx *v, const char *name, const json_t *val)
{
	return check_fields(v, val, analysis_step_fields);
}
static const struct field step_fields[] = {
	{"setWeight", F_UINT, false, check_weight},
	{"pause", F_OBJ, false, check_pause},
	{"analysis", F_OBJ, false, check_analysis_step},
	{0},
};
static int check_steps(struct vctx *v, const char *name, const json_t *val)
{
	size_t i;
	const json_t *x;
	if (json_array_size(val) > 64)
		return refuse(v, name, "at most 64 steps");
	json_array_foreach(val, i, x) {
		size_t old = enter(v, "[%zu]", i);
		int r;
		if (!json_is_object(x))
			r = refuse(v, "", "must be an object");
		else if (json_object_size(x) != 1)
			r = refuse(v, "", "must hold exactly one of setWeight, pause, analysis");
		else
			r = check_fields(v, x, step_fields);
		leave(v, old);
		if (r)
			return r;
	}
	return 0;
}
static int check_match_labels(struct vctx *v, const char *name, const json_t *val)
{
	return check_labels(v, name, val);
}
static const struct field selector_fields[] = {
	{"matchLabels", F_OBJ, false, check_match_labels},
	{"matchExpressions", F_STR, false, NULL},
	{0},
};
static int check_selector(struct vctx *v, const char *name, const json_t *val)
{
	int r = check_fields(v, val, selector_fields);
	const json_t *e = json_object_get(val, "matchExpressions");
	if (!r && e) {
		struct ctl_selector *s;
		if (ctl_selector_parse(json_string_value(e), &s) < 0)
			return refuse(v, "matchExpressions", "is not a valid label selector");
		ctl_selector_free(s);
	}
	return r;
}
static int check_on_failure(struct vctx *v, const char *name, const json_t *val)
{
	static const char *const a[] = {"rollback", "pause", NULL};
	return one_of(v, name, val, a);
}
static const struct field slo_fields[] = {
	{"name", F_STR, true, NULL},
	{"metric", F_STR, false, NULL},
	{"max", F_NUM, false, NULL},
	{"min", F_NUM, false, NULL},
	{0},
};
static int check_slos(struct vctx *v, const char *name, const json_t *val)
{
	size_t i;
	const json_t *x;
	json_array_foreach(val, i, x) {
		size_t old = enter(v, "[%zu]", i);
		int r = json_is_object(x) ? check_fields(v, x, slo_fields)
					  : refuse(v, "", "must be an object");
		leave(v, old);
		if (r)
			return r;
	}
	return 0;
}
static int check_positive(struct vctx *v, const char *name, const json_t *val)
{
	return json_integer_value(val) >= 1 ? 0 : refuse(v, name, "must be at least 1");
}
static const struct field rollout_spec[] = {
	{"release", F_STR, true, check_name},
	{"selector", F_OBJ, false, check_selector},
	{"steps", F_ARR, false, check_steps},
	{"slos", F_ARR, false, check_slos},
	{"onFailure", F_STR, false, check_on_failure},
	{"maxParallel", F_INT, false, check_positive},
	{"paused", F_BOOL, false, NULL},
	{"promote", F_BOOL, false, NULL},
	{"abort", F_BOOL, false, NULL},
	{"stableRelease", F_STR, false, check_name},
	{0},
};

/* AnalysisTemplate */
static int check_source(struct vctx *v, const char *name, const json_t *val)
{
	static const char *const a[] = {"builtin", "prometheus", NULL};
	return one_of(v, name, val, a);
}
static int check_inconclusive(struct vctx *v, const char *name, const json_t *val)
{
	static const char *const a[] = {"pause", "fail", "succeed", NULL};
	return one_of(v, name, val, a);
}
static const struct field metric_fields[] = {
	{"name", F_STR, true, check_nonempty},
	{"source", F_STR, true, check_source},
	{"query", F_STR, false, NULL},
	{"metric", F_STR, false, NULL},
	{"condition", F_STR, true, check_nonempty},
	{"interval", F_STR, false, check_duration},
	{"count", F_INT, false, check_positive},
	{"failureLimit", F_UINT, false, NULL},
	{"inconclusive", F_STR, false, check_inconclusive},
	{"compareToStable", F_BOOL, false, NULL},
	{"prometheusUrl", F_STR, false, NULL},
	{0},
};
static int check_metrics(struct vctx *v, const char *name, const json_t *val)
{
	size_t i;
	const json_t *x;
	if (json_array_size(val) == 0)
		return refuse(v, name, "at least one metric is required");
	json_array_foreach(val, i, x) {
		size_t old = enter(v, "[%zu]", i);
		int r = json_is_object(x) ? check_fields(v, x, metric_fields)
					  : refuse(v, "", "must be an object");
		leave(v, old);
		if (r)
			return r;
	}
	return 0;
}
static const struct field template_spec[] = {
	{"metrics", F_ARR, true, check_metrics},
	{0},
};

static const struct field *const specs[CTL_KIND__COUNT] = {
	gateway_spec, device_spec, release_spec, rollout_spec, template_spec,
};

/* Status: typed where the producers are known, open otherwise so newer
 * gateways can add fields. */
static int check_status_generic(struct vctx *v, const json_t *status)
{
	if (!json_is_object(status))
		return refuse(v, "", "must be an object");
	const json_t *x = json_object_get(status, "gateway");
	if (x && !(json_is_string(x) && ctl_obj_name_valid(json_string_value(x))))
		return refuse(v, "gateway", "must be a gateway name");
	x = json_object_get(status, "phase");
	if (x && !json_is_string(x))
		return refuse(v, "phase", "must be a string");
	x = json_object_get(status, "progress");
	if (x && !json_is_number(x))
		return refuse(v, "progress", "must be a number");
	x = json_object_get(status, "slots");
	if (x && !json_is_object(x) && !json_is_array(x))
		return refuse(v, "slots", "must be an object or array");
	return 0;
}

static void vinit(struct vctx *v, char *path, size_t path_len, char *reason, size_t reason_len)
{
	memset(v, 0, sizeof(*v));
	v->out_path = path;
	v->path_len = path_len;
	v->out_reason = reason;
	v->reason_len = reason_len;
	if (path && path_len)
		path[0] = 0;
	if (reason && reason_len)
		reason[0] = 0;
}

int ctl_obj_validate_status(enum ctl_kind kind, const json_t *status, char *path, size_t path_len,
			    char *reason, size_t reason_len)
{
	struct vctx v;
	vinit(&v, path, path_len, reason, reason_len);
	strcpy(v.path, "status");
	(void)kind;
	return check_status_generic(&v, status);
}

int ctl_obj_validate(enum ctl_kind kind, const json_t *obj, char *path, size_t path_len,
		     char *reason, size_t reason_len)
{
	struct vctx v;
	vinit(&v, path, path_len, reason, reason_len);
	if ((unsigned)kind >= CTL_KIND__COUNT)
		return refuse(&v, "kind", "unknown kind");
	if (!json_is_object(obj))
		return refuse(&v, "", "must be a JSON object");
	const json_t *x = json_object_get(obj, "apiVersion");
	if (!json_is_string(x) || strcmp(json_string_value(x), CTL_API_VERSION) != 0)
		return refuse(&v, "apiVersion", "must be \"" CTL_API_VERSION "\"");
	x = json_object_get(obj, "kind");
	if (!json_is_string(x) || strcmp(json_string_value(x), ctl_kind_name(kind)) != 0)
		return refuse(&v, "kind", "must be \"%s\"", ctl_kind_name(kind));
	const struct field top[] = {
		{"apiVersion", F_STR, true, NULL},
		{"kind", F_STR, true, NULL},
		{"metadata", F_OBJ, true, check_metadata},
		{"spec", F_OBJ, kind != CTL_KIND_GATEWAY && kind != CTL_KIND_DEVICE, NULL},
		{"status", F_OBJ, false, NULL},
		{0},
	};
	int r = check_fields(&v, obj, top);
	if (r)
		return r;
	x = json_object_get(obj, "spec");
	if (x) {
		size_t old = enter(&v, "spec");
		r = check_fields(&v, x, specs[kind]);
		leave(&v, old);
		if (r)
			return r;
	}
	x = json_object_get(obj, "status");
	if (x) {
		strcpy(v.path, "status");
		r = check_status_generic(&v, x);
	}
	return r;
}

uint64_t ctl_obj_rv(const json_t *obj)
{
	const json_t *rv = json_object_get(json_object_get(obj, "metadata"), "resourceVersion");
	const char *s = json_string_value(rv);
	if (!s || !*s || strspn(s, "0123456789") != strlen(s))
		return 0;
	return strtoull(s, NULL, 10);
}

const char *ctl_obj_owner(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "status"), "gateway"));
}

const char *ctl_obj_name(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

/* ---- label selectors ---- */

enum req_op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS };

struct req {
	enum req_op op;
	char *key;
	char **vals;
	size_t nvals;
};

struct ctl_selector {
	struct req reqs[CTL_SELECTOR_REQ_MAX];
	size_t n;
};

void ctl_selector_free(struct ctl_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->reqs[i].key);
		for (size_t j = 0; j < sel->reqs[i].nvals; j++)
			free(sel->reqs[i].vals[j]);
		free(sel->reqs[i].vals);
	}
	free(sel);
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

static bool is_tok(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static char *read_tok(const char **p)
{
	const char *s = *p;
	while (is_tok(**p))
		(*p)++;
	if (*p == s || (size_t)(*p - s) > CTL_LABEL_MAX + 254)
		return NULL;
	return strndup(s, (size_t)(*p - s));
}

static int add_val(struct req *r, char *v)
{
	if (!v)
		return -EINVAL;
	if (r->nvals >= 64) {
		free(v);
		return -E2BIG;
	}
	char **nv = realloc(r->vals, (r->nvals + 1) * sizeof(*nv));
	if (!nv) {
		free(v);
		return -ENOMEM;
	}
	r->vals = nv;
	r->vals[r->nvals++] = v;
	return 0;
}

int ctl_selector_parse(const char *text, struct ctl_selector **ret_sel)
{
	if (text && strlen(text) > CTL_SELECTOR_MAX)
		return -E2BIG;
	struct ctl_selector *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	const char *p = text ? text : "";
	int r = 0;
	skip_ws(&p);
	while (*p) {
		if (s->n >= CTL_SELECTOR_REQ_MAX) {
			r = -E2BIG;
			goto fail;
		}
		struct req *q = &s->reqs[s->n];
		bool neg = false;
		if (*p == '!') {
			neg = true;
			p++;
			skip_ws(&p);
		}
		q->key = read_tok(&p);
		if (!q->key) {
			r = -EINVAL;
			goto fail;
		}
		s->n++;
		skip_ws(&p);
		if (neg) {
			q->op = OP_NOTEXISTS;
		} else if (*p == ',' || !*p) {
			q->op = OP_EXISTS;
		} else if (p[0] == '!' && p[1] == '=') {
			q->op = OP_NE;
			p += 2;
		} else if (p[0] == '=') {
			q->op = OP_EQ;
			p += p[1] == '=' ? 2 : 1;
		} else if (strncmp(p, "in", 2) == 0 && (p[2] == ' ' || p[2] == '(')) {
			q->op = OP_IN;
			p += 2;
		} else if (strncmp(p, "notin", 5) == 0 && (p[5] == ' ' || p[5] == '(')) {
			q->op = OP_NOTIN;
			p += 5;
		} else {
			r = -EINVAL;
			goto fail;
		}
		skip_ws(&p);
		if (q->op == OP_EQ || q->op == OP_NE) {
			/* an empty value is allowed: "k=" */
			if (is_tok(*p)) {
				r = add_val(q, read_tok(&p));
			} else {
				r = add_val(q, strdup(""));
			}
			if (r)
				goto fail;
		} else if (q->op == OP_IN || q->op == OP_NOTIN) {
			if (*p++ != '(') {
				r = -EINVAL;
				goto fail;
			}
			for (;;) {
				skip_ws(&p);
				if ((r = add_val(q, read_tok(&p))))
					goto fail;
				skip_ws(&p);
				if (*p == ',') {
					p++;
					continue;
				}
				if (*p == ')') {
					p++;
					break;
				}
				r = -EINVAL;
				goto fail;
			}
		}
		skip_ws(&p);
		if (*p == ',') {
			p++;
			skip_ws(&p);
			if (!*p) {
				r = -EINVAL;
				goto fail;
			}
		} else if (*p) {
			r = -EINVAL;
			goto fail;
		}
	}
	*ret_sel = s;
	return 0;
fail:
	ctl_selector_free(s);
	return r;
}

bool ctl_selector_match(const struct ctl_selector *sel, const json_t *labels)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const struct req *q = &sel->reqs[i];
		const char *v = json_string_value(json_object_get(labels, q->key));
		bool in = false;
		for (size_t j = 0; v && j < q->nvals; j++)
			if (strcmp(v, q->vals[j]) == 0)
				in = true;
		switch (q->op) {
		case OP_EQ:
		case OP_IN:
			if (!in)
				return false;
			break;
		case OP_NE:
		case OP_NOTIN:
			if (in)
				return false;
			break;
		case OP_EXISTS:
			if (!v)
				return false;
			break;
		case OP_NOTEXISTS:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

size_t ctl_selector_pinned(const struct ctl_selector *sel, const char **ret_key,
			   const char *const **ret_vals)
{
	for (size_t i = 0; sel && i < sel->n; i++) {
		const struct req *q = &sel->reqs[i];
		if (q->op == OP_EQ || q->op == OP_IN) {
			*ret_key = q->key;
			*ret_vals = (const char *const *)q->vals;
			return q->nvals;
		}
	}
	return 0;
}
