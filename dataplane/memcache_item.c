/* memcached's operations on the keyspace (memcache_int.h): items are Redis strings of database
 * 0 whose flags, CAS and meta bits live in the entry's memcached block (object.h entry_mc).
 *
 * Every change is journaled (and so replicated) as the RESP command that has the same effect on
 * the data: SET with PXAT or KEEPTTL (and Dragonfly's _MCFLAGS for the item's flags), APPEND, DEL,
 * PEXPIREAT, PERSIST, FLUSHDB. The CAS and meta bits are not journaled: a replica or a replay
 * gives the items CAS values of its own. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "journal.h"
#include "memcache_int.h"
#include "tracking.h"
#include "worker.h"

#define MS_PER_SEC 1000
#define U64_TEXT_MAX 24 /* digits of a uint64 and a terminator */
/* memcached's item header and CAS, and the flags suffix when flags are set (mc_item_size). */
#define MC_ITEM_HEADER 56
#define MC_FLAGS_SUFFIX 4

/* ---- CAS ----------------------------------------------------------------------------------- */

/* One counter per shard, on its own cache line: only the thread running for the shard moves it. */
static struct {
    uint64_t n;
    char pad[56];
} cas_counters[DFLY_MAX_THREADS];

uint64_t memcache_cas_next(int shard_id)
{
    return ++cas_counters[shard_id].n * DFLY_MAX_THREADS + (uint64_t)shard_id;
}

void memcache_cas_bump(entry *e, int shard_id)
{
    entry_mc m;
    if (entry_get_mc(e, &m)) {
        m.cas = memcache_cas_next(shard_id);
        entry_set_mc(e, &m); /* in place: the block is there */
    }
}

static uint64_t cas_for(cmd_ctx *c, const slice *key)
{
    return memcache_cas_next(ctx_key_shard(c, key->p, key->len));
}

/* ---- time ---------------------------------------------------------------------------------- */

int64_t mc_exptime_ms(int64_t exptime, int64_t now_ms)
{
    if (exptime == 0)
        return -1;
    if (exptime < 0)
        return 0;
    if (exptime > MC_REALTIME_MAXDELTA) {
        int64_t at = exptime * MS_PER_SEC;
        return at <= now_ms ? 0 : at;
    }
    return now_ms + exptime * MS_PER_SEC;
}

/* ---- journal ------------------------------------------------------------------------------- */

/* A proc that changes several keys journals the first change in place of itself and the others
 * after it. Reset by every proc that writes (mc_journal_begin). */
static _Thread_local int journaled;

void mc_journal_begin(void)
{
    journaled = 0;
}

/* Journals one command: name, then the keys/values in args (n of them), then an optional
 * number (when has_num). */
static void journal_args(cmd_ctx *c, const char *name, const slice *args, int n, const char *opt,
                         int has_num, long long num)
{
    if (!journal_wanted())
        return;
    journal_cmd jc;
    journal_cmd_init(&jc, name);
    for (int i = 0; i < n; i++)
        journal_cmd_add(&jc, args[i].p, args[i].len);
    if (opt)
        journal_cmd_add(&jc, opt, strlen(opt));
    if (has_num)
        journal_cmd_add_ll(&jc, num);
    journal_cmd_commit(c, &jc, journaled++ > 0);
}

/* Journals the stored value of key as SET, with its expiry as PXAT (or KEEPTTL) and its flags
 * as Dragonfly's _MCFLAGS option (only when set: a journal without them stays Redis's). */
static void journal_set(cmd_ctx *c, const slice *key, const slice *val, int64_t expire_ms,
                        int keepttl, uint32_t flags)
{
    if (!journal_wanted())
        return;
    journal_cmd jc;
    journal_cmd_init(&jc, "SET");
    journal_cmd_add(&jc, key->p, key->len);
    journal_cmd_add(&jc, val->p, val->len);
    if (keepttl) {
        journal_cmd_add(&jc, "KEEPTTL", strlen("KEEPTTL"));
    } else if (expire_ms > 0) {
        journal_cmd_add(&jc, "PXAT", strlen("PXAT"));
        journal_cmd_add_ll(&jc, (long long)expire_ms);
    }
    if (flags) {
        journal_cmd_add(&jc, "_MCFLAGS", strlen("_MCFLAGS"));
        journal_cmd_add_ll(&jc, (long long)flags);
    }
    journal_cmd_commit(c, &jc, journaled++ > 0);
}

