/* quicklist: see quicklist.h. Nodes are split when an insertion lands inside a full node and
 * freed as soon as they are empty; they are not compressed. */
#include "quicklist.h"

#include "zmalloc.h"

/* Node sizes of fill -1..-5 (Redis's optimization_level). */
static const size_t ql_size_levels[] = {4096, 8192, 16384, 32768, 65536};
#define QL_SIZE_LEVELS (sizeof(ql_size_levels) / sizeof(ql_size_levels[0]))
/* With a positive fill (a count of elements) a node is still kept under this size. */
#define QL_SIZE_SAFETY_LIMIT 8192
/* Bytes an element adds to a listpack beyond its own, overestimated (encoding + backlen). */
#define QL_SIZE_ESTIMATE_OVERHEAD 8

int ql_exceeds_limit(int fill, size_t bytes, unsigned long count)
{
    if (fill < 0) {
        size_t level = (size_t)(-(long)fill) - 1;
        if (level >= QL_SIZE_LEVELS)
            level = QL_SIZE_LEVELS - 1;
        return bytes > ql_size_levels[level];
    }
    if (bytes > QL_SIZE_SAFETY_LIMIT)
        return 1;
    return count > (unsigned long)(fill == 0 ? 1 : fill);
}

/* 1 when node n can take one more element of about len bytes. */
static int ql_node_allows(const quicklist *ql, const ql_node *n, size_t len)
{
    return n && !ql_exceeds_limit(ql->fill, lp_bytes(n->lp) + len + QL_SIZE_ESTIMATE_OVERHEAD,
                                  lp_count(n->lp) + 1);
}

quicklist *ql_new(int fill)
{
    quicklist *ql = zcalloc(sizeof(*ql));
    ql->fill = fill;
    return ql;
}

static ql_node *ql_node_new(unsigned char *lp)
{
    ql_node *n = zmalloc(sizeof(*n));
    n->prev = n->next = NULL;
    n->lp = lp;
    return n;
}

/* Links n after `at` (at NULL: as the new head). */
static void ql_link_after(quicklist *ql, ql_node *at, ql_node *n)
{
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at)
        at->next = n;
    else
        ql->head = n;
    ql->len++;
    ql->count += lp_count(n->lp);
}

/* Unlinks and frees n; its elements leave the count. */
static void ql_unlink(quicklist *ql, ql_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->len--;
    ql->count -= lp_count(n->lp);
    lp_free(n->lp);
    zfree(n);
}

quicklist *ql_from_listpack(unsigned char *lp, int fill)
{
    quicklist *ql = ql_new(fill);
    ql_link_after(ql, NULL, ql_node_new(lp));
    return ql;
}

void ql_free(quicklist *ql)
{
    for (ql_node *n = ql->head, *next; n; n = next) {
        next = n->next;
        lp_free(n->lp);
        zfree(n);
    }
    zfree(ql);
}

quicklist *ql_dup(const quicklist *ql)
{
    quicklist *copy = ql_new(ql->fill);
    for (const ql_node *n = ql->head; n; n = n->next)
        ql_link_after(copy, copy->tail, ql_node_new(lp_dup(n->lp)));
    return copy;
}

size_t ql_mem_usage(const quicklist *ql)
{
    size_t bytes = zmalloc_size(ql);
    for (const ql_node *n = ql->head; n; n = n->next)
        bytes += zmalloc_size(n) + zmalloc_size(n->lp);
    return bytes;
}

/* A new node holding just s/len. */
static ql_node *ql_node_with(const char *s, size_t len)
{
    return ql_node_new(lp_append(lp_new(), s, len));
}

void ql_push(quicklist *ql, int where, const char *s, size_t len)
{
    if (where == QL_HEAD) {
        if (ql_node_allows(ql, ql->head, len)) {
            ql->head->lp = lp_prepend(ql->head->lp, s, len);
            ql->count++;
        } else {
            ql_link_after(ql, NULL, ql_node_with(s, len));
        }
    } else {
        if (ql_node_allows(ql, ql->tail, len)) {
            ql->tail->lp = lp_append(ql->tail->lp, s, len);
            ql->count++;
        } else {
            ql_link_after(ql, ql->tail, ql_node_with(s, len));
        }
    }
}

int ql_index(const quicklist *ql, long index, ql_pos *pos)
{
    if (index < 0)
        index += (long)ql->count;
    if (index < 0 || (unsigned long)index >= ql->count)
        return 0;
    unsigned long i = (unsigned long)index;
    ql_node *n;
    if (i < ql->count / 2) {
        n = ql->head;
        while (i >= lp_count(n->lp)) {
            i -= lp_count(n->lp);
            n = n->next;
        }
        pos->p = lp_seek(n->lp, (long)i);
    } else {
        unsigned long back = ql->count - 1 - i; /* distance from the tail */
        n = ql->tail;
        while (back >= lp_count(n->lp)) {
            back -= lp_count(n->lp);
            n = n->prev;
        }
        pos->p = lp_seek(n->lp, -1 - (long)back);
    }
    pos->node = n;
    return 1;
}

