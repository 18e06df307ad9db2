/* The Agent Core client (CONTRACT.md "Agent Core contract"): JSON over HTTP, signed with
 * HMAC-SHA256, on one libcurl multi loop so that slow agents hold no caller's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "agent/backend.h"
#include "curlbody.h"
#include "hmac.h"
#include "media_link.h"
#include "phone.h"
#include "twilio/twilio.h"

#define HISTORY 20
#define MAX_ANSWER (64 * 1024)
#define MAX_ENDPOINTS 16
#define ANSWERS_MAX 256 /* answers stored together at most */

/* One Agent Core: default (the first) or a named one. */
struct endpoint {
	char *name;
	char *url;
	char *secret;
	long timeout_ms;
};

struct call {
	const struct endpoint *ep; /* chosen when the call is made */
	CURL *h;
	struct curl_slist *hdr;
	json_t *request; /* user and message; the history is read when the call starts */
	char user_id[STORE_ID_SIZE];
	int64_t message_id;
	int64_t deadline_ms; /* CLOCK_MONOTONIC: made + SMSROUTER_AGENT_TIMEOUT_MS */
	char *body;
	struct curlbody answer; /* at most MAX_ANSWER */
	agent_done_cb done;
	void *ctx;
	struct call *next;
};

struct http_agent {
	struct agent base;
	struct store *store;
	struct endpoint ep[MAX_ENDPOINTS]; /* [0]: default */
	int nep;
	int canary; /* its index in ep, -1: none */
	int canary_basis_points;
	const struct media_links *media_links; /* NULL: no fetch_url */
	CURLM *multi;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards incoming, incoming_tail, stopping */
	/* Calls not yet seen by the loop, oldest first. */
	struct call *incoming;
	struct call **incoming_tail;
	bool stopping;
	atomic_bool stopped;
	/* The loop's own. One call per user runs at a time: the others wait, oldest first,
	 * so one user's messages reach the Agent Core in the order they arrived, and each
	 * call's history holds the reply to the one before. */
	struct call *running;
	struct call *waiting;
	struct call **waiting_tail;
	char answered_users[ANSWERS_MAX][STORE_ID_SIZE]; /* one turn's answered calls' users */
};

/* ---- the request body ---- */

static int add_history(void *ctx, const struct store_message *m) {
	json_t *list = ctx;
	char when[IDS_TIME_SIZE];
	ids_time_format(m->created_at, when);
	json_t *e = json_pack("{s:s,s:s,s:s}", "direction",
			m->direction == STORE_INBOUND ? "inbound" : "outbound", "body",
			m->body ? m->body : "", "at", when);
	return e && json_array_append_new(list, e) == 0 ? 0 : -ENOMEM;
}

/* Each media entry's "fetch_url": a link to smsrouter that streams it from Twilio, valid
 * SMSROUTER_MEDIA_URL_TTL from now (links NULL, or no origin known yet: none). */
static void add_fetch_urls(json_t *media, const struct media_links *links, const char *user_id,
		const char *uid) {
	size_t i;
	json_t *e;
	if (!links || !uid) {
		return;
	}
	json_array_foreach(media, i, e) {
		char url[MEDIA_LINK_URL_SIZE];
		if (json_is_object(e) && media_links_url(links, user_id, uid, (int)i, ids_now(), url,
						 sizeof(url)) == 0) {
			json_object_set_new(e, "fetch_url", json_string(url));
		}
	}
}

/* The request without its history: user and message (with fetch_url per media entry when
 * links is not NULL). */
