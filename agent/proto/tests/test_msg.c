#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/err.h"
#include "agent/link.h"
#include "agent/msg.h"

static const uint8_t all_types[] = {
	AG_MSG_HELLO, AG_MSG_HELLO_ACK, AG_MSG_HEARTBEAT, AG_MSG_TELEMETRY,
	AG_MSG_OTA_OFFER, AG_MSG_OTA_ACK, AG_MSG_OTA_CHUNK, AG_MSG_OTA_ABORT,
	AG_MSG_OTA_FINISH, AG_MSG_ACTIVATE, AG_MSG_REBOOT, AG_MSG_CONFIRM, AG_MSG_ERROR,
};
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

static const uint8_t chunk_bytes[] = { 0, 1, 2, 0xfe, 0xff, 0, 42 };

/* Field by field, so that padding stays zero and structs compare with memcmp. */
static void set_ver(struct ag_version *v, uint8_t major, uint8_t minor, uint16_t patch,
		    uint32_t build)
{
	v->major = major;
	v->minor = minor;
	v->patch = patch;
	v->build = build;
}

/* A message of @p type with every field set to something distinctive. */
static void sample(uint8_t type, struct ag_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case AG_MSG_HELLO: {
		struct ag_msg_hello *h = &m->u.hello;
		h->proto_minor = 3;
		h->max_frame = 256;
		h->caps = AG_CAP_DELTA | AG_CAP_RESUME;
		h->boot_count = 77;
		h->active_slot = 1;
		set_ver(&h->slot[0].version, 1, 2, 3, 4);
		h->slot[0].state = AG_SLOT_CONFIRMED;
		set_ver(&h->slot[1].version, 1, 3, 0x1234, 0xdeadbeef);
		h->slot[1].state = AG_SLOT_TESTING;
		strcpy(h->device_id, "dev-00042");
		memset(h->hw_id, 'h', AG_ID_MAX); /* longest allowed */
		break;
	}
	case AG_MSG_HELLO_ACK:
		m->u.hello_ack.proto_minor = 1;
		m->u.hello_ack.max_frame = 512;
		m->u.hello_ack.heartbeat_s = 30;
		break;
	case AG_MSG_HEARTBEAT: {
		struct ag_msg_heartbeat *hb = &m->u.heartbeat;
		hb->uptime_s = 3600;
		hb->boot_count = 5;
		hb->crash_count = 1;
		hb->error_count = 0xffffffffu;
		hb->reset_reason = 4;
		hb->n_stacks = AG_STACKS_MAX;
		for (uint8_t i = 0; i < AG_STACKS_MAX; i++) {
			hb->stacks[i].id = i;
			hb->stacks[i].used = (uint16_t)(100 + i);
			hb->stacks[i].size = 1024;
		}
		break;
	}
	case AG_MSG_TELEMETRY: {
		struct ag_msg_telemetry *t = &m->u.telemetry;
		t->seq = 9;
		t->n = 3;
		strcpy(t->m[0].name, "temp_mc");
		t->m[0].value = -4000;
		strcpy(t->m[1].name, "fifteen_chars_x");
		t->m[1].value = 2147483647;
		strcpy(t->m[2].name, "v");
		t->m[2].value = 0;
		break;
	}
	case AG_MSG_OTA_OFFER: {
		struct ag_msg_ota_offer *o = &m->u.ota_offer;
		o->xfer = 0x01020304;
		o->slot = 1;
		o->kind = AG_OTA_DELTA;
		set_ver(&o->version, 2, 0, 1, 99);
		set_ver(&o->base, 1, 9, 7, 98);
		o->size = 12345;
		o->image_size = 300000;
		o->chunk_max = 230;
		for (int i = 0; i < AG_SHA256_LEN; i++)
			o->sha256[i] = (uint8_t)(i * 7);
		break;
	}
	case AG_MSG_OTA_ACK:
		m->u.ota_ack.xfer = 5;
		m->u.ota_ack.offset = 4096;
		m->u.ota_ack.status = AG_EHASH;
		m->u.ota_ack.credit = 4;
		break;
	case AG_MSG_OTA_CHUNK:
		m->u.ota_chunk.xfer = 5;
		m->u.ota_chunk.offset = 8192;
		m->u.ota_chunk.len = sizeof(chunk_bytes);
		m->u.ota_chunk.data = chunk_bytes;
		break;
	case AG_MSG_OTA_ABORT:
		m->u.ota_abort.xfer = 5;
		m->u.ota_abort.reason = AG_ECANCELED;
		break;
	case AG_MSG_OTA_FINISH:
		m->u.ota_finish.xfer = 5;
		m->u.ota_finish.size = 12345;
		break;
	case AG_MSG_ACTIVATE:
		m->u.activate.slot = 1;
		m->u.activate.permanent = 0;
		break;
	case AG_MSG_REBOOT:
		m->u.reboot.delay_ms = 250;
		break;
	case AG_MSG_CONFIRM:
		m->u.confirm.slot = 1;
		m->u.confirm.result = AG_ETIMEDOUT;
		set_ver(&m->u.confirm.version, 2, 0, 1, 99);
		break;
	case AG_MSG_ERROR:
		m->u.error.code = AG_ETYPE;
		m->u.error.ref_type = 0x55;
		strcpy(m->u.error.detail, "unknown type 0x55");
		break;
	}
}

