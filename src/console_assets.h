#pragma once
/* console_assets: the operator console's files (web/console/ and Chart.js), compiled into
 * the binary by scripts/embed.py at build time. Knows nothing else. */
#include <stddef.h>

struct console_asset {
	const char *name;         /* served as /sms-router/console/<name> */
	const char *content_type; /* from the name's extension */
	const unsigned char *data; /* size bytes, then a NUL */
	size_t size;
};

extern const struct console_asset console_assets[];
extern const size_t console_assets_count;
