/* Blocking commands: see blocking.h.
 *
 * A blocked client is a `blocked` record shared by three parties: the client's thread (which owns
 * the timeout timer and delivers the reply), the shards of its keys (which keep it in a FIFO per
 * key) and whoever serves it. Its state moves WAITING -> SERVING -> DONE (or back to WAITING
 * when the serving found nothing), and WAITING -> DONE on timeout or disconnect; every transition
 * is a compare-and-swap, so exactly one party completes the client. Shards never unregister a
 * record on the client's behalf from another thread: a DONE record is dropped by the shard when it
 * meets it, or by the shard's timer (block_shard_sweep), like WATCH registrations.
 *
 * Serving happens on the thread that holds the ready key's shard, right after the command that
 * made the key ready (after the whole EXEC for a transaction), in the order clients blocked. A
 * command whose serving needs a key on another shard (BLMOVE to a destination elsewhere) is not
 * served in place: its client's thread runs it again as an ordinary command. */
#include "blocking.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "busy.h"
#include "client.h"
#include "db.h"
#include "clock.h"
#include "dispatch.h"
#include "reply.h"
#include "server.h"
#include "table.h"
#include "worker.h"

enum { BLK_WAITING = 0, BLK_SERVING, BLK_DONE };

#define BLOCK_TABLE_MIN 16
#define BLOCK_RETRY_MS 1 /* a timeout that met a serving in progress looks again this soon */
#define BLOCK_READY_MAX                                                                            \
    4096 /* ready keys a thread collects before serving (more are dropped                          \
             for this round and picked up by the next write) */

typedef struct blocked_key {
    char *key;
    size_t len;
    int shard;
} blocked_key;

typedef struct blocked {
    _Atomic int state;
    _Atomic int refs;
    client *cl;
    worker *owner;
    int dbid;
    int null_reply;
    int64_t timeout_ms;
    uv_timer_t timer;
    int timer_started;
    buf reply; /* written by the server, read by the owner after the completion message */
    int retry; /* completion asks the owner to run the command again */
    /* Arguments rewritten by block_set_arg, freed with the record. */
    struct block_arg *args;
    int nkeys;
    blocked_key keys[];
} blocked;

/* A shard's registrations: (db, key) -> FIFO of blocked clients. */
typedef struct block_entry {
    struct block_entry *next;
    int dbid;
    size_t len;
    int n, cap;
    blocked **w;
    char key[];
} block_entry;

typedef struct block_table {
    block_entry **b;
    size_t size;
    size_t count;
} block_table;

/* Keys made ready by the command running on this thread, served when it finishes. */
typedef struct ready_key {
    shard *s;
    int dbid;
    size_t len;
    char *key;
} ready_key;

static _Thread_local ready_key *ready;
static _Thread_local int nready, ready_cap;
static _Thread_local int serving_now;

/* An argument rewritten by block_set_arg; freed with the record. */
typedef struct block_arg {
    struct block_arg *next;
    char data[];
} block_arg;

static void blocked_unref(blocked *b)
{
    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    for (block_arg *a = b->args, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    for (int i = 0; i < b->nkeys; i++)
        free(b->keys[i].key);
    buf_free(&b->reply);
    free(b);
}

/* ---- the per-shard table ----------------------------------------------------------------- */

static uint64_t bt_hash(int dbid, const char *key, size_t len)
{
    return table_hash(key, len) + (uint64_t)dbid * 0x9e3779b97f4a7c15ull;
}

static block_entry **bt_find(block_table *t, int dbid, const char *key, size_t len)
{
    block_entry **ref = &t->b[bt_hash(dbid, key, len) & (t->size - 1)];
    while (*ref && !((*ref)->dbid == dbid && (*ref)->len == len && !memcmp((*ref)->key, key, len)))
        ref = &(*ref)->next;
    return *ref ? ref : NULL;
}

static void bt_grow(block_table *t)
{
    size_t nsize = t->size * 2;
    block_entry **nb = mem_calloc(nsize, sizeof(*nb));
    for (size_t i = 0; i < t->size; i++)
        for (block_entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            size_t idx = bt_hash(e->dbid, e->key, e->len) & (nsize - 1);
            e->next = nb[idx];
            nb[idx] = e;
        }
    free(t->b);
    t->b = nb;
    t->size = nsize;
}

static void bt_add(shard *s, int dbid, const char *key, size_t len, blocked *b)
{
    if (!s->blocking) {
        s->blocking = mem_calloc(1, sizeof(block_table));
        s->blocking->size = BLOCK_TABLE_MIN;
        s->blocking->b = mem_calloc(BLOCK_TABLE_MIN, sizeof(block_entry *));
    }
    block_table *t = s->blocking;
    block_entry **ref = bt_find(t, dbid, key, len);
    block_entry *e;
    if (ref) {
        e = *ref;
    } else {
        if (t->count >= t->size)
            bt_grow(t);
        e = mem_calloc(1, sizeof(block_entry) + len);
        e->dbid = dbid;
        e->len = len;
        memcpy(e->key, key, len);
        size_t idx = bt_hash(dbid, key, len) & (t->size - 1);
        e->next = t->b[idx];
        t->b[idx] = e;
        t->count++;
    }
    for (int i = 0; i < e->n; i++)
        if (e->w[i] == b)
            return; /* the same key twice in one command */
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->w = mem_realloc(e->w, sizeof(blocked *) * (size_t)e->cap);
    }
    atomic_fetch_add(&b->refs, 1);
    e->w[e->n++] = b;
}

