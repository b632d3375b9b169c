/* Lists (Redis's t_list.c): LPUSH RPUSH LPUSHX RPUSHX, LPOP RPOP LMPOP, LLEN LINDEX LRANGE LPOS,
 * LSET LINSERT LREM LTRIM, LMOVE RPOPLPUSH, and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
 *
 * A small list is one listpack (OBJECT ENCODING "listpack"); when a write would make it bigger
 * than one quicklist node may be (list-max-listpack-size) the listpack becomes the first node of
 * a quicklist ("quicklist"), and stays one. The list_* functions below hide the two encodings
 * from the commands. Lists are never empty: the write that removes the last element deletes the
 * key. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "blocking.h"
#include "db.h"
#include "debug.h"
#include "journal.h"
#include "listpack.h"
#include "quicklist.h"
#include "reply.h"
#include "server.h"
#include "types.h"
#include "zmalloc.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"
#define ERR_RANK_ZERO                                                                              \
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "   \
    "negative to start from the end of the list"
#define ERR_COUNT_NEGATIVE "ERR COUNT can't be negative"
#define ERR_MAXLEN_NEGATIVE "ERR MAXLEN can't be negative"
#define ERR_NUMKEYS "ERR numkeys should be greater than 0"
#define ERR_MPOP_COUNT "ERR count should be greater than 0"

enum { LIST_HEAD = QL_HEAD, LIST_TAIL = QL_TAIL };

/* Elements up to this size are copied on the stack when they must outlive their list slot. */
#define LIST_COPY_STACK 128
/* Blocking commands keep up to this many key indexes on the stack. */
#define LIST_KEYS_STACK 16

/* ---- the list type over its two encodings --------------------------------------------------- */

static unsigned long list_len(const entry *e)
{
    const void *p = entry_ptr(e);
    return e->enc == ENC_LISTPACK ? lp_count(p) : ((const quicklist *)p)->count;
}

/* Redis's listTypeTryConversionAppend: a listpack list that would outgrow one node with
 * add_count more elements of add_bytes in all becomes a quicklist, its listpack the first node. */
static void list_convert_for(entry *e, size_t add_bytes, unsigned long add_count)
{
    if (e->enc != ENC_LISTPACK)
        return;
    unsigned char *lp = entry_ptr(e);
    int fill = (int)server.cfg.list_max_listpack_size;
    if (!ql_exceeds_limit(fill, lp_bytes(lp) + add_bytes, lp_count(lp) + add_count))
        return;
    quicklist *ql;
    if (lp_count(lp)) {
        ql = ql_from_listpack(lp, fill);
    } else {
        lp_free(lp);
        ql = ql_new(fill);
    }
    entry_set_ptr(e, ql);
    e->enc = ENC_QUICKLIST;
}

/* list_convert_for the arguments argv[first..argc-1] about to be added. */
static void list_convert_for_args(cmd_ctx *c, entry *e, int first)
{
    size_t bytes = 0;
    for (int j = first; j < c->argc; j++)
        bytes += c->argv[j].len;
    list_convert_for(e, bytes, (unsigned long)(c->argc - first));
}

/* A new, empty list at key (the caller pushes right away: lists are never left empty). */
static entry *list_create(cmd_ctx *c, const slice *key)
{
    entry *e = entry_new_ptr(key->p, key->len, OBJ_LIST, ENC_LISTPACK, lp_new(), -1);
    db_add(c, e);
    return e;
}

static void list_push(entry *e, int where, const char *s, size_t len)
{
    if (e->enc == ENC_QUICKLIST) {
        ql_push(entry_ptr(e), where, s, len);
        return;
    }
    unsigned char *lp = entry_ptr(e);
    lp = where == LIST_HEAD ? lp_prepend(lp, s, len) : lp_append(lp, s, len);
    entry_set_ptr(e, lp);
}

/* The element at index (negative from the tail); 0 when out of range. */
static int list_index(const entry *e, long index, ql_pos *pos)
{
    if (e->enc == ENC_QUICKLIST)
        return ql_index(entry_ptr(e), index, pos);
    pos->node = NULL;
    pos->p = lp_seek(entry_ptr(e), index);
    return pos->p != NULL;
}

/* Moves pos one element towards dir; 0 past the end. */
static int list_move(const entry *e, ql_pos *pos, int dir)
{
    if (pos->node)
        return ql_move(pos, dir);
    const unsigned char *lp = entry_ptr(e);
    pos->p = dir == LIST_TAIL ? lp_next(lp, pos->p) : lp_prev(lp, pos->p);
    return pos->p != NULL;
}

