/* The slot migration's connections to the target's admin port (migration_int.h's mig_link):
 * connecting, the blocking handshake I/O and the non-blocking I/O of the flows. Under
 * --tls_cluster each connection speaks TLS (Dragonfly's flag for cluster-internal links): the
 * source presents its certificate (a target with tls_auth_clients yes needs one) and verifies
 * the target's against --tls_ca_cert_file / --tls_ca_cert_dir, as the replication link does
 * (replica.c). Without it the bytes go over the socket as they are. Only the migration's
 * thread touches a link. */
#include "migration_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "server.h"
#include "tls.h"

#define LINK_TIMEOUT_MS 5000      /* connecting, the TLS handshake, each handshake reply */
#define LINK_IO_CHUNK (64 * 1024) /* bytes read per call */
#define LINK_PORT_TEXT 8

/* Milliseconds left until deadline (0 when past). */
static int ms_left(uint64_t deadline)
{
    uint64_t now = clock_mono_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* Waits until fd is ready for events or deadline passes. Returns 1 when ready, 0 on time out. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int left = ms_left(deadline);
        int rc = poll(&p, 1, left);
        if (rc > 0)
            return 1;
        if (rc == 0 || (rc < 0 && errno != EINTR) || left == 0)
            return 0;
    }
}

/* ---- TLS --------------------------------------------------------------------------------------
 */

/* Why a TLS call failed, for the migration's error: a certificate the CAs do not vouch for is
 * named as such (OpenSSL's own text says only "certificate verify failed"). */
