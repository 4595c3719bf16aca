/* Helpers of ag_image's QEMU test programs (startup.c). */
#ifndef AG_IMAGE_M4_H
#define AG_IMAGE_M4_H

#include <stdint.h>

/** Where the QEMU loader puts the image under test. */
#define AG_M4_IMAGE_ADDR 0x00200000u
/** The pretend slot around it. */
#define AG_M4_SLOT_SIZE 0x00040000u

/** @brief Print a string on the semihosting console. */
void ag_m4_puts(const char *s);
/** @brief Print "key=value\n". */
void ag_m4_put_kv(const char *key, uint32_t v);
/** @brief End the QEMU run: exit status 0 if @p ok, else 1. */
void ag_m4_exit(int ok);
/** @brief Current stack pointer. */
uint32_t ag_m4_sp(void);
/** @brief Lowest address the stack may grow to (end of .bss). */
uintptr_t ag_m4_stack_floor(void);

#endif
