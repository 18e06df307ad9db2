#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "phone.h"

#define LOG_LINE_MAX 4096

static enum log_level log_min = LOG_INFO;
static bool log_json = true;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level min, bool json) {
	log_min = min;
	log_json = json;
}

int log_level_parse(const char *s, enum log_level *ret) {
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*ret = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

bool log_enabled(enum log_level level) {
	return level >= log_min;
}

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n) {
	size_t room = sizeof(l->buf) - 2 - l->len; /* keep room for "}\n" */
	if (n > room) {
		n = room;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s) {
	put(l, s, strlen(s));
}

/* JSON string body: quotes, backslashes and control bytes escaped; other bytes as is. */
static void put_escaped(struct line *l, const char *s) {
	static const char hex[] = "0123456789abcdef";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			put(l, e, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
			put(l, e, 6);
		} else {
			put(l, (const char *)p, 1);
		}
	}
}

static void put_key(struct line *l, const char *key) {
	if (log_json) {
		puts_(l, ",\"");
		put_escaped(l, key);
		puts_(l, "\":");
	} else {
		puts_(l, " ");
		puts_(l, key);
		puts_(l, "=");
	}
}

static void put_str(struct line *l, const char *s) {
	if (log_json) {
		puts_(l, "\"");
		put_escaped(l, s ? s : "");
		puts_(l, "\"");
	} else {
		put_escaped(l, s ? s : "");
	}
}

static void put_int(struct line *l, int64_t v) {
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);
	put(l, num, (size_t)n);
}

void log__emit(enum log_level level, const char *event, ...) {
	if (level < log_min) {
		return;
	}
	struct line l = {.len = 0};
	struct timespec ts;
	struct tm tm;
	char when[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	if (log_json) {
		puts_(&l, "{\"ts\":\"");
		puts_(&l, when);
		puts_(&l, "\",\"level\":\"");
		puts_(&l, level_names[level]);
		puts_(&l, "\",\"event\":\"");
		put_escaped(&l, event);
		puts_(&l, "\"");
	} else {
		puts_(&l, when);
		puts_(&l, " ");
		puts_(&l, level_names[level]);
		puts_(&l, " ");
		put_escaped(&l, event);
	}

	va_list ap;
	va_start(ap, event);
	for (;;) {
		struct log_field f = va_arg(ap, struct log_field);
		if (f.kind == LOG__END) {
			break;
		}
		char masked[PHONE_MASK_SIZE];
		switch (f.kind) {
		case LOG__STR:
			put_key(&l, f.key);
			put_str(&l, f.s);
			break;
		case LOG__INT:
			put_key(&l, f.key);
			put_int(&l, f.i);
			break;
		case LOG__PHONE:
			phone_mask(f.s, masked);
			put_key(&l, f.key);
			put_str(&l, masked);
			break;
		case LOG__TEXT:
			/* What a person wrote: only at debug; above it, only its length. */
			if (log_min == LOG_DEBUG) {
				put_key(&l, f.key);
				put_str(&l, f.s);
			} else {
				char key[64];
				snprintf(key, sizeof(key), "%s_len", f.key);
				put_key(&l, key);
				put_int(&l, f.s ? (int64_t)strlen(f.s) : 0);
			}
			break;
		case LOG__END:
			break;
		}
	}
	va_end(ap);

	if (log_json) {
		l.buf[l.len++] = '}';
	}
	l.buf[l.len++] = '\n';
	/* One write a line, so lines of concurrent threads never interleave. */
	ssize_t w = write(STDERR_FILENO, l.buf, l.len);
	(void)w;
}
