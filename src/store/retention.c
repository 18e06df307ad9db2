/* store: retention — erasing old messages in small batches, their counts kept as daily
 * totals (usage_daily) in the same transaction — and a user's opt-outs, for the export. */
#include "store/store.h"

#include <errno.h>

#include "store/dialect.h"

/* The batch's statements, in order: (SQLite) the batch chosen once into a temp table, its
 * counts added to its days, its finished outbox rows erased, its messages erased (the
 * count). PostgreSQL's last does it all. */
static const enum store__st sweep_steps[] = {ST_RT_TEMP, ST_RT_CLEAR, ST_RT_PICK, ST_RT_ROLLUP,
	ST_RT_OUTBOX, ST_RT_DELETE};

int store_retention_sweep(struct store *s, int64_t cutoff, int limit, int64_t *ret_erased) {
	int64_t erased = 0;
	int r = store__begin(s);

	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < sizeof(sweep_steps) / sizeof(sweep_steps[0]) && r == 0; i++) {
		if (!store__has(s, sweep_steps[i])) {
			continue;
		}
		struct store__q q = store__q(sweep_steps[i]);
		store__int(&q, cutoff);
		store__int(&q, limit);
		r = store__affected(s, &q, &erased);
	}
	r = store__end(s, r);
	if (r == 0) {
		*ret_erased = erased;
	}
	return r;
}

int store_user_optouts(struct store *s, const char *user_id, store_optout_cb cb, void *ctx) {
	struct store__q q = store__q(ST_USER_OPTOUTS);
	store__text(&q, user_id);
	int r = store__exec_as(s, user_id, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		r = cb(ctx, store__col_text(&q, 0), store__col_int(&q, 1));
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	return r;
}
