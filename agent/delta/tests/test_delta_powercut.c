/*
 * Power cuts during apply. An in-memory flash: the new slot, written a page
 * at a time, and a trailer with two progress-record slots written in turn.
 * Power is cut before flash operation N (page write or record write), for
 * every N, once cleanly and once tearing the operation half-way. After each
 * cut the device "reboots": it picks the newest intact record, resumes, and
 * the result must be byte-identical to the new image.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/delta.h"
#include "agent/crc.h"
#include "agent/err.h"

#include "delta_gen_internal.h"

#define SLOT 12288u
#define PAGE 256u

static uint32_t rng_state = 777;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

struct flash {
	uint8_t slot[SLOT];
	uint8_t trailer[2][4 + AG_DELTA_PROGRESS_LEN]; /* seq, record */
	uint32_t seq;
	unsigned ops, cut_at, pages, records;
	bool tear, dead;
};

static bool cut_here(struct flash *f)
{
	f->ops++;
	if (f->dead)
		return true;
	if (f->ops == f->cut_at) {
		f->dead = true;
		return true;
	}
	return false;
}

static int fl_write(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
	struct flash *f = ctx;
	assert_true(off % PAGE == 0);
	assert_true(off + len <= SLOT);
	bool was_dead = f->dead;
	if (cut_here(f)) {
		if (!was_dead && f->tear) {
			memcpy(f->slot + off, buf, len / 2);
			memset(f->slot + off + len / 2, 0x5a, len - len / 2);
		}
		return AG_EIO;
	}
	memcpy(f->slot + off, buf, len);
	f->pages++;
	return 0;
}

static void fl_progress(void *ctx, const uint8_t rec[AG_DELTA_PROGRESS_LEN])
{
	struct flash *f = ctx;
	uint8_t img[4 + AG_DELTA_PROGRESS_LEN];
	unsigned s = (f->seq + 1) & 1;
	ag_put_le32(img, f->seq + 1);
	memcpy(img + 4, rec, AG_DELTA_PROGRESS_LEN);
	bool was_dead = f->dead;
	if (cut_here(f)) {
		if (!was_dead && f->tear)
			memcpy(f->trailer[s], img, sizeof(img) / 2);
		return;
	}
	memcpy(f->trailer[s], img, sizeof(img));
	f->seq++;
	f->records++;
}

struct pair {
	uint8_t *old, *nw, *patch;
	size_t on, nn, plen;
};

/* Feeds patch[from..) in random chunks until done or the power dies. */
static int feed_rest(struct ag_delta *d, struct flash *f, const struct pair *p, size_t from)
{
	for (size_t off = from; off < p->plen && !f->dead;) {
		size_t k = 1 + rnd() % 700;
		if (k > p->plen - off)
			k = p->plen - off;
		int rc = ag_delta_feed(d, p->patch + off, k);
		if (rc)
			return rc;
		off += k;
	}
	if (f->dead)
		return AG_EIO;
	size_t n;
	return ag_delta_finish(d, &n);
}

/* One boot: resume from the newest intact record, or start over. */
static int boot_and_apply(struct flash *f, const struct pair *p, size_t *ret_resumed_at)
{
	struct ag_delta d;
	uint8_t page[PAGE];
	f->dead = false;
	assert_int_equal(ag_delta_init(&d, p->old, p->on, page, PAGE, SLOT, fl_write, fl_progress, f), 0);
	assert_int_equal(ag_delta_feed(&d, p->patch, AG_DELTA_HEADER_LEN), 0);
	uint32_t s0 = ag_get_le32(f->trailer[0]), s1 = ag_get_le32(f->trailer[1]);
	unsigned first = s1 > s0 ? 1 : 0;
	size_t from = AG_DELTA_HEADER_LEN;
	for (unsigned i = 0; i < 2; i++) {
		const uint8_t *t = f->trailer[first ^ i];
		if (ag_get_le32(t) == 0)
			continue;
		uint32_t off;
		int rc = ag_delta_resume(&d, t + 4, &off);
		if (rc == 0) {
			from = off;
			break;
		}
		assert_int_equal(rc, AG_ECRC); /* only a torn record is refused */
	}
	*ret_resumed_at = from;
	return feed_rest(&d, f, p, from);
}

