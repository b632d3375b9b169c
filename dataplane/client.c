/* Client connections: accept, read, detect the protocol, parse, run, write, close. */
#include "client.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "clock.h"
#include "dispatch.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "memcache.h"
#include "monitor.h"
#include "multi.h"
#include "pipeline.h"
#include "pubsub.h"
#include "replication.h"
#include "resp.h"
#include "server.h"
#include "t_wait.h"
#include "tracking.h"
#include "worker.h"

#define READ_CHUNK (16 * 1024)
#define RBUF_KEEP (64 * 1024) /* capacity kept by an idle connection */
#define PROTO_DETECT_MAX 8192 /* bytes to see the first line before deciding */

static atomic_long connected_clients;

long client_count(void)
{
    return atomic_load(&connected_clients);
}

static void client_process(client *cl);

static void list_add(worker *w, client *cl)
{
    cl->prev = NULL;
    cl->next = w->clients;
    if (w->clients)
        w->clients->prev = cl;
    w->clients = cl;
}

static void list_remove(worker *w, client *cl)
{
    if (cl->prev)
        cl->prev->next = cl->next;
    else if (w->clients == cl)
        w->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    cl->prev = cl->next = NULL;
}

static void client_free(client *cl)
{
    multi_reset(cl);
    pubsub_unsubscribe_all(cl);
    tracking_client_freed(cl);
    pipeline_free(cl);
    http_client_free(cl);
    memcache_client_free(cl);
    buf_free(&cl->rbuf);
    buf_free(&cl->spill);
    buf_free(&cl->wbuf);
    buf_free(&cl->wout);
    buf_free(&cl->xbuf);
    buf_free(&cl->inline_args);
    resp_parser_free(&cl->rp);
    free(cl->argv);
    free(cl->name);
    free(cl->lib_name);
    free(cl->lib_ver);
    free(cl);
}

static void on_close(uv_handle_t *h)
{
    client *cl = h->data;
    atomic_fetch_sub(&connected_clients, 1);
    counter_add(&cl->owner->stats.clients, (uint64_t)-1);
    cl->closing = 2; /* closed */
    if (!cl->waiting)
        client_free(cl);
}

void client_close(client *cl)
{
    if (cl->closing)
        return;
    cl->closing = 1;
    list_remove(cl->owner, cl);
    monitor_remove(cl); /* monitors hold a pointer to cl: drop it before cl can be freed */
    block_cancel(cl);
    wait_cancel(cl);
    repl_client_closed(cl); /* a replica: it leaves the stream */
    uv_close((uv_handle_t *)&cl->tcp, on_close);
}

void client_close_all(worker *w)
{
    while (w->clients)
        client_close(w->clients);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, outlen, "%s:%d", host, port);
}

static void on_write(uv_write_t *req, int status)
{
    client *cl = req->data;
    cl->writing = 0;
    counter_add(&cl->owner->stats.net_out, cl->wout.len);
    cl->out_total += cl->wout.len;
    buf_clear(&cl->wout);
    buf_shrink(&cl->wout, RBUF_KEEP);
    if (status < 0) {
        client_close(cl);
        return;
    }
    if (cl->repl)
        repl_client_written(cl); /* the next part of the replication stream */
    if (cl->wbuf.len)
        client_flush(cl);
    else if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
        client_close(cl);
}

void client_flush(client *cl)
{
    /* CLIENT_REPL_TRANSFER: a snapshot is being written to the socket by another thread. */
    if (cl->writing || cl->closing || (cl->flags & CLIENT_REPL_TRANSFER))
        return;
    if (!cl->wbuf.len) {
        if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
            client_close(cl);
        return;
    }
    journal_before_reply(); /* appendfsync always: acknowledged writes are on disk first */
    uv_buf_t b = uv_buf_init(cl->wbuf.data, (unsigned)cl->wbuf.len);
    int n = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
    if (n == (int)cl->wbuf.len) {
        counter_add(&cl->owner->stats.net_out, (uint64_t)n);
        cl->out_total += (uint64_t)n;
        buf_clear(&cl->wbuf);
        buf_shrink(&cl->wbuf, RBUF_KEEP);
        if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
            client_close(cl);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        client_close(cl);
        return;
    }
    if (n > 0) {
        counter_add(&cl->owner->stats.net_out, (uint64_t)n);
        cl->out_total += (uint64_t)n;
        buf_consume(&cl->wbuf, (size_t)n);
    }
    /* Hand the rest to libuv; new replies accumulate in wbuf meanwhile. */
    buf tmp = cl->wout;
    cl->wout = cl->wbuf;
    cl->wbuf = tmp;
    b = uv_buf_init(cl->wout.data, (unsigned)cl->wout.len);
    cl->wreq.data = cl;
    cl->writing = 1;
    if (uv_write(&cl->wreq, (uv_stream_t *)&cl->tcp, &b, 1, on_write) < 0) {
        cl->writing = 0;
        client_close(cl);
    }
}

