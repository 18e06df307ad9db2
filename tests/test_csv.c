/* Tests of csv_parse: plain and quoted fields, CRLF, blank lines, line numbers, every
 * refusal with its line, and the callback's stop value. */
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

#include "csv.h"

#define MAX_RECORDS 16

struct parsed {
	size_t n;
	size_t nfields[MAX_RECORDS];
	size_t line[MAX_RECORDS];
	char field[MAX_RECORDS][CSV_MAX_FIELDS][64];
	int stop_at; /* return -77 from the record with this 1-based number; 0: never */
};

static int collect(void *ctx, const struct csv_record *r) {
	struct parsed *p = ctx;
	assert_true(p->n < MAX_RECORDS);
	p->nfields[p->n] = r->n;
	p->line[p->n] = r->line;
	for (size_t i = 0; i < r->n; i++) {
		assert_true(strlen(r->field[i]) < sizeof(p->field[0][0]));
		strcpy(p->field[p->n][i], r->field[i]);
	}
	p->n++;
	return p->stop_at > 0 && (int)p->n == p->stop_at ? -77 : 0;
}

/* Parses text[0..len) from a copy with one spare byte; returns csv_parse's result. */
static int parse_n(const char *text, size_t len, struct parsed *p, size_t *line) {
	char *buf = malloc(len + 1);
	assert_non_null(buf);
	memcpy(buf, text, len);
	buf[len] = 'X'; /* csv_parse must write the NUL itself */
	int stop = p->stop_at;
	memset(p, 0, sizeof(*p));
	p->stop_at = stop;
	int r = csv_parse(buf, len, collect, p, line);
	free(buf);
	return r;
}

static int parse(const char *text, struct parsed *p, size_t *line) {
	return parse_n(text, strlen(text), p, line);
}

static void assert_record(const struct parsed *p, size_t i, size_t line, size_t n, ...) {
	va_list ap;

	if (i >= p->n) {
		fail_msg("record %zu missing (only %zu)", i, p->n);
	}
	assert_int_equal(p->line[i], line);
	assert_int_equal(p->nfields[i], n);
	va_start(ap, n);
	for (size_t k = 0; k < n; k++) {
		const char *expected = va_arg(ap, const char *);
		if (strcmp(p->field[i][k], expected) != 0) {
			va_end(ap);
			fail_msg("record %zu field %zu: \"%s\", expected \"%s\"", i, k,
			         p->field[i][k], expected);
		}
	}
	va_end(ap);
}

/* Asserts that text is refused with -EINVAL at line. */
static void assert_einval_at(const char *text, size_t len, size_t line) {
	struct parsed p = {0};
	size_t got = 0;
	int r = parse_n(text, len, &p, &got);
	if (r != -EINVAL || got != line) {
		fail_msg("\"%.*s\": got %d at line %zu, expected -EINVAL at line %zu", (int)len,
		         text, r, got, line);
	}
}

static void test_simple_records(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("Ada,+15550100101\nBob,+15550100102,+15550100103\n", &p, &line), 0);
	assert_int_equal(p.n, 2);
	assert_record(&p, 0, 1, 2, "Ada", "+15550100101");
	assert_record(&p, 1, 2, 3, "Bob", "+15550100102", "+15550100103");
}

static void test_last_record_needs_no_newline(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("a,b\nc,d", &p, &line), 0);
	assert_int_equal(p.n, 2);
	assert_record(&p, 1, 2, 2, "c", "d");
}

static void test_empty_text_has_no_records(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("", &p, &line), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(parse("\n\n\r\n", &p, &line), 0);
	assert_int_equal(p.n, 0);
}

static void test_quoted_fields_keep_commas_quotes_and_newlines(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("\"Lovelace, Ada\",\"say \"\"hi\"\"\",\"two\nlines\",\"\"\n", &p,
	                       &line),
	                 0);
	assert_int_equal(p.n, 1);
	assert_record(&p, 0, 1, 4, "Lovelace, Ada", "say \"hi\"", "two\nlines", "");
}

static void test_quoted_field_may_hold_only_a_quote(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("\"\"\"\",x\n", &p, &line), 0);
	assert_record(&p, 0, 1, 2, "\"", "x");
}

static void test_crlf_ends_records_and_is_not_kept(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("a,b\r\n\"c\",\"d\"\r\ne,f\r\n", &p, &line), 0);
	assert_int_equal(p.n, 3);
	assert_record(&p, 0, 1, 2, "a", "b");
	assert_record(&p, 1, 2, 2, "c", "d");
	assert_record(&p, 2, 3, 2, "e", "f");
}

static void test_crlf_inside_quotes_is_kept(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("\"x\r\ny\",z\r\nnext\r\n", &p, &line), 0);
	assert_int_equal(p.n, 2);
	assert_record(&p, 0, 1, 2, "x\r\ny", "z");
	assert_record(&p, 1, 3, 1, "next");
}

static void test_blank_lines_are_skipped_but_counted(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("\na,b\n\n\r\nc\n\n", &p, &line), 0);
	assert_int_equal(p.n, 2);
	assert_record(&p, 0, 2, 2, "a", "b");
	assert_record(&p, 1, 5, 1, "c");
}

