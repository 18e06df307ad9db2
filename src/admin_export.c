/* admin: a user's export (GET …/users/{id}/export, `smsrouter export ID`): the user, all
 * of its messages oldest first, its notes, its opt-outs and its usage of all time, as one
 * JSON object written a piece at a time. Messages are read a page at a time after a cursor
 * (their id), each page one chunk: memory stays one page whatever the user's history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "ids.h"
#include "log.h"

#define EXPORT_PAGE 500

enum export_stage {
	EXPORT_HEAD,     /* {"user": …, "messages": [ */
	EXPORT_MESSAGES, /* a page at a time */
	EXPORT_TAIL,     /* ], "notes", "opt_outs", "usage"} */
	EXPORT_DONE,
};

struct admin_export {
	struct store *store;
	const struct sms_prices *price;
	struct store_user user;
	enum export_stage stage;
	int64_t cursor; /* the last message id written */
	bool any;       /* a message was written: the next needs a comma */
	FILE *f;        /* the chunk being written (open_memstream) */
	char *chunk;
	size_t len;
};

/* The compact text of j (taken over) after sep (may be ""), into the chunk. */
static int put_json(struct admin_export *e, const char *sep, json_t *j) {
	int r = j && fputs(sep, e->f) >= 0 &&
				json_dumpf(j, e->f, JSON_COMPACT | JSON_ENSURE_ASCII) == 0
			? 0
			: -ENOMEM;
	json_decref(j);
	return r;
}

static int put_message(void *ctx, const struct store_message *m) {
	struct admin_export *e = ctx;
	int r = put_json(e, e->any ? "," : "", admin_message_json(e->user.id, m));
	e->any = true;
	e->cursor = m->id;
	return r;
}

static int put_note(void *ctx, int index, const char *text) {
	json_t *notes = ctx;
	(void)index;
	return json_array_append_new(notes, json_string(text)) == 0 ? 0 : -ENOMEM;
}

/* An opt-out: the number without its channel's prefix, the channel, when. */
static int put_optout(void *ctx, const char *phone, int64_t at) {
	json_t *list = ctx;
	char when[IDS_TIME_SIZE];
	bool whatsapp = strncmp(phone, "whatsapp:", 9) == 0;
	ids_time_format(at, when);
	json_t *o = json_pack("{s:s,s:s,s:s}", "phone", whatsapp ? phone + 9 : phone, "channel",
			whatsapp ? "whatsapp" : "sms", "at", when);
	return json_array_append_new(list, o) == 0 ? 0 : -ENOMEM;
}

/* The end: notes, opt-outs and usage are a user's few rows, not its history. */
static int put_tail(struct admin_export *e) {
	json_t *notes = json_array(), *optouts = json_array();
	struct store_usage_row usage;
	int r = notes && optouts ? 0 : -ENOMEM;

	if (r == 0) {
		r = store_notes_list(e->store, e->user.id, put_note, notes);
	}
	if (r == 0) {
		r = store_user_optouts(e->store, e->user.id, put_optout, optouts);
	}
	if (r == 0) {
		r = store_usage_user(e->store, e->user.id, 0, &usage);
	}
	if (r < 0) {
		json_decref(notes);
		json_decref(optouts);
		return r;
	}
	if (fputs("],\"notes\":", e->f) < 0) {
		json_decref(notes);
		json_decref(optouts);
		return -ENOMEM;
	}
	r = put_json(e, "", notes);
	if (r == 0) {
		r = put_json(e, ",\"opt_outs\":", optouts);
	} else {
		json_decref(optouts);
	}
	if (r == 0) {
		r = put_json(e, ",\"usage\":", admin__usage_entry(e->price, e->user.id, &usage, false));
	}
	return r == 0 && fputs("}\n", e->f) < 0 ? -ENOMEM : r;
}

int admin_export_create(struct store *s, const char *user_id, const struct sms_prices *price,
		struct admin_export **ret) {
	struct admin_export *e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	*e = (struct admin_export){.store = s, .price = price};
	int r = store_user_get(s, user_id, &e->user);
	if (r < 0) {
		free(e);
		return r;
	}
	*ret = e;
	return 0;
}

int admin_export_next(void *ctx, char **ret_chunk, size_t *ret_len) {
	struct admin_export *e = ctx;
	int r = 0;

	while (e->stage != EXPORT_DONE) {
		e->f = open_memstream(&e->chunk, &e->len);
		if (!e->f) {
			return -ENOMEM;
		}
		long before = 0;
		switch (e->stage) {
		case EXPORT_HEAD:
			r = put_json(e, "{\"user\":", admin_user_json(&e->user));
			r = r == 0 && fputs(",\"messages\":[", e->f) < 0 ? -ENOMEM : r;
			e->stage = EXPORT_MESSAGES;
			break;
		case EXPORT_MESSAGES:
			before = e->cursor;
			r = store_messages_after(e->store, e->user.id, e->cursor, EXPORT_PAGE,
					put_message, e);
			if (r == 0 && e->cursor == before) {
				r = put_tail(e);
				e->stage = EXPORT_DONE;
			}
			break;
		default:
			break;
		}
		if (fclose(e->f) != 0 && r == 0) {
			r = -ENOMEM;
		}
		e->f = NULL;
		if (r < 0) {
			free(e->chunk);
			e->chunk = NULL;
			log_warn("export.failed", LOG_STR("user", e->user.id), LOG_INT("error", r));
			return r;
		}
		if (e->len > 0) {
			*ret_chunk = e->chunk;
			*ret_len = e->len;
			e->chunk = NULL;
			return 0;
		}
		free(e->chunk);
		e->chunk = NULL;
	}
	*ret_chunk = NULL;
	*ret_len = 0;
	return 0;
}

void admin_export_destroy(void *ctx) {
	free(ctx); /* nothing else outlives a call of admin_export_next */
}

void admin_export_get(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	struct admin_export *e;
	int r = admin_export_create(a->store, req->params[0], &a->config->prices, &e);
	if (r < 0) {
		admin__store_error(res, r, "user");
		return;
	}
	log_info("export.started", LOG_STR("user", e->user.id));
	http_stream(res, 200, "application/json", admin_export_next, admin_export_destroy, e);
}
