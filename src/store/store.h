#pragma once
/* store: users, phones, messages, notes, opt-outs, the outbox, events and usage; each
 * operation written once (users.c, import.c, messages.c, notes.c, numbers.c, outbox.c,
 * events.c) over two
 * dialects (sqlite.c, postgres.c; dialect.h). Every call on user data takes the user's
 * id, so no call can return another user's rows. Safe to call from many threads at once:
 * each thread gets its own connection. A call that commits, outside store_tx_begin,
 * returns once its commit is durable; store_tx_commit too. Knows nothing of HTTP or
 * Twilio. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "phone.h"

#define STORE_ID_SIZE IDS_SIZE
#define STORE_NAME_SIZE 201 /* a name is 1 to 200 bytes of UTF-8 (store_name_check) */
#define STORE_MAX_PHONES 10
#define STORE_SID_SIZE 65  /* Twilio SIDs are 34 characters; we keep at most 64 */
#define STORE_ADDR_SIZE 65 /* E.164 or "whatsapp:+1…" */

struct store;

enum store_sync {
	/* SQLite: commits write the WAL; one thread fsyncs it for all commits waiting at
	 * that moment (group commit), and each returns once its fsync is done. */
	STORE_SYNC_GROUP,
	STORE_SYNC_FULL,   /* SQLite fsyncs each commit before returning */
	STORE_SYNC_NORMAL, /* no fsync wait: a power loss can lose the last commits */
};

struct store_options {
	enum store_sync sync;
	/* SQLite's WAL, in pages; 0: the defaults. The checkpointer copies the WAL into the
	 * database each time checkpoint_pages have been added, and past wal_cap_pages it
	 * makes the next write start the file over. */
	int checkpoint_pages;
	int wal_cap_pages;
	/* Record events (SMSROUTER_EVENTS_URL is set): status changes of messages sent through
	 * the Messages API and opt-outs write an event row in their own transaction. false:
	 * nothing is written. */
	bool events;
};

#define STORE_TIMEZONE_SIZE 65 /* an IANA name the time-zone database knows (tz.h) */
#define STORE_LOCALE_SIZE 36   /* a BCP 47 tag (tz.h) */
#define STORE_MAX_TAGS 20
#define STORE_TAG_SIZE 65 /* a tag is 1 to 64 bytes of UTF-8 (store_tag_check) */
#define STORE_CURSOR_SIZE 96

#define STORE_AGENT_SIZE 33 /* an agent's name: 1–32 of a-z, 0-9, '-', '_' */
#define STORE_MODE_SIZE 8

struct store_user { /* plain record, nothing to free */
	char id[STORE_ID_SIZE];
	char name[STORE_NAME_SIZE];
	char phones[STORE_MAX_PHONES][PHONE_SIZE];
	int nphones;
	bool opted_out; /* one of its numbers has opted out (STOP) */
	int64_t created_at; /* unix seconds, UTC */
	char timezone[STORE_TIMEZONE_SIZE]; /* "" when unset */
	char locale[STORE_LOCALE_SIZE];     /* "" when unset */
	char tags[STORE_MAX_TAGS][STORE_TAG_SIZE]; /* in the order they were given */
	int ntags;
	char agent[STORE_AGENT_SIZE]; /* the agent's name; "" when none of its own */
	char mode[STORE_MODE_SIZE];   /* "agent", "paused" or "human" */
};

/* A change of a user's attributes: only the fields given change. Pointers are borrowed. */
struct store_user_patch {
	const char *name; /* NULL: unchanged */
	bool set_timezone;
	const char *timezone; /* with set_timezone: the new zone, or NULL to clear it */
	bool set_locale;
	const char *locale; /* with set_locale: the new tag, or NULL to clear it */
	bool set_tags;
	const char *const *tags; /* with set_tags: the whole new list, in its order */
	size_t ntags;
	bool set_agent;
	const char *agent; /* with set_agent: an agent's name (store_agent_name_check), or NULL */
	const char *mode;  /* NULL: unchanged; else store_mode_check's */
};

