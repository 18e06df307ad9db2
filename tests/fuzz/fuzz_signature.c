/* libFuzzer harness for X-Twilio-Signature and bodySHA256. The input is
 * token \0 url \0 form-body \0 rest: the form body gives the parameters (decoded by
 * twilio_form_decode, or if it refuses them, split raw on '&' and '=' into a list built by
 * hand); the rest, up to its first NUL, is a claimed signature, and all of it is a JSON body.
 * Missing pieces are empty.
 *
 * What is checked, from twilio.h:
 * - compute gives 28 Base64 characters, ignores the order of the parameters and counts an
 *   identical key=value pair once;
 * - what compute gives for a URL, verify accepts for that URL (and a changed signature it
 *   rejects), with an empty or NULL token, a NULL URL or signature, or a signature that is
 *   not 28 characters always rejected; the claimed signature never crashes it, on any URL;
 * - when the URL has an authority without a port (also after userinfo, or a bracketed IPv6
 *   host), a signature over it with the default port (:443 https, :80 otherwise) verifies
 *   for it, and its own signature verifies for it with any port added;
 * - twilio_body_hash_matches accepts the body's own lowercase SHA-256 hex as the first
 *   bodySHA256 parameter, whatever follows, and refuses the uppercase one. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "fuzz_util.h"
#include "twilio/twilio.h"

#define PIECES 4

struct input {
	const char *token;
	const char *url;
	const char *form;
	size_t form_len;
	const char *rest;
	size_t rest_len;
};

/* Splits buf[0..size) (buf[size] is NUL) on its first three NUL bytes. */
static void split(const char *buf, size_t size, struct input *in) {
	const char *piece[PIECES];
	size_t len[PIECES];
	size_t at = 0;
	size_t n = 0;

	for (; n < PIECES; n++) {
		const char *nul;

		if (at > size) {
			piece[n] = "";
			len[n] = 0;
			continue;
		}
		nul = n + 1 < PIECES ? memchr(buf + at, '\0', size - at) : NULL;
		piece[n] = buf + at;
		len[n] = nul ? (size_t)(nul - (buf + at)) : size - at;
		at += len[n] + 1;
	}
	in->token = piece[0];
	in->url = piece[1];
	in->form = piece[2];
	in->form_len = len[2];
	in->rest = piece[3];
	in->rest_len = len[3];
}

/* s[0..len) as a new string, or NULL on ENOMEM. */
static char *copy(const char *s, size_t len) {
	return fuzz_strndup((const uint8_t *)s, len);
}

/* The form body split on '&' and '=' without decoding: keys and values of any bytes but NUL,
 * as twilio.h allows for a list built by hand. */
static int raw_params(const char *form, size_t len, struct twilio_params *ret) {
	struct twilio_params p = {NULL, 0};
	size_t count = 1;

	for (size_t i = 0; i < len; i++) {
		count += form[i] == '&';
	}
	p.v = calloc(count, sizeof(*p.v));
	if (!p.v) {
		return -ENOMEM;
	}
	for (size_t i = 0; i <= len;) {
		const char *amp = memchr(form + i, '&', len - i);
		size_t plen = amp ? (size_t)(amp - (form + i)) : len - i;
		const char *eq = memchr(form + i, '=', plen);
		size_t klen = eq ? (size_t)(eq - (form + i)) : plen;

		p.v[p.n].key = copy(form + i, klen);
		p.v[p.n].value = eq ? copy(eq + 1, plen - klen - 1) : copy("", 0);
		p.n++;
		if (!p.v[p.n - 1].key || !p.v[p.n - 1].value) {
			twilio_params_finish(&p);
			return -ENOMEM;
		}
		i += plen + 1;
	}
	*ret = p;
	return 0;
}

static void compute(const char *token, const char *url, const struct twilio_params *p,
		char out[TWILIO_SIGNATURE_SIZE]) {
	static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	FUZZ_CHECK(twilio_signature_compute(token, url, p, out) == 0);
	FUZZ_CHECK(strlen(out) == TWILIO_SIGNATURE_SIZE - 1);
	FUZZ_CHECK(strspn(out, b64) == TWILIO_SIGNATURE_SIZE - 2 && out[27] == '=');
}

