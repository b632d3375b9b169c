/* Client connections: accept, read, detect the protocol, parse, run, write, close. */
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl.h"
#include "alloc.h"
#include "blocking.h"
#include "clock.h"
#include "connection.h"
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
#include "tls.h"
#include "tracking.h"
#include "worker.h"
#include "zmalloc.h"

#define READ_CHUNK (16 * 1024)
#define SPARE_MAX (64 * 1024) /* largest emptied buffer kept for reuse; larger ones are freed */
#define PROTO_DETECT_MAX 8192 /* bytes to see the first line before deciding */
#define MS_PER_SEC 1000
#define TLS_READ_BUF (64 * 1024)     /* encrypted bytes taken per read */
#define TLS_WRITE_CHUNK (256 * 1024) /* plaintext encrypted per write: bounds the copy */
#define PROTECTED_MODE_DENIED                                                                      \
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "         \
    "password is set for the default user. In this mode connections are only accepted from the "   \
    "loopback interface. If you want to connect from external computers to Redis you may adopt "   \
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "  \
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "     \
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "         \
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "   \
    "you can just disable the protected mode by editing the Redis configuration file, and "        \
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "        \
    "started the server manually just for testing, restart it with the '--protected-mode no' "     \
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "     \
    "to do one of the above things in order for the server to start accepting connections from "   \
    "the outside.\r\n"

/* Encrypted input lands here before it is decrypted into the client's buffer: libuv calls
 * on_read right after on_alloc on the same thread, so one buffer per worker thread is enough. */
static _Thread_local char tls_read_buf[TLS_READ_BUF];

static atomic_long connected_clients;

/* An idle connection holds no I/O buffer: a buffer that empties goes back to its worker's spare
 * (one for input, one for output; the worker's thread only) or is freed, and the next read or
 * reply takes the spare. A thousand idle connections then keep no allocator pages resident, and
 * a busy thread still reuses one block rather than allocating one per request. The cron frees
 * spares nobody took since its last run (client_cron): an idle thread holds none either. */
static void buf_park(buf *b, buf *spare)
{
    if (b->len || !b->cap)
        return;
    if (!spare->cap && b->cap <= SPARE_MAX) {
        *spare = *b;
        buf_init(b);
    } else {
        buf_free(b);
    }
}

static void buf_unpark(client *cl, buf *b, buf *spare)
{
    if (!b->cap && spare->cap) {
        *b = *spare;
        buf_init(spare);
        cl->owner->spare_taken = 1;
    }
}

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
    zmalloc_note_freed(sizeof(*cl) + cl->rbuf.cap + cl->wbuf.cap + cl->wout.cap + cl->spill.cap +
                       cl->xbuf.cap);
    multi_reset(cl);
    pubsub_unsubscribe_all(cl);
    tracking_client_freed(cl);
    pipeline_free(cl);
    http_client_free(cl);
    memcache_client_free(cl);
    tls_conn_free(cl->tls);
    acl_client_free(cl);
    buf_free(&cl->tls_plain);
    buf_free(&cl->tls_held);
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

/* TLS's close_notify, best effort, so that the peer sees a clean end rather than a truncation.
 * Not while a write is in flight (it would interleave) or the snapshot writer owns the TLS
 * state (CLIENT_REPL_TRANSFER). */
