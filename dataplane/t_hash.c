/* Hashes (Redis's t_hash.c): HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS
 * HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
 *
 * A hash starts as a listpack of field/value pairs and becomes a hashtab (hashtab.h) once it
 * has more than hash-max-listpack-entries fields or a field or value longer than
 * hash-max-listpack-value bytes; it never goes back, as in Redis. The functions under "hash
 * values" hide the two encodings from the commands. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "debug.h"
#include "glob.h"
#include "hashtab.h"
#include "journal.h"
#include "listpack.h"
#include "reply.h"
#include "server.h"
#include "types.h"
#include "zmalloc.h"

#define ERR_HASH_NOT_INT "ERR hash value is not an integer"
#define ERR_HASH_NOT_FLOAT "ERR hash value is not a float"
#define ERR_INCR_NAN_OR_INF "ERR value is NaN or Infinity"
#define ERR_RESULT_NAN_OR_INF "ERR increment would produce NaN or Infinity"
#define ERR_VALUE_RANGE "ERR value is out of range"

/* Text of a long double as HINCRBYFLOAT writes it (Redis's MAX_LONG_DOUBLE_CHARS). */
#define LONG_DOUBLE_STR_MAX (5 * 1024)
/* HRANDFIELD with a distinct count: when the hash has at most this many times the requested
 * fields, pick from all of them; otherwise draw at random and drop repeats (Redis's
 * HRANDFIELD_SUB_STRATEGY_MUL). */
#define HRANDFIELD_SUB_STRATEGY_MUL 3
/* The largest listpack a hash keeps (Redis's LISTPACK_MAX_SAFETY_SIZE). */
#define HASH_LISTPACK_SAFETY_BYTES (1u << 30)
#define HSCAN_DEFAULT_COUNT 10
/* Buckets visited per requested element at most, as Redis bounds a sparse table's scan. */
#define HSCAN_BUCKETS_PER_COUNT 10
/* Longest cursor text accepted (20 digits plus room for leading zeros). */

/* ---- hash values: both encodings ------------------------------------------------------------- */

static unsigned long hash_len(const entry *e)
{
    if (e->enc == ENC_LISTPACK)
        return lp_count(entry_ptr(e)) / 2;
    return (unsigned long)ht_count(entry_ptr(e));
}

/* The position of field's value in a listpack hash, or NULL. */
static unsigned char *lp_hash_find(const unsigned char *lp, const char *f, size_t flen)
{
    unsigned char *p = lp_first(lp);
    if (p)
        p = lp_find(lp, p, f, flen, 1);
    return p ? lp_next(lp, p) : NULL;
}

/* Looks field up: 1 and its value in *v (pointing into the hash, or into tmp for a listpack
 * integer), valid until the hash changes. 0 when absent. */
static int hash_get(const entry *e, const char *f, size_t flen, lp_value *v,
                    char tmp[OBJ_INT_STR_MAX])
{
    if (e->enc == ENC_LISTPACK) {
        unsigned char *vp = lp_hash_find(entry_ptr(e), f, flen);
        if (!vp)
            return 0;
        lp_get(vp, v, tmp);
        return 1;
    }
    const ht_elem *el = ht_find(entry_ptr(e), f, flen);
    if (!el)
        return 0;
    v->s = ht_elem_val(el, &v->len);
    v->is_int = 0;
    return 1;
}

int hash_field(const entry *e, const char *f, size_t flen, char *tmp, const char **val,
               size_t *vlen)
{
    lp_value v;
    if (!hash_get(e, f, flen, &v, tmp))
        return 0;
    *val = v.s;
    *vlen = v.len;
    return 1;
}

static int hash_exists(const entry *e, const char *f, size_t flen)
{
    lp_value v;
    char tmp[OBJ_INT_STR_MAX];
    return hash_get(e, f, flen, &v, tmp);
}

