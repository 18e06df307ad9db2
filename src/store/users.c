/* store: users and their phones — the name rule, the ten-phone cap, adding one user or
 * importing many, lookups by id and by phone (routing's one lookup too), listing and
 * deleting; and the mapping of a user row, once for both dialects. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"
#include "utf8.h"

int store_name_check(const char *name, const char **reterr_why) {
	const unsigned char *u = (const unsigned char *)name;
	size_t len = strlen(name);
	const char *why = NULL;
	bool blank = true;

	if (len >= STORE_NAME_SIZE) {
		why = "the name is longer than 200 bytes";
	}
	for (size_t i = 0; !why && i < len;) {
		uint32_t cp;
		int n = utf8_decode(u + i, len - i, &cp);
		if (n < 0) {
			why = "the name is not valid UTF-8";
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			/* A tab or a newline would also break user list's tab-separated lines. */
			why = "the name has a control character";
		} else {
			blank = blank && utf8_is_space(cp); /* controls are refused above */
			i += (size_t)n;
		}
	}
	if (!why && blank) {
		why = "the name is empty or only white space";
	}
	if (why && reterr_why) {
		*reterr_why = why;
	}
	return why ? -EINVAL : 0;
}

/* The one place of the cap: a user with have phones may take more. -ENOSPC if not. */
static int phones_fit(int64_t have, size_t more) {
	return have + (int64_t)more > STORE_MAX_PHONES ? -ENOSPC : 0;
}

/* A new user's checks, before anything is written: its name and its phones' count. */
int store__user_valid(const char *name, size_t nphones) {
	return store_name_check(name, NULL) < 0 ? -EINVAL : phones_fit(0, nphones);
}

/* Fills u from a user row: id, name, created_at, phones separated by spaces, opted_out. */
static void user_row(const struct store__q *q, struct store_user *u) {
	const char *p = store__col_text(q, 3);

	memset(u, 0, sizeof(*u));
	store__col_copy(q, 0, u->id, sizeof(u->id));
	store__col_copy(q, 1, u->name, sizeof(u->name));
	u->created_at = store__col_int(q, 2);
	while (p && *p && u->nphones < STORE_MAX_PHONES) {
		size_t len = strcspn(p, " ");
		snprintf(u->phones[u->nphones], PHONE_SIZE, "%.*s", (int)len, p);
		u->nphones++;
		p += len;
		p += strspn(p, " ");
	}
	u->opted_out = store__col_int(q, 4) != 0;
}

/* Runs a statement that gives at most one user row. */
static int user_one(struct store *s, enum store__st st, const char *key, const char *scope,
		struct store_user *ret_user) {
	struct store__q q = store__q(st);
	store__text(&q, key);
	int r = store__row(s, scope, &q);
	if (r == 0) {
		user_row(&q, ret_user);
		store__done(s, &q);
	}
	return r;
}

int store_user_get(struct store *s, const char *id, struct store_user *ret_user) {
	return user_one(s, ST_USER_GET, id, id, ret_user);
}

int store_user_by_phone(struct store *s, const char *phone, struct store_user *ret_user) {
	return user_one(s, ST_USER_BY_PHONE, phone, NULL, ret_user);
}

int store_route_lookup(struct store *s, const char *phone, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out) {
	struct store__q q = store__q(ST_ROUTE);
	store__text(&q, phone);
	int r = store__row(s, NULL, &q);
	if (r == 0) {
		*ret_known = store__col_text(&q, 0) != NULL;
		if (*ret_known) {
			memset(ret_user, 0, sizeof(*ret_user));
			store__col_copy(&q, 0, ret_user->id, sizeof(ret_user->id));
			store__col_copy(&q, 1, ret_user->name, sizeof(ret_user->name));
			ret_user->created_at = store__col_int(&q, 2);
		}
		*ret_opted_out = store__col_int(&q, 3) != 0;
		ret_user->opted_out = *ret_known && *ret_opted_out;
		store__done(s, &q);
	}
	return r == -ENOENT ? -EIO : r;
}

int store__user_insert(struct store *s, const char *id, const char *name, int64_t now) {
	struct store__q q = store__q(ST_USER_INSERT);
	store__text(&q, id);
	store__text(&q, name);
	store__int(&q, now);
	int r = store__write(s, &q);
	return r == -EEXIST ? -EIO : r; /* a random id never collides */
}

