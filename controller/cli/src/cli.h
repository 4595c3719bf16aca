/**
 * @file cli.h
 * @brief Internals of the `flotilla` CLI: command tables, exit codes, helpers.
 *
 * Each command is a `struct ctl_cli_cmd` in a table; a command either runs
 * (`run`) or holds a table of subcommands (`sub`), so `flotilla image sign`
 * and later `flotilla rollout status` dispatch the same way. Helpers return
 * 0 or a negative errno, and print nothing; commands print and map errors to
 * exit codes.
 */
#ifndef CTL_CLI_H
#define CTL_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/** Exit codes: stable, documented in controller/cli/README.md. */
enum ctl_exit {
	CTL_EXIT_OK = 0,       /**< success */
	CTL_EXIT_FAIL = 1,     /**< the input was refused: verification failed, bad image or patch */
	CTL_EXIT_USAGE = 2,    /**< bad command line */
	CTL_EXIT_IO = 3,       /**< a file could not be read or written */
	CTL_EXIT_INTERNAL = 4, /**< out of memory, crypto or self-check failure */
	CTL_EXIT_NOTFOUND = 5,    /**< the controller has no such object */
	CTL_EXIT_CONFLICT = 6,    /**< version conflict, or the name exists */
	CTL_EXIT_INVALID = 7,     /**< refused as invalid (422/400/413) or a bad manifest */
	CTL_EXIT_UNREACHABLE = 8, /**< the controller could not be reached */
	CTL_EXIT_DENIED = 9,      /**< no or bad token (401), or the role may not (403) */
};

struct ctl_cli_cmd;

/** One invocation: the command being run and the words that named it. */
struct ctl_cli_call {
	const struct ctl_cli_cmd *cmd; /**< the command */
	char path[128];                /**< "flotilla image sign" */
};

/** A command's entry point: argv[0] is the command's own name. Returns an ctl_exit. */
typedef int (*ctl_cli_run_fn)(const struct ctl_cli_call *call, int argc, char **argv);

/** One command or command group. */
struct ctl_cli_cmd {
	const char *name;    /**< word on the command line */
	const char *summary; /**< one line for the parent's help */
	const char *usage;   /**< help text: synopsis after the command's words, then details */
	ctl_cli_run_fn run;  /**< leaf command, or NULL for a group */
	const struct ctl_cli_cmd *sub; /**< group: subcommands, ended by a zeroed entry */
};

/**
 * @brief Run @p argv[0] as one of @p table's commands; a group recurses into
 *        its subcommands or prints its help.
 * @param prefix the words so far, e.g. "flotilla"
 * @return an ctl_exit code
 */
int ctl_cli_dispatch(const struct ctl_cli_cmd *table, const char *prefix, int argc, char **argv);

/** @brief Print a command's help (usage line, text, subcommands) to @p f. */
void ctl_cli_help(const struct ctl_cli_call *call, FILE *f);

/** @brief "<path>: <message>" and a --help hint on stderr; returns CTL_EXIT_USAGE. */
int ctl_cli_usage_error(const struct ctl_cli_call *call, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** @brief "<path>: <message>" on stderr; returns @p code. */
int ctl_cli_fail(const struct ctl_cli_call *call, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * @brief Read a whole file, refusing more than @p max bytes.
 * @param[out] ret_buf malloc'd contents (never NULL on success, even if empty)
 * @return 0, -errno, -EFBIG when the file is longer than @p max, -ENOMEM
 */
int ctl_cli_read_file(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len)
	__attribute__((warn_unused_result));

/**
 * @brief Write a file atomically: a temporary file in the same directory,
 *        fsync, rename. On failure nothing is left at @p path or beside it.
 * @param mode permissions of the new file (e.g. 0644, 0600 for keys)
 * @param replace 0: fail with -EEXIST if @p path exists
 * @return 0 or -errno
 */
int ctl_cli_write_file(const char *path, const void *data, size_t len, unsigned mode, int replace)
	__attribute__((warn_unused_result));

/**
 * @brief Parse an unsigned 32-bit number: decimal, 0x hex or 0 octal, nothing else.
 * @return 0 or -EINVAL (also for out of range)
 */
int ctl_cli_parse_u32(const char *s, uint32_t *ret) __attribute__((warn_unused_result));

/** @brief Lower-case hex of @p len bytes into @p out (2 * len + 1 bytes). */
void ctl_cli_hex(const uint8_t *p, size_t len, char *out);

/** @brief Seconds since an arbitrary start, monotonic. */
double ctl_cli_now(void);

/** @brief Nonzero when progress may be drawn on stderr (a terminal, not quiet). */
int ctl_cli_progress_enabled(void);

/** @brief Silence progress output (for -q). */
void ctl_cli_set_quiet(int quiet);

/** @brief Symbolic name of an ag_err code ("AG_ESIG"), "AG_EUNKNOWN" if none (generated). */
const char *ctl_cli_ag_err_name(int err);

/** @brief The image commands' table, for the top level. */
extern const struct ctl_cli_cmd ctl_cli_image_cmds[];

/** @brief get, describe, apply, delete, rollout, release: the commands that talk to a controller. */
extern const struct ctl_cli_cmd ctl_cli_api_cmds[];

/* Scoped cleanup, as in the daemons. */
static inline void ctl_cli_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(ctl_cli_freep)))

#endif /* CTL_CLI_H */
