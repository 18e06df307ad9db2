#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "app.h"
#include "cli/command.h"
#include "http/http.h"
#include "ids.h"
#include "log.h"
#include "outbox.h"
#include "ratelimit.h"
#include "router.h"
#include "store/store.h"

#define DEV_TOKEN_PATH CLI__DEV_TOKEN_PATH
#define EXIT_FAIL CLI__EXIT_FAIL

static const char usage_text[] =
	"usage: smsrouter serve [--dev] [--listen ADDR] [--database-url URL]\n"
	"       smsrouter migrate\n"
	"       smsrouter user add NAME PHONE...\n"
	"       smsrouter user list | show ID|PHONE | rm ID\n"
	"       smsrouter phone add ID PHONE | rm PHONE\n"
	"       smsrouter import FILE.csv\n"
	"       smsrouter simulate --from PHONE --body TEXT [--url URL] [--to PHONE]\n"
	"       smsrouter usage [--since RFC3339]\n"
	"       smsrouter outbox list [--state STATE] | retry ID|--all\n";

/* The serve code below keeps the short names it has always had, until it moves to serve.c
 * (issue 12); the other commands are in cli/. */
static int usage_error(const char *msg) {
	return cli__usage_error(msg);
}

static int fail(const char *fmt, const char *arg) {
	return cli__fail(fmt, arg);
}

static int open_store(const struct config *c, struct store **ret) {
	return cli__open_store(c, ret);
}

/* ---- serve ---- */

static struct outbox *serving_outbox;

/* The router tells of queued messages; the outbox starts after the router. */
static void notify_outbox(void *ctx) {
	(void)ctx;
	struct outbox *ob = serving_outbox;
	if (ob) {
		outbox_notify(ob);
	}
}

/* The --dev token: kept under var/ so that simulate (and restarts) find it. */
static int dev_token(char *out, size_t size) {
	FILE *f = fopen(DEV_TOKEN_PATH, "r");
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
	int fd = open(DEV_TOKEN_PATH, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		return -EIO;
	}
	ssize_t w = write(fd, out, strlen(out));
	close(fd);
	return w == (ssize_t)strlen(out) ? 0 : -EIO;
}

