/* store: opening by URL scheme, the store-wide calls (ping, counts, schema version) and
 * the caller's transactions; the operations live in users.c, messages.c, notes.c,
 * numbers.c and outbox.c, the dialects in sqlite.c and postgres.c (dialect.h). */
#include "store/store.h"

#include <errno.h>
#include <string.h>

#include "store/dialect.h"

int store_open(const char *url, const struct store_options *o, struct store **ret_store) {
	static const struct store_options defaults = {.sync = STORE_SYNC_GROUP};
	if (!o) {
		o = &defaults;
	}
	int r = -EINVAL;
	if (strncmp(url, "sqlite:", 7) == 0) {
		r = store_sqlite_open(url + 7, o, ret_store);
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		r = store_postgres_open(url, o, ret_store);
	}
	if (r == 0) {
		(*ret_store)->events = o->events;
	}
	return r;
}

void store_close(struct store *s) {
	if (s) {
		s->d->close(s);
	}
}

bool store_single_writer(const struct store *s) {
	return s->d->single_writer;
}

int store_ping(struct store *s) {
	return s->d->ping(s);
}

int store_counts(struct store *s, int64_t *ret_users, int64_t *ret_phones) {
	struct store__q q = store__q(ST_COUNTS);
	int r = store__row(s, NULL, &q);
	if (r == 0) {
		*ret_users = store__col_int(&q, 0);
		*ret_phones = store__col_int(&q, 1);
		store__done(s, &q);
	}
	return r < 0 ? -EIO : 0;
}

int store_schema_version(struct store *s, int *ret_version) {
	struct store__q q = store__q(ST_VERSION);
	int64_t v = 0;
	int r = store__one_int(s, NULL, &q, &v);
	if (r == 0) {
		*ret_version = (int)v;
	}
	return r < 0 ? -EIO : 0;
}

int store_tx_begin(struct store *s) {
	return store__begin(s);
}

int store_tx_commit(struct store *s) {
	return store__commit(s);
}

int store_tx_commit_then(struct store *s, store_durable_cb done, void *ctx) {
	return s->d->commit(s, done, ctx);
}

void store_tx_rollback(struct store *s) {
	store__rollback(s);
}
