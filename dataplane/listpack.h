/* listpack: a packed sequence of small elements (strings, or integers stored compactly) in one
 * zmalloc block, the small encoding of lists, hashes, sets and sorted sets (Redis's listpack in
 * spirit; the byte format is our own). Elements are addressed by pointers into the block, which
 * stay valid until the next call that modifies it; functions that modify return the block's new
 * address. Owned by whoever owns the value: one shard, no locking. */
#ifndef DFLY_LISTPACK_H
#define DFLY_LISTPACK_H

#include <stddef.h>
#include <stdint.h>

#include "object.h"

/* An element's value: a string (s, len), or an integer (is_int, v) when the element was stored
 * from a string that round-trips as an int64 (str_to_ll). */
typedef struct lp_value {
    const char *s;
    size_t len;
    long long v;
    int is_int;
} lp_value;

unsigned char *lp_new(void);
void lp_free(unsigned char *lp);
unsigned char *lp_dup(const unsigned char *lp);
size_t lp_bytes(const unsigned char *lp); /* the block's size */
uint32_t lp_count(const unsigned char *lp);

/* Iteration: NULL past the ends. lp_seek accepts negative indexes (-1 is the last). */
unsigned char *lp_first(const unsigned char *lp);
unsigned char *lp_last(const unsigned char *lp);
unsigned char *lp_next(const unsigned char *lp, const unsigned char *p);
unsigned char *lp_prev(const unsigned char *lp, const unsigned char *p);
unsigned char *lp_seek(const unsigned char *lp, long index);

/* Reads the element at p. For an integer, s/len point into tmp (its decimal form). */
void lp_get(const unsigned char *p, lp_value *out, char tmp[OBJ_INT_STR_MAX]);
/* 1 when the element at p equals the bytes s/len (integers compare by their decimal form). */
int lp_eq(const unsigned char *p, const char *s, size_t len);

/* Modifications. Each returns the block's new address; *newp (when not NULL) receives the
 * position of the element inserted/replaced, or of the element after the one deleted (NULL at
 * the end). */
unsigned char *lp_append(unsigned char *lp, const char *s, size_t len);
unsigned char *lp_prepend(unsigned char *lp, const char *s, size_t len);
unsigned char *lp_insert(unsigned char *lp, unsigned char *p, int after, const char *s, size_t len,
                         unsigned char **newp);
unsigned char *lp_replace(unsigned char *lp, unsigned char *p, const char *s, size_t len,
                          unsigned char **newp);
unsigned char *lp_delete(unsigned char *lp, unsigned char *p, unsigned char **newp);
/* Deletes count elements starting at index (negative from the end). */
unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long count);

/* Moves the elements from p to the end into a new listpack (*tail) and returns lp's new address
 * (quicklist node splits: the bytes move as they are, nothing is re-encoded). */
unsigned char *lp_split(unsigned char *lp, unsigned char *p, unsigned char **tail);

/* Finds s/len starting at p, comparing every (skip+1)-th element: skip 1 walks the field
 * positions of a field/value listpack. NULL when absent. */
unsigned char *lp_find(const unsigned char *lp, unsigned char *p, const char *s, size_t len,
                       unsigned skip);

/* Checks the structure of a block (for loaders and fuzzers): 1 when sound. */
int lp_validate(const unsigned char *lp, size_t bytes);

#endif
