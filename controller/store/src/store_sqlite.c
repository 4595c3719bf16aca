/*
 * SQLite backend: one file in WAL mode.
 *
 * objects(kind, name, rv, crv, labels, owner, body, status): body is the
 * object without status and resourceVersion, status is kept apart so a
 * status write touches neither the spec nor its JSON. One counter (meta.rv)
 * hands out resource versions; every write takes the next one, so each
 * change has its own version and the in-memory window of recent changes is
 * indexed by it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

struct win_ev {
	uint64_t rv;
	int kind;
	enum ctl_event_type type;
	char *body;   /* stored text */
	char *status; /* or NULL */
};

struct sq {
	struct ctl_store base;
	sqlite3 *db;
	pthread_mutex_t lock; /* the connection and rv */
	uint64_t rv;
	char *path;
	int lock_fd;
	/* window of recent events: slot rv % cap holds event rv */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	struct win_ev *win;
	size_t cap;
	uint64_t oldest;  /* lowest rv in the window */
	uint64_t visible; /* highest committed rv watchers may see */
};

struct sq_watch {
	struct ctl_store *s;
	int kind;
	uint64_t last;
};

static struct sq *SQ(struct ctl_store *s)
{
	return (struct sq *)s;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static void win_push(struct sq *q, uint64_t rv, int kind, enum ctl_event_type type,
		     const char *body, const char *status)
{
	struct win_ev *e = &q->win[rv % q->cap];
	pthread_mutex_lock(&q->wlock);
	if (e->rv && e->rv >= q->oldest)
		q->oldest = e->rv + 1;
	free(e->body);
	free(e->status);
	e->rv = rv;
	e->kind = kind;
	e->type = type;
	e->body = body ? strdup(body) : NULL;
	e->status = status ? strdup(status) : NULL;
	pthread_mutex_unlock(&q->wlock);
}

static void win_notify(struct sq *q, uint64_t committed)
{
	pthread_mutex_lock(&q->wlock);
	if (committed > q->visible)
		q->visible = committed;
	pthread_cond_broadcast(&q->wcond);
	pthread_mutex_unlock(&q->wlock);
}

static json_t *compose(const char *body, uint64_t rv, const char *status)
{
	json_t *o = json_loads(body, 0, NULL);
	if (!o)
		return NULL;
	if (ctl__obj_set_rv(o, rv) < 0) {
		json_decref(o);
		return NULL;
	}
	if (status) {
		json_t *st = json_loads(status, 0, NULL);
		if (st)
			json_object_set_new(o, "status", st);
	}
	return o;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int save_rv(struct sq *q)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, "UPDATE meta SET v=? WHERE k='rv'", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)q->rv);
	int r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

static int sq_revision(struct ctl_store *s, uint64_t *ret)
{
	struct sq *q = SQ(s);
	pthread_mutex_lock(&q->lock);
	*ret = q->rv;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Read kind/name: rv, body, status (caller holds lock). */
static int read_row(struct sq *q, int kind, const char *name, uint64_t *rv, char **body,
		    char **status)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, "SELECT rv, body, status FROM objects WHERE kind=? AND name=?",
			       -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*rv = (uint64_t)sqlite3_column_int64(st, 0);
		if (body)
			*body = strdup(col_text(st, 1));
		if (status)
			*status = col_text(st, 2) ? strdup(col_text(st, 2)) : NULL;
		r = 0;
	} else {
		r = r == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

static int sq_get(struct ctl_store *s, enum ctl_kind kind, const char *name, json_t **ret)
{
	struct sq *q = SQ(s);
	uint64_t rv;
	char *body = NULL, *status = NULL;
	pthread_mutex_lock(&q->lock);
	int r = read_row(q, (int)kind, name, &rv, &body, &status);
	pthread_mutex_unlock(&q->lock);
	if (r == 0) {
		*ret = compose(body, rv, status);
		if (!*ret)
			r = -EIO;
	}
	free(body);
	free(status);
	return r;
}

struct parts {
	char *body, *status, *labels;
	const char *owner;
};

static void parts_done(struct parts *p)
{
	free(p->body);
	free(p->status);
	free(p->labels);
}

static int split(const json_t *obj, struct parts *p)
{
	memset(p, 0, sizeof(*p));
	json_t *copy = json_deep_copy(obj);
	if (!copy)
		return -ENOMEM;
	json_t *md = json_object_get(copy, "metadata");
	json_object_del(md, "resourceVersion");
	json_t *st = json_object_get(copy, "status");
	if (st)
		p->status = json_dumps(st, JSON_COMPACT);
	json_object_del(copy, "status");
	json_t *labels = json_object_get(md, "labels");
	p->labels = labels ? json_dumps(labels, JSON_COMPACT) : strdup("{}");
	p->body = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	p->owner = ctl__obj_owner(obj);
	if (!p->body || !p->labels) {
		parts_done(p);
		return -ENOMEM;
	}
	return 0;
}

static int write_row(struct sq *q, const char *sql, int kind, const char *name, uint64_t rv,
		     const struct parts *p)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)rv);
	sqlite3_bind_text(st, 4, p->labels, -1, SQLITE_STATIC);
	if (p->owner)
		sqlite3_bind_text(st, 5, p->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->body, -1, SQLITE_STATIC);
	if (p->status)
		sqlite3_bind_text(st, 7, p->status, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r == SQLITE_CONSTRAINT)
		return -EEXIST;
	return r == SQLITE_DONE ? 0 : -EIO;
}

