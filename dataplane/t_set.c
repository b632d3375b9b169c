/* Sets (Redis's t_set.c): SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD SMEMBERS SPOP SRANDMEMBER,
 * the algebra (SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE) and SSCAN.
 *
 * A set value has one of three encodings, chosen as Redis 7.2 chooses them (7.0 has no listpack
 * sets; the thresholds are the same configuration parameters):
 *   intset     every member is an integer and there are at most set-max-intset-entries;
 *   listpack   at most set-max-listpack-entries members of at most set-max-listpack-value bytes;
 *   hashtable  anything bigger (hashtab.h, keys only).
 * A set only ever moves to a bigger encoding, never back, as in Redis. The commands see the
 * three through one small interface (setv_*), which hides the encoding behind set_ele values. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "debug.h"
#include "glob.h"
#include "hashtab.h"
#include "intset.h"
#include "journal.h"
#include "listpack.h"
#include "reply.h"
#include "server.h"
#include "types.h"
#include "zmalloc.h"

/* Redis's intsetMaxEntries: set-max-intset-entries is honoured up to this many. */
#define INTSET_MAX_ENTRIES_CAP (1LL << 30)
/* SPOP with a count builds a new set of the remaining members instead of popping one by one
 * when the set is this many times bigger than what remains (Redis's SPOP_MOVE_STRATEGY_MUL). */
#define SPOP_MOVE_STRATEGY_MUL 5
/* SRANDMEMBER picks from a copy of the whole set when the count is more than a third of it
 * (Redis's SRANDMEMBER_SUB_STRATEGY_MUL), else draws until it has enough distinct members. */
#define SRANDMEMBER_SUB_STRATEGY_MUL 3
#define SSCAN_DEFAULT_COUNT 10
/* Buckets visited per requested element at most, as Redis bounds a sparse table's scan. */
#define SSCAN_BUCKETS_PER_COUNT 10
/* Longest cursor text accepted (20 digits plus room for leading zeros). */

#define ERR_NOT_POSITIVE "ERR value is out of range, must be positive"
#define ERR_SRANDMEMBER_RANGE                                                                      \
    "ERR value is out of range, value must between -9223372036854775807 and "                      \
    "9223372036854775807"
#define ERR_NUMKEYS "ERR numkeys should be greater than 0"
#define ERR_NUMKEYS_ARGS "ERR Number of keys can't be greater than number of args"
#define ERR_LIMIT_NEGATIVE "ERR LIMIT can't be negative"

/* ---- members ------------------------------------------------------------------------------ */

/* A member as the encodings hand it out: text (pointing into the set or an argument, valid
 * until the set changes), or an integer of an intset or listpack when s is NULL. */
typedef struct set_ele {
    const char *s;
    size_t len;
    long long v;
} set_ele;

static set_ele ele_of_arg(const slice *a)
{
    return (set_ele){a->p, a->len, 0};
}

/* The member's text; integers are formatted into tmp. */
static const char *ele_text(const set_ele *x, char tmp[OBJ_INT_STR_MAX], size_t *len)
{
    if (x->s) {
        *len = x->len;
        return x->s;
    }
    *len = (size_t)ll_to_str(tmp, x->v);
    return tmp;
}

/* 1 and the integer when the member is one an intset can hold (Redis's
 * isSdsRepresentableAsLongLong). */
static int ele_ll(const set_ele *x, long long *v)
{
    if (!x->s) {
        *v = x->v;
        return 1;
    }
    return str_to_ll(x->s, x->len, v);
}

static void reply_ele(cmd_ctx *c, const set_ele *x)
{
    if (x->s)
        reply_bulk(c, x->s, x->len);
    else
        reply_bulk_ll(c, x->v);
}

static set_ele ele_of_lp(const unsigned char *p)
{
    lp_value lv;
    char tmp[OBJ_INT_STR_MAX];
    lp_get(p, &lv, tmp);
    if (lv.is_int)
        return (set_ele){NULL, 0, lv.v};
    return (set_ele){lv.s, lv.len, 0};
}

static set_ele ele_of_ht(const ht_elem *el)
{
    set_ele x = {0};
    x.s = ht_elem_key(el, &x.len);
    return x;
}

/* ---- the set value: one interface over three encodings ------------------------------------ */

typedef struct setv {
    int enc; /* ENC_INTSET, ENC_LISTPACK or ENC_HASHTABLE */
    void *ptr;
} setv;

static setv set_of(const entry *e)
{
    return (setv){e->enc, entry_ptr(e)};
}

/* Writes the (possibly moved or converted) value back into its entry. */
static void set_store(entry *e, const setv *sv)
{
    e->enc = (uint32_t)sv->enc;
    entry_set_ptr(e, sv->ptr);
}

static long long intset_max_entries(void)
{
    long long n = server.cfg.set_max_intset_entries;
    return n < INTSET_MAX_ENTRIES_CAP ? n : INTSET_MAX_ENTRIES_CAP;
}

/* Redis's setTypeCreate: the encoding a new set starts in, given its first member and how many
 * members it is about to receive. An integer starts an intset whatever the count (Redis 7.0's
 * rule: duplicates may keep the set small, and the intset converts itself when it must), so a
 * set is an intset exactly when Redis 7.0's would be; the count only chooses between listpack
 * and a presized hash table (7.2's rule). */
