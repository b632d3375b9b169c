/* zset: sorted-set values in their two encodings (see zset.h). The listpack functions follow
 * Redis's zzl* functions: elements come in pairs, member then score, sorted by (score, member).
 * A score is stored as the text Redis's d2string writes (an integer when it is one, so the
 * listpack keeps it as a number), and read back with strtod. */
#include "zset.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listpack.h"
#include "reply.h"
#include "server.h"
#include "types.h"
#include "zmalloc.h"

/* d2string writes doubles in this open interval as integers (Redis: +-(2^52)). */
#define SCORE_INT_LIMIT 4503599627370496.0
/* Redis's lpSafeToAdd: a listpack stays below this size (1 GiB). */
#define LISTPACK_SAFETY_SIZE (1u << 30)

/* ---- scores as text ------------------------------------------------------------------------- */

int zset_fmt_score(char *buf, double d)
{
    return fmt_double(buf, ZSET_SCORE_STR_MAX, d);
}

/* The listpack form of a score: Redis's d2string. A zero is written "0" whichever its sign: a
 * listpack-encoded Redis set answers 0 for a score of -0. */
static int zzl_score_str(char *buf, double d)
{
    if (d == 0)
        return snprintf(buf, ZSET_SCORE_STR_MAX, "0");
    if (d > -SCORE_INT_LIMIT && d < SCORE_INT_LIMIT && d == (double)(long long)d)
        return snprintf(buf, ZSET_SCORE_STR_MAX, "%lld", (long long)d);
    return zset_fmt_score(buf, d);
}

static double zzl_get_score(const unsigned char *sp)
{
    lp_value v;
    char tmp[OBJ_INT_STR_MAX];
    lp_get(sp, &v, tmp);
    if (v.is_int)
        return (double)v.v;
    char buf[ZSET_SCORE_STR_MAX + 1];
    size_t n = v.len < ZSET_SCORE_STR_MAX ? v.len : ZSET_SCORE_STR_MAX;
    memcpy(buf, v.s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/* ---- listpack encoding ---------------------------------------------------------------------- */

static void zzl_member(const unsigned char *p, const char **s, size_t *len,
                       char tmp[OBJ_INT_STR_MAX])
{
    lp_value v;
    lp_get(p, &v, tmp);
    *s = v.s;
    *len = v.len;
}

static int zzl_cmp_member(const unsigned char *p, const char *m, size_t len)
{
    char tmp[OBJ_INT_STR_MAX];
    const char *s;
    size_t slen;
    zzl_member(p, &s, &slen, tmp);
    return zlex_cmp(s, slen, m, len);
}

/* The member element of m, or NULL; its score in *score. */
static unsigned char *zzl_find(const unsigned char *lp, const char *m, size_t len, double *score)
{
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        if (lp_eq(p, m, len)) {
            if (score)
                *score = zzl_get_score(lp_next(lp, p));
            return p;
        }
    }
    return NULL;
}

/* Inserts (m, score) at its place; m must be absent. */
static unsigned char *zzl_insert(unsigned char *lp, const char *m, size_t len, double score)
{
    char sbuf[ZSET_SCORE_STR_MAX];
    size_t slen = (size_t)zzl_score_str(sbuf, score);
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        double s = zzl_get_score(lp_next(lp, p));
        if (s > score || (s == score && zzl_cmp_member(p, m, len) > 0)) {
            unsigned char *np;
            lp = lp_insert(lp, p, 0, m, len, &np);
            return lp_insert(lp, np, 1, sbuf, slen, NULL);
        }
    }
    lp = lp_append(lp, m, len);
    return lp_append(lp, sbuf, slen);
}

static unsigned char *zzl_delete(unsigned char *lp, unsigned char *p)
{
    unsigned char *next;
    lp = lp_delete(lp, p, &next);
    return lp_delete(lp, next, NULL);
}

static unsigned long zzl_length(const unsigned char *lp)
{
    return lp_count(lp) / 2;
}

static unsigned char *zzl_first_in_score(const unsigned char *lp, const zrange_score *r)
{
    if (zrange_score_empty(r))
        return NULL;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        double s = zzl_get_score(lp_next(lp, p));
        if (zrange_score_gte_min(s, r))
            return zrange_score_lte_max(s, r) ? p : NULL;
    }
    return NULL;
}

