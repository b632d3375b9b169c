/* Pub/Sub registry and delivery; see pubsub.h. */
#include "pubsub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "clock.h"
#include "glob.h"
#include "hashtab.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "worker.h"

#define CACHE_LINE 64
#define MS_PER_SEC 1000
#define NO_PATTERN UINT32_MAX
/* Recipients a publish lists without a heap allocation. */
#define RCPT_INLINE 32
/* Longest "$<len>\r\n" or "*<n>\r\n" header. */
#define RESP_HDR_MAX 32

/* ---- registry ------------------------------------------------------------------------------ *
 * Everything below up to "delivery" is guarded by reg_lock: written under the write lock by a
 * subscriber's thread, read under the read lock by publishers and introspection. The per-client
 * tables (pubsub_client.subs) belong to the client and are also changed only under the write
 * lock, because the subscriptions they point to are shared. */

/* Names a subscribed client for deliveries. Lives as long as the client's pub/sub state, and
 * after that until no message that lists it can still arrive. Touched by the client's worker
 * only, except w, which never changes. */
typedef struct sub_handle {
    client *cl; /* NULL once the client left or was RESET: messages on their way are dropped */
    worker *w;
    /* When the pending output first went over the soft limit; 0 when under it. */
    uint64_t soft_since_ms;
    int flush_idx; /* position in its worker's flush list, -1 when not in it */
} sub_handle;

struct sub_rec;

/* A channel, pattern or shard channel with at least one subscriber. */
typedef struct topic {
    struct sub_rec **v; /* its subscriptions */
    int n, cap;
    int pidx; /* patterns only: position in the pattern array */
    size_t len;
    char name[];
} topic;

/* One client's subscription to one topic. */
typedef struct sub_rec {
    sub_handle *h;
    topic *t;
    int idx; /* position in t->v */
} sub_rec;

/* A client's pub/sub state (client.pubsub). */
typedef struct pubsub_client {
    sub_handle *h;
    hashtab *subs[PUBSUB_KINDS]; /* name -> sub_rec *, per kind */
} pubsub_client;

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static hashtab *topics[PUBSUB_KINDS]; /* name -> topic * */
/* Patterns again as an array: a publish matches its channel against each of them. */
static topic **patterns;
static int npatterns, patterns_cap;
/* Topics per kind; read without the lock by publishers' fast path. */
static atomic_long ntopics[PUBSUB_KINDS];

/* Messages posted to each worker and not yet delivered (the UNSUBSCRIBE fence). A publisher
 * adds under the read lock, the worker subtracts after delivering. */
static struct {
    _Alignas(CACHE_LINE) atomic_long n;
} inflight[DFLY_MAX_THREADS];

static void *ht_ptr(const ht_elem *e)
{
    size_t len;
    void *p;
    memcpy(&p, ht_elem_val(e, &len), sizeof(p));
    return p;
}

static void *ht_find_ptr(const hashtab *h, const char *key, size_t len)
{
    const ht_elem *e = h ? ht_find(h, key, len) : NULL;
    return e ? ht_ptr(e) : NULL;
}

static void ht_put_ptr(hashtab **h, const char *key, size_t len, void *p)
{
    if (!*h)
        *h = ht_new(HT_VALUES, 0);
    ht_set(*h, key, len, (const char *)&p, sizeof(p));
}

static topic *topic_find(int kind, const char *name, size_t len)
{
    return ht_find_ptr(topics[kind], name, len);
}

static topic *topic_get(int kind, const char *name, size_t len)
{
    topic *t = topic_find(kind, name, len);
    if (t)
        return t;
    t = mem_malloc(sizeof(topic) + len + 1);
    memset(t, 0, sizeof(*t));
    t->len = len;
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    ht_put_ptr(&topics[kind], name, len, t);
    if (kind == PUBSUB_PATTERN) {
        if (npatterns == patterns_cap) {
            patterns_cap = patterns_cap ? patterns_cap * 2 : 16;
            patterns = mem_realloc(patterns, sizeof(topic *) * (size_t)patterns_cap);
        }
        t->pidx = npatterns;
        patterns[npatterns++] = t;
    }
    atomic_fetch_add(&ntopics[kind], 1);
    return t;
}

