/**
 * @file loop.h
 * @brief The gateway's one epoll loop.
 *
 * Every file descriptor the daemon waits on (device links, the TCP
 * listener, the HTTP server's epoll fd, signals) is a @ref gw_watch in one
 * epoll set; the caller owns each watch and keeps it alive while added.
 */
#ifndef GATEWAY_LOOP_H
#define GATEWAY_LOOP_H

#include <stdint.h>

struct gw_loop;
struct gw_watch;

/** Called with the epoll events that fired. */
typedef void (*gw_watch_fn)(struct gw_watch *w, uint32_t events);

/** A watched descriptor. Caller-allocated; all fields are public. */
struct gw_watch {
	int fd;
	gw_watch_fn fn;
	void *ctx;
};

/** @brief Creates a loop. @return 0 or a negative errno. */
int gw_loop_new(struct gw_loop **ret_loop) __attribute__((warn_unused_result));

/** @brief Frees a loop (NULL is fine); watches are not touched. */
void gw_loop_free(struct gw_loop *l);

/** @brief Adds @p w for @p events (EPOLLIN, ...). @return 0 or a negative errno. */
int gw_loop_add(struct gw_loop *l, struct gw_watch *w, uint32_t events)
	__attribute__((warn_unused_result));

/** @brief Changes the events of a watch. @return 0 or a negative errno. */
int gw_loop_mod(struct gw_loop *l, struct gw_watch *w, uint32_t events);

/** @brief Removes a watch; events already fetched for it are dropped. */
void gw_loop_del(struct gw_loop *l, struct gw_watch *w);

/**
 * @brief Marks @p w (already added) as the priority watch: while a long batch
 * of other events is dispatched, it is checked every GW_LOOP_PRIORITY_EVERY
 * events and served at once, so a burst of device traffic does not delay
 * it (the HTTP server: scrape latency). NULL clears it.
 */
void gw_loop_set_priority(struct gw_loop *l, struct gw_watch *w);

#define GW_LOOP_PRIORITY_EVERY 16 /**< events between checks of the priority watch */

/**
 * @brief Waits up to @p timeout_ms for events and dispatches them.
 * @return events handled (0 on timeout), or a negative errno (not EINTR).
 */
int gw_loop_run_once(struct gw_loop *l, int timeout_ms);

/** @brief Monotonic milliseconds. */
uint64_t gw_now_ms(void);

#endif /* GATEWAY_LOOP_H */
