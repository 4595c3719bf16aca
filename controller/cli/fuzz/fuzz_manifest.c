/* libFuzzer: the manifest parser of `flotilla apply`, and the YAML printer on what it returns. */
#include <stdint.h>
#include <stdio.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *docs = NULL;
	char err[256];
	if (ctl_manifest_parse((const char *)data, size, &docs, err, sizeof(err)) == 0) {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			ctl_manifest_print_yaml(f, docs);
			fclose(f);
		}
		json_decref(docs);
	}
	return 0;
}
