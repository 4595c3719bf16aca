/* gw_ebpf: loader of the gateway's BPF probes, userspace fallback timing and
 * the Prometheus exposition of both. See include/gateway/ebpf.h. */
#include "gateway/ebpf.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#include "gw_ebpf_shared.h"

#if GW_EBPF_HAVE_PROBES
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gw_ebpf.skel.h"
#include "gw_ebpf_nobtf.skel.h"
#endif

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

_Static_assert(GW_EBPF_HIST_BUCKETS == GW_EBPF_K_BUCKETS, "bucket count");
_Static_assert(GW_EBPF_TRANSPORT_COUNT == GW_EBPF_K_TRANSPORTS, "transports");
_Static_assert(GW_EBPF_GROUPS_MAX + 1 == GW_EBPF_K_GROUPS, "label groups");

/* Exported bucket bounds: 2^10 ns (1.024 us) to 2^36 ns (68.7 s); lower
 * buckets fold into the first (they are cumulative), higher into +Inf. */
#define LE_FIRST 10
#define LE_LAST 36
#define REASON_MAX 512
#define DEFAULT_MAX_FDS 16384

enum { P_SYS_EXIT, P_WAKEUP, P_WAKEUP_NEW, P_SWITCH, P_TCP, P_COUNT };

static const struct {
	const char *name;   /* program label */
	unsigned probe;     /* enum gw_ebpf_probe */
	const char *btf_tp; /* typedef the kernel's BTF has for the tracepoint */
} progs_info[P_COUNT] = {
	[P_SYS_EXIT] = { "sys_exit", GW_EBPF_PROBE_LINK, "btf_trace_sys_exit" },
	[P_WAKEUP] = { "sched_wakeup", GW_EBPF_PROBE_SCHED, "btf_trace_sched_wakeup" },
	[P_WAKEUP_NEW] = { "sched_wakeup_new", GW_EBPF_PROBE_SCHED, "btf_trace_sched_wakeup_new" },
	[P_SWITCH] = { "sched_switch", GW_EBPF_PROBE_SCHED, "btf_trace_sched_switch" },
	[P_TCP] = { "tcp_probe", GW_EBPF_PROBE_RTT, "btf_trace_tcp_probe" },
};

static const char *const transport_names[GW_EBPF_TRANSPORT_COUNT] = {
	"serial", "pty", "tcp", "other",
};

/* Userspace state of one fd (index = fd). */
struct ufd {
	bool watched;
	bool rtt;         /* its cookie is in the kernel socket map */
	uint8_t transport;
	uint16_t group;
	uint64_t cookie;
	uint64_t t_write;
	uint64_t count, sum;
	uint32_t bucket[GW_EBPF_K_DEV_BUCKETS];
};

