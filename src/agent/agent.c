#include "agent/agent.h"

#include "agent/backend.h"

void agent_destroy(struct agent *a) {
	if (a) {
		a->ops->destroy(a);
	}
}

int agent_reply(struct agent *a, const struct agent_request *req, char **ret_reply) {
	return a->ops->reply(a, req, ret_reply);
}
