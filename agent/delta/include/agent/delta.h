/**
 * @file delta.h
 * @brief Delta patches: header, streaming resumable apply (device and host).
 *
 * A patch turns the image in the old slot into the image of the new slot.
 * The format is described in agent/DELTA.md. Apply is freestanding: no heap,
 * no globals. The caller owns a @ref ag_delta state and one flash page of
 * buffer; the old image is read through a pointer (memory-mapped flash), the
 * new one is written one page at a time through a callback. The patch is fed
 * in chunks of any size as they arrive and is never held whole.
 *
 * Power cuts: after every page written the decoder offers a small progress
 * record (@ref AG_DELTA_PROGRESS_LEN bytes) for the caller to persist in the
 * slot trailer. To resume, the caller inits a fresh state, feeds the patch
 * header again, passes the record to ag_delta_resume(), and feeds the patch
 * from the offset it returns. Pages already written are not written again.
 *
 * Errors are @ref ag_err codes; every hostile patch is refused with its own:
 * - AG_EPATCH       malformed header or coded stream;
 * - AG_EVERSION     unknown format version;
 * - AG_EPATCHBASE   made for another old image (size or CRC differs);
 * - AG_EPATCHRANGE  would read outside the old image;
 * - AG_EPATCHOVER   would write past the declared new size;
 * - AG_ENOSPC       declared new image larger than the slot;
 * - AG_ETRUNC       the patch ends early (at ag_delta_finish());
 * - AG_ETOOBIG      more bytes than declared, or a declared size over limits;
 * - AG_EPATCHCRC    the image built does not match the declared CRC.
 * After an error the state is dead: every later call returns the same error.
 */
#ifndef AGENT_DELTA_H
#define AGENT_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/err.h"

/** Size of the fixed patch header, bytes. */
#define AG_DELTA_HEADER_LEN 48u
/** Size of a serialized progress record, bytes. */
#define AG_DELTA_PROGRESS_LEN 28u
/** Input bytes the decoder keeps between calls (one coded step's worst case, twice). */
#define AG_DELTA_INBUF 144u
/** Smallest and largest block of output between model resets (log2). */
#define AG_DELTA_BLOCK_SHIFT_MIN 12u
#define AG_DELTA_BLOCK_SHIFT_MAX 24u
/** Largest image the format describes (bytes). */
#define AG_DELTA_MAX_IMAGE (64u * 1024u * 1024u)

/** Header flag: Thumb-2 BL/B.W targets are predicted in normalized form. */
#define AG_DELTA_F_THUMB2 0x01u
/** Header flag: aligned words in [word_lo, word_hi) are predicted as addresses. */
#define AG_DELTA_F_WORDS 0x02u

/** What a patch header declares. All fields read-only for the caller. */
struct ag_delta_header {
	uint32_t old_size;    /**< size of the image the patch applies to */
	uint32_t old_crc;     /**< its CRC-32C */
	uint32_t new_size;    /**< size of the image the patch builds */
	uint32_t new_crc;     /**< its CRC-32C */
	uint32_t patch_size;  /**< whole patch, header included */
	uint32_t block_size;  /**< output bytes per independently coded block */
	uint32_t word_lo;     /**< address-word range, see AG_DELTA_F_WORDS */
	uint32_t word_hi;
	uint32_t crc;         /**< CRC-32C of the header bytes: the patch's identity */
	uint8_t version;      /**< format version, 1 */
	uint8_t flags;        /**< AG_DELTA_F_* */
};

/**
 * @brief Writes one page of the new image.
 * @param ctx the caller's pointer given to ag_delta_init().
 * @param off offset in the new image, a multiple of the page size.
 * @param buf @p len bytes; @p len is the page size except for the last page.
 * @return 0, or an ag_err code that aborts the apply (e.g. AG_EFLASH).
 *
 * The callback erases and programs as the flash needs; writing the same page
 * twice (after a resume) must leave the same content.
 */
typedef int (*ag_delta_write_fn)(void *ctx, uint32_t off, const uint8_t *buf, size_t len);

/**
 * @brief Offers a progress record to persist (optional).
 *
 * Called after each page write and at block starts, at most about once per
 * page. Persisting any record offered (or none) is safe: resuming from an
 * older one redoes more work but builds the same image.
 */
typedef void (*ag_delta_progress_fn)(void *ctx, const uint8_t rec[AG_DELTA_PROGRESS_LEN]);

/** Number of adaptive probabilities in the decoder's model. */
#define AG_DELTA_NPROBS 1515u

/** The adaptive model: probabilities and a little history. Private. */
struct ag_delta_model {
	uint16_t probs[AG_DELTA_NPROBS];
	uint8_t cnt[(AG_DELTA_NPROBS + 3) / 4]; /* 2 bits per probability: updates seen */
	uint32_t rep[18]; /* deltas of address units: per target bucket, recent */
	uint8_t hist[8];  /* recent bytes and diffs */
};

