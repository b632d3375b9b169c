/* MULTI/EXEC/DISCARD, WATCH/UNWATCH; see multi.h. */
#include "multi.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "dispatch.h"
#include "reply.h"
#include "table.h"
#include "worker.h"

/* A client's watch state: shared by the client and the shard registrations. */
typedef struct watch_state {
    _Atomic int dirty;
    _Atomic int dead;
    _Atomic int refs;
    int nkeys, cap;
    struct watched_key {
        int dbid;
        char *key;
        size_t len;
    } * keys;
} watch_state;

/* A shard's registrations: (db, key) -> watchers. */
typedef struct watch_entry {
    struct watch_entry *next;
    int dbid;
    size_t len;
    int nw, capw;
    watch_state **w;
    char key[];
} watch_entry;

typedef struct watch_table {
    watch_entry **b;
    size_t size;
    size_t count;
    size_t sweep_cursor; /* next bucket wt_add cleans of dead registrations */
} watch_table;

#define WATCH_TABLE_MIN 16
/* Buckets cleaned of dead registrations per new registration: the table then never holds
 * more than a bounded share of dead entries, even for keys that nobody writes. */
#define WATCH_SWEEP_PER_ADD 4

static void ws_unref(watch_state *ws)
{
    if (atomic_fetch_sub(&ws->refs, 1) == 1) {
        for (int i = 0; i < ws->nkeys; i++)
            free(ws->keys[i].key);
        free(ws->keys);
        free(ws);
    }
}

static watch_table *wt_get(shard *s)
{
    if (!s->watch) {
        s->watch = mem_calloc(1, sizeof(watch_table));
        s->watch->size = WATCH_TABLE_MIN;
        s->watch->b = mem_calloc(WATCH_TABLE_MIN, sizeof(watch_entry *));
    }
    return s->watch;
}

static size_t wt_idx(const watch_table *t, int dbid, const char *key, size_t len)
{
    return (table_hash(key, len) + (uint64_t)dbid * 0x9e3779b97f4a7c15ull) & (t->size - 1);
}

static void wt_grow(watch_table *t)
{
    size_t nsize = t->size * 2;
    watch_entry **nb = mem_calloc(nsize, sizeof(watch_entry *));
    for (size_t i = 0; i < t->size; i++) {
        watch_entry *e = t->b[i];
        while (e) {
            watch_entry *next = e->next;
            size_t idx = (table_hash(e->key, e->len) + (uint64_t)e->dbid * 0x9e3779b97f4a7c15ull) &
                         (nsize - 1);
            e->next = nb[idx];
            nb[idx] = e;
            e = next;
        }
    }
    free(t->b);
    t->b = nb;
    t->size = nsize;
}

static int wt_visit(watch_table *t, watch_entry **ref, int touch);

/* Drops the dead registrations of a few buckets, round robin. */
static void wt_sweep_some(watch_table *t, size_t nbuckets)
{
    for (size_t n = 0; n < nbuckets && t->count; n++) {
        watch_entry **ref = &t->b[t->sweep_cursor & (t->size - 1)];
        while (*ref)
            if (!wt_visit(t, ref, 0))
                ref = &(*ref)->next;
        t->sweep_cursor++;
    }
}

static void wt_add(shard *s, int dbid, const char *key, size_t len, watch_state *ws)
{
    watch_table *t = wt_get(s);
    wt_sweep_some(t, WATCH_SWEEP_PER_ADD);
    size_t idx = wt_idx(t, dbid, key, len);
    watch_entry *e = t->b[idx];
    while (e && !(e->dbid == dbid && e->len == len && !memcmp(e->key, key, len)))
        e = e->next;
    if (!e) {
        if (t->count >= t->size) {
            wt_grow(t);
            idx = wt_idx(t, dbid, key, len);
        }
        e = mem_calloc(1, sizeof(watch_entry) + len);
        e->dbid = dbid;
        e->len = len;
        memcpy(e->key, key, len);
        e->next = t->b[idx];
        t->b[idx] = e;
        t->count++;
    }
    for (int i = 0; i < e->nw; i++)
        if (e->w[i] == ws)
            return;
    if (e->nw == e->capw) {
        e->capw = e->capw ? e->capw * 2 : 2;
        e->w = mem_realloc(e->w, sizeof(watch_state *) * (size_t)e->capw);
    }
    atomic_fetch_add(&ws->refs, 1);
    e->w[e->nw++] = ws;
}

