/* Running work on the shards it touches: inline, as a hop to the owning thread, or as a
 * transaction that holds several shards at once.
 *
 * Multi-shard work is ordered by a global transaction id (Dragonfly's VLL). Each shard keeps a
 * queue of transactions sorted by id; the head of the queue *holds* the shard and reports ready.
 * When every shard of a transaction is held by it, the coordinating thread runs the body, which
 * may touch all of those shards directly, and then releases them. A shard that is asked to queue
 * a transaction older than one it already let hold it refuses (nack); the coordinator releases
 * what it got and retries with a fresh id. Waits only ever go from a younger transaction to an
 * older one, so there is no deadlock, and no thread ever blocks. Single-shard work on a shard
 * that is not held runs at once; on a held shard it waits until the holder releases.
 * See docs/architecture.md. */
#ifndef DFLY_TX_H
#define DFLY_TX_H

#include <stdint.h>

#include "server.h"

typedef struct shardset {
    uint64_t w[DFLY_MAX_THREADS / 64];
} shardset;

static inline void shardset_clear(shardset *s)
{
    for (unsigned i = 0; i < DFLY_MAX_THREADS / 64; i++)
        s->w[i] = 0;
}
static inline void shardset_add(shardset *s, int id)
{
    s->w[id >> 6] |= 1ull << (id & 63);
}
static inline int shardset_has(const shardset *s, int id)
{
    return (s->w[id >> 6] >> (id & 63)) & 1;
}
void shardset_all(shardset *s);
int shardset_count(const shardset *s);
/* The lowest member, or -1. */
int shardset_first(const shardset *s);

typedef void (*tx_fn)(void *arg);

/* Runs body(arg) with every shard in set available to it, then done(arg) on the calling thread.
 * Must be called from a worker thread. Returns 1 when body ran inline before returning (done is
 * then NOT called), 0 when the work went elsewhere and done(arg) will run later on this thread.
 * body runs on the owning shard's thread for single-shard work, else on this thread; it must not
 * touch shards outside set, and must finish without waiting for anything. */
int tx_run(const shardset *set, tx_fn body, tx_fn done, void *arg);

/* True when the calling thread may touch shard id right now (diagnostics and asserts). */
int tx_shard_held_by_other(int id);

/* Called by the worker's timer: 1 when the shard is free for background work (expiry...). */
int tx_shard_idle(int id);

#endif
