/* zskiplist: Redis's skiplist with spans (zslInsert, zslDeleteNode, zslGetRank...) whose nodes
 * also carry the member bytes and the chain link of an intrusive member index. See zskiplist.h.
 *
 * Invariants: level[i].span of a link counts the elements it jumps over (a link to NULL counts
 * those up to the end); the header's links span from "rank 0". Every node is in exactly one
 * bucket chain of the index: buckets[0] at index >= rehash_idx, or buckets[1]. */
#include "zskiplist.h"

#include <assert.h>
#include <string.h>

#include "table.h"
#include "zmalloc.h"

#define ZSL_P_BITS 2 /* a level is added with probability 1/4 (Redis's P) */
#define ZSL_P_MASK ((1u << ZSL_P_BITS) - 1)
#define ZSL_RANDOM_SEED 0x9e3779b97f4a7c15ull /* any non-zero xorshift state */
#define INDEX_MIN_SIZE 4          /* smallest bucket array (Redis's DICT_HT_INITIAL_SIZE) */
#define INDEX_SHRINK_RATIO 8      /* shrink when fewer members than buckets / this */
#define REHASH_BUCKETS_PER_STEP 4 /* buckets moved by each modification */
#define REHASH_EMPTY_VISITS 10    /* empty buckets a step may skip (Redis's empty_visits) */

/* ---- ranges ------------------------------------------------------------------------------- */

int zrange_score_gte_min(double v, const zrange_score *r)
{
    return r->minex ? v > r->min : v >= r->min;
}