/* Redis's hashTypeConvert: moves every pair of a listpack hash into a hash table. */
static void hash_convert(entry *e)
{
    unsigned char *lp = entry_ptr(e);
    hashtab *h = ht_new(HT_VALUES, lp_count(lp) / 2);
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        lp_value f, v;
        lp_get(p, &f, ftmp);
        lp_get(lp_next(lp, p), &v, vtmp);
        ht_add(h, f.s, f.len, v.s, v.len);
    }
    lp_free(lp);
    entry_set_ptr(e, h);
    e->enc = ENC_HASHTABLE;
}

static int too_long_for_listpack(size_t len)
{
    return (long long)len > server.cfg.hash_max_listpack_value;
}

/* Whether a listpack can take `add` more bytes (Redis's lpSafeToAdd): whatever the limits are
 * configured to, a listpack stays far below its 32-bit sizes. */
static int listpack_safe_to_add(const entry *e, size_t add)
{
    return lp_bytes(entry_ptr(e)) + add <= HASH_LISTPACK_SAFETY_BYTES;
}

/* Redis's hashTypeTryConversion: a listpack hash about to take argv[start..end] (fields and
 * values) becomes a hash table first when any of them is too long for a listpack, or all of
 * them together would make it unsafely big. */
static void hash_try_conversion(entry *e, const slice *argv, int start, int end)
{
    if (e->enc != ENC_LISTPACK)
        return;
    size_t sum = 0;
    for (int i = start; i <= end; i++) {
        if (too_long_for_listpack(argv[i].len)) {
            hash_convert(e);
            return;
        }
        sum += argv[i].len;
    }
    if (!listpack_safe_to_add(e, sum))
        hash_convert(e);
}

/* Redis's hashTypeSet: sets field to value, converting to a hash table first when either is
 * too long for a listpack (HINCRBY* reach here without hash_try_conversion), and after when the
 * hash has too many fields. Returns 1 when the field is new, 0 when its value was replaced. */
static int hash_set(entry *e, const char *f, size_t flen, const char *v, size_t vlen)
{
    if (e->enc == ENC_LISTPACK && (too_long_for_listpack(flen) || too_long_for_listpack(vlen) ||
                                   !listpack_safe_to_add(e, flen + vlen)))
        hash_convert(e);
    if (e->enc == ENC_HASHTABLE)
        return ht_set(entry_ptr(e), f, flen, v, vlen);
    unsigned char *lp = entry_ptr(e);
    unsigned char *vp = lp_hash_find(lp, f, flen);
    if (vp) {
        entry_set_ptr(e, lp_replace(lp, vp, v, vlen, NULL));
        return 0;
    }
    lp = lp_append(lp, f, flen);
    lp = lp_append(lp, v, vlen);
    entry_set_ptr(e, lp);
    if ((long long)lp_count(lp) / 2 > server.cfg.hash_max_listpack_entries)
        hash_convert(e);
    return 1;
}

/* Removes field: 1 when it was there. The caller deletes the key when the hash became empty. */
static int hash_delete(entry *e, const char *f, size_t flen)
{
    if (e->enc == ENC_HASHTABLE)
        return ht_delete(entry_ptr(e), f, flen);
    unsigned char *lp = entry_ptr(e);
    unsigned char *p = lp_first(lp);
    if (p)
        p = lp_find(lp, p, f, flen, 1);
    if (!p)
        return 0;
    lp = lp_delete(lp, p, &p); /* the field; p is now its value */
    lp = lp_delete(lp, p, NULL);
    entry_set_ptr(e, lp);
    return 1;
}

/* Iteration over the pairs of a hash that does not change meanwhile. */
typedef struct hash_iter {
    const entry *e;
    unsigned char *p; /* listpack: the next field */
    ht_iter it;
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
} hash_iter;

static void hash_iter_init(hash_iter *it, const entry *e)
{
    it->e = e;
    if (e->enc == ENC_LISTPACK)
        it->p = lp_first(entry_ptr(e));
    else
        ht_iter_init(&it->it, entry_ptr(e));
}

