/* smsrouter: one Twilio number, many users. See README.md and cli.c. */
#include <stdio.h>

#include <curl/curl.h>

#include "cli.h"
#include "config.h"
#include "log.h"

int main(int argc, char **argv) {
	struct config c;
	char err[256];

	if (config_load(&c, &argc, argv, cli_own_option, err, sizeof(err)) < 0) {
		fprintf(stderr, "smsrouter: %s\n", err);
		return 2;
	}
	log_setup(c.log_level, c.log_json);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int code = cli_main(&c, argc, argv);
	curl_global_cleanup();
	return code;
}
