/* Host runner of the runtime suite: each case is a cmocka test. The
 * interrupt source is in linux_plat.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suite.h"

static void run_case(void **state)
{
	const struct t_case *c = *state;
	t_reset();
	t_rt_init();
	c->fn();
	if (t_faults)
		print_error("unexpected fault: %s in '%s'\n", "stack", t_last_fault.name);
	if (t_fail_expr)
		print_error("%s:%d: check failed: %s\n", t_fail_file, t_fail_line, t_fail_expr);
	assert_null(t_fail_expr);
	assert_int_equal(t_faults, 0);
}

int main(void)
{
	struct CMUnitTest *tests = calloc(t_ncases, sizeof(*tests));
	if (tests == NULL)
		return 1;
	for (unsigned i = 0; i < t_ncases; i++) {
		tests[i].name = t_cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)(uintptr_t)&t_cases[i];
	}
	int rc = _cmocka_run_group_tests("rt", tests, t_ncases, NULL, NULL);
	free(tests);
	return rc;
}
