#pragma once
/* A SQLite store in a fresh temporary directory, for the unit tests of the store and of
 * what sits on it (memo agent, router), and its removal. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define TMPSTORE_DIR_SIZE 64
#define TMPSTORE_URL_SIZE 128

/* Makes /tmp/smsrouter-<name>-XXXXXX into dir and opens sqlite:<dir>/t.db (its URL into
 * url, which may be NULL). 0, or -1 with nothing left behind. */
static inline int tmpstore_open(const char *name, char dir[TMPSTORE_DIR_SIZE],
		char *url, struct store **ret) {
	char u[TMPSTORE_URL_SIZE];
	snprintf(dir, TMPSTORE_DIR_SIZE, "/tmp/smsrouter-%s-XXXXXX", name);
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(u, sizeof(u), "sqlite:%s/t.db", dir);
	if (store_open(u, NULL, ret) != 0) {
		rmdir(dir);
		return -1;
	}
	if (url) {
		memcpy(url, u, sizeof(u));
	}
	return 0;
}

#define TMPSTORE_ADA_PHONE "+15550100101"
#define TMPSTORE_BOB_PHONE "+15550100102"

/* Adds the two users the tests talk about: Ada and Bob, one phone each. 0 or -1. */
static inline int tmpstore_add_ada_and_bob(struct store *s, struct store_user *ada,
		struct store_user *bob) {
	const char *p1[] = {TMPSTORE_ADA_PHONE};
	const char *p2[] = {TMPSTORE_BOB_PHONE};
	if (store_user_add(s, "Ada", p1, 1, ada, NULL) != 0 ||
	    store_user_add(s, "Bob", p2, 1, bob, NULL) != 0) {
		return -1;
	}
	return 0;
}

/* Removes dir and the files in it (the database, its WAL and shm). */
static inline void tmpstore_remove(const char *dir) {
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
				continue;
			}
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}
