#pragma once
/* twilio: what Twilio puts on the wire at our edges. Form bodies, X-Twilio-Signature,
 * TwiML. Knows nothing of the HTTP server or SQL. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWILIO_SIGNATURE_SIZE 29 /* 28 Base64 characters and NUL */

struct twilio_param {
	char *key; /* decoded, NUL-terminated, valid UTF-8, no NUL inside */
	char *value;
};

/* An ordered list of decoded form parameters, repeated keys kept, wire order. Every key and
 * value is its own malloc() block, so a list built by hand that way is released with
 * twilio_params_finish() too. */
struct twilio_params {
	struct twilio_param *v;
	size_t n;
};

/* Decodes an application/x-www-form-urlencoded body body[0..len) ('+' is a space, %XX a
 * byte; "a=1&&b" gives a="1", b=""; empty pieces between '&' are skipped; a key is what
 * precedes the first '=', so "=x" gives an empty key). Any bytes are safe: nothing is read
 * past len and the memory used is bounded by len. On success *ret is the caller's, released
 * with twilio_params_finish() (an empty body gives n == 0, v == NULL); on failure *ret is
 * untouched. -EINVAL if a '%' is not followed by two hex digits, a decoded key or value
 * holds a NUL byte or is not valid UTF-8 (strictly: no overlongs, no surrogates, nothing
 * above U+10FFFF), there are more than 1000 parameters, or body is NULL with len > 0;
 * -ENOMEM. */
int twilio_form_decode(const char *body, size_t len, struct twilio_params *ret);
void twilio_params_finish(struct twilio_params *p); /* NULL and zeroed are fine */

/* Encodes p as an application/x-www-form-urlencoded body, in p's order: key=value pairs
 * joined by '&', every byte but ASCII letters, digits and "-._~" written %XX (uppercase hex;
 * a space is %20, as libcurl's curl_easy_escape writes it), so that twilio_form_decode() gives
 * p back. *ret_body is the caller's to free(). 0 or -ENOMEM. */
int twilio_form_encode(const struct twilio_params *p, char **ret_body);

/* First value of key, borrowed from p, or NULL. */
const char *twilio_params_get(const struct twilio_params *p, const char *key);

/* Computes the signature Twilio sends for url and p: Base64(HMAC-SHA1(token, url +
 * key+value for each parameter sorted by key (strcmp), values of one key sorted too, an
 * identical key=value pair counted once)). url is used exactly as given. token and url are
 * not NULL; p NULL is the same as no parameters (a GET, or a JSON webhook). out receives 28
 * characters and a NUL. 0 or -ENOMEM. */
int twilio_signature_compute(const char *token, const char *url, const struct twilio_params *p,
		char out[TWILIO_SIGNATURE_SIZE]);

/* Checks signature against url and p as Twilio's own libraries do: accepted if it matches
 * url with its port removed (any port, "https://h:8443/p" -> "https://h/p"), or url with its
 * port (":443" for https, ":80" for anything else added after the host when it has none).
 * Userinfo ("user:pw@") and bracketed IPv6 hosts ("[::1]:8000") are kept whole; the rest of
 * url (path, query) is never decoded or re-encoded. p NULL is the same as no parameters.
 * Compared in constant time. 0 if it matches, -EPERM if not (also when signature or token
 * is NULL or empty, url is NULL, or signature is not 28 characters), -ENOMEM. Does not
 * log. */
int twilio_signature_verify(const char *token, const char *url, const struct twilio_params *p,
		const char *signature);

/* For application/json webhooks: true if url's first bodySHA256 query parameter (matched as
 * sent, not percent-decoded) is the lowercase hex SHA-256 of body[0..len). The signature is
 * then checked separately, over url with no parameters. False if url is NULL or has no such
 * parameter. */
bool twilio_body_hash_matches(const char *url, const char *body, size_t len);

