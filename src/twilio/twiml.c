/* twiml: the TwiML answer to an inbound message, a <Message> or an empty <Response/>. Writes
 * well-formed XML 1.0 from any bytes: escapes, drops what XML forbids, repairs bad UTF-8.
 * Reads such an answer back (simulate) with libexpat. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "twilio/twilio.h"
#include "utf8.h"

#define TWILIO__XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define TWILIO__EMPTY TWILIO__XML_DECL "<Response/>"
#define TWILIO__OPEN TWILIO__XML_DECL "<Response><Message"
#define TWILIO__ACTION " action=\""
#define TWILIO__CLOSE "</Message></Response>"

/* One input byte never becomes more than this many output bytes ("&quot;"). */
#define TWILIO__ESCAPE_MAX 6

static const char twilio__replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* The escaped form of code point cp, or NULL if it is copied as is; "" drops it. In an
 * attribute, TAB, LF and CR are character references: a parser would turn them into spaces
 * (attribute-value normalisation). In text, CR is one too: a parser would turn CR LF into
 * LF. */
static const char *twilio__xml_escape_cp(uint32_t cp, bool attribute) {
	switch (cp) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&apos;";
	case '\t':
		return attribute ? "&#9;" : NULL;
	case '\n':
		return attribute ? "&#10;" : NULL;
	case '\r':
		return "&#13;";
	case 0xfffe:
	case 0xffff:
		return ""; /* not XML 1.0 characters */
	default:
		return cp < 0x20 ? "" : NULL; /* the other C0 controls */
	}
}

/* Writes s escaped for XML text (or an attribute value) to out when out is not NULL, and
 * returns the length written. Called once to size the buffer, once to fill it. */
static size_t twilio__xml_escape(const char *s, bool attribute, char *out) {
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s);
	size_t n = 0;
	size_t i = 0;

	while (i < len) {
		const char *piece;
		size_t piece_len;
		uint32_t cp;
		int r = utf8_decode(u + i, len - i, &cp);

		if (r < 0) {
			/* One U+FFFD per maximal invalid subpart (Unicode's recommendation). */
			piece = twilio__replacement;
			piece_len = sizeof(twilio__replacement) - 1;
			i += (size_t)-r;
		} else {
			piece = twilio__xml_escape_cp(cp, attribute);
			if (piece) {
				piece_len = strlen(piece);
			} else {
				piece = s + i;
				piece_len = (size_t)r;
			}
			i += (size_t)r;
		}
		if (out) {
			memcpy(out + n, piece, piece_len);
		}
		n += piece_len;
	}
	return n;
}

static char *twilio__stpcpy(char *dst, const char *src) {
	size_t len = strlen(src);

	memcpy(dst, src, len);
	return dst + len;
}

#define TWILIO__BODY_OPEN "<Body>"
#define TWILIO__BODY_CLOSE "</Body>"
#define TWILIO__MEDIA_OPEN "<Media>"
#define TWILIO__MEDIA_CLOSE "</Media>"

/* Writes piece[] between open and close, each escaped, at out (NULL: only counts); the
 * length written. */
static size_t twilio__elements(const char *const *piece, size_t n, const char *open,
		const char *close, char *out) {
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = twilio__xml_escape(piece[i], false, NULL);
		if (k == 0) {
			continue;
		}
		if (out) {
			char *at = twilio__stpcpy(out + len, open);
			at += twilio__xml_escape(piece[i], false, at);
			twilio__stpcpy(at, close);
		}
		len += strlen(open) + k + strlen(close);
	}
	return len;
}

int twilio_twiml_message(const char *text, const char *action_url, char **ret_xml) {
	return twilio_twiml_message_media(text, NULL, 0, action_url, ret_xml);
}

