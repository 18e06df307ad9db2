/* Tests of config_load: each setting's default, its bounds, the sentence a bad value gets,
 * a flag of the same name winning over the variable, and serve's checks across settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

extern char **environ;

/* No SMSROUTER_ or TWILIO_ variable from the environment the tests run in. */
static int clean_env(void **state) {
	(void)state;
	for (;;) {
		char name[256] = "";
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, "SMSROUTER_", 10) == 0 || strncmp(*e, "TWILIO_", 7) == 0) {
				snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
				break;
			}
		}
		if (!name[0]) {
			return 0;
		}
		unsetenv(name);
	}
}

/* config_load over the words of args (NULL-terminated, after "smsrouter"); err filled. */
static int load(struct config *c, char err[256], const char *const *args) {
	static char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"smsrouter";
	for (; *args; args++) {
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;
	err[0] = '\0';
	return config_load(c, &argc, argv, NULL, err, 256);
}

static void test_every_setting_has_its_documented_default(void **state) {
	(void)state;
	struct config c;
	char err[256];

	assert_int_equal(load(&c, err, (const char *[]){"user", "list", NULL}), 0);
	assert_string_equal(c.listen, "127.0.0.1:8000");
	assert_string_equal(c.database_url, "sqlite:var/smsrouter.db");
	assert_string_equal(c.api_base, "https://api.twilio.com");
	assert_null(c.auth_token);
	assert_null(c.auth_token_previous);
	assert_null(c.account_sid);
	assert_null(c.public_url);
	assert_null(c.admin_token);
	assert_null(c.agent_url);
	assert_null(c.events_url);
	assert_null(c.agent_secret);
	assert_false(c.trust_proxy);
	assert_int_equal(c.agent_timeout_ms, 10000);
	assert_int_equal(c.reply_mode, CONFIG_REPLY_TWIML);
	assert_true(c.send_rate == 1.0);
	assert_int_equal(c.sender_limit, 30);
	assert_int_equal(c.sender_window_s, 60);
	assert_string_equal(c.segment_price_text, "0.0083");
	assert_string_equal(c.currency, "USD");
	assert_in_range(c.threads, 1, 64);
	assert_true(c.log_json);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.max_connections, 1024);
	assert_int_equal(c.connection_timeout_s, 10);
	assert_int_equal(c.sqlite_sync, CONFIG_SYNC_GROUP);
	assert_false(c.smart_encoding);
	assert_int_equal(c.reply_max_segments, 0);
	assert_int_equal(c.daily_segment_budget, 0);
	assert_int_equal(c.global_limit, 0);
	assert_int_equal(c.unknown_limit, 120);
	assert_int_equal(c.unknown_window_s, 60);
	assert_int_equal(c.per_ip_connections, 0);
	assert_int_equal(c.delivery_workers, 8);
	assert_int_equal(c.delivery_attempts, 8);
	assert_false(c.dev);
	assert_false(c.quiet_hours.off);
	assert_int_equal(c.quiet_hours.start_min, 21 * 60);
	assert_int_equal(c.quiet_hours.end_min, 8 * 60);
	assert_string_equal(c.default_timezone, "UTC");
	assert_int_equal(c.media_url_ttl_s, 3600);
}

/* The sentences of the two quiet-hours settings, checked whole below. */
static const char quiet_why[] = "SMSROUTER_QUIET_HOURS must be HH:MM-HH:MM in 24-hour time with "
				"a different start and end, such as 21:00-08:00, or off.";
static const char zone_why[] = "SMSROUTER_DEFAULT_TIMEZONE must be an IANA time-zone name, such "
			       "as UTC or America/New_York.";

