/* Device links over TCP, serial ttys and ptys, in the one epoll loop. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/transport.h"

#define PEER_MAX GW_CONFIG_PATH_MAX
#define FLOOD_LOG_MS 10000u

struct port;

struct gw_conn {
	struct gw_watch w;
	struct gw_transport *t;
	struct port *port;
	void *lctx;
	int kind;
	int dead;
	uint32_t events;
	uint8_t *out;
	size_t out_len, out_cap;
	uint64_t tokens_t;     /* last refill, ms */
	uint64_t flood_log_t;  /* last flood warning, ms */
	uint64_t flood_bytes;  /* dropped since then */
	uint32_t tokens;
	struct gw_conn *prev, *next;
	char peer[PEER_MAX];
};

struct port {
	int kind; /* GW_TRANSPORT_SERIAL or _PTY */
	char path[GW_CONFIG_PATH_MAX];
	uint32_t baud;
	struct gw_conn *conn;
	int keep_slave; /* pty: our own slave fd, so the master never hangs up */
	uint64_t next_try;
	int last_err;
	struct port *next;
};

struct gw_transport {
	struct gw_loop *loop;
	const struct gw_transport_ops *ops;
	void *ctx;
	struct gw_transport_limits lim;
	struct gw_watch listen;
	uint16_t tcp_port;
	uint64_t refuse_log_t;
	struct gw_conn *conns; /* live links */
	struct gw_conn *dead;  /* closed, freed at the next tick */
	struct port *ports;
	unsigned links[GW_TRANSPORT_COUNT];
	struct gw_transport_stats st[GW_TRANSPORT_COUNT];
	const struct gw_transport_observer *obs;
	void *obs_ctx;
};

#define OBSERVE(t, fn, ...)                                                          \
	do {                                                                          \
		if ((t)->obs && (t)->obs->fn)                                         \
			(t)->obs->fn((t)->obs_ctx, __VA_ARGS__);                      \
	} while (0)

void gw_transport_set_observer(struct gw_transport *t, const struct gw_transport_observer *obs,
			       void *ctx)
{
	t->obs = obs;
	t->obs_ctx = ctx;
}

int gw_conn_fd(const struct gw_conn *c)
{
	return c->w.fd;
}

static const char *const kind_names[GW_TRANSPORT_COUNT] = {"tcp", "serial", "pty"};

const char *gw_transport_kind_name(int kind)
{
	return kind >= 0 && kind < GW_TRANSPORT_COUNT ? kind_names[kind] : "unknown";
}

int gw_conn_kind(const struct gw_conn *c)
{
	return c->kind;
}

const char *gw_conn_peer(const struct gw_conn *c)
{
	return c->peer;
}

unsigned gw_transport_links(const struct gw_transport *t, int kind)
{
	return kind >= 0 && kind < GW_TRANSPORT_COUNT ? t->links[kind] : 0;
}

const struct gw_transport_stats *gw_transport_get_stats(const struct gw_transport *t, int kind)
{
	return &t->st[kind];
}

uint16_t gw_transport_tcp_port(const struct gw_transport *t)
{
	return t->tcp_port;
}

void gw_transport_set_limits(struct gw_transport *t, const struct gw_transport_limits *lim)
{
	t->lim = *lim;
}

static void set_events(struct gw_conn *c, uint32_t ev)
{
	if (c->events != ev && !c->dead) {
		c->events = ev;
		(void)gw_loop_mod(c->t->loop, &c->w, ev);
	}
}

static void conn_free(struct gw_conn *c)
{
	free(c->out);
	free(c);
}

void gw_conn_close(struct gw_conn *c, int reason)
{
	if (c->dead)
		return;
	struct gw_transport *t = c->t;
	c->dead = 1;
	gw_loop_del(t->loop, &c->w);
	OBSERVE(t, closing, c->w.fd);
	close(c->w.fd);
	c->w.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = t->dead;
	t->dead = c;
	t->links[c->kind]--;
	t->st[c->kind].closed++;
	if (c->port) {
		c->port->conn = NULL;
		c->port->next_try = gw_now_ms() + t->lim.reconnect_ms;
	}
	if (c->lctx)
		t->ops->closed(c->lctx, reason);
	c->lctx = NULL;
}

