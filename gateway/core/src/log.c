/* logfmt lines on stderr. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/log.h"

static enum gw_log_level min_level = GW_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

void gw_log_set_level(enum gw_log_level level)
{
	min_level = level;
}

enum gw_log_level gw_log_get_level(void)
{
	return min_level;
}

int gw_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return GW_LOG_WARN;
	return -EINVAL;
}

int gw_log_enabled(enum gw_log_level level)
{
	return level >= min_level;
}

const char *gw_log_quote(char *buf, size_t cap, const char *s)
{
	size_t o = 0;
	int bare = s[0] != 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c > 0x7e || c == '"' || c == '=' || c == '\\')
			bare = 0;
	}
	if (cap == 0)
		return buf;
	if (bare) {
		snprintf(buf, cap, "%s", s);
		return buf;
	}
	if (cap < 3) {
		buf[0] = 0;
		return buf;
	}
	buf[o++] = '"';
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char tmp[5];
		size_t n;
		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			n = 2;
		} else if (c < 0x20 || c > 0x7e) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			n = 4;
		} else {
			tmp[0] = (char)c;
			n = 1;
		}
		if (o + n + 2 > cap)
			break;
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

void gw_log(enum gw_log_level level, const char *msg, const char *kv, ...)
{
	if (level < min_level)
		return;
	int saved = errno;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char q[512];
	int n = snprintf(line, sizeof(line),
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, names[level & 3],
			 gw_log_quote(q, sizeof(q), msg[0] ? msg : "-"));
	if (n < 0)
		n = 0;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (kv && kv[0] && len + 2 < sizeof(line)) {
		line[len++] = ' ';
		va_list ap;
		va_start(ap, kv);
		int k = vsnprintf(line + len, sizeof(line) - len, kv, ap);
		va_end(ap);
		if (k > 0)
			len += (size_t)k < sizeof(line) - len ? (size_t)k : sizeof(line) - len - 1;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	(void)!write(2, line, len);
	errno = saved;
}