static void tls_say_goodbye(client *cl)
{
    if (!cl->tls || cl->writing || (cl->flags & CLIENT_REPL_TRANSFER))
        return;
    tls_conn_close_notify(cl->tls);
    buf_clear(&cl->wout);
    tls_conn_take(cl->tls, &cl->wout);
    if (cl->wout.len) {
        uv_buf_t b = uv_buf_init(cl->wout.data, (unsigned)cl->wout.len);
        uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
    }
    buf_clear(&cl->wout);
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
    tls_say_goodbye(cl);
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

static int tls_has_output(const client *cl)
{
    return cl->tls && (cl->tls_plain.len || tls_conn_pending(cl->tls));
}

static void on_write(uv_write_t *req, int status)
{
    client *cl = req->data;
    cl->writing = 0;
    counter_add(&cl->owner->stats.net_out, cl->wout.len);
    cl->out_total += cl->wout.len;
    buf_clear(&cl->wout);
    buf_park(&cl->wout, &cl->owner->spare_out);
    if (status < 0) {
        client_close(cl);
        return;
    }
    if (cl->repl)
        repl_client_written(cl); /* the next part of the replication stream */
    if (cl->wbuf.len || tls_has_output(cl))
        client_flush(cl);
    else if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
        client_close(cl);
}

/* Bytes of replies the client has not taken yet. */
static size_t obuf_used(const client *cl)
{
    return cl->wbuf.len + cl->wout.len + (cl->tls_plain.len - cl->tls_plain_pos);
}

/* Redis's checkClientOutputBufferLimits for the normal class (replicas and subscribers have
 * their own classes, enforced in replication.c and pubsub.c): over the hard limit, or over the
 * soft one for longer than its seconds, the client is closed. Returns 1 when it was. */
static int obuf_limit_enforce(client *cl)
{
    if (cl->flags & (CLIENT_REPLICA | CLIENT_PUBSUB))
        return 0;
    long long hard, soft, soft_secs;
    pubsub_obuf_normal_limit(&hard, &soft, &soft_secs);
    if (!hard && !soft)
        return 0;
    size_t used = obuf_used(cl);
    int over = hard && used >= (size_t)hard;
    if (!over && soft && used >= (size_t)soft) {
        uint64_t now = clock_mono_ms();
        if (!cl->obuf_soft_since_ms)
            cl->obuf_soft_since_ms = now ? now : 1;
        else
            over = now - cl->obuf_soft_since_ms > (uint64_t)soft_secs * MS_PER_SEC;
    } else if (!over) {
        cl->obuf_soft_since_ms = 0;
    }
    if (!over)
        return 0;
    log_warning("closing client id=%llu addr=%s: %zu bytes of output pending, over "
                "client-output-buffer-limit normal",
                (unsigned long long)cl->id, cl->addr, used);
    client_close(cl);
    return 1;
}

/* Hands wout to the kernel: what uv_try_write does not take goes to a uv_write. Returns 1 when
 * all of it went at once. */
static int write_out(client *cl)
{
    uv_buf_t b = uv_buf_init(cl->wout.data, (unsigned)cl->wout.len);
    int n = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        client_close(cl);
        return 0;
    }
    if (n > 0) {
        counter_add(&cl->owner->stats.net_out, (uint64_t)n);
        cl->out_total += (uint64_t)n;
        buf_consume(&cl->wout, (size_t)n);
    }
    if (!cl->wout.len)
        return 1;
    b = uv_buf_init(cl->wout.data, (unsigned)cl->wout.len);
    cl->wreq.data = cl;
    cl->writing = 1;
    if (uv_write(&cl->wreq, (uv_stream_t *)&cl->tcp, &b, 1, on_write) < 0) {
        cl->writing = 0;
        client_close(cl);
    }
    return 0;
}

/* The TLS way out: replies move from wbuf to tls_plain (a swap, no copy), are encrypted a chunk
 * at a time into wout and written; a chunk bounds the encrypted copy of a large reply. */
static void tls_flush(client *cl)
{
    for (;;) {
        if (!cl->tls_plain.len && cl->wbuf.len) {
            buf tmp = cl->tls_plain;
            cl->tls_plain = cl->wbuf;
            cl->wbuf = tmp;
            cl->tls_plain_pos = 0;
        }
        if (cl->tls_plain.len) {
            journal_before_reply(); /* appendfsync always: acknowledged writes are on disk */
            size_t left = cl->tls_plain.len - cl->tls_plain_pos;
            long took = tls_conn_write(cl->tls, cl->tls_plain.data + cl->tls_plain_pos,
                                       left < TLS_WRITE_CHUNK ? left : TLS_WRITE_CHUNK);
            if (took < 0) {
                client_close(cl);
                return;
            }
            cl->tls_plain_pos += (size_t)took;
            if (cl->tls_plain_pos == cl->tls_plain.len) {
                buf_clear(&cl->tls_plain);
                buf_park(&cl->tls_plain, &cl->owner->spare_out);
                cl->tls_plain_pos = 0;
            }
        }
        tls_conn_take(cl->tls, &cl->wout);
        if (!cl->wout.len) {
            /* Nothing to send: done, or the handshake has yet to finish. */
            if ((cl->flags & CLIENT_CLOSE_AFTER_REPLY) && !cl->wbuf.len && !cl->tls_plain.len)
                client_close(cl);
            return;
        }
        if (!write_out(cl))
            return; /* on_write continues */
    }
}

