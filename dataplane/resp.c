/* RESP request parser; see resp.h. The error texts are Redis's (networking.c), which clients
 * and their test suites match on. */
#include "resp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "object.h"

#define RESP_ARGV_INITIAL 8
#define RESP_INLINE_ARGS_FIRST 1024 /* room for inline arguments before growing */

void resp_parser_init(resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->bulk_len = -1;
}

void resp_parser_free(resp_parser *p)
{
    free(p->arg_off);
    p->arg_off = NULL;
    p->argv_cap = 0;
}

void resp_parser_next(resp_parser *p)
{
    p->start = p->pos;
    p->type = 0;
    p->argc = 0;
    p->multibulk_left = 0;
    p->bulk_len = -1;
}

void resp_parser_rewind(resp_parser *p)
{
    p->pos = p->start;
    p->type = 0;
    p->argc = 0;
    p->multibulk_left = 0;
    p->bulk_len = -1;
}

static void argv_reserve(resp_parser *p, long n)
{
    if (n <= p->argv_cap)
        return;
    int cap = p->argv_cap ? p->argv_cap : RESP_ARGV_INITIAL;
    while (cap < n)
        cap *= 2;
    p->arg_off = mem_realloc(p->arg_off, sizeof(size_t) * 2 * (size_t)cap);
    p->argv_cap = cap;
}

/* Parses a decimal number terminated by \r\n starting at s (after the type byte). Returns the
 * position after \r\n, or NULL when the line is not complete yet; *bad set on garbage. The
 * number follows Redis's string2ll: no sign but '-', no leading zeros, no "-0", no overflow. */
static const char *parse_len_line(const char *s, const char *end, long long *out, int *bad)
{
    const char *nl = memchr(s, '\r', (size_t)(end - s));
    if (!nl || nl + 1 >= end)
        return NULL;
    *bad = !str_to_ll(s, (size_t)(nl - s), out);
    return nl + 2;
}

int resp_split_inline(const char *line, size_t len, buf *out, size_t *offs, int max)
{
    const char *p = line, *end = line + len;
    int argc = 0;
    buf_clear(out);
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p >= end)
            return argc;
        if (argc == max)
            return -2;
        size_t start = out->len;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            if (inq) {
                if (p >= end)
                    return -1;
                if (*p == '\\' && p + 3 < end && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
                    isxdigit((unsigned char)p[3])) {
                    char hex[3] = {p[2], p[3], 0};
                    buf_append_char(out, (char)strtol(hex, NULL, 16));
                    p += 3;
                } else if (*p == '\\' && p + 1 < end) {
                    p++;
                    char c;
                    switch (*p) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = *p; break;
                    }
                    buf_append_char(out, c);
                } else if (*p == '"') {
                    /* the closing quote must be followed by a space or the end */
                    if (p + 1 < end && !isspace((unsigned char)p[1]))
                        return -1;
                    done = 1;
                } else {
                    buf_append_char(out, *p);
                }
            } else if (insq) {
                if (p >= end)
                    return -1;
                if (*p == '\\' && p + 1 < end && p[1] == '\'') {
                    p++;
                    buf_append_char(out, '\'');
                } else if (*p == '\'') {
                    if (p + 1 < end && !isspace((unsigned char)p[1]))
                        return -1;
                    done = 1;
                } else {
                    buf_append_char(out, *p);
                }
            } else {
                if (p >= end) {
                    done = 1;
                    break;
                }
                switch (*p) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0': done = 1; break;
                case '"': inq = 1; break;
                case '\'': insq = 1; break;
                default: buf_append_char(out, *p); break;
                }
            }
            if (p < end)
                p++;
        }
        offs[2 * argc] = start;
        offs[2 * argc + 1] = out->len - start;
        argc++;
    }
}