static setv setv_create(const set_ele *first, size_t size_hint)
{
    long long v;
    if (ele_ll(first, &v))
        return (setv){ENC_INTSET, intset_new()};
    if ((long long)size_hint <= server.cfg.set_max_listpack_entries)
        return (setv){ENC_LISTPACK, lp_new()};
    return (setv){ENC_HASHTABLE, ht_new(HT_KEYS_ONLY, size_hint)};
}

static setv setv_new_intset(void)
{
    return (setv){ENC_INTSET, intset_new()};
}

static void setv_free(setv *sv)
{
    switch (sv->enc) {
    case ENC_INTSET: intset_free(sv->ptr); break;
    case ENC_LISTPACK: lp_free(sv->ptr); break;
    default: ht_free(sv->ptr); break;
    }
    sv->ptr = NULL;
}

static size_t setv_size(const setv *sv)
{
    switch (sv->enc) {
    case ENC_INTSET: return intset_len(sv->ptr);
    case ENC_LISTPACK: return lp_count(sv->ptr);
    default: return ht_count(sv->ptr);
    }
}

/* Iteration, in the encoding's order (ascending for an intset). Invalidated by any change. */
typedef struct set_iter {
    const setv *sv;
    uint32_t pos;     /* intset */
    unsigned char *p; /* listpack: the next element */
    ht_iter hi;
} set_iter;

static void set_iter_init(set_iter *it, const setv *sv)
{
    it->sv = sv;
    it->pos = 0;
    if (sv->enc == ENC_LISTPACK)
        it->p = lp_first(sv->ptr);
    else if (sv->enc == ENC_HASHTABLE)
        ht_iter_init(&it->hi, sv->ptr);
}

/* 1 and the next member, or 0 at the end. */
static int set_iter_next(set_iter *it, set_ele *out)
{
    switch (it->sv->enc) {
    case ENC_INTSET:
        if (it->pos >= intset_len(it->sv->ptr))
            return 0;
        *out = (set_ele){NULL, 0, intset_get(it->sv->ptr, it->pos++)};
        return 1;
    case ENC_LISTPACK:
        if (!it->p)
            return 0;
        *out = ele_of_lp(it->p);
        it->p = lp_next(it->sv->ptr, it->p);
        return 1;
    default: {
        const ht_elem *el = ht_iter_next(&it->hi);
        if (!el)
            return 0;
        *out = ele_of_ht(el);
        return 1;
    }
    }
}

void set_each(const entry *e, elem_fn fn, void *arg)
{
    setv sv = set_of(e);
    set_iter it;
    set_ele x;
    char tmp[OBJ_INT_STR_MAX];
    set_iter_init(&it, &sv);
    while (set_iter_next(&it, &x)) {
        size_t len;
        const char *s = ele_text(&x, tmp, &len);
        fn(arg, s, len);
    }
}

/* Redis's setTypeConvert to a hash table presized for `expected` members. */
static void setv_to_hashtable(setv *sv, size_t expected)
{
    hashtab *h = ht_new(HT_KEYS_ONLY, expected);
    set_iter it;
    set_ele x;
    set_iter_init(&it, sv);
    while (set_iter_next(&it, &x)) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = ele_text(&x, tmp, &len);
        ht_add(h, s, len, NULL, 0);
    }
    setv_free(sv);
    *sv = (setv){ENC_HASHTABLE, h};
}

static void setv_intset_to_listpack(setv *sv)
{
    intset *is = sv->ptr;
    unsigned char *lp = lp_new();
    for (uint32_t i = 0; i < intset_len(is); i++) {
        char tmp[OBJ_INT_STR_MAX];
        int n = ll_to_str(tmp, intset_get(is, i));
        lp = lp_append(lp, tmp, (size_t)n);
    }
    intset_free(is);
    *sv = (setv){ENC_LISTPACK, lp};
}

/* Adding a non-integer to an intset: the set becomes a listpack when that keeps it within the
 * listpack limits (its longest integer included), else a hash table (Redis 7.2's rule). */
static int intset_add_text(setv *sv, const char *s, size_t len)
{
    intset *is = sv->ptr;
    size_t n = intset_len(is);
    size_t longest = 0;
    if (n) {
        char tmp[OBJ_INT_STR_MAX];
        size_t lmin = (size_t)ll_to_str(tmp, intset_min(is));
        size_t lmax = (size_t)ll_to_str(tmp, intset_max(is));
        longest = lmin > lmax ? lmin : lmax;
    }
    long long max_value = server.cfg.set_max_listpack_value;
    if ((long long)n < server.cfg.set_max_listpack_entries && (long long)len <= max_value &&
        (long long)longest <= max_value) {
        setv_intset_to_listpack(sv);
        sv->ptr = lp_append(sv->ptr, s, len);
        return 1;
    }
    setv_to_hashtable(sv, n + 1);
    return ht_add(sv->ptr, s, len, NULL, 0);
}

/* Redis's setTypeAdd: 1 when x was added, 0 when it was already a member. */
static int setv_add(setv *sv, const set_ele *x)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s;
    long long v;
    switch (sv->enc) {
    case ENC_INTSET: {
        if (!ele_ll(x, &v)) {
            s = ele_text(x, tmp, &len);
            return intset_add_text(sv, s, len);
        }
        int added;
        sv->ptr = intset_add(sv->ptr, v, &added);
        if (added && (long long)intset_len(sv->ptr) > intset_max_entries())
            setv_to_hashtable(sv, intset_len(sv->ptr));
        return added;
    }
    case ENC_LISTPACK: {
        unsigned char *lp = sv->ptr;
        s = ele_text(x, tmp, &len);
        if (lp_find(lp, lp_first(lp), s, len, 0))
            return 0;
        long long n = lp_count(lp);
        if (n < server.cfg.set_max_listpack_entries &&
            (long long)len <= server.cfg.set_max_listpack_value) {
            sv->ptr = lp_append(lp, s, len);
            return 1;
        }
        setv_to_hashtable(sv, (size_t)n + 1);
        return ht_add(sv->ptr, s, len, NULL, 0);
    }
    default: s = ele_text(x, tmp, &len); return ht_add(sv->ptr, s, len, NULL, 0);
    }
}

