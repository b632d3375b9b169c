/* libdflyapi: the HTTP exchange (libcurl), retries with back-off, the API's error shape,
 * pagination and waiting for operations. The typed route helpers are in dflyapi_routes.c. */
#include "dflyapi.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"

#define URL_MAX 4096
#define HEADER_MAX 1024
#define ID_KEY_RANDOM_BYTES 16
#define RESPONSE_MAX_BYTES (64L << 20) /* an answer larger than this is not one of ours */
#define HTTP_TOO_MANY 429
#define HTTP_BAD_GATEWAY 502
#define HTTP_GATEWAY_TIMEOUT 504
#define HTTP_ERROR_MIN 400
#define HTTP_OK_MIN 200
#define HTTP_REDIRECT_MIN 300
#define MS_PER_S 1000L
#define NS_PER_MS 1000000L

struct dflyapi_client {
    char *endpoint;
    char *auth; /* "Authorization: Bearer …" or NULL */
    char *user_agent;
    char *ca_file;
    long timeout_ms, connect_timeout_ms, retry_base_ms, retry_max_ms;
    int max_retries;
    int insecure;
    unsigned int seed; /* jitter; rand_r keeps the client free of global state */
    CURL *curl;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static long or_default(long v, long def)
{
    return v > 0 ? v : def;
}

dflyapi_client *dflyapi_client_new(const dflyapi_options *o)
{
    if (!o || !o->endpoint || !*o->endpoint)
        return NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return NULL;
    dflyapi_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return NULL;
    }
    c->endpoint = strdup(o->endpoint);
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    if (o->token && *o->token) {
        size_t len = strlen(o->token) + sizeof("Authorization: Bearer ");
        c->auth = malloc(len);
        snprintf(c->auth, len, "Authorization: Bearer %s", o->token);
    }
    c->user_agent = strdup(o->user_agent ? o->user_agent : "libdflyapi/" DFLYAPI_VERSION);
    c->ca_file = xstrdup(o->ca_file);
    c->timeout_ms = or_default(o->timeout_ms, DFLYAPI_DEFAULT_TIMEOUT_MS);
    c->connect_timeout_ms = or_default(o->connect_timeout_ms, DFLYAPI_DEFAULT_CONNECT_TIMEOUT_MS);
    c->retry_base_ms = or_default(o->retry_base_ms, DFLYAPI_DEFAULT_RETRY_BASE_MS);
    c->retry_max_ms = or_default(o->retry_max_ms, DFLYAPI_DEFAULT_RETRY_MAX_MS);
    c->max_retries = o->max_retries < 0    ? 0
                     : o->max_retries == 0 ? DFLYAPI_DEFAULT_MAX_RETRIES
                                           : o->max_retries;
    c->insecure = o->insecure;
    c->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)c;
    return c;
}

void dflyapi_client_free(dflyapi_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    if (c->auth) /* the token is a secret: do not leave it in freed memory */
        memset(c->auth, 0, strlen(c->auth));
    free(c->auth);
    free(c->endpoint);
    free(c->user_agent);
    free(c->ca_file);
    free(c);
}

const char *dflyapi_client_endpoint(const dflyapi_client *c)
{
    return c->endpoint;
}

void dflyapi_result_clear(dflyapi_result *r)
{
    json_decref(r->body);
    free(r->etag);
    free(r->location);
    free(r->err_code);
    free(r->err_message);
    free(r->err_field);
    memset(r, 0, sizeof(*r));
}

const char *dflyapi_strerror(dflyapi_err e)
{
    switch (e) {
    case DFLYAPI_OK: return "ok";
    case DFLYAPI_ERR_HTTP: return "API error";
    case DFLYAPI_ERR_TRANSPORT: return "transport error";
    case DFLYAPI_ERR_RESPONSE: return "invalid response";
    case DFLYAPI_ERR_TIMEOUT: return "timed out";
    case DFLYAPI_ERR_FAILED: return "operation failed";
    case DFLYAPI_ERR_ARG: return "invalid argument";
    case DFLYAPI_ERR_IO: return "write error";
    }
    return "unknown error";
}

