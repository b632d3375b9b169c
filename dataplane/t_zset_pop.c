/* Sorted-set pops (Redis's genericZpopCommand and blockingGenericZpopCommand): ZPOPMIN
 * ZPOPMAX ZMPOP, and the blocking BZPOPMIN BZPOPMAX BZMPOP on top of blocking.h. A pop replies
 * the elements first, then removes them in one rank-range deletion. */
#include <stdlib.h>

#include "alloc.h"
#include "blocking.h"
#include "db.h"
#include "journal.h"
#include "reply.h"
#include "t_zset.h"
#include "zset.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"
#define ERR_NUMKEYS "ERR numkeys should be greater than 0"
#define ERR_COUNT "ERR count should be greater than 0"

enum { ZSET_MIN = 0, ZSET_MAX = 1 };

/* How a pop lays out its reply (Redis's genericZpopCommand arguments). */
typedef struct pop_style {
    int where;   /* ZSET_MIN or ZSET_MAX */
    int emitkey; /* the key comes first (BZPOP*, ZMPOP) */
    int nested;  /* [member, score] pairs rather than a flat list */
} pop_style;

/* Pops up to count elements of the non-empty zset e at key and replies. */
static void zpop_key(cmd_ctx *c, const slice *key, entry *e, long long count, const pop_style *st)
{
    unsigned long llen = zset_length(e);
    unsigned long n = (unsigned long long)count > llen ? llen : (unsigned long)count;
    if (!st->nested && !st->emitkey) {
        reply_array(c, (long)n * 2);
    } else if (st->nested && !st->emitkey) {
        reply_array(c, (long)n);
    } else if (!st->nested) {
        reply_array(c, (long)n * 2 + 1);
        reply_bulk(c, key->p, key->len);
    } else {
        reply_array(c, 2);
        reply_bulk(c, key->p, key->len);
        reply_array(c, (long)n);
    }
    zset_iter it;
    zset_elem el;
    zset_iter_at_rank(&it, e, 0, st->where == ZSET_MAX);
    for (unsigned long i = 0; i < n && zset_iter_get(&it, &el); i++, zset_iter_next(&it)) {
        if (st->nested) /* pairs in RESP2 too */
            reply_array(c, 2);
        reply_bulk(c, el.s, el.len);
        zset_reply_score(c, el.score);
    }
    /* The replies above were copies: now the elements can go, in one range deletion. */
    if (st->where == ZSET_MAX)
        zset_delete_rank_range(e, llen - n, llen - 1);
    else
        zset_delete_rank_range(e, 0, n - 1);
    zset_written(c, key, e, st->where == ZSET_MAX ? "zpopmax" : "zpopmin");
    /* Served blocking pops and ZMPOP are journaled as the pop of the key they took from. */
    journal_rewrite(c, "sbl", st->where == ZSET_MAX ? "ZPOPMAX" : "ZPOPMIN", key, (long long)n);
}

/* Pops from the first non-empty of keyidx[]'s keys. Returns 1 when something was popped (or a
 * reply was given: an error), 0 when every key is empty and nothing was replied. */
static int zpop_first(cmd_ctx *c, const int *keyidx, int nkeys, long long count,
                      const pop_style *st)
{
    for (int i = 0; i < nkeys; i++) {
        const slice *key = &c->argv[keyidx[i]];
        entry *e = db_lookup_write(c, key->p, key->len);
        if (!e)
            continue;
        if (db_wrong_type(c, e, OBJ_ZSET))
            return 1;
        zpop_key(c, key, e, count, st);
        return 1;
    }
    return 0;
}

/* ZPOPMIN / ZPOPMAX key [count] */
static void zpop_generic(cmd_ctx *c, int where)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    long long count = -1;
    if (c->argc == 3) {
        if (arg_ll_or_reply(c, &c->argv[2], &count, NULL))
            return;
        if (count < 0) {
            reply_error(c, ERR_POSITIVE);
            return;
        }
    }
    /* RESP3 nests pairs only when a count was given. */
    pop_style st = {.where = where, .nested = c->resp >= 3 && count != -1};
    entry *e = db_lookup_write(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    if (!e || count == 0) {
        reply_array(c, 0);
        return;
    }
    zpop_key(c, &c->argv[1], e, count == -1 ? 1 : count, &st);
}

