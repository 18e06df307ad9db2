/* The router's words: the opt-out / opt-in / help keyword of a body, and whether a reply
 * says anything (both trimmed of Unicode's white space). */
#include <string.h>
#include <strings.h>

#include "router.h"
#include "utf8.h"

/* The length in bytes of the white space character at p[0..len) (utf8_is_space, and the
 * zero-width space and the BOM, which a keyword may also come wrapped in), or 0. */
static size_t space_at(const char *p, size_t len) {
	uint32_t cp;
	int n = utf8_decode((const unsigned char *)p, len, &cp);
	return n > 0 && (utf8_is_space(cp) || cp == 0x200b || cp == 0xfeff) ? (size_t)n : 0;
}

static bool word_in(const char *s, size_t n, const char *const *words) {
	for (; *words; words++) {
		if (strlen(*words) == n && strncasecmp(s, *words, n) == 0) {
			return true;
		}
	}
	return false;
}

char router_keyword(const char *body, const char *opt_out_type) {
	static const char *const out[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
		"QUIT", "REVOKE", "OPTOUT", NULL};
	static const char *const in[] = {"START", "UNSTOP", "YES", NULL};
	static const char *const help[] = {"HELP", "INFO", NULL};

	/* Twilio's Advanced Opt-Out has matched its own keywords: its verdict decides. */
	if (opt_out_type && *opt_out_type) {
		size_t n = strlen(opt_out_type);
		if (word_in(opt_out_type, n, (const char *const[]){"STOP", NULL})) {
			return 'o';
		}
		if (word_in(opt_out_type, n, (const char *const[]){"START", NULL})) {
			return 'i';
		}
		if (word_in(opt_out_type, n, (const char *const[]){"HELP", NULL})) {
			return 'h';
		}
	}
	if (!body) {
		return 0;
	}
	/* The body trimmed of white space, Unicode's too: "STOP" after a no-break space is
	 * still an opt-out (honouring one that was meant matters more than the odd word). */
	const char *start = NULL;
	const char *end = body;
	size_t len = strlen(body);
	for (size_t i = 0; i < len;) {
		size_t w = space_at(body + i, len - i);
		if (w == 0) {
			start = start ? start : body + i;
			end = body + ++i;
		} else {
			i += w;
		}
	}
	if (!start) {
		return 0;
	}
	body = start;
	size_t n = (size_t)(end - start);
	if (word_in(body, n, out)) {
		return 'o';
	}
	if (word_in(body, n, in)) {
		return 'i';
	}
	if (word_in(body, n, help)) {
		return 'h';
	}
	return 0;
}

bool router_reply_blank(const char *reply) {
	size_t len = reply ? strlen(reply) : 0;
	for (size_t i = 0; i < len;) {
		size_t w = space_at(reply + i, len - i);
		if (w == 0) {
			return false;
		}
		i += w;
	}
	return true;
}