/* One page of the user list: oldest first (created_at, id). */
struct store_user_page {
	int limit; /* 1 to STORE_PAGE_MAX */
	const char *after; /* a cursor a previous page gave, or NULL for the first page */
	/* NULL, or: starting with '+', a prefix of one of the user's phones; else a substring
	 * of the name, ASCII letters compared without case. */
	const char *q;
	const char *tag; /* NULL, or a tag the user has */
};
#define STORE_PAGE_MAX 500

enum store_direction {
	STORE_INBOUND,
	STORE_OUTBOUND,
};

/* A message. Pointers are borrowed: the caller's when adding, valid during the callback
 * when listing. */
#define STORE_FLAG_SMART_ENCODED 1 /* outbound: look-alikes replaced by GSM-7 */
#define STORE_FLAG_TRUNCATED 2     /* outbound: cut to fit a limit */
/* outbound: sent through the Messages API (rest mode), not in the webhook's TwiML, so a
 * Twilio retry of its message is answered without it (store_answer_for). */
#define STORE_FLAG_SENT_BY_API 4

struct store_message {
	int64_t id; /* the store's own; 0 before it is added */
	const char *sid; /* Twilio's MessageSid; NULL until Twilio has named it */
	enum store_direction direction;
	const char *from;
	const char *to;
	const char *body;
	const char *status;
	const char *encoding; /* "GSM-7" or "UCS-2" */
	int segments;
	const char *media_json; /* inbound: JSON array of {"url","content_type"}, or NULL */
	int64_t reply_to; /* outbound: id of the inbound message it answers, 0 if none */
	int flags;        /* STORE_FLAG_… */
	/* Also queue it in the outbox, atomically (rest replies): an inbound message for its
	 * agent, an outbound reply (with reply_to) to be sent. */
	bool enqueue;
	/* inbound of a user: the JSON text of a message.inbound event for the operator URL
	 * (its user and message), recorded atomically with it; NULL: none. */
	const char *operator_json;
	int64_t created_at;
	/* The message's public id (opaque, random): made by the store when adding one without
	 * it; always set when listing. */
	const char *uid;
	/* Sent through the API (struct store_send): "proactive" or "reply", the channel
	 * ("sms", "whatsapp"), when it was asked for and when it may go (unix seconds); NULL
	 * and 0 for the others. */
	const char *kind;
	const char *channel;
	int64_t send_at;
	int64_t not_before;
	const char *error_code; /* listing: Twilio's ErrorCode, or NULL */
};

/* The outbox (rest replies): one row per routed inbound message, worked through in each
 * user's arrival order. States: agent (waiting for the agent), send (the reply is stored,
 * waiting to be sent), sending (a send was attempted and may have reached Twilio:
 * reconcile before sending again), done, dead (gave up; `outbox retry` revives it). */
struct store_outbox {
	int64_t id;
	char user_id[STORE_ID_SIZE];
	int64_t inbound_id;
	int64_t outbound_id; /* 0 until the reply is stored */
	char state[16];
	int attempts;
	int64_t next_at_ms;
	int64_t sent_at_ms; /* when the last send attempt began */
	int64_t created_at_ms;
	char last_error[128];
	/* send / sending rows: the stored reply */
	char to[STORE_ADDR_SIZE];
	char from[STORE_ADDR_SIZE];
	char *body; /* borrowed during a callback */
	int segments;
	/* store_outbox_ready's rows: the lane, the message's media (a JSON array of URLs, or
	 * NULL; borrowed), kind ("" for agent replies), public id, and the user's time zone. */
	int lane;
	const char *media;
	char kind[12];
	char uid[STORE_ID_SIZE];
	char timezone[STORE_TIMEZONE_SIZE];
};
#define STORE_LANE_REPLIES 0   /* replies: always sent before any proactive message */
#define STORE_LANE_PROACTIVE 1 /* proactive messages, each user's in due order */

