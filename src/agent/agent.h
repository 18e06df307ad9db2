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

/* Creates the built-in memo agent over s (borrowed; must outlive the agent). */
int agent_memo_create(struct store *s, struct agent **ret_agent);
void agent_destroy(struct agent *a); /* NULL is fine */

/* Asks the agent for its reply to req. 0 with *ret_reply the reply (caller frees) or NULL
 * for no reply; -ETIMEDOUT, -EIO (the agent or the store failed), -ENOMEM. */
int agent_reply(struct agent *a, const struct agent_request *req, char **ret_reply);