void zpopmin_cmd(cmd_ctx *c)
{
    zpop_generic(c, ZSET_MIN);
}

void zpopmax_cmd(cmd_ctx *c)
{
    zpop_generic(c, ZSET_MAX);
}

/* The blocking part of BZPOPMIN, BZPOPMAX and BZMPOP (Redis's blockingGenericZpopCommand). */
static void bzpop_generic(cmd_ctx *c, const int *keyidx, int nkeys, int timeout_idx,
                          long long count, const pop_style *st)
{
    int64_t timeout;
    if (block_timeout_or_reply(c, &c->argv[timeout_idx], &timeout))
        return;
    if (c->flags & CTX_UNBLOCKED) {
        /* Serving: only the key that became ready, and only if it still has something. */
        const slice *key = &c->ready_key;
        entry *e = db_lookup_write(c, key->p, key->len);
        if (!e || e->type != OBJ_ZSET) {
            block_keep_waiting(c);
            return;
        }
        zpop_key(c, key, e, count, st);
        return;
    }
    if (zpop_first(c, keyidx, nkeys, count, st))
        return;
    if (!block_allowed(c)) {
        reply_null_array(c);
        return;
    }
    block_on_keys(c, keyidx, nkeys, timeout, BLOCK_NULL_ARRAY);
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout */
static void bzpop_minmax(cmd_ctx *c, int where)
{
    int nkeys = c->argc - 2;
    int *keyidx = mem_malloc(sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++)
        keyidx[i] = 1 + i;
    pop_style st = {.where = where, .emitkey = 1};
    bzpop_generic(c, keyidx, nkeys, c->argc - 1, 1, &st);
    free(keyidx);
}

void bzpopmin_cmd(cmd_ctx *c)
{
    bzpop_minmax(c, ZSET_MIN);
}

void bzpopmax_cmd(cmd_ctx *c)
{
    bzpop_minmax(c, ZSET_MAX);
}

/* Redis's zmpopGenericCommand: [B]ZMPOP [timeout] numkeys key [key ...] MIN|MAX [COUNT count] */
static void zmpop_generic(cmd_ctx *c, int numkeys_idx, int blocking)
{
    long long numkeys, count = -1;
    if (arg_ll_or_reply(c, &c->argv[numkeys_idx], &numkeys, ERR_NUMKEYS))
        return;
    if (numkeys < 1) {
        reply_error(c, ERR_NUMKEYS);
        return;
    }
    if (numkeys >= c->argc) { /* more keys than arguments: no room for MIN|MAX */
        reply_syntax_error(c);
        return;
    }
    long long where_idx = numkeys_idx + numkeys + 1;
    if (where_idx >= c->argc) {
        reply_syntax_error(c);
        return;
    }
    pop_style st = {.emitkey = 1, .nested = 1};
    if (arg_eq(&c->argv[where_idx], "min")) {
        st.where = ZSET_MIN;
    } else if (arg_eq(&c->argv[where_idx], "max")) {
        st.where = ZSET_MAX;
    } else {
        reply_syntax_error(c);
        return;
    }
    for (long long j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_eq(&c->argv[j], "count") && j + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[++j], &count, ERR_COUNT))
                return;
            if (count < 1) {
                reply_error(c, ERR_COUNT);
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (count == -1)
        count = 1;
    int *keyidx = mem_malloc(sizeof(int) * (size_t)numkeys);
    for (long long i = 0; i < numkeys; i++)
        keyidx[i] = numkeys_idx + 1 + (int)i;
    if (blocking)
        bzpop_generic(c, keyidx, (int)numkeys, 1, count, &st);
    else if (!zpop_first(c, keyidx, (int)numkeys, count, &st))
        reply_null_array(c);
    free(keyidx);
}

void zmpop_cmd(cmd_ctx *c)
{
    zmpop_generic(c, 1, 0);
}

void bzmpop_cmd(cmd_ctx *c)
{
    zmpop_generic(c, 2, 1);
}

/* ---- keys of the numkeys forms ------------------------------------------------------------ */

int zmpop_getkeys(int argc, const slice *argv, int *keys, int max)
{
    return zset_numkeys_getkeys(argc, argv, 1, 0, keys, max);
}

int bzmpop_getkeys(int argc, const slice *argv, int *keys, int max)
{
    return zset_numkeys_getkeys(argc, argv, 2, 0, keys, max);
}
