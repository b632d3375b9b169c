/* idtree: a B+tree from stream IDs to pointers; see idtree.h.
 *
 * Leaves hold sorted (key, value) items and are chained both ways. Inner nodes hold n sorted
 * separator keys and n+1 children: child[i] holds keys < keys[i], child[i+1] keys >= keys[i].
 * Separators are copies of leaf keys and may outlive the key they were copied from; they only
 * guide the descent. Removal rebalances a node that falls under half full by borrowing from a
 * sibling or merging with it, so the height stays O(log n). */
#include "idtree.h"

#include <string.h>

#include "zmalloc.h"

#define IDT_MAX 32                      /* keys per full node */
#define IDT_LEAF_MIN (IDT_MAX / 2)      /* fewer items than this: rebalance after a removal */
#define IDT_INNER_MIN (IDT_MAX / 2 - 1) /* fewer keys than this: rebalance after a removal */
#define IDT_ROOT_LEAF_START 4           /* items of a new tree's lone leaf; it doubles up to MAX */

typedef struct idt_item {
    stream_id key;
    void *val;
} idt_item;

typedef struct idt_leaf {
    uint16_t n, cap;
    struct idt_leaf *prev, *next;
    idt_item items[];
} idt_leaf;

typedef struct idt_inner {
    uint16_t n; /* keys; there are n+1 children */
    stream_id keys[IDT_MAX];
    void *child[IDT_MAX + 1];
} idt_inner;

/* ---- nodes ------------------------------------------------------------------------------- */

static idt_leaf *leaf_new(idtree *t, int cap)
{
    idt_leaf *l = zmalloc(sizeof(idt_leaf) + (size_t)cap * sizeof(idt_item));
    l->n = 0;
    l->cap = (uint16_t)cap;
    l->prev = l->next = NULL;
    t->bytes += zmalloc_size(l);
    return l;
}

/* Resizes the lone root leaf (it has no siblings or parent to fix). */
static void root_leaf_resize(idtree *t, int cap)
{
    idt_leaf *l = t->root;
    t->bytes -= zmalloc_size(l);
    l = zrealloc(l, sizeof(idt_leaf) + (size_t)cap * sizeof(idt_item));
    l->cap = (uint16_t)cap;
    t->bytes += zmalloc_size(l);
    t->root = l;
}

static idt_inner *inner_new(idtree *t)
{
    idt_inner *in = zmalloc(sizeof(idt_inner));
    in->n = 0;
    t->bytes += zmalloc_size(in);
    return in;
}

static void node_free(idtree *t, void *p)
{
    t->bytes -= zmalloc_size(p);
    zfree(p);
}

