/* Private to firmware/rt: scheduler state and the wait machinery shared by
 * the scheduler, channels, event flags and timers. */
#ifndef RT_INTERNAL_H
#define RT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/event.h"
#include "rt/rt.h"
#include "rt/timer.h"

/* Ready rings: level 0 is the system coroutine, RT_CFG_PRIO_LEVELS - 1 the
 * idle coroutine. Level i is bit (31 - i) of the ready bitmap, so that
 * __builtin_clz(ready) is the level to run. */
#define RT__LEVEL_SYS 0u
#define RT__LEVEL_IDLE ((unsigned)RT_CFG_PRIO_LEVELS - 1u)
#define RT__BIT(level) (0x80000000u >> (level))

struct rt__waitq;

/* One per queue a blocked coroutine sits in; lives on that coroutine's
 * stack. Doubly linked so a select can leave all its queues in O(1). */
struct rt__waiter {
	struct rt__waiter *next, *prev;
	struct rt__waitq *q;
	struct rt__wait *w;
	void *buf;     /* channel: the item to send, or where to receive */
	uint8_t index; /* position among the wait's waiters */
};

/* A blocked coroutine's record (struct rt_co.wait), on its stack. */
struct rt__wait {
	struct rt_co *co;
	struct rt__waiter *nodes;
	uint8_t n;
	int result; /* index of the waiter that completed, or an enum ag_err */
};

/* The scheduler. tails[] must stay first: rt_yield indexes it from the base. */
struct rt__sched {
	struct rt_co *tails[RT_CFG_PRIO_LEVELS]; /* ready rings, by their tail */
	struct rt_co *cur;                       /* running */
	volatile uint32_t ready;                 /* bitmap of non-empty rings */
	volatile rt_tick_t tick;
	volatile rt_tick_t deadline; /* earliest timeout or timer, if has_deadline */
	volatile uint8_t has_deadline;
	uint8_t running;
	int stop_code;
	struct rt_co *timeouts;       /* blocked with a deadline, by wake */
	struct rt_timer *timers;      /* armed timers, by due */
	struct rt_event *volatile evq; /* events set since the system coroutine looked */
	struct rt_co *sys, *idle;
	unsigned live;                /* user coroutines alive */
};

extern struct rt__sched rt__s;

/* Wait queues (FIFO). */
void rt__waitq_push(struct rt__waitq *q, struct rt__waiter *n);
/* Blocks the running coroutine on @w until rt__complete or the timeout
 * (RT_FOREVER for none). Returns w->result. */
int rt__block(struct rt__wait *w, rt_tick_t timeout);
/* Ends @w's wait with @result: leaves every queue, readies the coroutine. */
void rt__complete(struct rt__wait *w, int result);
/* Marks the system coroutine ready (ISR-safe). */
void rt__sys_kick(void);
/* Recomputes the published deadline after the timer or timeout lists changed. */
void rt__deadline_update(void);
/* Work of the system coroutine, by module. */
void rt__timers_run(rt_tick_t now);
void rt__events_run(void);
bool rt__timers_next(rt_tick_t *ret_due);
void rt__timers_reset(void);

#endif /* RT_INTERNAL_H */
