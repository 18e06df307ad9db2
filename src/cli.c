#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "serve.h"
#include "store/store.h"


static const char usage_text[] =
	"usage: smsrouter serve [--dev] [--listen ADDR] [--database-url URL]\n"
	"       smsrouter migrate\n"
	"       smsrouter user add NAME PHONE...\n"
	"       smsrouter user list | show ID|PHONE | rm ID\n"
	"       smsrouter user set ID [--timezone TZ] [--locale TAG] [--tag T]...\n"
	"       smsrouter phone add ID PHONE | rm PHONE\n"
	"       smsrouter import FILE.csv\n"
	"       smsrouter simulate --from PHONE --body TEXT [--url URL] [--to PHONE]\n"
	"       smsrouter usage [--since RFC3339]\n"
	"       smsrouter send ID|PHONE --body TEXT [--at RFC3339] [--media URL]... [--key KEY]\n"
	"       smsrouter scheduled [--user ID] | cancel ID MSG_ID\n"
	"       smsrouter export ID > user.json\n"
	"       smsrouter outbox list [--state STATE] | retry ID|--all\n";

/* ---- serve ---- */

static int cmd_serve(const struct config *c) {
	char why[512];
	int r = serve(c, cli__open_store, why, sizeof(why));
	if (why[0]) {
		cli__error_linef("%s", why);
	}
	return r == 0 ? 0 : r == -EINVAL ? CLI__EXIT_USAGE : CLI__EXIT_FAIL;
}

bool cli_own_option(const char *command, const char *arg) {
	/* Every option that takes a value: keep in step with the parsers in cli/. */
	static const struct {
		const char *command;
		const char *option;
	} own[] = {
		{"simulate", "--from"}, {"simulate", "--body"}, {"simulate", "--url"},
		{"simulate", "--to"}, {"usage", "--since"}, {"outbox", "--state"},
		{"user", "--timezone"}, {"user", "--locale"}, {"user", "--tag"}, {"user", "--agent"},
		{"user", "--mode"}, {"send", "--body"}, {"send", "--at"}, {"send", "--media"},
		{"send", "--key"}, {"scheduled", "--user"},
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
		return cli__usage_error("a command is needed: serve, migrate, user, phone, import, simulate, "
				   "usage, outbox, send, scheduled, cancel or export (smsrouter --help shows how to call each).");
	}
	const char *cmd = argv[1];
	int n = argc - 2;
	char **args = argv + 2;

	if (strcmp(cmd, "serve") == 0) {
		return n == 0 ? cmd_serve(c)
			      : cli__usage_error("serve takes no arguments, only flags such as --dev, "
					    "--listen ADDR and --database-url URL.");
	}
	if (strcmp(cmd, "migrate") == 0) {
		return cli__migrate(c, n);
	}
	if (strcmp(cmd, "user") == 0) {
		return cli__user(c, n, args);
	}
	if (strcmp(cmd, "phone") == 0) {
		return cli__phone(c, n, args);
	}
	if (strcmp(cmd, "import") == 0) {
		return cli__import(c, n, args);
	}
	if (strcmp(cmd, "simulate") == 0) {
		return cli__simulate(c, n, args);
	}
	if (strcmp(cmd, "outbox") == 0) {
		return cli__outbox(c, n, args);
	}
	if (strcmp(cmd, "usage") == 0) {
		return cli__usage(c, n, args);
	}
	if (strcmp(cmd, "export") == 0) {
		return cli__export(c, n, args);
	}
	if (strcmp(cmd, "send") == 0) {
		return cli__send(c, n, args);
	}
	if (strcmp(cmd, "scheduled") == 0) {
		return cli__scheduled(c, n, args);
	}
	if (strcmp(cmd, "cancel") == 0) {
		return cli__cancel(c, n, args);
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	return cli__usage_error("unknown command (smsrouter --help lists the commands).");
}
