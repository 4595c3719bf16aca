/**
 * @file transport.h
 * @brief Device links: serial ttys, ptys the gateway creates, and a TCP
 * listener, all driven by the one @ref gw_loop.
 *
 * Each open link is a @ref gw_conn; the owner (the device layer) learns of
 * links coming and going and of input through @ref gw_transport_ops. Output
 * is buffered per link up to GW_CONN_OUT_MAX. Input beyond a link's byte rate
 * (config link_rate_max) is dropped and counted, so a flooding device costs
 * bounded work. Ttys and ptys that go away are reopened every reconnect_ms
 * (hot-plug); TCP peers simply reconnect.
 */
#ifndef GATEWAY_TRANSPORT_H
#define GATEWAY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/loop.h"

#define GW_CONN_OUT_MAX (64 * 1024) /**< buffered output per link, bytes */
#define GW_CONN_READ_MAX 4096       /**< bytes read per readiness event */

/** Transport kinds; the value indexes per-transport counters. */
enum gw_transport_kind {
	GW_TRANSPORT_TCP = 0,
	GW_TRANSPORT_SERIAL = 1,
	GW_TRANSPORT_PTY = 2,
	GW_TRANSPORT_COUNT = 3,
};

struct gw_transport;
struct gw_conn;

/** Callbacks into the link's owner. */
struct gw_transport_ops {
	/** A link opened. Return the link's context (NULL refuses and closes it). */
	void *(*opened)(void *ctx, struct gw_conn *c);
	/** Bytes arrived on a link. */
	void (*input)(void *link_ctx, const uint8_t *buf, size_t len);
	/** The link is gone; @p link_ctx must not touch @p c afterwards. */
	void (*closed)(void *link_ctx, int reason);
};

/** Counters per transport kind; they only grow. */
struct gw_transport_stats {
	uint64_t opened, closed;
	uint64_t bytes_in, bytes_out;
	uint64_t bytes_dropped_in;  /**< over the link's rate */
	uint64_t bytes_dropped_out; /**< output buffer full */
	uint64_t refused;           /**< over max_devices */
};

/** Settings the transport reads; may change on reload. */
struct gw_transport_limits {
	uint32_t max_links;
	uint32_t rate_max;     /**< input bytes/s per link */
	uint32_t reconnect_ms;
};

/** @brief Creates the transport set. @return 0 or a negative errno. */
int gw_transport_new(struct gw_loop *loop, const struct gw_transport_ops *ops, void *ctx,
		     const struct gw_transport_limits *lim, struct gw_transport **ret_t)
	__attribute__((warn_unused_result));

/** @brief Closes every link (calling @c closed) and frees; NULL is fine. */
void gw_transport_free(struct gw_transport *t);

/** @brief Updates limits (on reload). */
void gw_transport_set_limits(struct gw_transport *t, const struct gw_transport_limits *lim);

/**
 * @brief Listens on IPv4 "HOST:PORT" for device connections.
 * @return 0 or a negative errno (-EINVAL for a bad address).
 */
int gw_transport_listen_tcp(struct gw_transport *t, const char *addr)
	__attribute__((warn_unused_result));

/**
 * @brief Adopts a connected descriptor as a link of @p kind (an inherited
 * socket, a socketpair in tests). The transport owns @p fd from now on,
 * also on error. @return 0, -EINVAL, or -ECONNREFUSED (the owner refused it).
 */
int gw_transport_adopt(struct gw_transport *t, int fd, int kind, const char *peer);

/** @brief The TCP listener's port (after listening on port 0), or 0. */
uint16_t gw_transport_tcp_port(const struct gw_transport *t);

/**
 * @brief Adds a serial tty (or a pty's slave) at @p baud, raw mode. Opened now
 * if possible, else retried. @return 0, -EEXIST, or -ENOMEM.
 */
int gw_transport_add_serial(struct gw_transport *t, const char *path, uint32_t baud);

/**
 * @brief Creates a pty whose slave is symlinked at @p link_path; a device
 * opens the slave. @return 0, -EEXIST, or a negative errno.
 */
int gw_transport_add_pty(struct gw_transport *t, const char *link_path);

/** @brief Removes a serial port or pty by its path; @return 0 or -ENOENT. */
int gw_transport_remove_port(struct gw_transport *t, const char *path);

/** @brief True if a serial or pty port with @p path is configured. */
int gw_transport_has_port(const struct gw_transport *t, const char *path);

/**
 * @brief Calls @p fn for each configured port path (for reconciling on reload).
 */
void gw_transport_foreach_port(const struct gw_transport *t,
			       void (*fn)(void *arg, const char *path), void *arg);

/** @brief Timers: reopens ports, frees closed links. Call every ~100 ms. */
void gw_transport_tick(struct gw_transport *t, uint64_t now_ms);

/**
 * @brief Writes pending output for up to @p timeout_ms (graceful stop).
 * @return bytes still pending.
 */
size_t gw_transport_drain(struct gw_transport *t, int timeout_ms);

/** @brief Stops accepting new TCP connections. */
void gw_transport_stop_listening(struct gw_transport *t);

/** @brief Open links of a kind. */
unsigned gw_transport_links(const struct gw_transport *t, int kind);

/** @brief Counters of a kind. */
const struct gw_transport_stats *gw_transport_get_stats(const struct gw_transport *t, int kind);

/** @brief "tcp", "serial" or "pty". */
const char *gw_transport_kind_name(int kind);

/**
 * Watchers of the links' own I/O (the eBPF probes and their userspace
 * fallback). Every member may be NULL; called on the loop's thread.
 */
struct gw_transport_observer {
	/** A link's fd opened. */
	void (*opened)(void *ctx, int fd, int kind);
	/** A link's fd is about to close. */
	void (*closing)(void *ctx, int fd);
	/** Just before a write() of link output. */
	void (*before_write)(void *ctx, int fd);
	/** Just after a read() that returned @p n > 0 bytes. */
	void (*after_read)(void *ctx, int fd, size_t n);
};

/** @brief Installs an observer (one; NULL removes it). */
void gw_transport_set_observer(struct gw_transport *t, const struct gw_transport_observer *obs,
			       void *ctx);

/** @brief The link's file descriptor (-1 once closed). */
int gw_conn_fd(const struct gw_conn *c);

/**
 * @brief Queues bytes on a link.
 * @return 0; -ENOBUFS when the output buffer would exceed GW_CONN_OUT_MAX
 *         (nothing queued); -EPIPE on a closed link.
 */
int gw_conn_write(struct gw_conn *c, const uint8_t *buf, size_t len);

/** @brief Closes a link; @c closed is called with @p reason. */
void gw_conn_close(struct gw_conn *c, int reason);

/** @brief The link's kind. */
int gw_conn_kind(const struct gw_conn *c);

/** @brief The peer: "127.0.0.1:40000" or the tty/pty path. */
const char *gw_conn_peer(const struct gw_conn *c);

#endif /* GATEWAY_TRANSPORT_H */
