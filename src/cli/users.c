/* user and phone: people and their numbers, from the command line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "cli/command.h"
#include "phone.h"

static int print_user_line(void *ctx, const struct store_user *u) {
	(void)ctx;
	printf("%s\t%s\t", u->id, u->name);
	for (int i = 0; i < u->nphones; i++) {
		printf("%s%s", i ? "," : "", u->phones[i]);
	}
	printf("\t%s\n", u->opted_out ? "opted_out" : "");
	return 0;
}

#define SET_USAGE                                                                          \
	"user set takes an ID, then --timezone TZ, --locale TAG, --tag T (repeated), --agent "  \
	"NAME or --mode MODE."

/* user set ID [--timezone TZ] [--locale TAG] [--tag T]... [--agent NAME] [--mode MODE]: the
 * options given change, the others stay. An empty --timezone, --locale or --agent clears
 * it; the --tag options replace the list, and one empty --tag empties it. Checked whole
 * (store_user_patch_check, and the agent among the configured ones) before the store is
 * opened. */
static int user_set(const struct config *c, int argc, char **argv) {
	struct store_user_patch p = {0};
	const char *tags[STORE_MAX_TAGS + 1];
	const char *field = NULL, *why = NULL;
	struct store *s = NULL;
	struct store_user u;
	size_t ntags = 0;

	if (argc < 2 || argv[1][0] == '-') {
		return cli__usage_error(SET_USAGE);
	}
	for (int i = 2; i < argc; i += 2) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			return cli__usage_error(SET_USAGE);
		}
		if (strcmp(opt, "--timezone") == 0) {
			p.set_timezone = true;
			p.timezone = v[0] ? v : NULL;
		} else if (strcmp(opt, "--locale") == 0) {
			p.set_locale = true;
			p.locale = v[0] ? v : NULL;
		} else if (strcmp(opt, "--tag") == 0) {
			p.set_tags = true;
			if (ntags > STORE_MAX_TAGS) {
				return cli__usage_error("a user has at most 20 tags.");
			}
			tags[ntags++] = v;
		} else if (strcmp(opt, "--agent") == 0) {
			p.set_agent = true;
			p.agent = v[0] ? v : NULL;
		} else if (strcmp(opt, "--mode") == 0) {
			p.mode = v;
		} else {
			return cli__usage_error(SET_USAGE);
		}
	}
	p.tags = tags;
	p.ntags = ntags == 1 && tags[0][0] == '\0' ? 0 : ntags; /* --tag '': no tags */
	if (store_user_patch_check(&p, &field, &why) < 0) {
		cli__error_linef("--%s: %s.", strcmp(field, "tags") == 0 ? "tag" : field, why);
		return CLI__EXIT_USAGE;
	}
	if (p.set_agent && p.agent && !config_agent_known(c, p.agent)) {
		cli__error_linef("--agent: no agent named %s is configured (default or one of "
				 "SMSROUTER_AGENTS).",
				p.agent);
		return CLI__EXIT_USAGE;
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	int r = store_user_set(s, argv[1], &p, &u);
	int code = r == -ENOENT ? cli__fail("no user %s.", argv[1])
		   : r < 0      ? cli__fail("cannot set the user: %s.", cli__errtext(r))
				: cli__print_json(admin_user_json(&u));
	store_close(s);
	return code;
}

int cli__user(const struct config *c, int argc, char **argv) {
	struct store *s = NULL;
	struct store_user u;
	int r, code = CLI__EXIT_FAIL;

	if (argc < 1) {
		return cli__usage_error("user needs a subcommand: add, list, show, set or rm.");
	}
	const char *sub = argv[0];
	if (strcmp(sub, "set") == 0) {
		return user_set(c, argc, argv);
	}
	if (strcmp(sub, "add") == 0) {
		const char *why;
		if (argc < 3) {
			return cli__usage_error("user add needs a NAME and at least one PHONE.");
		}
		if (store_name_check(argv[1], &why) < 0) {
			cli__error_linef("%s.", why);
			return CLI__EXIT_USAGE;
		}
		if (argc - 2 > STORE_MAX_PHONES) {
			return cli__fail("%s", "a user has at most 10 phone numbers.");
		}
		for (int i = 2; i < argc; i++) {
			if (!phone_is_valid(argv[i])) {
				return cli__bad_phone(argv[i]);
			}
		}
	} else if (strcmp(sub, "list") == 0) {
		if (argc != 1) {
			return cli__usage_error("user list takes no arguments.");
		}
	} else if (strcmp(sub, "show") == 0 || strcmp(sub, "rm") == 0) {
		if (argc != 2) {
			return cli__usage_error("user show takes one ID or PHONE, and user rm one ID.");
		}
		/* A '+' says PHONE: one nobody can own is a bad number, not a missing user. */
		if (strcmp(sub, "show") == 0 && argv[1][0] == '+' && !phone_is_valid(argv[1])) {
			return cli__bad_phone(argv[1]);
		}
	} else {
		return cli__usage_error("user needs a subcommand: add, list, show, set or rm.");
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	if (strcmp(sub, "add") == 0) {
		size_t bad = 0;
		r = store_user_add(s, argv[1], (const char *const *)argv + 2, (size_t)(argc - 2), &u,
				&bad);
		if (r == -EEXIST) {
			cli__fail("%s belongs to another user (or is repeated).", argv[2 + bad]);
		} else if (r < 0) {
			cli__fail("cannot add the user: %s.", cli__errtext(r));
		} else {
			puts(u.id);
			code = 0;
		}
	} else if (strcmp(sub, "list") == 0) {
		r = store_user_list(s, print_user_line, NULL);
		code = r < 0 ? cli__fail("cannot list users: %s.", cli__errtext(r)) : 0;
	} else if (strcmp(sub, "show") == 0) {
		r = argv[1][0] == '+' ? store_user_by_phone(s, argv[1], &u)
				      : store_user_get(s, argv[1], &u);
		code = r < 0 ? cli__fail("no user %s.", argv[1]) : cli__print_json(admin_user_json(&u));
	} else {
		r = store_user_delete(s, argv[1]);
		code = r < 0 ? cli__fail(r == -ENOENT ? "no user %s." : "cannot delete %s.", argv[1]) : 0;
	}
	store_close(s);
	return code;
}

int cli__phone(const struct config *c, int argc, char **argv) {
	struct store *s = NULL;
	struct store_user u;
	int r, code;

	bool add = argc == 3 && strcmp(argv[0], "add") == 0;
	bool rm = argc == 2 && strcmp(argv[0], "rm") == 0;
	if (!add && !rm) {
		return cli__usage_error("phone needs add ID PHONE or rm PHONE.");
	}
	const char *phone = add ? argv[2] : argv[1];
	if (!phone_is_valid(phone)) {
		return cli__bad_phone(phone);
	}
	if (cli__open_store(c, &s) != 0) {
		return CLI__EXIT_FAIL;
	}
	if (add) {
		r = store_phone_add(s, argv[1], phone);
		if (r == -EEXIST) {
			code = cli__fail("%s belongs to another user.", phone);
		} else if (r == -ENOENT) {
			code = cli__fail("no user %s.", argv[1]);
		} else {
			code = r < 0 ? cli__fail("cannot add the phone: %s.", cli__errtext(r)) : 0;
		}
	} else {
		r = store_user_by_phone(s, phone, &u);
		if (r == 0) {
			r = store_phone_remove(s, u.id, phone);
		}
		code = r < 0 ? cli__fail(r == -ENOENT ? "no user has %s." : "cannot remove %s.", phone) : 0;
	}
	store_close(s);
	return code;
}