static json_t *request_object(const struct agent_request *req, const struct media_links *links) {
	const struct store_message *m = req->message;
	const struct store_user *u = req->user;
	char when[IDS_TIME_SIZE];
	json_t *media = NULL;

	if (m->media_json) {
		media = json_loads(m->media_json, 0, NULL);
	}
	if (!json_is_array(media)) {
		json_decref(media);
		media = json_array();
	}
	add_fetch_urls(media, links, u->id, m->uid);
	json_t *tags = json_array();
	for (int i = 0; tags && i < u->ntags; i++) {
		json_array_append_new(tags, json_string(u->tags[i]));
	}
	ids_time_format(m->created_at ? m->created_at : ids_now(), when);
	/* The channel is the sender's address as stored (routed: one phone_address_parse
	 * reads). */
	enum phone_channel ch;
	char number[PHONE_SIZE];
	const char *channel = phone_address_parse(m->from, &ch, number) == 0 ? phone_channel_name(ch)
									       : "sms";
	return json_pack("{s:{s:s,s:s,s:s?,s:s?,s:o,s:s?,s:s},s:{s:s?,s:s,s:s,s:s,s:s,s:s,s:o,s:s}}",
			"user", "id", u->id, "name", u->name, "timezone",
			u->timezone[0] ? u->timezone : NULL, "locale", u->locale[0] ? u->locale : NULL,
			"tags", tags, "agent", u->agent[0] ? u->agent : NULL, "mode",
			u->mode[0] ? u->mode : "agent", "message", "id", m->uid, "sid",
			m->sid ? m->sid : "", "channel", channel,
			"from", m->from, "to", m->to ? m->to : "", "body", m->body ? m->body : "",
			"media", media, "received_at", when);
}

int agent_operator_json(const struct agent_request *req, char **ret_json) {
	json_t *j = request_object(req, NULL);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		return -ENOMEM;
	}
	*ret_json = text;
	return 0;
}

/* Sets request's "history": the user's last messages stored before message before_id
 * (what came before it, not what is stored by the time of the call: a retried call in
 * rest mode must not show the agent messages that arrived since), oldest first. */
static int add_history_to(struct store *s, json_t *request, const char *user_id,
		int64_t before_id) {
	json_t *history = json_array();
	if (!history) {
		return -ENOMEM;
	}
	int r = store_history(s, user_id, before_id, HISTORY, add_history, history);
	if (r < 0) {
		json_decref(history);
		return r;
	}
	return json_object_set_new(request, "history", history) == 0 ? 0 : -ENOMEM;
}

int agent_request_json(struct store *s, const struct agent_request *req, char **ret_json) {
	json_t *j = request_object(req, NULL);
	if (!j) {
		return -ENOMEM;
	}
	int r = add_history_to(s, j, req->user->id, req->message->id);
	char *text = r == 0 ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (r < 0) {
		return r;
	}
	if (!text) {
		return -ENOMEM;
	}
	*ret_json = text;
	return 0;
}

static int64_t monotonic_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one call ---- */

static void call_free(struct call *c) {
	if (c->h) {
		curl_easy_cleanup(c->h);
	}
	curl_slist_free_all(c->hdr);
	json_decref(c->request);
	free(c->body);
	free(c->answer.s);
	free(c);
}

/* What the Agent Core answered, by the contract. */
static int interpret(struct call *c, CURLcode cr, struct agent_answer *ret) {
	long status = 0;

	switch (cr) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
		return c->answer.too_big ? -EBADMSG : -EIO;
	default:
		return -EIO;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	return agent_parse_reply(status, c->answer.s, c->answer.len, ret);
}

/* "media" of an answer: NULL or absent → none (0, *ret NULL); a list of 1–10 URLs
 * twilio_media_url_ok takes → its compact JSON text; [] → none; anything else -EBADMSG. */
static int answer_media(json_t *media, char **ret) {
	*ret = NULL;
	if (!media || json_is_null(media)) {
		return 0;
	}
	if (!json_is_array(media) || json_array_size(media) > TWILIO_MAX_MEDIA) {
		return -EBADMSG;
	}
	size_t i;
	json_t *u;
	json_array_foreach(media, i, u) {
		if (!json_is_string(u) || !twilio_media_url_ok(json_string_value(u))) {
			return -EBADMSG;
		}
	}
	if (json_array_size(media) == 0) {
		return 0;
	}
	*ret = json_dumps(media, JSON_COMPACT);
	return *ret ? 0 : -ENOMEM;
}

