/* RESP2/RESP3 reply encoding; see reply.h. */
#include "reply.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "memcache.h"
#include "object.h"

static inline void out_hdr(cmd_ctx *c, char type, long long n)
{
    char tmp[32];
    tmp[0] = type;
    int l = ll_to_str(tmp + 1, n) + 1;
    tmp[l++] = '\r';
    tmp[l++] = '\n';
    buf_append(c->out, tmp, (size_t)l);
}

void reply_simple(cmd_ctx *c, const char *s)
{
    buf_append_char(c->out, '+');
    buf_append_str(c->out, s);
    buf_append(c->out, "\r\n", 2);
}

void reply_ok(cmd_ctx *c)
{
    buf_append(c->out, "+OK\r\n", 5);
}

void reply_error(cmd_ctx *c, const char *msg)
{
    c->error = 1;
    /* Errors of the common path (OOM, LOADING, MOVED...) in the memcached protocol's form. */
    if (__builtin_expect(c->cl && c->cl->proto == PROTO_MEMCACHE, 0)) {
        memcache_reply_error(c, msg);
        return;
    }
    if (msg[0] == '-')
        msg++;
    /* An error must start with an upper-case code word; default to ERR like Redis. */
    const char *sp = strchr(msg, ' ');
    int has_code = sp && sp > msg;
    for (const char *q = msg; has_code && q < sp; q++)
        if (!isupper((unsigned char)*q))
            has_code = 0;
    buf_append_char(c->out, '-');
    if (!has_code)
        buf_append(c->out, "ERR ", 4);
    /* Newlines would break the framing. */
    size_t start = c->out->len;
    buf_append_str(c->out, msg);
    for (size_t i = start; i < c->out->len; i++)
        if (c->out->data[i] == '\r' || c->out->data[i] == '\n')
            c->out->data[i] = ' ';
    buf_append(c->out, "\r\n", 2);
    stats_count_error(has_code ? msg : "ERR");
}

void reply_errorf(cmd_ctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(c, msg);
}

void reply_wrong_args(cmd_ctx *c)
{
    char name[128];
    size_t n = c->argv[0].len < sizeof(name) - 1 ? c->argv[0].len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)c->argv[0].p[i]);
    name[n] = '\0';
    reply_errorf(c, "ERR wrong number of arguments for '%s' command", name);
}

void reply_syntax_error(cmd_ctx *c)
{
    reply_error(c, ERR_SYNTAX);
}

void reply_int(cmd_ctx *c, long long v)
{
    out_hdr(c, ':', v);
}

void reply_bulk(cmd_ctx *c, const char *p, size_t len)
{
    out_hdr(c, '$', (long long)len);
    buf_reserve(c->out, len + 2);
    memcpy(c->out->data + c->out->len, p, len);
    c->out->len += len;
    buf_append(c->out, "\r\n", 2);
}

void reply_bulk_cstr(cmd_ctx *c, const char *s)
{
    if (!s)
        reply_null(c);
    else
        reply_bulk(c, s, strlen(s));
}

void reply_bulk_ll(cmd_ctx *c, long long v)
{
    char tmp[OBJ_INT_STR_MAX];
    int n = ll_to_str(tmp, v);
    reply_bulk(c, tmp, (size_t)n);
}

void reply_null(cmd_ctx *c)
{
    if (c->resp >= 3)
        buf_append(c->out, "_\r\n", 3);
    else
        buf_append(c->out, "$-1\r\n", 5);
}

void reply_null_array(cmd_ctx *c)
{
    if (c->resp >= 3)
        buf_append(c->out, "_\r\n", 3);
    else
        buf_append(c->out, "*-1\r\n", 5);
}

void reply_array(cmd_ctx *c, long n)
{
    out_hdr(c, '*', n);
}

void reply_map(cmd_ctx *c, long pairs)
{
    if (c->resp >= 3)
        out_hdr(c, '%', pairs);
    else
        out_hdr(c, '*', pairs * 2);
}

