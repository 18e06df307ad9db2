#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http/http.h"

const char *http_header(const struct http_request *req, const char *name) {
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name) {
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_check {
	const char *const *known;
	size_t n;
	const char *unknown;
};

static enum MHD_Result check_name(void *ctx, enum MHD_ValueKind kind, const char *key,
		const char *value) {
	struct query_check *c = ctx;
	(void)kind;
	(void)value;
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(key, c->known[i]) == 0) {
			return MHD_YES;
		}
	}
	c->unknown = key;
	return MHD_NO;
}

const char *http_query_unknown(const struct http_request *req, const char *const *known,
		size_t n) {
	struct query_check c = {known, n, NULL};
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_name, &c);
	return c.unknown;
}

void http_response_clear(struct http_response *res) {
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
	if (res->stream && res->stream_free) {
		res->stream_free(res->stream_ctx);
	}
	res->stream = NULL;
	res->stream_free = NULL;
	res->stream_ctx = NULL;
}

void http_stream(struct http_response *res, int status, const char *content_type,
		http_stream_next next, http_stream_free free_ctx, void *ctx) {
	http_response_clear(res);
	res->status = status;
	res->content_type = content_type;
	res->stream = next;
	res->stream_free = free_ctx;
	res->stream_ctx = ctx;
}

void http_text(struct http_response *res, int status, const char *content_type, char *body) {
	http_response_clear(res);
	res->status = status;
	res->content_type = content_type;
	res->body = body;
	res->body_len = body ? strlen(body) : 0;
}

void http_empty(struct http_response *res, int status) {
	http_text(res, status, NULL, NULL);
}

void http_json(struct http_response *res, int status, json_t *j) {
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	if (!text) {
		/* Out of memory: an honest 500 with a fixed body. */
		http_text(res, 500, "application/json",
				strdup("{\"error\":\"internal\",\"message\":\"Out of memory.\"}"));
		return;
	}
	http_text(res, status, "application/json", text);
}

void http_json_error(struct http_response *res, int status, const char *code,
		const char *message) {
	http_json(res, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}