/* 1 when x was a member and is removed. x must not point into the set (copy it first). */
static int setv_remove(setv *sv, const set_ele *x)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s;
    long long v;
    switch (sv->enc) {
    case ENC_INTSET: {
        int removed = 0;
        if (ele_ll(x, &v))
            sv->ptr = intset_remove(sv->ptr, v, &removed);
        return removed;
    }
    case ENC_LISTPACK: {
        s = ele_text(x, tmp, &len);
        unsigned char *p = lp_find(sv->ptr, lp_first(sv->ptr), s, len, 0);
        if (!p)
            return 0;
        sv->ptr = lp_delete(sv->ptr, p, NULL);
        return 1;
    }
    default: s = ele_text(x, tmp, &len); return ht_delete(sv->ptr, s, len);
    }
}

static int setv_contains(const setv *sv, const set_ele *x)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s;
    long long v;
    switch (sv->enc) {
    case ENC_INTSET: return ele_ll(x, &v) && intset_find(sv->ptr, v);
    case ENC_LISTPACK:
        s = ele_text(x, tmp, &len);
        return lp_find(sv->ptr, lp_first(sv->ptr), s, len, 0) != NULL;
    default: s = ele_text(x, tmp, &len); return ht_find(sv->ptr, s, len) != NULL;
    }
}

/* A random member of a non-empty set. Uniform for intsets and listpacks; as close to uniform as
 * hashtab's bucket sampling for hash tables. */
static set_ele setv_random(const setv *sv, uint64_t rnd)
{
    switch (sv->enc) {
    case ENC_INTSET: {
        const intset *is = sv->ptr;
        return (set_ele){NULL, 0, intset_get(is, (uint32_t)(rnd % intset_len(is)))};
    }
    case ENC_LISTPACK: return ele_of_lp(lp_seek(sv->ptr, (long)(rnd % lp_count(sv->ptr))));
    default: return ele_of_ht(ht_random(sv->ptr, rnd));
    }
}

/* Removes a random member of a non-empty set, handing it to fn first (while it still exists). */
typedef void (*set_ele_fn)(void *arg, const set_ele *x);
static void setv_pop_random(setv *sv, uint64_t rnd, set_ele_fn fn, void *arg)
{
    switch (sv->enc) {
    case ENC_INTSET: {
        set_ele x = setv_random(sv, rnd);
        fn(arg, &x);
        sv->ptr = intset_remove(sv->ptr, x.v, NULL);
        return;
    }
    case ENC_LISTPACK: {
        unsigned char *p = lp_seek(sv->ptr, (long)(rnd % lp_count(sv->ptr)));
        set_ele x = ele_of_lp(p);
        fn(arg, &x);
        sv->ptr = lp_delete(sv->ptr, p, NULL);
        return;
    }
    default: {
        set_ele x = ele_of_ht(ht_random(sv->ptr, rnd));
        fn(arg, &x);
        ht_delete(sv->ptr, x.s, x.len); /* the key may point into the element: allowed */
        return;
    }
    }
}

/* Every member into a new array of setv_size entries (pointing into the set); the caller frees
 * it with free(). */
static set_ele *setv_snapshot(const setv *sv)
{
    size_t n = setv_size(sv);
    set_ele *all = mem_malloc(sizeof(*all) * (n ? n : 1));
    set_iter it;
    size_t i = 0;
    set_iter_init(&it, sv);
    while (i < n && set_iter_next(&it, &all[i]))
        i++;
    return all;
}

/* ---- type registration: free, memory, encoding names, copy, digest ------------------------ */

static void set_free_value(void *ptr, int enc)
{
    setv sv = {enc, ptr};
    setv_free(&sv);
}

static size_t set_mem_usage(const void *ptr, int enc)
{
    if (enc == ENC_HASHTABLE)
        return ht_mem_usage(ptr);
    return zmalloc_size(ptr);
}

static const char *set_enc_name(int enc)
{
    switch (enc) {
    case ENC_INTSET: return "intset";
    case ENC_LISTPACK: return "listpack";
    case ENC_HASHTABLE: return "hashtable";
    default: return NULL;
    }
}

static void *set_dup_value(const void *ptr, int enc)
{
    switch (enc) {
    case ENC_INTSET: return intset_dup(ptr);
    case ENC_LISTPACK: return lp_dup(ptr);
    default: return ht_dup(ptr);
    }
}

/* Redis's xorObjectDigest of a set: members xor-ed in by their text, so order does not matter
 * and the digest is the same whatever the encoding. */
static void set_digest(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN])
{
    setv sv = set_of(e);
    set_iter it;
    set_ele x;
    set_iter_init(&it, &sv);
    while (set_iter_next(&it, &x)) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = ele_text(&x, tmp, &len);
        debug_digest_xor(digest, s, len);
    }
}

static const obj_type_ops set_ops = {
    .name = "set",
    .free = set_free_value,
    .mem_usage = set_mem_usage,
    .enc_name = set_enc_name,
    .dup = set_dup_value,
};

