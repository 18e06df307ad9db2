/* The PostgreSQL dialect's connections (postgres.c says how they are used): one per
 * thread, opened on first use, checked without a round trip before an idle one is used; the
 * role check and the migrations at open. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ids.h"
#include "log.h"
#include "store/postgres.h"

#define SYSTEM_ROLE STORE__PG_SYSTEM_ROLE
#define MIGRATE_LOCK "7310593858" /* pg_advisory_xact_lock key of the migrations */

/* Runs first, in the migrations' transaction: the lock, the schema and the version table. */
static const char migrate_prelude[] =
	"SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
	"CREATE SCHEMA IF NOT EXISTS smsrouter;"
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	"  version integer PRIMARY KEY,"
	"  applied_at bigint NOT NULL)";

/* ---- connections ---- */

/* The server's notices (e.g. "schema exists, skipping") are not ours to print. */
static void quiet(void *arg, const char *message) {
	(void)arg;
	(void)message;
}

void pg__conn_drop(struct conn *c) {
	PQfinish(c->pg);
	c->pg = NULL;
	c->deferred = 0;
	memset(c->prepared, 0, sizeof(c->prepared));
	memset(c->nparams, 0, sizeof(c->nparams));
}

static void conn_free(struct conn *c) {
	pg__conn_drop(c);
	store__stats_free(&c->stats);
	free(c);
}

void pg__conn_gone(struct store_conn *link) {
	conn_free((struct conn *)link);
}

/* Runs text without parameters (one-off SQL: set-up, migrations). 0 or -EIO. */
static int exec_text(PGconn *pg, const char *text) {
	PGresult *res = PQexec(pg, text);
	ExecStatusType st = PQresultStatus(res);
	int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -EIO;

	if (r < 0) {
		log_debug("store.pg_failed", LOG_STR("error", PQerrorMessage(pg)));
	}
	PQclear(res);
	return r;
}

/* Opens a connection to url. The URL's own settings win over ours (listed first). Besides
 * the short connect timeout, a server host that vanishes mid-call (no restart, no reset)
 * is given up after 10 s of unacknowledged data rather than the kernel's many minutes. */
static PGconn *pg_connect(const char *url) {
	static const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "keepalives_idle",
		"application_name", "client_encoding", "dbname", NULL};
	const char *const values[] = {"2", "10000", "30", "smsrouter", "UTF8", url, NULL};
	PGconn *pg = PQconnectdbParams(keys, values, 1);

	if (!pg) {
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		log_debug("store.pg_connect_failed", LOG_STR("error", PQerrorMessage(pg)));
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, quiet, NULL);
	if (exec_text(pg, "SET search_path = smsrouter") < 0) {
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Whether an idle connection is still usable, without a round trip: a server that shut
 * down has sent its last words and closed the socket, so the socket reads; anything else
 * readable while idle (a notice) is consumed and the connection kept. */
static bool conn_alive(struct conn *c) {
	if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		return false;
	}
	for (int i = 0; i < 4; i++) {
		struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
		int n = poll(&pfd, 1, 0);
		if (n == 0) {
			return true;
		}
		if (n < 0 || !PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
			return false;
		}
	}
	return true;
}

/* The thread's connection: connected and idle, or in the transaction it has open. 0,
 * -ENOMEM, -EIO (the server is away). */
int pg__conn_get(struct pg_store *q, struct conn **ret) {
	struct conn *c = (struct conn *)store_conns_mine(&q->conns);

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c) {
			return -ENOMEM;
		}
		if (store_conns_add(&q->conns, &c->link) < 0) {
			free(c);
			return -ENOMEM;
		}
	}
	if (c->depth > 0) {
		/* Inside a transaction the connection must stay the same one. */
		if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
			return -EIO;
		}
		*ret = c;
		return 0;
	}
	if (c->pg && !conn_alive(c)) {
		pg__conn_drop(c);
	}
	if (!c->pg) {
		c->pg = pg_connect(q->url);
		if (!c->pg) {
			return -EIO;
		}
	}
	*ret = c;
	return 0;
}

/* Row-level security binds neither a superuser nor a BYPASSRLS role, nor one that holds
 * smsrouter_system's rights (the cross-user policies): the service must not connect as
 * any of them. 0, -EPERM (such a role), or -EIO. */
int pg__check_role(PGconn *pg) {
	PGresult *res = PQexec(pg, "SELECT r.rolsuper OR r.rolbypassrls OR coalesce(CASE WHEN "
				   "to_regrole('" SYSTEM_ROLE "') IS NOT NULL THEN "
				   "pg_has_role(current_user, '" SYSTEM_ROLE "', 'USAGE') END, "
				   "false) FROM pg_roles r WHERE r.rolname = current_user");
	int r = -EIO;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
			r = 0;
		} else {
			r = -EPERM;
			log_debug("store.pg_role_refused",
					LOG_STR("reason", "superuser, BYPASSRLS or member of "
							  "smsrouter_system with INHERIT"));
		}
	}
	PQclear(res);
	return r;
}

/* Applies the migrations the list has and the database lacks, in one transaction under an
 * advisory lock: a second process starting at the same time waits, then finds them done. */
int pg__migrate(PGconn *pg) {
	PGresult *res = NULL;
	int version;

	if (exec_text(pg, "BEGIN") < 0) {
		return -EIO;
	}
	if (exec_text(pg, migrate_prelude) < 0) {
		goto fail;
	}
	res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		goto fail;
	}
	version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	for (; version < store__schema_version; version++) {
		char insert[128];
		for (const char *const *part = store__migrations[version].pg; part && *part; part++) {
			if (exec_text(pg, *part) < 0) {
				goto fail;
			}
		}
		snprintf(insert, sizeof(insert),
				"INSERT INTO schema_migrations (version, applied_at) "
				"VALUES (%d, %lld)",
				version + 1, (long long)ids_now());
		if (exec_text(pg, insert) < 0) {
			goto fail;
		}
	}
	return exec_text(pg, "COMMIT");
fail:
	PQclear(res);
	exec_text(pg, "ROLLBACK");
	return -EIO;
}

