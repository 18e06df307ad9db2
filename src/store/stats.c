/* store: the hourly stats' log for a dialect that counts stored messages itself (both;
 * dialect.h says why): per connection, the counts of the open transaction's messages, by
 * level, written as one upsert per hour, direction and outcome before the outermost
 * commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/dialect.h"

void store__stats_begin(struct store__stats_log *l, int depth) {
	l->mark[depth] = l->n;
}

static bool same(const struct store__stats_row *a, const struct store__stats_row *b) {
	return a->hour == b->hour && a->inbound == b->inbound &&
	       strcmp(a->outcome, b->outcome) == 0;
}

/* Sums the rows from first on by key, in place. */
static void compact(struct store__stats_log *l, size_t first) {
	size_t out = first;
	for (size_t i = first; i < l->n; i++) {
		size_t j = first;
		while (j < out && !same(&l->row[j], &l->row[i])) {
			j++;
		}
		if (j < out) {
			l->row[j].messages += l->row[i].messages;
			l->row[j].segments += l->row[i].segments;
			l->row[j].mms += l->row[i].mms;
			l->row[j].whatsapp += l->row[i].whatsapp;
		} else {
			l->row[out++] = l->row[i];
		}
	}
	l->n = out;
}

void store__stats_release(struct store__stats_log *l, int depth) {
	compact(l, l->mark[depth - 1]);
}

void store__stats_undo(struct store__stats_log *l, int depth) {
	l->n = depth > 1 ? l->mark[depth] : 0;
}

static int write_now(void *ctx, struct store__q *q) {
	return store__write(ctx, q);
}

int store__stats_write(struct store *s, struct store__stats_log *l) {
	return store__stats_each(l, write_now, s);
}

int store__stats_each(struct store__stats_log *l, int (*write)(void *ctx, struct store__q *q),
		void *ctx) {
	int r = 0;
	compact(l, 0);
	for (size_t i = 0; i < l->n && r == 0; i++) {
		const struct store__stats_row *row = &l->row[i];
		struct store__q q = store__q(ST_STATS_ADD);
		store__int(&q, row->hour);
		store__text(&q, row->inbound ? "inbound" : "outbound");
		store__text(&q, row->outcome);
		store__int(&q, row->messages);
		store__int(&q, row->segments);
		store__int(&q, row->mms);
		store__int(&q, row->whatsapp);
		r = write(ctx, &q);
	}
	l->n = 0;
	return r;
}

int store__stats_add(struct store__stats_log *l, int depth, const struct store_message *m,
		bool inbound) {
	/* As usage counts it (the catalogue's USAGE_LIVE): WhatsApp and MMS have no segments. */
	bool whatsapp = (m->channel && strcmp(m->channel, "whatsapp") == 0) ||
			(m->from && strncmp(m->from, "whatsapp:", 9) == 0) ||
			(m->to && strncmp(m->to, "whatsapp:", 9) == 0);
	bool mms = m->media_json && !whatsapp;
	struct store__stats_row row = {
		.hour = m->created_at - m->created_at % 3600,
		.inbound = inbound,
		.messages = 1,
		.segments = whatsapp || mms ? 0 : m->segments,
		.mms = mms,
		.whatsapp = whatsapp,
	};
	snprintf(row.outcome, sizeof(row.outcome), "%s", inbound && m->status ? m->status : "");
	/* Into a row of this level with the same key, if any. */
	for (size_t i = l->mark[depth]; i < l->n; i++) {
		if (same(&l->row[i], &row)) {
			l->row[i].messages++;
			l->row[i].segments += row.segments;
			l->row[i].mms += row.mms;
			l->row[i].whatsapp += row.whatsapp;
			return 0;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct store__stats_row *more = realloc(l->row, cap * sizeof(*more));
		if (!more) {
			return -ENOMEM;
		}
		l->row = more;
		l->cap = cap;
	}
	l->row[l->n++] = row;
	return 0;
}

void store__stats_free(struct store__stats_log *l) {
	free(l->row);
	*l = (struct store__stats_log){0};
}
