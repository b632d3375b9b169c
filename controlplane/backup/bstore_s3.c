/* The S3-compatible backup store: objects at <endpoint>/<bucket>/<prefix><backup id>/<name>
 * (path-style URLs, which every S3-compatible server accepts), requests signed with AWS
 * Signature Version 4 (the payload's SHA-256 in x-amz-content-sha256), sent with libcurl.
 * Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, never
 * from flags (which show in `ps`).
 *
 * Objects are written with one PUT each (whole or not at all, as S3 guarantees), read into a
 * temporary file, and removed by listing the backup's prefix (ListObjectsV2) and deleting
 * each key. Threads: every call makes its own curl handle. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bstore.h"
#include "buf.h"
#include "ids.h"

#define S3_SERVICE "s3"
#define S3_ALGORITHM "AWS4-HMAC-SHA256"
#define S3_TERMINATOR "aws4_request"
#define S3_DATE_LEN 9     /* yyyymmdd */
#define S3_AMZDATE_LEN 17 /* yyyymmddThhmmssZ */
#define S3_TEXT_MAX 1024
#define S3_FIELD_MAX 256 /* bucket, prefix, region, credentials */
#define S3_TIMEOUT_S 300
#define S3_CONNECT_TIMEOUT_S 10
#define SHA256_LEN 32
#define HTTP_OK_MIN 200
#define HTTP_OK_MAX 299
#define HTTP_NOT_FOUND 404
#define READ_CHUNK (256 * 1024)
#define LIST_KEY_OPEN "<Key>"
#define LIST_KEY_CLOSE "</Key>"

typedef struct s3_store {
    bstore base;
    char endpoint[S3_TEXT_MAX]; /* http(s)://host[:port], no trailing slash */
    char host[S3_TEXT_MAX];     /* host[:port] as the Host header has it */
    char bucket[S3_FIELD_MAX];
    char prefix[S3_FIELD_MAX]; /* "" or ending with '/' */
    char region[S3_FIELD_MAX];
    char key_id[S3_FIELD_MAX];
    char secret[S3_FIELD_MAX];
} s3_store;

/* ---- Signature Version 4 -------------------------------------------------------------------- */

static void sha256_hex(const void *data, size_t len, char *hex)
{
    ids_sha256_hex(data, len, hex);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char *out)
{
    unsigned int olen = SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

/* RFC 3986 encoding as SigV4 wants it: unreserved characters stay, '/' stays in paths. */
static void uri_encode(buf *b, const char *s, int keep_slash)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            buf_append(b, (const char *)&c, 1);
        else
            buf_printf(b, "%%%02X", c);
    }
}

typedef struct s3_req {
    const char *method;
    buf path;  /* encoded: /bucket/key */
    buf query; /* canonical (sorted, encoded), "" for none */
    char payload_sha[BSTORE_SHA256_HEX];
    char amzdate[S3_AMZDATE_LEN];
    char auth[S3_TEXT_MAX * 2];
} s3_req;

/* Fills amzdate and auth for r. */
static void s3_sign(const s3_store *s, s3_req *r)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[S3_DATE_LEN];
    strftime(r->amzdate, sizeof(r->amzdate), "%Y%m%dT%H%M%SZ", &tm);
    strftime(date, sizeof(date), "%Y%m%d", &tm);
    buf canon;
    buf_init(&canon);
    buf_printf(&canon, "%s\n%.*s\n%.*s\n", r->method, (int)r->path.len, r->path.data,
               (int)r->query.len, r->query.len ? r->query.data : "");
    buf_printf(&canon, "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n", s->host,
               r->payload_sha, r->amzdate);
    buf_printf(&canon, "host;x-amz-content-sha256;x-amz-date\n%s", r->payload_sha);
    char canon_hash[BSTORE_SHA256_HEX], scope[S3_TEXT_MAX], to_sign[S3_TEXT_MAX * 2];
    sha256_hex(canon.data, canon.len, canon_hash);
    buf_free(&canon);
    snprintf(scope, sizeof(scope), "%s/%s/%s/%s", date, s->region, S3_SERVICE, S3_TERMINATOR);
    snprintf(to_sign, sizeof(to_sign), "%s\n%s\n%s\n%s", S3_ALGORITHM, r->amzdate, scope,
             canon_hash);
    char ksecret[S3_FIELD_MAX + 8];
    snprintf(ksecret, sizeof(ksecret), "AWS4%s", s->secret);
    unsigned char k1[SHA256_LEN], k2[SHA256_LEN], k3[SHA256_LEN], k4[SHA256_LEN], sig[SHA256_LEN];
    hmac(ksecret, strlen(ksecret), date, k1);
    hmac(k1, sizeof(k1), s->region, k2);
    hmac(k2, sizeof(k2), S3_SERVICE, k3);
    hmac(k3, sizeof(k3), S3_TERMINATOR, k4);
    hmac(k4, sizeof(k4), to_sign, sig);
    char sig_hex[2 * SHA256_LEN + 1];
    ids_hex(sig, sizeof(sig), sig_hex);
    snprintf(r->auth, sizeof(r->auth),
             "Authorization: %s Credential=%s/%s, "
             "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s",
             S3_ALGORITHM, s->key_id, scope, sig_hex);
}

