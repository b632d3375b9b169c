/* Sorted-set commands (Redis's t_zset.c): ZADD ... ZSCAN and the type's registration. The
 * values and their two encodings (listpack, skiplist) live in zset.c; ZUNION, ZINTER, ZDIFF and
 * their STORE forms in t_zset_setops.c; the pops, blocking ones included, in t_zset_pop.c.
 *
 * Replies follow Redis 7.0 byte for byte: scores print as %.17g (RESP2 bulk strings, RESP3
 * doubles), ranges take Redis's parsing quirks ("(" exclusive bounds, strtod's leniency), and
 * the WITHSCORES layouts differ between RESP2 (flat) and RESP3 (pairs) as in Redis. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "debug.h"
#include "glob.h"
#include "reply.h"
#include "server.h"
#include "t_zset.h"
#include "zset.h"

#define ERR_MINMAX_FLOAT "ERR min or max is not a float"
#define ERR_MINMAX_LEX "ERR min or max not valid string range item"
#define ERR_NAN_SCORE "ERR resulting score is not a number (NaN)"
#define ERR_XX_NX "ERR XX and NX options at the same time are not compatible"
#define ERR_GT_LT_NX "ERR GT, LT, and/or NX options at the same time are not compatible"
#define ERR_INCR_PAIR "ERR INCR option supports a single increment-element pair"
#define ERR_LIMIT_RANK                                                                             \
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
#define ERR_WITHSCORES_LEX "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
#define ERR_RAND_WITHSCORES_RANGE "ERR value is out of range"
#define ERR_RAND_RANGE                                                                             \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

/* Arguments shorter than this are made NUL-terminated on the stack for strtod. */
#define NUM_ARG_STACK 128
#define SCAN_DEFAULT_COUNT 10
#define SCAN_ITERATIONS_PER_COUNT 10 /* Redis bounds a sparse table's scan the same way */
/* ZRANDMEMBER without repetitions copies ranks and drops random ones when it wants more than
 * 1/ZRAND_COPY_RATIO of the set (Redis's CASE 3); otherwise it draws distinct ranks. */
#define ZRAND_COPY_RATIO 3
#define RANK_SET_MIN 4                       /* smallest table of drawn ranks */
#define FIBONACCI_HASH 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio: spreads ranks */

enum { RANGE_AUTO = 0, RANGE_RANK, RANGE_SCORE, RANGE_LEX };
enum { DIR_AUTO = 0, DIR_FORWARD, DIR_REVERSE };

/* ---- shared with t_zset_setops.c and t_geo.c ------------------------------------------------ */

/* Runs strtod over a NUL-terminated copy of p/len. *consumed gets how many bytes it read. */
static double strtod_copy(const char *p, size_t len, size_t *consumed, int *erange)
{
    char stack[NUM_ARG_STACK];
    char *tmp = len < sizeof(stack) ? stack : mem_malloc(len + 1);
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    *erange = errno == ERANGE;
    *consumed = (size_t)(end - tmp);
    /* strtod stops at an embedded NUL as Redis's does on its NUL-terminated strings: the rest
     * is ignored there, so it is here (zslParseRange accepts it). */
    if (*end == '\0')
        *consumed = len;
    if (tmp != stack)
        free(tmp);
    return v;
}

int zset_parse_double(const slice *a, double *out)
{
    size_t consumed;
    int erange;
    if (a->len == 0 || isspace((unsigned char)a->p[0]))
        return -1;
    double v = strtod_copy(a->p, a->len, &consumed, &erange);
    if (consumed != a->len || memchr(a->p, '\0', a->len) || isnan(v) ||
        (erange && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)))
        return -1;
    *out = v;
    return 0;
}

int zset_double_or_reply(cmd_ctx *c, const slice *a, double *out, const char *errmsg)
{
    if (zset_parse_double(a, out) == 0)
        return 0;
    reply_error(c, errmsg ? errmsg : ERR_NOT_FLOAT);
    return -1;
}

void zset_reply_score(cmd_ctx *c, double d)
{
    reply_double(c, d);
}

/* A member with its score when withscores: a [member, score] pair in RESP3, flat in RESP2. */
void zset_reply_elem(cmd_ctx *c, const char *s, size_t len, double score, int withscores)
{
    if (withscores && c->resp >= 3)
        reply_array(c, 2);
    reply_bulk(c, s, len);
    if (withscores)
        zset_reply_score(c, score);
}

/* Redis's zslParseRange: strtod without the strictness of ZADD's scores (leading spaces and an
 * empty bound are accepted, as Redis accepts them). */
static int parse_score_bound(const slice *a, double *v, int *ex)
{
    size_t off = a->len && a->p[0] == '(' ? 1 : 0, consumed;
    int erange;
    *ex = (int)off;
    *v = strtod_copy(a->p + off, a->len - off, &consumed, &erange);
    return consumed == a->len - off && !isnan(*v) ? 0 : -1;
}

int zset_parse_score_range(const slice *min, const slice *max, zrange_score *r)
{
    if (parse_score_bound(min, &r->min, &r->minex) || parse_score_bound(max, &r->max, &r->maxex))
        return -1;
    return 0;
}

