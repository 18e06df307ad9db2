#pragma once
/* http: the server (libmicrohttpd, internal thread pool on epoll), request limits, the
 * exact route table, and JSON / TwiML responses. A request reaches a handler with its
 * whole body (at most HTTP_MAX_BODY bytes) and its raw request-target. Knows nothing of
 * Twilio or SQL. */
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PARAMS 3

struct app; /* what handlers work with: see app.h */
struct MHD_Connection;

struct http_request {
	const char *method;
	const char *target; /* raw request-target: path and query exactly as received */
	const char *path;   /* raw path: target up to '?' */
	const char *query;  /* raw query after '?', or NULL */
	const char *body;   /* NUL-terminated (the NUL is not counted in body_len) */
	size_t body_len;
	const char *params[HTTP_MAX_PARAMS]; /* the route's {…} segments, percent-decoded */
	struct MHD_Connection *conn;
	struct http_deferred *deferred; /* see http_deferred_complete */
};

struct http_response {
	int status;
	const char *content_type; /* static string */
	char *body;               /* malloc'd, owned by the response; NULL: empty */
	size_t body_len;
	char allow[64];           /* for 405: "GET, DELETE" */
	const char *www_authenticate; /* for 401 */
	bool later; /* set by a handler whose answer comes via http_deferred_complete */
};

/* A handler that cannot answer yet sets res->later and returns; the connection is then
 * suspended (holding no thread) until someone calls this, once, from any thread, with
 * the answer (its body is taken over). d is req->deferred. It may also be called before
 * the handler returns. */
void http_deferred_complete(struct http_deferred *d, struct http_response *res);

/* A request header's value (borrowed, valid during the request) or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* A query parameter's decoded value (borrowed) or NULL. */
const char *http_query(const struct http_request *req, const char *name);

/* Response helpers; each replaces what res held. */
void http_json_error(struct http_response *res, int status, const char *code,
		const char *message);
/* Takes over j (decref'd here). */
void http_json(struct http_response *res, int status, json_t *j);
/* Takes over body (malloc'd, NUL-terminated). */
void http_text(struct http_response *res, int status, const char *content_type, char *body);
void http_empty(struct http_response *res, int status);
/* Twilio reads TwiML even on errors: an empty <Response/> with the status. */
void http_twiml_status(struct http_response *res, int status);

struct http_server_options {
	const char *listen; /* "127.0.0.1:8000", "[::1]:8000"; port 0 picks a free one */
	int threads;
	int max_connections;
	int connection_timeout_s;
	int per_ip_connections; /* 0: no limit */
};

/* TwiML's Content-Type, exactly as CONTRACT.md writes it. The charset is the XML
 * declaration's (UTF-8), which is what text/xml without a charset means (RFC 7303). */
#define HTTP_TWIML_TYPE "text/xml"

struct http_server;
struct sockaddr_storage;

/* "127.0.0.1:8000", "[::1]:8000", "0.0.0.0:0": a numeric address and a port from 0 to
 * 65535 → a socket address (ss may be NULL: only check). -EINVAL. */
int http_parse_listen(const char *listen, struct sockaddr_storage *ss, bool *ret_v6);
/* Binds and starts serving app. -EINVAL (bad address), -EADDRINUSE, -EIO. */
int http_server_start(const struct http_server_options *o, struct app *app,
		struct http_server **ret);
/* The bound port. */
int http_server_port(const struct http_server *s);
/* Stops accepting and waits up to grace_ms for requests in flight to be answered. True
 * if none is left. */
bool http_server_quiesce(struct http_server *s, int grace_ms);
/* Stops the server (after http_server_quiesce) and frees it. NULL is fine. */
void http_server_stop(struct http_server *s);

/* Dispatches a request through the route table (routes.c). */
void http_route(struct app *app, struct http_request *req, struct http_response *res,
		int *ret_route);
/* Inside the module (routes.c, for server.c): an error answer for target, TwiML on the
 * two Twilio webhooks (Twilio reads it; logged as webhook.rejected with code as the
 * reason), JSON elsewhere (any other path under /sms-router/webhook/ included). Returns
 * the metrics route the answer counts under. */
int http__error(const char *target, struct http_response *res, int status, const char *code,
		const char *message);
