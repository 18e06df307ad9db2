/* The Agent Core client (CONTRACT.md "Agent Core contract"): JSON over HTTP, signed with
 * HMAC-SHA256, on one libcurl multi loop so that slow agents hold no caller's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "agent/backend.h"

#define HISTORY 20
#define MAX_ANSWER (64 * 1024)

struct call {
	CURL *h;
	struct curl_slist *hdr;
	char *body;
	char *answer;
	size_t answer_len;
	bool too_big;
	agent_done_cb done;
	void *ctx;
	struct call *next;
};

struct http_agent {
	struct agent base;
	struct store *store;
	char *url;
	char *secret;
	long timeout_ms;
	CURLM *multi;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards incoming, incoming_tail, stopping */
	/* Calls not yet started, oldest first: they start in the order they were made, so
	 * one user's messages reach the Agent Core in the order they arrived. */
	struct call *incoming;
	struct call **incoming_tail;
	bool stopping;
	atomic_bool stopped;
	struct call *running; /* the loop's own list */
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

int agent_request_json(struct store *s, const struct agent_request *req, char **ret_json) {
	const struct store_message *m = req->message;
	json_t *history = json_array();
	char when[IDS_TIME_SIZE];
	json_t *media = NULL;
	int r;

	if (!history) {
		return -ENOMEM;
	}
	/* What came before this message, not what is stored by the time of the call: a
	 * retried call (rest mode) must not show the agent messages that arrived since. */
	r = store_history(s, req->user->id, m->id, HISTORY, add_history, history);
	if (r < 0) {
		json_decref(history);
		return r;
	}
	if (m->media_json) {
		media = json_loads(m->media_json, 0, NULL);
	}
	if (!json_is_array(media)) {
		json_decref(media);
		media = json_array();
	}
	ids_time_format(m->created_at ? m->created_at : ids_now(), when);
	json_t *j = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:o,s:s},s:o}", "user", "id",
			req->user->id, "name", req->user->name, "message", "sid", m->sid ? m->sid : "",
			"from", m->from, "to", m->to ? m->to : "", "body", m->body ? m->body : "",
			"media", media, "received_at", when, "history", history);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		return -ENOMEM;
	}
	*ret_json = text;
	return 0;
}

/* "sha256=" and the hex HMAC-SHA256 of body under secret. */
static void sign(const char *secret, const char *body, char out[80]) {
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, strlen(body),
			mac, &n);
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		out[7 + 2 * i] = hex[mac[i] >> 4];
		out[8 + 2 * i] = hex[mac[i] & 15];
	}
	out[7 + 2 * (n < 32 ? n : 32)] = '\0';
}

/* ---- one call ---- */

static size_t collect(char *p, size_t size, size_t n, void *vcall) {
	struct call *c = vcall;
	size_t add = size * n;
	if (c->answer_len + add > MAX_ANSWER) {
		c->too_big = true;
		return 0; /* aborts the transfer */
	}
	char *q = realloc(c->answer, c->answer_len + add + 1);
	if (!q) {
		return 0;
	}
	memcpy(q + c->answer_len, p, add);
	c->answer = q;
	c->answer_len += add;
	c->answer[c->answer_len] = '\0';
	return add;
}

static void call_free(struct call *c) {
	if (c->h) {
		curl_easy_cleanup(c->h);
	}
	curl_slist_free_all(c->hdr);
	free(c->body);
	free(c->answer);
	free(c);
}

/* What the Agent Core answered, by the contract. */
static int interpret(struct call *c, CURLcode cr, char **ret_reply) {
	long status = 0;

	switch (cr) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
		return c->too_big ? -EBADMSG : -EIO;
	default:
		return -EIO;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	return agent_parse_reply(status, c->answer, c->answer_len, ret_reply);
}

