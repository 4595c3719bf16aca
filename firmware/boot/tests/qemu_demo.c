/* Firmware for the QEMU boot tests, built for slot A (DEMO_SLOT 0) and
 * slot B (1) and signed by the build. A control block staged by the host
 * in PSRAM carries the mode and a delta patch from the slot A image to the
 * slot B image.
 *   slot A, B empty:  apply the patch into B through boot_ota (measuring the
 *                     stack high-water mark of the apply), reset;
 *   slot B, testing:  mode "confirm": boot_confirm(), reset;
 *                     mode "never": reset without confirming (a trial that fails);
 *   slot B confirmed: done (exit 0);
 *   slot A, B bad:    reverted; done in mode "never".
 * Result by semihosting exit status; progress on semihosting stdout. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/image_key.h"
#include "boot/boot.h"
#include "boot/ota.h"
#include "hal/sys.h"
#include "mps2/board.h"

#define CTL_ADDR 0x21200000u
#define CTL_MAGIC 0x4d444246u /* "FBDM" */
#define MODE_CONFIRM 1u
#define MODE_NEVER 2u
#define PAINT 0x5afe5afeu

struct ctl {
	uint32_t magic, mode, patch_len, image_size;
	uint8_t patch[];
};

extern uint32_t __stack_limit[], __stack_top[];

static struct boot_ota ota;
static char line[128];

static void say(void)
{
	mps2_semi_puts(line);
}

static void done(int code)
{
	snprintf(line, sizeof(line), "demo: exit %d\n", code);
	say();
	mps2_semi_exit(code);
}

/* Paints the unused stack below the caller's frame. */
__attribute__((noinline)) static void paint_stack(void)
{
	uintptr_t sp_now;
	__asm__ volatile("mov %0, sp" : "=r"(sp_now));
	uint32_t *sp = (uint32_t *)(sp_now - 256u);
	for (uint32_t *p = __stack_limit; p < sp; p++)
		*p = PAINT;
}

static uint32_t stack_depth(void)
{
	uint32_t *p = __stack_limit;
	while (p < __stack_top && *p == PAINT)
		p++;
	return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

/* The transfer as the agent would drive it; the stack high-water mark of
 * the streaming apply (begin and writes) and of the finish (verification)
 * are measured apart. */
__attribute__((noinline)) static int apply(const struct ctl *c, uint32_t *ret_apply_stack,
					   uint32_t *ret_finish_stack)
{
	struct ag_msg_ota_offer of;
	memset(&of, 0, sizeof(of));
	of.xfer = 1;
	of.slot = 1;
	of.kind = AG_OTA_DELTA;
	of.size = c->patch_len;
	of.image_size = c->image_size;
	uint32_t off = 0;
	int rc = boot_ota_init(&ota, 0);
	if (rc == 0)
		rc = boot_ota_begin(&ota, &of, &off);
	/* chunks the size of a link frame's payload */
	while (rc == 0 && off < c->patch_len) {
		uint32_t n = c->patch_len - off < 200 ? c->patch_len - off : 200;
		rc = boot_ota_write(&ota, off, c->patch + off, n);
		off += n;
	}
	*ret_apply_stack = stack_depth();
	paint_stack();
	if (rc == 0)
		rc = boot_ota_finish(&ota, c->patch_len);
	*ret_finish_stack = stack_depth();
	return rc;
}

int main(void)
{
	static const struct boot_config cfg = {
		.key = &ag_image_builtin_key,
		.hw_id = "mps2-an386",
		.slot_addr = {MPS2_SLOT_A_OFF, MPS2_SLOT_B_OFF},
	};
	const struct ctl *c = (const struct ctl *)(uintptr_t)CTL_ADDR;
	struct boot_trailer ta, tb;

	const unsigned DEMO_SLOT = (uintptr_t)&main >= MPS2_SLOT_B_OFF ? 1u : 0u;

	(void)mps2_board_init();
	if (c->magic != CTL_MAGIC || boot_init(&cfg) != 0 || boot_read_trailer(0, &ta) != 0 ||
	    boot_read_trailer(1, &tb) != 0)
		done(10);
	snprintf(line, sizeof(line), "demo: slot %c runs, A %u B %u (attempt %u), reset %d\n",
		 (int)('A' + DEMO_SLOT), ta.state, tb.state, tb.attempts, (int)hal_reset_reason());
	say();
	if (DEMO_SLOT == 0) {
		if (tb.state == BOOT_STATE_BAD) {
			snprintf(line, sizeof(line), "demo: trial image reverted, A runs\n");
			say();
			done(c->mode == MODE_NEVER ? 0 : 11);
		}
		if (tb.state != BOOT_STATE_EMPTY)
			done(12);
		uint32_t st_apply, st_finish;
		paint_stack();
		int rc = apply(c, &st_apply, &st_finish);
		snprintf(line, sizeof(line), "demo: delta applied into B: %s\n", ag_strerror(rc));
		say();
		snprintf(line, sizeof(line),
			 "demo: apply_stack_bytes %lu finish_stack_bytes %lu delta_state_bytes %lu "
			 "page_bytes %lu boot_ota_bytes %lu\n",
			 (unsigned long)st_apply, (unsigned long)st_finish,
			 (unsigned long)sizeof(struct ag_delta), (unsigned long)ota.page_size,
			 (unsigned long)sizeof(struct boot_ota));
		say();
		if (rc)
			done(13);
		hal_reset();
	}
	if (tb.state == BOOT_STATE_CONFIRMED) {
		snprintf(line, sizeof(line), "demo: B confirmed and running\n");
		say();
		done(c->mode == MODE_CONFIRM ? 0 : 14);
	}
	if (tb.state != BOOT_STATE_TESTING)
		done(15);
	if (c->mode == MODE_CONFIRM) {
		int rc = boot_confirm(1);
		snprintf(line, sizeof(line), "demo: confirm: %s\n", ag_strerror(rc));
		say();
		if (rc)
			done(16);
	}
	hal_reset();
}
