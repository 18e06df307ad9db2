/* Tests of the built-in memo agent (CONTRACT.md, "Built-in agent"): the exact replies to
 * remember / recall / forget / anything else, trimming, keyword case, and that one user's
 * notes never reach another. Each test runs over a fresh SQLite store in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "store/store.h"
#include "../tmpstore.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
	char dir[64];
	struct store *s;
	struct agent *a;
	struct store_user ada;
	struct store_user bob;
};

static int setup(void **state) {
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f) {
		return -1;
	}
	if (tmpstore_open("memo", f->dir, NULL, &f->s) != 0 ||
	    agent_memo_create(f->s, &f->a) != 0 ||
	    tmpstore_add_ada_and_bob(f->s, &f->ada, &f->bob) != 0) {
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state) {
	struct fixture *f = *state;
	agent_destroy(f->a);
	store_close(f->s);
	tmpstore_remove(f->dir);
	free(f);
	return 0;
}

/* The agent's reply to body from user u; the caller frees it. Asserts success. */
static char *ask(struct fixture *f, const struct store_user *u, const char *body) {
	struct store_message m = {
	                .id = 1,
	                .sid = "SM1",
	                .direction = STORE_INBOUND,
	                .from = u->phones[0],
	                .to = "+15550199999",
	                .body = body,
	                .status = "received",
	                .encoding = "GSM-7",
	                .segments = 1,
	};
	struct agent_request req = {.user = u, .message = &m};
	struct agent_answer answer = {0};
	int r = agent_reply(f->a, &req, &answer);
	if (r != 0) {
		fail_msg("agent_reply(\"%s\") gave %d", body ? body : "(null)", r);
	}
	assert_string_equal(answer.agent, "default");
	return answer.reply;
}

/* Asserts that body from u gets exactly expected (NULL: no reply). */
static void assert_reply(struct fixture *f, const struct store_user *u, const char *body,
                         const char *expected) {
	char *reply = ask(f, u, body);
	if (expected == NULL) {
		if (reply != NULL) {
			fail_msg("body \"%s\": expected no reply, got \"%s\"", body ? body : "(null)", reply);
		}
		return;
	}
	if (reply == NULL || strcmp(reply, expected) != 0) {
		print_error("body \"%s\": expected \"%s\", got \"%s\"\n", body ? body : "(null)", expected,
		            reply ? reply : "(null)");
	}
	assert_non_null(reply);
	assert_string_equal(reply, expected);
	free(reply);
}

#define HI_ADA "Hi Ada. Text \"remember <note>\", \"recall\" or \"forget\"."
#define HI_BOB "Hi Bob. Text \"remember <note>\", \"recall\" or \"forget\"."

static void test_recall_without_notes_says_so(void **state) {
	struct fixture *f = *state;
	assert_reply(f, &f->ada, "recall", "You have no notes.");
}

static void test_remember_says_noted_and_recall_lists_oldest_first(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "remember a", "Noted.");
	assert_reply(f, &f->ada, "remember b", "Noted.");
	assert_reply(f, &f->ada, "recall", "Your notes:\n1. a\n2. b");
}

static void test_remember_keeps_the_note_text_as_written(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "remember Buy MILK, 2 eggs & \"bread\"", "Noted.");
	assert_reply(f, &f->ada, "remember caf\xc3\xa9 at 9 \xe2\x82\xac", "Noted.");
	assert_reply(f, &f->ada, "remember two  spaces\tand tab", "Noted.");
	assert_reply(f, &f->ada, "recall",
	             "Your notes:\n1. Buy MILK, 2 eggs & \"bread\"\n2. caf\xc3\xa9 at 9 "
	             "\xe2\x82\xac"
	             "\n3. two  spaces\tand tab");
}

static void test_keywords_are_case_insensitive(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "REMEMBER one", "Noted.");
	assert_reply(f, &f->ada, "ReMeMbEr two", "Noted.");
	assert_reply(f, &f->ada, "RECALL", "Your notes:\n1. one\n2. two");
	assert_reply(f, &f->ada, "Recall", "Your notes:\n1. one\n2. two");
	assert_reply(f, &f->ada, "FoRgEt", "Forgotten.");
	assert_reply(f, &f->ada, "recall", "You have no notes.");
}