static void test_trailing_comma_gives_an_empty_last_field(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("a,b,\nc,\r\n,\n", &p, &line), 0);
	assert_int_equal(p.n, 3);
	assert_record(&p, 0, 1, 3, "a", "b", "");
	assert_record(&p, 1, 2, 2, "c", "");
	assert_record(&p, 2, 3, 2, "", "");

	assert_int_equal(parse("x,", &p, &line), 0);
	assert_record(&p, 0, 1, 2, "x", "");
}

static void test_empty_fields_between_commas(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse(",,a,,\n", &p, &line), 0);
	assert_record(&p, 0, 1, 5, "", "", "a", "", "");
}

static void test_spaces_are_kept_in_unquoted_fields(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse(" Ada Lovelace , +1555 \n", &p, &line), 0);
	assert_record(&p, 0, 1, 2, " Ada Lovelace ", " +1555 ");
}

static void test_utf8_passes_through(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(
	                parse("Ren\xc3\xa9\xe2\x82\xac,\"\xe4\xbd\xa0,\xe5\xa5\xbd\"\n", &p, &line),
	                0);
	assert_record(&p, 0, 1, 2, "Ren\xc3\xa9\xe2\x82\xac", "\xe4\xbd\xa0,\xe5\xa5\xbd");
}

static void test_record_spanning_lines_reports_its_first_line(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	assert_int_equal(parse("one\n\"a\nb\nc\",d\nnext\n\"x\r\n\",\"y\ny\"\nlast", &p, &line), 0);
	assert_int_equal(p.n, 5);
	assert_record(&p, 0, 1, 1, "one");
	assert_record(&p, 1, 2, 2, "a\nb\nc", "d");
	assert_record(&p, 2, 5, 1, "next");
	assert_record(&p, 3, 6, 2, "x\r\n", "y\ny");
	assert_record(&p, 4, 9, 1, "last");
}

static void test_exactly_max_fields_is_fine(void **state) {
	(void)state;
	char text[3 * CSV_MAX_FIELDS + 2] = "";
	struct parsed p = {0};
	size_t line = 0;

	for (int i = 0; i < CSV_MAX_FIELDS; i++) {
		strcat(text, i ? ",f" : "f");
	}
	strcat(text, "\n");
	assert_int_equal(parse(text, &p, &line), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.nfields[0], CSV_MAX_FIELDS);
}

static void test_more_than_max_fields_is_refused_at_its_line(void **state) {
	(void)state;
	char text[3 * CSV_MAX_FIELDS + 32] = "ok\nok,ok\n";

	for (int i = 0; i <= CSV_MAX_FIELDS; i++) {
		strcat(text, i ? ",f" : "f");
	}
	strcat(text, "\n");
	assert_einval_at(text, strlen(text), 3);

	/* Empty fields count too. */
	char commas[CSV_MAX_FIELDS + 8] = "";
	memset(commas, ',', CSV_MAX_FIELDS);
	commas[CSV_MAX_FIELDS] = '\0';
	assert_einval_at(commas, strlen(commas), 1);
}

static void test_unterminated_quote_is_refused_at_its_line(void **state) {
	(void)state;

	assert_einval_at("\"abc", 4, 1);
	assert_einval_at("a,b\nc,\"d,e\nf\n", 13, 2);
	assert_einval_at("a\n\n\"open\n", 9, 3);
}

static void test_quote_inside_unquoted_field_is_refused_at_its_line(void **state) {
	(void)state;

	assert_einval_at("ab\"c\n", 5, 1);
	assert_einval_at("ok\nfine,x\"y\n", 12, 2);
	assert_einval_at("ok\n \"a\"\n", 8, 2);
}

static void test_text_after_closing_quote_is_refused_at_its_line(void **state) {
	(void)state;

	assert_einval_at("\"a\"b\n", 5, 1);
	assert_einval_at("ok\n\"a\" ,b\n", 10, 2);
	assert_einval_at("ok\nx,\"a\"\"\"z\n", 12, 2);
}

static void test_nul_byte_is_refused_at_its_line(void **state) {
	(void)state;

	assert_einval_at("a\0b\n", 4, 1);
	assert_einval_at("a,b\nc,d\ne\0f\n", 12, 3);
	assert_einval_at("a\n\"b\0\"\n", 7, 2);
}

static void test_nothing_is_reported_before_a_refusal_is_known(void **state) {
	(void)state;
	struct parsed p = {0};
	size_t line = 0;

	/* A NUL anywhere refuses the whole text before any callback. */
	assert_int_equal(parse_n("a\nb\nc\0\n", 7, &p, &line), -EINVAL);
	assert_int_equal(p.n, 0);
	assert_int_equal(line, 3);
}

static void test_callback_stop_value_is_returned(void **state) {
	(void)state;
	struct parsed p = {.stop_at = 2};
	size_t line = 0;

	assert_int_equal(parse("a\nb\nc\n", &p, &line), -77);
	assert_int_equal(p.n, 2);
	assert_record(&p, 1, 2, 1, "b");
}

