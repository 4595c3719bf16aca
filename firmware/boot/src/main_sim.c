/* The bootloader of the sim board: picks a slot with boot_select() and runs
 * its payload, a Linux executable of the firmware at that version, with
 * fexecve from a memfd. Resets of the payload come back here
 * (FLOTILLA_SIM_BOOTLOADER). The payload gets the loader's arguments and
 * FLOTILLA_BOOT_SLOT=0|1; FLOTILLA_SIM_RESET is passed on so the firmware
 * sees why the board reset. No heap: the payload is written to the memfd
 * straight from the mapped flash.
 *
 *   flotilla-sim-boot [board options, see sim/board.h] [firmware options]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/image_key.h"
#include "boot/boot.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "sim/board.h"

#define MAX_ARGS 64

extern char **environ;

int main(int argc, char **argv)
{
	static char *orig[MAX_ARGS + 1];
	static char self[PATH_MAX];
	struct sim_config cfg;
	struct boot_decision d;
	const struct flash_area *fa;

	if (argc > MAX_ARGS) {
		fprintf(stderr, "sim-boot: too many arguments\n");
		return 2;
	}
	for (int i = 0; i < argc; i++)
		orig[i] = argv[i];
	orig[argc] = NULL;
	sim_config_default(&cfg);
	if (sim_config_args(&cfg, &argc, argv) != 0)
		return 2;
	cfg.uart = SIM_UART_NONE; /* the firmware opens the link, not the loader */
	cfg.no_tick = 1;
	if (sim_board_init(&cfg) != 0)
		return 1;
	enum hal_reset_reason why = hal_reset_reason();

	/* The sim board's slots are linked at their offsets in the flash device. */
	struct boot_config bc = {.key = &ag_image_builtin_key, .hw_id = "flotilla-sim"};
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
		if (flash_area_open(s == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa) != 0)
			return 1;
		bc.slot_addr[s] = fa->fa_off;
	}
	int rc = boot_init(&bc);
	if (rc == 0)
		rc = boot_select(why == HAL_RESET_WATCHDOG || why == HAL_RESET_FAULT
					 ? BOOT_RESET_WATCHDOG
					 : BOOT_RESET_NORMAL,
				 &d);
	if (rc) {
		fprintf(stderr, "sim-boot: no bootable image (%s)\n", ag_strerror(rc));
		sim_board_done();
		return 3;
	}
	static const char *const names[] = {"empty", "pending", "testing", "confirmed", "bad"};
	fprintf(stderr, "sim-boot: slot %c %u.%u.%u+%lu %s%s\n", 'A' + d.slot, d.version.major,
		d.version.minor, d.version.patch, (unsigned long)d.version.build,
		names[d.state < 5 ? d.state : 0], d.reverted ? " (trial image reverted)" : "");

	if (flash_area_open(d.slot == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa) != 0)
		return 1;
	const uint8_t *payload = flash_area_xip(fa) + d.payload_off;
	int fd = memfd_create(d.slot == 0 ? "flotilla-slot-a" : "flotilla-slot-b", MFD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "sim-boot: memfd_create: %s\n", strerror(errno));
		return 1;
	}
	for (uint32_t done = 0; done < d.payload_size;) {
		ssize_t n = write(fd, payload + done, d.payload_size - done);
		if (n <= 0) {
			fprintf(stderr, "sim-boot: cannot stage the payload: %s\n", strerror(errno));
			return 1;
		}
		done += (uint32_t)n;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	sim_board_done();

	char slot[2] = {(char)('0' + d.slot), 0};
	static const char *const reasons[] = {"", "software", "watchdog", "fault"};
	setenv("FLOTILLA_BOOT_SLOT", slot, 1);
	setenv("FLOTILLA_SIM_BOOTLOADER", self, 1);
	if (why != HAL_RESET_POWER_ON && (unsigned)why < 4)
		setenv("FLOTILLA_SIM_RESET", reasons[why], 1);
	fexecve(fd, orig, environ);
	fprintf(stderr, "sim-boot: fexecve: %s\n", strerror(errno));
	return 1;
}
