#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/err.h"

static void test_names_are_distinct(void **state)
{
	(void)state;
	/* Every code in the enum has its own name; unknown codes say so. */
	static const int codes[] = {
		AG_OK, AG_EINVAL, AG_ENOSPC, AG_EAGAIN, AG_ETIMEDOUT, AG_EIO,
		AG_ESTATE, AG_ENOENT, AG_ECANCELED, AG_ETRUNC, AG_ETOOBIG, AG_ECRC,
		AG_EGARBAGE, AG_ERESET, AG_EVERSION, AG_ETYPE, AG_EMALFORMED,
		AG_EHASH, AG_ESIG, AG_EHWID, AG_ESECCNT, AG_EIMAGE, AG_EPATCH,
		AG_EFLASH, AG_ENOIMAGE, AG_ESTACK, AG_EDEADLOCK,
		AG_EPATCHBASE, AG_EPATCHRANGE, AG_EPATCHOVER, AG_EPATCHCRC,
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(ag_strerror(codes[i]), "unknown");
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(ag_strerror(codes[i]), ag_strerror(codes[j]));
	}
	assert_string_equal(ag_strerror(-12345), "unknown");
}

static void test_le_round_trip(void **state)
{
	(void)state;
	uint8_t b[4];
	ag_put_le32(b, 0x11223344u);
	assert_int_equal(b[0], 0x44);
	assert_int_equal(b[3], 0x11);
	assert_int_equal(ag_get_le32(b), 0x11223344u);
	ag_put_le16(b, 0xbeef);
	assert_int_equal(ag_get_le16(b), 0xbeef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_are_distinct),
		cmocka_unit_test(test_le_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
