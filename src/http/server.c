/* The libmicrohttpd server: thread pool on epoll, limits, body collection, graceful stop. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http.h"
#include "log.h"
#include "metrics.h"

/* Beyond this much body we stop reading and drop the connection. */
#define HARD_BODY_LIMIT (1024 * 1024)

struct http_server {
	struct MHD_Daemon *daemon;
	MHD_socket listen_fd; /* ours after quiesce */
	const struct http_routes *routes;
	atomic_int in_flight;
	atomic_bool closing; /* quiescing: every answer closes its connection */
	int port;
	/* Stopping: libmicrohttpd must not be stopped while a connection waits for a
	 * deferred answer (it aborts), and an answer must not reach a stopped server. mu
	 * guards stopping and active, the requests handed to a handler and not yet answered;
	 * once stopping, no request is handed to a handler. */
	pthread_mutex_t mu;
	pthread_cond_t idle;
	bool stopping;
	int active;
	/* The request deadline (see reap): every open connection, oldest first, under cmu. */
	pthread_mutex_t cmu;
	pthread_cond_t wake; /* the reaper's sleep, cut short by http_server_stop */
	struct slot *oldest;
	struct slot *newest;
	int live;            /* open and not cut */
	int max_connections; /* SMSROUTER_MAX_CONNECTIONS: live never stays above it */
	int64_t deadline_ms;
	bool reaper_stop;
	bool reaper_started;
	pthread_t reaper;
};

/* One open connection, hung off libmicrohttpd's socket context. */
struct slot {
	struct slot *prev;
	struct slot *next;
	MHD_socket fd;
	int64_t since_ms; /* accept, or the last answer on a kept-alive connection */
	bool busy;        /* its request is whole: a handler's now, not the deadline's */
	bool cut;         /* shut down by us; libmicrohttpd closes it and says so */
};

/* One request's state, hung off libmicrohttpd's connection context. */
struct req_state {
	char *target;
	char *body;
	size_t len;
	size_t cap;
	bool started;
	bool too_big;
	bool late; /* begun after the server stopped accepting: answered 503 */
	struct timespec t0;
	const struct http_route *route; /* what the answer counts under; NULL: other */
	struct http_server *server;
	/* A deferred answer: mu guards the rest. */
	struct MHD_Connection *conn;
	pthread_mutex_t mu;
	bool waiting;   /* the handler said "later" */
	bool suspended; /* the connection is suspended */
	bool ready;     /* res holds the answer */
	struct http_response res;
};

/* ---- the request deadline ----
 * libmicrohttpd's MHD_OPTION_CONNECTION_TIMEOUT measures silence: every byte restarts it,
 * so a client sending a byte a second would hold its connection for ever, and
 * MHD_OPTION_CONNECTION_LIMIT then stops accepting: new connections, Twilio's included,
 * wait in the kernel's accept queue behind the slow ones. libmicrohttpd (0.9.75) has no
 * per-request deadline and no call to close a connection from outside, so we keep our own
 * list of open connections (MHD_OPTION_NOTIFY_CONNECTION stamps the accept) and cut one
 * by shutting its socket down: libmicrohttpd then reads end-of-file, closes it itself
 * and tells us (MHD_CONNECTION_NOTIFY_CLOSED, before it closes the socket, so under cmu
 * the descriptor is still the connection's). Two rules, both counted as timeouts:
 * - a request must arrive whole within deadline_ms of the accept (of the previous
 *   answer on a kept-alive connection); the reaper thread checks every REAP_MS;
 * - libmicrohttpd's limit is set above max_connections, so it keeps accepting; each
 *   accept past max_connections cuts the oldest connection still waiting for its
 *   request. The accept queue thus drains at once and a client that sends its request
 *   straight away (Twilio) is served, however many slow clients come. A connection whose
 *   request is whole (a handler, an agent call) is never cut. */
#define REAP_MS 200

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under cmu. */
static void cut(struct http_server *s, struct slot *x) {
	shutdown(x->fd, SHUT_RDWR);
	x->cut = true;
	s->live--;
	metrics_inc(METRICS_HTTP_TIMEOUTS);
}

