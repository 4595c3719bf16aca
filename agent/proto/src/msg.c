#include "agent/msg.h"

#include <string.h>

#include "agent/bytes.h"
#include "agent/err.h"
#include "agent/frame.h"

/*
 * Each message type is a list of fields, each a kind and an offset into
 * struct ag_msg; one encoder and one decoder walk the lists. This keeps the
 * wire layout in one table and the code small enough for a device.
 */
enum {
	FK_U8,    /* arg: largest value allowed, 0 = any */
	FK_U16,
	FK_U32,
	FK_VER,   /* struct ag_version: 8 bytes */
	FK_STR,   /* arg: max length; u8 length + bytes on the wire */
	FK_BYTES, /* arg: fixed length */
	FK_REST,  /* the rest of the message; off: u16 length, arg: distance to the pointer */
	FK_ARR,   /* off: u8 count; arg: index into arrays[] */
};

struct field {
	uint8_t kind;
	uint8_t arg;
	uint16_t off;
};

struct array {
	uint16_t items; /* offset of the first element in struct ag_msg */
	uint8_t max;
	uint8_t size;   /* sizeof an element */
	uint8_t n;
	const struct field *f; /* offsets relative to the element */
};

struct layout {
	uint8_t type;
	uint8_t n;
	const struct field *f;
};

#define M(x) ((uint16_t)offsetof(struct ag_msg, u.x))
#define E(t, x) ((uint16_t)offsetof(t, x))

static const struct field f_hello[] = {
	{ FK_U8, 0, M(hello.proto_minor) },
	{ FK_U16, 0, M(hello.max_frame) },
	{ FK_U32, 0, M(hello.caps) },
	{ FK_U32, 0, M(hello.boot_count) },
	{ FK_U8, 1, M(hello.active_slot) },
	{ FK_VER, 0, M(hello.slot[0].version) },
	{ FK_U8, AG_SLOT_BAD, M(hello.slot[0].state) },
	{ FK_VER, 0, M(hello.slot[1].version) },
	{ FK_U8, AG_SLOT_BAD, M(hello.slot[1].state) },
	{ FK_STR, AG_ID_MAX, M(hello.device_id) },
	{ FK_STR, AG_ID_MAX, M(hello.hw_id) },
};
static const struct field f_hello_ack[] = {
	{ FK_U8, 0, M(hello_ack.proto_minor) },
	{ FK_U16, 0, M(hello_ack.max_frame) },
	{ FK_U16, 0, M(hello_ack.heartbeat_s) },
};
static const struct field f_stack[] = {
	{ FK_U8, 0, E(struct ag_stack_mark, id) },
	{ FK_U16, 0, E(struct ag_stack_mark, used) },
	{ FK_U16, 0, E(struct ag_stack_mark, size) },
};
static const struct field f_heartbeat[] = {
	{ FK_U32, 0, M(heartbeat.uptime_s) },
	{ FK_U32, 0, M(heartbeat.boot_count) },
	{ FK_U32, 0, M(heartbeat.crash_count) },
	{ FK_U32, 0, M(heartbeat.error_count) },
	{ FK_U8, 0, M(heartbeat.reset_reason) },
	{ FK_ARR, 0, M(heartbeat.n_stacks) },
};
static const struct field f_metric[] = {
	{ FK_STR, AG_METRIC_NAME_MAX, E(struct ag_metric, name) },
	{ FK_U32, 0, E(struct ag_metric, value) },
};
static const struct field f_telemetry[] = {
	{ FK_U32, 0, M(telemetry.seq) },
	{ FK_ARR, 1, M(telemetry.n) },
};
static const struct field f_ota_offer[] = {
	{ FK_U32, 0, M(ota_offer.xfer) },
	{ FK_U8, 1, M(ota_offer.slot) },
	{ FK_U8, AG_OTA_DELTA, M(ota_offer.kind) },
	{ FK_VER, 0, M(ota_offer.version) },
	{ FK_VER, 0, M(ota_offer.base) },
	{ FK_U32, 0, M(ota_offer.size) },
	{ FK_U32, 0, M(ota_offer.image_size) },
	{ FK_U16, 0, M(ota_offer.chunk_max) },
	{ FK_BYTES, AG_SHA256_LEN, M(ota_offer.sha256) },
};
static const struct field f_ota_ack[] = {
	{ FK_U32, 0, M(ota_ack.xfer) },
	{ FK_U32, 0, M(ota_ack.offset) },
	{ FK_U16, 0, M(ota_ack.status) },
	{ FK_U8, 0, M(ota_ack.credit) },
};
static const struct field f_ota_chunk[] = {
	{ FK_U32, 0, M(ota_chunk.xfer) },
	{ FK_U32, 0, M(ota_chunk.offset) },
	{ FK_REST, (uint8_t)(M(ota_chunk.data) - M(ota_chunk.len)), M(ota_chunk.len) },
};
static const struct field f_ota_abort[] = {
	{ FK_U32, 0, M(ota_abort.xfer) },
	{ FK_U16, 0, M(ota_abort.reason) },
};
static const struct field f_ota_finish[] = {
	{ FK_U32, 0, M(ota_finish.xfer) },
	{ FK_U32, 0, M(ota_finish.size) },
};
static const struct field f_activate[] = {
	{ FK_U8, 1, M(activate.slot) },
	{ FK_U8, 1, M(activate.permanent) },
};
static const struct field f_reboot[] = {
	{ FK_U32, 0, M(reboot.delay_ms) },
};
static const struct field f_confirm[] = {
	{ FK_U8, 1, M(confirm.slot) },
	{ FK_U16, 0, M(confirm.result) },
	{ FK_VER, 0, M(confirm.version) },
};
static const struct field f_error[] = {
	{ FK_U16, 0, M(error.code) },
	{ FK_U8, 0, M(error.ref_type) },
	{ FK_STR, AG_DETAIL_MAX, M(error.detail) },
};

