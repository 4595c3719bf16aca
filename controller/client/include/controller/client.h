/**
 * @file client.h
 * @brief Client of the controller's API (libcurl): objects, watches, and
 *        the gateway link (register, heartbeat, status batches, assignments).
 *
 * One ctl_client per thread: a client reuses one connection and is not
 * safe to share. Every call returns 0 or a negative errno:
 *
 * | HTTP | errno |
 * |---|---|
 * | 401 | -EACCES (no or unknown token) |
 * | 403 | -EPERM (role may not) |
 * | 404 | -ENOENT |
 * | 409 | -ESTALE (version conflict) or -EEXIST (create of an existing name) |
 * | 410 | -ERANGE (watch version too old: list again) |
 * | 413 | -E2BIG |
 * | 422, 400 | -EINVAL |
 * | 5xx | -EIO |
 * | none | -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (controller unreachable) |
 *
 * After a refused call ctl_client_message() holds the server's reason.
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest response body accepted (a list page). */
#define CTL_CLIENT_RESP_MAX (512 * 1024 * 1024)

/** Where and how to reach the controller. Strings are copied. */
struct ctl_client_config {
	const char *server;  /**< "http://127.0.0.1:8080" or https:// */
	const char *token;   /**< bearer token or NULL */
	const char *ca_file; /**< CA bundle for https (NULL: system) */
	bool insecure;       /**< skip TLS verification (tests) */
	long timeout_ms;     /**< per request, not watches (0: 30 s) */
};

/** A client (opaque). */
struct ctl_client;

/**
 * @brief New client; nothing is sent yet.
 * @return 0, -EINVAL, -ENOMEM
 */
int ctl_client_new(const struct ctl_client_config *cfg, struct ctl_client **ret_client)
	__attribute__((warn_unused_result));

/** @brief Free a client; NULL is fine. */
void ctl_client_free(struct ctl_client *c);

/** @brief The server's message for the last refused call ("" if none). */
const char *ctl_client_message(const struct ctl_client *c);

/** @brief HTTP status of the last call (0 if none arrived). */
long ctl_client_last_code(const struct ctl_client *c);

/**
 * @brief Any request. @p path starts with "/" (query string included).
 * @param body JSON body or NULL
 * @param[out] ret_resp parsed JSON response (NULL if not JSON); may be NULL
 * @return 0 for a 2xx answer, the mapped -errno otherwise
 */
int ctl_client_request(struct ctl_client *c, const char *method, const char *path,
		       const json_t *body, json_t **ret_resp) __attribute__((warn_unused_result));

/** @brief GET one object (kind as plural, "devices"). */
int ctl_client_get(struct ctl_client *c, const char *plural, const char *name, json_t **ret_obj)
	__attribute__((warn_unused_result));

/**
 * @brief One page of a list.
 * @param selector label selector or NULL; @p limit 0: all; @p cont continue token or NULL
 * @param[out] ret_list the List object (items, metadata.continue, metadata.resourceVersion)
 */
int ctl_client_list(struct ctl_client *c, const char *plural, const char *selector, size_t limit,
		    const char *cont, json_t **ret_list) __attribute__((warn_unused_result));

/** @brief POST a new object; @p ret_obj (may be NULL) is the stored object. */
int ctl_client_create(struct ctl_client *c, const char *plural, const json_t *obj,
		      json_t **ret_obj) __attribute__((warn_unused_result));

/** @brief PUT an object; its metadata.resourceVersion (if any) must be current. */
int ctl_client_update(struct ctl_client *c, const char *plural, const json_t *obj,
		      json_t **ret_obj) __attribute__((warn_unused_result));

/**
 * @brief Create, or replace the spec/metadata of an existing object (retries
 *        on a version conflict a few times).
 * @param[out] ret_created 1 if created, 0 if updated (may be NULL)
 */
int ctl_client_apply(struct ctl_client *c, const char *plural, const json_t *obj,
		     json_t **ret_obj, int *ret_created) __attribute__((warn_unused_result));

/**
 * @brief PUT the status subresource.
 * @param rv expected resourceVersion, 0: whatever is current
 */
int ctl_client_update_status(struct ctl_client *c, const char *plural, const char *name,
			     const json_t *status, uint64_t rv, json_t **ret_obj)
	__attribute__((warn_unused_result));

/** @brief DELETE an object (rv 0: unconditionally). */
int ctl_client_delete(struct ctl_client *c, const char *plural, const char *name, uint64_t rv)
	__attribute__((warn_unused_result));

/**
 * @brief Called for each watch event; return nonzero to stop watching.
 * @param type "ADDED", "MODIFIED", "DELETED" (an "ERROR" ends the watch)
 */
typedef int (*ctl_client_event_fn)(void *user, const char *type, const json_t *obj);

/**
 * @brief Watch a collection: GET @p path with watch=true from @p from_rv.
 * @param path collection path, e.g. "/apis/flotilla.io/v1/devices?labelSelector=x"
 * @param timeout_s end the watch after this long (0: never)
 * @return 0 when @p fn stopped it or the time ran out, -ERANGE when @p from_rv
 *         is too old (list again), another -errno when the stream failed
 */
int ctl_client_watch(struct ctl_client *c, const char *path, uint64_t from_rv, int timeout_s,
		     ctl_client_event_fn fn, void *user) __attribute__((warn_unused_result));

/* ---- the gateway link ---- */

/**
 * @brief Create or update this gateway's Gateway object and set its status
 *        (connected, version, lastHeartbeat added).
 * @param spec Gateway spec (address, labels) or NULL
 * @param status extra status fields or NULL
 */
int ctl_client_gateway_register(struct ctl_client *c, const char *name, const json_t *spec,
				const json_t *status) __attribute__((warn_unused_result));

/** @brief Heartbeat: merge @p status (may be NULL) into the Gateway's status with lastHeartbeat. */
int ctl_client_gateway_heartbeat(struct ctl_client *c, const char *name, const json_t *status)
	__attribute__((warn_unused_result));

/** One device's status for a batch. */
struct ctl_client_status {
	const char *device;   /**< Device name */
	const json_t *status; /**< its status (status.gateway is filled in by the server) */
	const json_t *labels; /**< labels if the device is new (NULL: none) */
};

/**
 * @brief Report many devices' status in one request (missing devices are created).
 * @param[out] ret_failed items the controller refused (may be NULL)
 */
int ctl_client_status_batch(struct ctl_client *c, const struct ctl_client_status *items,
			    size_t n, size_t *ret_failed) __attribute__((warn_unused_result));

/**
 * @brief This gateway's current assignments: items of {device,
 *        resourceVersion, assignment {release, action, rollout, cohort}}.
 * @param[out] ret_rv version to watch from afterwards (may be NULL)
 */
int ctl_client_assignments(struct ctl_client *c, const char *gateway, json_t **ret_items,
			   uint64_t *ret_rv) __attribute__((warn_unused_result));

/** @brief Watch this gateway's assignments from @p from_rv (see ctl_client_watch()). */
int ctl_client_watch_assignments(struct ctl_client *c, const char *gateway, uint64_t from_rv,
				 int timeout_s, ctl_client_event_fn fn, void *user)
	__attribute__((warn_unused_result));

/**
 * @brief Upload an artifact; it is stored under its SHA-256.
 * @param[out] ret_sha256 64 hex digits and a NUL
 */
int ctl_client_upload_artifact(struct ctl_client *c, const void *data, size_t len,
			       char ret_sha256[65]) __attribute__((warn_unused_result));

#endif /* CTL_CLIENT_H */
