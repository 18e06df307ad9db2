#pragma once
/* agent: one interface to whatever answers a user's message. The built-in memo keeper
 * (memo.c) today; an Agent Core over HTTP behind the same call. An agent is given one
 * user, one message and nothing of any other user. Knows nothing of the HTTP server or
 * SQL (memo keeps its notes through the store interface). */
#include "store/store.h"

struct media_links;

struct agent;

struct agent_request {
	const struct store_user *user;
	const struct store_message *message; /* the inbound message, already stored */
};

/* What an agent call's error means, for logs and dead letters: "agent timeout", "agent
 * refused", "agent bad answer", "shutting down", "no memory", or "agent failed" (5xx, a
 * network or a store failure). */
const char *agent_error_text(int err);

/* An agent's answer. */
struct agent_answer {
	char *reply;       /* the callee's to free; NULL: no reply (always, on an error) */
	bool handoff;      /* {"handoff": true}: the user goes to a person (human mode) */
	/* "media": the callee's to free; a JSON array of 1–10 http(s) URLs, or NULL: none. */
	char *media;
	const char *agent; /* the name of the agent asked, for labels ("default", a named
			    * one); borrowed, lives as long as the agent */
};

/* Called once per call with 0 or a negative errno: -ETIMEDOUT (past the deadline),
 * -ECONNREFUSED, -EIO (5xx, network or store failure), -EBADMSG (not the contract's
 * answer), -ECANCELED (shutting down); answer is the callee's to take reply from. */
typedef void (*agent_done_cb)(void *ctx, int err, struct agent_answer *answer);

/* One named Agent Core (SMSROUTER_AGENTS). */
struct agent_endpoint {
	const char *name;
	const char *url;
	const char *secret;
	int timeout_ms;
};

struct agent_http_options {
	const char *url;    /* SMSROUTER_AGENT_URL: the agent named default */
	const char *secret; /* SMSROUTER_AGENT_SECRET: key of X-SMSRouter-Signature */
	int timeout_ms;     /* deadline of one call */
	const struct agent_endpoint *named; /* the others, copied; a user's agent names one */
	int nnamed;
	/* SMSROUTER_AGENT_CANARY: users without an agent of their own and in the canary's
	 * share (agent_in_canary) go to agent canary (a name above, or "default"). NULL: none. */
	const char *canary;
	int canary_basis_points;
	/* Makes each inbound media entry's "fetch_url" (docs/media.md); borrowed, outlives the
	 * agent. NULL: no fetch_url. */
	const struct media_links *media_links;
};

/* Whether user_id is among the basis_points / 10000 share of users the canary takes: the
 * first 8 bytes of the SHA-256 of the id, big-endian, mod 10000, below basis_points. The
 * same users every time, on every router. */
bool agent_in_canary(const char *user_id, int basis_points);

/* Creates the built-in memo agent over s (borrowed; must outlive the agent). */
int agent_memo_create(struct store *s, struct agent **ret_agent);
/* Creates the Agent Core client: one thread running a libcurl multi loop, so that any
 * number of calls wait at once without holding a caller's thread. One user's calls run one
 * at a time, in the order they were made, each with what is left of its deadline
 * (timeout_ms from when it was made); s gives each call its user's history as it starts.
 * -ENOMEM, -EIO. */
int agent_http_create(const struct agent_http_options *o, struct store *s,
		struct agent **ret_agent);
/* True if this agent answers on the caller's thread at once (the memo keeper): its work
 * may share the caller's transaction. */
bool agent_answers_inline(const struct agent *a);
/* Finishes calls in flight with -ECANCELED and stops the agent's thread. Idempotent. */
void agent_shutdown(struct agent *a);
void agent_destroy(struct agent *a); /* shuts down first; NULL is fine */

/* Starts a call for req (borrowed for the duration of this call only). done runs exactly
 * once: before this returns (the memo agent) or later on the agent's thread. 0, or
 * -ENOMEM / -EIO when the call could not start (done is then not called). */
int agent_reply_async(struct agent *a, const struct agent_request *req, agent_done_cb done,
		void *ctx);

/* Called on the agent's own thread after it has answered calls (their done callbacks have
 * run), before it starts a later call of any of their users: done may leave what it
 * stores to cb, so that the answers of one moment commit together and each user's next
 * call still reads a history that holds the answer before it. Set before the first call;
 * an agent that answers inline never calls it. */
typedef void (*agent_answers_cb)(void *ctx);
void agent_on_answers(struct agent *a, agent_answers_cb cb, void *ctx);

/* The same, waiting for the answer: 0 with *ret_reply (caller frees; NULL: no reply), or
 * the negative errno done would get. */
int agent_reply(struct agent *a, const struct agent_request *req, struct agent_answer *ret);

/* What an Agent Core's answer means, by the contract: HTTP status and body → 0 with
 * ret's reply (NULL: no reply, for 204 or {"reply": null}), handoff (true for "handoff":
 * true) and media (NULL, or the "media" list: at most 10 URLs that twilio_media_url_ok
 * takes; an empty list is none), each the caller's to free; -EIO (5xx), -EBADMSG (anything
 * else: another status, not JSON, no "reply" string or null, a "media" that is not such
 * a list), -ENOMEM. Nothing is written to ret on failure. */
int agent_parse_reply(long status, const char *body, size_t len, struct agent_answer *ret);
/* Frees what answer holds (reply, media) and empties those fields. */
void agent_answer_clear(struct agent_answer *answer);

/* {"user": …, "message": …} of req, as the Agent Core request has them (no history): what
 * the operator URL is sent for a user in human mode. *ret_json is the caller's to free().
 * -ENOMEM. */
int agent_operator_json(const struct agent_request *req, char **ret_json);

/* The JSON body of the Agent Core request for req: user, message, and the user's last 20
 * messages before this one (req's message is stored: its id bounds them; see
 * store_history), oldest first, whenever the call is made. *ret_json is the caller's to
 * free(). -EIO, -ENOMEM. */
int agent_request_json(struct store *s, const struct agent_request *req, char **ret_json);
