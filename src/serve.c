#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "agent/agent.h"
#include "console.h"
#include "events.h"
#include "http/http.h"
#include "ids.h"
#include "log.h"
#include "media.h"
#include "media_link.h"
#include "metrics.h"
#include "outbox.h"
#include "proactive.h"
#include "ratelimit.h"
#include "retention.h"
#include "router.h"
#include "webhook.h"

#define DEV_TOKEN_PATH SERVE_DEV_TOKEN_PATH
#define DEV_ADMIN_TOKEN_PATH SERVE_DEV_ADMIN_TOKEN_PATH
#define MAX_ROUTES 28

/* The process: what serve builds, in the order it builds it. */
struct process {
	const struct config *config;
	char dev_token[64];
	const char *auth_token; /* TWILIO_AUTH_TOKEN, or the --dev token */
	struct config dev_config; /* --dev without SMSROUTER_ADMIN_TOKEN: config and its token */
	char dev_admin_token[64];
	struct store *store;
	struct agent *agent;
	struct ratelimit *rl;
	struct router *router;
	struct proactive_queue *sends; /* the send endpoint's batches */
	struct outbox *outbox;
	struct events *events; /* NULL without SMSROUTER_EVENTS_URL */
	struct retention *retention; /* NULL while SMSROUTER_RETENTION_DAYS is 0 */
	struct media_links links; /* the agent's fetch_url */
	struct media *media;      /* the media links' route and its fetch loop */
	struct webhook webhook;
	struct admin admin;
	struct http_route routes[MAX_ROUTES];
	struct http_routes table;
	struct http_server *server;
};

/* The router's on_enqueue and the send queue's on_due: ctx is the process, whose
 * outbox starts after the router. */
static void notify_outbox(void *ctx) {
	struct outbox *ob = ((struct process *)ctx)->outbox;
	if (ob) {
		outbox_notify(ob);
	}
}

/* The store's on_record: ctx is the process, whose events start before any thread that
 * records one. */
static void notify_events(void *ctx) {
	struct events *ev = ((struct process *)ctx)->events;
	if (ev) {
		events_notify(ev);
	}
}

/* A --dev token at path (under var/), made once (mode 0600) and read back on every start,
 * so that simulate, the operator and restarts find the same one. */
static int dev_token(const char *path, char *out, size_t size) {
	FILE *f = fopen(path, "r");
	if (f) {
		bool ok = fgets(out, (int)size, f) != NULL;
		fclose(f);
		out[strcspn(out, "\r\n")] = '\0';
		if (ok && strlen(out) >= 16) {
			return 0;
		}
	}
	mkdir("var", 0700);
	if (ids_random_hex("", 16, out, size) < 0) {
		return -EIO;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		return -EIO;
	}
	ssize_t w = write(fd, out, strlen(out));
	close(fd);
	return w == (ssize_t)strlen(out) ? 0 : -EIO;
}

/* ---- the routes that are the process's own ---- */

static void health(void *ctx, const struct http_request *req, struct http_response *res) {
	(void)ctx;
	(void)req;
	http_text(res, 200, "application/json", strdup("{\"status\":\"ok\"}"));
}

/* ctx is the store. */
static void ready(void *ctx, const struct http_request *req, struct http_response *res) {
	(void)req;
	if (store_ping(ctx) == 0) {
		http_text(res, 200, "application/json", strdup("{\"status\":\"ready\"}"));
	} else {
		http_json_error(res, 503, "store_unavailable", "The store does not answer.");
	}
}

/* ctx is the process: its store has the gauges metrics renders with the rest. */
static void metrics_page(void *ctx, const struct http_request *req, struct http_response *res) {
	(void)req;
	const struct process *p = ctx;
	struct metrics_gauges g = {-1, -1, -1, -1, -1};
	char *text = NULL;
	if (store_counts(p->store, &g.users, &g.phones) < 0 ||
			store_outbox_depth(p->store, &g.outbox_depth) < 0 ||
			store_scheduled_depth(p->store, ids_now_ms(), &g.scheduled_depth) < 0 ||
			(p->events && store_events_pending(p->store, &g.events_pending) < 0)) {
		g = (struct metrics_gauges){-1, -1, -1, -1, -1};
		metrics_inc(METRICS_STORE_ERRORS);
	}
	if (metrics_render(&g, &text) < 0) {
		http_json_error(res, 500, "internal", "Out of memory.");
		return;
	}
	http_text(res, 200, METRICS_CONTENT_TYPE, text);
}

