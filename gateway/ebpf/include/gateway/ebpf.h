/* gw_ebpf: the gateway's kernel latency probes and their Prometheus export.
 *
 * Three probes, all filtered to the gateway's own process:
 *  - link: time from the gateway's first write on a device fd to the next
 *    read on that fd that returns bytes (syscall tracepoints), aggregated in
 *    the kernel by transport and by (release, cohort) label group;
 *  - rtt: smoothed TCP RTT of watched sockets (devices, controller link), from
 *    the tcp_probe tracepoint;
 *  - sched: run-queue delay of the gateway's threads, wakeup to switch-in.
 *
 * Without BPF (built without probes, no privilege, no BTF, tracepoint
 * missing, or turned off) the handle still works: it reports disabled with a
 * reason, and the link histogram is fed by gw_ebpf_note_write() and
 * gw_ebpf_note_read(), which the daemon calls around its own I/O.
 *
 * Histograms are log2 buckets in nanoseconds, rounded up: bucket b counts
 * values v with 2^(b-1) < v <= 2^b (bucket 0: v <= 1), so 2^b ns is the
 * bucket's `le`. Counters only grow.
 *
 * A handle is not thread-safe: call it from the event loop's thread.
 */
#ifndef GATEWAY_EBPF_H
#define GATEWAY_EBPF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Number of log2 buckets in a struct gw_ebpf_hist. */
#define GW_EBPF_HIST_BUCKETS 64
/** Longest release or cohort label value kept (longer ones are cut). */
#define GW_EBPF_LABEL_MAX 63
/** Highest fd number + 1 that can be watched (userspace keeps a slot per fd). */
#define GW_EBPF_FD_MAX (1 << 20)
/** (release, cohort) pairs kept at once. A new pair beyond it takes over a
 *  pair no watched fd uses any more (whose series then go, the new pair's
 *  starting from 0), or else counts under "unknown". */
#define GW_EBPF_GROUPS_MAX 63

/** Transport of a device link: the `transport` label. */
enum gw_ebpf_transport {
	GW_EBPF_TRANSPORT_SERIAL = 0, /**< serial tty */
	GW_EBPF_TRANSPORT_PTY = 1,    /**< pseudo-terminal (simulated devices) */
	GW_EBPF_TRANSPORT_TCP = 2,    /**< TCP connection */
	GW_EBPF_TRANSPORT_OTHER = 3,  /**< anything else */
	GW_EBPF_TRANSPORT_COUNT
};

/** The probes, as bits of gw_ebpf_config.probes. */
enum gw_ebpf_probe {
	GW_EBPF_PROBE_LINK = 1u << 0,  /**< device-link I/O latency */
	GW_EBPF_PROBE_RTT = 1u << 1,   /**< TCP smoothed RTT */
	GW_EBPF_PROBE_SCHED = 1u << 2, /**< run-queue delay of the gateway */
	GW_EBPF_PROBE_ALL = 7u
};

/** Whose figures a histogram read returns. */
enum gw_ebpf_source {
	GW_EBPF_SOURCE_AUTO = 0, /**< kernel when the link probe runs, else userspace */
	GW_EBPF_SOURCE_KERNEL,   /**< the BPF programs' histogram */
	GW_EBPF_SOURCE_USER      /**< gw_ebpf_note_write()/gw_ebpf_note_read() timing */
};

/** The other end of a watched TCP socket: the `peer` label of the RTT. */
enum gw_ebpf_peer {
	GW_EBPF_PEER_DEVICE = 0,     /**< a TCP-connected device */
	GW_EBPF_PEER_CONTROLLER = 1, /**< the controller link */
};

/** How to open the probes. Zero-initialise, then set what you need. */
struct gw_ebpf_config {
	/** Process whose syscalls and threads are traced; 0 means getpid(). */
	pid_t tgid;
	/** Probes wanted (enum gw_ebpf_probe bits); 0 means all. */
	unsigned probes;
	/** Turn every probe off: userspace fallback only. */
	bool disable;
	/** Device fds the kernel can watch at once; 0 means 16384. */
	unsigned max_fds;
	/** Turn on kernel BPF run statistics while the handle lives
	 *  (run count and run time per program). */
	bool enable_stats;
	/** Called once from gw_ebpf_new() with a line saying what runs and,
	 *  when something does not, why. May be NULL. */
	void (*log)(void *arg, const char *line);
	/** Argument of log. */
	void *log_arg;
};

/** A histogram read out of the kernel or the userspace fallback. */
struct gw_ebpf_hist {
	/** bucket[b]: values in (2^(b-1), 2^b] ns; not cumulative. */
	uint64_t bucket[GW_EBPF_HIST_BUCKETS];
	/** Number of values (sum of bucket[]). */
	uint64_t count;
	/** Sum of the values in ns. */
	uint64_t sum_ns;
};

/** Per-device link latency for the local JSON API (never a metric). */
struct gw_ebpf_summary {
	uint64_t count;     /**< exchanges measured on this fd */
	double p50_seconds; /**< upper bound of the bucket holding the median */
	double p99_seconds; /**< upper bound of the bucket holding the 99th pct */
	double mean_seconds;/**< exact mean */
	bool from_kernel;   /**< measured by the BPF probe, else in userspace */
};

/** Opaque handle. */
struct gw_ebpf;

/**
 * Load and attach the probes for a process.
 *
 * Succeeds when BPF is not available: the handle then reports disabled with
 * gw_ebpf_reason() and serves the userspace fallback. Each probe that cannot
 * attach is left out on its own; the others run.
 *
 * @param cfg  configuration; NULL means all defaults
 * @param ret  the new handle, written on success; free with gw_ebpf_free()
 * @return 0, -EINVAL on a bad configuration, -ENOMEM
 */