#define N(a) ((uint8_t)(sizeof(a) / sizeof((a)[0])))

static const struct array arrays[] = {
	{ M(heartbeat.stacks), AG_STACKS_MAX, sizeof(struct ag_stack_mark), N(f_stack), f_stack },
	{ M(telemetry.m), AG_TELEMETRY_MAX, sizeof(struct ag_metric), N(f_metric), f_metric },
};

static const struct layout layouts[] = {
	{ AG_MSG_HELLO, N(f_hello), f_hello },
	{ AG_MSG_HELLO_ACK, N(f_hello_ack), f_hello_ack },
	{ AG_MSG_HEARTBEAT, N(f_heartbeat), f_heartbeat },
	{ AG_MSG_TELEMETRY, N(f_telemetry), f_telemetry },
	{ AG_MSG_OTA_OFFER, N(f_ota_offer), f_ota_offer },
	{ AG_MSG_OTA_ACK, N(f_ota_ack), f_ota_ack },
	{ AG_MSG_OTA_CHUNK, N(f_ota_chunk), f_ota_chunk },
	{ AG_MSG_OTA_ABORT, N(f_ota_abort), f_ota_abort },
	{ AG_MSG_OTA_FINISH, N(f_ota_finish), f_ota_finish },
	{ AG_MSG_ACTIVATE, N(f_activate), f_activate },
	{ AG_MSG_REBOOT, N(f_reboot), f_reboot },
	{ AG_MSG_CONFIRM, N(f_confirm), f_confirm },
	{ AG_MSG_ERROR, N(f_error), f_error },
};

static const struct layout *layout_of(uint8_t type)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].type == type)
			return &layouts[i];
	return NULL;
}

/* A cursor over the wire bytes; @c end bounds every access. */
struct cur {
	uint8_t *out;      /* encoding */
	const uint8_t *in; /* decoding */
	size_t pos, end;
};

static int put(struct cur *c, const void *src, size_t n)
{
	if (c->end - c->pos < n)
		return AG_ENOSPC;
	memcpy(c->out + c->pos, src, n);
	c->pos += n;
	return 0;
}

static int encode_fields(const struct field *f, uint8_t n, const uint8_t *base, struct cur *c)
{
	uint8_t tmp[8];
	int rc = 0;

	for (uint8_t i = 0; i < n && rc == 0; i++, f++) {
		const uint8_t *v = base + f->off;

		switch (f->kind) {
		case FK_U8:
			if (f->arg && *v > f->arg)
				return AG_EMALFORMED;
			rc = put(c, v, 1);
			break;
		case FK_U16:
			ag_put_le16(tmp, *(const uint16_t *)(const void *)v);
			rc = put(c, tmp, 2);
			break;
		case FK_U32:
			ag_put_le32(tmp, *(const uint32_t *)(const void *)v);
			rc = put(c, tmp, 4);
			break;
		case FK_VER: {
			const struct ag_version *ver = (const void *)v;

			tmp[0] = ver->major;
			tmp[1] = ver->minor;
			ag_put_le16(tmp + 2, ver->patch);
			ag_put_le32(tmp + 4, ver->build);
			rc = put(c, tmp, 8);
			break;
		}
		case FK_STR: {
			uint8_t len = 0;

			while (len <= f->arg && v[len])
				len++;
			if (len > f->arg)
				return AG_EMALFORMED;
			rc = put(c, &len, 1);
			if (rc == 0)
				rc = put(c, v, len);
			break;
		}
		case FK_BYTES:
			rc = put(c, v, f->arg);
			break;
		case FK_REST: {
			uint16_t len = *(const uint16_t *)(const void *)v;
			const uint8_t *data = *(const uint8_t *const *)(const void *)(v + f->arg);

			if (len && !data)
				return AG_EMALFORMED;
			rc = put(c, data, len);
			break;
		}
		case FK_ARR: {
			const struct array *a = &arrays[f->arg];

			if (*v > a->max)
				return AG_EMALFORMED;
			rc = put(c, v, 1);
			for (uint8_t k = 0; k < *v && rc == 0; k++)
				rc = encode_fields(a->f, a->n, base + a->items + k * a->size, c);
			break;
		}
		}
	}
	return rc;
}