static void make_pair(struct pair *p)
{
	p->on = 10000;
	p->old = malloc(p->on);
	p->nw = malloc(SLOT);
	for (size_t i = 0; i < p->on; i++)
		p->old[i] = (uint8_t)(i % 97 == 0 ? rnd() : (i * 7) >> 3);
	/* New: old with a hole, an insertion and changed bytes. */
	memcpy(p->nw, p->old, 3000);
	for (size_t i = 0; i < 900; i++)
		p->nw[3000 + i] = (uint8_t)rnd();
	memcpy(p->nw + 3900, p->old + 3500, 6500);
	for (size_t i = 0; i < 40; i++)
		p->nw[rnd() % 10400] ^= 0x11;
	p->nn = 10400;
	assert_int_equal(ag__delta_generate_ex(p->old, p->on, p->nw, p->nn, NULL, 12, &p->patch, &p->plen), 0);
}

static void test_cut_before_every_operation(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p);
	struct flash *f = calloc(1, sizeof(*f));
	size_t from;

	/* Without cuts: count the operations; records about once per page. */
	memset(f->slot, 0xff, SLOT);
	assert_int_equal(boot_and_apply(f, &p, &from), 0);
	assert_memory_equal(f->slot, p.nw, p.nn);
	unsigned total = f->ops;
	unsigned npages = (unsigned)((p.nn + PAGE - 1) / PAGE);
	assert_int_equal(f->pages, npages);
	assert_true(f->records <= npages + p.nn / 4096 + 2);

	unsigned cuts = 0, late_resumes = 0;
	for (unsigned tear = 0; tear < 2; tear++) {
		for (unsigned n = 1; n <= total; n++) {
			memset(f, 0, sizeof(*f));
			memset(f->slot, 0xff, SLOT);
			f->cut_at = n;
			f->tear = tear;
			int rc = boot_and_apply(f, &p, &from);
			cuts++;
			if (rc == 0) {
				/* Only the last record write can be cut with the image
				 * complete: apply does not depend on it. */
				assert_int_equal(n, total);
				assert_memory_equal(f->slot, p.nw, p.nn);
				continue;
			}
			/* Reboot, possibly cut again later, reboot until done. */
			unsigned again = n + 1 + rnd() % total;
			for (unsigned boot = 0; boot < 3; boot++) {
				f->ops = 0;
				f->cut_at = boot == 0 ? again - n : 0;
				rc = boot_and_apply(f, &p, &from);
				if (from > AG_DELTA_HEADER_LEN)
					late_resumes++;
				if (rc == 0)
					break;
				assert_int_equal(rc, AG_EIO);
			}
			assert_int_equal(rc, 0);
			assert_memory_equal(f->slot, p.nw, p.nn);
		}
	}
	assert_int_equal(cuts, 2 * total);
	print_message("delta apply: %u cut points (%u operations, clean and torn), %u late resumes\n",
		      cuts, total, late_resumes);
	assert_true(late_resumes > 0); /* some resumes started past the first block */
	free(f);
	free(p.old);
	free(p.nw);
	free(p.patch);
}

static void test_resume_refuses_foreign_record(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p);
	struct flash *f = calloc(1, sizeof(*f));
	struct ag_delta d;
	uint8_t page[PAGE], rec[AG_DELTA_PROGRESS_LEN];
	uint32_t off;
	assert_int_equal(ag_delta_init(&d, p.old, p.on, page, PAGE, SLOT, fl_write, NULL, f), 0);
	assert_int_equal(ag_delta_feed(&d, p.patch, AG_DELTA_HEADER_LEN), 0);
	ag_delta_progress(&d, rec);
	rec[0] ^= 1; /* another patch's identity, CRC redone */
	ag_put_le32(rec + 24, ag_crc32c(0, rec, 24));
	assert_int_equal(ag_delta_resume(&d, rec, &off), AG_EPATCHBASE);
	rec[3] ^= 1; /* torn */
	assert_int_equal(ag_delta_resume(&d, rec, &off), AG_ECRC);
	/* Too late: the stream is past the header. */
	ag_delta_progress(&d, rec);
	assert_int_equal(ag_delta_feed(&d, p.patch + AG_DELTA_HEADER_LEN, 10), 0);
	assert_int_equal(ag_delta_resume(&d, rec, &off), AG_ESTATE);
	free(f);
	free(p.old);
	free(p.nw);
	free(p.patch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_before_every_operation),
		cmocka_unit_test(test_resume_refuses_foreign_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
