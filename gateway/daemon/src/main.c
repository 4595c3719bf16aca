/* flotilla-gateway: the Linux edge daemon devices talk to.
 * One epoll loop: device links (TCP, serial, pty), the HTTP server and
 * signals. See --help and deploy/gateway.conf.example. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "gateway/config.h"
#ifdef GW_HAVE_CTLINK
#include "gateway/ctlink.h"
#endif
#include "gateway/device.h"
#include "gateway/ebpf.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/metrics.h"
#include "gateway/registry.h"
#include "gateway/transport.h"

#ifndef FLOTILLA_VERSION
#define FLOTILLA_VERSION "0.0.0"
#endif

#define TICK_MS 100
#define DRAIN_MS 2000
#define FLUSH_SLICE 1000 /* registry rows per tick */

extern char **environ;

struct gw {
	struct gw_config cfg;
	int argc;
	char **argv;
	struct gw_loop *loop;
	struct gw_registry *reg;
	struct gw_devices *devs;
	struct gw_transport *tr;
	struct gw_metrics *metrics;
	struct gw_ebpf *ebpf;
	struct gw_http *http;
#ifdef GW_HAVE_CTLINK
	struct gw_ctlink *ctl; /* NULL: standalone */
#endif
	struct gw_watch sig;
	int stop, reload;
	int flushing; /* a write-behind round is under way */
	uint64_t last_flush, started_ms;
	double start_wall;
	uint64_t reloads, reload_errors;
};

static void collect_self(void *ctx, struct gw_mbuf *b)
{
	struct gw *g = ctx;
	gw_mbuf_family(b, "flotilla_gateway_build_info", "gauge",
		       "Build of the running gateway; the value is 1.");
	const char *l[] = {"version", FLOTILLA_VERSION, "gateway", g->cfg.name, NULL};
	gw_mbuf_sample(b, "flotilla_gateway_build_info", l, 1);
	gw_mbuf_family(b, "flotilla_gateway_uptime_seconds", "gauge",
		       "Seconds since the gateway started.");
	gw_mbuf_sample(b, "flotilla_gateway_uptime_seconds", NULL,
		       (double)(gw_now_ms() - g->started_ms) / 1000.0);
	gw_mbuf_family(b, "flotilla_gateway_config_reloads_total", "counter",
		       "Configuration reloads (SIGHUP), by result.");
	const char *ok[] = {"result", "ok", NULL}, *bad[] = {"result", "error", NULL};
	gw_mbuf_sample(b, "flotilla_gateway_config_reloads_total", ok,
		       (double)(g->reloads - g->reload_errors));
	gw_mbuf_sample(b, "flotilla_gateway_config_reloads_total", bad, (double)g->reload_errors);
	uint64_t fl, fe;
	gw_registry_stats(g->reg, &fl, &fe);
	gw_mbuf_family(b, "flotilla_gateway_registry_devices", "gauge",
		       "Devices the registry holds.");
	gw_mbuf_sample(b, "flotilla_gateway_registry_devices", NULL,
		       (double)gw_registry_count(g->reg));
	gw_mbuf_family(b, "flotilla_gateway_registry_flushes_total", "counter",
		       "Registry write-behind transactions committed.");
	gw_mbuf_sample(b, "flotilla_gateway_registry_flushes_total", NULL, (double)fl);
	gw_mbuf_family(b, "flotilla_gateway_registry_errors_total", "counter",
		       "Registry database errors.");
	gw_mbuf_sample(b, "flotilla_gateway_registry_errors_total", NULL, (double)fe);
	if (g->http) {
		uint64_t ok_n, ref_n;
		gw_http_stats(g->http, &ok_n, &ref_n);
		gw_mbuf_family(b, "flotilla_gateway_http_requests_total", "counter",
			       "HTTP requests, by result.");
		const char *lo[] = {"result", "served", NULL}, *lr[] = {"result", "refused", NULL};
		gw_mbuf_sample(b, "flotilla_gateway_http_requests_total", lo, (double)ok_n);
		gw_mbuf_sample(b, "flotilla_gateway_http_requests_total", lr, (double)ref_n);
	}
}

