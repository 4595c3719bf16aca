/**
 * @file sys.h
 * @brief The rest of the board: start-up, the tick clock, reset and its
 * reason, the watchdog, and the hooks the runtime needs.
 */
#ifndef HAL_SYS_H
#define HAL_SYS_H

#include <stdint.h>

#include "rt/rt.h"

/** Why the board last started. */
enum hal_reset_reason {
	HAL_RESET_POWER_ON = 0, /**< cold start */
	HAL_RESET_SOFTWARE = 1, /**< hal_reset */
	HAL_RESET_WATCHDOG = 2, /**< the watchdog expired */
	HAL_RESET_FAULT = 3,    /**< a fatal error (stack overflow, CPU fault) */
};

/**
 * @brief What the board keeps across a reset about the last fatal error,
 * so the agent can report it after the reboot.
 */
struct hal_crash {
	uint32_t magic;       /**< HAL_CRASH_MAGIC when valid */
	int32_t code;         /**< enum ag_err: AG_ESTACK, ... */
	char name[16];        /**< the coroutine, NUL-terminated */
	uint32_t stack_bytes; /**< its stack size */
	uint32_t depth_bytes; /**< how deep it went */
	uint32_t fault_addr;  /**< MPU or bus fault address, or 0 */
	uint32_t count;       /**< fatal errors since power-on */
};

/** struct hal_crash.magic of a valid record. */
#define HAL_CRASH_MAGIC 0x43524153u

/**
 * @brief The runtime hooks of this board: idle waits for an interrupt;
 * fatal records a struct hal_crash, reports on the log UART and resets.
 */
const struct rt_hooks *hal_rt_hooks(void);

/**
 * @brief Starts the tick interrupt at RT_CFG_TICK_HZ, feeding
 * rt_tick_announce. @return 0 or AG_EIO.
 */
int hal_tick_start(void);

/** @brief Milliseconds since the board started (wraps after 49 days). */
uint32_t hal_clock_ms(void);

/** @brief Resets the board (reason HAL_RESET_SOFTWARE). */
void hal_reset(void) __attribute__((noreturn));

/** @brief Why the board last started. */
enum hal_reset_reason hal_reset_reason(void);

/**
 * @brief The last fatal error recorded before a reset.
 * @return the record, or NULL if there is none.
 */
const struct hal_crash *hal_last_crash(void);

/** @brief Forgets the crash record (after it was reported). */
void hal_crash_clear(void);

/**
 * @brief Starts the watchdog: unless fed within @p timeout_ms, the board
 * resets with reason HAL_RESET_WATCHDOG. Cannot be stopped.
 * @return 0; AG_EINVAL for 0 or a timeout the hardware cannot count.
 */
int hal_wdt_start(uint32_t timeout_ms);

/** @brief Feeds the watchdog. */
void hal_wdt_feed(void);

/** @brief Writes a line-oriented message on the log UART (may be dropped). */
void hal_log(const char *msg);

#endif /* HAL_SYS_H */