/* Sets the result's error and returns e, so that callers can `return fail(...)`. */
static dflyapi_err fail(dflyapi_result *r, dflyapi_err e, const char *code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static dflyapi_err fail(dflyapi_result *r, dflyapi_err e, const char *code, const char *field,
                        const char *fmt, ...)
{
    free(r->err_code);
    free(r->err_message);
    free(r->err_field);
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    r->err_code = strdup(code);
    r->err_message = msg;
    r->err_field = xstrdup(field);
    return e;
}

void dflyapi_idempotency_key(char *out, size_t size)
{
    unsigned char raw[ID_KEY_RANDOM_BYTES];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* no entropy source: a clock-based key is still unique enough per host */
            break;
        got += (size_t)n;
    }
    if (got < sizeof(raw)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(raw, &ts, sizeof(ts) < sizeof(raw) ? sizeof(ts) : sizeof(raw));
    }
    char hex[2 * ID_KEY_RANDOM_BYTES + 1];
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    snprintf(out, size, "dfly-%s", hex);
}

/* Percent-encodes s (RFC 3986 unreserved characters stay) onto b. */
static void url_encode(buf *b, const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_append_char(b, (char)*p);
        } else {
            buf_append_char(b, '%');
            buf_append_char(b, hexd[*p >> 4]);
            buf_append_char(b, hexd[*p & 0xf]);
        }
    }
}

int dflyapi_path(char *out, size_t size, const char *base, ...)
{
    buf b;
    buf_init(&b);
    buf_append_str(&b, base);
    va_list ap;
    va_start(ap, base);
    for (const char *seg; (seg = va_arg(ap, const char *));) {
        buf_append_char(&b, '/');
        url_encode(&b, seg);
    }
    va_end(ap);
    int ok = b.len < size;
    if (ok)
        memcpy(out, b.data, b.len + 1);
    buf_free(&b);
    return ok ? 0 : -1;
}

/* --- one HTTP exchange ------------------------------------------------------------------- */

typedef struct exchange {
    buf body;
    char *etag, *location;
    long retry_after;
    CURL *curl;
    FILE *sink;      /* a download's destination, or NULL */
    long long sunk;  /* bytes written to sink */
    int sink_failed; /* errno of a failed write, or 0 */
} exchange;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    exchange *x = ud;
    long status = 0;
    if (x->sink)
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->sink && status >= HTTP_OK_MIN && status < HTTP_REDIRECT_MIN) {
        if (fwrite(p, 1, size * n, x->sink) != size * n) {
            x->sink_failed = errno ? errno : EIO;
            return 0;
        }
        x->sunk += (long long)(size * n);
        return size * n;
    }
    if (x->body.len + size * n > (size_t)RESPONSE_MAX_BYTES)
        return 0; /* aborts the transfer */
    buf_append(&x->body, p, size * n);
    return size * n;
}

/* The value of "Name: value\r\n" when line is that header, else NULL (malloc'd). */
static char *header_value(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
        return NULL;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return strndup(v, (size_t)(end - v));
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    exchange *x = ud;
    size_t len = size * n;
    char *v;
    if ((v = header_value(p, len, "ETag"))) {
        free(x->etag);
        x->etag = v;
    } else if ((v = header_value(p, len, "Location"))) {
        free(x->location);
        x->location = v;
    } else if ((v = header_value(p, len, "Retry-After"))) {
        x->retry_after = strtol(v, NULL, 10);
        free(v);
    }
    return len;
}

static void exchange_free(exchange *x)
{
    buf_free(&x->body);
    free(x->etag);
    free(x->location);
    memset(x, 0, sizeof(*x));
}

static void build_url(buf *u, const dflyapi_client *c, const char *path, const dflyapi_param *query)
{
    buf_append_str(u, c->endpoint);
    buf_append_str(u, path);
    char sep = strchr(path, '?') ? '&' : '?';
    for (const dflyapi_param *q = query; q && q->name; q++) {
        buf_append_char(u, sep);
        sep = '&';
        url_encode(u, q->name);
        buf_append_char(u, '=');
        url_encode(u, q->value ? q->value : "");
    }
}

static struct curl_slist *build_headers(const dflyapi_client *c, const dflyapi_req *req)
{
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    char line[HEADER_MAX];
    if (c->auth)
        h = curl_slist_append(h, c->auth);
    if (req && req->body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (req && req->if_match) {
        snprintf(line, sizeof(line), "If-Match: %s", req->if_match);
        h = curl_slist_append(h, line);
    }
    if (req && req->idempotency_key) {
        snprintf(line, sizeof(line), "Idempotency-Key: %s", req->idempotency_key);
        h = curl_slist_append(h, line);
    }
    /* libcurl adds "Expect: 100-continue" to large POSTs; the API does not need the round trip */
    return curl_slist_append(h, "Expect:");
}

/* One attempt. Returns the CURLcode; the HTTP status goes to *status. */
static CURLcode exchange_run(dflyapi_client *c, const char *method, const char *url,
                             struct curl_slist *headers, const char *body, exchange *x,
                             long *status, char *errbuf)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    x->curl = h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* thread-safe timeouts */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body || !strcmp(method, "POST")) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
        }
    }
    errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