static unsigned char *zzl_last_in_score(const unsigned char *lp, const zrange_score *r)
{
    if (zrange_score_empty(r))
        return NULL;
    for (unsigned char *sp = lp_last(lp); sp; sp = lp_prev(lp, lp_prev(lp, sp))) {
        double s = zzl_get_score(sp);
        if (zrange_score_lte_max(s, r))
            return zrange_score_gte_min(s, r) ? lp_prev(lp, sp) : NULL;
    }
    return NULL;
}

static int zzl_lex_gte(const unsigned char *p, const zrange_lex *r)
{
    char tmp[OBJ_INT_STR_MAX];
    const char *s;
    size_t len;
    zzl_member(p, &s, &len, tmp);
    return zrange_lex_gte_min(s, len, r);
}

static int zzl_lex_lte(const unsigned char *p, const zrange_lex *r)
{
    char tmp[OBJ_INT_STR_MAX];
    const char *s;
    size_t len;
    zzl_member(p, &s, &len, tmp);
    return zrange_lex_lte_max(s, len, r);
}

/* Redis's zzlIsInLexRange: can any member be in r? */
static int zzl_lex_overlaps(const unsigned char *lp, const zrange_lex *r)
{
    if (zrange_lex_empty(r))
        return 0;
    unsigned char *last = lp_seek(lp, -2), *first = lp_first(lp);
    return last && zzl_lex_gte(last, r) && zzl_lex_lte(first, r);
}

static unsigned char *zzl_first_in_lex(const unsigned char *lp, const zrange_lex *r)
{
    if (!zzl_lex_overlaps(lp, r))
        return NULL;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)))
        if (zzl_lex_gte(p, r))
            return zzl_lex_lte(p, r) ? p : NULL;
    return NULL;
}

static unsigned char *zzl_last_in_lex(const unsigned char *lp, const zrange_lex *r)
{
    if (!zzl_lex_overlaps(lp, r))
        return NULL;
    for (unsigned char *sp = lp_last(lp); sp; sp = lp_prev(lp, lp_prev(lp, sp))) {
        unsigned char *p = lp_prev(lp, sp);
        if (zzl_lex_lte(p, r))
            return zzl_lex_gte(p, r) ? p : NULL;
    }
    return NULL;
}

/* 0-based rank of the member element p. */
static unsigned long zzl_rank_of(const unsigned char *lp, const unsigned char *p)
{
    unsigned long rank = 0;
    for (unsigned char *q = lp_first(lp); q && q != p; q = lp_next(lp, lp_next(lp, q)))
        rank++;
    return rank;
}

/* ---- conversions ---------------------------------------------------------------------------- */

static zskiplist *zzl_to_zsl(const unsigned char *lp)
{
    zskiplist *zsl = zsl_new(zzl_length(lp));
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        char tmp[OBJ_INT_STR_MAX];
        const char *s;
        size_t len;
        zzl_member(p, &s, &len, tmp);
        zsl_insert(zsl, zzl_get_score(lp_next(lp, p)), s, len);
    }
    return zsl;
}

static unsigned char *zsl_to_zzl(const zskiplist *zsl)
{
    unsigned char *lp = lp_new();
    for (zsl_node *n = zsl_first(zsl); n; n = zsl_next(n)) {
        char sbuf[ZSET_SCORE_STR_MAX];
        lp = lp_append(lp, zsl_node_member(n), n->mlen);
        lp = lp_append(lp, sbuf, (size_t)zzl_score_str(sbuf, n->score));
    }
    return lp;
}

static void zset_convert_to_skiplist(entry *e)
{
    unsigned char *lp = entry_ptr(e);
    zskiplist *zsl = zzl_to_zsl(lp);
    lp_free(lp);
    e->enc = ENC_SKIPLIST;
    entry_set_ptr(e, zsl);
}

static int listpack_fits(unsigned long length, size_t maxelelen)
{
    return length <= (unsigned long)server.cfg.zset_max_listpack_entries &&
           maxelelen <= (size_t)server.cfg.zset_max_listpack_value;
}

/* ---- whole values --------------------------------------------------------------------------- */

entry *zset_entry_new(const char *key, size_t klen)
{
    return entry_new_ptr(key, klen, OBJ_ZSET, ENC_LISTPACK, lp_new(), -1);
}

