/* The store interface: dispatch to a backend, and helpers they share. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

const char *ctl_event_type_name(enum ctl_event_type t)
{
	switch (t) {
	case CTL_EV_ADDED: return "ADDED";
	case CTL_EV_MODIFIED: return "MODIFIED";
	case CTL_EV_DELETED: return "DELETED";
	}
	return "?";
}

void ctl_event_done(struct ctl_event *ev)
{
	if (ev) {
		json_decref(ev->obj);
		ev->obj = NULL;
	}
}

int ctl__obj_set_rv(json_t *obj, uint64_t rv)
{
	json_t *md = json_object_get(obj, "metadata");
	if (!json_is_object(md))
		return -EINVAL;
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, rv);
	return json_object_set_new(md, "resourceVersion", json_string(buf)) ? -ENOMEM : 0;
}

char *ctl__obj_dump_stored(const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	if (!copy)
		return NULL;
	json_object_del(json_object_get(copy, "metadata"), "resourceVersion");
	char *s = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return s;
}

const char *ctl__obj_owner(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "status"), "gateway"));
}

void ctl__store_set_leader(struct ctl_store *s, bool leader, const char *name)
{
	pthread_mutex_lock(&s->leader_lock);
	s->leader = leader;
	snprintf(s->leader_name, sizeof(s->leader_name), "%s", name ? name : "");
	pthread_mutex_unlock(&s->leader_lock);
}

int ctl_store_open(const char *url, struct ctl_store **ret_store)
{
	if (!url || !ret_store)
		return -EINVAL;
	struct ctl_store *s = NULL;
	int r;
	if (strncmp(url, "sqlite:", 7) == 0)
		r = ctl__sqlite_open(url + 7, &s);
	else if (strncmp(url, "etcd:", 5) == 0)
		r = ctl__etcd_open(url + 5, &s);
	else
		return -EINVAL;
	if (r < 0)
		return r;
	pthread_mutex_init(&s->leader_lock, NULL);
	*ret_store = s;
	return 0;
}

void ctl_store_free(struct ctl_store *s)
{
	if (!s)
		return;
	ctl_store_leader_stop(s);
	pthread_mutex_destroy(&s->leader_lock);
	s->ops->free(s);
}

const char *ctl_store_backend(const struct ctl_store *s)
{
	return s->ops->name;
}

int ctl_store_revision(struct ctl_store *s, uint64_t *ret_rv)
{
	return s->ops->revision(s, ret_rv);
}

int ctl_store_get(struct ctl_store *s, enum ctl_kind kind, const char *name, json_t **ret_obj)
{
	if ((unsigned)kind >= CTL_KIND__COUNT || !name || !ret_obj)
		return -EINVAL;
	return s->ops->get(s, kind, name, ret_obj);
}

int ctl_store_create(struct ctl_store *s, enum ctl_kind kind, json_t *obj)
{
	if ((unsigned)kind >= CTL_KIND__COUNT || !ctl_obj_name_valid(ctl_obj_name(obj)))
		return -EINVAL;
	return s->ops->create(s, kind, obj);
}

int ctl_store_update(struct ctl_store *s, enum ctl_kind kind, json_t *obj, uint64_t expect_rv)
{
	if ((unsigned)kind >= CTL_KIND__COUNT || !ctl_obj_name_valid(ctl_obj_name(obj)))
		return -EINVAL;
	return s->ops->update(s, kind, obj, expect_rv);
}

int ctl_store_delete(struct ctl_store *s, enum ctl_kind kind, const char *name, uint64_t expect_rv,
		     json_t **ret_old)
{
	if ((unsigned)kind >= CTL_KIND__COUNT || !name)
		return -EINVAL;
	return s->ops->del(s, kind, name, expect_rv, ret_old);
}

int ctl_store_list(struct ctl_store *s, enum ctl_kind kind, const struct ctl_selector *sel,
		   const char *owner, size_t limit, const char *after, json_t **ret_items,
		   int *ret_more, uint64_t *ret_rv)
{
	if ((unsigned)kind >= CTL_KIND__COUNT || !ret_items)
		return -EINVAL;
	int more = 0;
	uint64_t rv = 0;
	int r = s->ops->list(s, kind, sel, owner, limit, after, ret_items, &more, &rv);
	if (r == 0) {
		if (ret_more)
			*ret_more = more;
		if (ret_rv)
			*ret_rv = rv;
	}
	return r;
}

int ctl_store_status_batch(struct ctl_store *s, enum ctl_kind kind, struct ctl_status_item *items,
			   size_t n, const char *owner, bool create, uint64_t *ret_rv)
{
	if ((unsigned)kind >= CTL_KIND__COUNT || (n && !items) || n > CTL_STORE_BATCH_MAX)
		return -EINVAL;
	uint64_t rv = 0;
	int r = s->ops->status_batch(s, kind, items, n, owner, create, &rv);
	if (r == 0 && ret_rv)
		*ret_rv = rv;
	return r;
}

int ctl_store_watch_open(struct ctl_store *s, int kind, uint64_t from_rv, struct ctl_watch **ret_w)
{
	if (kind < -1 || kind >= CTL_KIND__COUNT || !ret_w)
		return -EINVAL;
	return s->ops->watch_open(s, kind, from_rv, ret_w);
}

/* Every backend's watch starts with the store pointer. */
struct watch_head {
	struct ctl_store *s;
};

int ctl_store_watch_next(struct ctl_watch *w, int timeout_ms, struct ctl_event *ret_ev)
{
	struct watch_head *h = (struct watch_head *)w;
	return h->s->ops->watch_next(w, timeout_ms, ret_ev);
}

void ctl_store_watch_close(struct ctl_watch *w)
{
	if (!w)
		return;
	struct watch_head *h = (struct watch_head *)w;
	h->s->ops->watch_close(w);
}

int ctl_store_leader_start(struct ctl_store *s, const char *id, int ttl_s)
{
	if (!id || ttl_s < 2)
		return -EINVAL;
	return s->ops->leader_start(s, id, ttl_s);
}

bool ctl_store_is_leader(struct ctl_store *s)
{
	pthread_mutex_lock(&s->leader_lock);
	bool l = s->leader;
	pthread_mutex_unlock(&s->leader_lock);
	return l;
}

void ctl_store_leader_name(struct ctl_store *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->leader_lock);
	snprintf(buf, len, "%s", s->leader_name);
	pthread_mutex_unlock(&s->leader_lock);
}

void ctl_store_leader_stop(struct ctl_store *s)
{
	if (s)
		s->ops->leader_stop(s);
}
