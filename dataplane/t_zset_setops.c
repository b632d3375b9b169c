/* ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (Redis's
 * zunionInterDiffGenericCommand). Inputs may be sorted sets or plain sets (every member of a
 * set scores 1), as in Redis.
 *
 * Results are accumulated in a skiplist (member index + order), which a STORE then adopts as it
 * is, or rewrites as a listpack when the result is small. The inputs are ordered by size, with
 * ties kept in argument order (glibc's qsort, which Redis uses, is a merge sort): the order in
 * which floating-point scores are aggregated is then the same as Redis's, and so are the
 * results to the last bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "hashtab.h"
#include "intset.h"
#include "listpack.h"
#include "reply.h"
#include "t_zset.h"
#include "zset.h"

#define ERR_WEIGHT "ERR weight value is not a float"
#define ERR_LIMIT_NEG "ERR LIMIT can't be negative"

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGGR_SUM, AGGR_MIN, AGGR_MAX };

/* One input: an entry (a sorted set or a set), or NULL for a missing key. */
typedef struct zsrc {
    const entry *e;
    double weight;
    unsigned long len;
    int pos; /* argument order, the tie-breaker of the size order */
} zsrc;

/* ---- inputs of either type --------------------------------------------------------------------
 */

static unsigned long src_length(const entry *e)
{
    if (!e)
        return 0;
    if (e->type == OBJ_ZSET)
        return zset_length(e);
    switch (e->enc) {
    case ENC_INTSET: return intset_len(entry_ptr(e));
    case ENC_LISTPACK: return lp_count(entry_ptr(e));
    default: return ht_count(entry_ptr(e));
    }
}

/* Called for each member with its score; a non-zero return stops the walk. */
typedef int (*src_fn)(void *arg, const char *s, size_t len, double score);

static void src_foreach(const entry *e, src_fn fn, void *arg)
{
    if (!e)
        return;
    if (e->type == OBJ_ZSET) {
        zset_iter it;
        zset_elem el;
        for (zset_iter_at_rank(&it, e, 0, 0); zset_iter_get(&it, &el); zset_iter_next(&it))
            if (fn(arg, el.s, el.len, el.score))
                return;
        return;
    }
    char tmp[OBJ_INT_STR_MAX];
    if (e->enc == ENC_INTSET) {
        const intset *is = entry_ptr(e);
        for (uint32_t i = 0; i < intset_len(is); i++)
            if (fn(arg, tmp, (size_t)ll_to_str(tmp, intset_get(is, i)), 1.0))
                return;
    } else if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
            lp_value v;
            lp_get(p, &v, tmp);
            if (fn(arg, v.s, v.len, 1.0))
                return;
        }
    } else {
        ht_iter it;
        const ht_elem *he;
        ht_iter_init(&it, entry_ptr(e));
        while ((he = ht_iter_next(&it))) {
            size_t len;
            const char *k = ht_elem_key(he, &len);
            if (fn(arg, k, len, 1.0))
                return;
        }
    }
}

/* 1 and the member's score when s is in e. */
static int src_find(const entry *e, const char *s, size_t len, double *score)
{
    if (!e)
        return 0;
    if (e->type == OBJ_ZSET)
        return zset_score(e, s, len, score);
    int found;
    if (e->enc == ENC_INTSET) {
        long long v;
        found = str_to_ll(s, len, &v) && intset_find(entry_ptr(e), v);
    } else if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        unsigned char *first = lp_first(lp);
        found = first && lp_find(lp, first, s, len, 0) != NULL;
    } else {
        found = ht_find(entry_ptr(e), s, len) != NULL;
    }
    *score = 1.0;
    return found;
}

/* ---- aggregation ---------------------------------------------------------------------------- */

/* Redis's zunionInterAggregate; a sum of +inf and -inf is 0, not NaN. */
static double aggregate(double target, double val, int aggr)
{
    if (aggr == AGGR_SUM) {
        target += val;
        return isnan(target) ? 0.0 : target;
    }
    if (aggr == AGGR_MIN)
        return val < target ? val : target;
    return val > target ? val : target;
}