int twilio_twiml_message_media(const char *text, const char *const *media, size_t nmedia,
		const char *action_url, char **ret_xml) {
	size_t text_len = 0;
	size_t media_len = 0;
	size_t action_len = 0;
	size_t size;
	char *xml;
	char *at;

	/* Guards the size arithmetic below; no such string fits in memory anyway. */
	size_t total = (text ? strlen(text) : 0) + (action_url ? strlen(action_url) : 0);
	for (size_t i = 0; i < nmedia && total < SIZE_MAX / 4; i++) {
		total += strlen(media[i]) + sizeof(TWILIO__MEDIA_OPEN TWILIO__MEDIA_CLOSE);
	}
	if (nmedia > TWILIO_MAX_MEDIA || total > (SIZE_MAX / 4) / TWILIO__ESCAPE_MAX) {
		return -ENOMEM;
	}
	if (text) {
		text_len = twilio__xml_escape(text, false, NULL);
	}
	media_len = twilio__elements(media, nmedia, TWILIO__MEDIA_OPEN, TWILIO__MEDIA_CLOSE, NULL);
	/* Nothing left to say (also when every character was dropped): an empty
	 * <Message></Message> would be Twilio warning 14103, <Response/> sends nothing. */
	if (text_len == 0 && media_len == 0) {
		xml = malloc(sizeof(TWILIO__EMPTY));
		if (!xml) {
			return -ENOMEM;
		}
		memcpy(xml, TWILIO__EMPTY, sizeof(TWILIO__EMPTY));
		*ret_xml = xml;
		return 0;
	}
	if (action_url) {
		action_len = twilio__xml_escape(action_url, true, NULL);
	}
	/* With media the text is the <Body> element's (TwiML: a <Message> holds either text
	 * or <Body> and <Media> nouns). */
	size_t body_len = media_len == 0 ? text_len
	    : text_len == 0 ? 0 : sizeof(TWILIO__BODY_OPEN TWILIO__BODY_CLOSE) - 1 + text_len;
	size = sizeof(TWILIO__OPEN) - 1 + 1 + body_len + media_len + sizeof(TWILIO__CLOSE);
	if (action_url) {
		size += sizeof(TWILIO__ACTION) - 1 + action_len + 1; /* closing '"' */
	}
	xml = malloc(size);
	if (!xml) {
		return -ENOMEM;
	}
	at = twilio__stpcpy(xml, TWILIO__OPEN);
	if (action_url) {
		at = twilio__stpcpy(at, TWILIO__ACTION);
		at += twilio__xml_escape(action_url, true, at);
		*at++ = '"';
	}
	*at++ = '>';
	if (media_len == 0) {
		at += twilio__xml_escape(text, false, at);
	} else {
		at += twilio__elements(&text, text_len ? 1 : 0, TWILIO__BODY_OPEN,
				TWILIO__BODY_CLOSE, at);
		at += twilio__elements(media, nmedia, TWILIO__MEDIA_OPEN, TWILIO__MEDIA_CLOSE, at);
	}
	at = twilio__stpcpy(at, TWILIO__CLOSE);
	*at = '\0';
	*ret_xml = xml;
	return 0;
}

/* ---- reading (simulate) ---- */

struct twilio__reader {
	XML_Parser parser;
	int depth;
	int message_depth; /* depth of the first <Message> while inside it, else 0 */
	bool in_body;      /* inside that <Message>'s <Body> */
	bool seen;         /* a <Message> was met */
	int err;
	char *text;
	size_t len;
};

static void twilio__reader_fail(struct twilio__reader *r, int err) {
	if (!r->err) {
		r->err = err;
	}
	XML_StopParser(r->parser, XML_FALSE);
}

static void XMLCALL twilio__on_start(void *ctx, const XML_Char *name, const XML_Char **attrs) {
	struct twilio__reader *r = ctx;

	(void)attrs;
	r->depth++;
	if (r->depth == 1 && strcmp(name, "Response") != 0) {
		twilio__reader_fail(r, -EINVAL);
	} else if (!r->seen && strcmp(name, "Message") == 0) {
		r->seen = true;
		r->message_depth = r->depth;
	} else if (r->message_depth && r->depth == r->message_depth + 1 &&
			strcmp(name, "Body") == 0) {
		r->in_body = true;
	}
}

static void XMLCALL twilio__on_end(void *ctx, const XML_Char *name) {
	struct twilio__reader *r = ctx;

	(void)name;
	if (r->depth == r->message_depth) {
		r->message_depth = 0;
	}
	r->in_body = r->in_body && r->depth != r->message_depth + 1;
	r->depth--;
}

static void XMLCALL twilio__on_text(void *ctx, const XML_Char *s, int len) {
	struct twilio__reader *r = ctx;

	if (!r->message_depth || (r->depth != r->message_depth && !r->in_body)) {
		return;
	}
	char *t = realloc(r->text, r->len + (size_t)len + 1);
	if (!t) {
		twilio__reader_fail(r, -ENOMEM);
		return;
	}
	memcpy(t + r->len, s, (size_t)len);
	r->text = t;
	r->len += (size_t)len;
	r->text[r->len] = '\0';
}

/* Our TwiML has no document type: refusing one leaves no entity to expand. */
static void XMLCALL twilio__on_doctype(void *ctx, const XML_Char *name, const XML_Char *sysid,
		const XML_Char *pubid, int has_internal_subset) {
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	twilio__reader_fail(ctx, -EINVAL);
}

int twilio_twiml_message_text(const char *xml, size_t len, char **ret_text) {
	struct twilio__reader r = {0};
	int rc;

	if (len > INT_MAX) {
		return -EINVAL;
	}
	r.parser = XML_ParserCreate("UTF-8");
	if (!r.parser) {
		return -ENOMEM;
	}
	XML_SetUserData(r.parser, &r);
	XML_SetElementHandler(r.parser, twilio__on_start, twilio__on_end);
	XML_SetCharacterDataHandler(r.parser, twilio__on_text);
	XML_SetStartDoctypeDeclHandler(r.parser, twilio__on_doctype);
	if (XML_Parse(r.parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK) {
		rc = r.err ? r.err : XML_GetErrorCode(r.parser) == XML_ERROR_NO_MEMORY ? -ENOMEM
										     : -EINVAL;
	} else if (r.seen && !r.text) {
		rc = (r.text = strdup("")) ? 0 : -ENOMEM; /* <Message></Message> */
	} else {
		rc = 0;
	}
	XML_ParserFree(r.parser);
	if (rc < 0) {
		free(r.text);
		return rc;
	}
	*ret_text = r.text;
	return 0;
}