/* Deletes the element at pos; pos moves to the one that followed it in direction dir. Returns 0
 * when there is none. */
static int list_delete(entry *e, ql_pos *pos, int dir)
{
    if (pos->node) {
        ql_delete(entry_ptr(e), pos, dir);
        return pos->node != NULL;
    }
    unsigned char *next;
    unsigned char *lp = lp_delete(entry_ptr(e), pos->p, &next);
    entry_set_ptr(e, lp);
    if (dir == LIST_TAIL)
        pos->p = next;
    else
        pos->p = next ? lp_prev(lp, next) : lp_last(lp);
    return pos->p != NULL;
}

static void list_replace(entry *e, ql_pos *pos, const slice *v)
{
    if (pos->node) {
        ql_replace(entry_ptr(e), pos, v->p, v->len);
        return;
    }
    entry_set_ptr(e, lp_replace(entry_ptr(e), pos->p, v->p, v->len, NULL));
}

static void list_insert(entry *e, ql_pos *pos, int after, const slice *v)
{
    if (pos->node) {
        ql_insert(entry_ptr(e), pos, after, v->p, v->len);
        return;
    }
    entry_set_ptr(e, lp_insert(entry_ptr(e), pos->p, after, v->p, v->len, NULL));
}

/* Deletes count elements from index start (>= 0). */
static void list_delete_range(entry *e, unsigned long start, unsigned long count)
{
    if (e->enc == ENC_QUICKLIST)
        ql_delete_range(entry_ptr(e), start, count);
    else
        entry_set_ptr(e, lp_delete_range(entry_ptr(e), (long)start, count));
}

static void list_reply_elem(cmd_ctx *c, const ql_pos *pos)
{
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    lp_get(pos->p, &v, tmp);
    reply_bulk(c, v.s, v.len);
}

entry *list_entry_new(const char *key, size_t klen, const char *const *items, const size_t *lens,
                      size_t n)
{
    entry *e = entry_new_ptr(key, klen, OBJ_LIST, ENC_LISTPACK, lp_new(), -1);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += lens[i];
    list_convert_for(e, bytes, (unsigned long)n);
    for (size_t i = 0; i < n; i++)
        list_push(e, LIST_TAIL, items[i], lens[i]);
    return e;
}

void list_each(const entry *e, elem_fn fn, void *arg)
{
    ql_pos pos;
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    for (int ok = list_index(e, 0, &pos); ok; ok = list_move(e, &pos, LIST_TAIL)) {
        lp_get(pos.p, &v, tmp);
        fn(arg, v.s, v.len);
    }
}

/* ---- type hooks --------------------------------------------------------------------------- */

static void list_free(void *ptr, int enc)
{
    if (enc == ENC_QUICKLIST)
        ql_free(ptr);
    else
        lp_free(ptr);
}

static size_t list_mem_usage(const void *ptr, int enc)
{
    return enc == ENC_QUICKLIST ? ql_mem_usage(ptr) : zmalloc_size(ptr);
}

static const char *list_enc_name(int enc)
{
    return enc == ENC_QUICKLIST ? "quicklist" : "listpack";
}

static void *list_dup(const void *ptr, int enc)
{
    return enc == ENC_QUICKLIST ? (void *)ql_dup(ptr) : (void *)lp_dup(ptr);
}

/* Redis's xorObjectDigest for lists: every element, head to tail, mixed in as a string. */
static void list_digest(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN])
{
    ql_pos pos;
    for (int ok = list_index(e, 0, &pos); ok; ok = list_move(e, &pos, LIST_TAIL)) {
        char tmp[OBJ_INT_STR_MAX];
        lp_value v;
        lp_get(pos.p, &v, tmp);
        debug_digest_mix(digest, v.s, v.len);
    }
}

static const obj_type_ops list_ops = {
    .name = "list",
    .free = list_free,
    .mem_usage = list_mem_usage,
    .enc_name = list_enc_name,
    .dup = list_dup,
};

void list_type_init(void)
{
    obj_register_type(OBJ_LIST, &list_ops);
    debug_register_digest(OBJ_LIST, list_digest);
}

/* ---- shared steps of the commands ---------------------------------------------------------- */

/* After a write that leaves elements at key. */
static void list_touched(cmd_ctx *c, const slice *key, const char *event)
{
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_LIST, event, key->p, key->len);
}

