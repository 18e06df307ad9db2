#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/http.h"
#include "phone.h"

struct setting;

/* Reads v (the setting's value; NULL only for a setting whose default is unset) into c.
 * 0, or -EINVAL: then the error is "<env> <why>.". */
typedef int (*setting_parse_fn)(const struct setting *s, const char *v, struct config *c);

struct choice {
	const char *word;
	int value;
};

/* One setting: its environment variable (the flag is the name without "SMSROUTER_",
 * lowercased, '_' → '-'), its default (NULL: unset), how it is read and where it goes. */
struct setting {
	const char *env;
	const char *def;
	setting_parse_fn parse;
	size_t field;                 /* offsetof(struct config, …) */
	size_t size;                  /* sizeof that field */
	size_t field2;                /* a rate's window, a price's text */
	long min, max;                /* a number's bounds */
	const struct choice *choices; /* a word's, ending with {NULL} */
	const char *why;              /* the end of the error sentence */
};

#define FIELD(f) .field = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
#define FIELD2(f) .field2 = offsetof(struct config, f)

/* choice fields are written as int: the enums are int-sized. */
_Static_assert(sizeof(enum config_reply_mode) == sizeof(int), "int-sized enum");
_Static_assert(sizeof(enum config_sqlite_sync) == sizeof(int), "int-sized enum");

static void *at(struct config *c, size_t field) {
	return (char *)c + field;
}

/* ---- parsers ---- */

static int parse_long(const char *s, long min, long max, long *ret) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int config_parse_rate(const char *s, int *ret_count, int *ret_window_s) {
	static const struct choice units[] = {{"sec", 1}, {"s", 1}, {"second", 1}, {"min", 60},
		{"m", 60}, {"minute", 60}, {"hour", 3600}, {"h", 3600}, {NULL, 0}};
	if (strcmp(s, "0") == 0 || strcmp(s, "off") == 0) {
		*ret_count = 0;
		*ret_window_s = 1;
		return 0;
	}
	const char *slash = strchr(s, '/');
	char num[16];
	size_t n = slash ? (size_t)(slash - s) : 0;
	long count;
	if (n == 0 || n >= sizeof(num)) {
		return -EINVAL;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_long(num, 0, 1000000000, &count) < 0) {
		return -EINVAL;
	}
	for (const struct choice *u = units; u->word; u++) {
		if (strcmp(slash + 1, u->word) == 0) {
			*ret_count = (int)count;
			*ret_window_s = u->value;
			return 0;
		}
	}
	return -EINVAL;
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

/* A string setting whose value, when set, passes ok. */
static int keep_if(const struct setting *s, const char *v, struct config *c, bool ok) {
	if (v && !ok) {
		return -EINVAL;
	}
	*(const char **)at(c, s->field) = v;
	return 0;
}

static int parse_string(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, true);
}

static int parse_listen(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, http_parse_listen(v, NULL, NULL) == 0);
}

static int parse_database_url(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c,
			(strncmp(v, "sqlite:", 7) == 0 && v[7]) ||
					strncmp(v, "postgresql://", 13) == 0 ||
					strncmp(v, "postgres://", 11) == 0);
}

static int parse_base_url(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, v && http_url(v, true));
}

static int parse_url(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, v && http_url(v, false));
}

/* A Twilio SID: prefix and 32 hex digits. */
static bool sid_of(const char *v, const char *prefix) {
	bool ok = v && strlen(v) == 34 && strncmp(v, prefix, 2) == 0;
	for (int i = 2; ok && i < 34; i++) {
		ok = isxdigit((unsigned char)v[i]);
	}
	return ok;
}

/* Twilio's account SID: "AC" and 32 hex digits. */
static int parse_account_sid(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, sid_of(v, "AC"));
}

/* The sender of messages smsrouter starts itself: an E.164 number or a Messaging Service
 * SID. */
static int parse_twilio_from(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, v && (phone_is_valid(v) || sid_of(v, "MG")));
}

/* An E.164 number. */
static int parse_phone(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, phone_is_valid(v));
}

/* An ISO 4217 code: three capital letters. */
static int parse_currency(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, strlen(v) == 3 && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3);
}

