#pragma once
/* cli: the subcommands (serve, migrate, user, phone, import, simulate, usage). Each
 * returns the process exit code: 0 success, 1 a failed operation, 2 a usage error, with
 * one sentence on stderr. */
#include "config.h"

int cli_main(const struct config *c, int argc, char **argv);
