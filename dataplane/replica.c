/* The replica side: the link to our master, on a thread of its own. See replication.h.
 *
 * The link thread owns everything about the master: REPLICAOF, REPLICAOF NO ONE and
 * REPLTAKEOVER are requests to it (their replies wait, then travel back to the client's worker),
 * so role changes never race with the stream being applied. A session connects, does Redis
 * 7.0's handshake (PING, AUTH, REPLCONF listening-port, REPLCONF capa eof capa psync2, PSYNC),
 * then either continues (+CONTINUE) or receives the snapshot into a temporary file and loads it
 * (+FULLRESYNC), and applies the stream: complete commands (and complete MULTI/EXEC units) are
 * run through replay.h, the offset moves past them, and the same bytes go to our own backlog, so
 * that we can serve PSYNC with our master's ids after a promotion. We acknowledge after every
 * batch and at least every second, and answer REPLCONF GETACK at once. Sockets are non-blocking
 * and every wait is a poll of at most LINK_POLL_MS, so requests and shutdown are seen quickly. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "journal.h"
#include "loading.h"
#include "log.h"
#include "rdb_load.h"
#include "replay.h"
#include "repl_int.h"
#include "reply.h"
#include "server.h"
#include "tls.h"
#include "worker.h"
#include "zmalloc.h"

#define LINK_POLL_MS 100
#define LINK_READ_CHUNK (64 * 1024)
#define LINK_LINE_MAX (64 * 1024)
#define LINK_BATCH_CMDS 4096         /* commands applied as one batch at most */
#define LINK_BATCH_BYTES (8u << 20)  /* stream bytes likewise */
#define LINK_ARGV_MAX (1024 * 1024)  /* arguments of one command from the master */
#define LINK_TAKEOVER_MARGIN_MS 5000 /* beyond the master's own timeout */
#define LINK_TAKEOVER_GRACE_MS 2000  /* for the master's answer once the link broke */
#define EOF_MARK_LEN 40
#define MS_PER_S 1000
#define ERR_TAKEOVER "ERR Takeover failed: "

/* A request to the link thread, and whom to answer. */
typedef struct link_req {
    struct link_req *next;
    int kind; /* enum link_req_kind */
    char host[REPL_HOST_MAX];
    int port; /* LINK_REQ_TAKEOVER: 1 with SAVE */
    long long timeout_ms;
    client *cl; /* NULL: nobody waits (--replicaof, a takeover's old master) */
    int resp, muted;
} link_req;

static struct {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    link_req *head, *tail;
    /* The master in force (link thread; copied for INFO under mu). */
    int configured;
    char host[REPL_HOST_MAX];
    int port;
    /* Status for INFO and ROLE (mu). */
    const char *state;
    int link_up, sync_in_progress;
    int64_t last_io_ms, down_since_ms, sync_last_io_ms;
    long long sync_total, sync_read;
    uint64_t read_offset;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .state = "connect"};

/* The session's buffered socket. */
typedef struct link_io {
    int fd;
    buf in;
    size_t pos; /* parse position */
} link_io;

/* ---- status ---------------------------------------------------------------------------------- */

static void set_state(const char *state)
{
    pthread_mutex_lock(&L.mu);
    L.state = state;
    pthread_mutex_unlock(&L.mu);
}

static void set_link_up(int up)
{
    pthread_mutex_lock(&L.mu);
    if (L.link_up && !up)
        L.down_since_ms = (int64_t)clock_mono_ms();
    L.link_up = up;
    L.state = up ? "connected" : "connect";
    pthread_mutex_unlock(&L.mu);
}

void replica_link_info(repl_link_info *out)
{
    int64_t now = (int64_t)clock_mono_ms();
    pthread_mutex_lock(&L.mu);
    out->configured = L.configured;
    snprintf(out->host, sizeof(out->host), "%s", L.host);
    out->port = L.port;
    out->state = L.state;
    out->link_up = L.link_up;
    out->last_io_s = L.last_io_ms ? (now - L.last_io_ms) / MS_PER_S : -1;
    out->down_since_s = L.down_since_ms ? (now - L.down_since_ms) / MS_PER_S : -1;
    out->sync_in_progress = L.sync_in_progress;
    out->sync_total = L.sync_total;
    out->sync_read = L.sync_read;
    out->sync_last_io_s = L.sync_last_io_ms ? (now - L.sync_last_io_ms) / MS_PER_S : -1;
    out->read_offset = L.read_offset;
    if (!L.link_up)
        out->last_io_s = -1;
    pthread_mutex_unlock(&L.mu);
}

/* ---- requests and their replies -------------------------------------------------------------- */

typedef struct reply_msg {
    client *cl;
    int muted;
    size_t len;
    char text[];
} reply_msg;

static void reply_on_owner(void *arg)
{
    reply_msg *m = arg;
    client_deferred_reply(m->cl, m->text, m->len, m->muted, 0);
    free(m);
}

/* Answers rq's client with a simple string ("+...") or an error ("-..."), on its worker. */
static void req_reply(link_req *rq, const char *line)
{
    if (!rq->cl)
        return;
    size_t n = strlen(line);
    reply_msg *m = mem_malloc(sizeof(*m) + n + 2);
    m->cl = rq->cl;
    m->muted = rq->muted;
    memcpy(m->text, line, n);
    memcpy(m->text + n, "\r\n", 2);
    m->len = n + 2;
    worker_post(rq->cl->owner, reply_on_owner, m);
    rq->cl = NULL;
}

