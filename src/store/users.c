/* store: users and their phones — the name rule, the ten-phone cap, adding one user or
 * importing many, lookups by id and by phone (routing's one lookup too), listing (whole, or
 * a page at a time) and deleting; a user's attributes (time zone, locale, tags: their rules
 * and the patch that sets them); and the mapping of a user row, once for both dialects. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"
#include "tz.h"
#include "utf8.h"

/* Reads text (len bytes) as UTF-8: -EILSEQ (not valid), -EINVAL (a control character: C0,
 * DEL or C1), else 0 with *ret_blank whether it is only white space. */
static int text_scan(const char *text, size_t len, bool *ret_blank) {
	const unsigned char *u = (const unsigned char *)text;
	bool blank = true;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int n = utf8_decode(u + i, len - i, &cp);
		if (n < 0) {
			return -EILSEQ;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			return -EINVAL;
		}
		blank = blank && utf8_is_space(cp);
		i += (size_t)n;
	}
	*ret_blank = blank;
	return 0;
}

/* 0, or -EINVAL with *reterr_why (may be NULL) set to why when it is not NULL. */
static int refuse(const char *why, const char **reterr_why) {
	if (why && reterr_why) {
		*reterr_why = why;
	}
	return why ? -EINVAL : 0;
}

int store_name_check(const char *name, const char **reterr_why) {
	size_t len = strlen(name);
	const char *why = NULL;
	bool blank = true;

	if (len >= STORE_NAME_SIZE) {
		why = "the name is longer than 200 bytes";
	} else {
		int r = text_scan(name, len, &blank);
		/* A tab or a newline would also break user list's tab-separated lines. */
		why = r == -EILSEQ ? "the name is not valid UTF-8"
		      : r < 0      ? "the name has a control character"
		      : blank      ? "the name is empty or only white space"
				   : NULL;
	}
	return refuse(why, reterr_why);
}

int store_tag_check(const char *tag, const char **reterr_why) {
	size_t len = strlen(tag);
	const char *why = NULL;
	bool blank;

	if (len == 0 || len >= STORE_TAG_SIZE) {
		why = "a tag must be 1 to 64 bytes";
	} else {
		int r = text_scan(tag, len, &blank);
		/* A control character would also break the store's tag lists (31 separates). */
		why = r == -EILSEQ ? "a tag is not valid UTF-8"
		      : r < 0      ? "a tag has a control character"
				   : NULL;
	}
	return refuse(why, reterr_why);
}

bool store_agent_name_check(const char *name) {
	size_t len = strlen(name);
	return len >= 1 && len < STORE_AGENT_SIZE &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

bool store_mode_check(const char *mode) {
	return strcmp(mode, "agent") == 0 || strcmp(mode, "paused") == 0 ||
	       strcmp(mode, "human") == 0;
}

static int tags_check(const char *const *tags, size_t n, const char **reterr_why) {
	if (n > STORE_MAX_TAGS) {
		return refuse("a user has at most 20 tags", reterr_why);
	}
	for (size_t i = 0; i < n; i++) {
		int r = store_tag_check(tags[i], reterr_why);
		if (r < 0) {
			return r;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(tags[k], tags[i]) == 0) {
				return refuse("a tag is given twice", reterr_why);
			}
		}
	}
	return 0;
}

int store_user_patch_check(const struct store_user_patch *p, const char **reterr_field,
		const char **reterr_why) {
	const char *field = NULL;
	const char *why = NULL;

	if (p->name && store_name_check(p->name, &why) < 0) {
		field = "name";
	} else if (p->set_timezone && p->timezone && !tz_zone_exists(p->timezone)) {
		field = "timezone";
		why = "the time zone is not an IANA name the time-zone database knows";
	} else if (p->set_locale && p->locale && !tz_locale_is_valid(p->locale)) {
		field = "locale";
		why = "the locale is not a well-formed BCP 47 tag such as en-US";
	} else if (p->set_tags && tags_check(p->tags, p->ntags, &why) < 0) {
		field = "tags";
	} else if (p->set_agent && p->agent && !store_agent_name_check(p->agent)) {
		field = "agent";
		why = "an agent's name is 1 to 32 of a-z, 0-9, - and _";
	} else if (p->mode && !store_mode_check(p->mode)) {
		field = "mode";
		why = "the mode must be agent, paused or human";
	}
	if (field && reterr_field) {
		*reterr_field = field;
	}
	return refuse(why, reterr_why);
}