void set_type_init(void)
{
    obj_register_type(OBJ_SET, &set_ops);
    debug_register_digest(OBJ_SET, set_digest);
}

/* ---- helpers of the commands -------------------------------------------------------------- */

static uint64_t key_rand(cmd_ctx *c, const slice *key)
{
    return shard_rand(ctx_shard(c, key->p, key->len));
}

/* Stores sv at key (created, or replacing whatever was there, TTL dropped): Redis's setKey. */
static void set_put(cmd_ctx *c, const slice *key, setv *sv)
{
    db_put(c, entry_new_ptr(key->p, key->len, OBJ_SET, sv->enc, sv->ptr, -1), 0);
    sv->ptr = NULL;
}

/* After members were removed from the set of e at key: stores the value, and deletes the key
 * when the set is empty. Returns 1 when the key was deleted (the "del" event is sent). */
static int set_store_or_delete(cmd_ctx *c, entry *e, const slice *key, setv *sv)
{
    set_store(e, sv);
    if (setv_size(sv) > 0)
        return 0;
    db_delete(c, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
    return 1;
}

static void reply_members(cmd_ctx *c, const setv *sv)
{
    set_iter it;
    set_ele x;
    reply_set(c, (long)setv_size(sv));
    set_iter_init(&it, sv);
    while (set_iter_next(&it, &x))
        reply_ele(c, &x);
}

/* ---- SADD SREM SMOVE ---------------------------------------------------------------------- */

/* SADD key member [member ...] */
static void sadd_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    set_ele first = ele_of_arg(&c->argv[2]);
    setv sv = e ? set_of(e) : setv_create(&first, (size_t)(c->argc - 2));
    long long added = 0;
    for (int j = 2; j < c->argc; j++) {
        set_ele x = ele_of_arg(&c->argv[j]);
        added += setv_add(&sv, &x);
    }
    if (e)
        set_store(e, &sv);
    else
        db_add(c, entry_new_ptr(key->p, key->len, OBJ_SET, sv.enc, sv.ptr, -1));
    if (added) {
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_SET, "sadd", key->p, key->len);
    }
    reply_int(c, added);
}

/* SREM key member [member ...] */
static void srem_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e) {
        reply_int(c, 0);
        return;
    }
    setv sv = set_of(e);
    long long deleted = 0;
    for (int j = 2; j < c->argc && setv_size(&sv) > 0; j++) {
        set_ele x = ele_of_arg(&c->argv[j]);
        deleted += setv_remove(&sv, &x);
    }
    if (deleted) {
        set_store(e, &sv);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_SET, "srem", key->p, key->len);
        set_store_or_delete(c, e, key, &sv);
    }
    reply_int(c, deleted);
}

static int same_key(const slice *a, const slice *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* SMOVE source destination member */
static void smove_cmd(cmd_ctx *c)
{
    const slice *src = &c->argv[1], *dst = &c->argv[2];
    set_ele x = ele_of_arg(&c->argv[3]);
    entry *se = db_lookup_write(c, src->p, src->len);
    entry *de = db_lookup_write(c, dst->p, dst->len);
    if (!se) {
        reply_int(c, 0); /* Redis answers before looking at the destination's type */
        return;
    }
    if (db_wrong_type(c, se, OBJ_SET) || db_wrong_type(c, de, OBJ_SET))
        return;
    setv ss = set_of(se);
    if (same_key(src, dst)) {
        reply_int(c, setv_contains(&ss, &x));
        return;
    }
    if (!setv_remove(&ss, &x)) {
        reply_int(c, 0);
        return;
    }
    db_notify(c, NOTIFY_SET, "srem", src->p, src->len);
    set_store_or_delete(c, se, src, &ss);
    setv ds = de ? set_of(de) : setv_create(&x, 1);
    int added = setv_add(&ds, &x);
    if (de)
        set_store(de, &ds);
    else
        db_add(c, entry_new_ptr(dst->p, dst->len, OBJ_SET, ds.enc, ds.ptr, -1));
    db_signal_modified(c, src->p, src->len);
    db_signal_modified(c, dst->p, dst->len);
    if (added)
        db_notify(c, NOTIFY_SET, "sadd", dst->p, dst->len);
    reply_int(c, 1);
}

/* ---- SISMEMBER SMISMEMBER SCARD SMEMBERS -------------------------------------------------- */

/* SISMEMBER key member */
static void sismember_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    set_ele x = ele_of_arg(&c->argv[2]);
    setv sv = e ? set_of(e) : (setv){0};
    reply_int(c, e && setv_contains(&sv, &x));
}

/* SMISMEMBER key member [member ...] */
static void smismember_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    setv sv = e ? set_of(e) : (setv){0};
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        set_ele x = ele_of_arg(&c->argv[j]);
        reply_int(c, e && setv_contains(&sv, &x));
    }
}

/* SCARD key */
static void scard_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    setv sv = e ? set_of(e) : (setv){0};
    reply_int(c, e ? (long long)setv_size(&sv) : 0);
}

/* SMEMBERS key */
static void smembers_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e) {
        reply_set(c, 0);
        return;
    }
    setv sv = set_of(e);
    reply_members(c, &sv);
}

/* ---- SPOP --------------------------------------------------------------------------------- */

/* SPOP is journaled as the SREM of the members it popped: chance must not decide again when
 * the journal is replayed (Redis does the same). */