void replica_request(int kind, const char *host, int port, long long timeout_ms, client *cl,
                     int resp, int muted)
{
    link_req *rq = mem_calloc(1, sizeof(*rq));
    rq->kind = kind;
    if (host)
        snprintf(rq->host, sizeof(rq->host), "%s", host);
    rq->port = port;
    rq->timeout_ms = timeout_ms;
    rq->cl = cl;
    rq->resp = resp;
    rq->muted = muted;
    pthread_mutex_lock(&L.mu);
    if (L.tail)
        L.tail->next = rq;
    else
        L.head = rq;
    L.tail = rq;
    pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&L.mu);
}

/* The first pending request of one of the kinds in mask (1 << kind), taken off the queue. */
static link_req *req_take(unsigned mask)
{
    pthread_mutex_lock(&L.mu);
    link_req *prev = NULL, *rq = L.head;
    while (rq && !(mask & (1u << rq->kind))) {
        prev = rq;
        rq = rq->next;
    }
    if (rq) {
        if (prev)
            prev->next = rq->next;
        else
            L.head = rq->next;
        if (L.tail == rq)
            L.tail = prev;
        rq->next = NULL;
    }
    pthread_mutex_unlock(&L.mu);
    return rq;
}

/* A session ends for a request that changes the master, or for shutdown. */
static int session_interrupted(void)
{
    pthread_mutex_lock(&L.mu);
    int any = L.stop;
    for (link_req *rq = L.head; rq && !any; rq = rq->next)
        any = rq->kind != LINK_REQ_TAKEOVER;
    pthread_mutex_unlock(&L.mu);
    return any;
}

/* ---- socket I/O with deadlines --------------------------------------------------------------- */

enum { IO_OK = 0, IO_ERR = -1, IO_ABORT = -2, IO_TIMEOUT = -3 };

static int64_t now_ms(void)
{
    return (int64_t)clock_mono_ms();
}

static int64_t deadline_in(long long secs)
{
    return now_ms() + secs * MS_PER_S;
}

/* Waits until fd is ready for events, in slices, watching for requests and shutdown. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        if (session_interrupted())
            return IO_ABORT;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return IO_TIMEOUT;
        struct pollfd pf = {.fd = fd, .events = events};
        int n = poll(&pf, 1, left < LINK_POLL_MS ? (int)left : LINK_POLL_MS);
        if (n > 0)
            return IO_OK;
        if (n < 0 && errno != EINTR)
            return IO_ERR;
    }
}

/* ---- TLS on the link (--tls_replication) ------------------------------------------------------
 * The link thread's sockets (the session's and a takeover's) may each carry an SSL object; the
 * I/O helpers below look it up by descriptor, so their callers stay the same. */

#define LINK_TLS_MAX 2 /* the session's connection and a takeover's */

static struct {
    int fd;
    SSL *ssl;
} link_tls[LINK_TLS_MAX] = {{-1, NULL}, {-1, NULL}};

static SSL *link_ssl(int fd)
{
    for (int i = 0; i < LINK_TLS_MAX; i++)
        if (link_tls[i].ssl && link_tls[i].fd == fd)
            return link_tls[i].ssl;
    return NULL;
}

/* Closes a link socket and frees its SSL object, if any. */
static void link_close(int fd)
{
    for (int i = 0; i < LINK_TLS_MAX; i++) {
        if (link_tls[i].ssl && link_tls[i].fd == fd) {
            SSL_free(link_tls[i].ssl);
            link_tls[i].ssl = NULL;
            link_tls[i].fd = -1;
        }
    }
    close(fd);
}

/* What an SSL call that did not complete waits for: IO_OK to retry, else the failure. */
static int ssl_wait(SSL *ssl, int fd, int r, int64_t deadline)
{
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(fd, POLLIN, deadline);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(fd, POLLOUT, deadline);
    if (e == SSL_ERROR_SYSCALL && errno == EINTR)
        return IO_OK;
    return IO_ERR;
}

/* The TLS handshake with the master on a connected socket. Returns 0, or -1 (fd closed). */
static int link_tls_start(int fd, int64_t deadline)
{
    int slot = 0;
    while (slot < LINK_TLS_MAX && link_tls[slot].ssl)
        slot++;
    SSL *ssl = slot < LINK_TLS_MAX ? tls_client_new(fd) : NULL;
    if (!ssl) {
        log_warning("TLS to the master: no context (check the tls-* settings)");
        close(fd);
        return -1;
    }
    for (;;) {
        int r = SSL_connect(ssl);
        if (r == 1)
            break;
        if (ssl_wait(ssl, fd, r, deadline) != IO_OK) {
            char why[TLS_ERR_MAX];
            tls_last_error(why, sizeof(why));
            log_warning("TLS handshake with the master failed: %s", why);
            SSL_free(ssl);
            close(fd);
            return -1;
        }
    }
    link_tls[slot].fd = fd;
    link_tls[slot].ssl = ssl;
    return 0;
}

static int ssl_write_all(SSL *ssl, int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        size_t w = 0;
        int r = SSL_write_ex(ssl, p, n, &w);
        if (r > 0) {
            p += w;
            n -= w;
            continue;
        }
        int rc = ssl_wait(ssl, fd, r, deadline);
        if (rc != IO_OK)
            return rc;
    }
    return IO_OK;
}

