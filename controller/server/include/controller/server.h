/**
 * @file server.h
 * @brief The controller's HTTP API (libmicrohttpd): REST under
 *        /apis/flotilla.io/v1, watch streams, the gateway link, artifacts,
 *        /metrics and /healthz. See controller/API.md.
 */
#ifndef CTL_SERVER_H
#define CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "controller/store.h"

/** Largest object body (create, update, status). */
#define CTL_BODY_MAX (256 * 1024)
/** Largest status batch body. */
#define CTL_BATCH_BODY_MAX (32 * 1024 * 1024)
/** Largest artifact upload. */
#define CTL_ARTIFACT_MAX (64 * 1024 * 1024)
/** Largest tokens file. */
#define CTL_TOKENS_FILE_MAX (1024 * 1024)
/** Largest page of a list. */
#define CTL_LIST_LIMIT_MAX 100000

/** Roles a bearer token carries. */
enum ctl_role { CTL_ROLE_NONE = 0, CTL_ROLE_READONLY, CTL_ROLE_GATEWAY, CTL_ROLE_ADMIN };

/** How to serve. Strings are copied. */
struct ctl_server_config {
	const char *listen;        /**< "127.0.0.1:8080"; port 0 picks one */
	const char *tls_cert;      /**< PEM certificate file, or NULL for plain HTTP */
	const char *tls_key;       /**< PEM key file */
	const char *tokens_file;   /**< lines "TOKEN ROLE [GATEWAY]"; required unless no_auth */
	const char *artifacts_dir; /**< where uploaded artifacts live (NULL: none) */
	bool no_auth;              /**< every request is admin (tests, local use) */
	size_t body_max;           /**< 0: CTL_BODY_MAX */
	size_t batch_max;          /**< 0: CTL_BATCH_BODY_MAX */
	size_t artifact_max;       /**< 0: CTL_ARTIFACT_MAX */
	const char *version;       /**< for build info */
	/**
	 * Optional: `POST /sync` (admin) calls it and answers its JSON body, 200 on
	 * 0, else 422 (-EINVAL: a bad commit) or 502/500; `GET /sync` (admin,
	 * read-only) calls it with @p run false for the last result. NULL: 404.
	 */
	int (*sync_hook)(void *ctx, bool run, json_t **ret_body);
	/** Optional: appends metric families (with HELP and TYPE) to /metrics. */
	void (*metrics_hook)(void *ctx, FILE *f);
	void *hook_ctx; /**< passed to the hooks */
};

/** A running API server (opaque). */
struct ctl_server;

/**
 * @brief Start serving @p store (which must outlive the server).
 * @return 0, -EINVAL (bad config or tokens file), -EADDRINUSE, -errno
 */
int ctl_server_start(const struct ctl_server_config *cfg, struct ctl_store *store,
		     struct ctl_server **ret_srv) __attribute__((warn_unused_result));

/** @brief The TCP port the server listens on. */
uint16_t ctl_server_port(const struct ctl_server *srv);

/**
 * @brief Read the tokens file again (SIGHUP). On error the old tokens stay.
 * @return 0 or -errno
 */
int ctl_server_reload(struct ctl_server *srv) __attribute__((warn_unused_result));

/** @brief End watch streams, finish requests in flight, stop. NULL is fine. */
void ctl_server_stop(struct ctl_server *srv);

/**
 * @brief Parse a tokens file's text.
 * @param[out] ret_n number of tokens
 * @return 0 or -EINVAL (with the 1-based line in @p ret_line)
 */
int ctl_server_parse_tokens(const char *text, size_t len, size_t *ret_n, size_t *ret_line)
	__attribute__((warn_unused_result));

#endif /* CTL_SERVER_H */