/* Drops finished records from e; frees e (unlinking it at ref) when nobody waits. Returns 1 when
 * e was freed. */
static int bt_compact(block_table *t, block_entry **ref)
{
    block_entry *e = *ref;
    int k = 0;
    for (int i = 0; i < e->n; i++) {
        if (atomic_load(&e->w[i]->state) == BLK_DONE)
            blocked_unref(e->w[i]);
        else
            e->w[k++] = e->w[i];
    }
    e->n = k;
    if (k)
        return 0;
    *ref = e->next;
    free(e->w);
    free(e);
    t->count--;
    return 1;
}

void block_shard_sweep(shard *s)
{
    block_table *t = s->blocking;
    if (!t || !t->count)
        return;
    for (size_t i = 0; i < t->size; i++) {
        block_entry **ref = &t->b[i];
        while (*ref)
            if (!bt_compact(t, ref))
                ref = &(*ref)->next;
    }
}

void block_shard_free(shard *s)
{
    block_table *t = s->blocking;
    if (!t)
        return;
    for (size_t i = 0; i < t->size; i++)
        for (block_entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            for (int k = 0; k < e->n; k++)
                blocked_unref(e->w[k]);
            free(e->w);
            free(e);
        }
    free(t->b);
    free(t);
    s->blocking = NULL;
}

/* ---- blocking ---------------------------------------------------------------------------- */

int block_allowed(const cmd_ctx *c)
{
    return c->cl && !(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT | CTX_UNBLOCKED));
}

int block_timeout_or_reply(cmd_ctx *c, const slice *a, int64_t *timeout_ms)
{
    long double secs;
    if (!str_to_long_double(a->p, a->len, &secs) || !isfinite(secs)) {
        reply_error(c, "ERR timeout is not a float or out of range");
        return -1;
    }
    if (secs < 0) {
        reply_error(c, "ERR timeout is negative");
        return -1;
    }
    long double ms = secs * 1000.0L;
    if (ms > (long double)(INT64_MAX / 2)) {
        reply_error(c, "ERR timeout is out of range");
        return -1;
    }
    *timeout_ms = ms > 0 ? c->now_ms + (int64_t)ceill(ms) : 0;
    return 0;
}

void block_on_keys(cmd_ctx *c, const int *keyidx, int nkeys, int64_t timeout_ms, int null_reply)
{
    blocked *b = mem_calloc(1, sizeof(blocked) + sizeof(blocked_key) * (size_t)nkeys);
    atomic_init(&b->state, BLK_WAITING);
    atomic_init(&b->refs, 1); /* the client's */
    b->cl = c->cl;
    b->owner = c->cl->owner;
    b->dbid = c->dbid;
    b->null_reply = null_reply;
    b->timeout_ms = timeout_ms;
    b->nkeys = nkeys;
    for (int i = 0; i < nkeys; i++) {
        const slice *k = &c->argv[keyidx[i]];
        b->keys[i].key = mem_malloc(k->len + 1);
        memcpy(b->keys[i].key, k->p, k->len);
        b->keys[i].key[k->len] = '\0';
        b->keys[i].len = k->len;
        b->keys[i].shard = key_shard(k->p, k->len);
        bt_add(shards[b->keys[i].shard], c->dbid, k->p, k->len, b);
    }
    /* The client is waiting for this command (its thread does not touch it), so the record can
     * be handed over here even when this runs on another thread. */
    c->cl->blocked = b;
    c->blocked = 1;
}