/** What coding needs from the header, precomputed. Private. */
struct ag_delta_cfg {
	uint32_t lo, hi;        /* word units' address range */
	uint8_t flags;          /* AG_DELTA_F_* */
	uint8_t wshift, bshift; /* bucket shifts of word and branch units */
};

/**
 * @brief Apply state. The caller allocates it (statically on a device).
 * Every field is private; the struct is public only so it can be allocated.
 */
struct ag_delta {
	/* private: configuration */
	const uint8_t *old;
	uint8_t *page;
	ag_delta_write_fn write;
	ag_delta_progress_fn progress;
	void *ctx;
	uint32_t old_len, page_size, slot_size;
	struct ag_delta_header hdr;
	struct ag_delta_cfg cfg;
	/* private: stream position */
	int err;
	uint8_t phase;
	uint16_t in_len, in_pos;
	uint32_t in_off;                 /* patch offset of in[in_pos] */
	uint32_t blk_end;                /* patch offset where the block ends */
	uint32_t blk_patch_off, blk_out_off, blk_crc;
	uint32_t out_pos, out_done, out_crc, skip_until;
	/* private: range decoder and command */
	uint32_t range, code;
	uint32_t copy_left, lit_left, old_pos;
	struct ag_delta_model m;
	uint8_t in[AG_DELTA_INBUF];
};

/**
 * @brief Parses and checks a patch header (magic, version, CRC, sizes).
 * @param patch at least AG_DELTA_HEADER_LEN bytes of the patch's start.
 * @param ret_hdr written only on success.
 * @return 0, AG_ETRUNC if @p len is short, AG_EVERSION, AG_EPATCH or AG_ETOOBIG.
 */
int ag_delta_read_header(const uint8_t *patch, size_t len, struct ag_delta_header *ret_hdr);

/**
 * @brief Prepares @p d to apply a patch onto @p old.
 * @param old the old image, readable for @p old_len bytes for the whole apply.
 * @param page a buffer of @p page_size bytes, owned by @p d until the end.
 * @param page_size a power of two, 16 .. 4096 * 16 bytes.
 * @param slot_size room in the new slot; a patch declaring more is refused.
 * @param write called once per finished page; @p progress may be NULL.
 * @return 0 or AG_EINVAL. Nothing is read from @p old until the header is fed.
 */
int ag_delta_init(struct ag_delta *d, const uint8_t *old, size_t old_len, uint8_t *page,
		  size_t page_size, size_t slot_size, ag_delta_write_fn write,
		  ag_delta_progress_fn progress, void *ctx);

/**
 * @brief Feeds the next @p len bytes of the patch (any size, even 0).
 *
 * Once the header is complete it is checked against the old image (its size
 * and CRC, a pass over the whole old image) and against the slot size.
 * @return 0 when all of @p chunk was consumed, or an ag_err code.
 */
int ag_delta_feed(struct ag_delta *d, const uint8_t *chunk, size_t len);

/**
 * @brief Ends the apply: writes the last partial page, checks the new image's CRC.
 * @param ret_new_len written only on success: the new image's size.
 * @return 0, AG_ETRUNC if the patch was incomplete, AG_EPATCHCRC, or the
 *         error that stopped the apply earlier.
 */
int ag_delta_finish(struct ag_delta *d, size_t *ret_new_len);

/**
 * @brief The current progress record: what ag_delta_resume() needs.
 *
 * Valid once the header is fed. The record names the patch (its header CRC),
 * the block to restart from and how many bytes of output are already
 * durable; it carries its own CRC so a torn write of it is detected.
 */
void ag_delta_progress(const struct ag_delta *d, uint8_t rec[AG_DELTA_PROGRESS_LEN]);

/**
 * @brief Resumes an interrupted apply from a persisted record.
 *
 * Call after ag_delta_init() and after feeding exactly the AG_DELTA_HEADER_LEN
 * header bytes. Then feed the patch from @p *ret_patch_off to its end.
 * @param ret_patch_off written only on success: the patch offset to continue from.
 * @return 0, AG_ECRC for a torn or corrupt record, AG_EPATCHBASE if the record
 *         belongs to another patch, AG_ESTATE if called at the wrong time.
 */
int ag_delta_resume(struct ag_delta *d, const uint8_t rec[AG_DELTA_PROGRESS_LEN],
		    uint32_t *ret_patch_off);

/** @brief Bytes of the new image decoded so far (durable or not). */
uint32_t ag_delta_out_pos(const struct ag_delta *d);

/**
 * @brief Applies a whole patch held in memory: a convenience over the streaming API.
 * @param out receives the new image; @p out_cap is its room (the "slot").
 * @param ret_out_len written only on success.
 * @return 0 or an ag_err code. On error @p out may hold partial output.
 */
int ag_delta_apply_mem(const uint8_t *old_img, size_t old_len, const uint8_t *patch,
		       size_t patch_len, uint8_t *out, size_t out_cap, size_t *ret_out_len);

#endif /* AGENT_DELTA_H */
