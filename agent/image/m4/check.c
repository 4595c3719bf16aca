/*
 * ag_image on the real target: QEMU mps2-an386 (Cortex-M4, Thumb-2), the
 * device mbedTLS config, the static crypto heap. Verifies the build-time
 * test image that QEMU loads at AG_M4_IMAGE_ADDR, checks each refusal, and
 * prints the smallest crypto heap that works and the stack the check uses.
 * Exits 0 (via semihosting) only if every check passed.
 */
#include <stdint.h>
#include <string.h>

#include "agent/image.h"
#include "m4.h"

extern const struct ag_image_pubkey ag_image_test_key;
extern uint32_t ag__image_heap_limit;

#define PAINT 0xa5a5a5a5u

static int failures;

static void expect(const char *what, int got, int want)
{
	if (got == want)
		return;
	failures++;
	ag_m4_puts("FAIL ");
	ag_m4_puts(what);
	ag_m4_put_kv(" got", (uint32_t)-got);
}

static struct ag_image_policy policy(void)
{
	struct ag_image_policy pol = {
		.key = &ag_image_test_key,
		.hw_id = "flotilla-test",
		.min_security_counter = 7,
		.max_size = AG_M4_SLOT_SIZE,
		.check_load_addr = 1,
		.load_addr = AG_M4_IMAGE_ADDR,
	};
	return pol;
}

static __attribute__((noinline)) void paint(uintptr_t top)
{
	for (volatile uint32_t *p = (uint32_t *)ag_m4_stack_floor(); (uintptr_t)p < top; p++)
		*p = PAINT;
}

static uintptr_t lowest_touched(void)
{
	const uint32_t *p = (const uint32_t *)ag_m4_stack_floor();
	while (*p == PAINT)
		p++;
	return (uintptr_t)p;
}

static struct ag_image_verifier verifier;

int main(void)
{
	uint8_t *img = (uint8_t *)AG_M4_IMAGE_ADDR;
	struct ag_image_policy pol = policy();
	struct ag_image_info info;

	/* Memory-mapped verification, with the stack it needs measured. */
	uintptr_t sp0 = ag_m4_sp();
	paint(sp0 - 256);
	int rc = ag_image_verify_mem(img, AG_M4_SLOT_SIZE, &pol, &info);
	uint32_t stack = (uint32_t)(sp0 - lowest_touched());
	expect("verify_mem", rc, AG_OK);
	if (rc != AG_OK)
		return 1;
	uint32_t total = info.total_size;

	/* Streaming, in chunks that straddle every stage boundary. */
	rc = ag_image_verify_init(&verifier, &pol);
	for (uint32_t off = 0; rc == AG_OK && off < total; off += 61)
		rc = ag_image_verify_update(&verifier, img + off, total - off < 61 ? total - off : 61);
	if (rc == AG_OK)
		rc = ag_image_verify_finish(&verifier, NULL);
	expect("verify_stream", rc, AG_OK);

	/* Each refusal, with its own code. */
	uint32_t payload = info.hdr.hdr_size + 7;
	img[payload] ^= 1;
	expect("tampered payload", ag_image_verify_mem(img, total, &pol, NULL), AG_EHASH);
	img[payload] ^= 1;
	img[total - 1] ^= 1;
	expect("tampered signature", ag_image_verify_mem(img, total, &pol, NULL), AG_ESIG);
	img[total - 1] ^= 1;
	expect("truncated", ag_image_verify_mem(img, total - 1, &pol, NULL), AG_ETRUNC);
	pol.max_size = total - 1;
	expect("oversized", ag_image_verify_mem(img, total, &pol, NULL), AG_ETOOBIG);
	pol = policy();
	pol.hw_id = "flotilla-other";
	expect("hw id", ag_image_verify_mem(img, total, &pol, NULL), AG_EHWID);
	pol = policy();
	pol.min_security_counter = 8;
	expect("security counter", ag_image_verify_mem(img, total, &pol, NULL), AG_ESECCNT);
	pol = policy();
	pol.load_addr = AG_M4_IMAGE_ADDR + AG_M4_SLOT_SIZE;
	expect("slot", ag_image_verify_mem(img, total, &pol, NULL), AG_ESLOT);
	struct ag_image_pubkey other = ag_image_test_key;
	other.point[64] ^= 1;
	pol = policy();
	pol.key = &other;
	expect("wrong key", ag_image_verify_mem(img, total, &pol, NULL), AG_EKEY);

	/* The smallest crypto heap that verifies (deterministic allocations). */
	pol = policy();
	uint32_t size = ag__image_heap_limit, lo = 64, hi = size;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		ag__image_heap_limit = mid;
		rc = ag_image_verify_mem(img, total, &pol, NULL);
		if (rc != AG_OK && rc != AG_ENOSPC)
			expect("heap search", rc, AG_OK);
		if (rc == AG_OK)
			hi = mid;
		else
			lo = mid + 1;
	}
	ag__image_heap_limit = size;
	/* An eighth of the configured heap stays spare. */
	expect("heap margin", lo <= size - size / 8 ? AG_OK : AG_ENOSPC, AG_OK);

	ag_m4_put_kv("image_bytes", total);
	ag_m4_put_kv("crypto_heap_needed", lo);
	ag_m4_put_kv("crypto_heap_size", size);
	ag_m4_put_kv("verify_stack", stack);
	ag_m4_put_kv("verifier_struct", (uint32_t)sizeof(struct ag_image_verifier));
	ag_m4_puts(failures ? "ag_image m4 check: FAILED\n" : "ag_image m4 check: ok\n");
	return failures ? 1 : 0;
}
