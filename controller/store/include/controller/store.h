/**
 * @file store.h
 * @brief The controller's object store: one interface, two backends.
 *
 * - `sqlite:PATH` — the embedded default: one file in WAL mode; resource
 *   versions come from one counter kept in the file; watch events come from
 *   an in-memory window of the latest changes (CTL_STORE_WINDOW by default).
 * - `etcd:URL[,URL...]` — etcd v3 through its JSON gateway; resourceVersion
 *   is the key's mod_revision, compare-and-swap is a transaction, watch is
 *   etcd's watch stream from a start revision.
 *
 * Objects go in and out as Jansson objects. The store owns
 * metadata.resourceVersion and writes it; everything else is the caller's.
 * Every function is safe to call from several threads.
 */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/obj.h"

/** Events kept in memory for watches by the SQLite backend. */
#define CTL_STORE_WINDOW 65536
/** Most items in one status batch. */
#define CTL_STORE_BATCH_MAX 10000

/** An opened store (opaque). */
struct ctl_store;
/** An open watch (opaque). */
struct ctl_watch;

/** Watch event types. */
enum ctl_event_type { CTL_EV_ADDED = 0, CTL_EV_MODIFIED, CTL_EV_DELETED };

/** @brief "ADDED", "MODIFIED", "DELETED". */
const char *ctl_event_type_name(enum ctl_event_type t);

/** One change, as a watch delivers it. */
struct ctl_event {
	enum ctl_event_type type; /**< what happened */
	enum ctl_kind kind;       /**< kind of the object */
	uint64_t rv;              /**< resourceVersion of the change */
	json_t *obj;              /**< the object after the change (before, for DELETED); owned */
};

/** @brief Release an event's object; the struct itself is the caller's. */
void ctl_event_done(struct ctl_event *ev);

/** One entry of a status batch. */
struct ctl_status_item {
	const char *name;     /**< object name */
	const json_t *status; /**< new status (replaces the old one) */
	const json_t *labels; /**< labels for an object this batch creates, or NULL */
	int result;           /**< out: 0, -ENOENT, -EPERM (owned by another gateway) */
};

/**
 * @brief Open a store from a URL: "sqlite:/path/file.db" or
 *        "etcd:http://127.0.0.1:2379,http://127.0.0.1:2381".
 * @param[out] ret_store the store; close with ctl_store_free()
 * @return 0, -EINVAL (bad URL), -EIO or another -errno from the backend
 */
int ctl_store_open(const char *url, struct ctl_store **ret_store)
	__attribute__((warn_unused_result));

/** @brief Close a store; NULL is fine. Open watches must be closed first. */
void ctl_store_free(struct ctl_store *s);

/** @brief "sqlite" or "etcd". */
const char *ctl_store_backend(const struct ctl_store *s);

/**
 * @brief The latest resourceVersion the store has handed out.
 * @return 0 or -errno
 */
int ctl_store_revision(struct ctl_store *s, uint64_t *ret_rv) __attribute__((warn_unused_result));

/**
 * @brief Read one object.
 * @param[out] ret_obj new reference, with resourceVersion set
 * @return 0, -ENOENT, -EIO
 */
int ctl_store_get(struct ctl_store *s, enum ctl_kind kind, const char *name, json_t **ret_obj)
	__attribute__((warn_unused_result));

/**
 * @brief Create @p obj (named by metadata.name). On success
 *        metadata.resourceVersion in @p obj is set to the new version.
 * @return 0, -EEXIST, -EIO; on error the store is unchanged
 */
int ctl_store_create(struct ctl_store *s, enum ctl_kind kind, json_t *obj)
	__attribute__((warn_unused_result));

/**
 * @brief Replace an object if its current version is @p expect_rv
 *        (0: whatever it is). Sets metadata.resourceVersion in @p obj.
 * @return 0, -ENOENT, -ESTALE (version differs: a conflict), -EIO
 */
