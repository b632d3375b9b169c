/* Keyspace commands, Redis's "generic" group: DEL UNLINK EXISTS TYPE TOUCH RENAME RENAMENX COPY
 * MOVE SWAPDB DBSIZE KEYS SCAN RANDOMKEY OBJECT, and expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT
 * TTL PTTL EXPIRETIME PEXPIRETIME PERSIST.
 *
 * Commands whose keys live on two shards (RENAME, COPY) hold both, so an entry can leave one
 * shard's table and enter the other's in one step. Commands that look at the whole keyspace
 * (KEYS, SCAN, RANDOMKEY, DBSIZE, SWAPDB) hold every shard. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "glob.h"
#include "journal.h"
#include "reply.h"
#include "server.h"
#include "zmalloc.h"

#define ERR_SAME_OBJECT "ERR source and destination objects are the same"
#define ERR_DB_RANGE "ERR DB index is out of range"

static int slice_same(const slice *a, const slice *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Redis's getIntFromObjectOrReply: an integer that fits an int, else errmsg (or Redis's default
 * texts when errmsg is NULL). */
static int arg_int_or_reply(cmd_ctx *c, const slice *a, int *out, const char *errmsg)
{
    long long v;
    if (arg_ll_or_reply(c, a, &v, errmsg))
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        if (errmsg)
            reply_error(c, errmsg);
        else
            reply_errorf(c, "ERR value is out of range, value must between %d and %d", INT_MIN,
                         INT_MAX);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A database index argument (MOVE, COPY DB, SWAPDB). */
static int arg_dbid_or_reply(cmd_ctx *c, const slice *a, int *out, const char *errmsg)
{
    if (arg_int_or_reply(c, a, out, errmsg))
        return -1;
    if (*out < 0 || *out >= server.cfg.databases) {
        reply_error(c, ERR_DB_RANGE);
        return -1;
    }
    return 0;
}

/* A context for the same call acting on database dbid (cross-db MOVE and COPY). */
static cmd_ctx ctx_for_db(const cmd_ctx *c, int dbid)
{
    cmd_ctx d = *c;
    d.dbid = dbid;
    return d;
}

/* ---- DEL UNLINK EXISTS TYPE TOUCH DBSIZE ------------------------------------------------- */

/* DEL/UNLINK key [key ...]: the keys may live on several shards; all of them are held. UNLINK
 * frees in the foreground too: there is no lazy-free thread (yet). */
static void del_cmd(cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (db_delete(c, c->argv[i].p, c->argv[i].len)) {
            db_signal_modified(c, c->argv[i].p, c->argv[i].len);
            db_notify(c, NOTIFY_GENERIC, "del", c->argv[i].p, c->argv[i].len);
            n++;
        }
    }
    reply_int(c, n);
}

/* EXISTS key [key ...]: a key named twice counts twice, as in Redis. */
static void exists_cmd(cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += db_lookup_read_notouch(c, c->argv[i].p, c->argv[i].len) != NULL;
    reply_int(c, n);
}

static void type_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read_notouch(c, c->argv[1].p, c->argv[1].len);
    reply_simple(c, e ? obj_type_name(e->type) : "none");
}

/* TOUCH key [key ...]: refreshes the LRU/LFU data of the keys that exist and counts them. */
static void touch_cmd(cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += db_lookup_read(c, c->argv[i].p, c->argv[i].len) != NULL;
    reply_int(c, n);
}

static size_t keyspace_size(int dbid)
{
    size_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        n += db_size(shards[i], dbid);
    return n;
}

/* Like Redis, counts keys whose TTL passed but that no one has deleted yet. */
static void dbsize_cmd(cmd_ctx *c)
{
    reply_int(c, (long long)keyspace_size(c->dbid));
}

/* ---- RENAME RENAMENX COPY MOVE SWAPDB ---------------------------------------------------- */

/* Gives detached entry e the name key: same value, expiry and LRU data. A value behind a
 * pointer moves to the new entry; e's own block is freed. */