/* The key changed: WATCH, dirty counter, client-side caching, keyspace events. */
static void modified(cmd_ctx *c, const slice *key, const char *event)
{
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, event, key->p, key->len);
}

static void deleted(cmd_ctx *c, const slice *key)
{
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
    journal_args(c, "DEL", key, 1, NULL, 0, 0);
}

/* ---- lookups ------------------------------------------------------------------------------- */

static void item_view(entry *e, mc_item *it)
{
    it->e = e;
    it->val = entry_str(e, it->tmp, &it->len);
    it->has_mc = entry_get_mc(e, &it->mc);
    if (!it->has_mc)
        memset(&it->mc, 0, sizeof(it->mc));
}

int mc_item_find(cmd_ctx *c, const slice *key, int touch, mc_item *it)
{
    entry *e = touch ? db_lookup_read(c, key->p, key->len) : db_peek(c, key->p, key->len);
    if (!e || e->type != OBJ_STRING)
        return 0; /* memcached holds strings only: another type reads as a miss */
    item_view(e, it);
    return 1;
}

void mc_item_set_mc(cmd_ctx *c, const slice *key, mc_item *it, const entry_mc *m)
{
    (void)key;
    if (it->has_mc) {
        entry_set_mc(it->e, m); /* in place */
    } else {
        entry *n = entry_copy_mc(it->e, m);
        db_replace(c, it->e, n);
        it->e = n;
    }
    item_view(it->e, it);
}

uint64_t mc_item_cas(cmd_ctx *c, const slice *key, mc_item *it)
{
    if (it->has_mc)
        return it->mc.cas;
    entry_mc m = {.cas = cas_for(c, key)};
    mc_item_set_mc(c, key, it, &m);
    return m.cas;
}

long long mc_item_ttl(cmd_ctx *c, const mc_item *it)
{
    int64_t at = entry_expire(it->e);
    if (at < 0)
        return -1;
    int64_t left = at - c->now_ms;
    return left <= 0 ? 0 : (left + MS_PER_SEC - 1) / MS_PER_SEC;
}

void mc_item_expire(cmd_ctx *c, const slice *key, mc_item *it, int64_t expire_ms)
{
    if (expire_ms == 0) {
        db_delete(c, key->p, key->len);
        deleted(c, key);
        it->e = NULL;
        return;
    }
    entry *n = db_set_expire(c, it->e, expire_ms);
    db_signal_modified(c, key->p, key->len);
    if (expire_ms > 0) {
        db_notify(c, NOTIFY_GENERIC, "expire", key->p, key->len);
        journal_args(c, "PEXPIREAT", key, 1, NULL, 1, (long long)expire_ms);
    } else {
        db_notify(c, NOTIFY_GENERIC, "persist", key->p, key->len);
        journal_args(c, "PERSIST", key, 1, NULL, 0, 0);
    }
    item_view(n, it);
}

size_t mc_item_size(size_t klen, size_t vlen, uint32_t flags)
{
    return MC_ITEM_HEADER + klen + 1 + vlen + 2 + (flags ? MC_FLAGS_SUFFIX : 0);
}

/* ---- storage ------------------------------------------------------------------------------- */

/* The CAS check of a store: 1 to go on (*stale set when meta I let an older CAS through). */
static int store_cas_ok(const mc_store_args *a, entry *old, int *stale)
{
    *stale = 0;
    int compare = a->mode == MC_MODE_CAS ||
                  ((a->mode == MC_MODE_APPEND || a->mode == MC_MODE_PREPEND) && a->cas);
    if (!compare)
        return 1;
    entry_mc m;
    uint64_t cur = entry_get_mc(old, &m) ? m.cas : 0;
    if (cur && cur == a->cas)
        return 1;
    if (a->stale_ok && a->mode == MC_MODE_CAS && a->cas && a->cas < cur) {
        *stale = 1;
        return 1;
    }
    return 0;
}

