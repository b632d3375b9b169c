/* Chained hash table with incremental rehash; see table.h. */
#include "table.h"

#include <string.h>

#include "zmalloc.h"

#define TABLE_MIN_SIZE 4
#define TABLE_SHRINK_RATIO 8
/* Random bucket probes before table_random falls back to a linear walk. */
#define TABLE_RANDOM_PROBES 64

static uint64_t hash_seed = 0x9e3779b97f4a7c15ull;

void table_set_seed(uint64_t seed)
{
    hash_seed = seed | 1;
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A wyhash-style 64-bit hash: fast on short keys, seeded per process against flooding. */
uint64_t table_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    const uint64_t k1 = 0xa0761d6478bd642full, k2 = 0xe7037ed1a0b428dbull,
                   k3 = 0x8ebc6af09c88c6e3ull;
    uint64_t seed = hash_seed ^ mix(len ^ k1, k2);
    uint64_t a, b;
    while (len > 16) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, p + 8, 8);
        seed = mix(x ^ k1, y ^ seed);
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + len - 8, 8);
    } else if (len >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + len - 4, 4);
        a = x;
        b = y;
    } else if (len > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
        b = 0;
    } else {
        a = b = 0;
    }
    return mix(k3 ^ len, mix(a ^ k1, b ^ seed));
}

void table_init(table *t)
{
    memset(t, 0, sizeof(*t));
    t->rehash_idx = -1;
}

static void free_array(entry **b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        entry *e = table_untag(b[i]);
        while (e) {
            entry *next = table_untag(e->next);
            entry_free(e);
            e = next;
        }
    }
    zfree(b);
}

void table_clear(table *t)
{
    for (int i = 0; i < 2; i++)
        if (t->buckets[i])
            free_array(t->buckets[i], t->size[i]);
    table_init(t);
}

size_t table_count(const table *t)
{
    return t->used[0] + t->used[1];
}

size_t table_buckets(const table *t)
{
    return t->size[0] + t->size[1];
}

static int rehashing(const table *t)
{
    return t->rehash_idx >= 0;
}

static void start_resize(table *t, size_t want)
{
    size_t size = TABLE_MIN_SIZE;
    while (size < want)
        size <<= 1;
    if (size == t->size[0])
        return;
    t->buckets[1] = zcalloc(size * sizeof(entry *));
    t->size[1] = size;
    t->used[1] = 0;
    t->rehash_idx = 0;
}

void table_maybe_resize(table *t)
{
    if (rehashing(t))
        return;
    if (t->size[0] == 0) {
        t->buckets[0] = zcalloc(TABLE_MIN_SIZE * sizeof(entry *));
        t->size[0] = TABLE_MIN_SIZE;
        return;
    }
    if (t->frozen)
        return;
    if (t->used[0] >= t->size[0])
        start_resize(t, t->used[0] * 2);
    else if (t->size[0] > TABLE_MIN_SIZE && t->used[0] * TABLE_SHRINK_RATIO < t->size[0])
        start_resize(t, t->used[0]);
}

static inline entry *tagged(entry *e, uint64_t h)
{
    return (entry *)((uintptr_t)e | (uintptr_t)((h >> TABLE_PTR_BITS) << TABLE_PTR_BITS));
}

static inline int tag_matches(const entry *link, uint64_t h)
{
    return ((uintptr_t)link >> TABLE_PTR_BITS) == (h >> TABLE_PTR_BITS);
}

static void move_bucket(table *t, size_t idx)
{
    entry *link = t->buckets[0][idx];
    while (link) {
        entry *e = table_untag(link);
        entry *next = e->next;
        size_t klen;
        const char *k = entry_key(e, &klen);
        size_t h = table_hash(k, klen) & (t->size[1] - 1);
        e->next = t->buckets[1][h];
        t->buckets[1][h] = link; /* the tag depends on the hash only: it moves along */
        t->used[0]--;
        t->used[1]++;
        link = next;
    }
    t->buckets[0][idx] = NULL;
}

int table_rehash_step(table *t, int n)
{
    if (!rehashing(t))
        return 0;
    if (t->frozen)
        return 1;
    int empty_visits = n * 10; /* bound the work on sparse arrays */
    while (n-- > 0 && t->used[0] != 0) {
        while (t->buckets[0][t->rehash_idx] == NULL) {
            t->rehash_idx++;
            if (--empty_visits == 0)
                return 1;
        }
        move_bucket(t, (size_t)t->rehash_idx);
        t->rehash_idx++;
    }
    if (t->used[0] == 0) {
        zfree(t->buckets[0]);
        t->buckets[0] = t->buckets[1];
        t->size[0] = t->size[1];
        t->used[0] = t->used[1];
        t->buckets[1] = NULL;
        t->size[1] = t->used[1] = 0;
        t->rehash_idx = -1;
        return 0;
    }
    return 1;
}

void table_prefetch(const table *t, uint64_t h, int stage)
{
    for (int i = 0; i < 2 && t->size[i]; i++) {
        entry *const *slot = &t->buckets[i][h & (t->size[i] - 1)];
        if (stage == 0) {
            __builtin_prefetch(slot);
        } else {
            const entry *e = table_untag(*slot);
            if (e)
                __builtin_prefetch(e);
        }
        if (!rehashing(t))
            break;
    }
}

static int key_eq(const entry *e, const char *key, size_t len)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    return klen == len && memcmp(k, key, len) == 0;
}

entry **table_find_ref(table *t, const char *key, size_t len)
{
    return t->size[0] ? table_find_ref_hashed(t, key, len, table_hash(key, len)) : NULL;
}

