/* TAP runner of the runtime suite for Linux without cmocka: the aarch64
 * port runs it under qemu-user. Exit status: the number of failed cases. */
#include <stdio.h>

#include "suite.h"

static void out(const char *line)
{
	fputs(line, stdout);
	fflush(stdout);
}

int main(void)
{
	return t_run_tap(out);
}
