/* Tests of the router over a real SQLite store (temp dir), the memo agent and a rate
 * limiter: routing, dedupe by MessageSid, onboarding of unknown senders, opt-out / opt-in
 * / help words and Twilio's OptOutType, the sender rate limit, the 1600-character reply
 * cut, and status callbacks with error 21610. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router_fixture.h"

static void test_known_sender_gets_the_agents_reply_and_both_are_stored(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, "SMroute1", ADA_PHONE, "remember milk");
	assert_outcome(&res, ROUTER_ROUTED, "remember milk");
	assert_string_equal(res.user_id, f->ada.id);
	assert_false(res.agent_failed);
	assert_true(res.outbound_id > 0);
	int64_t out_id = res.outbound_id;
	assert_reply(&res, "Noted.", "remember milk");
	assert_int_equal(notes_of(f, &f->ada), 1);

	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.direction[0], STORE_OUTBOUND);
	assert_int_equal(m.id[0], out_id);
	assert_string_equal(m.body[0], "Noted.");
	assert_string_equal(m.status[0], "queued");
	assert_int_equal(m.reply_to[0], m.id[1]);
	assert_int_equal(m.direction[1], STORE_INBOUND);
	assert_string_equal(m.body[1], "remember milk");
	assert_string_equal(m.status[1], "received");

	res = route(f, NULL, ADA_PHONE, "recall");
	assert_outcome(&res, ROUTER_ROUTED, "recall");
	assert_reply(&res, "Your notes:\n1. milk", "recall");
}

static void test_each_user_reaches_only_its_own_notes(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, ADA_PHONE, "remember ada only");
	assert_reply(&res, "Noted.", "ada remember");
	res = route(f, NULL, BOB_PHONE, "recall");
	assert_outcome(&res, ROUTER_ROUTED, "bob recall");
	assert_string_equal(res.user_id, f->bob.id);
	assert_reply(&res, "You have no notes.", "bob recall");
	res = route(f, NULL, BOB_PHONE, "hi");
	assert_reply(&res, "Hi Bob. Text \"remember <note>\", \"recall\" or \"forget\".", "bob hi");
}

static void test_duplicate_sid_returns_the_stored_answer_without_rerunning_the_agent(void **state) {
	struct fixture *f = *state;

	struct router_result first = route(f, "SMdup1", ADA_PHONE, "remember once");
	assert_outcome(&first, ROUTER_ROUTED, "first");
	int64_t out_id = first.outbound_id;
	assert_reply(&first, "Noted.", "first");

	struct router_result again = route(f, "SMdup1", ADA_PHONE, "remember once");
	assert_outcome(&again, ROUTER_DUPLICATE, "retry");
	assert_int_equal(again.outbound_id, out_id);
	assert_reply(&again, "Noted.", "retry");

	assert_int_equal(notes_of(f, &f->ada), 1);
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.n, 2); /* nothing stored by the retry */
}

static void test_duplicate_of_a_message_without_reply_has_no_reply(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, "SMdupstop", ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "stop");
	assert_reply(&res, NULL, "stop");
	res = route(f, "SMdupstop", ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_DUPLICATE, "stop retry");
	assert_reply(&res, NULL, "stop retry");
}

/* ---- unknown senders ---- */

struct usage_null {
	int64_t inbound;
	int64_t outbound;
};

static int usage_null_row(void *ctx, const struct store_usage_row *r) {
	struct usage_null *u = ctx;
	if (r->user_id == NULL) {
		u->inbound = r->inbound;
		u->outbound = r->outbound;
	}
	return 0;
}

