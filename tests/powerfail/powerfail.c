/* The power-cut suite: whole OTA flows on the sim board's flash, with the
 * power cut before flash operation N, or a write torn half-way, or an erase
 * left half done, for every N of the flow. After each cut the device
 * reboots (in-process: the flash survives, RAM state is rebuilt) and runs
 * on as its firmware would, with no further cut. Checked at every boot:
 *  - the loader boots, and what it boots is byte for byte one of the signed
 *    images installed, never anything else;
 *  - the confirmed image is intact and still confirmed until the new one
 *    is confirmed;
 *  - the flow ends where it must (new image confirmed; or the trial image
 *    bad and the old one running) within a bounded number of boots, the
 *    transfer resuming from the trailer rather than restarting.
 * Prints the number of cut points and failures; exits 1 on any failure.
 *
 *   powerfail [-v] [SCENARIO]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot_fixture.h"
#include "hal/flash.h"
#include "sim/board.h"

#define SLOT_SIZE (128u * 1024u)
#define PAYLOAD (96u * 1024u)
#define MAX_BOOTS 40

enum flow { FLOW_DELTA_CONFIRM, FLOW_FULL_REVERT, FLOW_DELTA_REVERT_WDT, FLOW_ROLLBACK };

struct scenario {
	const char *name;
	enum flow flow;
};

static const struct scenario scenarios[] = {
	{"delta-trial-confirm", FLOW_DELTA_CONFIRM},
	{"full-trial-revert", FLOW_FULL_REVERT},
	{"delta-trial-watchdog-revert", FLOW_DELTA_REVERT_WDT},
	{"activate-rollback-confirm", FLOW_ROLLBACK},
};

static struct bfx_image a1, b2, b_same;
static uint8_t *patch;
static size_t patch_len;
static struct boot_ota ota;
static jmp_buf cut_jmp;
static int verbose;

/* What one run saw; static so longjmp leaves it alone. */
static struct {
	const struct scenario *sc;
	int boots;
	int cut_fired;   /* cuts that happened in this run */
	uint32_t second_at; /* a second cut this many ops into the recovery (0: none) */
	int second_mode;
	int failed;
	int resumed;     /* a transfer continued at an offset > 0 */
	uint32_t seen_seq[2]; /* newest trailer record seen whole in each slot */
	char why[200];
} run;

__attribute__((format(printf, 1, 2))) static void pf_fail(const char *fmt, ...)
{
	if (run.failed)
		return;
	run.failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(run.why, sizeof(run.why), fmt, ap);
	va_end(ap);
}

static void on_cut(void *arg)
{
	(void)arg;
	run.cut_fired++;
	if (run.cut_fired == 1 && run.second_at)
		sim_flash_cut(run.second_at, run.second_mode, on_cut, NULL); /* cut the recovery too */
	longjmp(cut_jmp, 1);
}

static uint8_t state_of(uint8_t slot)
{
	struct boot_trailer t;
	if (boot_read_trailer(slot, &t) != 0)
		return 0xff;
	return t.state;
}

static const struct bfx_image *b_image(void)
{
	return run.sc->flow == FLOW_ROLLBACK ? &b_same : &b2;
}

/* The device as it comes from the factory (plus, for rollback, a second
 * confirmed release), with no cut armed. */
static uint8_t *factory_flash;
static const struct scenario *factory_of;

static void factory(void)
{
	uint32_t size;
	uint8_t *f = bfx_flash(&size);
	if (factory_of == run.sc) { /* the same start as the last run: restore it */
		memcpy(f, factory_flash, size);
		sim_flash_cut(0, SIM_CUT_BEFORE, NULL, NULL);
		return;
	}
	memset(f, 0xff, size);
	sim_flash_cut(0, SIM_CUT_BEFORE, NULL, NULL);
	bfx_flash_raw(0, a1.img, a1.len);
	bfx_reboot_init();
	struct boot_decision d;
	if (boot_select(BOOT_RESET_NORMAL, &d) != 0 || d.slot != 0)
		pf_fail("factory boot");
	if (run.sc->flow == FLOW_ROLLBACK) {
		uint32_t off;
		struct ag_msg_ota_offer of = bfx_offer(5, 1, AG_OTA_FULL, (uint32_t)b_same.len,
						       (uint32_t)b_same.len);
		if (boot_ota_init(&ota, 0) || bfx_transfer(&ota, &of, b_same.img, 512, &off) ||
		    boot_select(BOOT_RESET_NORMAL, &d) || d.slot != 1 || boot_confirm(1))
			pf_fail("rollback setup");
	}
	if (!factory_flash)
		factory_flash = malloc(size);
	memcpy(factory_flash, f, size);
	factory_of = run.sc;
}

/* Trailer records once whole are never lost: a later state is only ever
 * appended. Sampled at every boot and after every chunk of a transfer. */
