/* libFuzzer harness for csv_parse on any bytes, parsed in place in an exact-size copy with
 * the one spare byte csv.h asks for (AddressSanitizer sees any access past it). Every record
 * has 1 to CSV_MAX_FIELDS fields, each a NUL-terminated string inside the buffer; records
 * start on non-decreasing lines, within the text's lines; an error is -EINVAL with a line
 * within the text. A second walk over a fresh copy stops at its first record: a non-zero
 * callback result must come back unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fuzz_util.h"

#define STOP 4242 /* what the stopping callback returns */

struct walk {
	const char *buf;
	size_t len;
	size_t lines; /* lines in the text: newlines + 1 */
	size_t records;
	size_t last_line;
	bool stop;
};

static int on_record(void *ctx, const struct csv_record *r) {
	struct walk *w = ctx;

	FUZZ_CHECK(r != NULL);
	FUZZ_CHECK(r->n >= 1 && r->n <= CSV_MAX_FIELDS);
	FUZZ_CHECK(r->line >= 1 && r->line <= w->lines);
	FUZZ_CHECK(r->line >= w->last_line);
	for (size_t i = 0; i < r->n; i++) {
		const char *f = r->field[i];

		FUZZ_CHECK(f >= w->buf && f <= w->buf + w->len);
		FUZZ_CHECK(memchr(f, '\0', (size_t)(w->buf + w->len - f) + 1) != NULL);
	}
	w->last_line = r->line;
	w->records++;
	return w->stop ? STOP : 0;
}

static int walk(const uint8_t *data, size_t size, bool stop, size_t *ret_records) {
	struct walk w = {NULL, size, 1, 0, 0, stop};
	size_t err_line = 0;
	char *buf = malloc(size + 1);
	int r;

	if (!buf) {
		return -ENOMEM;
	}
	if (size > 0) {
		memcpy(buf, data, size);
	}
	for (size_t i = 0; i < size; i++) {
		w.lines += data[i] == '\n';
	}
	w.buf = buf;
	r = csv_parse(buf, size, on_record, &w, &err_line);
	FUZZ_CHECK(buf[size] == '\0');
	if (r == -EINVAL) {
		FUZZ_CHECK(err_line >= 1 && err_line <= w.lines);
	} else {
		FUZZ_CHECK(r == 0 || (stop && r == STOP));
	}
	if (stop) {
		FUZZ_CHECK(w.records <= 1);
		FUZZ_CHECK((r == STOP) == (w.records == 1));
	}
	free(buf);
	*ret_records = w.records;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	size_t records = 0;
	size_t stopped = 0;

	if (walk(data, size, false, &records) == -ENOMEM ||
			walk(data, size, true, &stopped) == -ENOMEM) {
		return 0;
	}
	/* The first record is reached the same way whether or not the walk goes on. */
	FUZZ_CHECK(stopped == (records > 0 ? 1 : 0));
	return 0;
}