static void test_unknown_sender_gets_onboarding_once_then_nothing(void **state) {
	struct fixture *f = *state;
	struct usage_null u = {0, 0};

	struct router_result res = route(f, "SMunk1", STRANGER, "hello?");
	assert_outcome(&res, ROUTER_UNROUTED, "first");
	assert_string_equal(res.user_id, "");
	assert_true(res.outbound_id > 0);
	assert_reply(&res, ONBOARDING, "first");

	res = route(f, "SMunk2", STRANGER, "hello again?");
	assert_outcome(&res, ROUTER_UNROUTED, "second");
	assert_reply(&res, NULL, "second");

	res = route(f, "SMunk3", STRANGER, "remember x");
	assert_outcome(&res, ROUTER_UNROUTED, "third");
	assert_reply(&res, NULL, "third");

	/* Another unknown number has its own window. */
	res = route(f, "SMunk4", "+15550100998", "hi");
	assert_outcome(&res, ROUTER_UNROUTED, "other stranger");
	assert_reply(&res, ONBOARDING, "other stranger");

	/* Every one of them was stored, unrouted. */
	assert_int_equal(store_usage(f->s, 0, usage_null_row, &u), 0);
	assert_int_equal(u.inbound, 4);
	assert_int_equal(u.outbound, 2);
	char *reply = NULL;
	int64_t id = -1;
	assert_int_equal(store_answer_for(f->s, "SMunk2", &reply, &id, NULL), 0);
	assert_null(reply);
}

static void test_default_onboarding_and_help_texts_are_not_empty(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;

	assert_int_equal(router_create(f->s, f->a, f->rl, NULL, &r), 0);
	struct router_result res = route_on(f, r, NULL, STRANGER, "hi", NULL);
	assert_outcome(&res, ROUTER_UNROUTED, "default onboarding");
	assert_non_null(res.reply);
	assert_true(strlen(res.reply) > 10);
	free(res.reply);

	res = route_on(f, r, NULL, ADA_PHONE, "HELP", NULL);
	assert_outcome(&res, ROUTER_HELP, "default help");
	assert_non_null(res.reply);
	assert_non_null(strstr(res.reply, "STOP"));
	free(res.reply);
	router_destroy(r);
}

/* ---- opt-out, opt-in, help ---- */

static void test_opt_out_words_opt_out_without_reply_and_start_opts_in(void **state) {
	struct fixture *f = *state;
	static const char *const words[] = {
	                "STOP",        "stop",   " Stop ", "REVOKE", "OPTOUT",     "stopall",
	                "Unsubscribe", "cancel", "END",    "quit",   "\tSTOP\r\n",
	};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		struct router_result res = route(f, NULL, ADA_PHONE, words[i]);
		assert_outcome(&res, ROUTER_OPTED_OUT, words[i]);
		assert_reply(&res, NULL, words[i]);
		if (!opted_out(f, ADA_PHONE)) {
			fail_msg("\"%s\" did not opt out", words[i]);
		}
		res = route(f, NULL, ADA_PHONE, "START");
		assert_outcome(&res, ROUTER_OPTED_IN, "START");
		assert_reply(&res, NULL, "START");
		assert_false(opted_out(f, ADA_PHONE));
	}
}

static void test_opted_out_number_is_blocked_without_agent_call(void **state) {
	struct fixture *f = *state;
	struct store_user u;

	struct router_result res = route(f, NULL, ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "STOP");
	assert_reply(&res, NULL, "STOP");
	assert_int_equal(store_user_get(f->s, f->ada.id, &u), 0);
	assert_true(u.opted_out);

	res = route(f, NULL, ADA_PHONE, "remember secret");
	assert_outcome(&res, ROUTER_BLOCKED, "after STOP");
	assert_reply(&res, NULL, "after STOP");
	assert_int_equal(notes_of(f, &f->ada), 0); /* the agent never saw it */
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.direction[0], STORE_INBOUND);
	assert_string_equal(m.body[0], "remember secret");
	assert_string_equal(m.status[0], "opted_out");

	/* Bob is not affected. */
	res = route(f, NULL, BOB_PHONE, "remember bob");
	assert_outcome(&res, ROUTER_ROUTED, "bob");
	assert_reply(&res, "Noted.", "bob");

	res = route(f, NULL, ADA_PHONE, "start");
	assert_outcome(&res, ROUTER_OPTED_IN, "start");
	assert_reply(&res, NULL, "start");
	res = route(f, NULL, ADA_PHONE, "remember back");
	assert_outcome(&res, ROUTER_ROUTED, "after START");
	assert_reply(&res, "Noted.", "after START");
	assert_int_equal(notes_of(f, &f->ada), 1);
}

