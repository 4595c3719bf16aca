/**
 * @file timer.h
 * @brief One-shot and periodic timers. Callbacks run in the runtime's system
 * coroutine (the highest priority): they must be short and must not block;
 * they may set events, try-send on channels and restart or stop timers.
 */
#ifndef RT_TIMER_H
#define RT_TIMER_H

#include <stdbool.h>

#include "rt/rt.h"

struct rt_timer;

/** A timer callback. */
typedef void (*rt_timer_fn)(struct rt_timer *t, void *arg);

/** A timer; caller-allocated, fields private. */
struct rt_timer {
	struct rt_timer *next; /**< private */
	rt_tick_t due;         /**< private */
	rt_tick_t period;      /**< private: 0 for one-shot */
	rt_timer_fn fn;        /**< private */
	void *arg;             /**< private */
	uint8_t armed;         /**< private */
};

/** @brief Initializes a stopped timer that calls @p fn(@p t, @p arg). */
void rt_timer_init(struct rt_timer *t, rt_timer_fn fn, void *arg);

/**
 * @brief (Re)starts @p t: first expiry after @p delay ticks (at least 1),
 * then every @p period ticks (0: one-shot). A periodic timer that falls
 * behind skips the expiries it missed.
 * @return 0, or AG_EINVAL for a NULL timer or callback.
 */
int rt_timer_start(struct rt_timer *t, rt_tick_t delay, rt_tick_t period);

/** @brief Stops @p t; harmless if it is not running. */
void rt_timer_stop(struct rt_timer *t);

/** @brief True while @p t is armed. */
bool rt_timer_armed(const struct rt_timer *t);

#endif /* RT_TIMER_H */
