#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "admin.h"
#include "csv.h"
#include "ids.h"
#include "log.h"
#include "phone.h"
#include "serve.h"
#include "store/store.h"
#include "twilio/twilio.h"

#define DEV_TOKEN_PATH SERVE_DEV_TOKEN_PATH /* where serve --dev keeps its token */
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: smsrouter serve [--dev] [--listen ADDR] [--database-url URL]\n"
	"       smsrouter migrate\n"
	"       smsrouter user add NAME PHONE...\n"
	"       smsrouter user list | show ID|PHONE | rm ID\n"
	"       smsrouter phone add ID PHONE | rm PHONE\n"
	"       smsrouter import FILE.csv\n"
	"       smsrouter simulate --from PHONE --body TEXT [--url URL] [--to PHONE]\n"
	"       smsrouter usage [--since RFC3339]\n"
	"       smsrouter outbox list [--state STATE] | retry ID|--all\n";

/* Prints "smsrouter: " and text as one line on stderr. A control character that an
 * argument brought in (a newline in a file name) would break the line: it shows as '?'. */
static void error_line(const char *text) {
	fputs("smsrouter: ", stderr);
	for (const char *p = text; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, stderr);
	}
	fputc('\n', stderr);
}

/* printf's fmt and arguments, as one line on stderr. */
__attribute__((format(printf, 1, 2))) static void error_linef(const char *fmt, ...) {
	char small[512];
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	char *big = n >= (int)sizeof(small) ? malloc((size_t)n + 1) : NULL;
	if (big) {
		vsnprintf(big, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	va_end(ap);
	error_line(big ? big : small); /* out of memory: cut, but still one line */
	free(big);
}

/* A usage error: one sentence (the usage block is smsrouter --help's), exit 2. */
static int usage_error(const char *msg) {
	error_line(msg);
	return EXIT_USAGE;
}

static int fail(const char *fmt, const char *arg) {
	error_linef(fmt, arg);
	return EXIT_FAIL;
}

/* A phone argument that is not E.164: a usage error (exit 2), as a bad name is. */
static int bad_phone(const char *phone) {
	error_linef("%s is not an E.164 number ('+' then 8 to 15 digits).", phone);
	return EXIT_USAGE;
}

static const char *errtext(int r) {
	switch (r) {
	case -ENOENT:
		return "not found";
	case -EEXIST:
		return "already taken";
	case -ENOSPC:
		return "a user has at most 10 phone numbers";
	case -ENOMEM:
		return "out of memory";
	default:
		return "the store failed";
	}
}

static int open_store(const struct config *c, struct store **ret) {
	struct store_options o = {
		.sync = c->sqlite_sync == CONFIG_SYNC_FULL     ? STORE_SYNC_FULL
			: c->sqlite_sync == CONFIG_SYNC_NORMAL ? STORE_SYNC_NORMAL
							       : STORE_SYNC_GROUP,
	};
	int r = store_open(c->database_url, &o, ret);
	if (r == -EINVAL) {
		return fail("cannot open the store: %s must be sqlite:PATH or a postgresql:// URL.",
				"SMSROUTER_DATABASE_URL");
	}
	if (r == -EPERM) {
		return fail("cannot open the store (%s): the role is a superuser, has BYPASSRLS or "
			    "inherits smsrouter_system, so row-level security would not bind it; "
			    "connect as the service role.", "PostgreSQL");
	}
	if (r < 0) {
		/* A postgresql:// URL may hold a password: name only the kind of store. */
		return fail("cannot open the store (%s): check SMSROUTER_DATABASE_URL and that the "
			    "database answers.", strncmp(c->database_url, "sqlite:", 7) == 0
							   ? c->database_url
							   : "PostgreSQL");
	}
	return 0;
}

static int print_json(json_t *j) {
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!text) {
		return fail("%s.", "out of memory");
	}
	puts(text);
	free(text);
	return 0;
}

/* ---- serve ---- */

static int cmd_serve(const struct config *c) {
	char why[512];
	int r = serve(c, open_store, why, sizeof(why));
	if (why[0]) {
		error_line(why);
	}
	return r == 0 ? 0 : r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

/* ---- user, phone ---- */

static int print_user_line(void *ctx, const struct store_user *u) {
	(void)ctx;
	printf("%s\t%s\t", u->id, u->name);
	for (int i = 0; i < u->nphones; i++) {
		printf("%s%s", i ? "," : "", u->phones[i]);
	}
	printf("\t%s\n", u->opted_out ? "opted_out" : "");
	return 0;
}

static int cmd_user(const struct config *c, int argc, char **argv) {
	struct store *s = NULL;
	struct store_user u;
	int r, code = EXIT_FAIL;

	if (argc < 1) {
		return usage_error("user needs a subcommand: add, list, show or rm.");
	}
	const char *sub = argv[0];
	if (strcmp(sub, "add") == 0) {
		const char *why;
		if (argc < 3) {
			return usage_error("user add needs a NAME and at least one PHONE.");
		}
		if (store_name_check(argv[1], &why) < 0) {
			error_linef("%s.", why);
			return EXIT_USAGE;
		}
		if (argc - 2 > STORE_MAX_PHONES) {
			return fail("%s", "a user has at most 10 phone numbers.");
		}
		for (int i = 2; i < argc; i++) {
			if (!phone_is_valid(argv[i])) {
				return bad_phone(argv[i]);
			}
		}
	} else if (strcmp(sub, "list") == 0) {
		if (argc != 1) {
			return usage_error("user list takes no arguments.");
		}
	} else if (strcmp(sub, "show") == 0 || strcmp(sub, "rm") == 0) {
		if (argc != 2) {
			return usage_error("user show takes one ID or PHONE, and user rm one ID.");
		}
		/* A '+' says PHONE: one nobody can own is a bad number, not a missing user. */
		if (strcmp(sub, "show") == 0 && argv[1][0] == '+' && !phone_is_valid(argv[1])) {
			return bad_phone(argv[1]);
		}
	} else {
		return usage_error("user needs a subcommand: add, list, show or rm.");
	}
	if (open_store(c, &s) != 0) {
		return EXIT_FAIL;
	}
	if (strcmp(sub, "add") == 0) {
		size_t bad = 0;
		r = store_user_add(s, argv[1], (const char *const *)argv + 2, (size_t)(argc - 2), &u,
				&bad);
		if (r == -EEXIST) {
			fail("%s belongs to another user (or is repeated).", argv[2 + bad]);
		} else if (r < 0) {
			fail("cannot add the user: %s.", errtext(r));
		} else {
			puts(u.id);
			code = 0;
		}
	} else if (strcmp(sub, "list") == 0) {
		r = store_user_list(s, print_user_line, NULL);
		code = r < 0 ? fail("cannot list users: %s.", errtext(r)) : 0;
	} else if (strcmp(sub, "show") == 0) {
		r = argv[1][0] == '+' ? store_user_by_phone(s, argv[1], &u)
				      : store_user_get(s, argv[1], &u);
		code = r < 0 ? fail("no user %s.", argv[1]) : print_json(admin_user_json(&u));
	} else {
		r = store_user_delete(s, argv[1]);
		code = r < 0 ? fail(r == -ENOENT ? "no user %s." : "cannot delete %s.", argv[1]) : 0;
	}
	store_close(s);
	return code;
}

static int cmd_phone(const struct config *c, int argc, char **argv) {
	struct store *s = NULL;
	struct store_user u;
	int r, code;

	bool add = argc == 3 && strcmp(argv[0], "add") == 0;
	bool rm = argc == 2 && strcmp(argv[0], "rm") == 0;
	if (!add && !rm) {
		return usage_error("phone needs add ID PHONE or rm PHONE.");
	}
	const char *phone = add ? argv[2] : argv[1];
	if (!phone_is_valid(phone)) {
		return bad_phone(phone);
	}
	if (open_store(c, &s) != 0) {
		return EXIT_FAIL;
	}
	if (add) {
		r = store_phone_add(s, argv[1], phone);
		if (r == -EEXIST) {
			code = fail("%s belongs to another user.", phone);
		} else if (r == -ENOENT) {
			code = fail("no user %s.", argv[1]);
		} else {
			code = r < 0 ? fail("cannot add the phone: %s.", errtext(r)) : 0;
		}
	} else {
		r = store_user_by_phone(s, phone, &u);
		if (r == 0) {
			r = store_phone_remove(s, u.id, phone);
		}
		code = r < 0 ? fail(r == -ENOENT ? "no user has %s." : "cannot remove %s.", phone) : 0;
	}
	store_close(s);
	return code;
}

/* ---- import ---- */

struct import_row {
	const char *name;
	size_t first; /* index of its first phone in phones */
	size_t nphones;
	size_t line;
};

struct import_ctx {
	struct import_row *rows;
	const char **phones;
	size_t n, cap, nphones, phones_cap;
	size_t bad_line;
	const char *why;
	bool seen_first;
};

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
	if (need <= *cap) {
		return true;
	}
	size_t c = *cap ? *cap * 2 : 1024;
	while (c < need) {
		c *= 2;
	}
	void *q = realloc(*p, c * size);
	if (!q) {
		return false;
	}
	*p = q;
	*cap = c;
	return true;
}

static int import_record(void *vctx, const struct csv_record *rec) {
	struct import_ctx *x = vctx;
	bool first = !x->seen_first;
	x->seen_first = true;

	/* An optional header line: name,phone… */
	if (first && rec->n >= 2 && strcasecmp(rec->field[0], "name") == 0 &&
			strncasecmp(rec->field[1], "phone", 5) == 0) {
		return 0;
	}
	x->bad_line = rec->line;
	if (store_name_check(rec->field[0], &x->why) < 0) {
		return -EINVAL;
	}
	size_t np = 0;
	if (!grow((void **)&x->rows, &x->cap, x->n + 1, sizeof(*x->rows)) ||
			!grow((void **)&x->phones, &x->phones_cap, x->nphones + rec->n,
					sizeof(*x->phones))) {
		x->why = "out of memory";
		return -ENOMEM;
	}
	for (size_t i = 1; i < rec->n; i++) {
		if (rec->field[i][0] == '\0' && i == rec->n - 1) {
			continue; /* a trailing comma */
		}
		if (!phone_is_valid(rec->field[i])) {
			x->why = "a phone is not E.164 ('+' then 8 to 15 digits)";
			return -EINVAL;
		}
		x->phones[x->nphones + np++] = rec->field[i];
	}
	if (np == 0) {
		x->why = "a line needs a name and at least one phone";
		return -EINVAL;
	}
	if (np > STORE_MAX_PHONES) {
		x->why = "a user has at most 10 phone numbers";
		return -EINVAL;
	}
	x->rows[x->n++] = (struct import_row){rec->field[0], x->nphones, np, rec->line};
	x->nphones += np;
	return 0;
}

/* Reads a whole file, with one spare byte after it. */
static int read_file(const char *path, char **ret, size_t *ret_len) {
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (!f) {
		return -ENOENT;
	}
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n == 0) {
			break;
		}
	}
	bool err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int cmd_import(const struct config *c, int argc, char **argv) {
	struct import_ctx x = {0};
	struct store_import_row *rows = NULL;
	struct store *s = NULL;
	char *text = NULL;
	size_t len = 0, line = 0, bad = 0;
	int r, code = EXIT_FAIL;

	if (argc != 1) {
		return usage_error("import takes one FILE.csv.");
	}
	r = read_file(argv[0], &text, &len);
	if (r < 0) {
		return fail("cannot read %s.", argv[0]);
	}
	/* A UTF-8 byte order mark (spreadsheets write one) is not part of the first name. */
	size_t skip = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	r = csv_parse(text + skip, len - skip, import_record, &x, &line);
	if (r < 0) {
		error_linef("%s line %zu: %s; nothing was imported.", argv[0],
				r == -EINVAL && x.why ? x.bad_line : line, x.why ? x.why : "not valid CSV");
		goto out;
	}
	rows = calloc(x.n ? x.n : 1, sizeof(*rows));
	if (!rows) {
		fail("%s", "out of memory.");
		goto out;
	}
	for (size_t i = 0; i < x.n; i++) {
		rows[i] = (struct store_import_row){x.rows[i].name, x.phones + x.rows[i].first,
			x.rows[i].nphones};
	}
	if (open_store(c, &s) != 0) {
		goto out;
	}
	r = store_import(s, rows, x.n, &bad);
	if (r == -EEXIST) {
		error_linef("%s line %zu: a phone belongs to another user or is repeated; "
				"nothing was imported.", argv[0], x.rows[bad].line);
	} else if (r < 0) {
		fail("the import failed (%s); nothing was imported.", errtext(r));
	} else {
		printf("imported %zu user%s\n", x.n, x.n == 1 ? "" : "s");
		code = 0;
	}
out:
	store_close(s);
	free(rows);
	free(x.rows);
	free(x.phones);
	free(text);
	return code;
}