static void observe(int check)
{
	for (uint8_t s = 0; s < 2; s++) {
		struct boot_trailer t;
		if (boot_read_trailer(s, &t) != 0) {
			pf_fail("boot %d: trailer of %c unreadable", run.boots, 'A' + s);
			continue;
		}
		if (check && t.seq < run.seen_seq[s])
			pf_fail("boot %d: slot %c went back from record %u to %u", run.boots, 'A' + s,
				run.seen_seq[s], t.seq);
		if (t.seq > run.seen_seq[s])
			run.seen_seq[s] = t.seq;
	}
}

/* One transfer as the agent would drive it: offer, continue at the offset
 * storage gives, finish. A cut longjmps out of it. */
static int transfer(void)
{
	struct ag_msg_ota_offer of;
	const uint8_t *data;
	if (run.sc->flow == FLOW_FULL_REVERT) {
		of = bfx_offer(100, 1, AG_OTA_FULL, (uint32_t)b2.len, (uint32_t)b2.len);
		data = b2.img;
	} else {
		of = bfx_offer(200, 1, AG_OTA_DELTA, (uint32_t)patch_len, (uint32_t)b2.len);
		data = patch;
	}
	uint32_t at = 0;
	if (boot_ota_init(&ota, 0) != 0)
		return -1;
	int rc = boot_ota_begin(&ota, &of, &at);
	if (rc)
		return rc;
	if (at > 0)
		run.resumed = 1;
	while (at < of.size) {
		uint32_t n = of.size - at < 200 ? of.size - at : 200;
		rc = boot_ota_write(&ota, at, data + at, n);
		if (rc)
			return rc;
		at += n;
		if (at % 1600u == 0) /* every 8th chunk: reading trailers is not free */
			observe(0);
	}
	return boot_ota_finish(&ota, of.size);
}

/* After every boot decision: only known signed images run, and the old
 * confirmed image survives until the new one is confirmed. */
static void check_boot(const struct boot_decision *d)
{
	const struct bfx_image *want = d->slot == 0 ? &a1 : b_image();
	if (memcmp(bfx_slot(d->slot), want->img, want->len) != 0)
		pf_fail("boot %d: slot %c runs bytes that are not its signed image", run.boots,
		     'A' + d->slot);
	uint8_t old = run.sc->flow == FLOW_ROLLBACK ? 1 : 0;
	const struct bfx_image *old_img = old == 0 ? &a1 : &b_same;
	uint8_t other = (uint8_t)(1 - old);
	if (state_of(other) != BOOT_STATE_CONFIRMED || run.sc->flow == FLOW_ROLLBACK) {
		if (run.sc->flow != FLOW_ROLLBACK || state_of(other) != BOOT_STATE_CONFIRMED) {
			if (memcmp(bfx_slot(old), old_img->img, old_img->len) != 0)
				pf_fail("boot %d: the confirmed image in %c was damaged", run.boots,
				     'A' + old);
			if (state_of(old) != BOOT_STATE_CONFIRMED)
				pf_fail("boot %d: slot %c lost its confirmed state (%d)", run.boots,
				     'A' + old, state_of(old));
		}
	}
}

/* Runs the device from its current flash until the flow is over. Returns
 * when done or failed. */
static void device(void)
{
	static int watchdog;
	watchdog = 0;
	if (setjmp(cut_jmp)) {
		/* power is back: a cold start */
		watchdog = 0;
	}
	while (!run.failed) {
		struct boot_decision d;
		if (++run.boots > MAX_BOOTS) {
			pf_fail("no end after %d boots", MAX_BOOTS);
			return;
		}
		bfx_reboot_init();
		int rc = boot_select(watchdog ? BOOT_RESET_WATCHDOG : BOOT_RESET_NORMAL, &d);
		watchdog = 0;
		if (rc) {
			pf_fail("boot %d: nothing boots (%d)", run.boots, rc);
			return;
		}
		observe(1);
		check_boot(&d);
		if (run.failed)
			return;
		uint8_t sa = state_of(0), sb = state_of(1);
		switch (run.sc->flow) {
		case FLOW_DELTA_CONFIRM:
			if (d.slot == 1 && d.state == BOOT_STATE_CONFIRMED)
				return; /* done */
			if (d.slot == 1) {
				if (boot_confirm(1) != 0)
					pf_fail("confirm refused");
				continue;
			}
			if (sb == BOOT_STATE_BAD) {
				pf_fail("the new image was reverted");
				return;
			}
			if (transfer() != 0)
				pf_fail("transfer failed after resume");
			continue;
		case FLOW_FULL_REVERT:
		case FLOW_DELTA_REVERT_WDT:
			if (d.slot == 0 && sb == BOOT_STATE_BAD)
				return; /* reverted: done */
			if (d.slot == 1) {
				if (d.state != BOOT_STATE_TESTING)
					pf_fail("the unconfirmed image became %d", d.state);
				/* the new firmware hangs: a watchdog reset, or just resets */
				watchdog = run.sc->flow == FLOW_DELTA_REVERT_WDT;
				continue;
			}
			if (transfer() != 0)
				pf_fail("transfer failed after resume");
			continue;
		case FLOW_ROLLBACK:
			if (d.slot == 0 && d.state == BOOT_STATE_CONFIRMED)
				return; /* rolled back and confirmed: done */
			if (d.slot == 0) {
				if (boot_confirm(0) != 0)
					pf_fail("confirm of the rollback refused");
				continue;
			}
			if (sa != BOOT_STATE_PENDING && boot_activate(0, false) != 0)
				pf_fail("activate refused");
			continue;
		}
	}
}

