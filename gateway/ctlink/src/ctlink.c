/* gw_ctlink: the gateway's link to the controller (see ctlink.h).
 *
 * Why worker threads and not curl multi in the epoll loop: ctl_client is a
 * blocking easy-handle client (one per thread) shared with the CLI, the
 * assignment watch is a long-lived streaming request, and the loop must never
 * wait on DNS, connect or TLS. Two threads with their own clients keep the
 * loop's work to copying a bounded batch into a one-slot mailbox; the device
 * registry stays loop-only (the threads see copies). */
#define _GNU_SOURCE
#include "gateway/ctlink.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/client.h"
#include "gateway/log.h"
#include "gateway/loop.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define WATCH_S 1            /* a watch request ends after this long: the stop check */
#define SCAN_PER_TICK 20000  /* devices fingerprinted per tick */
#define LASTSEEN_GRAIN_MS 10000 /* lastSeen is re-reported when it moved this much */
#define PENDING_MAX 100000   /* assignment changes waiting for the hook */
#define LABELS_MAX 16
#define LABEL_LEN_MAX 63

enum req_kind { RK_REGISTER, RK_HEARTBEAT, RK_BATCH, RK_LIST, RK_WATCH, RK_COUNT };
static const char *const kind_name[RK_COUNT] = {"register", "heartbeat", "batch", "assignments",
						 "watch"};

struct node {
	struct node *next;
	struct gw_assignment a;
};

struct change {
	struct change *next;
	int removed;
	struct gw_assignment a;
};

struct item {
	char id[AG_ID_MAX + 1];
	size_t index;
	uint64_t fp;
	json_t *status;
};

struct gw_ctlink {
	/* settings (read-only after new) */
	char *server, *token, *name, *address, *version;
	json_t *labels;
	int ebpf;
	uint32_t report_ms, batch_max;
	long timeout_ms;
	struct gw_registry *reg;

	/* loop thread only */
	uint64_t *sent;      /* fingerprint acknowledged per registry index */
	size_t sent_cap;
	size_t cursor;       /* next registry index of the sweep */
	uint64_t next_sweep;
	int sweeping;
	gw_ctlink_assign_fn hook;
	void *hook_ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	/* mailbox: the loop fills it (posted), the reporter empties it (done) */
	struct item *box;
	size_t box_n;
	int posted, done, box_ok;
	int resync;          /* the reporter (re)registered: report everything again */
	size_t devices;      /* device count for the Gateway status */
	/* assignments, keyed by device */
	struct node **tab;
	size_t tab_cap, tab_n;
	struct change *pend_head, **pend_tail;
	size_t pend_n;

	atomic_int up;
	atomic_uint_fast64_t req[RK_COUNT][2]; /* [kind][0 ok, 1 error] */
	atomic_uint_fast64_t last_report_ms, reported;
	pthread_t th_report, th_watch;
	int th_report_ok, th_watch_ok;
};

/* ---- helpers ---- */

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void rfc3339(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int label_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '/' || ch == '-';
}

