/*
 * Code-size probe: the same program with and without one call of
 * ag_image_verify_mem() on a memory-mapped slot with the built-in key. The
 * difference of the two ELFs' text is what image verification costs a
 * bootloader (ag_image, mbedTLS, and the libc routines they pull in).
 */
#include <stdint.h>

#include "m4.h"
#if defined(AG_M4_WITH_VERIFY)
#include "agent/image.h"
#include "agent/image_key.h"
#endif

int main(void)
{
#if defined(AG_M4_WITH_VERIFY)
	struct ag_image_policy pol = {
		.key = &ag_image_builtin_key,
		.hw_id = "mps2-an386",
		.max_size = AG_M4_SLOT_SIZE,
		.check_load_addr = 1,
		.load_addr = AG_M4_IMAGE_ADDR,
	};
	struct ag_image_info info;
	int rc = ag_image_verify_mem((const uint8_t *)AG_M4_IMAGE_ADDR, AG_M4_SLOT_SIZE, &pol, &info);
	ag_m4_put_kv("rc", (uint32_t)-rc);
#else
	ag_m4_put_kv("rc", 0);
#endif
	return 0;
}
