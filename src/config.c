#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/http.h"

enum setting {
	S_LISTEN,
	S_DATABASE_URL,
	S_AUTH_TOKEN,
	S_AUTH_TOKEN_PREVIOUS,
	S_ACCOUNT_SID,
	S_API_BASE,
	S_PUBLIC_URL,
	S_TRUST_PROXY,
	S_ADMIN_TOKEN,
	S_AGENT_URL,
	S_AGENT_SECRET,
	S_AGENT_TIMEOUT_MS,
	S_REPLY_MODE,
	S_SEND_RATE,
	S_SENDER_LIMIT,
	S_SEGMENT_PRICE,
	S_CURRENCY,
	S_THREADS,
	S_LOG_FORMAT,
	S_LOG_LEVEL,
	S_MAX_CONNECTIONS,
	S_CONNECTION_TIMEOUT,
	S_SQLITE_SYNC,
	S_SMART_ENCODING,
	S_REPLY_MAX_SEGMENTS,
	S_DAILY_SEGMENT_BUDGET,
	S_GLOBAL_LIMIT,
	S_UNKNOWN_LIMIT,
	S_PER_IP_CONNECTIONS,
	S_DELIVERY_WORKERS,
	S_DELIVERY_ATTEMPTS,
	S_COUNT,
};

/* The settings table: environment variable, default (NULL: unset). The flag is the name
 * without "SMSROUTER_", lowercased, '_' → '-'. */
static const struct {
	const char *env;
	const char *def;
} settings[S_COUNT] = {
	[S_LISTEN] = {"SMSROUTER_LISTEN", "127.0.0.1:8000"},
	[S_DATABASE_URL] = {"SMSROUTER_DATABASE_URL", "sqlite:var/smsrouter.db"},
	[S_AUTH_TOKEN] = {"TWILIO_AUTH_TOKEN", NULL},
	[S_AUTH_TOKEN_PREVIOUS] = {"TWILIO_AUTH_TOKEN_PREVIOUS", NULL},
	[S_ACCOUNT_SID] = {"TWILIO_ACCOUNT_SID", NULL},
	[S_API_BASE] = {"TWILIO_API_BASE", "https://api.twilio.com"},
	[S_PUBLIC_URL] = {"SMSROUTER_PUBLIC_URL", NULL},
	[S_TRUST_PROXY] = {"SMSROUTER_TRUST_PROXY", "0"},
	[S_ADMIN_TOKEN] = {"SMSROUTER_ADMIN_TOKEN", NULL},
	[S_AGENT_URL] = {"SMSROUTER_AGENT_URL", NULL},
	[S_AGENT_SECRET] = {"SMSROUTER_AGENT_SECRET", NULL},
	[S_AGENT_TIMEOUT_MS] = {"SMSROUTER_AGENT_TIMEOUT_MS", "10000"},
	[S_REPLY_MODE] = {"SMSROUTER_REPLY_MODE", "twiml"},
	[S_SEND_RATE] = {"SMSROUTER_SEND_RATE", "1"},
	[S_SENDER_LIMIT] = {"SMSROUTER_SENDER_LIMIT", "30/min"},
	[S_SEGMENT_PRICE] = {"SMSROUTER_SEGMENT_PRICE", "0.0083"},
	[S_CURRENCY] = {"SMSROUTER_CURRENCY", "USD"},
	[S_THREADS] = {"SMSROUTER_THREADS", NULL},
	[S_LOG_FORMAT] = {"SMSROUTER_LOG_FORMAT", "json"},
	[S_LOG_LEVEL] = {"SMSROUTER_LOG_LEVEL", "info"},
	[S_MAX_CONNECTIONS] = {"SMSROUTER_MAX_CONNECTIONS", "1024"},
	[S_CONNECTION_TIMEOUT] = {"SMSROUTER_CONNECTION_TIMEOUT", "10"},
	[S_SQLITE_SYNC] = {"SMSROUTER_SQLITE_SYNC", "group"},
	[S_SMART_ENCODING] = {"SMSROUTER_SMART_ENCODING", "0"},
	[S_REPLY_MAX_SEGMENTS] = {"SMSROUTER_REPLY_MAX_SEGMENTS", "0"},
	[S_DAILY_SEGMENT_BUDGET] = {"SMSROUTER_DAILY_SEGMENT_BUDGET", "0"},
	[S_GLOBAL_LIMIT] = {"SMSROUTER_GLOBAL_LIMIT", "0"},
	[S_UNKNOWN_LIMIT] = {"SMSROUTER_UNKNOWN_LIMIT", "120/min"},
	[S_PER_IP_CONNECTIONS] = {"SMSROUTER_PER_IP_CONNECTIONS", "0"},
	[S_DELIVERY_WORKERS] = {"SMSROUTER_DELIVERY_WORKERS", "8"},
	[S_DELIVERY_ATTEMPTS] = {"SMSROUTER_DELIVERY_ATTEMPTS", "8"},
};