static int commit_or_rollback(struct sq *q, int r)
{
	if (r == 0) {
		r = save_rv(q);
		if (r == 0 && exec(q->db, "COMMIT") == 0)
			return 0;
		r = r ? r : -EIO;
	}
	exec(q->db, "ROLLBACK");
	return r;
}

static int sq_create(struct ctl_store *s, enum ctl_kind kind, json_t *obj)
{
	struct sq *q = SQ(s);
	struct parts p;
	int r = split(obj, &p);
	if (r)
		return r;
	pthread_mutex_lock(&q->lock);
	uint64_t rv = q->rv + 1;
	r = exec(q->db, "BEGIN IMMEDIATE");
	if (r == 0) {
		r = write_row(q,
			      "INSERT INTO objects(kind,name,rv,crv,labels,owner,body,status) "
			      "VALUES(?1,?2,?3,?3,?4,?5,?6,?7)",
			      (int)kind, ctl_obj_name(obj), rv, &p);
		if (r == 0)
			q->rv = rv;
		r = commit_or_rollback(q, r);
		if (r)
			q->rv = rv - 1;
	}
	if (r == 0) {
		win_push(q, rv, (int)kind, CTL_EV_ADDED, p.body, p.status);
		ctl__obj_set_rv(obj, rv);
	}
	pthread_mutex_unlock(&q->lock);
	if (r == 0)
		win_notify(q, rv);
	parts_done(&p);
	return r;
}

static int sq_update(struct ctl_store *s, enum ctl_kind kind, json_t *obj, uint64_t expect_rv)
{
	struct sq *q = SQ(s);
	struct parts p;
	int r = split(obj, &p);
	if (r)
		return r;
	const char *name = ctl_obj_name(obj);
	pthread_mutex_lock(&q->lock);
	uint64_t rv = q->rv + 1, cur;
	r = exec(q->db, "BEGIN IMMEDIATE");
	if (r == 0) {
		r = read_row(q, (int)kind, name, &cur, NULL, NULL);
		if (r == 0 && expect_rv && cur != expect_rv)
			r = -ESTALE;
		if (r == 0)
			r = write_row(q,
				      "UPDATE objects SET rv=?3, labels=?4, owner=?5, body=?6, "
				      "status=?7 WHERE kind=?1 AND name=?2",
				      (int)kind, name, rv, &p);
		if (r == 0)
			q->rv = rv;
		r = commit_or_rollback(q, r);
		if (r)
			q->rv = rv - 1;
	}
	if (r == 0) {
		win_push(q, rv, (int)kind, CTL_EV_MODIFIED, p.body, p.status);
		ctl__obj_set_rv(obj, rv);
	}
	pthread_mutex_unlock(&q->lock);
	if (r == 0)
		win_notify(q, rv);
	parts_done(&p);
	return r;
}

