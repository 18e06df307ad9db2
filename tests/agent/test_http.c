/* Tests of the Agent Core client (CONTRACT.md, "Agent Core contract"): the request body's
 * history holds what came before the message and nothing after it, whenever the call is
 * made; calls start in the order they were made. Each test runs over a fresh SQLite store
 * in a temp dir; the Agent Core is a listener on 127.0.0.1 in the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../tmpstore.h"
#include "agent/agent.h"
#include "store/store.h"

struct fixture {
	char dir[TMPSTORE_DIR_SIZE];
	struct store *s;
	struct store_user ada;
	struct store_user bob;
};

static int setup(void **state) {
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f) {
		return -1;
	}
	if (tmpstore_open("agent-http", f->dir, NULL, &f->s) != 0 ||
	    tmpstore_add_ada_and_bob(f->s, &f->ada, &f->bob) != 0) {
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state) {
	struct fixture *f = *state;
	store_close(f->s);
	tmpstore_remove(f->dir);
	free(f);
	return 0;
}

/* Stores a message of user u (an inbound one when reply_to is 0); returns it with its id.
 * body must outlive the result. */
static struct store_message add(struct fixture *f, const struct store_user *u, const char *sid,
                                const char *body, int64_t reply_to) {
	struct store_message m = {
	                .sid = sid,
	                .direction = reply_to ? STORE_OUTBOUND : STORE_INBOUND,
	                .from = reply_to ? "+15005550006" : u->phones[0],
	                .to = reply_to ? u->phones[0] : "+15005550006",
	                .body = body,
	                .status = reply_to ? "queued" : "received",
	                .encoding = "GSM-7",
	                .segments = 1,
	                .reply_to = reply_to,
	};
	int64_t id = 0;
	int r = reply_to ? store_outbound_add(f->s, u->id, &m, &id)
	                 : store_inbound_add(f->s, u->id, &m, &id);
	assert_int_equal(r, 0);
	m.id = id;
	return m;
}

/* The request body's history for message m of user u, as "direction:body" words. */
static void history_of(struct fixture *f, const struct store_user *u, const struct store_message *m,
                       char *out, size_t size) {
	struct agent_request req = {.user = u, .message = m};
	char *text = NULL;
	assert_int_equal(agent_request_json(f->s, &req, &text), 0);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	                json_string_value(json_object_get(json_object_get(j, "message"), "body")),
	                m->body);
	json_t *h = json_object_get(j, "history");
	assert_true(json_is_array(h));
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(h); i++) {
		json_t *e = json_array_get(h, i);
		snprintf(out + strlen(out), size - strlen(out), "%s%s:%s", i ? " " : "",
		         json_string_value(json_object_get(e, "direction")),
		         json_string_value(json_object_get(e, "body")));
	}
	json_decref(j);
	free(text);
}

/* The request body's user for message m of user u. */
static json_t *user_of(struct fixture *f, const struct store_user *u, const struct store_message *m) {
	struct agent_request req = {.user = u, .message = m};
	char *text = NULL;
	assert_int_equal(agent_request_json(f->s, &req, &text), 0);
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(j);
	json_t *user = json_incref(json_object_get(j, "user"));
	json_decref(j);
	assert_true(json_is_object(user));
	return user;
}