/* First item >= id. */
static int leaf_lower_bound(const idt_leaf *l, const stream_id *id)
{
    int lo = 0, hi = l->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (stream_id_cmp(&l->items[mid].key, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First item > id. */
static int leaf_upper_bound(const idt_leaf *l, const stream_id *id)
{
    int lo = 0, hi = l->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (stream_id_cmp(&l->items[mid].key, id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The child of in whose range holds id: the number of separators <= id. */
static int inner_child_of(const idt_inner *in, const stream_id *id)
{
    int lo = 0, hi = in->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (stream_id_cmp(&in->keys[mid], id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static idt_leaf *descend(const idtree *t, const stream_id *id)
{
    void *node = t->root;
    for (uint32_t h = t->height; h > 1; h--) {
        idt_inner *in = node;
        node = in->child[inner_child_of(in, id)];
    }
    return node;
}

/* ---- lookup and iteration ------------------------------------------------------------------ */

void idtree_init(idtree *t)
{
    memset(t, 0, sizeof(*t));
}

void **idtree_find(const idtree *t, const stream_id *id)
{
    if (!t->root)
        return NULL;
    idt_leaf *l = descend(t, id);
    int pos = leaf_lower_bound(l, id);
    if (pos < l->n && stream_id_cmp(&l->items[pos].key, id) == 0)
        return &l->items[pos].val;
    return NULL;
}

int idtree_first(const idtree *t, idtree_iter *it)
{
    void *node = t->root;
    for (uint32_t h = t->height; h > 1; h--)
        node = ((idt_inner *)node)->child[0];
    it->leaf = node;
    it->pos = 0;
    return it->leaf != NULL;
}

int idtree_last(const idtree *t, idtree_iter *it)
{
    void *node = t->root;
    for (uint32_t h = t->height; h > 1; h--) {
        idt_inner *in = node;
        node = in->child[in->n];
    }
    it->leaf = node;
    it->pos = node ? it->leaf->n - 1 : 0;
    return it->leaf != NULL;
}

int idtree_seek_ge(const idtree *t, const stream_id *id, idtree_iter *it)
{
    it->leaf = NULL;
    it->pos = 0;
    if (!t->root)
        return 0;
    idt_leaf *l = descend(t, id);
    int pos = leaf_lower_bound(l, id);
    if (pos == l->n) {
        l = l->next;
        pos = 0;
    }
    it->leaf = l;
    it->pos = pos;
    return l != NULL;
}

int idtree_seek_le(const idtree *t, const stream_id *id, idtree_iter *it)
{
    it->leaf = NULL;
    it->pos = 0;
    if (!t->root)
        return 0;
    idt_leaf *l = descend(t, id);
    int pos = leaf_upper_bound(l, id) - 1;
    if (pos < 0) {
        l = l->prev;
        pos = l ? l->n - 1 : 0;
    }
    it->leaf = l;
    it->pos = pos;
    return l != NULL;
}

int idtree_next(idtree_iter *it)
{
    if (!it->leaf)
        return 0;
    if (++it->pos >= it->leaf->n) {
        it->leaf = it->leaf->next;
        it->pos = 0;
    }
    return it->leaf != NULL;
}

int idtree_prev(idtree_iter *it)
{
    if (!it->leaf)
        return 0;
    if (--it->pos < 0) {
        it->leaf = it->leaf->prev;
        it->pos = it->leaf ? it->leaf->n - 1 : 0;
    }
    return it->leaf != NULL;
}

stream_id idtree_key(const idtree_iter *it)
{
    return it->leaf->items[it->pos].key;
}

void *idtree_val(const idtree_iter *it)
{
    return it->leaf->items[it->pos].val;
}

void idtree_set_val(const idtree_iter *it, void *val)
{
    it->leaf->items[it->pos].val = val;
}

/* ---- insertion --------------------------------------------------------------------------- */

static void leaf_put(idt_leaf *l, int pos, const stream_id *id, void *val)
{
    memmove(l->items + pos + 1, l->items + pos, sizeof(idt_item) * (size_t)(l->n - pos));
    l->items[pos].key = *id;
    l->items[pos].val = val;
    l->n++;
}

/* Splits the full leaf l while inserting (id, val) at pos; returns the new right sibling. */
static idt_leaf *leaf_split(idtree *t, idt_leaf *l, int pos, const stream_id *id, void *val)
{
    idt_leaf *r = leaf_new(t, IDT_MAX);
    if (pos == l->n && !l->next) {
        /* An append past the tree's greatest key: keep l full and start a new leaf, so that
         * ever-growing IDs (the usual case) fill every leaf. */
        leaf_put(r, 0, id, val);
    } else {
        int keep = (IDT_MAX + 1) / 2; /* items left in l once the new one is in */
        int from = pos < keep ? keep - 1 : keep;
        memcpy(r->items, l->items + from, sizeof(idt_item) * (size_t)(l->n - from));
        r->n = (uint16_t)(l->n - from);
        l->n = (uint16_t)from;
        if (pos < keep)
            leaf_put(l, pos, id, val);
        else
            leaf_put(r, pos - from, id, val);
    }
    r->next = l->next;
    if (r->next)
        r->next->prev = r;
    r->prev = l;
    l->next = r;
    return r;
}

/* Puts separator sep and its right child at position i of in (which has room). */
static void inner_put(idt_inner *in, int i, const stream_id *sep, void *right)
{
    memmove(in->keys + i + 1, in->keys + i, sizeof(stream_id) * (size_t)(in->n - i));
    memmove(in->child + i + 2, in->child + i + 1, sizeof(void *) * (size_t)(in->n - i));
    in->keys[i] = *sep;
    in->child[i + 1] = right;
    in->n++;
}

/* Splits the full inner node in while inserting (sep, right) at i; returns the new right
 * sibling and its separator in *up. */
static idt_inner *inner_split(idtree *t, idt_inner *in, int i, const stream_id *sep, void *right,
                              stream_id *up)
{
    stream_id keys[IDT_MAX + 1];
    void *child[IDT_MAX + 2];
    memcpy(keys, in->keys, sizeof(stream_id) * (size_t)i);
    keys[i] = *sep;
    memcpy(keys + i + 1, in->keys + i, sizeof(stream_id) * (size_t)(in->n - i));
    memcpy(child, in->child, sizeof(void *) * (size_t)(i + 1));
    child[i + 1] = right;
    memcpy(child + i + 2, in->child + i + 1, sizeof(void *) * (size_t)(in->n - i));

    int m = (IDT_MAX + 1) / 2; /* keys kept left; keys[m] moves up */
    idt_inner *r = inner_new(t);
    in->n = (uint16_t)m;
    memcpy(in->keys, keys, sizeof(stream_id) * (size_t)m);
    memcpy(in->child, child, sizeof(void *) * (size_t)(m + 1));
    r->n = (uint16_t)(IDT_MAX - m);
    memcpy(r->keys, keys + m + 1, sizeof(stream_id) * r->n);
    memcpy(r->child, child + m + 1, sizeof(void *) * (size_t)(r->n + 1));
    *up = keys[m];
    return r;
}

/* Inserts into the subtree at node (a leaf at level 1). When node splits, returns its new
 * right sibling with the sibling's smallest key in *up. */
static void *insert_rec(idtree *t, void *node, uint32_t level, const stream_id *id, void *val,
                        int *added, stream_id *up)
{
    if (level == 1) {
        idt_leaf *l = node;
        int pos = leaf_lower_bound(l, id);
        if (pos < l->n && stream_id_cmp(&l->items[pos].key, id) == 0) {
            *added = 0;
            return NULL;
        }
        *added = 1;
        if (l->n < l->cap) {
            leaf_put(l, pos, id, val);
            return NULL;
        }
        idt_leaf *r = leaf_split(t, l, pos, id, val);
        *up = r->items[0].key;
        return r;
    }
    idt_inner *in = node;
    int i = inner_child_of(in, id);
    stream_id sep;
    void *right = insert_rec(t, in->child[i], level - 1, id, val, added, &sep);
    if (!right)
        return NULL;
    if (in->n < IDT_MAX) {
        inner_put(in, i, &sep, right);
        return NULL;
    }
    return inner_split(t, in, i, &sep, right, up);
}

int idtree_insert(idtree *t, const stream_id *id, void *val)
{
    if (!t->root) {
        t->root = leaf_new(t, IDT_ROOT_LEAF_START);
        t->height = 1;
    }
    if (t->height == 1) {
        idt_leaf *l = t->root;
        if (l->n == l->cap && l->cap < IDT_MAX)
            root_leaf_resize(t, l->cap * 2 < IDT_MAX ? l->cap * 2 : IDT_MAX);
    }
    int added = 0;
    stream_id up;
    void *right = insert_rec(t, t->root, t->height, id, val, &added, &up);
    if (right) {
        idt_inner *root = inner_new(t);
        root->n = 1;
        root->keys[0] = up;
        root->child[0] = t->root;
        root->child[1] = right;
        t->root = root;
        t->height++;
    }
    if (added)
        t->size++;
    return added;
}

/* ---- removal ----------------------------------------------------------------------------- */

/* Merges p's child i+1 (leaf) into child i and drops the separator between them. */
static void inner_drop(idt_inner *p, int i)
{
    memmove(p->keys + i, p->keys + i + 1, sizeof(stream_id) * (size_t)(p->n - i - 1));
    memmove(p->child + i + 1, p->child + i + 2, sizeof(void *) * (size_t)(p->n - i - 1));
    p->n--;
}

static void merge_leaves(idtree *t, idt_inner *p, int i)
{
    idt_leaf *l = p->child[i], *r = p->child[i + 1];
    memcpy(l->items + l->n, r->items, sizeof(idt_item) * r->n);
    l->n = (uint16_t)(l->n + r->n);
    l->next = r->next;
    if (l->next)
        l->next->prev = l;
    node_free(t, r);
    inner_drop(p, i);
}

static void merge_inners(idtree *t, idt_inner *p, int i)
{
    idt_inner *l = p->child[i], *r = p->child[i + 1];
    l->keys[l->n] = p->keys[i];
    memcpy(l->keys + l->n + 1, r->keys, sizeof(stream_id) * r->n);
    memcpy(l->child + l->n + 1, r->child, sizeof(void *) * (size_t)(r->n + 1));
    l->n = (uint16_t)(l->n + 1 + r->n);
    node_free(t, r);
    inner_drop(p, i);
}

/* Refills leaf child i of p, which fell under IDT_LEAF_MIN. */
static void fix_leaf(idtree *t, idt_inner *p, int i)
{
    idt_leaf *c = p->child[i];
    idt_leaf *l = i > 0 ? p->child[i - 1] : NULL;
    idt_leaf *r = i < p->n ? p->child[i + 1] : NULL;
    if (l && l->n > IDT_LEAF_MIN) {
        leaf_put(c, 0, &l->items[l->n - 1].key, l->items[l->n - 1].val);
        l->n--;
        p->keys[i - 1] = c->items[0].key;
    } else if (r && r->n > IDT_LEAF_MIN) {
        c->items[c->n++] = r->items[0];
        memmove(r->items, r->items + 1, sizeof(idt_item) * (size_t)(r->n - 1));
        r->n--;
        p->keys[i] = r->items[0].key;
    } else if (l) {
        merge_leaves(t, p, i - 1);
    } else if (r) {
        merge_leaves(t, p, i);
    }
}

/* Refills inner child i of p, which fell under IDT_INNER_MIN. */
static void fix_inner(idtree *t, idt_inner *p, int i)
{
    idt_inner *c = p->child[i];
    idt_inner *l = i > 0 ? p->child[i - 1] : NULL;
    idt_inner *r = i < p->n ? p->child[i + 1] : NULL;
    if (l && l->n > IDT_INNER_MIN) {
        memmove(c->keys + 1, c->keys, sizeof(stream_id) * c->n);
        memmove(c->child + 1, c->child, sizeof(void *) * (size_t)(c->n + 1));
        c->keys[0] = p->keys[i - 1];
        c->child[0] = l->child[l->n];
        c->n++;
        p->keys[i - 1] = l->keys[l->n - 1];
        l->n--;
    } else if (r && r->n > IDT_INNER_MIN) {
        c->keys[c->n] = p->keys[i];
        c->child[c->n + 1] = r->child[0];
        c->n++;
        p->keys[i] = r->keys[0];
        memmove(r->keys, r->keys + 1, sizeof(stream_id) * (size_t)(r->n - 1));
        memmove(r->child, r->child + 1, sizeof(void *) * r->n);
        r->n--;
    } else if (l) {
        merge_inners(t, p, i - 1);
    } else if (r) {
        merge_inners(t, p, i);
    }
}

static int remove_rec(idtree *t, void *node, uint32_t level, const stream_id *id, void **old)
{
    if (level == 1) {
        idt_leaf *l = node;
        int pos = leaf_lower_bound(l, id);
        if (pos == l->n || stream_id_cmp(&l->items[pos].key, id) != 0)
            return 0;
        if (old)
            *old = l->items[pos].val;
        memmove(l->items + pos, l->items + pos + 1, sizeof(idt_item) * (size_t)(l->n - pos - 1));
        l->n--;
        return 1;
    }
    idt_inner *in = node;
    int i = inner_child_of(in, id);
    if (!remove_rec(t, in->child[i], level - 1, id, old))
        return 0;
    if (level == 2) {
        if (((idt_leaf *)in->child[i])->n < IDT_LEAF_MIN)
            fix_leaf(t, in, i);
    } else if (((idt_inner *)in->child[i])->n < IDT_INNER_MIN) {
        fix_inner(t, in, i);
    }
    return 1;
}

int idtree_remove(idtree *t, const stream_id *id, void **old)
{
    if (!t->root || !remove_rec(t, t->root, t->height, id, old))
        return 0;
    t->size--;
    while (t->height > 1 && ((idt_inner *)t->root)->n == 0) {
        void *only = ((idt_inner *)t->root)->child[0];
        node_free(t, t->root);
        t->root = only;
        t->height--;
    }
    if (t->height == 1) {
        idt_leaf *l = t->root;
        if (l->n == 0) {
            node_free(t, l);
            t->root = NULL;
            t->height = 0;
        } else if (l->cap > IDT_ROOT_LEAF_START && l->n <= l->cap / 4) {
            root_leaf_resize(t, l->cap / 2); /* a drained queue gives its memory back */
        }
    }
    return 1;
}

/* ---- teardown and checks ----------------------------------------------------------------- */

static void clear_rec(idtree *t, void *node, uint32_t level, void (*free_val)(void *))
{
    if (level == 1) {
        idt_leaf *l = node;
        if (free_val)
            for (int i = 0; i < l->n; i++)
                free_val(l->items[i].val);
    } else {
        idt_inner *in = node;
        for (int i = 0; i <= in->n; i++)
            clear_rec(t, in->child[i], level - 1, free_val);
    }
    node_free(t, node);
}

void idtree_clear(idtree *t, void (*free_val)(void *val))
{
    if (t->root)
        clear_rec(t, t->root, t->height, free_val);
    idtree_init(t);
}

/* Checks the subtree at node: keys within [lo, hi) (NULL: unbounded), sorted, node sizes in
 * bounds; collects the leaves in order into *chain. Returns the number of keys, or -1. */
static long check_rec(const idtree *t, void *node, uint32_t level, const stream_id *lo,
                      const stream_id *hi, idt_leaf **prev_leaf, size_t *bytes)
{
    *bytes += zmalloc_size(node);
    if (level == 1) {
        idt_leaf *l = node;
        if (l->n > l->cap || (t->height > 1 && (l->n == 0 || l->cap != IDT_MAX)))
            return -1;
        for (int i = 0; i < l->n; i++) {
            const stream_id *k = &l->items[i].key;
            if ((lo && stream_id_cmp(k, lo) < 0) || (hi && stream_id_cmp(k, hi) >= 0))
                return -1;
            if (i && stream_id_cmp(&l->items[i - 1].key, k) >= 0)
                return -1;
        }
        if (l->prev != *prev_leaf || (*prev_leaf && (*prev_leaf)->next != l))
            return -1;
        *prev_leaf = l;
        return l->n;
    }
    idt_inner *in = node;
    if (in->n == 0 || in->n > IDT_MAX)
        return -1;
    long total = 0;
    for (int i = 0; i <= in->n; i++) {
        if (i > 0 && i < in->n && stream_id_cmp(&in->keys[i - 1], &in->keys[i]) >= 0)
            return -1;
        const stream_id *clo = i == 0 ? lo : &in->keys[i - 1];
        const stream_id *chi = i == in->n ? hi : &in->keys[i];
        long n = check_rec(t, in->child[i], level - 1, clo, chi, prev_leaf, bytes);
        if (n < 0)
            return -1;
        total += n;
    }
    return total;
}

int idtree_check(const idtree *t)
{
    if (!t->root)
        return t->size == 0 && t->height == 0 && t->bytes == 0;
    idt_leaf *last = NULL;
    size_t bytes = 0;
    long n = check_rec(t, t->root, t->height, NULL, NULL, &last, &bytes);
    if (n < 0 || (uint64_t)n != t->size || bytes != t->bytes || (last && last->next))
        return 0;
    return 1;
}