typedef struct spop_out {
    cmd_ctx *c;
    journal_cmd *jc; /* NULL when nothing is journaled */
} spop_out;

static void spop_out_init(spop_out *o, cmd_ctx *c, journal_cmd *jc, const slice *key)
{
    o->c = c;
    o->jc = journal_wanted() ? jc : NULL;
    if (o->jc) {
        journal_cmd_init(jc, "SREM");
        journal_cmd_add(jc, key->p, key->len);
    }
}

/* Replies a popped member and records it. */
static void spop_out_cb(void *arg, const set_ele *x)
{
    spop_out *o = arg;
    reply_ele(o->c, x);
    if (o->jc) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = ele_text(x, tmp, &len);
        journal_cmd_add(o->jc, s, len);
    }
}

static void spop_out_commit(spop_out *o)
{
    if (o->jc)
        journal_cmd_commit(o->c, o->jc, 0);
}

/* SPOP key: one random member, removed. */
static void spop_one(cmd_ctx *c, const slice *key)
{
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e) {
        reply_null(c);
        return;
    }
    setv sv = set_of(e);
    journal_cmd jc;
    spop_out o;
    spop_out_init(&o, c, &jc, key);
    setv_pop_random(&sv, key_rand(c, key), spop_out_cb, &o);
    db_notify(c, NOTIFY_SET, "spop", key->p, key->len);
    set_store_or_delete(c, e, key, &sv);
    db_signal_modified(c, key->p, key->len);
    spop_out_commit(&o);
}

struct spop_keep {
    setv kept;
    int started;
};

/* Moves a popped member into the new set of the members that stay. */
static void spop_keep_cb(void *arg, const set_ele *x)
{
    struct spop_keep *k = arg;
    if (!k->started) {
        k->kept = setv_create(x, 1);
        k->started = 1;
    }
    setv_add(&k->kept, x);
}

/* SPOP key count, when count < size. Popping one at a time costs a random pick and a removal
 * per member; when few members stay, Redis instead moves those few into a new set and replies
 * with the whole old one, and so do we. */
static void spop_some(cmd_ctx *c, const slice *key, entry *e, setv *sv, size_t count)
{
    size_t remaining = setv_size(sv) - count;
    shard *s = ctx_shard(c, key->p, key->len);
    reply_set(c, (long)count);
    journal_cmd jc;
    spop_out o;
    spop_out_init(&o, c, &jc, key);
    if (remaining * SPOP_MOVE_STRATEGY_MUL > count) {
        for (size_t i = 0; i < count; i++)
            setv_pop_random(sv, shard_rand(s), spop_out_cb, &o);
        set_store(e, sv);
        spop_out_commit(&o);
        return;
    }
    struct spop_keep k = {{0}, 0};
    for (size_t i = 0; i < remaining; i++)
        setv_pop_random(sv, shard_rand(s), spop_keep_cb, &k);
    set_iter it;
    set_ele x;
    set_iter_init(&it, sv);
    while (set_iter_next(&it, &x))
        spop_out_cb(&o, &x);
    setv_free(sv);
    *sv = k.kept;
    set_store(e, sv);
    spop_out_commit(&o);
}

/* SPOP key count */
static void spop_count(cmd_ctx *c, const slice *key, const slice *count_arg)
{
    long long count;
    if (arg_ll_range_or_reply(c, count_arg, 0, LLONG_MAX, &count, ERR_NOT_POSITIVE))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e || count == 0) {
        reply_set(c, 0);
        return;
    }
    setv sv = set_of(e);
    db_notify(c, NOTIFY_SET, "spop", key->p, key->len);
    if ((unsigned long long)count >= setv_size(&sv)) {
        reply_members(c, &sv);
        db_delete(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
        journal_rewrite(c, "sb", "DEL", key);
    } else {
        spop_some(c, key, e, &sv, (size_t)count);
    }
    db_signal_modified(c, key->p, key->len);
}

/* SPOP key [count] */
static void spop_cmd(cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (c->argc == 3)
        spop_count(c, &c->argv[1], &c->argv[2]);
    else
        spop_one(c, &c->argv[1]);
}

/* ---- SRANDMEMBER -------------------------------------------------------------------------- */

/* A negative count: that many independent draws, repetitions allowed. A listpack is copied
 * into an array once so that each draw is O(1). */
static void srandmember_repeat(cmd_ctx *c, const slice *key, const setv *sv, size_t count)
{
    shard *s = ctx_shard(c, key->p, key->len);
    reply_array(c, (long)count);
    if (sv->enc != ENC_LISTPACK) {
        for (size_t i = 0; i < count; i++) {
            set_ele x = setv_random(sv, shard_rand(s));
            reply_ele(c, &x);
        }
        return;
    }
    size_t n = setv_size(sv);
    set_ele *all = setv_snapshot(sv);
    for (size_t i = 0; i < count; i++)
        reply_ele(c, &all[shard_rand(s) % n]);
    free(all);
}

/* count distinct members out of a bigger set: a partial Fisher-Yates shuffle of a copy when
 * count is a good part of the set (or the set is small), otherwise draws until count distinct
 * members were seen. */