/* ---- simulate ---- */

struct buf {
	char *s;
	size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *ctx) {
	struct buf *b = ctx;
	size_t add = size * n;
	if (b->len + add > 1024 * 1024) {
		return 0;
	}
	char *q = realloc(b->s, b->len + add + 1);
	if (!q) {
		return 0;
	}
	memcpy(q + b->len, p, add);
	b->s = q;
	b->len += add;
	b->s[b->len] = '\0';
	return add;
}

/* The XML reference at p (which is '&'; the text ends before end): its character's UTF-8
 * into out, *ret_len its byte count, and how many bytes of p it takes; 0 when p does not
 * start a reference we know (it is then printed as it is). The five named entities, and
 * numeric ones (&#13; &#x1F600;) of an XML character. */
static size_t xml_reference(const char *p, const char *end, char out[4], size_t *ret_len) {
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t left = (size_t)(end - p);
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		size_t n = strlen(ents[i].ent);
		if (n <= left && memcmp(p, ents[i].ent, n) == 0) {
			out[0] = ents[i].c;
			*ret_len = 1;
			return n;
		}
	}
	if (left < 4 || p[1] != '#') {
		return 0;
	}
	bool hex = p[2] == 'x';
	size_t i = hex ? 3 : 2;
	uint32_t cp = 0;
	size_t digits = 0;
	for (; i < left && digits < 8; i++, digits++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9'		  ? ch - '0'
			: hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
							  : -1;
		if (d < 0) {
			break;
		}
		cp = cp * (hex ? 16 : 10) + (uint32_t)d; /* 8 digits: no overflow */
	}
	if (digits == 0 || i >= left || p[i] != ';' || cp == 0 || cp > 0x10ffff ||
			(cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		*ret_len = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		*ret_len = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		*ret_len = 3;
	} else {
		out[0] = (char)(0xf0 | cp >> 18);
		out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		*ret_len = 4;
	}
	return i + 1;
}