int agent_parse_reply(long status, const char *body, size_t len, char **ret_reply) {
	if (status == 204) {
		*ret_reply = NULL;
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
	int r = -EBADMSG;
	if (json_is_object(j) && (json_is_null(reply) || json_is_string(reply))) {
		*ret_reply = json_is_string(reply) ? strdup(json_string_value(reply)) : NULL;
		r = json_is_string(reply) && !*ret_reply ? -ENOMEM : 0;
	}
	json_decref(j);
	return r;
}

static void finish(struct call *c, int err, char *reply) {
	c->done(c->ctx, err, reply);
	call_free(c);
}

/* ---- the loop ---- */

static void *loop(void *arg) {
	struct http_agent *a = arg;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		struct call *in = a->incoming;
		a->incoming = NULL;
		a->incoming_tail = &a->incoming;
		bool stopping = a->stopping;
		pthread_mutex_unlock(&a->mu);

		while (in) {
			struct call *next = in->next;
			if (curl_multi_add_handle(a->multi, in->h) != CURLM_OK) {
				finish(in, -EIO, NULL);
			} else {
				in->next = a->running;
				a->running = in;
			}
			in = next;
		}
		if (stopping) {
			break;
		}
		int still = 0;
		curl_multi_perform(a->multi, &still);
		CURLMsg *msg;
		int left;
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
			CURLcode cr = msg->data.result;
			curl_multi_remove_handle(a->multi, c->h);
			char *reply = NULL;
			int r = interpret(c, cr, &reply);
			finish(c, r, reply);
		}
		curl_multi_poll(a->multi, NULL, 0, 1000, NULL);
	}
	/* Shutting down: whatever is still waiting gets its answer now. */
	while (a->running) {
		struct call *c = a->running;
		a->running = c->next;
		curl_multi_remove_handle(a->multi, c->h);
		finish(c, -ECANCELED, NULL);
	}
	atomic_store(&a->stopped, true);
	return NULL;
}

static int http_reply_async(struct agent *base, const struct agent_request *req,
		agent_done_cb done, void *ctx) {
	struct http_agent *a = (struct http_agent *)base;
	char sig[80];
	char header[128];
	int r;

	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->done = done;
	c->ctx = ctx;
	r = agent_request_json(a->store, req, &c->body);
	if (r < 0) {
		call_free(c);
		return r;
	}
	sign(a->secret, c->body, sig);
	snprintf(header, sizeof(header), "X-SMSRouter-Signature: %s", sig);
	c->h = curl_easy_init();
	struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
	struct curl_slist *h2 = h1 ? curl_slist_append(h1, header) : NULL;
	struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
	c->hdr = h3 ? h3 : h2 ? h2 : h1;
	if (!c->h || !h3) {
		call_free(c);
		return -ENOMEM;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, a->url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, a->timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, a->timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");

	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		call_free(c);
		return -ECANCELED;
	}
	c->next = NULL;
	*a->incoming_tail = c;
	a->incoming_tail = &c->next;
	pthread_mutex_unlock(&a->mu);
	curl_multi_wakeup(a->multi);
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
}

static void http_destroy(struct agent *base) {
	struct http_agent *a = (struct http_agent *)base;
	if (a->multi) {
		curl_multi_cleanup(a->multi);
	}
	pthread_mutex_destroy(&a->mu);
	free(a->url);
	free(a->secret);
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
	a->timeout_ms = o->timeout_ms;
	a->incoming_tail = &a->incoming;
	pthread_mutex_init(&a->mu, NULL);
	a->url = strdup(o->url);
	a->secret = strdup(o->secret ? o->secret : "");
	a->multi = curl_multi_init();
	if (!a->url || !a->secret || !a->multi) {
		http_destroy(&a->base);
		return -ENOMEM;
	}
	curl_multi_setopt(a->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 256L);
	if (pthread_create(&a->thread, NULL, loop, a) != 0) {
		http_destroy(&a->base);
		return -EIO;
	}
	a->started = true;
	*ret_agent = &a->base;
	return 0;
}