/* Frees t once its last subscriber left. */
static void topic_drop_if_empty(int kind, topic *t)
{
    if (t->n)
        return;
    ht_delete(topics[kind], t->name, t->len);
    if (kind == PUBSUB_PATTERN) {
        patterns[t->pidx] = patterns[--npatterns];
        patterns[t->pidx]->pidx = t->pidx;
    }
    atomic_fetch_sub(&ntopics[kind], 1);
    free(t->v);
    free(t);
}

static void topic_push(topic *t, sub_rec *r)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4;
        t->v = mem_realloc(t->v, sizeof(sub_rec *) * (size_t)t->cap);
    }
    r->t = t;
    r->idx = t->n;
    t->v[t->n++] = r;
}

static void topic_pull(sub_rec *r)
{
    topic *t = r->t;
    t->v[r->idx] = t->v[--t->n];
    t->v[r->idx]->idx = r->idx;
}

static pubsub_client *pc_of(const client *cl)
{
    return cl->pubsub;
}

static pubsub_client *pc_get(client *cl)
{
    if (!cl->pubsub) {
        pubsub_client *pc = mem_malloc(sizeof(*pc));
        memset(pc, 0, sizeof(*pc));
        pc->h = mem_malloc(sizeof(sub_handle));
        pc->h->cl = cl;
        pc->h->w = cl->owner;
        pc->h->soft_since_ms = 0;
        pc->h->flush_idx = -1;
        cl->pubsub = pc;
    }
    return cl->pubsub;
}

int pubsub_client_any(client *cl, int (*fn)(int kind, const char *name, size_t len, void *arg),
                      void *arg)
{
    pubsub_client *pc = cl->pubsub;
    if (!pc)
        return 0;
    /* Only this thread changes the client's own tables: reading them needs no lock. */
    for (int kind = 0; kind < PUBSUB_KINDS; kind++) {
        if (!pc->subs[kind])
            continue;
        ht_iter it;
        ht_iter_init(&it, pc->subs[kind]);
        for (const ht_elem *e; (e = ht_iter_next(&it));) {
            size_t len;
            const char *name = ht_elem_key(e, &len);
            if (fn(kind, name, len, arg))
                return 1;
        }
    }
    return 0;
}

int pubsub_count(const client *cl, int kind)
{
    const pubsub_client *pc = pc_of(cl);
    return pc && pc->subs[kind] ? (int)ht_count(pc->subs[kind]) : 0;
}

int pubsub_total(const client *cl)
{
    int n = 0;
    for (int k = 0; k < PUBSUB_KINDS; k++)
        n += pubsub_count(cl, k);
    return n;
}

void pubsub_settle(client *cl)
{
    if (pubsub_total(cl) == 0)
        cl->flags &= ~CLIENT_PUBSUB;
}

void pubsub_subscribe(client *cl, int kind, int n, const slice *names, pubsub_name_fn fn, void *arg)
{
    pubsub_client *pc = pc_get(cl);
    cl->flags |= CLIENT_PUBSUB;
    pthread_rwlock_wrlock(&reg_lock);
    for (int i = 0; i < n; i++) {
        const slice *s = &names[i];
        int added = 0;
        if (!ht_find_ptr(pc->subs[kind], s->p, s->len)) {
            sub_rec *r = mem_malloc(sizeof(*r));
            r->h = pc->h;
            topic_push(topic_get(kind, s->p, s->len), r);
            ht_put_ptr(&pc->subs[kind], s->p, s->len, r);
            added = 1;
        }
        fn(arg, s->p, s->len, added);
    }
    pthread_rwlock_unlock(&reg_lock);
}

/* Removes subscription r of cl (write lock held); tells fn before the topic may go. */
static void rec_remove(pubsub_client *pc, int kind, sub_rec *r, pubsub_name_fn fn, void *arg)
{
    topic *t = r->t;
    ht_delete(pc->subs[kind], t->name, t->len);
    topic_pull(r);
    free(r);
    if (fn)
        fn(arg, t->name, t->len, 1);
    topic_drop_if_empty(kind, t);
}

/* Every subscription of one kind of pc (write lock held). */
static void remove_kind(pubsub_client *pc, int kind, pubsub_name_fn fn, void *arg)
{
    hashtab *h = pc->subs[kind];
    size_t n = h ? ht_count(h) : 0;
    if (!n)
        return;
    /* Collect first: removing changes the table under an iterator. */
    sub_rec **all = mem_malloc(sizeof(sub_rec *) * n);
    size_t k = 0;
    ht_iter it;
    ht_iter_init(&it, h);
    for (const ht_elem *e; (e = ht_iter_next(&it)) && k < n;)
        all[k++] = ht_ptr(e);
    for (size_t i = 0; i < k; i++)
        rec_remove(pc, kind, all[i], fn, arg);
    free(all);
}

