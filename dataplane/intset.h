/* intset: a sorted array of distinct 64-bit integers in one zmalloc block, the small encoding of
 * sets whose members are all integers (Redis's intset).
 *
 * Every element is stored at the width of the widest one (2, 4 or 8 bytes); adding a wider value
 * upgrades the whole array, and nothing ever downgrades it. The byte layout is Redis's (a
 * little-endian uint32 width, a uint32 count, then the elements in ascending order), so an RDB
 * writer can store the block as it is (RDB_TYPE_SET_INTSET). Lookups are binary searches;
 * insertions and deletions move the tail, which is why sets leave this encoding past
 * set-max-intset-entries. Functions that modify return the block's new address. Owned by
 * whoever owns the value: one shard, no locking. */
#ifndef DFLY_INTSET_H
#define DFLY_INTSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct intset {
    uint32_t encoding; /* bytes per element: INTSET_ENC_INT16/32/64 */
    uint32_t length;
    int8_t contents[];
} intset;

#define INTSET_ENC_INT16 ((uint32_t)sizeof(int16_t))
#define INTSET_ENC_INT32 ((uint32_t)sizeof(int32_t))
#define INTSET_ENC_INT64 ((uint32_t)sizeof(int64_t))

intset *intset_new(void);
void intset_free(intset *is);
intset *intset_dup(const intset *is);

/* Adds v; *added (when not NULL) is 1 when it was not there. */
intset *intset_add(intset *is, int64_t v, int *added);
/* Removes v; *removed (when not NULL) is 1 when it was there. */
intset *intset_remove(intset *is, int64_t v, int *removed);
/* 1 when v is a member. */
int intset_find(const intset *is, int64_t v);

static inline uint32_t intset_len(const intset *is)
{
    return is->length;
}
/* The element at pos (0 <= pos < length), in ascending order. */
int64_t intset_get(const intset *is, uint32_t pos);
int64_t intset_min(const intset *is); /* the set must not be empty */
int64_t intset_max(const intset *is);
/* The block's size in bytes (header and elements). */
size_t intset_bytes(const intset *is);

/* Checks a block's structure (for loaders): 1 when its width is valid, its size matches
 * `bytes` and the elements are strictly ascending. */
int intset_validate(const void *p, size_t bytes);

#endif