static void test_unstop_and_yes_opt_back_in(void **state) {
	struct fixture *f = *state;
	static const char *const words[] = {"UNSTOP", "yes", " Start "};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		struct router_result res = route(f, NULL, ADA_PHONE, "stop");
		assert_reply(&res, NULL, "stop");
		assert_true(opted_out(f, ADA_PHONE));
		res = route(f, NULL, ADA_PHONE, words[i]);
		assert_outcome(&res, ROUTER_OPTED_IN, words[i]);
		assert_reply(&res, NULL, words[i]);
		if (opted_out(f, ADA_PHONE)) {
			fail_msg("\"%s\" did not opt back in", words[i]);
		}
	}
}

static void test_opt_out_from_an_unknown_number_is_honoured(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, STRANGER, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "stranger STOP");
	assert_reply(&res, NULL, "stranger STOP");
	assert_true(opted_out(f, STRANGER));
	/* No onboarding text to a number that said STOP. */
	res = route(f, NULL, STRANGER, "hello");
	assert_outcome(&res, ROUTER_BLOCKED, "stranger after STOP");
	assert_reply(&res, NULL, "stranger after STOP");
}

static void test_opt_out_type_decides_over_the_body(void **state) {
	struct fixture *f = *state;

	struct router_result res = route_on(f, f->r, NULL, ADA_PHONE, "remember x", "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "OptOutType STOP");
	assert_reply(&res, NULL, "OptOutType STOP");
	assert_true(opted_out(f, ADA_PHONE));
	assert_int_equal(notes_of(f, &f->ada), 0);

	res = route_on(f, f->r, NULL, ADA_PHONE, "STOP", "START");
	assert_outcome(&res, ROUTER_OPTED_IN, "OptOutType START");
	assert_reply(&res, NULL, "OptOutType START");
	assert_false(opted_out(f, ADA_PHONE));

	res = route_on(f, f->r, NULL, ADA_PHONE, "remember y", "HELP");
	assert_outcome(&res, ROUTER_HELP, "OptOutType HELP");
	assert_reply(&res, HELP, "OptOutType HELP");
	assert_int_equal(notes_of(f, &f->ada), 0);
}

static void test_help_and_info_answer_the_help_text_without_agent(void **state) {
	struct fixture *f = *state;
	static const char *const words[] = {"HELP", "help", " Info ", "INFO"};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		struct router_result res = route(f, NULL, ADA_PHONE, words[i]);
		assert_outcome(&res, ROUTER_HELP, words[i]);
		assert_true(res.outbound_id > 0);
		assert_reply(&res, HELP, words[i]);
	}
	struct router_result res = route(f, NULL, STRANGER, "help");
	assert_outcome(&res, ROUTER_HELP, "stranger help");
	assert_reply(&res, HELP, "stranger help");
	/* A help word inside a sentence is just a message. */
	res = route(f, NULL, ADA_PHONE, "help me");
	assert_outcome(&res, ROUTER_ROUTED, "help me");
	assert_reply(&res, "Hi Ada. Text \"remember <note>\", \"recall\" or \"forget\".",
	             "help me");
	assert_false(opted_out(f, ADA_PHONE));
}

static void test_stop_inside_a_sentence_is_not_an_opt_out(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, ADA_PHONE, "remember stop at the bakery");
	assert_outcome(&res, ROUTER_ROUTED, "sentence");
	assert_reply(&res, "Noted.", "sentence");
	assert_false(opted_out(f, ADA_PHONE));
}

/* ---- channels ---- */

static void test_whatsapp_sender_is_the_user_who_owns_the_number(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, "whatsapp:" ADA_PHONE, "remember by whatsapp");
	assert_outcome(&res, ROUTER_ROUTED, "whatsapp");
	assert_string_equal(res.user_id, f->ada.id);
	assert_reply(&res, "Noted.", "whatsapp");
	res = route(f, NULL, ADA_PHONE, "remember by sms");
	assert_outcome(&res, ROUTER_ROUTED, "sms");
	assert_reply(&res, "Noted.", "sms");
	/* One user, one history: both notes, both messages with their own addresses. */
	assert_int_equal(notes_of(f, &f->ada), 2);
	struct newest m = newest_of(f, &f->ada);
	assert_string_equal(m.body[3], "remember by whatsapp");
	assert_string_equal(m.body[1], "remember by sms");
}