static void final_check(void)
{
	uint8_t sa = state_of(0), sb = state_of(1);
	switch (run.sc->flow) {
	case FLOW_DELTA_CONFIRM:
		if (sb != BOOT_STATE_CONFIRMED || memcmp(bfx_slot(1), b2.img, b2.len))
			pf_fail("end: B is not the new image confirmed");
		break;
	case FLOW_FULL_REVERT:
	case FLOW_DELTA_REVERT_WDT:
		if (sa != BOOT_STATE_CONFIRMED || sb != BOOT_STATE_BAD)
			pf_fail("end: not reverted (A %d, B %d)", sa, sb);
		break;
	case FLOW_ROLLBACK:
		if (sa != BOOT_STATE_CONFIRMED || sb != BOOT_STATE_CONFIRMED)
			pf_fail("end: rollback states A %d B %d", sa, sb);
		break;
	}
}

/* One run of a scenario with a cut at op @p n (0: none) in @p mode, and
 * optionally a second one @p second ops after the reboot.
 * Returns the flash operations the run made. */
static uint32_t one_run(const struct scenario *sc, uint32_t n, int mode, uint32_t second)
{
	memset(&run, 0, sizeof(run));
	run.sc = sc;
	run.second_at = second;
	run.second_mode = SIM_CUT_TEAR;
	factory();
	uint32_t ops0 = sim_flash_ops();
	sim_flash_cut(n, mode, n ? on_cut : NULL, NULL);
	device();
	sim_flash_cut(0, SIM_CUT_BEFORE, NULL, NULL);
	if (!run.failed)
		final_check();
	return sim_flash_ops() - ops0;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else
			only = argv[i];
	}
	bfx_setup(SLOT_SIZE);
	bfx_sign(&a1, 0, 1, 5, PAYLOAD, BFX_HW, 0);
	bfx_sign(&b2, 1, 2, 6, PAYLOAD, BFX_HW, 0);
	bfx_sign(&b_same, 1, 2, 5, PAYLOAD, BFX_HW, 0);
	bfx_delta(&a1, &b2, &patch, &patch_len);

	unsigned long cuts = 0, failures = 0;
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		if (only && strcmp(only, sc->name) != 0)
			continue;
		uint32_t total = one_run(sc, 0, SIM_CUT_BEFORE, 0);
		if (run.failed) {
			printf("powerfail: %s: FAILS WITHOUT A CUT: %s\n", sc->name, run.why);
			failures++;
			continue;
		}
		unsigned long sc_cuts = 0, sc_fail = 0, sc_resumed = 0;
		/* Every op cut before and torn; then, for the install flows, every
		 * op torn again with the recovery torn too (1st and 3rd op after it). */
		static const uint32_t seconds[] = {0, 1, 3};
		unsigned nsec = sc->flow == FLOW_DELTA_CONFIRM || sc->flow == FLOW_FULL_REVERT ? 3 : 1;
		for (unsigned k = 0; k < nsec; k++) {
			for (uint32_t n = 1; n <= total; n++) {
				for (int mode = SIM_CUT_BEFORE; mode <= SIM_CUT_TEAR; mode++) {
					if (k && mode == SIM_CUT_BEFORE)
						continue;
					one_run(sc, n, mode, seconds[k]);
					if (!run.cut_fired)
						continue;
					sc_cuts += (unsigned long)run.cut_fired;
					sc_resumed += run.resumed ? 1u : 0u;
					if (run.failed) {
						sc_fail++;
						printf("powerfail: %s: cut %s op %u (then op %u of the "
						       "recovery): %s\n",
						       sc->name, mode == SIM_CUT_TEAR ? "tearing" : "before",
						       n, seconds[k], run.why);
					} else if (verbose) {
						printf("powerfail: %s: cut %s op %u (+%u): ok in %d boots\n",
						       sc->name,
						       mode == SIM_CUT_TEAR ? "tearing" : "before", n,
						       seconds[k], run.boots);
					}
				}
			}
		}
		printf("powerfail: %s: %u flash ops, %lu cut points, %lu resumed transfers, %lu failures\n",
		       sc->name, total, sc_cuts, sc_resumed, sc_fail);
		cuts += sc_cuts;
		failures += sc_fail;
	}
	printf("powerfail_cut_points %lu\n", cuts);
	printf("powerfail_failures %lu\n", failures);
	bfx_free(&a1);
	bfx_free(&b2);
	bfx_free(&b_same);
	free(patch);
	free(factory_flash);
	bfx_teardown();
	return failures || cuts == 0 ? 1 : 0;
}