int zrange_score_lte_max(double v, const zrange_score *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

int zrange_score_empty(const zrange_score *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

int zlex_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int cmp = n ? memcmp(a, b, n) : 0;
    if (cmp)
        return cmp;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Redis's sdscmplex for a member against a range end: "-" is below and "+" above everything. */
static int lex_cmp_end(const char *s, size_t len, int kind, const char *end, size_t endlen)
{
    if (kind == ZLEX_MINUS_INF)
        return 1;
    if (kind == ZLEX_PLUS_INF)
        return -1;
    return zlex_cmp(s, len, end, endlen);
}

int zrange_lex_gte_min(const char *s, size_t len, const zrange_lex *r)
{
    int cmp = lex_cmp_end(s, len, r->minkind, r->min, r->minlen);
    return r->minex ? cmp > 0 : cmp >= 0;
}

int zrange_lex_lte_max(const char *s, size_t len, const zrange_lex *r)
{
    int cmp = lex_cmp_end(s, len, r->maxkind, r->max, r->maxlen);
    return r->maxex ? cmp < 0 : cmp <= 0;
}

int zrange_lex_empty(const zrange_lex *r)
{
    int cmp;
    if (r->minkind == r->maxkind && r->minkind != ZLEX_VALUE)
        cmp = 0;
    else if (r->minkind == ZLEX_MINUS_INF || r->maxkind == ZLEX_PLUS_INF)
        cmp = -1;
    else if (r->minkind == ZLEX_PLUS_INF || r->maxkind == ZLEX_MINUS_INF)
        cmp = 1;
    else
        cmp = zlex_cmp(r->min, r->minlen, r->max, r->maxlen);
    return cmp > 0 || (cmp == 0 && (r->minex || r->maxex));
}

/* ---- nodes ---------------------------------------------------------------------------------- */

/* Redis's zslRandomLevel: each further level with probability 1/4, from a per-thread
 * xorshift generator (the skiplist of one shard is only touched by one thread at a time). */
static int random_level(void)
{
    static _Thread_local uint64_t state = ZSL_RANDOM_SEED;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    uint64_t r = state;
    int level = 1;
    while ((r & ZSL_P_MASK) == 0 && level < ZSL_MAXLEVEL) {
        level++;
        r >>= ZSL_P_BITS;
    }
    return level;
}

static zsl_node *node_new(zskiplist *zsl, int nlevel, double score, const char *m, size_t len)
{
    size_t size = sizeof(zsl_node) + (size_t)nlevel * sizeof(struct zsl_level) + len;
    zsl_node *n = zmalloc(size);
    n->score = score;
    n->backward = NULL;
    n->hnext = NULL;
    n->mlen = (uint32_t)len;
    n->nlevel = (uint32_t)nlevel;
    for (int i = 0; i < nlevel; i++) {
        n->level[i].forward = NULL;
        n->level[i].span = 0;
    }
    if (len)
        memcpy((char *)zsl_node_member(n), m, len);
    if (zsl)
        zsl->mem += zmalloc_size(n);
    return n;
}

static void node_free(zskiplist *zsl, zsl_node *n)
{
    zsl->mem -= zmalloc_size(n);
    zfree(n);
}

/* (score, member) order of node n against (score, m). */
static int node_cmp(const zsl_node *n, double score, const char *m, size_t len)
{
    if (n->score != score)
        return n->score < score ? -1 : 1;
    return zlex_cmp(zsl_node_member(n), n->mlen, m, len);
}

/* ---- member index --------------------------------------------------------------------------- */

static int index_rehashing(const zskiplist *zsl)
{
    return zsl->rehash_idx >= 0;
}

static uint64_t node_hash(const zsl_node *n)
{
    return table_hash(zsl_node_member(n), n->mlen);
}

static zsl_node **buckets_new(zskiplist *zsl, size_t size)
{
    zsl_node **b = zcalloc(size * sizeof(*b));
    zsl->mem += zmalloc_size(b);
    return b;
}

static void buckets_free(zskiplist *zsl, zsl_node **b)
{
    if (!b)
        return;
    zsl->mem -= zmalloc_size(b);
    zfree(b);
}

/* Moves up to n buckets from the old array into the new one; finishes the rehash when the old
 * array is empty. */
static void index_rehash_step(zskiplist *zsl, int n)
{
    int empty_visits = n * REHASH_EMPTY_VISITS;
    while (n-- > 0 && index_rehashing(zsl)) {
        while ((size_t)zsl->rehash_idx < zsl->size[0] && !zsl->buckets[0][zsl->rehash_idx]) {
            zsl->rehash_idx++;
            if (--empty_visits == 0)
                return;
        }
        if ((size_t)zsl->rehash_idx < zsl->size[0]) {
            zsl_node *x = zsl->buckets[0][zsl->rehash_idx];
            while (x) {
                zsl_node *next = x->hnext;
                size_t idx = node_hash(x) & (zsl->size[1] - 1);
                x->hnext = zsl->buckets[1][idx];
                zsl->buckets[1][idx] = x;
                x = next;
            }
            zsl->buckets[0][zsl->rehash_idx++] = NULL;
        }
        if ((size_t)zsl->rehash_idx >= zsl->size[0]) {
            buckets_free(zsl, zsl->buckets[0]);
            zsl->buckets[0] = zsl->buckets[1];
            zsl->size[0] = zsl->size[1];
            zsl->buckets[1] = NULL;
            zsl->size[1] = 0;
            zsl->rehash_idx = -1;
        }
    }
}

static size_t pow2_at_least(size_t n)
{
    size_t s = INDEX_MIN_SIZE;
    while (s < n)
        s <<= 1;
    return s;
}

/* Starts moving the index to a bucket array of `size`; an empty index switches at once. */
static void index_resize(zskiplist *zsl, size_t size)
{
    if (size == zsl->size[0])
        return;
    zsl_node **b = buckets_new(zsl, size);
    if (zsl->size[0] == 0) {
        zsl->buckets[0] = b;
        zsl->size[0] = size;
        return;
    }
    zsl->buckets[1] = b;
    zsl->size[1] = size;
    zsl->rehash_idx = 0;
}

/* Grows at load factor 1, shrinks below 1/INDEX_SHRINK_RATIO (as Redis's dict), never while a
 * rehash runs. */
static void index_maybe_resize(zskiplist *zsl)
{
    if (index_rehashing(zsl))
        return;
    if (zsl->length > zsl->size[0])
        index_resize(zsl, pow2_at_least(zsl->length * 2));
    else if (zsl->size[0] > INDEX_MIN_SIZE && zsl->length < zsl->size[0] / INDEX_SHRINK_RATIO)
        index_resize(zsl, pow2_at_least(zsl->length));
}

static void index_add(zskiplist *zsl, zsl_node *n)
{
    index_maybe_resize(zsl);
    index_rehash_step(zsl, REHASH_BUCKETS_PER_STEP);
    int t = index_rehashing(zsl) ? 1 : 0;
    size_t idx = node_hash(n) & (zsl->size[t] - 1);
    n->hnext = zsl->buckets[t][idx];
    zsl->buckets[t][idx] = n;
}

/* Unlinks n from its bucket chain. */
static void index_remove(zskiplist *zsl, zsl_node *n)
{
    index_rehash_step(zsl, REHASH_BUCKETS_PER_STEP);
    uint64_t h = node_hash(n);
    for (int t = 0; t <= 1; t++) {
        if (zsl->size[t] == 0)
            continue;
        zsl_node **ref = &zsl->buckets[t][h & (zsl->size[t] - 1)];
        while (*ref && *ref != n)
            ref = &(*ref)->hnext;
        if (*ref) {
            *ref = n->hnext;
            n->hnext = NULL;
            return;
        }
    }
    assert(!"zskiplist node missing from its index");
}

zsl_node *zsl_find(const zskiplist *zsl, const char *member, size_t len)
{
    if (zsl->length == 0)
        return NULL;
    uint64_t h = table_hash(member, len);
    for (int t = 0; t <= 1; t++) {
        if (zsl->size[t] == 0)
            continue;
        for (zsl_node *n = zsl->buckets[t][h & (zsl->size[t] - 1)]; n; n = n->hnext)
            if (n->mlen == len && memcmp(zsl_node_member(n), member, len) == 0)
                return n;
    }
    return NULL;
}

static uint64_t rev_bits(uint64_t v)
{
    uint64_t s = 8 * sizeof(v), mask = ~0ull;
    while ((s >>= 1) > 0) {
        mask ^= (mask << s);
        v = ((v >> s) & mask) | ((v << s) & ~mask);
    }
    return v;
}

static void scan_bucket(zsl_node *n, zsl_scan_fn fn, void *arg)
{
    for (; n; n = n->hnext)
        fn(arg, n);
}

/* Redis's dictScan, over the one or two bucket arrays of the index. */
uint64_t zsl_scan(const zskiplist *zsl, uint64_t v, zsl_scan_fn fn, void *arg)
{
    if (zsl->length == 0 || zsl->size[0] == 0)
        return 0;
    if (!index_rehashing(zsl)) {
        uint64_t m0 = zsl->size[0] - 1;
        scan_bucket(zsl->buckets[0][v & m0], fn, arg);
        v |= ~m0;
        v = rev_bits(v);
        v++;
        return rev_bits(v);
    }
    int small = zsl->size[0] <= zsl->size[1] ? 0 : 1, big = 1 - small;
    uint64_t m0 = zsl->size[small] - 1, m1 = zsl->size[big] - 1;
    scan_bucket(zsl->buckets[small][v & m0], fn, arg);
    do {
        scan_bucket(zsl->buckets[big][v & m1], fn, arg);
        v |= ~m1;
        v = rev_bits(v);
        v++;
        v = rev_bits(v);
    } while (v & (m0 ^ m1));
    return v;
}

/* ---- skiplist ------------------------------------------------------------------------------- */

zskiplist *zsl_new(size_t expected)
{
    zskiplist *zsl = zcalloc(sizeof(*zsl));
    zsl->mem = zmalloc_size(zsl);
    zsl->level = 1;
    zsl->rehash_idx = -1;
    zsl->header = node_new(zsl, ZSL_MAXLEVEL, 0, NULL, 0);
    if (expected)
        index_resize(zsl, pow2_at_least(expected));
    return zsl;
}

void zsl_free(zskiplist *zsl)
{
    if (!zsl)
        return;
    zsl_node *n = zsl->header;
    while (n) {
        zsl_node *next = n->level[0].forward;
        zfree(n);
        n = next;
    }
    zfree(zsl->buckets[0]);
    zfree(zsl->buckets[1]);
    zfree(zsl);
}

/* Links node x (its level array set up, member and score final) after the nodes in update[],
 * whose ranks are rank[]. Redis's zslInsert from the point the node exists. */
static void link_node(zskiplist *zsl, zsl_node *x, zsl_node **update, unsigned long *rank)
{
    int level = (int)x->nlevel;
    if (level > zsl->level) {
        for (int i = zsl->level; i < level; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->level[i].span = zsl->length;
        }
        zsl->level = level;
    }
    for (int i = 0; i < level; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < zsl->level; i++)
        update[i]->level[i].span++;
    x->backward = (update[0] == zsl->header) ? NULL : update[0];
    if (x->level[0].forward)
        x->level[0].forward->backward = x;
    else
        zsl->tail = x;
    zsl->length++;
}

/* Fills update[] with the last node before (score, m) at each level, and rank[] with their
 * ranks. */
static void find_update(const zskiplist *zsl, double score, const char *m, size_t len,
                        zsl_node **update, unsigned long *rank)
{
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == (zsl->level - 1) ? 0 : rank[i + 1];
        while (x->level[i].forward && node_cmp(x->level[i].forward, score, m, len) < 0) {
            rank[i] += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
}

zsl_node *zsl_insert(zskiplist *zsl, double score, const char *member, size_t len)
{
    zsl_node *update[ZSL_MAXLEVEL];
    unsigned long rank[ZSL_MAXLEVEL];
    find_update(zsl, score, member, len, update, rank);
    zsl_node *x = node_new(zsl, random_level(), score, member, len);
    link_node(zsl, x, update, rank);
    index_add(zsl, x);
    return x;
}

/* Redis's zslDeleteNode: unlinks x given the update[] of its position; does not free it. */
static void unlink_node(zskiplist *zsl, zsl_node *x, zsl_node **update)
{
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward)
        x->level[0].forward->backward = x->backward;
    else
        zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL)
        zsl->level--;
    zsl->length--;
}

zsl_node *zsl_update_score(zskiplist *zsl, zsl_node *x, double newscore)
{
    const char *m = zsl_node_member(x);
    /* Still between its neighbours: only the score changes (Redis's fast path). */
    if ((x->backward == NULL || node_cmp(x->backward, newscore, m, x->mlen) < 0) &&
        (x->level[0].forward == NULL || node_cmp(x->level[0].forward, newscore, m, x->mlen) > 0)) {
        x->score = newscore;
        return x;
    }
    zsl_node *update[ZSL_MAXLEVEL];
    unsigned long rank[ZSL_MAXLEVEL];
    find_update(zsl, x->score, m, x->mlen, update, rank);
    assert(update[0]->level[0].forward == x);
    unlink_node(zsl, x, update);
    /* The node keeps its level: the level was random, so the distribution stays right. */
    x->score = newscore;
    find_update(zsl, newscore, m, x->mlen, update, rank);
    link_node(zsl, x, update, rank);
    return x;
}

void zsl_delete_node(zskiplist *zsl, zsl_node *x)
{
    zsl_node *update[ZSL_MAXLEVEL];
    unsigned long rank[ZSL_MAXLEVEL];
    find_update(zsl, x->score, zsl_node_member(x), x->mlen, update, rank);
    assert(update[0]->level[0].forward == x);
    unlink_node(zsl, x, update);
    index_remove(zsl, x);
    node_free(zsl, x);
    index_maybe_resize(zsl);
}

int zsl_delete(zskiplist *zsl, const char *member, size_t len)
{
    zsl_node *x = zsl_find(zsl, member, len);
    if (!x)
        return 0;
    zsl_delete_node(zsl, x);
    return 1;
}

unsigned long zsl_delete_rank_range(zskiplist *zsl, unsigned long start, unsigned long end)
{
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    unsigned long traversed = 0, removed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && (traversed + x->level[i].span) < start) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    traversed++;
    x = x->level[0].forward;
    while (x && traversed <= end) {
        zsl_node *next = x->level[0].forward;
        unlink_node(zsl, x, update);
        index_remove(zsl, x);
        node_free(zsl, x);
        removed++;
        traversed++;
        x = next;
    }
    index_maybe_resize(zsl);
    return removed;
}