/* "SMSROUTER_DATABASE_URL" → "database-url"; "TWILIO_AUTH_TOKEN" → "twilio-auth-token". */
static void flag_name(const char *env, char *out, size_t size) {
	const char *p = strncmp(env, "SMSROUTER_", 10) == 0 ? env + 10 : env;
	size_t i = 0;
	for (; *p && i + 1 < size; p++, i++) {
		out[i] = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
	}
	out[i] = '\0';
}

static int parse_int(const char *s, long min, long max, int *ret) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

int config_parse_rate(const char *s, int *ret_count, int *ret_window_s) {
	if (strcmp(s, "0") == 0 || strcmp(s, "off") == 0) {
		*ret_count = 0;
		*ret_window_s = 1;
		return 0;
	}
	const char *slash = strchr(s, '/');
	if (!slash) {
		return -EINVAL;
	}
	char num[16];
	size_t n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(num)) {
		return -EINVAL;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	int count;
	if (parse_int(num, 0, 1000000000, &count) < 0) {
		return -EINVAL;
	}
	const char *unit = slash + 1;
	int window;
	if (strcmp(unit, "sec") == 0 || strcmp(unit, "s") == 0 || strcmp(unit, "second") == 0) {
		window = 1;
	} else if (strcmp(unit, "min") == 0 || strcmp(unit, "m") == 0 ||
			strcmp(unit, "minute") == 0) {
		window = 60;
	} else if (strcmp(unit, "hour") == 0 || strcmp(unit, "h") == 0) {
		window = 3600;
	} else {
		return -EINVAL;
	}
	*ret_count = count;
	*ret_window_s = window;
	return 0;
}

static bool parse_bool(const char *s, bool *ret) {
	if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*ret = true;
	} else if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") ||
			!strcmp(s, "off") || !*s) {
		*ret = false;
	} else {
		return false;
	}
	return true;
}

/* True if u is an http:// or https:// URL with a host, as libcurl reads it; bare: with no
 * path beyond "/", query or fragment either (a base that paths are appended to). */