static void srandmember_distinct(cmd_ctx *c, const slice *key, const setv *sv, size_t count)
{
    shard *s = ctx_shard(c, key->p, key->len);
    size_t n = setv_size(sv);
    reply_array(c, (long)count);
    if (sv->enc != ENC_HASHTABLE || count * SRANDMEMBER_SUB_STRATEGY_MUL > n) {
        set_ele *all = setv_snapshot(sv);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)(shard_rand(s) % (n - i));
            set_ele t = all[i];
            all[i] = all[j];
            all[j] = t;
            reply_ele(c, &all[i]);
        }
        free(all);
        return;
    }
    hashtab *seen = ht_new(HT_KEYS_ONLY, count);
    while (ht_count(seen) < count) {
        set_ele x = setv_random(sv, shard_rand(s));
        if (ht_add(seen, x.s, x.len, NULL, 0))
            reply_ele(c, &x);
    }
    ht_free(seen);
}

/* SRANDMEMBER key count */
static void srandmember_count(cmd_ctx *c, const slice *key, const slice *count_arg)
{
    long long l;
    if (arg_ll_or_reply(c, count_arg, &l, NULL))
        return;
    if (l == LLONG_MIN) {
        reply_error(c, ERR_SRANDMEMBER_RANGE);
        return;
    }
    entry *e = db_lookup_read(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e || l == 0) {
        reply_array(c, 0);
        return;
    }
    setv sv = set_of(e);
    if (l < 0) {
        srandmember_repeat(c, key, &sv, (size_t)-l);
    } else if ((unsigned long long)l >= setv_size(&sv)) {
        set_iter it;
        set_ele x;
        reply_array(c, (long)setv_size(&sv));
        set_iter_init(&it, &sv);
        while (set_iter_next(&it, &x))
            reply_ele(c, &x);
    } else {
        srandmember_distinct(c, key, &sv, (size_t)l);
    }
}

/* SRANDMEMBER key [count] */
static void srandmember_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (c->argc == 3) {
        srandmember_count(c, key, &c->argv[2]);
        return;
    }
    entry *e = db_lookup_read(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e) {
        reply_null(c);
        return;
    }
    setv sv = set_of(e);
    set_ele x = setv_random(&sv, key_rand(c, key));
    reply_ele(c, &x);
}

/* ---- SINTER SINTERCARD SINTERSTORE -------------------------------------------------------- */

/* The sets at keys[0..n): NULL for a missing key. Returns -1 after replying WRONGTYPE when any
 * key holds another type (every key is checked, as Redis does), else how many were missing. */
static int lookup_sets(cmd_ctx *c, const slice *keys, int n, int for_write, setv *sets)
{
    int missing = 0;
    for (int j = 0; j < n; j++) {
        entry *e = for_write ? db_lookup_write(c, keys[j].p, keys[j].len)
                             : db_lookup_read(c, keys[j].p, keys[j].len);
        if (db_wrong_type(c, e, OBJ_SET))
            return -1;
        if (e)
            sets[j] = set_of(e);
        else
            sets[j] = (setv){0, NULL};
        missing += !e;
    }
    return missing;
}

static int cmp_set_size(const void *a, const void *b)
{
    size_t x = setv_size(a), y = setv_size(b);
    return (x > y) - (x < y);
}

/* Stores result at dst, or deletes dst when the result is empty; replies the size. event is
 * the keyspace event of a stored result ("sinterstore"...). */
static void store_result(cmd_ctx *c, const slice *dst, setv *result, const char *event)
{
    size_t n = setv_size(result);
    if (n > 0) {
        set_put(c, dst, result);
        db_signal_modified(c, dst->p, dst->len);
        db_notify(c, NOTIFY_SET, event, dst->p, dst->len);
    } else {
        setv_free(result);
        if (db_delete(c, dst->p, dst->len)) {
            db_signal_modified(c, dst->p, dst->len);
            db_notify(c, NOTIFY_GENERIC, "del", dst->p, dst->len);
        }
    }
    reply_int(c, (long long)n);
}

/* What sinter_generic produces: a reply with the members, their count (up to a limit), or a
 * stored set. */
enum { INTER_REPLY, INTER_CARD, INTER_STORE };

/* Redis's sinterGenericCommand: walks the smallest set and keeps the members that every other
 * set holds. limit (INTER_CARD) stops counting there; 0 means no limit. */
static void sinter_generic(cmd_ctx *c, const slice *keys, int n, const slice *dst, int mode,
                           long long limit)
{
    setv *sets = mem_malloc(sizeof(*sets) * (size_t)n);
    int missing = lookup_sets(c, keys, n, mode == INTER_STORE, sets);
    if (missing < 0) {
        free(sets);
        return;
    }
    setv result = setv_new_intset();
    long long card = 0;
    size_t handle = 0;
    if (mode == INTER_REPLY)
        handle = reply_deferred(c);
    if (!missing) {
        qsort(sets, (size_t)n, sizeof(*sets), cmp_set_size);
        set_iter it;
        set_ele x;
        set_iter_init(&it, &sets[0]);
        while (set_iter_next(&it, &x)) {
            int j = 1;
            while (j < n && (sets[j].ptr == sets[0].ptr || setv_contains(&sets[j], &x)))
                j++;
            if (j < n)
                continue;
            card++;
            if (mode == INTER_REPLY)
                reply_ele(c, &x);
            else if (mode == INTER_STORE)
                setv_add(&result, &x);
            else if (limit && card >= limit)
                break;
        }
    }
    free(sets);
    if (mode == INTER_REPLY)
        reply_set_deferred_set(c, handle, (long)card);
    else if (mode == INTER_CARD)
        reply_int(c, card);
    if (mode == INTER_STORE)
        store_result(c, dst, &result, "sinterstore");
    else
        setv_free(&result);
}

