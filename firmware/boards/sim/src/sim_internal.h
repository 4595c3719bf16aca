/* Private to the sim board. */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include <signal.h>

#include "sim/board.h"

int sim__flash_init(const struct sim_config *cfg);
void sim__flash_done(void);
int sim__uart_init(const struct sim_config *cfg);
void sim__uart_done(void);
/* SIGIO: drain the UART into its receive buffer. */
void sim__uart_sigio(void);
/* Signals the board's handlers use; blocked while idling is decided. */
void sim__sigset(sigset_t *set);
/* Re-executes the program; @reason is a short word for the environment. */
void sim__reexec(const char *reason) __attribute__((noreturn));

#endif