static struct slot *slot_of(struct MHD_Connection *conn) {
	const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

/* The connection's request is whole (busy) or answered (its deadline starts over). */
static void slot_busy(struct http_server *s, struct MHD_Connection *conn, bool busy) {
	struct slot *x = slot_of(conn);
	if (!x) {
		return;
	}
	pthread_mutex_lock(&s->cmu);
	x->busy = busy;
	x->since_ms = now_ms();
	pthread_mutex_unlock(&s->cmu);
}

static void *reaper(void *arg) {
	struct http_server *s = arg;
	pthread_mutex_lock(&s->cmu);
	while (!s->reaper_stop) {
		int64_t now = now_ms();
		for (struct slot *x = s->oldest; x; x = x->next) {
			if (!x->busy && !x->cut && now - x->since_ms >= s->deadline_ms) {
				cut(s, x);
			}
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += REAP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->cmu, &until);
	}
	pthread_mutex_unlock(&s->cmu);
	return NULL;
}

/* Opens and closes slots; the gauge shows an operator the server at its limit. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
		enum MHD_ConnectionNotificationCode code) {
	struct http_server *s = cls;
	struct slot *x;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		metrics_connections(-1);
		x = *socket_context;
		if (!x) {
			return;
		}
		pthread_mutex_lock(&s->cmu);
		*(x->prev ? &x->prev->next : &s->oldest) = x->next;
		*(x->next ? &x->next->prev : &s->newest) = x->prev;
		if (!x->cut) {
			s->live--;
		}
		pthread_mutex_unlock(&s->cmu);
		free(x);
		*socket_context = NULL;
		return;
	}
	metrics_connections(1);
	const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	x = info ? calloc(1, sizeof(*x)) : NULL;
	if (!x) {
		return; /* out of memory: this one has only libmicrohttpd's timeout */
	}
	x->fd = info->connect_fd;
	pthread_mutex_lock(&s->cmu);
	x->since_ms = now_ms();
	x->prev = s->newest;
	*(s->newest ? &s->newest->next : &s->oldest) = x;
	s->newest = x;
	s->live++;
	/* Past the limit: room for the newcomer, made by the oldest still waiting. */
	for (struct slot *o = s->oldest; o != x && s->live > s->max_connections; o = o->next) {
		if (!o->busy && !o->cut) {
			cut(s, o);
		}
	}
	pthread_mutex_unlock(&s->cmu);
	*socket_context = x;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
	struct http_server *s = cls;
	struct req_state *st = calloc(1, sizeof(*st));
	if (st) {
		st->target = strdup(uri ? uri : "");
		st->conn = conn;
		st->server = s;
		pthread_mutex_init(&st->mu, NULL);
		clock_gettime(CLOCK_MONOTONIC, &st->t0);
		st->late = atomic_load(&s->closing);
	}
	atomic_fetch_add(&s->in_flight, 1);
	return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		enum MHD_RequestTerminationCode toe) {
	struct http_server *s = cls;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) {
		metrics_inc(METRICS_HTTP_TIMEOUTS);
	}
	slot_busy(s, conn, false);
	struct req_state *st = *con_cls;
	if (st) {
		pthread_mutex_destroy(&st->mu);
		http_response_clear(&st->res);
		free(st->target);
		free(st->body);
		free(st);
	}
	*con_cls = NULL;
	atomic_fetch_sub(&s->in_flight, 1);
}

/* close: the connection ends with this answer (it also does while stopping). */
static enum MHD_Result send_response(struct http_server *s, struct MHD_Connection *conn,
		struct http_response *res, bool close) {
	const char *cache_control = res->cache_control ? res->cache_control : "no-store";
	struct MHD_Response *r = res->stream || res->stream_read ? http__stream_response(res, conn)
		: MHD_create_response_from_buffer(res->body_len,
				  res->body ? res->body : (void *)"",
				  res->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		http_response_clear(res);
		return MHD_NO;
	}
	res->body = NULL;
	if (res->content_type) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	}
	if (res->allow[0]) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
	}
	if (res->www_authenticate) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, res->www_authenticate);
	}
	if (res->retry_after_s > 0) {
		char wait[24];
		snprintf(wait, sizeof(wait), "%lld", (long long)res->retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, wait);
	}
	for (const char *const *h = res->headers; h && h[0] && h[1]; h += 2) {
		MHD_add_response_header(r, h[0], h[1]);
	}
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
	if (close || atomic_load(&s->closing)) {
		/* The client reconnects, to this server's successor or another instance. */
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	}
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned int)res->status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum metrics_route metric_of(const struct http_route *route) {
	return route ? (enum metrics_route)route->metric : METRICS_ROUTE_OTHER;
}

