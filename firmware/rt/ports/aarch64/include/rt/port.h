/**
 * @file port.h
 * @brief AArch64 (AAPCS64) port of the coroutine runtime, for the sim board
 * on 64-bit Arm hosts.
 *
 * The switch saves x19-x28, x29 (fp), x30 (lr) and the low halves of v8-v15
 * (d8-d15), which AAPCS64 makes callee-saved, and swaps sp. FPCR is not
 * switched: coroutines must not change rounding modes.
 */
#ifndef RT_PORT_H
#define RT_PORT_H

#include <stdint.h>

#define RT_PORT_NAME "aarch64"
/** Alignment of stacks and their top. */
#define RT_PORT_STACK_ALIGN 16
/** No MPU guard on this port. */
#define RT_PORT_GUARD_BYTES 0
/** Smallest stack rt_spawn accepts. */
#define RT_PORT_STACK_MIN 512

struct rt_co;

/** @brief Saves the running context into @p from and resumes @p to. */
void rt__port_switch(struct rt_co *from, struct rt_co *to);

/**
 * @brief Builds the first frame at the top of a fresh stack so that the
 * first switch to it enters rt__co_main().
 * @return the initial stack pointer.
 */
void *rt__port_stack_init(void *top);

#endif /* RT_PORT_H */
