/* Private to firmware/boot. */
#ifndef BOOT_PRIV_H
#define BOOT_PRIV_H

#include "boot/boot.h"

/* The configuration set by boot_init(); NULL key until then. */
extern struct boot_config boot__cfg;

/* Policy for verifying an image for @p slot against the floor @p floor. */
void boot__policy(uint8_t slot, uint32_t floor, struct ag_image_policy *ret_pol);

#endif
