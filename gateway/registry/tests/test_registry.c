/* Registry: create, update, flush, reopen; many devices; a broken database. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/registry.h"

static char dir[64];
static char db[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_gw_registry_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/reg.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct gw_registry *r;
	assert_int_equal(gw_registry_open(db, &r), 0);
	assert_int_equal(gw_registry_count(r), 0);
	int created;
	struct gw_device *d = gw_registry_upsert(r, "dev-1", &created);
	assert_non_null(d);
	assert_int_equal(created, 1);
	assert_true(gw_registry_has_new(r));
	snprintf(d->hw_id, sizeof(d->hw_id), "board-x");
	d->slot[1].version = (struct ag_version){1, 2, 3, 45};
	d->slot[1].state = AG_SLOT_CONFIRMED;
	d->active_slot = 1;
	d->heartbeats = 7;
	d->crash_count = 2;
	d->last_seen_ms = 1234567;
	d->state = GW_DEVICE_ONLINE;
	assert_ptr_equal(gw_registry_upsert(r, "dev-1", &created), d);
	assert_int_equal(created, 0);
	assert_int_equal(gw_registry_flush(r), 1);
	assert_false(gw_registry_has_new(r));
	assert_int_equal(gw_registry_flush(r), 0);
	d->heartbeats = 8;
	gw_registry_touch(r, d);
	gw_registry_touch(r, d);
	assert_int_equal(gw_registry_flush(r), 1);
	for (int i = 0; i < 5000; i++) {
		char id[16];
		snprintf(id, sizeof(id), "many-%d", i);
		assert_non_null(gw_registry_upsert(r, id, &created));
	}
	assert_int_equal(gw_registry_count(r), 5001);
	/* in slices: oldest first, the rest stays dirty */
	assert_int_equal(gw_registry_dirty(r), 5000);
	assert_int_equal(gw_registry_flush_max(r, 3000), 3000);
	assert_int_equal(gw_registry_dirty(r), 2000);
	assert_true(gw_registry_has_new(r));
	assert_int_equal(gw_registry_flush_max(r, 1500), 1500);
	for (int i = 4500; i < 4505; i++) {
		char id[16];
		snprintf(id, sizeof(id), "many-%d", i);
		gw_registry_touch(r, gw_registry_get(r, id)); /* already dirty: no effect */
	}
	assert_int_equal(gw_registry_dirty(r), 500);
	/* close flushes what is dirty */
	gw_registry_close(r);

	assert_int_equal(gw_registry_open(db, &r), 0);
	assert_int_equal(gw_registry_count(r), 5001);
	d = gw_registry_get(r, "dev-1");
	assert_non_null(d);
	assert_string_equal(d->hw_id, "board-x");
	assert_int_equal(d->slot[1].version.patch, 3);
	assert_int_equal(d->slot[1].version.build, 45);
	assert_int_equal(d->slot[1].state, AG_SLOT_CONFIRMED);
	assert_int_equal(d->active_slot, 1);
	assert_int_equal(d->heartbeats, 8);
	assert_int_equal(d->last_seen_ms, 1234567);
	assert_int_equal(d->state, GW_DEVICE_OFFLINE);
	assert_string_equal(d->ota_state, "idle");
	assert_non_null(gw_registry_get(r, "many-4999"));
	assert_null(gw_registry_get(r, "many-5000"));
	assert_ptr_equal(gw_registry_at(r, 0), d);
	char v[GW_VERSION_STR_MAX];
	gw_version_str(&d->slot[1].version, v);
	assert_string_equal(v, "1.2.3+45");
	gw_registry_close(r);
}

static void test_bad_database(void **state)
{
	(void)state;
	struct gw_registry *r = NULL;
	char bad[160];
	snprintf(bad, sizeof(bad), "%s/garbage.db", dir);
	FILE *f = fopen(bad, "w");
	for (int i = 0; i < 100; i++)
		fputs("this is not a database file at all\n", f);
	fclose(f);
	assert_int_equal(gw_registry_open(bad, &r), -EIO);
	assert_int_equal(gw_registry_open("/nonexistent/dir/x.db", &r), -EIO);
	gw_registry_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_database),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