/* The same parameters reversed, and with the first pair repeated: the same signature. */
static void check_order(const char *token, const char *url, const struct twilio_params *p,
		const char *sig) {
	struct twilio_param *v = malloc((p->n + 1) * sizeof(*v));
	struct twilio_params q;
	char other[TWILIO_SIGNATURE_SIZE];

	if (!v) {
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		v[i] = p->v[p->n - 1 - i];
	}
	q.v = v;
	q.n = p->n;
	compute(token, url, &q, other);
	FUZZ_CHECK(strcmp(other, sig) == 0);
	if (p->n > 0) {
		v[p->n] = p->v[0];
		q.n = p->n + 1;
		compute(token, url, &q, other);
		FUZZ_CHECK(strcmp(other, sig) == 0);
	}
	free(v); /* the strings are p's */
}

/* url[0..at) + insert + url[at..], or NULL on ENOMEM. */
static char *insert(const char *url, size_t at, const char *ins) {
	size_t len = strlen(url);
	size_t ilen = strlen(ins);
	char *s = malloc(len + ilen + 1);

	if (!s) {
		return NULL;
	}
	memcpy(s, url, at);
	memcpy(s + at, ins, ilen);
	memcpy(s + at + ilen, url + at, len - at + 1);
	return s;
}

/* If url is scheme://[userinfo@]host/… with no port, returns where the port would go (the
 * end of the authority) and sets *ret_https; else 0. The scheme is letters only here, so
 * the case is beyond doubt. */
static size_t port_slot(const char *url, bool *ret_https) {
	size_t scheme = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	size_t host;
	size_t end;

	if (scheme == 0 || strncmp(url + scheme, "://", 3) != 0) {
		return 0;
	}
	host = scheme + 3;
	end = host + strcspn(url + host, "/?#");
	for (size_t i = host; i < end; i++) {
		if (url[i] == '@') {
			host = i + 1;
		}
	}
	if (url[host] == '[') {
		const char *bracket = memchr(url + host, ']', end - host);

		if (!bracket || bracket != url + end - 1) {
			return 0;
		}
	} else if (memchr(url + host, ':', end - host) != NULL) {
		return 0;
	}
	*ret_https = scheme == 5 && strncasecmp(url, "https", 5) == 0;
	return end;
}

static void check_ports(const char *token, const char *url, const struct twilio_params *p,
		const char *sig) {
	char with_sig[TWILIO_SIGNATURE_SIZE];
	bool https = false;
	size_t slot = port_slot(url, &https);
	char *with_default;
	char *with_other;

	if (slot == 0) {
		return;
	}
	with_default = insert(url, slot, https ? ":443" : ":80");
	with_other = insert(url, slot, ":8443");
	if (with_default && with_other) {
		/* Signed with the default port, received without: accepted. */
		compute(token, with_default, p, with_sig);
		FUZZ_CHECK(twilio_signature_verify(token, url, p, with_sig) == 0);
		/* Signed without a port, received with one: accepted, whatever the port. */
		FUZZ_CHECK(twilio_signature_verify(token, with_default, p, sig) == 0);
		FUZZ_CHECK(twilio_signature_verify(token, with_other, p, sig) == 0);
		/* Signed with the default port, received with another: the URLs differ. */
		FUZZ_CHECK(twilio_signature_verify(token, with_other, p, with_sig) == -EPERM);
	}
	free(with_other);
	free(with_default);
}