void reply_set(cmd_ctx *c, long n)
{
    out_hdr(c, c->resp >= 3 ? '~' : '*', n);
}

void reply_push(cmd_ctx *c, long n)
{
    out_hdr(c, c->resp >= 3 ? '>' : '*', n);
}

int fmt_double(char *buf, size_t len, double d)
{
    if (isinf(d))
        return snprintf(buf, len, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d))
        return snprintf(buf, len, "%s", signbit(d) ? "-nan" : "nan");
    return snprintf(buf, len, "%.17g", d); /* Redis 7.0's format; -0.0 prints as "-0" */
}

int fmt_long_double(char *buf, size_t len, long double d)
{
    if (isinf(d))
        return snprintf(buf, len, "%s", d > 0 ? "inf" : "-inf");
    int n = snprintf(buf, len, "%.17Lf", d);
    if (n <= 0 || (size_t)n >= len)
        return n;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
        buf[n] = '\0';
    }
    if (n == 2 && !strcmp(buf, "-0"))
        n = snprintf(buf, len, "0");
    return n;
}

void reply_double_text(cmd_ctx *c, const char *s, size_t len)
{
    if (c->resp < 3) {
        reply_bulk(c, s, len);
        return;
    }
    buf_append_char(c->out, ',');
    buf_append(c->out, s, len);
    buf_append(c->out, "\r\n", 2);
}

void reply_double(cmd_ctx *c, double d)
{
    char tmp[64];
    int n = fmt_double(tmp, sizeof(tmp), d);
    reply_double_text(c, tmp, (size_t)n);
}

void reply_long_double(cmd_ctx *c, long double d)
{
    char tmp[5200];
    int n = fmt_long_double(tmp, sizeof(tmp), d);
    reply_bulk(c, tmp, (size_t)n);
}

void reply_bool(cmd_ctx *c, int v)
{
    if (c->resp >= 3)
        buf_append(c->out, v ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_int(c, v ? 1 : 0);
}

void reply_verbatim(cmd_ctx *c, const char *p, size_t len, const char *ext)
{
    if (c->resp < 3) {
        reply_bulk(c, p, len);
        return;
    }
    out_hdr(c, '=', (long long)len + 4);
    buf_append(c->out, ext, 3);
    buf_append_char(c->out, ':');
    buf_append(c->out, p, len);
    buf_append(c->out, "\r\n", 2);
}

void reply_bignum(cmd_ctx *c, const char *digits)
{
    if (c->resp < 3) {
        reply_bulk_cstr(c, digits);
        return;
    }
    buf_append_char(c->out, '(');
    buf_append_str(c->out, digits);
    buf_append(c->out, "\r\n", 2);
}

size_t reply_deferred(cmd_ctx *c)
{
    return c->out->len;
}

static void set_deferred(cmd_ctx *c, size_t handle, char type, long n)
{
    char tmp[32];
    tmp[0] = type;
    int l = ll_to_str(tmp + 1, n) + 1;
    tmp[l++] = '\r';
    tmp[l++] = '\n';
    buf *b = c->out;
    buf_reserve(b, (size_t)l);
    memmove(b->data + handle + (size_t)l, b->data + handle, b->len - handle);
    memcpy(b->data + handle, tmp, (size_t)l);
    b->len += (size_t)l;
    b->data[b->len] = '\0';
}

void reply_set_deferred_array(cmd_ctx *c, size_t handle, long n)
{
    set_deferred(c, handle, '*', n);
}

void reply_set_deferred_map(cmd_ctx *c, size_t handle, long pairs)
{
    if (c->resp >= 3)
        set_deferred(c, handle, '%', pairs);
    else
        set_deferred(c, handle, '*', pairs * 2);
}

void reply_set_deferred_set(cmd_ctx *c, size_t handle, long n)
{
    set_deferred(c, handle, c->resp >= 3 ? '~' : '*', n);
}
