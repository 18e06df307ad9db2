/* store: events — recording them in the transaction of the change they tell of (when the
 * store records events), claiming each user's head, their outcome, and the mapping of a
 * claimed event, once. */
#include "store/store.h"

#include <errno.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"

void store_events_on_record(struct store *s, void (*on_record)(void *ctx), void *ctx) {
	s->on_event = on_record;
	s->on_event_ctx = ctx;
}

/* Runs q, an insert of events with ?3 a fresh public id and ?4 now, its other parameters
 * bound; tells on_event when it wrote any. */
static int record(struct store *s, struct store__q *q) {
	char uid[STORE_EVENT_ID_SIZE];
	int64_t n = 0;
	if (ids_random_hex("evt_", 16, uid, sizeof(uid)) < 0) {
		return -EIO;
	}
	store__text(q, uid);
	store__int(q, ids_now_ms());
	int r = store__affected(s, q, &n);
	if (r == 0 && n > 0 && s->on_event) {
		s->on_event(s->on_event_ctx);
	}
	return r;
}

int store__event_status(struct store *s, int64_t id, const char *sid) {
	if (!s->events) {
		return 0;
	}
	struct store__q q = store__q(ST_EV_STATUS);
	store__int(&q, id);
	store__text(&q, sid);
	return record(s, &q);
}

int store__event_phone(struct store *s, const char *phone, bool opted_out) {
	if (!s->events) {
		return 0;
	}
	struct store__q q = store__q(ST_EV_PHONE);
	store__text(&q, phone);
	store__text(&q, opted_out ? "user.opted_out" : "user.opted_in");
	return record(s, &q);
}

int store_event_user_mode(struct store *s, const char *user_id, const char *mode) {
	if (strlen(mode) >= STORE_EVENT_MODE_SIZE) {
		return -EINVAL;
	}
	if (!s->events) {
		return 0;
	}
	struct store__q q = store__q(ST_EV_MODE);
	int r = store__begin_as(s, user_id);
	if (r < 0) {
		return r;
	}
	store__text(&q, user_id);
	store__text(&q, mode);
	return store__end(s, record(s, &q));
}

int store__event_inbound(struct store *s, const char *user_id, const char *json) {
	if (strlen(json) >= STORE_EVENT_BODY_SIZE) {
		return -EMSGSIZE;
	}
	struct store__q q = store__q(ST_EV_INBOUND);
	store__text(&q, user_id);
	store__text(&q, json);
	return record(s, &q);
}

/* Fills e from a row of the catalogue's EV_COLS_SQLITE. */
static void event_row(const struct store__q *q, struct store_event *e) {
	memset(e, 0, sizeof(*e));
	e->id = store__col_int(q, 0);
	store__col_copy(q, 1, e->uid, sizeof(e->uid));
	store__col_copy(q, 2, e->type, sizeof(e->type));
	store__col_copy(q, 3, e->user_id, sizeof(e->user_id));
	e->at_ms = store__col_int(q, 4);
	e->attempts = (int)store__col_int(q, 5);
	e->created_at_ms = store__col_int(q, 6);
	store__col_copy(q, 7, e->message_id, sizeof(e->message_id));
	store__col_copy(q, 8, e->sid, sizeof(e->sid));
	store__col_copy(q, 9, e->status, sizeof(e->status));
	store__col_copy(q, 10, e->error_code, sizeof(e->error_code));
	store__col_copy(q, 11, e->phone, sizeof(e->phone));
	store__col_copy(q, 12, e->mode, sizeof(e->mode));
	store__col_copy(q, 13, e->body, sizeof(e->body));
}

/* The rows are read to the end whatever cb says: the claim has leased them all (SQLite
 * makes its changes at the first step, PostgreSQL before the first row comes back). */
int store_events_claim(struct store *s, int64_t now_ms, int64_t lease_until_ms, int limit,
		store_event_cb cb, void *ctx) {
	struct store__q q = store__q(ST_EV_CLAIM);
	struct store_event e;
	int r, failed = 0;

	store__int(&q, now_ms);
	store__int(&q, lease_until_ms);
	store__int(&q, store__limit(limit));
	r = store__exec(s, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		event_row(&q, &e);
		if (failed == 0) {
			failed = cb(ctx, &e);
		}
	}
	int d = store__done(s, &q);
	return r < 0 ? r : d < 0 ? d : failed;
}

int store_event_delivered(struct store *s, int64_t id) {
	struct store__q q = store__q(ST_EV_DELETE);
	store__int(&q, id);
	return store__write(s, &q);
}

int store_event_failed(struct store *s, int64_t id, int64_t next_at_ms, const char *error) {
	struct store__q q = store__q(ST_EV_UPDATE);
	store__int(&q, id);
	store__text(&q, next_at_ms < 0 ? "dead" : "pending");
	store__int(&q, next_at_ms < 0 ? ids_now_ms() : next_at_ms);
	store__text(&q, error);
	return store__write(s, &q);
}

int store_events_pending(struct store *s, int64_t *ret_pending) {
	struct store__q q = store__q(ST_EV_PENDING);
	int r = store__one_int(s, NULL, &q, ret_pending);
	return r == -ENOENT ? -EIO : r;
}