/* The state of one operation's walk. */
typedef struct zop {
    zsrc *src;
    long long nsrc;
    int aggr;
    zskiplist *acc;   /* the result so far */
    size_t maxelelen; /* its longest member (listpack or not, for a STORE) */
    int cur;          /* UNION: the input being walked */
    int card_only;    /* ZINTERCARD: count, do not build */
    unsigned long card;
    long long limit; /* ZINTERCARD LIMIT, 0 for none */
} zop;

static void acc_insert(zop *op, double score, const char *s, size_t len)
{
    zsl_insert(op->acc, score, s, len);
    if (len > op->maxelelen)
        op->maxelelen = len;
}

static int union_visit(void *arg, const char *s, size_t len, double score)
{
    zop *op = arg;
    double v = op->src[op->cur].weight * score;
    if (isnan(v))
        v = 0;
    zsl_node *n = zsl_find(op->acc, s, len);
    if (!n) {
        acc_insert(op, v, s, len);
        return 0;
    }
    double t = aggregate(n->score, v, op->aggr);
    /* Compare bits, not values: 0 and -0 are equal but print differently. */
    if (memcmp(&t, &n->score, sizeof(t)) != 0)
        zsl_update_score(op->acc, n, t);
    return 0;
}

static int inter_visit(void *arg, const char *s, size_t len, double score)
{
    zop *op = arg;
    double total = op->src[0].weight * score;
    if (isnan(total))
        total = 0;
    for (long long j = 1; j < op->nsrc; j++) {
        double v;
        if (!src_find(op->src[j].e, s, len, &v))
            return 0;
        total = aggregate(total, v * op->src[j].weight, op->aggr);
    }
    if (!op->card_only) {
        acc_insert(op, total, s, len);
        return 0;
    }
    op->card++;
    return op->limit && op->card >= (unsigned long long)op->limit;
}

static int diff_visit(void *arg, const char *s, size_t len, double score)
{
    zop *op = arg;
    double v;
    for (long long j = 1; j < op->nsrc; j++)
        if (src_find(op->src[j].e, s, len, &v))
            return 0;
    acc_insert(op, score, s, len);
    return 0;
}

static int cmp_by_size(const void *a, const void *b)
{
    const zsrc *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->pos - y->pos;
}

static void zop_run(zop *op, int kind)
{
    if (kind != OP_DIFF)
        qsort(op->src, (size_t)op->nsrc, sizeof(zsrc), cmp_by_size);
    if (kind == OP_INTER) {
        if (op->src[0].len > 0)
            src_foreach(op->src[0].e, inter_visit, op);
    } else if (kind == OP_UNION) {
        for (op->cur = 0; op->cur < op->nsrc; op->cur++)
            src_foreach(op->src[op->cur].e, union_visit, op);
    } else {
        src_foreach(op->src[0].e, diff_visit, op);
    }
}

/* ---- the commands --------------------------------------------------------------------------- */

/* Reads WEIGHTS, AGGREGATE, WITHSCORES and LIMIT from argv[j] on. -1 after an error reply. */
static int parse_options(cmd_ctx *c, int j, zop *op, int kind, int store, int *withscores)
{
    while (j < c->argc) {
        int remaining = c->argc - j;
        const slice *a = &c->argv[j];
        if (kind != OP_DIFF && !op->card_only && remaining >= op->nsrc + 1 &&
            arg_eq(a, "weights")) {
            j++;
            for (long long i = 0; i < op->nsrc; i++, j++)
                if (zset_double_or_reply(c, &c->argv[j], &op->src[i].weight, ERR_WEIGHT))
                    return -1;
        } else if (kind != OP_DIFF && !op->card_only && remaining >= 2 && arg_eq(a, "aggregate")) {
            const slice *v = &c->argv[j + 1];
            if (arg_eq(v, "sum"))
                op->aggr = AGGR_SUM;
            else if (arg_eq(v, "min"))
                op->aggr = AGGR_MIN;
            else if (arg_eq(v, "max"))
                op->aggr = AGGR_MAX;
            else
                goto syntax;
            j += 2;
        } else if (!store && !op->card_only && arg_eq(a, "withscores")) {
            *withscores = 1;
            j++;
        } else if (op->card_only && remaining >= 2 && arg_eq(a, "limit")) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &op->limit, ERR_LIMIT_NEG))
                return -1;
            if (op->limit < 0) {
                reply_error(c, ERR_LIMIT_NEG);
                return -1;
            }
            j += 2;
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    reply_syntax_error(c);
    return -1;
}

