#pragma once
/* webhook: Twilio's two webhooks. Checks at the edge (form, signature, AccountSid), hands
 * the message to the router, answers TwiML, errors included. Knows nothing of SQL. */
#include "config.h"
#include "http/http.h"
#include "router.h"

/* TwiML's Content-Type, exactly as CONTRACT.md writes it. The charset is the XML
 * declaration's (UTF-8), which is what text/xml without a charset means (RFC 7303). */
#define WEBHOOK_TWIML_TYPE "text/xml"

struct webhook { /* what the handlers work with (their ctx); borrowed, outlives the server */
	const struct config *config;
	struct router *router;
	const char *auth_token; /* TWILIO_AUTH_TOKEN, or the --dev token */
};

/* POST /sms-router/webhook/sms; ctx is a struct webhook. */
void webhook_sms(void *ctx, const struct http_request *req, struct http_response *res);
/* POST /sms-router/webhook/status; ctx is a struct webhook. */
void webhook_status(void *ctx, const struct http_request *req, struct http_response *res);
/* The webhooks' http_error_writer: an empty <Response/> with the status (Twilio reads
 * TwiML even on errors), logged as webhook.rejected with code as the reason. */
void webhook_error(const char *path, struct http_response *res, int status, const char *code,
		const char *message);