/* The route table: Twilio's webhooks (TwiML errors), the probes, and the admin API and
 * its console when it has a token (without one they do not exist: 404). The console's
 * files are open (they hold no data); its page reads the admin API with the token. */
static void build_routes(struct process *p) {
	struct webhook *w = &p->webhook;
	struct admin *a = &p->admin;
	const struct http_route all[] = {
		/* pattern, method, handler, ctx, metric, authorized, error, timed */
		{"/sms-router/webhook/sms", "POST", webhook_sms, w, METRICS_ROUTE_WEBHOOK_SMS, NULL,
			webhook_error, true},
		{"/sms-router/webhook/status", "POST", webhook_status, w,
			METRICS_ROUTE_WEBHOOK_STATUS, NULL, webhook_error, false},
		{"/health", "GET", health, NULL, METRICS_ROUTE_HEALTH, NULL, NULL, false},
		{"/ready", "GET", ready, p->store, METRICS_ROUTE_READY, NULL, NULL, false},
		{"/metrics", "GET", metrics_page, p, METRICS_ROUTE_METRICS, NULL, NULL, false},
		{"/sms-router/admin/users", "GET", admin_users_get, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/users", "POST", admin_users_post, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/users/*", "GET", admin_user_get, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/users/*", "PATCH", admin_user_patch, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/users/*", "DELETE", admin_user_delete, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/users/*/phones", "POST", admin_phones_post, a,
			METRICS_ROUTE_ADMIN, admin_authorized, NULL, false},
		{"/sms-router/admin/users/*/phones/*", "DELETE", admin_phone_delete, a,
			METRICS_ROUTE_ADMIN, admin_authorized, NULL, false},
		{"/sms-router/admin/users/*/messages", "GET", admin_messages_get, a,
			METRICS_ROUTE_ADMIN, admin_authorized, NULL, false},
		{"/sms-router/admin/users/*/messages", "POST", admin_send_post, a,
			METRICS_ROUTE_ADMIN, admin_send_authorized, NULL, false},
		{"/sms-router/admin/users/*/messages/*", "GET", admin_send_get, a,
			METRICS_ROUTE_ADMIN, admin_send_authorized, NULL, false},
		{"/sms-router/admin/users/*/messages/*", "DELETE", admin_send_delete, a,
			METRICS_ROUTE_ADMIN, admin_send_authorized, NULL, false},
		{"/sms-router/admin/usage", "GET", admin_usage_get, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/stats", "GET", admin_stats_get, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/admin/users/*/export", "GET", admin_export_get, a, METRICS_ROUTE_ADMIN,
			admin_authorized, NULL, false},
		{"/sms-router/media/*/*/*/*/*", "GET", media_get, p->media, METRICS_ROUTE_MEDIA,
			NULL, NULL, false},
		{"/sms-router/console", "GET", console_redirect, NULL, METRICS_ROUTE_CONSOLE, NULL,
			NULL, false},
		{"/sms-router/console/", "GET", console_get, NULL, METRICS_ROUTE_CONSOLE, NULL,
			NULL, false},
		{"/sms-router/console/*", "GET", console_get, NULL, METRICS_ROUTE_CONSOLE, NULL,
			NULL, false},
	};
	_Static_assert(sizeof(all) / sizeof(all[0]) <= MAX_ROUTES, "MAX_ROUTES is too small");
	size_t n = 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		bool send = all[i].authorized == admin_send_authorized;
		bool console = all[i].metric == METRICS_ROUTE_CONSOLE;
		bool open = !all[i].authorized && !console;
		if (open || p->config->admin_token || (send && p->config->send_token)) {
			p->routes[n++] = all[i];
		}
	}
	p->table = (struct http_routes){.routes = p->routes, .n = n};
}

/* ---- building and stopping ---- */

/* The development token in place of Twilio's, with a warning nobody can miss. */
static int use_dev_token(struct process *p, char *why, size_t size) {
	if (dev_token(DEV_TOKEN_PATH, p->dev_token, sizeof(p->dev_token)) < 0) {
		snprintf(why, size, "cannot write the development token to %s.", DEV_TOKEN_PATH);
		return -EIO;
	}
	p->auth_token = p->dev_token;
	fprintf(stderr,
			"\n*** DEVELOPMENT MODE ***\n"
			"Webhooks are checked against a local token in %s, not your Twilio "
			"auth token.\nNever expose this server to the internet. "
			"Try: build/smsrouter simulate --from +15550100101 --body recall\n\n",
			DEV_TOKEN_PATH);
	log_warn("serve.dev_mode", LOG_STR("token_file", DEV_TOKEN_PATH));
	return 0;
}