static void test_request_user_carries_timezone_locale_and_tags(void **state) {
	struct fixture *f = *state;
	const char *const tags[] = {"vip", "beta"};
	struct store_user_patch p = {.set_timezone = true, .timezone = "Asia/Tokyo",
		.set_locale = true, .locale = "ja-JP", .set_tags = true, .tags = tags, .ntags = 2};
	struct store_user ada;
	struct store_message m = add(f, &f->ada, "SMu1", "hi", 0);

	json_t *user = user_of(f, &f->bob, &m);
	assert_true(json_is_null(json_object_get(user, "timezone")));
	assert_true(json_is_null(json_object_get(user, "locale")));
	assert_int_equal(json_array_size(json_object_get(user, "tags")), 0);
	json_decref(user);

	assert_int_equal(store_user_set(f->s, f->ada.id, &p, &ada), 0);
	user = user_of(f, &ada, &m);
	assert_string_equal(json_string_value(json_object_get(user, "id")), f->ada.id);
	assert_string_equal(json_string_value(json_object_get(user, "timezone")), "Asia/Tokyo");
	assert_string_equal(json_string_value(json_object_get(user, "locale")), "ja-JP");
	json_t *t = json_object_get(user, "tags");
	assert_int_equal(json_array_size(t), 2);
	assert_string_equal(json_string_value(json_array_get(t, 0)), "vip");
	assert_string_equal(json_string_value(json_array_get(t, 1)), "beta");
	json_decref(user);
}

static void test_history_holds_nothing_that_arrived_after_the_message(void **state) {
	struct fixture *f = *state;
	char h[512];

	struct store_message m0 = add(f, &f->ada, "SM0", "zero", 0);
	add(f, &f->ada, NULL, "echo: zero", m0.id);
	struct store_message m1 = add(f, &f->ada, "SM1", "one", 0);
	add(f, &f->bob, "SMb", "bob's", 0);
	/* "two" arrives while "one" waits for its call (or for a retry of it). */
	struct store_message m2 = add(f, &f->ada, "SM2", "two", 0);

	history_of(f, &f->ada, &m1, h, sizeof(h));
	assert_string_equal(h, "inbound:zero outbound:echo: zero");
	history_of(f, &f->ada, &m2, h, sizeof(h));
	assert_string_equal(h, "inbound:zero outbound:echo: zero inbound:one");
	history_of(f, &f->ada, &m0, h, sizeof(h));
	assert_string_equal(h, "");
}

static void test_history_is_the_last_20_before_the_message_oldest_first(void **state) {
	struct fixture *f = *state;
	char sid[16], body[30][8], h[1024], want[1024] = "";
	struct store_message m[30];

	for (int i = 0; i < 30; i++) {
		snprintf(sid, sizeof(sid), "SM%d", i);
		snprintf(body[i], sizeof(body[i]), "m%d", i);
		m[i] = add(f, &f->ada, sid, body[i], 0);
	}
	for (int i = 5; i < 25; i++) {
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%sinbound:m%d",
		         i > 5 ? " " : "", i);
	}
	history_of(f, &f->ada, &m[25], h, sizeof(h));
	assert_string_equal(h, want);
}

/* ---- a one-thread Agent Core: answers connections one at a time, in accept order ---- */

#define MAX_CALLS 16

struct listener {
	int fd;
	int port;
	int expect; /* connections to answer */
	pthread_t thread;
	int n;
	char body[MAX_CALLS][32]; /* message.body of each request, in accept order */
};

/* Reads one HTTP request from fd into buf; returns its body (in buf) or NULL. */
static const char *read_request(int fd, char *buf, size_t size) {
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0) {
			return NULL;
		}
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		const char *cl = strstr(buf, "Content-Length:");
		if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10)) {
			return end + 4;
		}
		if (len + 1 >= size) {
			return NULL;
		}
	}
}

static void *listen_loop(void *arg) {
	struct listener *l = arg;
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                             "Content-Length: 14\r\nConnection: close\r\n\r\n"
	                             "{\"reply\":null}";
	char buf[65536];

	while (l->n < l->expect) {
		int c = accept(l->fd, NULL, NULL);
		if (c < 0) {
			break; /* timed out: the test fails on the count */
		}
		const char *body = read_request(c, buf, sizeof(buf));
		json_t *j = body ? json_loads(body, 0, NULL) : NULL;
		const char *text = json_string_value(
		                json_object_get(json_object_get(j, "message"), "body"));
		snprintf(l->body[l->n++], sizeof(l->body[0]), "%s", text ? text : "?");
		json_decref(j);
		if (write(c, answer, sizeof(answer) - 1) < 0) {
			/* the call fails; the order is recorded already */
		}
		close(c);
	}
	return NULL;
}

