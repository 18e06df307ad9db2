/* The built-in agent: a per-user memo keeper whose answers are exact (CONTRACT.md). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/backend.h"

struct memo {
	struct agent base;
	struct store *store;
};

static bool is_space(char c) {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* A growing string; on ENOMEM it drops the text and stays NULL. */
struct buf {
	char *s;
	size_t len;
	size_t cap;
	bool failed;
};

static void buf_add(struct buf *b, const char *s, size_t n) {
	if (b->failed) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			free(b->s);
			b->s = NULL;
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static int add_note_line(void *ctx, int index, const char *text) {
	struct buf *b = ctx;
	char num[24];
	int n = snprintf(num, sizeof(num), "\n%d. ", index);
	buf_add(b, num, (size_t)n);
	buf_add(b, text, strlen(text));
	return b->failed ? -ENOMEM : 0;
}

static int recall(struct memo *m, const char *user_id, char **ret_reply) {
	struct buf b = {0};
	buf_add(&b, "Your notes:", 11);
	size_t header = b.len;
	int r = store_notes_list(m->store, user_id, add_note_line, &b);
	if (r < 0 || b.failed) {
		free(b.s);
		return r < 0 ? r : -ENOMEM;
	}
	if (b.len == header) {
		free(b.s);
		*ret_reply = strdup("You have no notes.");
	} else {
		*ret_reply = b.s;
	}
	return *ret_reply ? 0 : -ENOMEM;
}

static int memo_answer(struct agent *a, const struct agent_request *req, char **ret_reply) {
	struct memo *m = (struct memo *)a;
	const char *body = req->message->body ? req->message->body : "";
	const char *uid = req->user->id;
	char *reply = NULL;
	int r;

	/* Trim the whole body; the keyword is its first word, in any case. */
	while (is_space(*body)) {
		body++;
	}
	size_t len = strlen(body);
	while (len > 0 && is_space(body[len - 1])) {
		len--;
	}
	size_t word = 0;
	while (word < len && !is_space(body[word])) {
		word++;
	}
	const char *rest = body + word;
	while (rest < body + len && is_space(*rest)) {
		rest++;
	}
	size_t rest_len = (size_t)(body + len - rest);

	if (word == 8 && strncasecmp(body, "remember", 8) == 0 && rest_len > 0) {
		char *note = strndup(rest, rest_len);
		if (!note) {
			return -ENOMEM;
		}
		r = store_note_add(m->store, uid, note);
		free(note);
		if (r < 0) {
			return r;
		}
		reply = strdup("Noted.");
	} else if (word == len && word == 6 && strncasecmp(body, "recall", 6) == 0) {
		return recall(m, uid, ret_reply);
	} else if (word == len && word == 6 && strncasecmp(body, "forget", 6) == 0) {
		r = store_notes_clear(m->store, uid);
		if (r < 0) {
			return r;
		}
		reply = strdup("Forgotten.");
	} else {
		static const char fmt[] = "Hi %s. Text \"remember <note>\", \"recall\" or \"forget\".";
		size_t n = strlen(req->user->name) + sizeof(fmt);
		reply = malloc(n);
		if (reply) {
			snprintf(reply, n, fmt, req->user->name);
		}
	}
	if (!reply) {
		return -ENOMEM;
	}
	*ret_reply = reply;
	return 0;
}

/* The memo keeper answers at once, on the caller's thread. */
static int memo_reply_async(struct agent *a, const struct agent_request *req, agent_done_cb done,
		void *ctx) {
	struct agent_answer answer = {.agent = "default"};
	int r = memo_answer(a, req, &answer.reply);
	if (r < 0) {
		answer.reply = NULL;
	}
	done(ctx, r, &answer);
	return 0;
}

static void memo_destroy(struct agent *a) {
	free(a);
}

static const struct agent_ops memo_ops = {
	.reply_async = memo_reply_async,
	.answers_inline = true,
	.destroy = memo_destroy,
};

int agent_memo_create(struct store *s, struct agent **ret_agent) {
	struct memo *m = calloc(1, sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	m->base.ops = &memo_ops;
	m->store = s;
	*ret_agent = &m->base;
	return 0;
}