entry *zset_entry_from_zsl(const char *key, size_t klen, zskiplist *zsl, size_t maxelelen)
{
    if (listpack_fits(zsl_length(zsl), maxelelen)) {
        unsigned char *lp = zsl_to_zzl(zsl);
        zsl_free(zsl);
        return entry_new_ptr(key, klen, OBJ_ZSET, ENC_LISTPACK, lp, -1);
    }
    return entry_new_ptr(key, klen, OBJ_ZSET, ENC_SKIPLIST, zsl, -1);
}

unsigned long zset_length(const entry *e)
{
    if (e->enc == ENC_LISTPACK)
        return zzl_length(entry_ptr(e));
    return zsl_length(entry_ptr(e));
}

void zset_free_value(void *ptr, int enc)
{
    if (enc == ENC_LISTPACK)
        lp_free(ptr);
    else
        zsl_free(ptr);
}

size_t zset_mem_usage(const void *ptr, int enc)
{
    if (enc == ENC_LISTPACK)
        return zmalloc_size(ptr);
    return zsl_mem_usage(ptr);
}

const char *zset_enc_name(int enc)
{
    return enc == ENC_LISTPACK ? "listpack" : "skiplist";
}

void *zset_dup_value(const void *ptr, int enc)
{
    if (enc == ENC_LISTPACK)
        return lp_dup(ptr);
    return zsl_dup(ptr);
}

/* ---- members -------------------------------------------------------------------------------- */

int zset_score(const entry *e, const char *m, size_t len, double *score)
{
    if (e->enc == ENC_LISTPACK)
        return zzl_find(entry_ptr(e), m, len, score) != NULL;
    zsl_node *n = zsl_find(entry_ptr(e), m, len);
    if (!n)
        return 0;
    *score = n->score;
    return 1;
}

/* The part of zsetAdd common to both encodings for a present member: applies NX, INCR, GT and
 * LT to *score. Returns 0 on NaN, else 1 with *proceed telling whether to write. */
static int add_existing(double curscore, double *score, int in_flags, int *out_flags, int *proceed)
{
    *proceed = 0;
    if (in_flags & ZADD_IN_NX) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    if (in_flags & ZADD_IN_INCR) {
        *score += curscore;
        if (isnan(*score)) {
            *out_flags |= ZADD_OUT_NAN;
            return 0;
        }
    }
    if (((in_flags & ZADD_IN_LT) && *score >= curscore) ||
        ((in_flags & ZADD_IN_GT) && *score <= curscore)) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    *proceed = 1;
    return 1;
}

static int zzl_add(entry *e, double score, const char *m, size_t len, int in_flags, int *out_flags,
                   double *newscore)
{
    unsigned char *lp = entry_ptr(e);
    double curscore;
    unsigned char *p = zzl_find(lp, m, len, &curscore);
    if (p) {
        int proceed;
        if (!add_existing(curscore, &score, in_flags, out_flags, &proceed) || !proceed)
            return !(*out_flags & ZADD_OUT_NAN);
        if (newscore)
            *newscore = score;
        if (score != curscore) {
            lp = zzl_delete(lp, p);
            entry_set_ptr(e, zzl_insert(lp, m, len, score));
            *out_flags |= ZADD_OUT_UPDATED;
        }
        return 1;
    }
    if (in_flags & ZADD_IN_XX) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    if (zzl_length(lp) + 1 > (unsigned long)server.cfg.zset_max_listpack_entries ||
        len > (size_t)server.cfg.zset_max_listpack_value ||
        lp_bytes(lp) + len > LISTPACK_SAFETY_SIZE) {
        zset_convert_to_skiplist(e);
        return -1; /* continue in the skiplist */
    }
    entry_set_ptr(e, zzl_insert(lp, m, len, score));
    if (newscore)
        *newscore = score;
    *out_flags |= ZADD_OUT_ADDED;
    return 1;
}

int zset_add(entry *e, double score, const char *m, size_t len, int in_flags, int *out_flags,
             double *newscore)
{
    *out_flags = 0;
    if (isnan(score)) {
        *out_flags = ZADD_OUT_NAN;
        return 0;
    }
    if (e->enc == ENC_LISTPACK) {
        int r = zzl_add(e, score, m, len, in_flags, out_flags, newscore);
        if (r >= 0)
            return r;
    }
    zskiplist *zsl = entry_ptr(e);
    zsl_node *n = zsl_find(zsl, m, len);
    if (n) {
        int proceed;
        double curscore = n->score;
        if (!add_existing(curscore, &score, in_flags, out_flags, &proceed) || !proceed)
            return !(*out_flags & ZADD_OUT_NAN);
        if (newscore)
            *newscore = score;
        if (score != curscore) {
            zsl_update_score(zsl, n, score);
            *out_flags |= ZADD_OUT_UPDATED;
        }
        return 1;
    }
    if (in_flags & ZADD_IN_XX) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    zsl_insert(zsl, score, m, len);
    if (newscore)
        *newscore = score;
    *out_flags |= ZADD_OUT_ADDED;
    return 1;
}