/* --dev without SMSROUTER_ADMIN_TOKEN: the admin API (and the console) on, with a local
 * token kept in DEV_ADMIN_TOKEN_PATH; p->config becomes a copy that holds it. */
static int use_dev_admin_token(struct process *p, char *why, size_t size) {
	if (dev_token(DEV_ADMIN_TOKEN_PATH, p->dev_admin_token, sizeof(p->dev_admin_token)) < 0) {
		snprintf(why, size, "cannot write the development admin token to %s.",
				DEV_ADMIN_TOKEN_PATH);
		return -EIO;
	}
	p->dev_config = *p->config;
	p->dev_config.admin_token = p->dev_admin_token;
	p->config = &p->dev_config;
	return 0;
}

/* --dev, once listening: where the console is and how to sign in (a person reads it). */
static void say_console(const struct process *p) {
	char where[PATH_MAX];
	const char *token = "the value of SMSROUTER_ADMIN_TOKEN";

	if (p->config->admin_token == p->dev_admin_token) {
		token = realpath(DEV_ADMIN_TOKEN_PATH, where) ? where : DEV_ADMIN_TOKEN_PATH;
	}
	fprintf(stderr,
			"Operator console: http://127.0.0.1:%d/sms-router/console/\n"
			"Sign in with the admin token in %s\n\n",
			http_server_port(p->server), token);
}

/* With SMSROUTER_EVENTS_URL, the events' delivery thread, told of each event this process
 * records. First of the threads that use the store, so that p->events is set before any
 * of them reads it. */
static int start_events(struct process *p, char *why, size_t size) {
	const struct config *c = p->config;
	if (!c->events_url && !c->operator_url) {
		return 0;
	}
	struct events_options eo = {
		.url = c->events_url,
		.operator_url = c->operator_url,
		.secret = c->agent_secret,
		.timeout_ms = 5000,
		.give_up_ms = 24 * 3600 * 1000LL,
	};
	if (events_start(&eo, p->store, &p->events) < 0) {
		snprintf(why, size, "cannot start the events delivery thread.");
		return -EIO;
	}
	store_events_on_record(p->store, notify_events, p);
	return 0;
}

/* With SMSROUTER_RETENTION_DAYS, the sweep's thread: at start, then hourly; batches of at
 * most 100 messages, made smaller while one holds the write lock longer than about 2 ms
 * (retention.c), each followed by a pause ten times as long as it took (at least 5 ms), so
 * that a webhook's write waits at most one short batch and the sweep holds the lock under a
 * tenth of the time (bench/retention.py). */
static int start_retention(struct process *p, char *why, size_t size) {
	if (p->config->retention_days <= 0) {
		return 0;
	}
	struct retention_options o = {
		.days = p->config->retention_days,
		.batch = 100,
		.interval_ms = 3600 * 1000,
		.pause_factor = 10,
		.pause_min_ms = 5,
	};
	if (retention_start(&o, p->store, &p->retention) < 0) {
		snprintf(why, size, "cannot start the retention sweep's thread.");
		return -EIO;
	}
	return 0;
}

