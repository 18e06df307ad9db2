/* SQLite only: the WAL stays bounded under a writer that is never idle. A PASSIVE
 * checkpoint never catches up with such a writer, and SQLite starts the WAL file over
 * only when a write begins with every frame copied: without the store's cap the file
 * grows for as long as the load lasts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/dialect.h"
#include "store/store.h"
#include "../tmpstore.h"

#define COMMITS 10000
#define FRAME_BYTES (4096 + 24)

static long wal_bytes(const char *dir) {
	char path[TMPSTORE_DIR_SIZE + 16];
	struct stat st;
	snprintf(path, sizeof(path), "%s/t.db-wal", dir);
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* One inbound message of user_id's: 0, or the store's error. */
static int add_message(struct store *s, const char *user_id, const char *sid) {
	struct store_message m = {
		.sid = sid,
		.from = TMPSTORE_ADA_PHONE,
		.to = "+15550199999",
		.body = "remember the milk, and the eggs, and the bread",
		.status = "received",
		.encoding = "GSM-7",
		.segments = 1,
	};
	int64_t id = 0;
	return store_inbound_add(s, user_id, &m, &id);
}

/* Commits back to back, as the writer thread does at full load; returns the WAL file's
 * largest size seen. */
static long write_without_pause(struct store *s, const char *dir, const char *user_id) {
	long largest = 0;
	for (int i = 0; i < COMMITS; i++) {
		char sid[STORE_SID_SIZE];
		snprintf(sid, sizeof(sid), "SMwal%06d", i);
		assert_int_equal(add_message(s, user_id, sid), 0);
		if (i % 100 == 0) {
			long b = wal_bytes(dir);
			largest = b > largest ? b : largest;
		}
	}
	return largest;
}

static int count(void *ctx, const struct store_message *m) {
	(void)m;
	(*(int *)ctx)++;
	return 0;
}

static void test_wal_stays_under_its_cap_while_the_writer_never_pauses(void **state) {
	(void)state;
	char dir[TMPSTORE_DIR_SIZE];
	/* In memory where there is a tmpfs: what is tested is when the WAL starts over, and
	 * a disk's fsyncs would only make the checkpointer's pace vary with the machine. */
	struct stat st;
	bool shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0;
	snprintf(dir, sizeof(dir), "%s/smsrouter-wal-XXXXXX", shm ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(dir));
	char url[TMPSTORE_URL_SIZE];
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	/* Small, so that the test is quick: checkpoints every 64 pages, cap at 256. */
	struct store_options o = {.sync = STORE_SYNC_NORMAL, .checkpoint_pages = 64,
	                          .wal_cap_pages = 256};
	struct store *s = NULL;
	assert_int_equal(store_open(url, &o, &s), 0);
	const char *phones[] = {"+15550100101"};
	struct store_user u;
	assert_int_equal(store_user_add(s, "A", phones, 1, &u, NULL), 0);

	long largest = write_without_pause(s, dir, u.id);

	/* Each commit adds about 5 frames: about 50,000 frames, 200 MiB, if the WAL never
	 * started over. The cap allows 256 frames plus what is added while the checkpointer
	 * catches up (measured: 650 to 1,250); 10,000 leaves room for a slow machine. */
	print_message("largest WAL: %ld frames\n", largest / FRAME_BYTES);
	assert_true(largest < 10000L * FRAME_BYTES);
	int n = 0; /* and nothing was lost on the way */
	assert_int_equal(store_messages_list(s, u.id, 2 * COMMITS, count, &n), 0);
	assert_int_equal(n, COMMITS);
	store_close(s);
	tmpstore_remove(dir);
}

static int sync_fails(int fd) {
	(void)fd;
	return -1;
}

static void record_err(void *ctx, int err) {
	*(int *)ctx = err;
}

/* A failed fsync (Linux may drop the dirty pages and report success later): the waiters
 * get -EIO, and the store acknowledges nothing more, whatever later fsyncs say, and is not
 * ready, until it is reopened. */
static void test_failed_fsync_fails_the_store_until_it_is_reopened(void **state) {
	(void)state;
	char dir[TMPSTORE_DIR_SIZE], url[TMPSTORE_URL_SIZE];
	struct store *s = NULL;
	struct store_user ada, bob;
	assert_int_equal(tmpstore_open("fsync", dir, url, &s), 0);
	assert_int_equal(tmpstore_add_ada_and_bob(s, &ada, &bob), 0);
	assert_int_equal(store_ping(s), 0);

	store__sqlite_sync = sync_fails;
	assert_int_equal(add_message(s, ada.id, "SMfsync1"), -EIO);
	store__sqlite_sync = fdatasync; /* the disk "recovers": too late */
	assert_int_equal(store_ping(s), -EIO);
	assert_int_equal(add_message(s, ada.id, "SMfsync2"), -EIO);
	int err = 1;
	if (store_tx_begin(s) == 0) {
		assert_int_equal(store_tx_commit_then(s, record_err, &err), 0);
		assert_int_equal(err, -EIO);
	}
	store_close(s);

	assert_int_equal(store_open(url, NULL, &s), 0);
	assert_int_equal(store_ping(s), 0);
	assert_int_equal(add_message(s, ada.id, "SMfsync3"), 0);
	store_close(s);
	tmpstore_remove(dir);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wal_stays_under_its_cap_while_the_writer_never_pauses),
		cmocka_unit_test(test_failed_fsync_fails_the_store_until_it_is_reopened),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