int zset_delete(entry *e, const char *m, size_t len)
{
    if (e->enc == ENC_LISTPACK) {
        unsigned char *lp = entry_ptr(e);
        unsigned char *p = zzl_find(lp, m, len, NULL);
        if (!p)
            return 0;
        entry_set_ptr(e, zzl_delete(lp, p));
        return 1;
    }
    return zsl_delete(entry_ptr(e), m, len);
}

long zset_rank(const entry *e, const char *m, size_t len, int reverse, double *score)
{
    unsigned long length = zset_length(e), rank;
    double s;
    if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        unsigned char *p = zzl_find(lp, m, len, &s);
        if (!p)
            return -1;
        rank = zzl_rank_of(lp, p);
    } else {
        const zskiplist *zsl = entry_ptr(e);
        zsl_node *n = zsl_find(zsl, m, len);
        if (!n)
            return -1;
        s = n->score;
        rank = zsl_rank(zsl, n) - 1;
    }
    if (score)
        *score = s;
    return (long)(reverse ? length - 1 - rank : rank);
}

unsigned long zset_delete_rank_range(entry *e, unsigned long start, unsigned long end)
{
    unsigned long n = end - start + 1;
    if (e->enc == ENC_LISTPACK) {
        entry_set_ptr(e, lp_delete_range(entry_ptr(e), (long)(2 * start), 2 * n));
        return n;
    }
    return zsl_delete_rank_range(entry_ptr(e), start + 1, end + 1);
}

unsigned long zset_score_range_ranks(const entry *e, const zrange_score *r, unsigned long *first)
{
    if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        unsigned char *p = zzl_first_in_score(lp, r);
        if (!p)
            return 0;
        *first = zzl_rank_of(lp, p);
        unsigned long count = 0;
        for (; p && zrange_score_lte_max(zzl_get_score(lp_next(lp, p)), r);
             p = lp_next(lp, lp_next(lp, p)))
            count++;
        return count;
    }
    const zskiplist *zsl = entry_ptr(e);
    zsl_node *a = zsl_first_in_score(zsl, r);
    if (!a)
        return 0;
    zsl_node *b = zsl_last_in_score(zsl, r);
    unsigned long ra = zsl_rank(zsl, a);
    *first = ra - 1;
    return (b ? zsl_rank(zsl, b) : zsl_length(zsl)) - ra + 1;
}

/* The members of a lex range need not be contiguous when scores differ (Redis leaves the
 * result unspecified then); the two functions below follow Redis's code paths step by step so
 * that even then the answers are Redis's. */

long long zset_lex_count(const entry *e, const zrange_lex *r)
{
    if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        long long count = 0;
        for (unsigned char *p = zzl_first_in_lex(lp, r); p && zzl_lex_lte(p, r);
             p = lp_next(lp, lp_next(lp, p)))
            count++;
        return count;
    }
    const zskiplist *zsl = entry_ptr(e);
    zsl_node *n = zsl_first_in_lex(zsl, r);
    if (!n)
        return 0;
    /* Redis's arithmetic, in its unsigned long, wrap included. */
    unsigned long count = zsl_length(zsl) - (zsl_rank(zsl, n) - 1);
    n = zsl_last_in_lex(zsl, r);
    if (n)
        count -= zsl_length(zsl) - zsl_rank(zsl, n);
    return (long long)count;
}