/* Redis's zslParseLexRangeItem: "+", "-", "(value" or "[value". */
static int parse_lex_bound(const slice *a, const char **s, size_t *len, int *ex, int *kind)
{
    if (a->len == 0)
        return -1;
    *s = a->p + 1;
    *len = a->len - 1;
    *kind = ZLEX_VALUE;
    switch (a->p[0]) {
    case '+':
    case '-':
        /* Redis compares the next byte with the terminating NUL. */
        if (a->len > 1 && a->p[1] != '\0')
            return -1;
        *ex = 1;
        *kind = a->p[0] == '+' ? ZLEX_PLUS_INF : ZLEX_MINUS_INF;
        return 0;
    case '(': *ex = 1; return 0;
    case '[': *ex = 0; return 0;
    default: return -1;
    }
}

int zset_parse_lex_range(const slice *min, const slice *max, zrange_lex *r)
{
    if (parse_lex_bound(min, &r->min, &r->minlen, &r->minex, &r->minkind) ||
        parse_lex_bound(max, &r->max, &r->maxlen, &r->maxex, &r->maxkind))
        return -1;
    return 0;
}

void zset_written(cmd_ctx *c, const slice *key, entry *e, const char *event)
{
    db_notify(c, NOTIFY_ZSET, event, key->p, key->len);
    if (zset_length(e) == 0) {
        db_delete(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
    }
    db_signal_modified(c, key->p, key->len);
}

void zset_store_result(cmd_ctx *c, const slice *dst, entry *result, const char *event)
{
    unsigned long n = result ? zset_length(result) : 0;
    if (n) {
        db_put(c, result, 0);
        db_signal_modified(c, dst->p, dst->len);
        db_notify(c, NOTIFY_ZSET, event, dst->p, dst->len);
    } else {
        if (result)
            entry_free(result);
        if (db_delete(c, dst->p, dst->len)) {
            db_signal_modified(c, dst->p, dst->len);
            db_notify(c, NOTIFY_GENERIC, "del", dst->p, dst->len);
        }
    }
    reply_int(c, (long long)n);
}

/* ---- ZADD, ZINCRBY -------------------------------------------------------------------------- */

/* Redis's zaddGenericCommand: ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [...] and
 * ZINCRBY (flags ZADD_IN_INCR, no options). */
static void zadd_generic(cmd_ctx *c, int flags, int parse_options)
{
    const slice *key = &c->argv[1];
    int scoreidx = 2, ch = 0;
    while (parse_options && scoreidx < c->argc) {
        const slice *o = &c->argv[scoreidx];
        if (arg_eq(o, "nx"))
            flags |= ZADD_IN_NX;
        else if (arg_eq(o, "xx"))
            flags |= ZADD_IN_XX;
        else if (arg_eq(o, "ch"))
            ch = 1;
        else if (arg_eq(o, "incr"))
            flags |= ZADD_IN_INCR;
        else if (arg_eq(o, "gt"))
            flags |= ZADD_IN_GT;
        else if (arg_eq(o, "lt"))
            flags |= ZADD_IN_LT;
        else
            break;
        scoreidx++;
    }
    int elements = c->argc - scoreidx, incr = (flags & ZADD_IN_INCR) != 0;
    if (elements % 2 || !elements) {
        reply_syntax_error(c);
        return;
    }
    elements /= 2;
    if ((flags & ZADD_IN_NX) && (flags & ZADD_IN_XX)) {
        reply_error(c, ERR_XX_NX);
        return;
    }
    int gt = (flags & ZADD_IN_GT) != 0, lt = (flags & ZADD_IN_LT) != 0,
        nx = (flags & ZADD_IN_NX) != 0;
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c, ERR_GT_LT_NX);
        return;
    }
    if (incr && elements > 1) {
        reply_error(c, ERR_INCR_PAIR);
        return;
    }
    /* Every score is checked before anything changes: the command does all or nothing. */
    double *scores = mem_malloc(sizeof(double) * (size_t)elements);
    for (int j = 0; j < elements; j++)
        if (zset_double_or_reply(c, &c->argv[scoreidx + j * 2], &scores[j], NULL))
            goto cleanup;

    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        goto cleanup;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!e && !(flags & ZADD_IN_XX)) {
        e = zset_entry_new(key->p, key->len);
        db_add(c, e);
    }
    for (int j = 0; e && j < elements; j++) {
        int out;
        double newscore;
        const slice *m = &c->argv[scoreidx + 1 + j * 2];
        if (!zset_add(e, scores[j], m->p, m->len, flags, &out, &newscore)) {
            reply_error(c, ERR_NAN_SCORE);
            goto written;
        }
        added += (out & ZADD_OUT_ADDED) != 0;
        updated += (out & ZADD_OUT_UPDATED) != 0;
        if (!(out & ZADD_OUT_NOP)) {
            processed++;
            score = newscore;
        }
    }
    if (incr) {
        if (processed)
            zset_reply_score(c, score);
        else
            reply_null(c);
    } else {
        reply_int(c, ch ? added + updated : added);
    }
written:
    if (added || updated)
        zset_written(c, key, e, incr ? "zincr" : "zadd");
cleanup:
    free(scores);
}

void zadd_cmd(cmd_ctx *c)
{
    zadd_generic(c, 0, 1);
}

static void zincrby_cmd(cmd_ctx *c)
{
    zadd_generic(c, ZADD_IN_INCR, 0);
}

