/* The media links' route: link → stored URL → Twilio, streamed (media.h). */
#include "media.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"

_Static_assert(HTTP_MAX_PARAMS >= 5, "a media link has five pieces");

#define CTYPE_SIZE 128
#define SID_MAX 64

/* One link's fetch: shared by the loop's thread (curl's side) and the request's connection
 * (http's side); freed when both are done with it (refs). mu guards everything below it. */
struct fetch {
	struct media *m;
	CURL *h; /* the loop's own */
	char *url;
	char uid[MEDIA_LINK_ID_MAX + 1];
	int index;
	struct http_deferred *deferred; /* until decided */
	struct fetch *next;             /* in the loop's list */
	pthread_mutex_t mu;
	int refs;
	bool decided;     /* the request has its answer (or is about to get it) */
	bool streaming;   /* the answer is the streamed body */
	bool curl_done;   /* the transfer has ended: no more wake-ups of the loop */
	bool eof;         /* the whole body is in buf or sent */
	bool failed;      /* the body cannot be whole: the reader cuts the connection */
	bool over;        /* past max_bytes */
	bool client_gone; /* the response was dropped before the end */
	bool paused;      /* curl's side waits for room in buf */
	bool unpause;     /* asked of the loop */
	size_t want;      /* the room the paused write needs */
	bool suspended;   /* the reader waits: the producer resumes waker */
	struct http_stream_waker *waker;
	char *buf;
	size_t cap, head, len;
	long total;
	long length; /* Twilio's Content-Length, -1: none */
	long sent;   /* given to the reader */
	long upstream; /* Twilio's status */
	int status;    /* ours */
	enum metrics_media result;
};

struct media {
	struct media_options o;
	char *api_base;
	char *account_sid;
	char *auth_token;
	struct store *store;
	CURLM *multi;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards incoming, count, stopping */
	struct fetch *incoming;
	int count;
	bool stopping;
	struct fetch *active; /* the loop's own */
};

static void release(struct fetch *f) {
	pthread_mutex_lock(&f->mu);
	bool last = --f->refs == 0;
	pthread_mutex_unlock(&f->mu);
	if (last) {
		pthread_mutex_destroy(&f->mu);
		free(f->buf);
		free(f->url);
		free(f);
	}
}

/* ---- the stored URL ---- */

/* 1 to SID_MAX letters and digits. */
static bool sid_ok(const char *s, size_t n) {
	if (n == 0 || n > SID_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* "/2010-04-01/Accounts/{account}/Messages/{sid}/Media/{sid}" exactly. */
static bool media_path(const char *path, const char *account) {
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "/2010-04-01/Accounts/%s/Messages/", account);
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0) {
		return false;
	}
	const char *msg = path + n;
	const char *slash = strchr(msg, '/');
	static const char media[] = "/Media/";
	if (!slash || !sid_ok(msg, (size_t)(slash - msg)) ||
			strncmp(slash, media, sizeof(media) - 1) != 0) {
		return false;
	}
	const char *sid = slash + sizeof(media) - 1;
	return sid_ok(sid, strlen(sid));
}

/* A part of a parsed URL (curl_free'd by the caller), or NULL when it has none. */
static char *part(CURLU *u, CURLUPart what, unsigned int flags) {
	char *v = NULL;
	return curl_url_get(u, what, &v, flags) == CURLUE_OK ? v : NULL;
}

static bool same(const char *a, const char *b) {
	return a && b && strcasecmp(a, b) == 0;
}

/* The URL to fetch for a stored one, as libcurl normalises it, when it is Twilio's media
 * of this account on TWILIO_API_BASE (scheme, host and port alike; no credentials, query
 * or fragment); else NULL. */
