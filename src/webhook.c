#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "log.h"
#include "metrics.h"
#include "twilio/twilio.h"

#define ORIGIN_MAX 512

/* Twilio reads TwiML even on errors: an empty <Response/> with the status. */
static void twiml_status(struct http_response *res, int status) {
	http_text(res, status, WEBHOOK_TWIML_TYPE,
			strdup("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"));
}

void webhook_error(const char *path, struct http_response *res, int status, const char *code,
		const char *message) {
	(void)message; /* Twilio shows nobody a sentence: the log has the reason */
	twiml_status(res, status);
	log_warn("webhook.rejected", LOG_STR("reason", code), LOG_STR("path", path));
}

/* The first element of a comma-separated header value, trimmed, into out. */
static void first_value(const char *v, char *out, size_t size) {
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	size_t n = strcspn(v, ",");
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
		n--;
	}
	if (n >= size) {
		n = size - 1;
	}
	memcpy(out, v, n);
	out[n] = '\0';
}

/* scheme://host[:port] that Twilio called: SMSROUTER_PUBLIC_URL, else the proxy's
 * X-Forwarded-Proto/Host when trusted, else Host. -EINVAL without a usable host. */
static int origin(const struct webhook *w, const struct http_request *req, char *out,
		size_t size) {
	const struct config *c = w->config;
	char proto[16] = "http";
	char host[256];
	const char *h = http_header(req, "Host");

	if (c->public_url) {
		snprintf(out, size, "%s", c->public_url);
		return 0;
	}
	if (c->trust_proxy) {
		const char *xp = http_header(req, "X-Forwarded-Proto");
		const char *xh = http_header(req, "X-Forwarded-Host");
		if (xp) {
			first_value(xp, proto, sizeof(proto));
			if (strcasecmp(proto, "https") != 0 && strcasecmp(proto, "http") != 0) {
				return -EINVAL;
			}
			for (char *p = proto; *p; p++) {
				*p = (char)(*p | 0x20);
			}
		}
		if (xh) {
			h = xh;
		}
	}
	if (!h) {
		return -EINVAL;
	}
	first_value(h, host, sizeof(host));
	if (!host[0] || strpbrk(host, "/?# \t\"<>\\") != NULL) {
		return -EINVAL;
	}
	snprintf(out, size, "%s://%s", proto, host);
	return 0;
}

/* Twilio posts "application/x-www-form-urlencoded", perhaps with parameters. The type must
 * be exactly that (not a longer name that starts with it), and a charset other than UTF-8
 * is refused: the body would be read as UTF-8 all the same. */
static bool form_content_type(const char *ct) {
	static const char type[] = "application/x-www-form-urlencoded";
	if (!ct || strncasecmp(ct, type, sizeof(type) - 1) != 0) {
		return false;
	}
	const char *p = ct + sizeof(type) - 1;
	p += strspn(p, " \t");
	while (*p == ';') {
		p++;
		p += strspn(p, " \t");
		size_t n = strcspn(p, ";");
		if (strncasecmp(p, "charset=", 8) == 0) {
			const char *v = p + 8;
			size_t vn = n - 8;
			while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) {
				vn--;
			}
			if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
				v++;
				vn -= 2;
			}
			if (!((vn == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
					    (vn == 4 && strncasecmp(v, "utf8", 4) == 0))) {
				return false;
			}
		}
		p += n;
	}
	return *p == '\0';
}

/* A parameter that decides where a message goes or what it is may come once only: with
 * two, which one counts would depend on their order, and the signature (over the sorted
 * values) holds for either order. */
static const char *repeated(const struct twilio_params *p) {
	static const char *const once[] = {"MessageSid", "AccountSid", "From", "To", "Body",
		"NumMedia", "NumSegments", "OptOutType", "MessageStatus", "ErrorCode"};
	for (size_t k = 0; k < sizeof(once) / sizeof(once[0]); k++) {
		int seen = 0;
		for (size_t i = 0; i < p->n && seen < 2; i++) {
			seen += strcmp(p->v[i].key, once[k]) == 0;
		}
		if (seen > 1) {
			return once[k];
		}
	}
	return NULL;
}

/* Form, signature and AccountSid: the checks both webhooks share. On failure res holds
 * the answer and a negative errno is returned. */
