/* Configuration: a table of keys drives the file, env, flags and --help. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/log.h"

enum kind { K_STR, K_ADDR, K_U32, K_LEVEL, K_SERIAL, K_PTY };

struct key {
	const char *name; /* file key; flag is --name with '_' as '-' */
	enum kind kind;
	size_t off, cap;
	uint32_t lo, hi;
	const char *help;
	const char *def;
};

#define F(m) offsetof(struct gw_config, m), sizeof(((struct gw_config *)0)->m)

static const struct key keys[] = {
	{"name", K_STR, F(name), 0, 0, "gateway name, the gateway label of flotilla_gateway_build_info", "gw"},
	{"listen_tcp", K_ADDR, F(listen_tcp), 0, 0,
	 "device TCP listener HOST:PORT (devices, fleetsim, QEMU -serial tcp:); empty: off",
	 "127.0.0.1:7700"},
	{"http_listen", K_ADDR, F(http_listen), 0, 0,
	 "HTTP server HOST:PORT for /metrics, /healthz, /readyz, /api/v1; empty: off",
	 "127.0.0.1:9780"},
	{"db", K_STR, F(db_path), 0, 0, "SQLite device registry (WAL mode)",
	 "/var/lib/flotilla/gateway.db"},
	{"log_level", K_LEVEL, F(log_level), 0, 0, "debug, info, warn or error", "info"},
	{"heartbeat_s", K_U32, F(heartbeat_s), 1, 3600, "heartbeat interval asked of devices, s",
	 "30"},
	{"max_frame", K_U32, F(max_frame), 128, 4096, "largest frame offered in hello_ack, bytes",
	 "256"},
	{"offline_after_s", K_U32, F(offline_after_s), 0, 86400,
	 "silence after which a device counts offline; 0: 3 heartbeats + 5 s", "0"},
	{"flush_ms", K_U32, F(flush_ms), 10, 600000, "registry write-behind interval, ms", "1000"},
	{"max_devices", K_U32, F(max_devices), 1, 1000000, "device links accepted at once",
	 "20000"},
	{"link_rate_max", K_U32, F(link_rate_max), 64, 100000000,
	 "input bytes/s per link; beyond it input is dropped (a flooding device)", "32768"},
	{"reconnect_ms", K_U32, F(reconnect_ms), 10, 600000,
	 "retry interval to reopen a tty or pty that went away, ms", "1000"},
	{"controller", K_STR, F(controller), 0, 0,
	 "controller URL (http:// or https://) the gateway registers with and reports to; "
	 "empty: standalone", ""},
	{"controller_token", K_STR, F(controller_token), 0, 0,
	 "bearer token of this gateway at the controller (role gateway NAME)", ""},
	{"labels", K_STR, F(labels), 0, 0, "k=v,k=v labels of the Gateway object", ""},
	{"report_interval_ms", K_U32, F(report_interval_ms), 100, 3600000,
	 "controller heartbeat and device status report interval, ms", "5000"},
	{"serial", K_SERIAL, 0, 0, 0, 0,
	 "PATH[@BAUD]: a serial tty (or a pty slave) in raw mode; repeatable (env: comma list)",
	 ""},
	{"pty", K_PTY, 0, 0, 0, 0,
	 "LINK: create a pty and symlink its slave at LINK for a device; repeatable", ""},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

int gw_config_parse_addr(const char *s, uint32_t *ret_ip_be, uint16_t *ret_port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= 32)
		return -EINVAL;
	char host[32];
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	struct in_addr a;
	if (strcmp(host, "localhost") == 0)
		a.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL;
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)colon[1]))
		return -EINVAL;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p > 65535)
		return -EINVAL;
	*ret_ip_be = a.s_addr;
	*ret_port = (uint16_t)p;
	return 0;
}

static int parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *ret)
{
	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*ret = (uint32_t)x;
	return 0;
}

static int parse_serial(const char *v, struct gw_config_serial *ret)
{
	struct gw_config_serial s = {.baud = 115200};
	const char *at = strrchr(v, '@');
	size_t plen = at ? (size_t)(at - v) : strlen(v);
	if (plen == 0 || plen >= sizeof(s.path) || v[0] != '/')
		return -EINVAL;
	memcpy(s.path, v, plen);
	s.path[plen] = 0;
	if (at) {
		static const uint32_t ok[] = {9600, 19200, 38400, 57600, 115200, 230400,
					      460800, 921600, 1000000, 2000000, 3000000};
		uint32_t b;
		if (parse_u32(at + 1, 1, 4000000, &b))
			return -EINVAL;
		size_t i;
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			if (ok[i] == b)
				break;
		if (i == sizeof(ok) / sizeof(ok[0]))
			return -EINVAL;
		s.baud = b;
	}
	*ret = s;
	return 0;
}

