/**
 * @file board.h
 * @brief The MPS2-AN386 board (Cortex-M4F) as QEMU models it:
 * qemu-system-arm -M mps2-an386.
 *
 * Memory, and what survives a reset. QEMU's mps2-an386 has 4 MiB of ZBT
 * SSRAM1 at 0x00000000 (code), 4 MiB of SSRAM2/3 at 0x20000000 (data) and
 * 16 MiB of PSRAM at 0x21000000, all plain RAM. A guest-triggered reset
 * (AIRCR.SYSRESETREQ) resets the CPU and devices but does not clear RAM;
 * what it does do is copy every image QEMU loaded (-kernel, -device loader)
 * back to where it was loaded. So a region survives a reset exactly when no
 * loaded image covers it. The board therefore uses SSRAM1 as its "flash":
 *
 *   0x00000000  bootloader  256 KiB  (the only image given to -kernel)
 *   0x00040000  slot A        1 MiB
 *   0x00140000  slot B        1 MiB
 *
 * and images that should persist in a slot must reach it without QEMU's
 * loader writing there at reset: they are loaded into the PSRAM staging
 * window (MPS2_STAGE_A / MPS2_STAGE_B) and copied into their slot once per
 * power-on by mps2_flash_provision. tests/ checks this with a reset test.
 *
 * The last 4 KiB of SSRAM2/3 are not initialized by start-up code: they
 * hold the reset reason and the crash record across resets.
 *
 * Devices: UART0 (0x40004000) is the link UART with its RX interrupt
 * (IRQ 0); UART1 (0x40005000) is the log console, polled; SysTick at
 * 25 MHz is the tick; CMSDK TIMER1 (0x40001000, IRQ 9) is free for tests;
 * TIMER0 (0x40000000) is left to benches. QEMU does not model the
 * CMSDK watchdog of this board, so the watchdog is counted in the SysTick
 * interrupt, independent of the coroutines. Semihosting is used only for
 * test output and exit status.
 */
#ifndef MPS2_BOARD_H
#define MPS2_BOARD_H

#include <stdint.h>

#define MPS2_SYSCLK_HZ 25000000u

/** Where flash is read and written: SSRAM1's mirror, so that no pointer
 *  into flash is NULL (code still runs at the 0x00000000 addresses). */
#define MPS2_FLASH_BASE 0x00400000u
#define MPS2_FLASH_SIZE 0x00400000u
#define MPS2_BOOT_OFF 0x00000000u
#define MPS2_BOOT_SIZE 0x00040000u
#define MPS2_SLOT_A_OFF 0x00040000u
#define MPS2_SLOT_B_OFF 0x00140000u
#define MPS2_SLOT_SIZE 0x00100000u
#define MPS2_FLASH_SECTOR 4096u
#define MPS2_FLASH_ALIGN 8u

/** PSRAM staging windows for slot images loaded by QEMU. */
#define MPS2_STAGE_A 0x21000000u
#define MPS2_STAGE_B 0x21100000u

/**
 * @brief Starts the board: flash device, UARTs, reset reason. Call first
 * from main. @return 0.
 */
int mps2_board_init(void);

/**
 * @brief Copies staged slot images (a nonzero first word in a staging
 * window) into their slots, once per power-on; later resets leave the
 * slots as the guest wrote them.
 * @return the number of slots provisioned now (0 after a reset).
 */
int mps2_flash_provision(void);

/**
 * @brief For a bootloader about to start an image: the image's own
 * mps2_board_init() will then report the reset reason this boot had
 * (watchdog, software, ...) rather than a fault.
 */
void mps2_boot_handover(void);

/** @brief Semihosting: writes a NUL-terminated string to QEMU's stdout. */
void mps2_semi_puts(const char *s);

/** @brief Semihosting: ends QEMU with exit status @p code. */
void mps2_semi_exit(int code) __attribute__((noreturn));

/**
 * @brief Test interrupt source: CMSDK TIMER1 calls @p fn every @p period_us
 * (in interrupt context); NULL stops it.
 */
void mps2_timer1_start(void (*fn)(void), uint32_t period_us);

#endif /* MPS2_BOARD_H */