int gw_ctlink_parse_labels(const char *text, json_t **ret_json)
{
	*ret_json = NULL;
	json_t *o = json_object();
	if (!o)
		return -ENOMEM;
	const char *p = text ? text : "";
	unsigned n = 0;
	while (*p) {
		char k[LABEL_LEN_MAX + 1], v[LABEL_LEN_MAX + 1];
		size_t kl = 0, vl = 0;
		while (*p && *p != '=' && *p != ',') {
			if (kl >= LABEL_LEN_MAX || !label_char_ok(*p))
				goto bad;
			k[kl++] = *p++;
		}
		if (*p != '=' || kl == 0)
			goto bad;
		p++;
		while (*p && *p != ',') {
			if (vl >= LABEL_LEN_MAX || !label_char_ok(*p))
				goto bad;
			v[vl++] = *p++;
		}
		if (vl == 0 || ++n > LABELS_MAX)
			goto bad;
		k[kl] = v[vl] = 0;
		if (json_object_get(o, k) || json_object_set_new(o, k, json_string(v)))
			goto bad;
		if (*p == ',' && !*++p)
			goto bad; /* trailing comma */
	}
	*ret_json = o;
	return 0;
bad:
	json_decref(o);
	return -EINVAL;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

#define FNV_U(h, x)                                                                            \
	do {                                                                                   \
		uint64_t v_ = (uint64_t)(x);                                                   \
		h = fnv(h, &v_, sizeof(v_));                                                   \
	} while (0)

/* What the controller is told about a device; a change in it reports it. */
static uint64_t fingerprint(const struct gw_device *d)
{
	uint64_t h = 14695981039346656037ull;
	h = fnv(h, d->hw_id, strlen(d->hw_id));
	FNV_U(h, d->state);
	FNV_U(h, d->active_slot);
	for (int k = 0; k < 2; k++) {
		const struct ag_version *v = &d->slot[k].version;
		FNV_U(h, v->major);
		FNV_U(h, v->minor);
		FNV_U(h, v->patch);
		FNV_U(h, v->build);
		FNV_U(h, d->slot[k].state);
	}
	FNV_U(h, d->boot_count);
	FNV_U(h, d->crash_count);
	FNV_U(h, d->error_count);
	h = fnv(h, d->ota_state, strnlen(d->ota_state, sizeof(d->ota_state)));
	FNV_U(h, d->ota_offset);
	FNV_U(h, d->ota_xfer);
	h = fnv(h, d->ota_target, strnlen(d->ota_target, sizeof(d->ota_target)));
	FNV_U(h, d->last_seen_ms / LASTSEEN_GRAIN_MS);
	return h | 1; /* 0 means "never reported" */
}

static json_t *device_status(const struct gw_device *d)
{
	char v[GW_VERSION_STR_MAX], seen[32], first[32];
	json_t *slots = json_array();
	for (int k = 0; k < 2; k++) {
		gw_version_str(&d->slot[k].version, v);
		json_array_append_new(slots, json_pack("{s:s,s:s,s:s}", "slot", k ? "b" : "a",
						       "version", v, "state",
						       gw_slot_state_name(d->slot[k].state)));
	}
	gw_version_str(&d->slot[d->active_slot & 1].version, v);
	rfc3339(d->last_seen_ms, seen);
	rfc3339(d->first_seen_ms, first);
	unsigned progress = 0;
	if (d->ota_xfer && d->ota_offset <= d->ota_xfer)
		progress = (unsigned)((uint64_t)d->ota_offset * 100u / d->ota_xfer);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:o}", "phase",
			 d->ota_state[0] ? d->ota_state : "idle", "state",
			 gw_device_state_name(d->state), "health",
			 d->crash_count ? "crashed" : (d->error_count ? "errors" : "ok"), "version",
			 v, "activeSlot", (d->active_slot & 1) ? "b" : "a", "hwId", d->hw_id,
			 "lastSeen", seen, "firstSeen", first, "progress", (int)progress, "boots",
			 (json_int_t)d->boot_count, "crashes", (json_int_t)d->crash_count, "errors",
			 (json_int_t)d->error_count, "slots", slots);
}

static void count(struct gw_ctlink *l, enum req_kind k, int rc)
{
	atomic_fetch_add(&l->req[k][rc ? 1 : 0], 1);
}

static void set_up(struct gw_ctlink *l, int up, int rc)
{
	int was = atomic_exchange(&l->up, up);
	if (was != up) {
		if (up)
			gw_info("controller link up", "server=%s", l->server);
		else
			gw_warn("controller link down", "server=%s err=%s", l->server,
				strerror(rc < 0 ? -rc : EIO));
	}
}

/* Sleep up to @p ms unless stopping (or, with @p on_post, a batch is posted);
 * returns 1 when stopping. */
static int nap(struct gw_ctlink *l, uint64_t ms, int on_post)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	while (!l->stop && !(on_post && l->posted && !l->done) &&
	       pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
		;
	int s = l->stop;
	pthread_mutex_unlock(&l->mu);
	return s;
}

static struct ctl_client *client(struct gw_ctlink *l)
{
	struct ctl_client_config cc = {
		.server = l->server, .token = l->token, .timeout_ms = l->timeout_ms};
	struct ctl_client *c = NULL;
	if (ctl_client_new(&cc, &c))
		return NULL;
	return c;
}

/* ---- reporter thread: register, heartbeat, batches ---- */

static json_t *gateway_status(struct gw_ctlink *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->devices;
	pthread_mutex_unlock(&l->mu);
	return json_pack("{s:b,s:s,s:I,s:b}", "connected", 1, "version", l->version, "devices",
			 (json_int_t)n, "ebpf", l->ebpf);
}