struct gw_ebpf {
	pid_t tgid;
	unsigned wanted;   /* probes asked for */
	unsigned attached; /* probes running */
	char reason[REASON_MAX];
	bool prog_attached[P_COUNT];
	bool prog_wanted[P_COUNT];
	int stats_fd;
#if GW_EBPF_HAVE_PROBES
	struct gw_ebpf_bpf *skel;          /* tp_btf + CO-RE: every probe */
	struct gw_ebpf_nobtf_bpf *skel_raw; /* no kernel BTF: link probe only */
	struct bpf_map *m_fds, *m_socks, *m_link, *m_rtt, *m_sched;
	struct bpf_program *prog[P_COUNT];
	struct bpf_link *link[P_COUNT];
#endif
	/* Label groups: 0 is "unknown". */
	char release[GW_EBPF_K_GROUPS][GW_EBPF_LABEL_MAX + 1];
	char cohort[GW_EBPF_K_GROUPS][GW_EBPF_LABEL_MAX + 1];
	unsigned ngroups;
	unsigned refs[GW_EBPF_K_GROUPS]; /* watched fds per group */
	/* Kernel counts of a group's cells when it last got new labels: the
	 * kernel's cells are never reset, so a reused group exports from here. */
	struct gw_ebpf_hist base_link[GW_EBPF_K_TRANSPORTS * GW_EBPF_K_GROUPS];
	struct gw_ebpf_hist base_rtt[GW_EBPF_K_PEERS * GW_EBPF_K_GROUPS];
	bool link_seen[GW_EBPF_K_TRANSPORTS * GW_EBPF_K_GROUPS];
	bool rtt_seen[GW_EBPF_K_PEERS * GW_EBPF_K_GROUPS];
	struct gw_ebpf_hist user_link[GW_EBPF_K_TRANSPORTS * GW_EBPF_K_GROUPS];
	struct ufd *ufd;
	size_t nufd;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void reason_add(struct gw_ebpf *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reason_add(struct gw_ebpf *h, const char *fmt, ...)
{
	size_t n = strlen(h->reason);
	va_list ap;

	if (n + 3 >= sizeof(h->reason))
		return;
	if (n) {
		memcpy(h->reason + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(h->reason + n, sizeof(h->reason) - n, fmt, ap);
	va_end(ap);
}

unsigned gw_ebpf_bucket_of(uint64_t ns)
{
	return gw_ebpf_k_bucket(ns);
}

double gw_ebpf_bucket_le_seconds(unsigned b)
{
	return ldexp(1.0, (int)b) * 1e-9;
}

double gw_ebpf_hist_quantile(const struct gw_ebpf_hist *hist, double q)
{
	uint64_t rank, cum = 0;

	if (!hist || hist->count == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = (uint64_t)ceil(q * (double)hist->count);
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < GW_EBPF_HIST_BUCKETS; b++) {
		cum += hist->bucket[b];
		if (cum >= rank)
			return gw_ebpf_bucket_le_seconds(b);
	}
	return gw_ebpf_bucket_le_seconds(GW_EBPF_HIST_BUCKETS - 1);
}

static void hist_add(struct gw_ebpf_hist *hist, uint64_t v)
{
	hist->bucket[gw_ebpf_k_bucket(v)]++;
	hist->count++;
	hist->sum_ns += v;
}

/* ---- label groups ---- */

static void label_copy(char *dst, const char *src)
{
	size_t n;

	if (!src || !*src)
		src = "unknown";
	n = strnlen(src, GW_EBPF_LABEL_MAX);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Group of a label pair; with add, interns it (overflow goes to group 0).
 * Returns -ENOENT when absent and not added. */
static int group_of(const struct gw_ebpf *h, const char *release, const char *cohort)
{
	char r[GW_EBPF_LABEL_MAX + 1], c[GW_EBPF_LABEL_MAX + 1];

	label_copy(r, release);
	label_copy(c, cohort);
	for (unsigned g = 0; g < h->ngroups; g++)
		if (strcmp(h->release[g], r) == 0 && strcmp(h->cohort[g], c) == 0)
			return (int)g;
	return -ENOENT;
}

static void group_reset(struct gw_ebpf *h, unsigned g);

/* Group of a label pair, interned. When the table is full, a group no fd
 * uses any more takes the new labels (its series restart from 0); when every
 * group is in use, the pair counts under group 0, "unknown". */
static unsigned group_intern(struct gw_ebpf *h, const char *release, const char *cohort)
{
	int g = group_of(h, release, cohort);

	if (g >= 0)
		return (unsigned)g;
	if (h->ngroups < GW_EBPF_K_GROUPS) {
		g = (int)h->ngroups++;
	} else {
		for (unsigned i = 1; i < GW_EBPF_K_GROUPS && g < 0; i++)
			if (h->refs[i] == 0)
				g = (int)i;
		if (g < 0)
			return 0;
		group_reset(h, (unsigned)g);
	}
	label_copy(h->release[g], release);
	label_copy(h->cohort[g], cohort);
	return (unsigned)g;
}

/* ---- loading ---- */

#if GW_EBPF_HAVE_PROBES
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("GW_EBPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static void load_failed(struct gw_ebpf *h, int err)
{
	if (err == -EPERM || err == -EACCES)
		reason_add(h, "no BPF privilege (needs CAP_BPF and CAP_PERFMON, or "
			   "CAP_SYS_ADMIN): %s", strerror(-err));
	else
		reason_add(h, "cannot load the BPF programs: %s", strerror(-err));
}

/* Without kernel BTF: the link probe as a raw_tp program without CO-RE. */
static void probes_load_raw(struct gw_ebpf *h, unsigned max_fds)
{
	int err;

	h->wanted &= GW_EBPF_PROBE_LINK;
	if (!h->wanted)
		return;
	h->skel_raw = gw_ebpf_nobtf_bpf__open();
	if (!h->skel_raw) {
		reason_add(h, "cannot open the BPF object: %s", strerror(errno));
		return;
	}
	h->skel_raw->rodata->target_tgid = (__u32)h->tgid;
	h->skel_raw->rodata->nr_read = SYS_read;
	h->skel_raw->rodata->nr_readv = SYS_readv;
	h->skel_raw->rodata->nr_recvfrom = SYS_recvfrom;
	h->skel_raw->rodata->nr_recvmsg = SYS_recvmsg;
	h->skel_raw->rodata->nr_write = SYS_write;
	h->skel_raw->rodata->nr_writev = SYS_writev;
	h->skel_raw->rodata->nr_sendto = SYS_sendto;
	h->skel_raw->rodata->nr_sendmsg = SYS_sendmsg;
	bpf_map__set_max_entries(h->skel_raw->maps.fds, max_fds);
	err = gw_ebpf_nobtf_bpf__load(h->skel_raw);
	if (err) {
		load_failed(h, err);
		gw_ebpf_nobtf_bpf__destroy(h->skel_raw);
		h->skel_raw = NULL;
		return;
	}
	h->m_fds = h->skel_raw->maps.fds;
	h->m_link = h->skel_raw->maps.link_hist;
	h->prog[P_SYS_EXIT] = h->skel_raw->progs.gw_sys_exit_raw;
	h->prog_wanted[P_SYS_EXIT] = true;
	h->link[P_SYS_EXIT] = bpf_program__attach(h->prog[P_SYS_EXIT]);
	if (!h->link[P_SYS_EXIT]) {
		reason_add(h, "cannot attach %s: %s", progs_info[P_SYS_EXIT].name, strerror(errno));
		return;
	}
	h->prog_attached[P_SYS_EXIT] = true;
	h->attached = GW_EBPF_PROBE_LINK;
}

static void probes_load(struct gw_ebpf *h, unsigned max_fds)
{
	struct btf *vmlinux;
	int err;

	libbpf_set_print(libbpf_quiet);
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		int e = errno;

		/* libbpf says ESRCH when no BTF file exists at all. */
		reason_add(h, "no kernel BTF (/sys/kernel/btf/vmlinux): %s; link probe on "
			   "raw_tp without CO-RE, no rtt or sched probe",
			   e == ESRCH || e == ENOENT ? "not found" : strerror(e));
		probes_load_raw(h, max_fds);
		return;
	}
	for (int p = 0; p < P_COUNT; p++) {
		if (!(h->wanted & progs_info[p].probe))
			continue;
		if (btf__find_by_name_kind(vmlinux, progs_info[p].btf_tp, BTF_KIND_TYPEDEF) < 0) {
			reason_add(h, "tracepoint %s missing from kernel BTF", progs_info[p].name);
			h->wanted &= ~progs_info[p].probe;
		}
	}
	btf__free(vmlinux);
	if (!h->wanted)
		return;

	h->skel = gw_ebpf_bpf__open();
	if (!h->skel) {
		reason_add(h, "cannot open the BPF object: %s", strerror(errno));
		return;
	}
	h->prog[P_SYS_EXIT] = h->skel->progs.gw_sys_exit;
	h->prog[P_WAKEUP] = h->skel->progs.gw_sched_wakeup;
	h->prog[P_WAKEUP_NEW] = h->skel->progs.gw_sched_wakeup_new;
	h->prog[P_SWITCH] = h->skel->progs.gw_sched_switch;
	h->prog[P_TCP] = h->skel->progs.gw_tcp_probe;

	h->skel->rodata->target_tgid = (__u32)h->tgid;
	h->skel->rodata->nr_read = SYS_read;
	h->skel->rodata->nr_readv = SYS_readv;
	h->skel->rodata->nr_recvfrom = SYS_recvfrom;
	h->skel->rodata->nr_recvmsg = SYS_recvmsg;
	h->skel->rodata->nr_write = SYS_write;
	h->skel->rodata->nr_writev = SYS_writev;
	h->skel->rodata->nr_sendto = SYS_sendto;
	h->skel->rodata->nr_sendmsg = SYS_sendmsg;
	bpf_map__set_max_entries(h->skel->maps.fds, max_fds);
	bpf_map__set_max_entries(h->skel->maps.socks, max_fds);
	for (int p = 0; p < P_COUNT; p++) {
		h->prog_wanted[p] = (h->wanted & progs_info[p].probe) != 0;
		bpf_program__set_autoload(h->prog[p], h->prog_wanted[p]);
	}

	err = gw_ebpf_bpf__load(h->skel);
	if (err) {
		load_failed(h, err);
		gw_ebpf_bpf__destroy(h->skel);
		h->skel = NULL;
		return;
	}
	h->m_fds = h->skel->maps.fds;
	h->m_socks = h->skel->maps.socks;
	h->m_link = h->skel->maps.link_hist;
	h->m_rtt = h->skel->maps.rtt_hist;
	h->m_sched = h->skel->maps.sched_hist;

	for (int p = 0; p < P_COUNT; p++) {
		if (!h->prog_wanted[p])
			continue;
		h->link[p] = bpf_program__attach(h->prog[p]);
		if (!h->link[p]) {
			reason_add(h, "cannot attach %s: %s", progs_info[p].name, strerror(errno));
			continue;
		}
		h->prog_attached[p] = true;
	}
	/* A probe runs only when all its programs are attached. */
	for (unsigned probe = 1; probe <= GW_EBPF_PROBE_SCHED; probe <<= 1) {
		bool all = (h->wanted & probe) != 0;

		for (int p = 0; p < P_COUNT; p++)
			if (progs_info[p].probe == probe && !h->prog_attached[p])
				all = false;
		if (all) {
			h->attached |= probe;
			continue;
		}
		for (int p = 0; p < P_COUNT; p++) {
			if (progs_info[p].probe != probe || !h->link[p])
				continue;
			bpf_link__destroy(h->link[p]);
			h->link[p] = NULL;
			h->prog_attached[p] = false;
		}
	}
}
#endif

int gw_ebpf_new(const struct gw_ebpf_config *cfg, struct gw_ebpf **ret)
{
	static const struct gw_ebpf_config defaults;
	struct gw_ebpf *h;
	unsigned max_fds;
	char line[REASON_MAX + 128];

	if (!ret)
		return -EINVAL;
	if (!cfg)
		cfg = &defaults;
	if (cfg->probes & ~(unsigned)GW_EBPF_PROBE_ALL)
		return -EINVAL;
	if (cfg->tgid < 0)
		return -EINVAL;
	max_fds = cfg->max_fds ? cfg->max_fds : DEFAULT_MAX_FDS;
	if (max_fds > (1u << 20))
		return -EINVAL;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->tgid = cfg->tgid ? cfg->tgid : getpid();
	h->wanted = cfg->probes ? cfg->probes : GW_EBPF_PROBE_ALL;
	h->stats_fd = -1;
	h->ngroups = 1;
	label_copy(h->release[0], NULL);
	label_copy(h->cohort[0], NULL);

	if (cfg->disable) {
		h->wanted = 0;
		reason_add(h, "probes turned off by configuration");
	} else {
#if GW_EBPF_HAVE_PROBES
		probes_load(h, max_fds);
		if (h->attached && cfg->enable_stats)
			h->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
#else
		h->wanted = 0;
		reason_add(h, "built without BPF probes (%s)", GW_EBPF_BUILD_REASON);
#endif
	}

	if (cfg->log) {
		if (h->attached == GW_EBPF_PROBE_ALL && !h->reason[0])
			snprintf(line, sizeof(line), "ebpf: probes attached: link rtt sched");
		else if (h->attached)
			snprintf(line, sizeof(line), "ebpf: probes attached:%s%s%s; %s",
				 h->attached & GW_EBPF_PROBE_LINK ? " link" : "",
				 h->attached & GW_EBPF_PROBE_RTT ? " rtt" : "",
				 h->attached & GW_EBPF_PROBE_SCHED ? " sched" : "", h->reason);
		else
			snprintf(line, sizeof(line),
				 "ebpf: disabled, link latency measured in userspace: %s",
				 h->reason[0] ? h->reason : "no probe asked for");
		cfg->log(cfg->log_arg, line);
	}
	*ret = h;
	return 0;
}

void gw_ebpf_free(struct gw_ebpf *h)
{
	if (!h)
		return;
#if GW_EBPF_HAVE_PROBES
	for (int p = 0; p < P_COUNT; p++)
		bpf_link__destroy(h->link[p]);
	gw_ebpf_bpf__destroy(h->skel);
	gw_ebpf_nobtf_bpf__destroy(h->skel_raw);
#endif
	if (h->stats_fd >= 0)
		close(h->stats_fd);
	free(h->ufd);
	free(h);
}

bool gw_ebpf_enabled(const struct gw_ebpf *h)
{
	return h && h->attached != 0;
}

unsigned gw_ebpf_probes(const struct gw_ebpf *h)
{
	return h ? h->attached : 0;
}

const char *gw_ebpf_reason(const struct gw_ebpf *h)
{
	return h ? h->reason : "no handle";
}

/* ---- watching fds ---- */

static int ufd_get(struct gw_ebpf *h, int fd, struct ufd **ret)
{
	size_t n;
	struct ufd *u;

	if ((size_t)fd < h->nufd) {
		*ret = &h->ufd[fd];
		return 0;
	}
	n = h->nufd ? h->nufd : 64;
	while (n <= (size_t)fd)
		n *= 2;
	u = realloc(h->ufd, n * sizeof(*u));
	if (!u)
		return -ENOMEM;
	memset(u + h->nufd, 0, (n - h->nufd) * sizeof(*u));
	h->ufd = u;
	h->nufd = n;
	*ret = &h->ufd[fd];
	return 0;
}

static struct ufd *ufd_find(const struct gw_ebpf *h, int fd)
{
	if (!h || fd < 0 || (size_t)fd >= h->nufd || !h->ufd[fd].watched)
		return NULL;
	return &h->ufd[fd];
}

static int rtt_watch(struct gw_ebpf *h, struct ufd *u, int fd, unsigned hist)
{
#if GW_EBPF_HAVE_PROBES
	struct gw_ebpf_k_sock v = { .hist = hist };
	uint64_t cookie;
	socklen_t len = sizeof(cookie);

	if (!(h->attached & GW_EBPF_PROBE_RTT))
		return -EOPNOTSUPP;
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return -errno;
	if (bpf_map__update_elem(h->m_socks, &cookie, sizeof(cookie), &v,
				 sizeof(v), BPF_ANY) < 0)
		return -errno;
	u->cookie = cookie;
	u->rtt = true;
	h->rtt_seen[hist] = true;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

static void rtt_unwatch(struct gw_ebpf *h, struct ufd *u)
{
#if GW_EBPF_HAVE_PROBES
	if (u->rtt && h->m_socks)
		bpf_map__delete_elem(h->m_socks, &u->cookie, sizeof(u->cookie), 0);
#endif
	u->rtt = false;
}

int gw_ebpf_watch_fd(struct gw_ebpf *h, int fd, enum gw_ebpf_transport transport,
		     const char *release, const char *cohort)
{
	struct ufd *u;
	unsigned group, hist;
	int err;

	if (!h || fd < 0 || fd >= GW_EBPF_FD_MAX || (unsigned)transport >= GW_EBPF_TRANSPORT_COUNT)
		return -EINVAL;
	err = ufd_get(h, fd, &u);
	if (err)
		return err;
	if (u->watched)
		gw_ebpf_unwatch_fd(h, fd);
	group = group_intern(h, release, cohort);
	hist = (unsigned)transport * GW_EBPF_K_GROUPS + group;
	memset(u, 0, sizeof(*u));
	u->watched = true;
	u->transport = (uint8_t)transport;
	u->group = (uint16_t)group;
	h->refs[group]++;
	h->link_seen[hist] = true;
#if GW_EBPF_HAVE_PROBES
	if (h->attached & GW_EBPF_PROBE_LINK) {
		struct gw_ebpf_k_fd v = { .hist = hist };
		__u32 key = (__u32)fd;

		if (bpf_map__update_elem(h->m_fds, &key, sizeof(key), &v, sizeof(v),
					 BPF_ANY) < 0)
			err = errno == E2BIG ? -ENOSPC : -errno;
	}
#endif
	if (transport == GW_EBPF_TRANSPORT_TCP)
		(void)rtt_watch(h, u, fd, GW_EBPF_PEER_DEVICE * GW_EBPF_K_GROUPS + group);
	return err;
}

int gw_ebpf_unwatch_fd(struct gw_ebpf *h, int fd)
{
	struct ufd *u;

	if (!h || fd < 0)
		return -EINVAL;
	if ((size_t)fd >= h->nufd || !(h->ufd[fd].watched || h->ufd[fd].rtt))
		return -ENOENT;
	u = &h->ufd[fd];
	if (!u->watched) {
		/* only the controller link's RTT */
		rtt_unwatch(h, u);
		return 0;
	}
#if GW_EBPF_HAVE_PROBES
	if (h->attached & GW_EBPF_PROBE_LINK) {
		__u32 key = (__u32)fd;

		bpf_map__delete_elem(h->m_fds, &key, sizeof(key), 0);
	}
#endif
	rtt_unwatch(h, u);
	if (h->refs[u->group])
		h->refs[u->group]--;
	memset(u, 0, sizeof(*u));
	return 0;
}

int gw_ebpf_watch_controller(struct gw_ebpf *h, int fd)
{
	struct ufd *u;
	int err;

	if (!h || fd < 0 || fd >= GW_EBPF_FD_MAX)
		return -EINVAL;
	if (!(h->attached & GW_EBPF_PROBE_RTT))
		return -EOPNOTSUPP;
	err = ufd_get(h, fd, &u);
	if (err)
		return err;
	if (u->rtt)
		rtt_unwatch(h, u);
	return rtt_watch(h, u, fd, GW_EBPF_PEER_CONTROLLER * GW_EBPF_K_GROUPS);
}

void gw_ebpf_note_write(struct gw_ebpf *h, int fd)
{
	struct ufd *u = ufd_find(h, fd);

	if (u && u->t_write == 0)
		u->t_write = now_ns();
}

void gw_ebpf_note_read(struct gw_ebpf *h, int fd, ssize_t n)
{
	struct ufd *u = ufd_find(h, fd);
	uint64_t d, now;
	unsigned b;

	if (!u || n <= 0 || u->t_write == 0)
		return;
	now = now_ns();
	d = now > u->t_write ? now - u->t_write : 0;
	u->t_write = 0;
	hist_add(&h->user_link[u->transport * GW_EBPF_K_GROUPS + u->group], d);
	b = gw_ebpf_k_bucket(d);
	if (b >= GW_EBPF_K_DEV_BUCKETS)
		b = GW_EBPF_K_DEV_BUCKETS - 1;
	u->bucket[b]++;
	u->count++;
	u->sum += d;
}

/* ---- reading ---- */

#if GW_EBPF_HAVE_PROBES
static int read_percpu(struct bpf_map *map, unsigned idx, struct gw_ebpf_hist *ret)
{
	int ncpu = libbpf_num_possible_cpus();
	struct gw_ebpf_k_hist *cells;
	struct gw_ebpf_hist out;
	__u32 key = idx;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	cells = calloc((size_t)ncpu, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	if (bpf_map__lookup_elem(map, &key, sizeof(key), cells,
				 (size_t)ncpu * sizeof(*cells), 0) < 0) {
		int err = -errno;

		free(cells);
		return err;
	}
	memset(&out, 0, sizeof(out));
	for (int c = 0; c < ncpu; c++) {
		for (unsigned b = 0; b < GW_EBPF_K_BUCKETS; b++) {
			out.bucket[b] += cells[c].slot[b];
			out.count += cells[c].slot[b];
		}
		out.sum_ns += cells[c].sum;
	}
	free(cells);
	*ret = out;
	return 0;
}
#endif

#if GW_EBPF_HAVE_PROBES
/* A kernel cell minus the group's baseline. */
static int read_cell(struct bpf_map *map, unsigned idx, const struct gw_ebpf_hist *base,
		     struct gw_ebpf_hist *ret)
{
	struct gw_ebpf_hist out;
	int err = read_percpu(map, idx, &out);

	if (err)
		return err;
	for (unsigned b = 0; b < GW_EBPF_K_BUCKETS; b++)
		out.bucket[b] -= base->bucket[b];
	out.count -= base->count;
	out.sum_ns -= base->sum_ns;
	*ret = out;
	return 0;
}
#endif

static void group_reset(struct gw_ebpf *h, unsigned g)
{
	for (unsigned t = 0; t < GW_EBPF_K_TRANSPORTS; t++) {
		unsigned i = t * GW_EBPF_K_GROUPS + g;

		memset(&h->user_link[i], 0, sizeof(h->user_link[i]));
		h->link_seen[i] = false;
#if GW_EBPF_HAVE_PROBES
		if (h->m_link)
			(void)read_percpu(h->m_link, i, &h->base_link[i]);
#endif
	}
	for (unsigned p = 0; p < GW_EBPF_K_PEERS; p++) {
		unsigned i = p * GW_EBPF_K_GROUPS + g;

		h->rtt_seen[i] = false;
#if GW_EBPF_HAVE_PROBES
		if (h->m_rtt)
			(void)read_percpu(h->m_rtt, i, &h->base_rtt[i]);
#endif
	}
}

static int read_link_idx(const struct gw_ebpf *h, unsigned idx, enum gw_ebpf_source source,
			 struct gw_ebpf_hist *ret)
{
	if (source == GW_EBPF_SOURCE_AUTO)
		source = h->attached & GW_EBPF_PROBE_LINK ? GW_EBPF_SOURCE_KERNEL
							  : GW_EBPF_SOURCE_USER;
	if (source == GW_EBPF_SOURCE_USER) {
		*ret = h->user_link[idx];
		return 0;
	}
	if (!(h->attached & GW_EBPF_PROBE_LINK))
		return -EOPNOTSUPP;
#if GW_EBPF_HAVE_PROBES
	return read_cell(h->m_link, idx, &h->base_link[idx], ret);
#else
	return -EOPNOTSUPP;
#endif
}

int gw_ebpf_read_link(const struct gw_ebpf *h, enum gw_ebpf_transport transport,
		      const char *release, const char *cohort,
		      enum gw_ebpf_source source, struct gw_ebpf_hist *ret)
{
	int g;

	if (!h || !ret || (unsigned)transport >= GW_EBPF_TRANSPORT_COUNT ||
	    (unsigned)source > GW_EBPF_SOURCE_USER)
		return -EINVAL;
	g = group_of(h, release, cohort);
	if (g < 0)
		return g;
	return read_link_idx(h, (unsigned)transport * GW_EBPF_K_GROUPS + (unsigned)g, source, ret);
}

int gw_ebpf_read_rtt(const struct gw_ebpf *h, enum gw_ebpf_peer peer,
		     const char *release, const char *cohort, struct gw_ebpf_hist *ret)
{
	int g;

	if (!h || !ret || (unsigned)peer >= GW_EBPF_K_PEERS)
		return -EINVAL;
	if (!(h->attached & GW_EBPF_PROBE_RTT))
		return -EOPNOTSUPP;
	g = peer == GW_EBPF_PEER_CONTROLLER ? 0 : group_of(h, release, cohort);
	if (g < 0)
		return g;
#if GW_EBPF_HAVE_PROBES
	unsigned i = (unsigned)peer * GW_EBPF_K_GROUPS + (unsigned)g;

	return read_cell(h->m_rtt, i, &h->base_rtt[i], ret);
#else
	return -EOPNOTSUPP;
#endif
}

int gw_ebpf_read_sched(const struct gw_ebpf *h, struct gw_ebpf_hist *ret)
{
	if (!h || !ret)
		return -EINVAL;
	if (!(h->attached & GW_EBPF_PROBE_SCHED))
		return -EOPNOTSUPP;
#if GW_EBPF_HAVE_PROBES
	return read_percpu(h->m_sched, 0, ret);
#else
	return -EOPNOTSUPP;
#endif
}

int gw_ebpf_device_summary(const struct gw_ebpf *h, int fd, struct gw_ebpf_summary *ret)
{
	const struct ufd *u;
	struct gw_ebpf_hist hist;
	const uint32_t *bucket;
	uint64_t count, sum;
	bool kernel = false;

	if (!h || fd < 0 || !ret)
		return -EINVAL;
	u = ufd_find(h, fd);
	if (!u)
		return -ENOENT;
	bucket = u->bucket;
	count = u->count;
	sum = u->sum;
#if GW_EBPF_HAVE_PROBES
	struct gw_ebpf_k_fd v;

	if (h->attached & GW_EBPF_PROBE_LINK) {
		__u32 key = (__u32)fd;

		if (bpf_map__lookup_elem(h->m_fds, &key, sizeof(key), &v, sizeof(v),
					 0) < 0)
			return -errno;
		bucket = v.bucket;
		count = 0;
		for (unsigned b = 0; b < GW_EBPF_K_DEV_BUCKETS; b++)
			count += v.bucket[b];
		sum = v.sum;
		kernel = true;
	}
#endif
	memset(&hist, 0, sizeof(hist));
	for (unsigned b = 0; b < GW_EBPF_K_DEV_BUCKETS; b++)
		hist.bucket[b] = bucket[b];
	hist.count = count;
	hist.sum_ns = sum;
	ret->count = count;
	ret->p50_seconds = gw_ebpf_hist_quantile(&hist, 0.50);
	ret->p99_seconds = gw_ebpf_hist_quantile(&hist, 0.99);
	ret->mean_seconds = count ? (double)sum / (double)count * 1e-9 : 0;
	ret->from_kernel = kernel;
	return 0;
}

/* ---- exposition ---- */

/* Label value with \, " and newline escaped. */
static void put_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* One histogram series; labels is the text inside {} without le, may be "". */
static void put_hist(FILE *out, const char *name, const char *labels,
		     const struct gw_ebpf_hist *hist)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";

	for (unsigned b = 0; b < LE_FIRST; b++)
		cum += hist->bucket[b];
	for (unsigned b = LE_FIRST; b <= LE_LAST; b++) {
		cum += hist->bucket[b];
		fprintf(out, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, sep,
			gw_ebpf_bucket_le_seconds(b), (unsigned long long)cum);
	}
	fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
		(unsigned long long)hist->count);
	fprintf(out, "%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", (double)hist->sum_ns * 1e-9);
	fprintf(out, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", (unsigned long long)hist->count);
}

static void group_labels(const struct gw_ebpf *h, char *buf, size_t size,
			 const char *first, unsigned group)
{
	FILE *f = fmemopen(buf, size, "w");

	if (!f) {
		buf[0] = '\0';
		return;
	}
	fputs(first, f);
	fputs(",release=\"", f);
	put_label(f, h->release[group]);
	fputs("\",cohort=\"", f);
	put_label(f, h->cohort[group]);
	fputs("\"", f);
	fclose(f);
}

#if GW_EBPF_HAVE_PROBES
static bool stats_on(const struct gw_ebpf *h)
{
	FILE *f;
	int c;

	if (h->stats_fd >= 0)
		return true;
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	if (!f)
		return false;
	c = fgetc(f);
	fclose(f);
	return c == '1';
}
#endif

int gw_ebpf_write_metrics(const struct gw_ebpf *h, FILE *out)
{
	/* Two label values of up to 4x escaped bytes each, plus names. */
	char labels[8 * GW_EBPF_LABEL_MAX + 128];
	struct gw_ebpf_hist hist;
	bool any;

	if (!h || !out)
		return -EINVAL;

	fputs("# HELP flotilla_gateway_ebpf_enabled Whether any eBPF probe of the gateway "
	      "is attached (0: userspace fallback only).\n"
	      "# TYPE flotilla_gateway_ebpf_enabled gauge\n", out);
	fprintf(out, "flotilla_gateway_ebpf_enabled %d\n", h->attached ? 1 : 0);

	fputs("# HELP flotilla_gateway_ebpf_program_attached Whether each BPF program "
	      "of the gateway is attached.\n"
	      "# TYPE flotilla_gateway_ebpf_program_attached gauge\n", out);
	for (int p = 0; p < P_COUNT; p++)
		fprintf(out, "flotilla_gateway_ebpf_program_attached{program=\"%s\"} %d\n",
			progs_info[p].name, h->prog_attached[p] ? 1 : 0);

#if GW_EBPF_HAVE_PROBES
	if (h->attached && stats_on(h)) {
		struct bpf_prog_info info[P_COUNT];
		bool ok[P_COUNT];

		for (int p = 0; p < P_COUNT; p++) {
			__u32 len = sizeof(info[p]);

			memset(&info[p], 0, sizeof(info[p]));
			ok[p] = h->prog_attached[p] &&
				bpf_obj_get_info_by_fd(bpf_program__fd(h->prog[p]), &info[p],
						       &len) == 0;
		}
		fputs("# HELP flotilla_gateway_ebpf_program_runs_total Runs of each BPF "
		      "program (kernel.bpf_stats_enabled).\n"
		      "# TYPE flotilla_gateway_ebpf_program_runs_total counter\n", out);
		for (int p = 0; p < P_COUNT; p++)
			if (ok[p])
				fprintf(out, "flotilla_gateway_ebpf_program_runs_total"
					"{program=\"%s\"} %llu\n", progs_info[p].name,
					(unsigned long long)info[p].run_cnt);
		fputs("# HELP flotilla_gateway_ebpf_program_run_seconds_total Time spent in "
		      "each BPF program (kernel.bpf_stats_enabled).\n"
		      "# TYPE flotilla_gateway_ebpf_program_run_seconds_total counter\n", out);
		for (int p = 0; p < P_COUNT; p++)
			if (ok[p])
				fprintf(out, "flotilla_gateway_ebpf_program_run_seconds_total"
					"{program=\"%s\"} %.9g\n", progs_info[p].name,
					(double)info[p].run_time_ns * 1e-9);
	}
#endif

	any = false;
	for (unsigned i = 0; i < GW_EBPF_K_TRANSPORTS * GW_EBPF_K_GROUPS; i++)
		any |= h->link_seen[i];
	if (any) {
		fputs("# HELP flotilla_gateway_link_latency_seconds Time from the gateway's "
		      "write of a frame to a device to the read of its reply.\n"
		      "# TYPE flotilla_gateway_link_latency_seconds histogram\n", out);
		for (unsigned i = 0; i < GW_EBPF_K_TRANSPORTS * GW_EBPF_K_GROUPS; i++) {
			char first[64];

			if (!h->link_seen[i] || read_link_idx(h, i, GW_EBPF_SOURCE_AUTO, &hist))
				continue;
			snprintf(first, sizeof(first), "transport=\"%s\"",
				 transport_names[i / GW_EBPF_K_GROUPS]);
			group_labels(h, labels, sizeof(labels), first, i % GW_EBPF_K_GROUPS);
			put_hist(out, "flotilla_gateway_link_latency_seconds", labels, &hist);
		}
	}

	any = false;
	for (unsigned i = 0; i < GW_EBPF_K_PEERS * GW_EBPF_K_GROUPS; i++)
		any |= h->rtt_seen[i];
	if (any && (h->attached & GW_EBPF_PROBE_RTT)) {
		fputs("# HELP flotilla_gateway_tcp_rtt_seconds Smoothed TCP round-trip time "
		      "of device and controller connections, per received segment.\n"
		      "# TYPE flotilla_gateway_tcp_rtt_seconds histogram\n", out);
		for (unsigned i = 0; i < GW_EBPF_K_PEERS * GW_EBPF_K_GROUPS; i++) {
			if (!h->rtt_seen[i])
				continue;
#if GW_EBPF_HAVE_PROBES
			if (read_cell(h->m_rtt, i, &h->base_rtt[i], &hist))
				continue;
#endif
			if (i / GW_EBPF_K_GROUPS == GW_EBPF_PEER_CONTROLLER)
				snprintf(labels, sizeof(labels), "peer=\"controller\"");
			else
				group_labels(h, labels, sizeof(labels), "peer=\"device\"",
					     i % GW_EBPF_K_GROUPS);
			put_hist(out, "flotilla_gateway_tcp_rtt_seconds", labels, &hist);
		}
	}

	if (h->attached & GW_EBPF_PROBE_SCHED && gw_ebpf_read_sched(h, &hist) == 0) {
		fputs("# HELP flotilla_gateway_sched_latency_seconds Run-queue delay of the "
		      "gateway's threads, from wakeup to running.\n"
		      "# TYPE flotilla_gateway_sched_latency_seconds histogram\n", out);
		put_hist(out, "flotilla_gateway_sched_latency_seconds", "", &hist);
	}

	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