/* The next pair into *f and *v (valid until the next call); 0 at the end. */
static int hash_iter_next(hash_iter *it, lp_value *f, lp_value *v)
{
    if (it->e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(it->e);
        if (!it->p)
            return 0;
        unsigned char *vp = lp_next(lp, it->p);
        lp_get(it->p, f, it->ftmp);
        lp_get(vp, v, it->vtmp);
        it->p = lp_next(lp, vp);
        return 1;
    }
    const ht_elem *el = ht_iter_next(&it->it);
    if (!el)
        return 0;
    f->s = ht_elem_key(el, &f->len);
    v->s = ht_elem_val(el, &v->len);
    f->is_int = v->is_int = 0;
    return 1;
}

/* The pair of a hashtab element. */
static void elem_pair(const ht_elem *el, lp_value *f, lp_value *v)
{
    f->s = ht_elem_key(el, &f->len);
    v->s = ht_elem_val(el, &v->len);
    f->is_int = v->is_int = 0;
}

/* ---- type hooks ------------------------------------------------------------------------------ */

static void hash_free(void *ptr, int enc)
{
    if (enc == ENC_LISTPACK)
        lp_free(ptr);
    else
        ht_free(ptr);
}

static size_t hash_mem_usage(const void *ptr, int enc)
{
    return enc == ENC_LISTPACK ? zmalloc_size(ptr) : ht_mem_usage(ptr);
}

static void *hash_dup(const void *ptr, int enc)
{
    return enc == ENC_LISTPACK ? (void *)lp_dup(ptr) : (void *)ht_dup(ptr);
}

/* Redis's xorObjectDigest for hashes: each pair mixed into its own digest, those xor-ed, so the
 * order of the pairs does not matter. */
static void hash_digest(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN])
{
    hash_iter it;
    lp_value f, v;
    hash_iter_init(&it, e);
    while (hash_iter_next(&it, &f, &v)) {
        unsigned char pair[DEBUG_DIGEST_LEN] = {0};
        debug_digest_mix(pair, f.s, f.len);
        debug_digest_mix(pair, v.s, v.len);
        debug_digest_xor(digest, pair, DEBUG_DIGEST_LEN);
    }
}

static const obj_type_ops hash_ops = {
    .name = "hash",
    .free = hash_free,
    .mem_usage = hash_mem_usage,
    .enc_name = NULL, /* "listpack" and "hashtable" are the default names */
    .dup = hash_dup,
};

void hash_type_init(void)
{
    obj_register_type(OBJ_HASH, &hash_ops);
    debug_register_digest(OBJ_HASH, hash_digest);
}

/* ---- lookups --------------------------------------------------------------------------------- */

/* Redis's hashTypeLookupWriteOrCreate: the hash at key, created empty when absent; NULL after
 * replying WRONGTYPE. A command that creates the key always puts a field in before it returns. */
static entry *hash_lookup_write_or_create(cmd_ctx *c, const slice *key)
{
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_HASH))
        return NULL;
    if (!e) {
        e = entry_new_ptr(key->p, key->len, OBJ_HASH, ENC_LISTPACK, lp_new(), -1);
        db_add(c, e);
    }
    return e;
}

static void hash_written(cmd_ctx *c, const slice *key, const char *event)
{
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_HASH, event, key->p, key->len);
}

/* ---- HSET HSETNX HMSET HINCRBY HINCRBYFLOAT HDEL --------------------------------------------- */

/* HSET key field value [field value ...] (replies the number of new fields), and HMSET (OK). */
static void hset_generic(cmd_ctx *c, int ok_reply)
{
    const slice *key = &c->argv[1];
    if (c->argc % 2 == 1) {
        reply_wrong_args(c);
        return;
    }
    entry *e = hash_lookup_write_or_create(c, key);
    if (!e)
        return;
    hash_try_conversion(e, c->argv, 2, c->argc - 1);
    long long created = 0;
    for (int i = 2; i < c->argc; i += 2)
        created += hash_set(e, c->argv[i].p, c->argv[i].len, c->argv[i + 1].p, c->argv[i + 1].len);
    hash_written(c, key, "hset");
    if (ok_reply)
        reply_ok(c);
    else
        reply_int(c, created);
}

static void hset_cmd(cmd_ctx *c)
{
    hset_generic(c, 0);
}