static char *twilio_media_url(const struct media *m, const char *url) {
	CURLU *base = curl_url();
	CURLU *u = curl_url();
	char *out = NULL;
	if (!base || !u || curl_url_set(base, CURLUPART_URL, m->api_base, 0) != CURLUE_OK ||
			curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(base);
		curl_url_cleanup(u);
		return NULL;
	}
	char *bs = part(base, CURLUPART_SCHEME, 0), *us = part(u, CURLUPART_SCHEME, 0);
	char *bh = part(base, CURLUPART_HOST, 0), *uh = part(u, CURLUPART_HOST, 0);
	char *bp = part(base, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	char *up = part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	char *user = part(u, CURLUPART_USER, 0), *password = part(u, CURLUPART_PASSWORD, 0);
	char *options = part(u, CURLUPART_OPTIONS, 0), *query = part(u, CURLUPART_QUERY, 0);
	char *fragment = part(u, CURLUPART_FRAGMENT, 0), *path = part(u, CURLUPART_PATH, 0);
	bool ok = same(bs, us) && same(bh, uh) && bp && up && strcmp(bp, up) == 0 && !user &&
		  !password && !options && !query && !fragment && path &&
		  media_path(path, m->account_sid);
	if (ok) {
		char *v = part(u, CURLUPART_URL, 0);
		out = v ? strdup(v) : NULL;
		curl_free(v);
	}
	char *parts[] = {bs, us, bh, uh, bp, up, user, password, options, query, fragment, path};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		curl_free(parts[i]);
	}
	curl_url_cleanup(base);
	curl_url_cleanup(u);
	return out;
}

struct found {
	int index;
	char *url; /* strdup'd */
	bool beyond; /* the message has fewer media */
};

static int one_message(void *ctx, const struct store_message *msg) {
	struct found *f = ctx;
	json_t *a = msg->media_json ? json_loads(msg->media_json, 0, NULL) : NULL;
	const char *url = json_string_value(json_object_get(json_array_get(a, (size_t)f->index),
			"url"));
	if (url) {
		f->url = strdup(url);
	}
	f->beyond = !url;
	json_decref(a);
	return url && !f->url ? -ENOMEM : 0;
}

/* ---- the loop's side ---- */

static bool tchar(char c) {
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Twilio's Content-Type as type/subtype of RFC 9110 tokens, parameters dropped; else
 * application/octet-stream. */
static void sanitise_type(const char *v, char out[CTYPE_SIZE]) {
	size_t n = v ? strcspn(v, ";") : 0;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
		n--;
	}
	const char *slash = n ? memchr(v, '/', n) : NULL;
	bool ok = slash && slash > v && (size_t)(slash - v) < n - 1 && n < CTYPE_SIZE;
	for (size_t i = 0; ok && i < n; i++) {
		ok = v + i == slash || tchar(v[i]);
	}
	if (ok) {
		snprintf(out, CTYPE_SIZE, "%.*s", (int)n, v);
	} else {
		snprintf(out, CTYPE_SIZE, "application/octet-stream");
	}
}

/* Under f->mu: the reader waiting for bytes or the end may go on. */
static void wake_reader(struct fetch *f) {
	if (f->suspended) {
		f->suspended = false;
		http_stream_resume(f->waker);
	}
}

