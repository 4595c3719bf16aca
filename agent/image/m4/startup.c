/* Minimal Cortex-M4 start-up and semihosting for ag_image's QEMU programs. */
#include <stdint.h>
#include <string.h>

#include "m4.h"

extern uint32_t __etext, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
int main(void);
void ag_m4_reset(void);
void ag_m4_fault(void);

static int semihost(int op, const void *arg)
{
	register int r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

void ag_m4_puts(const char *s)
{
	semihost(0x04, s); /* SYS_WRITE0 */
}

void ag_m4_put_kv(const char *key, uint32_t v)
{
	char buf[64];
	size_t n = strlen(key);
	if (n > 40)
		n = 40;
	memcpy(buf, key, n);
	buf[n++] = '=';
	char digits[11];
	int d = 0;
	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (d)
		buf[n++] = digits[--d];
	buf[n++] = '\n';
	buf[n] = '\0';
	ag_m4_puts(buf);
}

void ag_m4_exit(int ok)
{
	/* SYS_EXIT: ADP_Stopped_ApplicationExit makes QEMU exit 0, anything else 1. */
	semihost(0x18, (const void *)(uintptr_t)(ok ? 0x20026 : 0x20023));
	for (;;)
		;
}

void ag_m4_fault(void)
{
	ag_m4_puts("fault\n");
	ag_m4_exit(0);
}

void ag_m4_reset(void)
{
	memcpy(&__data_start, &__etext, (size_t)((char *)&__data_end - (char *)&__data_start));
	memset(&__bss_start, 0, (size_t)((char *)&__bss_end - (char *)&__bss_start));
	/* CPACR: full access to CP10/CP11, the FPU the hard-float ABI assumes. */
	*(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
	__asm__ volatile("dsb\n\tisb");
	ag_m4_exit(main() == 0);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
	(void (*)(void))(uintptr_t)&__stack_top,
	ag_m4_reset,
	ag_m4_fault, /* NMI */
	ag_m4_fault, /* HardFault */
	ag_m4_fault, /* MemManage */
	ag_m4_fault, /* BusFault */
	ag_m4_fault, /* UsageFault */
};

uint32_t ag_m4_sp(void)
{
	uint32_t sp;
	__asm__ volatile("mov %0, sp" : "=r"(sp));
	return sp;
}

uintptr_t ag_m4_stack_floor(void)
{
	return (uintptr_t)&__bss_end;
}
