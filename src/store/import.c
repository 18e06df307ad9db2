/* store: importing many users at once, all or none — the same checks as adding one user
 * (users.c), a number repeated in the file, and the order the rows are written in. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
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

/* The phones in the order of their numbers; -EEXIST with *reterr_row for a number the file
 * repeats. */
static int phones_sorted(const struct store_import_row *rows, size_t n, struct step *phones,
		size_t nphones, size_t *reterr_row) {
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < rows[i].nphones; j++) {
			phones[k++] = (struct step){rows[i].phones[j], i, j, true};
		}
	}
	qsort(phones, nphones, sizeof(*phones), by_key);
	for (size_t i = 1; i < nphones; i++) {
		if (strcmp(phones[i].key, phones[i - 1].key) == 0) {
			*reterr_row = phones[i].row;
			return -EEXIST;
		}
	}
	return 0;
}

/* Deals n fresh random ids, sorted, to the rows in the order of their first phones (a row
 * without one last): order[k] is the row that gets the k-th smallest id. Written in that
 * order, users by id and phones by number both grow each index at its right edge (the
 * phones' index on the user's id too), where ids dealt by line would send every phone's
 * insert to a random page of one index or the other. The ids are as random as before;
 * only which line gets which is not. */
static int deal_ids(const struct store_import_row *rows, size_t n, const struct step *phones,
		size_t nphones, char (*ids)[STORE_ID_SIZE], size_t *order) {
	char(*fresh)[STORE_ID_SIZE] = calloc(n ? n : 1, sizeof(*fresh));
	size_t k = 0;
	int r = fresh ? 0 : -ENOMEM;

	if (r == 0) {
		r = ids_random_sorted(n, fresh);
	}
	if (r == 0) {
		for (size_t i = 0; i < nphones; i++) {
			if (phones[i].pos == 0) {
				order[k++] = phones[i].row;
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (rows[i].nphones == 0) {
				order[k++] = i;
			}
		}
		for (size_t i = 0; i < n; i++) {
			memcpy(ids[order[i]], fresh[i], sizeof(fresh[i]));
		}
	}
	free(fresh);
	return r;
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

/* ---- PostgreSQL: chunks of users, one statement each ---- */

#define CHUNK 10000 /* users a statement */

/* PostgreSQL's text form of an array: each element quoted, \ and " escaped. */
static void array_put(FILE *f, const char *v, bool first) {
	fputs(first ? "{\"" : ",\"", f);
	for (;;) {
		size_t run = strcspn(v, "\"\\");
		fwrite(v, 1, run, f);
		if (!v[run]) {
			break;
		}
		fputc('\\', f);
		fputc(v[run], f);
		v += run + 1;
	}
	fputc('"', f);
}

#define ARRAYS 4

struct chunk {
	char *text[ARRAYS]; /* ids, names, phones, their users (sr_import_users) */
	size_t size[ARRAYS];
	FILE *f[ARRAYS];
};

static int chunk_open(struct chunk *c) {
	for (int i = 0; i < ARRAYS; i++) {
		c->f[i] = open_memstream(&c->text[i], &c->size[i]);
		if (!c->f[i]) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* Ends each array; 0, or -ENOMEM. */
static int chunk_close(struct chunk *c) {
	int r = 0;
	for (int i = 0; i < ARRAYS; i++) {
		if (c->f[i]) {
			if (c->size[i] == 0 && ftell(c->f[i]) == 0) {
				fputc('{', c->f[i]);
			}
			fputc('}', c->f[i]);
			r |= fclose(c->f[i]);
			c->f[i] = NULL;
		}
	}
	return r ? -ENOMEM : 0;
}

static void chunk_free(struct chunk *c) {
	for (int i = 0; i < ARRAYS; i++) {
		if (c->f[i]) {
			fclose(c->f[i]);
		}
		free(c->text[i]);
		c->text[i] = NULL;
	}
}

/* Writes rows[order[from..to)] in one statement. -EEXIST with *reterr_row. */
static int write_chunk(struct store *s, const struct store_import_row *rows,
		char (*ids)[STORE_ID_SIZE], const size_t *order, size_t from, size_t to,
		int64_t now, size_t *reterr_row) {
	struct chunk c = {0};
	bool none = true;
	int r = chunk_open(&c);

	for (size_t k = from; k < to && r == 0; k++) {
		const struct store_import_row *row = &rows[order[k]];
		array_put(c.f[0], ids[order[k]], k == from);
		array_put(c.f[1], row->name, k == from);
		for (size_t j = 0; j < row->nphones; j++) {
			array_put(c.f[2], row->phones[j], none);
			fprintf(c.f[3], "%s%zu", none ? "{" : ",", k - from + 1);
			none = false;
		}
	}
	if (r == 0) {
		r = chunk_close(&c);
	}
	if (r == 0) {
		struct store__q q = store__q(ST_IMPORT_USERS);
		int64_t bad = 0;
		for (int i = 0; i < ARRAYS; i++) {
			store__text(&q, c.text[i]);
		}
		store__int(&q, now);
		r = store__one_int(s, NULL, &q, &bad);
		if (r == 0 && bad > 0) {
			*reterr_row = order[from + (size_t)bad - 1];
			r = -EEXIST;
		}
	}
	chunk_free(&c);
	return r;
}

/* Every row in one transaction, CHUNK users a statement (sr_import_users: a scoped INSERT
 * a row made three round trips a user), in the order of their ids (deal_ids). -EEXIST: a
 * phone is owned by a user already (*reterr_row). */
static int write_chunks(struct store *s, const struct store_import_row *rows, size_t n,
		char (*ids)[STORE_ID_SIZE], const size_t *order, size_t *reterr_row) {
	int64_t now = ids_now();
	int r = store__begin(s);

	for (size_t from = 0; from < n && r == 0; from += CHUNK) {
		r = write_chunk(s, rows, ids, order, from, from + CHUNK < n ? from + CHUNK : n,
				now, reterr_row);
		if (r < 0) {
			store__rollback(s);
		}
	}
	return r < 0 ? r : store__commit(s);
}

int store_import(struct store *s, const struct store_import_row *rows, size_t n,
		size_t *reterr_row) {
	char(*ids)[STORE_ID_SIZE] = NULL;
	struct step *steps = NULL;
	size_t *order = NULL;
	size_t nphones = 0, bad = 0;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		nphones += rows[i].nphones;
		r = store__user_valid(rows[i].name, rows[i].nphones);
		bad = i;
	}
	if (r == 0) {
		ids = calloc(n ? n : 1, sizeof(*ids));
		order = malloc((n ? n : 1) * sizeof(*order));
		steps = malloc((n + nphones ? n + nphones : 1) * sizeof(*steps));
		r = ids && order && steps ? 0 : -ENOMEM;
	}
	if (r == 0) {
		r = phones_sorted(rows, n, steps + n, nphones, &bad);
	}
	if (r == 0) {
		r = deal_ids(rows, n, steps + n, nphones, ids, order);
	}
	if (r == 0 && store__has(s, ST_IMPORT_USERS)) {
		r = write_chunks(s, rows, n, ids, order, &bad);
	} else if (r == 0) {
		for (size_t k = 0; k < n; k++) {
			steps[k] = (struct step){ids[order[k]], order[k], 0, false};
		}
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
	free(order);
	free(ids);
	return r;
}
