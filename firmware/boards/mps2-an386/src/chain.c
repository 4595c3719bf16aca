/* A stand-in for the bootloader at 0x00000000 that boots slot A without
 * checking it: vectors from the slot, its stack pointer, its reset handler.
 * Lets an application linked for slot A run under QEMU before there is a
 * bootloader; QEMU loads the slot image with -device loader. */
#include <stdint.h>

#include "mps2/board.h"
#include "regs.h"

void mps2_chain_reset(void);

__attribute__((section(".vectors"), used)) const uintptr_t mps2_chain_vectors[2] = {
	0x20001000u, (uintptr_t)mps2_chain_reset};

__attribute__((naked, noreturn)) void mps2_chain_reset(void)
{
	__asm__ volatile("ldr r0, =%0\n"
			 "ldr r1, =0xE000ED08\n"
			 "str r0, [r1]\n"    /* VTOR */
			 "ldr r1, [r0]\n"
			 "msr msp, r1\n"     /* the slot's stack */
			 "ldr r0, [r0, #4]\n"
			 "bx r0\n"           /* the slot's reset handler */
			 ::"i"(MPS2_SLOT_A_OFF));
}
