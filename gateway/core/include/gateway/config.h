/**
 * @file config.h
 * @brief The gateway's configuration: defaults, a file, environment
 * variables and command-line flags.
 *
 * Precedence, lowest first: built-in defaults, the config file, environment
 * variables (FLOTILLA_GW_<KEY>), command-line flags (--key=value or --key
 * value). A list key (serial, pty) set by a source replaces the whole list of
 * lower sources. The file format is documented in deploy/gateway.conf.example:
 * one `key = value` per line, `#` starts a comment, blank lines are skipped,
 * a value may be double-quoted.
 */
#ifndef GATEWAY_CONFIG_H
#define GATEWAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define GW_CONFIG_FILE_MAX (64 * 1024) /**< largest config file read, bytes */
#define GW_CONFIG_LINE_MAX 1024        /**< longest line in it */
#define GW_CONFIG_PATH_MAX 256         /**< longest path value */
#define GW_CONFIG_ADDR_MAX 64          /**< longest host:port value */
#define GW_CONFIG_NAME_MAX 64          /**< longest gateway name */
#define GW_CONFIG_LIST_MAX 32          /**< serial ports and ptys, each */
#define GW_CONFIG_ERR_MAX 256          /**< room for an error message */

/** A serial port: a tty (or a pty's slave) and its baud rate. */
struct gw_config_serial {
	char path[GW_CONFIG_PATH_MAX];
	uint32_t baud;
};

/** The settings. Fill with @ref gw_config_default. */
struct gw_config {
	char name[GW_CONFIG_NAME_MAX];          /**< gateway label in metrics */
	char listen_tcp[GW_CONFIG_ADDR_MAX];    /**< device TCP listener, "" off */
	char http_listen[GW_CONFIG_ADDR_MAX];   /**< HTTP server, "" off */
	char db_path[GW_CONFIG_PATH_MAX];       /**< SQLite registry */
	int log_level;                          /**< enum gw_log_level */
	uint16_t heartbeat_s;                   /**< interval asked of devices */
	uint16_t max_frame;                     /**< largest frame offered */
	uint32_t offline_after_s;               /**< silence before "offline"; 0: 3 heartbeats + 5 s */
	uint32_t flush_ms;                      /**< registry write-behind interval */
	uint32_t max_devices;                   /**< links accepted at once */
	uint32_t link_rate_max;                 /**< input bytes/s per link before dropping */
	uint32_t reconnect_ms;                  /**< retry interval for ttys and ptys */
	unsigned n_serial;
	struct gw_config_serial serial[GW_CONFIG_LIST_MAX];
	unsigned n_pty;
	char pty[GW_CONFIG_LIST_MAX][GW_CONFIG_PATH_MAX]; /**< symlinks to ptys the gateway creates */
	char controller[GW_CONFIG_PATH_MAX];    /**< controller URL, "" standalone */
	char controller_token[GW_CONFIG_PATH_MAX]; /**< bearer token for the controller */
	char labels[GW_CONFIG_PATH_MAX];        /**< "k=v,k=v" labels of the Gateway object */
	uint32_t report_interval_ms;            /**< heartbeat and status report interval */
	char config_path[GW_CONFIG_PATH_MAX];   /**< the file read, "" none */
	uint8_t list_src[2];                    /* private: source that set serial, pty */
};

/** Where a setting comes from; a higher one wins. */
enum gw_config_source {
	GW_CONFIG_SRC_DEFAULT = 0,
	GW_CONFIG_SRC_FILE = 1,
	GW_CONFIG_SRC_ENV = 2,
	GW_CONFIG_SRC_FLAG = 3,
};

/** @brief Fills @p cfg with the defaults. */
void gw_config_default(struct gw_config *cfg);

/**
 * @brief Sets one key from a source.
 * @return 0; -ENOENT for an unknown key; -EINVAL for a bad value;
 *         -ENOSPC for a full list. @p err says which, with the key.
 *         On error @p cfg is unchanged.
 */
int gw_config_set(struct gw_config *cfg, const char *key, const char *value, int src,
		  char err[GW_CONFIG_ERR_MAX]);

/**
 * @brief Parses a config file's text (at most GW_CONFIG_FILE_MAX bytes).
 * @return 0, or the first error (-E2BIG for an oversized text or line,
 *         -EINVAL for a line that is not `key = value`, or @ref
 *         gw_config_set's errors), with its line number in @p err. Settings
 *         of lines before the bad one stay applied.
 */
int gw_config_parse(struct gw_config *cfg, const char *text, size_t len,
		    char err[GW_CONFIG_ERR_MAX]);

/**
 * @brief Builds the configuration from defaults, the file, the environment
 * and flags. The file is --config PATH (or FLOTILLA_GW_CONFIG); without one
 * no file is read.
 * @param envp environment, NULL-terminated.
 * @param[out] ret_help set to 1 when --help was given.
 * @return 0 or a negative errno with @p err filled.
 */
int gw_config_load(struct gw_config *cfg, int argc, char **argv, char **envp, int *ret_help,
		   char err[GW_CONFIG_ERR_MAX]);

/** @brief Writes the --help text (every key, its flag, variable and default). */
void gw_config_print_help(const char *prog, void *file);

/**
 * @brief Splits "A.B.C.D:PORT" (IPv4 or "localhost").
 * @return 0, or -EINVAL.
 */
int gw_config_parse_addr(const char *s, uint32_t *ret_ip_be, uint16_t *ret_port);

#endif /* GATEWAY_CONFIG_H */
