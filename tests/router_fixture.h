#pragma once
/* The fixture and helpers of the router tests (test_router.c: the decision; test_router_batch.c:
 * many threads, batches and rest mode; test_router_text.c: keywords and blank replies): one
 * executable, run as `router`, and as `router-postgres` on PostgreSQL). Each test gets a
 * fresh store: SQLite in a temporary directory, or (SMSROUTER_TEST_STORE_BACKEND=postgres) a
 * new database on the private cluster named by SMSROUTER_TEST_PG_URL; the memo agent and a
 * rate limiter. Include after cmocka.h. */
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent/agent.h"
#include "log.h"
#include "ratelimit.h"
#include "router.h"
#include "sms/sms.h"
#include "store/pg_testdb.h"
#include "store/store.h"
#include "tmpstore.h"
#include "wait.h"


#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ADA_PHONE TMPSTORE_ADA_PHONE
#define BOB_PHONE TMPSTORE_BOB_PHONE
#define STRANGER "+15550100999"
#define OUR_NUMBER "+15550199999"
#define ONBOARDING "You are not registered here yet."
#define HELP "Automated memo service. Reply STOP to unsubscribe."

struct fixture {
	char dir[64];
	char db[40]; /* PostgreSQL: the test's database */
	struct store *s;
	struct agent *a;
	struct ratelimit *rl;
	struct router *r;
	struct store_user ada;
	struct store_user bob;
	int next_sid;
};

static inline int setup(void **state) {
	struct fixture *f = calloc(1, sizeof(*f));
	const struct router_options o = {.onboarding_text = ONBOARDING, .help_text = HELP};

	const char *backend = getenv("SMSROUTER_TEST_STORE_BACKEND");
	char url[512];

	if (!f) {
		return -1;
	}
	*state = f;
	if (backend && strcmp(backend, "postgres") == 0) {
		if (create_db(f->db, url, sizeof(url)) < 0 || store_open(url, NULL, &f->s) != 0) {
			return -1;
		}
	} else if (tmpstore_open("router", f->dir, NULL, &f->s) != 0) {
		return -1;
	}
	if (agent_memo_create(f->s, &f->a) != 0 ||
	    ratelimit_create(0, 60, &f->rl) != 0 ||
	    router_create(f->s, f->a, f->rl, &o, &f->r) != 0 ||
	    tmpstore_add_ada_and_bob(f->s, &f->ada, &f->bob) != 0) {
		return -1;
	}
	return 0;
}

static inline int teardown(void **state) {
	struct fixture *f = *state;
	router_destroy(f->r);
	ratelimit_destroy(f->rl);
	agent_destroy(f->a);
	store_close(f->s);
	if (f->db[0]) {
		drop_db(f->db);
	} else {
		tmpstore_remove(f->dir);
	}
	free(f);
	return 0;
}

/* One message on its way through router_submit, and what its done was given. */
struct waited {
	struct router_job job;
	struct wait_once w;
	atomic_int calls;
	int err;
	struct router_result result;
};

static inline void on_done(void *ctx, int err, struct router_result *result) {
	struct waited *d = ctx;
	d->err = err;
	d->result = *result;
	atomic_fetch_add(&d->calls, 1);
	wait_once_signal(&d->w);
}

static inline void submit(struct router *r, struct waited *d, const struct router_inbound *in) {
	*d = (struct waited){.w = WAIT_ONCE_INIT};
	router_submit(r, &d->job, in, on_done, d);
}

/* Waits for d's done: the error it got, with *ret its result. */
static inline int wait_done(struct waited *d, struct router_result *ret) {
	wait_once_wait(&d->w);
	*ret = d->result;
	return d->err;
}

/* One message through r, waiting for its answer as the webhook does. */
static inline int route_sync(struct router *r, const struct router_inbound *in,
                      struct router_result *ret) {
	struct waited d;
	submit(r, &d, in);
	return wait_done(&d, ret);
}

/* Several messages submitted at once (the writer takes in as many to a batch as are
 * queued, as with Twilio's concurrent webhooks), then each one's answer: d[i]. */