/* Marks the watchers of e dirty (when `touch`), drops dead ones; frees e when empty.
 * Returns 1 when e was freed. */
static int wt_visit(watch_table *t, watch_entry **ref, int touch)
{
    watch_entry *e = *ref;
    int k = 0;
    for (int i = 0; i < e->nw; i++) {
        watch_state *ws = e->w[i];
        if (atomic_load(&ws->dead)) {
            ws_unref(ws);
            continue;
        }
        if (touch)
            atomic_store(&ws->dirty, 1);
        e->w[k++] = ws;
    }
    e->nw = k;
    if (k)
        return 0;
    *ref = e->next;
    free(e->w);
    free(e);
    t->count--;
    return 1;
}

static void watch_hook(shard *s, int dbid, const char *key, size_t len)
{
    watch_table *t = s->watch;
    if (!t || !t->count)
        return;
    watch_entry **ref = &t->b[wt_idx(t, dbid, key, len)];
    while (*ref) {
        watch_entry *e = *ref;
        if (e->dbid == dbid && e->len == len && !memcmp(e->key, key, len)) {
            wt_visit(t, ref, 1);
            return;
        }
        ref = &e->next;
    }
}

static int key_present(shard *s, int dbid, const watch_entry *e)
{
    return table_find(&s->dbs[dbid].keys, e->key, e->len) != NULL;
}

/* Whether a whole-db operation touches watch entry e: FLUSHDB/FLUSHALL (a = the db or -1,
 * b unused) touch the watched keys that exist; SWAPDB a b those that exist in either db.
 * A watched key that does not exist stays untouched, as in Redis 7. */
typedef int (*wt_touch_pred)(shard *s, const watch_entry *e, int a, int b);

static int flushed_pred(shard *s, const watch_entry *e, int dbid, int unused)
{
    (void)unused;
    return (dbid < 0 || e->dbid == dbid) && key_present(s, e->dbid, e);
}

static int swapped_pred(shard *s, const watch_entry *e, int id1, int id2)
{
    return (e->dbid == id1 || e->dbid == id2) && (key_present(s, id1, e) || key_present(s, id2, e));
}

static void wt_touch_where(shard *s, wt_touch_pred pred, int a, int b)
{
    watch_table *t = s->watch;
    if (!t || !t->count)
        return;
    for (size_t i = 0; i < t->size; i++) {
        watch_entry **ref = &t->b[i];
        while (*ref)
            if (!wt_visit(t, ref, pred(s, *ref, a, b)))
                ref = &(*ref)->next;
    }
}

/* Runs before the flush, while the keys are still there (db.h). */
static void flush_hook(shard *s, int dbid)
{
    wt_touch_where(s, flushed_pred, dbid, 0);
}

/* Runs after the swap; "exists in either db" reads the same before and after. */
static void swap_hook(shard *s, int id1, int id2)
{
    wt_touch_where(s, swapped_pred, id1, id2);
}

void multi_shard_sweep(shard *s)
{
    watch_table *t = s->watch;
    if (t)
        wt_sweep_some(t, t->size);
}

void multi_shard_free(shard *s)
{
    watch_table *t = s->watch;
    if (!t)
        return;
    for (size_t i = 0; i < t->size; i++) {
        watch_entry *e = t->b[i];
        while (e) {
            watch_entry *next = e->next;
            for (int k = 0; k < e->nw; k++)
                ws_unref(e->w[k]);
            free(e->w);
            free(e);
            e = next;
        }
    }
    free(t->b);
    free(t);
    s->watch = NULL;
}

void multi_shards_free(void)
{
    for (int i = 0; i < server.nshards; i++)
        multi_shard_free(shards[i]);
}

static int exec_route(client *cl, shardset *set);

void multi_init(void)
{
    db_watch_hook = watch_hook;
    db_flush_hook = flush_hook;
    db_swap_hook = swap_hook;
    dispatch_set_exec_route(exec_route);
}

