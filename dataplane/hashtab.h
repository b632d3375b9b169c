/* hashtab: a general hash table of byte-string keys, each with an optional byte-string value:
 * the large encoding of hashes (field -> value) and sets (members only).
 *
 * Every element is one zmalloc block holding its chain link, key and value (no separate key and
 * value allocations as in Redis's dict + two sds), so that a large hash costs little more than
 * its bytes. Buckets chain; growing and shrinking rehash incrementally (each modification moves a
 * few buckets), and lookups consult both bucket arrays meanwhile. Scans use Redis's
 * reverse-binary cursor, so every element present for the whole scan is reported at least once.
 * Owned by whoever owns the value (one shard): no locking. */
#ifndef DFLY_HASHTAB_H
#define DFLY_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct hashtab hashtab;
/* An element. Pointers to elements stay valid until the next modification of the table
 * (ht_add, ht_set, ht_delete); reads (ht_find, ht_scan, ht_random, iteration)
 * never move anything. */
typedef struct ht_elem ht_elem;

/* A table whose elements carry values (HT_VALUES: hashes) or only keys (sets). */
#define HT_VALUES 1
#define HT_KEYS_ONLY 0

/* A new empty table, with room for `expected` elements before it has to grow (0 for none). */
hashtab *ht_new(int with_values, size_t expected);
void ht_free(hashtab *h);
/* A deep copy (for COPY). */
hashtab *ht_dup(const hashtab *h);
size_t ht_count(const hashtab *h);
/* Exact bytes in use (table header, bucket arrays and elements), kept up to date: O(1). */
size_t ht_mem_usage(const hashtab *h);

const char *ht_elem_key(const ht_elem *e, size_t *len);
/* The value ("" with length 0 in a table without values). */
const char *ht_elem_val(const ht_elem *e, size_t *len);

ht_elem *ht_find(const hashtab *h, const char *key, size_t klen);
/* Adds key (with the value, ignored without HT_VALUES) when absent: returns 1. When the key is
 * present, changes nothing and returns 0. */
int ht_add(hashtab *h, const char *key, size_t klen, const char *val, size_t vlen);
/* Adds key or overwrites its value: returns 1 when added, 0 when overwritten. */
int ht_set(hashtab *h, const char *key, size_t klen, const char *val, size_t vlen);
/* Removes key: returns 1 when it was present. key may point into the element itself (the
 * key of an ht_random result, as SPOP does). */
int ht_delete(hashtab *h, const char *key, size_t klen);

/* A random element, or NULL when empty. rnd is any random 64-bit number (one per call). Uniform
 * (but for elements of rare long chains), in O(1) expected time. */
const ht_elem *ht_random(const hashtab *h, uint64_t rnd);

/* Calls fn for every element of the buckets at `cursor` and returns the next cursor, 0 at the
 * end (Redis's dictScan contract: cursor 0 starts; every element present for the whole scan is
 * reported at least once, across resizes; some may be reported twice). fn must not modify the
 * table. */
typedef void (*ht_scan_fn)(void *arg, const ht_elem *e);
uint64_t ht_scan(const hashtab *h, uint64_t cursor, ht_scan_fn fn, void *arg);

/* Plain iteration over every element (HGETALL, SMEMBERS, conversions). Invalidated by any
 * modification of the table. */
typedef struct ht_iter {
    const hashtab *h;
    int table;           /* 0, or 1 for the second bucket array during a rehash */
    size_t bucket;       /* next bucket to visit */
    const ht_elem *next; /* next element of the current chain */
} ht_iter;
void ht_iter_init(ht_iter *it, const hashtab *h);
/* The next element, or NULL at the end. */
const ht_elem *ht_iter_next(ht_iter *it);

#endif
