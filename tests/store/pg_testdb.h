#pragma once
/* A fresh database per store test on the private PostgreSQL cluster whose URL is in
 * SMSROUTER_TEST_PG_URL (make postgres starts it: scripts/pg-cluster.sh). Shared by the
 * store tests that run on every backend (test_store.c) and PostgreSQL's own
 * (test_postgres.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ids.h"

/* ---- the cluster ---- */

static inline const char *cluster_url(void) {
	const char *url = getenv("SMSROUTER_TEST_PG_URL");
	return url && *url ? url : NULL;
}

/* The cluster's URL with database db instead of its own. */
static inline void db_url(const char *db, char *out, size_t size) {
	const char *base = cluster_url();
	const char *host = strstr(base, "://");
	const char *slash = strchr(host ? host + 3 : base, '/');
	const char *query = slash ? strchr(slash, '?') : NULL;
	int keep = slash ? (int)(slash - base) : (int)strlen(base);

	snprintf(out, size, "%.*s/%s%s", keep, base, db, query ? query : "");
}

/* Runs sql on the cluster's own database as the smsrouter role. */
static inline int admin(const char *sql) {
	PGconn *pg = PQconnectdb(cluster_url());
	int r = -1;

	if (PQstatus(pg) == CONNECTION_OK) {
		PGresult *res = PQexec(pg, sql);
		r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
		if (r < 0) {
			fprintf(stderr, "admin: %s: %s", sql, PQerrorMessage(pg));
		}
		PQclear(res);
	}
	PQfinish(pg);
	return r;
}

/* Creates an empty database t_<random>: its name into db (size 40), its URL into url. */
static inline int create_db(char *db, char *url, size_t url_size) {
	char hex[IDS_SIZE], sql[128];

	if (ids_random_hex("", 8, hex, sizeof(hex)) < 0) {
		return -1;
	}
	snprintf(db, 40, "t_%s", hex);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if (admin(sql) < 0) {
		return -1;
	}
	db_url(db, url, url_size);
	return 0;
}

/* Without FORCE, which would need the right to end other roles' backends (autovacuum's,
 * a superuser's session that is still ending): the server ends autovacuum itself and waits
 * a few seconds for sessions that are closing. */
static inline void drop_db(const char *db) {
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	for (int i = 0; i < 3 && admin(sql) < 0; i++) {
		sleep(1);
	}
}