/* -EEXIST: another user's already. */
int store__phone_insert(struct store *s, const char *phone, const char *id, int64_t seq) {
	struct store__q q = store__q(ST_PHONE_INSERT);
	store__text(&q, phone);
	store__text(&q, id);
	store__int(&q, seq);
	return store__write(s, &q);
}

int store_user_add(struct store *s, const char *name, const char *const *phones, size_t nphones,
		struct store_user *ret_user, size_t *reterr_index) {
	char id[STORE_ID_SIZE];
	int r = store__user_valid(name, nphones);

	if (r == 0) {
		r = ids_random_hex("", 16, id, sizeof(id));
	}
	if (r == 0) {
		r = store__begin_as(s, id);
	}
	if (r < 0) {
		return r;
	}
	r = store__user_insert(s, id, name, ids_now());
	for (size_t i = 0; i < nphones && r == 0; i++) {
		r = store__phone_insert(s, phones[i], id, (int64_t)i);
		if (r == -EEXIST && reterr_index) {
			*reterr_index = i;
		}
	}
	r = store__end(s, r);
	if (r < 0) {
		return r;
	}
	return ret_user ? store_user_get(s, id, ret_user) : 0;
}

int store_user_delete(struct store *s, const char *id) {
	static const enum store__st steps[] = {ST_DEL_NOTES, ST_DEL_OUTBOX, ST_DEL_MESSAGES,
		ST_DEL_PHONES, ST_DEL_USER};
	int64_t n = 0;
	int r = store__begin_as(s, id);

	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && r == 0; i++) {
		struct store__q q = store__q(steps[i]);
		store__text(&q, id);
		r = store__affected(s, &q, &n);
	}
	return store__end(s, r == 0 && n == 0 ? -ENOENT : r); /* n: the users row */
}

int store_user_list(struct store *s, store_user_cb cb, void *ctx) {
	struct store__q q = store__q(ST_USER_LIST);
	struct store_user u;
	int r = store__exec(s, &q);

	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		user_row(&q, &u);
		r = cb(ctx, &u);
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	return r;
}

/* 1 if q gives a row, 0 if none, or an error. */
static int has_row(struct store *s, struct store__q *q) {
	int64_t unused;
	int r = store__one_int(s, NULL, q, &unused);
	return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

/* Within id's transaction (scoped, its row locked so that two adds take turns): the user
 * exists, the phone is not its already, the insert, which finds another user's number by
 * the unique constraint alone, then the cap (rolled back with the insert). */
int store_phone_add(struct store *s, const char *id, const char *phone) {
	struct store__q lock = store__q(ST_USER_LOCK), mine = store__q(ST_PHONE_MINE);
	int64_t have = 0, seq = 0;
	int r = store__begin_as(s, id);
	if (r < 0) {
		return r;
	}
	store__text(&lock, id);
	store__text(&mine, phone);
	store__text(&mine, id);
	r = has_row(s, &lock);
	r = r == 0 ? -ENOENT : r < 0 ? r : has_row(s, &mine);
	if (r > 0) {
		store__rollback(s); /* that user's already: nothing to write */
		return 0;
	}
	if (r == 0) {
		struct store__q count = store__q(ST_PHONE_COUNT);
		store__text(&count, id);
		r = store__row(s, NULL, &count);
		if (r == 0) {
			have = store__col_int(&count, 0);
			seq = store__col_int(&count, 1);
			store__done(s, &count);
		}
	}
	if (r == 0) {
		r = store__phone_insert(s, phone, id, seq);
	}
	if (r == 0) {
		r = phones_fit(have, 1); /* after the insert: another user's number is -EEXIST */
	}
	return store__end(s, r);
}

int store_phone_remove(struct store *s, const char *id, const char *phone) {
	struct store__q q = store__q(ST_PHONE_DELETE);
	int64_t n = 0;
	store__text(&q, phone);
	store__text(&q, id);
	int r = store__begin_as(s, id);
	if (r == 0) {
		r = store__affected(s, &q, &n);
		r = store__end(s, r == 0 && n == 0 ? -ENOENT : r);
	}
	return r;
}
