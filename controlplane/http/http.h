/* One API request as the router and handlers see it, and the helpers that answer it.
 *
 * A request lives on the libmicrohttpd pool thread that received it, from its first byte to its
 * response: handlers run there, synchronously, with that thread's database connection. */
#ifndef DFLY_CONTROL_HTTP_H
#define DFLY_CONTROL_HTTP_H

#include <jansson.h>
#include <stdint.h>

#include "auth.h"
#include "buf.h"

#define ROUTE_PARAMS_MAX 4
#define HTTP_HEADER_VALUE_MAX 256

struct MHD_Connection;
struct route;

typedef struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    buf body;
    int body_too_large;
    size_t body_seen;
    const struct route *route;
    char *path_copy;                      /* url split into segments */
    const char *params[ROUTE_PARAMS_MAX]; /* {name} segments, in pattern order */
    principal who;
    int authenticated;
    uint64_t start_ns;

    /* the response */
    int status;
    char *resp; /* malloc'd body */
    size_t resp_len;
    const char *content_type;
    char etag[HTTP_HEADER_VALUE_MAX];
    char location[HTTP_HEADER_VALUE_MAX];
    char allow[HTTP_HEADER_VALUE_MAX];
    int retry_after;
    int www_authenticate;
    int wake_reconciler; /* desired state changed: wake the reconciler after commit */
} http_req;

/* Answers with JSON body (reference stolen). */
void http_reply_json(http_req *r, int status, json_t *body);
/* Answers with raw bytes (copied). */
void http_reply_raw(http_req *r, int status, const char *content_type, const char *data,
                    size_t len);
/* The one error shape: {"error": {"code", "message", "field"?}}. field may be NULL. */
void http_reply_error(http_req *r, int status, const char *code, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
/* 500 with a generic message (details go to the log). */
void http_reply_internal(http_req *r, const char *what);
/* 422 validation_failed about field. */
#define http_reply_invalid(r, field, ...)                                                          \
    http_reply_error(r, 422, "validation_failed", field, __VA_ARGS__)

/* A request header or query argument, or NULL. */
const char *http_header(http_req *r, const char *name);
const char *http_query(http_req *r, const char *name);
/* Calls fn for every value of query argument name (repeatable arguments). */
void http_query_each(http_req *r, const char *name, void (*fn)(void *ctx, const char *v),
                     void *ctx);

/* The body as a JSON object. An empty body gives {} when empty_ok. On error answers 400 and
 * returns NULL. New reference. */
json_t *http_body_object(http_req *r, int empty_ok);
/* For routes that take no body: 1 when it is empty or {}; else answers 400 or 422 and gives 0. */
int http_body_none(http_req *r);

#endif