/* A message smsrouter starts itself through the API: proactive, or a reply (reply_to). */
struct store_send {
	const char *user_id;
	const char *uid;     /* its public id, made by the caller (ids_random_hex) */
	const char *kind;    /* "proactive" or "reply" */
	const char *channel; /* "sms" or "whatsapp" */
	const char *from;    /* TWILIO_FROM: a number or a Messaging Service SID */
	const char *to;      /* one of the user's addresses, as Twilio is given it */
	const char *optout_key; /* the number whose opt-out forbids it */
	const char *body;
	const char *media_json; /* a JSON array of URLs, or NULL */
	const char *encoding;
	int segments;
	int64_t reply_to;   /* our id of the user's inbound message it answers, or 0 */
	int64_t send_at;    /* unix seconds: when it was asked for */
	int64_t not_before; /* unix seconds: when it may go (quiet hours) */
	int64_t now;        /* unix seconds */
	/* The Idempotency-Key (NULL: none) and the hash of the request that carries it; a key
	 * used before key_since (unix seconds) is forgotten. */
	const char *key;
	const char *key_hash;
	int64_t key_since;
	/* kind "proactive": at most limit of them (those not canceled) in limit_window_s
	 * seconds; 0: no limit. */
	int limit;
	int limit_window_s;
};

enum store_send_outcome {
	STORE_SEND_ADDED,     /* stored, with its outbox row, durable */
	STORE_SEND_REPLAYED,  /* the key was used with the same hash: uid is that message's */
	STORE_SEND_CONFLICT,  /* the key was used with another hash: nothing stored */
	STORE_SEND_LIMITED,   /* the limit is used: nothing stored; retry_after_s */
	STORE_SEND_OPTED_OUT, /* optout_key opted out: nothing stored */
};

struct store_send_result {
	enum store_send_outcome outcome;
	char uid[STORE_ID_SIZE]; /* ADDED and REPLAYED: the message's public id */
	int64_t retry_after_s;   /* LIMITED: seconds until one more is allowed */
};

/* One row of store_scheduled: a message smsrouter starts itself, not yet handed to
 * Twilio. Strings are borrowed during the callback. */
struct store_scheduled_row {
	const char *user_id;
	const char *uid;
	const char *kind;
	const char *to;
	const char *body;
	const char *status;
	int64_t not_before; /* unix seconds */
};
typedef int (*store_scheduled_cb)(void *ctx, const struct store_scheduled_row *r);
typedef int (*store_outbox_cb)(void *ctx, const struct store_outbox *o);

typedef int (*store_user_cb)(void *ctx, const struct store_user *u);
typedef int (*store_message_cb)(void *ctx, const struct store_message *m);
typedef int (*store_note_cb)(void *ctx, int index, const char *text);

struct store_usage_row {
	const char *user_id; /* NULL: messages of unknown senders */
	int64_t inbound;
	int64_t outbound;
	int64_t segments;
	int64_t over_budget;   /* inbound not routed: the daily segment budget was spent */
	int64_t truncated;     /* replies cut to fit */
	int64_t smart_encoded; /* replies made GSM-7 */
	int64_t proactive;     /* outbound messages smsrouter started itself */
	int64_t mms;           /* SMS-channel messages with media (not in segments) */
	int64_t whatsapp;      /* WhatsApp messages (no segments) */
};
typedef int (*store_usage_cb)(void *ctx, const struct store_usage_row *r);

/* One bucket's messages of one direction and outcome (store_stats). */
struct store_stats_row {
	int64_t t;           /* the bucket's start, unix seconds (UTC) */
	bool inbound;        /* else outbound */
	const char *outcome; /* an inbound message's status as stored (its verdict); "" outbound */
	int64_t messages;
	int64_t segments; /* as usage counts them: SMS without media only */
	int64_t mms;      /* SMS-channel messages with media */
	int64_t whatsapp; /* WhatsApp messages */
};
typedef int (*store_stats_cb)(void *ctx, const struct store_stats_row *r);

struct store_import_row {
	const char *name;
	const char *const *phones;
	size_t nphones;
};

/* Opens url ("sqlite:PATH"; the file and its directory are created if missing) and
 * brings the schema to the newest version. On success *ret_store is the caller's,
 * released with store_close(). -EINVAL (unknown scheme), -EPERM (PostgreSQL: a role that
 * row-level security would not bind), -EIO. */
int store_open(const char *url, const struct store_options *o, struct store **ret_store);
void store_close(struct store *s); /* NULL is fine */

