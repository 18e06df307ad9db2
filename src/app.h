#pragma once
/* app: what the HTTP handlers (webhook, admin) work with, built once in main. */
#include "config.h"
#include "router.h"
#include "store/store.h"

struct app {
	const struct config *config;
	struct store *store;
	struct router *router;
	const char *auth_token; /* TWILIO_AUTH_TOKEN, or the --dev token */
};
