/**
 * @file obj.h
 * @brief Flotilla API objects (group flotilla.io/v1): kinds, schema checks,
 *        label selectors.
 *
 * An object is a Jansson object with apiVersion, kind, metadata (name,
 * labels, annotations, resourceVersion, generation, creationTimestamp), spec
 * and status. resourceVersion is a decimal string, as in Kubernetes.
 */
#ifndef CTL_OBJ_H
#define CTL_OBJ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The API group and version of every object. */
#define CTL_API_VERSION "flotilla.io/v1"
/** Longest object name (DNS subdomain). */
#define CTL_NAME_MAX 253
/** Longest label key or value. */
#define CTL_LABEL_MAX 63
/** Largest selector expression accepted. */
#define CTL_SELECTOR_MAX 4096
/** Most requirements in one selector. */
#define CTL_SELECTOR_REQ_MAX 32

/** The resource kinds. */
enum ctl_kind {
	CTL_KIND_GATEWAY = 0,
	CTL_KIND_DEVICE,
	CTL_KIND_RELEASE,
	CTL_KIND_ROLLOUT,
	CTL_KIND_ANALYSIS_TEMPLATE,
	CTL_KIND__COUNT,
};

/** @brief "Gateway", "Device", ... */
const char *ctl_kind_name(enum ctl_kind kind);

/** @brief "gateways", "devices", ... (the URL segment) */
const char *ctl_kind_plural(enum ctl_kind kind);

/**
 * @brief Kind from a URL segment or a CLI word: plural, singular, kind name,
 *        any case ("devices", "device", "Device", "dev" is not accepted).
 * @return the kind, or -ENOENT
 */
int ctl_kind_parse(const char *word);

/** @brief Nonzero when @p name is a valid object name. */
bool ctl_obj_name_valid(const char *name);

/**
 * @brief Check an object against its kind's schema.
 * @param kind expected kind (the object's "kind" must match)
 * @param[out] path the offending field ("spec.steps[1].setWeight"), on error
 * @param[out] reason why it is refused, on error
 * @return 0, or -EINVAL with @p path and @p reason filled
 */
int ctl_obj_validate(enum ctl_kind kind, const json_t *obj, char *path, size_t path_len,
		     char *reason, size_t reason_len) __attribute__((warn_unused_result));

/**
 * @brief Check a status body for @p kind (an object, fields typed).
 * @return 0 or -EINVAL with @p path and @p reason filled
 */
int ctl_obj_validate_status(enum ctl_kind kind, const json_t *status, char *path, size_t path_len,
			    char *reason, size_t reason_len) __attribute__((warn_unused_result));

/** @brief metadata.resourceVersion as a number; 0 when absent or malformed. */
uint64_t ctl_obj_rv(const json_t *obj);

/** @brief The gateway owning an object (status.gateway) or NULL. */
const char *ctl_obj_owner(const json_t *obj);

/** @brief metadata.name or NULL. */
const char *ctl_obj_name(const json_t *obj);

/** A parsed label selector (opaque). */
struct ctl_selector;

/**
 * @brief Parse a label selector: comma-separated requirements
 *        `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
 * @param text at most CTL_SELECTOR_MAX bytes; NULL or "" matches everything
 * @param[out] ret_sel new selector, caller frees with ctl_selector_free()
 * @return 0, -EINVAL (syntax), -E2BIG (too long or too many requirements), -ENOMEM
 */
int ctl_selector_parse(const char *text, struct ctl_selector **ret_sel)
	__attribute__((warn_unused_result));

/** @brief Does @p labels (a JSON object of strings, or NULL) satisfy @p sel? NULL sel matches. */
bool ctl_selector_match(const struct ctl_selector *sel, const json_t *labels);

/**
 * @brief For store backends: the values of the first requirement that pins
 *        a label to a set of values (`k=v` or `k in (...)`), so a label
 *        index can narrow a scan. ctl_selector_match() still decides.
 * @param[out] ret_key the label key
 * @param[out] ret_vals its allowed values (owned by @p sel)
 * @return the number of values, 0 when no requirement pins a label
 */
size_t ctl_selector_pinned(const struct ctl_selector *sel, const char **ret_key,
			   const char *const **ret_vals);

/** @brief Free a selector; NULL is fine. */
void ctl_selector_free(struct ctl_selector *sel);

#endif /* CTL_OBJ_H */
