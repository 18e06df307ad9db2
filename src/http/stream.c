/* http: streamed bodies (http_stream, http_stream_async) as libmicrohttpd's content
 * reader: a chunk at a time from next, or the bytes another thread produces, the connection
 * suspended while there are none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "http/http.h"

/* A streamed body on its way: the chunk being sent and how far (next), or the reader of
 * bytes another thread produces (read) and the connection it suspends and resumes. */
struct stream {
	http_stream_next next;
	http_stream_read read;
	http_stream_free free_ctx;
	void *ctx;
	char *chunk;
	size_t len, off;
	struct MHD_Connection *conn;
};

/* libmicrohttpd's documented pattern: the content reader suspends its connection and
 * returns 0; another thread resumes it. */
void http_stream_suspend(struct http_stream_waker *w) {
	MHD_suspend_connection(((struct stream *)w)->conn);
}

void http_stream_resume(struct http_stream_waker *w) {
	MHD_resume_connection(((struct stream *)w)->conn);
}

static ssize_t async_read(struct stream *x, char *buf, size_t max) {
	ssize_t n = x->read(x->ctx, (struct http_stream_waker *)x, buf, max);
	if (n == HTTP_STREAM_WAIT) {
		return 0; /* suspended: called again once resumed */
	}
	if (n < 0) {
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

/* libmicrohttpd's content reader: copies what is left of the chunk, asking for the next
 * one when it is sent. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
	(void)pos;
	struct stream *x = cls;
	if (x->read) {
		return async_read(x, buf, max);
	}
	while (x->off == x->len) {
		free(x->chunk);
		x->chunk = NULL;
		x->len = x->off = 0;
		if (x->next(x->ctx, &x->chunk, &x->len) < 0) {
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (x->len == 0) {
			free(x->chunk);
			x->chunk = NULL;
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
	}
	size_t n = x->len - x->off < max ? x->len - x->off : max;
	memcpy(buf, x->chunk + x->off, n);
	x->off += n;
	return (ssize_t)n;
}

static void stream_end(void *cls) {
	struct stream *x = cls;
	free(x->chunk);
	if (x->free_ctx) {
		x->free_ctx(x->ctx);
	}
	free(x);
}

struct MHD_Response *http__stream_response(struct http_response *res,
		struct MHD_Connection *conn) {
	struct stream *x = calloc(1, sizeof(*x));
	if (!x) {
		return NULL;
	}
	*x = (struct stream){.next = res->stream, .read = res->stream_read,
		.free_ctx = res->stream_free, .ctx = res->stream_ctx, .conn = conn};
	uint64_t size = res->stream_read && res->stream_length >= 0 ? (uint64_t)res->stream_length
								    : MHD_SIZE_UNKNOWN;
	struct MHD_Response *r = MHD_create_response_from_callback(size, 64 * 1024, stream_read, x,
			stream_end);
	if (!r) {
		free(x);
		return NULL;
	}
	res->stream = NULL; /* stream_end frees it now */
	res->stream_read = NULL;
	res->stream_free = NULL;
	res->stream_ctx = NULL;
	return r;
}

