/* The web console's files: GET and HEAD under --web-dir, with content types, revalidation
 * (ETag, 304) and the security headers every console response carries.
 *
 * Only plain names are served: a path is refused (404) unless every segment is made of letters,
 * digits, '.', '-' and '_', starts with none of '.', and the file has a known extension; the
 * resolved path must also stay under the directory (no symlink leads out). No directory
 * listings, no index other than `/` -> index.html. */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "router.h"

#ifndef DFLY_WEB_SOURCE_DIR
#define DFLY_WEB_SOURCE_DIR ""
#endif

#define STATIC_INDEX "index.html"
#define STATIC_REL_MAX 512
#define STATIC_ETAG_MAX 64
#define API_PREFIX "/v1"
/* Paths of an installed console, relative to the directory of the dfly-control binary. */
#define INSTALLED_WEB_DIR "/../share/dfly/web"
#define BESIDE_WEB_DIR "/web"
/* Files are not content-hashed, so browsers must revalidate (cheap: ETag and 304). */
#define STATIC_CACHE_CONTROL "no-cache"

/* Scripts, styles, images and fetches from this origin only; no inline script or style, no
 * plugins, no framing, no <base> games, forms post nowhere else. */
#define CONSOLE_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'self'; frame-ancestors 'none'"

static const struct {
    const char *name, *value;
} security_headers[] = {
    {"Content-Security-Policy", CONSOLE_CSP},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
};

static const struct {
    const char *ext, *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char web_root[PATH_MAX]; /* "" when the console is off */

/* dir, if it holds an index.html, becomes the root. */
static int try_root(const char *dir)
{
    char real[PATH_MAX], index[PATH_MAX + sizeof(STATIC_INDEX) + 1];
    if (!*dir || !realpath(dir, real))
        return 0;
    snprintf(index, sizeof(index), "%s/%s", real, STATIC_INDEX);
    if (access(index, R_OK) < 0)
        return 0;
    snprintf(web_root, sizeof(web_root), "%s", real);
    return 1;
}

/* --web-dir, else an install's share/dfly/web or web/ beside the binary, else the source
 * tree's web/ (the build tree's binary, as scripts/run.sh and the tests run it). */
static void find_root(void)
{
    if (*ctl_cfg.web_dir) {
        if (!try_root(ctl_cfg.web_dir))
            log_warning("web console: off (--web-dir %s has no readable %s)", ctl_cfg.web_dir,
                        STATIC_INDEX);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {INSTALLED_WEB_DIR, BESIDE_WEB_DIR};
            for (size_t i = 0; i < NELEM(rel); i++) {
                char cand[PATH_MAX];
                if (snprintf(cand, sizeof(cand), "%s%s", self, rel[i]) < (int)sizeof(cand) &&
                    try_root(cand))
                    return;
            }
        }
    }
    if (!try_root(DFLY_WEB_SOURCE_DIR))
        log_warning("web console: off (no web/ directory found: give --web-dir)");
}

static void init_once_fn(void)
{
    find_root();
}

void static_init(void)
{
    pthread_once(&init_once, init_once_fn);
    if (*web_root)
        log_info("web console at / (files from %s)", web_root);
}

/* API paths (/v1/..., and the public routes such as /healthz) belong to the router. */
static int is_api_path(const char *url)
{
    size_t n = strlen(API_PREFIX);
    if (!strncmp(url, API_PREFIX, n) && (url[n] == '/' || url[n] == '\0'))
        return 1;
    for (const route *rt = router_routes; rt->method; rt++)
        if (!strcmp(rt->pattern, url))
            return 1;
    return 0;
}

int static_wants(const http_req *r)
{
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
        return 0;
    return !is_api_path(r->url);
}

static const char *content_type_of(const char *rel)
{
    const char *dot = strrchr(rel, '.');
    for (size_t i = 0; dot && i < NELEM(content_types); i++)
        if (!strcmp(dot, content_types[i].ext))
            return content_types[i].type;
    return NULL;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* The url (already percent-decoded by libmicrohttpd) as a path relative to the root, or -1 when
 * it is not a plain name of a servable file. */
static int safe_relative_path(const char *url, char *rel, size_t len)
{
    if (url[0] != '/')
        return -1;
    if (!strcmp(url, "/"))
        url = "/" STATIC_INDEX;
    const char *p = url + 1;
    if (strlen(p) >= len)
        return -1;
    int seg_start = 1;
    for (const char *c = p; *c; c++) {
        if (*c == '/') {
            if (seg_start) /* an empty segment: "//" */
                return -1;
            seg_start = 1;
            continue;
        }
        if (!name_char(*c) || (seg_start && *c == '.')) /* ".", "..", hidden files */
            return -1;
        seg_start = 0;
    }
    if (seg_start) /* "" or a trailing '/': directories are not listed */
        return -1;
    /* The test tool's packages live in web/node_modules: never served. */
    if (!strncmp(p, "node_modules/", strlen("node_modules/")))
        return -1;
    if (!content_type_of(p))
        return -1;
    snprintf(rel, len, "%s", p);
    return 0;
}

/* Opens root/rel if it is a regular file whose real path lies under the root. */
static int open_under_root(const char *rel, struct stat *st)
{
    char path[PATH_MAX + STATIC_REL_MAX + 1], real[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", web_root, rel);
    size_t rootlen = strlen(web_root);
    if (!realpath(path, real) || strncmp(real, web_root, rootlen) || real[rootlen] != '/')
        return -1;
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void add_security_headers(struct MHD_Response *resp)
{
    for (size_t i = 0; i < NELEM(security_headers); i++)
        MHD_add_response_header(resp, security_headers[i].name, security_headers[i].value);
}

static enum MHD_Result queue(http_req *r, int status, struct MHD_Response *resp)
{
    add_security_headers(resp);
    r->status = status; /* for the access metrics and log (route -1) */
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result respond_not_found(http_req *r)
{
    static const char body[] = "404 not found\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return queue(r, MHD_HTTP_NOT_FOUND, resp);
}

/* A strong validator from size and modification time: it changes whenever the file does. */
static void etag_of(const struct stat *st, char *out, size_t len)
{
    snprintf(out, len, "\"%llx-%llx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st->st_mtim.tv_nsec);
}

enum MHD_Result static_respond(http_req *r)
{
    pthread_once(&init_once, init_once_fn);
    char rel[STATIC_REL_MAX];
    struct stat st;
    int fd = -1;
    if (*web_root && safe_relative_path(r->url, rel, sizeof(rel)) == 0)
        fd = open_under_root(rel, &st);
    if (fd < 0)
        return respond_not_found(r);

    char etag[STATIC_ETAG_MAX];
    etag_of(&st, etag, sizeof(etag));
    const char *inm = http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int fresh = inm && (!strcmp(inm, etag) || !strcmp(inm, "*"));
    struct MHD_Response *resp;
    if (fresh) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* owns fd */
        if (!resp) {
            close(fd);
            return MHD_NO; /* out of memory: drop the connection */
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type_of(rel));
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, STATIC_CACHE_CONTROL);
    return queue(r, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}