static int check(const struct webhook *w, const struct http_request *req, struct http_response *res,
		struct twilio_params *p, char *org, size_t org_size) {
	const char *ct = http_header(req, "Content-Type");
	const char *sig = http_header(req, "X-Twilio-Signature");
	char *url = NULL;
	int r;

	if (!form_content_type(ct)) {
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "content_type"), LOG_STR("path", req->path));
		twiml_status(res, 400);
		return -EINVAL;
	}
	r = twilio_form_decode(req->body, req->body_len, p);
	if (r < 0) {
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "malformed_form"),
				LOG_STR("path", req->path));
		twiml_status(res, r == -ENOMEM ? 500 : 400);
		return r;
	}
	const char *twice = repeated(p);
	if (twice) {
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "repeated_parameter"),
				LOG_STR("parameter", twice), LOG_STR("path", req->path));
		twiml_status(res, 400);
		return -EINVAL;
	}
	if (origin(w, req, org, org_size) < 0) {
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "no_host"), LOG_STR("path", req->path));
		twiml_status(res, 400);
		return -EINVAL;
	}
	size_t n = strlen(org) + strlen(req->target) + 1;
	url = malloc(n);
	if (!url) {
		twiml_status(res, 500);
		return -ENOMEM;
	}
	snprintf(url, n, "%s%s", org, req->target);
	r = twilio_signature_verify(w->auth_token, url, p, sig);
	if (r == -EPERM && w->config->auth_token_previous) {
		/* During a rotation, the previous token still signs some requests. */
		r = twilio_signature_verify(w->config->auth_token_previous, url, p, sig);
	}
	free(url);
	if (r < 0) {
		metrics_reject(METRICS_REJECT_SIGNATURE);
		log_warn("webhook.rejected", LOG_STR("reason", sig ? "bad_signature" : "no_signature"),
				LOG_STR("path", req->path));
		twiml_status(res, r == -ENOMEM ? 500 : 403);
		return r;
	}
	const char *account = twilio_params_get(p, "AccountSid");
	if (w->config->account_sid && (!account || strcmp(account, w->config->account_sid))) {
		metrics_reject(METRICS_REJECT_ACCOUNT);
		log_warn("webhook.rejected", LOG_STR("reason", "account_sid"), LOG_STR("path", req->path));
		twiml_status(res, 403);
		return -EPERM;
	}
	return 0;
}

/* MediaUrlN / MediaContentTypeN as a JSON array in *ret (NULL when there are none), or
 * -EINVAL for what Twilio never sends: NumMedia other than "0".."10", a MediaUrlN missing
 * below NumMedia or present at or above it, a URL that is not http(s); -ENOMEM. */
static int media_json(const struct twilio_params *p, char **ret) {
	const char *num = twilio_params_get(p, "NumMedia");
	int n = 0;
	*ret = NULL;
	if (num) {
		size_t len = strlen(num);
		if (len == 0 || len > 2 || strspn(num, "0123456789") != len) {
			return -EINVAL;
		}
		n = atoi(num);
		if (n > TWILIO_MAX_MEDIA) {
			return -EINVAL;
		}
	}
	for (int i = n; i <= TWILIO_MAX_MEDIA; i++) {
		char k[24];
		snprintf(k, sizeof(k), "MediaUrl%d", i);
		if (twilio_params_get(p, k)) {
			return -EINVAL; /* a picture NumMedia does not count */
		}
	}
	if (n == 0) {
		return 0;
	}
	json_t *a = json_array();
	int e = a ? 0 : -ENOMEM;
	for (int i = 0; e == 0 && i < n; i++) {
		char k1[24], k2[32];
		snprintf(k1, sizeof(k1), "MediaUrl%d", i);
		snprintf(k2, sizeof(k2), "MediaContentType%d", i);
		const char *url = twilio_params_get(p, k1);
		const char *type = twilio_params_get(p, k2);
		if (!url || !twilio_media_url_ok(url)) {
			e = -EINVAL;
		} else if (json_array_append_new(a, json_pack("{s:s,s:s}", "url", url,
					   "content_type", type ? type : "")) < 0) {
			e = -ENOMEM;
		}
	}
	if (e == 0) {
		*ret = json_dumps(a, JSON_COMPACT);
		e = *ret ? 0 : -ENOMEM;
	}
	json_decref(a);
	return e;
}

static bool sane_sid(const char *s) {
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= STORE_SID_SIZE) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

static bool sane_addr(const char *s) {
	return s && *s && strlen(s) < STORE_ADDR_SIZE;
}

/* Nothing was accepted: 503 sends Twilio to the fallback URL. */
static void inbound_failed(const char *sid, int err, struct http_response *res) {
	metrics_inc(METRICS_STORE_ERRORS);
	log_error("inbound.failed", LOG_STR("sid", sid), LOG_INT("error", -err));
	twiml_status(res, 503);
}

/* The TwiML answer for a routing result; the reply's status callbacks come back to us
 * naming our row (?ob=). */
static void answer(struct http_response *res, const char *org, const struct router_result *out) {
	char action[ORIGIN_MAX + 64];
	const char *media[TWILIO_MAX_MEDIA];
	size_t nmedia = 0;
	char *xml = NULL;
	bool with_action = out->reply && out->outbound_id > 0;

	if (with_action) {
		snprintf(action, sizeof(action), "%s/sms-router/webhook/status?ob=%lld", org,
				(long long)out->outbound_id);
	}
	/* The agent's media: checked when it answered (at most TWILIO_MAX_MEDIA URLs). */
	json_t *list = out->media ? json_loads(out->media, 0, NULL) : NULL;
	size_t i;
	json_t *u;
	json_array_foreach(list, i, u) {
		if (json_is_string(u) && nmedia < TWILIO_MAX_MEDIA) {
			media[nmedia++] = json_string_value(u);
		}
	}
	int e = twilio_twiml_message_media(out->reply, media, nmedia, with_action ? action : NULL,
			&xml);
	json_decref(list);
	if (e < 0) {
		twiml_status(res, 500);
		return;
	}
	http_text(res, 200, WEBHOOK_TWIML_TYPE, xml);
}

