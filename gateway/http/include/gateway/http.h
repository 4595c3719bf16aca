/**
 * @file http.h
 * @brief The gateway's HTTP server (libmicrohttpd) inside the one epoll loop.
 *
 * Serves GET and HEAD only. Paths go to handlers registered by exact path or
 * by prefix (a prefix handler gets the rest of the path). Query arguments are
 * parsed into a @ref gw_query with bounds; anything else is refused with a
 * 4xx and a log line. Limits: path GW_HTTP_PATH_MAX, query GW_HTTP_QUERY_MAX
 * arguments, request headers GW_HTTP_MEM_MAX (libmicrohttpd answers 431/414
 * beyond), no request body, GW_HTTP_CONN_MAX connections.
 */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/loop.h"

#define GW_HTTP_PATH_MAX 256        /**< longest path, bytes */
#define GW_HTTP_QUERY_MAX 8         /**< query arguments per request */
#define GW_HTTP_QUERY_VALUE_MAX 64  /**< longest query value */
#define GW_HTTP_QUERY_TEXT_MAX 1024 /**< longest raw query string */
#define GW_HTTP_MEM_MAX (16 * 1024) /**< per-connection memory, headers included */
#define GW_HTTP_CONN_MAX 64         /**< connections at once */
#define GW_HTTP_LIMIT_MAX 10000     /**< largest page of a list */

/** Parsed query arguments of the JSON API. */
struct gw_query {
	uint32_t limit;  /**< items per page, 1..GW_HTTP_LIMIT_MAX (default 1000) */
	uint32_t offset; /**< first item */
	int state;       /**< -1 any, else enum gw_device_state */
	unsigned n;      /**< arguments seen */
};

/** A reply a handler fills. */
struct gw_http_reply {
	unsigned status;          /**< 200 unless set */
	const char *content_type; /**< static string */
	char *body;               /**< malloc'd; the server frees it */
	size_t len;
};

/**
 * A handler. @p rest is the path after the prefix (for exact handlers,
 * ""). Return 0 with @p rep filled, or a negative errno: -ENOENT (404),
 * -EINVAL (400), -ENOMEM (503).
 */
typedef int (*gw_http_fn)(void *ctx, const char *rest, const struct gw_query *q,
			  struct gw_http_reply *rep);

struct gw_http;

/**
 * @brief Starts serving on IPv4 "HOST:PORT" in @p loop.
 * @return 0, -EINVAL (bad address), -EADDRINUSE or -EIO.
 */
int gw_http_new(struct gw_loop *loop, const char *addr, struct gw_http **ret_h)
	__attribute__((warn_unused_result));

/** @brief Stops and frees; NULL is fine. */
void gw_http_free(struct gw_http *h);

/** @brief The port bound (useful after port 0). */
uint16_t gw_http_port(const struct gw_http *h);

/**
 * @brief Registers @p fn for @p path exactly, or for every path under it when
 * @p path ends in '/'. Longest match wins. @return 0, -ENOSPC or -EINVAL.
 */
int gw_http_handle(struct gw_http *h, const char *path, gw_http_fn fn, void *ctx);

/** @brief Runs timers (idle connections); call every ~100 ms. */
void gw_http_tick(struct gw_http *h);

/** @brief Requests served and refused so far. */
void gw_http_stats(const struct gw_http *h, uint64_t *ret_ok, uint64_t *ret_refused);

/**
 * @brief Applies one query argument.
 * @return 0; -EINVAL for an unknown key or a value out of range.
 */
int gw_query_set(struct gw_query *q, const char *key, const char *value);

/** @brief Fills @p q with defaults. */
void gw_query_init(struct gw_query *q);

/**
 * @brief Parses a raw query string "a=1&b=2" (percent-decoding, '+' as a
 * space) into @p q.
 * @return 0; -E2BIG over GW_HTTP_QUERY_TEXT_MAX bytes, GW_HTTP_QUERY_MAX
 *         arguments or GW_HTTP_QUERY_VALUE_MAX per value; -EINVAL a bad
 *         escape or argument.
 */
int gw_query_parse(struct gw_query *q, const char *text, size_t len);

/**
 * @brief Checks a request path: absolute, at most GW_HTTP_PATH_MAX bytes,
 * printable ASCII, no "//", "/./" or "/../".
 * @return 0, -E2BIG or -EINVAL.
 */
int gw_http_check_path(const char *path, size_t len);

#endif /* GATEWAY_HTTP_H */