/* ---- single-member reads and ZREM ----------------------------------------------------------- */

static void zrem_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    long long deleted = 0;
    for (int j = 2; j < c->argc && zset_length(e); j++)
        deleted += zset_delete(e, c->argv[j].p, c->argv[j].len);
    if (deleted)
        zset_written(c, key, e, "zrem");
    reply_int(c, deleted);
}

/* The zset at argv[1] for a read, or NULL after replying (absent: `absent` decides). */
enum { ABSENT_ZERO, ABSENT_NULL, ABSENT_EMPTY_ARRAY, ABSENT_NULL_ARRAY };
static entry *zset_read_or_reply(cmd_ctx *c, int absent)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return NULL;
    if (e)
        return e;
    switch (absent) {
    case ABSENT_ZERO: reply_int(c, 0); break;
    case ABSENT_NULL: reply_null(c); break;
    case ABSENT_EMPTY_ARRAY: reply_array(c, 0); break;
    default: reply_null_array(c); break;
    }
    return NULL;
}

static void zcard_cmd(cmd_ctx *c)
{
    entry *e = zset_read_or_reply(c, ABSENT_ZERO);
    if (e)
        reply_int(c, (long long)zset_length(e));
}

static void zscore_cmd(cmd_ctx *c)
{
    entry *e = zset_read_or_reply(c, ABSENT_NULL);
    double score;
    if (!e)
        return;
    if (zset_score(e, c->argv[2].p, c->argv[2].len, &score))
        zset_reply_score(c, score);
    else
        reply_null(c);
}

static void zmscore_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        if (e && zset_score(e, c->argv[j].p, c->argv[j].len, &score))
            zset_reply_score(c, score);
        else
            reply_null(c);
    }
}