static int parse_int(const struct setting *s, const char *v, struct config *c) {
	long n;
	if (parse_long(v, s->min, s->max, &n) < 0) {
		return -EINVAL;
	}
	*(int *)at(c, s->field) = (int)n;
	return 0;
}

/* Unset: the cores online, at most 64. */
static int parse_threads(const struct setting *s, const char *v, struct config *c) {
	if (v) {
		return parse_int(s, v, c);
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = n > 0 ? (int)(n > 64 ? 64 : n) : 2;
	return 0;
}

/* One of the row's words, into an int-sized enum or a bool. */
static int parse_choice(const struct setting *s, const char *v, struct config *c) {
	for (const struct choice *ch = s->choices; ch->word; ch++) {
		if (strcmp(v, ch->word) == 0) {
			if (s->size == sizeof(bool)) {
				*(bool *)at(c, s->field) = ch->value != 0;
			} else {
				*(int *)at(c, s->field) = ch->value;
			}
			return 0;
		}
	}
	return -EINVAL;
}

static const struct choice booleans[] = {{"1", 1}, {"true", 1}, {"yes", 1}, {"on", 1}, {"0", 0},
	{"false", 0}, {"no", 0}, {"off", 0}, {"", 0}, {NULL, 0}};

static int parse_log_level(const struct setting *s, const char *v, struct config *c) {
	return log_level_parse(v, (enum log_level *)at(c, s->field));
}

/* A number of segments per second, above 0 and at most max. */
static int parse_send_rate(const struct setting *s, const char *v, struct config *c) {
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || !(d > 0) || d > (double)s->max) {
		return -EINVAL;
	}
	*(double *)at(c, s->field) = d;
	return 0;
}

/* "30/min" into the count (field) and the window in seconds (field2). */
static int parse_rate(const struct setting *s, const char *v, struct config *c) {
	return config_parse_rate(v, (int *)at(c, s->field), (int *)at(c, s->field2));
}

/* A rate that may also be counted per day ("10/day"), as the proactive limit is. */
static int parse_daily_rate(const struct setting *s, const char *v, struct config *c) {
	const char *slash = strchr(v, '/');
	if (!slash || (strcmp(slash, "/day") != 0 && strcmp(slash, "/d") != 0)) {
		return parse_rate(s, v, c);
	}
	char hourly[32];
	snprintf(hourly, sizeof(hourly), "%.*s/hour", (int)(slash - v), v);
	int r = parse_rate(s, hourly, c);
	if (r == 0) {
		*(int *)at(c, s->field2) = 86400;
	}
	return r;
}

/* A decimal price (field), its text kept too (field2). */
static int parse_price(const struct setting *s, const char *v, struct config *c) {
	if (sms_price_parse(v, (struct sms_price *)at(c, s->field)) < 0) {
		return -EINVAL;
	}
	*(const char **)at(c, s->field2) = v;
	return 0;
}

static int parse_quiet_hours(const struct setting *s, const char *v, struct config *c) {
	return tz_quiet_parse(v, (struct tz_quiet *)at(c, s->field));
}

static int parse_timezone(const struct setting *s, const char *v, struct config *c) {
	return keep_if(s, v, c, tz_zone_exists(v));
}

/* An agent's name: 1 to 32 of a-z, 0-9, '-' and '_' (the store's rule too). */
static bool agent_name_ok(const char *name, size_t len) {
	size_t ok = 0;
	while (ok < len && strchr("abcdefghijklmnopqrstuvwxyz0123456789-_", name[ok]) && name[ok]) {
		ok++;
	}
	return len >= 1 && len < CONFIG_AGENT_NAME_SIZE && ok == len;
}