static int write_all(int fd, const char *p, size_t n, int64_t deadline)
{
    SSL *ssl = link_ssl(fd);
    if (ssl)
        return ssl_write_all(ssl, fd, p, n, deadline);
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc != IO_OK)
                return rc;
            continue;
        }
        return IO_ERR;
    }
    return IO_OK;
}

/* Sends a command as RESP. */
static int send_cmd(int fd, int argc, const char **argv, int64_t deadline)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        buf_printf(&b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    int rc = write_all(fd, b.data, b.len, deadline);
    buf_free(&b);
    return rc;
}

/* Reads what is there (at least one byte) into io->in. */
static int io_fill_tls(link_io *io, SSL *ssl, int64_t deadline)
{
    for (;;) {
        buf_reserve(&io->in, LINK_READ_CHUNK);
        size_t n = 0;
        int r = SSL_read_ex(ssl, io->in.data + io->in.len, io->in.cap - io->in.len - 1, &n);
        if (r > 0) {
            io->in.len += n;
            pthread_mutex_lock(&L.mu);
            L.last_io_ms = now_ms();
            pthread_mutex_unlock(&L.mu);
            return IO_OK;
        }
        int rc = ssl_wait(ssl, io->fd, r, deadline);
        if (rc != IO_OK)
            return rc; /* the master closed the connection, or an error */
    }
}

static int io_fill(link_io *io, int64_t deadline)
{
    SSL *ssl = link_ssl(io->fd);
    if (ssl)
        return io_fill_tls(io, ssl, deadline);
    for (;;) {
        buf_reserve(&io->in, LINK_READ_CHUNK);
        ssize_t n = recv(io->fd, io->in.data + io->in.len, io->in.cap - io->in.len - 1, 0);
        if (n > 0) {
            io->in.len += (size_t)n;
            pthread_mutex_lock(&L.mu);
            L.last_io_ms = now_ms();
            pthread_mutex_unlock(&L.mu);
            return IO_OK;
        }
        if (n == 0)
            return IO_ERR; /* the master closed the connection */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return IO_ERR;
        int rc = wait_fd(io->fd, POLLIN, deadline);
        if (rc != IO_OK)
            return rc;
    }
}

/* The next line without "\r\n" into out (NUL-terminated, at most outlen - 1 bytes kept). */
static int io_line(link_io *io, char *out, size_t outlen, int64_t deadline)
{
    for (;;) {
        const char *start = io->in.data + io->pos;
        size_t avail = io->in.len - io->pos;
        const char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - start);
            io->pos += n + 1;
            if (n && start[n - 1] == '\r')
                n--;
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, start, n);
            out[n] = '\0';
            return IO_OK;
        }
        if (avail > LINK_LINE_MAX)
            return IO_ERR;
        int rc = io_fill(io, deadline);
        if (rc != IO_OK)
            return rc;
    }
}

/* Drops what was consumed, keeping `keep_from` on (an index into io->in). */
static void io_compact(link_io *io, size_t keep_from)
{
    buf_consume(&io->in, keep_from);
    io->pos -= keep_from;
}

/* A non-blocking TCP connection to host:port within the deadline, or -1. */
static int connect_to(const char *host, int port, int64_t deadline)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        int err = 0;
        socklen_t el = sizeof(err);
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != IO_OK ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0 && server.cfg.tls_replication && link_tls_start(fd, deadline) < 0)
        return -1;
    return fd;
}

/* ---- the handshake -------------------------------------------------------------------------- */

/* One command and its one-line reply. */
static int exchange(link_io *io, int argc, const char **argv, char *reply, size_t replylen)
{
    int64_t deadline = deadline_in(server.cfg.repl_timeout);
    int rc = send_cmd(io->fd, argc, argv, deadline);
    if (rc == IO_OK)
        rc = io_line(io, reply, replylen, deadline);
    return rc;
}

/* PING, AUTH, REPLCONF listening-port, REPLCONF capa (Redis's syncWithMaster). */
static int handshake(link_io *io)
{
    char reply[REPL_ERR_MAX];
    const char *ping[] = {"PING"};
    if (exchange(io, 1, ping, reply, sizeof(reply)) != IO_OK)
        return -1;
    /* A master that wants a password answers PING with NOAUTH: AUTH follows. */
    if (reply[0] == '-' && strncmp(reply, "-NOAUTH", 7) && strncmp(reply, "-NOPERM", 7) &&
        strncmp(reply, "-ERR operation not permitted", 28)) {
        log_warning("Error reply to PING from master: '%s'", reply);
        return -1;
    }
    if (server.cfg.masterauth && *server.cfg.masterauth) {
        const char *auth[3] = {"AUTH"};
        int n = 1;
        if (server.cfg.masteruser && *server.cfg.masteruser)
            auth[n++] = server.cfg.masteruser;
        auth[n++] = server.cfg.masterauth;
        if (exchange(io, n, auth, reply, sizeof(reply)) != IO_OK)
            return -1;
        if (reply[0] == '-') {
            log_warning("Unable to AUTH to MASTER: %s", reply);
            return -1;
        }
    }
    char port[16];
    snprintf(port, sizeof(port), "%lld", server.cfg.port);
    const char *lp[] = {"REPLCONF", "listening-port", port};
    if (exchange(io, 3, lp, reply, sizeof(reply)) != IO_OK)
        return -1;
    if (reply[0] == '-')
        log_info("(Non critical) Master does not understand REPLCONF listening-port: %s", reply);
    const char *capa[] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    if (exchange(io, 5, capa, reply, sizeof(reply)) != IO_OK)
        return -1;
    if (reply[0] == '-')
        log_info("(Non critical) Master does not understand REPLCONF capa: %s", reply);
    return 0;
}