static void flush_out(client *cl);

void client_flush(client *cl)
{
    flush_out(cl);
    /* A replica's stream goes out a chunk at a time: the next one follows the write's completion
     * (on_write), or here, when the kernel took everything at once and no completion will come. */
    if (cl->repl && !cl->writing && !cl->closing)
        repl_client_drained(cl);
}

static void flush_out(client *cl)
{
    /* CLIENT_REPL_TRANSFER: a snapshot is being written to the socket by another thread. */
    if (cl->writing || cl->closing || (cl->flags & CLIENT_REPL_TRANSFER)) {
        if (cl->writing && !cl->closing)
            obuf_limit_enforce(cl);
        return;
    }
    if (cl->tls) {
        tls_flush(cl);
        return;
    }
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
        buf_park(&cl->wbuf, &cl->owner->spare_out);
        cl->obuf_soft_since_ms = 0;
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
        return;
    }
    obuf_limit_enforce(cl);
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
    if (cl->tls) { /* decrypted into rbuf or spill by on_read */
        *out = uv_buf_init(tls_read_buf, sizeof(tls_read_buf));
        return;
    }
    buf *target = cl->waiting ? &cl->spill : &cl->rbuf;
    buf_unpark(cl, target, &cl->owner->spare_in);
    size_t want = READ_CHUNK - 1; /* with the NUL, 16 KiB: mimalloc keeps it in a 64 KiB page */
    if (!cl->waiting) {
        /* A large bulk being received: make room for all of it at once. */
        size_t need = resp_pending_bulk(&cl->rp, cl->rbuf.len);
        if (need > cl->rbuf.len + want)
            want = need - cl->rbuf.len;
    }
    buf_reserve(target, want);
    *out = uv_buf_init(target->data + target->len, (unsigned)(target->cap - target->len - 1));
}

/* Encrypted input: decrypted into target. A failed handshake (a plain-text client on a TLS port,
 * an unknown certificate...) gets OpenSSL's alert, best effort, and the connection closes.
 * Returns 0, or -1 when cl was closed. */
static int tls_read(client *cl, const char *data, size_t len, buf *target)
{
    if (tls_conn_feed(cl->tls, data, len, target, cl->addr) < 0) {
        if (!cl->writing) { /* else wout belongs to the write in flight */
            tls_conn_take(cl->tls, &cl->wout);
            uv_buf_t b = uv_buf_init(cl->wout.data, (unsigned)cl->wout.len);
            if (cl->wout.len)
                uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
            buf_clear(&cl->wout);
        }
        client_close(cl);
        return -1;
    }
    if (tls_conn_pending(cl->tls))
        client_flush(cl); /* handshake messages, session tickets */
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    client *cl = s->data;
    if (nread < 0) {
        client_close(cl);
        return;
    }
    buf *target = cl->waiting ? &cl->spill : &cl->rbuf;
    if (nread == 0) { /* nothing after all: the buffer on_alloc made room in may go back */
        buf_park(target, &cl->owner->spare_in);
        return;
    }
    if (cl->tls && (cl->flags & CLIENT_REPL_TRANSFER)) {
        /* The snapshot writer uses the TLS state now: decrypt later. */
        buf_append(&cl->tls_held, b->base, (size_t)nread);
    } else if (cl->tls) {
        buf_unpark(cl, target, &cl->owner->spare_in);
        if (tls_read(cl, b->base, (size_t)nread, target) < 0)
            return;
    } else {
        target->len += (size_t)nread;
        target->data[target->len] = '\0';
    }
    counter_add(&cl->owner->stats.net_in, (uint64_t)nread);
    cl->last_io_ms = clock_mono_ms();
    size_t queued = cl->rbuf.len + cl->spill.len + cl->tls_held.len;
    if (queued > (size_t)server.cfg.client_query_buffer_limit) {
        log_warning("closing client %s: query buffer of %zu bytes over the limit", cl->addr,
                    queued);
        client_close(cl);
        return;
    }
    if (!cl->waiting)
        client_process(cl);
}