static void check_signature(const struct input *in, const struct twilio_params *p) {
	char sig[TWILIO_SIGNATURE_SIZE];
	char claimed[TWILIO_SIGNATURE_SIZE + 1];
	int r;

	compute(in->token, in->url, p, sig);
	if (p) {
		check_order(in->token, in->url, p, sig);
	} else {
		/* NULL is no parameters. */
		struct twilio_params none = {NULL, 0};
		char other[TWILIO_SIGNATURE_SIZE];

		compute(in->token, in->url, &none, other);
		FUZZ_CHECK(strcmp(other, sig) == 0);
	}

	/* Whatever is claimed, on whatever URL: a verdict, never a crash. */
	r = twilio_signature_verify(in->token, in->url, p, in->rest);
	FUZZ_CHECK(r == 0 || r == -EPERM);
	if (r == 0) {
		FUZZ_CHECK(in->token[0] != '\0' && strlen(in->rest) == TWILIO_SIGNATURE_SIZE - 1);
	}
	FUZZ_CHECK(twilio_signature_verify(NULL, in->url, p, sig) == -EPERM);
	FUZZ_CHECK(twilio_signature_verify(in->token, NULL, p, sig) == -EPERM);
	FUZZ_CHECK(twilio_signature_verify(in->token, in->url, p, NULL) == -EPERM);
	memcpy(claimed, sig, TWILIO_SIGNATURE_SIZE);
	claimed[TWILIO_SIGNATURE_SIZE - 1] = 'A';
	claimed[TWILIO_SIGNATURE_SIZE] = '\0';
	FUZZ_CHECK(twilio_signature_verify(in->token, in->url, p, claimed) == -EPERM);
	FUZZ_CHECK(twilio_signature_verify(in->token, in->url, p, sig + 1) == -EPERM);

	if (in->token[0] == '\0') {
		FUZZ_CHECK(twilio_signature_verify(in->token, in->url, p, sig) == -EPERM);
		return;
	}
	FUZZ_CHECK(twilio_signature_verify(in->token, in->url, p, sig) == 0);
	memcpy(claimed, sig, TWILIO_SIGNATURE_SIZE);
	claimed[0] = claimed[0] == 'A' ? 'B' : 'A';
	FUZZ_CHECK(twilio_signature_verify(in->token, in->url, p, claimed) == -EPERM);
	check_ports(in->token, in->url, p, sig);
}

static void check_body_hash(const struct input *in) {
	static const char hex_digits[] = "0123456789abcdef";
	static const char prefix[] = "https://sms.example.com/sms-router/webhook/json?bodySHA256=";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t at = sizeof(prefix) - 1;
	bool letters = false;
	char *url;

	(void)twilio_body_hash_matches(in->url, in->rest, in->rest_len);
	FUZZ_CHECK(!twilio_body_hash_matches(NULL, in->rest, in->rest_len));
	FUZZ_CHECK(!twilio_body_hash_matches(in->url, NULL, 1));

	FUZZ_CHECK(EVP_Digest(in->rest, in->rest_len, md, &md_len, EVP_sha256(), NULL) == 1);
	FUZZ_CHECK(md_len == 32);
	url = malloc(at + 64 + 1 + strlen(in->url) + 1);
	if (!url) {
		return;
	}
	memcpy(url, prefix, at);
	for (unsigned int i = 0; i < md_len; i++) {
		url[at++] = hex_digits[md[i] >> 4];
		url[at++] = hex_digits[md[i] & 0x0f];
	}
	url[at++] = '&';
	strcpy(url + at, in->url); /* the fuzzed URL as what follows */
	FUZZ_CHECK(twilio_body_hash_matches(url, in->rest, in->rest_len));

	for (size_t i = sizeof(prefix) - 1; i < sizeof(prefix) - 1 + 64; i++) {
		if (url[i] >= 'a' && url[i] <= 'f') {
			url[i] = (char)(url[i] - 'a' + 'A');
			letters = true;
		}
	}
	if (letters) {
		FUZZ_CHECK(!twilio_body_hash_matches(url, in->rest, in->rest_len));
	}
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct twilio_params p = {NULL, 0};
	struct input in;
	char *buf = fuzz_strndup(data, size);

	if (!buf) {
		return 0;
	}
	split(buf, size, &in);
	if (twilio_form_decode(in.form, in.form_len, &p) < 0 &&
			raw_params(in.form, in.form_len, &p) < 0) {
		free(buf);
		return 0;
	}
	check_signature(&in, &p);
	check_signature(&in, NULL);
	check_body_hash(&in);
	twilio_params_finish(&p);
	free(buf);
	return 0;
}
