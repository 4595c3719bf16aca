/**
 * @file ota.h
 * @brief Device OTA storage: receives a full image or a delta patch into
 * the inactive slot through flash_area, resumes after a power cut from the
 * slot trailer, verifies the result and marks it pending.
 *
 * Order of flash operations (each a power-cut boundary, see BOOT.md):
 *  1. begin: one trailer record "empty, transfer X under way" in the target
 *     slot, before any byte of its image area changes, so the slot can
 *     never boot half-written;
 *  2. each page: erase its sector, program it, then (full image) a trailer
 *     record with the durable offset or (delta) the decoder's progress record;
 *  3. finish: the image is verified in place (hash, key, signature,
 *     hardware id, security counter, link address) and only then one
 *     record "pending" is appended.
 * A transfer offered again with the same id, kind, sizes and hash resumes:
 * begin returns the offset to continue from.
 *
 * The boot_ota_agent_* functions have the signatures of struct
 * ag_agent_ops (agent/agent.h) with @c ctx a struct boot_ota, so they can
 * be plugged into an agent as they are.
 *
 * No heap: the state, the delta decoder and one page live in the
 * caller-allocated struct boot_ota (static on a device).
 */
#ifndef BOOT_OTA_H
#define BOOT_OTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/delta.h"
#include "agent/msg.h"
#include "boot/boot.h"

/** Largest flash sector the page buffer holds. */
#define BOOT_OTA_PAGE_MAX 4096u

/** OTA storage state. Allocate statically; every field is private. */
struct boot_ota {
	struct ag_delta delta;           /* private: delta decoder */
	struct boot_trailer tr;          /* private: the target's record being kept */
	uint32_t page_size;              /* private: = sector size */
	uint32_t received;               /* private: transfer bytes taken */
	uint32_t fill;                   /* private: bytes in page (full image) */
	int err;                         /* private: sticky error of this transfer */
	uint8_t running;                 /* private: slot the firmware runs from */
	uint8_t slot;                    /* private: target slot */
	uint8_t busy;                    /* private: a transfer is open */
	uint8_t page[BOOT_OTA_PAGE_MAX]; /* private */
};

/**
 * @brief Prepares @p o for a device running from @p running_slot.
 * boot_init() must have been called.
 * @return 0, AG_EINVAL, or AG_ENOSPC if the flash sector exceeds BOOT_OTA_PAGE_MAX.
 */
int boot_ota_init(struct boot_ota *o, uint8_t running_slot) __attribute__((warn_unused_result));

/**
 * @brief Opens (or resumes) a transfer into the offer's slot.
 * @param[out] ret_offset bytes of the transfer already stored: 0 for a new
 *             transfer, more when the same transfer is resumed.
 * @return 0; AG_ESTATE for the running slot as target or a missing
 *         boot_init; AG_EINVAL for a bad slot or kind; AG_ETOOBIG for an
 *         image larger than the slot's image area; AG_ETRUNC for an image
 *         smaller than a header; AG_EPATCHBASE when the running slot holds
 *         no image a patch could apply to; flash errors. Nothing is written
 *         on error.
 */
int boot_ota_begin(struct boot_ota *o, const struct ag_msg_ota_offer *offer, uint32_t *ret_offset)
	__attribute__((warn_unused_result));

/**
 * @brief Stores transfer bytes at @p offset (in order, without gaps).
 *
 * A full image's header is checked as soon as it is in: AG_EIMAGE,
 * AG_EHWID, AG_ESECCNT, AG_ESLOT, AG_ETOOBIG before anything is written.
 * A patch is refused with the ag_delta codes (AG_EPATCH, AG_EPATCHBASE,
 * AG_EPATCHRANGE, AG_EPATCHOVER, AG_ENOSPC, ...). Bytes past the declared
 * size are AG_ETOOBIG. Errors are sticky for the transfer.
 */
int boot_ota_write(struct boot_ota *o, uint32_t offset, const uint8_t *data, size_t len)
	__attribute__((warn_unused_result));

/**
 * @brief All @p size bytes are in: completes the image, verifies it in the
 * slot and marks the slot pending.
 * @return 0; AG_ETRUNC if bytes are missing; AG_EPATCHCRC; the verifier's
 *         error (AG_EHASH, AG_EKEY, AG_ESIG, AG_EHWID, AG_ESECCNT, AG_ESLOT,
 *         AG_ETRUNC, ...), in which case the transfer is abandoned and the
 *         slot stays empty.
 */
int boot_ota_finish(struct boot_ota *o, uint32_t size) __attribute__((warn_unused_result));

/**
 * @brief Abandons the transfer: the slot is recorded empty, no resume.
 * Safe to call with no transfer open.
 */
void boot_ota_abort(struct boot_ota *o, int reason);

/** @brief ag_agent_ops.ota_begin with @p ctx a struct boot_ota. */
int boot_ota_agent_begin(void *ctx, const struct ag_msg_ota_offer *offer, uint32_t *ret_offset);
/** @brief ag_agent_ops.ota_write with @p ctx a struct boot_ota. */
int boot_ota_agent_write(void *ctx, uint32_t offset, const uint8_t *data, size_t len);
/** @brief ag_agent_ops.ota_finish with @p ctx a struct boot_ota. */
int boot_ota_agent_finish(void *ctx, uint32_t size);
/** @brief ag_agent_ops.ota_abort with @p ctx a struct boot_ota. */
void boot_ota_agent_abort(void *ctx, int reason);
/** @brief ag_agent_ops.activate: boot_activate(); @p ctx unused. */
int boot_ota_agent_activate(void *ctx, uint8_t slot, bool permanent);
/** @brief ag_agent_ops.slots with @p ctx a struct boot_ota (for the running slot). */
void boot_ota_agent_slots(void *ctx, struct ag_slot_info ret_slot[2], uint8_t *ret_active);

#endif /* BOOT_OTA_H */