static bool http_url(const char *u, bool bare) {
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL, *fragment = NULL;
	bool ok = h && curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
		  curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
		  curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0];
	if (ok && bare) {
		ok = (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
			     strcmp(path, "/") == 0) &&
		     u[strlen(u) - 1] != '/' &&
		     curl_url_get(h, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
		     curl_url_get(h, CURLUPART_FRAGMENT, &fragment, 0) != CURLUE_OK;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(query);
	curl_free(fragment);
	curl_url_cleanup(h);
	return ok;
}

/* Twilio's account SID: "AC" and 32 hex digits. */
static bool account_sid(const char *s) {
	if (strlen(s) != 34 || strncmp(s, "AC", 2) != 0) {
		return false;
	}
	for (int i = 2; i < 34; i++) {
		if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static int bad(char *err, size_t size, const char *env, const char *why) {
	snprintf(err, size, "%s %s.", env, why);
	return -EINVAL;
}

/* The setting whose flag is name (up to nlen bytes), or -1. */
static int flag_setting(const char *name, size_t nlen) {
	for (int s = 0; s < S_COUNT; s++) {
		char fname[64];
		flag_name(settings[s].env, fname, sizeof(fname));
		if (strlen(fname) == nlen && strncmp(fname, name, nlen) == 0) {
			return s;
		}
	}
	return -1;
}

int config_load(struct config *c, int *argc, char **argv, config_own_option_fn own, char *err,
		size_t err_size) {
	const char *val[S_COUNT];
	const char *command = NULL;
	bool dev = false;

	/* An empty variable is an unset one. */
	for (int i = 0; i < S_COUNT; i++) {
		const char *e = getenv(settings[i].env);
		val[i] = e && *e ? e : settings[i].def;
	}

	/* Flags win over the environment; consumed flags leave argv. The first argument left
	 * is the command; after it, the value of one of the command's own options is the
	 * command's (simulate --body --dev sends "--dev"), never a flag. */
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			/* No flags after "--": the rest goes to the command as it is. */
			while (++i < *argc) {
				argv[out++] = argv[i];
			}
			break;
		}
		if (command && own && own(command, a)) {
			argv[out++] = argv[i];
			if (i + 1 < *argc) {
				argv[out++] = argv[++i];
			}
			continue;
		}
		if (strcmp(a, "--dev") == 0) {
			dev = true;
			continue;
		}
		int s = -1;
		const char *eq = NULL;
		if (strncmp(a, "--", 2) == 0) {
			eq = strchr(a + 2, '=');
			s = flag_setting(a + 2, eq ? (size_t)(eq - (a + 2)) : strlen(a + 2));
		}
		if (s < 0) {
			if (!command) {
				command = a;
			}
			argv[out++] = argv[i];
			continue;
		}
		const char *v;
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < *argc) {
			v = argv[++i];
		} else {
			char fname[64];
			flag_name(settings[s].env, fname, sizeof(fname));
			snprintf(err, err_size, "--%s needs a value.", fname);
			return -EINVAL;
		}
		/* Empty means unset, as for the variable: --admin-token "" turns the admin API
		 * off rather than accepting an empty bearer token. */
		val[s] = *v ? v : settings[s].def;
	}
	*argc = out;
	argv[out] = NULL;

	memset(c, 0, sizeof(*c));
	c->dev = dev;
	c->listen = val[S_LISTEN];
	c->database_url = val[S_DATABASE_URL];
	c->auth_token = val[S_AUTH_TOKEN];
	c->auth_token_previous = val[S_AUTH_TOKEN_PREVIOUS];
	c->account_sid = val[S_ACCOUNT_SID];
	c->api_base = val[S_API_BASE];
	c->public_url = val[S_PUBLIC_URL];
	c->admin_token = val[S_ADMIN_TOKEN];
	c->agent_url = val[S_AGENT_URL];
	c->agent_secret = val[S_AGENT_SECRET];
	c->currency = val[S_CURRENCY];
	c->segment_price_text = val[S_SEGMENT_PRICE];

	if (http_parse_listen(c->listen, NULL, NULL) < 0) {
		return bad(err, err_size, "SMSROUTER_LISTEN",
				"must be address:port, such as 127.0.0.1:8000 or [::1]:8000");
	}
	const char *db = c->database_url;
	if (!(strncmp(db, "sqlite:", 7) == 0 && db[7]) && strncmp(db, "postgresql://", 13) != 0 &&
			strncmp(db, "postgres://", 11) != 0) {
		return bad(err, err_size, "SMSROUTER_DATABASE_URL",
				"must be sqlite:PATH or a postgresql:// URL");
	}
	if (!parse_bool(val[S_TRUST_PROXY], &c->trust_proxy)) {
		return bad(err, err_size, "SMSROUTER_TRUST_PROXY", "must be 0 or 1");
	}
	if (c->public_url && !http_url(c->public_url, true)) {
		return bad(err, err_size, "SMSROUTER_PUBLIC_URL",
				"must be scheme://host[:port], with no path or trailing slash");
	}
	if (c->agent_url && !http_url(c->agent_url, false)) {
		return bad(err, err_size, "SMSROUTER_AGENT_URL", "must be an http:// or https:// URL");
	}
	if (!http_url(c->api_base, true)) {
		return bad(err, err_size, "TWILIO_API_BASE",
				"must be scheme://host[:port], with no path or trailing slash");
	}
	if (c->account_sid && !account_sid(c->account_sid)) {
		return bad(err, err_size, "TWILIO_ACCOUNT_SID", "must be AC and 32 hex digits");
	}
	if (parse_int(val[S_AGENT_TIMEOUT_MS], 1, 600000, &c->agent_timeout_ms) < 0) {
		return bad(err, err_size, "SMSROUTER_AGENT_TIMEOUT_MS",
				"must be a number of milliseconds from 1 to 600000");
	}
	if (strcmp(val[S_REPLY_MODE], "twiml") == 0) {
		c->reply_mode = CONFIG_REPLY_TWIML;
	} else if (strcmp(val[S_REPLY_MODE], "rest") == 0) {
		c->reply_mode = CONFIG_REPLY_REST;
	} else {
		return bad(err, err_size, "SMSROUTER_REPLY_MODE", "must be twiml or rest");
	}
	char *end;
	c->send_rate = strtod(val[S_SEND_RATE], &end);
	if (end == val[S_SEND_RATE] || *end || !(c->send_rate > 0) || c->send_rate > 10000) {
		return bad(err, err_size, "SMSROUTER_SEND_RATE",
				"must be a positive number of segments per second");
	}
	if (config_parse_rate(val[S_SENDER_LIMIT], &c->sender_limit, &c->sender_window_s) < 0) {
		return bad(err, err_size, "SMSROUTER_SENDER_LIMIT",
				"must look like 30/min, 5/sec, 100/hour or 0");
	}
	if (sms_price_parse(val[S_SEGMENT_PRICE], &c->segment_price) < 0) {
		return bad(err, err_size, "SMSROUTER_SEGMENT_PRICE",
				"must be a decimal number such as 0.0083");
	}
	const char *cur = c->currency;
	if (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
		return bad(err, err_size, "SMSROUTER_CURRENCY",
				"must be an ISO 4217 code of three capital letters, such as USD or EUR");
	}
	if (val[S_THREADS]) {
		if (parse_int(val[S_THREADS], 1, 256, &c->threads) < 0) {
			return bad(err, err_size, "SMSROUTER_THREADS", "must be from 1 to 256");
		}
	} else {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = n > 0 ? (int)(n > 64 ? 64 : n) : 2;
	}
	if (strcmp(val[S_LOG_FORMAT], "json") == 0) {
		c->log_json = true;
	} else if (strcmp(val[S_LOG_FORMAT], "text") == 0) {
		c->log_json = false;
	} else {
		return bad(err, err_size, "SMSROUTER_LOG_FORMAT", "must be json or text");
	}
	if (log_level_parse(val[S_LOG_LEVEL], &c->log_level) < 0) {
		return bad(err, err_size, "SMSROUTER_LOG_LEVEL", "must be debug, info, warn or error");
	}
	if (parse_int(val[S_MAX_CONNECTIONS], 1, 100000, &c->max_connections) < 0) {
		return bad(err, err_size, "SMSROUTER_MAX_CONNECTIONS", "must be from 1 to 100000");
	}
	if (parse_int(val[S_CONNECTION_TIMEOUT], 1, 3600, &c->connection_timeout_s) < 0) {
		return bad(err, err_size, "SMSROUTER_CONNECTION_TIMEOUT",
				"must be a number of seconds from 1 to 3600");
	}
	if (strcmp(val[S_SQLITE_SYNC], "group") == 0) {
		c->sqlite_sync = CONFIG_SYNC_GROUP;
	} else if (strcmp(val[S_SQLITE_SYNC], "full") == 0) {
		c->sqlite_sync = CONFIG_SYNC_FULL;
	} else if (strcmp(val[S_SQLITE_SYNC], "normal") == 0) {
		c->sqlite_sync = CONFIG_SYNC_NORMAL;
	} else {
		return bad(err, err_size, "SMSROUTER_SQLITE_SYNC", "must be group, full or normal");
	}
	if (!parse_bool(val[S_SMART_ENCODING], &c->smart_encoding)) {
		return bad(err, err_size, "SMSROUTER_SMART_ENCODING", "must be 0 or 1");
	}
	if (parse_int(val[S_REPLY_MAX_SEGMENTS], 0, 100, &c->reply_max_segments) < 0) {
		return bad(err, err_size, "SMSROUTER_REPLY_MAX_SEGMENTS", "must be from 0 (off) to 100");
	}
	if (parse_int(val[S_DAILY_SEGMENT_BUDGET], 0, 1000000000, &c->daily_segment_budget) < 0) {
		return bad(err, err_size, "SMSROUTER_DAILY_SEGMENT_BUDGET",
				"must be a number of segments, 0 for no budget");
	}
	if (config_parse_rate(val[S_GLOBAL_LIMIT], &c->global_limit, &c->global_window_s) < 0) {
		return bad(err, err_size, "SMSROUTER_GLOBAL_LIMIT",
				"must look like 1000/sec, 5000/min or 0");
	}
	if (config_parse_rate(val[S_UNKNOWN_LIMIT], &c->unknown_limit, &c->unknown_window_s) < 0) {
		return bad(err, err_size, "SMSROUTER_UNKNOWN_LIMIT",
				"must look like 120/min, 10/sec or 0");
	}
	if (parse_int(val[S_PER_IP_CONNECTIONS], 0, 100000, &c->per_ip_connections) < 0) {
		return bad(err, err_size, "SMSROUTER_PER_IP_CONNECTIONS", "must be from 0 (off) to 100000");
	}
	if (parse_int(val[S_DELIVERY_WORKERS], 1, 64, &c->delivery_workers) < 0) {
		return bad(err, err_size, "SMSROUTER_DELIVERY_WORKERS", "must be from 1 to 64");
	}
	if (parse_int(val[S_DELIVERY_ATTEMPTS], 1, 100, &c->delivery_attempts) < 0) {
		return bad(err, err_size, "SMSROUTER_DELIVERY_ATTEMPTS", "must be from 1 to 100");
	}
	return 0;
}