static entry *entry_rekey(entry *e, const char *key, size_t klen)
{
    int inline_value = e->type == OBJ_STRING && (e->enc == ENC_EMBSTR || e->enc == ENC_INT);
    entry *n = entry_with_key(e, key, klen, inline_value ? NULL : entry_ptr(e));
    if (inline_value)
        entry_free(e); /* the value was copied out of it */
    else
        zfree(e); /* the value now belongs to n */
    return n;
}

/* A deep copy of e under another key (COPY). Strings are copied by entry_with_key, other types
 * by their dup hook. NULL when the type cannot be copied. */
static entry *entry_copy_as(const entry *e, const char *key, size_t klen)
{
    if (e->type == OBJ_STRING)
        return entry_with_key(e, key, klen, NULL);
    const obj_type_ops *ops = obj_type_get(e->type);
    if (!ops || !ops->dup)
        return NULL;
    return entry_with_key(e, key, klen, ops->dup(entry_ptr(e), e->enc));
}

/* Stores e, keeping the LRU/LFU data it came with (db_put starts it afresh): a renamed or moved
 * key is the same object in Redis and keeps its idle time. */
static entry *put_keep_lru(cmd_ctx *c, entry *e)
{
    uint32_t lru = e->lru;
    size_t klen;
    const char *k = entry_key(e, &klen);
    db_delete(c, k, klen); /* as Redis: the destination is deleted, then added ("new" fires) */
    db_add(c, e);
    e->lru = lru;
    return e;
}

/* RENAME and RENAMENX (nx set). The two keys may be on different shards: both are held, so the
 * entry leaves the source table and enters the destination table in one step. */