/* The one place of the cap: a user with have phones may take more. -ENOSPC if not. */
static int phones_fit(int64_t have, size_t more) {
	return have + (int64_t)more > STORE_MAX_PHONES ? -ENOSPC : 0;
}

/* A new user's checks, before anything is written: its name and its phones' count. */
int store__user_valid(const char *name, size_t nphones) {
	return store_name_check(name, NULL) < 0 ? -EINVAL : phones_fit(0, nphones);
}

/* Fills u's attributes from columns col (timezone), col + 1 (locale), col + 2 (tags
 * separated by the control character 31), col + 3 (agent) and col + 4 (mode). */
static void attributes_row(const struct store__q *q, int col, struct store_user *u) {
	const char *t = store__col_text(q, col + 2);

	store__col_copy(q, col, u->timezone, sizeof(u->timezone));
	store__col_copy(q, col + 1, u->locale, sizeof(u->locale));
	u->ntags = 0;
	while (t && *t && u->ntags < STORE_MAX_TAGS) {
		size_t len = strcspn(t, "\x1f");
		snprintf(u->tags[u->ntags], STORE_TAG_SIZE, "%.*s", (int)len, t);
		u->ntags++;
		t += len;
		t += *t ? 1 : 0;
	}
	store__col_copy(q, col + 3, u->agent, sizeof(u->agent));
	store__col_copy(q, col + 4, u->mode, sizeof(u->mode));
	if (!u->mode[0]) {
		snprintf(u->mode, sizeof(u->mode), "agent");
	}
}

/* Fills u from a user row: id, name, created_at, phones separated by spaces, opted_out,
 * then its attributes (attributes_row). */
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
	attributes_row(q, 5, u);
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
		store__route_row(&q, 0, ret_user, ret_known, ret_opted_out);
		store__done(s, &q);
	}
	return r == -ENOENT ? -EIO : r;
}

