/* form: application/x-www-form-urlencoded bodies into the ordered list of parameters that
 * the signature and the webhook read, and that list back into a body (what we POST to
 * Twilio, and simulate's webhook). Works on the whole body in hand (no connection, no
 * streaming), so it can be fuzzed alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twilio/twilio.h"
#include "utf8.h"

#define TWILIO__PARAMS_MAX 1000

static int twilio__hex_digit(unsigned char c) {
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Decodes one key or value s[0..len) into a new NUL-terminated string ('+' a space, %XX a
 * byte). The result is never longer than the input. -EINVAL: bad escape, NUL byte, or not
 * valid UTF-8; -ENOMEM. */
static int twilio__form_unescape(const char *s, size_t len, char **ret) {
	char *out;
	size_t n = 0;

	out = malloc(len + 1);
	if (!out) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi;
			int lo;

			if (len - i < 3) {
				goto invalid;
			}
			hi = twilio__hex_digit((unsigned char)s[i + 1]);
			lo = twilio__hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0) {
				goto invalid;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0') {
			goto invalid; /* would cut the C string short of what was signed */
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (!utf8_valid(out, n)) {
		goto invalid;
	}
	*ret = out;
	return 0;
invalid:
	free(out);
	return -EINVAL;
}

/* Length of the piece at body[i..len): up to the next '&' or the end. */
static size_t twilio__piece_len(const char *body, size_t len, size_t i) {
	const char *amp = memchr(body + i, '&', len - i);

	return amp ? (size_t)(amp - (body + i)) : len - i;
}

int twilio_form_decode(const char *body, size_t len, struct twilio_params *ret) {
	struct twilio_params p = {NULL, 0};
	size_t count = 0;
	int r;

	if (!body) {
		if (len > 0) {
			return -EINVAL;
		}
		body = "";
	}

	/* Count first: the limit is checked before anything is allocated, and the array is
	 * allocated once, at its final size. */
	for (size_t i = 0; i < len;) {
		size_t plen = twilio__piece_len(body, len, i);

		if (plen > 0 && ++count > TWILIO__PARAMS_MAX) {
			return -EINVAL;
		}
		i += plen + 1;
	}
	if (count > 0) {
		p.v = calloc(count, sizeof(*p.v));
		if (!p.v) {
			return -ENOMEM;
		}
	}

	for (size_t i = 0; i < len;) {
		size_t plen = twilio__piece_len(body, len, i);
		const char *piece = body + i;
		const char *eq;
		size_t klen;

		i += plen + 1;
		if (plen == 0) {
			continue; /* "a=1&&b=2", a leading or a trailing '&' */
		}
		eq = memchr(piece, '=', plen);
		klen = eq ? (size_t)(eq - piece) : plen;

		/* Counted before the value is decoded so twilio_params_finish() frees the key. */
		r = twilio__form_unescape(piece, klen, &p.v[p.n].key);
		if (r < 0) {
			goto out;
		}
		p.n++;
		if (eq) {
			r = twilio__form_unescape(eq + 1, plen - klen - 1, &p.v[p.n - 1].value);
		} else {
			r = twilio__form_unescape("", 0, &p.v[p.n - 1].value); /* "key" alone: "" */
		}
		if (r < 0) {
			goto out;
		}
	}
	*ret = p;
	return 0;
out:
	twilio_params_finish(&p);
	return r;
}

void twilio_params_finish(struct twilio_params *p) {
	if (!p) {
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

const char *twilio_params_get(const struct twilio_params *p, const char *key) {
	if (!p || !key) {
		return NULL;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].key, key) == 0) {
			return p->v[i].value;
		}
	}
	return NULL;
}

/* True for the bytes a form value carries as they are (RFC 3986's unreserved). */
static bool twilio__form_plain(unsigned char c) {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Writes s escaped to out when out is not NULL; returns the length. Called once to size the
 * buffer, once to fill it. */
static size_t twilio__form_escape(const char *s, char *out) {
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		if (twilio__form_plain(*u)) {
			if (out) {
				out[n] = (char)*u;
			}
			n++;
			continue;
		}
		if (out) {
			out[n] = '%';
			out[n + 1] = hex[*u >> 4];
			out[n + 2] = hex[*u & 15];
		}
		n += 3;
	}
	return n;
}

/* The body p encodes, written to out when out is not NULL; returns its length. */
static size_t twilio__form_write(const struct twilio_params *p, char *out) {
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (i > 0) {
			if (out) {
				out[n] = '&';
			}
			n++;
		}
		n += twilio__form_escape(p->v[i].key, out ? out + n : NULL);
		if (out) {
			out[n] = '=';
		}
		n++;
		n += twilio__form_escape(p->v[i].value, out ? out + n : NULL);
	}
	return n;
}

int twilio_form_encode(const struct twilio_params *p, char **ret_body) {
	size_t len = twilio__form_write(p, NULL);
	char *body = malloc(len + 1);

	if (!body) {
		return -ENOMEM;
	}
	twilio__form_write(p, body);
	body[len] = '\0';
	*ret_body = body;
	return 0;
}
