/*
 * flotilla: the command-line client of Flotilla.
 *
 *   flotilla [--version] [--help] COMMAND [SUBCOMMAND] [OPTIONS] [ARGS]
 *
 * Commands are tables of struct ctl_cli_cmd (cli.h); a new command group
 * (get, apply, rollout, ...) is one more entry here.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef FLOTILLA_VERSION
#define FLOTILLA_VERSION "0.0.0"
#endif

static struct ctl_cli_cmd commands[] = {
	{
		.name = "image",
		.summary = "build, sign, verify and inspect firmware images; make and apply delta patches",
		.usage = " COMMAND [OPTIONS]",
		.sub = ctl_cli_image_cmds,
	},
	/* filled in from ctl_cli_api_cmds by main() */
	{0}, {0}, {0}, {0}, {0}, {0},
	{0},
};

static const struct ctl_cli_cmd top = {
	.name = "flotilla",
	.usage = " [--version] [--help] COMMAND [OPTIONS]\n"
		 "\n"
		 "Fleet management for microcontroller fleets.\n"
		 "\n"
		 "Exit status: 0 ok; 1 refused (verification failed, bad image or patch);\n"
		 "2 usage error; 3 file could not be read or written; 4 internal error;\n"
		 "5 not found; 6 conflict; 7 invalid; 8 controller unreachable; 9 denied.",
	.sub = commands,
};

int main(int argc, char **argv)
{
	size_t ncmd = 1;
	for (const struct ctl_cli_cmd *c = ctl_cli_api_cmds; c->name; c++)
		commands[ncmd++] = *c;
	struct ctl_cli_call call = {.cmd = &top, .path = "flotilla"};
	if (argc < 2) {
		ctl_cli_help(&call, stderr);
		return CTL_EXIT_USAGE;
	}
	const char *a = argv[1];
	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		ctl_cli_help(&call, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
		printf("flotilla %s\n", FLOTILLA_VERSION);
		return CTL_EXIT_OK;
	}
	if (strcmp(a, "help") == 0) {
		/* "flotilla help image sign" == "flotilla image sign --help" */
		if (argc == 2) {
			ctl_cli_help(&call, stdout);
			return CTL_EXIT_OK;
		}
		char *args[8];
		int n = 0;
		for (int i = 2; i < argc && n < 6; i++)
			args[n++] = argv[i];
		args[n++] = (char *)"--help";
		args[n] = NULL;
		return ctl_cli_dispatch(commands, "flotilla", n, args);
	}
	if (a[0] == '-')
		return ctl_cli_usage_error(&call, "unknown option '%s'", a);
	return ctl_cli_dispatch(commands, "flotilla", argc - 1, argv + 1);
}
