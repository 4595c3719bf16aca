/**
 * @file boot.h
 * @brief The A/B direct-XIP bootloader: slot trailers, slot selection with
 * trial boot and automatic revert, confirm and activate.
 *
 * Flash layout of each slot (flash_area FLASH_AREA_SLOT_A / _B):
 *
 *     [0, image area)           the signed image (agent/IMAGE.md), linked
 *                               for the slot's address (direct-XIP)
 *     [image area, slot size)   the trailer: BOOT_TRAILER_SECTORS sectors
 *
 * The trailer is an append-only log of fixed-size records (BOOT_REC_LEN
 * bytes, CRC-32C protected, with a sequence number). The record with the
 * highest sequence number and a good CRC is the slot's state; a torn record
 * fails its CRC and the previous one stays in force, so every state change
 * is one atomic append. When a trailer sector is full the next record goes
 * to the start of the other sector, which is erased first; the full sector
 * keeps the previous record until then, so a cut during the erase or the
 * write leaves the previous state. firmware/boot/BOOT.md has the write
 * orders and the power-cut argument.
 *
 * Nothing here allocates: state is in static storage and in the records on
 * flash. Functions return 0 or a negative enum ag_err.
 */
#ifndef BOOT_BOOT_H
#define BOOT_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/delta.h"
#include "agent/err.h"
#include "agent/image.h"

/** Slots. */
enum boot_slot_id {
	BOOT_SLOT_A = 0,
	BOOT_SLOT_B = 1,
	BOOT_SLOT_COUNT = 2,
};

/** Slot states, the same values as the wire's enum ag_slot_state. */
enum boot_state {
	BOOT_STATE_EMPTY = 0,     /**< no image (or one being written) */
	BOOT_STATE_PENDING = 1,   /**< verified, boots next (in trial) */
	BOOT_STATE_TESTING = 2,   /**< booted on trial, not yet confirmed */
	BOOT_STATE_CONFIRMED = 3, /**< confirmed by the application */
	BOOT_STATE_BAD = 4,       /**< failed its trial or its verification */
};

/** Sectors at the end of each slot that hold the trailer log. */
#define BOOT_TRAILER_SECTORS 2u
/** Bytes of one trailer record (a multiple of every board's write unit). */
#define BOOT_REC_LEN 160u
/** Trial boots an image in testing gets before it is marked bad (default). */
#ifndef BOOT_MAX_ATTEMPTS
#define BOOT_MAX_ATTEMPTS 3u
#endif

/** Trailer record flag: a transfer into the slot is under way. */
#define BOOT_F_OTA 0x01u

/** What a transfer in progress must remember to resume after a power cut. */
struct boot_ota_rec {
	uint32_t xfer;       /**< transfer id of the offer */
	uint8_t kind;        /**< enum ag_ota_kind */
	uint32_t size;       /**< bytes of the transfer (image or patch) */
	uint32_t image_size; /**< bytes of the resulting image */
	uint32_t durable;    /**< full image: bytes durably in the slot */
	uint8_t sha256[AG_IMAGE_HASH_LEN]; /**< of the resulting image, from the offer */
	uint8_t progress[AG_DELTA_PROGRESS_LEN]; /**< delta: last persisted record, or zeros */
	uint8_t patch_hdr[AG_DELTA_HEADER_LEN];  /**< delta: the patch's header */
	uint8_t has_progress; /**< progress holds a record */
};

/** The decoded state of one slot (its latest trailer record). */
struct boot_trailer {
	uint32_t seq;      /**< sequence number of the record (0: none on flash) */
	uint8_t state;     /**< enum boot_state */
	uint8_t attempts;  /**< trial boots so far (testing) */
	uint8_t flags;     /**< BOOT_F_* */
	uint32_t prio;     /**< among confirmed slots the higher one boots */
	uint32_t floor;    /**< the device's security-counter floor when written */
	uint32_t seccnt;   /**< security counter of the slot's image */
	struct boot_ota_rec ota; /**< valid when flags has BOOT_F_OTA */
};

/** What the loader needs to know; set once with boot_init(). */
struct boot_config {
	const struct ag_image_pubkey *key; /**< the trusted key (ag_image_builtin_key) */
	const char *hw_id;                 /**< this board's hardware id */
	uint32_t slot_addr[BOOT_SLOT_COUNT]; /**< each slot's link address (load_addr) */
	uint8_t max_attempts;              /**< trial boots; 0 means BOOT_MAX_ATTEMPTS */
};