/* The value of an append or prepend: old and new joined, in a buffer the caller frees. */
static char *joined(const mc_store_args *a, entry *old, size_t *len)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t olen;
    const char *ov = entry_str(old, tmp, &olen);
    *len = olen + a->val.len;
    char *b = mem_malloc(*len ? *len : 1);
    const slice *first = a->mode == MC_MODE_APPEND ? &(slice){ov, olen} : &a->val;
    const slice *second = a->mode == MC_MODE_APPEND ? &a->val : &(slice){ov, olen};
    memcpy(b, first->p, first->len);
    memcpy(b + first->len, second->p, second->len);
    return b;
}

static void count_cas(const mc_store_args *a, int outcome)
{
    if (a->mode != MC_MODE_CAS)
        return;
    mc_stats *st = mc_stats_here();
    counter_add(outcome == MC_STORED      ? &st->cas_hits
                : outcome == MC_NOT_FOUND ? &st->cas_misses
                                          : &st->cas_badval,
                1);
}

/* Checks a store against the item there: MC_STORED to go on, or the outcome to answer. */
static int store_precheck(cmd_ctx *c, const mc_store_args *a, entry *old, int *stale)
{
    *stale = 0;
    switch (a->mode) {
    case MC_MODE_ADD:
        if (old) {
            entry_touch(old); /* memcached bumps the existing item */
            return MC_NOT_STORED;
        }
        return MC_STORED;
    case MC_MODE_REPLACE: return old ? MC_STORED : MC_NOT_STORED;
    case MC_MODE_APPEND:
    case MC_MODE_PREPEND:
        if (!old || old->type != OBJ_STRING)
            return MC_NOT_STORED;
        break;
    case MC_MODE_CAS:
        if (!old)
            return MC_NOT_FOUND;
        break;
    default: return MC_STORED;
    }
    (void)c;
    return store_cas_ok(a, old, stale) ? MC_STORED : MC_EXISTS;
}

int mc_store(cmd_ctx *c, const mc_store_args *a, uint64_t *out_cas)
{
    mc_journal_begin();
    counter_add(&mc_stats_here()->cmd_set, 1);
    const slice *key = &a->key;
    int plain = a->mode == MC_MODE_SET;
    entry *old = plain ? NULL : db_peek(c, key->p, key->len);
    int stale = 0;
    int rc = plain ? MC_STORED : store_precheck(c, a, old, &stale);
    count_cas(a, rc);
    if (rc != MC_STORED)
        return rc;
    int concat = a->mode == MC_MODE_APPEND || a->mode == MC_MODE_PREPEND;
    entry_mc m = {.cas = a->new_cas ? a->new_cas : cas_for(c, key),
                  .flags = a->flags,
                  .bits = (uint8_t)(a->bits | (stale && !plain ? MC_BIT_STALE : 0))};
    int64_t expire = a->expire_ms;
    if (stale && !plain) { /* memcached: a stale store keeps the TTL and the win-sent bit */
        entry_mc om;
        expire = entry_expire(old);
        if (entry_get_mc(old, &om))
            m.bits |= om.bits & MC_BIT_WON;
    }
    slice val = a->val;
    char *buf = NULL;
    if (concat) {
        entry_mc om;
        m.flags = entry_get_mc(old, &om) ? om.flags : 0; /* append keeps flags and expiry */
        m.bits = 0; /* a new item to memcached: no bits, not even a binary key's */
        expire = entry_expire(old);
        buf = joined(a, old, &val.len);
        val.p = buf;
    }
    if (expire == 0) { /* already expired: memcached stores it unseen; drop what was there */
        if (db_delete(c, key->p, key->len))
            deleted(c, key);
        *out_cas = m.cas;
        return MC_STORED;
    }
    db_put(c, entry_new_string_mc(key->p, key->len, val.p, val.len, expire, &m), 0);
    counter_add(&mc_stats_here()->total_items, 1);
    if (a->mode == MC_MODE_APPEND) {
        modified(c, key, "append");
        slice kv[2] = {*key, a->val};
        journal_args(c, "APPEND", kv, 2, NULL, 0, 0);
    } else {
        modified(c, key, "set");
        journal_set(c, key, &val, expire, concat, m.flags);
    }
    free(buf);
    *out_cas = m.cas;
    return MC_STORED;
}

void mc_item_drop(cmd_ctx *c, const slice *key)
{
    mc_journal_begin();
    if (db_delete(c, key->p, key->len))
        deleted(c, key);
}