int agent_parse_reply(long status, const char *body, size_t len, struct agent_answer *ret) {
	if (status == 204) {
		ret->reply = NULL;
		ret->media = NULL;
		ret->handoff = false;
		return 0;
	}
	if (status >= 500) {
		return -EIO;
	}
	if (status != 200 || !body) {
		return -EBADMSG;
	}
	/* jansson refuses invalid UTF-8 and \u0000 in strings: the reply is a clean C string. */
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *reply = json_object_get(j, "reply");
	char *media = NULL;
	int r = -EBADMSG;
	if (json_is_object(j) && (json_is_null(reply) || json_is_string(reply))) {
		r = answer_media(json_object_get(j, "media"), &media);
	}
	if (r == 0) {
		char *text = json_is_string(reply) ? strdup(json_string_value(reply)) : NULL;
		if (json_is_string(reply) && !text) {
			free(media);
			r = -ENOMEM;
		} else {
			ret->reply = text;
			ret->media = media;
			ret->handoff = json_is_true(json_object_get(j, "handoff"));
		}
	}
	json_decref(j);
	return r;
}

/* answer: NULL when there is none (an error). */
static void finish(struct call *c, int err, struct agent_answer *answer) {
	struct agent_answer none = {.agent = c->ep->name};
	if (!answer || err < 0) {
		if (answer) {
			agent_answer_clear(answer);
		}
		answer = &none;
	}
	answer->agent = c->ep->name;
	c->done(c->ctx, err, answer);
	call_free(c);
}

/* ---- the loop ---- */

/* Starts c on the multi handle: its history as stored now, the body signed, and what is
 * left of its deadline. -ETIMEDOUT if nothing is left (it waited behind its user's
 * earlier calls), -ENOMEM, -EIO. */
static int start(struct http_agent *a, struct call *c) {
	long left = (long)(c->deadline_ms - monotonic_ms());
	if (left <= 0) {
		return -ETIMEDOUT;
	}
	int r = add_history_to(a->store, c->request, c->user_id, c->message_id);
	if (r < 0) {
		return r;
	}
	c->body = json_dumps(c->request, JSON_COMPACT);
	if (!c->body) {
		return -ENOMEM;
	}
	c->h = curl_easy_init();
	c->hdr = hmac_json_headers(c->ep->secret, c->body);
	if (!c->h || !c->hdr) {
		return -ENOMEM;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, c->ep->url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, left);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	if (curlbody_attach(c->h, &c->answer, MAX_ANSWER) < 0) {
		return -EIO;
	}
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_multi_add_handle(a->multi, c->h) != CURLM_OK) {
		return -EIO;
	}
	c->next = a->running;
	a->running = c;
	return 0;
}

static bool has_user(const struct call *list, const char *user_id) {
	for (; list; list = list->next) {
		if (strcmp(list->user_id, user_id) == 0) {
			return true;
		}
	}
	return false;
}

/* The oldest waiting call of user_id, taken off the waiting list; NULL if none. */
static struct call *next_of(struct http_agent *a, const char *user_id) {
	for (struct call **pp = &a->waiting; *pp; pp = &(*pp)->next) {
		struct call *c = *pp;
		if (strcmp(c->user_id, user_id) == 0) {
			*pp = c->next;
			if (a->waiting_tail == &c->next) {
				a->waiting_tail = pp;
			}
			c->next = NULL;
			return c;
		}
	}
	return NULL;
}

/* Starts c; a call that cannot start is answered at once, and its user's next call
 * starts instead. */
static void launch(struct http_agent *a, struct call *c) {
	char user_id[STORE_ID_SIZE];
	while (c) {
		int r = start(a, c);
		if (r == 0) {
			return;
		}
		memcpy(user_id, c->user_id, sizeof(user_id));
		finish(c, r, NULL);
		agent__answered(&a->base); /* stored before the user's next call reads its history */
		c = next_of(a, user_id);
	}
}