/* ZRANK / ZREVRANK key member [WITHSCORE] (WITHSCORE as Redis 7.2 has it). */
static void zrank_generic(cmd_ctx *c, int reverse)
{
    int withscore = 0;
    if (c->argc > 4) {
        reply_wrong_args(c);
        return;
    }
    if (c->argc == 4) {
        if (!arg_eq(&c->argv[3], "withscore")) {
            reply_syntax_error(c);
            return;
        }
        withscore = 1;
    }
    entry *e = zset_read_or_reply(c, withscore ? ABSENT_NULL_ARRAY : ABSENT_NULL);
    if (!e)
        return;
    double score;
    long rank = zset_rank(e, c->argv[2].p, c->argv[2].len, reverse, &score);
    if (rank < 0) {
        if (withscore)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (withscore)
        reply_array(c, 2);
    reply_int(c, rank);
    if (withscore)
        zset_reply_score(c, score);
}

static void zrank_cmd(cmd_ctx *c)
{
    zrank_generic(c, 0);
}

static void zrevrank_cmd(cmd_ctx *c)
{
    zrank_generic(c, 1);
}

static void zcount_cmd(cmd_ctx *c)
{
    zrange_score r;
    if (zset_parse_score_range(&c->argv[2], &c->argv[3], &r)) {
        reply_error(c, ERR_MINMAX_FLOAT);
        return;
    }
    entry *e = zset_read_or_reply(c, ABSENT_ZERO);
    unsigned long first;
    if (e)
        reply_int(c, (long long)zset_score_range_ranks(e, &r, &first));
}

static void zlexcount_cmd(cmd_ctx *c)
{
    zrange_lex r;
    if (zset_parse_lex_range(&c->argv[2], &c->argv[3], &r)) {
        reply_error(c, ERR_MINMAX_LEX);
        return;
    }
    entry *e = zset_read_or_reply(c, ABSENT_ZERO);
    if (e)
        reply_int(c, zset_lex_count(e, &r));
}

/* ---- ZRANGE and its variants ---------------------------------------------------------------- */

/* Where a range goes (Redis's zrange_result_handler): to the client, or into a new sorted set
 * for ZRANGESTORE. */
typedef struct range_out {
    cmd_ctx *c;
    int withscores;
    const slice *dstkey; /* ZRANGESTORE */
    entry *dst;
    size_t deferred;
    int known; /* the reply length was written up front */
    long count;
} range_out;

static void range_begin(range_out *o, long length)
{
    o->count = 0;
    if (o->dstkey) {
        o->dst = zset_entry_new(o->dstkey->p, o->dstkey->len);
        return;
    }
    o->known = length >= 0;
    if (o->known)
        reply_array(o->c, length * (o->withscores && o->c->resp < 3 ? 2 : 1));
    else
        o->deferred = reply_deferred(o->c);
}

static void range_emit(range_out *o, const zset_elem *el)
{
    o->count++;
    if (o->dst) {
        int out;
        zset_add(o->dst, el->score, el->s, el->len, 0, &out, NULL);
        return;
    }
    zset_reply_elem(o->c, el->s, el->len, el->score, o->withscores);
}

static void range_end(range_out *o)
{
    if (o->dstkey) {
        zset_store_result(o->c, o->dstkey, o->dst, "zrangestore");
        return;
    }
    if (!o->known)
        reply_set_deferred_array(o->c, o->deferred,
                                 o->count * (o->withscores && o->c->resp < 3 ? 2 : 1));
}

/* Redis's genericZrangebyrankCommand. */
static void range_by_rank(range_out *o, entry *e, long long start, long long end, int reverse)
{
    long long llen = (long long)zset_length(e);
    if (start < 0)
        start = llen + start;
    if (end < 0)
        end = llen + end;
    if (start < 0)
        start = 0;
    if (start > end || start >= llen) {
        range_begin(o, 0);
        range_end(o);
        return;
    }
    if (end >= llen)
        end = llen - 1;
    long n = (long)(end - start + 1);
    range_begin(o, n);
    zset_iter it;
    zset_elem el;
    zset_iter_at_rank(&it, e, (unsigned long)start, reverse);
    for (long i = 0; i < n && zset_iter_get(&it, &el); i++, zset_iter_next(&it))
        range_emit(o, &el);
    range_end(o);
}

/* The range part shared by score and lex ranges: skips `offset` (a negative offset skips
 * everything, as Redis's `while (offset--)` loop does) and emits up to `limit` (negative: no
 * limit) elements while in_range says the range has not ended. */
static void range_walk(range_out *o, zset_iter *it, long long offset, long long limit,
                       int (*in_range)(const zset_elem *el, const void *r, int reverse),
                       const void *r)
{
    zset_elem el;
    range_begin(o, -1);
    if (offset > 0)
        zset_iter_skip(it, (unsigned long long)offset);
    while (offset >= 0 && limit-- != 0 && zset_iter_get(it, &el) && in_range(&el, r, it->reverse)) {
        range_emit(o, &el);
        zset_iter_next(it);
    }
    range_end(o);
}

static int score_in_range(const zset_elem *el, const void *r, int reverse)
{
    return reverse ? zrange_score_gte_min(el->score, r) : zrange_score_lte_max(el->score, r);
}

static int lex_in_range(const zset_elem *el, const void *r, int reverse)
{
    return reverse ? zrange_lex_gte_min(el->s, el->len, r) : zrange_lex_lte_max(el->s, el->len, r);
}

/* Redis's zrangeGenericCommand: ZRANGE, ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE and
 * Z[REV]RANGEBYLEX. argv[first] is the source key, then min and max. */
static void zrange_generic(cmd_ctx *c, int first, const slice *dstkey, int type, int dir)
{
    int minidx = first + 1, maxidx = first + 2, withscores = 0;
    long long offset = 0, limit = -1;
    for (int j = first + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!dstkey && arg_eq(&c->argv[j], "withscores")) {
            withscores = 1;
        } else if (arg_eq(&c->argv[j], "limit") && left >= 2) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &offset, NULL) ||
                arg_ll_or_reply(c, &c->argv[j + 2], &limit, NULL))
                return;
            j += 2;
        } else if (dir == DIR_AUTO && arg_eq(&c->argv[j], "rev")) {
            dir = DIR_REVERSE;
        } else if (type == RANGE_AUTO && arg_eq(&c->argv[j], "bylex")) {
            type = RANGE_LEX;
        } else if (type == RANGE_AUTO && arg_eq(&c->argv[j], "byscore")) {
            type = RANGE_SCORE;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (dir == DIR_AUTO)
        dir = DIR_FORWARD;
    if (type == RANGE_AUTO)
        type = RANGE_RANK;
    if (limit != -1 && type == RANGE_RANK) {
        reply_error(c, ERR_LIMIT_RANK);
        return;
    }
    if (withscores && type == RANGE_LEX) {
        reply_error(c, ERR_WITHSCORES_LEX);
        return;
    }
    int reverse = dir == DIR_REVERSE;
    if (reverse && type != RANGE_RANK) { /* the range is given as max, min */
        int t = maxidx;
        maxidx = minidx;
        minidx = t;
    }
    long long start = 0, end = 0;
    zrange_score sr;
    zrange_lex lr;
    if (type == RANGE_RANK) {
        if (arg_ll_or_reply(c, &c->argv[minidx], &start, NULL) ||
            arg_ll_or_reply(c, &c->argv[maxidx], &end, NULL))
            return;
    } else if (type == RANGE_SCORE) {
        if (zset_parse_score_range(&c->argv[minidx], &c->argv[maxidx], &sr)) {
            reply_error(c, ERR_MINMAX_FLOAT);
            return;
        }
    } else if (zset_parse_lex_range(&c->argv[minidx], &c->argv[maxidx], &lr)) {
        reply_error(c, ERR_MINMAX_LEX);
        return;
    }

    range_out o = {.c = c, .withscores = withscores, .dstkey = dstkey};
    const slice *src = &c->argv[first];
    entry *e = db_lookup_read(c, src->p, src->len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    if (!e) {
        range_begin(&o, dstkey ? -1 : 0);
        range_end(&o);
        return;
    }
    if (type == RANGE_RANK) {
        range_by_rank(&o, e, start, end, reverse);
        return;
    }
    /* Redis answers an offset past the end at once, without looking. */
    if (offset > 0 && (unsigned long long)offset >= zset_length(e)) {
        range_begin(&o, 0);
        range_end(&o);
        return;
    }
    zset_iter it;
    if (type == RANGE_SCORE) {
        zset_iter_at_score(&it, e, &sr, reverse);
        range_walk(&o, &it, offset, limit, score_in_range, &sr);
    } else {
        zset_iter_at_lex(&it, e, &lr, reverse);
        range_walk(&o, &it, offset, limit, lex_in_range, &lr);
    }
}

static void zrange_cmd(cmd_ctx *c)
{
    zrange_generic(c, 1, NULL, RANGE_AUTO, DIR_AUTO);
}

static void zrangestore_cmd(cmd_ctx *c)
{
    zrange_generic(c, 2, &c->argv[1], RANGE_AUTO, DIR_AUTO);
}

static void zrevrange_cmd(cmd_ctx *c)
{
    zrange_generic(c, 1, NULL, RANGE_RANK, DIR_REVERSE);
}

static void zrangebyscore_cmd(cmd_ctx *c)
{
    zrange_generic(c, 1, NULL, RANGE_SCORE, DIR_FORWARD);
}

static void zrevrangebyscore_cmd(cmd_ctx *c)
{
    zrange_generic(c, 1, NULL, RANGE_SCORE, DIR_REVERSE);
}

static void zrangebylex_cmd(cmd_ctx *c)
{
    zrange_generic(c, 1, NULL, RANGE_LEX, DIR_FORWARD);
}

static void zrevrangebylex_cmd(cmd_ctx *c)
{
    zrange_generic(c, 1, NULL, RANGE_LEX, DIR_REVERSE);
}

/* ---- ZREMRANGEBY* -----------------------------------------------------------------------------
 */

/* Redis's zremrangeGenericCommand. */
static void zremrange_generic(cmd_ctx *c, int type)
{
    static const char *const events[] = {
        [RANGE_RANK] = "zremrangebyrank",
        [RANGE_SCORE] = "zremrangebyscore",
        [RANGE_LEX] = "zremrangebylex",
    };
    const slice *key = &c->argv[1];
    long long start = 0, end = 0;
    zrange_score sr;
    zrange_lex lr;
    if (type == RANGE_RANK) {
        if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) ||
            arg_ll_or_reply(c, &c->argv[3], &end, NULL))
            return;
    } else if (type == RANGE_SCORE) {
        if (zset_parse_score_range(&c->argv[2], &c->argv[3], &sr)) {
            reply_error(c, ERR_MINMAX_FLOAT);
            return;
        }
    } else if (zset_parse_lex_range(&c->argv[2], &c->argv[3], &lr)) {
        reply_error(c, ERR_MINMAX_LEX);
        return;
    }
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    unsigned long first = 0, n = 0;
    if (type == RANGE_RANK) {
        long long llen = (long long)zset_length(e);
        if (start < 0)
            start = llen + start;
        if (end < 0)
            end = llen + end;
        if (start < 0)
            start = 0;
        if (start > end || start >= llen) {
            reply_int(c, 0);
            return;
        }
        if (end >= llen)
            end = llen - 1;
        first = (unsigned long)start;
        n = (unsigned long)(end - start + 1);
    } else if (type == RANGE_SCORE) {
        n = zset_score_range_ranks(e, &sr, &first);
    }
    if (type == RANGE_LEX)
        n = zset_delete_lex_range(e, &lr);
    else if (n)
        zset_delete_rank_range(e, first, first + n - 1);
    if (n)
        zset_written(c, key, e, events[type]);
    reply_int(c, (long long)n);
}