static void test_bounds_are_inclusive_and_one_past_is_refused(void **state) {
	(void)state;
	static const struct {
		const char *env;
		const char *value;
		bool ok;
	} cases[] = {
		{"SMSROUTER_AGENT_TIMEOUT_MS", "1", true},
		{"SMSROUTER_AGENT_TIMEOUT_MS", "600000", true},
		{"SMSROUTER_AGENT_TIMEOUT_MS", "0", false},
		{"SMSROUTER_AGENT_TIMEOUT_MS", "600001", false},
		{"SMSROUTER_AGENT_TIMEOUT_MS", "10s", false},
		{"SMSROUTER_THREADS", "256", true},
		{"SMSROUTER_THREADS", "257", false},
		{"SMSROUTER_THREADS", "0", false},
		{"SMSROUTER_MAX_CONNECTIONS", "100000", true},
		{"SMSROUTER_MAX_CONNECTIONS", "100001", false},
		{"SMSROUTER_CONNECTION_TIMEOUT", "3600", true},
		{"SMSROUTER_CONNECTION_TIMEOUT", "3601", false},
		{"SMSROUTER_REPLY_MAX_SEGMENTS", "100", true},
		{"SMSROUTER_REPLY_MAX_SEGMENTS", "101", false},
		{"SMSROUTER_REPLY_MAX_SEGMENTS", "-1", false},
		{"SMSROUTER_DAILY_SEGMENT_BUDGET", "1000000000", true},
		{"SMSROUTER_DAILY_SEGMENT_BUDGET", "1000000001", false},
		{"SMSROUTER_PER_IP_CONNECTIONS", "100000", true},
		{"SMSROUTER_PER_IP_CONNECTIONS", "100001", false},
		{"SMSROUTER_DELIVERY_WORKERS", "64", true},
		{"SMSROUTER_DELIVERY_WORKERS", "65", false},
		{"SMSROUTER_DELIVERY_ATTEMPTS", "100", true},
		{"SMSROUTER_DELIVERY_ATTEMPTS", "101", false},
		{"SMSROUTER_SEND_RATE", "10000", true},
		{"SMSROUTER_SEND_RATE", "0.5", true},
		{"SMSROUTER_SEND_RATE", "10000.5", false},
		{"SMSROUTER_SEND_RATE", "0", false},
		{"SMSROUTER_SENDER_LIMIT", "5/sec", true},
		{"SMSROUTER_SENDER_LIMIT", "off", true},
		{"SMSROUTER_SENDER_LIMIT", "5/day", false},
		{"SMSROUTER_CURRENCY", "EUR", true},
		{"SMSROUTER_CURRENCY", "eur", false},
		{"SMSROUTER_TRUST_PROXY", "yes", true},
		{"SMSROUTER_TRUST_PROXY", "2", false},
		{"SMSROUTER_SQLITE_SYNC", "normal", true},
		{"SMSROUTER_SQLITE_SYNC", "fast", false},
		{"SMSROUTER_PUBLIC_URL", "https://sms.example.com:8443", true},
		{"SMSROUTER_PUBLIC_URL", "https://sms.example.com/", false},
		{"TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789ABCDEF", true},
		{"TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789ABCDE", false},
		{"SMSROUTER_DATABASE_URL", "postgresql://db/smsrouter", true},
		{"SMSROUTER_DATABASE_URL", "mysql://db", false},
		{"SMSROUTER_QUIET_HOURS", "00:00-23:59", true},
		{"SMSROUTER_QUIET_HOURS", "23:59-00:00", true},
		{"SMSROUTER_QUIET_HOURS", "23:59-24:00", false},
		{"SMSROUTER_QUIET_HOURS", "25:00-08:00", false},
		{"SMSROUTER_QUIET_HOURS", "21:00", false},
		{"SMSROUTER_QUIET_HOURS", "08:00-08:00", false},
		{"SMSROUTER_DEFAULT_TIMEZONE", "Asia/Kathmandu", true},
		{"SMSROUTER_DEFAULT_TIMEZONE", "Mars/Olympus", false},
		{"SMSROUTER_DEFAULT_TIMEZONE", "GMT+5", false},
		{"SMSROUTER_MEDIA_URL_TTL", "60", true},
		{"SMSROUTER_MEDIA_URL_TTL", "604800", true},
		{"SMSROUTER_MEDIA_URL_TTL", "59", false},
		{"SMSROUTER_MEDIA_URL_TTL", "604801", false},
		{"SMSROUTER_MEDIA_URL_TTL", "0", false},
		{"SMSROUTER_MEDIA_URL_TTL", "1h", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char err[256];

		clean_env(NULL);
		setenv(cases[i].env, cases[i].value, 1);
		int r = load(&c, err, (const char *[]){"user", "list", NULL});
		const char *whole = strcmp(cases[i].env, "SMSROUTER_QUIET_HOURS") == 0 ? quiet_why
				    : strcmp(cases[i].env, "SMSROUTER_DEFAULT_TIMEZONE") == 0
						    ? zone_why
						    : NULL;
		if ((r == 0) != cases[i].ok ||
				(r < 0 && strncmp(err, cases[i].env, strlen(cases[i].env)) != 0) ||
				(r < 0 && whole && strcmp(err, whole) != 0)) {
			fail_msg("%s=%s: %d (%s)", cases[i].env, cases[i].value, r, err);
		}
	}
}

static void test_a_bad_value_gets_one_sentence_naming_the_variable(void **state) {
	(void)state;
	struct config c;
	char err[256];

	setenv("SMSROUTER_AGENT_TIMEOUT_MS", "0", 1);
	assert_int_equal(load(&c, err, (const char *[]){"migrate", NULL}), -EINVAL);
	assert_string_equal(err, "SMSROUTER_AGENT_TIMEOUT_MS must be a number of milliseconds "
				 "from 1 to 600000.");
	/* A bad flag is named by its variable too. */
	assert_int_equal(load(&c, err, (const char *[]){"migrate", "--agent-timeout-ms", "5",
					      "--log-level", "loud", NULL}),
			-EINVAL);
	assert_string_equal(err, "SMSROUTER_LOG_LEVEL must be debug, info, warn or error.");
	assert_int_equal(load(&c, err, (const char *[]){"migrate", "--listen", NULL}), -EINVAL);
	assert_string_equal(err, "--listen needs a value.");
}

static void test_quiet_hours_and_default_timezone_are_read(void **state) {
	(void)state;
	struct config c;
	char err[256];

	setenv("SMSROUTER_QUIET_HOURS", "22:30-07:15", 1);
	setenv("SMSROUTER_DEFAULT_TIMEZONE", "America/New_York", 1);
	assert_int_equal(load(&c, err, (const char *[]){"user", "list", NULL}), 0);
	assert_false(c.quiet_hours.off);
	assert_int_equal(c.quiet_hours.start_min, 22 * 60 + 30);
	assert_int_equal(c.quiet_hours.end_min, 7 * 60 + 15);
	assert_string_equal(c.default_timezone, "America/New_York");
	assert_int_equal(load(&c, err, (const char *[]){"--quiet-hours", "off",
					      "--default-timezone", "Australia/Lord_Howe", "usage",
					      NULL}),
			0);
	assert_true(c.quiet_hours.off);
	assert_string_equal(c.default_timezone, "Australia/Lord_Howe");
}

static void test_a_flag_wins_over_the_variable_and_leaves_argv(void **state) {
	(void)state;
	struct config c;
	char err[256];
	char *argv[] = {(char *)"smsrouter", (char *)"--listen", (char *)"127.0.0.1:2",
		(char *)"user", (char *)"--sender-limit=5/sec", (char *)"list",
		(char *)"--twilio-auth-token", (char *)"flag-token", NULL};
	int argc = 8;

	setenv("SMSROUTER_LISTEN", "127.0.0.1:1", 1);
	setenv("SMSROUTER_SENDER_LIMIT", "9/hour", 1);
	setenv("TWILIO_AUTH_TOKEN", "env-token", 1);
	setenv("SMSROUTER_THREADS", "3", 1);
	assert_int_equal(config_load(&c, &argc, argv, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:2");
	assert_int_equal(c.sender_limit, 5);
	assert_int_equal(c.sender_window_s, 1);
	assert_string_equal(c.auth_token, "flag-token");
	assert_int_equal(c.threads, 3); /* no flag: the variable */
	assert_int_equal(argc, 3);
	assert_string_equal(argv[1], "user");
	assert_string_equal(argv[2], "list");
	assert_null(argv[3]);
}

static void test_an_empty_flag_unsets_what_the_variable_set(void **state) {
	(void)state;
	struct config c;
	char err[256];

	setenv("SMSROUTER_ADMIN_TOKEN", "admin", 1);
	setenv("SMSROUTER_LISTEN", "127.0.0.1:1", 1);
	assert_int_equal(load(&c, err, (const char *[]){"--admin-token", "", "--listen=", "usage",
					      NULL}),
			0);
	assert_null(c.admin_token);
	assert_string_equal(c.listen, "127.0.0.1:8000");
}

static bool simulate_option(const char *command, const char *arg) {
	return strcmp(command, "simulate") == 0 && strcmp(arg, "--body") == 0;
}

static void test_a_commands_own_option_and_what_follows_dashes_are_not_flags(void **state) {
	(void)state;
	struct config c;
	char err[256];
	char *argv[] = {(char *)"smsrouter", (char *)"simulate", (char *)"--body", (char *)"--dev",
		(char *)"--", (char *)"--listen", NULL};
	int argc = 6;

	assert_int_equal(config_load(&c, &argc, argv, simulate_option, err, sizeof(err)), 0);
	assert_false(c.dev);
	assert_string_equal(c.listen, "127.0.0.1:8000");
	assert_int_equal(argc, 5);
	assert_string_equal(argv[2], "--body");
	assert_string_equal(argv[3], "--dev");
	assert_string_equal(argv[4], "--listen");
}

static void test_serve_refuses_settings_that_do_not_go_together(void **state) {
	(void)state;
	struct config c;
	char err[256];

	assert_int_equal(load(&c, err, (const char *[]){"serve", NULL}), -EINVAL);
	assert_string_equal(err, "TWILIO_AUTH_TOKEN is not set; serve refuses to start without it "
				 "(use --dev for a local development token).");
	assert_int_equal(load(&c, err, (const char *[]){"serve", "--dev", NULL}), 0);
	assert_true(c.dev);
	/* The other commands need no token. */
	assert_int_equal(load(&c, err, (const char *[]){"user", "list", NULL}), 0);

	setenv("TWILIO_AUTH_TOKEN", "t", 1);
	setenv("SMSROUTER_AGENT_URL", "http://127.0.0.1:9/agent", 1);
	assert_int_equal(load(&c, err, (const char *[]){"serve", NULL}), -EINVAL);
	assert_string_equal(err, "SMSROUTER_AGENT_URL is set but SMSROUTER_AGENT_SECRET is not: "
				 "requests to the Agent Core must be signed.");
	unsetenv("SMSROUTER_AGENT_URL");
	setenv("SMSROUTER_EVENTS_URL", "http://127.0.0.1:9/events", 1);
	assert_int_equal(load(&c, err, (const char *[]){"serve", NULL}), -EINVAL);
	assert_string_equal(err, "SMSROUTER_EVENTS_URL is set but SMSROUTER_AGENT_SECRET is not: "
				 "events must be signed.");
	setenv("SMSROUTER_AGENT_URL", "http://127.0.0.1:9/agent", 1);
	setenv("SMSROUTER_AGENT_SECRET", "s", 1);
	assert_int_equal(load(&c, err, (const char *[]){"serve", NULL}), 0);
	assert_string_equal(c.events_url, "http://127.0.0.1:9/events");
	setenv("SMSROUTER_EVENTS_URL", "ftp://127.0.0.1/events", 1);
	assert_int_equal(load(&c, err, (const char *[]){"serve", NULL}), -EINVAL);
	assert_string_equal(err, "SMSROUTER_EVENTS_URL must be an http:// or https:// URL.");
	unsetenv("SMSROUTER_EVENTS_URL");

	setenv("SMSROUTER_REPLY_MODE", "rest", 1);
	assert_int_equal(load(&c, err, (const char *[]){"serve", NULL}), -EINVAL);
	assert_string_equal(err, "SMSROUTER_REPLY_MODE=rest needs TWILIO_ACCOUNT_SID to send "
				 "through the Messages API.");
	assert_int_equal(load(&c, err, (const char *[]){"--twilio-account-sid",
					      "AC00000000000000000000000000000000", "serve", NULL}),
			0);
	assert_int_equal(c.reply_mode, CONFIG_REPLY_REST);
}

/* Named agents, the canary and the operator URL: read, and each refusal one sentence. */
static void test_named_agents_canary_and_operator_url(void **state) {
	(void)state;
	struct config c;
	char err[256];
	const char *const serve[] = {"serve", NULL};

	setenv("TWILIO_AUTH_TOKEN", "t", 1);
	setenv("SMSROUTER_AGENT_URL", "http://127.0.0.1:9/agent", 1);
	setenv("SMSROUTER_AGENT_SECRET", "s", 1);
	setenv("SMSROUTER_AGENT_TIMEOUT_MS", "2000", 1);
	setenv("SMSROUTER_AGENTS", "beta-2=http://127.0.0.1:10/a,gamma=https://example.com/b", 1);
	setenv("SMSROUTER_AGENT_SECRET_BETA_2", "sb", 1);
	setenv("SMSROUTER_AGENT_SECRET_GAMMA", "sg", 1);
	setenv("SMSROUTER_AGENT_TIMEOUT_MS_GAMMA", "500", 1);
	setenv("SMSROUTER_AGENT_CANARY", "beta-2:12.5", 1);
	setenv("SMSROUTER_OPERATOR_URL", "http://127.0.0.1:11/operator", 1);
	assert_int_equal(load(&c, err, serve), 0);
	assert_int_equal(c.nagents, 2);
	assert_string_equal(c.agents[0].name, "beta-2");
	assert_string_equal(c.agents[0].url, "http://127.0.0.1:10/a");
	assert_string_equal(c.agents[0].secret, "sb");
	assert_int_equal(c.agents[0].timeout_ms, 2000);
	assert_string_equal(c.agents[1].name, "gamma");
	assert_int_equal(c.agents[1].timeout_ms, 500);
	assert_string_equal(c.canary, "beta-2");
	assert_int_equal(c.canary_basis_points, 1250);
	assert_string_equal(c.operator_url, "http://127.0.0.1:11/operator");
	assert_true(config_agent_known(&c, "default"));
	assert_true(config_agent_known(&c, "gamma"));
	assert_false(config_agent_known(&c, "delta"));

	/* Bad values: refused by every command. */
	static const struct {
		const char *env, *value, *err;
	} bad[] = {
		{"SMSROUTER_AGENT_CANARY", "x:150",
			"SMSROUTER_AGENT_CANARY must be NAME:PERCENT with a percent from 0 to 100, "
			"such as beta:10."},
		{"SMSROUTER_AGENT_CANARY", "beta-2", NULL},
		{"SMSROUTER_AGENT_CANARY", "beta-2:-1", NULL},
		{"SMSROUTER_AGENT_CANARY", "beta-2:1.234", NULL},
		{"SMSROUTER_AGENT_CANARY", "Beta:5", NULL},
		{"SMSROUTER_AGENTS", "beta-2=ftp://127.0.0.1/a", NULL},
		{"SMSROUTER_AGENTS", "beta-2=http://127.0.0.1/a,beta-2=http://127.0.0.1/b", NULL},
		{"SMSROUTER_AGENTS", "default=http://127.0.0.1/a", NULL},
		{"SMSROUTER_AGENTS", "Beta=http://127.0.0.1/a", NULL},
		{"SMSROUTER_AGENTS", "beta-2", NULL},
		{"SMSROUTER_AGENTS", "beta-2=http://127.0.0.1/a,", NULL},
		{"SMSROUTER_AGENT_TIMEOUT_MS_BETA_2", "0",
			"SMSROUTER_AGENTS must be name=URL,name=URL with names of 1 to 32 of a-z, "
			"0-9, - and _ (not default, none twice), http(s) URLs and each "
			"SMSROUTER_AGENT_TIMEOUT_MS_<NAME> from 1 to 600000."},
		{"SMSROUTER_OPERATOR_URL", "file:///etc/passwd",
			"SMSROUTER_OPERATOR_URL must be an http:// or https:// URL."},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *was = getenv(bad[i].env) ? strdup(getenv(bad[i].env)) : NULL;
		setenv(bad[i].env, bad[i].value, 1);
		int r = load(&c, err, (const char *[]){"user", "list", NULL});
		if (r != -EINVAL || err[strlen(err) - 1] != '.' ||
				(bad[i].err ? strcmp(err, bad[i].err) != 0
					    : strncmp(err, bad[i].env, strlen(bad[i].env)) != 0)) {
			fail_msg("%s=%s gave %d \"%s\"", bad[i].env, bad[i].value, r, err);
		}
		if (was) {
			setenv(bad[i].env, was, 1);
			free(was);
		} else {
			unsetenv(bad[i].env);
		}
	}

	/* Serve's refusals: a missing secret, an unknown canary, no default Agent Core. */
	unsetenv("SMSROUTER_AGENT_SECRET_BETA_2");
	assert_int_equal(load(&c, err, serve), -EINVAL);
	assert_string_equal(err, "SMSROUTER_AGENT_SECRET_BETA_2 is not set: requests to agent "
				 "beta-2 must be signed.");
	assert_int_equal(load(&c, err, (const char *[]){"user", "list", NULL}), 0);
	setenv("SMSROUTER_AGENT_SECRET_BETA_2", "sb", 1);
	setenv("SMSROUTER_AGENT_CANARY", "delta:5", 1);
	assert_int_equal(load(&c, err, serve), -EINVAL);
	assert_string_equal(err, "SMSROUTER_AGENT_CANARY names agent delta, which is neither "
				 "default nor one of SMSROUTER_AGENTS.");
	setenv("SMSROUTER_AGENT_CANARY", "default:100", 1);
	assert_int_equal(load(&c, err, serve), 0);
	assert_int_equal(c.canary_basis_points, 10000);
	unsetenv("SMSROUTER_AGENT_URL");
	assert_int_equal(load(&c, err, serve), -EINVAL);
	assert_string_equal(err, "SMSROUTER_AGENTS is set but SMSROUTER_AGENT_URL is not: the "
				 "agent named default must be an Agent Core too.");
	setenv("SMSROUTER_AGENT_URL", "http://127.0.0.1:9/agent", 1);
	unsetenv("SMSROUTER_AGENT_SECRET");
	unsetenv("SMSROUTER_AGENTS");
	unsetenv("SMSROUTER_AGENT_CANARY");
	unsetenv("SMSROUTER_AGENT_URL");
	assert_int_equal(load(&c, err, serve), -EINVAL);
	assert_string_equal(err, "SMSROUTER_OPERATOR_URL is set but SMSROUTER_AGENT_SECRET is not: "
				 "messages to operators must be signed.");
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_setting_has_its_documented_default, clean_env),
		cmocka_unit_test_setup(test_bounds_are_inclusive_and_one_past_is_refused, clean_env),
		cmocka_unit_test_setup(test_a_bad_value_gets_one_sentence_naming_the_variable,
				clean_env),
		cmocka_unit_test_setup(test_quiet_hours_and_default_timezone_are_read, clean_env),
		cmocka_unit_test_setup(test_a_flag_wins_over_the_variable_and_leaves_argv, clean_env),
		cmocka_unit_test_setup(test_an_empty_flag_unsets_what_the_variable_set, clean_env),
		cmocka_unit_test_setup(
				test_a_commands_own_option_and_what_follows_dashes_are_not_flags,
				clean_env),
		cmocka_unit_test_setup(test_serve_refuses_settings_that_do_not_go_together, clean_env),
		cmocka_unit_test_setup(test_named_agents_canary_and_operator_url, clean_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
