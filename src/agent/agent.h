#pragma once
/* agent: one interface to whatever answers a user's message. The built-in memo keeper
 * (memo.c) today; an Agent Core over HTTP behind the same call. An agent is given one
 * user, one message and nothing of any other user. Knows nothing of the HTTP server or
 * SQL (memo keeps its notes through the store interface). */
#include "store/store.h"

struct agent;

struct agent_request {
	const struct store_user *user;
	const struct store_message *message; /* the inbound message, already stored */
};

/* What an agent call's error means, for logs and dead letters: "agent timeout", "agent
 * refused", "agent bad answer", "shutting down", "no memory", or "agent failed" (5xx, a
 * network or a store failure). */
const char *agent_error_text(int err);

/* Called once per call with 0 and the reply (the callee's to free; NULL: no reply) or a
 * negative errno: -ETIMEDOUT (past the deadline), -ECONNREFUSED, -EIO (5xx, network or
 * store failure), -EBADMSG (not the contract's answer), -ECANCELED (shutting down). */
typedef void (*agent_done_cb)(void *ctx, int err, char *reply);

struct agent_http_options {
	const char *url;    /* SMSROUTER_AGENT_URL */
	const char *secret; /* SMSROUTER_AGENT_SECRET: key of X-SMSRouter-Signature */
	int timeout_ms;     /* deadline of one call */
};

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

/* The same, waiting for the answer: 0 with *ret_reply (caller frees; NULL: no reply), or
 * the negative errno done would get. */
int agent_reply(struct agent *a, const struct agent_request *req, char **ret_reply);

/* What an Agent Core's answer means, by the contract: HTTP status and body → 0 with
 * *ret_reply (caller frees; NULL: no reply, for 204 or {"reply": null}), -EIO (5xx),
 * -EBADMSG (anything else: another status, not JSON, no "reply" string or null),
 * -ENOMEM. */
int agent_parse_reply(long status, const char *body, size_t len, char **ret_reply);

/* The JSON body of the Agent Core request for req: user, message, and the user's last 20
 * messages before this one (req's message is stored: its id bounds them; see
 * store_history), oldest first, whenever the call is made. *ret_json is the caller's to
 * free(). -EIO, -ENOMEM. */
int agent_request_json(struct store *s, const struct agent_request *req, char **ret_json);