static void test_stop_on_whatsapp_leaves_sms_and_the_other_way_round(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, "whatsapp:" ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "stop on whatsapp");
	assert_reply(&res, NULL, "stop on whatsapp");
	assert_true(opted_out(f, "whatsapp:" ADA_PHONE));
	assert_false(opted_out(f, ADA_PHONE));
	res = route(f, NULL, "whatsapp:" ADA_PHONE, "remember x");
	assert_outcome(&res, ROUTER_BLOCKED, "whatsapp after stop");
	assert_reply(&res, NULL, "whatsapp after stop");
	res = route(f, NULL, ADA_PHONE, "remember y");
	assert_outcome(&res, ROUTER_ROUTED, "sms after whatsapp stop");
	assert_reply(&res, "Noted.", "sms after whatsapp stop");

	res = route(f, NULL, BOB_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "stop on sms");
	assert_true(opted_out(f, BOB_PHONE));
	assert_false(opted_out(f, "whatsapp:" BOB_PHONE));
	res = route(f, NULL, "whatsapp:" BOB_PHONE, "remember z");
	assert_outcome(&res, ROUTER_ROUTED, "whatsapp after sms stop");
	assert_reply(&res, "Noted.", "whatsapp after sms stop");

	res = route(f, NULL, "whatsapp:" ADA_PHONE, "START");
	assert_outcome(&res, ROUTER_OPTED_IN, "start on whatsapp");
	assert_false(opted_out(f, "whatsapp:" ADA_PHONE));
}

static void test_other_addresses_are_stored_unrouted_and_get_nothing(void **state) {
	struct fixture *f = *state;
	static const char *const hostile[] = {"messenger:" ADA_PHONE, "rcs:" ADA_PHONE,
		"whatsapp:" "15550100101", "whatsapp:+1", "WhatsApp:" ADA_PHONE, "whatsapp: " ADA_PHONE,
		"+1555abc0101"};
	struct usage_null u = {0, 0};

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		/* Not even a word acts: STOP from an address of no channel opts out nothing. */
		struct router_result res = route(f, NULL, hostile[i], i % 2 ? "STOP" : "remember x");
		assert_outcome(&res, ROUTER_UNROUTED, hostile[i]);
		assert_string_equal(res.user_id, "");
		assert_reply(&res, NULL, hostile[i]);
		assert_false(opted_out(f, hostile[i]));
	}
	assert_false(opted_out(f, ADA_PHONE));
	assert_int_equal(notes_of(f, &f->ada), 0);
	assert_int_equal(store_usage(f->s, 0, usage_null_row, &u), 0);
	assert_int_equal(u.inbound, (int64_t)(sizeof(hostile) / sizeof(hostile[0])));
	assert_int_equal(u.outbound, 0);
}

/* ---- rate limit ---- */

static void test_sender_over_the_rate_limit_is_stored_not_routed(void **state) {
	struct fixture *f = *state;
	struct ratelimit *rl = NULL;
	struct router *r = NULL;

	assert_int_equal(ratelimit_create(2, 60, &rl), 0);
	assert_int_equal(router_create(f->s, f->a, rl, NULL, &r), 0);

	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "remember 1", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "1st");
	assert_reply(&res, "Noted.", "1st");
	res = route_on(f, r, NULL, ADA_PHONE, "remember 2", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "2nd");
	assert_reply(&res, "Noted.", "2nd");
	res = route_on(f, r, NULL, ADA_PHONE, "remember 3", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "3rd");
	assert_string_equal(res.user_id, f->ada.id);
	assert_reply(&res, NULL, "3rd");

	assert_int_equal(notes_of(f, &f->ada), 2);
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.direction[0], STORE_INBOUND);
	assert_string_equal(m.body[0], "remember 3");
	assert_string_equal(m.status[0], "rate_limited");

	/* Another sender has its own bucket. */
	res = route_on(f, r, NULL, BOB_PHONE, "remember b", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "bob");
	assert_reply(&res, "Noted.", "bob");

	router_destroy(r);
	ratelimit_destroy(rl);
}

