#pragma once
/* webhook: Twilio's two webhooks. Checks at the edge (form, signature, AccountSid), hands
 * the message to the router, answers TwiML. Knows nothing of SQL. */
#include "app.h"
#include "http/http.h"

/* POST /sms-router/webhook/sms */
void webhook_sms(struct app *app, const struct http_request *req, struct http_response *res);
/* POST /sms-router/webhook/status */
void webhook_status(struct app *app, const struct http_request *req, struct http_response *res);
