/* The operator's commands: outbox (list, retry), usage, export and migrate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli/command.h"
#include "ids.h"

static int print_outbox(void *ctx, const struct store_outbox *o) {
	(void)ctx;
	char when[IDS_TIME_SIZE];
	ids_time_format(o->next_at_ms / 1000, when);
	printf("%lld\t%s\t%s\tattempts=%d\tnext=%s\t%s\n", (long long)o->id, o->user_id,
			o->state, o->attempts, when, o->last_error);
	return 0;
}

int cli__outbox(const struct config *c, int argc, char **argv) {
	struct store *s;
	int r, code;

	bool list = argc >= 1 && strcmp(argv[0], "list") == 0 &&
		    (argc == 1 || (argc == 3 && strcmp(argv[1], "--state") == 0));
	bool retry = argc == 2 && strcmp(argv[0], "retry") == 0;
	if (!list && !retry) {
		return cli__usage_error("outbox needs list [--state STATE] or retry ID|--all.");
	}
	static const char *const states[] = {"agent", "send", "sending", "done", "dead"};
	bool known = !list || argc == 1;
	for (size_t i = 0; !known && i < sizeof(states) / sizeof(states[0]); i++) {
		known = strcmp(argv[2], states[i]) == 0;
	}
	if (!known) {
		return cli__usage_error("outbox list --state takes agent, send, sending, done or dead.");
	}
	long long id = 0;
	if (retry && strcmp(argv[1], "--all") != 0) {
		char *end;
		id = strtoll(argv[1], &end, 10);
		if (*end || id <= 0) {
			return cli__usage_error("outbox retry takes an outbox id or --all.");
		}
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	if (list) {
		r = store_outbox_list(s, argc == 3 ? argv[2] : NULL, 10000, print_outbox, NULL);
		code = r < 0 ? cli__fail("cannot list the outbox: %s.", cli__errtext(r)) : 0;
	} else {
		int n = 0;
		r = store_outbox_retry(s, id, ids_now_ms(), &n);
		if (r < 0) {
			code = cli__fail("cannot retry: %s.", cli__errtext(r));
		} else if (n == 0 && id > 0) {
			code = cli__fail("outbox row %s is not dead.", argv[1]);
		} else {
			printf("revived %d\n", n);
			code = 0;
		}
	}
	store_close(s);
	return code;
}

int cli__usage(const struct config *c, int argc, char **argv) {
	int64_t since = ids_now() - 30 * 86400;
	struct store *s;
	json_t *j;

	if (argc == 2 && strcmp(argv[0], "--since") == 0) {
		if (ids_time_parse(argv[1], &since) < 0) {
			return cli__usage_error("--since takes an RFC 3339 date-time such as 2026-11-01T00:00:00Z.");
		}
	} else if (argc != 0) {
		return cli__usage_error("usage takes only --since RFC3339.");
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	int r = admin_usage_json(s, since, &c->prices, c->currency, &j);
	store_close(s);
	if (r < 0) {
		return cli__fail("cannot read usage: %s.", cli__errtext(r));
	}
	return cli__print_json(j);
}

int cli__export(const struct config *c, int argc, char **argv) {
	struct store *s;
	struct admin_export *e = NULL;
	char *chunk = NULL;
	size_t len = 0;

	if (argc != 1) {
		return cli__usage_error("export takes one user id: smsrouter export ID > user.json.");
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	int r = admin_export_create(s, argv[0], &c->prices, &e);
	/* A chunk at a time, as the API streams it. */
	while (r == 0 && (r = admin_export_next(e, &chunk, &len)) == 0 && len > 0) {
		r = fwrite(chunk, 1, len, stdout) == len ? 0 : -EIO;
		free(chunk);
	}
	admin_export_destroy(e);
	store_close(s);
	if (r == 0 && fflush(stdout) != 0) {
		r = -EIO;
	}
	if (r < 0) {
		return cli__fail(r == -ENOENT ? "cannot export: no user %s." : "cannot export: %s.",
				r == -ENOENT ? argv[0] : cli__errtext(r));
	}
	return 0;
}

int cli__migrate(const struct config *c, int argc) {
	struct store *s;
	int version = 0;
	if (argc != 0) {
		return cli__usage_error("migrate takes no arguments.");
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	int r = store_schema_version(s, &version);
	store_close(s);
	if (r < 0) {
		return cli__fail("%s", "cannot read the schema version.");
	}
	printf("schema at version %d\n", version);
	return 0;
}