void client_protocol_error(client *cl, const char *msg)
{
    buf_printf(&cl->wbuf, "-%s\r\n", msg);
    cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
    log_debug("protocol error from client %s: %s", cl->addr, msg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    client *cl = h->data;
    buf *target = cl->waiting ? &cl->spill : &cl->rbuf;
    size_t want = READ_CHUNK;
    if (!cl->waiting) {
        /* A large bulk being received: make room for all of it at once. */
        size_t need = resp_pending_bulk(&cl->rp, cl->rbuf.len);
        if (need > cl->rbuf.len + want)
            want = need - cl->rbuf.len;
    }
    buf_reserve(target, want);
    *out = uv_buf_init(target->data + target->len, (unsigned)(target->cap - target->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    client *cl = s->data;
    if (nread < 0) {
        client_close(cl);
        return;
    }
    if (nread == 0)
        return;
    buf *target = cl->waiting ? &cl->spill : &cl->rbuf;
    target->len += (size_t)nread;
    target->data[target->len] = '\0';
    counter_add(&cl->owner->stats.net_in, (uint64_t)nread);
    cl->last_io_ms = clock_mono_ms();
    if (cl->rbuf.len + cl->spill.len > (size_t)server.cfg.client_query_buffer_limit) {
        log_warning("closing client %s: query buffer of %zu bytes over the limit", cl->addr,
                    cl->rbuf.len + cl->spill.len);
        client_close(cl);
        return;
    }
    if (!cl->waiting)
        client_process(cl);
}

void client_accept(worker *w, uv_stream_t *listener)
{
    client *cl = calloc(1, sizeof(client));
    cl->owner = w;
    uv_tcp_init(&w->loop, &cl->tcp);
    cl->tcp.data = cl;
    if (uv_accept(listener, (uv_stream_t *)&cl->tcp) < 0) {
        uv_close((uv_handle_t *)&cl->tcp, (uv_close_cb)free);
        return;
    }
    cl->id = atomic_fetch_add(&server.next_client_id, 1) + 1;
    cl->resp = 2;
    cl->authenticated = !(server.cfg.requirepass && *server.cfg.requirepass);
    cl->ctime_ms = clock_wall_ms();
    cl->last_io_ms = clock_mono_ms();
    resp_parser_init(&cl->rp);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getpeername(&cl->tcp, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, cl->addr, sizeof(cl->addr));
    sl = sizeof(ss);
    if (uv_tcp_getsockname(&cl->tcp, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, cl->laddr, sizeof(cl->laddr));
    uv_fileno((uv_handle_t *)&cl->tcp, &cl->fd);
    uv_tcp_nodelay(&cl->tcp, 1);
    if (server.cfg.tcp_keepalive > 0)
        uv_tcp_keepalive(&cl->tcp, 1, (unsigned)server.cfg.tcp_keepalive);
    list_add(w, cl);
    tracking_client_opened(cl); /* by id, for CLIENT TRACKING REDIRECT */
    atomic_fetch_add(&connected_clients, 1);
    counter_add(&w->stats.clients, 1);
    counter_add(&w->stats.connections, 1);
    if (atomic_load(&connected_clients) > server.cfg.maxclients) {
        counter_add(&w->stats.rejected, 1);
        buf_append_str(&cl->wbuf, "-ERR max number of clients reached\r\n");
        cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        client_flush(cl);
        return;
    }
    uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_read);
}

/* The first line decides: "METHOD /path HTTP/1.x" is HTTP, anything else RESP. */
static int detect_proto(client *cl)
{
    const char *d = cl->rbuf.data;
    size_t n = cl->rbuf.len;
    if (d[0] == '*')
        return PROTO_RESP;
    const char *nl = memchr(d, '\n', n);
    if (!nl)
        return n > PROTO_DETECT_MAX ? PROTO_RESP : PROTO_UNKNOWN;
    size_t len = (size_t)(nl - d);
    if (len && d[len - 1] == '\r')
        len--;
    size_t i = 0;
    while (i < len && d[i] >= 'A' && d[i] <= 'Z')
        i++;
    if (i == 0 || i >= len || d[i] != ' ' || d[i + 1] != '/')
        return PROTO_RESP;
    return len > 9 && !memcmp(d + len - 9, " HTTP/1.", 8) ? PROTO_HTTP : PROTO_RESP;
}

/* Moves unconsumed input to the front of rbuf; offsets of a partial request move with it. */
static void compact_rbuf(client *cl)
{
    resp_parser *p = &cl->rp;
    size_t begin = p->start;
    if (begin == 0)
        return;
    buf_consume(&cl->rbuf, begin);
    p->start = 0;
    p->pos -= begin;
    if (p->type == 1)
        for (int i = 0; i < p->argc; i++)
            p->arg_off[2 * i] -= begin;
    if (cl->rbuf.len == 0)
        buf_shrink(&cl->rbuf, RBUF_KEEP);
}

/* After a command: reply suppression, and the parser moves to the next request. */
static void finish_command(client *cl, size_t reply_mark)
{
    if (cl->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) {
        cl->wbuf.len = reply_mark;
        if (cl->wbuf.data)
            cl->wbuf.data[reply_mark] = '\0';
    }
    if (cl->flags & CLIENT_REPLY_SKIP)
        cl->flags &= ~CLIENT_REPLY_SKIP;
    if (cl->flags & CLIENT_REPLY_SKIP_NEXT) {
        cl->flags &= ~CLIENT_REPLY_SKIP_NEXT;
        cl->flags |= CLIENT_REPLY_SKIP;
    }
    resp_parser_next(&cl->rp);
}

/* Runs the squashed batch; 1 when it went to other threads. */
static int run_batch(client *cl)
{
    return pipeline_count(cl) && pipeline_run(cl);
}

static void client_process(client *cl)
{
    resp_limits lim = {
        .max_bulk_len = server.cfg.proto_max_bulk_len,
        .max_multibulk = server.cfg.max_multibulk_len,
        .max_inline = PROTO_INLINE_MAX_SIZE,
    };
    while (!cl->waiting && !cl->closing && !(cl->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        if (cl->proto == PROTO_UNKNOWN) {
            if (!cl->rbuf.len)
                break;
            cl->proto = detect_proto(cl);
            if (cl->proto == PROTO_UNKNOWN)
                break;
        }
        if (cl->proto == PROTO_HTTP) {
            http_process(cl);
            break;
        }
        if (cl->proto == PROTO_MEMCACHE) {
            if (memcache_process(cl)) /* its own parsers and batches */
                return;               /* a command or batch went to other threads */
            break;
        }
        const char *err = NULL;
        int r = resp_parse(&cl->rp, cl->rbuf.data, cl->rbuf.len, &lim, &cl->inline_args, &err);
        if (r == RESP_INCOMPLETE)
            break;
        if (r == RESP_ERROR) {
            if (pipeline_count(cl)) {
                /* Earlier replies first: parse this request again after the batch. */
                resp_parser_rewind(&cl->rp);
                if (run_batch(cl))
                    return;
                continue;
            }
            client_protocol_error(cl, err);
            break;
        }
        int argc = cl->rp.argc;
        if (argc == 0) {
            resp_parser_next(&cl->rp);
            continue;
        }
        if (argc > cl->argv_cap) {
            cl->argv_cap = argc;
            cl->argv = realloc(cl->argv, sizeof(slice) * (size_t)argc);
        }
        const char *base = cl->rp.type == 1 ? cl->rbuf.data : cl->inline_args.data;
        for (int i = 0; i < argc; i++) {
            cl->argv[i].p = base + cl->rp.arg_off[2 * i];
            cl->argv[i].len = cl->rp.arg_off[2 * i + 1];
        }
        const command *cmd;
        int shard;
        if (pipeline_squashable(cl, argc, cl->argv, &cmd, &shard)) {
            pipeline_add(cl, cmd, shard, argc, cl->argv);
            resp_parser_next(&cl->rp);
            if (pipeline_count(cl) >= PIPELINE_BATCH_MAX && run_batch(cl))
                return;
            continue;
        }
        if (pipeline_count(cl)) {
            resp_parser_rewind(&cl->rp);
            if (run_batch(cl))
                return;
            continue;
        }
        cl->reply_mark = cl->wbuf.len;
        if (dispatch_command(cl, argc, cl->argv))
            return; /* resumes in client_command_done */
        finish_command(cl, cl->reply_mark);
    }
    if (!cl->closing && run_batch(cl))
        return;
    if (!cl->waiting)
        compact_rbuf(cl);
    client_flush(cl);
}

/* Input that arrived while a command ran elsewhere joins the input buffer. */
static void take_spill(client *cl)
{
    if (!cl->spill.len)
        return;
    compact_rbuf(cl);
    buf_append(&cl->rbuf, cl->spill.data, cl->spill.len);
    buf_clear(&cl->spill);
    buf_shrink(&cl->spill, RBUF_KEEP);
}

void client_batch_done(client *cl)
{
    cl->waiting = 0;
    if (cl->closing) {
        if (cl->closing == 2)
            client_free(cl);
        return;
    }
    take_spill(cl);
    client_process(cl);
}

void client_command_done(client *cl)
{
    cl->waiting = 0;
    if (cl->closing) {
        if (cl->closing == 2)
            client_free(cl);
        return;
    }
    finish_command(cl, cl->reply_mark);
    take_spill(cl);
    client_process(cl);
}

void client_cron(worker *w)
{
    if (server.cfg.timeout <= 0)
        return;
    uint64_t now = clock_mono_ms();
    uint64_t limit = (uint64_t)server.cfg.timeout * 1000;
    client *cl = w->clients;
    while (cl) {
        client *next = cl->next;
        /* Replicas are timed out by repl-timeout instead (replication.c). */
        if (!cl->waiting &&
            !(cl->flags & (CLIENT_BLOCKED | CLIENT_PUBSUB | CLIENT_MONITOR | CLIENT_REPLICA)) &&
            now - cl->last_io_ms > limit)
            client_close(cl);
        cl = next;
    }
}

void client_describe(client *cl, buf *out)
{
    char last_cmd[128] = "NULL";
    if (cl->last_cmd)
        command_fullname(cl->last_cmd, cl->last_cmd->parent, last_cmd, sizeof(last_cmd));
    uint64_t now = clock_mono_ms();
    char flags[16];
    int nf = 0;
    if (cl->flags & CLIENT_REPLICA)
        flags[nf++] = 'S';
    if (cl->flags & CLIENT_MULTI)
        flags[nf++] = 'x';
    if (cl->flags & CLIENT_BLOCKED)
        flags[nf++] = 'b';
    unsigned tf = tracking_flags(cl);
    if (tf & TRK_ON)
        flags[nf++] = 't';
    if (tf & TRK_BROKEN_REDIR)
        flags[nf++] = 'R';
    if (tf & TRK_BCAST)
        flags[nf++] = 'B';
    if (cl->flags & CLIENT_PUBSUB)
        flags[nf++] = 'P';
    if (cl->flags & CLIENT_MONITOR)
        flags[nf++] = 'O';
    if (cl->flags & CLIENT_NO_EVICT)
        flags[nf++] = 'e';
    if (cl->flags & CLIENT_NO_TOUCH)
        flags[nf++] = 'T';
    if (!nf)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%llu flags=%s db=%d "
               "sub=%d psub=%d ssub=%d multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 "
               "rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=default "
               "redir=%lld resp=%d lib-name=%s lib-ver=%s thread=%d\n",
               (unsigned long long)cl->id, cl->addr, cl->laddr, cl->fd, cl->name ? cl->name : "",
               (long long)((clock_wall_ms() - cl->ctime_ms) / 1000),
               (unsigned long long)((now - cl->last_io_ms) / 1000), flags, cl->dbid,
               pubsub_count(cl, PUBSUB_CHANNEL), pubsub_count(cl, PUBSUB_PATTERN),
               pubsub_count(cl, PUBSUB_SHARD), (cl->flags & CLIENT_MULTI) ? cl->mcount : -1,
               cl->rbuf.len, cl->rbuf.cap ? cl->rbuf.cap - cl->rbuf.len : 0, cl->rbuf.cap,
               cl->rbuf.len, cl->wbuf.len, cl->wbuf.cap + cl->wout.cap,
               cl->rbuf.cap + cl->wbuf.cap + cl->wout.cap, last_cmd,
               (tf & TRK_ON) ? (long long)tracking_redirect(cl) : -1LL, cl->resp,
               cl->lib_name ? cl->lib_name : "", cl->lib_ver ? cl->lib_ver : "", cl->owner->id);
}

/* ---- deferred replies ---------------------------------------------------------------------
 * A command whose proc runs inline on the client's thread but whose answer needs other workers
 * (CLIENT LIST and CLIENT KILL ask every worker about its own connections) defers its reply:
 * the proc returns with cl->waiting set, so client_process stops after it as it does for a
 * command running elsewhere, and input that arrives meanwhile goes to spill. */

int client_defer_reply(client *cl)
{
    cl->waiting = 1;
    /* finish_command applies CLIENT REPLY OFF/SKIP when the proc returns, before the reply
     * exists; remember whether this reply is to be dropped. */
    return (cl->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) != 0;
}

void client_deferred_reply(client *cl, const char *reply, size_t len, int muted, int close_after)
{
    if (!cl->closing) {
        /* client_command_done runs finish_command again: harmless, since nothing was parsed
         * since the first run, and with reply_mark here it drops only what OFF drops. */
        cl->reply_mark = cl->wbuf.len;
        if (!muted)
            buf_append(&cl->wbuf, reply, len);
        if (close_after)
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
    }
    client_command_done(cl);
}