static int sq_delete(struct ctl_store *s, enum ctl_kind kind, const char *name, uint64_t expect_rv,
		     json_t **ret_old)
{
	struct sq *q = SQ(s);
	char *body = NULL, *status = NULL;
	uint64_t cur = 0, rv;
	pthread_mutex_lock(&q->lock);
	rv = q->rv + 1;
	int r = exec(q->db, "BEGIN IMMEDIATE");
	if (r == 0) {
		r = read_row(q, (int)kind, name, &cur, &body, &status);
		if (r == 0 && expect_rv && cur != expect_rv)
			r = -ESTALE;
		if (r == 0) {
			sqlite3_stmt *st;
			if (sqlite3_prepare_v2(q->db, "DELETE FROM objects WHERE kind=? AND name=?",
					       -1, &st, NULL)) {
				r = -EIO;
			} else {
				sqlite3_bind_int(st, 1, (int)kind);
				sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
				r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
				sqlite3_finalize(st);
			}
		}
		if (r == 0)
			q->rv = rv;
		r = commit_or_rollback(q, r);
		if (r)
			q->rv = rv - 1;
	}
	if (r == 0)
		win_push(q, rv, (int)kind, CTL_EV_DELETED, body, status);
	pthread_mutex_unlock(&q->lock);
	if (r == 0) {
		win_notify(q, rv);
		if (ret_old)
			*ret_old = compose(body, rv, status);
	}
	free(body);
	free(status);
	return r;
}

static int sq_list(struct ctl_store *s, enum ctl_kind kind, const struct ctl_selector *sel,
		   const char *owner, size_t limit, const char *after, json_t **ret_items,
		   int *ret_more, uint64_t *ret_rv)
{
	struct sq *q = SQ(s);
	json_t *items = json_array();
	if (!items)
		return -ENOMEM;
	sqlite3_stmt *st;
	int r = 0, more = 0;
	pthread_mutex_lock(&q->lock);
	*ret_rv = q->rv;
	const char *pkey = NULL;
	const char *const *pvals = NULL;
	size_t npv = ctl_selector_pinned(sel, &pkey, &pvals);
	char *sql = NULL;
	if (npv) {
		/* narrow by the label index: the rows holding k = one of the values */
		char in[64 * 4 + 8] = "";
		for (size_t i = 0; i < npv && i < 64; i++)
			strcat(in, i ? ",?" : "?");
		if (asprintf(&sql,
			     "SELECT o.name, o.rv, o.labels, o.body, o.status FROM obj_labels l "
			     "JOIN objects o ON o.kind=l.kind AND o.name=l.name WHERE l.kind=?1 AND "
			     "l.k=?4 AND l.v IN (%s) AND l.name>?2%s ORDER BY l.name",
			     in, owner ? " AND o.owner=?3" : "") < 0)
			sql = NULL;
	} else if (asprintf(&sql,
			    "SELECT name, rv, labels, body, status FROM objects WHERE kind=?1 AND "
			    "name>?2%s ORDER BY name",
			    owner ? " AND owner=?3" : "") < 0) {
		sql = NULL;
	}
	if (!sql || sqlite3_prepare_v2(q->db, sql, -1, &st, NULL)) {
		free(sql);
		r = -EIO;
		goto out;
	}
	free(sql);
	sqlite3_bind_int(st, 1, (int)kind);
	sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_STATIC);
	if (owner)
		sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
	if (npv) {
		sqlite3_bind_text(st, 4, pkey, -1, SQLITE_STATIC);
		for (size_t i = 0; i < npv && i < 64; i++)
			sqlite3_bind_text(st, 5 + (int)i, pvals[i], -1, SQLITE_STATIC);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (sel) {
			json_t *labels = json_loads(col_text(st, 2), 0, NULL);
			bool m = ctl_selector_match(sel, labels);
			json_decref(labels);
			if (!m)
				continue;
		}
		if (limit && json_array_size(items) >= limit) {
			more = 1;
			break;
		}
		json_t *o = compose(col_text(st, 3), (uint64_t)sqlite3_column_int64(st, 1),
				    col_text(st, 4));
		if (!o || json_array_append_new(items, o)) {
			r = -ENOMEM;
			break;
		}
	}
	r = (r == SQLITE_DONE || r == SQLITE_ROW) ? 0 : (r < 0 ? r : -EIO);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&q->lock);
	if (r) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	*ret_more = more;
	return 0;
}