/* Deletes the key of list e when the list is empty; returns 1 then. */
static int list_delete_if_empty(cmd_ctx *c, entry *e, const slice *key)
{
    if (list_len(e))
        return 0;
    db_delete(c, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
    return 1;
}

/* Redis's listElementsRemoved: the events of a pop, and the key goes when it is empty. */
static void list_popped(cmd_ctx *c, entry *e, const slice *key, int where)
{
    db_notify(c, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", key->p, key->len);
    list_delete_if_empty(c, e, key);
    db_signal_modified(c, key->p, key->len);
}

/* Pops up to count elements from the where end of e (not empty), replying each in pop order
 * (no array header). Returns how many. */
static long list_pop_reply(cmd_ctx *c, entry *e, int where, long count)
{
    unsigned long len = list_len(e);
    if ((unsigned long)count > len)
        count = (long)len;
    ql_pos pos;
    int ok = list_index(e, where == LIST_HEAD ? 0 : -1, &pos);
    int dir = where == LIST_HEAD ? LIST_TAIL : LIST_HEAD;
    for (long i = 0; i < count && ok; i++) {
        list_reply_elem(c, &pos);
        ok = list_move(e, &pos, dir);
    }
    list_delete_range(e, where == LIST_HEAD ? 0 : len - (unsigned long)count, (unsigned long)count);
    return count;
}

static int parse_where(const slice *a, int *where)
{
    if (arg_eq(a, "left"))
        *where = LIST_HEAD;
    else if (arg_eq(a, "right"))
        *where = LIST_TAIL;
    else
        return -1;
    return 0;
}

static int where_or_reply(cmd_ctx *c, const slice *a, int *where)
{
    if (parse_where(a, where) == 0)
        return 0;
    reply_syntax_error(c);
    return -1;
}

/* Parses a count that must be positive (Redis's getPositiveLongFromObjectOrReply with msg). */
static int positive_or_reply(cmd_ctx *c, const slice *a, long long *out, const char *msg)
{
    if (!str_to_ll(a->p, a->len, out) || *out < 0) {
        reply_error(c, msg);
        return -1;
    }
    return 0;
}

/* ---- pushes -----------------------------------------------------------------------------------
 */

/* Redis's pushGenericCommand: LPUSH, RPUSH, and with xx LPUSHX, RPUSHX (only onto a list that
 * exists). */
static void push_generic(cmd_ctx *c, int where, int xx)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    if (!e) {
        if (xx) {
            reply_int(c, 0);
            return;
        }
        e = list_create(c, key);
    }
    list_convert_for_args(c, e, 2);
    for (int j = 2; j < c->argc; j++)
        list_push(e, where, c->argv[j].p, c->argv[j].len);
    reply_int(c, (long long)list_len(e));
    list_touched(c, key, where == LIST_HEAD ? "lpush" : "rpush");
    block_signal_key(c, key->p, key->len);
}

static void lpush_cmd(cmd_ctx *c)
{
    push_generic(c, LIST_HEAD, 0);
}

static void rpush_cmd(cmd_ctx *c)
{
    push_generic(c, LIST_TAIL, 0);
}

static void lpushx_cmd(cmd_ctx *c)
{
    push_generic(c, LIST_HEAD, 1);
}

static void rpushx_cmd(cmd_ctx *c)
{
    push_generic(c, LIST_TAIL, 1);
}

/* LINSERT key BEFORE|AFTER pivot element */
static void linsert_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    int after;
    if (arg_eq(&c->argv[2], "after")) {
        after = 1;
    } else if (arg_eq(&c->argv[2], "before")) {
        after = 0;
    } else {
        reply_syntax_error(c);
        return;
    }
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    const slice *pivot = &c->argv[3];
    ql_pos pos;
    int ok = list_index(e, 0, &pos);
    while (ok && !lp_eq(pos.p, pivot->p, pivot->len))
        ok = list_move(e, &pos, LIST_TAIL);
    if (!ok) {
        reply_int(c, -1);
        return;
    }
    if (e->enc == ENC_LISTPACK) {
        /* Converting moves the listpack into a node: find the pivot again there. */
        size_t off = (size_t)(pos.p - (unsigned char *)entry_ptr(e));
        list_convert_for(e, c->argv[4].len, 1);
        if (e->enc == ENC_QUICKLIST) {
            quicklist *ql = entry_ptr(e);
            pos.node = ql->head;
            pos.p = ql->head->lp + off;
        }
    }
    list_insert(e, &pos, after, &c->argv[4]);
    list_touched(c, key, "linsert");
    reply_int(c, (long long)list_len(e));
}

/* ---- reads ------------------------------------------------------------------------------------
 */

static void llen_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    reply_int(c, e ? (long long)list_len(e) : 0);
}

/* LINDEX key index */
static void lindex_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    long long index;
    if (arg_ll_or_reply(c, &c->argv[2], &index, NULL))
        return;
    ql_pos pos;
    if (list_index(e, (long)index, &pos))
        list_reply_elem(c, &pos);
    else
        reply_null(c);
}

