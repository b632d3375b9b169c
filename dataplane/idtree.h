/* idtree: an ordered map from stream IDs (ms-seq, compared as one 128-bit number) to pointers,
 * kept as a B+tree whose leaves are chained both ways for range scans in either direction.
 *
 * Streams use it for their node index (the first ID of each node -> the node), and consumer
 * groups for their pending entries lists. Lookups, inserts and removals are O(log n); a tree
 * that only ever receives growing IDs (the common case: appends) fills its leaves completely.
 * A lone root leaf starts small and grows, so that the many tiny PELs of a job queue stay cheap;
 * an empty tree owns no memory at all.
 *
 * Every node comes from zmalloc and `bytes` counts them (MEMORY USAGE). The tree belongs to
 * the value that embeds it: one shard's data, no locking. Iterators are plain positions: any
 * insert or remove invalidates them (callers re-seek by key). */
#ifndef DFLY_IDTREE_H
#define DFLY_IDTREE_H

#include <stddef.h>
#include <stdint.h>

typedef struct stream_id {
    uint64_t ms;
    uint64_t seq;
} stream_id;

static inline int stream_id_cmp(const stream_id *a, const stream_id *b)
{
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

typedef struct idtree {
    void *root;      /* NULL when empty */
    uint64_t size;   /* keys */
    uint32_t height; /* 0 when empty, 1 when the root is a leaf */
    size_t bytes;    /* zmalloc'd by the tree's nodes */
} idtree;

struct idt_leaf;
typedef struct idtree_iter {
    struct idt_leaf *leaf; /* NULL: past either end */
    int pos;
} idtree_iter;

/* An empty tree is all zeros: `idtree t = {0};` works too. */
void idtree_init(idtree *t);
/* Frees every node, calling free_val (when not NULL) on each value; leaves the tree empty. */
void idtree_clear(idtree *t, void (*free_val)(void *val));

/* The value slot of id, or NULL when absent. */
void **idtree_find(const idtree *t, const stream_id *id);
/* Adds id -> val. Returns 1, or 0 (and changes nothing) when id is already there. */
int idtree_insert(idtree *t, const stream_id *id, void *val);
/* Removes id; returns 1 and its value in *old (when not NULL), or 0 when absent. */
int idtree_remove(idtree *t, const stream_id *id, void **old);

/* Positioning; each returns 1 when the iterator points at a key, 0 when there is none. */
int idtree_first(const idtree *t, idtree_iter *it);
int idtree_last(const idtree *t, idtree_iter *it);
int idtree_seek_ge(const idtree *t, const stream_id *id, idtree_iter *it); /* first key >= id */
int idtree_seek_le(const idtree *t, const stream_id *id, idtree_iter *it); /* last key <= id */
int idtree_next(idtree_iter *it);
int idtree_prev(idtree_iter *it);
static inline int idtree_valid(const idtree_iter *it)
{
    return it->leaf != NULL;
}
stream_id idtree_key(const idtree_iter *it);
void *idtree_val(const idtree_iter *it);
void idtree_set_val(const idtree_iter *it, void *val);

/* Checks the invariants (order, fill, leaf chain, sizes); 1 when sound. For tests. */
int idtree_check(const idtree *t);

#endif