static void listener_start(struct listener *l, int expect) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct timeval tv = {.tv_sec = 10};

	memset(l, 0, sizeof(*l));
	l->expect = expect;
	l->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l->fd >= 0);
	setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* bounds accept() */
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l->fd, 64), 0);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&sa, &sl), 0);
	l->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&l->thread, NULL, listen_loop, l), 0);
}

static void listener_stop(struct listener *l) {
	pthread_join(l->thread, NULL);
	close(l->fd);
}

struct order {
	struct fixture *f;
	struct agent *a;
	struct store_message m[6];
	atomic_int done;
	atomic_int failed;
};

static void count_done(void *ctx, int err, struct agent_answer *answer) {
	struct order *o = ctx;
	free(answer->reply);
	if (err < 0) {
		atomic_fetch_add(&o->failed, 1);
	}
	atomic_fetch_add(&o->done, 1);
}

/* Runs on the agent's loop thread, which is busy until it returns: the calls made here
 * all wait together for its next turn. */
static void first_done(void *ctx, int err, struct agent_answer *answer) {
	struct order *o = ctx;
	for (int i = 1; i < 6; i++) {
		struct agent_request req = {.user = &o->f->ada, .message = &o->m[i]};
		if (agent_reply_async(o->a, &req, count_done, o) < 0) {
			atomic_fetch_add(&o->failed, 1);
			atomic_fetch_add(&o->done, 1);
		}
	}
	count_done(ctx, err, answer);
}

static void test_calls_made_together_start_in_the_order_they_were_made(void **state) {
	struct fixture *f = *state;
	static const char *const bodies[] = {"zero", "one", "two", "three", "four", "five"};
	struct order o = {.f = f};
	struct listener l;
	char url[64], sid[16];

	for (int i = 0; i < 6; i++) {
		snprintf(sid, sizeof(sid), "SM%d", i);
		o.m[i] = add(f, &f->ada, sid, bodies[i], 0);
	}
	listener_start(&l, 6);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/agent", l.port);
	struct agent_http_options ao = {.url = url, .secret = "s", .timeout_ms = 10000};
	assert_int_equal(agent_http_create(&ao, f->s, &o.a), 0);

	struct agent_request req = {.user = &f->ada, .message = &o.m[0]};
	assert_int_equal(agent_reply_async(o.a, &req, first_done, &o), 0);
	for (int waited = 0; atomic_load(&o.done) < 6 && waited < 20000; waited += 10) {
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	agent_destroy(o.a);
	listener_stop(&l);

	assert_int_equal(atomic_load(&o.done), 6);
	assert_int_equal(atomic_load(&o.failed), 0);
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_string_equal(l.body[i], bodies[i]);
	}
}

/* The canary's share over 10,000 user ids (random, as ids.h makes them) is near the share
 * asked, and the same users every time. The measured shares are printed for the record. */
static void test_canary_takes_a_stable_share_of_10000_users(void **state) {
	(void)state;
	static const int shares[] = {0, 1000, 1250, 5000, 10000}; /* basis points */
	static char ids[10000][33];
	FILE *urandom = fopen("/dev/urandom", "rb");
	assert_non_null(urandom);
	for (int i = 0; i < 10000; i++) {
		unsigned char b[16];
		assert_int_equal(fread(b, 1, sizeof(b), urandom), sizeof(b));
		for (int k = 0; k < 16; k++) {
			snprintf(&ids[i][2 * k], 3, "%02x", b[k]);
		}
	}
	fclose(urandom);
	for (size_t s = 0; s < sizeof(shares) / sizeof(shares[0]); s++) {
		int in = 0;
		for (int i = 0; i < 10000; i++) {
			bool first = agent_in_canary(ids[i], shares[s]);
			assert_int_equal(first, agent_in_canary(ids[i], shares[s])); /* stable */
			in += first;
		}
		printf("canary %d.%02d%%: %d of 10000 users (%.2f%%)\n", shares[s] / 100,
				shares[s] % 100, in, in / 100.0);
		/* Within 1.5 points: a binomial's 10,000 draws stray about 0.3 at most. */
		assert_true(abs(in - shares[s]) <= 150);
	}
	/* A user in a share stays in every larger one. */
	for (int i = 0; i < 10000; i++) {
		assert_true(!agent_in_canary(ids[i], 1000) || agent_in_canary(ids[i], 1250));
	}
}

