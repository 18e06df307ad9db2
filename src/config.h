#pragma once
/* config: the one settings table. Every setting comes from its environment variable, and
 * a command-line flag of the same name wins (SMSROUTER_DATABASE_URL ↔ --database-url,
 * TWILIO_AUTH_TOKEN ↔ --twilio-auth-token). Read once in main; no other module calls
 * getenv. Strings are borrowed from the environment or argv and live as long as the
 * process. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "sms/sms.h"
#include "tz.h"

enum config_reply_mode {
	CONFIG_REPLY_TWIML,
	CONFIG_REPLY_REST,
};

enum config_sqlite_sync {
	CONFIG_SYNC_GROUP,  /* answers wait for an fsync shared by concurrent commits */
	CONFIG_SYNC_FULL,   /* SQLite fsyncs every commit */
	CONFIG_SYNC_NORMAL, /* no fsync wait: survives a process crash, not a power loss */
};

#define CONFIG_MAX_AGENTS 16  /* named agents, default included */
#define CONFIG_AGENT_NAME_SIZE 33

/* One agent: SMSROUTER_AGENT_URL's ("default") or one of SMSROUTER_AGENTS. */
struct config_agent {
	char name[CONFIG_AGENT_NAME_SIZE];
	char url[1024];
	const char *secret; /* SMSROUTER_AGENT_SECRET_<NAME> (default's: SMSROUTER_AGENT_SECRET) */
	int timeout_ms;     /* SMSROUTER_AGENT_TIMEOUT_MS_<NAME>, else SMSROUTER_AGENT_TIMEOUT_MS */
};

struct config {
	const char *listen;
	const char *database_url;
	const char *auth_token;          /* NULL when unset */
	const char *auth_token_previous; /* NULL when unset */
	const char *account_sid;         /* NULL when unset */
	const char *api_base;
	const char *public_url;  /* NULL when unset; no trailing '/' */
	bool trust_proxy;
	const char *admin_token; /* NULL: admin API answers 404 */
	const char *agent_url;   /* NULL: the built-in memo agent */
	const char *agent_secret;
	const char *events_url;  /* NULL: no events */
	const char *operator_url; /* NULL: messages of users in human mode are only stored */
	const char *agents_text;  /* SMSROUTER_AGENTS as given; NULL when unset */
	/* SMSROUTER_AGENTS, in their order (default is not among them). */
	struct config_agent agents[CONFIG_MAX_AGENTS - 1];
	int nagents;
	const char *canary_text;      /* SMSROUTER_AGENT_CANARY as given; NULL when unset */
	char canary[CONFIG_AGENT_NAME_SIZE]; /* "" when none */
	int canary_basis_points;      /* its share of users, 0–10000 */
	int agent_timeout_ms;
	enum config_reply_mode reply_mode;
	double send_rate;
	int sender_limit;        /* messages per sender_window_s; 0 = off */
	int sender_window_s;
	struct sms_prices prices; /* SMSROUTER_SEGMENT_PRICE, _MMS_PRICE, _WHATSAPP_PRICE */
	const char *segment_price_text;
	const char *mms_price_text;
	const char *whatsapp_price_text;
	const char *currency;
	int threads;
	bool log_json;
	enum log_level log_level;
	int max_connections;
	int connection_timeout_s;
	enum config_sqlite_sync sqlite_sync;
	bool smart_encoding;      /* GSM-7 look-alikes in agent replies */
	int reply_max_segments;   /* 0: only Twilio's 1600-character limit */
	int daily_segment_budget; /* outbound segments per user per UTC day; 0 = off */
	int global_limit;         /* inbound messages per global_window_s, all senders; 0 = off */
	int global_window_s;
	int unknown_limit;        /* messages from unknown senders per unknown_window_s; 0 = off */
	int unknown_window_s;
	int per_ip_connections;   /* 0 = no limit */
	int delivery_workers;     /* rest: agent calls at once */
	int delivery_attempts;    /* rest: attempts of one stage before the dead letter */
	int retention_days;       /* messages older than this are erased; 0 = kept for ever */
	bool dev; /* serve --dev */
	struct tz_quiet quiet_hours;  /* recipient's local time in which proactive messages wait */
	const char *default_timezone; /* IANA zone of users who have none */
	const char *twilio_from; /* E.164 or "MG…"; NULL: messages we start are refused */
	const char *whatsapp_from; /* TWILIO_WHATSAPP_FROM, E.164 without its prefix; NULL: unset */
	const char *send_token;  /* NULL: only the admin token reaches the send endpoints */
	int proactive_limit;     /* per user per proactive_window_s; 0 = off */
	int proactive_window_s;
	int media_url_ttl_s;     /* SMSROUTER_MEDIA_URL_TTL: a media link's lifetime */
};

/* Whether arg, met after the command word command, is one of the command's own options
 * that takes the next argument as its value (simulate --body TEXT). */
typedef bool (*config_own_option_fn)(const char *command, const char *arg);

/* Fills c from the environment and the flags in argv[1..*argc). Flags it knows are
 * removed from argv (and *argc lowered); everything else stays in order for the
 * subcommand. The first argument that is not a flag is the command; flags may come before
 * or after it, but an own option of the command (own may be NULL: none) keeps the
 * argument after it, which is then never read as a flag (simulate --body --dev sends
 * "--dev"). "--" is dropped and ends the flags: what follows goes to the command as it
 * is. An empty value, of a variable or of a flag, means unset: the default (so
 * --admin-token "" turns the admin API off even when SMSROUTER_ADMIN_TOKEN is set).
 * -EINVAL with a one-sentence reason in err on a bad value or a flag that lacks its
 * value, and, when the command is serve (alone), on settings that do not go together: no
 * TWILIO_AUTH_TOKEN without --dev, SMSROUTER_AGENT_URL without SMSROUTER_AGENT_SECRET,
 * SMSROUTER_REPLY_MODE=rest without TWILIO_ACCOUNT_SID. */
int config_load(struct config *c, int *argc, char **argv, config_own_option_fn own, char *err,
		size_t err_size);

/* True if name is an agent the settings name: "default" or one of SMSROUTER_AGENTS. */
bool config_agent_known(const struct config *c, const char *name);

/* Parses "30/min", "5/sec", "100/hour", "0". 0 or -EINVAL. */
int config_parse_rate(const char *s, int *ret_count, int *ret_window_s);