/* A call the loop has not seen yet: it starts now, or waits for its user's earlier ones. */
static void admit(struct http_agent *a, struct call *c) {
	c->next = NULL;
	if (has_user(a->running, c->user_id) || has_user(a->waiting, c->user_id)) {
		*a->waiting_tail = c;
		a->waiting_tail = &c->next;
	} else {
		launch(a, c);
	}
}

/* c has its answer: c is answered (its user's next call starts once every answer of this
 * turn is stored: answered_all). */
static void completed(struct http_agent *a, struct call *c, CURLcode cr) {
	struct agent_answer answer = {0};

	curl_multi_remove_handle(a->multi, c->h);
	int r = interpret(c, cr, &answer);
	finish(c, r, &answer);
}

/* The answers of one turn (users: their users, n of them) are stored together by the
 * agent_on_answers callback, then each user's next call starts. */
static void answered_all(struct http_agent *a, char (*users)[STORE_ID_SIZE], size_t n) {
	if (n == 0) {
		return;
	}
	agent__answered(&a->base);
	for (size_t i = 0; i < n; i++) {
		launch(a, next_of(a, users[i]));
	}
}

static void *loop(void *arg) {
	struct http_agent *a = arg;
	char (*users)[STORE_ID_SIZE] = a->answered_users;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		struct call *in = a->incoming;
		a->incoming = NULL;
		a->incoming_tail = &a->incoming;
		bool stopping = a->stopping;
		pthread_mutex_unlock(&a->mu);

		while (in) {
			struct call *next = in->next;
			admit(a, in);
			in = next;
		}
		if (stopping) {
			break;
		}
		int still = 0;
		curl_multi_perform(a->multi, &still);
		CURLMsg *msg;
		int left;
		size_t n = 0;
		while ((msg = curl_multi_info_read(a->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE) {
				continue;
			}
			struct call **pp = &a->running;
			while (*pp && (*pp)->h != msg->easy_handle) {
				pp = &(*pp)->next;
			}
			struct call *c = *pp;
			if (!c) {
				continue;
			}
			*pp = c->next;
			if (n == ANSWERS_MAX) {
				answered_all(a, users, n);
				n = 0;
			}
			memcpy(users[n++], c->user_id, STORE_ID_SIZE);
			completed(a, c, msg->data.result);
		}
		answered_all(a, users, n);
		curl_multi_poll(a->multi, NULL, 0, 1000, NULL);
	}
	/* Shutting down: whatever is still running or waiting gets its answer now. */
	while (a->running) {
		struct call *c = a->running;
		a->running = c->next;
		curl_multi_remove_handle(a->multi, c->h);
		finish(c, -ECANCELED, NULL);
	}
	while (a->waiting) {
		struct call *c = a->waiting;
		a->waiting = c->next;
		finish(c, -ECANCELED, NULL);
	}
	agent__answered(&a->base);
	a->waiting_tail = &a->waiting;
	atomic_store(&a->stopped, true);
	return NULL;
}

/* The user's own agent when it names one configured, else the canary's for its share of
 * users, else default. One user's calls share one queue whichever agent they go to, so a
 * user moved between agents keeps its order. */
static const struct endpoint *choose(const struct http_agent *a, const struct store_user *u) {
	for (int i = 0; u->agent[0] && i < a->nep; i++) {
		if (strcmp(a->ep[i].name, u->agent) == 0) {
			return &a->ep[i];
		}
	}
	if (a->canary >= 0 && agent_in_canary(u->id, a->canary_basis_points)) {
		return &a->ep[a->canary];
	}
	return &a->ep[0];
}

