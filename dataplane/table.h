/* The per-shard key table: chained buckets of entries with incremental rehashing.
 *
 * Growing or shrinking never stops the world: a second bucket array is allocated and every
 * operation moves a few buckets from the old array to the new one (table_rehash_step), plus a
 * bounded slice on the shard's timer. Lookups consult both arrays while a rehash runs.
 * Owned by one shard; not thread-safe. */
#ifndef DFLY_TABLE_H
#define DFLY_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "object.h"

typedef struct table {
    entry **buckets[2];
    size_t size[2]; /* power of two, or 0 */
    size_t used[2];
    long rehash_idx; /* next bucket of buckets[0] to move, -1 when not rehashing */
    /* While set (a snapshot serializes the table), buckets keep their place: no resize starts
     * and a running rehash pauses. Chains just grow meanwhile. */
    int frozen;
} table;

void table_init(table *t);
/* Frees every entry and the bucket arrays. */
void table_clear(table *t);
size_t table_count(const table *t);
size_t table_buckets(const table *t);

uint64_t table_hash(const void *key, size_t len);
void table_set_seed(uint64_t seed);

/* Links (bucket heads and entry->next) carry 16 bits of the hash above the 48 bits of the
 * address, so that a chain walk dereferences only entries whose tag matches: a lookup costs
 * about one cache miss. Read a link with table_ref_entry, never with *ref. */
#define TABLE_PTR_BITS 48
#define TABLE_PTR_MASK ((UINT64_C(1) << TABLE_PTR_BITS) - 1)

static inline entry *table_untag(const entry *link)
{
    return (entry *)((uintptr_t)link & TABLE_PTR_MASK);
}
static inline entry *table_ref_entry(entry *const *ref)
{
    return table_untag(*ref);
}
/* Points the link at n (same key), keeping its tag. */
static inline void table_ref_set(entry **ref, entry *n)
{
    *ref = (entry *)(((uintptr_t)*ref & ~(uintptr_t)TABLE_PTR_MASK) | (uintptr_t)n);
}

/* Cache hints ahead of a lookup of a key whose table_hash is h: stage 0 fetches its bucket slot,
 * stage 1 (issued once the slot had time to arrive) the first entry of its chain. A batch of
 * lookups issued this way waits for memory about once instead of once per key. Never reads
 * past what the table holds now: a resize in between only makes the hint useless. */
void table_prefetch(const table *t, uint64_t h, int stage);

/* Returns the address of the link that points to key's entry (so that callers can replace or
 * unlink it), or NULL. */
entry **table_find_ref(table *t, const char *key, size_t len);
/* The same, with key's table_hash computed by the caller. */
entry **table_find_ref_hashed(table *t, const char *key, size_t len, uint64_t h);
entry *table_find(table *t, const char *key, size_t len);
/* Adds e; its key must not be present. */
void table_insert(table *t, entry *e);
/* Unlinks the entry behind ref (from table_find_ref) and returns it. */
entry *table_unlink(table *t, entry **ref);
/* Puts n where the entry behind ref is; returns the old entry. Same key. */
entry *table_replace(table *t, entry **ref, entry *n);

/* Moves up to n buckets; returns 1 while more rehashing remains. */
int table_rehash_step(table *t, int n);
/* Starts a resize if the load calls for one (grow at load 1, shrink below 1/8). */
void table_maybe_resize(table *t);

/* Calls fn for every entry of the buckets at `cursor` and returns the next cursor, 0 at the end.
 * Every entry present for the whole scan is reported at least once, across resizes. fn must not
 * insert or delete. */
typedef void (*table_scan_fn)(void *arg, entry *e);
uint64_t table_scan(table *t, uint64_t cursor, table_scan_fn fn, void *arg);

/* A random entry, or NULL when empty. rnd is any random 64-bit number. */
entry *table_random(table *t, uint64_t rnd);

#endif
