/**
 * @file flash.h
 * @brief Flash areas in the MCUboot manner: open an area by id, then read,
 * write, erase, and read it through memory (execute-in-place).
 *
 * Every board has one flash device laid out as: the bootloader, slot A,
 * slot B. The device behaves like NOR flash: erase sets whole sectors to
 * the erased value; a write can only clear bits (new = old & data), and one
 * that would need to set a bit fails with AG_EFLASH after clearing what it
 * could, as the hardware would. Writes are in units of flash_area_align
 * bytes at aligned offsets; erases cover whole sectors.
 *
 * Boot, agent and delta code see flash only through this header.
 */
#ifndef HAL_FLASH_H
#define HAL_FLASH_H

#include <stdint.h>

/** Area ids. */
enum flash_area_id {
	FLASH_AREA_BOOTLOADER = 0, /**< the bootloader, at the start of flash */
	FLASH_AREA_SLOT_A = 1,     /**< image slot A */
	FLASH_AREA_SLOT_B = 2,     /**< image slot B */
	FLASH_AREA_COUNT = 3,
};

/** An area of the flash device. All fields read-only. */
struct flash_area {
	uint8_t fa_id;        /**< enum flash_area_id */
	uint8_t fa_device_id; /**< always 0: one device per board */
	uint16_t fa_pad;      /**< zero */
	uint32_t fa_off;      /**< offset of the area in the device */
	uint32_t fa_size;     /**< size in bytes, a multiple of the sector size */
};

/**
 * @brief Opens area @p id.
 * @param ret_fa receives the area on success; valid until the board is reset
 * @return 0; AG_ENOENT for an unknown id; AG_ESTATE if the board has no flash yet.
 */
int flash_area_open(uint8_t id, const struct flash_area **ret_fa)
	__attribute__((warn_unused_result));

/** @brief Closes an area (nothing to release; NULL is fine). */
void flash_area_close(const struct flash_area *fa);

/**
 * @brief Reads @p len bytes at @p off in the area. No alignment needed.
 * @return 0; AG_EINVAL when the range is outside the area.
 */
int flash_area_read(const struct flash_area *fa, uint32_t off, void *dst, uint32_t len)
	__attribute__((warn_unused_result));

/**
 * @brief Programs @p len bytes at @p off. @p off and @p len must be
 * multiples of flash_area_align.
 * @return 0; AG_EINVAL for a range outside the area or misaligned;
 *         AG_EFLASH when a bit would have to go from 0 to 1 (the bits that
 *         could be cleared are cleared).
 */
int flash_area_write(const struct flash_area *fa, uint32_t off, const void *src, uint32_t len)
	__attribute__((warn_unused_result));

/**
 * @brief Erases @p len bytes at @p off: whole sectors.
 * @return 0; AG_EINVAL for a range outside the area or not on sector bounds.
 */
int flash_area_erase(const struct flash_area *fa, uint32_t off, uint32_t len)
	__attribute__((warn_unused_result));

/** @brief Write unit in bytes (a power of two). */
uint32_t flash_area_align(const struct flash_area *fa);

/** @brief The value of an erased byte (0xff). */
uint8_t flash_area_erased_val(const struct flash_area *fa);

/** @brief Erase unit in bytes (uniform sectors). */
uint32_t flash_area_sector_size(const struct flash_area *fa);

/**
 * @brief The area as memory, for execute-in-place and for reading without
 * copies (the delta applier reads the old slot this way).
 * @return the address of the area's first byte; NULL if not memory-mapped.
 * Reads through it see every completed write and erase.
 */
const uint8_t *flash_area_xip(const struct flash_area *fa);

/* ---- for boards ---- */

/** Kinds of operation passed to a hal_flash_dev hook. */
enum hal_flash_op {
	HAL_FLASH_OP_WRITE = 1,
	HAL_FLASH_OP_ERASE = 2,
};

/** What a hook asks the driver to do with the operation it was shown. */
enum hal_flash_action {
	HAL_FLASH_DO = 0,      /**< perform it */
	HAL_FLASH_CUT = 1,     /**< power fails before it: call cut, do nothing */
	HAL_FLASH_TEAR = 2,    /**< power fails half-way: do the first half, then cut */
};

/**
 * @brief A memory-backed flash device (RAM under QEMU, an mmap'd file on the
 * sim board). Boards fill one in and register it.
 */
struct hal_flash_dev {
	uint8_t *mem;           /**< the device's bytes, also its XIP address */
	uint32_t size;          /**< bytes */
	uint32_t sector;        /**< erase unit */
	uint32_t align;         /**< write unit */
	uint8_t erased;         /**< erased byte value */
	const struct flash_area *areas; /**< FLASH_AREA_COUNT areas, by id */
	/**
	 * Optional. Called before every write and erase with the device
	 * offset and length; returns an enum hal_flash_action.
	 */
	int (*hook)(void *ctx, int op, uint32_t off, uint32_t len);
	/** Called after a CUT or TEAR; models the power failing. Should not return. */
	void (*cut)(void *ctx);
	void *ctx; /**< for hook and cut */
};

/** @brief Makes @p dev the board's flash. @return 0 or AG_EINVAL. */
int hal_flash_register(struct hal_flash_dev *dev);

#endif /* HAL_FLASH_H */