static void hmset_cmd(cmd_ctx *c)
{
    hset_generic(c, 1);
}

/* HSETNX key field value */
static void hsetnx_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *f = &c->argv[2], *v = &c->argv[3];
    entry *e = hash_lookup_write_or_create(c, key);
    if (!e)
        return;
    if (hash_exists(e, f->p, f->len)) {
        reply_int(c, 0);
        return;
    }
    hash_try_conversion(e, c->argv, 2, 3);
    hash_set(e, f->p, f->len, v->p, v->len);
    hash_written(c, key, "hset");
    reply_int(c, 1);
}

/* HINCRBY key field increment */
static void hincrby_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *f = &c->argv[2];
    long long incr, value = 0;
    if (arg_ll_or_reply(c, &c->argv[3], &incr, NULL))
        return;
    entry *e = hash_lookup_write_or_create(c, key);
    if (!e)
        return;
    lp_value v;
    char tmp[OBJ_INT_STR_MAX];
    if (hash_get(e, f->p, f->len, &v, tmp)) {
        if (v.is_int) {
            value = v.v;
        } else if (!str_to_ll(v.s, v.len, &value)) {
            reply_error(c, ERR_HASH_NOT_INT);
            return;
        }
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(c, ERR_OVERFLOW);
        return;
    }
    value += incr;
    char buf[OBJ_INT_STR_MAX];
    int n = ll_to_str(buf, value);
    hash_set(e, f->p, f->len, buf, (size_t)n);
    hash_written(c, key, "hincrby");
    reply_int(c, value);
}

/* HINCRBYFLOAT key field increment */
static void hincrbyfloat_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *f = &c->argv[2];
    long double incr, value = 0;
    if (arg_long_double_or_reply(c, &c->argv[3], &incr, NULL))
        return;
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, ERR_INCR_NAN_OR_INF);
        return;
    }
    entry *e = hash_lookup_write_or_create(c, key);
    if (!e)
        return;
    lp_value v;
    char tmp[OBJ_INT_STR_MAX];
    if (hash_get(e, f->p, f->len, &v, tmp)) {
        if (v.is_int) {
            value = (long double)v.v;
        } else if (!str_to_long_double(v.s, v.len, &value)) {
            reply_error(c, ERR_HASH_NOT_FLOAT);
            return;
        }
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(c, ERR_RESULT_NAN_OR_INF);
        return;
    }
    char buf[LONG_DOUBLE_STR_MAX];
    int n = fmt_long_double(buf, sizeof(buf), value);
    hash_set(e, f->p, f->len, buf, (size_t)n);
    hash_written(c, key, "hincrbyfloat");
    slice result = {buf, (size_t)n};
    journal_rewrite(c, "sbbb", "HSET", key, f, &result); /* the result, as Redis journals it */
    reply_bulk(c, buf, (size_t)n);
}

/* HDEL key field [field ...]: the key goes with its last field. */
static void hdel_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_HASH))
        return;
    long long deleted = 0;
    int key_removed = 0;
    for (int i = 2; e && i < c->argc; i++) {
        if (!hash_delete(e, c->argv[i].p, c->argv[i].len))
            continue;
        deleted++;
        if (hash_len(e) == 0) {
            db_delete(c, key->p, key->len);
            key_removed = 1;
            break;
        }
    }
    if (deleted) {
        hash_written(c, key, "hdel");
        if (key_removed)
            db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
    }
    reply_int(c, deleted);
}

/* ---- HGET HMGET HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL ------------------------------------- */

/* The hash at key for reading: NULL when absent, or after replying WRONGTYPE (*failed set). */
static entry *hash_lookup_read(cmd_ctx *c, const slice *key, int *failed)
{
    entry *e = db_lookup_read(c, key->p, key->len);
    *failed = db_wrong_type(c, e, OBJ_HASH);
    return *failed ? NULL : e;
}

/* HGET key field */
static void hget_cmd(cmd_ctx *c)
{
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (failed)
        return;
    lp_value v;
    char tmp[OBJ_INT_STR_MAX];
    if (e && hash_get(e, c->argv[2].p, c->argv[2].len, &v, tmp))
        reply_bulk(c, v.s, v.len);
    else
        reply_null(c);
}

