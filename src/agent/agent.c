#include "agent/agent.h"

#include <errno.h>
#include "wait.h"

#include "agent/backend.h"

bool agent_answers_inline(const struct agent *a) {
	return a->ops->answers_inline;
}

void agent_shutdown(struct agent *a) {
	if (a && a->ops->shutdown) {
		a->ops->shutdown(a);
	}
}

void agent_destroy(struct agent *a) {
	if (a) {
		agent_shutdown(a);
		a->ops->destroy(a);
	}
}

int agent_reply_async(struct agent *a, const struct agent_request *req, agent_done_cb done,
		void *ctx) {
	return a->ops->reply_async(a, req, done, ctx);
}

struct answer {
	struct wait_once w;
	int err;
	char *reply;
};

static void wake(void *ctx, int err, char *reply) {
	struct answer *a = ctx;
	a->err = err;
	a->reply = reply;
	wait_once_signal(&a->w);
}

int agent_reply(struct agent *a, const struct agent_request *req, char **ret_reply) {
	struct answer w = {.w = WAIT_ONCE_INIT};
	int r = agent_reply_async(a, req, wake, &w);
	if (r < 0) {
		return r;
	}
	wait_once_wait(&w.w);
	if (w.err < 0) {
		return w.err;
	}
	*ret_reply = w.reply;
	return 0;
}

const char *agent_error_text(int err) {
	switch (err) {
	case -ETIMEDOUT:
		return "agent timeout";
	case -ECONNREFUSED:
		return "agent refused";
	case -EBADMSG:
		return "agent bad answer";
	case -ECANCELED:
		return "shutting down";
	case -ENOMEM:
		return "no memory";
	default:
		return "agent failed";
	}
}