int ql_move(ql_pos *pos, int dir)
{
    ql_node *n = pos->node;
    if (dir == QL_TAIL) {
        pos->p = lp_next(n->lp, pos->p);
        if (!pos->p && n->next) {
            pos->node = n->next;
            pos->p = lp_first(pos->node->lp);
        }
    } else {
        pos->p = lp_prev(n->lp, pos->p);
        if (!pos->p && n->prev) {
            pos->node = n->prev;
            pos->p = lp_last(pos->node->lp);
        }
    }
    return pos->p != NULL;
}

/* Inserts into a node that is full: at its edge the neighbour or a new node takes the element;
 * inside it the node is split at the insertion point and one half (or a new node between them)
 * takes it. */
static void ql_insert_full(quicklist *ql, ql_node *n, unsigned char *p, int after, const char *s,
                           size_t len)
{
    unsigned char *split = after ? lp_next(n->lp, p) : p;
    if (!split) { /* after the node's last element */
        if (ql_node_allows(ql, n->next, len)) {
            n->next->lp = lp_prepend(n->next->lp, s, len);
            ql->count++;
        } else {
            ql_link_after(ql, n, ql_node_with(s, len));
        }
        return;
    }
    if (split == lp_first(n->lp)) { /* before the node's first element */
        if (ql_node_allows(ql, n->prev, len)) {
            n->prev->lp = lp_append(n->prev->lp, s, len);
            ql->count++;
        } else {
            ql_link_after(ql, n->prev, ql_node_with(s, len));
        }
        return;
    }
    unsigned char *tail_lp;
    unsigned long before = lp_count(n->lp);
    n->lp = lp_split(n->lp, split, &tail_lp);
    ql->count -= before - lp_count(n->lp);
    ql_node *m = ql_node_new(tail_lp);
    ql_link_after(ql, n, m);
    if (ql_node_allows(ql, n, len)) {
        n->lp = lp_append(n->lp, s, len);
        ql->count++;
    } else if (ql_node_allows(ql, m, len)) {
        m->lp = lp_prepend(m->lp, s, len);
        ql->count++;
    } else {
        ql_link_after(ql, n, ql_node_with(s, len));
    }
}

void ql_insert(quicklist *ql, const ql_pos *pos, int after, const char *s, size_t len)
{
    ql_node *n = pos->node;
    if (ql_node_allows(ql, n, len)) {
        n->lp = lp_insert(n->lp, pos->p, after, s, len, NULL);
        ql->count++;
        return;
    }
    ql_insert_full(ql, n, pos->p, after, s, len);
}

void ql_replace(quicklist *ql, ql_pos *pos, const char *s, size_t len)
{
    ql_node *n = pos->node;
    char tmp[OBJ_INT_STR_MAX];
    lp_value old;
    lp_get(pos->p, &old, tmp);
    size_t new_bytes = lp_bytes(n->lp) - old.len + len;
    if (lp_count(n->lp) == 1 || !ql_exceeds_limit(ql->fill, new_bytes, lp_count(n->lp))) {
        n->lp = lp_replace(n->lp, pos->p, s, len, &pos->p);
        return;
    }
    /* Too big for this node: the element leaves it and the new one is inserted where it was,
     * which may split the node. */
    unsigned char *next;
    n->lp = lp_delete(n->lp, pos->p, &next);
    ql->count--;
    ql_pos at = {n, next ? next : lp_last(n->lp)};
    ql_insert(ql, &at, next == NULL, s, len);
    pos->node = NULL;
    pos->p = NULL;
}

void ql_delete(quicklist *ql, ql_pos *pos, int dir)
{
    ql_node *n = pos->node;
    unsigned char *next;
    n->lp = lp_delete(n->lp, pos->p, &next);
    ql->count--;
    if (lp_count(n->lp) == 0) {
        ql_node *nb = dir == QL_TAIL ? n->next : n->prev;
        ql_unlink(ql, n);
        pos->node = nb;
        pos->p = nb ? (dir == QL_TAIL ? lp_first(nb->lp) : lp_last(nb->lp)) : NULL;
        return;
    }
    unsigned char *p;
    if (dir == QL_TAIL)
        p = next;
    else
        p = next ? lp_prev(n->lp, next) : lp_last(n->lp);
    if (p) {
        pos->p = p;
        return;
    }
    ql_node *nb = dir == QL_TAIL ? n->next : n->prev;
    pos->node = nb;
    pos->p = nb ? (dir == QL_TAIL ? lp_first(nb->lp) : lp_last(nb->lp)) : NULL;
}

void ql_delete_range(quicklist *ql, unsigned long start, unsigned long count)
{
    if (start >= ql->count || count == 0)
        return;
    /* Find the first node from the nearer end: trimming the tail of a long list is cheap. */
    ql_node *n;
    if (start < ql->count / 2) {
        n = ql->head;
        while (start >= lp_count(n->lp)) {
            start -= lp_count(n->lp);
            n = n->next;
        }
    } else {
        unsigned long back = ql->count - 1 - start;
        n = ql->tail;
        while (back >= lp_count(n->lp)) {
            back -= lp_count(n->lp);
            n = n->prev;
        }
        start = lp_count(n->lp) - 1 - back;
    }
    while (n && count) {
        ql_node *next = n->next;
        unsigned long have = lp_count(n->lp);
        unsigned long take = have - start < count ? have - start : count;
        if (take == have) {
            ql_unlink(ql, n);
        } else {
            n->lp = lp_delete_range(n->lp, (long)start, take);
            ql->count -= take;
        }
        count -= take;
        start = 0;
        n = next;
    }
}