static int sq_status_batch(struct ctl_store *s, enum ctl_kind kind, struct ctl_status_item *items,
			   size_t n, const char *owner, bool create, uint64_t *ret_rv)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *up = NULL, *ins = NULL, *own = NULL;
	char *stext = NULL;
	int r;
	pthread_mutex_lock(&q->lock);
	uint64_t rv0 = q->rv, rv = q->rv;
	r = exec(q->db, "BEGIN IMMEDIATE");
	if (r)
		goto out;
	/* ?4: the gateway asking (NULL: admin); a row owned by another is left alone. */
	if (sqlite3_prepare_v2(q->db,
			       "UPDATE objects SET status=?3, rv=?5, owner=COALESCE(?6, owner) "
			       "WHERE kind=?1 AND name=?2 AND (?4 IS NULL OR owner IS NULL OR owner=?4) "
			       "RETURNING body",
			       -1, &up, NULL) ||
	    sqlite3_prepare_v2(q->db,
			       "INSERT INTO objects(kind,name,rv,crv,labels,owner,body,status) "
			       "VALUES(?1,?2,?3,?3,?7,?4,?5,?6) ON CONFLICT DO NOTHING",
			       -1, &ins, NULL) ||
	    sqlite3_prepare_v2(q->db, "SELECT 1 FROM objects WHERE kind=? AND name=?", -1, &own,
			       NULL)) {
		r = -EIO;
		goto rollback;
	}
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	for (size_t i = 0; i < n; i++) {
		struct ctl_status_item *it = &items[i];
		if (!ctl_obj_name_valid(it->name) || !json_is_object(it->status)) {
			it->result = -EINVAL;
			continue;
		}
		free(stext);
		stext = json_dumps(it->status, JSON_COMPACT);
		if (!stext) {
			r = -ENOMEM;
			goto rollback;
		}
		const char *sgw = ctl__obj_owner(it->status);
		sqlite3_reset(up);
		sqlite3_bind_int(up, 1, (int)kind);
		sqlite3_bind_text(up, 2, it->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 3, stext, -1, SQLITE_STATIC);
		if (owner)
			sqlite3_bind_text(up, 4, owner, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(up, 4);
		sqlite3_bind_int64(up, 5, (sqlite3_int64)(rv + 1));
		if (sgw)
			sqlite3_bind_text(up, 6, sgw, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(up, 6);
		int sr = sqlite3_step(up);
		if (sr == SQLITE_ROW) {
			rv++;
			win_push(q, rv, (int)kind, CTL_EV_MODIFIED, col_text(up, 0), stext);
			sqlite3_reset(up); /* a statement still stepping would block COMMIT */
			it->result = 0;
			continue;
		}
		if (sr != SQLITE_DONE) {
			r = -EIO;
			goto rollback;
		}
		/* Not updated: missing, or someone else's. */
		sqlite3_reset(own);
		sqlite3_bind_int(own, 1, (int)kind);
		sqlite3_bind_text(own, 2, it->name, -1, SQLITE_STATIC);
		sr = sqlite3_step(own);
		sqlite3_reset(own);
		if (sr == SQLITE_ROW) {
			it->result = -EPERM;
			continue;
		}
		if (!create) {
			it->result = -ENOENT;
			continue;
		}
		char *ltext = it->labels ? json_dumps(it->labels, JSON_COMPACT) : NULL;
		char *body = NULL;
		if (asprintf(&body,
			     "{\"apiVersion\":\"" CTL_API_VERSION "\",\"kind\":\"%s\",\"metadata\":"
			     "{\"name\":\"%s\",\"generation\":1,\"creationTimestamp\":\"%s\"%s%s},"
			     "\"spec\":{}}",
			     ctl_kind_name(kind), it->name, ts, ltext ? ",\"labels\":" : "",
			     ltext ? ltext : "") < 0) {
			free(ltext);
			r = -ENOMEM;
			goto rollback;
		}
		sqlite3_reset(ins);
		sqlite3_bind_int(ins, 1, (int)kind);
		sqlite3_bind_text(ins, 2, it->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)(rv + 1));
		if (sgw || owner)
			sqlite3_bind_text(ins, 4, sgw ? sgw : owner, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(ins, 4);
		sqlite3_bind_text(ins, 5, body, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 6, stext, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 7, ltext ? ltext : "{}", -1, SQLITE_STATIC);
		int ir = sqlite3_step(ins);
		sqlite3_reset(ins);
		if (ir != SQLITE_DONE) {
			free(ltext);
			free(body);
			r = -EIO;
			goto rollback;
		}
		rv++;
		win_push(q, rv, (int)kind, CTL_EV_ADDED, body, stext);
		free(ltext);
		free(body);
		it->result = 0;
	}
	sqlite3_reset(up);
	sqlite3_reset(ins);
	q->rv = rv;
	r = commit_or_rollback(q, 0);
	if (r)
		q->rv = rv0; /* the window holds versions that never were; watchers must relist */
	goto out;
rollback:
	exec(q->db, "ROLLBACK");
out:
	if (r && rv != rv0) {
		/* Events pushed for a rolled-back batch: drop them from the window. */
		pthread_mutex_lock(&q->wlock);
		q->oldest = rv + 1;
		pthread_mutex_unlock(&q->wlock);
		q->rv = rv; /* never reuse these versions */
	}
	*ret_rv = q->rv;
	pthread_mutex_unlock(&q->lock);
	sqlite3_finalize(up);
	sqlite3_finalize(ins);
	sqlite3_finalize(own);
	free(stext);
	if (rv != rv0 && r == 0)
		win_notify(q, rv);
	return r;
}

static int sq_watch_open(struct ctl_store *s, int kind, uint64_t from_rv, struct ctl_watch **ret)
{
	struct sq *q = SQ(s);
	pthread_mutex_lock(&q->lock);
	uint64_t cur = q->rv;
	pthread_mutex_unlock(&q->lock);
	pthread_mutex_lock(&q->wlock);
	uint64_t oldest = q->oldest;
	pthread_mutex_unlock(&q->wlock);
	if (from_rv == 0)
		from_rv = cur;
	else if (from_rv < cur && from_rv + 1 < oldest)
		return -ERANGE;
	struct sq_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->kind = kind;
	w->last = from_rv;
	*ret = (struct ctl_watch *)w;
	return 0;
}

static int sq_watch_next(struct ctl_watch *cw, int timeout_ms, struct ctl_event *ret)
{
	struct sq_watch *w = (struct sq_watch *)cw;
	struct sq *q = SQ(w->s);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->wlock);
	for (;;) {
		if (w->last + 1 < q->oldest) {
			pthread_mutex_unlock(&q->wlock);
			return -ERANGE;
		}
		/* newest in the window: the slot for rv is valid when its rv matches */
		for (;;) {
			struct win_ev *e = &q->win[(w->last + 1) % q->cap];
			if (e->rv != w->last + 1 || e->rv > q->visible)
				break;
			w->last++;
			if (w->kind >= 0 && e->kind != w->kind)
				continue;
			json_t *o = compose(e->body, e->rv, e->status);
			if (!o)
				continue;
			ret->type = e->type;
			ret->kind = (enum ctl_kind)e->kind;
			ret->rv = e->rv;
			ret->obj = o;
			pthread_mutex_unlock(&q->wlock);
			return 0;
		}
		if (pthread_cond_timedwait(&q->wcond, &q->wlock, &dl) == ETIMEDOUT) {
			pthread_mutex_unlock(&q->wlock);
			return -EAGAIN;
		}
	}
}