static void zremrangebyrank_cmd(cmd_ctx *c)
{
    zremrange_generic(c, RANGE_RANK);
}

static void zremrangebyscore_cmd(cmd_ctx *c)
{
    zremrange_generic(c, RANGE_SCORE);
}

static void zremrangebylex_cmd(cmd_ctx *c)
{
    zremrange_generic(c, RANGE_LEX);
}

/* ---- ZRANDMEMBER ------------------------------------------------------------------------------
 */

static int cmp_ulong(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

/* count distinct ranks of [0, size), sorted. */
static unsigned long *random_ranks(shard *s, unsigned long size, unsigned long count)
{
    unsigned long *ranks;
    if (count * ZRAND_COPY_RATIO > size) {
        /* A partial Fisher-Yates shuffle of every rank. */
        ranks = mem_malloc(sizeof(*ranks) * size);
        for (unsigned long i = 0; i < size; i++)
            ranks[i] = i;
        for (unsigned long i = 0; i < count; i++) {
            unsigned long j = i + shard_rand(s) % (size - i), t = ranks[i];
            ranks[i] = ranks[j];
            ranks[j] = t;
        }
    } else {
        /* Draws until count distinct ranks, remembered in an open-addressing set. */
        size_t cap = RANK_SET_MIN;
        while (cap < count * 2)
            cap <<= 1;
        unsigned long *set = mem_malloc(sizeof(*set) * cap);
        memset(set, 0xff, sizeof(*set) * cap); /* ULONG_MAX: free slot */
        ranks = mem_malloc(sizeof(*ranks) * count);
        unsigned long n = 0;
        while (n < count) {
            unsigned long r = shard_rand(s) % size;
            size_t h = (r * FIBONACCI_HASH) & (cap - 1);
            while (set[h] != ULONG_MAX && set[h] != r)
                h = (h + 1) & (cap - 1);
            if (set[h] == r)
                continue;
            set[h] = r;
            ranks[n++] = r;
        }
        free(set);
    }
    qsort(ranks, count, sizeof(*ranks), cmp_ulong);
    return ranks;
}

/* Redis's zrandmemberWithCountCommand. */
static void zrandmember_count(cmd_ctx *c, long long l, int withscores)
{
    entry *e = zset_read_or_reply(c, ABSENT_EMPTY_ARRAY);
    if (!e)
        return;
    shard *s = ctx_shard(c, c->argv[1].p, c->argv[1].len);
    unsigned long size = zset_length(e);
    int uniq = l >= 0;
    unsigned long count = uniq ? (unsigned long)l : (unsigned long)-l;
    int per = withscores && c->resp < 3 ? 2 : 1;
    zset_elem el;
    if (count == 0) {
        reply_array(c, 0);
        return;
    }
    if (!uniq || count == 1) { /* with repetitions, in random order */
        reply_array(c, (long)(count * (unsigned long)per));
        for (unsigned long i = 0; i < count; i++) {
            zset_random(e, shard_rand(s), &el);
            zset_reply_elem(c, el.s, el.len, el.score, withscores);
        }
        return;
    }
    if (count >= size) {
        /* The whole set, from the highest score down: Redis walks sets backwards here. */
        reply_array(c, (long)(size * (unsigned long)per));
        zset_iter it;
        for (zset_iter_at_rank(&it, e, 0, 1); zset_iter_get(&it, &el); zset_iter_next(&it))
            zset_reply_elem(c, el.s, el.len, el.score, withscores);
        return;
    }
    unsigned long *ranks = random_ranks(s, size, count);
    reply_array(c, (long)(count * (unsigned long)per));
    zset_iter it;
    zset_iter_at_rank(&it, e, ranks[0], 0);
    for (unsigned long i = 0; i < count; i++) {
        if (i)
            zset_iter_skip(&it, ranks[i] - ranks[i - 1]);
        zset_iter_get(&it, &el);
        zset_reply_elem(c, el.s, el.len, el.score, withscores);
    }
    free(ranks);
}

/* ZRANDMEMBER key [count [WITHSCORES]] */
static void zrandmember_cmd(cmd_ctx *c)
{
    if (c->argc >= 3) {
        long long l;
        if (arg_ll_or_reply(c, &c->argv[2], &l, NULL))
            return;
        if (l == LLONG_MIN) {
            reply_error(c, ERR_RAND_RANGE);
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !arg_eq(&c->argv[3], "withscores"))) {
            reply_syntax_error(c);
            return;
        }
        if (c->argc == 4 && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)) {
            reply_error(c, ERR_RAND_WITHSCORES_RANGE);
            return;
        }
        zrandmember_count(c, l, c->argc == 4);
        return;
    }
    entry *e = zset_read_or_reply(c, ABSENT_NULL);
    if (!e)
        return;
    zset_elem el;
    zset_random(e, shard_rand(ctx_shard(c, c->argv[1].p, c->argv[1].len)), &el);
    reply_bulk(c, el.s, el.len);
}

