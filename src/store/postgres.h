#pragma once
/* The PostgreSQL dialect's own (postgres.c: statements, transactions, the dialect;
 * postgres_conn.c: connections, the role check, migrations). Only those files include it. */
#include <stdbool.h>

#include <libpq-fe.h>

#include "store/dialect.h"

struct conn {
	struct store_conn link; /* first: the registry's */
	PGconn *pg; /* NULL while disconnected */
	bool prepared[ST_COUNT];
	int nparams[ST_COUNT]; /* the parameters each prepared statement takes */
	int depth; /* open transactions: 1 a BEGIN, more its savepoints */
	int deferred; /* commands sent in pipeline mode whose results are not read yet */
	struct store__stats_log stats; /* the open transaction's messages, counted */
};

struct pg_store {
	struct store base; /* first: the interface */
	char *url;
	struct store_conns conns; /* one connection per thread */
};

static inline struct pg_store *PG(struct store *s) {
	return (struct pg_store *)s;
}

/* postgres_conn.c's. */
/* Closes c's connection (it connects again on next use) and forgets what it prepared. */
void pg__conn_drop(struct conn *c);
/* The registry's destructor of a thread's connection. */
void pg__conn_gone(struct store_conn *link);
/* The thread's connection: connected and idle, or in the transaction it has open. 0,
 * -ENOMEM, -EIO (the server is away). */
int pg__conn_get(struct pg_store *q, struct conn **ret);
/* 0, -EPERM (a role row-level security would not bind), or -EIO. */
int pg__check_role(PGconn *pg);
/* Brings the schema to the newest version. 0 or -EIO. */
int pg__migrate(PGconn *pg);
