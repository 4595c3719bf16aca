/* Vector table, reset handler and fault handlers of the MPS2-AN386. */
#include <stdint.h>
#include <string.h>

#include "regs.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void mps2_reset_handler(void);

__attribute__((naked, noreturn)) static void hard_fault(void)
{
	__asm__ volatile("tst lr, #4\n"
			 "ite eq\n"
			 "mrseq r0, msp\n"
			 "mrsne r0, psp\n"
			 "mrs r1, ipsr\n"
			 "b mps2__fault\n");
}

static void unexpected(void)
{
	for (;;)
		__asm__ volatile("bkpt #0");
}

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t mps2_vectors[16 + 32] = {
	(vector_t)(uintptr_t)__stack_top,
	mps2_reset_handler,
	hard_fault, /* NMI */
	hard_fault, /* HardFault */
	hard_fault, /* MemManage */
	hard_fault, /* BusFault */
	hard_fault, /* UsageFault */
	0, 0, 0, 0,
	unexpected, /* SVC */
	unexpected, /* DebugMon */
	0,
	unexpected,     /* PendSV */
	mps2__systick,  /* SysTick */
	[16 + 0] = mps2__uart0_rx,
	[16 + 1] = unexpected,
	[16 + 2] = unexpected,
	[16 + 3] = unexpected,
	[16 + 4] = unexpected,
	[16 + 5] = unexpected,
	[16 + 6] = unexpected,
	[16 + 7] = unexpected,
	[16 + 8] = unexpected,
	[16 + 9] = mps2__timer1,
	[16 + 10] = unexpected,
	[16 + 11] = unexpected,
	[16 + 12] = unexpected,
	[16 + 13] = unexpected,
};

void mps2_reset_handler(void)
{
	/* The image may sit in a slot: vectors are where this table is. */
	SCB_VTOR = (uint32_t)(uintptr_t)mps2_vectors;
	/* FPU on (CP10, CP11 full access). */
	SCB_CPACR |= 0xFu << 20;
	__asm__ volatile("dsb\n isb" ::: "memory");
	for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;)
		*d++ = *s++;
	for (uint32_t *d = __bss_start; d < __bss_end;)
		*d++ = 0;
	SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18); /* separate fault handlers */
	(void)main();
	for (;;)
		__asm__ volatile("wfi");
}

/* Device code has no heap. newlib's formatted output links malloc in but
 * does not need it for strings; every allocation fails. */
void *_sbrk(int incr);
void *_sbrk(int incr)
{
	(void)incr;
	return (void *)-1;
}
