/* libFuzzer: the frame decoder on arbitrary bytes, in arbitrary splits. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/err.h"
#include "agent/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_frame_decoder d;
	uint8_t wire[AG_FRAME_WIRE(AG_FRAME_MAX)];

	if (size < 1)
		return 0;
	/* First byte: the split size and the decoder limit. */
	size_t step = (size_t)(data[0] & 0x3f) + 1;
	ag_frame_decoder_init(&d, (data[0] & 0x40) ? AG_FRAME_MIN_MAX : AG_FRAME_MAX);
	data++;
	size--;
	while (size) {
		size_t n = size < step ? size : step, used = 0;
		struct ag_frame f;
		int rc = ag_frame_decode(&d, data, n, &used, &f);

		if (used > n || (rc == 0 && used != n))
			__builtin_trap();
		if (rc == 1) {
			/* A good frame re-encodes and decodes to itself. */
			struct ag_frame_decoder d2;
			struct ag_frame g;
			size_t u2;
			int wl = ag_frame_encode(&f, wire, sizeof(wire));

			if (wl < 0 || f.len + AG_FRAME_OVERHEAD > d.max)
				__builtin_trap();
			ag_frame_decoder_init(&d2, AG_FRAME_MAX);
			if (ag_frame_decode(&d2, wire, (size_t)wl, &u2, &g) != 1 || g.len != f.len ||
			    memcmp(g.payload, f.payload, f.len) != 0 || g.kind != f.kind)
				__builtin_trap();
		} else if (rc < 0 && rc != AG_ETRUNC && rc != AG_ETOOBIG && rc != AG_ECRC &&
			   rc != AG_EGARBAGE) {
			__builtin_trap();
		}
		data += used;
		size -= used;
	}
	return 0;
}