void block_set_arg(cmd_ctx *c, int idx, const char *p, size_t len)
{
    blocked *b = c->cl->blocked;
    block_arg *a = mem_malloc(sizeof(block_arg) + len + 1);
    memcpy(a->data, p, len);
    a->data[len] = '\0';
    a->next = b->args;
    b->args = a;
    c->argv[idx].p = a->data;
    c->argv[idx].len = len;
}

void block_keep_waiting(cmd_ctx *c)
{
    c->blocked = 1;
}

void block_signal_key(cmd_ctx *c, const char *key, size_t len)
{
    shard *s = ctx_shard(c, key, len);
    block_table *t = s->blocking;
    if (!t || !t->count)
        return;
    block_entry **ref = bt_find(t, c->dbid, key, len);
    if (!ref || bt_compact(t, ref))
        return;
    for (int i = 0; i < nready; i++)
        if (ready[i].s == s && ready[i].dbid == c->dbid && ready[i].len == len &&
            !memcmp(ready[i].key, key, len))
            return;
    if (nready == BLOCK_READY_MAX)
        return;
    if (nready == ready_cap) {
        ready_cap = ready_cap ? ready_cap * 2 : 16;
        ready = mem_realloc(ready, sizeof(ready_key) * (size_t)ready_cap);
    }
    ready_key *r = &ready[nready++];
    r->s = s;
    r->dbid = c->dbid;
    r->len = len;
    r->key = mem_malloc(len ? len : 1);
    memcpy(r->key, key, len);
}

/* ---- completion on the client's thread ----------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
    blocked_unref(h->data);
}

/* Ends the wait: the client continues with its next request (or is freed if it went away). */
static void finish(blocked *b)
{
    client *cl = b->cl;
    cl->blocked = NULL;
    cl->flags &= ~CLIENT_BLOCKED;
    counter_add(&b->owner->stats.blocked, (uint64_t)-1);
    if (b->timer_started) {
        uv_timer_stop(&b->timer);
        atomic_fetch_add(&b->refs, 1);
        uv_close((uv_handle_t *)&b->timer, timer_closed);
    }
    blocked_unref(b); /* the client's */
    client_command_done(cl);
}

static void served_msg(void *arg)
{
    blocked *b = arg;
    client *cl = b->cl;
    if (b->retry) {
        /* Serving needed shards that were not held: run the command again from here. */
        b->retry = 0;
        if (!cl->closing) {
            cl->blocked = NULL;
            cl->flags &= ~CLIENT_BLOCKED;
            counter_add(&b->owner->stats.blocked, (uint64_t)-1);
            if (b->timer_started) {
                uv_timer_stop(&b->timer);
                atomic_fetch_add(&b->refs, 1);
                uv_close((uv_handle_t *)&b->timer, timer_closed);
            }
            blocked_unref(b);
            dispatch_rerun_blocked(cl);
            return;
        }
        finish(b);
        return;
    }
    if (!cl->closing)
        buf_append(&cl->wbuf, b->reply.data, b->reply.len);
    finish(b);
}

static void on_timeout(uv_timer_t *t)
{
    blocked *b = t->data;
    int expect = BLK_WAITING;
    if (!atomic_compare_exchange_strong(&b->state, &expect, BLK_DONE)) {
        if (expect == BLK_SERVING)
            uv_timer_start(&b->timer, on_timeout, BLOCK_RETRY_MS, 0);
        return; /* DONE: the completion message is on its way */
    }
    cmd_ctx c = {.cl = b->cl, .resp = b->cl->resp, .out = &b->cl->wbuf};
    if (b->null_reply == BLOCK_NULL)
        reply_null(&c);
    else
        reply_null_array(&c);
    finish(b);
}

void block_start_wait(client *cl)
{
    blocked *b = cl->blocked;
    cl->flags |= CLIENT_BLOCKED;
    counter_add(&cl->owner->stats.blocked, 1);
    client_flush(cl); /* earlier replies of a pipeline must not wait with it */
    cl->reply_mark = cl->wbuf.len;
    if (b->timeout_ms > 0) {
        uv_timer_init(&cl->owner->loop, &b->timer);
        b->timer.data = b;
        b->timer_started = 1;
        int64_t left = b->timeout_ms - clock_wall_ms();
        uv_timer_start(&b->timer, on_timeout, left > 0 ? (uint64_t)left : 0, 0);
    }
}