/* Round trip: random records written the RFC 4180 way (quoted when they hold a comma, a
 * quote, CR or LF; LF or CRLF between records) come back field for field, each with the
 * line it starts on. */
static uint32_t rng_state = 12345;

static uint32_t rng(void) {
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

#define RT_RECORDS 12
#define RT_FIELDS 6

struct rt_expect {
	size_t nrec;
	size_t nfields[RT_RECORDS];
	size_t line[RT_RECORDS];
	char field[RT_RECORDS][RT_FIELDS][16];
};

static void test_random_records_round_trip(void **state) {
	(void)state;
	static const char *const pieces[] = {"a", "b", ",", "\"", "\n", "\r", " ", "\xc3\xa9", "x"};

	for (int round = 0; round < 2000; round++) {
		struct rt_expect *e = calloc(1, sizeof(*e));
		char *text = calloc(1, 8192);
		size_t len = 0, line = 1;
		assert_non_null(e);
		assert_non_null(text);

		e->nrec = 1 + rng() % RT_RECORDS;
		for (size_t r = 0; r < e->nrec; r++) {
			e->line[r] = line;
			e->nfields[r] = 1 + rng() % RT_FIELDS;
			for (size_t k = 0; k < e->nfields[r]; k++) {
				char *fv = e->field[r][k];
				size_t flen = 0;
				int npieces = (int)(rng() % 5);
				for (int q = 0; q < npieces; q++) {
					const char *piece = pieces[rng() % (sizeof(pieces) /
					                                    sizeof(pieces[0]))];
					memcpy(fv + flen, piece, strlen(piece));
					flen += strlen(piece);
				}
				fv[flen] = '\0';
				bool quote = strpbrk(fv, ",\"\r\n") != NULL || rng() % 4 == 0 ||
				             (e->nfields[r] == 1 && flen == 0);
				if (k > 0) {
					text[len++] = ',';
				}
				if (quote) {
					text[len++] = '"';
					for (const char *c = fv; *c; c++) {
						if (*c == '"') {
							text[len++] = '"';
						}
						line += *c == '\n';
						text[len++] = *c;
					}
					text[len++] = '"';
				} else {
					memcpy(text + len, fv, flen);
					len += flen;
				}
			}
			if (rng() % 2) {
				text[len++] = '\r';
			}
			text[len++] = '\n';
			line++;
			if (rng() % 5 == 0) {
				text[len++] = '\n'; /* a blank line */
				line++;
			}
		}
		assert_true(len < 8192);

		struct parsed *p = calloc(1, sizeof(*p));
		size_t errline = 0;
		assert_non_null(p);
		int r = parse_n(text, len, p, &errline);
		if (r != 0 || p->n != e->nrec) {
			fail_msg("round %d: result %d (line %zu), %zu records, expected %zu", round,
			         r, errline, p->n, e->nrec);
		}
		for (size_t i = 0; i < e->nrec; i++) {
			if (p->line[i] != e->line[i] || p->nfields[i] != e->nfields[i]) {
				fail_msg("round %d record %zu: line %zu with %zu fields, expected "
				         "line %zu with %zu",
				         round, i, p->line[i], p->nfields[i], e->line[i],
				         e->nfields[i]);
			}
			for (size_t k = 0; k < e->nfields[i]; k++) {
				if (strcmp(p->field[i][k], e->field[i][k]) != 0) {
					fail_msg("round %d record %zu field %zu: \"%s\", expected "
					         "\"%s\"",
					         round, i, k, p->field[i][k], e->field[i][k]);
				}
			}
		}
		free(p);
		free(text);
		free(e);
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_records),
		cmocka_unit_test(test_last_record_needs_no_newline),
		cmocka_unit_test(test_empty_text_has_no_records),
		cmocka_unit_test(test_quoted_fields_keep_commas_quotes_and_newlines),
		cmocka_unit_test(test_quoted_field_may_hold_only_a_quote),
		cmocka_unit_test(test_crlf_ends_records_and_is_not_kept),
		cmocka_unit_test(test_crlf_inside_quotes_is_kept),
		cmocka_unit_test(test_blank_lines_are_skipped_but_counted),
		cmocka_unit_test(test_trailing_comma_gives_an_empty_last_field),
		cmocka_unit_test(test_empty_fields_between_commas),
		cmocka_unit_test(test_spaces_are_kept_in_unquoted_fields),
		cmocka_unit_test(test_utf8_passes_through),
		cmocka_unit_test(test_record_spanning_lines_reports_its_first_line),
		cmocka_unit_test(test_exactly_max_fields_is_fine),
		cmocka_unit_test(test_more_than_max_fields_is_refused_at_its_line),
		cmocka_unit_test(test_unterminated_quote_is_refused_at_its_line),
		cmocka_unit_test(test_quote_inside_unquoted_field_is_refused_at_its_line),
		cmocka_unit_test(test_text_after_closing_quote_is_refused_at_its_line),
		cmocka_unit_test(test_nul_byte_is_refused_at_its_line),
		cmocka_unit_test(test_nothing_is_reported_before_a_refusal_is_known),
		cmocka_unit_test(test_callback_stop_value_is_returned),
		cmocka_unit_test(test_random_records_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