/* SINTER key [key ...]; SMEMBERS is SINTER of one key in Redis, but has its own proc here. */
static void sinter_cmd(cmd_ctx *c)
{
    sinter_generic(c, &c->argv[1], c->argc - 1, NULL, INTER_REPLY, 0);
}

/* SINTERSTORE destination key [key ...] */
static void sinterstore_cmd(cmd_ctx *c)
{
    sinter_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], INTER_STORE, 0);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
static void sintercard_cmd(cmd_ctx *c)
{
    long long numkeys, limit = 0;
    if (arg_ll_range_or_reply(c, &c->argv[1], 1, LLONG_MAX, &numkeys, ERR_NUMKEYS))
        return;
    if (numkeys > c->argc - 2) {
        reply_error(c, ERR_NUMKEYS_ARGS);
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        if (arg_eq(&c->argv[j], "limit") && j + 1 < c->argc) {
            if (arg_ll_range_or_reply(c, &c->argv[++j], 0, LLONG_MAX, &limit, ERR_LIMIT_NEGATIVE))
                return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    sinter_generic(c, &c->argv[2], (int)numkeys, NULL, INTER_CARD, limit);
}

/* Key positions of SINTERCARD (and any "numkeys key..." command): argv[2..2+numkeys). -1 when
 * numkeys is not a usable count; the command reports it. */
static int numkeys_getkeys(int argc, const slice *argv, int *keys, int max)
{
    long long numkeys;
    if (!str_to_ll(argv[1].p, argv[1].len, &numkeys) || numkeys < 1 || numkeys > argc - 2 ||
        numkeys > max)
        return -1;
    for (int i = 0; i < (int)numkeys; i++)
        keys[i] = 2 + i;
    return (int)numkeys;
}

/* ---- SUNION SDIFF and their STORE forms --------------------------------------------------- */

enum { SETOP_UNION, SETOP_DIFF };

static void union_into(setv *result, const setv *sets, int n)
{
    for (int j = 0; j < n; j++) {
        if (!sets[j].ptr)
            continue;
        set_iter it;
        set_ele x;
        set_iter_init(&it, &sets[j]);
        while (set_iter_next(&it, &x))
            setv_add(result, &x);
    }
}

/* The members of sets[0] that no other set holds. Like Redis, picks between checking each
 * member of the first set against the others (cheap when the first set is small) and copying
 * the first set then removing the others' members (linear in the total size). */
static void diff_into(setv *result, const setv *sets, int n)
{
    if (!sets[0].ptr)
        return;
    size_t first = setv_size(&sets[0]);
    unsigned long long check_work = 0, remove_work = 0;
    for (int j = 0; j < n; j++) {
        if (!sets[j].ptr)
            continue;
        check_work += first;
        remove_work += setv_size(&sets[j]);
    }
    check_work /= 2; /* a member usually leaves at the first set that holds it */
    set_iter it;
    set_ele x;
    if (check_work <= remove_work) {
        set_iter_init(&it, &sets[0]);
        while (set_iter_next(&it, &x)) {
            int j = 1;
            while (j < n && !(sets[j].ptr && setv_contains(&sets[j], &x)))
                j++;
            if (j == n)
                setv_add(result, &x);
        }
        return;
    }
    union_into(result, sets, 1);
    for (int j = 1; j < n && setv_size(result) > 0; j++) {
        if (!sets[j].ptr)
            continue;
        set_iter_init(&it, &sets[j]);
        while (set_iter_next(&it, &x) && setv_size(result) > 0)
            setv_remove(result, &x);
    }
}

/* Redis's sunionDiffGenericCommand: builds the result as a new set (an intset that grows into
 * whatever its members need), then replies with it or stores it at dst. */
static void sunion_diff_generic(cmd_ctx *c, const slice *keys, int n, const slice *dst, int op)
{
    setv *sets = mem_malloc(sizeof(*sets) * (size_t)n);
    if (lookup_sets(c, keys, n, dst != NULL, sets) < 0) {
        free(sets);
        return;
    }
    setv result = setv_new_intset();
    if (op == SETOP_UNION)
        union_into(&result, sets, n);
    else
        diff_into(&result, sets, n);
    free(sets);
    if (dst) {
        store_result(c, dst, &result, op == SETOP_UNION ? "sunionstore" : "sdiffstore");
        return;
    }
    reply_members(c, &result);
    setv_free(&result);
}

/* SUNION key [key ...] */
static void sunion_cmd(cmd_ctx *c)
{
    sunion_diff_generic(c, &c->argv[1], c->argc - 1, NULL, SETOP_UNION);
}

/* SUNIONSTORE destination key [key ...] */
static void sunionstore_cmd(cmd_ctx *c)
{
    sunion_diff_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], SETOP_UNION);
}

/* SDIFF key [key ...] */
static void sdiff_cmd(cmd_ctx *c)
{
    sunion_diff_generic(c, &c->argv[1], c->argc - 1, NULL, SETOP_DIFF);
}

/* SDIFFSTORE destination key [key ...] */
static void sdiffstore_cmd(cmd_ctx *c)
{
    sunion_diff_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], SETOP_DIFF);
}

/* ---- SSCAN -------------------------------------------------------------------------------- */

struct sscan_walk {
    const slice *pat; /* NULL: no MATCH */
    set_ele *found;
    size_t n, cap;
    size_t visited;
};