/* ---- requests ------------------------------------------------------------------------------- */

static void req_init(const s3_store *s, s3_req *r, const char *method, const char *id,
                     const char *name)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    buf_init(&r->path);
    buf_init(&r->query);
    buf_append_str(&r->path, "/");
    uri_encode(&r->path, s->bucket, 0);
    if (id) {
        buf_append_str(&r->path, "/");
        char key[S3_TEXT_MAX * 2];
        snprintf(key, sizeof(key), "%s%s%s%s", s->prefix, id, name ? "/" : "", name ? name : "");
        uri_encode(&r->path, key, 1);
    }
    sha256_hex("", 0, r->payload_sha);
}

static void req_free(s3_req *r)
{
    buf_free(&r->path);
    buf_free(&r->query);
}

typedef struct body_src {
    const char *data;
    size_t len, pos;
} body_src;

static size_t on_read(char *dst, size_t size, size_t n, void *ctx)
{
    body_src *b = ctx;
    size_t k = size * n < b->len - b->pos ? size * n : b->len - b->pos;
    memcpy(dst, b->data + b->pos, k);
    b->pos += k;
    return k;
}

static size_t on_write_buf(char *p, size_t size, size_t n, void *ctx)
{
    buf_append(ctx, p, size * n);
    return size * n;
}

static size_t on_write_file(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ctx) * size;
}

/* Sends r with body (may be NULL) and stores the answer in sink (a FILE*) or resp (a buf).
 * Returns the HTTP status, or -1 with err. */
static long s3_send(const s3_store *s, s3_req *r, const char *body, size_t len, FILE *sink,
                    buf *resp, char *err, size_t errlen)
{
    if (body)
        sha256_hex(body, len, r->payload_sha);
    s3_sign(s, r);
    char url[S3_TEXT_MAX * 4], h_sha[S3_TEXT_MAX], h_date[S3_TEXT_MAX];
    snprintf(url, sizeof(url), "%s%.*s%s%.*s", s->endpoint, (int)r->path.len, r->path.data,
             r->query.len ? "?" : "", (int)r->query.len, r->query.len ? r->query.data : "");
    snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s", r->payload_sha);
    snprintf(h_date, sizeof(h_date), "x-amz-date: %s", r->amzdate);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "s3: cannot make a curl handle");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, r->auth);
    hdrs = curl_slist_append(hdrs, h_sha);
    hdrs = curl_slist_append(hdrs, h_date);
    hdrs = curl_slist_append(hdrs, "Expect:");
    body_src src = {.data = body, .len = len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)S3_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)S3_CONNECT_TIMEOUT_S);
    if (body) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    }
    if (!strcmp(r->method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    buf scratch;
    buf_init(&scratch);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink ? on_write_file : on_write_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink ? (void *)sink : resp ? (void *)resp : &scratch);
    CURLcode rc = curl_easy_perform(c);
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "s3: %s %s: %s", r->method, url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    buf_free(&scratch);
    return status;
}

static int status_ok(long st)
{
    return st >= HTTP_OK_MIN && st <= HTTP_OK_MAX;
}

static int s3_put_data(bstore *bs, const char *id, const char *name, const void *data, size_t len,
                       char *err, size_t errlen)
{
    s3_store *s = bs->impl;
    s3_req r;
    req_init(s, &r, "PUT", id, name);
    long st = s3_send(s, &r, data ? data : "", len, NULL, NULL, err, errlen);
    req_free(&r);
    if (st >= 0 && !status_ok(st))
        snprintf(err, errlen, "s3: PUT %s/%s answered %ld", id, name, st);
    return status_ok(st) ? 0 : -EIO;
}

static int s3_put_fd(bstore *bs, const char *id, const char *name, int fd, long long *size,
                     char *sha256, char *err, size_t errlen)
{
    buf data;
    buf_init(&data);
    for (;;) {
        buf_reserve(&data, READ_CHUNK);
        ssize_t n = read(fd, data.data + data.len, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "s3: cannot read %s: %s", name, strerror(errno));
            buf_free(&data);
            return -errno;
        }
        if (n == 0)
            break;
        data.len += (size_t)n;
    }
    sha256_hex(data.data ? data.data : "", data.len, sha256);
    *size = (long long)data.len;
    int rc = s3_put_data(bs, id, name, data.data ? data.data : "", data.len, err, errlen);
    buf_free(&data);
    return rc;
}

