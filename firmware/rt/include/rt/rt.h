/**
 * @file rt.h
 * @brief Flotilla's coroutine runtime: stackful coroutines, a cooperative
 * scheduler with priorities, sleeping and the tick clock.
 *
 * Coroutines run until they yield or block; a coroutine of higher priority
 * that becomes ready runs at the next yield point (rt_yield, or any call
 * that blocks). Coroutines of equal priority take turns in FIFO order.
 *
 * Everything is static: control blocks come from a pool of RT_CFG_CO_MAX,
 * stacks from a pool of RT_CFG_STACK_POOL stacks of RT_CFG_STACK_BYTES, or
 * from memory the caller gives (see RT_STACK_DEFINE). Nothing calls malloc.
 *
 * Stacks are painted at spawn, so each coroutine's high-water mark can be
 * read (rt_stack_used). The lowest word of every stack is a canary, checked
 * at every switch away from the coroutine; the Cortex-M4 port adds an MPU
 * guard region when built with RT_CFG_MPU_GUARD. An overflow stops the
 * device through the fatal hook (see struct rt_hooks) with a report of
 * which coroutine and how deep.
 *
 * Interrupt handlers touch the runtime only through rt_event_set
 * (rt/event.h) and rt_tick_announce; everything else is for coroutines.
 * Return values follow enum ag_err (agent/err.h).
 */
#ifndef RT_RT_H
#define RT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/config.h"
#include "rt/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Ticks of the tick clock; wraps, compare with rt_tick_before. */
typedef uint32_t rt_tick_t;

/** Timeout meaning "wait for ever". */
#define RT_FOREVER ((rt_tick_t)0xffffffffu)
/** Timeout meaning "do not wait" (the try_ variants). */
#define RT_NOWAIT ((rt_tick_t)0)

/** Lowest user priority. */
#define RT_PRIO_MIN 1
/** Highest user priority. */
#define RT_PRIO_MAX (RT_CFG_PRIO_LEVELS - 2)

/** Converts milliseconds to ticks, rounding up. */
#define RT_MS_TO_TICKS(ms)                                                           \
	((rt_tick_t)(((uint64_t)(ms) * RT_CFG_TICK_HZ + 999u) / 1000u))

/** Value of the lowest stack word while the stack is intact. */
#define RT_STACK_CANARY 0xC5C5C5C5u
/** Value every other stack word is painted with at spawn. */
#define RT_STACK_PAINT 0xA5A5A5A5u

/** Coroutine states (struct rt_co.state). */
enum rt_co_state {
	RT_CO_FREE = 0,    /**< slot unused */
	RT_CO_READY = 1,   /**< in a ready ring (running or runnable) */
	RT_CO_BLOCKED = 2, /**< waiting: sleep, channel, event */
	RT_CO_DONE = 3,    /**< returned; slot about to be reused */
};

/**
 * @brief A coroutine control block: 32 bytes on a 32-bit MCU.
 *
 * Read-only for users except through the functions below; the layout is
 * public so the pool can be static and the port can reach @c sp.
 */
struct rt_co {
	void *sp;            /**< private: saved stack pointer (offset 0, used by the port) */
	struct rt_co *next;  /**< private: ready ring link */
	uint32_t *stack;     /**< read-only: lowest stack word, the canary */
	struct rt_co *tnext; /**< private: timeout list link */
	rt_tick_t wake;      /**< private: deadline while in the timeout list */
	void *wait;          /**< private: the wait record of a blocked coroutine */
	const char *name;    /**< read-only: name given at spawn */
	uint16_t stack_words; /**< read-only: stack size in 32-bit words */
	uint8_t level;       /**< private: ready ring, 0 = highest (system) */
	uint8_t state;       /**< read-only: enum rt_co_state in bits 0-6 */
};

/** A coroutine's entry point. Returning from it ends the coroutine. */
typedef void (*rt_entry_t)(void *arg);

/**
 * @brief Defines a static, suitably aligned stack for rt_spawn.
 * @param name  the array's name
 * @param bytes its size; rounded up to a multiple of 16 (of 32 with an MPU guard)
 */
#define RT_STACK_DEFINE(name, bytes)                                                 \
	static uint32_t name[(((bytes) + RT__STACK_ROUND - 1u) / RT__STACK_ROUND) *      \
			     (RT__STACK_ROUND / 4u)]                                     \
		__attribute__((aligned(RT_PORT_STACK_ALIGN)))
#define RT__STACK_ROUND (RT_PORT_STACK_ALIGN > 16 ? RT_PORT_STACK_ALIGN : 16)

/** What the fatal hook is told. */
struct rt_fault {
	int code;                /**< AG_ESTACK, AG_EDEADLOCK */
	const struct rt_co *co;  /**< the offending coroutine, or NULL */
	const char *name;        /**< its name ("?" if none) */
	uint32_t stack_bytes;    /**< its stack size */
	uint32_t depth_bytes;    /**< how deep it went: bytes from the stack top to
				  *   the lowest address known to be written */
	uintptr_t fault_addr;    /**< the address that tripped the guard (MPU), or 0 */
};

