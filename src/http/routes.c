/* The exact route table. Anything else: 404; a known path with another method: 405. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "admin.h"
#include "app.h"
#include "http/http.h"
#include "log.h"
#include "metrics.h"
#include "webhook.h"

typedef void (*handler)(struct app *app, const struct http_request *req,
		struct http_response *res);

static void health(struct app *app, const struct http_request *req, struct http_response *res) {
	(void)app;
	(void)req;
	http_text(res, 200, "application/json", strdup("{\"status\":\"ok\"}"));
}

static void ready(struct app *app, const struct http_request *req, struct http_response *res) {
	(void)req;
	if (store_ping(app->store) == 0) {
		http_text(res, 200, "application/json", strdup("{\"status\":\"ready\"}"));
	} else {
		http_json_error(res, 503, "store_unavailable", "The store does not answer.");
	}
}

static void metrics(struct app *app, const struct http_request *req, struct http_response *res) {
	(void)req;
	int64_t users = -1, phones = -1, depth = -1;
	char *text = NULL;
	if (store_counts(app->store, &users, &phones) < 0 ||
			store_outbox_depth(app->store, &depth) < 0) {
		users = phones = depth = -1;
		metrics_inc(METRICS_STORE_ERRORS);
	}
	if (metrics_render(users, phones, depth, &text) < 0) {
		http_json_error(res, 500, "internal", "Out of memory.");
		return;
	}
	http_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

static const struct route {
	const char *pattern; /* '*' is one path segment */
	const char *method;
	handler fn;
	int metric;
	bool admin;
} routes[] = {
	{"/sms-router/webhook/sms", "POST", webhook_sms, METRICS_ROUTE_WEBHOOK_SMS, false},
	{"/sms-router/webhook/status", "POST", webhook_status, METRICS_ROUTE_WEBHOOK_STATUS, false},
	{"/health", "GET", health, METRICS_ROUTE_HEALTH, false},
	{"/ready", "GET", ready, METRICS_ROUTE_READY, false},
	{"/metrics", "GET", metrics, METRICS_ROUTE_METRICS, false},
	{"/sms-router/admin/users", "GET", admin_users_get, METRICS_ROUTE_ADMIN, true},
	{"/sms-router/admin/users", "POST", admin_users_post, METRICS_ROUTE_ADMIN, true},
	{"/sms-router/admin/users/*", "GET", admin_user_get, METRICS_ROUTE_ADMIN, true},
	{"/sms-router/admin/users/*", "DELETE", admin_user_delete, METRICS_ROUTE_ADMIN, true},
	{"/sms-router/admin/users/*/phones", "POST", admin_phones_post, METRICS_ROUTE_ADMIN, true},
	{"/sms-router/admin/users/*/phones/*", "DELETE", admin_phone_delete, METRICS_ROUTE_ADMIN,
		true},
	{"/sms-router/admin/users/*/messages", "GET", admin_messages_get, METRICS_ROUTE_ADMIN,
		true},
	{"/sms-router/admin/usage", "GET", admin_usage_get, METRICS_ROUTE_ADMIN, true},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* A Twilio webhook: Twilio reads its errors as TwiML, so they are not JSON. */
static bool twiml_route(const struct route *r) {
	return r->fn == webhook_sms || r->fn == webhook_status;
}

/* The webhook whose path target's path (before any '?') is exactly, or NULL. */
static const struct route *twiml_target(const char *target) {
	size_t n = strcspn(target, "?");
	for (size_t i = 0; i < NROUTES; i++) {
		/* The webhooks' patterns have no '*': exact paths. */
		if (twiml_route(&routes[i]) && strlen(routes[i].pattern) == n &&
				memcmp(routes[i].pattern, target, n) == 0) {
			return &routes[i];
		}
	}
	return NULL;
}

int http__error(const char *target, struct http_response *res, int status, const char *code,
		const char *message) {
	const struct route *webhook = twiml_target(target);
	if (webhook) {
		http_twiml_status(res, status);
		log_warn("webhook.rejected", LOG_STR("reason", code), LOG_STR("path", webhook->pattern));
		return webhook->metric;
	}
	http_json_error(res, status, code, message);
	return METRICS_ROUTE_OTHER;
}

/* Percent-decodes a path segment in place with libmicrohttpd ('+' stays '+'; a '%' that
 * two hex digits do not follow stays as it is). False if it holds an escaped NUL byte. */
static bool decode_segment(char *s) {
	return MHD_http_unescape(s) == strlen(s);
}

/* Matches path against pattern; on a match, copies the '*' segments into buf and points
 * params at them. */
static bool match(const char *pattern, const char *path, char *buf, size_t size,
		const char **params) {
	size_t used = 0;
	int np = 0;
	const char *p = pattern;
	const char *s = path;

	while (*p && *s) {
		if (*p == '*') {
			const char *end = strchr(s, '/');
			size_t n = end ? (size_t)(end - s) : strlen(s);
			if (n == 0 || used + n + 1 > size || np >= HTTP_MAX_PARAMS) {
				return false;
			}
			memcpy(buf + used, s, n);
			buf[used + n] = '\0';
			if (!decode_segment(buf + used)) {
				return false;
			}
			params[np++] = buf + used;
			used += n + 1;
			s += n;
			p++;
		} else if (*p == *s) {
			p++;
			s++;
		} else {
			return false;
		}
	}
	return *p == '\0' && *s == '\0';
}

void http_route(struct app *app, struct http_request *req, struct http_response *res,
		int *ret_route) {
	char buf[1024];
	const struct route *found = NULL;
	const struct route *known = NULL;

	res->allow[0] = '\0';
	for (size_t i = 0; i < NROUTES; i++) {
		const char *params[HTTP_MAX_PARAMS] = {0};
		if (!match(routes[i].pattern, req->path, buf, sizeof(buf), params)) {
			continue;
		}
		known = &routes[i];
		size_t n = strlen(res->allow);
		snprintf(res->allow + n, sizeof(res->allow) - n, "%s%s", n ? ", " : "",
				routes[i].method);
		if (!found && strcmp(routes[i].method, req->method) == 0) {
			found = &routes[i];
			memcpy(req->params, params, sizeof(params));
			/* params point into buf: keep it for the handler. */
			break;
		}
	}
	if (!known || (known->admin && !app->config->admin_token)) {
		/* The admin API does not exist without its token. */
		*ret_route = METRICS_ROUTE_OTHER;
		http_json_error(res, 404, "not_found", "There is nothing at this path.");
		res->allow[0] = '\0';
		return;
	}
	*ret_route = known->metric;
	if (known->admin && !admin_authorized(app, req)) {
		http_json_error(res, 401, "unauthorized",
				"A valid \"Authorization: Bearer <token>\" header is required.");
		res->www_authenticate = "Bearer";
		res->allow[0] = '\0';
		return;
	}
	if (!found) {
		/* No break above: Allow holds every method of this path. */
		http__error(req->path, res, 405, "method_not_allowed",
				"This path does not take that method.");
		return;
	}
	res->allow[0] = '\0';
	found->fn(app, req, res);
}
