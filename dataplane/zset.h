/* zset: the value of a sorted-set entry (OBJ_ZSET), whatever its encoding, for the commands of
 * t_zset.c and t_geo.c (Redis's zset* and zzl* functions of t_zset.c).
 *
 * Encodings, as Redis 7: ENC_LISTPACK, a listpack of member, score, member, score... sorted by
 * (score, member), while the set has at most zset-max-listpack-entries members of at most
 * zset-max-listpack-value bytes; past either limit ENC_SKIPLIST (zskiplist.h), and never back,
 * except that a stored result (ZUNIONSTORE...) is written small when it fits.
 *
 * Scores are doubles, never NaN. Members are binary strings. Every function runs for the
 * entry's shard (db.h). */
#ifndef DFLY_ZSET_H
#define DFLY_ZSET_H

#include <stddef.h>

#include "object.h"
#include "zskiplist.h"

/* zset_add's input flags and outcome (Redis's ZADD_IN_* and ZADD_OUT_*). */
enum {
    ZADD_IN_INCR = 1 << 0, /* add the score to the current one */
    ZADD_IN_NX = 1 << 1,   /* only add new members */
    ZADD_IN_XX = 1 << 2,   /* only update existing members */
    ZADD_IN_GT = 1 << 3,   /* update only when the new score is greater */
    ZADD_IN_LT = 1 << 4,   /* update only when the new score is less */
};
enum {
    ZADD_OUT_NOP = 1 << 0,     /* nothing done because of a condition */
    ZADD_OUT_NAN = 1 << 1,     /* the resulting score would be NaN: nothing done */
    ZADD_OUT_ADDED = 1 << 2,   /* the member was added */
    ZADD_OUT_UPDATED = 1 << 3, /* the member's score changed */
};

/* Longest text of a score (%.17g of a double, "-inf"). */
#define ZSET_SCORE_STR_MAX 32

/* An element read from a zset. s points into the value, or into tmp for members a listpack
 * keeps as integers; valid until the value changes. */
typedef struct zset_elem {
    const char *s;
    size_t len;
    double score;
    char tmp[OBJ_INT_STR_MAX];
} zset_elem;

/* ---- whole values -------------------------------------------------------------------------- */

/* An entry holding an empty listpack-encoded sorted set; members are added with zset_add. */
entry *zset_entry_new(const char *key, size_t klen);
/* An entry holding the members of zsl (which it takes over): a listpack when the result fits
 * the listpack limits (maxelelen is its longest member), else zsl itself. */
entry *zset_entry_from_zsl(const char *key, size_t klen, zskiplist *zsl, size_t maxelelen);
unsigned long zset_length(const entry *e);

/* obj_type_ops of OBJ_ZSET. */
void zset_free_value(void *ptr, int enc);
size_t zset_mem_usage(const void *ptr, int enc);
const char *zset_enc_name(int enc);
void *zset_dup_value(const void *ptr, int enc);

/* Formats d as Redis's replies and digests print scores (%.17g; "inf", "-inf"); returns the
 * length. buf holds ZSET_SCORE_STR_MAX bytes. */
int zset_fmt_score(char *buf, double d);

/* ---- members ------------------------------------------------------------------------------- */

/* 1 and the score when member is present. */
int zset_score(const entry *e, const char *m, size_t len, double *score);
/* Redis's zsetAdd: adds or updates member according to in_flags; converts the encoding when a
 * limit is passed. Returns 0 (ZADD_OUT_NAN) when the result would be NaN, else 1 with the
 * outcome in *out_flags and the member's score in *newscore (when not NULL and not NOP). */
int zset_add(entry *e, double score, const char *m, size_t len, int in_flags, int *out_flags,
             double *newscore);
/* Removes member: 1 when it was present. The caller deletes an emptied key. */
int zset_delete(entry *e, const char *m, size_t len);
/* 0-based rank of member (from the highest score when reverse), or -1; its score in *score. */
long zset_rank(const entry *e, const char *m, size_t len, int reverse, double *score);
/* Removes the members of 0-based ranks start..end (inclusive, both valid); returns how many. */
unsigned long zset_delete_rank_range(entry *e, unsigned long start, unsigned long end);

/* Members within a range: their count, and the 0-based rank of the first in *first. */
unsigned long zset_score_range_ranks(const entry *e, const zrange_score *r, unsigned long *first);
/* ZLEXCOUNT's answer, and ZREMRANGEBYLEX's removal (returns how many). */
long long zset_lex_count(const entry *e, const zrange_lex *r);
unsigned long zset_delete_lex_range(entry *e, const zrange_lex *r);

/* ---- iteration ------------------------------------------------------------------------------
 * A position in either encoding, moving towards higher ranks, or lower ones when reverse.
 * Invalidated by any change of the value. */
typedef struct zset_iter {
    const unsigned char *lp; /* ENC_LISTPACK: the block, and p the member element */
    unsigned char *p;
    zsl_node *node; /* ENC_SKIPLIST */
    const zskiplist *zsl;
    int reverse;
} zset_iter;

/* At the element of 0-based rank `rank` counted from the start of the direction (from the
 * highest score when reverse). */
void zset_iter_at_rank(zset_iter *it, const entry *e, unsigned long rank, int reverse);
/* At the first element within r in the direction (the last of the range when reverse). */
void zset_iter_at_score(zset_iter *it, const entry *e, const zrange_score *r, int reverse);
void zset_iter_at_lex(zset_iter *it, const entry *e, const zrange_lex *r, int reverse);
/* Reads the current element: 0 past the end. */
int zset_iter_get(const zset_iter *it, zset_elem *out);
void zset_iter_next(zset_iter *it);
/* Moves n elements on (O(log n) in a skiplist). */
void zset_iter_skip(zset_iter *it, unsigned long n);

/* A random element (rnd: any random number). */
void zset_random(const entry *e, uint64_t rnd, zset_elem *out);
/* The element of 0-based rank `rank` (rank < length). */
void zset_at_rank(const entry *e, unsigned long rank, zset_elem *out);

#endif
