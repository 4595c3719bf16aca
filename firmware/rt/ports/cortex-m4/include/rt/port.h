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

/**
 * MPU guard (RT_CFG_MPU_GUARD=1): region 7 of the ARMv7-M MPU covers the
 * lowest RT_CFG_MPU_GUARD_BYTES of the running coroutine's stack (the canary's block),
 * privileged read-only and never executable. The switch points it at the
 * incoming coroutine's stack with one store to MPU_RBAR (4 more
 * instructions per switch). A write into it faults at once, before the
 * overflow can reach the memory below the stack; the board's MemManage
 * handler reports the coroutine and the address. For that the handler must
 * not run on the overflowing stack: rt_init moves thread mode to the process
 * stack (PSP) and gives handlers a stack of their own
 * (RT_CFG_HANDLER_STACK_BYTES) on MSP. Stacks are then aligned to the guard's size.
 * The MPU's other regions are the board's; PRIVDEFENA keeps the default map
 * elsewhere. Barriers are left out of the switch: the new region is in
 * force within a few instructions, and the incoming coroutine's first
 * accesses are well above its guard.
 */
#ifndef RT_CFG_MPU_GUARD
#define RT_CFG_MPU_GUARD 0
#endif
#ifndef RT_CFG_HANDLER_STACK_BYTES
#define RT_CFG_HANDLER_STACK_BYTES 1536
#endif

/**
 * Size of the guard: 32, 64, 128 or 256 bytes. When a push faults at the
 * guard's top, the exception frame (8 words, 26 with FPU state) is stacked
 * below the faulting SP; a guard of 128 bytes holds it, so nothing below the
 * stack is written. A function that moves SP further than that in one step
 * before writing can still jump the guard; the canary stays as the second
 * check.
 */
#ifndef RT_CFG_MPU_GUARD_BYTES
#define RT_CFG_MPU_GUARD_BYTES 128
#endif

#if RT_CFG_MPU_GUARD
#if RT_CFG_MPU_GUARD_BYTES != 32 && RT_CFG_MPU_GUARD_BYTES != 64 &&                \
	RT_CFG_MPU_GUARD_BYTES != 128 && RT_CFG_MPU_GUARD_BYTES != 256
#error "RT_CFG_MPU_GUARD_BYTES must be 32, 64, 128 or 256"
#endif
/** Bytes at the bottom of each stack that the MPU guards. */
#define RT_PORT_GUARD_BYTES RT_CFG_MPU_GUARD_BYTES
/** Alignment of stacks and their top: the guard region's. */
#define RT_PORT_STACK_ALIGN RT_CFG_MPU_GUARD_BYTES
#define RT_PORT_HAS_INIT 1
/** @brief Enables the guard and moves thread mode to PSP (once). */
void rt__port_init(void);
#else
#define RT_PORT_GUARD_BYTES 0
/** Alignment of stacks and their top (AAPCS: 8). */
#define RT_PORT_STACK_ALIGN 8
#endif
/** Smallest stack rt_spawn accepts: 128 usable bytes. */
#define RT_PORT_STACK_MIN (128 + RT_PORT_GUARD_BYTES)

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
