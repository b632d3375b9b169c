/* A small HTTP/1.1 server for the main port; see http.h. */
#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "tx.h"
#include "worker.h"

#define HTTP_HEADER_MAX 8192
#define HTTP_BODY_MAX (1024 * 1024)

static void respond(client *cl, int code, const char *reason, const char *ctype, const char *body,
                    size_t blen, int close, int head)
{
    buf_printf(&cl->wbuf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
               code, reason, ctype, blen, close ? "Connection: close\r\n" : "");
    if (!head) /* HEAD: the headers of GET, no body */
        buf_append(&cl->wbuf, body, blen);
    if (close)
        cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

static void bad_request(client *cl, const char *why)
{
    respond(cl, 400, "Bad Request", "text/plain; charset=utf-8", why, strlen(why), 1, 0);
}

struct metrics_req {
    client *cl;
    int close;
    int head;
    buf body;
};

static void metrics_body(void *arg)
{
    struct metrics_req *m = arg;
    metrics_render(&m->body);
}

static void metrics_finish(struct metrics_req *m)
{
    client *cl = m->cl;
    if (!cl->closing)
        respond(cl, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", m->body.data,
                m->body.len, m->close, m->head);
    buf_free(&m->body);
    free(m);
}

static void metrics_done(void *arg)
{
    client *cl = ((struct metrics_req *)arg)->cl;
    metrics_finish(arg);
    client_command_done(cl);
}

/* Returns the value of header `name` within the header block, or NULL. */
static const char *header_value(const char *hdrs, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = hdrs, *end = hdrs + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

void http_process(client *cl)
{
    while (!cl->waiting && !cl->closing && !(cl->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        const char *d = cl->rbuf.data + cl->rp.pos;
        size_t n = cl->rbuf.len - cl->rp.pos;
        if (n == 0)
            break;
        const char *hend = memmem(d, n, "\r\n\r\n", 4);
        size_t term = 4;
        if (!hend) {
            hend = memmem(d, n, "\n\n", 2);
            term = 2;
        }
        if (!hend) {
            if (n > HTTP_HEADER_MAX)
                bad_request(cl, "request header too large\n");
            break;
        }
        size_t hlen = (size_t)(hend - d);
        if (hlen > HTTP_HEADER_MAX) {
            bad_request(cl, "request header too large\n");
            break;
        }
        /* Request line: METHOD SP target SP HTTP/1.x. Without headers it ends in the blank
         * line's terminator itself, so look through that too. */
        const char *eol = memchr(d, '\n', hlen + term);
        size_t llen = (size_t)(eol - d);
        if (llen && d[llen - 1] == '\r')
            llen--;
        char line[HTTP_HEADER_MAX + 1];
        memcpy(line, d, llen);
        line[llen] = '\0';
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1') ||
            sp2[9] != '\0') {
            bad_request(cl, "malformed request line\n");
            break;
        }
        for (char *q = line; q < sp1; q++)
            if (!isupper((unsigned char)*q)) {
                bad_request(cl, "malformed method\n");
                return;
            }
        *sp1 = *sp2 = '\0';
        const char *method = line, *target = sp1 + 1;
        int http10 = sp2[8] == '0';
        size_t vlen;
        const char *conn = header_value(d, hlen, "Connection", &vlen);
        int close = http10 ? !(conn && vlen == 10 && !strncasecmp(conn, "keep-alive", 10))
                           : (conn && vlen == 5 && !strncasecmp(conn, "close", 5));
        const char *cl_hdr = header_value(d, hlen, "Content-Length", &vlen);
        size_t body = 0;
        if (cl_hdr) {
            char tmp[32];
            if (vlen == 0 || vlen >= sizeof(tmp)) {
                bad_request(cl, "bad Content-Length\n");
                break;
            }
            memcpy(tmp, cl_hdr, vlen);
            tmp[vlen] = '\0';
            char *end;
            unsigned long long v = strtoull(tmp, &end, 10);
            if (*end || !isdigit((unsigned char)tmp[0]) || v > HTTP_BODY_MAX) {
                bad_request(cl, "bad Content-Length\n");
                break;
            }
            body = (size_t)v;
        }
        if (header_value(d, hlen, "Transfer-Encoding", &vlen)) {
            bad_request(cl, "chunked bodies are not accepted\n");
            break;
        }
        if (n < hlen + term + body)
            break; /* the body is still coming */
        cl->rp.pos += hlen + term + body;
        cl->rp.start = cl->rp.pos;
        const char *q = strchr(target, '?');
        size_t plen = q ? (size_t)(q - target) : strlen(target);
        if (plen == 8 && !memcmp(target, "/metrics", 8) &&
            (!strcmp(method, "GET") || !strcmp(method, "HEAD"))) {
            struct metrics_req *m = mem_calloc(1, sizeof(*m));
            m->cl = cl;
            m->close = close;
            m->head = !strcmp(method, "HEAD");
            shardset all;
            shardset_all(&all);
            if (tx_run(&all, metrics_body, metrics_done, m)) {
                metrics_finish(m);
                continue;
            }
            cl->waiting = 1;
            return;
        }
        const char *msg = "404 page not found\n";
        respond(cl, 404, "Not Found", "text/plain; charset=utf-8", msg, strlen(msg), close,
                !strcmp(method, "HEAD"));
    }
}

void http_client_free(client *cl)
{
    (void)cl;
}