static void test_stop_and_start_are_honoured_over_the_rate_limit(void **state) {
	struct fixture *f = *state;
	struct ratelimit *rl = NULL;
	struct router *r = NULL;

	assert_int_equal(ratelimit_create(2, 60, &rl), 0);
	assert_int_equal(router_create(f->s, f->a, rl, NULL, &r), 0);

	for (int i = 0; i < 2; i++) {
		struct router_result res = route_on(f, r, NULL, ADA_PHONE, "hi", NULL);
		assert_outcome(&res, ROUTER_ROUTED, "within limit");
		free(res.reply);
	}
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "hi", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "over limit");
	assert_reply(&res, NULL, "over limit");

	res = route_on(f, r, NULL, ADA_PHONE, "STOP", NULL);
	assert_outcome(&res, ROUTER_OPTED_OUT, "STOP over limit");
	assert_reply(&res, NULL, "STOP over limit");
	assert_true(opted_out(f, ADA_PHONE));

	res = route_on(f, r, NULL, ADA_PHONE, "START", NULL);
	assert_outcome(&res, ROUTER_OPTED_IN, "START over limit");
	assert_reply(&res, NULL, "START over limit");
	assert_false(opted_out(f, ADA_PHONE));

	router_destroy(r);
	ratelimit_destroy(rl);
}

static void test_help_counts_against_and_obeys_the_rate_limit(void **state) {
	struct fixture *f = *state;
	struct ratelimit *rl = NULL;
	struct router *r = NULL;
	const struct router_options o = {.onboarding_text = ONBOARDING, .help_text = HELP};

	assert_int_equal(ratelimit_create(2, 60, &rl), 0);
	assert_int_equal(router_create(f->s, f->a, rl, &o, &r), 0);

	/* Two help words use up the limit... */
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "HELP", NULL);
	assert_outcome(&res, ROUTER_HELP, "1st HELP");
	assert_reply(&res, HELP, "1st HELP");
	res = route_on(f, r, NULL, ADA_PHONE, "info", NULL);
	assert_outcome(&res, ROUTER_HELP, "2nd INFO");
	assert_reply(&res, HELP, "2nd INFO");
	/* ...so an ordinary message is over it, */
	res = route_on(f, r, NULL, ADA_PHONE, "remember x", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "message after two helps");
	assert_reply(&res, NULL, "message after two helps");
	/* and so are help words and Twilio's OptOutType=HELP: no help text. */
	res = route_on(f, r, NULL, ADA_PHONE, "HELP", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "HELP over limit");
	assert_reply(&res, NULL, "HELP over limit");
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.direction[0], STORE_INBOUND);
	assert_string_equal(m.body[0], "HELP");
	assert_string_equal(m.status[0], "rate_limited");
	res = route_on(f, r, NULL, ADA_PHONE, "anything", "HELP");
	assert_outcome(&res, ROUTER_RATE_LIMITED, "OptOutType HELP over limit");
	assert_reply(&res, NULL, "OptOutType HELP over limit");
	res = route_on(f, r, NULL, STRANGER, "HELP", NULL);
	assert_outcome(&res, ROUTER_HELP, "another sender's HELP");
	assert_reply(&res, HELP, "another sender's HELP");

	router_destroy(r);
	ratelimit_destroy(rl);
}

/* ---- reply length ---- */

/* Number of code points of valid UTF-8 s, or -1 if s is not valid UTF-8. */
static long utf8_code_points(const char *s) {
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	while (*p) {
		int extra;
		if (*p < 0x80) {
			extra = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			extra = 3;
		} else {
			return -1;
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xc0) != 0x80) {
				return -1;
			}
		}
		n++;
	}
	return n;
}