static void collect_transport(void *ctx, struct gw_mbuf *b)
{
	struct gw *g = ctx;
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} f[] = {
		{"flotilla_gateway_links_opened_total", "counter", "Device links opened.",
		 offsetof(struct gw_transport_stats, opened)},
		{"flotilla_gateway_links_closed_total", "counter", "Device links closed.",
		 offsetof(struct gw_transport_stats, closed)},
		{"flotilla_gateway_links_refused_total", "counter",
		 "Device connections refused at max_devices.",
		 offsetof(struct gw_transport_stats, refused)},
		{"flotilla_gateway_link_received_bytes_total", "counter",
		 "Bytes read from device links.", offsetof(struct gw_transport_stats, bytes_in)},
		{"flotilla_gateway_link_sent_bytes_total", "counter", "Bytes written to device links.",
		 offsetof(struct gw_transport_stats, bytes_out)},
		{"flotilla_gateway_link_dropped_in_bytes_total", "counter",
		 "Input bytes dropped over a link's rate limit (flooding devices).",
		 offsetof(struct gw_transport_stats, bytes_dropped_in)},
		{"flotilla_gateway_link_dropped_out_bytes_total", "counter",
		 "Output bytes dropped on a full link buffer.",
		 offsetof(struct gw_transport_stats, bytes_dropped_out)},
	};
	gw_mbuf_family(b, "flotilla_gateway_links", "gauge", "Device links open now.");
	for (int k = 0; k < GW_TRANSPORT_COUNT; k++) {
		const char *l[] = {"transport", gw_transport_kind_name(k), NULL};
		gw_mbuf_sample(b, "flotilla_gateway_links", l, gw_transport_links(g->tr, k));
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		gw_mbuf_family(b, f[i].name, f[i].type, f[i].help);
		for (int k = 0; k < GW_TRANSPORT_COUNT; k++) {
			const char *l[] = {"transport", gw_transport_kind_name(k), NULL};
			const struct gw_transport_stats *st = gw_transport_get_stats(g->tr, k);
			uint64_t v = *(const uint64_t *)(const void *)((const char *)st + f[i].off);
			gw_mbuf_sample(b, f[i].name, l, (double)v);
		}
	}
}

/* eBPF latency probes (gateway/ebpf): their families, as they render them. */
static void collect_ebpf(void *ctx, struct gw_mbuf *b)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	int rc = gw_ebpf_write_metrics(ctx, f);
	fclose(f);
	if (rc == 0 && text)
		gw_mbuf_printf(b, "%s", text);
	free(text);
}

/* Device links and the probes: which fds to measure, with what labels, and
 * the userspace timing around the gateway's own I/O when BPF is not there. */
static enum gw_ebpf_transport ebpf_transport(int kind)
{
	switch (kind) {
	case GW_TRANSPORT_TCP: return GW_EBPF_TRANSPORT_TCP;
	case GW_TRANSPORT_SERIAL: return GW_EBPF_TRANSPORT_SERIAL;
	case GW_TRANSPORT_PTY: return GW_EBPF_TRANSPORT_PTY;
	default: return GW_EBPF_TRANSPORT_OTHER;
	}
}

static void link_opened(void *ctx, int fd, int kind)
{
	(void)gw_ebpf_watch_fd(ctx, fd, ebpf_transport(kind), "unknown", "none");
}

static void link_closing(void *ctx, int fd)
{
	(void)gw_ebpf_unwatch_fd(ctx, fd);
}

static void link_before_write(void *ctx, int fd)
{
	gw_ebpf_note_write(ctx, fd);
}

static void link_after_read(void *ctx, int fd, size_t n)
{
	gw_ebpf_note_read(ctx, fd, (ssize_t)n);
}

static const struct gw_transport_observer link_observer = {
	.opened = link_opened,
	.closing = link_closing,
	.before_write = link_before_write,
	.after_read = link_after_read,
};

static void link_labels(void *ctx, int fd, int kind, const char *release, const char *cohort)
{
	/* Watching again updates the labels. */
	(void)gw_ebpf_watch_fd(ctx, fd, ebpf_transport(kind), release, cohort);
}

static void link_describe(void *ctx, int fd, json_t *link)
{
	struct gw_ebpf_summary sum;

	if (!link || gw_ebpf_device_summary(ctx, fd, &sum) != 0)
		return;
	json_object_set_new(link, "latency",
			    json_pack("{s:I,s:f,s:f,s:f,s:s}", "count", (json_int_t)sum.count,
				      "p50_seconds", sum.p50_seconds, "p99_seconds", sum.p99_seconds,
				      "mean_seconds", sum.mean_seconds, "source",
				      sum.from_kernel ? "ebpf" : "userspace"));
}