void block_cancel(client *cl)
{
    blocked *b = cl->blocked;
    if (!b)
        return;
    int expect = BLK_WAITING;
    if (atomic_compare_exchange_strong(&b->state, &expect, BLK_DONE))
        finish(b);
    /* else a server owns it and its completion message will finish the client */
}

int block_unblock(client *cl, int with_error)
{
    blocked *b = cl->blocked;
    if (!b)
        return 0;
    int expect = BLK_WAITING;
    if (!atomic_compare_exchange_strong(&b->state, &expect, BLK_DONE))
        return 0;
    cmd_ctx c = {.cl = cl, .resp = cl->resp, .out = &cl->wbuf};
    if (with_error)
        reply_error(&c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else if (b->null_reply == BLOCK_NULL)
        reply_null(&c);
    else
        reply_null_array(&c);
    finish(b);
    return 1;
}

/* ---- serving ----------------------------------------------------------------------------- */

/* 1 when serving b needs only shard s (every key it may touch in serving mode is there). */
static int serves_in_place(const blocked *b, const command *cmd, const shard *s)
{
    if (strcmp(cmd->name, "blmove") && strcmp(cmd->name, "brpoplpush"))
        return 1; /* the others touch only the ready key while serving */
    for (int i = 0; i < b->nkeys; i++)
        if (b->keys[i].shard != s->id)
            return 0;
    return 1;
}

/* 1 when cmd reads a key without taking from it (XREAD, XREADGROUP): each waiter looks past
 * its own ID or its own group's, so one that found nothing says nothing about the next. */
static int serves_independently(const command *cmd)
{
    return !strcmp(cmd->name, "xread") || !strcmp(cmd->name, "xreadgroup");
}

/* Offers the ready key to its waiters, first blocked first. */
static void serve_key(ready_key *r)
{
    block_table *t = r->s->blocking;
    if (!t)
        return;
    block_entry **ref = bt_find(t, r->dbid, r->key, r->len);
    if (!ref)
        return;
    block_entry *e = *ref;
    for (int i = 0; i < e->n; i++) {
        blocked *b = e->w[i];
        int expect = BLK_WAITING;
        if (!atomic_compare_exchange_strong(&b->state, &expect, BLK_SERVING))
            continue;
        client *cl = b->cl;
        const command *cmd = cl->ctx.cmd;
        if (!serves_in_place(b, cmd, r->s)) {
            b->retry = 1;
            atomic_store(&b->state, BLK_DONE);
            worker_post(b->owner, served_msg, b);
            continue;
        }
        cmd_ctx c = {
            .cl = cl,
            .cmd = cmd,
            .argc = cl->ctx.argc,
            .argv = cl->ctx.argv,
            .dbid = b->dbid,
            .resp = cl->resp,
            .out = &b->reply,
            .flags = CTX_UNBLOCKED | (current_worker != b->owner ? CTX_REMOTE : 0),
            .ready_key = {r->key, r->len},
        };
        dispatch_call(&c);
        if (c.blocked) {
            buf_clear(&b->reply);
            atomic_store(&b->state, BLK_WAITING);
            /* The key had nothing for this client: it has nothing for the ones after it. */
            if (!serves_independently(cmd))
                break;
            continue;
        }
        atomic_store(&b->state, BLK_DONE);
        worker_post(b->owner, served_msg, b);
        /* The table may have changed under the command (it could block others): look again. */
        ref = bt_find(t, r->dbid, r->key, r->len);
        if (!ref)
            return;
        e = *ref;
        i = -1; /* compaction may have shifted the FIFO: served ones are skipped by the CAS */
    }
    ref = bt_find(t, r->dbid, r->key, r->len);
    if (ref)
        bt_compact(t, ref);
}

void block_serve_ready(void)
{
    /* busy_serving: a command answered inside a running script (busy.c) must not hand the
     * script's half-done writes to blocked clients. */
    if (!nready || serving_now || busy_serving())
        return;
    serving_now = 1;
    /* Serving may make more keys ready (BLMOVE pushes): the loop picks them up. */
    for (int i = 0; i < nready; i++) {
        ready_key r = ready[i];
        serve_key(&r);
        free(r.key);
    }
    nready = 0;
    /* The array is thread-local and would outlive the thread: give it back now (a push with
     * waiters is rare enough that reallocating it next time costs nothing). */
    free(ready);
    ready = NULL;
    ready_cap = 0;
    serving_now = 0;
}