static ssize_t fetch_read(void *ctx, struct http_stream_waker *w, char *buf, size_t max) {
	struct fetch *f = ctx;
	ssize_t n;
	pthread_mutex_lock(&f->mu);
	if (f->len > 0) {
		size_t k = f->len < max ? f->len : max;
		memcpy(buf, f->buf + f->head, k);
		f->head += k;
		f->len -= k;
		if (f->len == 0) {
			f->head = 0;
		}
		if (f->paused && !f->unpause && !f->curl_done && f->cap - f->len >= f->want) {
			f->unpause = true;
			curl_multi_wakeup(f->m->multi); /* alive while !curl_done, under mu */
		}
		f->sent += (long)k;
		n = (ssize_t)k;
	} else if (f->failed) {
		n = -EIO;
	} else if (f->eof) {
		n = 0;
	} else {
		/* Under the lock the producer takes to resume: no wake-up is lost. */
		f->waker = w;
		f->suspended = true;
		http_stream_suspend(w);
		n = HTTP_STREAM_WAIT;
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* The response is done or dropped. */
static void fetch_free_http(void *ctx) {
	struct fetch *f = ctx;
	pthread_mutex_lock(&f->mu);
	f->waker = NULL;
	f->suspended = false;
	/* Sent whole, Twilio's transfer about to end: not a client gone. */
	bool whole = f->length >= 0 && f->sent == f->length;
	if (!f->curl_done && !whole) {
		f->client_gone = true;
		curl_multi_wakeup(f->m->multi);
	}
	pthread_mutex_unlock(&f->mu);
	release(f);
}

/* Under f->mu, with f->h alive: the answer for Twilio's status code (at its body's first
 * bytes, or at its end when it had none) into res; false when the transfer must stop. */
static bool decide(struct fetch *f, long code, struct http_response *res) {
	f->decided = true;
	f->upstream = code;
	curl_off_t length = -1;
	curl_easy_getinfo(f->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	if (code == 404) {
		f->result = METRICS_MEDIA_NOT_FOUND;
		http_json_error(res, 404, "not_found", "Twilio has no such media.");
	} else if (code != 200) {
		f->result = METRICS_MEDIA_UPSTREAM_ERROR;
		http_json_error(res, 502, "upstream_error", "Twilio refused to give the media.");
	} else if (length > f->m->o.max_bytes) {
		f->result = METRICS_MEDIA_TOO_LARGE;
		http_json_error(res, 502, "too_large", "The media is over 5 MiB.");
	} else {
		char *type = NULL;
		curl_easy_getinfo(f->h, CURLINFO_CONTENT_TYPE, &type);
		char ctype[CTYPE_SIZE];
		sanitise_type(type, ctype);
		/* The stream holds its Content-Type: one allocation with the buffer. */
		f->streaming = true;
		f->length = (long)length;
		f->refs++; /* http's side, until fetch_free_http */
		memcpy(f->buf + f->cap, ctype, CTYPE_SIZE);
		http_stream_async(res, 200, f->buf + f->cap, length, fetch_read, fetch_free_http, f);
		res->cache_control = "private, no-store";
		f->status = 200;
		return true;
	}
	f->status = res->status;
	return false;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ctx) {
	struct fetch *f = ctx;
	size_t n = size * nmemb;
	struct http_response res = {0};
	bool answer = false;
	size_t taken = n;

	pthread_mutex_lock(&f->mu);
	if (f->client_gone) {
		taken = 0;
		goto out;
	}
	if (!f->decided) {
		long code = 0;
		curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &code);
		answer = true;
		if (!decide(f, code, &res)) {
			taken = 0;
			goto out;
		}
	}
	if (n > f->cap) {
		/* libcurl writes at most CURL_MAX_WRITE_SIZE at once: never here. */
		f->failed = true;
		wake_reader(f);
		taken = 0;
		goto out;
	}
	if (f->total + (long)n > f->m->o.max_bytes) {
		f->over = true;
		f->failed = true;
		f->result = METRICS_MEDIA_TOO_LARGE;
		wake_reader(f);
		taken = 0;
		goto out;
	}
	if (f->len + n > f->cap) {
		/* No room: Twilio's side waits for the reader (fetch_read asks the loop to go on). */
		f->paused = true;
		f->want = n;
		taken = CURL_WRITEFUNC_PAUSE;
		goto out;
	}
	if (f->head + f->len + n > f->cap) {
		memmove(f->buf, f->buf + f->head, f->len);
		f->head = 0;
	}
	memcpy(f->buf + f->head + f->len, data, n);
	f->len += n;
	f->total += (long)n;
	wake_reader(f);
out:
	pthread_mutex_unlock(&f->mu);
	if (answer) {
		http_deferred_complete(f->deferred, &res);
		http_response_clear(&res);
	}
	return taken;
}

static void log_fetch(const struct fetch *f, CURLcode rc) {
	metrics_media(f->result);
	log_info("media.fetch", LOG_STR("message", f->uid), LOG_INT("index", f->index),
			LOG_STR("result", metrics_media_name(f->result)),
			LOG_INT("status", f->status), LOG_INT("upstream", f->upstream),
			LOG_INT("bytes", f->total), LOG_STR("curl", curl_easy_strerror(rc)));
}

/* The transfer has ended (rc), or is ended by the loop (stopping, client gone). */
static void finish(struct media *m, struct fetch *f, CURLcode rc, bool stopping) {
	struct http_response res = {0};
	bool answer = false;
	long code = 0;
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &code);

	pthread_mutex_lock(&f->mu);
	if (!f->decided) {
		answer = true;
		if (stopping) {
			f->decided = true;
			f->result = METRICS_MEDIA_BUSY;
			f->status = 503;
			http_json_error(&res, 503, "stopping", "The server is stopping.");
		} else if (rc == CURLE_OK) {
			decide(f, code, &res); /* a body of no bytes */
			f->eof = true;
			if (f->streaming) {
				f->result = METRICS_MEDIA_OK;
			}
		} else {
			f->decided = true;
			f->upstream = code;
			f->result = rc == CURLE_FILESIZE_EXCEEDED ? METRICS_MEDIA_TOO_LARGE
								  : METRICS_MEDIA_UNREACHABLE;
			f->status = 502;
			http_json_error(&res, 502, rc == CURLE_FILESIZE_EXCEEDED ? "too_large"
										   : "upstream_unreachable",
					rc == CURLE_FILESIZE_EXCEEDED ? "The media is over 5 MiB."
								      : "Twilio did not answer in time.");
		}
	} else if (f->streaming) {
		if (rc == CURLE_OK && !f->failed && !f->client_gone) {
			f->eof = true;
			f->result = METRICS_MEDIA_OK;
		} else {
			f->failed = true;
			if (!f->over) {
				f->result = f->client_gone ? METRICS_MEDIA_CLIENT_GONE
							   : METRICS_MEDIA_UNREACHABLE;
			}
		}
		wake_reader(f);
	}
	f->curl_done = true;
	pthread_mutex_unlock(&f->mu);

	curl_multi_remove_handle(m->multi, f->h);
	curl_easy_cleanup(f->h);
	f->h = NULL;
	if (answer) {
		http_deferred_complete(f->deferred, &res);
		http_response_clear(&res);
	}
	log_fetch(f, rc);
	pthread_mutex_lock(&m->mu);
	m->count--;
	pthread_mutex_unlock(&m->mu);
	release(f);
}

static void unlink_active(struct media *m, struct fetch *f) {
	for (struct fetch **p = &m->active; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			return;
		}
	}
}