static const struct gw_devices_linkwatch link_watch = {
	.labels = link_labels,
	.describe = link_describe,
};

/* gw_ebpf says once what runs and, if BPF does not, why. */
static void ebpf_log(void *arg, const char *line)
{
	char q[GW_LOG_QMAX * 4];
	(void)arg;
	if (strncmp(line, "ebpf: disabled", 14) == 0)
		gw_warn("ebpf", "state=%s", gw_log_quote(q, sizeof(q), line));
	else
		gw_info("ebpf", "state=%s", gw_log_quote(q, sizeof(q), line));
}

static int h_metrics(void *ctx, const char *rest, const struct gw_query *q,
		     struct gw_http_reply *rep)
{
	struct gw *g = ctx;
	(void)rest;
	if (q->n)
		return -EINVAL;
	int rc = gw_metrics_render(g->metrics, &rep->body, &rep->len);
	if (rc) {
		gw_error("cannot render metrics", "err=%s", strerror(-rc));
		return -ENOMEM;
	}
	rep->content_type = GW_METRICS_CONTENT_TYPE;
	return 0;
}

static int h_healthz(void *ctx, const char *rest, const struct gw_query *q,
		     struct gw_http_reply *rep)
{
	(void)ctx;
	(void)rest;
	(void)q;
	rep->body = strdup("ok\n");
	rep->len = 3;
	rep->content_type = "text/plain";
	return rep->body ? 0 : -ENOMEM;
}

static int h_readyz(void *ctx, const char *rest, const struct gw_query *q,
		    struct gw_http_reply *rep)
{
	struct gw *g = ctx;
	(void)rest;
	(void)q;
	const char *why = g->stop ? "stopping\n" : "ready\n";
	rep->status = g->stop ? 503 : 200;
	rep->body = strdup(why);
	rep->len = strlen(why);
	rep->content_type = "text/plain";
	return rep->body ? 0 : -ENOMEM;
}

static void devices_config(const struct gw_config *c, struct gw_devices_config *dc)
{
	dc->heartbeat_s = c->heartbeat_s;
	dc->max_frame = c->max_frame;
	dc->offline_after_s = c->offline_after_s;
}

static void limits(const struct gw_config *c, struct gw_transport_limits *l)
{
	l->max_links = c->max_devices;
	l->rate_max = c->link_rate_max;
	l->reconnect_ms = c->reconnect_ms;
}

static void add_ports(struct gw *g)
{
	char q[GW_LOG_QMAX];
	for (unsigned i = 0; i < g->cfg.n_serial; i++) {
		if (gw_transport_has_port(g->tr, g->cfg.serial[i].path))
			continue;
		int rc = gw_transport_add_serial(g->tr, g->cfg.serial[i].path, g->cfg.serial[i].baud);
		if (rc)
			gw_error("cannot add serial port", "path=%s err=%s",
				 gw_log_quote(q, sizeof(q), g->cfg.serial[i].path), strerror(-rc));
	}
	for (unsigned i = 0; i < g->cfg.n_pty; i++) {
		if (gw_transport_has_port(g->tr, g->cfg.pty[i]))
			continue;
		int rc = gw_transport_add_pty(g->tr, g->cfg.pty[i]);
		if (rc)
			gw_error("cannot add pty", "path=%s err=%s",
				 gw_log_quote(q, sizeof(q), g->cfg.pty[i]), strerror(-rc));
	}
}

static void drop_unlisted(void *arg, const char *path)
{
	struct gw *g = arg;
	for (unsigned i = 0; i < g->cfg.n_serial; i++)
		if (strcmp(g->cfg.serial[i].path, path) == 0)
			return;
	for (unsigned i = 0; i < g->cfg.n_pty; i++)
		if (strcmp(g->cfg.pty[i], path) == 0)
			return;
	char q[GW_LOG_QMAX];
	gw_info("port removed by reload", "path=%s", gw_log_quote(q, sizeof(q), path));
	(void)gw_transport_remove_port(g->tr, path);
}