enum { PSYNC_FULL, PSYNC_CONTINUE, PSYNC_FAIL };

/* PSYNC with our history, if we have one. The master may send empty lines before answering. */
static int psync(link_io *io, char *replid, uint64_t *offset)
{
    char id[REPL_ID_LEN + 1] = "?", off[32] = "-1";
    pthread_mutex_lock(&R.mu);
    if (R.backlog_on) {
        memcpy(id, R.replid, sizeof(id));
        snprintf(off, sizeof(off), "%llu", (unsigned long long)R.offset + 1);
    }
    pthread_mutex_unlock(&R.mu);
    log_info("Trying a partial resynchronization (request %s:%s).", id, off);
    int64_t deadline = deadline_in(server.cfg.repl_timeout);
    const char *argv[] = {"PSYNC", id, off};
    if (send_cmd(io->fd, 3, argv, deadline) != IO_OK)
        return PSYNC_FAIL;
    char reply[REPL_ERR_MAX];
    do {
        if (io_line(io, reply, sizeof(reply), deadline) != IO_OK)
            return PSYNC_FAIL;
    } while (!reply[0]);
    unsigned long long o;
    char rid[REPL_ID_LEN + 1];
    if (sscanf(reply, "+FULLRESYNC %40s %llu", rid, &o) == 2 && strlen(rid) == REPL_ID_LEN) {
        memcpy(replid, rid, sizeof(rid));
        *offset = o;
        log_info("Full resync from master: %s:%llu", rid, o);
        return PSYNC_FULL;
    }
    if (!strncmp(reply, "+CONTINUE", 9)) {
        replid[0] = '\0';
        if (sscanf(reply, "+CONTINUE %40s", rid) == 1 && strlen(rid) == REPL_ID_LEN)
            memcpy(replid, rid, sizeof(rid));
        log_info("Successful partial resynchronization with master.");
        return PSYNC_CONTINUE;
    }
    log_warning("Unexpected reply to PSYNC from master: %s", reply);
    return PSYNC_FAIL;
}

/* +CONTINUE <new id>: our master's history goes on under a new name (it was promoted). */
static void continue_with(const char *newid)
{
    pthread_mutex_lock(&R.mu);
    if (newid[0] && strcmp(newid, R.replid)) {
        memcpy(R.replid2, R.replid, sizeof(R.replid2));
        R.second_offset = (int64_t)R.offset + 1;
        memcpy(R.replid, newid, sizeof(R.replid));
        log_info("Master replication ID changed to %s", newid);
    }
    pthread_mutex_unlock(&R.mu);
}

/* ---- full sync: the snapshot into a file, then loaded ---------------------------------------- */

static void sync_progress(long long total, long long read)
{
    pthread_mutex_lock(&L.mu);
    L.sync_total = total;
    L.sync_read = read;
    L.sync_last_io_ms = now_ms();
    pthread_mutex_unlock(&L.mu);
}

/* Where the mark ends in p[0..n), counting from p: it may begin in the last bytes before p
 * (tail). -1 when it is not there. */
static long mark_end(const char *tail, size_t tail_len, const char *p, size_t n, const char *mark)
{
    for (size_t k = tail_len < EOF_MARK_LEN - 1 ? tail_len : EOF_MARK_LEN - 1; k >= 1; k--)
        if (n >= EOF_MARK_LEN - k && !memcmp(tail + tail_len - k, mark, k) &&
            !memcmp(p, mark + k, EOF_MARK_LEN - k))
            return (long)(EOF_MARK_LEN - k);
    const char *hit = memmem(p, n, mark, EOF_MARK_LEN);
    return hit ? (long)(hit - p) + EOF_MARK_LEN : -1;
}

/* Keeps the last bytes seen (up to EOF_MARK_LEN - 1) in tail. */
static void tail_keep(char *tail, size_t *tail_len, const char *p, size_t n)
{
    size_t cap = EOF_MARK_LEN - 1;
    if (n >= cap) {
        memcpy(tail, p + n - cap, cap);
        *tail_len = cap;
        return;
    }
    size_t keep = *tail_len + n > cap ? cap - n : *tail_len;
    memmove(tail, tail + *tail_len - keep, keep);
    memcpy(tail + keep, p, n);
    *tail_len = keep + n;
}

/* Writes all of p (a short write is followed by another, as a full disk gives one before it
 * fails). 0, or -1 with errno. */
static int file_write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Receives the payload ("$EOF:<mark>" ... mark, or "$<len>" and len bytes) into path. Bytes
 * after it stay in io: they are the stream. */
