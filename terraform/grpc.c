/* gRPC over HTTP/2 with nghttp2 (see grpc.h). The session is a server session: it sends its
 * SETTINGS first, answers PING, keeps HPACK state and sends WINDOW_UPDATEs by itself; we feed it
 * bytes read from the connection and write out what it wants sent.
 *
 * Threads: the calling thread owns the connection and the nghttp2 session. Each complete
 * request runs its handler on a thread of its own (Terraform applies resources in parallel and
 * an apply may wait minutes for its operation); the finished answer comes back through a queue
 * and a wake-up pipe, and the connection's thread sends it. */
#include "grpc.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

#define GRPC_PREFIX_LEN 5            /* compressed flag + 4-byte big-endian length */
#define GRPC_MAX_MESSAGE (64u << 20) /* larger requests are refused */
#define GRPC_MAX_PATH 256
#define GRPC_STATUS_LEN 16
#define READ_CHUNK 16384
#define MAX_CONCURRENT_STREAMS 100
#define DRAIN_POLL_MS 10
#define DRAIN_MAX_MS 2000 /* at the end, how long calls still running may take to finish */

typedef struct grpc_stream {
    int32_t id;
    char path[GRPC_MAX_PATH];
    buf body; /* the request's DATA */
    buf resp; /* the answer's DATA: prefix and message */
    size_t resp_off;
    char status[GRPC_STATUS_LEN];    /* grpc-status of the trailers */
    struct grpc_stream *prev, *next; /* the connection's open streams */
} grpc_stream;

struct grpc_conn;

/* One call on its way through a handler thread. */
typedef struct grpc_job {
    struct grpc_conn *c;
    int32_t stream_id;
    char path[GRPC_MAX_PATH];
    uint8_t *req;
    size_t req_len;
    buf resp;
    int status;
    bool stop;
    struct grpc_job *next;
} grpc_job;

typedef struct grpc_conn {
    int fd;
    SSL *ssl;
    nghttp2_session *session;
    grpc_handler_fn handler;
    void *ud;
    bool stop;
    grpc_stream *streams; /* open streams: freed when they close or the connection ends */
    int wake[2];          /* a handler thread writes a byte when it queued a finished job */
    pthread_mutex_t mu;   /* guards done and running */
    grpc_job *done;
    int running; /* handler threads not finished */
} grpc_conn;

#define NV(name, value)                                                                            \
    {                                                                                              \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, strlen(value),                    \
            NGHTTP2_NV_FLAG_NONE                                                                   \
    }

