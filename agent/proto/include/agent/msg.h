/**
 * @file msg.h
 * @brief The messages gateway and device exchange over an @ref ag_link.
 *
 * Every message is: protocol version (u8), type (u8), then the fields of its
 * type, little-endian, strings as a length byte and bytes. A message fits in
 * one frame. Decoders accept trailing bytes after the fields they know
 * (newer minor versions append fields); they refuse a shorter body. Layouts
 * and the compatibility rules are in agent/PROTOCOL.md.
 *
 * Portable: no allocation, no globals.
 */
#ifndef AGENT_MSG_H
#define AGENT_MSG_H

#include <stddef.h>
#include <stdint.h>

#define AG_PROTO_VERSION 1 /**< major version; a different one is refused */

#define AG_ID_MAX 32          /**< device and hardware id, bytes */
#define AG_STACKS_MAX 8       /**< stack marks in a heartbeat */
#define AG_TELEMETRY_MAX 8    /**< values in a telemetry message */
#define AG_METRIC_NAME_MAX 15 /**< bytes in a telemetry name */
#define AG_DETAIL_MAX 32      /**< bytes of text in an error */
#define AG_SHA256_LEN 32

/** Message types. Values are fixed on the wire. */
enum ag_msg_type {
	AG_MSG_HELLO = 0x01,      /**< device → gateway, first message of a session */
	AG_MSG_HELLO_ACK = 0x02,  /**< gateway → device: negotiated parameters */
	AG_MSG_HEARTBEAT = 0x03,  /**< device → gateway: health */
	AG_MSG_TELEMETRY = 0x04,  /**< device → gateway: application values */
	AG_MSG_OTA_OFFER = 0x10,  /**< gateway → device: an image or patch follows */
	AG_MSG_OTA_ACK = 0x11,    /**< device → gateway: accepted bytes, credit, status */
	AG_MSG_OTA_CHUNK = 0x12,  /**< gateway → device: bytes at an offset */
	AG_MSG_OTA_ABORT = 0x13,  /**< either way: the transfer stops */
	AG_MSG_OTA_FINISH = 0x14, /**< gateway → device: all bytes sent; verify */
	AG_MSG_ACTIVATE = 0x20,   /**< gateway → device: boot this slot next */
	AG_MSG_REBOOT = 0x21,     /**< gateway → device */
	AG_MSG_CONFIRM = 0x22,    /**< device → gateway: trial boot result */
	AG_MSG_ERROR = 0x7f,      /**< either way: a message was refused */
};

/** Slot states, as the bootloader's trailer records them. */
enum ag_slot_state {
	AG_SLOT_EMPTY = 0,
	AG_SLOT_PENDING = 1,
	AG_SLOT_TESTING = 2,
	AG_SLOT_CONFIRMED = 3,
	AG_SLOT_BAD = 4,
};

/** Capability bits in hello. */
enum ag_caps {
	AG_CAP_DELTA = 1u << 0,     /**< applies delta patches */
	AG_CAP_TELEMETRY = 1u << 1, /**< sends telemetry */
	AG_CAP_RESUME = 1u << 2,    /**< resumes transfers at an offset */
};

/** OTA payload kinds. */
enum ag_ota_kind { AG_OTA_FULL = 0, AG_OTA_DELTA = 1 };

/** A firmware version: semver plus a build number. */
struct ag_version {
	uint8_t major, minor;
	uint16_t patch;
	uint32_t build;
};

/** One slot as a device reports it. */
struct ag_slot_info {
	struct ag_version version;
	uint8_t state; /**< @ref ag_slot_state */
};

/** HELLO. */
struct ag_msg_hello {
	uint8_t proto_minor;   /**< minor version of the protocol spoken */
	uint16_t max_frame;    /**< largest frame the device accepts */
	uint32_t caps;         /**< @ref ag_caps */
	uint32_t boot_count;
	uint8_t active_slot;   /**< 0 (A) or 1 (B) */
	struct ag_slot_info slot[2];
	char device_id[AG_ID_MAX + 1]; /**< NUL-terminated */
	char hw_id[AG_ID_MAX + 1];     /**< NUL-terminated */
};

/** HELLO_ACK. */
struct ag_msg_hello_ack {
	uint8_t proto_minor;
	uint16_t max_frame;    /**< negotiated: the smaller of both maxima */
	uint16_t heartbeat_s;  /**< heartbeat interval the gateway wants */
};

/** A stack's high-water mark. */
struct ag_stack_mark {
	uint8_t id;    /**< coroutine id */
	uint16_t used; /**< deepest use seen, bytes */
	uint16_t size; /**< stack size, bytes */
};

