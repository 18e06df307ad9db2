#pragma once
/* app: what the HTTP handlers (webhook, admin) work with, built once in main. */
#include "config.h"
#include "router.h"
#include "store/store.h"
#include "writer.h"

struct app {
	const struct config *config;
	struct store *store;
	struct router *router;
	struct writer *writer; /* NULL: each HTTP thread stores its own webhooks */
	const char *auth_token; /* TWILIO_AUTH_TOKEN, or the --dev token */
};