/* Counts and sends a handler's answer. */
static enum MHD_Result finish(struct req_state *st, struct MHD_Connection *conn,
		struct http_response *res) {
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - st->t0.tv_sec) +
		      (double)(t1.tv_nsec - st->t0.tv_nsec) / 1e9;
	metrics_request(metric_of(st->route), res->status);
	if (st->route && st->route->timed) {
		metrics_webhook_seconds(took);
	}
	if (log_enabled(LOG_DEBUG)) {
		log_debug("http.request", LOG_STR("target", st->target),
				LOG_INT("status", res->status), LOG_INT("us", (int64_t)(took * 1e6)));
	}
	return send_response(st->server, conn, res, false);
}

/* A request handed to a handler has its answer: the server may stop once none is left. */
static void answered(struct http_server *s) {
	pthread_mutex_lock(&s->mu);
	if (--s->active == 0 && s->stopping) {
		pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->mu);
}


static enum MHD_Result too_large(const struct req_state *st, struct MHD_Connection *conn) {
	struct http_response res = {0};
	const struct http_route *route = http__error(st->server->routes, st->target, &res, 413,
			"payload_too_large", "The request body is over 64 KiB.");
	metrics_request(metric_of(route), 413);
	metrics_reject(METRICS_REJECT_TOO_LARGE);
	return send_response(st->server, conn, &res, false);
}

/* What a request's headers say of its length and host (RFC 9112 §6.1, §6.3). */
struct framing {
	int content_length;
	int transfer_encoding;
	int host;
	bool bad; /* a Content-Length not all digits, a coding other than chunked alone */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
		const char *value) {
	(void)kind;
	struct framing *f = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->content_length++;
		f->bad |= !value || !*value || strspn(value, "0123456789") != strlen(value);
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->transfer_encoding++;
		f->bad |= !value || strcasecmp(value, "chunked") != 0;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
		f->host++;
	}
	return MHD_YES;
}

/* A request whose end or host two readers could see differently (a proxy in front and
 * us) is refused before a handler runs, and its connection closed: what follows it on
 * the connection cannot be told apart from its body. libmicrohttpd 0.9.75 takes the
 * first Content-Length, serves Content-Length with chunked, waits for the end of a body
 * in another coding and keeps the first Host; it answers a malformed Content-Length
 * itself (400, Connection: close, before this runs). */
static bool ambiguous(struct MHD_Connection *conn) {
	struct framing f = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	return f.bad || f.content_length > 1 || f.transfer_encoding > 1 || f.host > 1 ||
	       (f.content_length && f.transfer_encoding);
}