static inline void route_together(struct router *r, const struct router_inbound *in, size_t n,
                           struct waited *d) {
	for (size_t i = 0; i < n; i++) {
		submit(r, &d[i], &in[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct router_result ignored;
		wait_done(&d[i], &ignored);
		assert_int_equal(atomic_load(&d[i].calls), 1);
	}
}

/* Routes one message through r with the given sid (NULL: a fresh one); asserts success. */
static inline struct router_result route_on(struct fixture *f, struct router *r, const char *sid,
                                     const char *from, const char *body, const char *opt_out_type) {
	char fresh[STORE_SID_SIZE];
	if (!sid) {
		snprintf(fresh, sizeof(fresh), "SM%032d", ++f->next_sid);
		sid = fresh;
	}
	struct router_inbound in = {
	                .sid = sid,
	                .from = from,
	                .to = OUR_NUMBER,
	                .body = body,
	                .opt_out_type = opt_out_type,
	};
	struct router_result res;
	memset(&res, 0x5a, sizeof(res));
	int e = route_sync(r, &in, &res);
	if (e != 0) {
		fail_msg("router_submit(\"%s\") gave %d", body ? body : "(null)", e);
	}
	return res;
}

static inline struct router_result route(struct fixture *f, const char *sid, const char *from,
                                  const char *body) {
	return route_on(f, f->r, sid, from, body, NULL);
}

static inline const char *outcome_name(enum router_outcome o) {
	switch (o) {
	case ROUTER_ROUTED:
		return "ROUTED";
	case ROUTER_UNROUTED:
		return "UNROUTED";
	case ROUTER_RATE_LIMITED:
		return "RATE_LIMITED";
	case ROUTER_OPTED_OUT:
		return "OPTED_OUT";
	case ROUTER_OPTED_IN:
		return "OPTED_IN";
	case ROUTER_HELP:
		return "HELP";
	case ROUTER_BLOCKED:
		return "BLOCKED";
	case ROUTER_DUPLICATE:
		return "DUPLICATE";
	default:
		return "other";
	}
}

static inline void assert_outcome(const struct router_result *res, enum router_outcome expected,
                           const char *what) {
	if (res->outcome != expected) {
		fail_msg("%s: outcome %s, expected %s", what, outcome_name(res->outcome),
		         outcome_name(expected));
	}
}

/* Asserts the reply (NULL: none, and no stored outbound) and frees it. */
static inline void assert_reply(struct router_result *res, const char *expected, const char *what) {
	if (expected == NULL) {
		if (res->reply != NULL) {
			fail_msg("%s: expected no reply, got \"%s\"", what, res->reply);
		}
		assert_int_equal(res->outbound_id, 0);
		return;
	}
	if (res->reply == NULL || strcmp(res->reply, expected) != 0) {
		fail_msg("%s: expected reply \"%s\", got \"%s\"", what, expected,
		         res->reply ? res->reply : "(null)");
	}
	free(res->reply);
	res->reply = NULL;
}

static inline bool opted_out(struct fixture *f, const char *phone) {
	bool out = false;
	assert_int_equal(store_optout_get(f->s, phone, &out), 0);
	return out;
}

static inline int count_note(void *ctx, int index, const char *text) {
	(void)index;
	(void)text;
	(*(int *)ctx)++;
	return 0;
}

static inline int notes_of(struct fixture *f, const struct store_user *u) {
	int n = 0;
	assert_int_equal(store_notes_list(f->s, u->id, count_note, &n), 0);
	return n;
}

struct newest {
	int n;
	int64_t id[8];
	enum store_direction direction[8];
	char status[8][32];
	char body[8][64];
	int64_t reply_to[8];
};

static inline int collect_newest(void *ctx, const struct store_message *m) {
	struct newest *c = ctx;
	if (c->n < 8) {
		c->id[c->n] = m->id;
		c->direction[c->n] = m->direction;
		snprintf(c->status[c->n], sizeof(c->status[0]), "%s", m->status);
		snprintf(c->body[c->n], sizeof(c->body[0]), "%s", m->body);
		c->reply_to[c->n] = m->reply_to;
	}
	c->n++;
	return 0;
}

/* user's newest messages (up to 8), newest first. */
static inline struct newest newest_of(struct fixture *f, const struct store_user *u) {
	struct newest c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_messages_list(f->s, u->id, 8, collect_newest, &c), 0);
	return c;
}

struct usage_one {
	const char *user_id;
	bool found;
	struct store_usage_row row;
};

static inline int usage_one_row(void *ctx, const struct store_usage_row *r) {
	struct usage_one *u = ctx;
	if (r->user_id && strcmp(r->user_id, u->user_id) == 0) {
		u->found = true;
		u->row = *r;
		u->row.user_id = NULL;
	}
	return 0;
}

static inline struct store_usage_row usage_of(struct fixture *f, const struct store_user *user) {
	struct usage_one u = {.user_id = user->id};
	assert_int_equal(store_usage(f->s, 0, usage_one_row, &u), 0);
	assert_true(u.found);
	return u.row;
}

/* ---- routing ---- */


/* Each test runs on its own fresh store. */
#define FIXTURE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* The groups of the other files. */
extern const struct CMUnitTest router_batch_tests[];
extern const size_t router_batch_tests_count;
extern const struct CMUnitTest router_text_tests[];
extern const size_t router_text_tests_count;
