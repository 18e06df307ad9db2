#include "agent/agent.h"

#include <errno.h>
#include <pthread.h>

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

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
	char *reply;
};

static void wake(void *ctx, int err, char *reply) {
	struct waiter *w = ctx;
	pthread_mutex_lock(&w->mu);
	w->err = err;
	w->reply = reply;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int agent_reply(struct agent *a, const struct agent_request *req, char **ret_reply) {
	struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	int r = agent_reply_async(a, req, wake, &w);
	if (r < 0) {
		return r;
	}
	pthread_mutex_lock(&w.mu);
	while (!w.done) {
		pthread_cond_wait(&w.cv, &w.mu);
	}
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	if (w.err < 0) {
		return w.err;
	}
	*ret_reply = w.reply;
	return 0;
}
