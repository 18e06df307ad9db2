/* The operations' side of the dialect layer (dialect.h): parameters, transactions scoped
 * or not, running a statement and reading its columns, each a short step through the
 * dialect's table; and the per-thread connection registry both dialects keep theirs in. */
#include "store/dialect.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct store__param *param(struct store__q *q) {
	assert(q->n < STORE__MAX_PARAMS);
	return &q->p[q->n++];
}

void store__text(struct store__q *q, const char *v) {
	struct store__param *p = param(q);
	p->type = v ? STORE__TEXT : STORE__NULL;
	p->text = v;
}

void store__int(struct store__q *q, int64_t v) {
	struct store__param *p = param(q);
	p->type = STORE__INT;
	p->i = v;
}

int store__begin(struct store *s) {
	return s->d->begin(s);
}

/* Messages of unknown senders (user_id NULL) belong to the pseudo-user "-", which no user
 * id can be. */
int store__begin_as(struct store *s, const char *user_id) {
	int r = s->d->begin(s);
	if (r < 0 || !s->d->scope) {
		return r;
	}
	r = s->d->scope(s, user_id ? user_id : "-");
	if (r < 0) {
		s->d->rollback(s);
	}
	return r;
}

int store__commit(struct store *s) {
	return s->d->commit(s, NULL, NULL);
}

void store__rollback(struct store *s) {
	s->d->rollback(s);
}

int store__end(struct store *s, int r) {
	return store__end_then(s, r, NULL, NULL);
}

int store__end_then(struct store *s, int r, store_durable_cb done, void *ctx) {
	if (r < 0) {
		s->d->rollback(s);
		return r;
	}
	return s->d->commit(s, done, ctx);
}

int store__exec(struct store *s, struct store__q *q) {
	q->d = s->d;
	return s->d->exec(s, q);
}

/* Where the dialect scopes (PostgreSQL), its own transaction: begin, scope, statement,
 * commit; the rows stay readable after the commit. Elsewhere the statement alone. */
int store__exec_as(struct store *s, const char *user_id, struct store__q *q) {
	if (!s->d->scope) {
		return store__exec(s, q);
	}
	int r = store__begin_as(s, user_id);
	if (r < 0) {
		return r;
	}
	r = store__exec(s, q);
	if (r < 0) {
		s->d->rollback(s);
		return r;
	}
	r = s->d->commit(s, NULL, NULL);
	if (r < 0) {
		s->d->done(s, q);
	}
	return r;
}

int store__next(struct store__q *q) {
	return q->d->next(q);
}

int store__done(struct store *s, struct store__q *q) {
	return s->d->done(s, q);
}

int store__write(struct store *s, struct store__q *q) {
	int r = store__exec(s, q);
	return r < 0 ? r : store__done(s, q);
}

int store__affected(struct store *s, struct store__q *q, int64_t *ret_n) {
	int r = store__exec(s, q);
	if (r < 0) {
		return r;
	}
	r = store__next(q);
	if (r >= 0) {
		*ret_n = r > 0 ? store__col_int(q, 0) : q->changes;
	}
	int d = store__done(s, q);
	return r < 0 ? r : d;
}

int store__row(struct store *s, const char *user_id, struct store__q *q) {
	int r = user_id ? store__exec_as(s, user_id, q) : store__exec(s, q);
	if (r < 0) {
		return r;
	}
	r = store__next(q);
	if (r <= 0) {
		store__done(s, q);
		return r == 0 ? -ENOENT : r;
	}
	return 0;
}

int store__one_int(struct store *s, const char *user_id, struct store__q *q, int64_t *ret) {
	int r = store__row(s, user_id, q);
	if (r == 0) {
		*ret = store__col_int(q, 0);
		r = store__done(s, q);
	}
	return r;
}

int64_t store__col_int(const struct store__q *q, int col) {
	return q->d->col_int(q, col);
}

const char *store__col_text(const struct store__q *q, int col) {
	return q->d->col_text(q, col);
}

void store__col_copy(const struct store__q *q, int col, char *out, size_t size) {
	const char *v = q->d->col_text(q, col);
	snprintf(out, size, "%s", v ? v : "");
}

/* ---- per-thread connections ---- */

/* A thread ended: its connection goes with it. */
static void conn_release(void *p) {
	struct store_conn *c = p;
	struct store_conns *r = c->owner;

	pthread_mutex_lock(&r->mu);
	for (struct store_conn **pp = &r->head; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	r->free_conn(c);
}

int store_conns_init(struct store_conns *r, void (*free_conn)(struct store_conn *c)) {
	memset(r, 0, sizeof(*r));
	if (pthread_key_create(&r->key, conn_release) != 0) {
		return -ENOMEM;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->free_conn = free_conn;
	return 0;
}

struct store_conn *store_conns_mine(struct store_conns *r) {
	return pthread_getspecific(r->key);
}

int store_conns_add(struct store_conns *r, struct store_conn *c) {
	c->owner = r;
	if (pthread_setspecific(r->key, c) != 0) {
		return -ENOMEM;
	}
	pthread_mutex_lock(&r->mu);
	c->next = r->head;
	r->head = c;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void store_conns_destroy(struct store_conns *r) {
	pthread_key_delete(r->key);
	for (struct store_conn *c = r->head, *next; c; c = next) {
		next = c->next;
		r->free_conn(c);
	}
	r->head = NULL;
	pthread_mutex_destroy(&r->mu);
}
