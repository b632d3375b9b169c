/* libFuzzer target: the HTTP request reader on the main port (dataplane/http.c's http_process),
 * fed the input in two pieces at a point the first byte chooses, as a connection receives it.
 * The client is a bare struct: no loop, no socket. A request for /metrics would need the shards
 * (tx_run), so the target renames that path; everything else answers 404 or 400 as it would on a
 * connection. What the reader consumes must lie inside what arrived, every answer must be a whole
 * HTTP/1.1 status line, and after an answer that closes the connection nothing is read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "http.h"

#define FUZZ_ROUNDS 64
#define STATUS_PREFIX "HTTP/1.1 "

static void check_answers(const buf *w)
{
    if (w->len && (w->len < strlen(STATUS_PREFIX) || memcmp(w->data, STATUS_PREFIX, 9)))
        abort();
}

/* Hides /metrics: its answer needs every shard of a running server. */
static void rename_metrics(char *p, size_t len)
{
    static const char path[] = "/metrics";
    const size_t n = sizeof(path) - 1;
    for (char *q = p; q && (size_t)(q - p) + n <= len;) {
        q = memmem(q, len - (size_t)(q - p), path, n);
        if (q)
            q[n - 1] = 'z';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t first = len ? data[0] % (len + 1) : 0;
    client *cl = calloc(1, sizeof(*cl));
    buf_init(&cl->rbuf);
    buf_init(&cl->wbuf);
    buf_append(&cl->rbuf, in, first);
    rename_metrics(cl->rbuf.data, cl->rbuf.len);
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        size_t before = cl->rp.pos;
        http_process(cl);
        if (cl->rp.pos < before || cl->rp.pos > cl->rbuf.len)
            abort();
        check_answers(&cl->wbuf);
        if ((cl->flags & CLIENT_CLOSE_AFTER_REPLY) || cl->rbuf.len == len)
            break;
        buf_append(&cl->rbuf, in + first, len - first); /* the rest arrives */
        rename_metrics(cl->rbuf.data, cl->rbuf.len);
    }
    http_client_free(cl);
    buf_free(&cl->rbuf);
    buf_free(&cl->wbuf);
    free(cl);
    return 0;
}