/* HMGET key field [field ...]: a missing key reads as an empty hash. */
static void hmget_cmd(cmd_ctx *c)
{
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (failed)
        return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        lp_value v;
        char tmp[OBJ_INT_STR_MAX];
        if (e && hash_get(e, c->argv[i].p, c->argv[i].len, &v, tmp))
            reply_bulk(c, v.s, v.len);
        else
            reply_null(c);
    }
}

static void hlen_cmd(cmd_ctx *c)
{
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (!failed)
        reply_int(c, e ? (long long)hash_len(e) : 0);
}

/* HSTRLEN key field */
static void hstrlen_cmd(cmd_ctx *c)
{
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (failed)
        return;
    lp_value v;
    char tmp[OBJ_INT_STR_MAX];
    if (e && hash_get(e, c->argv[2].p, c->argv[2].len, &v, tmp))
        reply_int(c, (long long)v.len);
    else
        reply_int(c, 0);
}

/* HEXISTS key field */
static void hexists_cmd(cmd_ctx *c)
{
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (!failed)
        reply_int(c, e && hash_exists(e, c->argv[2].p, c->argv[2].len));
}

enum { HGETALL_FIELDS = 1 << 0, HGETALL_VALUES = 1 << 1 };

/* Redis's genericHgetallCommand: HKEYS, HVALS (arrays) and HGETALL (a map in RESP3). */
static void hgetall_generic(cmd_ctx *c, int what)
{
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (failed)
        return;
    long n = e ? (long)hash_len(e) : 0;
    if (what == (HGETALL_FIELDS | HGETALL_VALUES))
        reply_map(c, n);
    else
        reply_array(c, n);
    if (!e)
        return;
    hash_iter it;
    lp_value f, v;
    hash_iter_init(&it, e);
    while (hash_iter_next(&it, &f, &v)) {
        if (what & HGETALL_FIELDS)
            reply_bulk(c, f.s, f.len);
        if (what & HGETALL_VALUES)
            reply_bulk(c, v.s, v.len);
    }
}

static void hkeys_cmd(cmd_ctx *c)
{
    hgetall_generic(c, HGETALL_FIELDS);
}

static void hvals_cmd(cmd_ctx *c)
{
    hgetall_generic(c, HGETALL_VALUES);
}

static void hgetall_cmd(cmd_ctx *c)
{
    hgetall_generic(c, HGETALL_FIELDS | HGETALL_VALUES);
}

/* ---- HRANDFIELD ------------------------------------------------------------------------------ */

/* A pair of the hash by reference: a listpack field position or a hashtab element. */
typedef const void *pair_ref;

static void pair_get(const entry *e, pair_ref ref, lp_value *f, lp_value *v,
                     char ftmp[OBJ_INT_STR_MAX], char vtmp[OBJ_INT_STR_MAX])
{
    if (e->enc == ENC_HASHTABLE) {
        elem_pair(ref, f, v);
        return;
    }
    const unsigned char *p = ref;
    lp_get(p, f, ftmp);
    lp_get(lp_next(entry_ptr(e), p), v, vtmp);
}

/* One field of HRANDFIELD's reply: a [field, value] pair in RESP3 WITHVALUES, flat otherwise. */
static void reply_rand_pair(cmd_ctx *c, const entry *e, pair_ref ref, int withvalues)
{
    lp_value f, v;
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
    pair_get(e, ref, &f, &v, ftmp, vtmp);
    if (withvalues && c->resp > 2)
        reply_array(c, 2);
    reply_bulk(c, f.s, f.len);
    if (withvalues)
        reply_bulk(c, v.s, v.len);
}

/* Every pair of the hash by reference (zfree the array). */
static pair_ref *hash_pair_refs(const entry *e, unsigned long n)
{
    pair_ref *refs = zmalloc(n * sizeof(*refs));
    unsigned long i = 0;
    if (e->enc == ENC_LISTPACK) {
        const unsigned char *lp = entry_ptr(e);
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)))
            refs[i++] = p;
    } else {
        ht_iter it;
        ht_iter_init(&it, entry_ptr(e));
        const ht_elem *el;
        while ((el = ht_iter_next(&it)))
            refs[i++] = el;
    }
    return refs;
}