static void reply_result(cmd_ctx *c, const zskiplist *zsl, int withscores)
{
    reply_array(c, (long)zsl_length(zsl) * (withscores && c->resp < 3 ? 2 : 1));
    for (const zsl_node *n = zsl_first(zsl); n; n = zsl_next(n))
        zset_reply_elem(c, zsl_node_member(n), n->mlen, n->score, withscores);
}

/* Redis's zunionInterDiffGenericCommand. dst is the STORE destination (NULL otherwise);
 * numkeys is at argv[nk]. */
static void zsetop_generic(cmd_ctx *c, const slice *dst, int nk, int kind, int card_only)
{
    static const char *const events[] = {"zunionstore", "zinterstore", "zdiffstore"};
    long long nsrc;
    if (arg_ll_or_reply(c, &c->argv[nk], &nsrc, NULL))
        return;
    if (nsrc < 1) {
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (nsrc > c->argc - (nk + 1)) {
        reply_syntax_error(c);
        return;
    }
    zop op = {.nsrc = nsrc, .aggr = AGGR_SUM, .card_only = card_only};
    op.src = mem_calloc((size_t)nsrc, sizeof(zsrc));
    /* Types are checked before the options, as in Redis. */
    for (int i = 0; i < nsrc; i++) {
        const slice *k = &c->argv[nk + 1 + i];
        const entry *e = db_lookup_read(c, k->p, k->len);
        if (e && e->type != OBJ_ZSET && e->type != OBJ_SET) {
            reply_error(c, ERR_WRONGTYPE);
            goto out;
        }
        op.src[i] = (zsrc){.e = e, .weight = 1.0, .len = src_length(e), .pos = i};
    }
    int withscores = 0;
    if (parse_options(c, nk + 1 + (int)nsrc, &op, kind, dst != NULL, &withscores))
        goto out;
    if (!card_only)
        op.acc = zsl_new(0);
    zop_run(&op, kind);
    if (card_only) {
        reply_int(c, (long long)op.card);
    } else if (dst) {
        entry *result = NULL;
        if (zsl_length(op.acc))
            result = zset_entry_from_zsl(dst->p, dst->len, op.acc, op.maxelelen);
        else
            zsl_free(op.acc);
        op.acc = NULL;
        zset_store_result(c, dst, result, events[kind]);
    } else {
        reply_result(c, op.acc, withscores);
    }
out:
    zsl_free(op.acc);
    free(op.src);
}

void zunion_cmd(cmd_ctx *c)
{
    zsetop_generic(c, NULL, 1, OP_UNION, 0);
}

void zunionstore_cmd(cmd_ctx *c)
{
    zsetop_generic(c, &c->argv[1], 2, OP_UNION, 0);
}

void zinter_cmd(cmd_ctx *c)
{
    zsetop_generic(c, NULL, 1, OP_INTER, 0);
}

void zinterstore_cmd(cmd_ctx *c)
{
    zsetop_generic(c, &c->argv[1], 2, OP_INTER, 0);
}

void zintercard_cmd(cmd_ctx *c)
{
    zsetop_generic(c, NULL, 1, OP_INTER, 1);
}

void zdiff_cmd(cmd_ctx *c)
{
    zsetop_generic(c, NULL, 1, OP_DIFF, 0);
}

void zdiffstore_cmd(cmd_ctx *c)
{
    zsetop_generic(c, &c->argv[1], 2, OP_DIFF, 0);
}

int zunion_getkeys(int argc, const slice *argv, int *keys, int max)
{
    return zset_numkeys_getkeys(argc, argv, 1, 0, keys, max);
}

int zstore_getkeys(int argc, const slice *argv, int *keys, int max)
{
    return zset_numkeys_getkeys(argc, argv, 2, 1, keys, max);
}
