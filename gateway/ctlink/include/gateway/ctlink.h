/**
 * @file ctlink.h
 * @brief The gateway's link to the controller: registers the Gateway object
 *        and heartbeats, reports device status in batches, watches this
 *        gateway's assignments and keeps the latest one per device.
 *
 * Threads: the libcurl work (ctl_client, blocking calls and a long-running
 * watch) runs on two worker threads of the link, a reporter and a watcher,
 * each with its own ctl_client. The epoll loop only calls gw_ctlink_tick(),
 * which never blocks on the network: it snapshots changed devices into a
 * one-slot mailbox (a bounded batch) when the reporter is idle, collects the
 * reporter's result, and delivers assignment changes to the hook. A device
 * is marked reported only when the controller acknowledged its batch, so an
 * unreachable controller loses nothing: the devices stay "changed" and the
 * next batch carries their state at that time. After the link returns the
 * Gateway is registered again and every device is reported once more.
 *
 * Every function except the worker threads' own runs on the loop thread.
 */
#ifndef GATEWAY_CTLINK_H
#define GATEWAY_CTLINK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/msg.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/registry.h"

#define GW_CTLINK_BATCH_MAX 10000 /**< largest batch (the controller's limit) */
#define GW_CTLINK_FIELD_MAX 128   /**< longest assignment field kept */

/** Settings; strings are copied. */
struct gw_ctlink_config {
	const char *server;  /**< controller URL, "http://127.0.0.1:8080" */
	const char *token;   /**< bearer token or NULL */
	const char *name;    /**< this gateway's name (its Gateway object) */
	const char *address; /**< spec.address (HTTP address of this gateway) or NULL */
	const char *labels;  /**< "k=v,k=v" labels of the Gateway object or NULL */
	const char *version; /**< status.version */
	int ebpf;            /**< status.ebpf: the eBPF probes run in the kernel */
	uint32_t report_ms;  /**< heartbeat and status sweep interval (0: 5000) */
	uint32_t batch_max;  /**< devices per batch, 1..GW_CTLINK_BATCH_MAX (0: 500) */
	long timeout_ms;     /**< per request (0: 5000) */
};

/** The latest assignment of one device. */
struct gw_assignment {
	char device[AG_ID_MAX + 1];
	char release[GW_CTLINK_FIELD_MAX];
	char action[16]; /**< install|activate|confirm|rollback|none */
	char rollout[GW_CTLINK_FIELD_MAX];
	char cohort[GW_CTLINK_FIELD_MAX];
	char slot[8];
	uint64_t rv; /**< the Device's resourceVersion */
};

/**
 * @brief Called on the loop thread when a device's assignment changed
 *        (@p removed 0) or was taken away (@p removed 1). The OTA engine's hook.
 */
typedef void (*gw_ctlink_assign_fn)(void *ctx, const struct gw_assignment *a, int removed);

/** A link (opaque). */
struct gw_ctlink;

/**
 * @brief Start the link: its threads begin to register at once.
 * @param reg the registry the loop thread reads (never touched by the threads)
 * @return 0, -EINVAL (no server or name, bad labels), -ENOMEM, or a pthread error
 */
int gw_ctlink_new(const struct gw_ctlink_config *cfg, struct gw_registry *reg,
		  struct gw_ctlink **ret_l) __attribute__((warn_unused_result));

/** @brief Stop the threads (within about a second) and free; NULL is fine. */
void gw_ctlink_free(struct gw_ctlink *l);

/** @brief Set the assignment hook (NULL: none). */
void gw_ctlink_set_hook(struct gw_ctlink *l, gw_ctlink_assign_fn fn, void *ctx);

/**
 * @brief Loop-thread work: collect the reporter's result, post the next
 *        batch, deliver assignment changes. Never blocks on the network.
 */
void gw_ctlink_tick(struct gw_ctlink *l, uint64_t now_ms);

/** @brief 1 while the controller answers, 0 otherwise. */
int gw_ctlink_up(struct gw_ctlink *l);

/**
 * @brief The latest assignment of @p device.
 * @return 0, -ENOENT when it has none
 */
int gw_ctlink_assignment(struct gw_ctlink *l, const char *device, struct gw_assignment *ret_a);

/** @brief Assignments held now. */
size_t gw_ctlink_assignment_count(struct gw_ctlink *l);

/**
 * @brief HTTP handler of GET /api/v1/assignments (ctx: the link):
 *        {"controller":{"up":..},"items":[{device,release,action,rollout,cohort,slot,resourceVersion}]}
 *        paged by limit and offset.
 */
int gw_ctlink_api_assignments(void *ctx, const char *rest, const struct gw_query *q,
			      struct gw_http_reply *rep);

/**
 * @brief Metrics collector (ctx: the link): flotilla_gateway_controller_up,
 *        flotilla_gateway_controller_requests_total{kind,result},
 *        flotilla_gateway_controller_last_report_timestamp_seconds,
 *        flotilla_gateway_controller_devices_reported_total,
 *        flotilla_gateway_controller_assignments.
 */
void gw_ctlink_collect(void *ctx, struct gw_mbuf *b);

/**
 * @brief One item of the controller's assignments (list item or watch event
 *        object): {"device", "resourceVersion", "assignment": {"release",
 *        "action", "rollout", "cohort", "slot"}}. Fields longer than their
 *        room in @ref gw_assignment refuse the item.
 * @param[out] ret_none 1 when the item has no assignment (taken away)
 * @return 0, -EINVAL (not an object, no device, a field too long or of the
 *         wrong type, a bad resourceVersion)
 */
int gw_assignment_from_json(const json_t *item, struct gw_assignment *ret_a, int *ret_none)
	__attribute__((warn_unused_result));

/**
 * @brief Parse "k=v,k=v" labels (at most 16, keys and values 1..63 bytes of
 *        [A-Za-z0-9._/-]) into a JSON object.
 * @return 0, -EINVAL
 */
int gw_ctlink_parse_labels(const char *text, json_t **ret_json) __attribute__((warn_unused_result));

#endif /* GATEWAY_CTLINK_H */
