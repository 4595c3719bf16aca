/**
 * @file gitops.h
 * @brief GitOps sync: desired objects from a Git repository (libgit2), applied
 *        to the controller's store. See controller/API.md, "GitOps".
 *
 * One sync: fetch the configured branch into a bare repository under the
 * data directory; read every *.yaml, *.yml and *.json file under the
 * configured path of the branch's head commit; parse and validate every
 * document (Flotilla kinds, schema checks of the store); only when the whole
 * commit is valid, apply it: create and update objects (Git owns metadata
 * labels, annotations and spec; status is kept), then prune objects that
 * carry the managed-by annotation and are no longer in the commit. Objects
 * created outside Git are never pruned.
 *
 * A drift check compares live specs with the last synced commit and flags a
 * differing object with a condition `OutOfSync` (status "True", reason
 * SpecDiffers) in its status; the next sync puts the spec back and sets the
 * condition to "False" with reason Synced and the commit.
 */
#ifndef CTL_GITOPS_H
#define CTL_GITOPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "controller/store.h"

/** Largest manifest file in a commit (default of file_max). */
#define CTL_GITOPS_FILE_MAX (1024 * 1024)
/** Most manifest bytes in one commit (default of commit_max). */
#define CTL_GITOPS_COMMIT_MAX (16 * 1024 * 1024)
/** Most manifest files in one commit. */
#define CTL_GITOPS_FILES_MAX 10000
/** Most objects in one commit. */
#define CTL_GITOPS_OBJECTS_MAX 20000
/** Annotation marking objects the sync manages (value "gitops"). */
#define CTL_GITOPS_ANN_MANAGED "flotilla.io/managed-by"
/** Annotation naming the manifest file an object comes from. */
#define CTL_GITOPS_ANN_SOURCE "flotilla.io/gitops-source"
/** Condition type set on managed objects. */
#define CTL_GITOPS_COND "OutOfSync"

/** What to sync. Strings are copied. */
struct ctl_gitops_config {
	const char *url;      /**< file:///path, /path (local), https://..., ssh://... */
	const char *branch;   /**< default "main" */
	const char *path;     /**< folder in the repository; NULL or "": the root */
	const char *data_dir; /**< the bare clone goes in DATA_DIR/gitops.git (required) */
	size_t file_max;      /**< 0: CTL_GITOPS_FILE_MAX */
	size_t commit_max;    /**< 0: CTL_GITOPS_COMMIT_MAX */
	const char *ssh_user;       /**< ssh: user when the URL has none (default "git") */
	const char *ssh_key;        /**< ssh: private key file */
	const char *ssh_pubkey;     /**< ssh: public key file (may be NULL) */
	const char *ssh_passphrase; /**< ssh: key passphrase (may be NULL) */
	const char *https_user;     /**< https: user for basic auth */
	const char *https_password; /**< https: password or token */
	bool leader_only; /**< interval syncs only while this controller leads */
};

/** A GitOps syncer (opaque). */
struct ctl_gitops;

/**
 * @brief Create a syncer for @p store (which must outlive it). Does no I/O.
 * @return 0, -EINVAL (no url or data_dir), -ENOMEM
 */
int ctl_gitops_new(const struct ctl_gitops_config *cfg, struct ctl_store *store,
		   struct ctl_gitops **ret_g) __attribute__((warn_unused_result));

/** @brief Stop the thread if started, free; NULL is fine. */
void ctl_gitops_free(struct ctl_gitops *g);

/**
 * @brief Fetch and apply now (serialised with other syncs).
 * @param[out] ret_result new JSON object (may be NULL): result "ok" or
 *        "error", commit, branch, time, created, updated, unchanged, pruned,
 *        healed, and on error "error": {file, line, reason}
 * @return 0; -EINVAL a bad commit (nothing applied); -E2BIG size limits
 *         (nothing applied); -EIO fetch failed; -ESTALE or another -errno when
 *         a store write failed part way (the next sync converges)
 */
int ctl_gitops_sync(struct ctl_gitops *g, json_t **ret_result) __attribute__((warn_unused_result));

/**
 * @brief Compare live objects with the last synced commit; flag each
 *        differing one with condition OutOfSync=True (reason SpecDiffers).
 * @param[out] ret_n objects out of sync (missing ones included; may be NULL)
 * @return 0 or -errno
 */
int ctl_gitops_check_drift(struct ctl_gitops *g, size_t *ret_n) __attribute__((warn_unused_result));

/** @brief The last sync's result (as ctl_gitops_sync gives it), or {"result":"none"}. */
json_t *ctl_gitops_last(struct ctl_gitops *g);

/**
 * @brief Sync every @p interval_s seconds and check drift every
 *        @p drift_s seconds, in a thread; ctl_gitops_trigger() wakes it.
 * @return 0 or -errno
 */
int ctl_gitops_start(struct ctl_gitops *g, int interval_s, int drift_s)
	__attribute__((warn_unused_result));

/** @brief Ask the thread for a sync now (returns at once). */
void ctl_gitops_trigger(struct ctl_gitops *g);

/**
 * @brief Write the metric families: flotilla_gitops_sync_total{result},
 *        flotilla_gitops_last_sync_timestamp_seconds,
 *        flotilla_gitops_last_success_timestamp_seconds,
 *        flotilla_gitops_commit_info{commit,branch}, flotilla_gitops_objects,
 *        flotilla_gitops_out_of_sync_objects.
 */
void ctl_gitops_metrics(struct ctl_gitops *g, FILE *f);

/** @brief For ctl_server_config.sync_hook: @p ctx is the syncer; runs a sync when @p run. */
int ctl_gitops_sync_hook(void *ctx, bool run, json_t **ret_body);

/** @brief For ctl_server_config.metrics_hook: @p ctx is the syncer. */
void ctl_gitops_metrics_hook(void *ctx, FILE *f);

#endif /* CTL_GITOPS_H */
