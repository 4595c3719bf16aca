/* YAML/JSON manifests to JSON (libyaml's event parser), and JSON to YAML. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "manifest.h"

__attribute__((format(printf, 3, 4))) static int set_err(char *err, size_t len, const char *fmt,
							 ...)
{
	if (err && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool all_digits(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* YAML 1.2 core schema for a plain scalar. */
static json_t *plain_scalar(const char *v)
{
	if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
		return json_null();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return json_true();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return json_false();
	if (all_digits(v) && strlen(v) < 19)
		return json_integer(strtoll(v, NULL, 10));
	if (strncmp(v, "0x", 2) == 0 && v[2] && strspn(v + 2, "0123456789abcdefABCDEF") == strlen(v + 2) &&
	    strlen(v + 2) <= 15)
		return json_integer(strtoll(v + 2, NULL, 16));
	char *end;
	double d = strtod(v, &end);
	if (!*end && end != v && isfinite(d) && strspn(v, "0123456789+-.eE") == strlen(v))
		return json_real(d);
	return json_string(v);
}

struct frame {
	json_t *node;
	char *key; /* pending key in a mapping */
};

int ctl_manifest_parse(const char *text, size_t len, json_t **ret_docs, char *err, size_t err_len)
{
	return ctl_manifest_parse_lines(text, len, ret_docs, NULL, err, err_len);
}

int ctl_manifest_parse_lines(const char *text, size_t len, json_t **ret_docs, json_t **ret_lines,
			     char *err, size_t err_len)
{
	if (len > CTL_MANIFEST_MAX)
		return set_err(err, err_len, "manifest larger than %d bytes", CTL_MANIFEST_MAX),
		       -E2BIG;
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	json_t *docs = json_array();
	json_t *lines = json_array();
	size_t doc_line = 0;
	struct frame st[CTL_MANIFEST_DEPTH_MAX + 1];
	int depth = 0, r = 0;
	json_t *doc = NULL;
	bool done = false;
	while (!done) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			r = set_err(err, err_len, "line %zu: %s", p.problem_mark.line + 1,
				    p.problem ? p.problem : "syntax error");
			break;
		}
		json_t *val = NULL;
		bool push = false;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			doc = NULL;
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (doc && !json_is_null(doc)) {
				if (!json_is_object(doc)) {
					r = set_err(err, err_len, "document %zu is not a mapping",
						    json_array_size(docs) + 1);
				} else if (json_array_size(docs) >= CTL_MANIFEST_DOCS_MAX) {
					set_err(err, err_len, "more than %d documents",
						CTL_MANIFEST_DOCS_MAX);
					r = -E2BIG;
				} else {
					json_array_append(docs, doc);
					json_array_append_new(lines,
							      json_integer((json_int_t)doc_line));
				}
			}
			json_decref(doc);
			doc = NULL;
			break;
		case YAML_ALIAS_EVENT:
			r = set_err(err, err_len, "line %zu: aliases are not supported",
				    ev.start_mark.line + 1);
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			val = plain ? plain_scalar(v) : json_stringn(v, ev.data.scalar.length);
			if (!val)
				r = set_err(err, err_len, "line %zu: not valid UTF-8",
					    ev.start_mark.line + 1);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
			val = json_array();
			push = true;
			break;
		case YAML_MAPPING_START_EVENT:
			val = json_object();
			push = true;
			if (depth == 0)
				doc_line = ev.start_mark.line + 1;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				depth--;
				free(st[depth].key);
				st[depth].key = NULL;
				json_decref(st[depth].node);
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r)
			break;
		if (!val)
			continue;
		/* attach val to its parent */
		if (depth == 0) {
			json_decref(doc);
			doc = json_incref(val);
		} else {
			struct frame *f = &st[depth - 1];
			if (json_is_array(f->node)) {
				json_array_append(f->node, val);
			} else if (!f->key) {
				if (!json_is_string(val)) {
					r = set_err(err, err_len, "line %zu: keys must be scalars",
						    p.mark.line + 1);
				} else {
					f->key = strdup(json_string_value(val));
				}
				json_decref(val);
				if (r)
					break;
				continue;
			} else {
				if (json_object_get(f->node, f->key)) {
					r = set_err(err, err_len, "line %zu: duplicate key '%s'",
						    p.mark.line + 1, f->key);
					json_decref(val);
					break;
				}
				json_object_set(f->node, f->key, val);
				free(f->key);
				f->key = NULL;
			}
		}
		if (push) {
			if (depth >= CTL_MANIFEST_DEPTH_MAX) {
				json_decref(val);
				set_err(err, err_len, "nesting deeper than %d", CTL_MANIFEST_DEPTH_MAX);
				r = -E2BIG;
				break;
			}
			st[depth].node = val;
			st[depth].key = NULL;
			depth++;
		} else {
			json_decref(val);
		}
	}
	while (depth > 0) {
		depth--;
		free(st[depth].key);
		json_decref(st[depth].node);
	}
	json_decref(doc);
	yaml_parser_delete(&p);
	if (r) {
		json_decref(docs);
		json_decref(lines);
		return r;
	}
	*ret_docs = docs;
	if (ret_lines)
		*ret_lines = lines;
	else
		json_decref(lines);
	return 0;
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	json_t *as = plain_scalar(s);
	bool q = !json_is_string(as);
	json_decref(as);
	if (q)
		return true;
	if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) || s[strlen(s) - 1] == ' ')
		return true;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == '#' || (*c == ':' && (c[1] == ' ' || !c[1])))
			return true;
	return false;
}