int mc_delete(cmd_ctx *c, const slice *key, uint64_t cas)
{
    mc_journal_begin();
    mc_stats *st = mc_stats_here();
    entry *e = db_peek(c, key->p, key->len);
    if (!e) {
        counter_add(&st->delete_misses, 1);
        return MC_NOT_FOUND;
    }
    entry_mc m;
    if (cas && (!entry_get_mc(e, &m) || m.cas != cas)) {
        counter_add(&st->delete_misses, 1);
        return MC_EXISTS;
    }
    db_delete(c, key->p, key->len);
    deleted(c, key);
    counter_add(&st->delete_hits, 1);
    return MC_STORED;
}

/* memcached's reading of a value for incr/decr: strtoull over the bytes, ending at their end
 * or at white space. */
static int value_u64(const mc_item *it, uint64_t *out)
{
    if (it->len == 0 || it->len >= U64_TEXT_MAX)
        return 0;
    char b[U64_TEXT_MAX];
    memcpy(b, it->val, it->len);
    b[it->len] = '\0';
    size_t end = it->len;
    while (end > 0 && (b[end - 1] == ' ' || b[end - 1] == '\t'))
        b[--end] = '\0';
    return mc_strtoull(&(slice){b, end}, out);
}

static void count_arith(int incr, int hit)
{
    mc_stats *st = mc_stats_here();
    counter_add(incr ? (hit ? &st->incr_hits : &st->incr_misses)
                     : (hit ? &st->decr_hits : &st->decr_misses),
                1);
}

/* Stores a number as the item's new value, keeping flags and expiry, with a new CAS. */
static uint64_t store_number(cmd_ctx *c, const slice *key, const mc_item *it, uint64_t v,
                             int64_t expire)
{
    char digits[U64_TEXT_MAX];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    entry_mc m = it ? it->mc : (entry_mc){0};
    m.cas = cas_for(c, key);
    /* memcached changes a number in place when its digits fit, keeping the item's bits; a
     * longer number is a new item without them. */
    if (it && (size_t)n > it->len)
        m.bits = 0;
    db_put(c, entry_new_string_mc(key->p, key->len, digits, (size_t)n, expire, &m), 0);
    slice val = {digits, (size_t)n};
    modified(c, key, it ? "incrby" : "set");
    journal_set(c, key, &val, expire, it != NULL, m.flags);
    return m.cas;
}

int mc_arith(cmd_ctx *c, const slice *key, int incr, uint64_t delta, uint64_t cas, int create,
             uint64_t initial, int64_t create_expire_ms, uint64_t *value, uint64_t *out_cas,
             int *created)
{
    mc_journal_begin();
    *created = 0;
    entry *e = db_peek(c, key->p, key->len);
    if (!e) {
        if (!create) {
            count_arith(incr, 0);
            return MC_NOT_FOUND;
        }
        *created = 1;
        *value = initial;
        if (create_expire_ms == 0) {
            *out_cas = cas_for(c, key);
            return MC_DELTA_OK; /* created already expired: nothing stays */
        }
        *out_cas = store_number(c, key, NULL, initial, create_expire_ms);
        return MC_DELTA_OK;
    }
    mc_item it;
    if (e->type != OBJ_STRING)
        return MC_NON_NUMERIC;
    item_view(e, &it);
    if (it.len == 0)
        return MC_NON_NUMERIC;
    if (cas && (!it.has_mc || it.mc.cas != cas))
        return MC_EXISTS;
    uint64_t v;
    if (!value_u64(&it, &v))
        return MC_NON_NUMERIC;
    v = incr ? v + delta : (delta > v ? 0 : v - delta); /* incr wraps, decr stops at 0 */
    *value = v;
    *out_cas = store_number(c, key, &it, v, entry_expire(e));
    count_arith(incr, 1);
    return MC_DELTA_OK;
}

/* ---- flush_all ----------------------------------------------------------------------------- */

void mc_flush_now(cmd_ctx *c)
{
    mc_journal_begin();
    for (int i = 0; i < server.nshards; i++) {
        shard *s = shards[i];
        size_t removed = db_size(s, 0);
        db_flush(s, 0);
        counter_add(&s->stats.dirty, removed + 1);
    }
    tracking_on_flush();
    journal_args(c, "FLUSHDB", NULL, 0, NULL, 0, 0);
}
