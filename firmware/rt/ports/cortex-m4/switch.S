/* Context switch for Cortex-M4 (Thumb-2, AAPCS): r4-r11 and lr on the stack,
 * the stack pointer in struct rt_co.sp (offset 0). s16-s31 only with
 * RT_CFG_FPU_SAVE (see rt/port.h for why not by default). */
	.syntax	unified
	.thumb
	.text

#include "rt/config.h"

#ifndef RT_CFG_FPU_SAVE
#define RT_CFG_FPU_SAVE 0
#endif
#ifndef RT_CFG_MPU_GUARD
#define RT_CFG_MPU_GUARD 0
#endif
#ifndef RT_CFG_HANDLER_STACK_BYTES
#define RT_CFG_HANDLER_STACK_BYTES 1536
#endif

#ifndef RT_CFG_MPU_GUARD_BYTES
#define RT_CFG_MPU_GUARD_BYTES 128
#endif
#if RT_CFG_MPU_GUARD_BYTES == 32
#define GUARD_SIZE 4
#elif RT_CFG_MPU_GUARD_BYTES == 64
#define GUARD_SIZE 5
#elif RT_CFG_MPU_GUARD_BYTES == 128
#define GUARD_SIZE 6
#else
#define GUARD_SIZE 7
#endif

#define MPU_CTRL 0xE000ED94
#define MPU_RBAR 0xE000ED9C
#define GUARD_REGION 7
#define RBAR_VALID 0x10
/* XN, AP = privileged read-only (0b101), normal write-back memory (C, B),
 * SIZE = 2^(GUARD_SIZE + 1) bytes, enable */
#define GUARD_RASR ((1 << 28) | (5 << 24) | (1 << 17) | (1 << 16) | (GUARD_SIZE << 1) | 1)

/* Offsets checked by _Static_assert in src/sched.c. */
#define CO_NEXT 4
#define CO_STACK 8
#define CO_LEVEL 30
#define S_CUR (4 * RT_CFG_PRIO_LEVELS)
#define S_READY (S_CUR + 4)
#define CANARY 0xC5C5C5C5

/* void rt_yield(void): rotate the running coroutine's ready ring, pick the
 * head of the highest non-empty ring (clz of the ready bitmap) and switch.
 * The same steps as the portable C version, in 17 instructions. */
	.globl	rt_yield
	.type	rt_yield, %function
	.p2align 2
	.thumb_func
rt_yield:
	ldr	r3, =rt__s
	ldr	r0, [r3, #S_CUR]		/* cur */
	ldr	r2, [r0, #CO_STACK]
	ldr	r2, [r2]
	cmp	r2, #CANARY			/* the outgoing canary */
	bne	rt__stack_overflow		/* (cur): does not return */
	ldrb	r2, [r0, #CO_LEVEL]
	str	r0, [r3, r2, lsl #2]		/* tails[level] = cur: rotate */
	ldr	r2, [r3, #S_READY]
	clz	r2, r2
	ldr	r2, [r3, r2, lsl #2]		/* tail of the highest ring */
	ldr	r1, [r2, #CO_NEXT]		/* its head runs next */
	str	r1, [r3, #S_CUR]
	/* falls through into the switch, with r0 = cur and r1 = next */
	.size	rt_yield, .-rt_yield

/* void rt__port_switch(struct rt_co *from, struct rt_co *to) */
	.globl	rt__port_switch
	.type	rt__port_switch, %function
	.thumb_func
rt__port_switch:
	push	{r4-r11, lr}
#if RT_CFG_FPU_SAVE
	vpush	{s16-s31}
#endif
	str	sp, [r0]
	ldr	sp, [r1]
#if RT_CFG_MPU_GUARD
	ldr	r2, [r1, #CO_STACK]		/* guard the incoming stack's bottom */
	orr	r2, r2, #(RBAR_VALID | GUARD_REGION)
	ldr	r3, =MPU_RBAR
	str	r2, [r3]
#endif
#if RT_CFG_FPU_SAVE
	vpop	{s16-s31}
#endif
	pop	{r4-r11, pc}
	.size	rt__port_switch, .-rt__port_switch

#if RT_CFG_MPU_GUARD
/* void rt__port_init(void): region 7 guards address 0 until the first
 * switch; the MPU is on with the default map for privileged code; thread
 * mode runs on PSP from here on, handlers on their own MSP stack. */
	.globl	rt__port_init
	.type	rt__port_init, %function
	.p2align 2
	.thumb_func
rt__port_init:
	ldr	r0, =MPU_CTRL
	movs	r1, #0
	str	r1, [r0]			/* off while the region changes */
	ldr	r2, =MPU_RBAR
	movs	r1, #(RBAR_VALID | GUARD_REGION)	/* base 0 */
	str	r1, [r2]
	ldr	r1, =GUARD_RASR
	str	r1, [r2, #4]			/* MPU_RASR */
	movs	r1, #5				/* ENABLE | PRIVDEFENA */
	str	r1, [r0]
	dsb
	isb
	mrs	r0, control
	tst	r0, #2
	bne	1f				/* already on PSP */
	mov	r1, sp
	msr	psp, r1
	orr	r0, r0, #2
	msr	control, r0
	isb
	ldr	r1, =rt__handler_stack + RT_CFG_HANDLER_STACK_BYTES
	msr	msp, r1
1:	bx	lr
	.size	rt__port_init, .-rt__port_init

	.bss
	.p2align 3
rt__handler_stack:
	.space	RT_CFG_HANDLER_STACK_BYTES
	.text
#endif

/* First return address of every coroutine. */
	.type	rt__port_entry, %function
	.p2align 2
	.thumb_func
rt__port_entry:
	bl	rt__co_main
	udf	#0
	.size	rt__port_entry, .-rt__port_entry

/* void *rt__port_stack_init(void *top) */
	.globl	rt__port_stack_init
	.type	rt__port_stack_init, %function
	.p2align 2
	.thumb_func
rt__port_stack_init:
	bic	r0, r0, #7
#if RT_CFG_FPU_SAVE
	sub	r0, r0, #100		/* 9 core + 16 fp words */
#else
	sub	r0, r0, #36		/* r4-r11, lr */
#endif
	movs	r1, #0
	movs	r2, #0
#if RT_CFG_FPU_SAVE
	add	r3, r0, #64
#else
	mov	r3, r0
#endif
	stmia	r3!, {r1, r2}		/* r4, r5 */
	stmia	r3!, {r1, r2}		/* r6, r7 */
	stmia	r3!, {r1, r2}		/* r8, r9 */
	stmia	r3!, {r1, r2}		/* r10, r11 */
	ldr	r1, =rt__port_entry	/* lr; bit 0 set: Thumb */
	str	r1, [r3]
	bx	lr
	.size	rt__port_stack_init, .-rt__port_stack_init
	.ltorg
