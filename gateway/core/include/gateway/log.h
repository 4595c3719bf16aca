/**
 * @file log.h
 * @brief Structured logs in logfmt on stderr, with levels.
 *
 * One line per event: `ts=... level=info msg="..." key=value ...`. The key
 * and value part is a printf format the caller writes; values that may hold
 * spaces, quotes or bytes from a device go through @ref gw_log_quote. Lines
 * are written with one write(2) so they stay whole under journald.
 */
#ifndef GATEWAY_LOG_H
#define GATEWAY_LOG_H

#include <stddef.h>

/** Levels, lowest first. */
enum gw_log_level {
	GW_LOG_DEBUG = 0,
	GW_LOG_INFO = 1,
	GW_LOG_WARN = 2,
	GW_LOG_ERROR = 3,
};

/** @brief Sets the lowest level written (default GW_LOG_INFO). */
void gw_log_set_level(enum gw_log_level level);

/** @brief The current lowest level written. */
enum gw_log_level gw_log_get_level(void);

/**
 * @brief Parses "debug", "info", "warn" or "error".
 * @return the level, or -EINVAL.
 */
int gw_log_parse_level(const char *s);

/** @brief True when @p level would be written. */
int gw_log_enabled(enum gw_log_level level);

/**
 * @brief Writes one log line.
 * @param msg a short constant description (quoted in the output).
 * @param kv printf format of further `key=value` pairs, may be NULL.
 */
void gw_log(enum gw_log_level level, const char *msg, const char *kv, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * @brief Renders @p s as a logfmt value: bare if it is a plain token,
 * otherwise quoted with `"` and `\` escaped and other bytes below 0x20 or
 * above 0x7e as \xNN. Truncated to fit @p cap (always NUL-terminated).
 * @return @p buf.
 */
const char *gw_log_quote(char *buf, size_t cap, const char *s);

/** Room for a quoted value of a device id or similar short string. */
#define GW_LOG_QMAX 160

#define gw_debug(msg, ...) do { if (gw_log_enabled(GW_LOG_DEBUG)) gw_log(GW_LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define gw_info(msg, ...) gw_log(GW_LOG_INFO, msg, __VA_ARGS__)
#define gw_warn(msg, ...) gw_log(GW_LOG_WARN, msg, __VA_ARGS__)
#define gw_error(msg, ...) gw_log(GW_LOG_ERROR, msg, __VA_ARGS__)

#endif /* GATEWAY_LOG_H */