/* Sets one list item; a source above the list's clears it first. */
static int set_list_item(struct gw_config *cfg, const struct key *k, const char *v, int src,
			 char *err)
{
	int which = k->kind == K_SERIAL ? 0 : 1;
	unsigned n = cfg->list_src[which] < src ? 0 : (which ? cfg->n_pty : cfg->n_serial);
	if (v[0] == 0) { /* an empty value clears the list */
		if (which)
			cfg->n_pty = 0;
		else
			cfg->n_serial = 0;
		cfg->list_src[which] = (uint8_t)src;
		return 0;
	}
	if (n >= GW_CONFIG_LIST_MAX) {
		snprintf(err, GW_CONFIG_ERR_MAX, "%s: more than %d entries", k->name,
			 GW_CONFIG_LIST_MAX);
		return -ENOSPC;
	}
	if (which == 0) {
		struct gw_config_serial s;
		if (parse_serial(v, &s)) {
			snprintf(err, GW_CONFIG_ERR_MAX,
				 "serial: want an absolute PATH[@BAUD] with a standard baud rate");
			return -EINVAL;
		}
		cfg->serial[n] = s;
		cfg->n_serial = n + 1;
	} else {
		if (v[0] != '/' || strlen(v) >= GW_CONFIG_PATH_MAX) {
			snprintf(err, GW_CONFIG_ERR_MAX, "pty: want an absolute path under %d bytes",
				 GW_CONFIG_PATH_MAX);
			return -EINVAL;
		}
		snprintf(cfg->pty[n], GW_CONFIG_PATH_MAX, "%s", v);
		cfg->n_pty = n + 1;
	}
	cfg->list_src[which] = (uint8_t)src;
	return 0;
}

int gw_config_set(struct gw_config *cfg, const char *key, const char *value, int src,
		  char err[GW_CONFIG_ERR_MAX])
{
	const struct key *k = find_key(key);
	if (!k) {
		char q[GW_LOG_QMAX];
		snprintf(err, GW_CONFIG_ERR_MAX, "unknown key %s", gw_log_quote(q, sizeof(q), key));
		return -ENOENT;
	}
	char *field = (char *)cfg + k->off;
	uint32_t x;
	uint32_t ip;
	uint16_t port;
	int lvl;
	switch (k->kind) {
	case K_STR:
		if (strlen(value) >= k->cap || (strcmp(key, "db") == 0 && value[0] == 0)) {
			snprintf(err, GW_CONFIG_ERR_MAX, "%s: empty or longer than %zu bytes", key,
				 k->cap - 1);
			return -EINVAL;
		}
		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f ||
			    (strcmp(key, "name") == 0 && (*p == '"' || *p == '\\'))) {
				snprintf(err, GW_CONFIG_ERR_MAX, "%s: control or quote character", key);
				return -EINVAL;
			}
		snprintf(field, k->cap, "%s", value);
		return 0;
	case K_ADDR:
		if (value[0] && (strlen(value) >= k->cap || gw_config_parse_addr(value, &ip, &port))) {
			snprintf(err, GW_CONFIG_ERR_MAX, "%s: want IPv4:PORT (or empty)", key);
			return -EINVAL;
		}
		snprintf(field, k->cap, "%s", value);
		return 0;
	case K_U32:
		if (parse_u32(value, k->lo, k->hi, &x)) {
			snprintf(err, GW_CONFIG_ERR_MAX, "%s: want an integer in %u..%u", key,
				 (unsigned)k->lo, (unsigned)k->hi);
			return -EINVAL;
		}
		if (k->cap == 2)
			*(uint16_t *)(void *)field = (uint16_t)x;
		else
			*(uint32_t *)(void *)field = x;
		return 0;
	case K_LEVEL:
		lvl = gw_log_parse_level(value);
		if (lvl < 0) {
			snprintf(err, GW_CONFIG_ERR_MAX, "%s: want debug, info, warn or error", key);
			return -EINVAL;
		}
		cfg->log_level = lvl;
		return 0;
	case K_SERIAL:
	case K_PTY:
		return set_list_item(cfg, k, value, src, err);
	}
	return -EINVAL;
}

