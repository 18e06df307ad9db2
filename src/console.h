#pragma once
/* console: the operator console's page and its assets, served from the binary itself
 * (console_assets) under /sms-router/console/, each answer with the console's security
 * headers. The assets hold no data and need no token: the page reads everything from the
 * admin API with the bearer token the operator signs in with. serve adds these routes
 * only while the admin API is on. */
#include "http/http.h"

/* GET /sms-router/console/ (the page) and /sms-router/console/{name} (an asset; 404 for
 * any other name). ctx is unused. */
void console_get(void *ctx, const struct http_request *req, struct http_response *res);
/* GET /sms-router/console: 308 to /sms-router/console/, where the page's relative links
 * resolve. */
void console_redirect(void *ctx, const struct http_request *req, struct http_response *res);
