/* store on PostgreSQL: being written (issue 4). Until then a postgresql:// URL is refused. */
#include <errno.h>

#include "store/backend.h"

int store_postgres_open(const char *url, const struct store_options *o, struct store **ret) {
	(void)url;
	(void)o;
	(void)ret;
	return -EINVAL;
}
