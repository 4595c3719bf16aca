/* Backend interface behind store.h. */
#ifndef CTL_STORE_IMPL_H
#define CTL_STORE_IMPL_H

#include <pthread.h>

#include "controller/store.h"

struct ctl_store_ops {
	const char *name;
	void (*free)(struct ctl_store *s);
	int (*revision)(struct ctl_store *s, uint64_t *ret_rv);
	int (*get)(struct ctl_store *s, enum ctl_kind kind, const char *name, json_t **ret);
	int (*create)(struct ctl_store *s, enum ctl_kind kind, json_t *obj);
	int (*update)(struct ctl_store *s, enum ctl_kind kind, json_t *obj, uint64_t expect_rv);
	int (*del)(struct ctl_store *s, enum ctl_kind kind, const char *name, uint64_t expect_rv,
		   json_t **ret_old);
	int (*list)(struct ctl_store *s, enum ctl_kind kind, const struct ctl_selector *sel,
		    const char *owner, size_t limit, const char *after, json_t **ret_items,
		    int *ret_more, uint64_t *ret_rv);
	int (*status_batch)(struct ctl_store *s, enum ctl_kind kind, struct ctl_status_item *items,
			    size_t n, const char *owner, bool create, uint64_t *ret_rv);
	int (*watch_open)(struct ctl_store *s, int kind, uint64_t from_rv, struct ctl_watch **ret);
	int (*watch_next)(struct ctl_watch *w, int timeout_ms, struct ctl_event *ret);
	void (*watch_close)(struct ctl_watch *w);
	int (*leader_start)(struct ctl_store *s, const char *id, int ttl_s);
	void (*leader_stop)(struct ctl_store *s);
};

/* Every backend's struct starts with this. */
struct ctl_store {
	const struct ctl_store_ops *ops;
	pthread_mutex_t leader_lock;
	bool leader;
	char leader_name[128];
};

int ctl__sqlite_open(const char *path, struct ctl_store **ret);
int ctl__etcd_open(const char *endpoints, struct ctl_store **ret);

/* metadata.resourceVersion = rv */
int ctl__obj_set_rv(json_t *obj, uint64_t rv);
/* Object text without resourceVersion (what is stored). */
char *ctl__obj_dump_stored(const json_t *obj);
/* Owner gateway of an object: status.gateway or NULL. */
const char *ctl__obj_owner(const json_t *obj);

void ctl__store_set_leader(struct ctl_store *s, bool leader, const char *name);

#endif
