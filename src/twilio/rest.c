/* The Messages API client: create a message, list recent ones (to reconcile). */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "curlbody.h"
#include "twilio/twilio.h"

#define MAX_ANSWER (1024 * 1024)
#define CLOCK_SLACK_S 120

/* The longest wait a Retry-After is followed for: past it, the outbox's attempts and dead
 * letters take over rather than a reply waiting a day. */
#define MAX_RETRY_AFTER_S 600

static CURL *handle(const struct twilio_rest *t, const char *url, struct curlbody *a) {
	CURL *h = curl_easy_init();
	if (!h || curlbody_attach(h, a, MAX_ANSWER) < 0) {
		curl_easy_cleanup(h);
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERNAME, t->account_sid);
	curl_easy_setopt(h, CURLOPT_PASSWORD, t->auth_token);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	return h;
}

static void copy_str(json_t *j, const char *key, char *out, size_t size) {
	const char *v = json_string_value(json_object_get(j, key));
	snprintf(out, size, "%s", v ? v : "");
}

/* A Messaging Service SID ("MG" and 32 hex digits) rather than a number. */
static bool is_service(const char *from) {
	return from && strncmp(from, "MG", 2) == 0;
}

bool twilio_media_url_ok(const char *url) {
	size_t n = url ? strlen(url) : 0;
	if (n == 0 || n > TWILIO_MEDIA_URL_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			return false;
		}
	}
	size_t scheme_len = strncasecmp(url, "https://", 8) == 0 ? 8
			    : strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
	if (scheme_len == 0 || url[scheme_len] == '/') {
		return false; /* libcurl would take https:///p as host p */
	}
	/* libcurl's own reading of the URL: what it would fetch is what is checked. */
	CURLU *u = curl_url();
	char *scheme = NULL;
	char *host = NULL;
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		  (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) && *host;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

int twilio_rest_send(const struct twilio_rest *t, const struct twilio_message *m,
		struct twilio_send_result *ret) {
	struct curlbody a = {0};
	char url[1024];
	struct twilio_param fields[4 + TWILIO_MAX_MEDIA];
	struct twilio_params form_params = {fields, 0};
	char *form = NULL;
	int r = -ENOMEM;

	fields[form_params.n++] = (struct twilio_param){(char *)"To", (char *)m->to};
	fields[form_params.n++] = (struct twilio_param){
		(char *)(is_service(m->from) ? "MessagingServiceSid" : "From"), (char *)m->from};
	if (m->body && (*m->body || m->nmedia == 0)) {
		fields[form_params.n++] = (struct twilio_param){(char *)"Body", (char *)m->body};
	}
	for (size_t i = 0; i < m->nmedia && i < TWILIO_MAX_MEDIA; i++) {
		fields[form_params.n++] = (struct twilio_param){(char *)"MediaUrl",
			(char *)m->media[i]};
	}
	if (m->status_callback) {
		fields[form_params.n++] = (struct twilio_param){(char *)"StatusCallback",
			(char *)m->status_callback};
	}
	memset(ret, 0, sizeof(*ret));
	ret->retry_after_ms = -1;
	snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Messages.json", t->api_base,
			t->account_sid);
	CURL *h = handle(t, url, &a);
	if (!h) {
		return -ENOMEM;
	}
	if (twilio_form_encode(&form_params, &form) < 0) {
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	CURLcode cr = curl_easy_perform(h);
	if (cr != CURLE_OK) {
		/* Never connected: certainly not sent. Anything later: it may have been. */
		ret->maybe_sent = cr != CURLE_COULDNT_CONNECT && cr != CURLE_COULDNT_RESOLVE_HOST &&
				  cr != CURLE_COULDNT_RESOLVE_PROXY && cr != CURLE_URL_MALFORMAT &&
				  cr != CURLE_UNSUPPORTED_PROTOCOL;
		r = 0;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->http_status);
	/* libcurl reads Retry-After in both forms, seconds or an HTTP date (0: none, or not
	 * one it could read). */
	curl_off_t wait_s = 0;
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &wait_s) == CURLE_OK && wait_s > 0) {
		ret->retry_after_ms = (long)(wait_s < MAX_RETRY_AFTER_S ? wait_s : MAX_RETRY_AFTER_S)
				* 1000;
	}
	json_t *j = a.s ? json_loadb(a.s, a.len, 0, NULL) : NULL;
	if (ret->http_status == 200 || ret->http_status == 201) {
		copy_str(j, "sid", ret->sid, sizeof(ret->sid));
		copy_str(j, "status", ret->status, sizeof(ret->status));
		if (!ret->status[0]) {
			snprintf(ret->status, sizeof(ret->status), "queued");
		}
	} else {
		json_t *code = json_object_get(j, "code");
		ret->error_code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
		ret->maybe_sent = ret->http_status >= 500;
	}
	json_decref(j);
	r = 0;
out:
	curl_easy_cleanup(h);
	free(form);
	free(a.s);
	return r;
}

/* "Thu, 24 Aug 2023 05:01:45 +0000" → unix seconds, or -1. */
static int64_t rfc2822(const char *s) {
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S", &tm) : NULL;
	if (!end) {
		return -1;
	}
	return (int64_t)timegm(&tm);
}

int twilio_rest_find(const struct twilio_rest *t, const char *to, const char *from,
		const char *body, int64_t since, twilio_sid_known_cb known, void *ctx,
		char sid[65]) {
	struct curlbody a = {0};
	char url[1200];
	int r = -EIO;

	CURL *h = curl_easy_init();
	if (!h) {
		return -ENOMEM;
	}
	char *eto = curl_easy_escape(h, to, 0);
	char *efrom = curl_easy_escape(h, from, 0);
	curl_easy_cleanup(h);
	if (!eto || !efrom) {
		curl_free(eto);
		curl_free(efrom);
		return -ENOMEM;
	}
	/* A Messaging Service picks the number: list by recipient, match the service. */
	snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Messages.json?To=%s%s%s&PageSize=50",
			t->api_base, t->account_sid, eto, is_service(from) ? "" : "&From=",
			is_service(from) ? "" : efrom);
	curl_free(eto);
	curl_free(efrom);
	h = handle(t, url, &a);
	if (!h) {
		return -ENOMEM;
	}
	long status = 0;
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	}
	json_t *j = status == 200 && a.s ? json_loadb(a.s, a.len, 0, NULL) : NULL;
	json_t *list = json_object_get(j, "messages");
	if (json_is_array(list)) {
		r = -ENOENT;
		size_t i;
		json_t *m;
		json_array_foreach(list, i, m) {
			const char *b = json_string_value(json_object_get(m, "body"));
			const char *dir = json_string_value(json_object_get(m, "direction"));
			int64_t created = rfc2822(json_string_value(json_object_get(m, "date_created")));
			const char *service = json_string_value(
					json_object_get(m, "messaging_service_sid"));
			if (is_service(from) && (!service || strcmp(service, from) != 0)) {
				continue;
			}
			if (!b || strcmp(b, body) != 0 || (dir && strcmp(dir, "outbound-api") != 0) ||
					(created >= 0 && created < since - CLOCK_SLACK_S)) {
				continue;
			}
			copy_str(m, "sid", sid, 65);
			int k = sid[0] && known ? known(ctx, sid) : 0;
			if (sid[0] && k == 0) {
				r = 0;
				break;
			}
			sid[0] = '\0';
			if (k < 0) {
				r = -EIO;
				break;
			}
		}
	}
	json_decref(j);
	curl_easy_cleanup(h);
	free(a.s);
	return r;
}