/* true when the backend runs one write transaction at a time anyway (SQLite): writes are
 * best batched on one thread, several messages per transaction. false (PostgreSQL):
 * writers on several connections run in parallel. */
bool store_single_writer(const struct store *s);

/* 0 if the store answers a trivial query, else -EIO. */
int store_ping(struct store *s);
/* How many users and phone numbers are registered. */
int store_counts(struct store *s, int64_t *ret_users, int64_t *ret_phones);
/* The schema version in use. */
int store_schema_version(struct store *s, int *ret_version);

/* The one rule for a user's name, wherever it comes from (admin API, user add, import):
 * 1 to 200 bytes of valid UTF-8, no control character (C0, DEL or C1), and not only white
 * space. 0, or -EINVAL with *reterr_why (may be NULL) a borrowed phrase saying why, lower
 * case and without a final period ("the name is not valid UTF-8"). */
int store_name_check(const char *name, const char **reterr_why);

/* The rule for one tag: 1 to 64 bytes of valid UTF-8 without a control character (C0, DEL
 * or C1). 0, or -EINVAL with *reterr_why (may be NULL) a borrowed phrase saying why, as
 * store_name_check. */
int store_tag_check(const char *tag, const char **reterr_why);
/* An agent's name: 1 to 32 of a-z, 0-9, '-' and '_' (config.c's names too). */
bool store_agent_name_check(const char *name);
/* A mode: "agent", "paused" or "human". */
bool store_mode_check(const char *mode);

/* Checks a patch as store_user_set does, before anything is written: the name
 * (store_name_check), the time zone (tz_zone_exists), the locale (tz_locale_is_valid), the
 * tags (at most STORE_MAX_TAGS, each store_tag_check, none twice). 0, or -EINVAL with
 * *reterr_field the patch's field at fault ("name", "timezone", "locale" or "tags") and
 * *reterr_why a phrase as store_name_check's (both borrowed; either may be NULL). */
int store_user_patch_check(const struct store_user_patch *p, const char **reterr_field,
		const char **reterr_why);

/* Applies patch p to user id in one transaction, durable on return (tags given replace the
 * whole list); then *ret_user (may be NULL) is the user as it is now. -EINVAL (the patch
 * fails store_user_patch_check: nothing changed), -ENOENT (no such user), -EIO. */
int store_user_set(struct store *s, const char *id, const struct store_user_patch *p,
		struct store_user *ret_user);

/* Calls cb for each user of one page of the list (struct store_user_page). ret_next gets
 * the cursor of the next page, or "" when this page is the last. -EINVAL: a limit out of
 * range or a cursor this store did not make; a non-zero return of cb stops and is
 * returned. The cursor seeks (no OFFSET): a page costs the same wherever it is. */
int store_user_page(struct store *s, const struct store_user_page *page, store_user_cb cb,
		void *ctx, char ret_next[STORE_CURSOR_SIZE]);

/* Creates a user with its phones (valid E.164, checked by the caller). -EINVAL: the name
 * fails store_name_check. -EEXIST: a phone belongs to a user already (*reterr_index names
 * it; may be NULL), -EIO. */
int store_user_add(struct store *s, const char *name, const char *const *phones, size_t nphones,
		struct store_user *ret_user, size_t *reterr_index);
/* -ENOENT when there is no such user. */
int store_user_get(struct store *s, const char *id, struct store_user *ret_user);
int store_user_by_phone(struct store *s, const char *phone, struct store_user *ret_user);
/* What routing needs of a sender, in one lookup: its user (id, name, created_at; the
 * phones are not filled) if any — *ret_known says — and whether this number opted out. */
int store_route_lookup(struct store *s, const char *phone, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out);

/* A transaction around several calls of this thread: the calls inside commit together
 * at store_tx_commit (calls that have their own transaction nest inside it). Only for
 * short work: it holds the store's write lock. -EIO. */
int store_tx_begin(struct store *s);
/* Commits; the outermost returns once durable. -EIO: not committed (rolled back), or not
 * known to be durable. */
int store_tx_commit(struct store *s);
void store_tx_rollback(struct store *s);
/* Commits the outermost transaction of store_tx_begin without waiting for stable storage:
 * -EIO when the commit failed (rolled back; done is never called), else 0 and done(ctx,
 * err) runs exactly once, on this or another thread, when the commit is durable (err 0)
 * or can no longer be made so (err -EIO: nothing of it may be acknowledged). The one way
 * to learn of durability without blocking (the router's batches). */
