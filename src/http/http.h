#pragma once
/* http: the server (libmicrohttpd, internal thread pool on epoll), request limits, exact
 * routing over a route table its user hands it, and JSON responses. A request reaches a
 * handler with its whole body (at most HTTP_MAX_BODY bytes) and its raw request-target.
 * Knows nothing of the handlers above it, Twilio or SQL. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <errno.h>

#include <jansson.h>

#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PARAMS 5

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

/* A streamed body (http_stream). next gives the body's next chunk, on a server thread, as
 * the client reads: 0 with *ret_chunk (malloc'd, taken over) and *ret_len > 0; 0 with
 * *ret_len 0 at the end; or a negative errno, which cuts the connection (the client sees a
 * short body, never a complete-looking wrong one). free_ctx(ctx) runs once, when the
 * response is done or dropped. */
typedef int (*http_stream_next)(void *ctx, char **ret_chunk, size_t *ret_len);
typedef void (*http_stream_free)(void *ctx);

/* A streamed body whose bytes another thread produces (a fetch in flight): http_stream_async.
 * read copies at most max bytes into buf, on a server thread, and returns how many (> 0); 0
 * at the end; HTTP_STREAM_WAIT when none is ready yet, after calling
 * http_stream_suspend(w) under the lock its producer takes to call http_stream_resume(w)
 * (so that a wake-up is never lost); or another negative errno, which cuts the connection.
 * The connection then waits, holding no thread, until the producer calls
 * http_stream_resume(w) once, from any thread; read is then called again. w stays valid
 * until free_ctx runs (never while the connection waits). */
struct http_stream_waker;
#define HTTP_STREAM_WAIT (-EAGAIN)
typedef ssize_t (*http_stream_read)(void *ctx, struct http_stream_waker *w, char *buf,
		size_t max);
void http_stream_suspend(struct http_stream_waker *w);
void http_stream_resume(struct http_stream_waker *w);

struct http_response {
	int status;
	const char *content_type; /* static string, or one stream_ctx owns */
	char *body;               /* malloc'd, owned by the response; NULL: empty */
	size_t body_len;
	char allow[64];           /* for 405: "GET, DELETE" */
	const char *www_authenticate; /* for 401 */
	long long retry_after_s;      /* > 0: a Retry-After header (429, 503) */
	/* More headers: name, value, name, value, …, NULL (static strings); NULL: none. */
	const char *const *headers;
	bool later; /* set by a handler whose answer comes via http_deferred_complete */
	/* A streamed body instead of body (http_stream); NULL: none. */
	http_stream_next stream;
	http_stream_free stream_free;
	void *stream_ctx;
	/* Or one read as it comes (http_stream_async), of stream_length bytes (-1: unknown). */
	http_stream_read stream_read;
	int64_t stream_length;
	const char *cache_control; /* static; NULL: "no-store" */
};

/* A handler that cannot answer yet sets res->later and returns; the connection is then
 * suspended (holding no thread) until someone calls this, once, from any thread, with
 * the answer (its body or stream is taken over: res is left empty). d is req->deferred. It may also be called before
 * the handler returns. */
void http_deferred_complete(struct http_deferred *d, struct http_response *res);

/* A request header's value (borrowed, valid during the request) or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* A query parameter's decoded value (borrowed) or NULL. */
const char *http_query(const struct http_request *req, const char *name);
/* The first query parameter's name (borrowed) that is not among known[0..n), or NULL. */
const char *http_query_unknown(const struct http_request *req, const char *const *known,
		size_t n);

/* Response helpers; each replaces what res held. */
void http_json_error(struct http_response *res, int status, const char *code,
		const char *message);
/* Takes over j (decref'd here). */
void http_json(struct http_response *res, int status, json_t *j);
/* Takes over body (malloc'd, NUL-terminated). */
void http_text(struct http_response *res, int status, const char *content_type, char *body);
void http_empty(struct http_response *res, int status);
/* A body of unknown length sent as next gives it (chunked transfer encoding): memory stays
 * one chunk whatever the body's size. Takes over ctx (free_ctx may be NULL). */