static int conn_write_all(grpc_conn *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, (int)n);
            w = r > 0 ? r : -1;
        } else {
            w = write(c->fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t conn_read(grpc_conn *c, uint8_t *p, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, p, (int)n);
        return r > 0 ? r : -1;
    }
    for (;;) {
        ssize_t r = read(c->fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0 ? r : -1;
    }
}

static void stream_free(grpc_conn *c, grpc_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    buf_free(&s->body);
    buf_free(&s->resp);
    free(s);
}

static void job_free(grpc_job *j)
{
    free(j->req);
    buf_free(&j->resp);
    free(j);
}

/* The answer's DATA: the prefixed message, then trailers instead of END_STREAM on DATA. */
static ssize_t resp_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *out, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    grpc_stream *s = src->ptr;
    size_t left = s->resp.len - s->resp_off;
    size_t n = left < len ? left : len;
    memcpy(out, s->resp.data + s->resp_off, n);
    s->resp_off += n;
    if (s->resp_off == s->resp.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv trailers[] = {NV("grpc-status", s->status)};
        if (nghttp2_submit_trailer(session, stream_id, trailers, 1) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* A trailers-only answer: headers with grpc-status and no message. */
static void stream_answer_error(grpc_conn *c, grpc_stream *s, int status, const char *message)
{
    snprintf(s->status, sizeof s->status, "%d", status);
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                         NV("grpc-status", s->status), NV("grpc-message", message)};
    nghttp2_submit_response(c->session, s->id, hdrs, sizeof hdrs / sizeof hdrs[0], NULL);
}

static void stream_answer(grpc_conn *c, grpc_stream *s, const buf *msg)
{
    uint8_t prefix[GRPC_PREFIX_LEN] = {0, (uint8_t)(msg->len >> 24), (uint8_t)(msg->len >> 16),
                                       (uint8_t)(msg->len >> 8), (uint8_t)msg->len};
    buf_append(&s->resp, prefix, sizeof prefix);
    buf_append(&s->resp, msg->data, msg->len);
    snprintf(s->status, sizeof s->status, "%d", GRPC_OK);
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = resp_read_cb};
    nghttp2_submit_response(c->session, s->id, hdrs, sizeof hdrs / sizeof hdrs[0], &prd);
}

/* A finished job, on the connection's thread: its stream may have been reset meanwhile. */
static void job_answer(grpc_conn *c, grpc_job *j)
{
    if (j->stop)
        c->stop = true;
    grpc_stream *s = nghttp2_session_get_stream_user_data(c->session, j->stream_id);
    if (!s)
        return;
    if (j->status != GRPC_OK)
        stream_answer_error(c, s, j->status,
                            j->status == GRPC_UNIMPLEMENTED ? "unimplemented" : "error");
    else
        stream_answer(c, s, &j->resp);
}

static void *job_run(void *arg)
{
    grpc_job *j = arg;
    grpc_conn *c = j->c;
    j->status = c->handler(c->ud, j->path, j->req, j->req_len, &j->resp, &j->stop);
    /* The handler's TLS calls left per-thread OpenSSL state (its error queue): free it now, not
     * in this detached thread's exit, which can still be running when the process ends after
     * the last answer (LeakSanitizer then reports it). */
    OPENSSL_thread_stop();
    pthread_mutex_lock(&c->mu);
    j->next = c->done;
    c->done = j;
    c->running--;
    pthread_mutex_unlock(&c->mu);
    char byte = 0;
    while (write(c->wake[1], &byte, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* A whole request arrived: unwrap the message and hand it to a handler thread. */
static void stream_dispatch(grpc_conn *c, grpc_stream *s)
{
    const uint8_t *b = (const uint8_t *)s->body.data;
    if (s->body.len < GRPC_PREFIX_LEN) {
        stream_answer_error(c, s, GRPC_INVALID_ARGUMENT, "missing message");
        return;
    }
    if (b[0] != 0) {
        stream_answer_error(c, s, GRPC_UNIMPLEMENTED, "compressed messages are not supported");
        return;
    }
    size_t mlen = ((size_t)b[1] << 24) | ((size_t)b[2] << 16) | ((size_t)b[3] << 8) | b[4];
    if (mlen > s->body.len - GRPC_PREFIX_LEN) {
        stream_answer_error(c, s, GRPC_INVALID_ARGUMENT, "truncated message");
        return;
    }
    grpc_job *j = mem_calloc(1, sizeof *j);
    j->c = c;
    j->stream_id = s->id;
    memcpy(j->path, s->path, sizeof j->path);
    j->req = mem_malloc(mlen);
    memcpy(j->req, b + GRPC_PREFIX_LEN, mlen);
    j->req_len = mlen;
    buf_init(&j->resp);
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&c->mu);
    c->running++;
    pthread_mutex_unlock(&c->mu);
    if (pthread_create(&tid, &attr, job_run, j) != 0)
        job_run(j); /* no thread to be had: answer in line, late rather than never */
    pthread_attr_destroy(&attr);
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    grpc_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    grpc_conn *c = ud;
    s->id = frame->hd.stream_id;
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
    buf_init(&s->body);
    buf_init(&s->resp);
    nghttp2_session_set_stream_user_data(session, s->id, s);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s && namelen == 5 && memcmp(name, ":path", 5) == 0) {
        size_t n = valuelen < GRPC_MAX_PATH - 1 ? valuelen : GRPC_MAX_PATH - 1;
        memcpy(s->path, value, n);
        s->path[n] = '\0';
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *ud)
{
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!s)
        return 0;
    if (s->body.len + len > GRPC_MAX_MESSAGE + GRPC_PREFIX_LEN)
        return nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
                                         NGHTTP2_REFUSED_STREAM);
    buf_append(&s->body, data, len);
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s)
        stream_dispatch(ud, s);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud)
{
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(ud, s);
    }
    return 0;
}