/* A webhook on its way through the router: what its message borrows, until on_routed. */
struct routing {
	struct router_job job;
	struct http_deferred *d;
	struct twilio_params params;
	struct router_inbound in;
	char *media;
	char org[ORIGIN_MAX];
};

/* The one way a routed webhook is answered: once what it stored is durable, or with 503
 * when nothing was accepted. */
static void on_routed(void *ctx, int err, struct router_result *result) {
	struct routing *q = ctx;
	struct http_response res = {0};
	if (err < 0) {
		inbound_failed(q->in.sid, err, &res);
	} else {
		answer(&res, q->org, result);
		router_result_clear(result);
	}
	http_deferred_complete(q->d, &res);
	twilio_params_finish(&q->params);
	free(q->media);
	free(q);
}

void webhook_sms(void *ctx, const struct http_request *req, struct http_response *res) {
	struct webhook *w = ctx;
	struct twilio_params p = {0};
	char org[ORIGIN_MAX];

	if (check(w, req, res, &p, org, sizeof(org)) < 0) {
		goto out;
	}
	const char *sid = twilio_params_get(&p, "MessageSid");
	const char *from = twilio_params_get(&p, "From");
	const char *to = twilio_params_get(&p, "To");
	const char *segs = twilio_params_get(&p, "NumSegments");
	if (!sane_sid(sid) || !sane_addr(from) || (to && strlen(to) >= STORE_ADDR_SIZE)) {
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "missing_fields"));
		twiml_status(res, 400);
		goto out;
	}
	struct routing *q = malloc(sizeof(*q)); /* every field set below */
	if (!q) {
		twiml_status(res, 500);
		goto out;
	}
	long nseg = segs ? strtol(segs, NULL, 10) : 0;
	int e = media_json(&p, &q->media);
	if (e < 0) {
		free(q);
		if (e == -ENOMEM) {
			twiml_status(res, 500);
			goto out;
		}
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "media"));
		twiml_status(res, 400);
		goto out;
	}
	q->d = req->deferred;
	memcpy(q->org, org, sizeof(org));
	q->in = (struct router_inbound){
		.sid = sid,
		.from = from,
		.to = to ? to : "",
		.body = twilio_params_get(&p, "Body"),
		.opt_out_type = twilio_params_get(&p, "OptOutType"),
		.media_json = q->media,
		.num_segments = nseg > 0 && nseg <= 100 ? (int)nseg : 0,
	};
	q->params = p; /* the strings of q->in point into it */
	p = (struct twilio_params){0};
	/* Commit before answering: Twilio takes a 200 as delivered. on_routed answers, perhaps
	 * before router_submit returns. */
	res->later = true;
	router_submit(w->router, &q->job, &q->in, on_routed, q);
out:
	twilio_params_finish(&p);
}

void webhook_status(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct webhook *w = ctx;
	struct twilio_params p = {0};
	char org[ORIGIN_MAX];
	long long ob = 0;

	if (check(w, req, res, &p, org, sizeof(org)) < 0) {
		goto out;
	}
	const char *sid = twilio_params_get(&p, "MessageSid");
	const char *status = twilio_params_get(&p, "MessageStatus");
	if (!sid) {
		sid = twilio_params_get(&p, "SmsSid");
	}
	if (!status) {
		status = twilio_params_get(&p, "SmsStatus");
	}
	const char *q = http_query(req, "ob");
	if (q) {
		char *end;
		ob = strtoll(q, &end, 10);
		if (*end || ob <= 0) {
			ob = 0;
		}
	}
	if (!status || (!sane_sid(sid) && ob == 0)) {
		metrics_reject(METRICS_REJECT_MALFORMED);
		log_warn("webhook.rejected", LOG_STR("reason", "missing_fields"),
				LOG_STR("path", req->path));
		twiml_status(res, 400);
		goto out;
	}
	int r = router_status(w->router, ob, sane_sid(sid) ? sid : NULL, status,
			twilio_params_get(&p, "ErrorCode"), twilio_params_get(&p, "To"));
	if (r == -ENOENT) {
		/* Not ours (or deleted with its user): nothing to update, nothing to retry. */
		log_warn("status.unknown", LOG_STR("sid", sid ? sid : ""), LOG_INT("outbound", ob));
	} else if (r < 0) {
		metrics_inc(METRICS_STORE_ERRORS);
		log_error("status.failed", LOG_STR("sid", sid ? sid : ""), LOG_INT("error", -r));
		twiml_status(res, 503);
		goto out;
	}
	http_empty(res, 204);
out:
	twilio_params_finish(&p);
}
