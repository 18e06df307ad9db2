#pragma once
/* log: one line per event, JSON (default) or text, to stderr. Phone numbers are always
 * masked; text a person wrote appears only at debug level, else as its length. Knows
 * nothing of the other modules. */
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

enum log_kind {
	LOG__END,
	LOG__STR,
	LOG__INT,
	LOG__PHONE,
	LOG__TEXT,
};

struct log_field {
	enum log_kind kind;
	const char *key;
	const char *s;
	int64_t i;
};

#define LOG_STR(k, v) ((struct log_field){.kind = LOG__STR, .key = (k), .s = (v)})
#define LOG_INT(k, v) ((struct log_field){.kind = LOG__INT, .key = (k), .i = (int64_t)(v)})
#define LOG_PHONE(k, v) ((struct log_field){.kind = LOG__PHONE, .key = (k), .s = (v)})
#define LOG_TEXT(k, v) ((struct log_field){.kind = LOG__TEXT, .key = (k), .s = (v)})
#define LOG__LAST ((struct log_field){.kind = LOG__END})

/* Sets the threshold and format; before it is called: info, JSON. Not thread-safe: call
 * once in main before threads start. */
void log_setup(enum log_level min, bool json);

/* Parses "debug", "info", "warn", "error" into *ret. 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *ret);

bool log_enabled(enum log_level level);

/* Writes one line: event name then the fields, terminated by LOG__LAST (the macros add it). */
void log__emit(enum log_level level, const char *event, ...);

#define log_debug(...) log__emit(LOG_DEBUG, __VA_ARGS__, LOG__LAST)
#define log_info(...) log__emit(LOG_INFO, __VA_ARGS__, LOG__LAST)
#define log_warn(...) log__emit(LOG_WARN, __VA_ARGS__, LOG__LAST)
#define log_error(...) log__emit(LOG_ERROR, __VA_ARGS__, LOG__LAST)
