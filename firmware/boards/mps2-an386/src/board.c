/* The MPS2-AN386 board: flash in SSRAM1, UARTs, SysTick tick and software
 * watchdog, reset through AIRCR, crash record in no-init RAM, semihosting. */
#include <stdio.h>
#include <string.h>

#include "agent/err.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "hal/uart.h"
#include "mps2/board.h"
#include "regs.h"

/* ---- no-init RAM: survives a reset, zero at power-on (QEMU's RAM) ---- */

#define NOINIT_MAGIC 0x4e4f494eu
struct noinit {
	uint32_t magic;
	uint32_t reason;      /* the reason the next boot will report */
	uint32_t provisioned; /* staging copied into the slots this power-on */
	struct hal_crash crash;
};
static struct noinit ni __attribute__((section(".noinit")));

static enum hal_reset_reason reason;

/* ---- flash ---- */

static const struct flash_area areas[FLASH_AREA_COUNT] = {
	{FLASH_AREA_BOOTLOADER, 0, 0, MPS2_BOOT_OFF, MPS2_BOOT_SIZE},
	{FLASH_AREA_SLOT_A, 0, 0, MPS2_SLOT_A_OFF, MPS2_SLOT_SIZE},
	{FLASH_AREA_SLOT_B, 0, 0, MPS2_SLOT_B_OFF, MPS2_SLOT_SIZE},
};
static struct hal_flash_dev flash = {
	(uint8_t *)(uintptr_t)MPS2_FLASH_BASE, MPS2_FLASH_SIZE, MPS2_FLASH_SECTOR,
	MPS2_FLASH_ALIGN, 0xff, areas, NULL, NULL, NULL};

int mps2_flash_provision(void)
{
	if (ni.provisioned)
		return 0;
	ni.provisioned = 1;
	int n = 0;
	static const uint32_t stage[2] = {MPS2_STAGE_A, MPS2_STAGE_B};
	static const uint32_t slot[2] = {MPS2_SLOT_A_OFF, MPS2_SLOT_B_OFF};
	for (int i = 0; i < 2; i++) {
		const uint32_t *src = (const uint32_t *)(uintptr_t)stage[i];
		if (src[0] == 0)
			continue;
		memcpy((void *)(uintptr_t)(MPS2_FLASH_BASE + slot[i]), src, MPS2_SLOT_SIZE);
		n++;
	}
	return n;
}

/* ---- UARTs ---- */

static struct {
	struct rt_event *ev;
	uint32_t mask;
	uint8_t buf[HAL_UART_RX_BUF];
	volatile uint32_t head, tail, dropped;
} rx;

static void uart_init(uint32_t base)
{
	UART_BAUDDIV(base) = MPS2_SYSCLK_HZ / 115200u;
	UART_CTRL(base) = UART_CTRL_TXEN | UART_CTRL_RXEN;
}

void mps2__uart0_rx(void)
{
	while (UART_STATE(UART0_BASE) & UART_STATE_RXFULL) {
		uint8_t b = (uint8_t)UART_DATA(UART0_BASE);
		if (rx.head - rx.tail < HAL_UART_RX_BUF) {
			rx.buf[rx.head % HAL_UART_RX_BUF] = b;
			rx.head = rx.head + 1u;
		} else {
			rx.dropped = rx.dropped + 1u;
		}
	}
	UART_INTCLR(UART0_BASE) = UART_INT_RX;
	if (rx.ev)
		rt_event_set(rx.ev, rx.mask);
}

int hal_uart_start(unsigned id, struct rt_event *ev, uint32_t mask)
{
	if (id == HAL_UART_LOG)
		return 0;
	if (id != HAL_UART_LINK)
		return AG_ENOENT;
	rx.ev = ev;
	rx.mask = mask;
	UART_CTRL(UART0_BASE) |= UART_CTRL_RXINTEN;
	NVIC_ISER0 = 1u << UART0_RX_IRQ;
	return 0;
}

int hal_uart_read(unsigned id, void *buf, size_t cap)
{
	if (id == HAL_UART_LOG)
		return 0;
	if (id != HAL_UART_LINK)
		return AG_ENOENT;
	uint8_t *out = buf;
	size_t n = 0;
	uint32_t head = rx.head;
	while (n < cap && rx.tail != head) {
		out[n++] = rx.buf[rx.tail % HAL_UART_RX_BUF];
		rx.tail = rx.tail + 1u;
	}
	return (int)n;
}

