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
 * repeats. by_line: each user before its phones, line by line (PostgreSQL's scopes). */
static int plan(bool by_line, const struct store_import_row *rows, size_t n,
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
	if (by_line) {
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

/* ---- PostgreSQL: chunks of users, one statement each ---- */

#define CHUNK 10000 /* users a statement */

/* PostgreSQL's text form of an array: each element quoted, \ and " escaped. */
static void array_put(FILE *f, const char *v, bool first) {
	fputs(first ? "{\"" : ",\"", f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\') {
			fputc('\\', f);
		}
		fputc(*v, f);
	}
	fputc('"', f);
}

#define ARRAYS 5

struct chunk {
	char *text[ARRAYS]; /* ids, names, rows, phones, owners (sr_import_users) */
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

struct by_id {
	const char *id;
	size_t row;
};

static int by_id(const void *a, const void *b) {
	return strcmp(((const struct by_id *)a)->id, ((const struct by_id *)b)->id);
}

/* Writes rows[order[from..to)] in one statement. -EEXIST with *reterr_row. */
static int write_chunk(struct store *s, const struct store_import_row *rows,
		char (*ids)[STORE_ID_SIZE], const struct by_id *order, size_t from, size_t to,
		int64_t now, size_t *reterr_row) {
	struct chunk c = {0};
	bool none = true;
	int r = chunk_open(&c);

	for (size_t k = from; k < to && r == 0; k++) {
		const struct store_import_row *row = &rows[order[k].row];
		array_put(c.f[0], ids[order[k].row], k == from);
		array_put(c.f[1], row->name, k == from);
		for (size_t j = 0; j < row->nphones; j++) {
			fprintf(c.f[2], "%s%zu", none ? "{" : ",", k - from);
			array_put(c.f[3], row->phones[j], none);
			array_put(c.f[4], ids[order[k].row], none);
			none = false;
		}
	}
	if (r == 0) {
		r = chunk_close(&c);
	}
	if (r == 0) {
		struct store__q q = store__q(ST_IMPORT_USERS);
		int64_t bad = -1;
		for (int i = 0; i < ARRAYS; i++) {
			store__text(&q, c.text[i]);
		}
		store__int(&q, now);
		r = store__one_int(s, NULL, &q, &bad);
		if (r == 0 && bad >= 0) {
			*reterr_row = order[from + (size_t)bad].row;
			r = -EEXIST;
		}
	}
	chunk_free(&c);
	return r;
}

/* Every row in one transaction, CHUNK users a statement (sr_import_users: a scoped INSERT
 * a row made three round trips a user), in the order of their ids: each index on the id
 * then grows at its right edge. -EEXIST: a phone is owned by a user already
 * (*reterr_row). */
static int write_chunks(struct store *s, const struct store_import_row *rows, size_t n,
		char (*ids)[STORE_ID_SIZE], size_t *reterr_row) {
	struct by_id *order = malloc((n ? n : 1) * sizeof(*order));
	int64_t now = ids_now();
	int r;

	if (!order) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		order[i] = (struct by_id){ids[i], i};
	}
	qsort(order, n, sizeof(*order), by_id);
	r = store__begin(s);
	for (size_t from = 0; from < n && r == 0; from += CHUNK) {
		r = write_chunk(s, rows, ids, order, from, from + CHUNK < n ? from + CHUNK : n,
				now, reterr_row);
		if (r < 0) {
			store__rollback(s);
		}
	}
	free(order);
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
	bool chunks = store__has(s, ST_IMPORT_USERS);
	if (r == 0) {
		r = plan(s->d->scope && !chunks, rows, n, ids, steps, nphones, &bad);
	}
	if (r == 0 && chunks) {
		r = write_chunks(s, rows, n, ids, &bad);
	} else if (r == 0) {
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
