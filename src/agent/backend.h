#pragma once
/* The table each agent kind fills; only agent.c calls through it. */
#include "agent/agent.h"

struct agent_ops {
	int (*reply_async)(struct agent *a, const struct agent_request *req, agent_done_cb done,
			void *ctx);
	void (*shutdown)(struct agent *a); /* may be NULL */
	void (*destroy)(struct agent *a);
	bool answers_inline; /* reply_async always calls done before it returns */
};

struct agent {
	const struct agent_ops *ops;
	agent_answers_cb answers; /* agent_on_answers' (NULL: none) */
	void *answers_ctx;
};

/* The backend has answered calls: agent_on_answers' callback runs. */
void agent__answered(struct agent *a);
