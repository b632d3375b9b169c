/* SORT and SORT_RO (Redis's sort.c): the elements of a list, set or sorted set, ordered as
 * numbers or strings, by themselves or by the values of other keys (BY pattern), with LIMIT,
 * GET patterns, and STORE into a list.
 *
 * Patterns name other keys, which may live on any shard, so SORT holds every shard while it
 * runs (CMD_ALL_SHARDS). In cluster mode a BY or GET pattern must hash to the key's slot (its
 * hash tag), as in Redis 7. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"
#include "db.h"
#include "journal.h"
#include "reply.h"
#include "types.h"

#define SORT_GETS_MAX 1024 /* GET patterns one call may give: far above any real use */
#define SCORE_TEXT_MAX 512 /* a BY value longer than this is no number strtod reads */
#define ERR_SCORES "ERR One or more scores can't be converted into double"
#define ERR_BY_CLUSTER                                                                             \
    "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in "      \
    "different slots."
#define ERR_GET_CLUSTER                                                                            \
    "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in "     \
    "different slots."

/* One element being sorted: its bytes (a copy) and what it is compared by. */
typedef struct sort_item {
    char *s;
    size_t len;
    double score; /* numeric sort */
    char *cmp;    /* ALPHA with BY: the BY value (a copy), or NULL when it has none */
    size_t cmp_len;
} sort_item;

typedef struct sort_opts {
    const slice *by; /* NULL: the elements themselves */
    int dontsort;    /* BY without '*': keep the value's own order */
    int desc, alpha;
    long long limit_start, limit_count; /* count -1: to the end */
    const slice *gets[SORT_GETS_MAX];
    int ngets;
    const slice *store;
} sort_opts;

/* ---- patterns -------------------------------------------------------------------------------- */

/* Redis's patternHashSlot: the one slot every key the pattern can form hashes to, or -1 when
 * they may hash anywhere (a wildcard or escape comes before any hash tag). */
static int pattern_slot(const char *p, size_t len)
{
    long open = -1;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch == '*' || ch == '?' || ch == '[' || ch == '\\')
            return -1;
        if (open == -1 && ch == '{')
            open = (long)i;
        else if (open >= 0 && ch == '}' && (long)i == open + 1)
            open = -2; /* "{}": the whole key is hashed */
        else if (open >= 0 && ch == '}')
            return key_slot(p + open + 1, i - (size_t)open - 1);
    }
    return key_slot(p, len);
}

/* In cluster mode a pattern must stay in the sorted key's slot. */
static int pattern_allowed(cmd_ctx *c, const slice *pattern)
{
    if (!cluster_enabled())
        return 1;
    return pattern_slot(pattern->p, pattern->len) == (int)key_slot(c->argv[1].p, c->argv[1].len);
}

/* Redis's lookupKeyByPattern: "#" is the element itself; otherwise the first '*' is replaced
 * by the element, and "->field" after it reads a hash field instead of a string. Returns 1
 * with the value (valid until the keyspace changes, or in tmp), or 0 for none. */
static int pattern_lookup(cmd_ctx *c, const slice *pat, const char *el, size_t ellen, char *tmp,
                          const char **out, size_t *outlen)
{
    if (pat->len == 1 && pat->p[0] == '#') {
        *out = el;
        *outlen = ellen;
        return 1;
    }
    const char *star = memchr(pat->p, '*', pat->len);
    if (!star)
        return 0;
    size_t prefix = (size_t)(star - pat->p), rest = pat->len - prefix - 1;
    const char *arrow = NULL;
    for (size_t i = 0; i + 2 < rest; i++) /* "->" with a field after it */
        if (star[1 + i] == '-' && star[2 + i] == '>') {
            arrow = star + 1 + i;
            break;
        }
    size_t postfix = arrow ? (size_t)(arrow - star - 1) : rest;
    size_t klen = prefix + ellen + postfix;
    char *key = mem_malloc(klen ? klen : 1);
    memcpy(key, pat->p, prefix);
    memcpy(key + prefix, el, ellen);
    memcpy(key + prefix + ellen, star + 1, postfix);
    entry *e = db_lookup_read(c, key, klen);
    free(key);
    if (!e)
        return 0;
    if (arrow) {
        const char *field = arrow + 2;
        size_t flen = (size_t)(pat->p + pat->len - field);
        return e->type == OBJ_HASH && hash_field(e, field, flen, tmp, out, outlen);
    }
    if (e->type != OBJ_STRING)
        return 0;
    *out = entry_str(e, tmp, outlen);
    return 1;
}

