/* zskiplist: the large encoding of sorted sets. A skiplist ordered by (score, member) with
 * spans, so rank queries and rank ranges cost O(log n) (Redis's zskiplist), plus a member index
 * (member -> node) for O(1) ZSCORE and membership tests.
 *
 * Redis keeps the member twice (an sds in the skiplist node, shared with a dict entry that holds
 * a pointer to the score); here each element is ONE zmalloc block: the node with its level array,
 * the index chain link and the member bytes. The index is intrusive (its chains go through the
 * nodes), its buckets rehash incrementally as the table grows or shrinks (a few buckets per
 * modification), and scans use Redis's reverse-binary cursor across rehashes.
 *
 * Owned by whoever owns the value (one shard): no locking. Node pointers stay valid until that
 * node is deleted; score updates keep the node (it is relinked, not reallocated). */
#ifndef DFLY_ZSKIPLIST_H
#define DFLY_ZSKIPLIST_H

#include <stddef.h>
#include <stdint.h>

#define ZSL_MAXLEVEL 32 /* enough for 2^64 elements with P = 1/4 */

typedef struct zsl_node zsl_node;
struct zsl_level {
    zsl_node *forward;
    unsigned long span; /* elements the forward link jumps over (rank arithmetic) */
};
struct zsl_node {
    double score;
    zsl_node *backward; /* previous node at level 0; NULL for the first */
    zsl_node *hnext;    /* next node of the same member-index bucket */
    uint32_t mlen;      /* member length */
    uint32_t nlevel;
    struct zsl_level level[]; /* nlevel of them, then the mlen member bytes */
};

static inline const char *zsl_node_member(const zsl_node *n)
{
    return (const char *)&n->level[n->nlevel];
}

typedef struct zskiplist {
    zsl_node *header; /* sentinel with ZSL_MAXLEVEL levels, holds no element */
    zsl_node *tail;
    unsigned long length;
    int level; /* levels in use */
    /* Member index: chained buckets, two arrays while a rehash runs. */
    zsl_node **buckets[2];
    size_t size[2];  /* power of two, or 0 */
    long rehash_idx; /* next bucket of buckets[0] to move, -1 when not rehashing */
    size_t mem;      /* zmalloc bytes of everything above (MEMORY USAGE in O(1)) */
} zskiplist;

/* A score interval; minex/maxex make an end exclusive ("(1.5"). */
typedef struct zrange_score {
    double min, max;
    int minex, maxex;
} zrange_score;

/* A lexicographic interval. An end is a member value, or "-" / "+" (below / above every
 * member). */
enum { ZLEX_VALUE = 0, ZLEX_MINUS_INF, ZLEX_PLUS_INF };
typedef struct zrange_lex {
    const char *min, *max;
    size_t minlen, maxlen;
    int minex, maxex;
    int minkind, maxkind; /* ZLEX_* */
} zrange_lex;

/* Range predicates shared with the listpack encoding. */
int zrange_score_gte_min(double v, const zrange_score *r);
int zrange_score_lte_max(double v, const zrange_score *r);
int zrange_score_empty(const zrange_score *r);
/* Byte-wise comparison as memcmp, shorter first on a tie (Redis's sdscmp). */
int zlex_cmp(const char *a, size_t alen, const char *b, size_t blen);
int zrange_lex_gte_min(const char *s, size_t len, const zrange_lex *r);
int zrange_lex_lte_max(const char *s, size_t len, const zrange_lex *r);
int zrange_lex_empty(const zrange_lex *r);

/* A new, empty skiplist with index room for `expected` members (0: grow as needed). */
zskiplist *zsl_new(size_t expected);
void zsl_free(zskiplist *zsl);
zskiplist *zsl_dup(const zskiplist *zsl);
static inline unsigned long zsl_length(const zskiplist *zsl)
{
    return zsl->length;
}
static inline size_t zsl_mem_usage(const zskiplist *zsl)
{
    return zsl->mem;
}

/* The node of member, or NULL. */
zsl_node *zsl_find(const zskiplist *zsl, const char *member, size_t len);
/* Inserts member (which must be absent) with score; returns its node. */
zsl_node *zsl_insert(zskiplist *zsl, double score, const char *member, size_t len);
/* Moves node to newscore; returns it (the same node). */
zsl_node *zsl_update_score(zskiplist *zsl, zsl_node *node, double newscore);
/* Deletes node and frees it. */
void zsl_delete_node(zskiplist *zsl, zsl_node *node);
/* Deletes member: 1 when it was present. */
int zsl_delete(zskiplist *zsl, const char *member, size_t len);
/* Deletes the elements of ranks start..end (1-based, inclusive); returns how many. */
unsigned long zsl_delete_rank_range(zskiplist *zsl, unsigned long start, unsigned long end);

/* 1-based rank of node (position from the lowest score). */
unsigned long zsl_rank(const zskiplist *zsl, const zsl_node *node);
/* The node at 1-based rank, or NULL. */
zsl_node *zsl_by_rank(const zskiplist *zsl, unsigned long rank);
static inline zsl_node *zsl_first(const zskiplist *zsl)
{
    return zsl->header->level[0].forward;
}
static inline zsl_node *zsl_last(const zskiplist *zsl)
{
    return zsl->tail;
}
static inline zsl_node *zsl_next(const zsl_node *n)
{
    return n->level[0].forward;
}
static inline zsl_node *zsl_prev(const zsl_node *n)
{
    return n->backward;
}
/* First / last node within the range, or NULL. */
zsl_node *zsl_first_in_score(const zskiplist *zsl, const zrange_score *r);
zsl_node *zsl_last_in_score(const zskiplist *zsl, const zrange_score *r);
zsl_node *zsl_first_in_lex(const zskiplist *zsl, const zrange_lex *r);
zsl_node *zsl_last_in_lex(const zskiplist *zsl, const zrange_lex *r);
/* The first node the descent to r's minimum reaches (no check that it is within r). */
zsl_node *zsl_seek_lex_min(const zskiplist *zsl, const zrange_lex *r);

/* Scans the member index (Redis's dictScan contract: cursor 0 starts and is returned at the
 * end; every member present for the whole scan is reported at least once). fn must not modify
 * the skiplist. */
typedef void (*zsl_scan_fn)(void *arg, const zsl_node *node);
uint64_t zsl_scan(const zskiplist *zsl, uint64_t cursor, zsl_scan_fn fn, void *arg);

#endif
