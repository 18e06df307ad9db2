/* send, scheduled and cancel: messages smsrouter starts itself, from the command line,
 * written to the store as the send endpoint writes them (proactive.c); a running server's
 * sender hands them to Twilio. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "ids.h"
#include "phone.h"
#include "proactive.h"

#define SEND_USAGE                                                                         \
	"send takes an ID or a PHONE, then --body TEXT and optionally --at RFC3339, --media "  \
	"URL (repeated) and --key KEY."

/* The user an ID or a PHONE argument names, into id. 0, or an exit code (said why). */
static int user_of(struct store *s, const char *arg, char id[STORE_ID_SIZE]) {
	struct store_user u;
	int r = phone_is_valid(arg) ? store_user_by_phone(s, arg, &u) : store_user_get(s, arg, &u);
	if (r < 0) {
		return r == -ENOENT ? cli__fail("no user %s.", arg)
				    : cli__fail("cannot find the user: %s.", cli__errtext(r));
	}
	memcpy(id, u.id, STORE_ID_SIZE);
	return 0;
}

/* send ID|PHONE --body TEXT [--at RFC3339] [--media URL]... [--key KEY]: prints the id. */
int cli__send(const struct config *c, int argc, char **argv) {
	const char *media[PROACTIVE_MAX_MEDIA + 1];
	struct proactive_request rq = {0};
	struct proactive_refusal refusal;
	char user_id[STORE_ID_SIZE], id[STORE_ID_SIZE];
	struct store *s = NULL;
	bool created = false;

	if (argc < 1 || argv[0][0] == '-') {
		return cli__usage_error(SEND_USAGE);
	}
	for (int i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			return cli__usage_error(SEND_USAGE);
		}
		if (strcmp(opt, "--body") == 0) {
			rq.body = v;
			rq.body_len = strlen(v);
		} else if (strcmp(opt, "--at") == 0) {
			rq.send_at = v;
		} else if (strcmp(opt, "--key") == 0) {
			rq.key = v;
		} else if (strcmp(opt, "--media") == 0 && rq.nmedia <= PROACTIVE_MAX_MEDIA) {
			media[rq.nmedia++] = v;
		} else {
			return cli__usage_error(SEND_USAGE);
		}
	}
	if (!rq.body) {
		return cli__usage_error(SEND_USAGE);
	}
	rq.media = media;
	int r = cli__open_store(c, &s);
	if (r == 0) {
		r = user_of(s, argv[0], user_id);
	}
	if (r == 0) {
		rq.user_id = user_id;
		struct proactive p = {.config = c, .store = s};
		int e = proactive_send(&p, &rq, id, &created, &refusal);
		if (e == 1) {
			cli__error_linef("%s", refusal.message);
			r = refusal.status == 422 ? CLI__EXIT_USAGE : CLI__EXIT_FAIL;
		} else if (e < 0) {
			r = cli__fail("cannot send: %s.", cli__errtext(e));
		} else {
			printf("%s\n", id);
		}
	}
	store_close(s);
	return r;
}

static int print_scheduled(void *ctx, const struct store_scheduled_row *row) {
	char when[IDS_TIME_SIZE];
	(void)ctx;
	ids_time_format(row->not_before, when);
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", row->user_id, row->uid, row->kind ? row->kind : "",
			row->status, when, row->to);
	return 0;
}

/* scheduled [--user ID]: one line per message not yet handed to Twilio, due first: user,
 * id, kind, status, not_before, to. */
int cli__scheduled(const struct config *c, int argc, char **argv) {
	struct store *s = NULL;
	const char *user = NULL;

	if (argc == 2 && strcmp(argv[0], "--user") == 0) {
		user = argv[1];
	} else if (argc != 0) {
		return cli__usage_error("scheduled takes no argument, or --user ID.");
	}
	int r = cli__open_store(c, &s);
	if (r == 0) {
		int e = store_scheduled(s, user, -1, print_scheduled, NULL);
		r = e < 0 ? cli__fail("cannot list the scheduled messages: %s.", cli__errtext(e)) : 0;
	}
	store_close(s);
	return r;
}

/* cancel ID MSG_ID: the message is never sent, if it was not handed to Twilio yet. */
int cli__cancel(const struct config *c, int argc, char **argv) {
	struct proactive_refusal refusal;
	struct store *s = NULL;

	if (argc != 2) {
		return cli__usage_error("cancel takes a user ID and a message ID.");
	}
	int r = cli__open_store(c, &s);
	if (r == 0) {
		struct proactive p = {.config = c, .store = s};
		int e = proactive_cancel(&p, argv[0], argv[1], &refusal);
		if (e == 1) {
			cli__error_linef("%s", refusal.message);
			r = CLI__EXIT_FAIL;
		} else if (e < 0) {
			r = cli__fail("cannot cancel: %s.", cli__errtext(e));
		}
	}
	store_close(s);
	return r;
}
