/* libFuzzer target: what dfly-control reads from API requests (controlplane/). The first byte
 * picks the surface, the rest is its input:
 *   0  an instance create body: http_body_object (jx_parse) then instance_spec_parse
 *   1  an instance PATCH body, likewise (labels, persistence, cron, backup schedule/retention)
 *   2  a ?cursor= query value (api_cursor_decode_for_fuzzing) and a ?limit= value (flags_parse_int)
 *   3  any JSON value: what jx_parse accepts dumps (jx_dump) and parses again to an equal value
 * The request is a bare http_req: the parsers only answer through it. A refusal must be an answer
 * (a status and a body), an acceptance must leave no answer. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "flags.h"
#include "http.h"
#include "api/instance.h"
#include "jsonx.h"

#define FUZZ_QUERY_MAX 4096
#define FUZZ_ERR_MAX 512

enum { SURFACE_CREATE, SURFACE_PATCH, SURFACE_QUERY, SURFACE_JSON, SURFACES };

static void check_answered(const http_req *r, int refused)
{
    if (refused != (r->status != 0))
        abort();
    if (refused && (!r->resp || r->status < 400 || r->status > 499))
        abort();
}

static void body_surface(const char *in, size_t len, int create)
{
    http_req r = {.method = "POST", .url = "/v1/instances"};
    buf_init(&r.body);
    buf_append(&r.body, in, len);
    json_t *body = http_body_object(&r, !create);
    if (!body) {
        check_answered(&r, 1);
    } else {
        instance_spec s;
        int rc = instance_spec_parse(&r, body, &s, create);
        check_answered(&r, rc < 0);
        if (rc == 0 && create && (!s.name || s.shards < SHARDS_MIN || s.shards > SHARDS_MAX))
            abort();
        json_decref(body);
    }
    free(r.resp);
    buf_free(&r.body);
}

static void query_surface(const char *in, size_t len)
{
    char q[FUZZ_QUERY_MAX];
    if (len >= sizeof(q))
        return;
    memcpy(q, in, len);
    q[len] = '\0'; /* libmicrohttpd hands values over NUL-terminated */
    long long ts, v;
    char id[ID_MAX];
    if (api_cursor_decode_for_fuzzing(q, &ts, id) == 0 && strlen(id) >= ID_MAX)
        abort();
    (void)flags_parse_int(q, &v);
}

static void json_surface(const char *in, size_t len)
{
    char err[FUZZ_ERR_MAX];
    json_t *v = jx_parse(in, len, err, sizeof(err));
    if (!v)
        return;
    size_t n = 0;
    char *s = jx_dump(v, &n);
    if (!s)
        abort();
    json_t *again = jx_parse(s, n, err, sizeof(err));
    if (!again || !json_equal(v, again))
        abort();
    json_decref(again);
    free(s);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % SURFACES) {
    case SURFACE_CREATE: body_surface(in, len, 1); break;
    case SURFACE_PATCH: body_surface(in, len, 0); break;
    case SURFACE_QUERY: query_surface(in, len); break;
    default: json_surface(in, len); break;
    }
    return 0;
}
