/* The bootloader of the MPS2-AN386 (Cortex-M4 under QEMU), at 0x00000000:
 * picks a slot with boot_select() and starts its payload in place
 * (direct-XIP): VTOR to the payload's vector table, MSP from it, branch to
 * its reset handler. No heap; the crypto heap of ag_image is static. */
#include <stdint.h>
#include <stdio.h>

#include "agent/image_key.h"
#include "boot/boot.h"
#include "hal/sys.h"
#include "mps2/board.h"

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define SCB_VTOR REG32(0xE000ED08u)
#define SYST_CSR REG32(0xE000E010u)
#define NVIC_ICER0 REG32(0xE000E180u)
#define NVIC_ICPR0 REG32(0xE000E280u)

/* On the log UART (UART1): semihosting would fault without a debugger. */
static void say(const char *s)
{
	hal_log(s);
}

__attribute__((noreturn, naked)) static void start(uint32_t vtor)
{
	__asm__ volatile("ldr r1, [r0]\n"
			 "msr msp, r1\n"
			 "ldr r1, [r0, #4]\n"
			 "cpsie i\n"
			 "bx r1\n");
}

int main(void)
{
	static const struct boot_config cfg = {
		.key = &ag_image_builtin_key,
		.hw_id = "mps2-an386",
		.slot_addr = {MPS2_SLOT_A_OFF, MPS2_SLOT_B_OFF},
	};
	struct boot_decision d;
	char line[96];

	(void)mps2_board_init();
	(void)mps2_flash_provision();
	enum hal_reset_reason why = hal_reset_reason();
	int rc = boot_init(&cfg);
	if (rc == 0)
		rc = boot_select(why == HAL_RESET_WATCHDOG || why == HAL_RESET_FAULT
					 ? BOOT_RESET_WATCHDOG
					 : BOOT_RESET_NORMAL,
				 &d);
	if (rc) {
		snprintf(line, sizeof(line), "boot: no bootable image (%s)\n", ag_strerror(rc));
		say(line);
		for (;;)
			__asm__ volatile("wfi");
	}
	static const char *const names[] = {"empty", "pending", "testing", "confirmed", "bad"};
	snprintf(line, sizeof(line), "boot: slot %c %u.%u.%u+%lu %s%s\n", 'A' + d.slot,
		 d.version.major, d.version.minor, d.version.patch, (unsigned long)d.version.build,
		 names[d.state < 5 ? d.state : 0], d.reverted ? " (trial image reverted)" : "");
	say(line);

	uint32_t vt = cfg.slot_addr[d.slot] + d.payload_off;
	__asm__ volatile("cpsid i" ::: "memory");
	SYST_CSR = 0;
	NVIC_ICER0 = 0xffffffffu;
	NVIC_ICPR0 = 0xffffffffu;
	mps2_boot_handover();
	SCB_VTOR = vt;
	__asm__ volatile("dsb\n isb" ::: "memory");
	start(vt);
}