bool config_agent_known(const struct config *c, const char *name) {
	if (strcmp(name, "default") == 0) {
		return true;
	}
	for (int i = 0; i < c->nagents; i++) {
		if (strcmp(c->agents[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

#define AGENT_ENV_SIZE 96

/* prefix and name upper-cased, '-' → '_' (SMSROUTER_AGENT_SECRET_BETA_2). */
static void agent_env_name(const char *prefix, const char *name, char env[AGENT_ENV_SIZE]) {
	size_t n = (size_t)snprintf(env, AGENT_ENV_SIZE, "%s", prefix);
	for (; *name && n + 1 < AGENT_ENV_SIZE; name++) {
		env[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
	}
	env[n] = '\0';
}

/* The value of agent_env_name's variable, or NULL when unset or empty. */
static const char *agent_env(const char *prefix, const char *name) {
	char env[AGENT_ENV_SIZE];
	agent_env_name(prefix, name, env);
	const char *v = getenv(env);
	return v && *v ? v : NULL;
}

/* SMSROUTER_AGENTS: name=URL,name=URL; each one's secret and timeout from its own
 * variables (a missing secret is serve's refusal, not a bad value). Comes after
 * SMSROUTER_AGENT_TIMEOUT_MS in the table, the default of each timeout. */
static int parse_agents(const struct setting *s, const char *v, struct config *c) {
	c->agents_text = v;
	c->nagents = 0;
	for (const char *p = v; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		if (!eq || c->nagents == CONFIG_MAX_AGENTS - 1) {
			return -EINVAL;
		}
		struct config_agent *a = &c->agents[c->nagents];
		size_t nlen = (size_t)(eq - p), ulen = len - nlen - 1;
		if (!agent_name_ok(p, nlen) || ulen >= sizeof(a->url)) {
			return -EINVAL;
		}
		memcpy(a->name, p, nlen);
		a->name[nlen] = '\0';
		memcpy(a->url, eq + 1, ulen);
		a->url[ulen] = '\0';
		if (config_agent_known(c, a->name) || !http_url(a->url, false)) {
			return -EINVAL; /* default, or a name given twice; not http(s) */
		}
		a->secret = agent_env("SMSROUTER_AGENT_SECRET_", a->name);
		const char *t = agent_env("SMSROUTER_AGENT_TIMEOUT_MS_", a->name);
		long ms = c->agent_timeout_ms;
		if (t && parse_long(t, 1, 600000, &ms) < 0) {
			return -EINVAL;
		}
		a->timeout_ms = (int)ms;
		c->nagents++;
		p += len;
		p += *p == ',' && p[1] ? 1 : 0;
	}
	(void)s;
	return 0;
}

/* SMSROUTER_AGENT_CANARY: NAME:PERCENT, the percent from 0 to 100 with at most two
 * decimals, kept in basis points. Whether NAME is configured is serve's check. */
static int parse_canary(const struct setting *s, const char *v, struct config *c) {
	(void)s;
	c->canary_text = v;
	c->canary[0] = '\0';
	c->canary_basis_points = 0;
	if (!v) {
		return 0;
	}
	const char *colon = strrchr(v, ':');
	if (!colon || !agent_name_ok(v, (size_t)(colon - v))) {
		return -EINVAL;
	}
	const char *num = colon + 1, *dot = strchr(num, '.');
	size_t whole = dot ? (size_t)(dot - num) : strlen(num);
	size_t frac = dot ? strlen(dot + 1) : 0;
	if (whole < 1 || whole > 3 || strspn(num, "0123456789") != whole || (dot && frac < 1) ||
			frac > 2 || (dot && strspn(dot + 1, "0123456789") != frac)) {
		return -EINVAL;
	}
	long bp = strtol(num, NULL, 10) * 100;
	if (frac) {
		bp += strtol(dot + 1, NULL, 10) * (frac == 1 ? 10 : 1);
	}
	if (bp > 10000) {
		return -EINVAL;
	}
	snprintf(c->canary, sizeof(c->canary), "%.*s", (int)(colon - v), v);
	c->canary_basis_points = (int)bp;
	return 0;
}

/* ---- the table ---- */

/* Checked in this order: the first bad value is the one reported. */
static const struct setting settings[] = {
	{"SMSROUTER_LISTEN", "127.0.0.1:8000", parse_listen, FIELD(listen),
		.why = "must be address:port, such as 127.0.0.1:8000 or [::1]:8000"},
	{"SMSROUTER_DATABASE_URL", "sqlite:var/smsrouter.db", parse_database_url,
		FIELD(database_url), .why = "must be sqlite:PATH or a postgresql:// URL"},
	{"SMSROUTER_TRUST_PROXY", "0", parse_choice, FIELD(trust_proxy), .choices = booleans,
		.why = "must be 0 or 1"},
	{"SMSROUTER_PUBLIC_URL", NULL, parse_base_url, FIELD(public_url),
		.why = "must be scheme://host[:port], with no path or trailing slash"},
	{"SMSROUTER_AGENT_URL", NULL, parse_url, FIELD(agent_url),
		.why = "must be an http:// or https:// URL"},
	{"SMSROUTER_EVENTS_URL", NULL, parse_url, FIELD(events_url),
		.why = "must be an http:// or https:// URL"},
	{"SMSROUTER_OPERATOR_URL", NULL, parse_url, FIELD(operator_url),
		.why = "must be an http:// or https:// URL"},
	{"TWILIO_API_BASE", "https://api.twilio.com", parse_base_url, FIELD(api_base),
		.why = "must be scheme://host[:port], with no path or trailing slash"},
	{"TWILIO_ACCOUNT_SID", NULL, parse_account_sid, FIELD(account_sid),
		.why = "must be AC and 32 hex digits"},
	{"SMSROUTER_AGENT_TIMEOUT_MS", "10000", parse_int, FIELD(agent_timeout_ms), .min = 1,
		.max = 600000, .why = "must be a number of milliseconds from 1 to 600000"},
	{"SMSROUTER_AGENTS", NULL, parse_agents, FIELD(agents_text),
		.why = "must be name=URL,name=URL with names of 1 to 32 of a-z, 0-9, - and _ (not "
		       "default, none twice), http(s) URLs and each SMSROUTER_AGENT_TIMEOUT_MS_<NAME> "
		       "from 1 to 600000"},
	{"SMSROUTER_AGENT_CANARY", NULL, parse_canary, FIELD(canary_text),
		.why = "must be NAME:PERCENT with a percent from 0 to 100, such as beta:10"},
	{"SMSROUTER_REPLY_MODE", "twiml", parse_choice, FIELD(reply_mode),
		.choices = (const struct choice[]){{"twiml", CONFIG_REPLY_TWIML},
			{"rest", CONFIG_REPLY_REST}, {NULL, 0}},
		.why = "must be twiml or rest"},
	{"SMSROUTER_SEND_RATE", "1", parse_send_rate, FIELD(send_rate), .max = 10000,
		.why = "must be a positive number of segments per second"},
	{"SMSROUTER_SENDER_LIMIT", "30/min", parse_rate, FIELD(sender_limit),
		FIELD2(sender_window_s), .why = "must look like 30/min, 5/sec, 100/hour or 0"},
	{"SMSROUTER_SEGMENT_PRICE", "0.0083", parse_price, FIELD(prices.segment),
		FIELD2(segment_price_text), .why = "must be a decimal number such as 0.0083"},
	{"SMSROUTER_MMS_PRICE", "0.0200", parse_price, FIELD(prices.mms), FIELD2(mms_price_text),
		.why = "must be a decimal number such as 0.0200"},
	{"SMSROUTER_WHATSAPP_PRICE", "0.0050", parse_price, FIELD(prices.whatsapp),
		FIELD2(whatsapp_price_text), .why = "must be a decimal number such as 0.0050"},
	{"SMSROUTER_CURRENCY", "USD", parse_currency, FIELD(currency),
		.why = "must be an ISO 4217 code of three capital letters, such as USD or EUR"},
	{"SMSROUTER_THREADS", NULL, parse_threads, FIELD(threads), .min = 1, .max = 256,
		.why = "must be from 1 to 256"},
	{"SMSROUTER_LOG_FORMAT", "json", parse_choice, FIELD(log_json),
		.choices = (const struct choice[]){{"json", 1}, {"text", 0}, {NULL, 0}},
		.why = "must be json or text"},
	{"SMSROUTER_LOG_LEVEL", "info", parse_log_level, FIELD(log_level),
		.why = "must be debug, info, warn or error"},
	{"SMSROUTER_MAX_CONNECTIONS", "1024", parse_int, FIELD(max_connections), .min = 1,
		.max = 100000, .why = "must be from 1 to 100000"},
	{"SMSROUTER_CONNECTION_TIMEOUT", "10", parse_int, FIELD(connection_timeout_s), .min = 1,
		.max = 3600, .why = "must be a number of seconds from 1 to 3600"},
	{"SMSROUTER_SQLITE_SYNC", "group", parse_choice, FIELD(sqlite_sync),
		.choices = (const struct choice[]){{"group", CONFIG_SYNC_GROUP},
			{"full", CONFIG_SYNC_FULL}, {"normal", CONFIG_SYNC_NORMAL}, {NULL, 0}},
		.why = "must be group, full or normal"},
	{"SMSROUTER_SMART_ENCODING", "0", parse_choice, FIELD(smart_encoding),
		.choices = booleans, .why = "must be 0 or 1"},
	{"SMSROUTER_REPLY_MAX_SEGMENTS", "0", parse_int, FIELD(reply_max_segments), .min = 0,
		.max = 100, .why = "must be from 0 (off) to 100"},
	{"SMSROUTER_DAILY_SEGMENT_BUDGET", "0", parse_int, FIELD(daily_segment_budget), .min = 0,
		.max = 1000000000, .why = "must be a number of segments, 0 for no budget"},
	{"SMSROUTER_GLOBAL_LIMIT", "0", parse_rate, FIELD(global_limit), FIELD2(global_window_s),
		.why = "must look like 1000/sec, 5000/min or 0"},
	{"SMSROUTER_UNKNOWN_LIMIT", "120/min", parse_rate, FIELD(unknown_limit),
		FIELD2(unknown_window_s), .why = "must look like 120/min, 10/sec or 0"},
	{"SMSROUTER_PER_IP_CONNECTIONS", "0", parse_int, FIELD(per_ip_connections), .min = 0,
		.max = 100000, .why = "must be from 0 (off) to 100000"},
	{"SMSROUTER_DELIVERY_WORKERS", "8", parse_int, FIELD(delivery_workers), .min = 1, .max = 64,
		.why = "must be from 1 to 64"},
	{"SMSROUTER_DELIVERY_ATTEMPTS", "8", parse_int, FIELD(delivery_attempts), .min = 1,
		.max = 100, .why = "must be from 1 to 100"},
	{"SMSROUTER_RETENTION_DAYS", "0", parse_int, FIELD(retention_days), .min = 0,
		.max = 36500, .why = "must be a whole number of days from 0 (keep for ever) to 36500"},
	{"SMSROUTER_QUIET_HOURS", "21:00-08:00", parse_quiet_hours, FIELD(quiet_hours),
		.why = "must be HH:MM-HH:MM in 24-hour time with a different start and end, "
		       "such as 21:00-08:00, or off"},
	{"SMSROUTER_DEFAULT_TIMEZONE", "UTC", parse_timezone, FIELD(default_timezone),
		.why = "must be an IANA time-zone name, such as UTC or America/New_York"},
	{"TWILIO_FROM", NULL, parse_twilio_from, FIELD(twilio_from),
		.why = "must be an E.164 number or a Messaging Service SID (MG and 32 hex digits)"},
	{"TWILIO_WHATSAPP_FROM", NULL, parse_phone, FIELD(whatsapp_from),
		.why = "must be an E.164 number (without the whatsapp: prefix)"},
	{"SMSROUTER_PROACTIVE_LIMIT", "10/day", parse_daily_rate, FIELD(proactive_limit),
		FIELD2(proactive_window_s), .why = "must look like 10/day, 3/hour, 1/min or 0"},
	{"SMSROUTER_MEDIA_URL_TTL", "3600", parse_int, FIELD(media_url_ttl_s), .min = 60,
		.max = 604800, .why = "must be a number of seconds from 60 to 604800 (7 days)"},
	{"SMSROUTER_SEND_TOKEN", NULL, parse_string, FIELD(send_token)},
	{"TWILIO_AUTH_TOKEN", NULL, parse_string, FIELD(auth_token)},
	{"TWILIO_AUTH_TOKEN_PREVIOUS", NULL, parse_string, FIELD(auth_token_previous)},
	{"SMSROUTER_ADMIN_TOKEN", NULL, parse_string, FIELD(admin_token)},
	{"SMSROUTER_AGENT_SECRET", NULL, parse_string, FIELD(agent_secret)},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* The checks across settings, made for serve alone (the other commands need none of
 * them): the reason serve refuses to start, or NULL. */
static const char *serve_refusal(const struct config *c) {
	static char why[256];
	if (!c->auth_token && !c->dev) {
		return "TWILIO_AUTH_TOKEN is not set; serve refuses to start without it (use --dev "
		       "for a local development token).";
	}
	if (c->agent_url && !c->agent_secret) {
		return "SMSROUTER_AGENT_URL is set but SMSROUTER_AGENT_SECRET is not: requests to "
		       "the Agent Core must be signed.";
	}
	if (c->nagents > 0 && !c->agent_url) {
		return "SMSROUTER_AGENTS is set but SMSROUTER_AGENT_URL is not: the agent named "
		       "default must be an Agent Core too.";
	}
	for (int i = 0; i < c->nagents; i++) {
		if (!c->agents[i].secret) {
			char env[AGENT_ENV_SIZE];
			agent_env_name("SMSROUTER_AGENT_SECRET_", c->agents[i].name, env);
			snprintf(why, sizeof(why),
					"%s is not set: requests to agent %s must be signed.", env,
					c->agents[i].name);
			return why;
		}
	}
	if (c->canary[0] && !config_agent_known(c, c->canary)) {
		snprintf(why, sizeof(why),
				"SMSROUTER_AGENT_CANARY names agent %s, which is neither default nor "
				"one of SMSROUTER_AGENTS.",
				c->canary);
		return why;
	}
	if (c->canary[0] && strcmp(c->canary, "default") != 0 && !c->agent_url) {
		return "SMSROUTER_AGENT_CANARY is set but SMSROUTER_AGENT_URL is not.";
	}
	if (c->operator_url && !c->agent_secret) {
		return "SMSROUTER_OPERATOR_URL is set but SMSROUTER_AGENT_SECRET is not: messages "
		       "to operators must be signed.";
	}
	if (c->events_url && !c->agent_secret) {
		return "SMSROUTER_EVENTS_URL is set but SMSROUTER_AGENT_SECRET is not: events must "
		       "be signed.";
	}
	if (c->reply_mode == CONFIG_REPLY_REST && !c->account_sid) {
		return "SMSROUTER_REPLY_MODE=rest needs TWILIO_ACCOUNT_SID to send through the "
		       "Messages API.";
	}
	return NULL;
}

/* ---- the command line ---- */

/* "SMSROUTER_DATABASE_URL" → "database-url"; "TWILIO_AUTH_TOKEN" → "twilio-auth-token". */
static void flag_name(const char *env, char *out, size_t size) {
	const char *p = strncmp(env, "SMSROUTER_", 10) == 0 ? env + 10 : env;
	size_t i = 0;
	for (; *p && i + 1 < size; p++, i++) {
		out[i] = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
	}
	out[i] = '\0';
}

/* The setting whose flag is name (up to nlen bytes), or -1. */
static int flag_setting(const char *name, size_t nlen) {
	for (size_t s = 0; s < NSETTINGS; s++) {
		char fname[64];
		flag_name(settings[s].env, fname, sizeof(fname));
		if (strlen(fname) == nlen && strncmp(fname, name, nlen) == 0) {
			return (int)s;
		}
	}
	return -1;
}

/* Takes the flags out of argv into val (see config_load); *ret_command is the first argument
 * left, or NULL. */
static int read_flags(int *argc, char **argv, config_own_option_fn own, const char **val,
		bool *ret_dev, const char **ret_command, char *err, size_t err_size) {
	const char *command = NULL;
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
			*ret_dev = true;
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
	*ret_command = command;
	return 0;
}

int config_load(struct config *c, int *argc, char **argv, config_own_option_fn own, char *err,
		size_t err_size) {
	const char *val[NSETTINGS];
	const char *command = NULL;
	bool dev = false;

	/* An empty variable is an unset one; flags win over the environment. */
	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *e = getenv(settings[i].env);
		val[i] = e && *e ? e : settings[i].def;
	}
	if (read_flags(argc, argv, own, val, &dev, &command, err, err_size) < 0) {
		return -EINVAL;
	}
	memset(c, 0, sizeof(*c));
	c->dev = dev;
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (settings[i].parse(&settings[i], val[i], c) < 0) {
			snprintf(err, err_size, "%s %s.", settings[i].env, settings[i].why);
			return -EINVAL;
		}
	}
	const char *refusal = command && strcmp(command, "serve") == 0 && *argc == 2
				      ? serve_refusal(c)
				      : NULL;
	if (refusal) {
		snprintf(err, err_size, "%s", refusal);
		return -EINVAL;
	}
	return 0;
}
