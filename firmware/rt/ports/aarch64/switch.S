/* Context switch for AArch64 (AAPCS64): x19-x30 and d8-d15 on the stack,
 * the stack pointer in struct rt_co.sp (offset 0). */
	.text

/* void rt__port_switch(struct rt_co *from, struct rt_co *to) */
	.globl	rt__port_switch
	.type	rt__port_switch, %function
	.p2align 4
rt__port_switch:
	sub	sp, sp, #160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x9, sp
	str	x9, [x0]
	ldr	x9, [x1]
	mov	sp, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	ret
	.size	rt__port_switch, .-rt__port_switch

/* First return address of every coroutine: enter C with no frame. */
	.type	rt__port_entry, %function
	.p2align 4
rt__port_entry:
	mov	x29, #0
	bl	rt__co_main
	brk	#0
	.size	rt__port_entry, .-rt__port_entry

/* void *rt__port_stack_init(void *top) */
	.globl	rt__port_stack_init
	.type	rt__port_stack_init, %function
	.p2align 4
rt__port_stack_init:
	and	x0, x0, #~15
	sub	x0, x0, #160
	mov	x10, x0
	add	x11, x0, #160
1:	str	xzr, [x10], #8
	cmp	x10, x11
	b.lo	1b
	adr	x9, rt__port_entry
	str	x9, [x0, #88]		/* x30, the first ret's target */
	ret
	.size	rt__port_stack_init, .-rt__port_stack_init

	.section .note.GNU-stack,"",%progbits