static int decode_fields(const struct field *f, uint8_t n, uint8_t *base, struct cur *c)
{
	int rc = 0;

	for (uint8_t i = 0; i < n && rc == 0; i++, f++) {
		uint8_t *v = base + f->off;
		const uint8_t *s = c->in + c->pos;
		size_t left = c->end - c->pos;
		size_t need;

		switch (f->kind) {
		case FK_U8: need = 1; break;
		case FK_U16: need = 2; break;
		case FK_U32: need = 4; break;
		case FK_VER: need = 8; break;
		case FK_STR: need = left ? 1u + s[0] : 1; break;
		case FK_BYTES: need = f->arg; break;
		case FK_REST: need = left; break;
		default: need = 1; break; /* FK_ARR: the count */
		}
		if (left < need)
			return AG_ETRUNC;
		c->pos += need;

		switch (f->kind) {
		case FK_U8:
			if (f->arg && s[0] > f->arg)
				return AG_EMALFORMED;
			*v = s[0];
			break;
		case FK_U16:
			*(uint16_t *)(void *)v = ag_get_le16(s);
			break;
		case FK_U32:
			*(uint32_t *)(void *)v = ag_get_le32(s);
			break;
		case FK_VER: {
			struct ag_version *ver = (void *)v;

			ver->major = s[0];
			ver->minor = s[1];
			ver->patch = ag_get_le16(s + 2);
			ver->build = ag_get_le32(s + 4);
			break;
		}
		case FK_STR:
			if (s[0] > f->arg || memchr(s + 1, 0, s[0]))
				return AG_EMALFORMED;
			memcpy(v, s + 1, s[0]);
			v[s[0]] = 0;
			break;
		case FK_BYTES:
			memcpy(v, s, need);
			break;
		case FK_REST:
			*(uint16_t *)(void *)v = (uint16_t)need;
			*(const uint8_t **)(void *)(v + f->arg) = s;
			break;
		case FK_ARR: {
			const struct array *a = &arrays[f->arg];

			if (s[0] > a->max)
				return AG_EMALFORMED;
			*v = s[0];
			for (uint8_t k = 0; k < s[0] && rc == 0; k++)
				rc = decode_fields(a->f, a->n, base + a->items + k * a->size, c);
			break;
		}
		}
	}
	return rc;
}

int ag_msg_encode(const struct ag_msg *m, uint8_t *buf, size_t cap)
{
	const struct layout *lo = layout_of(m->type);
	struct cur c = { .out = buf, .pos = 2, .end = cap };
	int rc;

	if (!lo)
		return AG_ETYPE;
	if (cap < 2)
		return AG_ENOSPC;
	buf[0] = AG_PROTO_VERSION;
	buf[1] = m->type;
	rc = encode_fields(lo->f, lo->n, (const uint8_t *)m, &c);
	return rc < 0 ? rc : (int)c.pos;
}

int ag_msg_decode(const uint8_t *buf, size_t len, struct ag_msg *ret_m)
{
	const struct layout *lo;
	struct ag_msg m;
	struct cur c = { .in = buf, .pos = 2, .end = len };
	int rc;

	if (len > AG_FRAME_PAYLOAD(AG_FRAME_MAX))
		return AG_ETOOBIG;
	if (len < 2)
		return AG_ETRUNC;
	if (buf[0] != AG_PROTO_VERSION)
		return AG_EVERSION;
	lo = layout_of(buf[1]);
	if (!lo)
		return AG_ETYPE;
	memset(&m, 0, sizeof(m));
	m.type = buf[1];
	rc = decode_fields(lo->f, lo->n, (uint8_t *)&m, &c);
	if (rc < 0)
		return rc;
	*ret_m = m;
	return 0;
}

void ag_msg_make_error(int err, const uint8_t *buf, size_t len, struct ag_msg *ret_m)
{
	memset(ret_m, 0, sizeof(*ret_m));
	ret_m->type = AG_MSG_ERROR;
	ret_m->u.error.code = (int16_t)err;
	ret_m->u.error.ref_type = len >= 2 ? buf[1] : 0;
}
