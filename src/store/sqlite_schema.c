/* The SQLite dialect's file and schema, apart from its connections and commits (sqlite.c):
 * the database's directory, its schema version (PRAGMA user_version) and the migrations of
 * the one list (migrations.c) that it lacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store/dialect.h"

static int run(sqlite3 *db, const char *text) {
	return sqlite3_exec(db, text, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int store__sqlite_user_version(sqlite3 *db, int *ret) {
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		return -EIO;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

/* Applies the migrations the list has and the database lacks, each in its own
 * transaction, so that two processes starting together apply each one once. */
int store__sqlite_migrate(sqlite3 *db) {
	int version;
	if (run(db, "PRAGMA journal_mode = WAL") < 0) {
		return -EIO;
	}
	for (;;) {
		if (run(db, "BEGIN IMMEDIATE") < 0) {
			return -EIO;
		}
		if (store__sqlite_user_version(db, &version) < 0) {
			goto fail;
		}
		if (version >= store__schema_version) {
			return run(db, "COMMIT");
		}
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		const char *const *part = store__migrations[version].sqlite;
		for (; part && *part; part++) {
			if (run(db, *part) < 0) {
				goto fail;
			}
		}
		if (run(db, pragma) < 0 || run(db, "COMMIT") < 0) {
			goto fail;
		}
	}
fail:
	run(db, "ROLLBACK");
	return -EIO;
}

/* mkdir -p of the directory part of path. */
int store__sqlite_make_parent(const char *path) {
	char *dir = strdup(path);
	if (!dir) {
		return -ENOMEM;
	}
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) {
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0700);
				*p = '/';
			}
		}
		mkdir(dir, 0700);
	}
	free(dir);
	return 0;
}