void pubsub_unsubscribe(client *cl, int kind, int n, const slice *names, pubsub_name_fn fn,
                        void *arg)
{
    pubsub_client *pc = pc_of(cl);
    pthread_rwlock_wrlock(&reg_lock);
    if (n == 0) {
        if (pc)
            remove_kind(pc, kind, fn, arg);
    } else {
        for (int i = 0; i < n; i++) {
            sub_rec *r = pc ? ht_find_ptr(pc->subs[kind], names[i].p, names[i].len) : NULL;
            if (r)
                rec_remove(pc, kind, r, fn, arg);
            else
                fn(arg, names[i].p, names[i].len, 0);
        }
    }
    pthread_rwlock_unlock(&reg_lock);
}

static void flush_forget(sub_handle *h);

static void handle_free(void *arg)
{
    free(arg);
}

int pubsub_after_deliveries(void (*fn)(void *arg), void *arg)
{
    worker *w = current_worker;
    if (!w || atomic_load(&inflight[w->id].n) == 0)
        return 0;
    worker_post(w, fn, arg);
    return 1;
}

void pubsub_unsubscribe_all(client *cl)
{
    pubsub_client *pc = pc_of(cl);
    cl->flags &= ~CLIENT_PUBSUB;
    if (!pc)
        return;
    pthread_rwlock_wrlock(&reg_lock);
    for (int k = 0; k < PUBSUB_KINDS; k++)
        remove_kind(pc, k, NULL, NULL);
    pthread_rwlock_unlock(&reg_lock);
    for (int k = 0; k < PUBSUB_KINDS; k++)
        if (pc->subs[k])
            ht_free(pc->subs[k]);
    /* Messages that listed the handle before the removal may still be on their way: the
     * handle outlives them, marked so that they are dropped. */
    sub_handle *h = pc->h;
    flush_forget(h);
    h->cl = NULL;
    if (h->w != current_worker || !pubsub_after_deliveries(handle_free, h))
        free(h);
    free(pc);
    cl->pubsub = NULL;
}

/* ---- client-output-buffer-limit ------------------------------------------------------------ */

enum { OBUF_NORMAL, OBUF_REPLICA, OBUF_PUBSUB, OBUF_CLASSES };
#define OBUF_FIELDS 4 /* class hard soft seconds */
#define OBUF_WORDS_MAX 64

typedef struct obuf_limit {
    long long hard, soft, soft_secs;
} obuf_limit;

static const char *const obuf_class_names[OBUF_CLASSES] = {"normal", "slave", "pubsub"};

static int obuf_class(const char *name)
{
    if (!strcasecmp(name, "normal"))
        return OBUF_NORMAL;
    if (!strcasecmp(name, "slave") || !strcasecmp(name, "replica"))
        return OBUF_REPLICA;
    if (!strcasecmp(name, "pubsub"))
        return OBUF_PUBSUB;
    return -1;
}

/* Parses Redis's "<class> <hard> <soft> <soft seconds>"... onto lim (classes not named keep
 * their values). Returns 0 or -1 with Redis's reason. */