/* The agent, the router (with its writer on SQLite) and, in rest mode, the outbox. */
static int build_core(struct process *p, char *why, size_t size) {
	const struct config *c = p->config;
	bool rest = c->reply_mode == CONFIG_REPLY_REST;
	struct router_options ro = {
		.sender_limit = c->sender_limit,
		.sender_window_s = c->sender_window_s,
		.global_limit = c->global_limit,
		.global_window_s = c->global_window_s,
		.unknown_limit = c->unknown_limit,
		.unknown_window_s = c->unknown_window_s,
		.smart_encoding = c->smart_encoding,
		.reply_max_segments = c->reply_max_segments,
		.daily_segment_budget = c->daily_segment_budget,
		.rest = rest,
		.whatsapp_from = c->whatsapp_from,
		.on_enqueue = notify_outbox,
		.on_enqueue_ctx = p,
		.operator = c->operator_url != NULL,
		.on_operator = notify_events,
		.on_operator_ctx = p,
	};
	struct agent_endpoint named[CONFIG_MAX_AGENTS];
	for (int i = 0; i < c->nagents; i++) {
		named[i] = (struct agent_endpoint){c->agents[i].name, c->agents[i].url,
			c->agents[i].secret, c->agents[i].timeout_ms};
	}
	struct agent_http_options ao = {
		.url = c->agent_url,
		.secret = c->agent_secret,
		.timeout_ms = c->agent_timeout_ms,
		.named = named,
		.nnamed = c->nagents,
		.canary = c->canary[0] ? c->canary : NULL,
		.canary_basis_points = c->canary_basis_points,
		/* Without an account SID nothing can fetch from Twilio: no links. */
		.media_links = c->account_sid ? &p->links : NULL,
	};
	if ((c->agent_url ? agent_http_create(&ao, p->store, &p->agent)
			  : agent_memo_create(p->store, &p->agent)) < 0 ||
			ratelimit_create(c->sender_limit, c->sender_window_s, &p->rl) < 0) {
		snprintf(why, size, "out of memory.");
		return -EIO;
	}
	int e = router_create(p->store, p->agent, p->rl, &ro, &p->router);
	if (e == 0) {
		struct proactive sp = {.config = c, .store = p->store};
		e = proactive_queue_start(&sp, notify_outbox, p, &p->sends);
	}
	if (e < 0) {
		snprintf(why, size, e == -ENOMEM ? "out of memory." : "cannot start the writer thread.");
		return -EIO;
	}
	/* Rest replies, or messages smsrouter starts itself, go through the Messages API. */
	if (rest || (c->account_sid && c->twilio_from)) {
		struct outbox_options oo = {
			.workers = c->delivery_workers,
			.send_rate = c->send_rate,
			.max_attempts = c->delivery_attempts,
			.agent_timeout_ms = c->agent_timeout_ms,
			.public_url = c->public_url,
			.whatsapp_from = c->whatsapp_from,
			.rest = {.api_base = c->api_base, .account_sid = c->account_sid,
				.auth_token = p->auth_token, .timeout_ms = 30000},
			.agent_stage = rest,
			.quiet = c->quiet_hours,
			.default_timezone = c->default_timezone,
			.daily_segment_budget = c->daily_segment_budget,
		};
		if (outbox_start(&oo, p->store, p->agent, p->router, &p->outbox) < 0) {
			snprintf(why, size, "cannot start the delivery workers.");
			return -EIO;
		}
	}
	return 0;
}

/* The origin of the links given to agents: SMSROUTER_PUBLIC_URL, else the listening
 * address (a wildcard one as loopback) and port (bound: port 0 is known once listening). */
static void links_origin(struct process *p, int bound_port) {
	const struct config *c = p->config;
	if (c->public_url) {
		media_links_set_origin(&p->links, c->public_url);
		return;
	}
	const char *colon = strrchr(c->listen, ':');
	int port = colon ? atoi(colon + 1) : 0;
	if (port == 0) {
		port = bound_port;
	}
	if (port == 0 || !colon) {
		return;
	}
	int hlen = (int)(colon - c->listen);
	const char *host = c->listen;
	if (strncmp(host, "0.0.0.0:", 8) == 0) {
		host = "127.0.0.1";
		hlen = 9;
	} else if (strncmp(host, "[::]:", 5) == 0) {
		host = "[::1]";
		hlen = 5;
	}
	char origin[MEDIA_LINK_ORIGIN_SIZE];
	snprintf(origin, sizeof(origin), "http://%.*s:%d", hlen, host, port);
	media_links_set_origin(&p->links, origin);
}

/* The media links' fetch loop (docs/media.md). */
static int start_media(struct process *p, char *why, size_t size) {
	const struct config *c = p->config;
	struct media_options mo = {
		.api_base = c->api_base,
		.account_sid = c->account_sid,
		.auth_token = p->auth_token,
		.key = &p->links.key,
		.max_fetches = 64,
		.connect_timeout_ms = 5000,
		.timeout_ms = 60000,
		.low_speed_time_s = 15,
		.max_bytes = MEDIA_MAX_BYTES,
	};
	if (media_start(&mo, p->store, &p->media) < 0) {
		snprintf(why, size, "cannot start the media fetch thread.");
		return -EIO;
	}
	return 0;
}