/* ---- options --------------------------------------------------------------------------------- */

/* Redis's option loop of sortCommandGeneric. Replies and returns -1 on an error. */
static int parse_options(cmd_ctx *c, int readonly, sort_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->limit_count = -1;
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const slice *a = &c->argv[j];
        if (arg_eq(a, "asc")) {
            o->desc = 0;
        } else if (arg_eq(a, "desc")) {
            o->desc = 1;
        } else if (arg_eq(a, "alpha")) {
            o->alpha = 1;
        } else if (arg_eq(a, "limit") && left >= 2) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &o->limit_start, NULL) ||
                arg_ll_or_reply(c, &c->argv[j + 2], &o->limit_count, NULL))
                return -1;
            j += 2;
        } else if (arg_eq(a, "store") && left >= 1 && !readonly) {
            o->store = &c->argv[++j];
        } else if (arg_eq(a, "by") && left >= 1) {
            o->by = &c->argv[++j];
            if (!memchr(o->by->p, '*', o->by->len)) {
                o->dontsort = 1; /* BY nosort */
            } else if (!pattern_allowed(c, o->by)) {
                reply_error(c, ERR_BY_CLUSTER);
                return -1;
            }
        } else if (arg_eq(a, "get") && left >= 1) {
            const slice *g = &c->argv[++j];
            int hash = g->len == 1 && g->p[0] == '#';
            if (!hash && !pattern_allowed(c, g)) {
                reply_error(c, ERR_GET_CLUSTER);
                return -1;
            }
            if (o->ngets == SORT_GETS_MAX) {
                reply_error(c, "ERR too many GET patterns");
                return -1;
            }
            o->gets[o->ngets++] = g;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

/* ---- collecting and comparing ---------------------------------------------------------------- */

typedef struct collect {
    sort_item *items;
    size_t n, cap;
} collect;

static void collect_one(void *arg, const char *s, size_t len)
{
    collect *col = arg;
    if (col->n == col->cap) {
        col->cap = col->cap ? col->cap * 2 : 16;
        col->items = mem_realloc(col->items, col->cap * sizeof(*col->items));
    }
    sort_item *it = &col->items[col->n++];
    memset(it, 0, sizeof(*it));
    it->s = mem_malloc(len ? len : 1);
    memcpy(it->s, s, len);
    it->len = len;
}

static void items_free(collect *col)
{
    for (size_t i = 0; i < col->n; i++) {
        free(col->items[i].s);
        free(col->items[i].cmp);
    }
    free(col->items);
}

/* Reverses items[0..n): a list or sorted set read with DESC and no sorting. */
static void items_reverse(sort_item *items, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        sort_item t = items[i];
        items[i] = items[n - 1 - i];
        items[n - 1 - i] = t;
    }
}

/* strtod over the whole text, as Redis reads a score for SORT: the empty text is 0. */
static int text_to_score(const char *s, size_t len, double *out)
{
    char buf[SCORE_TEXT_MAX + 1];
    if (len > SCORE_TEXT_MAX)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end != '\0' || errno == ERANGE || isnan(d))
        return 0;
    *out = d;
    return 1;
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r)
        return r;
    return alen < blen ? -1 : alen > blen;
}

/* The comparison qsort uses; the options are those of the running call (one at a time per
 * thread). */
static _Thread_local const sort_opts *cmp_opts;

static int item_cmp(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    int r;
    if (!cmp_opts->alpha) {
        if (a->score != b->score)
            r = a->score > b->score ? 1 : -1;
        else /* equal scores: by the elements, so that the order is always the same */
            r = bytes_cmp(a->s, a->len, b->s, b->len);
    } else if (cmp_opts->by) {
        if (!a->cmp || !b->cmp)
            r = a->cmp == b->cmp ? 0 : (a->cmp ? 1 : -1);
        else
            r = bytes_cmp(a->cmp, a->cmp_len, b->cmp, b->cmp_len);
    } else {
        r = bytes_cmp(a->s, a->len, b->s, b->len);
    }
    return cmp_opts->desc ? -r : r;
}

