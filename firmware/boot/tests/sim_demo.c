/* Firmware for the sim boot test: a Linux executable that the sim
 * bootloader runs from a slot (fexecve from a memfd). The same binary is
 * signed for slot A (1.0.0+1) and slot B (1.1.0+2).
 *   slot A, B empty:  install the B image (FLOTILLA_DEMO_B, a file) through
 *                     boot_ota as a full transfer, reset;
 *   slot B, testing:  FLOTILLA_DEMO_MODE=confirm: boot_confirm(), reset;
 *                     =never: reset without confirming;
 *   slot B confirmed: exit 0 (confirm mode);
 *   slot A, B bad:    exit 0 (never mode: reverted).
 * Board options as sim/board.h; progress on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/image_key.h"
#include "boot/boot.h"
#include "boot/ota.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "sim/board.h"

static struct boot_ota ota;

static int install_b(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return AG_ENOENT;
	static uint8_t buf[512];
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	struct ag_msg_ota_offer of;
	memset(&of, 0, sizeof(of));
	of.xfer = 42;
	of.slot = 1;
	of.kind = AG_OTA_FULL;
	of.size = of.image_size = (uint32_t)size;
	uint32_t off = 0;
	int rc = boot_ota_init(&ota, 0);
	if (rc == 0)
		rc = boot_ota_begin(&ota, &of, &off);
	if (rc == 0 && off)
		fseek(f, (long)off, SEEK_SET);
	while (rc == 0 && off < of.size) {
		size_t n = fread(buf, 1, sizeof(buf), f);
		if (n == 0) {
			rc = AG_EIO;
			break;
		}
		rc = boot_ota_write(&ota, off, buf, n);
		off += (uint32_t)n;
	}
	fclose(f);
	return rc ? rc : boot_ota_finish(&ota, of.size);
}

int main(int argc, char **argv)
{
	struct sim_config cfg;
	struct boot_trailer ta, tb;
	const struct flash_area *fa;
	const char *mode = getenv("FLOTILLA_DEMO_MODE");
	const char *slot_env = getenv("FLOTILLA_BOOT_SLOT");
	int never = mode && strcmp(mode, "never") == 0;

	sim_config_default(&cfg);
	if (sim_config_args(&cfg, &argc, argv) != 0 || !slot_env)
		return 10;
	cfg.uart = SIM_UART_NONE;
	cfg.no_tick = 1;
	if (sim_board_init(&cfg) != 0)
		return 10;
	struct boot_config bc = {.key = &ag_image_builtin_key, .hw_id = "flotilla-sim"};
	for (uint8_t s = 0; s < 2; s++) {
		if (flash_area_open(s == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa) != 0)
			return 10;
		bc.slot_addr[s] = fa->fa_off;
	}
	int slot = slot_env[0] == '1';
	if (boot_init(&bc) != 0 || boot_read_trailer(0, &ta) != 0 || boot_read_trailer(1, &tb) != 0)
		return 10;
	fprintf(stderr, "demo: slot %c runs (pid %d), A %u B %u (attempt %u), reset %d\n", 'A' + slot,
		(int)getpid(), ta.state, tb.state, tb.attempts, (int)hal_reset_reason());
	if (slot == 0) {
		if (tb.state == BOOT_STATE_BAD) {
			fprintf(stderr, "demo: trial image reverted, A runs\n");
			return never ? 0 : 11;
		}
		if (tb.state != BOOT_STATE_EMPTY)
			return 12;
		int rc = install_b(getenv("FLOTILLA_DEMO_B") ? getenv("FLOTILLA_DEMO_B") : "");
		fprintf(stderr, "demo: B installed: %s\n", ag_strerror(rc));
		if (rc)
			return 13;
		hal_reset();
	}
	if (tb.state == BOOT_STATE_CONFIRMED) {
		fprintf(stderr, "demo: B confirmed and running\n");
		return never ? 14 : 0;
	}
	if (tb.state != BOOT_STATE_TESTING)
		return 15;
	if (!never) {
		int rc = boot_confirm(1);
		fprintf(stderr, "demo: confirm: %s\n", ag_strerror(rc));
		if (rc)
			return 16;
	}
	hal_reset();
}
