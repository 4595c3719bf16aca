/* libFuzzer: an assignment item from the controller (JSON text) through
 * gw_assignment_from_json. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/ctlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	json_t *o = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	struct gw_assignment a;
	int none;
	if (o && gw_assignment_from_json(o, &a, &none) == 0) {
		if (!a.device[0] || strlen(a.device) > AG_ID_MAX ||
		    strlen(a.release) >= sizeof(a.release) || strlen(a.action) >= sizeof(a.action))
			abort();
	}
	json_decref(o);
	return 0;
}