__attribute__((warn_unused_result))
int gw_ebpf_new(const struct gw_ebpf_config *cfg, struct gw_ebpf **ret);

/** Detach the probes and free the handle. Accepts NULL. */
void gw_ebpf_free(struct gw_ebpf *h);

/** @return true when at least one probe is attached in the kernel. */
bool gw_ebpf_enabled(const struct gw_ebpf *h);

/** @return the probes (enum gw_ebpf_probe bits) that are attached. */
unsigned gw_ebpf_probes(const struct gw_ebpf *h);

/**
 * @return why BPF or some probe is not running ("" when everything runs).
 *         Owned by the handle, valid until gw_ebpf_free().
 */
const char *gw_ebpf_reason(const struct gw_ebpf *h);

/**
 * Start measuring a device link. Replaces any earlier watch of the same fd.
 * When the transport is TCP the socket's RTT is watched too.
 * The exchange measured is: the first write on the fd not yet answered, to
 * the next read on it that returns bytes (for a reliable link, usually the
 * device's acknowledgement or reply).
 *
 * @param fd         the device's fd in the traced process
 * @param transport  transport label
 * @param release    release label (NULL or "" means "unknown")
 * @param cohort     cohort label, e.g. "canary" or "stable" (NULL: "unknown")
 * @return 0, -EINVAL (fd < 0 or >= GW_EBPF_FD_MAX, bad transport), -ENOSPC
 *         (kernel fd map full; the
 *         userspace fallback still measures the fd), -ENOMEM
 */
__attribute__((warn_unused_result))
int gw_ebpf_watch_fd(struct gw_ebpf *h, int fd, enum gw_ebpf_transport transport,
		     const char *release, const char *cohort);

/**
 * Stop measuring a device link (and its RTT), or the controller link's RTT.
 * Its per-device summary goes; what it added to the histograms stays.
 * @return 0, -ENOENT when the fd was not watched, -EINVAL
 */
int gw_ebpf_unwatch_fd(struct gw_ebpf *h, int fd);

/**
 * Watch the RTT of the controller link's TCP socket.
 * @return 0, -EINVAL, -ENOTSOCK, -EOPNOTSUPP when the RTT probe is not
 *         running, or another negative errno from getsockopt(SO_COOKIE)
 */
__attribute__((warn_unused_result))
int gw_ebpf_watch_controller(struct gw_ebpf *h, int fd);

/**
 * Userspace timing, the fallback of the link probe: call just before writing
 * a frame to a watched device fd. Only the first write of an exchange counts.
 */
void gw_ebpf_note_write(struct gw_ebpf *h, int fd);

/**
 * Userspace timing: call after a read on a watched device fd returned n.
 * When n > 0 and a write is pending, the exchange is measured.
 */
void gw_ebpf_note_read(struct gw_ebpf *h, int fd, ssize_t n);

/**
 * Read the link latency histogram of one transport and label pair.
 * @param source  whose figures; AUTO picks the kernel when the link probe runs
 * @param ret     written on success
 * @return 0, -ENOENT for a (release, cohort) pair never watched,
 *         -EOPNOTSUPP for SOURCE_KERNEL when the link probe is not running,
 *         -EINVAL, or a negative errno from the map read
 */
int gw_ebpf_read_link(const struct gw_ebpf *h, enum gw_ebpf_transport transport,
		      const char *release, const char *cohort,
		      enum gw_ebpf_source source, struct gw_ebpf_hist *ret);

/**
 * Read the smoothed-RTT histogram of a peer kind and label pair (the
 * controller's pair is NULL, NULL).
 * @return 0, -ENOENT, -EOPNOTSUPP when the RTT probe is not running, -EINVAL
 */
int gw_ebpf_read_rtt(const struct gw_ebpf *h, enum gw_ebpf_peer peer,
		     const char *release, const char *cohort, struct gw_ebpf_hist *ret);

/**
 * Read the run-queue delay histogram of the gateway's threads.
 * @return 0, -EOPNOTSUPP when the sched probe is not running, -EINVAL
 */
int gw_ebpf_read_sched(const struct gw_ebpf *h, struct gw_ebpf_hist *ret);

/**
 * Per-device p50/p99 of a watched fd, for /api/v1/devices/{id}.
 * @return 0, -ENOENT when the fd is not watched, -EINVAL
 */
int gw_ebpf_device_summary(const struct gw_ebpf *h, int fd, struct gw_ebpf_summary *ret);

/**
 * Write the probes' metric families in Prometheus text format 0.0.4:
 * flotilla_gateway_ebpf_enabled, flotilla_gateway_ebpf_program_attached,
 * run count and time per program when kernel BPF statistics are on,
 * flotilla_gateway_link_latency_seconds, flotilla_gateway_tcp_rtt_seconds and
 * flotilla_gateway_sched_latency_seconds.
 * @return 0, or a negative errno when writing failed (output may be partial)
 */
int gw_ebpf_write_metrics(const struct gw_ebpf *h, FILE *out);

/**
 * The upper bound (`le`) of a bucket in seconds.
 * @param b  bucket index, < GW_EBPF_HIST_BUCKETS
 */
double gw_ebpf_bucket_le_seconds(unsigned b);

/** @return the bucket that counts a value of ns nanoseconds. */
unsigned gw_ebpf_bucket_of(uint64_t ns);

/**
 * The bucket upper bound below which a fraction q of a histogram lies.
 * @return seconds, 0 for an empty histogram
 */
double gw_ebpf_hist_quantile(const struct gw_ebpf_hist *hist, double q);

#ifdef __cplusplus
}
#endif
#endif
