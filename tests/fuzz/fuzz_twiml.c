/* libFuzzer harness for twilio_twiml_message: the input (up to its first NUL) as the reply
 * text, as the action URL, and as both; with a NUL inside, the bytes before it are the text
 * and the bytes after it the action URL. Every answer must be valid UTF-8, hold no C0
 * control other than TAB and LF, and start with the XML declaration. Then it is parsed back
 * with the grammar twilio.h promises (<Response/>, or a <Message> with an optional action
 * attribute), and what an XML parser would read from it must be the input with the
 * characters XML 1.0 forbids dropped and each maximal invalid UTF-8 subpart turned into one
 * U+FFFD: nothing else lost, added or changed. libexpat, through twilio_twiml_message_text
 * (simulate's reader), must read exactly that too; and the reader itself takes the raw input
 * as an answer without a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "twilio/twilio.h"

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define EMPTY XML_DECL "<Response/>"
#define OPEN XML_DECL "<Response><Message"
#define ACTION " action=\""
#define CLOSE "</Message></Response>"

/* A growing byte buffer; the harness aborts rather than handle ENOMEM mid-check. */
struct buf {
	char *s;
	size_t len;
	size_t cap;
};

static void buf_add(struct buf *b, const void *p, size_t n) {
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *s = realloc(b->s, cap);

		FUZZ_CHECK(s != NULL);
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* s as an XML parser must give it back: forbidden characters dropped, bad UTF-8 repaired. */
static void expected_text(const char *s, struct buf *out) {
	size_t len = strlen(s);
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		int r = fuzz_utf8_decode((const uint8_t *)s + i, len - i, &cp);

		if (r < 0) {
			buf_add(out, "\xef\xbf\xbd", 3);
			i += (size_t)-r;
			continue;
		}
		if ((cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r') && cp != 0xfffe &&
				cp != 0xffff) {
			buf_add(out, s + i, (size_t)r);
		}
		i += (size_t)r;
	}
}

/* Unescapes s[0..len), a text node (attribute false) or an attribute value, into out. The
 * five named entities and &#9; &#10; &#13; are the only references; '&' < > " ' never
 * appear raw, and neither do CR (nor TAB, LF in the attribute), which a parser would
 * normalise. */
static void unescape(const char *s, size_t len, bool attribute, struct buf *out) {
	static const struct {
		const char *ref;
		char c;
	} refs[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
		{"&apos;", '\''}, {"&#9;", '\t'}, {"&#10;", '\n'}, {"&#13;", '\r'},
	};
	size_t i = 0;

	while (i < len) {
		char c = s[i];
		bool found = false;

		FUZZ_CHECK(c != '<' && c != '>' && c != '"' && c != '\'' && c != '\r');
		FUZZ_CHECK(!attribute || (c != '\t' && c != '\n'));
		if (c != '&') {
			buf_add(out, &c, 1);
			i++;
			continue;
		}
		for (size_t k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
			size_t n = strlen(refs[k].ref);

			if (len - i >= n && memcmp(s + i, refs[k].ref, n) == 0) {
				buf_add(out, &refs[k].c, 1);
				i += n;
				found = true;
				break;
			}
		}
		FUZZ_CHECK(found);
	}
}

static bool starts_with(const char *s, const char *prefix) {
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* What the reader gives back from xml: want's text, or no text when want is empty. */
static void check_reader(const char *xml, size_t len, const struct buf *want) {
	char *read = NULL;

	FUZZ_CHECK(twilio_twiml_message_text(xml, len, &read) == 0);
	if (want->len == 0) {
		FUZZ_CHECK(read == NULL);
		return;
	}
	FUZZ_CHECK(read != NULL && strlen(read) == want->len &&
			memcmp(read, want->s, want->len) == 0);
	free(read);
}

static void check(const char *text, const char *action_url) {
	struct buf want = {NULL, 0, 0};
	struct buf got = {NULL, 0, 0};
	const char *at;
	const char *end;
	char *xml = NULL;
	size_t len;

	FUZZ_CHECK(twilio_twiml_message(text, action_url, &xml) == 0);
	FUZZ_CHECK(xml != NULL);
	len = strlen(xml);

	/* The rules any consumer relies on. */
	FUZZ_CHECK(fuzz_utf8_valid(xml, len));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)xml[i];

		FUZZ_CHECK(c >= 0x20 || c == '\t' || c == '\n');
	}
	FUZZ_CHECK(starts_with(xml, XML_DECL));

	/* The exact shape, read back. */
	buf_add(&want, "", 0);
	if (text) {
		expected_text(text, &want);
	}
	check_reader(xml, len, &want);
	if (want.len == 0) {
		FUZZ_CHECK(strcmp(xml, EMPTY) == 0);
		goto out;
	}
	FUZZ_CHECK(starts_with(xml, OPEN));
	at = xml + strlen(OPEN);
	if (action_url) {
		struct buf want_action = {NULL, 0, 0};

		FUZZ_CHECK(starts_with(at, ACTION));
		at += strlen(ACTION);
		end = strchr(at, '"');
		FUZZ_CHECK(end != NULL);
		buf_add(&got, "", 0);
		buf_add(&want_action, "", 0);
		unescape(at, (size_t)(end - at), true, &got);
		expected_text(action_url, &want_action);
		FUZZ_CHECK(got.len == want_action.len &&
				memcmp(got.s, want_action.s, got.len) == 0);
		free(want_action.s);
		got.len = 0;
		at = end + 1;
	}
	FUZZ_CHECK(*at == '>');
	at++;
	end = strchr(at, '<');
	FUZZ_CHECK(end != NULL && strcmp(end, CLOSE) == 0);
	buf_add(&got, "", 0);
	unescape(at, (size_t)(end - at), false, &got);
	FUZZ_CHECK(got.len == want.len && memcmp(got.s, want.s, got.len) == 0);
out:
	free(got.s);
	free(want.s);
	free(xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char *s = fuzz_strndup(data, size);
	size_t first;

	if (!s) {
		return 0;
	}
	first = strlen(s);
	check(s, NULL);
	check(s, s);
	check("Got it.", s);
	if (first < size) {
		check(s, s + first + 1);
	}
	check(NULL, s);
	free(s);

	char *read = NULL;
	if (twilio_twiml_message_text((const char *)data, size, &read) == 0) {
		free(read);
	}
	return 0;
}