/* A clean stop says so: status.connected false (heartbeats always say true). */
static void say_goodbye(struct gw_ctlink *l, struct ctl_client *c)
{
	json_t *cur = NULL;
	if (ctl_client_get(c, "gateways", l->name, &cur))
		return;
	json_t *st = json_deep_copy(json_object_get(cur, "status"));
	json_decref(cur);
	if (!st)
		st = json_object();
	json_object_set_new(st, "connected", json_false());
	int rc = ctl_client_update_status(c, "gateways", l->name, st, 0, NULL);
	count(l, RK_HEARTBEAT, rc);
	json_decref(st);
}

static void *reporter(void *arg)
{
	struct gw_ctlink *l = arg;
	struct ctl_client *c = client(l);
	int registered = 0;
	uint64_t backoff = BACKOFF_MIN_MS, next_hb = 0;
	while (c) {
		pthread_mutex_lock(&l->mu);
		int stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
		int rc;
		if (!registered) {
			/* the object with its labels in metadata (selectors), then its status */
			json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:O},s:{}}", "apiVersion",
						"flotilla.io/v1", "kind", "Gateway", "metadata",
						"name", l->name, "labels",
						l->labels ? l->labels : json_object(), "spec");
			if (!l->labels)
				json_decref(json_object_get(json_object_get(obj, "metadata"), "labels"));
			if (obj && l->address)
				json_object_set_new(json_object_get(obj, "spec"), "address",
						    json_string(l->address));
			rc = obj ? ctl_client_apply(c, "gateways", obj, NULL, NULL) : -ENOMEM;
			json_decref(obj);
			if (rc == 0) {
				json_t *st = gateway_status(l);
				rc = ctl_client_gateway_heartbeat(c, l->name, st);
				json_decref(st);
			}
			count(l, RK_REGISTER, rc);
			if (rc) {
				set_up(l, 0, rc);
				if (rc == -EACCES || rc == -EPERM)
					gw_warn("controller refused the gateway", "err=%s msg=\"%s\"",
						strerror(-rc), ctl_client_message(c));
				if (nap(l, backoff, 0))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			registered = 1;
			backoff = BACKOFF_MIN_MS;
			next_hb = gw_now_ms() + l->report_ms;
			set_up(l, 1, 0);
			pthread_mutex_lock(&l->mu);
			l->resync = 1; /* the controller may have missed anything: report all */
			pthread_mutex_unlock(&l->mu);
		}
		/* a posted batch, or the next heartbeat */
		pthread_mutex_lock(&l->mu);
		int has = l->posted && !l->done;
		struct item *box = l->box;
		size_t n = l->box_n;
		pthread_mutex_unlock(&l->mu);
		if (has) {
			struct ctl_client_status *it = calloc(n ? n : 1, sizeof(*it));
			size_t failed = 0;
			if (!it) {
				rc = -ENOMEM;
			} else {
				for (size_t i = 0; i < n; i++) {
					it[i].device = box[i].id;
					it[i].status = box[i].status;
				}
				rc = ctl_client_status_batch(c, it, n, &failed);
				free(it);
			}
			count(l, RK_BATCH, rc);
			if (rc == 0) {
				atomic_store(&l->last_report_ms, wall_ms());
				atomic_fetch_add(&l->reported, n - failed);
				if (failed)
					gw_warn("controller refused some device status", "failed=%zu",
						failed);
			}
			pthread_mutex_lock(&l->mu);
			l->done = 1;
			l->box_ok = rc == 0;
			pthread_mutex_unlock(&l->mu);
			if (rc && rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM) {
				set_up(l, 0, rc);
				registered = 0;
				if (nap(l, backoff, 0))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			}
			continue;
		}
		uint64_t now = gw_now_ms();
		if (now >= next_hb) {
			json_t *st = gateway_status(l);
			rc = ctl_client_gateway_heartbeat(c, l->name, st);
			json_decref(st);
			count(l, RK_HEARTBEAT, rc);
			next_hb = now + l->report_ms;
			if (rc) {
				set_up(l, 0, rc);
				registered = 0;
				continue;
			}
			continue;
		}
		if (nap(l, next_hb - now, 1))
			break;
	}
	if (c && registered)
		say_goodbye(l, c);
	ctl_client_free(c);
	return NULL;
}

