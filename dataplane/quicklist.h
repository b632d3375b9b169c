/* quicklist: a doubly linked list of listpack nodes, the encoding of lists too big for one
 * listpack (Redis's quicklist, without node compression). Pushing and popping at either end and
 * reaching an index near either end touch one or two nodes; a node is bounded by the list's fill
 * (list-max-listpack-size at creation: -1..-5 a size of 4..64 KiB, a positive value a number of
 * elements), so the work inside a node is bounded too. Every allocation goes through zmalloc.
 * Owned by the list's entry: one shard, no locking. */
#ifndef DFLY_QUICKLIST_H
#define DFLY_QUICKLIST_H

#include <stddef.h>

#include "listpack.h"

typedef struct ql_node {
    struct ql_node *prev, *next;
    unsigned char *lp; /* never empty while linked */
} ql_node;

typedef struct quicklist {
    ql_node *head, *tail;
    unsigned long count; /* elements */
    unsigned long len;   /* nodes */
    int fill;
} quicklist;

/* An element of a list: node (NULL for a list that is a single listpack) and position p in the
 * node's listpack (or in that listpack). Valid until the list is next modified, except through
 * the functions below that update it. */
typedef struct ql_pos {
    ql_node *node;
    unsigned char *p;
} ql_pos;

enum { QL_HEAD = 0, QL_TAIL = 1 };

/* Redis's quicklistNodeExceedsLimit: 1 when a listpack of `bytes` bytes holding `count`
 * elements is too big for a node under `fill`. Also decides when a listpack list converts. */
int ql_exceeds_limit(int fill, size_t bytes, unsigned long count);

quicklist *ql_new(int fill);
/* A quicklist whose only node is lp (taken over; it must not be empty). */
quicklist *ql_from_listpack(unsigned char *lp, int fill);
void ql_free(quicklist *ql);
quicklist *ql_dup(const quicklist *ql);
/* Bytes allocated for the list (structure, nodes and listpacks). */
size_t ql_mem_usage(const quicklist *ql);

void ql_push(quicklist *ql, int where, const char *s, size_t len);
/* Finds the element at index (negative counts from the tail); 0 when out of range. Walks from
 * the nearer end, a node at a time. */
int ql_index(const quicklist *ql, long index, ql_pos *pos);
/* Moves pos to the next element towards the tail (QL_TAIL) or the head (QL_HEAD); 0 at the
 * end. */
int ql_move(ql_pos *pos, int dir);
/* Replaces the element at pos. pos is invalid afterwards. */
void ql_replace(quicklist *ql, ql_pos *pos, const char *s, size_t len);
/* Inserts before or after the element at pos. pos is invalid afterwards. */
void ql_insert(quicklist *ql, const ql_pos *pos, int after, const char *s, size_t len);
/* Deletes the element at pos and moves pos to the element that followed it in direction dir
 * (pos->node is NULL when there is none). */
void ql_delete(quicklist *ql, ql_pos *pos, int dir);
/* Deletes count elements starting at index start (>= 0), dropping whole nodes where it can. */
void ql_delete_range(quicklist *ql, unsigned long start, unsigned long count);

#endif
