/* libFuzzer: the API's JSON input path (parse, schema check) and label selectors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/obj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* first byte: which kind; rest: a body as the server would receive it */
	enum ctl_kind k = (enum ctl_kind)(data[0] % CTL_KIND__COUNT);
	json_t *o = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (o) {
		char p[256], why[256];
		(void)ctl_obj_validate(k, o, p, sizeof(p), why, sizeof(why));
		(void)ctl_obj_validate_status(k, json_object_get(o, "status"), p, sizeof(p), why,
					      sizeof(why));
		(void)ctl_obj_rv(o);
		json_decref(o);
	}
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	struct ctl_selector *sel;
	if (ctl_selector_parse(s, &sel) == 0) {
		json_t *l = json_pack("{s:s, s:s}", "a", "b", "env", "prod");
		(void)ctl_selector_match(sel, l);
		json_decref(l);
		ctl_selector_free(sel);
	}
	free(s);
	return 0;
}