/* ---- ZSCAN ------------------------------------------------------------------------------------
 */

struct zscan_walk {
    const slice *pat;
    buf found;  /* matching elements: [size_t len][member][double score]... */
    long items; /* member and score count as two, as in Redis's loop bound */
    long matched;
};

static void zscan_add(struct zscan_walk *w, const char *s, size_t len, double score)
{
    w->items += 2;
    if (w->pat && !glob_match(w->pat->p, w->pat->len, s, len, 0))
        return;
    buf_append(&w->found, &len, sizeof(len));
    buf_append(&w->found, s, len);
    buf_append(&w->found, &score, sizeof(score));
    w->matched++;
}

/* Scores print as Redis's d2string, which writes what %.17g writes, as bulk strings. */
static void zscan_reply_found(cmd_ctx *c, const buf *found)
{
    for (size_t off = 0; off < found->len;) {
        size_t len;
        double score;
        memcpy(&len, found->data + off, sizeof(len));
        off += sizeof(len);
        reply_bulk(c, found->data + off, len);
        off += len;
        memcpy(&score, found->data + off, sizeof(score));
        off += sizeof(score);
        char tmp[ZSET_SCORE_STR_MAX];
        reply_bulk(c, tmp, (size_t)zset_fmt_score(tmp, score));
    }
}

static void zscan_node(void *arg, const zsl_node *n)
{
    zscan_add(arg, zsl_node_member(n), n->mlen, n->score);
}

/* ZSCAN key cursor [MATCH pattern] [COUNT count] */
static void zscan_cmd(cmd_ctx *c)
{
    uint64_t cursor;
    if (arg_cursor_or_reply(c, &c->argv[2], &cursor))
        return;
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    if (!e) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
        return;
    }
    long long count = SCAN_DEFAULT_COUNT;
    struct zscan_walk w = {0};
    for (int i = 3; i < c->argc; i += 2) {
        if (arg_eq(&c->argv[i], "count") && i + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], &count, NULL))
                return;
            if (count < 1) {
                reply_syntax_error(c);
                return;
            }
        } else if (arg_eq(&c->argv[i], "match") && i + 1 < c->argc) {
            w.pat = &c->argv[i + 1];
            if (glob_is_match_all(w.pat->p, w.pat->len))
                w.pat = NULL;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    buf_init(&w.found);
    if (e->enc == ENC_LISTPACK) { /* small: everything at once, cursor 0 */
        zset_iter it;
        zset_elem el;
        for (zset_iter_at_rank(&it, e, 0, 0); zset_iter_get(&it, &el); zset_iter_next(&it))
            zscan_add(&w, el.s, el.len, el.score);
        cursor = 0;
    } else {
        const zskiplist *zsl = entry_ptr(e);
        long long budget = count * SCAN_ITERATIONS_PER_COUNT;
        do {
            cursor = zsl_scan(zsl, cursor, zscan_node, &w);
        } while (cursor && budget-- && w.items < count);
    }
    reply_array(c, 2);
    char num[OBJ_INT_STR_MAX + 1];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)cursor);
    reply_bulk(c, num, (size_t)n);
    reply_array(c, w.matched * 2);
    zscan_reply_found(c, &w.found);
    buf_free(&w.found);
}