static int s3_open(bstore *bs, const char *id, const char *name, FILE **out, char *err,
                   size_t errlen)
{
    s3_store *s = bs->impl;
    FILE *f = tmpfile();
    if (!f) {
        snprintf(err, errlen, "s3: no temporary file: %s", strerror(errno));
        return -errno;
    }
    s3_req r;
    req_init(s, &r, "GET", id, name);
    long st = s3_send(s, &r, NULL, 0, f, NULL, err, errlen);
    req_free(&r);
    if (!status_ok(st)) {
        if (st >= 0)
            snprintf(err, errlen, "backup store: cannot read %s/%s: s3 answered %ld", id, name, st);
        fclose(f);
        return st == HTTP_NOT_FOUND ? -ENOENT : -EIO;
    }
    rewind(f);
    *out = f;
    return 0;
}

/* The keys under prefix<id>/ (ListObjectsV2; a backup has a handful, one page is enough). */
static int s3_list(s3_store *s, const char *id, buf *keys, char *err, size_t errlen)
{
    s3_req r;
    req_init(s, &r, "GET", NULL, NULL);
    char pfx[S3_TEXT_MAX * 2];
    snprintf(pfx, sizeof(pfx), "%s%s/", s->prefix, id);
    buf_append_str(&r.query, "list-type=2&prefix=");
    uri_encode(&r.query, pfx, 0);
    long st = s3_send(s, &r, NULL, 0, NULL, keys, err, errlen);
    req_free(&r);
    if (st >= 0 && !status_ok(st))
        snprintf(err, errlen, "s3: listing %s answered %ld", pfx, st);
    return status_ok(st) ? 0 : -EIO;
}

static int s3_remove(bstore *bs, const char *id, char *err, size_t errlen)
{
    s3_store *s = bs->impl;
    buf xml;
    buf_init(&xml);
    int rc = s3_list(s, id, &xml, err, errlen);
    buf_append(&xml, "", 1); /* NUL */
    for (char *p = xml.data; rc == 0 && p && (p = strstr(p, LIST_KEY_OPEN));) {
        p += strlen(LIST_KEY_OPEN);
        char *end = strstr(p, LIST_KEY_CLOSE);
        if (!end)
            break;
        *end = '\0';
        s3_req r;
        req_init(s, &r, "DELETE", NULL, NULL);
        buf_append_str(&r.path, "/");
        uri_encode(&r.path, p, 1);
        long st = s3_send(s, &r, NULL, 0, NULL, NULL, err, errlen);
        req_free(&r);
        if (!status_ok(st) && st != HTTP_NOT_FOUND) {
            if (st >= 0)
                snprintf(err, errlen, "s3: DELETE %s answered %ld", p, st);
            rc = -EIO;
        }
        p = end + 1;
    }
    buf_free(&xml);
    return rc;
}

static const bstore_ops s3_ops = {
    .name = "s3",
    .put_fd = s3_put_fd,
    .put_data = s3_put_data,
    .open = s3_open,
    .remove = s3_remove,
};

bstore *bstore_s3_new(const char *endpoint, const char *bucket, const char *prefix,
                      const char *region, char *err, size_t errlen)
{
    const char *key_id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *scheme_end = strstr(endpoint, "://");
    if (!key_id || !*key_id || !secret || !*secret) {
        snprintf(err, errlen,
                 "the s3 backup store needs AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY in the environment");
        return NULL;
    }
    if (!scheme_end || !*bucket || strchr(bucket, '/')) {
        snprintf(err, errlen,
                 "the s3 backup store needs --backup-s3-endpoint http(s)://host[:port] "
                 "and --backup-s3-bucket");
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s3_store *s = calloc(1, sizeof(*s));
    s->base.ops = &s3_ops;
    s->base.impl = s;
    snprintf(s->endpoint, sizeof(s->endpoint), "%s", endpoint);
    size_t el = strlen(s->endpoint);
    while (el && s->endpoint[el - 1] == '/')
        s->endpoint[--el] = '\0';
    snprintf(s->host, sizeof(s->host), "%.*s", (int)strcspn(scheme_end + 3, "/"), scheme_end + 3);
    snprintf(s->bucket, sizeof(s->bucket), "%s", bucket);
    size_t pl = strlen(prefix);
    snprintf(s->prefix, sizeof(s->prefix), "%s%s", prefix, pl && prefix[pl - 1] != '/' ? "/" : "");
    snprintf(s->region, sizeof(s->region), "%s", region);
    snprintf(s->key_id, sizeof(s->key_id), "%s", key_id);
    snprintf(s->secret, sizeof(s->secret), "%s", secret);
    return &s->base;
}