/* Writes the TwiML answer: text NULL or "" gives
 * <?xml version="1.0" encoding="UTF-8"?><Response/>, else
 * <?xml version="1.0" encoding="UTF-8"?><Response><Message action="…">text</Message></Response>
 * (action omitted when action_url is NULL). Text and attribute are XML-escaped (& < > " ');
 * characters XML 1.0 forbids (C0 controls other than TAB/LF/CR, U+FFFE, U+FFFF) are
 * dropped; bytes that are not valid UTF-8 become U+FFFD (one per maximal invalid
 * subpart). CR is written &#13; (and TAB, LF &#9; &#10; in the attribute) so that a parser
 * gives them back unchanged. A text with nothing left once dropped characters are removed
 * also gives <Response/>: an empty <Message> is Twilio warning 14103. Other characters are
 * raw UTF-8. *ret_xml is the caller's to free(). 0 or -ENOMEM. */
int twilio_twiml_message(const char *text, const char *action_url, char **ret_xml);
/* The same with media (at most TWILIO_MAX_MEDIA URLs, else -ENOMEM): when there are any, the
 * <Message> holds <Body>text</Body> (left out when the text is empty) and one
 * <Media>url</Media> each, all escaped as above (a URL with nothing left is left out);
 * <Response/> when neither text nor media is left. */
int twilio_twiml_message_media(const char *text, const char *const *media, size_t nmedia,
		const char *action_url, char **ret_xml);
/* A URL an outbound message may carry as media (TwiML <Media>, MediaUrl): http:// or
 * https://, a host, at most TWILIO_MEDIA_URL_MAX bytes, no space or control character. */
#define TWILIO_MEDIA_URL_MAX 2048
bool twilio_media_url_ok(const char *url);

/* Reads back the text of a TwiML answer's first <Message> (its own text, or its <Body>'s),
 * character references undone (&#13; gives CR back), as an XML parser (libexpat) reads
 * xml[0..len). *ret_text is the caller's to free(); NULL when there is no <Message>
 * (<Response/>). -EINVAL if xml is not well-formed XML, has a document type, or its root is
 * not <Response>; -ENOMEM. */
int twilio_twiml_message_text(const char *xml, size_t len, char **ret_text);

/* The Messages API (rest replies): POST and list Messages.json, with libcurl, HTTP Basic
 * auth AccountSid:AuthToken. Calls block; one thread uses them. */
struct twilio_rest {
	const char *api_base;    /* "https://api.twilio.com" */
	const char *account_sid; /* AC… */
	const char *auth_token;
	long timeout_ms;
};

struct twilio_send_result {
	long http_status;   /* 0: no HTTP answer */
	bool maybe_sent;    /* ambiguous: Twilio may have taken it (timeout or 5xx after the POST) */
	char sid[65];       /* on 200/201 */
	char status[24];    /* on 200/201: "queued", "accepted", … */
	int error_code;     /* Twilio's "code" on a 4xx/5xx JSON answer, else 0 */
	long retry_after_ms; /* from Retry-After (seconds or a date, at most 600 s), or -1 */
};

#define TWILIO_MAX_MEDIA 10 /* MediaUrl values one message may carry */

/* One message to create. Pointers are borrowed. */
struct twilio_message {
	const char *to;
	const char *from; /* a number (From), or a Messaging Service SID "MG…" (MessagingServiceSid) */
	const char *body; /* may be "" when media is given (then no Body is sent) */
	const char *const *media; /* URLs, at most TWILIO_MAX_MEDIA (more are not sent) */
	size_t nmedia;
	const char *status_callback; /* NULL: no status callbacks asked for */
};

/* Creates message m. 0 with *ret filled whatever Twilio answered (check
 * ret->http_status); -ENOMEM. */
int twilio_rest_send(const struct twilio_rest *t, const struct twilio_message *m,
		struct twilio_send_result *ret);

/* 1 if sid names a message already accounted for (another of our rows has it), 0 if
 * not, a negative errno if that cannot be told. */
typedef int (*twilio_sid_known_cb)(void *ctx, const char *sid);

/* Looks for a message sent through this API (not a TwiML reply) to `to` from `from` (a
 * Messaging Service SID: any number of that service) with
 * exactly body, created at or after since (unix seconds, minus a little clock slack),
 * whose SID known() does not claim, among the newest 50: the check before sending again
 * after an ambiguous attempt. An earlier reply with the same text is known by its SID, so
 * it is never taken for this one. 0 with sid written, -ENOENT, -EIO (could not ask, or
 * known() failed). */
int twilio_rest_find(const struct twilio_rest *t, const char *to, const char *from,
		const char *body, int64_t since, twilio_sid_known_cb known, void *ctx,
		char sid[65]);