static void tls_reason(SSL *ssl, int ssl_err, char *out, size_t outlen)
{
    char why[TLS_ERR_MAX];
    long verify = SSL_get_verify_result(ssl);
    if (ssl_err == SSL_ERROR_ZERO_RETURN ||
        (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
        snprintf(why, sizeof(why), "the target closed the connection");
    else
        tls_last_error(why, sizeof(why));
    ERR_clear_error();
    if (verify != X509_V_OK)
        snprintf(out, outlen, "%s (the target's certificate: %s)", why,
                 X509_verify_cert_error_string(verify));
    else
        snprintf(out, outlen, "%s", why);
}

/* What an SSL call that did not complete waits for. Returns 1 to retry, 0 on time out, -1 on
 * a failure (ssl_err set). */
static int tls_wait(SSL *ssl, int fd, int r, uint64_t deadline, int *ssl_err)
{
    *ssl_err = SSL_get_error(ssl, r);
    if (*ssl_err == SSL_ERROR_WANT_READ)
        return wait_fd(fd, POLLIN, deadline);
    if (*ssl_err == SSL_ERROR_WANT_WRITE)
        return wait_fd(fd, POLLOUT, deadline);
    if (*ssl_err == SSL_ERROR_SYSCALL && errno == EINTR)
        return 1;
    return -1;
}

/* The TLS handshake on l's connected socket. Returns 0, or -1 (reason in m). */
static int tls_start(out_mig *m, mig_link *l)
{
    SSL *ssl = tls_client_new(l->fd);
    if (!ssl) {
        mig_fail(m, "TLS to the target: no client context (check the tls-* settings)");
        return -1;
    }
    l->ssl = ssl;
    uint64_t deadline = clock_mono_ms() + LINK_TIMEOUT_MS;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(ssl);
        if (r == 1)
            return 0;
        int ssl_err = 0;
        int rc = tls_wait(ssl, l->fd, r, deadline, &ssl_err);
        if (rc > 0)
            continue;
        char why[TLS_ERR_MAX * 2];
        if (rc == 0)
            snprintf(why, sizeof(why), "timed out");
        else
            tls_reason(ssl, ssl_err, why, sizeof(why));
        mig_fail(m, "TLS handshake with the target %s:%d failed: %s", m->ip, m->port, why);
        return -1;
    }
}

/* ---- opening and closing ----------------------------------------------------------------------
 */

/* A non-blocking TCP connection to m's target within the timeout, or -1 (reason in m). */
static int tcp_connect(out_mig *m)
{
    char port[LINK_PORT_TEXT];
    snprintf(port, sizeof(port), "%d", m->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(m->ip, port, &hints, &res);
    if (rc != 0) {
        mig_fail(m, "cannot resolve %s: %s", m->ip, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (poll(&p, 1, LINK_TIMEOUT_MS) <= 0) {
            err = ETIMEDOUT;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            err = soerr ? soerr : errno;
        } else {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        mig_fail(m, "cannot connect to %s:%d: %s", m->ip, m->port, strerror(err));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int mig_link_open(out_mig *m, mig_link *l)
{
    l->ssl = NULL;
    l->fd = tcp_connect(m);
    if (l->fd < 0)
        return -1;
    if (server.cfg.tls_cluster && tls_start(m, l) < 0) {
        mig_link_close(l);
        return -1;
    }
    return 0;
}

void mig_link_close(mig_link *l)
{
    if (l->ssl) {
        /* close_notify if the socket takes it now; the target treats a bare close alike. */
        if (SSL_is_init_finished(l->ssl))
            SSL_shutdown(l->ssl);
        ERR_clear_error();
        SSL_free(l->ssl);
        l->ssl = NULL;
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

/* ---- I/O --------------------------------------------------------------------------------------
 */

/* One non-blocking send: bytes taken, 0 when it would block (*wait_events says for what), -1 on
 * a failure (reason in m). */
static long send_some(out_mig *m, mig_link *l, const char *p, size_t len, short *wait_events)
{
    *wait_events = POLLOUT;
    if (l->ssl) {
        size_t done = 0;
        ERR_clear_error();
        errno = 0;
        int r = SSL_write_ex(l->ssl, p, len, &done);
        if (r > 0)
            return (long)done;
        int e = SSL_get_error(l->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || (e == SSL_ERROR_SYSCALL && errno == EINTR))
            return 0;
        if (e == SSL_ERROR_WANT_READ) {
            *wait_events = POLLIN;
            return 0;
        }
        char why[TLS_ERR_MAX * 2];
        tls_reason(l->ssl, e, why, sizeof(why));
        mig_fail(m, "cannot write to the target (TLS): %s", why);
        return -1;
    }
    for (;;) {
        ssize_t n = send(l->fd, p, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (long)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        mig_fail(m, "cannot write to the target: %s", strerror(errno));
        return -1;
    }
}

/* One non-blocking receive into p: bytes read, 0 when nothing is there (*wait_events says what
 * for), -1 when the target closed or on a failure (reason in m). */
static long recv_some(out_mig *m, mig_link *l, char *p, size_t cap, short *wait_events)
{
    *wait_events = POLLIN;
    if (l->ssl) {
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        int r = SSL_read_ex(l->ssl, p, cap, &got);
        if (r > 0)
            return (long)got;
        int e = SSL_get_error(l->ssl, r);
        if (e == SSL_ERROR_WANT_READ || (e == SSL_ERROR_SYSCALL && errno == EINTR))
            return 0;
        if (e == SSL_ERROR_WANT_WRITE) {
            *wait_events = POLLOUT;
            return 0;
        }
        char why[TLS_ERR_MAX * 2];
        tls_reason(l->ssl, e, why, sizeof(why));
        mig_fail(m, "cannot read from the target (TLS): %s", why);
        return -1;
    }
    for (;;) {
        ssize_t n = recv(l->fd, p, cap, 0);
        if (n > 0)
            return (long)n;
        if (n == 0) {
            mig_fail(m, "the target closed the connection");
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        mig_fail(m, "cannot read from the target: %s", strerror(errno));
        return -1;
    }
}

int mig_link_send_all(out_mig *m, mig_link *l, const char *p, size_t len)
{
    while (len) {
        short ev;
        long n = send_some(m, l, p, len, &ev);
        if (n < 0)
            return -1;
        if (n == 0 && !wait_fd(l->fd, ev, clock_mono_ms() + LINK_TIMEOUT_MS)) {
            mig_fail(m, "the target does not take data");
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mig_link_read_line(out_mig *m, mig_link *l, char *line, size_t cap)
{
    size_t len = 0;
    uint64_t deadline = clock_mono_ms() + LINK_TIMEOUT_MS;
    /* Byte by byte: what follows the line stays in the socket (or in TLS) for the next read. */
    while (len + 1 < cap) {
        char ch;
        short ev;
        long n = recv_some(m, l, &ch, 1, &ev);
        if (n < 0)
            return -1;
        if (n == 1) {
            if (ch == '\n' && len && line[len - 1] == '\r') {
                line[len - 1] = '\0';
                return 0;
            }
            line[len++] = ch;
            continue;
        }
        if (ms_left(deadline) == 0 || !wait_fd(l->fd, ev, deadline)) {
            mig_fail(m, "the target does not answer");
            return -1;
        }
    }
    mig_fail(m, "the target's reply is too long");
    return -1;
}

long mig_link_write(out_mig *m, mig_link *l, const char *p, size_t len)
{
    short ev;
    return send_some(m, l, p, len, &ev);
}

long mig_link_read(out_mig *m, mig_link *l, buf *in)
{
    long total = 0;
    for (;;) {
        buf_reserve(in, LINK_IO_CHUNK);
        short ev;
        long n = recv_some(m, l, in->data + in->len, LINK_IO_CHUNK, &ev);
        if (n < 0)
            return -1;
        if (n == 0)
            return total;
        in->len += (size_t)n;
        total += n;
    }
}

int mig_link_pending(const mig_link *l)
{
    return l->ssl && SSL_has_pending(l->ssl);
}