/* `count` pairs drawn with repetitions, in random order (negative counts, and a count of 1). */
static void hrandfield_repeating(cmd_ctx *c, const entry *e, unsigned long count, int withvalues,
                                 shard *s)
{
    unsigned long n = hash_len(e);
    pair_ref *refs = e->enc == ENC_LISTPACK ? hash_pair_refs(e, n) : NULL;
    while (count--) {
        pair_ref ref =
            refs ? refs[shard_rand(s) % n] : (pair_ref)ht_random(entry_ptr(e), shard_rand(s));
        reply_rand_pair(c, e, ref, withvalues);
    }
    zfree(refs);
}

/* `count` distinct pairs out of n > count: a partial Fisher-Yates shuffle over all of them. */
static void hrandfield_from_all(cmd_ctx *c, const entry *e, unsigned long count, int withvalues,
                                shard *s)
{
    unsigned long n = hash_len(e);
    pair_ref *refs = hash_pair_refs(e, n);
    for (unsigned long i = 0; i < count; i++) {
        unsigned long j = i + shard_rand(s) % (n - i);
        pair_ref t = refs[i];
        refs[i] = refs[j];
        refs[j] = t;
        reply_rand_pair(c, e, refs[i], withvalues);
    }
    zfree(refs);
}

/* `count` distinct pairs of a large hash table, count small beside its size: random draws,
 * repeats dropped through a set of the elements already chosen. */
static void hrandfield_sparse(cmd_ctx *c, const entry *e, unsigned long count, int withvalues,
                              shard *s)
{
    hashtab *chosen = ht_new(HT_KEYS_ONLY, count);
    while (ht_count(chosen) < count) {
        const ht_elem *el = ht_random(entry_ptr(e), shard_rand(s));
        if (ht_add(chosen, (const char *)&el, sizeof(el), NULL, 0))
            reply_rand_pair(c, e, el, withvalues);
    }
    ht_free(chosen);
}

/* Redis's hrandfieldWithCountCommand: a positive count asks for distinct fields (at most the
 * whole hash), a negative one for -count fields that may repeat. */
static void hrandfield_with_count(cmd_ctx *c, long long l, int withvalues)
{
    const slice *key = &c->argv[1];
    int failed;
    entry *e = hash_lookup_read(c, key, &failed);
    if (failed)
        return;
    unsigned long count = l >= 0 ? (unsigned long)l : (unsigned long)-l;
    if (!e || count == 0) {
        reply_array(c, 0);
        return;
    }
    shard *s = ctx_shard(c, key->p, key->len);
    unsigned long size = hash_len(e);
    int distinct = l > 0 && count > 1;
    unsigned long replied = distinct && count > size ? size : count;
    reply_array(c, withvalues && c->resp == 2 ? (long)replied * 2 : (long)replied);
    if (!distinct) {
        hrandfield_repeating(c, e, count, withvalues, s);
    } else if (count >= size) {
        hash_iter it;
        lp_value f, v;
        hash_iter_init(&it, e);
        while (hash_iter_next(&it, &f, &v)) {
            if (withvalues && c->resp > 2)
                reply_array(c, 2);
            reply_bulk(c, f.s, f.len);
            if (withvalues)
                reply_bulk(c, v.s, v.len);
        }
    } else if (e->enc == ENC_LISTPACK || count * HRANDFIELD_SUB_STRATEGY_MUL > size) {
        hrandfield_from_all(c, e, count, withvalues, s);
    } else {
        hrandfield_sparse(c, e, count, withvalues, s);
    }
}

