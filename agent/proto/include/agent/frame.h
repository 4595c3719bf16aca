/**
 * @file frame.h
 * @brief Framing of a byte stream: COBS, a 0x00 delimiter, and a CRC-32C.
 *
 * A frame is a 3-byte header, a payload and a CRC-32C, COBS-encoded and
 * written between two 0x00 delimiters. The decoder resynchronizes at every
 * 0x00, so garbage, a cut frame or a bad CRC costs at most that frame.
 * Byte layouts are in agent/PROTOCOL.md.
 *
 * Portable: no allocation, no globals, only string.h and stdint.h.
 */
#ifndef AGENT_FRAME_H
#define AGENT_FRAME_H

#include <stddef.h>
#include <stdint.h>

/**
 * Largest frame this build accepts, in bytes before COBS: header, payload and
 * CRC. It sizes the buffers of every link; the maximum actually used on a link
 * is negotiated in hello and may be smaller.
 */
#ifndef AG_FRAME_MAX
#define AG_FRAME_MAX 256
#endif

#define AG_FRAME_DEFAULT 256 /**< every implementation accepts frames this large */
#define AG_FRAME_MIN_MAX 128 /**< smallest maximum a link may negotiate */

_Static_assert(AG_FRAME_MAX >= AG_FRAME_DEFAULT && AG_FRAME_MAX <= 4096,
	       "AG_FRAME_MAX must be 256..4096: peers send 256-byte frames before hello");
#define AG_FRAME_HDR 3      /**< marker+kind, seq, ack */
#define AG_FRAME_CRC 4      /**< CRC-32C, little-endian */
#define AG_FRAME_OVERHEAD (AG_FRAME_HDR + AG_FRAME_CRC)
/** Largest payload in a frame of @p max bytes. */
#define AG_FRAME_PAYLOAD(max) ((max) - AG_FRAME_OVERHEAD)
/** Bytes on the wire for a frame of @p n bytes: COBS codes and two delimiters. */
#define AG_FRAME_WIRE(n) ((n) + ((n) / 254) + 1 + 2)

#define AG_FRAME_MARKER 0xa0u /**< high nibble of byte 0: framing version 1 */

/** Frame kinds (low nibble of byte 0). */
enum ag_frame_kind {
	AG_FRAME_DATA = 0,    /**< seq, ack, a message */
	AG_FRAME_ACK = 1,     /**< ack only */
	AG_FRAME_NAK = 2,     /**< ack, and "resend from ack": a gap was seen */
	AG_FRAME_RST = 3,     /**< reset the link; payload: sender's nonce (u32) */
	AG_FRAME_RST_ACK = 4, /**< payload: echoed nonce, sender's nonce (u32 each) */
};

/** A decoded frame. The payload points into the decoder's buffer. */
struct ag_frame {
	uint8_t kind;           /**< @ref ag_frame_kind */
	uint8_t seq;            /**< DATA: sequence number */
	uint8_t ack;            /**< next sequence number the sender expects */
	uint16_t len;           /**< payload length */
	const uint8_t *payload; /**< payload bytes */
};

/**
 * @brief Stream decoder state. Caller-allocated; fields are private.
 */
struct ag_frame_decoder {
	uint16_t len;   /* private: bytes decoded into buf */
	uint16_t max;   /* private: frame limit, <= AG_FRAME_MAX */
	uint8_t left;   /* private: bytes left in the current COBS block */
	uint8_t state;  /* private */
	uint8_t zero;   /* private: a zero is owed before the next block */
	uint8_t buf[AG_FRAME_MAX];
};

/**
 * @brief Resets a decoder. The first byte fed is taken as the start of a frame.
 * @param max largest frame accepted, AG_FRAME_MIN_MAX..AG_FRAME_MAX
 *        (out-of-range values are clamped).
 */
void ag_frame_decoder_init(struct ag_frame_decoder *d, uint16_t max);

/**
 * @brief Feeds bytes; stops after the first complete (good or bad) frame.
 *
 * @param[out] ret_used bytes of @p in consumed; always written. Call again
 *             with the rest of the input.
 * @param[out] ret_frame written only when 1 is returned; valid until the
 *             next call.
 * @return 1 a good frame, 0 all input consumed and no frame ended, or a
 *         negative @ref ag_err for a frame that was dropped:
 *         AG_ETRUNC (cut short), AG_ETOOBIG (over the limit), AG_EGARBAGE
 *         (not a frame of ours, or a payload of the wrong size for its
 *         kind), AG_ECRC (CRC mismatch). The decoder has already
 *         resynchronized when it returns an error.
 */
int ag_frame_decode(struct ag_frame_decoder *d, const uint8_t *in, size_t n,
		    size_t *ret_used, struct ag_frame *ret_frame);

/**
 * @brief Encodes a frame with its delimiters.
 * @param cap room in @p out; AG_FRAME_WIRE(AG_FRAME_OVERHEAD + f->len) suffices.
 * @return bytes written, or AG_ENOSPC / AG_EINVAL. On error @p out is unspecified.
 */
int ag_frame_encode(const struct ag_frame *f, uint8_t *out, size_t cap);

#endif /* AGENT_FRAME_H */