void multi_unwatch(client *cl)
{
    watch_state *ws = cl->watch;
    if (!ws)
        return;
    cl->watch = NULL;
    atomic_store(&ws->dead, 1);
    ws_unref(ws);
}

static void queue_free(client *cl)
{
    for (int i = 0; i < cl->mcount; i++)
        free(cl->mqueue[i].argv);
    free(cl->mqueue);
    cl->mqueue = NULL;
    cl->mcount = cl->mcap = 0;
}

void multi_reset(client *cl)
{
    queue_free(cl);
    cl->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
    multi_unwatch(cl);
}

void multi_queue(client *cl, const command *cmd, int argc, const slice *argv)
{
    if (cl->mcount == cl->mcap) {
        cl->mcap = cl->mcap ? cl->mcap * 2 : 8;
        cl->mqueue = mem_realloc(cl->mqueue, sizeof(queued_cmd) * (size_t)cl->mcap);
    }
    size_t bytes = sizeof(slice) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len + 1;
    /* One block: the slices, then the argument bytes. */
    slice *copy = mem_malloc(bytes);
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = '\0';
        copy[i].p = p;
        copy[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    queued_cmd *q = &cl->mqueue[cl->mcount++];
    q->cmd = cmd;
    q->argc = argc;
    q->argv = copy;
}

/* ---- commands ---------------------------------------------------------------------------- */

static void multi_cmd(cmd_ctx *c)
{
    if (c->cl->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->cl->flags |= CLIENT_MULTI;
    reply_ok(c);
}

static void discard_cmd(cmd_ctx *c)
{
    if (!(c->cl->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_reset(c->cl);
    reply_ok(c);
}

/* True when a watched key was written, or has expired, since WATCH. */
static int watch_dirty(cmd_ctx *c)
{
    watch_state *ws = c->cl->watch;
    if (!ws)
        return 0;
    for (int i = 0; i < ws->nkeys; i++) {
        cmd_ctx probe = *c;
        probe.dbid = ws->keys[i].dbid;
        db_peek(&probe, ws->keys[i].key, ws->keys[i].len); /* drops an expired key: dirty */
    }
    return atomic_load(&ws->dirty);
}

/* Redis checks permissions again at EXEC: the user may have changed since queueing. */
static int exec_acl_refused(cmd_ctx *sub)
{
    int pos;
    int why = acl_check_client(sub->cl, sub->cmd, sub->cmd->parent, sub->argc, sub->argv,
                               ACL_CTX_MULTI, &pos);
    if (why == ACL_OK)
        return 0;
    const char *reason = why == ACL_DENIED_CMD   ? "no permission to execute the command or "
                                                   "subcommand"
                         : why == ACL_DENIED_KEY ? "no permission to touch the specified keys"
                                                 : "no permission to access one of the channels "
                                                   "used as arguments";
    reply_errorf(sub,
                 "NOPERM ACLs rules changed between the moment the transaction was "
                 "accumulated and the EXEC call. This command is no longer allowed for the "
                 "following reason: %s",
                 reason);
    return 1;
}

static void exec_cmd(cmd_ctx *c)
{
    client *cl = c->cl;
    if (!(cl->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (cl->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        multi_reset(cl);
        return;
    }
    if (watch_dirty(c)) {
        reply_null_array(c);
        multi_reset(cl);
        return;
    }
    /* Redis refuses the whole EXEC when a queued write needs memory that is not there. */
    for (int i = 0; i < cl->mcount; i++) {
        cmd_ctx probe = *c;
        probe.cmd = cl->mqueue[i].cmd;
        probe.argc = cl->mqueue[i].argc;
        probe.argv = cl->mqueue[i].argv;
        if (!dispatch_memory_ok(&probe)) {
            reply_errorf(c, "EXECABORT Transaction discarded because of: %s", ERR_OOM);
            multi_reset(cl);
            return;
        }
    }
    reply_array(c, cl->mcount);
    for (int i = 0; i < cl->mcount; i++) {
        queued_cmd *q = &cl->mqueue[i];
        cmd_ctx sub = *c;
        sub.cmd = q->cmd;
        sub.argc = q->argc;
        sub.argv = q->argv;
        sub.dbid = cl->dbid; /* a queued SELECT changes it for the commands after it */
        sub.resp = cl->resp;
        sub.flags |= CTX_IN_EXEC;
        if (exec_acl_refused(&sub))
            continue;
        dispatch_call(&sub);
    }
    multi_reset(cl);
}

/* EXEC holds the shards of every queued command and every watched key. */
static int exec_route(client *cl, shardset *set)
{
    shardset_clear(set);
    if (!(cl->flags & CLIENT_MULTI) || (cl->flags & CLIENT_DIRTY_EXEC))
        return 0;
    for (int i = 0; i < cl->mcount; i++)
        dispatch_add_shards(cl->mqueue[i].cmd, cl->mqueue[i].argc, cl->mqueue[i].argv, set, NULL);
    if (cl->watch)
        for (int i = 0; i < cl->watch->nkeys; i++)
            shardset_add(set, key_shard(cl->watch->keys[i].key, cl->watch->keys[i].len));
    return 0;
}

static void watch_cmd(cmd_ctx *c)
{
    client *cl = c->cl;
    if (cl->flags & CLIENT_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (!cl->watch) {
        watch_state *ws = mem_calloc(1, sizeof(*ws));
        atomic_init(&ws->refs, 1);
        cl->watch = ws;
    }
    watch_state *ws = cl->watch;
    for (int i = 1; i < c->argc; i++) {
        const slice *k = &c->argv[i];
        int dup = 0;
        for (int j = 0; j < ws->nkeys && !dup; j++)
            dup = ws->keys[j].dbid == c->dbid && ws->keys[j].len == k->len &&
                  !memcmp(ws->keys[j].key, k->p, k->len);
        if (dup)
            continue;
        if (ws->nkeys == ws->cap) {
            ws->cap = ws->cap ? ws->cap * 2 : 4;
            ws->keys = mem_realloc(ws->keys, sizeof(*ws->keys) * (size_t)ws->cap);
        }
        char *kc = mem_malloc(k->len + 1);
        memcpy(kc, k->p, k->len);
        kc[k->len] = '\0';
        ws->keys[ws->nkeys].dbid = c->dbid;
        ws->keys[ws->nkeys].key = kc;
        ws->keys[ws->nkeys].len = k->len;
        ws->nkeys++;
        /* A key that has already expired counts as absent: reclaim it before registering, so
         * that its removal later is not taken for a change (Redis 7 behaves the same). */
        db_peek(c, k->p, k->len);
        wt_add(shard_of(k->p, k->len), c->dbid, k->p, k->len, ws);
    }
    reply_ok(c);
}

static void unwatch_cmd(cmd_ctx *c)
{
    multi_unwatch(c->cl);
    reply_ok(c);
}

command multi_commands[] = {
    {.name = "multi",
     .proc = multi_cmd,
     .arity = 1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CLIENT_STATE,
     .acl = ACL_FAST | ACL_TRANSACTION,
     .group = "transactions",
     .since = "1.2.0",
     .summary = "Starts a transaction."},
    {.name = "exec",
     .proc = exec_cmd,
     .arity = 1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG,
     .acl = ACL_SLOW | ACL_TRANSACTION,
     .group = "transactions",
     .since = "1.2.0",
     .summary = "Executes all commands in a transaction."},
    {.name = "discard",
     .proc = discard_cmd,
     .arity = 1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CLIENT_STATE,
     .acl = ACL_FAST | ACL_TRANSACTION,
     .group = "transactions",
     .since = "2.0.0",
     .summary = "Discards a transaction."},
    {.name = "watch",
     .proc = watch_cmd,
     .arity = -2,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     .acl = ACL_FAST | ACL_TRANSACTION,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     .group = "transactions",
     .since = "2.2.0",
     .summary = "Monitors changes to keys to determine the execution of a transaction."},
    {.name = "unwatch",
     .proc = unwatch_cmd,
     .arity = 1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CLIENT_STATE,
     .acl = ACL_FAST | ACL_TRANSACTION,
     .group = "transactions",
     .since = "2.2.0",
     .summary = "Forgets about watched keys of a transaction."},
    {0},
};
