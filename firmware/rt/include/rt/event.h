/**
 * @file event.h
 * @brief Event flags: the only way an interrupt handler wakes a coroutine.
 *
 * An event holds 32 flag bits. rt_event_set may be called from an interrupt
 * (or a signal handler on the sim board): it ORs the bits in and queues the
 * event for the runtime's system coroutine with lock-free atomic operations,
 * and never blocks. The system coroutine, which has the highest priority,
 * then wakes every waiter whose condition holds. A set that races with a
 * coroutine starting to wait is never lost: the bits are recorded before the
 * event is queued, and the queue is drained before the system coroutine
 * sleeps again.
 */
#ifndef RT_EVENT_H
#define RT_EVENT_H

#include <stdint.h>

#include "rt/rt.h"
#include "rt/wait.h"

/** rt_event_wait options. */
enum rt_event_opt {
	RT_EVENT_ANY = 0,   /**< wake when any of the mask's bits is set */
	RT_EVENT_ALL = 1,   /**< wake when all of them are set */
	RT_EVENT_CLEAR = 2, /**< clear the bits that satisfied the wait */
};

/** An event flag group. Initialize with RT_EVENT_INIT or rt_event_init. */
struct rt_event {
	volatile uint32_t bits;         /**< read-only: current flags */
	struct rt_event *volatile qnext; /**< private: system queue link */
	volatile uint32_t queued;       /**< private: in the system queue */
	struct rt__waitq waiters;       /**< private */
};

/** Static initializer of an event with no bits set. */
#define RT_EVENT_INIT {0, 0, 0, {0, 0}}

/** @brief Initializes @p ev with no bits set and no waiters. */
void rt_event_init(struct rt_event *ev);

/**
 * @brief Sets @p mask in @p ev and wakes the waiters it satisfies at the
 * next switch. ISR-safe, lock-free, never blocks.
 */
void rt_event_set(struct rt_event *ev, uint32_t mask);

/**
 * @brief Clears @p mask in @p ev. Coroutines only.
 * @return the bits as they were before.
 */
uint32_t rt_event_clear(struct rt_event *ev, uint32_t mask);

/**
 * @brief Waits until @p ev's bits satisfy @p mask (any or all, see
 * enum rt_event_opt), at most @p timeout ticks (RT_FOREVER, RT_NOWAIT).
 * @param ret_bits if not NULL, receives the bits that satisfied the wait
 * @return 0; AG_ETIMEDOUT (AG_EAGAIN with RT_NOWAIT) if not satisfied in
 *         time; AG_EINVAL for an empty mask. With RT_EVENT_CLEAR the
 *         satisfying bits are cleared only on success.
 */
int rt_event_wait(struct rt_event *ev, uint32_t mask, unsigned opts, rt_tick_t timeout,
		  uint32_t *ret_bits);

#endif /* RT_EVENT_H */