static int encode(const struct ag_msg *m, uint8_t *buf)
{
	return ag_msg_encode(m, buf, AG_LINK_MSG_MAX);
}

static void test_every_message_round_trips(void **state)
{
	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		struct ag_msg m, d;
		uint8_t buf[AG_LINK_MSG_MAX];
		int n;

		sample(all_types[i], &m);
		n = encode(&m, buf);
		assert_true(n > 2);
		assert_int_equal(buf[0], AG_PROTO_VERSION);
		assert_int_equal(buf[1], all_types[i]);
		assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), 0);
		if (m.type == AG_MSG_OTA_CHUNK) {
			assert_int_equal(d.u.ota_chunk.len, sizeof(chunk_bytes));
			assert_memory_equal(d.u.ota_chunk.data, chunk_bytes, sizeof(chunk_bytes));
			assert_ptr_equal(d.u.ota_chunk.data, buf + 10); /* zero-copy */
			d.u.ota_chunk.data = m.u.ota_chunk.data;
		}
		assert_memory_equal(&m, &d, sizeof(m));
		assert_string_not_equal(ag_msg_type_name(all_types[i]), "unknown");
	}
}

static void test_truncation_at_every_length(void **state)
{
	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		struct ag_msg m, d;
		uint8_t buf[AG_LINK_MSG_MAX];
		int n;

		if (all_types[i] == AG_MSG_OTA_CHUNK)
			continue; /* its tail is the data: any length after the header */
		sample(all_types[i], &m);
		n = encode(&m, buf);
		for (int len = 0; len < n; len++) {
			memset(&d, 0xa5, sizeof(d));
			assert_int_equal(ag_msg_decode(buf, (size_t)len, &d), AG_ETRUNC);
			/* output untouched on error */
			assert_int_equal(((uint8_t *)&d)[0], 0xa5);
		}
	}
	/* A chunk shorter than its header. */
	struct ag_msg m, d;
	uint8_t buf[AG_LINK_MSG_MAX];
	sample(AG_MSG_OTA_CHUNK, &m);
	int n = encode(&m, buf);
	assert_int_equal(ag_msg_decode(buf, 9, &d), AG_ETRUNC);
	assert_int_equal(ag_msg_decode(buf, 10, &d), 0);
	assert_int_equal(d.u.ota_chunk.len, 0);
	(void)n;
}

static void test_version_and_type(void **state)
{
	(void)state;
	struct ag_msg m, d, e;
	uint8_t buf[AG_LINK_MSG_MAX];
	int n;

	sample(AG_MSG_HEARTBEAT, &m);
	n = encode(&m, buf);
	buf[0] = AG_PROTO_VERSION + 1;
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), AG_EVERSION);
	buf[0] = AG_PROTO_VERSION;
	buf[1] = 0x66;
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), AG_ETYPE);

	/* The reply says what was refused. */
	ag_msg_make_error(AG_ETYPE, buf, (size_t)n, &e);
	assert_int_equal(e.type, AG_MSG_ERROR);
	assert_int_equal(e.u.error.code, AG_ETYPE);
	assert_int_equal(e.u.error.ref_type, 0x66);
	n = encode(&e, buf);
	assert_true(n > 0);
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.u.error.code, AG_ETYPE);

	m.type = 0x66;
	assert_int_equal(encode(&m, buf), AG_ETYPE);
	assert_string_equal(ag_msg_type_name(0x66), "unknown");
}