/* Writes what is buffered; returns 0 or a negative errno (link broken). */
static int flush_out(struct gw_conn *c)
{
	while (c->out_len > 0) {
		OBSERVE(c->t, before_write, c->w.fd);
		ssize_t n = write(c->w.fd, c->out, c->out_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->t->st[c->kind].bytes_out += (uint64_t)n;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	set_events(c, c->out_len ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

int gw_conn_write(struct gw_conn *c, const uint8_t *buf, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (c->out_len + len > GW_CONN_OUT_MAX) {
		c->t->st[c->kind].bytes_dropped_out += len;
		return -ENOBUFS;
	}
	if (c->out_len == 0) {
		ssize_t n;
		OBSERVE(c->t, before_write, c->w.fd);
		do
			n = write(c->w.fd, buf, len);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			/* broken: the read side reports the hang-up */
			return -errno;
		}
		if (n > 0) {
			c->t->st[c->kind].bytes_out += (uint64_t)n;
			buf += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 512;
		while (cap < c->out_len + len)
			cap *= 2;
		if (cap > GW_CONN_OUT_MAX)
			cap = GW_CONN_OUT_MAX;
		uint8_t *p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	set_events(c, EPOLLIN | EPOLLOUT);
	return 0;
}

static void conn_input(struct gw_conn *c, const uint8_t *buf, size_t n)
{
	struct gw_transport *t = c->t;
	uint64_t now = gw_now_ms();
	uint64_t dt = now - c->tokens_t;
	if (dt > 0) {
		uint64_t add = (uint64_t)t->lim.rate_max * dt / 1000u;
		uint64_t tok = c->tokens + add;
		c->tokens = (uint32_t)(tok > t->lim.rate_max ? t->lim.rate_max : tok);
		c->tokens_t = now;
	}
	t->st[c->kind].bytes_in += n;
	size_t take = n < c->tokens ? n : c->tokens;
	c->tokens -= (uint32_t)take;
	if (take < n) {
		t->st[c->kind].bytes_dropped_in += n - take;
		c->flood_bytes += n - take;
		if (now - c->flood_log_t >= FLOOD_LOG_MS) {
			char q[GW_LOG_QMAX];
			gw_warn("link over its input rate; dropping input",
				"transport=%s peer=%s rate_max=%u dropped_bytes=%llu",
				kind_names[c->kind], gw_log_quote(q, sizeof(q), c->peer),
				(unsigned)t->lim.rate_max, (unsigned long long)c->flood_bytes);
			c->flood_log_t = now;
			c->flood_bytes = 0;
		}
	}
	if (take && c->lctx)
		t->ops->input(c->lctx, buf, take);
}

static void on_conn(struct gw_watch *w, uint32_t events)
{
	struct gw_conn *c = w->ctx;
	if (events & EPOLLOUT) {
		int rc = flush_out(c);
		if (rc) {
			gw_conn_close(c, rc);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		uint8_t buf[GW_CONN_READ_MAX];
		ssize_t n = read(c->w.fd, buf, sizeof(buf));
		if (n > 0) {
			OBSERVE(c->t, after_read, c->w.fd, (size_t)n);
			conn_input(c, buf, (size_t)n);
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		gw_conn_close(c, n == 0 ? -ECONNRESET : -errno);
	}
}

static struct gw_conn *conn_new(struct gw_transport *t, int fd, int kind, const char *peer)
{
	struct gw_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->t = t;
	c->kind = kind;
	c->w.fd = fd;
	c->w.fn = on_conn;
	c->w.ctx = c;
	c->events = EPOLLIN;
	c->tokens = t->lim.rate_max;
	c->tokens_t = gw_now_ms();
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (gw_loop_add(t->loop, &c->w, EPOLLIN) != 0) {
		close(fd);
		free(c);
		return NULL;
	}
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->links[kind]++;
	t->st[kind].opened++;
	OBSERVE(t, opened, fd, kind);
	c->lctx = t->ops->opened(t->ctx, c);
	if (!c->lctx) {
		gw_conn_close(c, -ECONNREFUSED);
		return NULL;
	}
	return c;
}

int gw_transport_adopt(struct gw_transport *t, int fd, int kind, const char *peer)
{
	if (fd < 0 || kind < 0 || kind >= GW_TRANSPORT_COUNT || !peer) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		close(fd);
		return -EINVAL;
	}
	return conn_new(t, fd, kind, peer) ? 0 : -ECONNREFUSED;
}

static unsigned total_links(const struct gw_transport *t)
{
	unsigned n = 0;
	for (int k = 0; k < GW_TRANSPORT_COUNT; k++)
		n += t->links[k];
	return n;
}

static void on_listen(struct gw_watch *w, uint32_t events)
{
	struct gw_transport *t = w->ctx;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(w->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				uint64_t now = gw_now_ms();
				if (now - t->refuse_log_t > 10000) {
					gw_error("cannot accept device connections", "err=%s",
						 strerror(errno));
					t->refuse_log_t = now;
				}
			}
			return;
		}
		if (total_links(t) >= t->lim.max_links) {
			close(fd);
			t->st[GW_TRANSPORT_TCP].refused++;
			uint64_t now = gw_now_ms();
			if (now - t->refuse_log_t > 10000) {
				gw_warn("refusing device connection: max_devices reached",
					"max_devices=%u", (unsigned)t->lim.max_links);
				t->refuse_log_t = now;
			}
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		char peer[PEER_MAX], ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		snprintf(peer, sizeof(peer), "%s:%u", ip, ntohs(sa.sin_port));
		(void)conn_new(t, fd, GW_TRANSPORT_TCP, peer);
	}
	(void)events;
}

int gw_transport_listen_tcp(struct gw_transport *t, const char *addr)
{
	uint32_t ip;
	uint16_t port;
	if (gw_config_parse_addr(addr, &ip, &port))
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = ip;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	socklen_t sl = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		t->tcp_port = ntohs(sa.sin_port);
	t->listen.fd = fd;
	t->listen.fn = on_listen;
	t->listen.ctx = t;
	int rc = gw_loop_add(t->loop, &t->listen, EPOLLIN);
	if (rc) {
		close(fd);
		t->listen.fd = -1;
	}
	return rc;
}

void gw_transport_stop_listening(struct gw_transport *t)
{
	if (t->listen.fd >= 0) {
		gw_loop_del(t->loop, &t->listen);
		close(t->listen.fd);
		t->listen.fd = -1;
	}
}

static speed_t baud_const(uint32_t baud)
{
	switch (baud) {
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 230400: return B230400;
	case 460800: return B460800;
	case 921600: return B921600;
	case 1000000: return B1000000;
	case 2000000: return B2000000;
	case 3000000: return B3000000;
	default: return B115200;
	}
}

static int open_serial(struct port *p)
{
	int fd = open(p->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct termios tio;
	if (tcgetattr(fd, &tio) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	cfsetispeed(&tio, baud_const(p->baud));
	cfsetospeed(&tio, baud_const(p->baud));
	if (tcsetattr(fd, TCSANOW, &tio) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	(void)tcflush(fd, TCIOFLUSH);
	return fd;
}

static int open_pty(struct port *p)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (m < 0)
		return -errno;
	char name[128];
	if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof(name)) != 0) {
		int e = errno;
		close(m);
		return -e;
	}
	struct termios tio;
	if (tcgetattr(m, &tio) == 0) {
		cfmakeraw(&tio);
		(void)tcsetattr(m, TCSANOW, &tio);
	}
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		int e = errno;
		close(m);
		return -e;
	}
	if (tcgetattr(s, &tio) == 0) {
		cfmakeraw(&tio);
		(void)tcsetattr(s, TCSANOW, &tio);
	}
	char tmp[GW_CONFIG_PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.new", p->path);
	(void)unlink(tmp);
	if (symlink(name, tmp) != 0 || rename(tmp, p->path) != 0) {
		int e = errno;
		(void)unlink(tmp);
		close(s);
		close(m);
		return -e;
	}
	if (p->keep_slave >= 0)
		close(p->keep_slave);
	p->keep_slave = s;
	return m;
}

static void port_try_open(struct gw_transport *t, struct port *p, uint64_t now)
{
	int fd = p->kind == GW_TRANSPORT_PTY ? open_pty(p) : open_serial(p);
	char q[GW_LOG_QMAX];
	if (fd < 0) {
		p->next_try = now + t->lim.reconnect_ms;
		if (fd != p->last_err)
			gw_warn("cannot open device port; retrying", "transport=%s path=%s err=%s",
				kind_names[p->kind], gw_log_quote(q, sizeof(q), p->path),
				strerror(-fd));
		p->last_err = fd;
		return;
	}
	p->last_err = 0;
	gw_info("device port open", "transport=%s path=%s baud=%u", kind_names[p->kind],
		gw_log_quote(q, sizeof(q), p->path), (unsigned)p->baud);
	p->conn = conn_new(t, fd, p->kind, p->path);
	if (p->conn)
		p->conn->port = p;
	else
		p->next_try = now + t->lim.reconnect_ms;
}

static int add_port(struct gw_transport *t, int kind, const char *path, uint32_t baud)
{
	if (gw_transport_has_port(t, path))
		return -EEXIST;
	if (strlen(path) >= GW_CONFIG_PATH_MAX)
		return -ENAMETOOLONG;
	struct port *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = kind;
	p->baud = baud;
	p->keep_slave = -1;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->next = t->ports;
	t->ports = p;
	port_try_open(t, p, gw_now_ms());
	return 0;
}

int gw_transport_add_serial(struct gw_transport *t, const char *path, uint32_t baud)
{
	return add_port(t, GW_TRANSPORT_SERIAL, path, baud);
}

int gw_transport_add_pty(struct gw_transport *t, const char *link_path)
{
	return add_port(t, GW_TRANSPORT_PTY, link_path, 0);
}

int gw_transport_has_port(const struct gw_transport *t, const char *path)
{
	for (struct port *p = t->ports; p; p = p->next)
		if (strcmp(p->path, path) == 0)
			return 1;
	return 0;
}

void gw_transport_foreach_port(const struct gw_transport *t,
			       void (*fn)(void *arg, const char *path), void *arg)
{
	struct port *next;
	for (struct port *p = t->ports; p; p = next) {
		next = p->next;
		fn(arg, p->path);
	}
}

static void port_free(struct port *p)
{
	if (p->conn) {
		p->conn->port = NULL;
		gw_conn_close(p->conn, -ESHUTDOWN);
	}
	if (p->keep_slave >= 0) {
		close(p->keep_slave);
		(void)unlink(p->path);
	}
	free(p);
}

int gw_transport_remove_port(struct gw_transport *t, const char *path)
{
	for (struct port **pp = &t->ports; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->path, path) == 0) {
			struct port *p = *pp;
			*pp = p->next;
			port_free(p);
			return 0;
		}
	}
	return -ENOENT;
}

void gw_transport_tick(struct gw_transport *t, uint64_t now_ms)
{
	while (t->dead) {
		struct gw_conn *c = t->dead;
		t->dead = c->next;
		conn_free(c);
	}
	for (struct port *p = t->ports; p; p = p->next)
		if (!p->conn && now_ms >= p->next_try)
			port_try_open(t, p, now_ms);
}

size_t gw_transport_drain(struct gw_transport *t, int timeout_ms)
{
	uint64_t end = gw_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		size_t pending = 0;
		for (struct gw_conn *c = t->conns; c; c = c->next) {
			if (c->out_len && flush_out(c) != 0)
				c->out_len = 0;
			pending += c->out_len;
		}
		if (pending == 0 || gw_now_ms() >= end)
			return pending;
		usleep(5000);
	}
}

int gw_transport_new(struct gw_loop *loop, const struct gw_transport_ops *ops, void *ctx,
		     const struct gw_transport_limits *lim, struct gw_transport **ret_t)
{
	if (!loop || !ops || !ops->opened || !ops->input || !ops->closed || !lim)
		return -EINVAL;
	struct gw_transport *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->ops = ops;
	t->ctx = ctx;
	t->lim = *lim;
	t->listen.fd = -1;
	*ret_t = t;
	return 0;
}

void gw_transport_free(struct gw_transport *t)
{
	if (!t)
		return;
	gw_transport_stop_listening(t);
	while (t->ports) {
		struct port *p = t->ports;
		t->ports = p->next;
		port_free(p);
	}
	while (t->conns)
		gw_conn_close(t->conns, -ESHUTDOWN);
	gw_transport_tick(t, 0);
	free(t);
}