static int receive_rdb(link_io *io, const char *path)
{
    int64_t deadline = deadline_in(server.cfg.repl_timeout);
    char head[REPL_ERR_MAX];
    do { /* empty lines: the master keeps the link alive while it prepares */
        if (io_line(io, head, sizeof(head), deadline) != IO_OK)
            return -1;
    } while (!head[0]);
    if (head[0] != '$') {
        log_warning("Bad protocol from MASTER, the first byte is not '$': %s", head);
        return -1;
    }
    int eof = !strncmp(head + 1, "EOF:", 4) && strlen(head + 5) == EOF_MARK_LEN;
    long long len = -1;
    if (!eof && (sscanf(head + 1, "%lld", &len) != 1 || len < 0))
        return -1;
    char mark[EOF_MARK_LEN];
    memcpy(mark, head + 5, eof ? EOF_MARK_LEN : 0);
    log_info("MASTER <-> REPLICA sync: receiving %s",
             eof ? "streamed RDB from master with EOF" : "the snapshot from master");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    long long got = 0;
    char tail[EOF_MARK_LEN];
    size_t tail_len = 0;
    int rc = -1, done = 0;
    while (!done) {
        const char *p = io->in.data + io->pos;
        size_t avail = io->in.len - io->pos;
        if (!eof && (long long)avail >= len - got) {
            avail = (size_t)(len - got);
            done = 1;
        } else if (eof) {
            long e = mark_end(tail, tail_len, p, avail, mark);
            if (e >= 0) {
                avail = (size_t)e;
                done = 1;
            }
        }
        if (avail && file_write_all(fd, p, avail) < 0) {
            log_warning("MASTER <-> REPLICA sync: cannot write the received snapshot to %s: %s",
                        path, strerror(errno));
            break;
        }
        got += (long long)avail;
        io->pos += avail;
        tail_keep(tail, &tail_len, p, avail);
        io_compact(io, io->pos);
        sync_progress(eof ? 0 : len, got);
        if (done) {
            rc = eof ? ftruncate(fd, got - EOF_MARK_LEN) : 0;
            break;
        }
        if (io_fill(io, deadline_in(server.cfg.repl_timeout)) != IO_OK)
            break;
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = -1;
    close(fd);
    return rc;
}

/* Empties every database and the function libraries, from this thread. */
static void flush_everything(void)
{
    replay *rp = replay_new("the replication full sync", 0);
    char err[REPL_ERR_MAX];
    slice flushall[] = {{"FLUSHALL", 8}};
    slice fflush[] = {{"FUNCTION", 8}, {"FLUSH", 5}};
    replay_add(rp, 1, flushall, err, sizeof(err));
    replay_add(rp, 2, fflush, err, sizeof(err));
    replay_run(rp);
    replay_free(rp);
}

/* Loads the received snapshot in place of our data; -LOADING meanwhile. */
static int load_rdb(const char *path, const char *replid, uint64_t offset)
{
    log_info("MASTER <-> REPLICA sync: Flushing old data");
    atomic_store(&server.loading, 1);
    flush_everything();
    log_info("MASTER <-> REPLICA sync: Loading DB in memory");
    char err[RDB_LOAD_ERR_MAX];
    int rc = rdb_load_file_flags(path, RDB_LOAD_KEEP_EXPIRED, err, sizeof(err));
    atomic_store(&server.loading, 0);
    unlink(path);
    if (rc < 0) {
        log_warning("Failed trying to load the MASTER synchronization DB from disk: %s", err);
        return -1;
    }
    pthread_mutex_lock(&R.mu);
    memcpy(R.replid, replid, sizeof(R.replid));
    memcpy(R.replid2, REPL_NULL_ID, sizeof(R.replid2));
    R.second_offset = -1;
    R.backlog_on = 1;
    repl_backlog_reset_locked(offset);
    pthread_mutex_unlock(&R.mu);
    /* The append-only file describes the old data: it starts again from this dataset. */
    journal_rewrite_schedule();
    log_info("MASTER <-> REPLICA sync: Finished with success");
    return 0;
}

static int full_sync(link_io *io, const char *replid, uint64_t offset)
{
    char path[64];
    snprintf(path, sizeof(path), "temp-%d.%lld.rdb", (int)getpid(), (long long)now_ms());
    pthread_mutex_lock(&L.mu);
    L.sync_in_progress = 1;
    L.state = "sync";
    pthread_mutex_unlock(&L.mu);
    sync_progress(-1, 0);
    int rc = receive_rdb(io, path);
    pthread_mutex_lock(&L.mu);
    L.sync_in_progress = 0;
    pthread_mutex_unlock(&L.mu);
    if (rc < 0) {
        log_warning("I/O error trying to sync with MASTER: connection lost");
        unlink(path);
        return -1;
    }
    return load_rdb(path, replid, offset);
}

/* ---- the stream ------------------------------------------------------------------------------ */

/* One RESP command of the master's stream at p[0..len): 1 with its arguments, 0 when more is
 * needed, -1 on a protocol error. An empty line (a keepalive) is a command of no argument. */
static int parse_cmd(const char *p, size_t len, slice **argv, int *cap, int *argc, size_t *used)
{
    const char *end = p + len, *q = memchr(p, '\n', len);
    if (!q)
        return len > LINK_LINE_MAX ? -1 : 0;
    if (p[0] != '*') {
        *argc = 0; /* inline: only the master's empty keepalive lines come this way */
        *used = (size_t)(q - p) + 1;
        return 1;
    }
    long long n = strtoll(p + 1, NULL, 10);
    if (n < 0 || n > LINK_ARGV_MAX)
        return -1;
    if (n > *cap) {
        *cap = (int)n;
        *argv = mem_realloc(*argv, sizeof(slice) * (size_t)n);
    }
    q++;
    for (long long i = 0; i < n; i++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            return 0;
        if (*q != '$')
            return -1;
        long long blen = strtoll(q + 1, NULL, 10);
        if (blen < 0 || blen > server.cfg.proto_max_bulk_len)
            return -1;
        q = nl + 1;
        if (end - q < blen + 2)
            return 0;
        if (q[blen] != '\r' || q[blen + 1] != '\n')
            return -1;
        (*argv)[i].p = q;
        (*argv)[i].len = (size_t)blen;
        q += blen + 2;
    }
    *argc = (int)n;
    *used = (size_t)(q - p);
    return 1;
}

typedef struct stream_state {
    link_io *io;
    replay *rp;
    size_t applied;  /* io->in before this is applied and fed to the backlog */
    size_t unit_end; /* the end of the last complete unit parsed */
    int64_t last_ack_ms;
    uint64_t acked;
    slice *argv;
    int argv_cap;
} stream_state;

static uint64_t our_offset(void)
{
    pthread_mutex_lock(&R.mu);
    uint64_t off = R.offset;
    pthread_mutex_unlock(&R.mu);
    return off;
}

static int send_ack(stream_state *st)
{
    char off[32];
    uint64_t o = our_offset();
    snprintf(off, sizeof(off), "%llu", (unsigned long long)o);
    const char *argv[] = {"REPLCONF", "ACK", off};
    st->last_ack_ms = now_ms();
    st->acked = o;
    return send_cmd(st->io->fd, 3, argv, deadline_in(server.cfg.repl_timeout));
}

/* Runs what was gathered; the bytes of the complete units become our offset and backlog. */
static void apply(stream_state *st)
{
    if (replay_pending(st->rp) || st->unit_end > st->applied) {
        replay_set_time(st->rp, clock_wall_ms());
        replay_run(st->rp);
    }
    if (st->unit_end > st->applied) {
        repl_feed(st->io->in.data + st->applied, st->unit_end - st->applied);
        st->applied = st->unit_end;
    }
}

static int is_getack(int argc, const slice *argv)
{
    return argc >= 2 && arg_eq(&argv[0], "replconf") && arg_eq(&argv[1], "getack");
}

/* Takes the complete commands in the buffer into the batch. Returns 0 when the buffer holds
 * no complete command any more, 1 when a batch limit stopped it, -1 on a protocol error. */
static int take_commands(stream_state *st)
{
    link_io *io = st->io;
    char err[REPL_ERR_MAX];
    while (io->pos < io->in.len) {
        int argc;
        size_t used;
        int rc = parse_cmd(io->in.data + io->pos, io->in.len - io->pos, &st->argv, &st->argv_cap,
                           &argc, &used);
        if (rc < 0) {
            log_warning("Protocol error in the master's stream at offset %llu",
                        (unsigned long long)our_offset());
            return -1;
        }
        if (rc == 0)
            break;
        size_t end = io->pos + used;
        if (is_getack(argc, st->argv)) {
            /* The offset before the GETACK, once everything before it ran. */
            apply(st);
            if (send_ack(st) != IO_OK)
                return -1;
        } else if (argc > 0 && !arg_eq(&st->argv[0], "ping")) {
            if (replay_add(st->rp, argc, st->argv, err, sizeof(err)) < 0)
                log_warning("Command from master skipped: %s", err);
        }
        io->pos = end;
        if (!replay_in_multi(st->rp))
            st->unit_end = end;
        if (replay_pending(st->rp) >= LINK_BATCH_CMDS || end - st->applied >= LINK_BATCH_BYTES)
            return 1;
    }
    return 0;
}

/* ---- REPLTAKEOVER: the replica's part -------------------------------------------------------- */

typedef struct takeover {
    link_req *rq;
    int fd;
    int64_t deadline;
    link_io io;
} takeover;

static void takeover_end(takeover *tk, const char *reply)
{
    if (tk->rq && reply) {
        req_reply(tk->rq, reply);
        free(tk->rq);
        tk->rq = NULL;
    }
    if (tk->fd >= 0)
        link_close(tk->fd);
    tk->fd = -1;
    buf_free(&tk->io.in);
}

/* Opens a second connection to the master and asks it to hand over. */
static void takeover_begin(takeover *tk, link_req *rq, const char *host, int port)
{
    tk->rq = rq;
    tk->deadline = now_ms() + rq->timeout_ms + LINK_TAKEOVER_MARGIN_MS;
    tk->fd = connect_to(host, port, tk->deadline);
    buf_init(&tk->io.in);
    tk->io.fd = tk->fd;
    tk->io.pos = 0;
    if (tk->fd < 0) {
        takeover_end(tk, "-" ERR_TAKEOVER "cannot connect to the master");
        return;
    }
    char reply[REPL_ERR_MAX];
    if (server.cfg.masterauth && *server.cfg.masterauth) {
        const char *auth[3] = {"AUTH"};
        int n = 1;
        if (server.cfg.masteruser && *server.cfg.masteruser)
            auth[n++] = server.cfg.masteruser;
        auth[n++] = server.cfg.masterauth;
        if (exchange(&tk->io, n, auth, reply, sizeof(reply)) != IO_OK || reply[0] == '-') {
            takeover_end(tk, "-" ERR_TAKEOVER "cannot authenticate to the master");
            return;
        }
    }
    char ms[32], lport[16];
    snprintf(ms, sizeof(ms), "%lld", rq->timeout_ms);
    snprintf(lport, sizeof(lport), "%lld", server.cfg.port);
    const char *argv[] = {"REPLCONF", "TAKEOVER", ms, lport, "SAVE"};
    if (send_cmd(tk->fd, rq->port ? 5 : 4, argv, tk->deadline) != IO_OK)
        takeover_end(tk, "-" ERR_TAKEOVER "cannot reach the master");
}

/* The master's answer, if it came. Returns 1 when it handed over. */
static int takeover_poll(takeover *tk)
{
    if (tk->fd < 0)
        return 0;
    if (now_ms() > tk->deadline) {
        takeover_end(tk, "-" ERR_TAKEOVER "the master did not answer in time");
        return 0;
    }
    struct pollfd pf = {.fd = tk->fd, .events = POLLIN};
    if (poll(&pf, 1, 0) <= 0)
        return 0;
    char reply[REPL_ERR_MAX];
    if (io_line(&tk->io, reply, sizeof(reply), tk->deadline) != IO_OK) {
        takeover_end(tk, "-" ERR_TAKEOVER "the master closed the connection");
        return 0;
    }
    if (reply[0] == '+')
        return 1;
    char msg[REPL_ERR_MAX + 8];
    snprintf(msg, sizeof(msg), "-%s", reply[0] == '-' ? reply + 1 : reply);
    takeover_end(tk, msg);
    return 0;
}

static int64_t last_io(void)
{
    pthread_mutex_lock(&L.mu);
    int64_t t = L.last_io_ms;
    pthread_mutex_unlock(&L.mu);
    return t;
}

static void touch_io(void)
{
    pthread_mutex_lock(&L.mu);
    L.last_io_ms = now_ms();
    pthread_mutex_unlock(&L.mu);
}

/* The link broke while the master was handing over: it closes our link when it becomes our
 * replica, possibly before we read its +OK. Waits for the answer a little. */
static int takeover_last_chance(takeover *tk)
{
    int64_t until = now_ms() + LINK_TAKEOVER_GRACE_MS;
    while (tk->fd >= 0 && now_ms() < until) {
        if (takeover_poll(tk))
            return 1;
        struct pollfd pf = {.fd = tk->fd, .events = POLLIN};
        poll(&pf, 1, LINK_POLL_MS);
    }
    return 0;
}

/* Applies the stream until the link breaks, a request ends the session, or a takeover
 * succeeds: then the takeover's request is returned, to be answered once we are master. */
static link_req *stream(link_io *io, const char *host, int port)
{
    stream_state st = {.io = io, .applied = io->pos, .unit_end = io->pos};
    st.rp = replay_new("the replication stream", REPLAY_AS_MASTER);
    takeover tk = {.fd = -1};
    link_req *done = NULL;
    touch_io(); /* loading a snapshot may have taken a while */
    if (send_ack(&st) != IO_OK)
        goto out;
    for (;;) {
        int more = take_commands(&st);
        if (more < 0)
            break;
        apply(&st);
        /* Keep only what is not applied yet (an open MULTI's commands and partial input). */
        io_compact(io, st.applied);
        st.unit_end -= st.applied;
        st.applied = 0;
        zmalloc_maintain(); /* this thread allocates the backlog's blocks of the stream it feeds */
        pthread_mutex_lock(&L.mu);
        L.read_offset = our_offset() + io->in.len;
        pthread_mutex_unlock(&L.mu);
        if (our_offset() != st.acked || now_ms() - st.last_ack_ms >= REPL_ACK_PERIOD_MS)
            if (send_ack(&st) != IO_OK)
                break;
        if (tk.fd < 0) {
            link_req *rq = req_take(1u << LINK_REQ_TAKEOVER);
            if (rq)
                takeover_begin(&tk, rq, host, port);
        }
        if (takeover_poll(&tk)) {
            done = tk.rq;
            tk.rq = NULL;
            takeover_end(&tk, NULL);
            break;
        }
        if (session_interrupted())
            break;
        if (now_ms() - last_io() > server.cfg.repl_timeout * MS_PER_S) {
            log_warning("MASTER timeout: no data nor PING received...");
            break;
        }
        if (more)
            continue; /* complete commands wait in the buffer */
        /* Wait for more, briefly: acks and requests are due even when the master is quiet. */
        struct pollfd pf = {.fd = io->fd, .events = POLLIN};
        int n = poll(&pf, 1, LINK_POLL_MS);
        if (n > 0 && io_fill(io, now_ms() + LINK_POLL_MS) == IO_ERR) {
            log_warning("Connection with master lost.");
            break;
        }
    }
out:
    if (!done && tk.rq && takeover_last_chance(&tk)) {
        done = tk.rq;
        tk.rq = NULL;
        takeover_end(&tk, NULL);
    }
    if (tk.rq)
        takeover_end(&tk, "-" ERR_TAKEOVER "the link to the master broke");
    replay_free(st.rp);
    free(st.argv);
    return done;
}

/* ---- sessions and the thread ----------------------------------------------------------------- */

/* One connection to the master, until it breaks. Returns a takeover's request when it
 * succeeded. */
static link_req *session(void)
{
    char host[REPL_HOST_MAX];
    snprintf(host, sizeof(host), "%s", L.host);
    int port = L.port;
    set_state("connecting");
    log_info("Connecting to MASTER %s:%d", host, port);
    link_io io = {.fd = connect_to(host, port, deadline_in(server.cfg.repl_timeout))};
    buf_init(&io.in);
    link_req *promoted = NULL;
    if (io.fd < 0) {
        log_warning("Error condition on socket for SYNC: cannot connect to %s:%d", host, port);
        goto out;
    }
    pthread_mutex_lock(&L.mu);
    L.last_io_ms = now_ms();
    pthread_mutex_unlock(&L.mu);
    set_state("handshake");
    log_info("MASTER <-> REPLICA sync started");
    if (handshake(&io) < 0)
        goto out;
    char replid[REPL_ID_LEN + 1];
    uint64_t offset = 0;
    int kind = psync(&io, replid, &offset);
    if (kind == PSYNC_FAIL)
        goto out;
    if (kind == PSYNC_FULL && full_sync(&io, replid, offset) < 0)
        goto out;
    if (kind == PSYNC_CONTINUE)
        continue_with(replid);
    set_link_up(1);
    log_info("MASTER <-> REPLICA sync: Master accepted a %s",
             kind == PSYNC_FULL ? "full synchronization" : "Partial Resynchronization");
    promoted = stream(&io, host, port);
    set_link_up(0);
out:
    set_state("connect");
    if (io.fd >= 0)
        link_close(io.fd);
    buf_free(&io.in);
    return promoted;
}

/* Sleeps up to ms, waking for requests and shutdown. */
static void idle_wait(int64_t ms)
{
    int64_t until = now_ms() + ms;
    pthread_mutex_lock(&L.mu);
    while (!L.stop && !L.head) {
        int64_t left = until - now_ms();
        if (left <= 0 && L.configured)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long wait_ms = left > 0 ? (long)left : LINK_POLL_MS;
        ts.tv_sec += wait_ms / MS_PER_S;
        ts.tv_nsec += (wait_ms % MS_PER_S) * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&L.cv, &L.mu, &ts);
    }
    pthread_mutex_unlock(&L.mu);
}