/* What the other threads asked for: a client gone, room in a buffer. */
static void service(struct media *m) {
	struct fetch *next;
	for (struct fetch *f = m->active; f; f = next) {
		next = f->next;
		pthread_mutex_lock(&f->mu);
		bool gone = f->client_gone;
		bool go_on = f->unpause && !gone;
		if (go_on) {
			f->unpause = false;
			f->paused = false;
		}
		pthread_mutex_unlock(&f->mu);
		if (gone) {
			unlink_active(m, f);
			finish(m, f, CURLE_ABORTED_BY_CALLBACK, false);
		} else if (go_on) {
			curl_easy_pause(f->h, CURLPAUSE_CONT); /* may write (and pause) at once */
		}
	}
}

static void *loop(void *arg) {
	struct media *m = arg;
	for (;;) {
		pthread_mutex_lock(&m->mu);
		bool stopping = m->stopping;
		struct fetch *in = m->incoming;
		m->incoming = NULL;
		pthread_mutex_unlock(&m->mu);
		while (in) {
			struct fetch *f = in;
			in = in->next;
			f->next = m->active;
			m->active = f;
			if (curl_multi_add_handle(m->multi, f->h) != CURLM_OK) {
				unlink_active(m, f);
				finish(m, f, CURLE_OUT_OF_MEMORY, false);
			}
		}
		if (stopping) {
			break;
		}
		service(m);
		int running = 0;
		curl_multi_perform(m->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m->multi, &left))) {
			if (msg->msg != CURLMSG_DONE) {
				continue;
			}
			struct fetch *f = NULL;
			CURLcode rc = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			unlink_active(m, f);
			finish(m, f, rc, false);
		}
		curl_multi_poll(m->multi, NULL, 0, 1000, NULL);
	}
	while (m->active) {
		struct fetch *f = m->active;
		m->active = f->next;
		finish(m, f, CURLE_ABORTED_BY_CALLBACK, true);
	}
	return NULL;
}

/* ---- the request's side ---- */

static struct fetch *new_fetch(struct media *m, const struct media_link *link, char *url,
		struct http_deferred *deferred) {
	struct fetch *f = calloc(1, sizeof(*f));
	/* The buffer, and after it the Content-Type the response holds. */
	char *buf = malloc(MEDIA_BUFFER + CTYPE_SIZE);
	CURL *h = curl_easy_init();
	if (!f || !buf || !h) {
		free(f);
		free(buf);
		curl_easy_cleanup(h);
		return NULL;
	}
	*f = (struct fetch){.m = m, .h = h, .url = url, .index = link->index,
		.deferred = deferred, .refs = 2, .buf = buf, .cap = MEDIA_BUFFER, .upstream = 0,
		.length = -1, .result = METRICS_MEDIA_UNREACHABLE};
	snprintf(f->uid, sizeof(f->uid), "%s", link->uid);
	pthread_mutex_init(&f->mu, NULL);
	const struct media_options *o = &m->o;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, f);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_USERNAME, m->account_sid);
	curl_easy_setopt(h, CURLOPT_PASSWORD, m->auth_token);
	/* Twilio answers 307 to its storage: followed, and libcurl sends the credentials to
	 * the first host alone (no CURLOPT_UNRESTRICTED_AUTH). */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "smsrouter");
	return f;
}

