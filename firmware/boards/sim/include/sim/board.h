/**
 * @file board.h
 * @brief The sim board: a device as a Linux process.
 *
 * Its flash is a file mapped with mmap (MAP_SHARED, so what was written
 * before a crash, a power cut or a reset is still there). Its link UART is a
 * pty (the board holds the master; a peer opens the slave) or a TCP
 * connection to a gateway, chosen by argument. Ticks come from a 1 kHz
 * interval timer signal, the UART's receive "interrupt" is SIGIO, and both
 * handlers only call rt_tick_announce and rt_event_set. The watchdog is a
 * timer checked in the tick handler. A reset re-executes the program with
 * the same arguments (the pty survives it); when the environment names a
 * bootloader (FLOTILLA_SIM_BOOTLOADER, set by firmware/boot's sim loader)
 * it re-executes that instead, which boots a slot again.
 *
 * Power cuts: every flash write and erase is counted; a cut can be set at
 * operation N, either before it or tearing it (half of a write's bytes, half
 * of an erase's range). By default a cut ends the process at once with
 * exit status SIM_CUT_EXIT, the flash file keeping the torn state.
 *
 * Functions return 0 or a negative enum ag_err, like all device code.
 */
#ifndef SIM_BOARD_H
#define SIM_BOARD_H

#include <stdint.h>

/** Exit status of a process stopped by a power cut. */
#define SIM_CUT_EXIT 75
/** Exit status when the watchdog fires and re-exec is disabled. */
#define SIM_WDT_EXIT 76

/** Defaults of the flash layout. */
#define SIM_FLASH_SECTOR 4096u
#define SIM_FLASH_BOOT_SIZE (64u * 1024u)
#define SIM_FLASH_SLOT_SIZE (448u * 1024u)

/** How the link UART connects. */
enum sim_uart_kind {
	SIM_UART_NONE = 0, /**< no link: writes are discarded */
	SIM_UART_PTY = 1,  /**< a new pty; its slave name is printed and readable */
	SIM_UART_TCP = 2,  /**< a TCP client to host:port, reconnecting */
	SIM_UART_FD = 3,   /**< an inherited file descriptor (socketpair, pipe) */
};

/** Board configuration; fill with sim_config_default, then adjust. */
struct sim_config {
	const char *flash_path;   /**< NULL: flash in anonymous memory */
	uint32_t slot_size;       /**< bytes per slot, a multiple of the sector */
	uint8_t uart;             /**< enum sim_uart_kind */
	const char *tcp_host;     /**< SIM_UART_TCP: IPv4 address, default 127.0.0.1 */
	uint16_t tcp_port;        /**< SIM_UART_TCP */
	int uart_fd;              /**< SIM_UART_FD */
	const char *pty_link;     /**< SIM_UART_PTY: if set, a symlink to the slave */
	uint32_t cut_at;          /**< power cut at this flash op (1-based); 0: never */
	uint8_t cut_mode;         /**< enum sim_cut_mode */
	uint8_t no_tick;          /**< 1: no tick signal (tests drive time) */
	uint8_t no_reexec;        /**< 1: reset and watchdog exit instead of re-exec */
};

/** Power-cut modes. */
enum sim_cut_mode {
	SIM_CUT_BEFORE = 0, /**< the operation does not happen */
	SIM_CUT_TEAR = 1,   /**< half of it happens */
};

/** @brief Fills @p cfg with defaults: no file, no UART, 448 KiB slots. */
void sim_config_default(struct sim_config *cfg);

/**
 * @brief Parses board options, removing them from argv:
 *   --flash PATH, --slot-size BYTES, --uart pty[:LINK]|tcp:HOST:PORT|fd:N|none,
 *   --cut-at N, --cut-mode before|tear, --no-tick.
 * Also reads the same settings from FLOTILLA_SIM_* environment variables
 * left by a reset.
 * @return 0, or AG_EINVAL for a malformed option (message on stderr).
 */
int sim_config_args(struct sim_config *cfg, int *argc, char **argv);

/**
 * @brief Starts the board: maps the flash (creating the file filled with
 * the erased value if missing), registers it, opens the UART, and installs
 * the tick and I/O signal handlers.
 * @return 0; AG_EIO when a system call failed (message on stderr).
 */
int sim_board_init(const struct sim_config *cfg);

/** @brief Stops timers and signals, unmaps flash, closes the UART. */
void sim_board_done(void);

/** @brief The pty slave's path (SIM_UART_PTY), or NULL. */
const char *sim_uart_pty_name(void);

/** @brief Flash writes and erases so far (the power-cut counter). */
uint32_t sim_flash_ops(void);

/**
 * @brief (Re)arms the power cut: at operation @p at (counted from now,
 * 1-based; 0 disarms) in @p mode. If @p on_cut is NULL the process exits
 * with SIM_CUT_EXIT; otherwise @p on_cut(@p arg) is called and should not
 * return (a test may longjmp out of it).
 */
void sim_flash_cut(uint32_t at, int mode, void (*on_cut)(void *arg), void *arg);

/** @brief The mapped flash device's bytes and size (for tests and tools). */
uint8_t *sim_flash_mem(uint32_t *ret_size);

#endif /* SIM_BOARD_H */