typedef void (*store_durable_cb)(void *ctx, int err);
int store_tx_commit_then(struct store *s, store_durable_cb done, void *ctx);

/* Deletes the user, its phones, tags, messages, notes, outbox rows, events and daily usage
 * totals. -ENOENT. */
int store_user_delete(struct store *s, const char *id);
/* Calls cb for every user, oldest first; a non-zero return from cb stops and is returned. */
int store_user_list(struct store *s, store_user_cb cb, void *ctx);
/* Adds phone to user id. 0 (also when it is that user's already), -ENOENT (no user),
 * -EEXIST (another user's), -ENOSPC (STORE_MAX_PHONES reached). */
int store_phone_add(struct store *s, const char *id, const char *phone);
/* -ENOENT when user id does not have phone. */
int store_phone_remove(struct store *s, const char *id, const char *phone);
/* Creates all rows in one transaction, or none. -EINVAL: a name fails store_name_check,
 * -EEXIST: a phone is taken or repeated (*reterr_row is the row's index in both), -EIO. */
int store_import(struct store *s, const struct store_import_row *rows, size_t n,
		size_t *reterr_row);

/* The answer stored for an inbound MessageSid seen before. -ENOENT: never seen.
 * 0: seen; *ret_reply is the reply given (caller frees) or NULL when there was none, and
 * *ret_outbound_id its id (0 when none); *ret_media (when not NULL) its media, a JSON array
 * of URLs (caller frees) or NULL. */
int store_answer_for(struct store *s, const char *sid, char **ret_reply,
		int64_t *ret_outbound_id, char **ret_media);
/* What routing needs to know of an inbound message before its transaction: whether its
 * MessageSid was seen (store_answer_for), else its sender's route (store_route_lookup). */
struct store_lookup {
	const char *sid;         /* its MessageSid */
	const char *phone;       /* its sender's number (the user's key); NULL: no route */
	struct store_user *user; /* where its user goes (known) */
	int err;   /* 0, or its own lookup failed (then ask again, one by one) */
	bool seen; /* its MessageSid was stored: the answer given then, as store_answer_for's */
	char *reply; /* caller frees */
	char *media; /* caller frees */
	int64_t outbound_id;
	bool known, opted_out; /* not seen: as store_route_lookup's */
};
/* Looks up each of n messages on its own (each its err), all in one round trip. 0;
 * -ENOTSUP: the dialect has no such thing (SQLite, where a lookup is a call, not a round
 * trip: ask one by one); -ENOMEM, -EIO (each err says). Outside any transaction. */
int store_lookup_many(struct store *s, struct store_lookup *l, size_t n);
/* Appends an inbound message to user_id's log (NULL: unrouted, unknown sender); committed
 * on return. -EEXIST: this MessageSid was stored before (a Twilio retry). */
int store_inbound_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id);
/* Appends an outbound message (user_id NULL: to an unknown sender); committed on return.
 * -ENOENT: user_id is no user (deleted meanwhile); nothing is stored. */
int store_outbound_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id);
/* Applies a status callback to the outbound message with our id outbound_id (when > 0)
 * or Twilio's sid. Records sid when the row had none. Statuses only move forward (see
 * store_status_rank); *ret_changed says whether it moved. -ENOENT: no such message. A
 * move of a message sent through the Messages API (STORE_FLAG_SENT_BY_API) to a user
 * records message.status in the same transaction, when the store records events. */
int store_status_update(struct store *s, int64_t outbound_id, const char *sid,
		const char *status, const char *error_code, bool *ret_changed);
/* 0 if an outbound message has sid, -ENOENT if none has, or a negative errno. */
int store_outbound_sid_known(struct store *s, const char *sid);
/* The rank that orders statuses: a status replaces another only with a higher rank.
 * 0 for a value we do not know (recorded nowhere). */
int store_status_rank(const char *status);
/* user_id's message with our id: cb is called once with it. -ENOENT. */
int store_message_get(struct store *s, const char *user_id, int64_t id, store_message_cb cb,
		void *ctx);
