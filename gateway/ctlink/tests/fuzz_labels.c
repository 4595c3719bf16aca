/* libFuzzer: gw_ctlink_parse_labels on any text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/ctlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	json_t *o = NULL;
	if (gw_ctlink_parse_labels(s, &o) == 0 && json_object_size(o) > 16)
		abort();
	json_decref(o);
	free(s);
	return 0;
}
