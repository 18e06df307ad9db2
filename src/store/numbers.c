/* store: what is kept per phone number and belongs to no user — opt-outs (Twilio's STOP
 * blocks the number, whoever owns it), the onboarding text's window, and the sender rate
 * limit shared by every process on the database. */
#include "store/store.h"

#include <errno.h>

#include "ids.h"
#include "log.h"
#include "store/dialect.h"

/* When the store records events, a change of the number's state records its event in the
 * same transaction. */
int store_optout_set(struct store *s, const char *phone, bool opted_out) {
	struct store__q q = store__q(opted_out ? ST_OPTOUT_INSERT : ST_OPTOUT_DELETE);
	int64_t changed = 0;
	int r = s->events ? store__begin(s) : 0;

	if (r < 0) {
		return r;
	}
	store__text(&q, phone);
	store__int(&q, ids_now());
	r = store__affected(s, &q, &changed);
	if (r == 0 && changed > 0) {
		r = store__event_phone(s, phone, opted_out);
	}
	return s->events ? store__end(s, r) : r;
}

int store_optout_get(struct store *s, const char *phone, bool *ret_opted_out) {
	struct store__q q = store__q(ST_OPTOUT_GET);
	int64_t one;
	store__text(&q, phone);
	int r = store__one_int(s, NULL, &q, &one);
	if (r == 0 || r == -ENOENT) {
		*ret_opted_out = r == 0;
		return 0;
	}
	return r;
}

int store_onboarding_claim(struct store *s, const char *phone, int64_t now, int window_s) {
	struct store__q q = store__q(ST_ONBOARDING);
	int64_t n = 0;
	store__text(&q, phone);
	store__int(&q, now);
	store__int(&q, window_s);
	int r = store__affected(s, &q, &n);
	return r == 0 && n == 0 ? -EEXIST : r;
}

/* The sweep runs on one take in SWEEP_EVERY, so the table holds about the numbers that
 * sent within their window. */
#define SWEEP_EVERY 1024

int store_sender_take(struct store *s, const char *phone, int count, int window_s) {
	if (!store__has(s, ST_SENDER_TAKE)) {
		return -ENOTSUP;
	}
	struct store__q q = store__q(ST_SENDER_TAKE);
	int64_t interval = (int64_t)window_s * 1000000 / count;
	int64_t one;
	store__text(&q, phone);
	store__int(&q, interval);
	store__int(&q, (int64_t)window_s * 1000000 - interval);
	int r = store__one_int(s, NULL, &q, &one);
	r = r == 0 ? 1 : r == -ENOENT ? 0 : r;
	if (r >= 0 && atomic_fetch_add(&s->takes, 1) % SWEEP_EVERY == SWEEP_EVERY - 1) {
		struct store__q sweep = store__q(ST_SENDER_SWEEP);
		if (store__write(s, &sweep) < 0) {
			log_warn("store.sweep_failed", LOG_STR("table", "sender_limits"));
		}
	}
	return r;
}