/* ---- watcher thread: assignments ---- */

static size_t hash_id(const char *s, size_t cap)
{
	return (size_t)(fnv(14695981039346656037ull, s, strlen(s)) % cap);
}

/* Under mu. */
static struct node **tab_find(struct gw_ctlink *l, const char *dev)
{
	struct node **p = &l->tab[hash_id(dev, l->tab_cap)];
	while (*p && strcmp((*p)->a.device, dev) != 0)
		p = &(*p)->next;
	return p;
}

/* Under mu. */
static int tab_grow(struct gw_ctlink *l)
{
	size_t cap = l->tab_cap * 2;
	struct node **t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < l->tab_cap; i++) {
		struct node *n = l->tab[i];
		while (n) {
			struct node *next = n->next;
			size_t h = hash_id(n->a.device, cap);
			n->next = t[h];
			t[h] = n;
			n = next;
		}
	}
	free(l->tab);
	l->tab = t;
	l->tab_cap = cap;
	return 0;
}

/* Under mu. */
static void queue_change(struct gw_ctlink *l, const struct gw_assignment *a, int removed)
{
	if (!l->hook || l->pend_n >= PENDING_MAX)
		return;
	struct change *ch = malloc(sizeof(*ch));
	if (!ch)
		return;
	ch->next = NULL;
	ch->removed = removed;
	ch->a = *a;
	*l->pend_tail = ch;
	l->pend_tail = &ch->next;
	l->pend_n++;
}

/* Under mu: set or (a == NULL... removed) change one device's assignment. */
static void tab_set(struct gw_ctlink *l, const struct gw_assignment *a, int removed)
{
	struct node **p = tab_find(l, a->device);
	if (removed) {
		if (*p) {
			struct node *n = *p;
			*p = n->next;
			queue_change(l, &n->a, 1);
			free(n);
			l->tab_n--;
		}
		return;
	}
	if (*p) {
		if (memcmp(&(*p)->a, a, sizeof(*a)) == 0)
			return;
		(*p)->a = *a;
		queue_change(l, a, 0);
		return;
	}
	if (l->tab_n + 1 > l->tab_cap && tab_grow(l) == 0)
		p = tab_find(l, a->device);
	struct node *n = malloc(sizeof(*n));
	if (!n)
		return;
	n->a = *a;
	n->next = NULL;
	*p = n;
	l->tab_n++;
	queue_change(l, a, 0);
}

static int copy_field(char *dst, size_t cap, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		dst[0] = 0;
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n >= cap || strlen(s) != n) /* too long, or a NUL inside */
		return -EINVAL;
	memcpy(dst, s, n + 1);
	return 0;
}

int gw_assignment_from_json(const json_t *it, struct gw_assignment *a, int *ret_none)
{
	memset(a, 0, sizeof(*a));
	*ret_none = 0;
	if (!json_is_object(it) || copy_field(a->device, sizeof(a->device), it, "device") ||
	    !a->device[0])
		return -EINVAL;
	const json_t *rv = json_object_get(it, "resourceVersion");
	if (json_is_string(rv)) {
		const char *t = json_string_value(rv);
		char *end;
		errno = 0;
		a->rv = strtoull(t, &end, 10);
		if (!t[0] || *end || errno || t[0] == '-' || strlen(t) > 20)
			return -EINVAL;
	} else if (json_is_integer(rv) && json_integer_value(rv) >= 0) {
		a->rv = (uint64_t)json_integer_value(rv);
	} else if (rv) {
		return -EINVAL;
	}
	const json_t *as = json_object_get(it, "assignment");
	if (!json_is_object(as)) {
		*ret_none = 1;
		return 0;
	}
	if (copy_field(a->release, sizeof(a->release), as, "release") ||
	    copy_field(a->action, sizeof(a->action), as, "action") ||
	    copy_field(a->rollout, sizeof(a->rollout), as, "rollout") ||
	    copy_field(a->cohort, sizeof(a->cohort), as, "cohort") ||
	    copy_field(a->slot, sizeof(a->slot), as, "slot"))
		return -EINVAL;
	return 0;
}

struct watch_ctx {
	struct gw_ctlink *l;
	uint64_t rv;
};

