/* store: importing many users at once, all or none — the same checks as adding one user
 * (users.c), a number repeated in the file, and the order the rows are written in. */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"

/* One row to write: a user (phone false) or one of its phones (pos: its place among the
 * user's). */
struct step {
	const char *key; /* the user's id, or the phone */
	size_t row;
	size_t pos;
	bool phone;
};

/* By key: each B-tree then grows at its right edge instead of at random pages (a million
 * random ids would otherwise thrash SQLite's page cache). Equal keys by row: of a phone
 * repeated in the file, the later line is the one in error. */
static int by_key(const void *a, const void *b) {
	const struct step *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* By line, each user before its phones: PostgreSQL scopes each line's rows to its user. */
static int by_row(const void *a, const void *b) {
	const struct step *x = a, *y = b;
	if (x->row != y->row) {
		return (x->row > y->row) - (x->row < y->row);
	}
	if (x->phone != y->phone) {
		return x->phone - y->phone;
	}
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The steps in the order they are written; -EEXIST with *reterr_row for a number the file
 * repeats. */
static int plan(const struct store *s, const struct store_import_row *rows, size_t n,
		char (*ids)[STORE_ID_SIZE], struct step *steps, size_t nphones, size_t *reterr_row) {
	struct step *phones = steps + n;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		steps[i] = (struct step){ids[i], i, 0, false};
		for (size_t j = 0; j < rows[i].nphones; j++) {
			phones[k++] = (struct step){rows[i].phones[j], i, j, true};
		}
	}
	qsort(steps, n, sizeof(*steps), by_key);
	qsort(phones, nphones, sizeof(*phones), by_key);
	for (size_t i = 1; i < nphones; i++) {
		if (strcmp(phones[i].key, phones[i - 1].key) == 0) {
			*reterr_row = phones[i].row;
			return -EEXIST;
		}
	}
	if (s->d->scope) {
		qsort(steps, n + nphones, sizeof(*steps), by_row);
	}
	return 0;
}

/* Writes the steps in one transaction, each under its user's scope where the dialect
 * scopes. -EEXIST: a phone is owned by a user already (*reterr_row). */
static int write_all(struct store *s, const struct store_import_row *rows,
		char (*ids)[STORE_ID_SIZE], const struct step *steps, size_t count,
		size_t *reterr_row) {
	int64_t now = ids_now();
	size_t scoped = (size_t)-1;
	int r = store__begin(s);

	for (size_t i = 0; i < count && r == 0; i++) {
		const struct step *st = &steps[i];
		if (s->d->scope && st->row != scoped) {
			r = s->d->scope(s, ids[st->row]);
			scoped = st->row;
		}
		if (r == 0) {
			r = st->phone ? store__phone_insert(s, st->key, ids[st->row], (int64_t)st->pos)
				      : store__user_insert(s, ids[st->row], rows[st->row].name, now);
		}
		if (r < 0) {
			*reterr_row = st->row;
			store__rollback(s);
			return r;
		}
	}
	return r < 0 ? r : store__commit(s);
}

int store_import(struct store *s, const struct store_import_row *rows, size_t n,
		size_t *reterr_row) {
	char(*ids)[STORE_ID_SIZE] = NULL;
	struct step *steps = NULL;
	size_t nphones = 0, bad = 0;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		nphones += rows[i].nphones;
		r = store__user_valid(rows[i].name, rows[i].nphones);
		bad = i;
	}
	if (r == 0) {
		ids = calloc(n ? n : 1, sizeof(*ids));
		steps = malloc((n + nphones ? n + nphones : 1) * sizeof(*steps));
		r = ids && steps ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		r = ids_random_hex("", 16, ids[i], sizeof(ids[i]));
	}
	if (r == 0) {
		r = plan(s, rows, n, ids, steps, nphones, &bad);
	}
	if (r == 0) {
		if (s->d->bulk) {
			s->d->bulk(s, true);
		}
		r = write_all(s, rows, ids, steps, n + nphones, &bad);
		if (s->d->bulk) {
			s->d->bulk(s, false);
		}
	}
	if (r < 0 && reterr_row) {
		*reterr_row = bad;
	}
	free(steps);
	free(ids);
	return r;
}
