/* Exact routing over the table the server was given. Anything else: 404; a known path with
 * another method: 405. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http/http.h"

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

/* The route that writes the errors of target's path (before any '?'), or NULL. Such
 * routes have exact patterns. */
static const struct http_route *error_route(const struct http_routes *t, const char *target) {
	size_t n = strcspn(target, "?");
	for (size_t i = 0; i < t->n; i++) {
		const struct http_route *r = &t->routes[i];
		if (r->error && strlen(r->pattern) == n && memcmp(r->pattern, target, n) == 0) {
			return r;
		}
	}
	return NULL;
}

const struct http_route *http__error(const struct http_routes *t, const char *target,
		struct http_response *res, int status, const char *code, const char *message) {
	const struct http_route *r = error_route(t, target);
	if (r) {
		r->error(r->pattern, res, status, code, message);
		return r;
	}
	http_json_error(res, status, code, message);
	return NULL;
}

const struct http_route *http__route(const struct http_routes *t, struct http_request *req,
		struct http_response *res) {
	char buf[1024];
	const struct http_route *found = NULL;
	const struct http_route *known = NULL;

	res->allow[0] = '\0';
	for (size_t i = 0; i < t->n; i++) {
		const char *params[HTTP_MAX_PARAMS] = {0};
		if (!match(t->routes[i].pattern, req->path, buf, sizeof(buf), params)) {
			continue;
		}
		known = &t->routes[i];
		size_t n = strlen(res->allow);
		snprintf(res->allow + n, sizeof(res->allow) - n, "%s%s", n ? ", " : "",
				t->routes[i].method);
		if (strcmp(t->routes[i].method, req->method) == 0) {
			found = &t->routes[i];
			memcpy(req->params, params, sizeof(params));
			/* params point into buf: keep it for the handler. */
			break;
		}
	}
	if (!known) {
		http_json_error(res, 404, "not_found", "There is nothing at this path.");
		res->allow[0] = '\0';
		return NULL;
	}
	if (known->authorized && !known->authorized(known->ctx, req)) {
		http_json_error(res, 401, "unauthorized",
				"A valid \"Authorization: Bearer <token>\" header is required.");
		res->www_authenticate = "Bearer";
		res->allow[0] = '\0';
		return known;
	}
	if (!found) {
		/* No break above: Allow holds every method of this path. */
		http__error(t, req->path, res, 405, "method_not_allowed",
				"This path does not take that method.");
		return known;
	}
	res->allow[0] = '\0';
	if (req->query && strstr(req->query, "%00")) {
		/* Decoded, an encoded NUL would end a value early (?phone=%2B15550100101%00junk
		 * would find +15550100101); a path segment with one matches no route (match). */
		http__error(t, req->path, res, 400, "bad_query",
				"A query value must not hold a NUL character (%00).");
		return found;
	}
	found->handler(found->ctx, req, res);
	return found;
}
