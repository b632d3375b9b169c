/* hashtab: chained hash table of byte-string keys with optional values; see hashtab.h.
 *
 * An element is one block: [next][varint klen][key][varint vlen][value] (vlen 0 in a table
 * without values: one byte buys a uniform layout). The bucket arrays double when the load reaches 1
 * and halve (to the smallest power of two that keeps load <= 1) when it falls below 1/8; the move
 * from the old array to the new one is spread over the following modifications, as Redis's dict
 * does. */
#include "hashtab.h"

#include <assert.h>
#include <string.h>

#include "table.h"
#include "zmalloc.h"

#define HT_MIN_SIZE 4
#define HT_SHRINK_RATIO 8
/* Per modification: non-empty buckets moved (two, so that a doubling has finished long before
 * the next one and the old array does not linger), and empty buckets skipped at most (Redis's
 * empty_visits). */
#define HT_REHASH_BUCKETS 2
#define HT_REHASH_EMPTY_VISITS 10
/* Random bucket probes before ht_random falls back to a linear walk (expected probes are
 * buckets * longest chain / elements, a few dozen at the sparsest load the table keeps). */
#define HT_RANDOM_PROBES 4096
#define VARINT_MAX 10

struct ht_elem {
    struct ht_elem *next;
    unsigned char data[];
};

struct hashtab {
    ht_elem **buckets[2];
    size_t size[2]; /* power of two, or 0 */
    size_t used[2];
    size_t max_chain[2]; /* at least the longest chain of each array (never lowered) */
    long rehash_idx;     /* next bucket of buckets[0] to move, -1 when not rehashing */
    size_t bytes;        /* zmalloc'ed bytes of the header, the arrays and the elements */
    int with_values;
};