/* ---- keys of the numkeys forms ----------------------------------------------------------------
 */

/* Keys of "[dst] numkeys key [key ...] ...": numkeys at argv[nk]; dst (argv[1]) first when
 * with_dst. -1 when numkeys is not a usable count (the command reports it). */
int zset_numkeys_getkeys(int argc, const slice *argv, int nk, int with_dst, int *keys, int max)
{
    long long n;
    if (nk >= argc || !str_to_ll(argv[nk].p, argv[nk].len, &n) || n < 1 || n > argc - nk - 1 ||
        n + with_dst > max)
        return -1;
    int cnt = 0;
    if (with_dst)
        keys[cnt++] = 1;
    for (long long i = 0; i < n; i++)
        keys[cnt++] = nk + 1 + (int)i;
    return cnt;
}

/* ---- the type ------------------------------------------------------------------------------- */

/* Redis's xorObjectDigest for sorted sets: per element SHA1(member, "%.17g" score), xor-ed
 * together, so the digest does not depend on the encoding. */
static void zset_digest(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN])
{
    zset_iter it;
    zset_elem el;
    for (zset_iter_at_rank(&it, e, 0, 0); zset_iter_get(&it, &el); zset_iter_next(&it)) {
        unsigned char ele[DEBUG_DIGEST_LEN] = {0};
        char tmp[ZSET_SCORE_STR_MAX];
        int n = zset_fmt_score(tmp, el.score);
        debug_digest_mix(ele, el.s, el.len);
        debug_digest_mix(ele, tmp, (size_t)n);
        debug_digest_xor(digest, ele, DEBUG_DIGEST_LEN);
    }
}

void zset_type_init(void)
{
    static const obj_type_ops ops = {
        .name = "zset",
        .free = zset_free_value,
        .mem_usage = zset_mem_usage,
        .enc_name = zset_enc_name,
        .dup = zset_dup_value,
    };
    obj_register_type(OBJ_ZSET, &ops);
    debug_register_digest(OBJ_ZSET, zset_digest);
}

#define ZREAD_FAST (CMD_READONLY | CMD_FAST)
#define ZWRITE_FAST (CMD_WRITE | CMD_DENYOOM | CMD_FAST)
#define ACL_ZREAD_FAST (ACL_READ | ACL_SORTEDSET | ACL_FAST)
#define ACL_ZREAD_SLOW (ACL_READ | ACL_SORTEDSET | ACL_SLOW)
#define ACL_ZWRITE_FAST (ACL_WRITE | ACL_SORTEDSET | ACL_FAST)
#define ACL_ZWRITE_SLOW (ACL_WRITE | ACL_SORTEDSET | ACL_SLOW)
#define ZGROUP "sorted-set"