static int retryable_status(long status)
{
    return status == HTTP_TOO_MANY ||
           (status >= HTTP_BAD_GATEWAY && status <= HTTP_GATEWAY_TIMEOUT);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / MS_PER_S, (ms % MS_PER_S) * NS_PER_MS};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Exponential back-off with "full jitter" (a random wait up to the doubled base), at least the
 * server's Retry-After, capped by retry_max_ms. */
static long backoff_ms(dflyapi_client *c, int attempt, long retry_after_s)
{
    long cap = c->retry_base_ms << (attempt < 16 ? attempt : 16);
    if (cap > c->retry_max_ms)
        cap = c->retry_max_ms;
    long ms = cap / 2 + (long)(rand_r(&c->seed) % (unsigned long)(cap / 2 + 1));
    long floor = retry_after_s * MS_PER_S;
    if (floor > c->retry_max_ms)
        floor = c->retry_max_ms;
    return ms > floor ? ms : floor;
}

/* Fills out from a finished exchange: status, headers, JSON and the API's error. */
static dflyapi_err exchange_result(long status, exchange *x, dflyapi_result *out)
{
    out->status = (int)status;
    out->etag = x->etag;
    out->location = x->location;
    out->retry_after = x->retry_after;
    x->etag = x->location = NULL;
    if (x->sink && status < HTTP_ERROR_MIN)
        return DFLYAPI_OK; /* the body went to the sink */
    if (x->body.len > 0) {
        json_error_t jerr;
        out->body = json_loadb(x->body.data, x->body.len, 0, &jerr);
    }
    if (status < HTTP_ERROR_MIN) {
        if (x->body.len > 0 && !out->body)
            return fail(out, DFLYAPI_ERR_RESPONSE, "invalid_response", NULL,
                        "the server answered %ld with a body that is not JSON", status);
        return DFLYAPI_OK;
    }
    json_t *e = json_object_get(out->body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *field = json_string_value(json_object_get(e, "field"));
    if (!code || !msg)
        return fail(out, DFLYAPI_ERR_HTTP, "http_error", NULL,
                    "the server answered HTTP %ld (not an API error: is the endpoint right?)",
                    status);
    return fail(out, DFLYAPI_ERR_HTTP, code, field, "%s", msg);
}

dflyapi_err dflyapi_request(dflyapi_client *c, const char *method, const char *path,
                            const dflyapi_req *req, dflyapi_result *out)
{
    dflyapi_result_clear(out);
    if (!c || !method || !path || path[0] != '/')
        return fail(out, DFLYAPI_ERR_ARG, "invalid_argument", NULL, "bad request arguments");
    buf url;
    buf_init(&url);
    build_url(&url, c, path, req ? req->query : NULL);
    struct curl_slist *headers = build_headers(c, req);
    char *body = req && req->body ? json_dumps(req->body, JSON_COMPACT) : NULL;
    /* a POST without Idempotency-Key may have taken effect before a lost answer: never repeat */
    int may_retry = strcmp(method, "POST") || (req && req->idempotency_key);
    char errbuf[CURL_ERROR_SIZE];
    dflyapi_err rc = DFLYAPI_OK;
    for (int attempt = 0;; attempt++) {
        exchange x = {.sink = req ? req->sink : NULL};
        buf_init(&x.body);
        long status = 0;
        CURLcode cc = exchange_run(c, method, url.data, headers, body, &x, &status, errbuf);
        out->attempts = attempt + 1;
        out->bytes = x.sunk;
        /* bytes already in the sink cannot be taken back: such a download is not repeated */
        int again = may_retry && attempt < c->max_retries && x.sunk == 0 && !x.sink_failed &&
                    (cc != CURLE_OK || retryable_status(status));
        if (again) {
            long wait = backoff_ms(c, attempt, x.retry_after);
            exchange_free(&x);
            sleep_ms(wait);
            continue;
        }
        if (x.sink_failed)
            rc = fail(out, DFLYAPI_ERR_IO, "write_failed", NULL, "cannot write the download: %s",
                      strerror(x.sink_failed));
        else if (cc != CURLE_OK)
            rc = fail(out, DFLYAPI_ERR_TRANSPORT, "transport", NULL, "cannot reach %s: %s",
                      c->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else
            rc = exchange_result(status, &x, out);
        exchange_free(&x);
        break;
    }
    free(body);
    curl_slist_free_all(headers);
    buf_free(&url);
    return rc;
}

/* --- pagination -------------------------------------------------------------------------- */

#define QUERY_PARAMS_MAX 32
#define LIMIT_TEXT_MAX 8

dflyapi_err dflyapi_list_each(dflyapi_client *c, const char *path, const dflyapi_param *query,
                              dflyapi_item_fn fn, void *ud, dflyapi_result *out)
{
    dflyapi_param q[QUERY_PARAMS_MAX + 3];
    size_t n = 0;
    for (; query && query[n].name; n++) {
        if (n == QUERY_PARAMS_MAX) {
            dflyapi_result_clear(out);
            return fail(out, DFLYAPI_ERR_ARG, "invalid_argument", NULL, "too many filters");
        }
        q[n] = query[n];
    }
    char limit[LIMIT_TEXT_MAX];
    snprintf(limit, sizeof(limit), "%d", DFLYAPI_PAGE_LIMIT);
    q[n] = (dflyapi_param){"limit", limit};
    char *cursor = NULL;
    dflyapi_err rc;
    for (;;) {
        q[n + 1] = (dflyapi_param){cursor ? "cursor" : NULL, cursor};
        q[n + 2] = (dflyapi_param){NULL, NULL};
        dflyapi_req req = {.query = q};
        rc = dflyapi_request(c, "GET", path, &req, out);
        free(cursor);
        cursor = NULL;
        if (rc != DFLYAPI_OK)
            break;
        json_t *items = json_object_get(out->body, "items");
        if (!json_is_array(items)) {
            rc = fail(out, DFLYAPI_ERR_RESPONSE, "invalid_response", NULL,
                      "the list answer has no items");
            break;
        }
        size_t i;
        json_t *it;
        int stop = 0;
        json_array_foreach(items, i, it)
        {
            if (fn && (stop = fn(it, ud)))
                break;
        }
        const char *next = json_string_value(json_object_get(out->body, "next_cursor"));
        if (stop || !next || !*next)
            break;
        cursor = strdup(next);
    }
    return rc;
}

static int collect(const json_t *item, void *ud)
{
    json_array_append((json_t *)ud, (json_t *)item);
    return 0;
}

dflyapi_err dflyapi_list_all(dflyapi_client *c, const char *path, const dflyapi_param *query,
                             dflyapi_result *out)
{
    json_t *all = json_array();
    dflyapi_err rc = dflyapi_list_each(c, path, query, collect, all, out);
    if (rc != DFLYAPI_OK) {
        json_decref(all);
        return rc;
    }
    json_decref(out->body);
    out->body = json_pack("{s:o, s:n}", "items", all, "next_cursor");
    return rc;
}

/* --- operations -------------------------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

dflyapi_err dflyapi_operation_wait(dflyapi_client *c, const char *operation_id, long timeout_ms,
                                   long poll_ms, dflyapi_progress_fn progress, void *ud,
                                   dflyapi_result *out)
{
    long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    poll_ms = or_default(poll_ms, DFLYAPI_DEFAULT_POLL_MS);
    for (;;) {
        dflyapi_err rc = dflyapi_operation_get(c, operation_id, out);
        if (rc != DFLYAPI_OK)
            return rc;
        const char *status = json_string_value(json_object_get(out->body, "status"));
        if (progress && progress(out->body, ud))
            return fail(out, DFLYAPI_ERR_TIMEOUT, "cancelled", NULL, "stopped waiting for %s",
                        operation_id);
        if (status && !strcmp(status, "succeeded"))
            return DFLYAPI_OK;
        if (status && !strcmp(status, "failed")) {
            const char *err = json_string_value(json_object_get(out->body, "error"));
            return fail(out, DFLYAPI_ERR_FAILED, "operation_failed", NULL,
                        "operation %s failed: %s", operation_id, err ? err : "no reason given");
        }
        long wait = poll_ms;
        if (deadline) {
            long left = deadline - now_ms();
            if (left <= 0)
                return fail(out, DFLYAPI_ERR_TIMEOUT, "timeout", NULL,
                            "operation %s is still %s after %ld ms", operation_id,
                            status ? status : "unfinished", timeout_ms);
            if (wait > left)
                wait = left;
        }
        sleep_ms(wait);
    }
}