static void sq_watch_close(struct ctl_watch *w)
{
	free(w);
}

static int sq_leader_start(struct ctl_store *s, const char *id, int ttl_s)
{
	struct sq *q = SQ(s);
	if (q->lock_fd >= 0)
		return 0;
	char *lp;
	if (asprintf(&lp, "%s.lock", q->path) < 0)
		return -ENOMEM;
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lp);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	q->lock_fd = fd;
	ctl__store_set_leader(s, true, id);
	return 0;
}

static void sq_leader_stop(struct ctl_store *s)
{
	struct sq *q = SQ(s);
	if (q->lock_fd >= 0) {
		close(q->lock_fd);
		q->lock_fd = -1;
	}
	ctl__store_set_leader(s, false, "");
}

static void sq_free(struct ctl_store *s)
{
	struct sq *q = SQ(s);
	sqlite3_close(q->db);
	for (size_t i = 0; i < q->cap; i++) {
		free(q->win[i].body);
		free(q->win[i].status);
	}
	free(q->win);
	free(q->path);
	pthread_mutex_destroy(&q->lock);
	pthread_mutex_destroy(&q->wlock);
	pthread_cond_destroy(&q->wcond);
	free(q);
}

static const struct ctl_store_ops sq_ops = {
	.name = "sqlite",
	.free = sq_free,
	.revision = sq_revision,
	.get = sq_get,
	.create = sq_create,
	.update = sq_update,
	.del = sq_delete,
	.list = sq_list,
	.status_batch = sq_status_batch,
	.watch_open = sq_watch_open,
	.watch_next = sq_watch_next,
	.watch_close = sq_watch_close,
	.leader_start = sq_leader_start,
	.leader_stop = sq_leader_stop,
};

