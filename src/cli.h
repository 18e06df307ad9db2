#pragma once
/* cli: the subcommands (serve, migrate, user, phone, import, simulate, usage). Each
 * returns the process exit code: 0 success, 1 a failed operation, 2 a usage error, with
 * one sentence on stderr. */
#include "config.h"

int cli_main(const struct config *c, int argc, char **argv);

/* True when arg is an option of command that takes the next argument as its value
 * (simulate --from/--body/--url/--to, usage --since, outbox list --state): that value is
 * the command's, never a configuration flag (config_own_option_fn). */
bool cli_own_option(const char *command, const char *arg);
