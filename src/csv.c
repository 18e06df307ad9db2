#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int csv_parse(char *text, size_t len, csv_cb cb, void *ctx, size_t *reterr_line) {
	size_t line = 1;
	size_t i = 0;

	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		*reterr_line = 1;
		for (size_t k = 0; k < len && text[k]; k++) {
			line += text[k] == '\n';
		}
		*reterr_line = line;
		return -EINVAL;
	}
	while (i < len) {
		struct csv_record rec = {.n = 0, .line = line};
		bool blank = true;
		for (;;) {
			/* One field starts at i. */
			char *w = text + i;
			if (rec.n == CSV_MAX_FIELDS) {
				*reterr_line = line;
				return -EINVAL;
			}
			rec.field[rec.n++] = w;
			if (i < len && text[i] == '"') {
				blank = false;
				i++;
				for (;;) {
					if (i >= len) {
						*reterr_line = rec.line;
						return -EINVAL;
					}
					if (text[i] == '"') {
						if (i + 1 < len && text[i + 1] == '"') {
							*w++ = '"';
							i += 2;
							continue;
						}
						i++;
						break;
					}
					line += text[i] == '\n';
					*w++ = text[i++];
				}
				if (i < len && text[i] != ',' && text[i] != '\n' &&
						!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') &&
						!(text[i] == '\r' && i + 1 == len)) {
					*reterr_line = line;
					return -EINVAL;
				}
			} else {
				while (i < len && text[i] != ',' && text[i] != '\n') {
					if (text[i] == '"') {
						*reterr_line = line;
						return -EINVAL;
					}
					if (text[i] == '\r' && (i + 1 == len || text[i + 1] == '\n')) {
						i++;
						continue;
					}
					blank = false;
					*w++ = text[i++];
				}
			}
			char sep = i < len ? text[i] : '\n';
			if (sep == '\r') {
				i++; /* CRLF after a quoted field */
				sep = '\n';
			}
			*w = '\0';
			i++;
			if (sep == ',') {
				blank = false;
				continue;
			}
			break;
		}
		line++;
		if (!blank) {
			int r = cb(ctx, &rec);
			if (r != 0) {
				return r;
			}
		}
	}
	return 0;
}
