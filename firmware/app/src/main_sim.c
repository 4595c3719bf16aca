/* The sample application on the sim board: a device as a Linux process.
 *   flotilla-sim-device [--device-id ID] [board options, see sim/board.h] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "hal/sys.h"
#include "rt/rt.h"
#include "sim/board.h"

int main(int argc, char **argv)
{
	struct sim_config cfg;
	struct app_config app = {"sim-0001", "flotilla-sim", 100, 5000, 0};
	sim_config_default(&cfg);
	if (sim_config_args(&cfg, &argc, argv) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--device-id") == 0 && i + 1 < argc) {
			app.device_id = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--device-id ID] [--flash PATH] "
					"[--uart pty|tcp:HOST:PORT|fd:N|none]\n",
				argv[0]);
			return 2;
		}
	}
	/* Started by the sim bootloader from a slot: it says which. */
	const char *slot = getenv("FLOTILLA_BOOT_SLOT");
	if (slot && slot[0] == '1')
		app.active_slot = 1;
	if (sim_board_init(&cfg) != 0)
		return 1;
	rt_init(hal_rt_hooks());
	if (app_start(&app) != 0)
		return 1;
	int rc = rt_run();
	sim_board_done();
	return rc == 0 ? 0 : 1;
}
