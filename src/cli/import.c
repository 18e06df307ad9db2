/* import: users from a CSV file (name,phone[,phone…] per line), all or nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/command.h"
#include "csv.h"
#include "phone.h"

struct import_row {
	const char *name;
	size_t first; /* index of its first phone in phones */
	size_t nphones;
	size_t line;
};

struct import_ctx {
	struct import_row *rows;
	const char **phones;
	size_t n, cap, nphones, phones_cap;
	size_t bad_line;
	const char *why;
	bool seen_first;
};

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
	if (need <= *cap) {
		return true;
	}
	size_t c = *cap ? *cap * 2 : 1024;
	while (c < need) {
		c *= 2;
	}
	void *q = realloc(*p, c * size);
	if (!q) {
		return false;
	}
	*p = q;
	*cap = c;
	return true;
}

static int import_record(void *vctx, const struct csv_record *rec) {
	struct import_ctx *x = vctx;
	bool first = !x->seen_first;
	x->seen_first = true;

	/* An optional header line: name,phone… */
	if (first && rec->n >= 2 && strcasecmp(rec->field[0], "name") == 0 &&
			strncasecmp(rec->field[1], "phone", 5) == 0) {
		return 0;
	}
	x->bad_line = rec->line;
	if (store_name_check(rec->field[0], &x->why) < 0) {
		return -EINVAL;
	}
	size_t np = 0;
	if (!grow((void **)&x->rows, &x->cap, x->n + 1, sizeof(*x->rows)) ||
			!grow((void **)&x->phones, &x->phones_cap, x->nphones + rec->n,
					sizeof(*x->phones))) {
		x->why = "out of memory";
		return -ENOMEM;
	}
	for (size_t i = 1; i < rec->n; i++) {
		if (rec->field[i][0] == '\0' && i == rec->n - 1) {
			continue; /* a trailing comma */
		}
		if (!phone_is_valid(rec->field[i])) {
			x->why = "a phone is not E.164 ('+' then 8 to 15 digits)";
			return -EINVAL;
		}
		x->phones[x->nphones + np++] = rec->field[i];
	}
	if (np == 0) {
		x->why = "a line needs a name and at least one phone";
		return -EINVAL;
	}
	if (np > STORE_MAX_PHONES) {
		x->why = "a user has at most 10 phone numbers";
		return -EINVAL;
	}
	x->rows[x->n++] = (struct import_row){rec->field[0], x->nphones, np, rec->line};
	x->nphones += np;
	return 0;
}

/* Reads a whole file, with one spare byte after it. */
static int read_file(const char *path, char **ret, size_t *ret_len) {
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (!f) {
		return -ENOENT;
	}
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n == 0) {
			break;
		}
	}
	bool err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int cli__import(const struct config *c, int argc, char **argv) {
	struct import_ctx x = {0};
	struct store_import_row *rows = NULL;
	struct store *s = NULL;
	char *text = NULL;
	size_t len = 0, line = 0, bad = 0;
	int r, code = CLI__EXIT_FAIL;

	if (argc != 1) {
		return cli__usage_error("import takes one FILE.csv.");
	}
	r = read_file(argv[0], &text, &len);
	if (r < 0) {
		return cli__fail("cannot read %s.", argv[0]);
	}
	/* A UTF-8 byte order mark (spreadsheets write one) is not part of the first name. */
	size_t skip = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	r = csv_parse(text + skip, len - skip, import_record, &x, &line);
	if (r < 0) {
		cli__error_linef("%s line %zu: %s; nothing was imported.", argv[0],
				r == -EINVAL && x.why ? x.bad_line : line, x.why ? x.why : "not valid CSV");
		goto out;
	}
	rows = calloc(x.n ? x.n : 1, sizeof(*rows));
	if (!rows) {
		cli__fail("%s", "out of memory.");
		goto out;
	}
	for (size_t i = 0; i < x.n; i++) {
		rows[i] = (struct store_import_row){x.rows[i].name, x.phones + x.rows[i].first,
			x.rows[i].nphones};
	}
	if (cli__open_store(c, &s) != 0) {
		goto out;
	}
	r = store_import(s, rows, x.n, &bad);
	if (r == -EEXIST) {
		cli__error_linef("%s line %zu: a phone belongs to another user or is repeated; "
				"nothing was imported.", argv[0], x.rows[bad].line);
	} else if (r < 0) {
		cli__fail("the import failed (%s); nothing was imported.", cli__errtext(r));
	} else {
		printf("imported %zu user%s\n", x.n, x.n == 1 ? "" : "s");
		code = 0;
	}
out:
	store_close(s);
	free(rows);
	free(x.rows);
	free(x.phones);
	free(text);
	return code;
}