static int obuf_parse(const char *text, obuf_limit lim[OBUF_CLASSES], char *err, size_t errlen)
{
    char copy[1024];
    if (strlen(text) >= sizeof(copy)) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    strcpy(copy, text);
    char *w[OBUF_WORDS_MAX];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == OBUF_WORDS_MAX) {
            snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
            return -1;
        }
        w[n++] = t;
    }
    if (n % OBUF_FIELDS) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    obuf_limit tmp[OBUF_CLASSES];
    memcpy(tmp, lim, sizeof(tmp));
    for (int i = 0; i < n; i += OBUF_FIELDS) {
        int cls = obuf_class(w[i]);
        if (cls < 0) {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        long long hard, soft;
        /* Redis reads the seconds with strtoll: trailing junk is ignored, a negative refused. */
        long long secs = strtoll(w[i + 3], NULL, 10);
        if (flags_parse_bytes(w[i + 1], &hard) || flags_parse_bytes(w[i + 2], &soft) || secs < 0) {
            snprintf(err, errlen,
                     "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        tmp[cls] = (obuf_limit){hard, soft, secs};
    }
    memcpy(lim, tmp, sizeof(tmp));
    return 0;
}

static void obuf_defaults(obuf_limit lim[OBUF_CLASSES])
{
    char err[1];
    memset(lim, 0, sizeof(obuf_limit) * OBUF_CLASSES);
    obuf_parse(OBUF_LIMIT_DEFAULT, lim, err, 0);
}

/* The current setting: parsed again on a thread whenever CONFIG SET replaced the string
 * (replaced strings are never freed, so the pointer identifies the value). */
static const obuf_limit *obuf_limits(void)
{
    static _Thread_local const char *seen;
    static _Thread_local int parsed;
    static _Thread_local obuf_limit lim[OBUF_CLASSES];
    const char *cur = server.cfg.client_output_buffer_limit;
    if (!parsed || cur != seen) {
        char err[1];
        obuf_defaults(lim);
        if (cur)
            obuf_parse(cur, lim, err, 0);
        seen = cur;
        parsed = 1;
    }
    return lim;
}

int pubsub_obuf_limit_check(const char *value, char *out, size_t outlen, char *err, size_t errlen)
{
    obuf_limit lim[OBUF_CLASSES];
    obuf_defaults(lim);
    char ignored[1];
    if (server.cfg.client_output_buffer_limit)
        obuf_parse(server.cfg.client_output_buffer_limit, lim, ignored, 0);
    if (obuf_parse(value, lim, err, errlen))
        return -1;
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < OBUF_CLASSES && len < outlen; i++)
        len += (size_t)snprintf(out + len, outlen - len, "%s%s %lld %lld %lld", i ? " " : "",
                                obuf_class_names[i], lim[i].hard, lim[i].soft, lim[i].soft_secs);
    return 0;
}

void pubsub_obuf_normal_limit(long long *hard, long long *soft, long long *soft_secs)
{
    const obuf_limit *l = &obuf_limits()[OBUF_NORMAL];
    *hard = l->hard;
    *soft = l->soft;
    *soft_secs = l->soft_secs;
}

/* Redis's checkClientOutputBufferLimits for the pubsub class: over the hard limit, or over the
 * soft limit continuously for more than the soft seconds. */
static int obuf_over_limit(client *cl, sub_handle *h)
{
    const obuf_limit *l = &obuf_limits()[OBUF_PUBSUB];
    unsigned long long used = cl->wbuf.len + cl->wout.len;
    if (l->hard && used >= (unsigned long long)l->hard)
        return 1;
    if (!l->soft || used < (unsigned long long)l->soft) {
        h->soft_since_ms = 0;
        return 0;
    }
    uint64_t now = clock_mono_ms();
    if (!h->soft_since_ms) {
        h->soft_since_ms = now ? now : 1;
        return 0;
    }
    return now - h->soft_since_ms > (uint64_t)l->soft_secs * MS_PER_SEC;
}

/* ---- delivery ------------------------------------------------------------------------------ */

/* A message as published: channel and payload, shared by the workers it is posted to. */
typedef struct payload {
    atomic_int refs;
    size_t chlen, len;
    char data[]; /* channel, then message */
} payload;

/* One subscription a message goes to. A pattern subscription carries the pattern (bytes in a
 * side arena) for its "pmessage". */
typedef struct rcpt {
    sub_handle *h;
    uint32_t pat_off, pat_len; /* pat_len NO_PATTERN: a channel subscription */
} rcpt;

/* A message for the subscribers of one worker. */
typedef struct delivery {
    msg m;
    payload *p;
    int kind;
    int n;
    int wid;
    char *pats; /* the pattern arena, after r[] */
    rcpt r[];
} delivery;

/* The recipients of one publish, collected under the read lock. */
typedef struct rcpt_list {
    rcpt *v;
    int n, cap;
    rcpt inline_v[RCPT_INLINE];
    buf pats;
} rcpt_list;

static void rl_add(rcpt_list *rl, sub_handle *h, uint32_t off, uint32_t len)
{
    if (rl->n == rl->cap) {
        int cap = rl->cap * 2;
        rcpt *v = mem_malloc(sizeof(rcpt) * (size_t)cap);
        memcpy(v, rl->v, sizeof(rcpt) * (size_t)rl->n);
        if (rl->v != rl->inline_v)
            free(rl->v);
        rl->v = v;
        rl->cap = cap;
    }
    rl->v[rl->n++] = (rcpt){h, off, len};
}

static void rl_free(rcpt_list *rl)
{
    if (rl->v != rl->inline_v)
        free(rl->v);
    buf_free(&rl->pats);
}

static void append_hdr(buf *b, char type, size_t n)
{
    char tmp[RESP_HDR_MAX];
    int l = snprintf(tmp, sizeof(tmp), "%c%zu\r\n", type, n);
    buf_append(b, tmp, (size_t)l);
}

static void append_bulk(buf *b, const char *p, size_t n)
{
    append_hdr(b, '$', n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

/* A message in RESP: ["message", ch, msg], ["pmessage", pat, ch, msg] or ["smessage", ch, msg],
 * as a push in RESP3. */
static void format_message(buf *b, int resp, int kind, const char *pat, size_t plen, const char *ch,
                           size_t chlen, const char *msg, size_t mlen)
{
    char agg = resp == 3 ? '>' : '*';
    if (kind == PUBSUB_SHARD) {
        append_hdr(b, agg, 3);
        append_bulk(b, "smessage", 8);
    } else if (pat) {
        append_hdr(b, agg, 4);
        append_bulk(b, "pmessage", 8);
        append_bulk(b, pat, plen);
    } else {
        append_hdr(b, agg, 3);
        append_bulk(b, "message", 7);
    }
    append_bulk(b, ch, chlen);
    append_bulk(b, msg, mlen);
}

/* Whether cl takes a message now. A RESP2 connection that is no longer in subscribed mode
 * must not: the message would read as the reply of its next command. */
static int accepts_message(const client *cl)
{
    if (!cl || cl->closing || (cl->flags & CLIENT_REPLY_OFF))
        return 0;
    return cl->resp != 2 || (cl->flags & CLIENT_PUBSUB);
}

/* ---- batched writes ------------------------------------------------------------------------
 * A subscriber may get thousands of messages per loop iteration. Rather than a write system
 * call for each, a worker remembers which of its subscribers got output and flushes each of
 * them once, in a prepare callback just before its loop polls for I/O again (Redis writes its
 * clients in beforeSleep for the same reason). */

typedef struct flush_list {
    uv_prepare_t prepare;
    int ready; /* prepare initialized on the worker's loop */
    sub_handle **v;
    int n, cap;
} flush_list;

static flush_list flush_lists[DFLY_MAX_THREADS];

static void flush_run(uv_prepare_t *p)
{
    flush_list *fl = p->data;
    /* client_flush may close a client, which only marks it: the list stays as it is. */
    for (int i = 0; i < fl->n; i++) {
        sub_handle *h = fl->v[i];
        h->flush_idx = -1;
        if (h->cl)
            client_flush(h->cl);
    }
    fl->n = 0;
    uv_prepare_stop(&fl->prepare);
}

/* Schedules a flush of h's client on its (the calling) worker. */
static void flush_later(sub_handle *h)
{
    if (h->flush_idx >= 0)
        return;
    flush_list *fl = &flush_lists[h->w->id];
    if (!fl->ready) {
        uv_prepare_init(&h->w->loop, &fl->prepare);
        fl->prepare.data = fl;
        fl->ready = 1;
    }
    if (fl->n == fl->cap) {
        fl->cap = fl->cap ? fl->cap * 2 : 16;
        fl->v = mem_realloc(fl->v, sizeof(sub_handle *) * (size_t)fl->cap);
    }
    if (fl->n == 0)
        uv_prepare_start(&fl->prepare, flush_run);
    h->flush_idx = fl->n;
    fl->v[fl->n++] = h;
}

/* h's client is going away: it must not be flushed (on its worker). */
static void flush_forget(sub_handle *h)
{
    if (h->flush_idx < 0)
        return;
    flush_list *fl = &flush_lists[h->w->id];
    fl->v[h->flush_idx] = fl->v[--fl->n];
    fl->v[h->flush_idx]->flush_idx = h->flush_idx;
    h->flush_idx = -1;
}

/* Appends one message to the subscriber behind h (on its worker) and enforces the output limit.
 * self is the client whose command publishes (its reply follows: no flush, no limit). */
static void deliver_one(sub_handle *h, int kind, const char *pat, size_t plen, const char *ch,
                        size_t chlen, const char *msg, size_t mlen, const client *self)
{
    client *cl = h->cl;
    if (!accepts_message(cl))
        return;
    format_message(&cl->wbuf, cl->resp, kind, pat, plen, ch, chlen, msg, mlen);
    if (cl == self)
        return;
    if (obuf_over_limit(cl, h)) {
        log_warning("closing subscriber id=%llu addr=%s: %zu bytes of output pending, over "
                    "client-output-buffer-limit pubsub",
                    (unsigned long long)cl->id, cl->addr, cl->wbuf.len + cl->wout.len);
        client_close(cl);
        return;
    }
    flush_later(h);
}

static void payload_unref(payload *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        free(p);
}

/* On the subscribers' worker. */
static void delivery_run(void *arg)
{
    delivery *d = arg;
    payload *p = d->p;
    for (int i = 0; i < d->n; i++) {
        const rcpt *r = &d->r[i];
        const char *pat = r->pat_len == NO_PATTERN ? NULL : d->pats + r->pat_off;
        deliver_one(r->h, d->kind, pat, pat ? r->pat_len : 0, p->data, p->chlen, p->data + p->chlen,
                    p->len, NULL);
    }
    atomic_fetch_sub(&inflight[d->wid].n, 1);
    payload_unref(p);
    free(d);
}

/* Whether recipient r is served inline by the publishing thread: it is one of this thread's
 * clients, nothing is on its way to this thread that the publisher may have sent earlier
 * (local_ok: a message it posted from another thread, or to itself, must arrive first), and it
 * is not the publisher itself in the middle of a reply that a message must not split (EXEC's
 * array, a script, a reply built elsewhere), which gets it by message after its reply. */
static int serve_inline(const rcpt *r, const cmd_ctx *c, int local_ok)
{
    if (!local_ok || r->h->w != current_worker)
        return 0;
    if (!c || !c->cl || r->h->cl != c->cl)
        return 1;
    return c->out == &c->cl->wbuf && !(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT));
}

/* Posts the message to the workers of the recipients not served inline (read lock held, so
 * that an UNSUBSCRIBE's fence comes after these messages). */
static void post_remote(rcpt_list *rl, const cmd_ctx *c, int local_ok, int kind, const char *ch,
                        size_t chlen, const char *msg, size_t mlen)
{
    int count[DFLY_MAX_THREADS] = {0};
    int targets = 0;
    for (int i = 0; i < rl->n; i++) {
        if (serve_inline(&rl->v[i], c, local_ok))
            continue;
        if (count[rl->v[i].h->w->id]++ == 0)
            targets++;
    }
    if (!targets)
        return;
    payload *p = mem_malloc(sizeof(payload) + chlen + mlen);
    atomic_init(&p->refs, targets);
    p->chlen = chlen;
    p->len = mlen;
    memcpy(p->data, ch, chlen);
    memcpy(p->data + chlen, msg, mlen);
    for (int w = 0; w < nworkers; w++) {
        if (!count[w])
            continue;
        delivery *d = mem_malloc(sizeof(delivery) + sizeof(rcpt) * (size_t)count[w] + rl->pats.len);
        d->p = p;
        d->kind = kind;
        d->n = 0;
        d->wid = w;
        d->pats = (char *)&d->r[count[w]];
        if (rl->pats.len)
            memcpy(d->pats, rl->pats.data, rl->pats.len);
        for (int i = 0; i < rl->n; i++)
            if (rl->v[i].h->w->id == w && !serve_inline(&rl->v[i], c, local_ok))
                d->r[d->n++] = rl->v[i];
        d->m.fn = delivery_run;
        d->m.arg = d;
        atomic_fetch_add(&inflight[w].n, 1);
        worker_post_msg(workers[w], &d->m);
    }
}

/* Lists the subscriptions channel ch reaches (read lock held). */
static void collect(rcpt_list *rl, int kind, const char *ch, size_t chlen)
{
    topic *t = topic_find(kind, ch, chlen);
    for (int i = 0; t && i < t->n; i++)
        rl_add(rl, t->v[i]->h, 0, NO_PATTERN);
    if (kind != PUBSUB_CHANNEL)
        return;
    for (int i = 0; i < npatterns; i++) {
        topic *pt = patterns[i];
        if (!glob_match(pt->name, pt->len, ch, chlen, 0))
            continue;
        uint32_t off = (uint32_t)rl->pats.len;
        buf_append(&rl->pats, pt->name, pt->len);
        for (int j = 0; j < pt->n; j++)
            rl_add(rl, pt->v[j]->h, off, (uint32_t)pt->len);
    }
}

int pubsub_idle(void)
{
    return atomic_load_explicit(&ntopics[PUBSUB_CHANNEL], memory_order_relaxed) == 0 &&
           atomic_load_explicit(&ntopics[PUBSUB_PATTERN], memory_order_relaxed) == 0;
}

long pubsub_publish(cmd_ctx *c, int kind, const char *ch, size_t chlen, const char *msg,
                    size_t mlen)
{
    if (kind == PUBSUB_SHARD
            ? atomic_load_explicit(&ntopics[PUBSUB_SHARD], memory_order_relaxed) == 0
            : pubsub_idle())
        return 0;
    rcpt_list rl = {.n = 0, .cap = RCPT_INLINE};
    rl.v = rl.inline_v;
    buf_init(&rl.pats);
    worker *self_w = current_worker;
    pthread_rwlock_rdlock(&reg_lock);
    collect(&rl, kind, ch, chlen);
    int local_ok = self_w && atomic_load(&inflight[self_w->id].n) == 0;
    post_remote(&rl, c, local_ok, kind, ch, chlen, msg, mlen);
    /* Only the recipients served here stay listed, chosen while the lock is held: another
     * thread's handle may be freed by its thread as soon as the lock is released, so it must
     * not even be looked at after that. */
    long n = rl.n;
    int kept = 0;
    for (int i = 0; i < rl.n; i++)
        if (serve_inline(&rl.v[i], c, local_ok))
            rl.v[kept++] = rl.v[i];
    rl.n = kept;
    pthread_rwlock_unlock(&reg_lock);
    /* This thread's own subscribers: their handles can only go away on this thread, and the
     * patterns were copied, so the lock is no longer needed. */
    const client *self = c ? c->cl : NULL;
    for (int i = 0; i < rl.n; i++) {
        const rcpt *r = &rl.v[i];
        const char *pat = r->pat_len == NO_PATTERN ? NULL : rl.pats.data + r->pat_off;
        deliver_one(r->h, kind, pat, pat ? r->pat_len : 0, ch, chlen, msg, mlen, self);
    }
    rl_free(&rl);
    return n;
}

/* ---- introspection ------------------------------------------------------------------------- */

void pubsub_list(int kind, const char *pat, size_t plen,
                 void (*fn)(void *arg, const char *name, size_t len), void *arg)
{
    pthread_rwlock_rdlock(&reg_lock);
    if (topics[kind]) {
        ht_iter it;
        ht_iter_init(&it, topics[kind]);
        for (const ht_elem *e; (e = ht_iter_next(&it));) {
            const topic *t = ht_ptr(e);
            if (!pat || glob_match(pat, plen, t->name, t->len, 0))
                fn(arg, t->name, t->len);
        }
    }
    pthread_rwlock_unlock(&reg_lock);
}

long pubsub_numsub(int kind, const char *ch, size_t len)
{
    pthread_rwlock_rdlock(&reg_lock);
    const topic *t = topic_find(kind, ch, len);
    long n = t ? t->n : 0;
    pthread_rwlock_unlock(&reg_lock);
    return n;
}

long pubsub_topics(int kind)
{
    return atomic_load(&ntopics[kind]);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Redis's list of what a RESP2 subscriber may still run. */
static int allowed_in_subscribed_mode(const command *cmd)
{
    static const char *const names[] = {"subscribe",    "unsubscribe", "psubscribe",
                                        "punsubscribe", "ssubscribe",  "sunsubscribe",
                                        "ping",         "quit",        "reset"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(cmd->name, names[i]))
            return 1;
    return 0;
}

int pubsub_refuse(client *cl, const command *cmd, cmd_ctx *c)
{
    if (!(cl->flags & CLIENT_PUBSUB) || cl->resp != 2)
        return 0;
    const command *top = cmd->parent ? cmd->parent : cmd;
    if (!strcmp(top->name, "ping") && c->argc <= 2) {
        /* In subscribed mode PING answers in the shape of a message (Redis's pingCommand). */
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc > 1)
            reply_bulk(c, c->argv[1].p, c->argv[1].len);
        else
            reply_bulk(c, "", 0);
        return 1;
    }
    if (allowed_in_subscribed_mode(top))
        return 0;
    char name[128];
    command_fullname(cmd, cmd->parent, name, sizeof(name));
    reply_errorf(c,
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 name);
    counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
    return 1;
}