/* HRANDFIELD key [count [WITHVALUES]] */
static void hrandfield_cmd(cmd_ctx *c)
{
    if (c->argc >= 3) {
        long long l;
        if (arg_ll_or_reply(c, &c->argv[2], &l, NULL))
            return;
        if (l < -LONG_MAX) {
            reply_errorf(c, "ERR value is out of range, value must between %ld and %ld", -LONG_MAX,
                         LONG_MAX);
            return;
        }
        int withvalues = c->argc == 4 && arg_eq(&c->argv[3], "withvalues");
        if (c->argc > 4 || (c->argc == 4 && !withvalues)) {
            reply_syntax_error(c);
            return;
        }
        /* The reply holds 2*count elements: keep that from overflowing. */
        if (withvalues && (l < -LONG_MAX / 2 || l > LONG_MAX / 2)) {
            reply_error(c, ERR_VALUE_RANGE);
            return;
        }
        hrandfield_with_count(c, l, withvalues);
        return;
    }
    const slice *key = &c->argv[1];
    int failed;
    entry *e = hash_lookup_read(c, key, &failed);
    if (failed)
        return;
    if (!e) {
        reply_null(c);
        return;
    }
    shard *s = ctx_shard(c, key->p, key->len);
    pair_ref ref;
    if (e->enc == ENC_LISTPACK)
        ref = lp_seek(entry_ptr(e), (long)(shard_rand(s) % hash_len(e)) * 2);
    else
        ref = ht_random(entry_ptr(e), shard_rand(s));
    reply_rand_pair(c, e, ref, 0);
}

/* ---- HSCAN ----------------------------------------------------------------------------------- */

/* What one HSCAN call collects from a hash table: the elements (pointers; the table does not
 * change while the command runs) whose field matches, and how many reply items it has seen
 * (two per pair, as Redis counts them against COUNT). */
struct hscan_walk {
    const slice *pat; /* NULL: no MATCH */
    buf elems;
    long long seen;
};

static void hscan_cb(void *arg, const ht_elem *el)
{
    struct hscan_walk *w = arg;
    w->seen += 2;
    size_t flen;
    const char *f = ht_elem_key(el, &flen);
    if (w->pat && !glob_match(w->pat->p, w->pat->len, f, flen, 0))
        return;
    buf_append(&w->elems, &el, sizeof(el));
}

/* Replies [cursor, [field, value, ...]]. */
static void hscan_reply_header(cmd_ctx *c, uint64_t cursor, long pairs)
{
    char num[OBJ_INT_STR_MAX + 1];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)cursor);
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)n);
    reply_array(c, pairs * 2);
}

/* A listpack hash is small: it is returned whole with cursor 0 whatever the cursor, as Redis
 * does. */
static void hscan_listpack(cmd_ctx *c, const entry *e, const slice *pat)
{
    reply_array(c, 2);
    reply_bulk(c, "0", 1);
    size_t handle = reply_deferred(c);
    long pairs = 0;
    hash_iter it;
    lp_value f, v;
    hash_iter_init(&it, e);
    while (hash_iter_next(&it, &f, &v)) {
        if (pat && !glob_match(pat->p, pat->len, f.s, f.len, 0))
            continue;
        reply_bulk(c, f.s, f.len);
        reply_bulk(c, v.s, v.len);
        pairs++;
    }
    reply_set_deferred_array(c, handle, pairs * 2);
}

static void hscan_hashtab(cmd_ctx *c, const entry *e, uint64_t cursor, long long count,
                          const slice *pat)
{
    struct hscan_walk w = {.pat = pat};
    buf_init(&w.elems);
    long long budget =
        count > LLONG_MAX / HSCAN_BUCKETS_PER_COUNT ? LLONG_MAX : count * HSCAN_BUCKETS_PER_COUNT;
    do {
        cursor = ht_scan(entry_ptr(e), cursor, hscan_cb, &w);
    } while (cursor && budget-- && w.seen < count);
    long pairs = (long)(w.elems.len / sizeof(const ht_elem *));
    hscan_reply_header(c, cursor, pairs);
    for (long i = 0; i < pairs; i++) {
        const ht_elem *el;
        memcpy(&el, w.elems.data + (size_t)i * sizeof(el), sizeof(el));
        lp_value f, v;
        elem_pair(el, &f, &v);
        reply_bulk(c, f.s, f.len);
        reply_bulk(c, v.s, v.len);
    }
    buf_free(&w.elems);
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] */
static void hscan_cmd(cmd_ctx *c)
{
    uint64_t cursor;
    if (arg_cursor_or_reply(c, &c->argv[2], &cursor))
        return;
    int failed;
    entry *e = hash_lookup_read(c, &c->argv[1], &failed);
    if (failed)
        return;
    if (!e) {
        hscan_reply_header(c, 0, 0);
        return;
    }
    long long count = HSCAN_DEFAULT_COUNT;
    const slice *pat = NULL;
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
            pat = &c->argv[++i];
            if (glob_is_match_all(pat->p, pat->len))
                pat = NULL;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (e->enc == ENC_LISTPACK)
        hscan_listpack(c, e, pat);
    else
        hscan_hashtab(c, e, cursor, count, pat);
}

