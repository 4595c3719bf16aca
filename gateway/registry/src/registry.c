/* The device registry: a hash index over records in creation order, written
 * behind to SQLite. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/log.h"
#include "gateway/registry.h"

#define DIRTY 1u
#define DIRTY_NEW 2u

struct gw_registry {
	sqlite3 *db;
	sqlite3_stmt *put;
	struct gw_device **dev;
	size_t n, cap;
	uint32_t *hash; /* index + 1; 0 empty */
	size_t hcap;    /* power of two */
	struct gw_device **dirty;
	size_t n_dirty, dirty_cap;
	size_t n_new;
	uint64_t flushes, errors;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS devices("
	" id TEXT PRIMARY KEY NOT NULL, hw_id TEXT NOT NULL,"
	" first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
	" transport INTEGER NOT NULL, active_slot INTEGER NOT NULL, caps INTEGER NOT NULL,"
	" slot0_version TEXT NOT NULL, slot0_build INTEGER NOT NULL, slot0_state INTEGER NOT NULL,"
	" slot1_version TEXT NOT NULL, slot1_build INTEGER NOT NULL, slot1_state INTEGER NOT NULL,"
	" boot_count INTEGER NOT NULL, crash_count INTEGER NOT NULL, error_count INTEGER NOT NULL,"
	" uptime_s INTEGER NOT NULL, reset_reason INTEGER NOT NULL,"
	" heartbeats INTEGER NOT NULL, hellos INTEGER NOT NULL, telemetry INTEGER NOT NULL,"
	" sessions INTEGER NOT NULL,"
	" ota_state TEXT NOT NULL, ota_xfer INTEGER NOT NULL, ota_offset INTEGER NOT NULL,"
	" ota_target TEXT NOT NULL);"
	"PRAGMA user_version=1;";

static const char put_sql[] =
	"INSERT OR REPLACE INTO devices VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char load_sql[] = "SELECT * FROM devices ORDER BY rowid";

void gw_version_str(const struct ag_version *v, char out[GW_VERSION_STR_MAX])
{
	snprintf(out, GW_VERSION_STR_MAX, "%u.%u.%u+%lu", v->major, v->minor, v->patch,
		 (unsigned long)v->build);
}

static void version_parse(const char *s, uint32_t build, struct ag_version *v)
{
	unsigned a = 0, b = 0, c = 0;
	if (s)
		(void)sscanf(s, "%u.%u.%u", &a, &b, &c);
	v->major = (uint8_t)a;
	v->minor = (uint8_t)b;
	v->patch = (uint16_t)c;
	v->build = build;
}

const char *gw_slot_state_name(uint8_t state)
{
	static const char *const n[] = {"empty", "pending", "testing", "confirmed", "bad"};
	return state < 5 ? n[state] : "unknown";
}

const char *gw_device_state_name(uint8_t state)
{
	return state == GW_DEVICE_ONLINE ? "online" : "offline";
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static size_t find_slot(const struct gw_registry *r, const char *id)
{
	size_t m = r->hcap - 1;
	for (size_t i = hash_str(id) & m;; i = (i + 1) & m) {
		uint32_t v = r->hash[i];
		if (v == 0 || strcmp(r->dev[v - 1]->id, id) == 0)
			return i;
	}
}

static int rehash(struct gw_registry *r, size_t hcap)
{
	uint32_t *h = calloc(hcap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	free(r->hash);
	r->hash = h;
	r->hcap = hcap;
	for (size_t i = 0; i < r->n; i++)
		r->hash[find_slot(r, r->dev[i]->id)] = (uint32_t)i + 1;
	return 0;
}

static struct gw_device *add(struct gw_registry *r, const char *id)
{
	if (r->n >= GW_REGISTRY_MAX)
		return NULL;
	if ((r->n + 1) * 2 > r->hcap && rehash(r, r->hcap * 2) != 0)
		return NULL;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct gw_device **p = realloc(r->dev, cap * sizeof(*p));
		if (!p)
			return NULL;
		r->dev = p;
		r->cap = cap;
	}
	struct gw_device *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->id, sizeof(d->id), "%s", id);
	snprintf(d->ota_state, sizeof(d->ota_state), "idle");
	d->index = (uint32_t)r->n;
	r->dev[r->n++] = d;
	r->hash[find_slot(r, id)] = (uint32_t)r->n;
	return d;
}

struct gw_device *gw_registry_get(struct gw_registry *r, const char *id)
{
	uint32_t v = r->hash[find_slot(r, id)];
	return v ? r->dev[v - 1] : NULL;
}

void gw_registry_touch(struct gw_registry *r, struct gw_device *d)
{
	if (d->dirty)
		return;
	if (r->n_dirty == r->dirty_cap) {
		size_t cap = r->dirty_cap ? r->dirty_cap * 2 : 1024;
		struct gw_device **p = realloc(r->dirty, cap * sizeof(*p));
		if (!p)
			return; /* stays clean in the database until touched again */
		r->dirty = p;
		r->dirty_cap = cap;
	}
	r->dirty[r->n_dirty++] = d;
	d->dirty = DIRTY;
}

struct gw_device *gw_registry_upsert(struct gw_registry *r, const char *id, int *ret_created)
{
	struct gw_device *d = gw_registry_get(r, id);
	*ret_created = 0;
	if (d)
		return d;
	d = add(r, id);
	if (!d)
		return NULL;
	*ret_created = 1;
	gw_registry_touch(r, d);
	d->dirty |= DIRTY_NEW;
	r->n_new++;
	return d;
}

int gw_registry_has_new(const struct gw_registry *r)
{
	return r->n_new > 0;
}

size_t gw_registry_count(const struct gw_registry *r)
{
	return r->n;
}

struct gw_device *gw_registry_at(struct gw_registry *r, size_t i)
{
	return i < r->n ? r->dev[i] : NULL;
}

void gw_registry_stats(const struct gw_registry *r, uint64_t *ret_flushes, uint64_t *ret_errors)
{
	*ret_flushes = r->flushes;
	*ret_errors = r->errors;
}

static int bind_device(sqlite3_stmt *s, const struct gw_device *d)
{
	char v0[GW_VERSION_STR_MAX], v1[GW_VERSION_STR_MAX];
	snprintf(v0, sizeof(v0), "%u.%u.%u", d->slot[0].version.major, d->slot[0].version.minor,
		 d->slot[0].version.patch);
	snprintf(v1, sizeof(v1), "%u.%u.%u", d->slot[1].version.major, d->slot[1].version.minor,
		 d->slot[1].version.patch);
	int i = 1, rc = 0;
	rc |= sqlite3_bind_text(s, i++, d->id, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(s, i++, d->hw_id, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(s, i++, d->first_seen_ms);
	rc |= sqlite3_bind_int64(s, i++, d->last_seen_ms);
	rc |= sqlite3_bind_int(s, i++, d->transport);
	rc |= sqlite3_bind_int(s, i++, d->active_slot);
	rc |= sqlite3_bind_int64(s, i++, d->caps);
	rc |= sqlite3_bind_text(s, i++, v0, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(s, i++, d->slot[0].version.build);
	rc |= sqlite3_bind_int(s, i++, d->slot[0].state);
	rc |= sqlite3_bind_text(s, i++, v1, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(s, i++, d->slot[1].version.build);
	rc |= sqlite3_bind_int(s, i++, d->slot[1].state);
	rc |= sqlite3_bind_int64(s, i++, d->boot_count);
	rc |= sqlite3_bind_int64(s, i++, d->crash_count);
	rc |= sqlite3_bind_int64(s, i++, d->error_count);
	rc |= sqlite3_bind_int64(s, i++, d->uptime_s);
	rc |= sqlite3_bind_int(s, i++, d->reset_reason);
	rc |= sqlite3_bind_int64(s, i++, (sqlite3_int64)d->heartbeats);
	rc |= sqlite3_bind_int64(s, i++, (sqlite3_int64)d->hellos);
	rc |= sqlite3_bind_int64(s, i++, (sqlite3_int64)d->telemetry);
	rc |= sqlite3_bind_int64(s, i++, (sqlite3_int64)d->sessions);
	rc |= sqlite3_bind_text(s, i++, d->ota_state, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(s, i++, d->ota_xfer);
	rc |= sqlite3_bind_int64(s, i++, d->ota_offset);
	rc |= sqlite3_bind_text(s, i++, d->ota_target, -1, SQLITE_TRANSIENT);
	return rc;
}

static void db_error(struct gw_registry *r, const char *what)
{
	r->errors++;
	char q[GW_LOG_QMAX];
	gw_error("registry database error", "op=%s err=%s", what,
		 gw_log_quote(q, sizeof(q), sqlite3_errmsg(r->db)));
}

int gw_registry_flush_max(struct gw_registry *r, size_t max)
{
	size_t n = r->n_dirty < max ? r->n_dirty : max;
	if (n == 0)
		return 0;
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(r, "begin");
		return -EIO;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(r->put);
		if (bind_device(r->put, r->dirty[i]) != SQLITE_OK ||
		    sqlite3_step(r->put) != SQLITE_DONE) {
			db_error(r, "write");
			sqlite3_reset(r->put);
			(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
			return -EIO;
		}
	}
	sqlite3_reset(r->put);
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(r, "commit");
		(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	size_t was_new = 0;
	for (size_t i = 0; i < n; i++) {
		was_new += (r->dirty[i]->dirty & DIRTY_NEW) != 0;
		r->dirty[i]->dirty = 0;
	}
	memmove(r->dirty, r->dirty + n, (r->n_dirty - n) * sizeof(*r->dirty));
	r->n_dirty -= n;
	r->n_new = r->n_new > was_new ? r->n_new - was_new : 0;
	r->flushes++;
	return (int)n;
}

int gw_registry_flush(struct gw_registry *r)
{
	return gw_registry_flush_max(r, (size_t)-1);
}

size_t gw_registry_dirty(const struct gw_registry *r)
{
	return r->n_dirty;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? (const char *)t : "";
}

static int load(struct gw_registry *r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(r->db, load_sql, -1, &s, NULL) != SQLITE_OK) {
		db_error(r, "load");
		return -EIO;
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = col_text(s, 0);
		if (!id[0] || strlen(id) > AG_ID_MAX || gw_registry_get(r, id))
			continue;
		struct gw_device *d = add(r, id);
		if (!d) {
			sqlite3_finalize(s);
			return -ENOMEM;
		}
		int i = 1;
		snprintf(d->hw_id, sizeof(d->hw_id), "%s", col_text(s, i++));
		d->first_seen_ms = sqlite3_column_int64(s, i++);
		d->last_seen_ms = sqlite3_column_int64(s, i++);
		d->transport = (uint8_t)sqlite3_column_int(s, i++);
		d->active_slot = (uint8_t)(sqlite3_column_int(s, i++) & 1);
		d->caps = (uint32_t)sqlite3_column_int64(s, i++);
		for (int k = 0; k < 2; k++) {
			const char *v = col_text(s, i++);
			uint32_t b = (uint32_t)sqlite3_column_int64(s, i++);
			version_parse(v, b, &d->slot[k].version);
			d->slot[k].state = (uint8_t)sqlite3_column_int(s, i++);
		}
		d->boot_count = (uint32_t)sqlite3_column_int64(s, i++);
		d->crash_count = (uint32_t)sqlite3_column_int64(s, i++);
		d->error_count = (uint32_t)sqlite3_column_int64(s, i++);
		d->uptime_s = (uint32_t)sqlite3_column_int64(s, i++);
		d->reset_reason = (uint8_t)sqlite3_column_int(s, i++);
		d->heartbeats = (uint64_t)sqlite3_column_int64(s, i++);
		d->hellos = (uint64_t)sqlite3_column_int64(s, i++);
		d->telemetry = (uint64_t)sqlite3_column_int64(s, i++);
		d->sessions = (uint64_t)sqlite3_column_int64(s, i++);
		snprintf(d->ota_state, sizeof(d->ota_state), "%s", col_text(s, i++));
		d->ota_xfer = (uint32_t)sqlite3_column_int64(s, i++);
		d->ota_offset = (uint32_t)sqlite3_column_int64(s, i++);
		snprintf(d->ota_target, sizeof(d->ota_target), "%s", col_text(s, i++));
		d->state = GW_DEVICE_OFFLINE;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		db_error(r, "load");
		return -EIO;
	}
	return 0;
}

int gw_registry_open(const char *path, struct gw_registry **ret_r)
{
	struct gw_registry *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->hcap = 2048;
	r->hash = calloc(r->hcap, sizeof(*r->hash));
	if (!r->hash) {
		free(r);
		return -ENOMEM;
	}
	char q[GW_LOG_QMAX];
	if (sqlite3_open_v2(path, &r->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		gw_error("cannot open the registry", "path=%s err=%s",
			 gw_log_quote(q, sizeof(q), path),
			 r->db ? sqlite3_errmsg(r->db) : "out of memory");
		gw_registry_close(r);
		return -EIO;
	}
	(void)sqlite3_busy_timeout(r->db, 2000);
	int rc = -EIO;
	if (sqlite3_exec(r->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		db_error(r, "schema");
		goto fail;
	}
	if (sqlite3_prepare_v2(r->db, put_sql, -1, &r->put, NULL) != SQLITE_OK) {
		db_error(r, "prepare");
		goto fail;
	}
	rc = load(r);
	if (rc)
		goto fail;
	*ret_r = r;
	return 0;
fail:
	gw_registry_close(r);
	return rc;
}

void gw_registry_close(struct gw_registry *r)
{
	if (!r)
		return;
	if (r->put)
		(void)gw_registry_flush(r);
	sqlite3_finalize(r->put);
	sqlite3_close(r->db);
	for (size_t i = 0; i < r->n; i++)
		free(r->dev[i]);
	free(r->dev);
	free(r->hash);
	free(r->dirty);
	free(r);
}