/* Redis's protected mode: without a password only the loopback interface may connect (Redis
 * compares the peer's text address with exactly these two). */
static int protected_mode_denies(const struct sockaddr_storage *peer)
{
    if (!server.cfg.protected_mode || connection_password_set())
        return 0;
    char host[INET6_ADDRSTRLEN] = "";
    if (peer->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, host, sizeof(host));
    else if (peer->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, host, sizeof(host));
    else
        return 0; /* not IP: a local socket */
    return strcmp(host, "127.0.0.1") && strcmp(host, "::1");
}

/* Refuses a new connection with an error reply: the reply goes out (after the TLS handshake, on
 * a TLS listener), then the connection closes. */
static void accept_refuse(client *cl, const char *reply)
{
    counter_add(&cl->owner->stats.rejected, 1);
    buf_append_str(&cl->wbuf, reply);
    cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
    if (cl->tls)
        uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_read); /* for the handshake */
    else
        client_flush(cl);
}

/* The close callback of a connection that never became a client: only the struct to free (the
 * handle is not its first member, so the handle's address is not the one to free). */
static void on_close_unstarted(uv_handle_t *h)
{
    free(h->data);
}

static client *client_new(worker *w)
{
    client *cl = mem_calloc(1, sizeof(client));
    cl->owner = w;
    uv_tcp_init(&w->loop, &cl->tcp);
    cl->tcp.data = cl;
    return cl;
}

static client *client_start(worker *w, client *cl, int tls);

client *client_accept(worker *w, uv_stream_t *listener, int tls)
{
    client *cl = client_new(w);
    if (uv_accept(listener, (uv_stream_t *)&cl->tcp) < 0) {
        uv_close((uv_handle_t *)&cl->tcp, on_close_unstarted);
        return NULL;
    }
    return client_start(w, cl, tls);
}

client *client_accept_fd(worker *w, int fd, int tls)
{
    client *cl = client_new(w);
    if (uv_tcp_open(&cl->tcp, fd) < 0) {
        close(fd);
        uv_close((uv_handle_t *)&cl->tcp, on_close_unstarted);
        return NULL;
    }
    return client_start(w, cl, tls);
}