unsigned long zsl_rank(const zskiplist *zsl, const zsl_node *node)
{
    const zsl_node *x = zsl->header;
    const char *m = zsl_node_member(node);
    unsigned long rank = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward &&
               node_cmp(x->level[i].forward, node->score, m, node->mlen) <= 0) {
            rank += x->level[i].span;
            x = x->level[i].forward;
        }
        if (x == node)
            return rank;
    }
    return 0;
}

zsl_node *zsl_by_rank(const zskiplist *zsl, unsigned long rank)
{
    zsl_node *x = zsl->header;
    unsigned long traversed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && (traversed + x->level[i].span) <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank)
            return x == zsl->header ? NULL : x;
    }
    return NULL;
}

/* Redis's zslIsInRange: does any element fall in r? */
static int score_range_overlaps(const zskiplist *zsl, const zrange_score *r)
{
    if (zrange_score_empty(r))
        return 0;
    zsl_node *x = zsl->tail;
    if (!x || !zrange_score_gte_min(x->score, r))
        return 0;
    x = zsl_first(zsl);
    return x && zrange_score_lte_max(x->score, r);
}

zsl_node *zsl_first_in_score(const zskiplist *zsl, const zrange_score *r)
{
    if (!score_range_overlaps(zsl, r))
        return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zrange_score_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return x && zrange_score_lte_max(x->score, r) ? x : NULL;
}

