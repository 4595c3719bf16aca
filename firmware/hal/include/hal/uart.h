/**
 * @file uart.h
 * @brief A UART as a byte stream. Received bytes are buffered by the
 * board's receive interrupt, which sets a flag on an event (rt/event.h):
 * a coroutine waits on that event, then drains the buffer with
 * hal_uart_read.
 */
#ifndef HAL_UART_H
#define HAL_UART_H

#include <stddef.h>
#include <stdint.h>

#include "rt/event.h"

/** UART ids. */
enum hal_uart_id {
	HAL_UART_LINK = 0, /**< the link to the gateway */
	HAL_UART_LOG = 1,  /**< a debug console (may discard everything) */
};

/** Bytes the receive buffer holds; more are dropped and counted. */
#define HAL_UART_RX_BUF 1024

/**
 * @brief Starts receiving on UART @p id; each received chunk sets @p mask
 * on @p ev (from interrupt context).
 * @return 0; AG_ENOENT for a UART the board lacks; AG_EIO if it failed.
 */
int hal_uart_start(unsigned id, struct rt_event *ev, uint32_t mask)
	__attribute__((warn_unused_result));

/**
 * @brief Takes up to @p cap received bytes, without waiting.
 * @return the number of bytes (0 if none), or AG_ENOENT.
 */
int hal_uart_read(unsigned id, void *buf, size_t cap);

/**
 * @brief Sends @p len bytes; returns once they are handed to the hardware.
 * @return 0; AG_EIO if the line is down (sim: peer gone); AG_ENOENT.
 */
int hal_uart_write(unsigned id, const void *buf, size_t len);

/** @brief Bytes dropped because the receive buffer was full. */
uint32_t hal_uart_rx_dropped(unsigned id);

#endif /* HAL_UART_H */
