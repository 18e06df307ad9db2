/* faultfs: an LD_PRELOAD shim for the integration tests, never linked into smsrouter. While
 * the file $FAULTFS_DIR/fsync exists, fdatasync of a SQLite WAL file ("…-wal") fails with
 * EIO (a write-back error); while $FAULTFS_DIR/full exists, writes to it fail with ENOSPC
 * (a full disk). Everything else goes to the C library. */
#undef _FILE_OFFSET_BITS /* both pwrite and pwrite64 are defined here */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Whether the fault named what is on and fd is a WAL file. */
static bool armed(const char *what, int fd) {
	const char *dir = getenv("FAULTFS_DIR");
	char path[PATH_MAX], link[64], target[PATH_MAX];
	if (!dir) {
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, what);
	if (access(path, F_OK) != 0) {
		return false;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 4) {
		return false;
	}
	target[n] = '\0';
	return strcmp(target + n - 4, "-wal") == 0;
}

/* The C library's name (dlsym's object pointer through memcpy, as ISO C wants). */
static void *next(const char *name) {
	return dlsym(RTLD_NEXT, name);
}

int fdatasync(int fd) {
	int (*real)(int);
	void *p = next("fdatasync");
	memcpy(&real, &p, sizeof(real));
	if (armed("fsync", fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
	ssize_t (*real)(int, const void *, size_t, off_t);
	void *p = next("pwrite64");
	memcpy(&real, &p, sizeof(real));
	if (armed("full", fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
	ssize_t (*real)(int, const void *, size_t, off_t);
	void *p = next("pwrite");
	memcpy(&real, &p, sizeof(real));
	if (armed("full", fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}