/* LRANGE key start stop */
static void lrange_cmd(cmd_ctx *c)
{
    long long start, end;
    if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) ||
        arg_ll_or_reply(c, &c->argv[3], &end, NULL))
        return;
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    long long len = e ? (long long)list_len(e) : 0;
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (start > end || start >= len) {
        reply_array(c, 0);
        return;
    }
    if (end >= len)
        end = len - 1;
    long long n = end - start + 1;
    reply_array(c, (long)n);
    ql_pos pos;
    list_index(e, (long)start, &pos); /* seeks from the nearer end */
    for (long long i = 0; i < n; i++, list_move(e, &pos, LIST_TAIL))
        list_reply_elem(c, &pos);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static void lpos_cmd(cmd_ctx *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    const slice *ele = &c->argv[2];
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(&c->argv[j], "rank") && more) {
            if (arg_ll_or_reply(c, &c->argv[++j], &rank, NULL))
                return;
            if (rank == LLONG_MIN) {
                reply_error(c, "ERR value is out of range, value must between "
                               "-9223372036854775807 and 9223372036854775807");
                return;
            }
            if (rank == 0) {
                reply_error(c, ERR_RANK_ZERO);
                return;
            }
        } else if (arg_eq(&c->argv[j], "count") && more) {
            if (positive_or_reply(c, &c->argv[++j], &count, ERR_COUNT_NEGATIVE))
                return;
        } else if (arg_eq(&c->argv[j], "maxlen") && more) {
            if (positive_or_reply(c, &c->argv[++j], &maxlen, ERR_MAXLEN_NEGATIVE))
                return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int dir = LIST_TAIL;
    if (rank < 0) {
        rank = -rank;
        dir = LIST_HEAD;
    }
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        if (count != -1)
            reply_array(c, 0);
        else
            reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    size_t handle = count != -1 ? reply_deferred(c) : 0;
    long long len = (long long)list_len(e), index = 0, matches = 0, found = -1, replied = 0;
    ql_pos pos;
    int ok = list_index(e, dir == LIST_TAIL ? 0 : -1, &pos);
    for (; ok && (maxlen == 0 || index < maxlen); index++, ok = list_move(e, &pos, dir)) {
        if (!lp_eq(pos.p, ele->p, ele->len))
            continue;
        matches++;
        if (matches < rank)
            continue;
        found = dir == LIST_TAIL ? index : len - index - 1;
        if (count == -1)
            break;
        reply_int(c, found);
        replied++;
        if (count && matches - rank + 1 >= count)
            break;
    }
    if (count != -1)
        reply_set_deferred_array(c, handle, (long)replied);
    else if (found != -1)
        reply_int(c, found);
    else
        reply_null(c);
}

/* ---- in-place writes ---------------------------------------------------------------------- */

/* LSET key index element */
static void lset_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    long long index;
    if (arg_ll_or_reply(c, &c->argv[2], &index, NULL))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    list_convert_for(e, c->argv[3].len, 1);
    ql_pos pos;
    if (!list_index(e, (long)index, &pos)) {
        reply_error(c, ERR_OUT_OF_RANGE);
        return;
    }
    list_replace(e, &pos, &c->argv[3]);
    reply_ok(c);
    list_touched(c, key, "lset");
}

/* LREM key count element: count > 0 from the head, < 0 from the tail, 0 all. */
static void lrem_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *ele = &c->argv[3];
    long long toremove;
    if (arg_ll_or_reply(c, &c->argv[2], &toremove, NULL))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    int dir = LIST_TAIL;
    if (toremove < 0) {
        toremove = toremove == LLONG_MIN ? LLONG_MAX : -toremove;
        dir = LIST_HEAD;
    }
    long long removed = 0;
    ql_pos pos;
    int ok = list_index(e, dir == LIST_TAIL ? 0 : -1, &pos);
    while (ok) {
        if (!lp_eq(pos.p, ele->p, ele->len)) {
            ok = list_move(e, &pos, dir);
            continue;
        }
        ok = list_delete(e, &pos, dir);
        if (++removed == toremove)
            break;
    }
    if (removed)
        db_notify(c, NOTIFY_LIST, "lrem", key->p, key->len);
    list_delete_if_empty(c, e, key);
    reply_int(c, removed);
    if (removed)
        db_signal_modified(c, key->p, key->len);
}