int ctl__sqlite_open(const char *path, struct ctl_store **ret)
{
	struct sq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->base.ops = &sq_ops;
	q->lock_fd = -1;
	q->path = strdup(path);
	const char *w = getenv("FLOTILLA_STORE_WINDOW");
	q->cap = w ? strtoul(w, NULL, 10) : CTL_STORE_WINDOW;
	if (q->cap < 16)
		q->cap = 16;
	q->win = calloc(q->cap, sizeof(*q->win));
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->wlock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&q->wcond, &ca);
	pthread_condattr_destroy(&ca);
	int r = -EIO;
	if (!q->path || !q->win) {
		r = -ENOMEM;
		goto fail;
	}
	if (sqlite3_open_v2(path, &q->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(q->db, 5000);
	if (exec(q->db, "PRAGMA journal_mode=WAL") || exec(q->db, "PRAGMA synchronous=NORMAL") ||
	    exec(q->db, "PRAGMA cache_size=-262144") ||
	    exec(q->db, "PRAGMA mmap_size=1073741824") ||
	    exec(q->db, "CREATE TABLE IF NOT EXISTS objects(kind INTEGER NOT NULL, name TEXT NOT "
			"NULL, rv INTEGER NOT NULL, crv INTEGER NOT NULL, labels TEXT NOT NULL, "
			"owner TEXT, body TEXT NOT NULL, status TEXT, PRIMARY KEY(kind, name)) "
			"WITHOUT ROWID") ||
	    exec(q->db, "CREATE INDEX IF NOT EXISTS objects_owner ON objects(kind, owner)") ||
	    /* label index for selectors, kept by triggers; status writes leave it alone */
	    exec(q->db, "CREATE TABLE IF NOT EXISTS obj_labels(kind INTEGER NOT NULL, k TEXT NOT NULL, "
			"v TEXT, name TEXT NOT NULL, PRIMARY KEY(kind, k, v, name)) WITHOUT ROWID") ||
	    exec(q->db, "CREATE INDEX IF NOT EXISTS obj_labels_name ON obj_labels(kind, name)") ||
	    exec(q->db, "CREATE TRIGGER IF NOT EXISTS objects_labels_ins AFTER INSERT ON objects "
			"BEGIN INSERT OR IGNORE INTO obj_labels SELECT NEW.kind, j.key, j.value, NEW.name "
			"FROM json_each(NEW.labels) j; END") ||
	    exec(q->db, "CREATE TRIGGER IF NOT EXISTS objects_labels_upd AFTER UPDATE OF labels ON "
			"objects WHEN OLD.labels IS NOT NEW.labels BEGIN DELETE FROM obj_labels WHERE "
			"kind=OLD.kind AND name=OLD.name; INSERT OR IGNORE INTO obj_labels SELECT "
			"NEW.kind, j.key, j.value, NEW.name FROM json_each(NEW.labels) j; END") ||
	    exec(q->db, "CREATE TRIGGER IF NOT EXISTS objects_labels_del AFTER DELETE ON objects "
			"BEGIN DELETE FROM obj_labels WHERE kind=OLD.kind AND name=OLD.name; END") ||
	    exec(q->db, "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER)") ||
	    exec(q->db, "INSERT OR IGNORE INTO meta VALUES('rv', 0)"))
		goto fail;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, "SELECT v FROM meta WHERE k='rv'", -1, &st, NULL))
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		q->rv = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	q->oldest = q->rv + 1;
	q->visible = q->rv;
	*ret = &q->base;
	return 0;
fail:
	sq_free(&q->base);
	return r;
}
