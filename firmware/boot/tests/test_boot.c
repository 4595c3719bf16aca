/* firmware/boot: selection, trial boot, confirm, revert, activate, the
 * trailer log, OTA storage with resume, and every refusal with its own
 * code and nothing written outside the target slot. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/crc.h"
#include "boot_fixture.h"
#include "delta_gen_internal.h"
#include "hal/flash.h"

#define SLOT_SIZE (128u * 1024u)
#define PAYLOAD (40u * 1024u)

static struct boot_ota ota;
static struct bfx_image a1, b2;

static int setup(void **state)
{
	(void)state;
	bfx_setup(SLOT_SIZE);
	bfx_sign(&a1, 0, 1, 5, PAYLOAD, BFX_HW, 0);
	bfx_sign(&b2, 1, 2, 6, PAYLOAD, BFX_HW, 0);
	bfx_flash_raw(0, a1.img, a1.len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bfx_free(&a1);
	bfx_free(&b2);
	bfx_teardown();
	return 0;
}

static void boot_expect(int reset, uint8_t slot, uint8_t st)
{
	struct boot_decision d;
	bfx_reboot_init();
	assert_int_equal(boot_select(reset, &d), 0);
	assert_int_equal(d.slot, slot);
	assert_int_equal(d.state, st);
}

static uint8_t state_of(uint8_t slot)
{
	struct boot_trailer t;
	assert_int_equal(boot_read_trailer(slot, &t), 0);
	return t.state;
}

static void install_b_full(void)
{
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	struct ag_msg_ota_offer of = bfx_offer(7, 1, AG_OTA_FULL, (uint32_t)b2.len, (uint32_t)b2.len);
	assert_int_equal(bfx_transfer(&ota, &of, b2.img, 200, NULL), 0);
	assert_int_equal(state_of(1), BOOT_STATE_PENDING);
}

static void test_factory_then_confirmed(void **state)
{
	(void)state;
	struct boot_decision d;
	assert_int_equal(state_of(0), BOOT_STATE_EMPTY);
	assert_int_equal(boot_select(BOOT_RESET_NORMAL, &d), 0);
	assert_int_equal(d.slot, 0);
	assert_int_equal(d.payload_off, 512);
	assert_int_equal(d.version.minor, 1);
	assert_int_equal(state_of(0), BOOT_STATE_CONFIRMED);
	assert_int_equal(boot_security_floor(), 5);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	boot_expect(BOOT_RESET_WATCHDOG, 0, BOOT_STATE_CONFIRMED);
}

static void test_no_image(void **state)
{
	(void)state;
	struct boot_decision d;
	uint8_t junk[600];
	memcpy(junk, a1.img, sizeof(junk));
	bfx_flash_raw(0, junk, sizeof(junk)); /* a torn factory image */
	assert_int_equal(boot_select(BOOT_RESET_NORMAL, &d), AG_ENOIMAGE);
}

static void test_install_trial_confirm(void **state)
{
	(void)state;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	install_b_full();
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
	assert_int_equal(boot_confirm(0), 0); /* confirmed already: nothing */
	assert_int_equal(boot_confirm(1), 0);
	assert_int_equal(state_of(1), BOOT_STATE_CONFIRMED);
	assert_int_equal(boot_security_floor(), 6);
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_CONFIRMED);
	boot_expect(BOOT_RESET_WATCHDOG, 1, BOOT_STATE_CONFIRMED);
	/* A is still confirmed (lower priority) but now below the floor. */
	assert_int_equal(boot_activate(0, true), AG_ESECCNT);
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_CONFIRMED);
}

static void test_trial_reverts_after_n_boots(void **state)
{
	(void)state;
	struct boot_decision d;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	install_b_full();
	for (unsigned i = 0; i < BOOT_MAX_ATTEMPTS; i++)
		boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
	bfx_reboot_init();
	assert_int_equal(boot_select(BOOT_RESET_NORMAL, &d), 0);
	assert_int_equal(d.slot, 0);
	assert_int_equal(d.reverted, 1);
	assert_int_equal(state_of(1), BOOT_STATE_BAD);
	assert_int_equal(boot_confirm(1), AG_ESTATE);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	assert_int_equal(boot_security_floor(), 5);
}