static void refuse(struct http_response *res, int status, enum metrics_media why,
		const char *code, const char *message, const char *reason) {
	metrics_media(why);
	log_info("media.refused", LOG_STR("reason", reason), LOG_INT("status", status));
	http_json_error(res, status, code, message);
}

void media_get(void *ctx, const struct http_request *req, struct http_response *res) {
	struct media *m = ctx;
	struct media_link link;
	int r = media_link_verify(m->o.key, req->params, ids_now(), &link);
	if (r < 0) {
		refuse(res, 403, METRICS_MEDIA_REFUSED, "forbidden",
				"This media link is not valid or has expired.",
				r == -ETIME ? "expired" : r == -EPERM ? "signature" : "malformed");
		return;
	}
	if (!m->account_sid) {
		refuse(res, 503, METRICS_MEDIA_BUSY, "media_unavailable",
				"TWILIO_ACCOUNT_SID is unset: media cannot be fetched.", "no_account");
		return;
	}
	struct found found = {.index = link.index};
	r = store_message_by_uid(m->store, link.user_id, link.uid, one_message, &found);
	if (r == -ENOENT || (r == 0 && found.beyond)) {
		free(found.url);
		refuse(res, 404, METRICS_MEDIA_NOT_FOUND, "not_found",
				"This message or its media is not stored.", "not_stored");
		return;
	}
	if (r < 0) {
		free(found.url);
		refuse(res, 503, METRICS_MEDIA_BUSY, "store_unavailable", "The store does not answer.",
				"store");
		return;
	}
	char *url = twilio_media_url(m, found.url);
	free(found.url);
	if (!url) {
		refuse(res, 403, METRICS_MEDIA_REFUSED, "not_twilio_media",
				"The stored media is not Twilio's media of this account.", "not_twilio");
		return;
	}
	pthread_mutex_lock(&m->mu);
	bool busy = m->stopping || m->count >= m->o.max_fetches;
	if (!busy) {
		m->count++;
	}
	pthread_mutex_unlock(&m->mu);
	struct fetch *f = busy ? NULL : new_fetch(m, &link, url, req->deferred);
	if (!f) {
		free(url);
		if (!busy) {
			pthread_mutex_lock(&m->mu);
			m->count--;
			pthread_mutex_unlock(&m->mu);
		}
		refuse(res, 503, METRICS_MEDIA_BUSY, "busy", "Too many media fetches at once.",
				"busy");
		res->retry_after_s = 1;
		return;
	}
	res->later = true;
	pthread_mutex_lock(&m->mu);
	f->next = m->incoming;
	m->incoming = f;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
	/* The handler's own reference: the answer comes from the loop. */
	release(f);
}

int media_start(const struct media_options *o, struct store *s, struct media **ret) {
	struct media *m = calloc(1, sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	m->o = *o;
	m->store = s;
	m->api_base = strdup(o->api_base);
	m->account_sid = o->account_sid ? strdup(o->account_sid) : NULL;
	m->auth_token = strdup(o->auth_token);
	m->multi = curl_multi_init();
	pthread_mutex_init(&m->mu, NULL);
	if (!m->api_base || (o->account_sid && !m->account_sid) || !m->auth_token || !m->multi) {
		media_destroy(m);
		return -ENOMEM;
	}
	curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->max_fetches);
	if (pthread_create(&m->thread, NULL, loop, m) != 0) {
		media_destroy(m);
		return -EIO;
	}
	m->started = true;
	*ret = m;
	return 0;
}

void media_stop(struct media *m) {
	if (!m || !m->started) {
		return;
	}
	pthread_mutex_lock(&m->mu);
	m->stopping = true;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
	pthread_join(m->thread, NULL);
	m->started = false;
}

void media_destroy(struct media *m) {
	if (!m) {
		return;
	}
	media_stop(m);
	curl_multi_cleanup(m->multi);
	pthread_mutex_destroy(&m->mu);
	free(m->api_base);
	free(m->account_sid);
	free(m->auth_token);
	free(m);
}
