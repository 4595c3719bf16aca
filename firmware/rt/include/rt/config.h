/**
 * @file config.h
 * @brief Compile-time sizes of the coroutine runtime.
 *
 * Every pool is a static array whose size is fixed here; override any of
 * these with a -D on the command line (the CMake cache variables of
 * firmware/rt do that).
 */
#ifndef RT_CONFIG_H
#define RT_CONFIG_H

/** Control blocks in the pool (coroutines alive at once, sys and idle not counted). */
#ifndef RT_CFG_CO_MAX
#define RT_CFG_CO_MAX 16
#endif

/** Bytes of each stack in the stack pool (used when rt_spawn gets no stack). */
#ifndef RT_CFG_STACK_BYTES
#define RT_CFG_STACK_BYTES 1024
#endif

/** Stacks in the stack pool (0: every coroutine brings its own). */
#ifndef RT_CFG_STACK_POOL
#define RT_CFG_STACK_POOL RT_CFG_CO_MAX
#endif

/**
 * Scheduler levels, 3..32: the system coroutine, RT_CFG_PRIO_LEVELS - 2
 * user priorities and the idle coroutine.
 */
#ifndef RT_CFG_PRIO_LEVELS
#define RT_CFG_PRIO_LEVELS 8
#endif

/** Ticks per second of the tick clock. */
#ifndef RT_CFG_TICK_HZ
#define RT_CFG_TICK_HZ 1000
#endif

/** Stack bytes of the runtime's own system coroutine (timers, events). */
#ifndef RT_CFG_SYS_STACK_BYTES
#define RT_CFG_SYS_STACK_BYTES 1024
#endif

/** Stack bytes of the idle coroutine. */
#ifndef RT_CFG_IDLE_STACK_BYTES
#define RT_CFG_IDLE_STACK_BYTES 512
#endif

#if RT_CFG_PRIO_LEVELS < 3 || RT_CFG_PRIO_LEVELS > 32
#error "RT_CFG_PRIO_LEVELS must be 3..32"
#endif

#endif /* RT_CONFIG_H */
