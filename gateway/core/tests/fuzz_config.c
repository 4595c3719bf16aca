/* libFuzzer: the config file parser never overruns, and a text it accepts
 * yields values inside their documented ranges. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gateway/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_config c;
	char err[GW_CONFIG_ERR_MAX];
	gw_config_default(&c);
	if (gw_config_parse(&c, (const char *)data, size, err) == 0) {
		if (c.heartbeat_s < 1 || c.max_frame < 128 || c.max_frame > 4096 ||
		    c.n_serial > GW_CONFIG_LIST_MAX || c.n_pty > GW_CONFIG_LIST_MAX)
			abort();
	}
	return 0;
}