static void rename_generic(cmd_ctx *c, int nx)
{
    const slice *src = &c->argv[1], *dst = &c->argv[2];
    entry *e = db_lookup_write(c, src->p, src->len);
    if (!e) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    if (slice_same(src, dst)) {
        if (nx)
            reply_int(c, 0);
        else
            reply_ok(c);
        return;
    }
    if (nx && db_lookup_write(c, dst->p, dst->len)) {
        reply_int(c, 0);
        return;
    }
    e = db_detach(c, e);
    put_keep_lru(c, entry_rekey(e, dst->p, dst->len));
    db_signal_modified(c, src->p, src->len);
    db_signal_modified(c, dst->p, dst->len);
    db_notify(c, NOTIFY_GENERIC, "rename_from", src->p, src->len);
    db_notify(c, NOTIFY_GENERIC, "rename_to", dst->p, dst->len);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

static void rename_cmd(cmd_ctx *c)
{
    rename_generic(c, 0);
}

static void renamenx_cmd(cmd_ctx *c)
{
    rename_generic(c, 1);
}

/* COPY source destination [DB destination-db] [REPLACE] */
static void copy_cmd(cmd_ctx *c)
{
    const slice *src = &c->argv[1], *dst = &c->argv[2];
    int replace = 0, dbid = c->dbid;
    for (int i = 3; i < c->argc; i++) {
        if (arg_eq(&c->argv[i], "replace")) {
            replace = 1;
        } else if (arg_eq(&c->argv[i], "db") && i + 1 < c->argc) {
            if (arg_dbid_or_reply(c, &c->argv[++i], &dbid, NULL))
                return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (dbid == c->dbid && slice_same(src, dst)) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    entry *e = db_lookup_read(c, src->p, src->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    cmd_ctx dc = ctx_for_db(c, dbid);
    if (!replace && db_lookup_write(&dc, dst->p, dst->len)) {
        reply_int(c, 0);
        return;
    }
    entry *n = entry_copy_as(e, dst->p, dst->len);
    if (!n) {
        reply_errorf(c, "ERR COPY of a %s value is not supported", obj_type_name(e->type));
        return;
    }
    db_delete(&dc, dst->p, dst->len); /* REPLACE: deleted, then added, as Redis does */
    db_add(&dc, n);
    db_signal_modified(&dc, dst->p, dst->len);
    db_notify(&dc, NOTIFY_GENERIC, "copy_to", dst->p, dst->len);
    reply_int(c, 1);
}

/* MOVE key db: the key stays on its shard, only its database changes. */
static void move_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    int dbid;
    if (arg_dbid_or_reply(c, &c->argv[2], &dbid, NULL))
        return;
    if (dbid == c->dbid) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    cmd_ctx dc = ctx_for_db(c, dbid);
    if (db_lookup_write(&dc, key->p, key->len)) {
        reply_int(c, 0);
        return;
    }
    e = db_detach(c, e);
    put_keep_lru(&dc, e);
    db_signal_modified(c, key->p, key->len);
    db_signal_modified(&dc, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "move_from", key->p, key->len);
    db_notify(&dc, NOTIFY_GENERIC, "move_to", key->p, key->len);
    reply_int(c, 1);
}

/* SWAPDB index1 index2: every shard swaps its two databases while all are held, so no client
 * sees one shard swapped and another not. */
static void swapdb_cmd(cmd_ctx *c)
{
    int id1, id2;
    if (arg_int_or_reply(c, &c->argv[1], &id1, "ERR invalid first DB index") ||
        arg_int_or_reply(c, &c->argv[2], &id2, "ERR invalid second DB index"))
        return;
    if (id1 < 0 || id1 >= server.cfg.databases || id2 < 0 || id2 >= server.cfg.databases) {
        reply_error(c, ERR_DB_RANGE);
        return;
    }
    for (int i = 0; i < server.nshards; i++)
        db_swap(shards[i], id1, id2);
    atomic_fetch_add_explicit(&shards[0]->stats.dirty, 1, memory_order_relaxed);
    reply_ok(c);
}

/* ---- KEYS SCAN RANDOMKEY ----------------------------------------------------------------- */

struct keys_walk {
    cmd_ctx *c;
    const slice *pat;
    int all; /* pattern "*" */
    long n;
};

/* Expired keys are skipped, not deleted: the scan callback must not change the table. */
static void keys_cb(void *arg, entry *e)
{
    struct keys_walk *w = arg;
    size_t klen;
    const char *k = entry_key(e, &klen);
    if (!w->all && !glob_match(w->pat->p, w->pat->len, k, klen, 0))
        return;
    if (db_expired(e, w->c->now_ms))
        return;
    reply_bulk(w->c, k, klen);
    w->n++;
}

/* KEYS pattern: walks every shard's table once. Without writes in between, the reverse-binary
 * scan reports each entry exactly once, also mid-rehash. */
static void keys_cmd(cmd_ctx *c)
{
    struct keys_walk w = {.c = c, .pat = &c->argv[1]};
    w.all = glob_is_match_all(w.pat->p, w.pat->len);
    size_t handle = reply_deferred(c);
    for (int i = 0; i < server.nshards; i++) {
        table *t = &shards[i]->dbs[c->dbid].keys;
        uint64_t cur = 0;
        do
            cur = table_scan(t, cur, keys_cb, &w);
        while (cur);
    }
    reply_set_deferred_array(c, handle, w.n);
}

/* The SCAN cursor names a shard in its low bits and that shard's table cursor above them, so
 * a scan walks shard 0 to its end, then shard 1, and so on. Table cursors stay below the bucket
 * count, far from the top bits. */
#define SCAN_SHARD_BITS 8 /* log2(DFLY_MAX_THREADS) */
#define SCAN_SHARD_MASK ((1ull << SCAN_SHARD_BITS) - 1)
#define SCAN_DEFAULT_COUNT 10
/* Buckets visited per requested element at most, as Redis bounds a sparse table's scan. */
#define SCAN_BUCKETS_PER_COUNT 10
/* Longest cursor text accepted (20 digits plus generous room for leading zeros). */

_Static_assert((1u << SCAN_SHARD_BITS) >= DFLY_MAX_THREADS, "SCAN cursor needs more shard bits");

struct scan_walk {
    int64_t now_ms;
    const slice *pat;  /* NULL: no MATCH */
    const slice *type; /* NULL: no TYPE */
    long visited;
    long nkeys;
    buf keys;    /* [size_t len][bytes]... of keys to reply */
    buf expired; /* same, of expired keys to delete after the walk */
};

static void scan_push(buf *b, const char *k, size_t klen)
{
    buf_append(b, &klen, sizeof(klen));
    buf_append(b, k, klen);
}

static int type_matches(const entry *e, const slice *type)
{
    const char *name = obj_type_name(e->type);
    return strlen(name) == type->len && strncasecmp(name, type->p, type->len) == 0;
}

static void scan_cb(void *arg, entry *e)
{
    struct scan_walk *w = arg;
    size_t klen;
    const char *k = entry_key(e, &klen);
    w->visited++;
    if (w->pat && !glob_match(w->pat->p, w->pat->len, k, klen, 0))
        return;
    if (db_expired(e, w->now_ms)) {
        scan_push(&w->expired, k, klen);
        return;
    }
    if (w->type && !type_matches(e, w->type))
        return;
    scan_push(&w->keys, k, klen);
    w->nkeys++;
}

/* Calls fn for each key pushed into b. */
static void scan_each(const buf *b, void (*fn)(cmd_ctx *c, const char *k, size_t klen), cmd_ctx *c)
{
    size_t off = 0;
    while (off < b->len) {
        size_t klen;
        memcpy(&klen, b->data + off, sizeof(klen));
        off += sizeof(klen);
        fn(c, b->data + off, klen);
        off += klen;
    }
}

static void scan_expire_one(cmd_ctx *c, const char *k, size_t klen)
{
    db_peek(c, k, klen); /* a lookup deletes the expired key */
}

static void scan_reply_one(cmd_ctx *c, const char *k, size_t klen)
{
    reply_bulk(c, k, klen);
}

/* Walks from cursor until about `count` keys were visited (or ten times as many buckets), across
 * shard boundaries. Returns the cursor to continue from, 0 at the end. */
static uint64_t scan_walk_shards(cmd_ctx *c, uint64_t cursor, long count, struct scan_walk *w)
{
    int sh = (int)(cursor & SCAN_SHARD_MASK);
    uint64_t tc = cursor >> SCAN_SHARD_BITS;
    if (sh >= server.nshards)
        return 0; /* not a cursor we handed out */
    long budget =
        count > LONG_MAX / SCAN_BUCKETS_PER_COUNT ? LONG_MAX : count * SCAN_BUCKETS_PER_COUNT;
    do {
        tc = table_scan(&shards[sh]->dbs[c->dbid].keys, tc, scan_cb, w);
        if (tc == 0 && ++sh == server.nshards)
            return 0;
    } while (--budget > 0 && w->visited < count);
    return (tc << SCAN_SHARD_BITS) | (uint64_t)sh;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
static void scan_cmd(cmd_ctx *c)
{
    uint64_t cursor;
    if (arg_cursor_or_reply(c, &c->argv[1], &cursor))
        return;
    long long count = SCAN_DEFAULT_COUNT;
    struct scan_walk w = {.now_ms = c->now_ms};
    for (int i = 2; i < c->argc; i++) {
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
        } else if (arg_eq(&c->argv[i], "type") && has_value) {
            w.type = &c->argv[++i];
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    buf_init(&w.keys);
    buf_init(&w.expired);
    uint64_t next = scan_walk_shards(c, cursor, (long)count, &w);
    scan_each(&w.expired, scan_expire_one, c);
    reply_array(c, 2);
    char num[OBJ_INT_STR_MAX + 1];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    reply_bulk(c, num, (size_t)n);
    reply_array(c, w.nkeys);
    scan_each(&w.keys, scan_reply_one, c);
    buf_free(&w.keys);
    buf_free(&w.expired);
}

/* RANDOMKEY: a shard chosen with probability proportional to its size, then a random entry of
 * it. An expired pick is deleted and the draw repeated, as Redis does; each repetition removes
 * a key, so the loop ends. */
static void randomkey_cmd(cmd_ctx *c)
{
    for (;;) {
        size_t total = keyspace_size(c->dbid);
        if (total == 0) {
            reply_null(c);
            return;
        }
        uint64_t r = shard_rand(shards[0]) % total;
        int sh = 0;
        while (r >= db_size(shards[sh], c->dbid)) {
            r -= db_size(shards[sh], c->dbid);
            sh++;
        }
        entry *e = table_random(&shards[sh]->dbs[c->dbid].keys, shard_rand(shards[sh]));
        size_t klen;
        const char *k = entry_key(e, &klen);
        if (!db_expired(e, c->now_ms)) {
            reply_bulk(c, k, klen);
            return;
        }
        db_peek(c, k, klen); /* deletes it */
    }
}

/* ---- OBJECT ------------------------------------------------------------------------------ */

#define OBJ_SHARED_INTEGERS 10000   /* Redis shares the integers 0..9999 ... */
#define OBJ_SHARED_REFCOUNT INT_MAX /* ... and reports this refcount for them */

static int policy_is_lfu(void)
{
    return server.policy == MAXMEMORY_ALLKEYS_LFU || server.policy == MAXMEMORY_VOLATILE_LFU;
}

/* Redis shares small integer values unless the eviction policy needs a per-object LRU/LFU. */
static int shared_integer(const entry *e)
{
    long long v;
    if (e->type != OBJ_STRING || e->enc != ENC_INT || !entry_get_ll(e, &v))
        return 0;
    int per_object =
        server.cfg.maxmemory > 0 && (policy_is_lfu() || server.policy == MAXMEMORY_ALLKEYS_LRU ||
                                     server.policy == MAXMEMORY_VOLATILE_LRU);
    return !per_object && v >= 0 && v < OBJ_SHARED_INTEGERS;
}

/* The key of OBJECT's subcommands, or a null reply when it does not exist. */
static entry *object_lookup_or_reply(cmd_ctx *c)
{
    entry *e = db_lookup_read_notouch(c, c->argv[2].p, c->argv[2].len);
    if (!e)
        reply_null(c);
    return e;
}

static void object_encoding_cmd(cmd_ctx *c)
{
    entry *e = object_lookup_or_reply(c);
    if (e)
        reply_bulk_cstr(c, obj_enc_name(e));
}

static void object_refcount_cmd(cmd_ctx *c)
{
    entry *e = object_lookup_or_reply(c);
    if (e)
        reply_int(c, shared_integer(e) ? OBJ_SHARED_REFCOUNT : 1);
}

static void object_idletime_cmd(cmd_ctx *c)
{
    entry *e = object_lookup_or_reply(c);
    if (!e)
        return;
    if (policy_is_lfu()) {
        reply_error(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                       "note that when switching between policies at runtime LRU and LFU data "
                       "will take some time to adjust.");
        return;
    }
    reply_int(c, (long long)entry_idle_secs(e));
}

static void object_freq_cmd(cmd_ctx *c)
{
    entry *e = object_lookup_or_reply(c);
    if (!e)
        return;
    if (!policy_is_lfu()) {
        reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not "
                       "tracked. Please note that when switching between policies at runtime "
                       "LRU and LFU data will take some time to adjust.");
        return;
    }
    reply_int(c, entry_lfu_count(e));
}

static void object_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    long n = (long)(sizeof(lines) / sizeof(lines[0]));
    reply_array(c, n);
    for (long i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

#define SUBCOMMAND_SHOW_MAX 128 /* bytes of an unknown subcommand quoted in the error */

/* Reached only when no subcommand matched (the arity guarantees argv[1]). */
static void object_cmd(cmd_ctx *c)
{
    int len = c->argv[1].len > SUBCOMMAND_SHOW_MAX ? SUBCOMMAND_SHOW_MAX : (int)c->argv[1].len;
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try OBJECT HELP.", len, c->argv[1].p);
}

/* ---- expiry ------------------------------------------------------------------------------ */

enum {
    EXPIRE_NX = 1 << 0,
    EXPIRE_XX = 1 << 1,
    EXPIRE_GT = 1 << 2,
    EXPIRE_LT = 1 << 3,
};

/* The NX|XX|GT|LT options after EXPIRE's time (Redis's parseExtendedExpireArgumentsOrReply). */
static int expire_flags_or_reply(cmd_ctx *c, int *flags)
{
    *flags = 0;
    for (int i = 3; i < c->argc; i++) {
        const slice *a = &c->argv[i];
        if (arg_eq(a, "nx")) {
            *flags |= EXPIRE_NX;
        } else if (arg_eq(a, "xx")) {
            *flags |= EXPIRE_XX;
        } else if (arg_eq(a, "gt")) {
            *flags |= EXPIRE_GT;
        } else if (arg_eq(a, "lt")) {
            *flags |= EXPIRE_LT;
        } else {
            reply_errorf(c, "ERR Unsupported option %.*s", (int)a->len, a->p);
            return -1;
        }
    }
    if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* Whether the options let a key whose expiry is `cur` (-1: none, which counts as infinite)
 * take the new expiry `when`. */
static int expire_allowed(int flags, int64_t cur, int64_t when)
{
    if ((flags & EXPIRE_NX) && cur != -1)
        return 0;
    if ((flags & EXPIRE_XX) && cur == -1)
        return 0;
    if ((flags & EXPIRE_GT) && (cur == -1 || when <= cur))
        return 0;
    if ((flags & EXPIRE_LT) && cur != -1 && when >= cur)
        return 0;
    return 1;
}

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's expireGenericCommand). The time is in unit_ms
 * milliseconds, relative to now unless absolute. A time already past deletes the key. */
static void expire_generic(cmd_ctx *c, long long unit_ms, int absolute)
{
    const slice *key = &c->argv[1];
    int flags;
    int64_t when;
    if (expire_flags_or_reply(c, &flags) ||
        arg_expire_or_reply(c, &c->argv[2], unit_ms, absolute, &when))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e || !expire_allowed(flags, entry_expire(e), when)) {
        reply_int(c, 0);
        return;
    }
    /* Journaled with the absolute time, so that a replay expires the key when this did. */
    if (db_expiry_passed(c, when)) {
        db_delete(c, key->p, key->len);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
        journal_rewrite(c, "sb", "DEL", key);
    } else {
        db_set_expire(c, e, when);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "expire", key->p, key->len);
        journal_rewrite(c, "sbl", "PEXPIREAT", key, (long long)when);
    }
    reply_int(c, 1);
}

static void expire_cmd(cmd_ctx *c)
{
    expire_generic(c, 1000, 0);
}

static void pexpire_cmd(cmd_ctx *c)
{
    expire_generic(c, 1, 0);
}

static void expireat_cmd(cmd_ctx *c)
{
    expire_generic(c, 1000, 1);
}

static void pexpireat_cmd(cmd_ctx *c)
{
    expire_generic(c, 1, 1);
}

#define MS_PER_SEC 1000

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 when the key is missing, -1 without expiry, else the
 * time left (or the absolute time), seconds rounded to nearest as Redis does. */
static void ttl_generic(cmd_ctx *c, int in_ms, int absolute)
{
    entry *e = db_lookup_read_notouch(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_int(c, -2);
        return;
    }
    int64_t when = entry_expire(e);
    if (when < 0) {
        reply_int(c, -1);
        return;
    }
    int64_t v = absolute ? when : when - c->now_ms;
    if (v < 0)
        v = 0;
    reply_int(c, in_ms ? v : (v + MS_PER_SEC / 2) / MS_PER_SEC);
}

static void ttl_cmd(cmd_ctx *c)
{
    ttl_generic(c, 0, 0);
}

static void pttl_cmd(cmd_ctx *c)
{
    ttl_generic(c, 1, 0);
}

static void expiretime_cmd(cmd_ctx *c)
{
    ttl_generic(c, 0, 1);
}

static void pexpiretime_cmd(cmd_ctx *c)
{
    ttl_generic(c, 1, 1);
}

static void persist_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e || !e->has_expire) {
        reply_int(c, 0);
        return;
    }
    db_set_expire(c, e, -1);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "persist", key->p, key->len);
    reply_int(c, 1);
}

/* ---- the table --------------------------------------------------------------------------- */

static command object_subcommands[] = {
    {.name = "encoding",
     .proc = object_encoding_cmd,
     .arity = 3,
     .flags = CMD_READONLY,
     .first_key = 2,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "2.2.3",
     .summary = "Returns the internal encoding of a Redis object."},
    {.name = "freq",
     .proc = object_freq_cmd,
     .arity = 3,
     .flags = CMD_READONLY,
     .first_key = 2,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "4.0.0",
     .summary = "Returns the logarithmic access frequency counter of a Redis object."},
    {.name = "idletime",
     .proc = object_idletime_cmd,
     .arity = 3,
     .flags = CMD_READONLY,
     .first_key = 2,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "2.2.3",
     .summary = "Returns the time since the last access to a Redis object."},
    {.name = "refcount",
     .proc = object_refcount_cmd,
     .arity = 3,
     .flags = CMD_READONLY,
     .first_key = 2,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "2.2.3",
     .summary = "Returns the reference count of a value of a key."},
    {.name = "help",
     .proc = object_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE,
     .acl = ACL_KEYSPACE | ACL_SLOW,
     .group = "generic",
     .since = "6.2.0",
     .summary = "Returns helpful text about the different subcommands."},
    {0},
};

command keyspace_commands[] = {
    {.name = "del",
     .proc = del_cmd,
     .arity = -2,
     .flags = CMD_WRITE,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Deletes one or more keys."},
    {.name = "unlink",
     .proc = del_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "4.0.0",
     .summary = "Asynchronously deletes one or more keys."},
    {.name = "exists",
     .proc = exists_cmd,
     .arity = -2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Determines whether one or more keys exist."},
    {.name = "type",
     .proc = type_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Determines the type of value stored at a key."},
    {.name = "touch",
     .proc = touch_cmd,
     .arity = -2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "3.2.1",
     .summary = "Returns the number of existing keys out of those specified after updating the "
                "time they were last accessed."},
    {.name = "rename",
     .proc = rename_cmd,
     .arity = 3,
     .flags = CMD_WRITE,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Renames a key and overwrites the destination."},
    {.name = "renamenx",
     .proc = renamenx_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Renames a key only when the target key name doesn't exist."},
    {.name = "copy",
     .proc = copy_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW,
     .group = "generic",
     .since = "6.2.0",
     .summary = "Copies the value of a key to a new key."},
    {.name = "move",
     .proc = move_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Moves a key to another database."},
    {.name = "swapdb",
     .proc = swapdb_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_FAST | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST | ACL_DANGEROUS,
     .group = "server",
     .since = "4.0.0",
     .summary = "Swaps two Redis databases."},
    {.name = "dbsize",
     .proc = dbsize_cmd,
     .arity = 1,
     .flags = CMD_READONLY | CMD_FAST | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "server",
     .since = "1.0.0",
     .summary = "Returns the number of keys in the database."},
    {.name = "keys",
     .proc = keys_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW | ACL_DANGEROUS,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Returns all key names that match a pattern."},
    {.name = "scan",
     .proc = scan_cmd,
     .arity = -2,
     .flags = CMD_READONLY | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "2.8.0",
     .summary = "Iterates over the key names in the database."},
    {.name = "randomkey",
     .proc = randomkey_cmd,
     .arity = 1,
     .flags = CMD_READONLY | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Returns a random key name from the database."},
    {.name = "object",
     .proc = object_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     .group = "generic",
     .since = "2.2.3",
     .summary = "A container for object introspection commands.",
     .subcommands = object_subcommands},
    {.name = "expire",
     .proc = expire_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Sets the expiration time of a key in seconds."},
    {.name = "pexpire",
     .proc = pexpire_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "2.6.0",
     .summary = "Sets the expiration time of a key in milliseconds."},
    {.name = "expireat",
     .proc = expireat_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "1.2.0",
     .summary = "Sets the expiration time of a key to a Unix timestamp."},
    {.name = "pexpireat",
     .proc = pexpireat_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "2.6.0",
     .summary = "Sets the expiration time of a key to a Unix milliseconds timestamp."},
    {.name = "ttl",
     .proc = ttl_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "1.0.0",
     .summary = "Returns the expiration time in seconds of a key."},
    {.name = "pttl",
     .proc = pttl_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "2.6.0",
     .summary = "Returns the expiration time in milliseconds of a key."},
    {.name = "expiretime",
     .proc = expiretime_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "7.0.0",
     .summary = "Returns the expiration time of a key as a Unix timestamp."},
    {.name = "pexpiretime",
     .proc = pexpiretime_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic",
     .since = "7.0.0",
     .summary = "Returns the expiration time of a key as a Unix milliseconds timestamp."},
    {.name = "persist",
     .proc = persist_cmd,
     .arity = 2,
     .flags = CMD_WRITE | CMD_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_FAST,
     .group = "generic",
     .since = "2.2.0",
     .summary = "Removes the expiration time of a key."},
    {0},
};