static void test_out_of_range_fields(void **state)
{
	(void)state;
	struct ag_msg m, d;
	uint8_t buf[AG_LINK_MSG_MAX];
	int n;

	/* Encoder refuses what the decoder would refuse. */
	sample(AG_MSG_ACTIVATE, &m);
	m.u.activate.slot = 2;
	assert_int_equal(encode(&m, buf), AG_EMALFORMED);
	sample(AG_MSG_HEARTBEAT, &m);
	m.u.heartbeat.n_stacks = AG_STACKS_MAX + 1;
	assert_int_equal(encode(&m, buf), AG_EMALFORMED);
	sample(AG_MSG_HELLO, &m);
	memset(m.u.hello.device_id, 'x', AG_ID_MAX + 1); /* no terminator in reach */
	assert_int_equal(encode(&m, buf), AG_EMALFORMED);

	/* Decoder: slot 2, state 9, too many items, long string, NUL in string. */
	sample(AG_MSG_ACTIVATE, &m);
	n = encode(&m, buf);
	buf[2] = 2;
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), AG_EMALFORMED);

	sample(AG_MSG_HELLO, &m);
	n = encode(&m, buf);
	buf[2 + 1 + 2 + 4 + 4 + 1 + 8] = 9; /* slot[0].state */
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), AG_EMALFORMED);

	sample(AG_MSG_HEARTBEAT, &m);
	n = encode(&m, buf);
	buf[2 + 16 + 1] = AG_STACKS_MAX + 1;
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), AG_EMALFORMED);

	sample(AG_MSG_ERROR, &m);
	n = encode(&m, buf);
	assert_int_equal(buf[5], strlen("unknown type 0x55"));
	buf[5] = AG_DETAIL_MAX + 1;
	assert_int_equal(ag_msg_decode(buf, 6 + AG_DETAIL_MAX + 1, &d), AG_EMALFORMED);
	n = encode(&m, buf);
	buf[8] = 0;
	assert_int_equal(ag_msg_decode(buf, (size_t)n, &d), AG_EMALFORMED);
}

static void test_oversized_and_no_space(void **state)
{
	(void)state;
	struct ag_msg m, d;
	uint8_t buf[AG_LINK_MSG_MAX + 8];
	int n;

	sample(AG_MSG_REBOOT, &m);
	n = encode(&m, buf);
	assert_int_equal(ag_msg_decode(buf, AG_LINK_MSG_MAX + 1, &d), AG_ETOOBIG);
	for (int cap = 0; cap < n; cap++)
		assert_int_equal(ag_msg_encode(&m, buf, (size_t)cap), AG_ENOSPC);
}

static void test_trailing_bytes_are_extensions(void **state)
{
	(void)state;
	struct ag_msg m, d;
	uint8_t buf[AG_LINK_MSG_MAX];
	int n;

	/* A newer minor version appends fields; this decoder ignores them. */
	sample(AG_MSG_HELLO_ACK, &m);
	n = encode(&m, buf);
	buf[n] = 0xaa;
	buf[n + 1] = 0xbb;
	assert_int_equal(ag_msg_decode(buf, (size_t)n + 2, &d), 0);
	assert_memory_equal(&m, &d, sizeof(m));
}

static void test_hello_fits_default_frame(void **state)
{
	(void)state;
	struct ag_msg m;
	uint8_t buf[AG_LINK_MSG_MAX];

	/* Every message must fit a 256-byte frame: the size before hello. */
	for (size_t i = 0; i < NTYPES; i++) {
		sample(all_types[i], &m);
		int n = encode(&m, buf);
		assert_true(n > 0);
		assert_true(n <= AG_FRAME_PAYLOAD(AG_FRAME_DEFAULT));
	}
	/* The largest telemetry too. */
	sample(AG_MSG_TELEMETRY, &m);
	m.u.telemetry.n = AG_TELEMETRY_MAX;
	for (int i = 0; i < AG_TELEMETRY_MAX; i++)
		memset(m.u.telemetry.m[i].name, 'n', AG_METRIC_NAME_MAX);
	assert_true(encode(&m, buf) <= AG_FRAME_PAYLOAD(AG_FRAME_DEFAULT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_round_trips),
		cmocka_unit_test(test_truncation_at_every_length),
		cmocka_unit_test(test_version_and_type),
		cmocka_unit_test(test_out_of_range_fields),
		cmocka_unit_test(test_oversized_and_no_space),
		cmocka_unit_test(test_trailing_bytes_are_extensions),
		cmocka_unit_test(test_hello_fits_default_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