/* user_id's messages, newest first, at most limit. */
int store_messages_list(struct store *s, const char *user_id, int limit, store_message_cb cb,
		void *ctx);
/* The agent's history of message before_id: user_id's last limit messages that came
 * before it, oldest first. A message came before it when it was stored before it, or when
 * it is the reply to one that was (a reply stored while before_id waited for its turn is
 * part of the conversation the agent has had); nothing that arrived after it, nor its
 * replies, is ever included. */
int store_history(struct store *s, const char *user_id, int64_t before_id, int limit,
		store_message_cb cb, void *ctx);

/* The built-in agent's notes. */
int store_note_add(struct store *s, const char *user_id, const char *text);
/* Calls cb with index 1, 2, … oldest first. */
int store_notes_list(struct store *s, const char *user_id, store_note_cb cb, void *ctx);
int store_notes_clear(struct store *s, const char *user_id);

/* Opt-outs are per number (Twilio's STOP blocks the number, whoever owns it). A change of
 * the number's state records user.opted_out or user.opted_in for the user who owns it, in
 * the same transaction, when the store records events. */
int store_optout_set(struct store *s, const char *phone, bool opted_out);
int store_optout_get(struct store *s, const char *phone, bool *ret_opted_out);

/* Claims the right to send the onboarding text to an unknown number: 0 if none was sent
 * in the window_s seconds before now (and records now), -EEXIST if one was. */
int store_onboarding_claim(struct store *s, const char *phone, int64_t now, int window_s);

/* The sender rate limit, shared by every process on the store: count messages per
 * window_s seconds from phone, as a token bucket (GCRA) that holds count. 1 if phone may
 * send one more now (it is counted), 0 if it is over the limit, -ENOTSUP if the backend
 * keeps no shared limits (SQLite: one process serves it; the caller keeps its own), or a
 * negative errno. count > 0. */
int store_sender_take(struct store *s, const char *phone, int count, int window_s);

/* Claims the oldest due row in state agent that is first in its user's line, leasing it
 * until lease_until_ms (a crash makes it due again then) and counting the attempt.
 * -ENOENT when there is none. */
int store_outbox_claim_agent(struct store *s, int64_t now_ms, int64_t lease_until_ms,
		struct store_outbox *ret);
/* The agent answered: stores reply (NULL: none, the row is done) as an outbound message
 * with status "pending" and moves the row to send, in one transaction. */
int store_outbox_replied(struct store *s, int64_t id, const char *user_id,
		const struct store_message *reply, int64_t now_ms);
/* Calls cb for due rows of lane (STORE_LANE_…) in state send or sending that are first in
 * their user's line of that lane, at most limit: replies oldest first; proactive messages
 * each user's earliest due (none of a user while one of its is being sent), earliest due
 * first. */
int store_outbox_ready(struct store *s, int lane, int64_t now_ms, int limit,
		store_outbox_cb cb, void *ctx);
/* Moves row id to state with next_at_ms, counting an attempt when attempt is true, and
 * recording error (NULL keeps it) and, for state "sending", sent_at_ms = now_ms. Taking a
 * row for a send (state "sending" with attempt) succeeds only while the row waits in send
 * or sending and is due: -ENOENT means another process took it, so do not send. */
int store_outbox_update(struct store *s, int64_t id, const char *state, int64_t next_at_ms,
		bool attempt, const char *error, int64_t now_ms);
/* Row id is sent: Twilio named the reply sid with status status. When the status moved
 * and the store records events, message.status is recorded in the same transaction. */
int store_outbox_sent(struct store *s, int64_t id, int64_t outbound_id, const char *sid,
		const char *status);
/* Calls cb for rows in state (NULL: every row not done), oldest first, at most limit. */
int store_outbox_list(struct store *s, const char *state, int limit, store_outbox_cb cb,
		void *ctx);
/* Revives a dead row (id > 0) or every dead row (id 0): back to agent or send, attempts
 * 0, due now. *ret_count how many. */