static void print_scalar(FILE *f, const json_t *j)
{
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		if (needs_quotes(s)) {
			char *q = json_dumps(j, JSON_ENCODE_ANY);
			fputs(q ? q : "\"\"", f);
			free(q);
		} else {
			fputs(s, f);
		}
		return;
	}
	char *q = json_dumps(j, JSON_ENCODE_ANY);
	fputs(q ? q : "null", f);
	free(q);
}

static bool is_empty_container(const json_t *j)
{
	return (json_is_object(j) && json_object_size(j) == 0) ||
	       (json_is_array(j) && json_array_size(j) == 0);
}

static void yaml_node(FILE *f, const json_t *j, int indent);

static void yaml_value_after_key(FILE *f, const json_t *v, int indent)
{
	if (is_empty_container(v)) {
		fputs(json_is_object(v) ? " {}\n" : " []\n", f);
	} else if (json_is_object(v) || json_is_array(v)) {
		fputc('\n', f);
		yaml_node(f, v, indent + (json_is_object(v) ? 2 : 0));
	} else {
		fputc(' ', f);
		print_scalar(f, v);
		fputc('\n', f);
	}
}

static void yaml_node(FILE *f, const json_t *j, int indent)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) {
			fprintf(f, "%*s", indent, "");
			json_t *ks = json_string(k);
			print_scalar(f, ks);
			json_decref(ks);
			fputc(':', f);
			yaml_value_after_key(f, v, indent);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			fprintf(f, "%*s-", indent, "");
			if (json_is_object(v) && json_object_size(v)) {
				/* first key on the dash line */
				bool first = true;
				json_t *x;
				json_object_foreach(v, k, x) {
					fprintf(f, first ? " " : "%*s", first ? 0 : indent + 2, "");
					first = false;
					json_t *ks = json_string(k);
					print_scalar(f, ks);
					json_decref(ks);
					fputc(':', f);
					yaml_value_after_key(f, x, indent + 2);
				}
			} else if (json_is_array(v) && json_array_size(v)) {
				fputc('\n', f);
				yaml_node(f, v, indent + 2);
			} else {
				yaml_value_after_key(f, v, indent);
			}
		}
	} else {
		fprintf(f, "%*s", indent, "");
		print_scalar(f, j);
		fputc('\n', f);
	}
}

void ctl_manifest_print_yaml(FILE *f, const json_t *j)
{
	yaml_node(f, j, 0);
}
