/* The sample application on the MPS2-AN386. */
#include "app/app.h"
#include "hal/sys.h"
#include "mps2/board.h"
#include "rt/rt.h"

#ifndef APP_SLOT
#define APP_SLOT 0
#endif

int main(void)
{
	static const struct app_config app = {"mps2-0001", "mps2-an386", 100, 5000, APP_SLOT};
	(void)mps2_board_init();
	rt_init(hal_rt_hooks());
	if (app_start(&app) != 0)
		hal_reset();
	(void)hal_tick_start();
	(void)rt_run();
	hal_reset();
}