/* LTRIM key start stop */
static void ltrim_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    long long start, end;
    if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) ||
        arg_ll_or_reply(c, &c->argv[3], &end, NULL))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_ok(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    long long len = (long long)list_len(e), ltrim, rtrim;
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (start > end || start >= len) {
        ltrim = len; /* out of range: everything goes */
        rtrim = 0;
    } else {
        if (end >= len)
            end = len - 1;
        ltrim = start;
        rtrim = len - end - 1;
    }
    list_delete_range(e, (unsigned long)(len - rtrim), (unsigned long)rtrim);
    list_delete_range(e, 0, (unsigned long)ltrim);
    db_notify(c, NOTIFY_LIST, "ltrim", key->p, key->len);
    list_delete_if_empty(c, e, key);
    db_signal_modified(c, key->p, key->len);
    reply_ok(c);
}

/* ---- pops --------------------------------------------------------------------------------- */

/* Redis's popGenericCommand: LPOP/RPOP key [count]. */
static void pop_generic(cmd_ctx *c, int where)
{
    const slice *key = &c->argv[1];
    long long count = 1;
    int has_count = c->argc == 3;
    if (c->argc > 3) {
        reply_wrong_args(c);
        return;
    }
    if (has_count && positive_or_reply(c, &c->argv[2], &count, ERR_POSITIVE))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        if (has_count)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_LIST))
        return;
    if (has_count && count == 0) {
        reply_array(c, 0);
        return;
    }
    if (has_count)
        reply_array(c, (long)(count < (long long)list_len(e) ? count : (long long)list_len(e)));
    list_pop_reply(c, e, where, (long)count);
    list_popped(c, e, key, where);
}

static void lpop_cmd(cmd_ctx *c)
{
    pop_generic(c, LIST_HEAD);
}

static void rpop_cmd(cmd_ctx *c)
{
    pop_generic(c, LIST_TAIL);
}

/* Replies [key, [elements]] popping up to count from list e (not empty) at key. */
static void mpop_reply(cmd_ctx *c, entry *e, const slice *key, int where, long count)
{
    reply_array(c, 2);
    reply_bulk(c, key->p, key->len);
    unsigned long len = list_len(e);
    long n = (long)((unsigned long)count < len ? (unsigned long)count : len);
    reply_array(c, n);
    list_pop_reply(c, e, where, count);
    list_popped(c, e, key, where);
    /* [B]LMPOP as the pop of the key it took from, as Redis journals it. */
    journal_rewrite(c, "sbl", where == LIST_HEAD ? "LPOP" : "RPOP", key, (long long)n);
}

/* The first list of keys argv[first..first+nkeys-1] that has elements, or NULL. A key of
 * another type before it is an error (*err set, reply sent). */
static entry *first_nonempty(cmd_ctx *c, int first, int nkeys, int *keyidx, int *err)
{
    *err = 0;
    for (int j = first; j < first + nkeys; j++) {
        entry *e = db_lookup_write(c, c->argv[j].p, c->argv[j].len);
        if (!e)
            continue;
        if (db_wrong_type(c, e, OBJ_LIST)) {
            *err = 1;
            return NULL;
        }
        *keyidx = j;
        return e;
    }
    return NULL;
}

/* In serving mode (blocking.h): the ready key's list, or NULL after telling the client to keep
 * waiting. */
static entry *ready_list(cmd_ctx *c)
{
    entry *e = db_lookup_write(c, c->ready_key.p, c->ready_key.len);
    if (!e || e->type != OBJ_LIST) {
        block_keep_waiting(c);
        return NULL;
    }
    return e;
}

/* A served blocking pop is journaled as the pop that happened (BLPOP as LPOP key). */
static void journal_pop(cmd_ctx *c, const slice *key, int where)
{
    journal_rewrite(c, "sb", where == LIST_HEAD ? "LPOP" : "RPOP", key);
}

/* Blocks c on keys argv[first..first+nkeys-1]. */
static void block_on_range(cmd_ctx *c, int first, int nkeys, int64_t timeout, int null_reply)
{
    int stack[LIST_KEYS_STACK] = {0};
    int *idx = nkeys <= LIST_KEYS_STACK ? stack : mem_malloc(sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++)
        idx[i] = first + i;
    block_on_keys(c, idx, nkeys, timeout, null_reply);
    if (idx != stack)
        free(idx);
}