static int on_event(void *user, const char *type, const json_t *obj)
{
	struct watch_ctx *w = user;
	struct gw_assignment a;
	int none;
	if (gw_assignment_from_json(obj, &a, &none) == 0) {
		pthread_mutex_lock(&w->l->mu);
		tab_set(w->l, &a, none || strcmp(type, "DELETED") == 0);
		pthread_mutex_unlock(&w->l->mu);
		if (a.rv > w->rv)
			w->rv = a.rv;
	}
	pthread_mutex_lock(&w->l->mu);
	int stop = w->l->stop;
	pthread_mutex_unlock(&w->l->mu);
	return stop;
}

/* A fresh list replaces the table: devices missing from it lost theirs. */
static void replace_all(struct gw_ctlink *l, const json_t *items)
{
	size_t n = json_array_size(items);
	pthread_mutex_lock(&l->mu);
	/* mark: collect devices present in the list */
	for (size_t b = 0; b < l->tab_cap; b++) {
		struct node **p = &l->tab[b];
		while (*p) {
			int found = 0;
			for (size_t i = 0; i < n && !found; i++) {
				const json_t *d = json_object_get(json_array_get(items, i), "device");
				found = json_is_string(d) &&
					strcmp(json_string_value(d), (*p)->a.device) == 0;
			}
			if (found) {
				p = &(*p)->next;
				continue;
			}
			struct node *gone = *p;
			*p = gone->next;
			queue_change(l, &gone->a, 1);
			free(gone);
			l->tab_n--;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct gw_assignment a;
		int none;
		if (gw_assignment_from_json(json_array_get(items, i), &a, &none) == 0)
			tab_set(l, &a, none);
	}
	pthread_mutex_unlock(&l->mu);
}

static void *watcher(void *arg)
{
	struct gw_ctlink *l = arg;
	struct ctl_client *c = client(l);
	uint64_t backoff = BACKOFF_MIN_MS;
	int listed = 0;
	struct watch_ctx w = {.l = l};
	while (c) {
		pthread_mutex_lock(&l->mu);
		int stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
		int rc;
		if (!listed) {
			json_t *items = NULL;
			uint64_t rv = 0;
			rc = ctl_client_assignments(c, l->name, &items, &rv);
			count(l, RK_LIST, rc);
			if (rc == 0) {
				replace_all(l, items);
				w.rv = rv;
				listed = 1;
				backoff = BACKOFF_MIN_MS;
			}
			json_decref(items);
		} else {
			rc = ctl_client_watch_assignments(c, l->name, w.rv, WATCH_S, on_event, &w);
			count(l, RK_WATCH, rc);
			if (rc == -ERANGE) {
				listed = 0;
				continue;
			}
			if (rc == 0)
				continue;
			listed = 0; /* the stream broke: list again when it comes back */
		}
		if (rc) {
			if (nap(l, backoff, 0))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
	}
	ctl_client_free(c);
	return NULL;
}

/* ---- loop side ---- */

static void free_box(struct gw_ctlink *l)
{
	for (size_t i = 0; i < l->box_n; i++)
		json_decref(l->box[i].status);
	l->box_n = 0;
}

static int ensure_sent(struct gw_ctlink *l, size_t n)
{
	if (n <= l->sent_cap)
		return 0;
	size_t cap = l->sent_cap ? l->sent_cap : 1024;
	while (cap < n)
		cap *= 2;
	uint64_t *s = realloc(l->sent, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + l->sent_cap, 0, (cap - l->sent_cap) * sizeof(*s));
	l->sent = s;
	l->sent_cap = cap;
	return 0;
}

void gw_ctlink_tick(struct gw_ctlink *l, uint64_t now)
{
	if (!l)
		return;
	size_t total = gw_registry_count(l->reg);
	struct change *ch = NULL;
	pthread_mutex_lock(&l->mu);
	l->devices = total;
	int resync = l->resync;
	l->resync = 0;
	int done = l->posted && l->done, ok = l->box_ok, busy = l->posted && !l->done;
	if (done) {
		l->posted = l->done = 0;
	}
	if (l->pend_head) {
		ch = l->pend_head;
		l->pend_head = NULL;
		l->pend_tail = &l->pend_head;
		l->pend_n = 0;
	}
	pthread_mutex_unlock(&l->mu);
	while (ch) {
		struct change *next = ch->next;
		if (l->hook)
			l->hook(l->hook_ctx, &ch->a, ch->removed);
		free(ch);
		ch = next;
	}
	if (done) {
		if (ok)
			for (size_t i = 0; i < l->box_n; i++)
				if (l->box[i].index < l->sent_cap)
					l->sent[l->box[i].index] = l->box[i].fp;
		free_box(l);
	}
	if (resync) { /* a fresh sweep from the first device */
		if (l->sent)
			memset(l->sent, 0, l->sent_cap * sizeof(*l->sent));
		l->next_sweep = now;
		l->sweeping = 0;
		if (!busy)
			free_box(l); /* an unposted part-batch: the new sweep finds them again */
	}
	if (busy || !atomic_load(&l->up))
		return;
	if (!l->sweeping) {
		if (now < l->next_sweep)
			return;
		l->sweeping = 1;
		l->cursor = 0;
	}
	if (ensure_sent(l, total))
		return;
	size_t scanned = 0;
	while (l->cursor < total && l->box_n < l->batch_max && scanned < SCAN_PER_TICK) {
		struct gw_device *d = gw_registry_at(l->reg, l->cursor);
		size_t i = l->cursor++;
		scanned++;
		if (!d)
			continue;
		uint64_t fp = fingerprint(d);
		if (l->sent[i] == fp)
			continue;
		json_t *st = device_status(d);
		if (!st)
			continue;
		struct item *it = &l->box[l->box_n++];
		snprintf(it->id, sizeof(it->id), "%s", d->id);
		it->index = i;
		it->fp = fp;
		it->status = st;
	}
	int end = l->cursor >= total;
	if (l->box_n && (l->box_n >= l->batch_max || end)) {
		pthread_mutex_lock(&l->mu);
		l->posted = 1;
		l->done = 0;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
	}
	if (end) {
		l->sweeping = 0;
		l->next_sweep = now + l->report_ms;
	}
}

int gw_ctlink_up(struct gw_ctlink *l)
{
	return l ? atomic_load(&l->up) : 0;
}

void gw_ctlink_set_hook(struct gw_ctlink *l, gw_ctlink_assign_fn fn, void *ctx)
{
	pthread_mutex_lock(&l->mu);
	l->hook = fn;
	l->hook_ctx = ctx;
	pthread_mutex_unlock(&l->mu);
}

int gw_ctlink_assignment(struct gw_ctlink *l, const char *device, struct gw_assignment *ret_a)
{
	pthread_mutex_lock(&l->mu);
	struct node **p = tab_find(l, device);
	if (*p)
		*ret_a = (*p)->a;
	int rc = *p ? 0 : -ENOENT;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

size_t gw_ctlink_assignment_count(struct gw_ctlink *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->tab_n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

static json_t *assignment_json(const struct gw_assignment *a)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "device", a->device, "release",
			 a->release, "action", a->action, "rollout", a->rollout, "cohort", a->cohort,
			 "slot", a->slot, "resourceVersion", (json_int_t)a->rv);
}

int gw_ctlink_api_assignments(void *ctx, const char *rest, const struct gw_query *q,
			      struct gw_http_reply *rep)
{
	struct gw_ctlink *l = ctx;
	if (rest && rest[0])
		return -ENOENT;
	json_t *items = json_array();
	size_t seen = 0, total;
	pthread_mutex_lock(&l->mu);
	total = l->tab_n;
	for (size_t b = 0; b < l->tab_cap; b++)
		for (struct node *n = l->tab[b]; n; n = n->next, seen++)
			if (seen >= q->offset && json_array_size(items) < q->limit)
				json_array_append_new(items, assignment_json(&n->a));
	pthread_mutex_unlock(&l->mu);
	json_t *o = json_pack("{s:{s:s,s:b},s:I,s:o}", "controller", "server", l->server, "up",
			      atomic_load(&l->up), "total", (json_int_t)total, "items", items);
	rep->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!rep->body)
		return -ENOMEM;
	rep->len = strlen(rep->body);
	rep->content_type = "application/json";
	return 0;
}

void gw_ctlink_collect(void *ctx, struct gw_mbuf *b)
{
	struct gw_ctlink *l = ctx;
	gw_mbuf_family(b, "flotilla_gateway_controller_up", "gauge",
		       "1 while the controller answers the gateway, 0 otherwise.");
	gw_mbuf_sample(b, "flotilla_gateway_controller_up", NULL, atomic_load(&l->up));
	gw_mbuf_family(b, "flotilla_gateway_controller_requests_total", "counter",
		       "Requests to the controller, by kind and result.");
	for (int k = 0; k < RK_COUNT; k++)
		for (int r = 0; r < 2; r++) {
			const char *lb[] = {"kind", kind_name[k], "result", r ? "error" : "ok",
					    NULL};
			gw_mbuf_sample(b, "flotilla_gateway_controller_requests_total", lb,
				       (double)atomic_load(&l->req[k][r]));
		}
	gw_mbuf_family(b, "flotilla_gateway_controller_last_report_timestamp_seconds", "gauge",
		       "Unix time of the last device status batch the controller accepted (0: none).");
	/* printed here: a sample's %.9g would round a Unix time to 100 s */
	uint64_t last = atomic_load(&l->last_report_ms);
	gw_mbuf_printf(b, "flotilla_gateway_controller_last_report_timestamp_seconds %llu.%03u\n",
		       (unsigned long long)(last / 1000), (unsigned)(last % 1000));
	gw_mbuf_family(b, "flotilla_gateway_controller_devices_reported_total", "counter",
		       "Device status updates the controller accepted.");
	gw_mbuf_sample(b, "flotilla_gateway_controller_devices_reported_total", NULL,
		       (double)atomic_load(&l->reported));
	gw_mbuf_family(b, "flotilla_gateway_controller_assignments", "gauge",
		       "Device assignments held from the controller.");
	gw_mbuf_sample(b, "flotilla_gateway_controller_assignments", NULL,
		       (double)gw_ctlink_assignment_count(l));
}

static char *dup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

int gw_ctlink_new(const struct gw_ctlink_config *cfg, struct gw_registry *reg,
		  struct gw_ctlink **ret_l)
{
	*ret_l = NULL;
	if (!cfg || !reg || !cfg->server || !cfg->server[0] || !cfg->name || !cfg->name[0] ||
	    cfg->batch_max > GW_CTLINK_BATCH_MAX)
		return -EINVAL;
	struct gw_ctlink *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	l->pend_tail = &l->pend_head;
	l->reg = reg;
	l->server = strdup(cfg->server);
	l->name = strdup(cfg->name);
	l->token = dup_or_null(cfg->token);
	l->address = dup_or_null(cfg->address);
	l->version = strdup(cfg->version ? cfg->version : "0.0.0");
	l->ebpf = cfg->ebpf != 0;
	l->report_ms = cfg->report_ms ? cfg->report_ms : 5000;
	l->batch_max = cfg->batch_max ? cfg->batch_max : 500;
	l->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	l->tab_cap = 64;
	l->tab = calloc(l->tab_cap, sizeof(*l->tab));
	l->box = calloc(l->batch_max, sizeof(*l->box));
	int rc = 0;
	if (!l->server || !l->name || !l->version || !l->tab || !l->box)
		rc = -ENOMEM;
	if (!rc && cfg->labels && cfg->labels[0])
		rc = gw_ctlink_parse_labels(cfg->labels, &l->labels);
	if (!rc) {
		rc = -pthread_create(&l->th_report, NULL, reporter, l);
		l->th_report_ok = rc == 0;
	}
	if (!rc) {
		rc = -pthread_create(&l->th_watch, NULL, watcher, l);
		l->th_watch_ok = rc == 0;
	}
	if (rc) {
		gw_ctlink_free(l);
		return rc;
	}
	*ret_l = l;
	return 0;
}

void gw_ctlink_free(struct gw_ctlink *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (l->th_report_ok)
		pthread_join(l->th_report, NULL);
	if (l->th_watch_ok)
		pthread_join(l->th_watch, NULL);
	free_box(l);
	free(l->box);
	for (size_t b = 0; b < l->tab_cap && l->tab; b++)
		while (l->tab[b]) {
			struct node *n = l->tab[b];
			l->tab[b] = n->next;
			free(n);
		}
	free(l->tab);
	while (l->pend_head) {
		struct change *c = l->pend_head;
		l->pend_head = c->next;
		free(c);
	}
	free(l->sent);
	json_decref(l->labels);
	free(l->server);
	free(l->name);
	free(l->token);
	free(l->address);
	free(l->version);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