static void test_trial_reverts_on_watchdog(void **state)
{
	(void)state;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	install_b_full();
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
	boot_expect(BOOT_RESET_WATCHDOG, 0, BOOT_STATE_CONFIRMED);
	assert_int_equal(state_of(1), BOOT_STATE_BAD);
}

static void test_rollback_on_command(void **state)
{
	(void)state;
	struct bfx_image b_same;
	bfx_sign(&b_same, 1, 2, 5, PAYLOAD, BFX_HW, 0); /* same counter: A stays allowed */
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	struct ag_msg_ota_offer of =
		bfx_offer(9, 1, AG_OTA_FULL, (uint32_t)b_same.len, (uint32_t)b_same.len);
	assert_int_equal(bfx_transfer(&ota, &of, b_same.img, 333, NULL), 0);
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
	assert_int_equal(boot_confirm(1), 0);
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_CONFIRMED);
	/* trial rollback: A pending, tested, not confirmed: back to B */
	assert_int_equal(boot_activate(0, false), 0);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_TESTING);
	boot_expect(BOOT_RESET_WATCHDOG, 1, BOOT_STATE_CONFIRMED);
	/* permanent rollback */
	assert_int_equal(boot_activate(0, true), 0);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	/* and forward again */
	assert_int_equal(boot_activate(1, true), 0);
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_CONFIRMED);
	bfx_free(&b_same);
}

static void test_trailer_log_wraps(void **state)
{
	(void)state;
	struct boot_trailer t, r;
	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < 200; i++) {
		t.state = (uint8_t)(i % 5);
		t.prio = i;
		t.floor = i * 3;
		t.flags = (i & 1) ? BOOT_F_OTA : 0;
		t.ota.xfer = i;
		t.ota.progress[3] = (uint8_t)i;
		assert_int_equal(boot_write_trailer(1, &t), 0);
		assert_int_equal(boot_read_trailer(1, &r), 0);
		assert_int_equal(r.seq, i + 1);
		assert_int_equal(r.state, t.state);
		assert_int_equal(r.prio, i);
		assert_int_equal(r.floor, i * 3);
		assert_int_equal(r.flags, t.flags);
		if (i & 1) {
			assert_int_equal(r.ota.xfer, i);
			assert_int_equal(r.ota.progress[3], (uint8_t)i);
		}
	}
	/* The image area is never touched by the log. */
	const uint8_t *s = bfx_slot(1);
	for (uint32_t i = 0; i < boot_image_area(1); i++)
		assert_int_equal(s[i], 0xff);
}

static void test_corrupt_pending_marked_bad(void **state)
{
	(void)state;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	install_b_full();
	/* flip a bit of B's payload under the loader's feet (a bit can be cleared) */
	uint32_t size;
	uint8_t *f = bfx_flash(&size);
	f[bfx_slot_addr(1) + 1000] ^= 0x01;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	assert_int_equal(state_of(1), BOOT_STATE_BAD);
}

static void test_delta_resume(void **state)
{
	(void)state;
	uint8_t *patch;
	size_t plen;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	bfx_delta(&a1, &b2, &patch, &plen);
	struct ag_msg_ota_offer of = bfx_offer(11, 1, AG_OTA_DELTA, (uint32_t)plen, (uint32_t)b2.len);
	uint32_t off = 0;
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	assert_int_equal(boot_ota_begin(&ota, &of, &off), 0);
	assert_int_equal(off, 0);
	/* Most of the patch, then the device "loses" its RAM. */
	uint32_t upto = (uint32_t)plen * 3 / 4;
	for (; off < upto; off += 100) {
		size_t n = upto - off < 100 ? upto - off : 100;
		assert_int_equal(boot_ota_write(&ota, off, patch + off, n), 0);
	}
	bfx_reboot_init();
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	uint32_t resumed = 0;
	assert_int_equal(bfx_transfer(&ota, &of, patch, 100, &resumed), 0);
	assert_true(resumed > 0);
	assert_true(resumed <= upto);
	assert_memory_equal(bfx_slot(1), b2.img, b2.len);
	assert_int_equal(state_of(1), BOOT_STATE_PENDING);
	/* Another offer of another transfer starts afresh. */
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
	assert_int_equal(boot_confirm(1), 0);
	free(patch);
}

