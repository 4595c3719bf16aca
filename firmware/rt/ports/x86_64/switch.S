/* Context switch for x86_64 (System V): callee-saved registers on the stack,
 * the stack pointer in struct rt_co.sp (offset 0). */
	.text

/* void rt__port_switch(struct rt_co *from, struct rt_co *to) */
	.globl	rt__port_switch
	.type	rt__port_switch, @function
	.p2align 4
rt__port_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	rt__port_switch, .-rt__port_switch

/* First return address of every coroutine: align the stack, enter C. */
	.type	rt__port_entry, @function
	.p2align 4
rt__port_entry:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	andq	$-16, %rsp
	call	rt__co_main
	ud2
	.cfi_endproc
	.size	rt__port_entry, .-rt__port_entry

/* void *rt__port_stack_init(void *top) */
	.globl	rt__port_stack_init
	.type	rt__port_stack_init, @function
	.p2align 4
rt__port_stack_init:
	.cfi_startproc
	movq	%rdi, %rax
	andq	$-16, %rax
	movq	$0, -8(%rax)		/* no caller */
	leaq	rt__port_entry(%rip), %rdx
	movq	%rdx, -16(%rax)		/* popped by the first ret */
	subq	$64, %rax		/* six saved registers below it */
	movq	$0, 0(%rax)
	movq	$0, 8(%rax)
	movq	$0, 16(%rax)
	movq	$0, 24(%rax)
	movq	$0, 32(%rax)
	movq	$0, 40(%rax)
	ret
	.cfi_endproc
	.size	rt__port_stack_init, .-rt__port_stack_init

	.section .note.GNU-stack,"",@progbits
