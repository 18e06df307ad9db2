#include "agent/agent.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "wait.h"

#include "agent/backend.h"

bool agent_answers_inline(const struct agent *a) {
	return a->ops->answers_inline;
}

void agent_on_answers(struct agent *a, agent_answers_cb cb, void *ctx) {
	a->answers = cb;
	a->answers_ctx = ctx;
}

void agent__answered(struct agent *a) {
	if (a->answers) {
		a->answers(a->answers_ctx);
	}
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

void agent_answer_clear(struct agent_answer *answer) {
	free(answer->reply);
	free(answer->media);
	answer->reply = NULL;
	answer->media = NULL;
}

struct answer {
	struct wait_once w;
	int err;
	struct agent_answer answer;
};

static void wake(void *ctx, int err, struct agent_answer *answer) {
	struct answer *a = ctx;
	a->err = err;
	a->answer = *answer;
	wait_once_signal(&a->w);
}

int agent_reply(struct agent *a, const struct agent_request *req, struct agent_answer *ret) {
	struct answer w = {.w = WAIT_ONCE_INIT};
	int r = agent_reply_async(a, req, wake, &w);
	if (r < 0) {
		return r;
	}
	wait_once_wait(&w.w);
	*ret = w.answer; /* its agent's name, on an error too */
	return w.err;
}

bool agent_in_canary(const char *user_id, int basis_points) {
	unsigned char md[SHA256_DIGEST_LENGTH];
	uint64_t v = 0;
	SHA256((const unsigned char *)user_id, strlen(user_id), md);
	for (int i = 0; i < 8; i++) {
		v = v << 8 | md[i];
	}
	return (int)(v % 10000) < basis_points;
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