/* An answer of http's own, before or instead of a handler: counted, then sent. */
static enum MHD_Result refuse(struct http_server *s, struct MHD_Connection *conn,
		const char *target, int status, const char *code, const char *message) {
	struct http_response res = {0};
	const struct http_route *route = http__error(s->routes, target, &res, status, code,
			message);
	metrics_request(metric_of(route), status);
	return send_response(s, conn, &res, true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
		const char *method, const char *version, const char *upload_data,
		size_t *upload_data_size, void **con_cls) {
	(void)url;
	(void)version;
	struct http_server *s = cls;
	struct req_state *st = *con_cls;

	if (!st || !st->target) {
		return MHD_NO; /* out of memory: drop the connection */
	}
	if (st->waiting) {
		/* Resumed: the deferred answer is here. */
		pthread_mutex_lock(&st->mu);
		bool ready = st->ready;
		pthread_mutex_unlock(&st->mu);
		return ready ? finish(st, conn, &st->res) : MHD_YES;
	}
	if (!st->started) {
		st->started = true;
		if (ambiguous(conn)) {
			return refuse(s, conn, st->target, 400, "ambiguous_request",
					"The request's length or host is ambiguous.");
		}
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY) {
			return too_large(st, conn);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (st->too_big || st->len + n > HTTP_MAX_BODY) {
			st->too_big = true;
			st->len += n;
			/* Discard, up to a point; then stop listening to this client. */
			return st->len > HARD_BODY_LIMIT ? MHD_NO : MHD_YES;
		}
		if (st->len + n + 1 > st->cap) {
			size_t cap = st->cap ? st->cap : 4096;
			while (cap < st->len + n + 1) {
				cap *= 2;
			}
			char *p = realloc(st->body, cap);
			if (!p) {
				return MHD_NO;
			}
			st->body = p;
			st->cap = cap;
		}
		memcpy(st->body + st->len, upload_data, n);
		st->len += n;
		st->body[st->len] = '\0';
		return MHD_YES;
	}
	if (st->too_big) {
		return too_large(st, conn);
	}

	/* The whole request is here. */
	pthread_mutex_lock(&s->mu);
	bool refused = s->stopping || st->late;
	if (!refused) {
		s->active++;
	}
	pthread_mutex_unlock(&s->mu);
	if (refused) {
		/* It began after the server stopped accepting: nothing is stored, and Twilio
		 * takes a 503 to the fallback URL (or the next instance) at once. */
		return refuse(s, conn, st->target, 503, "stopping", "The server is stopping.");
	}
	slot_busy(s, conn, true);
	char *path = strdup(st->target);
	if (!path) {
		answered(s); /* it never reached a handler */
		return MHD_NO;
	}
	char *q = strchr(path, '?');
	if (q) {
		*q = '\0';
	}
	const char *query = strchr(st->target, '?');
	struct http_request req = {
		.method = method,
		.target = st->target,
		.path = path,
		.query = query ? query + 1 : NULL,
		.body = st->body ? st->body : "",
		.body_len = st->len,
		.conn = conn,
	};
	struct http_response res = {.status = 500};
	req.deferred = (struct http_deferred *)st;
	st->route = http__route(s->routes, &req, &res);
	free(path);
	if (!res.later) {
		answered(s);
		return finish(st, conn, &res);
	}
	/* The answer comes from another thread: hold no worker meanwhile. */
	pthread_mutex_lock(&st->mu);
	st->waiting = true;
	if (st->ready) {
		pthread_mutex_unlock(&st->mu);
		return finish(st, conn, &st->res);
	}
	st->suspended = true;
	MHD_suspend_connection(conn);
	pthread_mutex_unlock(&st->mu);
	return MHD_YES;
}

void http_deferred_complete(struct http_deferred *d, struct http_response *res) {
	struct req_state *st = (struct req_state *)d;
	struct http_server *s = st->server;
	pthread_mutex_lock(&st->mu);
	st->res = *res;
	res->body = NULL; /* and its stream: the answer holds them now */
	res->stream = NULL;
	res->stream_read = NULL;
	res->stream_free = NULL;
	res->stream_ctx = NULL;
	st->ready = true;
	if (st->suspended) {
		st->suspended = false;
		MHD_resume_connection(st->conn);
	}
	/* on_request takes mu before it reads the answer, so st outlives this unlock. */
	pthread_mutex_unlock(&st->mu);
	answered(s); /* st is not touched again: a stopping server may now free it */
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
		msg[--n] = '\0';
	}
	/* libmicrohttpd closes a connection over its global or per-address limit with this
	 * message and no other sign. */
	static const char refused[] = "Server reached connection limit";
	if (strncmp(msg, refused, sizeof(refused) - 1) == 0) {
		metrics_inc(METRICS_HTTP_REFUSED);
	}
	log_debug("http.mhd", LOG_STR("message", msg));
}

int http_parse_listen(const char *listen, struct sockaddr_storage *ret_ss, bool *ret_v6) {
	struct sockaddr_storage scratch;
	struct sockaddr_storage *ss = ret_ss ? ret_ss : &scratch;
	bool v6_scratch;
	char host[128];
	const char *colon;
	const char *h = listen;
	size_t hlen;

	if (!ret_v6) {
		ret_v6 = &v6_scratch;
	}
	memset(ss, 0, sizeof(*ss));
	if (*listen == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':') {
			return -EINVAL;
		}
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon) {
			return -EINVAL;
		}
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	/* Digits only: strtol would also take a sign or leading spaces. */
	if (!isdigit((unsigned char)colon[1]) || *end || port < 0 || port > 65535) {
		return -EINVAL;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*ret_v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*ret_v6 = true;
		return 0;
	}
	return -EINVAL;
}

