/**
 * @file port.h
 * @brief Cortex-M4 (Thumb-2, ARMv7E-M) port of the coroutine runtime.
 *
 * The switch is a plain function call (coroutines are cooperative, nothing
 * is switched from an exception), so it saves only what AAPCS makes
 * callee-saved: r4-r11 and lr, then swaps sp. Nine words per coroutine.
 *
 * FPU: s16-s31 are callee-saved under the hard-float AAPCS too. By default
 * the switch does NOT save them; instead every translation unit linked with
 * the runtime is compiled with -ffixed-s16 ... -ffixed-s31 (the rt target
 * exports those flags), so no compiled code ever keeps a value there, and
 * s0-s15 and FPSCR are caller-saved across the call that switches. Code
 * compiled without the flags (newlib's libm) may use s16-s31 inside a call,
 * which is fine as long as that call does not switch coroutines. Building
 * with RT_CFG_FPU_SAVE=1 instead saves s16-s31 in the switch (vpush/vpop,
 * 64 more bytes of stack per coroutine) and drops the flags. FPSCR modes
 * are never switched: coroutines must not change rounding modes.
 */
#ifndef RT_PORT_H
#define RT_PORT_H

#include <stdint.h>

#define RT_PORT_NAME "cortex-m4"
/** Alignment of stacks and their top (AAPCS: 8). */
#define RT_PORT_STACK_ALIGN 8
/** Smallest stack rt_spawn accepts. */
#define RT_PORT_STACK_MIN 128

/** rt_yield is in assembly: the scheduler's pick and the switch in one. */
#define RT_PORT_HAS_YIELD 1

#ifndef RT_CFG_FPU_SAVE
#define RT_CFG_FPU_SAVE 0
#endif

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
