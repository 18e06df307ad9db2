/* form: application/x-www-form-urlencoded bodies into the ordered list of parameters that
 * the signature and the webhook read, and the strict UTF-8 check the module shares. Works
 * on the whole body in hand (no connection, no streaming), so it can be fuzzed alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twilio/internal.h"
#include "twilio/twilio.h"

#define TWILIO__PARAMS_MAX 1000

int twilio__utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp) {
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;
	uint32_t cp;
	int n;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	/* The lead byte gives the length and the range of the second byte; the narrowed
	 * ranges are what exclude overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4). */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		if (s[0] == 0xe0) {
			lo = 0xa0;
		} else if (s[0] == 0xed) {
			hi = 0x9f;
		}
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0) {
			lo = 0x90;
		} else if (s[0] == 0xf4) {
			hi = 0x8f;
		}
	} else {
		return -1; /* 80–C1 (continuation or overlong lead), F5–FF */
	}
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= len || s[i] < lo || s[i] > hi) {
			return -i;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*ret_cp = cp;
	return n;
}

bool twilio__utf8_valid(const char *s, size_t len) {
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		int r = twilio__utf8_decode(u + i, len - i, &cp);

		if (r < 0) {
			return false;
		}
		i += (size_t)r;
	}
	return true;
}

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
	if (!twilio__utf8_valid(out, n)) {
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