static void test_full_resume(void **state)
{
	(void)state;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	struct ag_msg_ota_offer of = bfx_offer(12, 1, AG_OTA_FULL, (uint32_t)b2.len, (uint32_t)b2.len);
	uint32_t off = 0;
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	assert_int_equal(boot_ota_begin(&ota, &of, &off), 0);
	for (; off < 20000; off += 1000)
		assert_int_equal(boot_ota_write(&ota, off, b2.img + off, 1000), 0);
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	uint32_t resumed = 0;
	assert_int_equal(bfx_transfer(&ota, &of, b2.img, 256, &resumed), 0);
	assert_int_equal(resumed, 16384);
	/* abort leaves the slot empty and a later offer starts at 0 */
	of.xfer = 13;
	assert_int_equal(boot_ota_begin(&ota, &of, &off), 0);
	assert_int_equal(boot_ota_write(&ota, 0, b2.img, 5000), 0);
	boot_ota_abort(&ota, AG_ECANCELED);
	assert_int_equal(state_of(1), BOOT_STATE_EMPTY);
	assert_int_equal(boot_ota_begin(&ota, &of, &off), 0);
	assert_int_equal(off, 0);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
}

/* ---- refusals: distinct codes, nothing outside the target slot ---- */

static uint8_t *snapshot(void)
{
	uint32_t size;
	uint8_t *f = bfx_flash(&size);
	uint8_t *s = malloc(size);
	memcpy(s, f, size);
	return s;
}

static void expect_outside_b_unchanged(const uint8_t *snap)
{
	uint32_t size;
	uint8_t *f = bfx_flash(&size);
	uint32_t b = bfx_slot_addr(1);
	assert_memory_equal(f, snap, b);
	assert_memory_equal(f + b + SLOT_SIZE, snap + b + SLOT_SIZE, size - b - SLOT_SIZE);
}

static int refuse_full(const uint8_t *img, size_t len, uint32_t declared)
{
	uint8_t *snap = snapshot();
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	struct ag_msg_ota_offer of = bfx_offer(21, 1, AG_OTA_FULL, declared, declared);
	int rc = bfx_transfer(&ota, &of, img, 256, NULL);
	(void)len;
	expect_outside_b_unchanged(snap);
	free(snap);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	assert_int_not_equal(state_of(1), BOOT_STATE_PENDING);
	return rc;
}

static int refuse_delta(const uint8_t *patch, size_t plen, uint32_t image_size)
{
	uint8_t *snap = snapshot();
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	struct ag_msg_ota_offer of = bfx_offer(22, 1, AG_OTA_DELTA, (uint32_t)plen, image_size);
	int rc = bfx_transfer(&ota, &of, patch, 100, NULL);
	expect_outside_b_unchanged(snap);
	free(snap);
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);
	assert_int_not_equal(state_of(1), BOOT_STATE_PENDING);
	return rc;
}