static void test_reply_over_1600_characters_is_cut_on_a_character_boundary(void **state) {
	struct fixture *f = *state;
	const char *euro = "\xe2\x82\xac"; /* 3 bytes, one code point */
	char body[1024];
	char *full = calloc(1, 16384);
	size_t full_len = 0;

	assert_non_null(full);
	full_len += (size_t)sprintf(full + full_len, "Your notes:");
	for (int i = 1; i <= 10; i++) {
		size_t n = (size_t)sprintf(body, "remember ");
		/* 199 euro signs and a marker: each note is 201 code points. */
		for (int k = 0; k < 199; k++) {
			n += (size_t)sprintf(body + n, "%s", euro);
		}
		sprintf(body + n, "#%d", i % 10);
		struct router_result res = route(f, NULL, ADA_PHONE, body);
		assert_reply(&res, "Noted.", "long note");
		full_len += (size_t)sprintf(full + full_len, "\n%d. %s", i, body + 9);
	}
	assert_true(utf8_code_points(full) > 2000);

	struct router_result res = route(f, "SMlongrecall", ADA_PHONE, "recall");
	assert_outcome(&res, ROUTER_ROUTED, "recall");
	assert_non_null(res.reply);
	assert_int_equal(utf8_code_points(res.reply), ROUTER_MAX_REPLY_CHARS);
	/* A prefix of the full answer. */
	size_t len = strlen(res.reply);
	assert_true(len < full_len);
	assert_memory_equal(res.reply, full, len);
	/* The cut falls inside the euro run, not inside a euro sign. */
	assert_true(len >= 3);
	assert_memory_equal(res.reply + len - 3, euro, 3);

	/* What was stored is what was sent. */
	char *stored = NULL;
	int64_t id = 0;
	assert_int_equal(store_answer_for(f->s, "SMlongrecall", &stored, &id, NULL), 0);
	assert_non_null(stored);
	assert_string_equal(stored, res.reply);
	assert_int_equal(id, res.outbound_id);
	assert_int_equal(usage_of(f, &f->ada).truncated, 1);
	free(stored);
	free(res.reply);
	free(full);
}

static void test_reply_of_exactly_1600_characters_is_kept_whole(void **state) {
	struct fixture *f = *state;
	/* "Your notes:\n1. " is 15 code points; a 1585-character note makes 1600. */
	char *body = malloc(9 + 1585 * 2 + 1);
	size_t n = (size_t)sprintf(body, "remember ");

	assert_non_null(body);
	for (int k = 0; k < 1585; k++) {
		body[n++] = '\xc3';
		body[n++] = '\xa9'; /* é */
	}
	body[n] = '\0';
	struct router_result res = route(f, NULL, ADA_PHONE, body);
	assert_reply(&res, "Noted.", "note");

	res = route(f, NULL, ADA_PHONE, "recall");
	assert_non_null(res.reply);
	assert_int_equal(utf8_code_points(res.reply), 1600);
	assert_memory_equal(res.reply, "Your notes:\n1. ", 15);
	assert_string_equal(res.reply + 15, body + 9);
	assert_int_equal(usage_of(f, &f->ada).truncated, 0);
	free(res.reply);
	free(body);
}

/* ---- status callbacks ---- */

static void test_status_error_21610_marks_the_number_opted_out(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, ADA_PHONE, "hello");
	assert_outcome(&res, ROUTER_ROUTED, "hello");
	int64_t out = res.outbound_id;
	free(res.reply);
	assert_true(out > 0);

	assert_int_equal(router_status(f->r, out, "SMout21610", "sent", "30007", ADA_PHONE), 0);
	assert_false(opted_out(f, ADA_PHONE));
	assert_int_equal(router_status(f->r, out, "SMout21610", "failed", "21610", ADA_PHONE), 0);
	assert_true(opted_out(f, ADA_PHONE));

	res = route(f, NULL, ADA_PHONE, "remember z");
	assert_outcome(&res, ROUTER_BLOCKED, "after 21610");
	assert_reply(&res, NULL, "after 21610");
	assert_int_equal(notes_of(f, &f->ada), 0);

	struct newest m = newest_of(f, &f->ada);
	/* newest: the blocked inbound, then the reply whose status moved to failed. */
	assert_int_equal(m.id[1], out);
	assert_string_equal(m.status[1], "failed");
}

static void test_status_of_unknown_message_is_enoent(void **state) {
	struct fixture *f = *state;

	assert_int_equal(router_status(f->r, 0, "SMnosuch", "delivered", NULL, ADA_PHONE), -ENOENT);
	assert_int_equal(router_status(f->r, 987654, NULL, "delivered", NULL, ADA_PHONE), -ENOENT);
}