static void reload(struct gw *g)
{
	struct gw_config c;
	char err[GW_CONFIG_ERR_MAX];
	int help;
	g->reloads++;
	int rc = gw_config_load(&c, g->argc, g->argv, environ, &help, err);
	char q[GW_LOG_QMAX + 100];
	if (rc) {
		g->reload_errors++;
		gw_error("reload failed; keeping the running configuration", "err=%s",
			 gw_log_quote(q, sizeof(q), err));
		return;
	}
	if (strcmp(c.listen_tcp, g->cfg.listen_tcp) || strcmp(c.http_listen, g->cfg.http_listen) ||
	    strcmp(c.db_path, g->cfg.db_path))
		gw_warn("listen_tcp, http_listen and db change only on restart", NULL);
	snprintf(c.listen_tcp, sizeof(c.listen_tcp), "%s", g->cfg.listen_tcp);
	snprintf(c.http_listen, sizeof(c.http_listen), "%s", g->cfg.http_listen);
	snprintf(c.db_path, sizeof(c.db_path), "%s", g->cfg.db_path);
	if (strcmp(c.controller, g->cfg.controller) || strcmp(c.controller_token, g->cfg.controller_token) ||
	    strcmp(c.labels, g->cfg.labels) || c.report_interval_ms != g->cfg.report_interval_ms ||
	    strcmp(c.name, g->cfg.name))
		gw_warn("name and controller settings change only on restart", NULL);
	memcpy(c.controller, g->cfg.controller, sizeof(c.controller));
	memcpy(c.controller_token, g->cfg.controller_token, sizeof(c.controller_token));
	memcpy(c.labels, g->cfg.labels, sizeof(c.labels));
	memcpy(c.name, g->cfg.name, sizeof(c.name));
	c.report_interval_ms = g->cfg.report_interval_ms;
	g->cfg = c;
	gw_log_set_level((enum gw_log_level)c.log_level);
	struct gw_devices_config dc;
	devices_config(&c, &dc);
	gw_devices_set_config(g->devs, &dc);
	struct gw_transport_limits lim;
	limits(&c, &lim);
	gw_transport_set_limits(g->tr, &lim);
	gw_transport_foreach_port(g->tr, drop_unlisted, g);
	add_ports(g);
	gw_info("configuration reloaded", "heartbeat_s=%u serial=%u pty=%u log_level=%d",
		(unsigned)c.heartbeat_s, c.n_serial, c.n_pty, c.log_level);
}

static void on_signal(struct gw_watch *w, uint32_t events)
{
	(void)events;
	struct gw *g = w->ctx;
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			g->reload = 1;
		} else {
			gw_info("stopping", "signal=%s", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			g->stop = 1;
		}
	}
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Registry write-behind: new devices at once; updates every flush_ms, in
 * slices of FLUSH_SLICE per tick so a big fleet never stalls the loop. */
static void flush(struct gw *g, uint64_t now)
{
	if (gw_registry_has_new(g->reg) || g->flushing || now - g->last_flush >= g->cfg.flush_ms) {
		if (!g->flushing)
			g->last_flush = now;
		/* errors are logged and counted; the devices stay dirty */
		(void)gw_registry_flush_max(g->reg, FLUSH_SLICE);
		g->flushing = gw_registry_dirty(g->reg) > 0;
	}
}

#ifdef GW_HAVE_CTLINK
/* The OTA engine's entry point; until it exists, assignments are logged. */
static void on_assignment(void *ctx, const struct gw_assignment *a, int removed)
{
	char q1[GW_LOG_QMAX], q2[GW_LOG_QMAX];
	(void)ctx;
	gw_info(removed ? "assignment removed" : "assignment", "device=%s release=%s action=%s",
		gw_log_quote(q1, sizeof(q1), a->device), gw_log_quote(q2, sizeof(q2), a->release),
		a->action[0] ? a->action : "none");
}
#endif