int hal_uart_write(unsigned id, const void *buf, size_t len)
{
	uint32_t base;
	if (id == HAL_UART_LINK)
		base = UART0_BASE;
	else if (id == HAL_UART_LOG)
		base = UART1_BASE;
	else
		return AG_ENOENT;
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		while (UART_STATE(base) & UART_STATE_TXFULL)
			;
		UART_DATA(base) = p[i];
	}
	return 0;
}

uint32_t hal_uart_rx_dropped(unsigned id)
{
	return id == HAL_UART_LINK ? rx.dropped : 0;
}

void hal_log(const char *msg)
{
	(void)hal_uart_write(HAL_UART_LOG, msg, strlen(msg));
}

/* ---- tick, clock, watchdog ---- */

static volatile uint32_t ms_count;
static volatile uint32_t wdt_timeout, wdt_left;

static void reset_with(enum hal_reset_reason r) __attribute__((noreturn));

void mps2__systick(void)
{
	ms_count = ms_count + 1000u / RT_CFG_TICK_HZ;
	rt_tick_announce(1);
	if (wdt_timeout) {
		uint32_t step = 1000u / RT_CFG_TICK_HZ;
		if (wdt_left <= step)
			reset_with(HAL_RESET_WATCHDOG);
		wdt_left = wdt_left - step;
	}
}

int hal_tick_start(void)
{
	SYST_RVR = MPS2_SYSCLK_HZ / RT_CFG_TICK_HZ - 1u;
	SYST_CVR = 0;
	SYST_CSR = 7u; /* processor clock, interrupt, enable */
	return 0;
}

uint32_t hal_clock_ms(void)
{
	return ms_count;
}

int hal_wdt_start(uint32_t timeout_ms)
{
	if (timeout_ms == 0)
		return AG_EINVAL;
	wdt_left = timeout_ms;
	wdt_timeout = timeout_ms;
	return 0;
}

void hal_wdt_feed(void)
{
	wdt_left = wdt_timeout;
}

/* ---- reset, crash record ---- */

static void reset_with(enum hal_reset_reason r)
{
	ni.magic = NOINIT_MAGIC;
	ni.reason = r;
	__asm__ volatile("dsb" ::: "memory");
	SCB_AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
	__asm__ volatile("dsb" ::: "memory");
	for (;;)
		;
}

void hal_reset(void)
{
	reset_with(HAL_RESET_SOFTWARE);
}

enum hal_reset_reason hal_reset_reason(void)
{
	return reason;
}

const struct hal_crash *hal_last_crash(void)
{
	return ni.magic == NOINIT_MAGIC && ni.crash.magic == HAL_CRASH_MAGIC ? &ni.crash : NULL;
}

void hal_crash_clear(void)
{
	ni.crash.magic = 0;
}

static void record(int code, const char *name, uint32_t stack, uint32_t depth, uint32_t addr)
{
	uint32_t count = ni.crash.count;
	memset(&ni.crash, 0, sizeof(ni.crash));
	ni.crash.magic = HAL_CRASH_MAGIC;
	ni.crash.code = code;
	strncpy(ni.crash.name, name ? name : "?", sizeof(ni.crash.name) - 1);
	ni.crash.stack_bytes = stack;
	ni.crash.depth_bytes = depth;
	ni.crash.fault_addr = addr;
	ni.crash.count = count + 1u;
	ni.magic = NOINIT_MAGIC;
}

static void mps2_fatal(const struct rt_fault *f)
{
	char msg[128];
	record(f->code, f->name, f->stack_bytes, f->depth_bytes, (uint32_t)f->fault_addr);
	snprintf(msg, sizeof(msg),
		 "FATAL stack overflow: coroutine '%s' stack %lu bytes, went %lu bytes deep\r\n",
		 f->name, (unsigned long)f->stack_bytes, (unsigned long)f->depth_bytes);
	hal_log(msg);
	reset_with(HAL_RESET_FAULT);
}

