/* Shard scheduling: inline runs, hops, and multi-shard transactions; see tx.h. */
#include "tx.h"

#include <assert.h>
#include <stdlib.h>

#include "alloc.h"
#include "worker.h"
#include "zmalloc.h"

void shardset_all(shardset *s)
{
    shardset_clear(s);
    for (int i = 0; i < server.nshards; i++)
        shardset_add(s, i);
}

int shardset_count(const shardset *s)
{
    int n = 0;
    for (unsigned i = 0; i < DFLY_MAX_THREADS / 64; i++)
        n += __builtin_popcountll(s->w[i]);
    return n;
}

int shardset_first(const shardset *s)
{
    for (unsigned i = 0; i < DFLY_MAX_THREADS / 64; i++)
        if (s->w[i])
            return (int)(i * 64 + (unsigned)__builtin_ctzll(s->w[i]));
    return -1;
}

/* Work waiting on a held shard, run in arrival order on release. */
struct local_op {
    struct local_op *next;
    tx_fn fn;
    void *arg;
};

static void pending_push(shard *s, tx_fn fn, void *arg)
{
    struct local_op *op = mem_malloc(sizeof(*op));
    op->next = NULL;
    op->fn = fn;
    op->arg = arg;
    if (s->pending_tail)
        s->pending_tail->next = op;
    else
        s->pending_head = op;
    s->pending_tail = op;
}

/* ---- single-shard hops ------------------------------------------------------------------- */

struct hop {
    msg m; /* carries the hop there and back */
    tx_fn body, done;
    void *arg;
    worker *origin;
};

static void hop_done(void *p)
{
    struct hop *h = p;
    tx_fn done = h->done;
    void *arg = h->arg;
    free(h);
    done(arg);
}

static void hop_run(void *p)
{
    struct hop *h = p;
    h->body(h->arg);
    if (h->origin == current_worker) {
        hop_done(h);
    } else {
        h->m.fn = hop_done;
        h->m.arg = h;
        worker_post_msg(h->origin, &h->m);
    }
}

/* On the shard's thread: run now, or after the holder releases. */
static void hop_arrive(void *p)
{
    shard *s = current_worker->shard;
    if (s->held_by)
        pending_push(s, hop_run, p);
    else
        hop_run(p);
}

/* ---- transactions ------------------------------------------------------------------------ */

typedef struct tx_node {
    struct tx_node *prev, *next; /* in the shard's queue */
    struct tx *tx;
    int shard;
    int queued;
    int nack;
} tx_node;

typedef struct tx {
    uint64_t txid;
    worker *coord;
    tx_fn body, done;
    void *arg;
    int n;
    int pending;
    int nacks;
    _Atomic int refs;
    tx_node nodes[];
} tx;

static void tx_unref(tx *t)
{
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        free(t);
}

static void tx_reply(void *p);

/* On a shard's thread: let the queue head hold the shard and tell its coordinator. */
static void shard_advance(shard *s)
{
    if (s->held_by || !s->txq_head)
        return;
    tx_node *n = s->txq_head;
    s->held_by = n;
    if (n->tx->txid > s->committed_txid)
        s->committed_txid = n->tx->txid;
    n->nack = 0;
    worker_post(n->tx->coord, tx_reply, n);
}

static void txq_insert(shard *s, tx_node *n)
{
    tx_node *after = s->txq_tail;
    while (after && after->tx->txid > n->tx->txid)
        after = after->prev;
    n->prev = after;
    n->next = after ? after->next : s->txq_head;
    if (n->next)
        n->next->prev = n;
    else
        s->txq_tail = n;
    if (after)
        after->next = n;
    else
        s->txq_head = n;
    n->queued = 1;
}

static void txq_remove(shard *s, tx_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        s->txq_head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        s->txq_tail = n->prev;
    n->prev = n->next = NULL;
    n->queued = 0;
}

static void tx_schedule_msg(void *p)
{
    tx_node *n = p;
    shard *s = shards[n->shard];
    if (n->tx->txid <= s->committed_txid) {
        n->nack = 1;
        worker_post(n->tx->coord, tx_reply, n);
        return;
    }
    txq_insert(s, n);
    shard_advance(s);
}