entry **table_find_ref_hashed(table *t, const char *key, size_t len, uint64_t h)
{
    if (t->size[0] == 0)
        return NULL;
    if (rehashing(t))
        table_rehash_step(t, 1);
    for (int i = 0; i < 2; i++) {
        if (!t->size[i])
            break;
        entry **ref = &t->buckets[i][h & (t->size[i] - 1)];
        while (*ref) {
            entry *e = table_untag(*ref);
            if (tag_matches(*ref, h) && key_eq(e, key, len))
                return ref;
            ref = &e->next;
        }
        if (!rehashing(t))
            break;
    }
    return NULL;
}

entry *table_find(table *t, const char *key, size_t len)
{
    entry **ref = table_find_ref(t, key, len);
    return ref ? table_ref_entry(ref) : NULL;
}

void table_insert(table *t, entry *e)
{
    table_maybe_resize(t);
    if (rehashing(t))
        table_rehash_step(t, 1);
    int i = rehashing(t) ? 1 : 0;
    size_t klen;
    const char *k = entry_key(e, &klen);
    uint64_t h = table_hash(k, klen);
    size_t idx = h & (t->size[i] - 1);
    e->next = t->buckets[i][idx];
    t->buckets[i][idx] = tagged(e, h);
    t->used[i]++;
}

/* Which array holds the link at ref: the one whose address range contains it, or, for a link
 * inside an entry, the array the entry hashes into. */
static int array_of(table *t, entry *e)
{
    if (!rehashing(t))
        return 0;
    size_t klen;
    const char *k = entry_key(e, &klen);
    uint64_t h = table_hash(k, klen);
    entry *p = table_untag(t->buckets[0][h & (t->size[0] - 1)]);
    for (; p; p = table_untag(p->next))
        if (p == e)
            return 0;
    return 1;
}

entry *table_unlink(table *t, entry **ref)
{
    entry *e = table_ref_entry(ref);
    int i = array_of(t, e);
    *ref = e->next;
    e->next = NULL;
    t->used[i]--;
    table_maybe_resize(t);
    return e;
}

entry *table_replace(table *t, entry **ref, entry *n)
{
    entry *old = table_ref_entry(ref);
    n->next = old->next;
    table_ref_set(ref, n);
    old->next = NULL;
    return old;
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
}

static void scan_bucket(entry *link, table_scan_fn fn, void *arg)
{
    entry *e = table_untag(link);
    while (e) {
        entry *next = table_untag(e->next);
        fn(arg, e);
        e = next;
    }
}

/* Reverse-binary cursor increment (Redis's SCAN algorithm): the high bits of the cursor advance
 * first, so buckets already visited in a smaller array map onto visited buckets of a larger one. */
uint64_t table_scan(table *t, uint64_t v, table_scan_fn fn, void *arg)
{
    if (table_count(t) == 0)
        return 0;
    if (!rehashing(t)) {
        uint64_t m0 = t->size[0] - 1;
        scan_bucket(t->buckets[0][v & m0], fn, arg);
        v |= ~m0;
        v = rev64(v);
        v++;
        v = rev64(v);
        return v;
    }
    int small = t->size[0] <= t->size[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = t->size[small] - 1, m1 = t->size[large] - 1;
    scan_bucket(t->buckets[small][v & m0], fn, arg);
    do {
        scan_bucket(t->buckets[large][v & m1], fn, arg);
        v |= ~m1;
        v = rev64(v);
        v++;
        v = rev64(v);
    } while (v & (m0 ^ m1));
    return v;
}

/* The non-empty bucket chain at or after linear position pos over both arrays (wrapping). Used
 * when random probing keeps missing: a table can be sparse while a rehash is still running
 * (shrinks start only between rehashes), and probing alone would then take long. */
static entry *first_chain_from(table *t, size_t pos)
{
    size_t total = t->size[0] + t->size[1];
    for (size_t i = 0; i < total; i++) {
        size_t idx = (pos + i) % total;
        entry *b = idx < t->size[0] ? t->buckets[0][idx] : t->buckets[1][idx - t->size[0]];
        if (b)
            return table_untag(b);
    }
    return NULL;
}

static entry *chain_pick(entry *b, uint64_t r)
{
    b = table_untag(b);
    size_t n = 0;
    for (entry *e = b; e; e = table_untag(e->next))
        n++;
    size_t k = (size_t)(r % n);
    while (k--)
        b = table_untag(b->next);
    return b;
}

entry *table_random(table *t, uint64_t rnd)
{
    if (table_count(t) == 0)
        return NULL;
    /* Pick a non-empty bucket, then an element of its chain. Bounded probing keeps it O(1)
     * on average at the load factors the table keeps. */
    uint64_t r = rnd;
    for (int tries = 0; tries < TABLE_RANDOM_PROBES; tries++) {
        r = rnd + (uint64_t)tries * 0x9e3779b97f4a7c15ull;
        r ^= r >> 33;
        r *= 0xff51afd7ed558ccdull;
        r ^= r >> 33;
        entry *b;
        if (rehashing(t)) {
            size_t total = t->size[0] + t->size[1];
            size_t idx = r % total;
            if (idx < t->size[0]) {
                if ((long)idx < t->rehash_idx)
                    continue; /* already moved */
                b = t->buckets[0][idx];
            } else {
                b = t->buckets[1][idx - t->size[0]];
            }
        } else {
            b = t->buckets[0][r & (t->size[0] - 1)];
        }
        if (b)
            return chain_pick(b, r >> 32);
    }
    return chain_pick(first_chain_from(t, (size_t)r), r >> 32);
}