int store_outbox_retry(struct store *s, int64_t id, int64_t now_ms, int *ret_count);
/* Rows not done or dead. */
int store_outbox_depth(struct store *s, int64_t *ret_depth);
/* The outbound message with our id (for reconciling a send): its sid ("" when none) and
 * status. -ENOENT. */
int store_outbound_state(struct store *s, int64_t id, char sid[STORE_SID_SIZE],
		char status[24]);

/* Stores message m of struct store_send in one transaction under its user's lock:
 * idempotency first (a known key answers REPLAYED or CONFLICT whatever else holds), then
 * the opt-out, then the limit; if all allow it, the message (status "scheduled" when
 * not_before is after now, else "queued"; flag STORE_FLAG_SENT_BY_API) and its outbox row
 * (lane by kind, due at not_before) and the key, durable on return (inside a transaction
 * the caller opened: a savepoint of it). 0 with *ret filled, or -ENOENT (no such user),
 * -EIO. */
int store_send_add(struct store *s, const struct store_send *m, struct store_send_result *ret);
/* user_id's message with public id uid: cb is called once with it. -ENOENT. */
int store_message_by_uid(struct store *s, const char *user_id, const char *uid,
		store_message_cb cb, void *ctx);
/* Ends user_id's message outbound_id unsent, with status ("canceled", "suppressed",
 * "over_budget") and why for the outbox, if it still waits to be handed to Twilio: 0, or
 * -EALREADY (it was handed over, or ended, already), -EIO. Of a finish and a send, one
 * wins. */
int store_send_finish(struct store *s, const char *user_id, int64_t outbound_id,
		const char *status, const char *why);
/* Outbox row id of user_id, still waiting, waits until next_at_ms (quiet hours). -ENOENT
 * when it no longer waits. */
int store_outbox_hold(struct store *s, const char *user_id, int64_t id, int64_t next_at_ms);
/* When user_id's last WhatsApp message came (unix seconds), 0 if none did. */
int store_last_whatsapp(struct store *s, const char *user_id, int64_t *ret_at);
/* Calls cb for the messages smsrouter starts itself not yet handed to Twilio, of user_id
 * (NULL: every user), due first, at most limit. */
int store_scheduled(struct store *s, const char *user_id, int limit, store_scheduled_cb cb,
		void *ctx);
/* Proactive messages waiting for a time after now_ms (unix milliseconds). */
int store_scheduled_depth(struct store *s, int64_t now_ms, int64_t *ret_depth);

/* Segments of user_id's outbound messages since since. */
int store_outbound_segments(struct store *s, const char *user_id, int64_t since,
		int64_t *ret_segments);

/* Messages and segments since since, one row per user with any, then one row with
 * user_id NULL for unknown senders (if any). */
int store_usage(struct store *s, int64_t since, store_usage_cb cb, void *ctx);

/* ---- retention and export (retention.c) ---- */

/* Erases at most limit messages created before cutoff (unix seconds), oldest first, with
 * their finished outbox rows, in one transaction, durable on return; what they counted is
 * added to their users' daily totals in the same transaction, so that store_usage since any
 * UTC midnight answers as before. A message whose outbox row is still being worked on is
 * kept until that row is finished. Users, phones, opt-outs and notes are not touched.
 * *ret_erased: messages erased (fewer than limit: none older is left). -EIO. */
int store_retention_sweep(struct store *s, int64_t cutoff, int limit, int64_t *ret_erased);

/* Calls cb for at most limit of user_id's messages with an id above after_id, oldest first
 * (a page of the export: the next page starts after the last id given). */
int store_messages_after(struct store *s, const char *user_id, int64_t after_id, int limit,
		store_message_cb cb, void *ctx);

/* The messages stored from since to before until, counted in buckets of bucket_s seconds
 * (3600 or 86400; since and until multiples of it): rows in the order of t, each a count of
 * one bucket, direction and outcome, which several rows may share (add them). Read from the hourly counts each stored message
 * adds itself to (migration 9), which retention and erasing a user leave alone, so a
 * year of hours is a few rows per hour whatever the number of users. cb's nonzero
 * return stops and is returned; -EIO. */
int store_stats(struct store *s, int64_t since, int64_t until, int64_t bucket_s,
		store_stats_cb cb, void *ctx);