void store__route_row(const struct store__q *q, int col, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out) {
	*ret_known = store__col_text(q, col) != NULL;
	if (*ret_known) {
		memset(ret_user, 0, sizeof(*ret_user));
		store__col_copy(q, col, ret_user->id, sizeof(ret_user->id));
		store__col_copy(q, col + 1, ret_user->name, sizeof(ret_user->name));
		ret_user->created_at = store__col_int(q, col + 2);
		attributes_row(q, col + 4, ret_user);
	}
	*ret_opted_out = store__col_int(q, col + 3) != 0;
	ret_user->opted_out = *ret_known && *ret_opted_out;
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
	static const enum store__st steps[] = {ST_DEL_NOTES, ST_DEL_OUTBOX, ST_DEL_EVENTS,
		ST_DEL_MESSAGES, ST_DEL_IDEM, ST_DEL_USAGE, ST_DEL_PHONES, ST_DEL_TAGS, ST_DEL_USER};
	struct store__q lock = store__q(ST_USER_LOCK);
	int64_t n = 0;
	int r = store__begin_as(s, id);

	if (r < 0) {
		return r;
	}
	/* Locked first (PostgreSQL): a reply being stored meanwhile (message_add locks the row
	 * too) commits before the deletes below look, and is erased with the rest. */
	store__text(&lock, id);
	r = store__one_int(s, NULL, &lock, &n);
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

/* Within id's transaction: the user's row (-ENOENT if none), then its tags when given:
 * the old list goes, the new one comes in its order. */
int store_user_set(struct store *s, const char *id, const struct store_user_patch *p,
		struct store_user *ret_user) {
	struct store__q q = store__q(ST_USER_SET);
	int64_t n = 0;
	int r = store_user_patch_check(p, NULL, NULL);

	if (r == 0) {
		r = store__begin_as(s, id);
	}
	if (r < 0) {
		return r;
	}
	store__text(&q, id);
	store__text(&q, p->name);
	store__text(&q, p->set_timezone ? p->timezone : NULL);
	store__int(&q, p->set_timezone);
	store__text(&q, p->set_locale ? p->locale : NULL);
	store__int(&q, p->set_locale);
	r = store__affected(s, &q, &n);
	r = r == 0 && n == 0 ? -ENOENT : r;
	if (r == 0 && p->set_tags) {
		struct store__q del = store__q(ST_DEL_TAGS);
		store__text(&del, id);
		r = store__write(s, &del);
	}
	for (size_t i = 0; p->set_tags && i < p->ntags && r == 0; i++) {
		struct store__q add = store__q(ST_TAG_INSERT);
		store__text(&add, id);
		store__text(&add, p->tags[i]);
		store__int(&add, (int64_t)i);
		r = store__write(s, &add);
	}
	if (r == 0 && p->set_agent) {
		struct store__q agent = store__q(ST_USER_AGENT_MODE);
		store__text(&agent, id);
		store__text(&agent, p->agent);
		store__int(&agent, 1);
		store__text(&agent, NULL);
		r = store__write(s, &agent);
	}
	if (r == 0 && p->mode) {
		r = store_user_mode_set(s, id, p->mode);
	}
	r = store__end(s, r);
	return r == 0 && ret_user ? store_user_get(s, id, ret_user) : r;
}

/* Within user_id's transaction: the mode before (its row locked), the new one, and its
 * event when it changed. */
int store_user_mode_set(struct store *s, const char *user_id, const char *mode) {
	struct store__q get = store__q(ST_USER_MODE_GET);
	char was[STORE_MODE_SIZE] = "";
	if (!store_mode_check(mode)) {
		return -EINVAL;
	}
	int r = store__begin_as(s, user_id);
	if (r < 0) {
		return r;
	}
	store__text(&get, user_id);
	r = store__row(s, NULL, &get);
	if (r == 0) {
		store__col_copy(&get, 0, was, sizeof(was));
		store__done(s, &get);
	}
	if (r == 0 && strcmp(was, mode) != 0) {
		struct store__q set = store__q(ST_USER_AGENT_MODE);
		store__text(&set, user_id);
		store__text(&set, NULL);
		store__int(&set, 0);
		store__text(&set, mode);
		r = store__write(s, &set);
		if (r == 0) {
			r = store_event_user_mode(s, user_id, mode);
		}
	}
	return store__end(s, r);
}

/* A cursor is "u1." then the last user's created_at and id: the next page starts after
 * them. Reads one back: 0, or -EINVAL when we did not make it. */
static int cursor_parse(const char *cursor, int64_t *ret_at, char ret_id[STORE_ID_SIZE]) {
	size_t digits, hex;

	if (strncmp(cursor, "u1.", 3) != 0) {
		return -EINVAL;
	}
	cursor += 3;
	digits = strspn(cursor, "0123456789");
	if (digits < 1 || digits > 18 || cursor[digits] != '.') {
		return -EINVAL;
	}
	hex = strspn(cursor + digits + 1, "0123456789abcdef");
	if (hex < 1 || hex >= STORE_ID_SIZE || cursor[digits + 1 + hex] != '\0') {
		return -EINVAL;
	}
	*ret_at = strtoll(cursor, NULL, 10);
	snprintf(ret_id, STORE_ID_SIZE, "%s", cursor + digits + 1);
	return 0;
}

int store_user_page(struct store *s, const struct store_user_page *page, store_user_cb cb,
		void *ctx, char ret_next[STORE_CURSOR_SIZE]) {
	char after_id[STORE_ID_SIZE] = "";
	char next[STORE_CURSOR_SIZE] = "";
	int64_t at = INT64_MIN; /* the first page: after every user */
	bool phone = page->q && page->q[0] == '+';
	struct store_user u;
	int r = 0, seen = 0;

	if (page->limit < 1 || page->limit > STORE_PAGE_MAX ||
			(page->after && cursor_parse(page->after, &at, after_id) < 0)) {
		return -EINVAL;
	}
	struct store__q q = store__q(page->tag ? ST_USER_PAGE_TAG : ST_USER_PAGE);
	store__int(&q, at);
	store__text(&q, after_id);
	store__text(&q, phone ? NULL : page->q);
	store__text(&q, phone ? page->q : NULL);
	store__int(&q, page->limit + 1); /* one more says whether a next page exists */
	store__text(&q, page->tag);
	r = store__exec(s, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		if (seen == page->limit) {
			snprintf(next, sizeof(next), "u1.%lld.%s", (long long)u.created_at, u.id);
			r = 0;
			break;
		}
		user_row(&q, &u);
		seen++;
		r = cb(ctx, &u);
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	if (r == 0) {
		memcpy(ret_next, next, sizeof(next));
	}
	return r;
}
