/* libFuzzer: the message decoder; whatever decodes must re-encode identically. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/err.h"
#include "agent/link.h"
#include "agent/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_msg m, m2;
	uint8_t buf[AG_LINK_MSG_MAX];
	int rc = ag_msg_decode(data, size, &m);

	if (rc < 0) {
		if (rc != AG_ETRUNC && rc != AG_EVERSION && rc != AG_ETYPE &&
		    rc != AG_EMALFORMED && rc != AG_ETOOBIG)
			__builtin_trap();
		ag_msg_make_error(rc, data, size, &m);
		if (ag_msg_encode(&m, buf, sizeof(buf)) <= 0)
			__builtin_trap();
		return 0;
	}
	int n = ag_msg_encode(&m, buf, sizeof(buf));
	if (n < 2 || (size_t)n > size || memcmp(buf, data, (size_t)n) != 0)
		__builtin_trap(); /* a prefix of the input: trailing bytes are ignored */
	if (ag_msg_decode(buf, (size_t)n, &m2) != 0)
		__builtin_trap();
	return 0;
}