static void test_status_error_21610_of_unknown_message_still_opts_out(void **state) {
	struct fixture *f = *state;

	/* A To no channel of ours reads is ignored: nothing is stored under it. */
	assert_int_equal(router_status(f->r, 0, "SMnosuch0", "failed", "21610",
	                                 "messenger:" BOB_PHONE),
	                 -ENOENT);
	assert_false(opted_out(f, "messenger:" BOB_PHONE));
	assert_false(opted_out(f, BOB_PHONE));
	/* A WhatsApp To opts out the number on WhatsApp only. */
	assert_int_equal(router_status(f->r, 0, "SMnosuch1", "failed", "21610",
	                                 "whatsapp:" BOB_PHONE),
	                 -ENOENT);
	assert_true(opted_out(f, "whatsapp:" BOB_PHONE));
	assert_false(opted_out(f, BOB_PHONE));

	assert_int_equal(router_status(f->r, 0, "SMnosuch2", "failed", "21610", ADA_PHONE), -ENOENT);
	assert_true(opted_out(f, ADA_PHONE));
	assert_int_equal(router_status(f->r, 987654, NULL, "undelivered", "21610", BOB_PHONE),
	                 -ENOENT);
	assert_true(opted_out(f, BOB_PHONE));

	struct router_result res = route(f, NULL, ADA_PHONE, "remember z");
	assert_outcome(&res, ROUTER_BLOCKED, "after 21610 of an unknown message");
	assert_reply(&res, NULL, "after 21610 of an unknown message");
	assert_int_equal(notes_of(f, &f->ada), 0);
}

/* ---- cost controls ---- */

static void test_daily_segment_budget_stops_routing_once_spent(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;
	const struct router_options o = {.daily_segment_budget = 2};

	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "remember a", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "1st");
	assert_reply(&res, "Noted.", "1st");
	res = route_on(f, r, NULL, ADA_PHONE, "remember b", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "2nd");
	assert_reply(&res, "Noted.", "2nd");

	res = route_on(f, r, NULL, ADA_PHONE, "remember c", NULL);
	assert_outcome(&res, ROUTER_OVER_BUDGET, "3rd");
	assert_reply(&res, NULL, "3rd");
	assert_int_equal(notes_of(f, &f->ada), 2);
	struct newest m = newest_of(f, &f->ada);
	assert_string_equal(m.body[0], "remember c");
	assert_string_equal(m.status[0], "over_budget");
	struct store_usage_row u = usage_of(f, &f->ada);
	assert_int_equal(u.over_budget, 1);
	assert_int_equal(u.outbound, 2);

	/* Another user has a budget of its own; STOP is still honoured. */
	res = route_on(f, r, NULL, BOB_PHONE, "remember b", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "bob");
	assert_reply(&res, "Noted.", "bob");
	res = route_on(f, r, NULL, ADA_PHONE, "STOP", NULL);
	assert_outcome(&res, ROUTER_OPTED_OUT, "STOP over budget");
	assert_reply(&res, NULL, "STOP over budget");
	assert_true(opted_out(f, ADA_PHONE));
	router_destroy(r);
}

static void test_reply_segment_cap_cuts_the_reply_to_fit(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;
	const struct router_options o = {.reply_max_segments = 1};
	struct sms_count c;

	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);
	for (int i = 0; i < 10; i++) {
		struct router_result res = route_on(
		                f, r, NULL, ADA_PHONE,
		                "remember a note long enough to need several segments", NULL);
		assert_reply(&res, "Noted.", "note");
	}
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "recall", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "recall");
	assert_non_null(res.reply);
	sms_count(res.reply, strlen(res.reply), &c);
	assert_int_equal(c.segments, 1);
	assert_int_equal(strlen(res.reply), 160); /* GSM-7: one segment is 160 characters */
	assert_memory_equal(res.reply, "Your notes:\n1. a note long", 26);
	free(res.reply);
	struct store_usage_row u = usage_of(f, &f->ada);
	assert_int_equal(u.truncated, 1);
	router_destroy(r);
}