static int parse_inline(resp_parser *p, const char *data, size_t len, const resp_limits *lim,
                        buf *inline_args, const char **err)
{
    const char *start = data + p->pos;
    const char *nl = memchr(start, '\n', len - p->pos);
    if (!nl) {
        if (len - p->pos > lim->max_inline) {
            *err = "ERR Protocol error: too big inline request";
            return RESP_ERROR;
        }
        return RESP_INCOMPLETE;
    }
    size_t linelen = (size_t)(nl - start);
    if (linelen > lim->max_inline) {
        *err = "ERR Protocol error: too big inline request";
        return RESP_ERROR;
    }
    if (linelen && start[linelen - 1] == '\r')
        linelen--;
    /* Room for the usual few arguments first; a line with more is split again with more room
     * (a line of n bytes has at most n/2 + 1 arguments, so this ends). */
    int max = p->argv_cap > RESP_INLINE_ARGS_FIRST ? p->argv_cap : RESP_INLINE_ARGS_FIRST;
    int argc;
    for (;;) {
        argv_reserve(p, max);
        argc = resp_split_inline(start, linelen, inline_args, p->arg_off, max);
        if (argc != -2)
            break;
        max *= 2;
    }
    if (argc < 0) {
        *err = "ERR Protocol error: unbalanced quotes in request";
        return RESP_ERROR;
    }
    p->argc = argc;
    p->pos = (size_t)(nl - data) + 1;
    return RESP_OK;
}

int resp_parse(resp_parser *p, const char *data, size_t len, const resp_limits *lim,
               buf *inline_args, const char **err)
{
    if (p->pos >= len)
        return RESP_INCOMPLETE;
    if (p->type == 0)
        p->type = data[p->pos] == '*' ? 1 : 2;
    if (p->type == 2)
        return parse_inline(p, data, len, lim, inline_args, err);

    const char *end = data + len;
    if (p->multibulk_left == 0 && p->argc == 0) {
        long long n;
        int bad;
        const char *after = parse_len_line(data + p->pos + 1, end, &n, &bad);
        if (!after) {
            if (len - p->pos > (size_t)lim->max_inline) {
                *err = "ERR Protocol error: too big mbulk count string";
                return RESP_ERROR;
            }
            return RESP_INCOMPLETE;
        }
        if (bad || n > lim->max_multibulk) {
            *err = "ERR Protocol error: invalid multibulk length";
            return RESP_ERROR;
        }
        p->pos = (size_t)(after - data);
        if (n <= 0) {
            p->argc = 0;
            return RESP_OK; /* *0 and *-1 are empty requests */
        }
        p->multibulk_left = (long)n;
        /* Do not trust a huge count before the arguments arrive. */
        argv_reserve(p, n < 1024 ? (long)n : 1024);
    }
    while (p->multibulk_left > 0) {
        if (p->bulk_len < 0) {
            if (p->pos >= len)
                return RESP_INCOMPLETE;
            if (data[p->pos] != '$') {
                static _Thread_local char msg[64];
                unsigned char ch = (unsigned char)data[p->pos];
                snprintf(msg, sizeof(msg), "ERR Protocol error: expected '$', got '%c'",
                         isprint(ch) ? ch : '?');
                *err = msg;
                return RESP_ERROR;
            }
            long long n;
            int bad;
            const char *after = parse_len_line(data + p->pos + 1, end, &n, &bad);
            if (!after) {
                if (len - p->pos > (size_t)lim->max_inline) {
                    *err = "ERR Protocol error: too big bulk count string";
                    return RESP_ERROR;
                }
                return RESP_INCOMPLETE;
            }
            if (bad || n < 0 || n > lim->max_bulk_len) {
                *err = "ERR Protocol error: invalid bulk length";
                return RESP_ERROR;
            }
            p->pos = (size_t)(after - data);
            p->bulk_len = (long)n;
        }
        if (len - p->pos < (size_t)p->bulk_len + 2)
            return RESP_INCOMPLETE;
        argv_reserve(p, p->argc + 1);
        p->arg_off[2 * p->argc] = p->pos;
        p->arg_off[2 * p->argc + 1] = (size_t)p->bulk_len;
        p->argc++;
        p->pos += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->multibulk_left--;
    }
    return RESP_OK;
}

size_t resp_pending_bulk(const resp_parser *p, size_t len)
{
    if (p->type != 1 || p->bulk_len < 0)
        return 0;
    size_t need = p->pos + (size_t)p->bulk_len + 2;
    return need > len ? need : 0;
}