static int parse(const char *body, struct agent_answer *a) {
	return agent_parse_reply(200, body, strlen(body), a);
}

static void test_an_answer_may_carry_media(void **state) {
	(void)state;
	struct agent_answer a = {0};
	assert_int_equal(parse("{\"reply\": \"Here\", \"media\": [\"https://m.example/a.jpg\", "
				"\"http://m.example/b.png\"]}", &a), 0);
	assert_string_equal(a.reply, "Here");
	assert_string_equal(a.media, "[\"https://m.example/a.jpg\",\"http://m.example/b.png\"]");
	agent_answer_clear(&a);
	assert_null(a.reply);
	assert_null(a.media);
	/* Pictures without words; an empty list or null is no media. */
	assert_int_equal(parse("{\"reply\": null, \"media\": [\"https://m.example/a.jpg\"]}", &a), 0);
	assert_null(a.reply);
	assert_string_equal(a.media, "[\"https://m.example/a.jpg\"]");
	agent_answer_clear(&a);
	assert_int_equal(parse("{\"reply\": \"x\", \"media\": []}", &a), 0);
	assert_null(a.media);
	agent_answer_clear(&a);
	assert_int_equal(parse("{\"reply\": \"x\", \"media\": null}", &a), 0);
	assert_null(a.media);
	agent_answer_clear(&a);
}

static void test_bad_media_make_the_answer_bad(void **state) {
	(void)state;
	const char *bad[] = {
		"{\"reply\": \"x\", \"media\": [\"javascript:alert(1)\"]}",
		"{\"reply\": \"x\", \"media\": [\"https://m.example/a\", \"ftp://m.example/b\"]}",
		"{\"reply\": \"x\", \"media\": \"https://m.example/a\"}",
		"{\"reply\": \"x\", \"media\": [1]}",
		"{\"reply\": \"x\", \"media\": {\"url\": \"https://m.example/a\"}}",
		"{\"reply\": \"x\", \"media\": [\"https://m.example/a b\"]}",
		"{\"reply\": \"x\", \"media\": [\"https://m.example/1\", \"https://m.example/2\", "
		"\"https://m.example/3\", \"https://m.example/4\", \"https://m.example/5\", "
		"\"https://m.example/6\", \"https://m.example/7\", \"https://m.example/8\", "
		"\"https://m.example/9\", \"https://m.example/10\", \"https://m.example/11\"]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_answer a = {.reply = (char *)"untouched"};
		int r = parse(bad[i], &a);
		if (r != -EBADMSG || strcmp(a.reply, "untouched") != 0 || a.media) {
			fail_msg("case %zu: %d", i, r);
		}
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
	                cmocka_unit_test(test_canary_takes_a_stable_share_of_10000_users),
	                cmocka_unit_test(test_an_answer_may_carry_media),
	                cmocka_unit_test(test_bad_media_make_the_answer_bad),
	                cmocka_unit_test_setup_teardown(
	                                test_request_user_carries_timezone_locale_and_tags, setup,
	                                teardown),
	                cmocka_unit_test_setup_teardown(
	                                test_history_holds_nothing_that_arrived_after_the_message,
	                                setup, teardown),
	                cmocka_unit_test_setup_teardown(
	                                test_history_is_the_last_20_before_the_message_oldest_first,
	                                setup, teardown),
	                cmocka_unit_test_setup_teardown(
	                                test_calls_made_together_start_in_the_order_they_were_made,
	                                setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}