/** Why the board started, as far as the trial boot cares. */
enum boot_reset {
	BOOT_RESET_NORMAL = 0,   /**< power-on or software reset */
	BOOT_RESET_WATCHDOG = 1, /**< watchdog or fatal error: a trial has failed */
};

/** The loader's decision. */
struct boot_decision {
	uint8_t slot;          /**< slot to run */
	uint8_t state;         /**< its state after the decision (testing or confirmed) */
	uint8_t reverted;      /**< 1 when a trial image was just marked bad */
	uint32_t payload_off;  /**< offset of the payload (hdr_size) in the slot */
	uint32_t payload_size; /**< payload bytes */
	struct ag_image_version version; /**< of the image that runs */
};

/**
 * @brief Sets the configuration (copied; the key and hw_id must stay valid).
 * @return 0; AG_EINVAL for a missing key or hw_id.
 */
int boot_init(const struct boot_config *cfg) __attribute__((warn_unused_result));

/**
 * @brief Reads a slot's state from its trailer.
 * @param[out] ret_t written on success; seq 0 and state EMPTY when the
 *             trailer holds no valid record.
 * @return 0; AG_EINVAL for a bad slot; AG_EFLASH/AG_ESTATE from flash.
 */
int boot_read_trailer(uint8_t slot, struct boot_trailer *ret_t)
	__attribute__((warn_unused_result));

/**
 * @brief Appends @p t as the slot's new state (its seq is assigned here).
 *
 * One atomic step: after a power cut the slot is either in its previous
 * state or in @p t. May erase the trailer's other sector first.
 * @return 0; AG_EFLASH or AG_EIO if the flash failed (the previous state stands).
 */
int boot_write_trailer(uint8_t slot, const struct boot_trailer *t)
	__attribute__((warn_unused_result));

/** @brief Bytes of a slot available to an image (the slot less its trailer). */
uint32_t boot_image_area(uint8_t slot);

/**
 * @brief The device's security-counter floor: the highest counter of an
 * image ever confirmed, as the trailers of both slots record it.
 */
uint32_t boot_security_floor(void);

/**
 * @brief Verifies the image in @p slot: layout, hash, key, signature,
 * hardware id, security counter against the floor, link address.
 * @param[out] ret_info may be NULL; written on success.
 * @return 0 or the verifier's ag_err (AG_ESIG, AG_EHWID, AG_ESECCNT, ...).
 */
int boot_verify_slot(uint8_t slot, struct ag_image_info *ret_info)
	__attribute__((warn_unused_result));

/**
 * @brief Chooses the slot to run and records the choice in the trailers.
 *
 * A pending image that verifies becomes testing (attempt 1); an image in
 * testing gets another attempt until max_attempts, and becomes bad after
 * them or after a watchdog reset, when another slot can boot; otherwise
 * the confirmed slot with the highest priority runs. Each candidate is
 * verified before it is chosen; one that fails is marked bad. If no slot
 * has a record at all, a slot holding a valid image is confirmed (factory
 * provisioning).
 * @param reset enum boot_reset
 * @param[out] ret written on success
 * @return 0; AG_ENOIMAGE when no slot holds a bootable verified image.
 */
int boot_select(int reset, struct boot_decision *ret) __attribute__((warn_unused_result));

/**
 * @brief The application confirms the image it runs from @p slot after its
 * self-test. A testing slot becomes confirmed with a priority above the
 * other slot's, and the security floor rises to its counter. Confirming a
 * confirmed slot does nothing.
 * @return 0; AG_ESTATE if the slot is neither testing nor confirmed.
 */
int boot_confirm(uint8_t slot) __attribute__((warn_unused_result));

/**
 * @brief Boots @p slot next: rollback on command, or the install of a
 * verified transfer. The image is verified first. Without @p permanent the
 * slot becomes pending (a trial boot follows); with it, confirmed with the
 * highest priority.
 * @return 0; the verifier's error (nothing is written then); AG_EINVAL.
 */
int boot_activate(uint8_t slot, bool permanent) __attribute__((warn_unused_result));

/**
 * @brief Both slots' states and versions, for the agent's hello.
 * @param[out] ret_state enum boot_state per slot
 * @param[out] ret_version per slot; zeros when the slot holds no valid image header
 */
void boot_slots_report(uint8_t ret_state[BOOT_SLOT_COUNT],
		       struct ag_image_version ret_version[BOOT_SLOT_COUNT]);

#endif /* BOOT_BOOT_H */
