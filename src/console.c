#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "console_assets.h"

#define CONSOLE_PATH "/sms-router/console/"
/* Nothing inline, nothing evaluated, nothing from another origin; no framing, no
 * plugin, no <base>, forms only to this origin. */
#define CONSOLE_CSP \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; " \
	"form-action 'self'"
#define SECURITY_HEADERS \
	"Content-Security-Policy", CONSOLE_CSP, "Referrer-Policy", "no-referrer", \
	"X-Frame-Options", "DENY", "Cross-Origin-Opener-Policy", "same-origin", \
	"Cross-Origin-Resource-Policy", "same-origin"

static const char *const security_headers[] = {SECURITY_HEADERS, NULL};
static const char *const redirect_headers[] = {SECURITY_HEADERS, "Location", CONSOLE_PATH,
	NULL};

static const struct console_asset *asset(const char *name) {
	for (size_t i = 0; i < console_assets_count; i++) {
		if (strcmp(console_assets[i].name, name) == 0) {
			return &console_assets[i];
		}
	}
	return NULL;
}

void console_get(void *ctx, const struct http_request *req, struct http_response *res) {
	(void)ctx;
	const char *name = req->params[0] ? req->params[0] : "index.html";
	const struct console_asset *a = asset(name);
	if (!a) {
		http_json_error(res, 404, "not_found", "There is nothing at this path.");
		res->headers = security_headers;
		return;
	}
	/* A copy, because a response owns its body; the largest (Chart.js) is 200 KB. */
	char *body = malloc(a->size + 1);
	if (!body) {
		http_json_error(res, 500, "internal", "Out of memory.");
		res->headers = security_headers;
		return;
	}
	memcpy(body, a->data, a->size + 1);
	http_text(res, 200, a->content_type, body);
	res->body_len = a->size;
	res->headers = security_headers;
}

void console_redirect(void *ctx, const struct http_request *req, struct http_response *res) {
	(void)ctx;
	(void)req;
	http_empty(res, 308);
	res->headers = redirect_headers;
}