/* Fills what each item is compared by; 0 when a numeric sort meets a value that is no number
 * (every item is still visited, as Redis does). */
static int compute_keys(cmd_ctx *c, const sort_opts *o, collect *col)
{
    int ok = 1;
    char tmp[OBJ_INT_STR_MAX];
    for (size_t i = 0; i < col->n; i++) {
        sort_item *it = &col->items[i];
        const char *v = it->s;
        size_t vlen = it->len;
        if (o->by && !pattern_lookup(c, o->by, it->s, it->len, tmp, &v, &vlen))
            continue; /* no BY value: score 0, and first in an ALPHA sort */
        if (o->alpha) {
            if (o->by) {
                it->cmp = mem_malloc(vlen ? vlen : 1);
                memcpy(it->cmp, v, vlen);
                it->cmp_len = vlen;
            }
        } else if (!text_to_score(v, vlen, &it->score)) {
            ok = 0;
        }
    }
    return ok;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* The reply (or the stored list) for items[start..end]. */
static void reply_items(cmd_ctx *c, const sort_opts *o, const collect *col, long start, long end)
{
    long n = end - start + 1;
    reply_array(c, o->ngets ? n * o->ngets : n);
    char tmp[OBJ_INT_STR_MAX];
    for (long i = start; i <= end; i++) {
        const sort_item *it = &col->items[i];
        if (!o->ngets) {
            reply_bulk(c, it->s, it->len);
            continue;
        }
        for (int g = 0; g < o->ngets; g++) {
            const char *v;
            size_t vlen;
            if (pattern_lookup(c, o->gets[g], it->s, it->len, tmp, &v, &vlen))
                reply_bulk(c, v, vlen);
            else
                reply_null(c);
        }
    }
}

/* STORE: the output as a list at the destination (replacing whatever was there), or the
 * destination deleted when the output is empty. Journaled as DEL and RPUSH, so that a replica
 * or a replay gets the same list whatever order it would sort a set in. */
static void store_items(cmd_ctx *c, const sort_opts *o, const collect *col, long start, long end)
{
    const slice *dst = o->store;
    long n = end - start + 1;
    size_t total = (size_t)n * (size_t)(o->ngets ? o->ngets : 1);
    const char **vals = mem_calloc(total ? total : 1, sizeof(*vals));
    size_t *lens = mem_calloc(total ? total : 1, sizeof(*lens));
    char(*tmps)[OBJ_INT_STR_MAX] = mem_calloc(total ? total : 1, OBJ_INT_STR_MAX);
    size_t k = 0;
    for (long i = start; i <= end; i++) {
        const sort_item *it = &col->items[i];
        if (!o->ngets) {
            vals[k] = it->s;
            lens[k++] = it->len;
            continue;
        }
        for (int g = 0; g < o->ngets; g++, k++)
            if (!pattern_lookup(c, o->gets[g], it->s, it->len, tmps[k], &vals[k], &lens[k]))
                vals[k] = "", lens[k] = 0; /* a missing value is stored as an empty string */
    }
    /* The values point into other keys' values, or the destination's own: the new list
     * copies them before the destination is replaced. */
    entry *e = total ? list_entry_new(dst->p, dst->len, vals, lens, total) : NULL;
    if (e) {
        db_put(c, e, 0);
        db_signal_modified(c, dst->p, dst->len);
        db_notify(c, NOTIFY_LIST, "sortstore", dst->p, dst->len);
        journal_rewrite(c, "sb", "DEL", dst);
        if (journal_wanted()) {
            journal_cmd jc;
            journal_cmd_init(&jc, "RPUSH");
            journal_cmd_add(&jc, dst->p, dst->len);
            for (size_t i = 0; i < total; i++)
                journal_cmd_add(&jc, vals[i], lens[i]);
            journal_cmd_commit(c, &jc, 1);
        }
    } else if (db_delete(c, dst->p, dst->len)) {
        db_signal_modified(c, dst->p, dst->len);
        db_notify(c, NOTIFY_GENERIC, "del", dst->p, dst->len);
        journal_rewrite(c, "sb", "DEL", dst);
    }
    free(vals);
    free(lens);
    free(tmps);
    reply_int(c, (long long)total);
}

/* ---- the command ----------------------------------------------------------------------------- */

static void sort_generic(cmd_ctx *c, int readonly)
{
    sort_opts o;
    if (parse_options(c, readonly, &o))
        return;
    const slice *key = &c->argv[1];
    entry *e = db_lookup_read(c, key->p, key->len);
    if (e && e->type != OBJ_LIST && e->type != OBJ_SET && e->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    /* An unsorted set has no order a replica or a script could repeat: sort it by its
     * members (Redis does the same). */
    if (e && e->type == OBJ_SET && o.dontsort && o.store) {
        o.dontsort = 0;
        o.alpha = 1;
        o.by = NULL;
    }
    collect col = {0};
    if (e && e->type == OBJ_LIST)
        list_each(e, collect_one, &col);
    else if (e && e->type == OBJ_SET)
        set_each(e, collect_one, &col);
    else if (e)
        zset_each(e, collect_one, &col);
    if (e && e->type != OBJ_SET && o.dontsort && o.desc) /* a list's or zset's own order */
        items_reverse(col.items, col.n);
    if (!o.dontsort) {
        if (!compute_keys(c, &o, &col)) {
            reply_error(c, ERR_SCORES);
            items_free(&col);
            return;
        }
        cmp_opts = &o;
        if (col.n > 1)
            qsort(col.items, col.n, sizeof(*col.items), item_cmp);
    }
    /* Redis's LIMIT arithmetic: an empty range when start is past the end. */
    long len = (long)col.n;
    long start = o.limit_start < 0 ? 0 : (long)(o.limit_start > len ? len : o.limit_start);
    long end =
        o.limit_count < 0 ? len - 1 : start + (long)(o.limit_count > len ? len : o.limit_count) - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len)
        end = len - 1;
    if (o.store)
        store_items(c, &o, &col, start, end);
    else
        reply_items(c, &o, &col, start, end);
    items_free(&col);
}

/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
 * [STORE destination] */
static void sort_cmd(cmd_ctx *c)
{
    sort_generic(c, 0);
}

/* SORT_RO: SORT without STORE. */
static void sort_ro_cmd(cmd_ctx *c)
{
    sort_generic(c, 1);
}

/* The key, and STORE's destination (the last one given, as the command uses it). */
static int sort_getkeys(int argc, const slice *argv, int *keys, int max)
{
    if (max < 2)
        return -1;
    int n = 0;
    keys[n++] = 1;
    int store = 0;
    for (int j = 2; j < argc; j++) {
        if (arg_eq(&argv[j], "limit"))
            j += 2;
        else if ((arg_eq(&argv[j], "by") || arg_eq(&argv[j], "get")) && j + 1 < argc)
            j++;
        else if (arg_eq(&argv[j], "store") && j + 1 < argc)
            store = ++j;
    }
    if (store)
        keys[n++] = store;
    return n;
}

command sort_commands[] = {
    {.name = "sort",
     .proc = sort_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_ALL_SHARDS,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .getkeys = sort_getkeys,
     .acl = ACL_WRITE | ACL_SET | ACL_SORTEDSET | ACL_LIST | ACL_SLOW | ACL_DANGEROUS,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Sorts the elements in a list, a set, or a sorted set, optionally storing the "
                "result."},
    {.name = "sort_ro",
     .proc = sort_ro_cmd,
     .arity = -2,
     .flags = CMD_READONLY | CMD_ALL_SHARDS,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_READ | ACL_SET | ACL_SORTEDSET | ACL_LIST | ACL_SLOW | ACL_DANGEROUS,
     .group = "generic",
     .since = "7.0.0",
     .summary = "Returns the sorted elements of a list, a set, or a sorted set."},
    {0},
};
