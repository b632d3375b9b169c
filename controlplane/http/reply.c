/* Answers of the API: JSON bodies and the one error shape. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jsonx.h"
#include "log.h"

#define ERROR_MESSAGE_MAX 512

void http_reply_raw(http_req *r, int status, const char *content_type, const char *data, size_t len)
{
    free(r->resp);
    r->resp = malloc(len + 1);
    memcpy(r->resp, data, len);
    r->resp[len] = '\0';
    r->resp_len = len;
    r->status = status;
    r->content_type = content_type;
}

void http_reply_json(http_req *r, int status, json_t *body)
{
    size_t len = 0;
    char *s = jx_dump(body, &len);
    json_decref(body);
    if (!s) {
        http_reply_internal(r, "cannot serialize a response");
        return;
    }
    free(r->resp);
    r->resp = s;
    r->resp_len = len;
    r->status = status;
    r->content_type = "application/json";
}

/* A message quoting the request (a %.64s of a label key, a long value cut off) may end or cut
 * a UTF-8 sequence in the middle, and JSON strings must be UTF-8: then every non-ASCII byte
 * becomes '?', rather than the answer becoming a 500. */
static void ascii_if_not_utf8(char *msg)
{
    json_t *probe = json_string(msg);
    if (probe) {
        json_decref(probe);
        return;
    }
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p >= 0x80)
            *p = '?';
}

void http_reply_error(http_req *r, int status, const char *code, const char *field, const char *fmt,
                      ...)
{
    char msg[ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ascii_if_not_utf8(msg);
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (field) {
        char f[ERROR_MESSAGE_MAX];
        snprintf(f, sizeof(f), "%s", field); /* "persistence.<member>" may be cut likewise */
        ascii_if_not_utf8(f);
        json_object_set_new(err, "field", json_string(f));
    }
    http_reply_json(r, status, json_pack("{s:o}", "error", err));
}

void http_reply_internal(http_req *r, const char *what)
{
    log_error("api: %s %s: %s", r->method, r->url, what);
    /* Not through http_reply_json: it may be what failed. */
    static const char body[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"internal error; see the daemon's log\"}}";
    http_reply_raw(r, 500, "application/json", body, sizeof(body) - 1);
}

const char *http_header(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct query_each_ctx {
    const char *name;
    void (*fn)(void *ctx, const char *v);
    void *ctx;
} query_each_ctx;

static enum MHD_Result query_each_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    query_each_ctx *q = cls;
    if (key && !strcmp(key, q->name))
        q->fn(q->ctx, value ? value : "");
    return MHD_YES;
}

void http_query_each(http_req *r, const char *name, void (*fn)(void *ctx, const char *v), void *ctx)
{
    query_each_ctx q = {name, fn, ctx};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_each_cb, &q);
}

json_t *http_body_object(http_req *r, int empty_ok)
{
    size_t i = 0;
    while (i < r->body.len && strchr(" \t\r\n", r->body.data[i]))
        i++;
    if (i == r->body.len) {
        if (empty_ok)
            return json_object();
        http_reply_error(r, 400, "invalid_json", NULL, "a JSON object is required");
        return NULL;
    }
    char err[ERROR_MESSAGE_MAX];
    json_t *v = jx_parse(r->body.data, r->body.len, err, sizeof(err));
    if (!v) {
        http_reply_error(r, 400, "invalid_json", NULL, "%s", err);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        http_reply_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

int http_body_none(http_req *r)
{
    json_t *body = http_body_object(r, 1);
    if (!body)
        return 0;
    int empty = json_object_size(body) == 0;
    json_decref(body);
    if (!empty)
        http_reply_invalid(r, NULL, "this request takes no body");
    return empty;
}