/* user_id's usage since since, as one row of store_usage (user_id borrowed from the
 * caller). -EIO. */
int store_usage_user(struct store *s, const char *user_id, int64_t since,
		struct store_usage_row *ret_row);

/* Calls cb for each opted-out number of user_id's, oldest opt-out first: phone is the
 * number as the opt-out keeps it ("whatsapp:+1…" for WhatsApp), at unix seconds. */
typedef int (*store_optout_cb)(void *ctx, const char *phone, int64_t at);
int store_user_optouts(struct store *s, const char *user_id, store_optout_cb cb, void *ctx);

/* ---- events (SMSROUTER_EVENTS_URL; events.c) ----
 * Recorded, when store_options.events is set, in the transaction of the change they tell
 * of: store_status_update and store_outbox_sent (message.status, for an outbound message
 * with STORE_FLAG_SENT_BY_API and a user, when its status moved), store_optout_set
 * (user.opted_out, user.opted_in, for the user who owns the number, when its state
 * changed), store_event_user_mode. Each user's events are delivered in the order they were
 * recorded: the oldest pending one is the user's head, and only a head is claimed. */
#define STORE_EVENT_ID_SIZE 40 /* "evt_" and 32 hex digits */
#define STORE_EVENT_TYPE_SIZE 24
#define STORE_EVENT_MODE_SIZE 33
#define STORE_EVENT_MESSAGE_ID_SIZE 65
#define STORE_EVENT_BODY_SIZE 65536

struct store_event { /* plain record, nothing to free */
	int64_t id; /* the store's own; the order of a user's events */
	char uid[STORE_EVENT_ID_SIZE]; /* the public id, the same on every attempt */
	char type[STORE_EVENT_TYPE_SIZE]; /* "message.status", "user.opted_out", … */
	char user_id[STORE_ID_SIZE];
	int64_t at_ms;      /* when the change happened */
	int attempts;       /* this one's included */
	int64_t created_at_ms;
	/* message.status */
	char message_id[STORE_EVENT_MESSAGE_ID_SIZE]; /* the message's public id */
	char sid[STORE_SID_SIZE];       /* "" when Twilio has not named it */
	char status[24];
	char error_code[16]; /* "" when none */
	/* user.opted_out, user.opted_in */
	char phone[PHONE_SIZE];
	/* user.mode */
	char mode[STORE_EVENT_MODE_SIZE];
	/* message.inbound: {"user": …, "message": …} as recorded */
	char body[STORE_EVENT_BODY_SIZE];
};
typedef int (*store_event_cb)(void *ctx, const struct store_event *e);

/* Calls on_record(ctx) after this process records an event (its transaction may not have
 * committed yet). Set once, before other threads use the store; NULL: none. */
void store_events_on_record(struct store *s, void (*on_record)(void *ctx), void *ctx);
/* Records user.mode for user_id (mode at most STORE_EVENT_MODE_SIZE - 1 bytes), inside the
 * caller's transaction if any; nothing when the store records no events. -EINVAL, -EIO. */
int store_event_user_mode(struct store *s, const char *user_id, const char *mode);
/* Moves user_id to mode (store_mode_check's), and records user.mode when it changed, in
 * one transaction (the caller's if any). -EINVAL, -ENOENT (no such user), -EIO. */
int store_user_mode_set(struct store *s, const char *user_id, const char *mode);
/* Claims at most limit due heads (each a different user's), leasing each until
 * lease_until_ms (a crash makes it due again then) and counting its attempt; calls cb for
 * each. Safe with several processes on one database: a head one of them holds is skipped. */
int store_events_claim(struct store *s, int64_t now_ms, int64_t lease_until_ms, int limit,
		store_event_cb cb, void *ctx);
/* Event id was delivered: it is deleted. */
int store_event_delivered(struct store *s, int64_t id);
/* Event id failed: due again at next_at_ms, or given up (dead: kept, no longer its user's
 * head) when next_at_ms is negative. error (may be NULL) is kept for the operator. */
int store_event_failed(struct store *s, int64_t id, int64_t next_at_ms, const char *error);
/* Events not yet delivered nor given up. */
int store_events_pending(struct store *s, int64_t *ret_pending);