/** HEARTBEAT. */
struct ag_msg_heartbeat {
	uint32_t uptime_s;
	uint32_t boot_count;
	uint32_t crash_count;
	uint32_t error_count;
	uint8_t reset_reason;
	uint8_t n_stacks;
	struct ag_stack_mark stacks[AG_STACKS_MAX];
};

/** A named telemetry value. */
struct ag_metric {
	char name[AG_METRIC_NAME_MAX + 1];
	int32_t value;
};

/** TELEMETRY. */
struct ag_msg_telemetry {
	uint32_t seq;
	uint8_t n;
	struct ag_metric m[AG_TELEMETRY_MAX];
};

/** OTA_OFFER. */
struct ag_msg_ota_offer {
	uint32_t xfer;              /**< transfer id, chosen by the gateway */
	uint8_t slot;               /**< target slot */
	uint8_t kind;               /**< @ref ag_ota_kind */
	struct ag_version version;  /**< version after install */
	struct ag_version base;     /**< delta: version the patch applies to */
	uint32_t size;              /**< bytes to transfer */
	uint32_t image_size;        /**< bytes of the resulting image */
	uint16_t chunk_max;         /**< largest chunk the gateway will send */
	uint8_t sha256[AG_SHA256_LEN]; /**< of the resulting image */
};

/** OTA_ACK. */
struct ag_msg_ota_ack {
	uint32_t xfer;
	uint32_t offset; /**< bytes received and stored; send from here */
	int16_t status;  /**< 0, or an @ref ag_err */
	uint8_t credit;  /**< chunks the device can take beyond @c offset */
};

/** OTA_CHUNK. @c data points into the decoded buffer. */
struct ag_msg_ota_chunk {
	uint32_t xfer;
	uint32_t offset;
	uint16_t len;
	const uint8_t *data;
};

/** OTA_ABORT. */
struct ag_msg_ota_abort {
	uint32_t xfer;
	int16_t reason; /**< an @ref ag_err */
};

/** OTA_FINISH. */
struct ag_msg_ota_finish {
	uint32_t xfer;
	uint32_t size;
};

/** ACTIVATE. */
struct ag_msg_activate {
	uint8_t slot;      /**< 0 or 1 */
	uint8_t permanent; /**< 1: confirmed at once; 0: trial boot */
};

/** REBOOT. */
struct ag_msg_reboot {
	uint32_t delay_ms;
};

/** CONFIRM. */
struct ag_msg_confirm {
	uint8_t slot;
	int16_t result; /**< 0 confirmed, or why the image was reverted */
	struct ag_version version;
};

/** ERROR. */
struct ag_msg_error {
	int16_t code;     /**< an @ref ag_err */
	uint8_t ref_type; /**< type of the refused message, 0 if unknown */
	char detail[AG_DETAIL_MAX + 1];
};

/** A message: a type and its body. */
struct ag_msg {
	uint8_t type; /**< @ref ag_msg_type */
	union {
		struct ag_msg_hello hello;
		struct ag_msg_hello_ack hello_ack;
		struct ag_msg_heartbeat heartbeat;
		struct ag_msg_telemetry telemetry;
		struct ag_msg_ota_offer ota_offer;
		struct ag_msg_ota_ack ota_ack;
		struct ag_msg_ota_chunk ota_chunk;
		struct ag_msg_ota_abort ota_abort;
		struct ag_msg_ota_finish ota_finish;
		struct ag_msg_activate activate;
		struct ag_msg_reboot reboot;
		struct ag_msg_confirm confirm;
		struct ag_msg_error error;
	} u;
};

/**
 * @brief Encodes a message.
 * @return bytes written; AG_ENOSPC if @p cap is too small; AG_ETYPE for an
 *         unknown type; AG_EMALFORMED for a field out of range (a string too
 *         long, a slot other than 0 or 1, a count over its maximum).
 */
int ag_msg_encode(const struct ag_msg *m, uint8_t *buf, size_t cap);

/**
 * @brief Decodes a message.
 * @param[out] ret_m written only on success. OTA_CHUNK's @c data points into
 *             @p buf.
 * @return 0; AG_ETRUNC shorter than its fields; AG_EVERSION another major
 *         version; AG_ETYPE an unknown type; AG_EMALFORMED a field out of
 *         range; AG_ETOOBIG over AG_LINK_MSG_MAX bytes.
 */
int ag_msg_decode(const uint8_t *buf, size_t len, struct ag_msg *ret_m);

/**
 * @brief Builds the ERROR reply to a message that failed to decode.
 * @param err the decoder's error; @p buf, @p len the refused message.
 */
void ag_msg_make_error(int err, const uint8_t *buf, size_t len, struct ag_msg *ret_m);

/** @brief A name for a message type ("hello", "ota_chunk"), "unknown" otherwise. */
const char *ag_msg_type_name(uint8_t type);

#endif /* AGENT_MSG_H */