/* Redis's blockingPopGenericCommand: BLPOP/BRPOP key [key ...] timeout. */
static void bpop_generic(cmd_ctx *c, int where)
{
    if (c->flags & CTX_UNBLOCKED) {
        entry *e = ready_list(c);
        if (!e)
            return;
        reply_array(c, 2);
        reply_bulk(c, c->ready_key.p, c->ready_key.len);
        list_pop_reply(c, e, where, 1);
        list_popped(c, e, &c->ready_key, where);
        journal_pop(c, &c->ready_key, where);
        return;
    }
    int64_t timeout;
    if (block_timeout_or_reply(c, &c->argv[c->argc - 1], &timeout))
        return;
    int nkeys = c->argc - 2, j, err;
    entry *e = first_nonempty(c, 1, nkeys, &j, &err);
    if (err)
        return;
    if (e) {
        reply_array(c, 2);
        reply_bulk(c, c->argv[j].p, c->argv[j].len);
        list_pop_reply(c, e, where, 1);
        list_popped(c, e, &c->argv[j], where);
        journal_pop(c, &c->argv[j], where);
        return;
    }
    if (!block_allowed(c)) {
        reply_null_array(c); /* in MULTI or a script: as if it timed out at once */
        return;
    }
    block_on_range(c, 1, nkeys, timeout, BLOCK_NULL_ARRAY);
}

static void blpop_cmd(cmd_ctx *c)
{
    bpop_generic(c, LIST_HEAD);
}

static void brpop_cmd(cmd_ctx *c)
{
    bpop_generic(c, LIST_TAIL);
}

/* Parses LMPOP's numkeys, where and COUNT from argv[numkeys_idx] on (Redis's
 * lmpopGenericCommand). */