/* ---- elements ----------------------------------------------------------------------------- */

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static unsigned char *varint_put(unsigned char *p, size_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static const unsigned char *varint_get(const unsigned char *p, size_t *v)
{
    size_t r = 0;
    int shift = 0;
    while (*p & 0x80) {
        r |= (size_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    *v = r | ((size_t)*p++ << shift);
    return p;
}

static size_t elem_size(size_t klen, size_t vlen)
{
    return sizeof(ht_elem) + varint_len(klen) + klen + varint_len(vlen) + vlen;
}

/* Writes the value part at p (the byte after the key). */
static void elem_put_val(unsigned char *p, const char *val, size_t vlen)
{
    p = varint_put(p, vlen);
    if (vlen)
        memcpy(p, val, vlen);
}

static ht_elem *elem_new(hashtab *h, const char *key, size_t klen, const char *val, size_t vlen)
{
    if (!h->with_values)
        vlen = 0;
    ht_elem *e = zmalloc(elem_size(klen, vlen));
    unsigned char *p = varint_put(e->data, klen);
    memcpy(p, key, klen);
    elem_put_val(p + klen, val, vlen);
    e->next = NULL;
    h->bytes += zmalloc_size(e);
    return e;
}

static void elem_free(hashtab *h, ht_elem *e)
{
    h->bytes -= zmalloc_size(e);
    zfree(e);
}

const char *ht_elem_key(const ht_elem *e, size_t *len)
{
    return (const char *)varint_get(e->data, len);
}

/* The address of the value part (its varint length). */
static unsigned char *elem_val_part(const ht_elem *e)
{
    size_t klen;
    const unsigned char *p = varint_get(e->data, &klen);
    return (unsigned char *)p + klen;
}

const char *ht_elem_val(const ht_elem *e, size_t *len)
{
    return (const char *)varint_get(elem_val_part(e), len);
}

static int elem_eq(const ht_elem *e, const char *key, size_t klen)
{
    size_t len;
    const char *k = ht_elem_key(e, &len);
    return len == klen && memcmp(k, key, klen) == 0;
}

static uint64_t elem_hash(const ht_elem *e)
{
    size_t len;
    const char *k = ht_elem_key(e, &len);
    return table_hash(k, len);
}

/* ---- the table ---------------------------------------------------------------------------- */

static size_t pow2_at_least(size_t n)
{
    size_t s = HT_MIN_SIZE;
    while (s < n)
        s <<= 1;
    return s;
}

static int rehashing(const hashtab *h)
{
    return h->rehash_idx >= 0;
}

static ht_elem **buckets_new(hashtab *h, size_t n)
{
    ht_elem **b = zcalloc(n * sizeof(*b));
    h->bytes += zmalloc_size(b);
    return b;
}

static void buckets_free(hashtab *h, ht_elem **b)
{
    if (!b)
        return;
    h->bytes -= zmalloc_size(b);
    zfree(b);
}

hashtab *ht_new(int with_values, size_t expected)
{
    hashtab *h = zcalloc(sizeof(*h));
    h->with_values = with_values;
    h->rehash_idx = -1;
    h->bytes = zmalloc_size(h);
    if (expected) {
        h->size[0] = pow2_at_least(expected);
        h->buckets[0] = buckets_new(h, h->size[0]);
    }
    return h;
}

size_t ht_count(const hashtab *h)
{
    return h->used[0] + h->used[1];
}

size_t ht_mem_usage(const hashtab *h)
{
    return h->bytes;
}

static void free_chains(hashtab *h, int i)
{
    for (size_t b = 0; b < h->size[i]; b++) {
        ht_elem *e = h->buckets[i][b];
        while (e) {
            ht_elem *next = e->next;
            elem_free(h, e);
            e = next;
        }
    }
    buckets_free(h, h->buckets[i]);
}

void ht_free(hashtab *h)
{
    if (!h)
        return;
    free_chains(h, 0);
    free_chains(h, 1);
    zfree(h);
}

/* Starts moving to an array of `size` buckets. */
static void resize_start(hashtab *h, size_t size)
{
    if (h->size[0] == 0) {
        h->size[0] = size;
        h->buckets[0] = buckets_new(h, size);
        return;
    }
    h->size[1] = size;
    h->buckets[1] = buckets_new(h, size);
    h->rehash_idx = 0;
}

static size_t chain_len(const ht_elem *b)
{
    size_t n = 0;
    for (; b; b = b->next)
        n++;
    return n;
}

/* Links e at the head of bucket b of array i, keeping that array's chain bound. */
static void link_elem(hashtab *h, int i, size_t b, ht_elem *e)
{
    e->next = h->buckets[i][b];
    h->buckets[i][b] = e;
    size_t len = chain_len(e);
    if (len > h->max_chain[i])
        h->max_chain[i] = len;
}

static void move_bucket(hashtab *h, size_t idx)
{
    ht_elem *e = h->buckets[0][idx];
    while (e) {
        ht_elem *next = e->next;
        link_elem(h, 1, elem_hash(e) & (h->size[1] - 1), e);
        h->used[0]--;
        h->used[1]++;
        e = next;
    }
    h->buckets[0][idx] = NULL;
}

/* Moves up to HT_REHASH_BUCKETS buckets; when the old array is empty, the new one takes its
 * place. */
static void rehash_step(hashtab *h)
{
    if (!rehashing(h))
        return;
    int moves = HT_REHASH_BUCKETS, empty = HT_REHASH_EMPTY_VISITS;
    while (moves-- && h->used[0]) {
        while (h->buckets[0][h->rehash_idx] == NULL) {
            h->rehash_idx++;
            if (--empty == 0)
                return;
        }
        move_bucket(h, (size_t)h->rehash_idx);
        h->rehash_idx++;
    }
    if (h->used[0] == 0) {
        buckets_free(h, h->buckets[0]);
        h->buckets[0] = h->buckets[1];
        h->size[0] = h->size[1];
        h->used[0] = h->used[1];
        h->max_chain[0] = h->max_chain[1];
        h->max_chain[1] = 0;
        h->buckets[1] = NULL;
        h->size[1] = 0;
        h->used[1] = 0;
        h->rehash_idx = -1;
    }
}

/* Starts a resize when the load calls for one; only between rehashes, as Redis does. */
static void maybe_resize(hashtab *h)
{
    if (rehashing(h))
        return;
    size_t n = h->used[0];
    if (h->size[0] == 0 || n >= h->size[0])
        resize_start(h, pow2_at_least(n * 2));
    else if (h->size[0] > HT_MIN_SIZE && n < h->size[0] / HT_SHRINK_RATIO)
        resize_start(h, pow2_at_least(n));
}

/* The link that points to key's element, or NULL. */
static ht_elem **find_ref(const hashtab *h, const char *key, size_t klen, uint64_t hash)
{
    for (int i = 0; i < 2; i++) {
        if (h->size[i] == 0)
            continue;
        ht_elem **ref = &h->buckets[i][hash & (h->size[i] - 1)];
        for (; *ref; ref = &(*ref)->next)
            if (elem_eq(*ref, key, klen))
                return ref;
        if (!rehashing(h))
            break;
    }
    return NULL;
}

ht_elem *ht_find(const hashtab *h, const char *key, size_t klen)
{
    if (ht_count(h) == 0)
        return NULL;
    ht_elem **ref = find_ref(h, key, klen, table_hash(key, klen));
    return ref ? *ref : NULL;
}

/* Links a new element for an absent key into the array that takes inserts. */
static void insert_new(hashtab *h, ht_elem *e, uint64_t hash)
{
    int i = rehashing(h) ? 1 : 0;
    link_elem(h, i, hash & (h->size[i] - 1), e);
    h->used[i]++;
}

/* Overwrites the value of the element behind ref, in place when the block has room. */
static void replace_value(hashtab *h, ht_elem **ref, const char *val, size_t vlen)
{
    ht_elem *old = *ref;
    size_t klen;
    const char *key = ht_elem_key(old, &klen);
    size_t oldv;
    varint_get(elem_val_part(old), &oldv);
    if (varint_len(oldv) == varint_len(vlen) && elem_size(klen, vlen) <= zmalloc_size(old)) {
        elem_put_val(elem_val_part(old), val, vlen);
        return;
    }
    ht_elem *e = elem_new(h, key, klen, val, vlen);
    e->next = old->next;
    *ref = e;
    elem_free(h, old);
}

/* Shared by ht_add and ht_set: adds key, or (when overwrite) replaces its value. */
static int add_or_set(hashtab *h, const char *key, size_t klen, const char *val, size_t vlen,
                      int overwrite)
{
    rehash_step(h);
    uint64_t hash = table_hash(key, klen);
    ht_elem **ref = ht_count(h) ? find_ref(h, key, klen, hash) : NULL;
    if (ref) {
        if (overwrite && h->with_values)
            replace_value(h, ref, val, vlen);
        return 0;
    }
    maybe_resize(h);
    insert_new(h, elem_new(h, key, klen, val, vlen), hash);
    return 1;
}

int ht_add(hashtab *h, const char *key, size_t klen, const char *val, size_t vlen)
{
    return add_or_set(h, key, klen, val, vlen, 0);
}

int ht_set(hashtab *h, const char *key, size_t klen, const char *val, size_t vlen)
{
    return add_or_set(h, key, klen, val, vlen, 1);
}

int ht_delete(hashtab *h, const char *key, size_t klen)
{
    if (ht_count(h) == 0)
        return 0;
    rehash_step(h);
    uint64_t hash = table_hash(key, klen);
    for (int i = 0; i < 2; i++) {
        if (h->size[i] == 0)
            continue;
        ht_elem **ref = &h->buckets[i][hash & (h->size[i] - 1)];
        for (; *ref; ref = &(*ref)->next) {
            if (!elem_eq(*ref, key, klen))
                continue;
            ht_elem *e = *ref;
            *ref = e->next;
            h->used[i]--;
            elem_free(h, e); /* key may point into e: not read past this point */
            maybe_resize(h);
            return 1;
        }
        if (!rehashing(h))
            break;
    }
    return 0;
}

hashtab *ht_dup(const hashtab *h)
{
    hashtab *d = ht_new(h->with_values, ht_count(h));
    ht_iter it;
    ht_iter_init(&it, h);
    const ht_elem *e;
    while ((e = ht_iter_next(&it))) {
        size_t klen, vlen = 0;
        const char *k = ht_elem_key(e, &klen);
        const char *v = h->with_values ? ht_elem_val(e, &vlen) : "";
        insert_new(d, elem_new(d, k, klen, v, vlen), table_hash(k, klen));
    }
    return d;
}

/* ---- iteration, scan, random ---------------------------------------------------------------- */

void ht_iter_init(ht_iter *it, const hashtab *h)
{
    it->h = h;
    it->table = 0;
    it->bucket = 0;
    it->next = NULL;
}

const ht_elem *ht_iter_next(ht_iter *it)
{
    const hashtab *h = it->h;
    while (!it->next) {
        if (it->bucket >= h->size[it->table]) {
            if (it->table == 1 || h->size[1] == 0)
                return NULL;
            it->table = 1;
            it->bucket = 0;
            continue;
        }
        it->next = h->buckets[it->table][it->bucket++];
    }
    const ht_elem *e = it->next;
    it->next = e->next;
    return e;
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

/* The cursor after v in reverse-binary order over mask's bits. */
static uint64_t cursor_next(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static void scan_bucket(const ht_elem *e, ht_scan_fn fn, void *arg)
{
    while (e) {
        const ht_elem *next = e->next;
        fn(arg, e);
        e = next;
    }
}

/* Redis's dictScan: during a rehash, the small array's bucket and every bucket of the large
 * array it expands to are visited together. */
uint64_t ht_scan(const hashtab *h, uint64_t v, ht_scan_fn fn, void *arg)
{
    if (ht_count(h) == 0)
        return 0;
    if (!rehashing(h)) {
        uint64_t m0 = h->size[0] - 1;
        scan_bucket(h->buckets[0][v & m0], fn, arg);
        return cursor_next(v, m0);
    }
    int small = h->size[0] <= h->size[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = h->size[small] - 1, m1 = h->size[large] - 1;
    scan_bucket(h->buckets[small][v & m0], fn, arg);
    do {
        scan_bucket(h->buckets[large][v & m1], fn, arg);
        v = cursor_next(v, m1);
    } while (v & (m0 ^ m1));
    return v;
}

static uint64_t mix64(uint64_t r)
{
    r ^= r >> 33;
    r *= 0xff51afd7ed558ccdull;
    r ^= r >> 33;
    return r;
}

static const ht_elem *chain_nth(const ht_elem *b, size_t k)
{
    while (k--)
        b = b->next;
    return b;
}

/* The bucket at linear position idx over both arrays. */
static const ht_elem *bucket_at(const hashtab *h, size_t idx)
{
    return idx < h->size[0] ? h->buckets[0][idx] : h->buckets[1][idx - h->size[0]];
}

/* Exactly uniform over the elements: a random non-empty bucket of length L is kept with
 * probability L / F, F being a bound on every chain's length, then one of its L elements is
 * taken, so every element has the same chance 1 / F per trial. Picking bucket then element
 * without that step would favour elements that share no bucket. */
const ht_elem *ht_random(const hashtab *h, uint64_t rnd)
{
    if (ht_count(h) == 0)
        return NULL;
    size_t total = h->size[0] + h->size[1];
    size_t fair = h->max_chain[0] > h->max_chain[1] ? h->max_chain[0] : h->max_chain[1];
    uint64_t r = rnd;
    /* Moved buckets of the old array are empty and simply miss. */
    for (int tries = 0; tries < HT_RANDOM_PROBES; tries++) {
        r = mix64(rnd + (uint64_t)tries * 0x9e3779b97f4a7c15ull);
        const ht_elem *b = bucket_at(h, (size_t)(r % total));
        if (!b)
            continue;
        size_t len = chain_len(b);
        uint64_t r2 = mix64(r);
        if (len < fair && r2 % fair >= len)
            continue;
        return chain_nth(b, (size_t)((r2 >> 32) % len));
    }
    for (size_t i = 0; i < total; i++) {
        const ht_elem *b = bucket_at(h, (size_t)((r + i) % total));
        if (b)
            return chain_nth(b, (size_t)((r >> 32) % chain_len(b)));
    }
    assert(0 && "non-empty table without elements");
    return NULL;
}