command zset_commands[] = {
    {.name = "zadd",
     .proc = zadd_cmd,
     .arity = -4,
     .flags = ZWRITE_FAST,
     .acl = ACL_ZWRITE_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary =
         "Add one or more members to a sorted set, or update its score if it already exists"},
    {.name = "zincrby",
     .proc = zincrby_cmd,
     .arity = 4,
     .flags = ZWRITE_FAST,
     .acl = ACL_ZWRITE_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Increment the score of a member in a sorted set"},
    {.name = "zrem",
     .proc = zrem_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     .acl = ACL_ZWRITE_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Remove one or more members from a sorted set"},
    {.name = "zcard",
     .proc = zcard_cmd,
     .arity = 2,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Get the number of members in a sorted set"},
    {.name = "zcount",
     .proc = zcount_cmd,
     .arity = 4,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.0.0",
     .summary = "Count the members in a sorted set with scores within the given values"},
    {.name = "zlexcount",
     .proc = zlexcount_cmd,
     .arity = 4,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.8.9",
     .summary = "Count the number of members in a sorted set between a given lexicographical "
                "range"},
    {.name = "zscore",
     .proc = zscore_cmd,
     .arity = 3,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Get the score associated with the given member in a sorted set"},
    {.name = "zmscore",
     .proc = zmscore_cmd,
     .arity = -3,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Get the score associated with the given members in a sorted set"},
    {.name = "zrank",
     .proc = zrank_cmd,
     .arity = -3,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.0.0",
     .summary = "Determine the index of a member in a sorted set"},
    {.name = "zrevrank",
     .proc = zrevrank_cmd,
     .arity = -3,
     .flags = ZREAD_FAST,
     .acl = ACL_ZREAD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.0.0",
     .summary = "Determine the index of a member in a sorted set, with scores ordered from high "
                "to low"},
    {.name = "zrange",
     .proc = zrange_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Return a range of members in a sorted set"},
    {.name = "zrangestore",
     .proc = zrangestore_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Store a range of members from sorted set into another key"},
    {.name = "zrevrange",
     .proc = zrevrange_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Return a range of members in a sorted set, by index, with scores ordered from "
                "high to low"},
    {.name = "zrangebyscore",
     .proc = zrangebyscore_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.0.5",
     .summary = "Return a range of members in a sorted set, by score"},
    {.name = "zrevrangebyscore",
     .proc = zrevrangebyscore_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.2.0",
     .summary = "Return a range of members in a sorted set, by score, with scores ordered from "
                "high to low"},
    {.name = "zrangebylex",
     .proc = zrangebylex_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.8.9",
     .summary = "Return a range of members in a sorted set, by lexicographical range"},
    {.name = "zrevrangebylex",
     .proc = zrevrangebylex_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.8.9",
     .summary = "Return a range of members in a sorted set, by lexicographical range, ordered "
                "from higher to lower strings."},
    {.name = "zremrangebyrank",
     .proc = zremrangebyrank_cmd,
     .arity = 4,
     .flags = CMD_WRITE,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.0.0",
     .summary = "Remove all members in a sorted set within the given indexes"},
    {.name = "zremrangebyscore",
     .proc = zremrangebyscore_cmd,
     .arity = 4,
     .flags = CMD_WRITE,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "1.2.0",
     .summary = "Remove all members in a sorted set within the given scores"},
    {.name = "zremrangebylex",
     .proc = zremrangebylex_cmd,
     .arity = 4,
     .flags = CMD_WRITE,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.8.9",
     .summary = "Remove all members in a sorted set between the given lexicographical range"},
    {.name = "zpopmin",
     .proc = zpopmin_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     .acl = ACL_ZWRITE_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "5.0.0",
     .summary = "Remove and return members with the lowest scores in a sorted set"},
    {.name = "zpopmax",
     .proc = zpopmax_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     .acl = ACL_ZWRITE_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "5.0.0",
     .summary = "Remove and return members with the highest scores in a sorted set"},
    {.name = "zmpop",
     .proc = zmpop_cmd,
     .arity = -4,
     .flags = CMD_WRITE,
     .acl = ACL_ZWRITE_SLOW,
     .getkeys = zmpop_getkeys,
     .group = ZGROUP,
     .since = "7.0.0",
     .summary = "Remove and return members with scores in a sorted set"},
    {.name = "bzpopmin",
     .proc = bzpopmin_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST,
     .acl = ACL_ZWRITE_FAST | ACL_BLOCKING,
     .first_key = 1,
     .last_key = -2,
     .key_step = 1,
     .group = ZGROUP,
     .since = "5.0.0",
     .summary = "Remove and return the member with the lowest score from one or more sorted sets, "
                "or block until one is available"},
    {.name = "bzpopmax",
     .proc = bzpopmax_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST,
     .acl = ACL_ZWRITE_FAST | ACL_BLOCKING,
     .first_key = 1,
     .last_key = -2,
     .key_step = 1,
     .group = ZGROUP,
     .since = "5.0.0",
     .summary = "Remove and return the member with the highest score from one or more sorted "
                "sets, or block until one is available"},
    {.name = "bzmpop",
     .proc = bzmpop_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_BLOCKING,
     .acl = ACL_ZWRITE_SLOW | ACL_BLOCKING,
     .getkeys = bzmpop_getkeys,
     .group = ZGROUP,
     .since = "7.0.0",
     .summary = "Remove and return members with scores in a sorted set or block until one is "
                "available"},
    {.name = "zrandmember",
     .proc = zrandmember_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Get one or multiple random elements from a sorted set"},
    {.name = "zunion",
     .proc = zunion_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .getkeys = zunion_getkeys,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Add multiple sorted sets"},
    {.name = "zunionstore",
     .proc = zunionstore_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .getkeys = zstore_getkeys,
     .group = ZGROUP,
     .since = "2.0.0",
     .summary = "Add multiple sorted sets and store the resulting sorted set in a new key"},
    {.name = "zinter",
     .proc = zinter_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .getkeys = zunion_getkeys,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Intersect multiple sorted sets"},
    {.name = "zinterstore",
     .proc = zinterstore_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .getkeys = zstore_getkeys,
     .group = ZGROUP,
     .since = "2.0.0",
     .summary = "Intersect multiple sorted sets and store the resulting sorted set in a new key"},
    {.name = "zintercard",
     .proc = zintercard_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .getkeys = zunion_getkeys,
     .group = ZGROUP,
     .since = "7.0.0",
     .summary = "Intersect multiple sorted sets and return the cardinality of the result"},
    {.name = "zdiff",
     .proc = zdiff_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .getkeys = zunion_getkeys,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Subtract multiple sorted sets"},
    {.name = "zdiffstore",
     .proc = zdiffstore_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_ZWRITE_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .getkeys = zstore_getkeys,
     .group = ZGROUP,
     .since = "6.2.0",
     .summary = "Subtract multiple sorted sets and store the resulting sorted set in a new key"},
    {.name = "zscan",
     .proc = zscan_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .acl = ACL_ZREAD_SLOW,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = ZGROUP,
     .since = "2.8.0",
     .summary = "Incrementally iterate sorted sets elements and associated scores"},
    {0},
};