static int listen_http(struct process *p, char *why, size_t size) {
	const struct config *c = p->config;
	if (start_media(p, why, size) < 0) {
		return -EIO;
	}
	struct http_server_options ho = {
		.listen = c->listen,
		.threads = c->threads,
		.max_connections = c->max_connections,
		.connection_timeout_s = c->connection_timeout_s,
		.per_ip_connections = c->per_ip_connections,
	};
	p->webhook = (struct webhook){.config = c, .router = p->router, .auth_token = p->auth_token};
	p->admin = (struct admin){.config = c, .store = p->store, .sends = p->sends};
	build_routes(p);
	int r = http_server_start(&ho, &p->table, &p->server);
	if (r < 0) {
		snprintf(why, size, r == -EINVAL ? "cannot listen on %s: not an address:port."
						 : "cannot listen on %s: the address is in use or not ours.",
				c->listen);
		return -EIO;
	}
	links_origin(p, http_server_port(p->server));
	log_info("serve.listening", LOG_STR("listen", c->listen),
			LOG_INT("port", http_server_port(p->server)), LOG_INT("threads", c->threads),
			LOG_STR("admin_api", c->admin_token ? "on" : "off"),
			LOG_STR("agent", c->agent_url ? "http" : "memo"));
	return 0;
}

/* In-flight requests get their answers; agent calls past the grace period are cancelled
 * (their users get the apology), then the server stops. */
static void drain(struct process *p) {
	if (!http_server_quiesce(p->server, 15000)) {
		agent_shutdown(p->agent);
		http_server_quiesce(p->server, 2000);
	}
	outbox_stop(p->outbox);
	p->outbox = NULL;
	agent_shutdown(p->agent);
	media_stop(p->media); /* fetches still waiting get 503, streams still going are cut */
	http_server_stop(p->server); /* every request answered: the router has nothing left */
	p->server = NULL;
}

/* Frees what was built, last first. */
static void teardown(struct process *p) {
	media_stop(p->media);
	http_server_stop(p->server);
	media_destroy(p->media);
	p->media = NULL;
	retention_stop(p->retention);
	p->retention = NULL;
	outbox_stop(p->outbox);
	p->outbox = NULL;
	proactive_queue_stop(p->sends);
	p->sends = NULL;
	router_destroy(p->router);
	/* Last of the store's users: nothing records an event any more. */
	events_stop(p->events);
	p->events = NULL;
	ratelimit_destroy(p->rl);
	agent_destroy(p->agent);
	store_close(p->store);
}

int serve(const struct config *c, serve_open_store_fn open_store, char *reterr_message,
		size_t size) {
	struct process p = {.config = c, .auth_token = c->auth_token};
	int e;

	reterr_message[0] = '\0';
	/* Signals are taken by this thread alone (sigwait): blocked before any thread (the
	 * store's flusher, the router's writer, the agent's loop, the server's pool) starts
	 * and inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* config_load has refused the settings that do not go together (config.c). */
	if (!c->auth_token && use_dev_token(&p, reterr_message, size) < 0) {
		return -EIO;
	}
	if (c->dev && !c->admin_token) {
		if (use_dev_admin_token(&p, reterr_message, size) < 0) {
			return -EIO;
		}
		c = p.config;
		log_warn("serve.dev_admin_token", LOG_STR("token_file", DEV_ADMIN_TOKEN_PATH));
	}
	media_links_init(&p.links, p.auth_token, c->media_url_ttl_s);
	links_origin(&p, 0);
	if (c->reply_mode == CONFIG_REPLY_REST && !c->public_url) {
		log_warn("serve.no_status_callbacks",
				LOG_STR("reason", "SMSROUTER_PUBLIC_URL is unset: rest replies ask for no "
						  "status callbacks and are reconciled by listing"));
	}
	if (open_store(c, &p.store) != 0) {
		return -EIO;
	}
	e = start_events(&p, reterr_message, size);
	if (e == 0) {
		e = start_retention(&p, reterr_message, size);
	}
	if (e == 0) {
		e = build_core(&p, reterr_message, size);
	}
	if (e == 0) {
		e = listen_http(&p, reterr_message, size);
	}
	if (e == 0 && c->dev) {
		say_console(&p);
	}
	if (e == 0) {
		int sig = 0;
		sigwait(&set, &sig);
		log_info("serve.stopping", LOG_INT("signal", sig));
		drain(&p);
		log_info("serve.stopped");
	}
	teardown(&p);
	return e;
}