static void sscan_push(struct sscan_walk *w, const set_ele *x)
{
    w->visited++;
    if (w->pat) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = ele_text(x, tmp, &len);
        if (!glob_match(w->pat->p, w->pat->len, s, len, 0))
            return;
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : SSCAN_DEFAULT_COUNT;
        w->found = mem_realloc(w->found, sizeof(*w->found) * w->cap);
    }
    w->found[w->n++] = *x;
}

static void sscan_ht_cb(void *arg, const ht_elem *el)
{
    set_ele x = ele_of_ht(el);
    sscan_push(arg, &x);
}

/* One step of the scan from cursor; returns the next cursor. A small encoding is returned
 * whole with cursor 0, as Redis does; a hash table is walked bucket by bucket until about
 * count members were seen. */
static uint64_t sscan_walk(const setv *sv, uint64_t cursor, long long count, struct sscan_walk *w)
{
    if (sv->enc != ENC_HASHTABLE) {
        set_iter it;
        set_ele x;
        set_iter_init(&it, sv);
        while (set_iter_next(&it, &x))
            sscan_push(w, &x);
        return 0;
    }
    long long budget =
        count > LLONG_MAX / SSCAN_BUCKETS_PER_COUNT ? LLONG_MAX : count * SSCAN_BUCKETS_PER_COUNT;
    do {
        cursor = ht_scan(sv->ptr, cursor, sscan_ht_cb, w);
    } while (cursor && --budget > 0 && (long long)w->visited < count);
    return cursor;
}

/* SSCAN key cursor [MATCH pattern] [COUNT count] */
static void sscan_cmd(cmd_ctx *c)
{
    uint64_t cursor;
    if (arg_cursor_or_reply(c, &c->argv[2], &cursor))
        return;
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_SET))
        return;
    if (!e) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
        return;
    }
    long long count = SSCAN_DEFAULT_COUNT;
    struct sscan_walk w = {0};
    for (int i = 3; i < c->argc; i++) {
        int has_value = i + 1 < c->argc;
        if (arg_eq(&c->argv[i], "count") && has_value) {
            if (arg_ll_or_reply(c, &c->argv[++i], &count, NULL))
                return;
            if (count < 1) {
                reply_syntax_error(c);
                return;
            }
        } else if (arg_eq(&c->argv[i], "match") && has_value) {
            w.pat = &c->argv[++i];
            if (glob_is_match_all(w.pat->p, w.pat->len))
                w.pat = NULL;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    setv sv = set_of(e);
    uint64_t next = sscan_walk(&sv, cursor, count, &w);
    char num[OBJ_INT_STR_MAX + 1];
    int len = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)len);
    reply_array(c, (long)w.n);
    for (size_t i = 0; i < w.n; i++)
        reply_ele(c, &w.found[i]);
    free(w.found);
}

/* ---- the table ---------------------------------------------------------------------------- */

#define SET_CMD .group = "set", .acl = ACL_SET
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1
#define KEYS_ALL .first_key = 1, .last_key = -1, .key_step = 1

command set_commands[] = {
    {.name = "sadd",
     .proc = sadd_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     SET_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Adds one or more members to a set. Creates the key if it doesn't exist."},
    {.name = "srem",
     .proc = srem_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     SET_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Removes one or more members from a set. Deletes the set if the last member was "
                "removed."},
    {.name = "smove",
     .proc = smove_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     SET_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Moves a member from one set to another."},
    {.name = "sismember",
     .proc = sismember_cmd,
     .arity = 3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     SET_CMD | ACL_READ | ACL_FAST,
     .since = "1.0.0",
     .summary = "Determines whether a member belongs to a set."},
    {.name = "smismember",
     .proc = smismember_cmd,
     .arity = -3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     SET_CMD | ACL_READ | ACL_FAST,
     .since = "6.2.0",
     .summary = "Determines whether multiple members belong to a set."},
    {.name = "scard",
     .proc = scard_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     SET_CMD | ACL_READ | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns the number of members in a set."},
    {.name = "smembers",
     .proc = smembers_cmd,
     .arity = 2,
     .flags = CMD_READONLY,
     KEY1,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns all members of a set."},
    {.name = "spop",
     .proc = spop_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     SET_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns one or more random members from a set after removing them. Deletes the "
                "set if the last member was popped."},
    {.name = "srandmember",
     .proc = srandmember_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     KEY1,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Get one or multiple random members from a set"},
    {.name = "sinter",
     .proc = sinter_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     KEYS_ALL,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns the intersect of multiple sets."},
    {.name = "sintercard",
     .proc = sintercard_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .getkeys = numkeys_getkeys,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "7.0.0",
     .summary = "Returns the number of members of the intersect of multiple sets."},
    {.name = "sinterstore",
     .proc = sinterstore_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEYS_ALL,
     SET_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Stores the intersect of multiple sets in a key."},
    {.name = "sunion",
     .proc = sunion_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     KEYS_ALL,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns the union of multiple sets."},
    {.name = "sunionstore",
     .proc = sunionstore_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEYS_ALL,
     SET_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Stores the union of multiple sets in a key."},
    {.name = "sdiff",
     .proc = sdiff_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     KEYS_ALL,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns the difference of multiple sets."},
    {.name = "sdiffstore",
     .proc = sdiffstore_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEYS_ALL,
     SET_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Stores the difference of multiple sets in a key."},
    {.name = "sscan",
     .proc = sscan_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     KEY1,
     SET_CMD | ACL_READ | ACL_SLOW,
     .since = "2.8.0",
     .summary = "Iterates over members of a set."},
    {0},
};
