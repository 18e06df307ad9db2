/* store: the built-in agent's notes, per user. */
#include "store/store.h"

#include "ids.h"
#include "store/dialect.h"

int store_note_add(struct store *s, const char *user_id, const char *text) {
	struct store__q q = store__q(ST_NOTE_INSERT);
	store__text(&q, user_id);
	store__text(&q, text);
	store__int(&q, ids_now());
	int r = store__exec_as(s, user_id, &q);
	return r < 0 ? r : store__done(s, &q);
}

int store_notes_list(struct store *s, const char *user_id, store_note_cb cb, void *ctx) {
	struct store__q q = store__q(ST_NOTES_LIST);
	int i = 0;
	store__text(&q, user_id);
	int r = store__exec_as(s, user_id, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		r = cb(ctx, ++i, store__col_text(&q, 0));
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	return r;
}

int store_notes_clear(struct store *s, const char *user_id) {
	struct store__q q = store__q(ST_NOTES_CLEAR);
	store__text(&q, user_id);
	int r = store__exec_as(s, user_id, &q);
	return r < 0 ? r : store__done(s, &q);
}