static int mpop_args_or_reply(cmd_ctx *c, int numkeys_idx, long long *numkeys, int *where,
                              long long *count)
{
    /* Redis answers a non-number with the range message too. */
    const slice *a = &c->argv[numkeys_idx];
    if (!str_to_ll(a->p, a->len, numkeys) || *numkeys < 1) {
        reply_error(c, ERR_NUMKEYS);
        return -1;
    }
    long long where_idx = numkeys_idx + *numkeys + 1;
    if (where_idx >= c->argc) {
        reply_syntax_error(c);
        return -1;
    }
    if (where_or_reply(c, &c->argv[where_idx], where))
        return -1;
    *count = -1;
    for (int j = (int)where_idx + 1; j < c->argc; j++) {
        if (*count == -1 && arg_eq(&c->argv[j], "count") && j + 1 < c->argc) {
            j++;
            if (!str_to_ll(c->argv[j].p, c->argv[j].len, count) || *count < 1) {
                reply_error(c, ERR_MPOP_COUNT);
                return -1;
            }
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    if (*count == -1)
        *count = 1;
    return 0;
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and BLMPOP timeout numkeys ... */
static void mpop_generic(cmd_ctx *c, int numkeys_idx, int blocking)
{
    long long numkeys, count;
    int where;
    if (mpop_args_or_reply(c, numkeys_idx, &numkeys, &where, &count))
        return;
    if (c->flags & CTX_UNBLOCKED) {
        entry *e = ready_list(c);
        if (e)
            mpop_reply(c, e, &c->ready_key, where, (long)count);
        return;
    }
    int64_t timeout = 0;
    if (blocking && block_timeout_or_reply(c, &c->argv[1], &timeout))
        return;
    int j, err;
    entry *e = first_nonempty(c, numkeys_idx + 1, (int)numkeys, &j, &err);
    if (err)
        return;
    if (e) {
        mpop_reply(c, e, &c->argv[j], where, (long)count);
        return;
    }
    if (!blocking || !block_allowed(c)) {
        reply_null_array(c);
        return;
    }
    block_on_range(c, numkeys_idx + 1, (int)numkeys, timeout, BLOCK_NULL_ARRAY);
}

static void lmpop_cmd(cmd_ctx *c)
{
    mpop_generic(c, 1, 0);
}

static void blmpop_cmd(cmd_ctx *c)
{
    mpop_generic(c, 2, 1);
}

/* Key positions of LMPOP (numkeys at argv[1]) and BLMPOP (at argv[2]): -1 when numkeys is not
 * usable, and the command reports it. */
static int mpop_keys(int numkeys_idx, int argc, const slice *argv, int *keys, int max)
{
    long long n;
    if (numkeys_idx >= argc || !str_to_ll(argv[numkeys_idx].p, argv[numkeys_idx].len, &n) ||
        n < 1 || n > argc - numkeys_idx - 1 || n > max)
        return -1;
    for (int i = 0; i < (int)n; i++)
        keys[i] = numkeys_idx + 1 + i;
    return (int)n;
}

static int lmpop_getkeys(int argc, const slice *argv, int *keys, int max)
{
    return mpop_keys(1, argc, argv, keys, max);
}

static int blmpop_getkeys(int argc, const slice *argv, int *keys, int max)
{
    return mpop_keys(2, argc, argv, keys, max);
}

/* ---- moves -------------------------------------------------------------------------------- */

/* Redis's lmoveGenericCommand: pops from the wherefrom end of src and pushes to the whereto end
 * of dst (possibly the same list, possibly on another shard: the table row declares both keys
 * so both are held). Replies the element, or null when src is absent. */
static void lmove_generic(cmd_ctx *c, int wherefrom, int whereto)
{
    const slice *src = &c->argv[1], *dst = &c->argv[2];
    entry *se = db_lookup_write(c, src->p, src->len);
    if (!se) {
        reply_null(c);
        return;
    }
    if (db_wrong_type(c, se, OBJ_LIST))
        return;
    entry *de = db_lookup_write(c, dst->p, dst->len);
    if (db_wrong_type(c, de, OBJ_LIST))
        return;
    /* The element must outlive its slot: it is pushed after the pop, maybe into the same
     * listpack. */
    ql_pos pos;
    list_index(se, wherefrom == LIST_HEAD ? 0 : -1, &pos);
    char tmp[OBJ_INT_STR_MAX], stack[LIST_COPY_STACK];
    lp_value v;
    lp_get(pos.p, &v, tmp);
    char *val = v.len <= sizeof(stack) ? stack : zmalloc(v.len);
    size_t len = v.len;
    memcpy(val, v.s, len);
    list_delete(se, &pos, LIST_TAIL);

    if (!de)
        de = list_create(c, dst);
    list_convert_for(de, len, 1);
    list_push(de, whereto, val, len);
    list_touched(c, dst, whereto == LIST_HEAD ? "lpush" : "rpush");
    block_signal_key(c, dst->p, dst->len);
    reply_bulk(c, val, len);
    if (val != stack)
        zfree(val);
    list_popped(c, se, src, wherefrom);
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT */
static void lmove_cmd(cmd_ctx *c)
{
    int from, to;
    if (where_or_reply(c, &c->argv[3], &from) || where_or_reply(c, &c->argv[4], &to))
        return;
    lmove_generic(c, from, to);
}

/* RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT. */
static void rpoplpush_cmd(cmd_ctx *c)
{
    lmove_generic(c, LIST_TAIL, LIST_HEAD);
}

/* A BLMOVE or BRPOPLPUSH that moved something is journaled as the LMOVE it was. */
static void lmove_journaled(cmd_ctx *c, int wherefrom, int whereto)
{
    lmove_generic(c, wherefrom, whereto);
    if (!c->error)
        journal_rewrite(c, "sbbss", "LMOVE", &c->argv[1], &c->argv[2],
                        wherefrom == LIST_HEAD ? "LEFT" : "RIGHT",
                        whereto == LIST_HEAD ? "LEFT" : "RIGHT");
}

/* Redis's blmoveGenericCommand: LMOVE, or blocks on source while it is absent. */
static void blmove_generic(cmd_ctx *c, int wherefrom, int whereto, const slice *timeout_arg)
{
    const slice *src = &c->argv[1];
    if (c->flags & CTX_UNBLOCKED) {
        if (ready_list(c))
            lmove_journaled(c, wherefrom, whereto);
        return;
    }
    int64_t timeout;
    if (block_timeout_or_reply(c, timeout_arg, &timeout))
        return;
    entry *se = db_lookup_write(c, src->p, src->len);
    if (db_wrong_type(c, se, OBJ_LIST))
        return;
    if (se) {
        lmove_journaled(c, wherefrom, whereto);
        return;
    }
    if (!block_allowed(c)) {
        reply_null(c);
        return;
    }
    block_on_range(c, 1, 1, timeout, BLOCK_NULL);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout */
static void blmove_cmd(cmd_ctx *c)
{
    int from, to;
    if (where_or_reply(c, &c->argv[3], &from) || where_or_reply(c, &c->argv[4], &to))
        return;
    blmove_generic(c, from, to, &c->argv[5]);
}

/* BRPOPLPUSH source destination timeout */
static void brpoplpush_cmd(cmd_ctx *c)
{
    blmove_generic(c, LIST_TAIL, LIST_HEAD, &c->argv[3]);
}

/* ---- the table ------------------------------------------------------------------------------ */

#define LIST_CMD .group = "list", .acl = ACL_LIST
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1
#define KEY12 .first_key = 1, .last_key = 2, .key_step = 1
#define KEYS_BUT_LAST .first_key = 1, .last_key = -2, .key_step = 1

command list_commands[] = {
    {.name = "lpush",
     .proc = lpush_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Prepends one or more elements to a list. Creates the key if it doesn't exist."},
    {.name = "rpush",
     .proc = rpush_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Appends one or more elements to a list. Creates the key if it doesn't exist."},
    {.name = "lpushx",
     .proc = lpushx_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.2.0",
     .summary = "Prepends one or more elements to a list only when the list exists."},
    {.name = "rpushx",
     .proc = rpushx_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.2.0",
     .summary = "Appends an element to a list only when the list exists."},
    {.name = "linsert",
     .proc = linsert_cmd,
     .arity = 5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "2.2.0",
     .summary = "Inserts an element before or after another element in a list."},
    {.name = "lpop",
     .proc = lpop_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns the first elements in a list after removing it. Deletes the list if the "
                "last element was popped."},
    {.name = "rpop",
     .proc = rpop_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns and removes the last elements of a list. Deletes the list if the last "
                "element was popped."},
    {.name = "lmpop",
     .proc = lmpop_cmd,
     .arity = -4,
     .flags = CMD_WRITE,
     .getkeys = lmpop_getkeys,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "7.0.0",
     .summary = "Returns multiple elements from a list after removing them. Deletes the list if "
                "the last element was popped."},
    {.name = "llen",
     .proc = llen_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     LIST_CMD | ACL_READ | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns the length of a list."},
    {.name = "lindex",
     .proc = lindex_cmd,
     .arity = 3,
     .flags = CMD_READONLY,
     KEY1,
     LIST_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns an element from a list by its index."},
    {.name = "lrange",
     .proc = lrange_cmd,
     .arity = 4,
     .flags = CMD_READONLY,
     KEY1,
     LIST_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns a range of elements from a list."},
    {.name = "lpos",
     .proc = lpos_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     KEY1,
     LIST_CMD | ACL_READ | ACL_SLOW,
     .since = "6.0.6",
     .summary = "Returns the index of matching elements in a list."},
    {.name = "lset",
     .proc = lset_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Sets the value of an element in a list by its index."},
    {.name = "lrem",
     .proc = lrem_cmd,
     .arity = 4,
     .flags = CMD_WRITE,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Removes elements from a list. Deletes the list if the last element was "
                "removed."},
    {.name = "ltrim",
     .proc = ltrim_cmd,
     .arity = 4,
     .flags = CMD_WRITE,
     KEY1,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Removes elements from both ends a list. Deletes the list if all elements were "
                "trimmed."},
    {.name = "lmove",
     .proc = lmove_cmd,
     .arity = 5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY12,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "6.2.0",
     .summary = "Returns an element after popping it from one list and pushing it to another. "
                "Deletes the list if the last element was moved."},
    {.name = "rpoplpush",
     .proc = rpoplpush_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY12,
     LIST_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.2.0",
     .summary = "Returns the last element of a list after removing and pushing it to another "
                "list. Deletes the list if the last element was popped."},
    {.name = "blpop",
     .proc = blpop_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING,
     KEYS_BUT_LAST,
     LIST_CMD | ACL_WRITE | ACL_SLOW | ACL_BLOCKING,
     .since = "2.0.0",
     .summary = "Removes and returns the first element in a list. Blocks until an element is "
                "available otherwise. Deletes the list if the last element was popped."},
    {.name = "brpop",
     .proc = brpop_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING,
     KEYS_BUT_LAST,
     LIST_CMD | ACL_WRITE | ACL_SLOW | ACL_BLOCKING,
     .since = "2.0.0",
     .summary = "Removes and returns the last element in a list. Blocks until an element is "
                "available otherwise. Deletes the list if the last element was popped."},
    {.name = "blmove",
     .proc = blmove_cmd,
     .arity = 6,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_BLOCKING,
     KEY12,
     LIST_CMD | ACL_WRITE | ACL_SLOW | ACL_BLOCKING,
     .since = "6.2.0",
     .summary = "Pops an element from a list, pushes it to another list and returns it. Blocks "
                "until an element is available otherwise. Deletes the list if the last element "
                "was moved."},
    {.name = "brpoplpush",
     .proc = brpoplpush_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_BLOCKING,
     KEY12,
     LIST_CMD | ACL_WRITE | ACL_SLOW | ACL_BLOCKING,
     .since = "2.2.0",
     .summary = "Pops an element from a list, pushes it to another list and returns it. Block "
                "until an element is available otherwise. Deletes the list if the last element "
                "was popped."},
    {.name = "blmpop",
     .proc = blmpop_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_BLOCKING,
     .getkeys = blmpop_getkeys,
     LIST_CMD | ACL_WRITE | ACL_SLOW | ACL_BLOCKING,
     .since = "7.0.0",
     .summary = "Pops the first element from one of multiple lists. Blocks until an element is "
                "available otherwise. Deletes the list if the last element was popped."},
    {0},
};