void gw_config_default(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	char err[GW_CONFIG_ERR_MAX];
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].def[0])
			(void)gw_config_set(cfg, keys[i].name, keys[i].def, GW_CONFIG_SRC_DEFAULT, err);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int gw_config_parse(struct gw_config *cfg, const char *text, size_t len,
		    char err[GW_CONFIG_ERR_MAX])
{
	if (len > GW_CONFIG_FILE_MAX) {
		snprintf(err, GW_CONFIG_ERR_MAX, "config is %zu bytes, over the %d-byte limit", len,
			 GW_CONFIG_FILE_MAX);
		return -E2BIG;
	}
	size_t pos = 0;
	unsigned lineno = 0;
	while (pos < len) {
		lineno++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char line[GW_CONFIG_LINE_MAX];
		if (llen >= sizeof(line)) {
			snprintf(err, GW_CONFIG_ERR_MAX, "line %u: longer than %d bytes", lineno,
				 GW_CONFIG_LINE_MAX - 1);
			return -E2BIG;
		}
		memcpy(line, text + pos, llen);
		line[llen] = 0;
		pos += llen + (nl ? 1 : 0);
		if (memchr(line, 0, llen)) {
			snprintf(err, GW_CONFIG_ERR_MAX, "line %u: NUL byte", lineno);
			return -EINVAL;
		}
		char *p = line;
		while (is_blank(*p))
			p++;
		if (*p == 0 || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, GW_CONFIG_ERR_MAX, "line %u: want key = value", lineno);
			return -EINVAL;
		}
		char *ke = eq;
		while (ke > p && is_blank(ke[-1]))
			ke--;
		*ke = 0;
		for (char *c = p; *c; c++)
			if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_')) {
				snprintf(err, GW_CONFIG_ERR_MAX, "line %u: bad key", lineno);
				return -EINVAL;
			}
		if (*p == 0) {
			snprintf(err, GW_CONFIG_ERR_MAX, "line %u: empty key", lineno);
			return -EINVAL;
		}
		char *v = eq + 1;
		while (is_blank(*v))
			v++;
		char *ve = v + strlen(v);
		if (*v == '"') {
			char *close = strchr(v + 1, '"');
			if (!close) {
				snprintf(err, GW_CONFIG_ERR_MAX, "line %u: unterminated quote", lineno);
				return -EINVAL;
			}
			char *rest = close + 1;
			while (is_blank(*rest))
				rest++;
			if (*rest && *rest != '#') {
				snprintf(err, GW_CONFIG_ERR_MAX, "line %u: text after the quoted value",
					 lineno);
				return -EINVAL;
			}
			*close = 0;
			v++;
		} else {
			char *hash = strchr(v, '#');
			if (hash)
				ve = hash;
			while (ve > v && is_blank(ve[-1]))
				ve--;
			*ve = 0;
		}
		char e2[GW_CONFIG_ERR_MAX];
		int rc = gw_config_set(cfg, p, v, GW_CONFIG_SRC_FILE, e2);
		if (rc) {
			snprintf(err, GW_CONFIG_ERR_MAX, "line %u: %.200s", lineno, e2);
			return rc;
		}
	}
	return 0;
}

static int load_file(struct gw_config *cfg, const char *path, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, GW_CONFIG_ERR_MAX, "cannot open %.200s: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(GW_CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, GW_CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			snprintf(err, GW_CONFIG_ERR_MAX, "cannot read %.200s: %s", path, strerror(e));
			free(buf);
			close(fd);
			return -e;
		}
		if (n == 0 || len + (size_t)n > GW_CONFIG_FILE_MAX) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	char e2[GW_CONFIG_ERR_MAX];
	int rc = gw_config_parse(cfg, buf, len, e2);
	free(buf);
	if (rc)
		snprintf(err, GW_CONFIG_ERR_MAX, "%.60s: %.190s", path, e2);
	return rc;
}

