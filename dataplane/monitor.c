/* MONITOR feeds; see monitor.h. */
#include "monitor.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "clock.h"
#include "server.h"
#include "worker.h"

#define MONITOR_REDACTED "(redacted)"
#define USEC_PER_SEC 1000000

/* A worker's monitoring clients. Only that worker's thread touches v; count is read by every
 * thread that feeds, to know where to post. */
typedef struct monitor_set {
    client **v;
    int n, cap;
    atomic_int count;
} monitor_set;

static monitor_set monitors[DFLY_MAX_THREADS];
/* Monitors over all workers: the feed's fast path when nobody watches. */
static atomic_int monitor_total;

/* One formatted line shared by the workers it is posted to; the last one frees it. */
typedef struct monitor_line {
    atomic_int refs;
    size_t len;
    char data[];
} monitor_line;

void monitor_add(client *cl)
{
    monitor_set *m = &monitors[cl->owner->id];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->v = mem_realloc(m->v, sizeof(client *) * (size_t)m->cap);
    }
    m->v[m->n++] = cl;
    cl->flags |= CLIENT_MONITOR;
    atomic_fetch_add(&m->count, 1);
    atomic_fetch_add(&monitor_total, 1);
}

void monitor_remove(client *cl)
{
    if (!(cl->flags & CLIENT_MONITOR))
        return;
    cl->flags &= ~CLIENT_MONITOR;
    monitor_set *m = &monitors[cl->owner->id];
    for (int i = 0; i < m->n; i++) {
        if (m->v[i] != cl)
            continue;
        memmove(&m->v[i], &m->v[i + 1], sizeof(client *) * (size_t)(m->n - i - 1));
        m->n--;
        atomic_fetch_sub(&m->count, 1);
        atomic_fetch_sub(&monitor_total, 1);
        break;
    }
    if (m->n == 0) {
        free(m->v);
        m->v = NULL;
        m->cap = 0;
    }
}

/* Redis's sdscatrepr: a double-quoted string with C escapes for what is not printable. */
static void append_repr(buf *out, const char *p, size_t len)
{
    buf_append_char(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': buf_append(out, "\\\\", 2); break;
        case '"': buf_append(out, "\\\"", 2); break;
        case '\n': buf_append(out, "\\n", 2); break;
        case '\r': buf_append(out, "\\r", 2); break;
        case '\t': buf_append(out, "\\t", 2); break;
        case '\a': buf_append(out, "\\a", 2); break;
        case '\b': buf_append(out, "\\b", 2); break;
        default:
            if (isprint(ch))
                buf_append_char(out, (char)ch);
            else
                buf_printf(out, "\\x%02x", ch);
            break;
        }
    }
    buf_append_char(out, '"');
}

void monitor_format(buf *out, int64_t now_us, int dbid, const char *who, int argc,
                    const slice *argv)
{
    buf_printf(out, "+%lld.%06lld [%d %s]", (long long)(now_us / USEC_PER_SEC),
               (long long)(now_us % USEC_PER_SEC), dbid, who);
    for (int i = 0; i < argc; i++) {
        buf_append_char(out, ' ');
        if (acl_arg_redacted(argc, argv, i)) /* Redis hides secrets from monitors */
            append_repr(out, MONITOR_REDACTED, strlen(MONITOR_REDACTED));
        else
            append_repr(out, argv[i].p, argv[i].len);
    }
    buf_append(out, "\r\n", 2);
}

static void line_unref(monitor_line *l)
{
    if (atomic_fetch_sub(&l->refs, 1) == 1)
        free(l);
}

/* On a worker's thread: hand the line to each of its monitors. A client that switched its
 * replies off does not get monitor output either, as in Redis. */
static void monitor_deliver(void *arg)
{
    monitor_line *l = arg;
    monitor_set *m = &monitors[current_worker->id];
    for (int i = 0; i < m->n; i++) {
        client *cl = m->v[i];
        if (cl->closing || (cl->flags & CLIENT_REPLY_OFF))
            continue;
        buf_append(&cl->wbuf, l->data, l->len);
    }
    /* Flush after the loop, backwards: a flush may close its client, which removes that client
     * (and only it) from m->v. */
    for (int i = m->n - 1; i >= 0; i--)
        client_flush(m->v[i]);
    line_unref(l);
}

void monitor_feed(const cmd_ctx *c)
{
    if (atomic_load_explicit(&monitor_total, memory_order_relaxed) == 0)
        return;
    if (c->cmd->flags & (CMD_ADMIN | CMD_SKIP_MONITOR))
        return;
    const char *who;
    if (c->flags & CTX_IN_SCRIPT)
        who = "lua";
    else if (c->cl)
        who = c->cl->addr; /* set at accept, never written again: safe from any thread */
    else
        return; /* internal calls are not client commands */
    buf line;
    buf_init(&line);
    monitor_format(&line, clock_wall_us(), c->dbid, who, c->argc, c->argv);

    int targets = 0;
    for (int i = 0; i < nworkers; i++)
        if (atomic_load_explicit(&monitors[i].count, memory_order_relaxed) > 0)
            targets++;
    if (targets == 0) {
        buf_free(&line);
        return;
    }
    monitor_line *l = mem_malloc(sizeof(monitor_line) + line.len);
    atomic_init(&l->refs, targets);
    l->len = line.len;
    memcpy(l->data, line.data, line.len);
    buf_free(&line);
    /* The count may change between the two loops; exactly `targets` posts keep refs right. */
    for (int i = 0; i < nworkers && targets > 0; i++) {
        if (atomic_load_explicit(&monitors[i].count, memory_order_relaxed) > 0) {
            worker_post(workers[i], monitor_deliver, l);
            targets--;
        }
    }
    while (targets-- > 0) /* a worker's last monitor left meanwhile */
        line_unref(l);
}