static int cmd_serve(const struct config *c) {
	char token[64];
	struct store *s = NULL;
	struct agent *a = NULL;
	struct ratelimit *rl = NULL;
	struct router *router = NULL;
	struct http_server *srv = NULL;
	struct app app = {.config = c, .auth_token = c->auth_token};
	int code = EXIT_FAIL;

	/* Signals are taken by this thread alone (sigwait): blocked before any thread (the
	 * store's flusher, the agent's loop, the server's pool) starts and inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!c->auth_token) {
		if (!c->dev) {
			return usage_error("TWILIO_AUTH_TOKEN is not set; serve refuses to start "
					   "without it (use --dev for a local development token).");
		}
		if (dev_token(token, sizeof(token)) < 0) {
			return fail("cannot write the development token to %s.", DEV_TOKEN_PATH);
		}
		app.auth_token = token;
		fprintf(stderr,
				"\n*** DEVELOPMENT MODE ***\n"
				"Webhooks are checked against a local token in %s, not your Twilio "
				"auth token.\nNever expose this server to the internet. "
				"Try: build/smsrouter simulate --from +15550100101 --body recall\n\n",
				DEV_TOKEN_PATH);
		log_warn("serve.dev_mode", LOG_STR("token_file", DEV_TOKEN_PATH));
	}
	if (c->agent_url && !c->agent_secret) {
		return usage_error("SMSROUTER_AGENT_URL is set but SMSROUTER_AGENT_SECRET is not: "
				   "requests to the Agent Core must be signed.");
	}
	bool rest = c->reply_mode == CONFIG_REPLY_REST;
	if (rest && !c->account_sid) {
		return usage_error("SMSROUTER_REPLY_MODE=rest needs TWILIO_ACCOUNT_SID to send "
				   "through the Messages API.");
	}
	if (rest && !c->public_url) {
		log_warn("serve.no_status_callbacks",
				LOG_STR("reason", "SMSROUTER_PUBLIC_URL is unset: rest replies ask for no "
						  "status callbacks and are reconciled by listing"));
	}
	if (open_store(c, &s) != 0) {
		return EXIT_FAIL;
	}
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
		.on_enqueue = notify_outbox,
	};
	struct agent_http_options ao = {
		.url = c->agent_url,
		.secret = c->agent_secret,
		.timeout_ms = c->agent_timeout_ms,
	};
	if ((c->agent_url ? agent_http_create(&ao, s, &a) : agent_memo_create(s, &a)) < 0 ||
			ratelimit_create(c->sender_limit, c->sender_window_s, &rl) < 0 ||
			router_create(s, a, rl, &ro, &router) < 0) {
		fail("%s.", "out of memory");
		goto out;
	}
	app.store = s;
	app.router = router;
	/* SQLite writes one transaction at a time anyway: one thread writes the webhooks, a
	 * batch per transaction (writer.h). */
	if (store_single_writer(s) && router_batchable(router) &&
			writer_start(router, s, &app.writer) < 0) {
		fail("%s", "cannot start the writer thread.");
		goto out;
	}
	if (rest) {
		struct outbox_options oo = {
			.workers = c->delivery_workers,
			.send_rate = c->send_rate,
			.max_attempts = c->delivery_attempts,
			.agent_timeout_ms = c->agent_timeout_ms,
			.public_url = c->public_url,
			.rest = {.api_base = c->api_base, .account_sid = c->account_sid,
				.auth_token = app.auth_token, .timeout_ms = 30000},
		};
		if (outbox_start(&oo, s, a, router, &serving_outbox) < 0) {
			fail("%s", "cannot start the delivery workers.");
			goto out;
		}
	}


	struct http_server_options ho = {
		.listen = c->listen,
		.threads = c->threads,
		.max_connections = c->max_connections,
		.connection_timeout_s = c->connection_timeout_s,
		.per_ip_connections = c->per_ip_connections,
	};
	int r = http_server_start(&ho, &app, &srv);
	if (r < 0) {
		fail(r == -EINVAL ? "cannot listen on %s: not an address:port."
				  : "cannot listen on %s: the address is in use or not ours.",
				c->listen);
		goto out;
	}
	log_info("serve.listening", LOG_STR("listen", c->listen),
			LOG_INT("port", http_server_port(srv)), LOG_INT("threads", c->threads),
			LOG_STR("admin_api", c->admin_token ? "on" : "off"),
			LOG_STR("agent", c->agent_url ? "http" : "memo"));

	int sig = 0;
	sigwait(&set, &sig);
	log_info("serve.stopping", LOG_INT("signal", sig));
	/* In-flight requests get their answers; agent calls past the grace period are
	 * cancelled (their users get the apology), then the server stops. */
	if (!http_server_quiesce(srv, 15000)) {
		agent_shutdown(a);
		http_server_quiesce(srv, 2000);
	}
	outbox_stop(serving_outbox);
	serving_outbox = NULL;
	agent_shutdown(a);
	http_server_stop(srv);
	writer_stop(app.writer);
	app.writer = NULL;
	log_info("serve.stopped");
	code = 0;
out:
	outbox_stop(serving_outbox);
	serving_outbox = NULL;
	writer_stop(app.writer);
	router_destroy(router);
	ratelimit_destroy(rl);
	agent_destroy(a);
	store_close(s);
	return code;
}

bool cli_own_option(const char *command, const char *arg) {
	/* Every option that takes a value: keep in step with the parsers in cli/. */
	static const struct {
		const char *command;
		const char *option;
	} own[] = {
		{"simulate", "--from"}, {"simulate", "--body"}, {"simulate", "--url"},
		{"simulate", "--to"}, {"usage", "--since"}, {"outbox", "--state"},
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (strcmp(command, own[i].command) == 0 && strcmp(arg, own[i].option) == 0) {
			return true;
		}
	}
	return false;
}

int cli_main(const struct config *c, int argc, char **argv) {
	if (argc < 2) {
		return usage_error("a command is needed: serve, migrate, user, phone, import, simulate, "
				   "usage or outbox (smsrouter --help shows how to call each).");
	}
	const char *cmd = argv[1];
	int n = argc - 2;
	char **args = argv + 2;

	if (strcmp(cmd, "serve") == 0) {
		return n == 0 ? cmd_serve(c)
			      : usage_error("serve takes no arguments, only flags such as --dev, "
					    "--listen ADDR and --database-url URL.");
	}
	if (strcmp(cmd, "migrate") == 0) {
		return cli__migrate(c, n);
	}
	if (strcmp(cmd, "user") == 0) {
		return cli__user(c, n, args);
	}
	if (strcmp(cmd, "phone") == 0) {
		return cli__phone(c, n, args);
	}
	if (strcmp(cmd, "import") == 0) {
		return cli__import(c, n, args);
	}
	if (strcmp(cmd, "simulate") == 0) {
		return cli__simulate(c, n, args);
	}
	if (strcmp(cmd, "outbox") == 0) {
		return cli__outbox(c, n, args);
	}
	if (strcmp(cmd, "usage") == 0) {
		return cli__usage(c, n, args);
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	return usage_error("unknown command (smsrouter --help lists the commands).");
}
