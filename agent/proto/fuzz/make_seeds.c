/* Writes the seed corpora of the protocol fuzzers: one good frame of each
 * kind, and one encoded message of each type.
 * usage: make_seeds FRAME_DIR MSG_DIR */
#include <stdio.h>
#include <string.h>

#include "agent/frame.h"
#include "agent/link.h"
#include "agent/msg.h"

static int save(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n) {
		perror(path);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[AG_FRAME_WIRE(AG_FRAME_MAX) + 1], p[AG_LINK_MSG_MAX];
	static const uint8_t types[] = { AG_MSG_HELLO, AG_MSG_HEARTBEAT, AG_MSG_TELEMETRY,
					 AG_MSG_OTA_OFFER, AG_MSG_OTA_CHUNK, AG_MSG_ERROR };
	int rc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s FRAME_DIR MSG_DIR\n", argv[0]);
		return 2;
	}
	memset(p, 0, sizeof(p));
	for (uint8_t kind = 0; kind <= AG_FRAME_RST_ACK; kind++) {
		static const uint16_t lens[] = { 40, 0, 0, 4, 8 };
		struct ag_frame f = { .kind = kind, .seq = 3, .ack = 2, .len = lens[kind], .payload = p };
		char name[32];
		int n;

		for (uint16_t i = 0; i < f.len; i++)
			p[i] = (uint8_t)(i * 3);
		buf[0] = 0x08; /* decoder option byte: split size 9, full limit */
		n = ag_frame_encode(&f, buf + 1, sizeof(buf) - 1);
		snprintf(name, sizeof(name), "kind%u", kind);
		rc |= n < 0 || save(argv[1], name, buf, (size_t)n + 1);
	}
	for (size_t i = 0; i < sizeof(types); i++) {
		struct ag_msg m;
		char name[32];
		int n;

		memset(&m, 0, sizeof(m));
		m.type = types[i];
		if (m.type == AG_MSG_HELLO) {
			strcpy(m.u.hello.device_id, "dev-1");
			strcpy(m.u.hello.hw_id, "mps2-an386");
			m.u.hello.max_frame = AG_FRAME_DEFAULT;
		} else if (m.type == AG_MSG_HEARTBEAT) {
			m.u.heartbeat.n_stacks = 2;
		} else if (m.type == AG_MSG_TELEMETRY) {
			m.u.telemetry.n = 1;
			strcpy(m.u.telemetry.m[0].name, "temp");
		} else if (m.type == AG_MSG_OTA_CHUNK) {
			m.u.ota_chunk.len = 16;
			m.u.ota_chunk.data = p;
		}
		n = ag_msg_encode(&m, buf, sizeof(buf));
		snprintf(name, sizeof(name), "%s", ag_msg_type_name(m.type));
		rc |= n < 0 || save(argv[2], name, buf, (size_t)n);
	}
	return rc;
}