zsl_node *zsl_last_in_score(const zskiplist *zsl, const zrange_score *r)
{
    if (!score_range_overlaps(zsl, r))
        return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && zrange_score_lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    return x != zsl->header && zrange_score_gte_min(x->score, r) ? x : NULL;
}

static int lex_gte(const zsl_node *n, const zrange_lex *r)
{
    return zrange_lex_gte_min(zsl_node_member(n), n->mlen, r);
}

static int lex_lte(const zsl_node *n, const zrange_lex *r)
{
    return zrange_lex_lte_max(zsl_node_member(n), n->mlen, r);
}

static int lex_range_overlaps(const zskiplist *zsl, const zrange_lex *r)
{
    if (zrange_lex_empty(r))
        return 0;
    zsl_node *x = zsl->tail;
    if (!x || !lex_gte(x, r))
        return 0;
    x = zsl_first(zsl);
    return x && lex_lte(x, r);
}

zsl_node *zsl_first_in_lex(const zskiplist *zsl, const zrange_lex *r)
{
    if (!lex_range_overlaps(zsl, r))
        return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !lex_gte(x->level[i].forward, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return x && lex_lte(x, r) ? x : NULL;
}

zsl_node *zsl_seek_lex_min(const zskiplist *zsl, const zrange_lex *r)
{
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !lex_gte(x->level[i].forward, r))
            x = x->level[i].forward;
    return x->level[0].forward;
}