static nghttp2_session *session_new(grpc_conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return NULL;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session *session = NULL;
    int rc = nghttp2_session_server_new(&session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return NULL;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS}};
    if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1) != 0) {
        nghttp2_session_del(session);
        return NULL;
    }
    return session;
}

/* Writes out everything the session has queued. */
static int conn_flush(grpc_conn *c)
{
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (conn_write_all(c, data, (size_t)n) != 0)
            return -1;
    }
}

/* Submits the answers of every finished job. */
static void conn_collect(grpc_conn *c)
{
    char drain[64];
    while (read(c->wake[0], drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&c->mu);
    grpc_job *j = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    while (j) {
        grpc_job *next = j->next;
        job_answer(c, j);
        job_free(j);
        j = next;
    }
}

/* Waits for bytes from the peer (or ones TLS already holds) or a finished job. Returns 1 when
 * the connection is readable, 0 when only jobs finished, -1 on an error. */
static int conn_wait(grpc_conn *c)
{
    if (c->ssl && SSL_pending(c->ssl) > 0)
        return 1;
    struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->wake[0], .events = POLLIN}};
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (fds[1].revents)
            conn_collect(c);
        return fds[0].revents ? 1 : 0;
    }
}

/* At the end, calls still running get a moment to finish; true when none is left. */
static bool conn_drain(grpc_conn *c)
{
    for (int waited = 0;; waited += DRAIN_POLL_MS) {
        pthread_mutex_lock(&c->mu);
        int running = c->running;
        pthread_mutex_unlock(&c->mu);
        if (running == 0 || waited >= DRAIN_MAX_MS)
            return running == 0;
        struct timespec ts = {0, DRAIN_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int conn_serve(grpc_conn *c)
{
    uint8_t in[READ_CHUNK];
    for (;;) {
        if (conn_flush(c) != 0)
            return -1;
        if (c->stop && !nghttp2_session_want_write(c->session))
            return 0;
        if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session))
            return 0;
        int ready = conn_wait(c);
        if (ready < 0)
            return -1;
        if (ready == 0)
            continue;
        ssize_t n = conn_read(c, in, sizeof in);
        if (n <= 0)
            return 0; /* the peer closed the connection: the orderly end */
        if (nghttp2_session_mem_recv(c->session, in, (size_t)n) < 0)
            return -1;
    }
}

int grpc_serve(int fd, SSL *ssl, grpc_handler_fn handler, void *ud)
{
    grpc_conn c = {.fd = fd, .ssl = ssl, .handler = handler, .ud = ud};
    if (pipe2(c.wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    pthread_mutex_init(&c.mu, NULL);
    c.session = session_new(&c);
    int rc = c.session ? conn_serve(&c) : -1;
    if (!conn_drain(&c))
        return GRPC_SERVE_ABANDONED; /* threads still use c: it must outlive them */
    conn_collect(&c);
    if (c.session)
        nghttp2_session_del(c.session);
    /* Streams still open (go-plugin's broker stream never ends): the session no longer
     * closes them, so they are freed here. */
    while (c.streams)
        stream_free(&c, c.streams);
    pthread_mutex_destroy(&c.mu);
    close(c.wake[0]);
    close(c.wake[1]);
    return rc;
}