int ctl_store_update(struct ctl_store *s, enum ctl_kind kind, json_t *obj, uint64_t expect_rv)
	__attribute__((warn_unused_result));

/**
 * @brief Delete an object if its version is @p expect_rv (0: any).
 * @param[out] ret_old the deleted object (may be NULL)
 * @return 0, -ENOENT, -ESTALE, -EIO
 */
int ctl_store_delete(struct ctl_store *s, enum ctl_kind kind, const char *name, uint64_t expect_rv,
		     json_t **ret_old) __attribute__((warn_unused_result));

/**
 * @brief List objects of a kind in name order.
 * @param sel label selector or NULL
 * @param owner if not NULL, only objects whose status.gateway is @p owner
 * @param limit most items (0: no limit)
 * @param after continue after this name (NULL: from the start)
 * @param[out] ret_items new JSON array
 * @param[out] ret_more nonzero when more items follow the last one returned
 * @param[out] ret_rv store revision the list reflects
 * @return 0 or -errno
 */
int ctl_store_list(struct ctl_store *s, enum ctl_kind kind, const struct ctl_selector *sel,
		   const char *owner, size_t limit, const char *after, json_t **ret_items,
		   int *ret_more, uint64_t *ret_rv) __attribute__((warn_unused_result));

/**
 * @brief Replace the status of many objects in one go (one transaction in
 *        SQLite, transactions of up to 128 operations in etcd).
 * @param owner if not NULL, a gateway: an object whose status.gateway names
 *        another gateway is refused (item result -EPERM), a missing object is
 *        created with empty spec when @p create is set
 * @param create create missing objects (else item result -ENOENT)
 * @param[out] ret_rv last resourceVersion written (may be NULL)
 * @return 0 (see each item's result) or -errno when nothing was written
 */
int ctl_store_status_batch(struct ctl_store *s, enum ctl_kind kind, struct ctl_status_item *items,
			   size_t n, const char *owner, bool create, uint64_t *ret_rv)
	__attribute__((warn_unused_result));

/**
 * @brief Watch changes of @p kind (or all kinds with -1) after @p from_rv.
 * @param from_rv deliver changes with a version above this; 0: from now
 * @return 0, -ERANGE when @p from_rv is older than the store still holds
 *         (HTTP 410: list again), -errno
 */
int ctl_store_watch_open(struct ctl_store *s, int kind, uint64_t from_rv, struct ctl_watch **ret_w)
	__attribute__((warn_unused_result));

/**
 * @brief Next event, waiting at most @p timeout_ms.
 * @return 0 with @p ret_ev filled (release with ctl_event_done()), -EAGAIN on
 *         timeout, -ERANGE when the watcher fell behind the window (410),
 *         -EIO when the backend stream broke
 */
int ctl_store_watch_next(struct ctl_watch *w, int timeout_ms, struct ctl_event *ret_ev)
	__attribute__((warn_unused_result));

/** @brief Close a watch; NULL is fine. */
void ctl_store_watch_close(struct ctl_watch *w);

/**
 * @brief Leader election. SQLite: the process holding an exclusive lock on
 *        "<db>.lock". etcd: the holder of key /flotilla/leader, attached to a
 *        lease of @p ttl_s seconds kept alive by a thread.
 * @param id this controller's identity (shown in the leader key)
 * @return 0 or -errno; the election runs in the background from then on
 */
int ctl_store_leader_start(struct ctl_store *s, const char *id, int ttl_s)
	__attribute__((warn_unused_result));

/** @brief Nonzero while this process is the leader (the reconcile hook). */
bool ctl_store_is_leader(struct ctl_store *s);

/** @brief Identity of the current leader into @p buf ("" if unknown). */
void ctl_store_leader_name(struct ctl_store *s, char *buf, size_t len);

/** @brief Give up leadership (revoke the lease) and stop the election thread. */
void ctl_store_leader_stop(struct ctl_store *s);

#endif /* CTL_STORE_H */