static void test_smart_encoding_replaces_look_alikes_only_when_all_become_gsm7(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;
	const struct router_options o = {.smart_encoding = true};

	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);
	/* \u2018hi\u2019 \u2014 ok */
	struct router_result res =
	                route_on(f, r, NULL, ADA_PHONE,
	                         "remember \xe2\x80\x98hi\xe2\x80\x99 \xe2\x80\x94 ok", NULL);
	assert_reply(&res, "Noted.", "note");
	res = route_on(f, r, NULL, ADA_PHONE, "recall", NULL);
	assert_reply(&res, "Your notes:\n1. 'hi' - ok", "recall");
	assert_int_equal(usage_of(f, &f->ada).smart_encoded, 1);

	/* An emoji keeps it UCS-2: nothing is replaced. */
	res = route_on(f, r, NULL, ADA_PHONE, "remember \xf0\x9f\x98\x80", NULL);
	assert_reply(&res, "Noted.", "emoji note");
	res = route_on(f, r, NULL, ADA_PHONE, "recall", NULL);
	assert_reply(&res,
	             "Your notes:\n1. \xe2\x80\x98hi\xe2\x80\x99 \xe2\x80\x94 ok\n2. "
	             "\xf0\x9f\x98\x80",
	             "recall with emoji");
	assert_int_equal(usage_of(f, &f->ada).smart_encoded, 1);
	router_destroy(r);
}


static int run(const char *name, const struct CMUnitTest *tests, size_t n) {
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

int main(void) {
	const char *backend = getenv("SMSROUTER_TEST_STORE_BACKEND");
	if (backend && strcmp(backend, "postgres") == 0 && !cluster_url()) {
		return 77; /* skipped */
	}
	log_setup(LOG_ERROR, false);
	const struct CMUnitTest tests[] = {
		FIXTURE(test_known_sender_gets_the_agents_reply_and_both_are_stored),
		FIXTURE(test_each_user_reaches_only_its_own_notes),
		FIXTURE(test_duplicate_sid_returns_the_stored_answer_without_rerunning_the_agent),
		FIXTURE(test_duplicate_of_a_message_without_reply_has_no_reply),
		FIXTURE(test_unknown_sender_gets_onboarding_once_then_nothing),
		FIXTURE(test_default_onboarding_and_help_texts_are_not_empty),
		FIXTURE(test_opt_out_words_opt_out_without_reply_and_start_opts_in),
		FIXTURE(test_opted_out_number_is_blocked_without_agent_call),
		FIXTURE(test_unstop_and_yes_opt_back_in),
		FIXTURE(test_opt_out_from_an_unknown_number_is_honoured),
		FIXTURE(test_opt_out_type_decides_over_the_body),
		FIXTURE(test_help_and_info_answer_the_help_text_without_agent),
		FIXTURE(test_stop_inside_a_sentence_is_not_an_opt_out),
		FIXTURE(test_whatsapp_sender_is_the_user_who_owns_the_number),
		FIXTURE(test_stop_on_whatsapp_leaves_sms_and_the_other_way_round),
		FIXTURE(test_other_addresses_are_stored_unrouted_and_get_nothing),
		FIXTURE(test_sender_over_the_rate_limit_is_stored_not_routed),
		FIXTURE(test_stop_and_start_are_honoured_over_the_rate_limit),
		FIXTURE(test_help_counts_against_and_obeys_the_rate_limit),
		FIXTURE(test_reply_over_1600_characters_is_cut_on_a_character_boundary),
		FIXTURE(test_reply_of_exactly_1600_characters_is_kept_whole),
		FIXTURE(test_status_error_21610_marks_the_number_opted_out),
		FIXTURE(test_status_of_unknown_message_is_enoent),
		FIXTURE(test_status_error_21610_of_unknown_message_still_opts_out),
		FIXTURE(test_daily_segment_budget_stops_routing_once_spent),
		FIXTURE(test_reply_segment_cap_cuts_the_reply_to_fit),
		FIXTURE(test_smart_encoding_replaces_look_alikes_only_when_all_become_gsm7),
	};
	int failed = run("router", tests, ARRAY_SIZE(tests));
	failed += run("router_batch", router_batch_tests, router_batch_tests_count);
	failed += run("router_text", router_text_tests, router_text_tests_count);
	return failed;
}