unsigned long zset_delete_lex_range(entry *e, const zrange_lex *r)
{
    unsigned long first, n = 0;
    if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        unsigned char *p = zzl_first_in_lex(lp, r);
        if (!p)
            return 0;
        first = zzl_rank_of(lp, p);
        for (; p && zzl_lex_lte(p, r); p = lp_next(lp, lp_next(lp, p)))
            n++;
    } else {
        /* zslDeleteRangeByLex: from where the descent to the minimum lands, no range check. */
        const zskiplist *zsl = entry_ptr(e);
        zsl_node *x = zsl_seek_lex_min(zsl, r);
        if (!x)
            return 0;
        first = zsl_rank(zsl, x) - 1;
        for (; x && zrange_lex_lte_max(zsl_node_member(x), x->mlen, r); x = zsl_next(x))
            n++;
    }
    return n ? zset_delete_rank_range(e, first, first + n - 1) : 0;
}

/* ---- iteration ------------------------------------------------------------------------------ */

static void iter_init(zset_iter *it, const entry *e, int reverse)
{
    memset(it, 0, sizeof(*it));
    it->reverse = reverse;
    if (e->enc == ENC_LISTPACK)
        it->lp = entry_ptr(e);
    else
        it->zsl = entry_ptr(e);
}

void zset_iter_at_rank(zset_iter *it, const entry *e, unsigned long rank, int reverse)
{
    iter_init(it, e, reverse);
    unsigned long length = zset_length(e);
    if (rank >= length)
        return;
    unsigned long pos = reverse ? length - 1 - rank : rank;
    if (it->lp)
        it->p = lp_seek(it->lp, (long)(2 * pos));
    else
        it->node = zsl_by_rank(it->zsl, pos + 1);
}

void zset_iter_at_score(zset_iter *it, const entry *e, const zrange_score *r, int reverse)
{
    iter_init(it, e, reverse);
    if (it->lp)
        it->p = reverse ? zzl_last_in_score(it->lp, r) : zzl_first_in_score(it->lp, r);
    else
        it->node = reverse ? zsl_last_in_score(it->zsl, r) : zsl_first_in_score(it->zsl, r);
}

void zset_iter_at_lex(zset_iter *it, const entry *e, const zrange_lex *r, int reverse)
{
    iter_init(it, e, reverse);
    if (it->lp)
        it->p = reverse ? zzl_last_in_lex(it->lp, r) : zzl_first_in_lex(it->lp, r);
    else
        it->node = reverse ? zsl_last_in_lex(it->zsl, r) : zsl_first_in_lex(it->zsl, r);
}

int zset_iter_get(const zset_iter *it, zset_elem *out)
{
    if (it->lp) {
        if (!it->p)
            return 0;
        zzl_member(it->p, &out->s, &out->len, out->tmp);
        out->score = zzl_get_score(lp_next(it->lp, it->p));
        return 1;
    }
    if (!it->node)
        return 0;
    out->s = zsl_node_member(it->node);
    out->len = it->node->mlen;
    out->score = it->node->score;
    return 1;
}

void zset_iter_next(zset_iter *it)
{
    if (it->lp) {
        if (!it->p)
            return;
        if (it->reverse) {
            unsigned char *sp = lp_prev(it->lp, it->p);
            it->p = sp ? lp_prev(it->lp, sp) : NULL;
        } else {
            it->p = lp_next(it->lp, lp_next(it->lp, it->p));
        }
        return;
    }
    if (it->node)
        it->node = it->reverse ? zsl_prev(it->node) : zsl_next(it->node);
}

void zset_each(const entry *e, elem_fn fn, void *arg)
{
    zset_iter it;
    zset_elem el;
    for (zset_iter_at_rank(&it, e, 0, 0); zset_iter_get(&it, &el); zset_iter_next(&it))
        fn(arg, el.s, el.len);
}

void zset_iter_skip(zset_iter *it, unsigned long n)
{
    if (it->lp || !it->node) {
        while (n-- > 0 && (it->p || it->node))
            zset_iter_next(it);
        return;
    }
    unsigned long rank = zsl_rank(it->zsl, it->node);
    if (it->reverse)
        it->node = n >= rank ? NULL : zsl_by_rank(it->zsl, rank - n);
    else
        it->node = n > zsl_length(it->zsl) - rank ? NULL : zsl_by_rank(it->zsl, rank + n);
}

void zset_at_rank(const entry *e, unsigned long rank, zset_elem *out)
{
    zset_iter it;
    zset_iter_at_rank(&it, e, rank, 0);
    int ok = zset_iter_get(&it, out);
    assert(ok);
    (void)ok;
}

void zset_random(const entry *e, uint64_t rnd, zset_elem *out)
{
    zset_at_rank(e, rnd % zset_length(e), out);
}
