/* cli's shared helpers: one-sentence errors on stderr, the store opened with the settings,
 * JSON on stdout. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"

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

__attribute__((format(printf, 1, 2))) void cli__error_linef(const char *fmt, ...) {
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

/* One sentence (the usage block is smsrouter --help's). */
int cli__usage_error(const char *msg) {
	error_line(msg);
	return CLI__EXIT_USAGE;
}

int cli__fail(const char *fmt, const char *arg) {
	cli__error_linef(fmt, arg);
	return CLI__EXIT_FAIL;
}

int cli__bad_phone(const char *phone) {
	cli__error_linef("%s is not an E.164 number ('+' then 8 to 15 digits).", phone);
	return CLI__EXIT_USAGE;
}

const char *cli__errtext(int r) {
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

int cli__open_store(const struct config *c, struct store **ret) {
	struct store_options o = {
		.sync = c->sqlite_sync == CONFIG_SYNC_FULL     ? STORE_SYNC_FULL
			: c->sqlite_sync == CONFIG_SYNC_NORMAL ? STORE_SYNC_NORMAL
							       : STORE_SYNC_GROUP,
		/* A command that changes a status or an opt-out records its event too: a
		 * running serve delivers it. */
		.events = c->events_url != NULL,
	};
	int r = store_open(c->database_url, &o, ret);
	if (r == -EINVAL) {
		return cli__fail("cannot open the store: %s must be sqlite:PATH or a postgresql:// URL.",
				"SMSROUTER_DATABASE_URL");
	}
	if (r == -EPERM) {
		return cli__fail("cannot open the store (%s): the role is a superuser, has BYPASSRLS or "
			    "inherits smsrouter_system, so row-level security would not bind it; "
			    "connect as the service role.", "PostgreSQL");
	}
	if (r < 0) {
		/* A postgresql:// URL may hold a password: name only the kind of store. */
		return cli__fail("cannot open the store (%s): check SMSROUTER_DATABASE_URL and that the "
			    "database answers.", strncmp(c->database_url, "sqlite:", 7) == 0
							   ? c->database_url
							   : "PostgreSQL");
	}
	return 0;
}

int cli__print_json(json_t *j) {
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!text) {
		return cli__fail("%s.", "out of memory");
	}
	puts(text);
	free(text);
	return 0;
}