zsl_node *zsl_last_in_lex(const zskiplist *zsl, const zrange_lex *r)
{
    if (!lex_range_overlaps(zsl, r))
        return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && lex_lte(x->level[i].forward, r))
            x = x->level[i].forward;
    return x != zsl->header && lex_gte(x, r) ? x : NULL;
}

/* A copy with the same node levels, built by appending in order: O(n). */
zskiplist *zsl_dup(const zskiplist *src)
{
    zskiplist *zsl = zsl_new(src->length);
    zsl_node *last[ZSL_MAXLEVEL];
    unsigned long last_rank[ZSL_MAXLEVEL];
    for (int i = 0; i < ZSL_MAXLEVEL; i++) {
        last[i] = zsl->header;
        last_rank[i] = 0;
    }
    zsl->level = src->level;
    for (const zsl_node *s = zsl_first(src); s; s = zsl_next(s)) {
        zsl_node *x = node_new(zsl, (int)s->nlevel, s->score, zsl_node_member(s), s->mlen);
        unsigned long rank = zsl->length + 1;
        for (int i = 0; i < (int)x->nlevel; i++) {
            last[i]->level[i].forward = x;
            last[i]->level[i].span = rank - last_rank[i];
            last[i] = x;
            last_rank[i] = rank;
        }
        x->backward = zsl->tail;
        zsl->tail = x;
        zsl->length = rank;
        index_add(zsl, x);
    }
    /* Links to NULL span the elements after their node. */
    for (int i = 0; i < zsl->level; i++)
        last[i]->level[i].span = zsl->length - last_rank[i];
    return zsl;
}