static void configure(const char *host, int port)
{
    pthread_mutex_lock(&L.mu);
    L.configured = host != NULL;
    snprintf(L.host, sizeof(L.host), "%s", host ? host : "");
    L.port = host ? port : 0;
    L.link_up = 0;
    L.down_since_ms = 0; /* -1 in INFO until a link was up and went down, as in Redis */
    L.state = "connect";
    pthread_mutex_unlock(&L.mu);
}

static void handle_request(link_req *rq)
{
    if (rq->kind == LINK_REQ_MASTER) {
        if (L.configured && !strcasecmp(L.host, rq->host) && L.port == rq->port) {
            req_reply(rq, "+OK Already connected to specified master");
        } else {
            repl_become_replica();
            configure(rq->host, rq->port);
            log_info("REPLICAOF %s:%d enabled", rq->host, rq->port);
            req_reply(rq, "+OK");
        }
    } else if (rq->kind == LINK_REQ_NO_ONE) {
        if (L.configured) {
            configure(NULL, 0);
            repl_become_master();
            log_info("MASTER MODE enabled");
        }
        req_reply(rq, "+OK");
    } else if (!L.configured) {
        req_reply(rq, "+OK"); /* a master already: nothing to take over (Dragonfly's answer) */
    } else {
        req_reply(rq, "-" ERR_TAKEOVER "the link to the master is not up");
    }
    free(rq);
}