/* A connected handle becomes a client: its state, the limits, then reading. */
static client *client_start(worker *w, client *cl, int tls)
{
    if (tls && !(cl->tls = tls_conn_new_server())) {
        log_warning("cannot start TLS for a new connection: out of memory or no context");
        uv_close((uv_handle_t *)&cl->tcp, on_close_unstarted);
        return NULL;
    }
    cl->id = atomic_fetch_add(&server.next_client_id, 1) + 1;
    cl->resp = 2;
    cl->authenticated = acl_default_nopass(); /* the default user is on and nopass */
    cl->ctime_ms = clock_wall_ms();
    cl->last_io_ms = clock_mono_ms();
    resp_parser_init(&cl->rp);
    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof(peer));
    int sl = sizeof(peer);
    if (uv_tcp_getpeername(&cl->tcp, (struct sockaddr *)&peer, &sl) == 0)
        format_addr(&peer, cl->addr, sizeof(cl->addr));
    struct sockaddr_storage ss;
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
        accept_refuse(cl, "-ERR max number of clients reached\r\n");
        return cl;
    }
    if (protected_mode_denies(&peer)) {
        accept_refuse(cl, PROTECTED_MODE_DENIED);
        return cl;
    }
    uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_read);
    return cl;
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
    if (begin) {
        buf_consume(&cl->rbuf, begin);
        p->start = 0;
        p->pos -= begin;
        if (p->type == 1)
            for (int i = 0; i < p->argc; i++)
                p->arg_off[2 * i] -= begin;
    }
    buf_park(&cl->rbuf, &cl->owner->spare_in);
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
    buf_unpark(cl, &cl->wbuf, &cl->owner->spare_out);
    while (!cl->waiting && !cl->closing && !(cl->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        if (!cl->rbuf.data)
            break; /* parked: all input so far was processed, and none came since */
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
            cl->argv = mem_realloc(cl->argv, sizeof(slice) * (size_t)argc);
        }
        const char *base = cl->rp.type == 1 ? cl->rbuf.data : cl->inline_args.data;
        for (int i = 0; i < argc; i++) {
            cl->argv[i].p = base + cl->rp.arg_off[2 * i];
            cl->argv[i].len = cl->rp.arg_off[2 * i + 1];
        }
        const command *cmd;
        int shard, key;
        if (pipeline_squashable(cl, argc, cl->argv, &cmd, &shard, &key)) {
            pipeline_add(cl, cmd, shard, key, argc, cl->argv);
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
    buf_park(&cl->spill, &cl->owner->spare_in);
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

void client_repl_transfer_end(client *cl)
{
    cl->flags &= ~CLIENT_REPL_TRANSFER;
    if (cl->closing || !cl->tls_held.len)
        return;
    buf held = cl->tls_held;
    buf_init(&cl->tls_held);
    int rc = tls_read(cl, held.data, held.len, cl->waiting ? &cl->spill : &cl->rbuf);
    buf_free(&held);
    if (rc == 0 && !cl->waiting)
        client_process(cl);
}

void client_cron(worker *w)
{
    if (!w->spare_taken) {
        buf_free(&w->spare_in);
        buf_free(&w->spare_out);
    }
    w->spare_taken = 0;
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
               "rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=%s "
               "redir=%lld resp=%d lib-name=%s lib-ver=%s thread=%d\n",
               (unsigned long long)cl->id, cl->addr, cl->laddr, cl->fd, cl->name ? cl->name : "",
               (long long)((clock_wall_ms() - cl->ctime_ms) / 1000),
               (unsigned long long)((now - cl->last_io_ms) / 1000), flags, cl->dbid,
               pubsub_count(cl, PUBSUB_CHANNEL), pubsub_count(cl, PUBSUB_PATTERN),
               pubsub_count(cl, PUBSUB_SHARD), (cl->flags & CLIENT_MULTI) ? cl->mcount : -1,
               cl->rbuf.len, cl->rbuf.cap ? cl->rbuf.cap - cl->rbuf.len : 0, cl->rbuf.cap,
               cl->rbuf.len, cl->wbuf.len, cl->wbuf.cap + cl->wout.cap,
               cl->rbuf.cap + cl->wbuf.cap + cl->wout.cap, last_cmd, acl_client_username(cl),
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

/* ---- serving while a script runs (busy.c) --------------------------------------------------
 * The thread is inside a long script, so its loop does not run: what the socket holds now is
 * read without blocking and goes the usual way (on_read, the parser, dispatch_command, whose
 * busy check answers -BUSY), and replies leave through the usual uv_try_write. */

void client_serve_busy(client *cl)
{
    /* Memcached connections, replicas and clients with a command in flight wait for the loop
     * (HTTP requests go on: they queue behind the script like any command that needs data). */
    if (cl->closing || cl->waiting || cl->proto == PROTO_MEMCACHE ||
        (cl->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_REPLICA | CLIENT_REPL_TRANSFER)))
        return;
    uv_buf_t b;
    on_alloc((uv_handle_t *)&cl->tcp, READ_CHUNK, &b);
    ssize_t n = recv(cl->fd, b.base, b.len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    on_read((uv_stream_t *)&cl->tcp, n > 0 ? n : UV_EOF, &b);
}