static void test_body_is_trimmed(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "  \t remember   padded note \r\n", "Noted.");
	assert_reply(f, &f->ada, "\n recall \n", "Your notes:\n1. padded note");
	assert_reply(f, &f->ada, "\tforget  ", "Forgotten.");
	assert_reply(f, &f->ada, " recall", "You have no notes.");
}

static void test_forget_erases_the_notes(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "remember a", "Noted.");
	assert_reply(f, &f->ada, "forget", "Forgotten.");
	assert_reply(f, &f->ada, "recall", "You have no notes.");
	/* Forgetting nothing is fine too. */
	assert_reply(f, &f->ada, "forget", "Forgotten.");
	assert_reply(f, &f->ada, "remember c", "Noted.");
	assert_reply(f, &f->ada, "recall", "Your notes:\n1. c");
}

static void test_anything_else_gets_the_greeting_with_the_name(void **state) {
	struct fixture *f = *state;
	static const char *const bodies[] = {
	                "hello",
	                "",
	                "   ",
	                "remember",
	                "  remember  ",
	                "REMEMBER\t",
	                "rememberme",
	                "rememberme to call",
	                "recall everything",
	                "recalls",
	                "forget it",
	                "forgetful",
	                "please remember x",
	                "\xe2\x9c\x85 recall",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		assert_reply(f, &f->ada, bodies[i], HI_ADA);
	}
	assert_reply(f, &f->bob, "hello", HI_BOB);
	/* None of them stored a note or erased one. */
	assert_reply(f, &f->ada, "recall", "You have no notes.");
}

static void test_greeting_does_not_forget_notes(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "remember keep me", "Noted.");
	assert_reply(f, &f->ada, "forget it", HI_ADA);
	assert_reply(f, &f->ada, "recall", "Your notes:\n1. keep me");
}

static void test_null_body_gets_the_greeting(void **state) {
	struct fixture *f = *state;
	assert_reply(f, &f->ada, NULL, HI_ADA);
}

static void test_notes_are_isolated_between_users(void **state) {
	struct fixture *f = *state;

	assert_reply(f, &f->ada, "remember ada secret", "Noted.");
	assert_reply(f, &f->bob, "recall", "You have no notes.");
	assert_reply(f, &f->bob, "remember bob one", "Noted.");
	assert_reply(f, &f->ada, "remember ada two", "Noted.");
	assert_reply(f, &f->ada, "recall", "Your notes:\n1. ada secret\n2. ada two");
	assert_reply(f, &f->bob, "recall", "Your notes:\n1. bob one");

	assert_reply(f, &f->bob, "forget", "Forgotten.");
	assert_reply(f, &f->bob, "recall", "You have no notes.");
	assert_reply(f, &f->ada, "recall", "Your notes:\n1. ada secret\n2. ada two");
}

static void test_recall_numbers_many_notes(void **state) {
	struct fixture *f = *state;
	char body[32];
	char expected[512] = "Your notes:";
	size_t len = strlen(expected);

	for (int i = 1; i <= 12; i++) {
		snprintf(body, sizeof(body), "remember n%d", i);
		assert_reply(f, &f->ada, body, "Noted.");
		len += (size_t)snprintf(expected + len, sizeof(expected) - len, "\n%d. n%d", i, i);
	}
	assert_reply(f, &f->ada, "recall", expected);
}

/* Each test runs on its own fresh store. */
#define FIXTURE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
	const struct CMUnitTest tests[] = {
		FIXTURE(test_recall_without_notes_says_so),
		FIXTURE(test_remember_says_noted_and_recall_lists_oldest_first),
		FIXTURE(test_remember_keeps_the_note_text_as_written),
		FIXTURE(test_keywords_are_case_insensitive),
		FIXTURE(test_body_is_trimmed),
		FIXTURE(test_forget_erases_the_notes),
		FIXTURE(test_anything_else_gets_the_greeting_with_the_name),
		FIXTURE(test_greeting_does_not_forget_notes),
		FIXTURE(test_null_body_gets_the_greeting),
		FIXTURE(test_notes_are_isolated_between_users),
		FIXTURE(test_recall_numbers_many_notes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