static void run_pending(shard *s)
{
    while (s->pending_head && !s->held_by) {
        struct local_op *op = s->pending_head;
        s->pending_head = op->next;
        if (!s->pending_head)
            s->pending_tail = NULL;
        tx_fn fn = op->fn;
        void *arg = op->arg;
        free(op);
        fn(arg);
    }
}

static void tx_release_msg(void *p)
{
    tx_node *n = p;
    shard *s = shards[n->shard];
    tx *t = n->tx;
    if (n->queued)
        txq_remove(s, n);
    if (s->held_by == n)
        s->held_by = NULL;
    tx_unref(t);
    /* Work that waited behind the holder goes first; the next transaction then takes over. */
    run_pending(s);
    shard_advance(s);
}

static void tx_schedule(tx *t)
{
    t->txid = atomic_fetch_add(&server.next_txid, 1) + 1;
    t->pending = t->n;
    t->nacks = 0;
    for (int i = 0; i < t->n; i++)
        worker_post(workers[t->nodes[i].shard], tx_schedule_msg, &t->nodes[i]);
}

static void tx_release_all(tx *t)
{
    atomic_fetch_add(&t->refs, t->n);
    for (int i = 0; i < t->n; i++)
        worker_post(workers[t->nodes[i].shard], tx_release_msg, &t->nodes[i]);
}

static tx *tx_new(const shardset *set, int n, tx_fn body, tx_fn done, void *arg)
{
    tx *t = mem_malloc(sizeof(tx) + sizeof(tx_node) * (size_t)n);
    t->coord = current_worker;
    t->body = body;
    t->done = done;
    t->arg = arg;
    t->n = n;
    atomic_init(&t->refs, 1);
    int k = 0;
    for (int i = 0; i < server.nshards; i++) {
        if (!shardset_has(set, i))
            continue;
        tx_node *node = &t->nodes[k++];
        node->prev = node->next = NULL;
        node->tx = t;
        node->shard = i;
        node->queued = 0;
        node->nack = 0;
    }
    return t;
}

/* On the coordinator's thread: a shard answered. */
static void tx_reply(void *p)
{
    tx_node *n = p;
    tx *t = n->tx;
    if (n->nack)
        t->nacks++;
    if (--t->pending > 0)
        return;
    if (t->nacks == 0) {
        t->body(t->arg);
        tx_release_all(t);
        tx_fn done = t->done;
        void *arg = t->arg;
        tx_unref(t);
        done(arg);
        return;
    }
    /* Some shard had already let a younger transaction hold it: give everything back and try
     * again with a fresh id, which is younger than every holder. */
    counter_add(&current_worker->stats.tx_retries, 1);
    shardset set;
    shardset_clear(&set);
    for (int i = 0; i < t->n; i++)
        shardset_add(&set, t->nodes[i].shard);
    tx *again = tx_new(&set, t->n, t->body, t->done, t->arg);
    tx_release_all(t);
    tx_unref(t);
    tx_schedule(again);
}

int tx_run(const shardset *set, tx_fn body, tx_fn done, void *arg)
{
    worker *me = current_worker;
    int n = shardset_count(set);
    if (n == 0) {
        body(arg);
        return 1;
    }
    if (n == 1) {
        int id = shardset_first(set);
        if (id == me->id && !me->shard->held_by) {
            body(arg);
            return 1;
        }
        struct hop *h = mem_malloc(sizeof(*h));
        h->body = body;
        h->done = done;
        h->arg = arg;
        h->origin = me;
        counter_add(&me->stats.hops, 1);
        if (id == me->id) {
            pending_push(me->shard, hop_run, h);
        } else {
            h->m.fn = hop_arrive;
            h->m.arg = h;
            worker_post_msg(workers[id], &h->m);
        }
        return 0;
    }
    counter_add(&me->stats.tx_scheduled, 1);
    tx_schedule(tx_new(set, n, body, done, arg));
    return 0;
}

int tx_shard_held_by_other(int id)
{
    return shards[id]->held_by != NULL;
}

int tx_shard_idle(int id)
{
    return shards[id]->held_by == NULL;
}
