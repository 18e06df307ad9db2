/* simulate: a webhook signed as Twilio signs it, sent to a running server; prints the reply
 * the server's TwiML carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/command.h"
#include "curlbody.h"
#include "ids.h"
#include "twilio/twilio.h"

#define MAX_ANSWER (1024 * 1024)

/* The token to sign with: TWILIO_AUTH_TOKEN, else the one serve --dev wrote. */
static const char *signing_token(const struct config *c, char *buf, size_t size) {
	if (c->auth_token) {
		return c->auth_token;
	}
	FILE *f = fopen(CLI__DEV_TOKEN_PATH, "r");
	bool ok = f && fgets(buf, (int)size, f);
	if (f) {
		fclose(f);
	}
	if (!ok) {
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

/* Posts form to url, signed with sig; prints the <Message> of a 200's TwiML. */
static int post(const char *url, const char *form, const char *sig) {
	struct curlbody resp = {0};
	struct curl_slist *hdr = NULL;
	char sig_header[64];
	char *text = NULL;
	int code = CLI__EXIT_FAIL;

	CURL *h = curl_easy_init();
	if (!h || curlbody_attach(h, &resp, MAX_ANSWER) < 0) {
		curl_easy_cleanup(h);
		return cli__fail("%s", "cannot start libcurl.");
	}
	snprintf(sig_header, sizeof(sig_header), "X-Twilio-Signature: %s", sig);
	hdr = curl_slist_append(hdr, sig_header);
	hdr = curl_slist_append(hdr, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	CURLcode cr = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cr != CURLE_OK) {
		cli__fail("cannot reach %s (is smsrouter serve running?).", url);
	} else if (status != 200) {
		char st[16];
		snprintf(st, sizeof(st), "%ld", status);
		cli__fail("the server answered HTTP %s.", st);
	} else if (twilio_twiml_message_text(resp.s ? resp.s : "", resp.len, &text) < 0) {
		cli__fail("the answer from %s is not TwiML.", url);
	} else {
		if (text) {
			fwrite(text, 1, strlen(text), stdout);
			putchar('\n');
		}
		code = 0;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(text);
	free(resp.s);
	return code;
}

int cli__simulate(const struct config *c, int argc, char **argv) {
	const char *from = NULL, *body = NULL, *url = NULL, *to = "+15005550006";
	char token_buf[64];
	char default_url[300], signed_url[600], sid[40], sig[TWILIO_SIGNATURE_SIZE];
	char *form = NULL;

	for (int i = 0; i < argc; i++) {
		const char **slot = !strcmp(argv[i], "--from") ? &from
				    : !strcmp(argv[i], "--body") ? &body
				    : !strcmp(argv[i], "--url")  ? &url
				    : !strcmp(argv[i], "--to")   ? &to
								 : NULL;
		if (!slot || i + 1 >= argc) {
			return cli__usage_error(
					"simulate takes --from PHONE --body TEXT [--url URL] [--to PHONE].");
		}
		*slot = argv[++i];
	}
	if (!from || !body) {
		return cli__usage_error("simulate needs --from PHONE and --body TEXT.");
	}
	const char *token = signing_token(c, token_buf, sizeof(token_buf));
	if (!token) {
		return cli__fail("%s", "no token to sign with: set TWILIO_AUTH_TOKEN or start "
				       "serve --dev first.");
	}
	if (!url) {
		snprintf(default_url, sizeof(default_url), "http://%s/sms-router/webhook/sms",
				c->listen);
		url = default_url;
	}
	/* Twilio signs the URL it calls: behind a proxy, the public one. */
	const char *path = strstr(url, "://");
	path = path ? strchr(path + 3, '/') : NULL;
	snprintf(signed_url, sizeof(signed_url), "%s%s", c->public_url ? c->public_url : "",
			c->public_url ? (path ? path : "/") : url);
	if (ids_random_hex("SM", 16, sid, sizeof(sid)) < 0) {
		return cli__fail("%s", "no randomness for a MessageSid.");
	}
	const char *account = c->account_sid ? c->account_sid : "AC00000000000000000000000000000000";
	struct twilio_param pv[] = {
		{(char *)"MessageSid", sid}, {(char *)"SmsSid", sid},
		{(char *)"AccountSid", (char *)account}, {(char *)"From", (char *)from},
		{(char *)"To", (char *)to}, {(char *)"Body", (char *)body},
		{(char *)"NumMedia", (char *)"0"}, {(char *)"NumSegments", (char *)"1"},
		{(char *)"ApiVersion", (char *)"2010-04-01"},
	};
	struct twilio_params params = {pv, sizeof(pv) / sizeof(pv[0])};
	if (twilio_signature_compute(token, signed_url, &params, sig) < 0 ||
			twilio_form_encode(&params, &form) < 0) {
		return cli__fail("%s", "out of memory.");
	}
	int code = post(url, form, sig);
	free(form);
	return code;
}