static int http_reply_async(struct agent *base, const struct agent_request *req,
		agent_done_cb done, void *ctx) {
	struct http_agent *a = (struct http_agent *)base;

	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->done = done;
	c->ctx = ctx;
	c->ep = choose(a, req->user);
	c->deadline_ms = monotonic_ms() + c->ep->timeout_ms;
	c->message_id = req->message->id;
	snprintf(c->user_id, sizeof(c->user_id), "%s", req->user->id);
	c->request = request_object(req, a->media_links);
	if (!c->request) {
		call_free(c);
		return -ENOMEM;
	}

	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		call_free(c);
		return -ECANCELED;
	}
	c->next = NULL;
	bool first = a->incoming == NULL; /* else the loop is woken already, and takes all */
	*a->incoming_tail = c;
	a->incoming_tail = &c->next;
	pthread_mutex_unlock(&a->mu);
	if (first) {
		curl_multi_wakeup(a->multi);
	}
	return 0;
}

static void http_shutdown(struct agent *base) {
	struct http_agent *a = (struct http_agent *)base;
	pthread_mutex_lock(&a->mu);
	bool was = a->stopping;
	a->stopping = true;
	pthread_mutex_unlock(&a->mu);
	if (was || !a->started) {
		return;
	}
	curl_multi_wakeup(a->multi);
	pthread_join(a->thread, NULL);
	/* Calls that arrived after the loop's last look. */
	pthread_mutex_lock(&a->mu);
	struct call *in = a->incoming;
	a->incoming = NULL;
	a->incoming_tail = &a->incoming;
	pthread_mutex_unlock(&a->mu);
	while (in) {
		struct call *next = in->next;
		finish(in, -ECANCELED, NULL);
		in = next;
	}
	agent__answered(&a->base);
}

static void http_destroy(struct agent *base) {
	struct http_agent *a = (struct http_agent *)base;
	if (a->multi) {
		curl_multi_cleanup(a->multi);
	}
	pthread_mutex_destroy(&a->mu);
	for (int i = 0; i < a->nep; i++) {
		free(a->ep[i].name);
		free(a->ep[i].url);
		free(a->ep[i].secret);
	}
	free(a);
}

static const struct agent_ops http_ops = {
	.reply_async = http_reply_async,
	.shutdown = http_shutdown,
	.destroy = http_destroy,
};

int agent_http_create(const struct agent_http_options *o, struct store *s,
		struct agent **ret_agent) {
	struct http_agent *a = calloc(1, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	a->base.ops = &http_ops;
	a->store = s;
	a->incoming_tail = &a->incoming;
	a->waiting_tail = &a->waiting;
	pthread_mutex_init(&a->mu, NULL);
	a->canary = -1;
	a->canary_basis_points = o->canary_basis_points;
	a->media_links = o->media_links;
	bool ok = o->nnamed >= 0 && o->nnamed < MAX_ENDPOINTS;
	for (int i = 0; ok && i <= o->nnamed; i++) {
		const struct agent_endpoint d = {"default", o->url, o->secret, o->timeout_ms};
		const struct agent_endpoint *e = i == 0 ? &d : &o->named[i - 1];
		struct endpoint *ep = &a->ep[a->nep++];
		ep->name = strdup(e->name);
		ep->url = strdup(e->url);
		ep->secret = strdup(e->secret ? e->secret : "");
		ep->timeout_ms = e->timeout_ms;
		ok = ep->name && ep->url && ep->secret;
		if (ok && o->canary && strcmp(o->canary, e->name) == 0) {
			a->canary = i;
		}
	}
	a->multi = ok ? curl_multi_init() : NULL;
	if (!a->multi) {
		http_destroy(&a->base);
		return -ENOMEM;
	}
	curl_multi_setopt(a->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 256L);
	/* Idle connections kept: by default 4 per handle added, so a burst's connections were
	 * closed as its calls ended, and opened again for the next burst. */
	curl_multi_setopt(a->multi, CURLMOPT_MAXCONNECTS, 256L);
	if (pthread_create(&a->thread, NULL, loop, a) != 0) {
		http_destroy(&a->base);
		return -EIO;
	}
	a->started = true;
	*ret_agent = &a->base;
	return 0;
}
