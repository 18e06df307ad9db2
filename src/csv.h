#pragma once
/* csv: records of comma-separated fields (RFC 4180 quoting: "a, b" and "say ""hi"""),
 * parsed in place in a caller's buffer. Knows nothing of the other modules. */
#include <stddef.h>

#define CSV_MAX_FIELDS 32

struct csv_record {
	char *field[CSV_MAX_FIELDS]; /* NUL-terminated, pointing into the buffer */
	size_t n;
	size_t line; /* 1-based line where the record starts */
};

typedef int (*csv_cb)(void *ctx, const struct csv_record *r);

/* Walks text[0..len) (modified in place; text[len] must be writable and is set to NUL),
 * calling cb for each non-blank record. LF or CRLF ends a record outside quotes. A
 * non-zero return from cb stops the walk and is returned. -EINVAL (an unterminated quote,
 * a quote inside an unquoted field, text after a closing quote, a NUL byte, more than
 * CSV_MAX_FIELDS fields) with *reterr_line set. */
int csv_parse(char *text, size_t len, csv_cb cb, void *ctx, size_t *reterr_line);
