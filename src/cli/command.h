#pragma once
/* cli's own: the commands other than serve, one file per group (users.c: user and phone,
 * import.c, simulate.c, ops.c: outbox, usage, export and migrate, send.c: send, scheduled and cancel), and the helpers they share
 * (common.c). Only cli.c, the command line's dispatcher, includes this header. Each command
 * takes its arguments after the command word and returns the exit code. */
#include <jansson.h>

#include "config.h"
#include "serve.h"
#include "store/store.h"

#define CLI__EXIT_FAIL 1
#define CLI__EXIT_USAGE 2
#define CLI__DEV_TOKEN_PATH SERVE_DEV_TOKEN_PATH /* serve --dev writes it, simulate reads it */

/* printf's fmt and arguments, after "smsrouter: ", as one line on stderr (a control
 * character that an argument brought in shows as '?'). */
__attribute__((format(printf, 1, 2))) void cli__error_linef(const char *fmt, ...);

/* A usage error: msg on stderr, CLI__EXIT_USAGE. */
int cli__usage_error(const char *msg);

/* A failed operation: fmt with arg on stderr, CLI__EXIT_FAIL. */
int cli__fail(const char *fmt, const char *arg);

/* A phone argument that is not E.164: a usage error, as a bad name is. */
int cli__bad_phone(const char *phone);

/* The store's error r in words ("not found", …). */
const char *cli__errtext(int r);

/* Opens the store of c into *ret; 0, or CLI__EXIT_FAIL with the reason on stderr. */
int cli__open_store(const struct config *c, struct store **ret);

/* Prints j (taken over; NULL: out of memory) indented on stdout; 0 or CLI__EXIT_FAIL. */
int cli__print_json(json_t *j);

int cli__user(const struct config *c, int argc, char **argv);
int cli__phone(const struct config *c, int argc, char **argv);
int cli__import(const struct config *c, int argc, char **argv);
int cli__simulate(const struct config *c, int argc, char **argv);
int cli__outbox(const struct config *c, int argc, char **argv);
int cli__usage(const struct config *c, int argc, char **argv);
int cli__export(const struct config *c, int argc, char **argv);
int cli__migrate(const struct config *c, int argc);
int cli__send(const struct config *c, int argc, char **argv);
int cli__scheduled(const struct config *c, int argc, char **argv);
int cli__cancel(const struct config *c, int argc, char **argv);