static void *link_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "dfly-replica");
    for (;;) {
        pthread_mutex_lock(&L.mu);
        int stop = L.stop;
        pthread_mutex_unlock(&L.mu);
        if (stop)
            break;
        link_req *rq = req_take(~0u);
        if (rq) {
            handle_request(rq);
            continue;
        }
        if (!L.configured) {
            idle_wait(LINK_POLL_MS);
            continue;
        }
        if (atomic_load(&server.loading)) { /* the dataset of our own files first */
            idle_wait(LINK_POLL_MS);
            continue;
        }
        link_req *took = session();
        if (took) {
            configure(NULL, 0);
            repl_become_master();
            log_info("Takeover done: MASTER MODE enabled");
            req_reply(took, "+OK");
            free(took);
            continue;
        }
        if (!session_interrupted())
            idle_wait(REPL_RECONNECT_MS);
    }
    /* Whoever still waits gets an answer. */
    link_req *rq;
    while ((rq = req_take(~0u))) {
        req_reply(rq, "-ERR the server is shutting down");
        free(rq);
    }
    return NULL;
}

void replication_follow(int replica, const char *master_ip, int master_port)
{
    if (replica)
        replica_request(LINK_REQ_MASTER, master_ip, master_port, 0, NULL, 2, 0);
    else if (repl_is_replica())
        replica_request(LINK_REQ_NO_ONE, NULL, 0, 0, NULL, 2, 0);
}

void replica_start(void)
{
    if (pthread_create(&L.thread, NULL, link_main, NULL) != 0) {
        log_error("cannot start the replication link thread");
        return;
    }
    L.started = 1;
    const char *cfg = server.cfg.replicaof;
    if (cfg && *cfg) {
        char host[REPL_HOST_MAX];
        int port;
        if (sscanf(cfg, "%255s %d", host, &port) == 2 && port > 0 && port <= UINT16_MAX) {
            /* A replica from the first command on: no client writes to it as a master. */
            atomic_store(&repl_replica_mode, 1);
            repl_guard_refresh();
            replica_request(LINK_REQ_MASTER, host, port, 0, NULL, 2, 0);
        } else {
            log_warning("--replicaof '%s': expected \"<host> <port>\"", cfg);
        }
    }
}

void replica_stop(void)
{
    if (!L.started)
        return;
    pthread_mutex_lock(&L.mu);
    L.stop = 1;
    pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&L.mu);
    pthread_join(L.thread, NULL);
    L.started = 0;
}