/* Prints the text of our own TwiML's <Message>, references undone. */
static void print_message(const char *xml) {
	const char *start = strstr(xml, "<Message");
	if (!start) {
		return;
	}
	start = strchr(start, '>');
	const char *end = start ? strstr(start, "</Message>") : NULL;
	if (!end) {
		return;
	}
	for (const char *p = start + 1; p < end; p++) {
		char ch[4];
		size_t len = 0;
		size_t n = *p == '&' ? xml_reference(p, end, ch, &len) : 0;
		if (n > 0) {
			fwrite(ch, 1, len, stdout);
			p += n - 1;
		} else {
			putchar(*p);
		}
	}
	putchar('\n');
}

static int cmd_simulate(const struct config *c, int argc, char **argv) {
	const char *from = NULL, *body = NULL, *url = NULL, *to = "+15005550006";
	char token_buf[64];
	const char *token = c->auth_token;
	char default_url[300], sid[40], sig[TWILIO_SIGNATURE_SIZE];
	int code = EXIT_FAIL;

	for (int i = 0; i < argc; i++) {
		const char **slot = !strcmp(argv[i], "--from") ? &from
				    : !strcmp(argv[i], "--body") ? &body
				    : !strcmp(argv[i], "--url")  ? &url
				    : !strcmp(argv[i], "--to")   ? &to
								 : NULL;
		if (!slot || i + 1 >= argc) {
			return usage_error("simulate takes --from PHONE --body TEXT [--url URL] [--to PHONE].");
		}
		*slot = argv[++i];
	}
	if (!from || !body) {
		return usage_error("simulate needs --from PHONE and --body TEXT.");
	}
	if (!token) {
		FILE *f = fopen(DEV_TOKEN_PATH, "r");
		if (!f || !fgets(token_buf, sizeof(token_buf), f)) {
			if (f) {
				fclose(f);
			}
			return fail("%s", "no token to sign with: set TWILIO_AUTH_TOKEN or start "
					  "serve --dev first.");
		}
		fclose(f);
		token_buf[strcspn(token_buf, "\r\n")] = '\0';
		token = token_buf;
	}
	if (!url) {
		snprintf(default_url, sizeof(default_url), "http://%s/sms-router/webhook/sms",
				c->listen);
		url = default_url;
	}
	/* Twilio signs the URL it calls: behind a proxy, the public one. */
	char signed_url[600];
	const char *path = strstr(url, "://");
	path = path ? strchr(path + 3, '/') : NULL;
	snprintf(signed_url, sizeof(signed_url), "%s%s", c->public_url ? c->public_url : "",
			c->public_url ? (path ? path : "/") : url);
	if (ids_random_hex("SM", 16, sid, sizeof(sid)) < 0) {
		return fail("%s", "no randomness for a MessageSid.");
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
	if (twilio_signature_compute(token, signed_url, &params, sig) < 0) {
		return fail("%s", "out of memory.");
	}

	CURL *h = curl_easy_init();
	struct buf resp = {0};
	struct curl_slist *hdr = NULL;
	char *form = NULL;
	if (!h) {
		return fail("%s", "cannot start libcurl.");
	}
	size_t cap = 1;
	for (size_t i = 0; i < params.n; i++) {
		char *e = curl_easy_escape(h, pv[i].value, 0);
		if (!e) {
			goto out;
		}
		size_t need = strlen(pv[i].key) + strlen(e) + 2;
		char *f = realloc(form, cap + need);
		if (!f) {
			curl_free(e);
			goto out;
		}
		if (!form) {
			f[0] = '\0';
		}
		form = f;
		cap += need;
		if (i) {
			strcat(form, "&");
		}
		strcat(form, pv[i].key);
		strcat(form, "=");
		strcat(form, e);
		curl_free(e);
	}
	char sig_header[64];
	snprintf(sig_header, sizeof(sig_header), "X-Twilio-Signature: %s", sig);
	hdr = curl_slist_append(hdr, sig_header);
	hdr = curl_slist_append(hdr, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	CURLcode cr = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cr != CURLE_OK) {
		fail("cannot reach %s (is smsrouter serve running?).", url);
	} else if (status != 200) {
		char st[16];
		snprintf(st, sizeof(st), "%ld", status);
		fail("the server answered HTTP %s.", st);
	} else {
		print_message(resp.s ? resp.s : "");
		code = 0;
	}
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(form);
	free(resp.s);
	return code;
}

/* ---- outbox ---- */

static int print_outbox(void *ctx, const struct store_outbox *o) {
	(void)ctx;
	char when[IDS_TIME_SIZE];
	ids_time_format(o->next_at_ms / 1000, when);
	printf("%lld\t%s\t%s\tattempts=%d\tnext=%s\t%s\n", (long long)o->id, o->user_id,
			o->state, o->attempts, when, o->last_error);
	return 0;
}

static int cmd_outbox(const struct config *c, int argc, char **argv) {
	struct store *s;
	int r, code;

	bool list = argc >= 1 && strcmp(argv[0], "list") == 0 &&
		    (argc == 1 || (argc == 3 && strcmp(argv[1], "--state") == 0));
	bool retry = argc == 2 && strcmp(argv[0], "retry") == 0;
	if (!list && !retry) {
		return usage_error("outbox needs list [--state STATE] or retry ID|--all.");
	}
	static const char *const states[] = {"agent", "send", "sending", "done", "dead"};
	bool known = !list || argc == 1;
	for (size_t i = 0; !known && i < sizeof(states) / sizeof(states[0]); i++) {
		known = strcmp(argv[2], states[i]) == 0;
	}
	if (!known) {
		return usage_error("outbox list --state takes agent, send, sending, done or dead.");
	}
	long long id = 0;
	if (retry && strcmp(argv[1], "--all") != 0) {
		char *end;
		id = strtoll(argv[1], &end, 10);
		if (*end || id <= 0) {
			return usage_error("outbox retry takes an outbox id or --all.");
		}
	}
	if (open_store(c, &s) != 0) {
		return EXIT_FAIL;
	}
	if (list) {
		r = store_outbox_list(s, argc == 3 ? argv[2] : NULL, 10000, print_outbox, NULL);
		code = r < 0 ? fail("cannot list the outbox: %s.", errtext(r)) : 0;
	} else {
		int n = 0;
		r = store_outbox_retry(s, id, ids_now_ms(), &n);
		if (r < 0) {
			code = fail("cannot retry: %s.", errtext(r));
		} else if (n == 0 && id > 0) {
			code = fail("outbox row %s is not dead.", argv[1]);
		} else {
			printf("revived %d\n", n);
			code = 0;
		}
	}
	store_close(s);
	return code;
}

/* ---- usage, migrate ---- */

static int cmd_usage(const struct config *c, int argc, char **argv) {
	int64_t since = ids_now() - 30 * 86400;
	struct store *s;
	json_t *j;

	if (argc == 2 && strcmp(argv[0], "--since") == 0) {
		if (ids_time_parse(argv[1], &since) < 0) {
			return usage_error("--since takes an RFC 3339 date-time such as 2026-11-01T00:00:00Z.");
		}
	} else if (argc != 0) {
		return usage_error("usage takes only --since RFC3339.");
	}
	if (open_store(c, &s) != 0) {
		return EXIT_FAIL;
	}
	int r = admin_usage_json(s, since, &c->segment_price, c->currency, &j);
	store_close(s);
	if (r < 0) {
		return fail("cannot read usage: %s.", errtext(r));
	}
	return print_json(j);
}

static int cmd_migrate(const struct config *c, int argc) {
	struct store *s;
	int version = 0;
	if (argc != 0) {
		return usage_error("migrate takes no arguments.");
	}
	if (open_store(c, &s) != 0) {
		return EXIT_FAIL;
	}
	int r = store_schema_version(s, &version);
	store_close(s);
	if (r < 0) {
		return fail("%s", "cannot read the schema version.");
	}
	printf("schema at version %d\n", version);
	return 0;
}

bool cli_own_option(const char *command, const char *arg) {
	/* Every option below that takes a value: keep in step with the parsers above. */
	static const struct {
		const char *command;
		const char *option;
	} own[] = {
		{"simulate", "--from"}, {"simulate", "--body"}, {"simulate", "--url"},
		{"simulate", "--to"}, {"usage", "--since"}, {"outbox", "--state"},
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (strcmp(command, own[i].command) == 0 && strcmp(arg, own[i].option) == 0) {
			return true;
		}
	}
	return false;
}

int cli_main(const struct config *c, int argc, char **argv) {
	if (argc < 2) {
		return usage_error("a command is needed: serve, migrate, user, phone, import, simulate, "
				   "usage or outbox (smsrouter --help shows how to call each).");
	}
	const char *cmd = argv[1];
	int n = argc - 2;
	char **args = argv + 2;

	if (strcmp(cmd, "serve") == 0) {
		return n == 0 ? cmd_serve(c)
			      : usage_error("serve takes no arguments, only flags such as --dev, "
					    "--listen ADDR and --database-url URL.");
	}
	if (strcmp(cmd, "migrate") == 0) {
		return cmd_migrate(c, n);
	}
	if (strcmp(cmd, "user") == 0) {
		return cmd_user(c, n, args);
	}
	if (strcmp(cmd, "phone") == 0) {
		return cmd_phone(c, n, args);
	}
	if (strcmp(cmd, "import") == 0) {
		return cmd_import(c, n, args);
	}
	if (strcmp(cmd, "simulate") == 0) {
		return cmd_simulate(c, n, args);
	}
	if (strcmp(cmd, "outbox") == 0) {
		return cmd_outbox(c, n, args);
	}
	if (strcmp(cmd, "usage") == 0) {
		return cmd_usage(c, n, args);
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	return usage_error("unknown command (smsrouter --help lists the commands).");
}