void http_stream(struct http_response *res, int status, const char *content_type,
		http_stream_next next, http_stream_free free_ctx, void *ctx);
/* A body another thread produces (read, above), of length bytes (-1: unknown, chunked):
 * memory stays what the producer buffers. Takes over ctx (free_ctx may be NULL). */
void http_stream_async(struct http_response *res, int status, const char *content_type,
		int64_t length, http_stream_read read, http_stream_free free_ctx, void *ctx);
/* Releases what res holds (body, stream) and empties it. */
void http_response_clear(struct http_response *res);

/* A route's handler; ctx is the route's. It answers in res, or sets res->later. */
typedef void (*http_handler)(void *ctx, const struct http_request *req,
		struct http_response *res);
/* Writes an error answer (status, a machine code and a sentence) for a route whose users
 * read something else than JSON (Twilio reads TwiML); path is the route's pattern. */
typedef void (*http_error_writer)(const char *path, struct http_response *res, int status,
		const char *code, const char *message);

struct http_route {
	const char *pattern; /* exact path; '*' is one path segment, percent-decoded */
	const char *method;
	http_handler handler;
	void *ctx;
	int metric; /* the metrics_route its requests count under */
	/* NULL: open. Else a request it refuses is answered 401 (Bearer), JSON. */
	bool (*authorized)(void *ctx, const struct http_request *req);
	/* NULL: errors on this path are JSON. Else it writes them: the answers http gives
	 * itself (405, 413, 503 while stopping). A route with one has a pattern without '*'. */
	http_error_writer error;
	bool timed; /* its latency goes to the webhook histogram */
};

struct http_routes { /* borrowed by the server, and must outlive it */
	const struct http_route *routes;
	size_t n;
};

struct http_server_options {
	const char *listen; /* "127.0.0.1:8000", "[::1]:8000"; port 0 picks a free one */
	int threads;
	int max_connections;
	int connection_timeout_s;
	int per_ip_connections; /* 0: no limit */
};

struct http_server;
struct sockaddr_storage;

/* "127.0.0.1:8000", "[::1]:8000", "0.0.0.0:0": a numeric address and a port from 0 to
 * 65535 → a socket address (ss may be NULL: only check). -EINVAL. */
int http_parse_listen(const char *listen, struct sockaddr_storage *ss, bool *ret_v6);
/* Binds and starts serving routes. Anything else: 404; a known path with another method:
 * 405 with Allow. -EINVAL (bad address), -EADDRINUSE, -EIO. */
int http_server_start(const struct http_server_options *o, const struct http_routes *routes,
		struct http_server **ret);
/* The bound port. */
int http_server_port(const struct http_server *s);
/* Stops accepting and waits up to grace_ms for requests in flight to be answered. True
 * if none is left. */
bool http_server_quiesce(struct http_server *s, int grace_ms);
/* Stops the server (after http_server_quiesce) and frees it. NULL is fine. */
void http_server_stop(struct http_server *s);

/* Inside the module (routes.c, for server.c). Dispatches req through the table. Returns
 * the route the answer counts under (its path's), or NULL (METRICS_ROUTE_OTHER). */
const struct http_route *http__route(const struct http_routes *t, struct http_request *req,
		struct http_response *res);
/* An error answer for target, written by the route that writes its path's errors if there
 * is one (returned), else JSON (NULL). */
const struct http_route *http__error(const struct http_routes *t, const char *target,
		struct http_response *res, int status, const char *code, const char *message);
/* Inside the module (stream.c, for server.c): a response reading res's stream, which it
 * takes over, on conn; NULL (res keeps it) on ENOMEM. */
struct MHD_Response;
struct MHD_Response *http__stream_response(struct http_response *res,
		struct MHD_Connection *conn);