/* ---- the table ------------------------------------------------------------------------------- */

#define HASH_CMD .group = "hash", .acl = ACL_HASH
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1

command hash_commands[] = {
    {.name = "hset",
     .proc = hset_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.0.0",
     .summary = "Set the string value of a hash field"},
    {.name = "hsetnx",
     .proc = hsetnx_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.0.0",
     .summary = "Set the value of a hash field, only if the field does not exist"},
    {.name = "hmset",
     .proc = hmset_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.0.0",
     .summary = "Set multiple hash fields to multiple values"},
    {.name = "hget",
     .proc = hget_cmd,
     .arity = 3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_READ | ACL_FAST,
     .since = "2.0.0",
     .summary = "Get the value of a hash field"},
    {.name = "hmget",
     .proc = hmget_cmd,
     .arity = -3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_READ | ACL_FAST,
     .since = "2.0.0",
     .summary = "Get the values of all the given hash fields"},
    {.name = "hdel",
     .proc = hdel_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.0.0",
     .summary = "Delete one or more hash fields"},
    {.name = "hlen",
     .proc = hlen_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_READ | ACL_FAST,
     .since = "2.0.0",
     .summary = "Get the number of fields in a hash"},
    {.name = "hstrlen",
     .proc = hstrlen_cmd,
     .arity = 3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_READ | ACL_FAST,
     .since = "3.2.0",
     .summary = "Get the length of the value of a hash field"},
    {.name = "hexists",
     .proc = hexists_cmd,
     .arity = 3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_READ | ACL_FAST,
     .since = "2.0.0",
     .summary = "Determine if a hash field exists"},
    {.name = "hkeys",
     .proc = hkeys_cmd,
     .arity = 2,
     .flags = CMD_READONLY,
     KEY1,
     HASH_CMD | ACL_READ | ACL_SLOW,
     .since = "2.0.0",
     .summary = "Get all the fields in a hash"},
    {.name = "hvals",
     .proc = hvals_cmd,
     .arity = 2,
     .flags = CMD_READONLY,
     KEY1,
     HASH_CMD | ACL_READ | ACL_SLOW,
     .since = "2.0.0",
     .summary = "Get all the values in a hash"},
    {.name = "hgetall",
     .proc = hgetall_cmd,
     .arity = 2,
     .flags = CMD_READONLY,
     KEY1,
     HASH_CMD | ACL_READ | ACL_SLOW,
     .since = "2.0.0",
     .summary = "Get all the fields and values in a hash"},
    {.name = "hincrby",
     .proc = hincrby_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.0.0",
     .summary = "Increment the integer value of a hash field by the given number"},
    {.name = "hincrbyfloat",
     .proc = hincrbyfloat_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     HASH_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.6.0",
     .summary = "Increment the float value of a hash field by the given amount"},
    {.name = "hrandfield",
     .proc = hrandfield_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     KEY1,
     HASH_CMD | ACL_READ | ACL_SLOW,
     .since = "6.2.0",
     .summary = "Get one or multiple random fields from a hash"},
    {.name = "hscan",
     .proc = hscan_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     KEY1,
     HASH_CMD | ACL_READ | ACL_SLOW,
     .since = "2.8.0",
     .summary = "Incrementally iterate hash fields and associated values"},
    {0},
};