/* FLOTILLA_GW_LISTEN_TCP -> listen_tcp; lists are comma-separated. */
static int load_env(struct gw_config *cfg, char **envp, char *err)
{
	for (char **e = envp; e && *e; e++) {
		if (strncmp(*e, "FLOTILLA_GW_", 12) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t klen = (size_t)(eq - (*e + 12));
		char key[40];
		if (klen == 0 || klen >= sizeof(key))
			continue;
		for (size_t i = 0; i < klen; i++)
			key[i] = (char)tolower((unsigned char)(*e)[12 + i]);
		key[klen] = 0;
		if (strcmp(key, "config") == 0)
			continue;
		const struct key *k = find_key(key);
		if (!k) {
			snprintf(err, GW_CONFIG_ERR_MAX, "environment: unknown variable FLOTILLA_GW_%.30s",
				 key);
			return -ENOENT;
		}
		char e2[GW_CONFIG_ERR_MAX];
		int rc;
		if (k->kind == K_SERIAL || k->kind == K_PTY) {
			char list[GW_CONFIG_LINE_MAX * 4];
			snprintf(list, sizeof(list), "%s", eq + 1);
			rc = gw_config_set(cfg, key, "", GW_CONFIG_SRC_ENV, e2);
			char *save = NULL;
			for (char *it = strtok_r(list, ",", &save); it && rc == 0;
			     it = strtok_r(NULL, ",", &save))
				rc = gw_config_set(cfg, key, it, GW_CONFIG_SRC_ENV, e2);
		} else {
			rc = gw_config_set(cfg, key, eq + 1, GW_CONFIG_SRC_ENV, e2);
		}
		if (rc) {
			snprintf(err, GW_CONFIG_ERR_MAX, "environment FLOTILLA_GW_%.30s: %.180s", key, e2);
			return rc;
		}
	}
	return 0;
}

/* --listen-tcp=X or --listen-tcp X; fills key (with '_') and value. */
static int flag_split(int argc, char **argv, int *i, char *key, size_t cap, const char **ret_v)
{
	const char *a = argv[*i];
	if (strncmp(a, "--", 2) != 0)
		return -EINVAL;
	a += 2;
	const char *eq = strchr(a, '=');
	size_t klen = eq ? (size_t)(eq - a) : strlen(a);
	if (klen == 0 || klen >= cap)
		return -EINVAL;
	for (size_t j = 0; j < klen; j++)
		key[j] = a[j] == '-' ? '_' : a[j];
	key[klen] = 0;
	if (eq) {
		*ret_v = eq + 1;
	} else if (strcmp(key, "help") == 0) {
		*ret_v = "";
	} else {
		if (*i + 1 >= argc)
			return -EINVAL;
		*ret_v = argv[++*i];
	}
	return 0;
}

int gw_config_load(struct gw_config *cfg, int argc, char **argv, char **envp, int *ret_help,
		   char err[GW_CONFIG_ERR_MAX])
{
	gw_config_default(cfg);
	*ret_help = 0;
	const char *path = NULL;
	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, "FLOTILLA_GW_CONFIG=", 19) == 0)
			path = *e + 19;
	for (int i = 1; i < argc; i++) {
		char key[40];
		const char *v;
		if (flag_split(argc, argv, &i, key, sizeof(key), &v)) {
			snprintf(err, GW_CONFIG_ERR_MAX, "bad argument %.100s (see --help)", argv[i]);
			return -EINVAL;
		}
		if (strcmp(key, "help") == 0)
			*ret_help = 1;
		if (strcmp(key, "config") == 0)
			path = v;
	}
	if (*ret_help)
		return 0;
	if (path && path[0]) {
		if (strlen(path) >= GW_CONFIG_PATH_MAX) {
			snprintf(err, GW_CONFIG_ERR_MAX, "config path too long");
			return -EINVAL;
		}
		snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", path);
		int rc = load_file(cfg, path, err);
		if (rc)
			return rc;
	}
	int rc = load_env(cfg, envp, err);
	if (rc)
		return rc;
	for (int i = 1; i < argc; i++) {
		char key[40];
		const char *v;
		(void)flag_split(argc, argv, &i, key, sizeof(key), &v);
		if (strcmp(key, "config") == 0)
			continue;
		char e2[GW_CONFIG_ERR_MAX];
		rc = gw_config_set(cfg, key, v, GW_CONFIG_SRC_FLAG, e2);
		if (rc) {
			snprintf(err, GW_CONFIG_ERR_MAX, "flag --%.30s: %.200s", key, e2);
			return rc;
		}
	}
	return 0;
}

void gw_config_print_help(const char *prog, void *file)
{
	FILE *f = file;
	fprintf(f,
		"usage: %s [--config PATH] [--KEY VALUE | --KEY=VALUE]...\n\n"
		"The Flotilla gateway: device links (serial, pty, TCP), the device registry,\n"
		"Prometheus metrics and a local JSON API.\n\n"
		"Settings come from, lowest precedence first: defaults, the config file\n"
		"(--config PATH or FLOTILLA_GW_CONFIG; lines of `key = value`, # comments,\n"
		"see deploy/gateway.conf.example), environment variables FLOTILLA_GW_<KEY>,\n"
		"then flags. A list (serial, pty) set by a higher source replaces the lower\n"
		"one's. SIGHUP rereads the file and the environment (flags still win);\n"
		"SIGTERM and SIGINT stop gracefully.\n\n"
		"  %-18s %-26s %s\n",
		prog, "--config PATH", "FLOTILLA_GW_CONFIG", "config file (default: none)");
	for (size_t i = 0; i < N_KEYS; i++) {
		char flag[48], env[48];
		snprintf(flag, sizeof(flag), "--%s", keys[i].name);
		for (char *c = flag; *c; c++)
			if (*c == '_')
				*c = '-';
		snprintf(env, sizeof(env), "FLOTILLA_GW_%s", keys[i].name);
		for (char *c = env; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		fprintf(f, "  %-18s %-26s %s (default: %s)\n", flag, env, keys[i].help,
			keys[i].def[0] ? keys[i].def : "none");
	}
	fprintf(f, "  %-18s %-26s %s\n", "--help", "", "this text");
}
