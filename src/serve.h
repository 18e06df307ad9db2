#pragma once
/* serve: the server process. Builds it from the settings (the store, the events' delivery
 * with SMSROUTER_EVENTS_URL, the agent, the router with its batching writer, the outbox in
 * rest mode, the route table, the HTTP server),
 * serves until SIGTERM or SIGINT, then stops it in order. The composition root: it knows
 * every module it builds, and none of them knows it. */
#include <stddef.h>

#include "config.h"
#include "store/store.h"

/* Where serve --dev keeps its development token (simulate signs with it). */
#define SERVE_DEV_TOKEN_PATH "var/dev-auth-token"
/* Where serve --dev keeps the admin token it makes when SMSROUTER_ADMIN_TOKEN is unset (the
 * console's sign-in, the admin API's bearer token). */
#define SERVE_DEV_ADMIN_TOKEN_PATH "var/dev-admin-token"

/* Opens the store of c, saying why on stderr when it cannot: 0 or non-zero. */
typedef int (*serve_open_store_fn)(const struct config *c, struct store **ret_store);

/* Serves until a stop signal. 0 after a clean stop; -EINVAL when the settings do not
 * allow serving (a usage error), -EIO when it could not start: reterr_message (size
 * bytes) then holds one sentence saying why, or is empty when open_store has said it. */
int serve(const struct config *c, serve_open_store_fn open_store, char *reterr_message,
		size_t size);