/**
 * @brief Board hooks. NULL members get defaults: idle waits for an
 * interrupt where the port can (wfi on Cortex-M) and returns at once
 * elsewhere; without a fatal hook a fatal error makes rt_run return.
 */
struct rt_hooks {
	/**
	 * Called by the idle coroutine whenever nothing else is ready. Should
	 * sleep until an interrupt (rt_event_set or rt_tick_announce) may have
	 * readied something; returning early is harmless.
	 */
	void (*idle)(void);
	/**
	 * Called on a fatal error (stack overflow). On a device it reports and
	 * resets and does not return. If it returns, rt_run stops and returns
	 * f->code; the offending coroutine never runs again.
	 */
	void (*fatal)(const struct rt_fault *f);
};

/**
 * @brief Resets the runtime: empties the pools, forgets every coroutine,
 * channel wait and timer, and sets the tick clock to 0.
 * @param hooks board hooks, copied; NULL for the defaults.
 * Must not be called from a coroutine.
 */
void rt_init(const struct rt_hooks *hooks);

/**
 * @brief Creates a coroutine, ready to run at the next yield point.
 * @param name        a static string, reported in faults and health
 * @param fn, arg     entry point and its argument
 * @param prio        RT_PRIO_MIN..RT_PRIO_MAX; higher runs first
 * @param stack       NULL for a stack from the pool, else memory of
 *                    @p stack_bytes aligned to RT_PORT_STACK_ALIGN
 * @param stack_bytes size of @p stack (ignored when @p stack is NULL)
 * @param ret_co      if not NULL, receives the coroutine on success
 * @return 0; AG_EINVAL for a bad priority or a stack too small or
 *         misaligned; AG_ENOSPC when the control block or stack pool is
 *         empty. On error nothing was created.
 */
int rt_spawn(const char *name, rt_entry_t fn, void *arg, int prio, void *stack,
	     size_t stack_bytes, struct rt_co **ret_co)
	__attribute__((warn_unused_result));

/**
 * @brief Runs the scheduler on the calling (main) context until rt_stop is
 * called, every spawned coroutine has returned, or a fatal error.
 * @return the code given to rt_stop; 0 when all coroutines ended;
 *         AG_ESTACK after an overflow whose fatal hook returned;
 *         AG_ESTATE if called from a coroutine or while running.
 */
int rt_run(void);

/**
 * @brief From a coroutine: makes rt_run return @p code at once. The other
 * coroutines are abandoned (call rt_init before running again).
 */
void rt_stop(int code);

/** @brief The running coroutine (NULL outside rt_run). */
struct rt_co *rt_self(void);

/**
 * @brief Lets every ready coroutine of the same priority run once, and any
 * ready coroutine of higher priority run first.
 */
void rt_yield(void);

/**
 * @brief Ends the running coroutine (as if its entry point returned).
 */
void rt_exit(void) __attribute__((noreturn));

/**
 * @brief Blocks the running coroutine for @p ticks ticks (0 = rt_yield).
 * @return 0.
 */
int rt_sleep(rt_tick_t ticks);

/** @brief Blocks for at least @p ms milliseconds, rounded up to ticks. @return 0. */
int rt_sleep_ms(uint32_t ms);

/** @brief The tick clock. ISR-safe. */
rt_tick_t rt_now(void);

/** @brief True if tick @p a comes before tick @p b (wrap-safe). */
static inline bool rt_tick_before(rt_tick_t a, rt_tick_t b)
{
	return (int32_t)(a - b) < 0;
}

/**
 * @brief Advances the tick clock by @p n ticks. Called by the board's tick
 * interrupt; lock-free and ISR-safe.
 */
void rt_tick_announce(rt_tick_t n);

/**
 * @brief The earliest deadline (sleep, timeout or timer) still pending.
 * @return true and writes @p ret_tick if there is one; false if none.
 * For idle hooks that sleep without a periodic tick.
 */
bool rt_next_deadline(rt_tick_t *ret_tick);

/** @brief True when something besides the idle coroutine is ready. */
bool rt_busy(void);

/**
 * @brief Bytes of @p co's stack ever used: its high-water mark from the
 * stack paint. The whole stack when the canary is gone.
 */
uint32_t rt_stack_used(const struct rt_co *co);

/**
 * @brief Calls @p fn for every live coroutine (system and idle included),
 * for health reports. @p fn must not block or spawn.
 */
void rt_foreach(void (*fn)(const struct rt_co *co, void *arg), void *arg);

/** @brief Live coroutines spawned by the user (system and idle not counted). */
unsigned rt_count(void);

#ifdef __cplusplus
}
#endif

#endif /* RT_RT_H */