/* Controller link (gateway/ctlink) when `controller` is set; else standalone. */
static int setup_controller(struct gw *g)
{
	char q[GW_LOG_QMAX];
	if (!g->cfg.controller[0]) {
		gw_info("standalone: no controller configured", NULL);
		return 0;
	}
#ifdef GW_HAVE_CTLINK
	char addr[GW_CONFIG_ADDR_MAX + 16] = "";
	if (g->http) {
		/* the port bound, not the one asked for (":0" takes any) */
		const char *colon = strrchr(g->cfg.http_listen, ':');
		int hl = colon ? (int)(colon - g->cfg.http_listen) : 0;
		snprintf(addr, sizeof(addr), "http://%.*s:%u", hl, g->cfg.http_listen,
			 (unsigned)gw_http_port(g->http));
	}
	struct gw_ctlink_config cc = {
		.server = g->cfg.controller,
		.token = g->cfg.controller_token,
		.name = g->cfg.name,
		.address = addr,
		.labels = g->cfg.labels,
		.version = FLOTILLA_VERSION,
		.ebpf = g->ebpf && gw_ebpf_enabled(g->ebpf),
		.report_ms = g->cfg.report_interval_ms,
	};
	int rc = gw_ctlink_new(&cc, g->reg, &g->ctl);
	if (rc) {
		gw_error("cannot start the controller link", "err=%s", strerror(-rc));
		return rc;
	}
	gw_ctlink_set_hook(g->ctl, on_assignment, g);
	(void)gw_metrics_add(g->metrics, "controller", gw_ctlink_collect, g->ctl);
	if (g->http)
		(void)gw_http_handle(g->http, "/api/v1/assignments", gw_ctlink_api_assignments, g->ctl);
	gw_info("controller link started", "server=%s interval_ms=%u",
		gw_log_quote(q, sizeof(q), g->cfg.controller), (unsigned)g->cfg.report_interval_ms);
	return 0;
#else
	gw_error("built without the controller link", "server=%s",
		 gw_log_quote(q, sizeof(q), g->cfg.controller));
	return -ENOTSUP;
#endif
}

static int setup(struct gw *g)
{
	char q[GW_LOG_QMAX];
	int rc = gw_loop_new(&g->loop);
	if (rc)
		return rc;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	g->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	g->sig.fn = on_signal;
	g->sig.ctx = g;
	if (g->sig.fd < 0 || (rc = gw_loop_add(g->loop, &g->sig, EPOLLIN)) != 0)
		return g->sig.fd < 0 ? -errno : rc;
	rc = gw_registry_open(g->cfg.db_path, &g->reg);
	if (rc) {
		gw_error("cannot open the device registry", "path=%s",
			 gw_log_quote(q, sizeof(q), g->cfg.db_path));
		return rc;
	}
	gw_info("registry loaded", "path=%s devices=%zu", gw_log_quote(q, sizeof(q), g->cfg.db_path),
		gw_registry_count(g->reg));
	struct gw_devices_config dc;
	devices_config(&g->cfg, &dc);
	if ((rc = gw_devices_new(g->reg, &dc, &g->devs)) != 0)
		return rc;
	struct gw_transport_limits lim;
	limits(&g->cfg, &lim);
	if ((rc = gw_transport_new(g->loop, gw_devices_transport_ops(), g->devs, &lim, &g->tr)) != 0)
		return rc;
	if ((rc = gw_metrics_new(&g->metrics)) != 0)
		return rc;
	(void)gw_metrics_add(g->metrics, "process", gw_metrics_collect_process, NULL);
	(void)gw_metrics_add(g->metrics, "gateway", collect_self, g);
	(void)gw_metrics_add(g->metrics, "links", collect_transport, g);
	(void)gw_metrics_add(g->metrics, "devices", gw_devices_collect, g->devs);
	/* FLOTILLA_GATEWAY_EBPF=off runs on the userspace fallback. */
	const char *ebpf_env = getenv("FLOTILLA_GATEWAY_EBPF");
	struct gw_ebpf_config ec = {
		.disable = ebpf_env && (!strcmp(ebpf_env, "off") || !strcmp(ebpf_env, "0")),
		.log = ebpf_log,
	};
	if ((rc = gw_ebpf_new(&ec, &g->ebpf)) != 0)
		return rc;
	(void)gw_metrics_add(g->metrics, "ebpf", collect_ebpf, g->ebpf);
	gw_transport_set_observer(g->tr, &link_observer, g->ebpf);
	gw_devices_set_linkwatch(g->devs, &link_watch, g->ebpf);
	if (g->cfg.listen_tcp[0]) {
		rc = gw_transport_listen_tcp(g->tr, g->cfg.listen_tcp);
		if (rc) {
			gw_error("cannot listen for devices", "addr=%s err=%s", g->cfg.listen_tcp,
				 strerror(-rc));
			return rc;
		}
		gw_info("listening for devices", "addr=%s port=%u", g->cfg.listen_tcp,
			(unsigned)gw_transport_tcp_port(g->tr));
	}
	if (g->cfg.http_listen[0]) {
		rc = gw_http_new(g->loop, g->cfg.http_listen, &g->http);
		if (rc) {
			gw_error("cannot start the HTTP server", "addr=%s err=%s", g->cfg.http_listen,
				 strerror(-rc));
			return rc;
		}
		(void)gw_http_handle(g->http, "/metrics", h_metrics, g);
		(void)gw_http_handle(g->http, "/healthz", h_healthz, g);
		(void)gw_http_handle(g->http, "/readyz", h_readyz, g);
		(void)gw_http_handle(g->http, "/api/v1/devices", gw_devices_api_list, g->devs);
		(void)gw_http_handle(g->http, "/api/v1/devices/", gw_devices_api_one, g->devs);
		gw_info("http listening", "addr=%s port=%u", g->cfg.http_listen,
			(unsigned)gw_http_port(g->http));
	}
	add_ports(g);
	return setup_controller(g);
}