static void free_server(struct http_server *s) {
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->cmu);
	pthread_cond_destroy(&s->wake);
	free(s);
}

int http_server_start(const struct http_server_options *o, const struct http_routes *routes,
		struct http_server **ret) {
	struct sockaddr_storage ss;
	bool v6;
	struct http_server *s;

	if (http_parse_listen(o->listen, &ss, &v6) < 0) {
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->routes = routes;
	s->listen_fd = MHD_INVALID_SOCKET;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_mutex_init(&s->cmu, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->max_connections = o->max_connections;
	s->deadline_ms = (int64_t)o->connection_timeout_s * 1000;
	/* Room above our limit, so that libmicrohttpd keeps accepting while the oldest
	 * waiting connections are cut (on_connection). */
	unsigned int mhd_limit = (unsigned int)o->max_connections +
				 (unsigned int)o->max_connections / 4 + 16 * (unsigned int)o->threads;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (v6) {
		flags |= MHD_USE_IPv6;
	}
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)o->threads,
			MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->connection_timeout_s,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)o->per_ip_connections,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
			MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
			MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
			MHD_OPTION_END);
	if (!s->daemon) {
		free_server(s);
		return -EADDRINUSE;
	}
	s->reaper_started = pthread_create(&s->reaper, NULL, reaper, s) == 0;
	if (!s->reaper_started) {
		MHD_stop_daemon(s->daemon);
		free_server(s);
		return -EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*ret = s;
	return 0;
}

int http_server_port(const struct http_server *s) {
	return s->port;
}

/* After MHD_quiesce_daemon the socket still listens: the kernel would go on completing
 * handshakes into its queue, and those clients would wait out the drain and be reset.
 * The ones already queued are handed to libmicrohttpd and answered 503 at once (their
 * requests are late); then the socket stops listening, so a client is refused at once
 * and goes to Twilio's fallback URL or the next instance. The descriptor stays open
 * until http_server_stop: a worker that saw it readable just before the quiesce may
 * still call accept on it, which then fails instead of landing on a reused number. */
static void stop_listening(struct http_server *s) {
	if (s->listen_fd == MHD_INVALID_SOCKET) {
		return;
	}
	fcntl(s->listen_fd, F_SETFL, fcntl(s->listen_fd, F_GETFL) | O_NONBLOCK);
	for (int i = 0; i < 4096; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept(s->listen_fd, (struct sockaddr *)&ss, &len);
		if (fd < 0) {
			break; /* EAGAIN: the queue is empty */
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		/* On failure libmicrohttpd has closed fd. */
		(void)MHD_add_connection(s->daemon, fd, (struct sockaddr *)&ss, len);
	}
	shutdown(s->listen_fd, SHUT_RDWR);
}

bool http_server_quiesce(struct http_server *s, int grace_ms) {
	/* Stop accepting; requests already received run to their answer, and each answer
	 * closes its connection. */
	atomic_store(&s->closing, true);
	if (s->listen_fd == MHD_INVALID_SOCKET) {
		s->listen_fd = MHD_quiesce_daemon(s->daemon);
		stop_listening(s);
	}
	for (int waited = 0; atomic_load(&s->in_flight) > 0 && waited < grace_ms; waited += 10) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return atomic_load(&s->in_flight) == 0;
}

void http_server_stop(struct http_server *s) {
	if (!s) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	for (int waited = 0; s->active > 0; waited++) {
		/* Answers still on their way (a batch's fsync, an agent's apology) arrive soon. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT && waited == 5) {
			log_warn("http.stop_waiting", LOG_INT("unanswered", s->active));
		}
	}
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&s->cmu);
	s->reaper_stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->cmu);
	pthread_join(s->reaper, NULL);
	MHD_stop_daemon(s->daemon);
	if (s->listen_fd != MHD_INVALID_SOCKET) {
		close(s->listen_fd); /* quiesce handed it to us; closed once MHD's threads are gone */
	}
	free_server(s);
}