static void test_refusals(void **state)
{
	(void)state;
	struct bfx_image im;
	boot_expect(BOOT_RESET_NORMAL, 0, BOOT_STATE_CONFIRMED);

	/* bad signature: one bit of s */
	uint8_t *bad = malloc(b2.len);
	memcpy(bad, b2.img, b2.len);
	bad[b2.len - 1] ^= 1;
	assert_int_equal(refuse_full(bad, b2.len, (uint32_t)b2.len), AG_ESIG);
	/* wrong hash (payload changed, signature intact) */
	memcpy(bad, b2.img, b2.len);
	bad[2000] ^= 1;
	assert_int_equal(refuse_full(bad, b2.len, (uint32_t)b2.len), AG_EHASH);
	free(bad);
	/* the wrong key */
	bfx_sign(&im, 1, 2, 6, PAYLOAD, BFX_HW, 1);
	assert_int_equal(refuse_full(im.img, im.len, (uint32_t)im.len), AG_EKEY);
	bfx_free(&im);
	/* the wrong hardware id */
	bfx_sign(&im, 1, 2, 6, PAYLOAD, "other-board", 0);
	assert_int_equal(refuse_full(im.img, im.len, (uint32_t)im.len), AG_EHWID);
	bfx_free(&im);
	/* a lower security counter than the confirmed image's 5 */
	bfx_sign(&im, 1, 2, 4, PAYLOAD, BFX_HW, 0);
	assert_int_equal(refuse_full(im.img, im.len, (uint32_t)im.len), AG_ESECCNT);
	bfx_free(&im);
	/* linked for slot A */
	bfx_sign(&im, 0, 2, 6, PAYLOAD, BFX_HW, 0);
	assert_int_equal(refuse_full(im.img, im.len, (uint32_t)im.len), AG_ESLOT);
	bfx_free(&im);
	/* truncated: the transfer ends 100 bytes early */
	assert_int_equal(refuse_full(b2.img, b2.len, (uint32_t)b2.len - 100), AG_ETRUNC);
	/* oversized: larger than the slot's image area */
	uint32_t area = boot_image_area(1);
	uint8_t *big = calloc(1, area + 8);
	memcpy(big, b2.img, b2.len);
	assert_int_equal(refuse_full(big, area + 8, area + 8), AG_ETOOBIG);
	/* oversized: an image whose header claims more than the slot holds */
	bfx_sign(&im, 1, 2, 6, area, BFX_HW, 0);
	assert_int_equal(refuse_full(im.img, area, area), AG_ETOOBIG);
	bfx_free(&im);
	free(big);

	/* patches */
	uint8_t *patch;
	size_t plen;
	size_t cap = a1.len + 64;
	uint8_t *old = calloc(1, cap), *nw = calloc(1, cap);
	memcpy(old, a1.img, a1.len);
	memcpy(nw, b2.img, b2.len);
	/* reads past the old image's end */
	struct ag__delta_seg outside[] = {{0, 0, 1000, 0}, {1000, (uint32_t)a1.len - 10, 20, 0},
					  {1020, 0, (uint32_t)b2.len - 1020, 0}};
	assert_int_equal(ag__delta_encode_segs(old, cap, a1.len, nw, b2.len, b2.len, outside, 3, 0, 12,
					       &patch, &plen),
			 0);
	assert_int_equal(refuse_delta(patch, plen, (uint32_t)b2.len), AG_EPATCHRANGE);
	free(patch);
	/* writes past its declared new size */
	struct ag__delta_seg over[] = {{0, 0, 4000, 100}, {4100, 4100, 900, 0}};
	assert_int_equal(ag__delta_encode_segs(old, cap, a1.len, nw, 5000, 4500, over, 2, 0, 12,
					       &patch, &plen),
			 0);
	assert_int_equal(refuse_delta(patch, plen, 4500), AG_EPATCHOVER);
	free(patch);
	/* declares a new image larger than the slot */
	uint8_t *huge = calloc(1, area + 4096);
	memcpy(huge, b2.img, b2.len);
	assert_int_equal(ag__delta_generate_ex(a1.img, a1.len, huge, area + 4096, NULL, 12, &patch,
					       &plen),
			 0);
	assert_int_equal(refuse_delta(patch, plen, area), AG_ENOSPC);
	free(patch);
	free(huge);
	/* made for another base image */
	struct bfx_image a_other;
	bfx_sign(&a_other, 0, 3, 5, PAYLOAD, BFX_HW, 0);
	bfx_delta(&a_other, &b2, &patch, &plen);
	assert_int_equal(refuse_delta(patch, plen, (uint32_t)b2.len), AG_EPATCHBASE);
	free(patch);
	bfx_free(&a_other);
	/* a patch building a badly signed image: the result is verified */
	memcpy(nw, b2.img, b2.len);
	nw[b2.len - 2] ^= 0x10;
	struct bfx_image nb = {nw, b2.len};
	bfx_delta(&a1, &nb, &patch, &plen);
	assert_int_equal(refuse_delta(patch, plen, (uint32_t)b2.len), AG_ESIG);
	free(patch);
	/* the running slot is never a target */
	struct ag_msg_ota_offer of = bfx_offer(30, 0, AG_OTA_FULL, (uint32_t)b2.len, (uint32_t)b2.len);
	uint32_t off;
	assert_int_equal(boot_ota_begin(&ota, &of, &off), AG_ESTATE);
	free(old);
	free(nw);
	/* after all that, a good one still goes in */
	install_b_full();
	boot_expect(BOOT_RESET_NORMAL, 1, BOOT_STATE_TESTING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_factory_then_confirmed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_trial_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trial_reverts_after_n_boots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trial_reverts_on_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_on_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailer_log_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_pending_marked_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