static void teardown(struct gw *g)
{
	if (g->tr) {
		gw_transport_stop_listening(g->tr);
		size_t left = gw_transport_drain(g->tr, DRAIN_MS);
		if (left)
			gw_warn("output not drained at stop", "bytes=%zu", left);
	}
#ifdef GW_HAVE_CTLINK
	gw_ctlink_free(g->ctl);
#endif
	gw_http_free(g->http);
	gw_transport_free(g->tr); /* ends every session: devices go offline */
	gw_devices_free(g->devs);
	if (g->reg) {
		int n = gw_registry_flush(g->reg);
		gw_info("registry flushed", "devices_written=%d total=%zu", n, gw_registry_count(g->reg));
	}
	gw_registry_close(g->reg);
	gw_metrics_free(g->metrics);
	gw_ebpf_free(g->ebpf);
	if (g->sig.fd >= 0)
		close(g->sig.fd);
	gw_loop_free(g->loop);
}

int main(int argc, char **argv)
{
	static struct gw g;
	char err[GW_CONFIG_ERR_MAX];
	/* Before any thread exists (libraries may start some), so that every
	 * thread blocks them and only the signalfd sees them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int help;
	g.argc = argc;
	g.argv = argv;
	g.sig.fd = -1;
	int rc = gw_config_load(&g.cfg, argc, argv, environ, &help, err);
	if (help) {
		gw_config_print_help(argv[0], stdout);
		return 0;
	}
	char q[GW_LOG_QMAX + 100];
	if (rc) {
		gw_error("bad configuration", "err=%s", gw_log_quote(q, sizeof(q), err));
		return 2;
	}
	gw_log_set_level((enum gw_log_level)g.cfg.log_level);
	raise_fd_limit();
	g.started_ms = gw_now_ms();
	gw_info("starting", "version=%s name=%s config=%s", FLOTILLA_VERSION, g.cfg.name,
		gw_log_quote(q, sizeof(q), g.cfg.config_path[0] ? g.cfg.config_path : "none"));
	rc = setup(&g);
	if (rc) {
		teardown(&g);
		gw_error("cannot start", "err=%s", strerror(-rc));
		return 1;
	}
	gw_info("ready", "devices_known=%zu", gw_registry_count(g.reg));
	uint64_t next_tick = gw_now_ms();
	while (!g.stop) {
		uint64_t now = gw_now_ms();
		uint64_t until = next_tick;
		uint64_t wake = gw_devices_next_wake(g.devs);
		if (wake < until)
			until = wake;
		int wait = until > now ? (int)(until - now) : 0;
		rc = gw_loop_run_once(g.loop, wait);
		if (rc < 0) {
			gw_error("event loop failed", "err=%s", strerror(-rc));
			break;
		}
		if (g.reload) {
			g.reload = 0;
			reload(&g);
		}
		now = gw_now_ms();
		if (now >= gw_devices_next_wake(g.devs))
			gw_devices_tick(g.devs, now); /* link timers, as they fall due */
		if (now >= next_tick) {
			gw_transport_tick(g.tr, now);
			gw_devices_tick(g.devs, now);
			gw_http_tick(g.http);
			flush(&g, now);
#ifdef GW_HAVE_CTLINK
			gw_ctlink_tick(g.ctl, now); /* never waits on the network */
#endif
			next_tick = now + TICK_MS;
		}
	}
	teardown(&g);
	gw_info("stopped", NULL);
	return rc < 0 ? 1 : 0;
}
