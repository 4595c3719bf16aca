/* Query strings and paths: the HTTP input the gateway parses itself. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http.h"

void gw_query_init(struct gw_query *q)
{
	q->limit = 1000;
	q->offset = 0;
	q->state = -1;
	q->n = 0;
}

static int u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *ret)
{
	if (!isdigit((unsigned char)v[0]) || strlen(v) > 10)
		return -EINVAL;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end || x < lo || x > hi)
		return -EINVAL;
	*ret = (uint32_t)x;
	return 0;
}

int gw_query_set(struct gw_query *q, const char *key, const char *value)
{
	if (q->n >= GW_HTTP_QUERY_MAX)
		return -E2BIG;
	if (!value)
		value = "";
	if (strlen(value) > GW_HTTP_QUERY_VALUE_MAX)
		return -E2BIG;
	int rc;
	if (strcmp(key, "limit") == 0) {
		rc = u32(value, 1, GW_HTTP_LIMIT_MAX, &q->limit);
	} else if (strcmp(key, "offset") == 0) {
		rc = u32(value, 0, 100000000, &q->offset);
	} else if (strcmp(key, "state") == 0) {
		rc = 0;
		if (strcmp(value, "online") == 0)
			q->state = 1;
		else if (strcmp(value, "offline") == 0)
			q->state = 0;
		else if (strcmp(value, "any") == 0)
			q->state = -1;
		else
			rc = -EINVAL;
	} else {
		rc = -EINVAL;
	}
	if (rc == 0)
		q->n++;
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes src[0..n) into dst (cap bytes with NUL); -E2BIG or -EINVAL. */
static int decode(const char *src, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
			if (h < 0 || l < 0)
				return -EINVAL;
			c = (char)(h * 16 + l);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0)
			return -EINVAL;
		if (o + 1 >= cap)
			return -E2BIG;
		dst[o++] = c;
	}
	dst[o] = 0;
	return 0;
}

int gw_query_parse(struct gw_query *q, const char *text, size_t len)
{
	if (len > GW_HTTP_QUERY_TEXT_MAX)
		return -E2BIG;
	size_t i = 0;
	while (i < len) {
		const char *amp = memchr(text + i, '&', len - i);
		size_t end = amp ? (size_t)(amp - text) : len;
		if (end > i) {
			const char *eq = memchr(text + i, '=', end - i);
			size_t kend = eq ? (size_t)(eq - text) : end;
			char key[32], val[GW_HTTP_QUERY_VALUE_MAX + 1];
			int rc = decode(text + i, kend - i, key, sizeof(key));
			if (rc == 0)
				rc = eq ? decode(eq + 1, end - kend - 1, val, sizeof(val))
					: (val[0] = 0, 0);
			if (rc == 0)
				rc = gw_query_set(q, key, val);
			if (rc)
				return rc;
		}
		i = end + 1;
	}
	return 0;
}

int gw_http_check_path(const char *path, size_t len)
{
	if (len > GW_HTTP_PATH_MAX)
		return -E2BIG;
	if (len == 0 || path[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c >= 0x7f)
			return -EINVAL;
		if (c == '/' && i + 1 < len) {
			const char *r = path + i + 1;
			size_t left = len - i - 1;
			if (r[0] == '/')
				return -EINVAL;
			if (r[0] == '.' && (left == 1 || r[1] == '/'))
				return -EINVAL;
			if (left >= 2 && r[0] == '.' && r[1] == '.' && (left == 2 || r[2] == '/'))
				return -EINVAL;
		}
	}
	return 0;
}
