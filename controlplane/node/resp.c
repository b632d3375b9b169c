/* Blocking RESP over TCP with a deadline. */
#include "resp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"

#define READ_CHUNK 4096
#define REPLY_MAX (16 * 1024 * 1024) /* larger replies are refused as malformed */

typedef struct conn {
    int fd;
    uint64_t deadline_ms;
    buf in;
    size_t pos;
} conn;

static int remaining_ms(const conn *c)
{
    uint64_t now = clock_mono_ms();
    return now >= c->deadline_ms ? 0 : (int)(c->deadline_ms - now);
}

static int wait_fd(conn *c, short events)
{
    struct pollfd p = {.fd = c->fd, .events = events};
    int left = remaining_ms(c);
    if (left == 0)
        return -ETIMEDOUT;
    int rc;
    do
        rc = poll(&p, 1, left);
    while (rc < 0 && errno == EINTR);
    return rc > 0 ? 0 : rc == 0 ? -ETIMEDOUT : -errno;
}

static int conn_open(conn *c, const char *host, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        freeaddrinfo(res);
        return -errno;
    }
    int rc = connect(c->fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS)
        return -errno;
    if (rc < 0) {
        if ((rc = wait_fd(c, POLLOUT)) < 0)
            return rc;
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err)
            return -err;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static int conn_write(conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(c, POLLOUT);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Makes sure `need` unread bytes are buffered. */
static int conn_fill(conn *c, size_t need)
{
    while (c->in.len - c->pos < need) {
        if (c->in.len > REPLY_MAX)
            return -EMSGSIZE;
        buf_reserve(&c->in, READ_CHUNK);
        ssize_t r = recv(c->fd, c->in.data + c->in.len, READ_CHUNK, 0);
        if (r > 0) {
            c->in.len += (size_t)r;
            continue;
        }
        if (r == 0)
            return -ECONNRESET;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(c, POLLIN);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Reads one line (without CRLF) starting at c->pos; *line points into the buffer. */
static int read_line(conn *c, const char **line, size_t *len)
{
    for (;;) {
        char *start = c->in.data ? c->in.data + c->pos : NULL;
        char *crlf = start ? memmem(start, c->in.len - c->pos, "\r\n", 2) : NULL;
        if (crlf) {
            *line = start;
            *len = (size_t)(crlf - start);
            c->pos += *len + 2;
            return 0;
        }
        int rc = conn_fill(c, c->in.len - c->pos + 1);
        if (rc < 0)
            return rc;
    }
}

/* Appends text to out (bounded), as one line of an array's flattened elements. */
static void out_append(char *out, size_t outlen, const char *p, size_t n)
{
    size_t used = strlen(out);
    if (used + 1 >= outlen)
        return;
    snprintf(out + used, outlen - used, "%.*s\n", (int)n, p);
}

/* Reads one reply. A top-level scalar's text goes into out; the elements of arrays (nested
 * ones too) are appended to out one per line. */
static int read_reply(conn *c, char *out, size_t outlen, int depth)
{
    const char *line;
    size_t len;
    int rc = read_line(c, &line, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return -EPROTO;
    char type = line[0];
    long long n = strtoll(line + 1, NULL, 10);
    if (depth == 0)
        snprintf(out, outlen, "%.*s", type == '*' ? 0 : (int)(len - 1), line + 1);
    else if (type == '+' || type == ':' || type == '-')
        out_append(out, outlen, line + 1, len - 1);
    switch (type) {
    case '+':
    case ':': return RESP_OK;
    case '-': return RESP_ERROR;
    case '$':
        if (n < 0)
            return RESP_OK;
        if (n > REPLY_MAX)
            return -EMSGSIZE;
        if ((rc = conn_fill(c, (size_t)n + 2)) < 0)
            return rc;
        if (depth == 0)
            snprintf(out, outlen, "%.*s", (int)n, c->in.data + c->pos);
        else
            out_append(out, outlen, c->in.data + c->pos, (size_t)n);
        c->pos += (size_t)n + 2;
        return RESP_OK;
    case '*':
        for (long long i = 0; i < n; i++)
            if ((rc = read_reply(c, out, outlen, depth + 1)) < 0)
                return rc;
        return RESP_OK;
    default: return -EPROTO;
    }
}

static void append_command(buf *b, int argc, const char *const *argv)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        buf_printf(b, "$%zu\r\n", strlen(argv[i]));
        buf_append_str(b, argv[i]);
        buf_append(b, "\r\n", 2);
    }
}

int resp_call(const char *host, int port, const char *password, int timeout_ms, char *out,
              size_t outlen, int argc, const char *const *argv)
{
    conn c = {.fd = -1, .deadline_ms = clock_mono_ms() + (uint64_t)timeout_ms};
    buf_init(&c.in);
    buf req;
    buf_init(&req);
    int authed = password && *password;
    if (authed) {
        const char *auth[] = {"AUTH", password};
        append_command(&req, 2, auth);
    }
    append_command(&req, argc, argv);
    int rc = conn_open(&c, host, port);
    if (rc == 0)
        rc = conn_write(&c, req.data, req.len);
    if (rc == 0 && authed) {
        rc = read_reply(&c, out, outlen, 0);
        if (rc == RESP_ERROR) {
            char why[256];
            snprintf(why, sizeof(why), "AUTH: %s", out);
            snprintf(out, outlen, "%s", why);
        }
    }
    if (rc == 0)
        rc = read_reply(&c, out, outlen, 0);
    if (rc < 0)
        snprintf(out, outlen, "%s:%d: %s", host, port, strerror(-rc));
    if (c.fd >= 0)
        close(c.fd);
    buf_free(&c.in);
    buf_free(&req);
    return rc < 0 ? RESP_IO : rc;
}

int resp_info_field(const char *info, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *line = info; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, name, nl) || line[nl] != ':')
            continue;
        const char *v = line + nl + 1;
        size_t len = strcspn(v, "\r\n");
        snprintf(out, outlen, "%.*s", (int)len, v);
        return 0;
    }
    return -1;
}

long long resp_info_ll(const char *info, const char *name, long long def)
{
    char v[32];
    if (resp_info_field(info, name, v, sizeof(v)) < 0)
        return def;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    return end == v || *end ? def : n;
}