/* A CPU fault: record it against the running coroutine, report, reset. */
void mps2__fault(uint32_t *frame, uint32_t kind)
{
	char msg[128];
	struct rt_co *co = rt_self();
	uint32_t cfsr = SCB_CFSR;
	uint32_t addr = cfsr & 0x80u ? SCB_MMFAR : cfsr & 0x8000u ? SCB_BFAR : 0u;
	/* The runtime's MPU guard (RT_CFG_MPU_GUARD): a write into the running
	 * coroutine's guard block (MMARVALID), or exception stacking that ran
	 * into it (MSTKERR), is a stack overflow, caught before it went below
	 * the stack. This handler runs on its own MSP stack. */
	if (co && RT_PORT_GUARD_BYTES &&
	    (((cfsr & 0x80u) && addr - (uint32_t)(uintptr_t)co->stack < RT_PORT_GUARD_BYTES) ||
	     (cfsr & 0x10u))) {
		struct rt_fault f = {
			.code = AG_ESTACK, .co = co, .name = co->name ? co->name : "?",
			.stack_bytes = co->stack_words * 4u, .depth_bytes = co->stack_words * 4u,
			.fault_addr = addr,
		};
		mps2_fatal(&f);
	}
	record(AG_EIO, co ? co->name : "irq", co ? co->stack_words * 4u : 0u, 0, addr);
	snprintf(msg, sizeof(msg), "FATAL cpu fault %lu: cfsr %08lx pc %08lx addr %08lx\r\n",
		 (unsigned long)kind, (unsigned long)SCB_CFSR, (unsigned long)frame[6],
		 (unsigned long)addr);
	hal_log(msg);
	reset_with(HAL_RESET_FAULT);
}

static void mps2_idle(void)
{
	__asm__ volatile("cpsid i" ::: "memory");
	if (!rt_busy())
		__asm__ volatile("wfi" ::: "memory");
	__asm__ volatile("cpsie i" ::: "memory");
}

static const struct rt_hooks hooks = {mps2_idle, mps2_fatal};

const struct rt_hooks *hal_rt_hooks(void)
{
	return &hooks;
}

/* ---- semihosting (tests only) ---- */

static int semi(uint32_t op, const void *arg)
{
	register uint32_t r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return (int)r0;
}

void mps2_semi_puts(const char *s)
{
	(void)semi(0x04u, s); /* SYS_WRITE0 */
}

void mps2_semi_exit(int code)
{
	uint32_t blk[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
	(void)semi(0x20u, blk); /* SYS_EXIT_EXTENDED */
	for (;;)
		;
}

/* ---- test interrupt source ---- */

static void (*timer1_fn)(void);

void mps2__timer1(void)
{
	TIMER_INTCLR(TIMER1_BASE) = 1u;
	if (timer1_fn)
		timer1_fn();
}

void mps2_timer1_start(void (*fn)(void), uint32_t period_us)
{
	TIMER_CTRL(TIMER1_BASE) = 0;
	NVIC_ICER0 = 1u << TIMER1_IRQ;
	timer1_fn = fn;
	if (fn == NULL)
		return;
	TIMER_RELOAD(TIMER1_BASE) = MPS2_SYSCLK_HZ / 1000000u * period_us;
	TIMER_VALUE(TIMER1_BASE) = MPS2_SYSCLK_HZ / 1000000u * period_us;
	TIMER_INTCLR(TIMER1_BASE) = 1u;
	NVIC_ICPR0 = 1u << TIMER1_IRQ;
	NVIC_ISER0 = 1u << TIMER1_IRQ;
	TIMER_CTRL(TIMER1_BASE) = TIMER_CTRL_EN | TIMER_CTRL_IRQEN;
}

void mps2_boot_handover(void)
{
	ni.reason = (uint32_t)reason;
}

int mps2_board_init(void)
{
	if (ni.magic == NOINIT_MAGIC) {
		reason = (enum hal_reset_reason)ni.reason;
	} else {
		/* Power-on: QEMU starts with RAM zeroed. */
		memset(&ni, 0, sizeof(ni));
		ni.magic = NOINIT_MAGIC;
		reason = HAL_RESET_POWER_ON;
	}
	/* A reset that is not ours (debugger, lockup) reads as a fault. */
	ni.reason = HAL_RESET_FAULT;
	uart_init(UART0_BASE);
	uart_init(UART1_BASE);
	return hal_flash_register(&flash);
}
