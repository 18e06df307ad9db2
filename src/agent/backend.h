#pragma once
/* The table each agent kind fills; only agent.c calls through it. */
#include "agent/agent.h"

struct agent_ops {
	int (*reply)(struct agent *a, const struct agent_request *req, char **ret_reply);
	void (*destroy)(struct agent *a);
};

struct agent {
	const struct agent_ops *ops;
};
