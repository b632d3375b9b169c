/* libmicrohttpd glue: request bodies, limits, responses, access metrics. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "static.h"

/* A client that keeps sending past the limit is cut off after this many times it. */
#define DISCARD_FACTOR 16
#define RETRY_AFTER_MAX 16
/* A daemon killed while it spawned a node leaves a child that holds the listening socket until
 * its exec (fork copies every descriptor, close-on-exec ones too; measured: up to ~0.3 s on a
 * busy host): a start right after such a crash waits this long for the address to be free. */
#define LISTEN_BUSY_WAIT_MS 5000
#define LISTEN_RETRY_MS 50
#define NS_PER_MS 1000000L

static struct MHD_Daemon *daemon_handle;
static char *tls_cert, *tls_key;

static http_req *req_new(struct MHD_Connection *conn, const char *method, const char *url)
{
    http_req *r = calloc(1, sizeof(*r));
    r->conn = conn;
    r->method = method;
    r->url = url;
    r->start_ns = clock_mono_ns();
    buf_init(&r->body);
    return r;
}

static void req_free(http_req *r)
{
    buf_free(&r->body);
    free(r->resp);
    free(r->path_copy);
    free(r);
}

/* First call of a request: a declared body larger than the limit is refused once it has been
 * read (discarded), so that the client reads our 413 instead of a reset. */
static void req_check_length(http_req *r)
{
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > ctl_cfg.max_body_bytes)
        r->body_too_large = 1;
}

/* Takes a chunk of the body. Returns MHD_NO to drop a connection that sends far too much. */
static enum MHD_Result req_body_chunk(http_req *r, const char *data, size_t size)
{
    r->body_seen += size;
    if (r->body_seen > (size_t)ctl_cfg.max_body_bytes)
        r->body_too_large = 1;
    if (r->body_too_large) {
        buf_free(&r->body);
        return r->body_seen > (size_t)ctl_cfg.max_body_bytes * DISCARD_FACTOR ? MHD_NO : MHD_YES;
    }
    buf_append(&r->body, data, size);
    return MHD_YES;
}

static void add_headers(struct MHD_Response *resp, http_req *r)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->status == 405 && r->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->retry_after > 0) {
        char v[RETRY_AFTER_MAX];
        snprintf(v, sizeof(v), "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
}

static enum MHD_Result req_respond(http_req *r)
{
    if (static_wants(r)) /* the web console's files (static.c) */
        return static_respond(r);
    router_dispatch(r);
    if (!r->status)
        http_reply_internal(r, "a handler gave no answer");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    r->resp = NULL; /* MHD owns it now */
    add_headers(resp, r);
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    http_req *r = *req_cls;
    if (!r) {
        r = req_new(conn, method, url);
        *req_cls = r;
        req_check_length(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        enum MHD_Result rc = req_body_chunk(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return rc;
    }
    return req_respond(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    http_req *r = *req_cls;
    if (!r)
        return;
    if (r->status) {
        metrics_http_observe(r->route ? (int)(r->route - router_routes) : -1, r->status,
                             clock_mono_ns() - r->start_ns);
        log_debug("api: %s %s -> %d (%s)", r->method, r->url, r->status,
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "sent" : "not sent");
    }
    req_free(r);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warning("http: %s", line);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_append_char(&b, '\0');
    return b.data;
}

static int resolve_listen(struct sockaddr_storage *ss, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", ctl_cfg.listen_port);
    int rc = getaddrinfo(ctl_cfg.listen_host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "--listen %s: %s", ctl_cfg.listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* Is the address taken by another socket right now (EADDRINUSE for a bind as MHD's)? */
static int listen_address_busy(const struct sockaddr_storage *ss)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int busy = bind(fd, (const struct sockaddr *)ss, len) < 0 && errno == EADDRINUSE;
    close(fd);
    return busy;
}

static struct MHD_Daemon *daemon_start(unsigned flags, struct sockaddr_storage *ss,
                                       struct MHD_OptionItem *tls_opts)
{
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER,
                            on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctl_cfg.http_threads,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)ctl_cfg.http_connection_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ctl_cfg.http_timeout_s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_ARRAY,
                            tls_opts, MHD_OPTION_END);
}

int http_server_start(char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (resolve_listen(&ss, err, errlen) < 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    int tls = *ctl_cfg.tls_cert_file != '\0';
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "this libmicrohttpd has no TLS support");
            return -1;
        }
        tls_cert = read_file(ctl_cfg.tls_cert_file, err, errlen);
        tls_key = tls_cert ? read_file(ctl_cfg.tls_key_file, err, errlen) : NULL;
        if (!tls_key)
            return -1;
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls_cert},
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    daemon_handle = daemon_start(flags, &ss, tls_opts);
    const struct timespec step = {0, LISTEN_RETRY_MS * NS_PER_MS};
    for (int waited = 0; !daemon_handle && waited < LISTEN_BUSY_WAIT_MS && listen_address_busy(&ss);
         waited += LISTEN_RETRY_MS) {
        nanosleep(&step, NULL);
        daemon_handle = daemon_start(flags, &ss, tls_opts);
    }
    if (!daemon_handle) {
        snprintf(err, errlen, "cannot listen on %s (address in use?)", ctl_cfg.listen);
        return -1;
    }
    log_info("REST API on %s://%s", tls ? "https" : "http", ctl_cfg.listen);
    static_init();
    return 0;
}

void http_server_stop(void)
{
    if (daemon_handle)
        MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    free(tls_cert);
    free(tls_key);
    tls_cert = tls_key = NULL;
}
