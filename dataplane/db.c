/* Shards, databases and the keyspace operations of db.h: lookups with lazy expiry, writes, the
 * active expiry cycle and eviction. */
#include "db.h"

#include <string.h>

#include "blocking.h"
#include "client.h"
#include "clock.h"
#include "cluster.h"  /* cluster_count_key: per-slot key counts, only in cluster mode */
#include "journal.h"  /* journal_tap_deleted: replicas learn of expiry and eviction */
#include "memcache.h" /* memcache_cas_bump */
#include "notify.h"
#include "replication.h" /* keys expire on a replica only by the master's DEL */
#include "server.h"
#include "snapshot.h"
#include "tracking.h"
#include "zmalloc.h"

shard **shards;
int dfly_nshards = 1;

void (*db_watch_hook)(shard *s, int dbid, const char *key, size_t len);
void (*db_flush_hook)(shard *s, int dbid);
void (*db_swap_hook)(shard *s, int id1, int id2);

/* CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for slots. crc16_table[k][i] is the
 * register after k + 1 steps of zero bytes from i in its high byte: crc16_table[0] is the usual
 * byte-at-a-time table, and four bytes at a time are four independent lookups (the CRC is
 * linear), not a chain of four. */
static uint16_t crc16_table[4][256];

static uint16_t crc16_step(uint16_t crc, unsigned char b)
{
    return (uint16_t)((crc << 8) ^ crc16_table[0][((crc >> 8) ^ b) & 0xff]);
}

static void crc16_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint16_t crc = (uint16_t)(i << 8);
        for (int j = 0; j < 8; j++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        crc16_table[0][i] = crc;
    }
    for (int k = 1; k < 4; k++)
        for (int i = 0; i < 256; i++)
            crc16_table[k][i] = crc16_step(crc16_table[k - 1][i], 0);
}

static uint16_t crc16(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    uint16_t crc = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        crc = crc16_table[3][(crc >> 8) ^ p[i]] ^ crc16_table[2][(crc & 0xff) ^ p[i + 1]] ^
              crc16_table[1][p[i + 2]] ^ crc16_table[0][p[i + 3]];
    for (; i < len; i++)
        crc = crc16_step(crc, p[i]);
    return crc;
}

uint16_t key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t s = (size_t)(open - key);
        const char *close = memchr(open + 1, '}', len - s - 1);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & (CLUSTER_SLOTS - 1);
    }
    return crc16(key, len) & (CLUSTER_SLOTS - 1);
}

void shards_init(int n, int ndbs)
{
    crc16_init();
    dfly_nshards = n;
    shards = zcalloc(sizeof(shard *) * (size_t)n);
    for (int i = 0; i < n; i++) {
        shard *s = zcalloc(sizeof(shard));
        s->id = i;
        s->ndbs = ndbs;
        s->dbs = zcalloc(sizeof(db) * (size_t)ndbs);
        for (int d = 0; d < ndbs; d++)
            table_init(&s->dbs[d].keys);
        s->rng =
            0x853c49e6748fea9bull ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) ^ clock_mono_ns();
        shards[i] = s;
    }
}

void shards_free(void)
{
    for (int i = 0; i < dfly_nshards; i++) {
        for (int d = 0; d < shards[i]->ndbs; d++)
            table_clear(&shards[i]->dbs[d].keys);
        zfree(shards[i]->dbs);
        zfree(shards[i]);
    }
    zfree(shards);
    shards = NULL;
}

uint64_t shard_rand(shard *s)
{
    /* xorshift64* */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static inline void stat_inc(_Atomic uint64_t *v)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ---- LRU / LFU ---------------------------------------------------------------------------- */

#define LRU_CLOCK_MAX ((1u << 23) - 1)
#define LFU_INIT_VAL 5
#define LFU_MINUTES_MAX ((1u << 15) - 1)

uint32_t lru_clock(void)
{
    return atomic_load_explicit(&server.lru_clock, memory_order_relaxed) & LRU_CLOCK_MAX;
}

static int lfu_policy(void)
{
    return server.policy == MAXMEMORY_ALLKEYS_LFU || server.policy == MAXMEMORY_VOLATILE_LFU;
}

static uint32_t lfu_minutes(void)
{
    return (uint32_t)(clock_mono_ms() / 60000) & LFU_MINUTES_MAX;
}

/* LFU data: 15 bits of last-decrement minutes, 8 bits of logarithmic counter. */
static int lfu_decayed(const entry *e)
{
    uint32_t ldt = e->lru >> 8, counter = e->lru & 0xff;
    uint32_t now = lfu_minutes();
    uint32_t elapsed = now >= ldt ? now - ldt : LFU_MINUTES_MAX - ldt + now;
    long long decay = server.cfg.lfu_decay_time;
    uint32_t periods = decay ? elapsed / (uint32_t)decay : 0;
    return periods > counter ? 0 : (int)(counter - periods);
}

static int lfu_log_incr(uint32_t counter, uint64_t rnd)
{
    if (counter == 255)
        return 255;
    double r = (double)(rnd >> 11) / (double)(1ull << 53);
    double base = (double)counter - LFU_INIT_VAL;
    if (base < 0)
        base = 0;
    double p = 1.0 / (base * (double)server.cfg.lfu_log_factor + 1);
    return r < p ? (int)counter + 1 : (int)counter;
}

void entry_touch(entry *e)
{
    if (lfu_policy()) {
        static _Thread_local uint64_t rnd = 88172645463325252ull;
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        int counter = lfu_decayed(e);
        counter = lfu_log_incr((uint32_t)counter, rnd);
        e->lru = (lfu_minutes() << 8) | (uint32_t)counter;
    } else {
        e->lru = lru_clock();
    }
}

static void entry_init_lru(entry *e)
{
    if (lfu_policy())
        e->lru = (lfu_minutes() << 8) | LFU_INIT_VAL;
    else
        e->lru = lru_clock();
}

uint64_t entry_idle_secs(const entry *e)
{
    uint32_t now = lru_clock();
    return now >= e->lru ? now - e->lru : LRU_CLOCK_MAX - e->lru + now;
}

int entry_lfu_count(const entry *e)
{
    return lfu_decayed(e);
}

/* ---- lookups ----------------------------------------------------------------------------- */

int db_expired(const entry *e, int64_t now_ms)
{
    return e->has_expire && entry_expire(e) <= now_ms;
}

static void expire_entry(cmd_ctx *c, shard *s, int dbid, entry **ref)
{
    db *d = &s->dbs[dbid];
    size_t klen;
    const char *k = entry_key(table_ref_entry(ref), &klen);
    snapshot_before_write(s, dbid, k, klen);
    entry *e = table_unlink(&d->keys, ref);
    k = entry_key(e, &klen);
    cluster_count_key(dbid, k, klen, -1);
    if (db_watch_hook)
        db_watch_hook(s, dbid, k, klen);
    tracking_key_changed(s, k, klen, 0);
    d->expires--;
    stat_inc(&s->stats.expired_keys);
    db_notify(c, NOTIFY_EXPIRED, "expired", k, klen);
    journal_tap_deleted(dbid, k, klen); /* replicas delete it when the master says so */
    entry_free(e);
}

/* Finds key; drops it when expired. On a replica keys expire only by the master's DEL (Redis's
 * expireIfNeeded): the master's own commands see every key, clients' reads see an expired key
 * as absent and leave it, and a write of a writable replica's client deletes it. */
static entry **find_live_for(cmd_ctx *c, shard *s, const char *key, size_t len, int write)
{
    db *d = &s->dbs[c->dbid];
    entry **ref = table_find_ref_hashed(&d->keys, key, len, ctx_key_hash(c, key, len));
    if (ref && db_expired(table_ref_entry(ref), c->now_ms)) {
        if (repl_is_replica() && (c->flags & CTX_MASTER))
            return ref;
        if (repl_is_replica() && !write)
            return NULL;
        expire_entry(c, s, c->dbid, ref);
        return NULL;
    }
    return ref;
}

int db_expiry_passed(const cmd_ctx *c, int64_t when)
{
    return when <= c->now_ms && !repl_is_replica() && !atomic_load(&server.loading);
}

static entry **find_live(cmd_ctx *c, shard *s, const char *key, size_t len)
{
    return find_live_for(c, s, key, len, 0);
}

static entry **find_live_write(cmd_ctx *c, shard *s, const char *key, size_t len)
{
    return find_live_for(c, s, key, len, 1);
}

entry *db_peek(cmd_ctx *c, const char *key, size_t len)
{
    entry **ref = find_live(c, ctx_shard(c, key, len), key, len);
    return ref ? table_ref_entry(ref) : NULL;
}

/* Refreshes e's LRU/LFU data unless the caller asked CLIENT NO-TOUCH (TOUCH itself still does). */
static void ctx_touch(cmd_ctx *c, entry *e)
{
    if (c->cl && (c->cl->flags & CLIENT_NO_TOUCH) && strcmp(c->cmd->name, "touch"))
        return;
    entry_touch(e);
}

entry *db_lookup_read(cmd_ctx *c, const char *key, size_t len)
{
    shard *s = ctx_shard(c, key, len);
    entry **ref = find_live(c, s, key, len);
    if (!ref) {
        stat_inc(&s->stats.keyspace_misses);
        db_notify(c, NOTIFY_KEY_MISS, "keymiss", key, len);
        return NULL;
    }
    stat_inc(&s->stats.keyspace_hits);
    entry *e = table_ref_entry(ref);
    ctx_touch(c, e);
    return e;
}

entry *db_lookup_read_notouch(cmd_ctx *c, const char *key, size_t len)
{
    shard *s = ctx_shard(c, key, len);
    entry **ref = find_live(c, s, key, len);
    stat_inc(ref ? &s->stats.keyspace_hits : &s->stats.keyspace_misses);
    if (!ref)
        db_notify(c, NOTIFY_KEY_MISS, "keymiss", key, len); /* Redis's lookupKeyRead */
    return ref ? table_ref_entry(ref) : NULL;
}

entry *db_lookup_write(cmd_ctx *c, const char *key, size_t len)
{
    shard *s = ctx_shard(c, key, len);
    entry **ref = find_live_write(c, s, key, len);
    if (!ref)
        return NULL;
    snapshot_before_write(s, c->dbid, key, len); /* the caller changes the value in place */
    entry *e = table_ref_entry(ref);
    ctx_touch(c, e);
    if (__builtin_expect(e->has_mc, 0))
        memcache_cas_bump(e, s->id); /* a memcached item changed by any command gets a new CAS */
    return e;
}

int db_wrong_type(cmd_ctx *c, const entry *e, int type)
{
    if (e && (int)e->type != type) {
        extern void reply_error(cmd_ctx * c, const char *msg);
        reply_error(c, ERR_WRONGTYPE);
        return 1;
    }
    return 0;
}

/* ---- writes ------------------------------------------------------------------------------ */

void db_add(cmd_ctx *c, entry *e)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    shard *s = ctx_shard(c, k, klen);
    db *d = &s->dbs[c->dbid];
    snapshot_before_write(s, c->dbid, k, klen); /* a new key must not join an unwritten bucket */
    entry_init_lru(e);
    table_insert(&d->keys, e);
    cluster_count_key(c->dbid, k, klen, 1);
    if (e->has_expire)
        d->expires++;
    db_notify(c, NOTIFY_NEW, "new", k, klen); /* Redis's dbAdd: before the command's own event */
}

entry *db_put(cmd_ctx *c, entry *e, int keep_ttl)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    shard *s = ctx_shard(c, k, klen);
    db *d = &s->dbs[c->dbid];
    entry **ref = find_live_write(c, s, k, klen);
    if (!ref) {
        db_add(c, e);
        return e;
    }
    snapshot_before_write(s, c->dbid, k, klen);
    entry *old = table_ref_entry(ref);
    if (keep_ttl && old->has_expire && !e->has_expire)
        e = entry_set_expire(e, entry_expire(old));
    entry_init_lru(e);
    table_replace(&d->keys, ref, e);
    d->expires += (size_t)e->has_expire - (size_t)old->has_expire;
    entry_free(old);
    return e;
}

entry *db_replace(cmd_ctx *c, entry *old, entry *n)
{
    size_t klen;
    const char *k = entry_key(old, &klen);
    shard *s = ctx_shard(c, k, klen);
    snapshot_before_write(s, c->dbid, k, klen); /* normally done by the write lookup already */
    db *d = &s->dbs[c->dbid];
    entry **ref = table_find_ref(&d->keys, k, klen);
    table_replace(&d->keys, ref, n);
    d->expires += (size_t)n->has_expire - (size_t)old->has_expire;
    if (old != n)
        zfree(old); /* the value moved to n or was freed by the caller */
    return n;
}

int db_delete(cmd_ctx *c, const char *key, size_t len)
{
    shard *s = ctx_shard(c, key, len);
    entry **ref = find_live_write(c, s, key, len);
    if (!ref)
        return 0;
    snapshot_before_write(s, c->dbid, key, len);
    db *d = &s->dbs[c->dbid];
    entry *e = table_unlink(&d->keys, ref);
    cluster_count_key(c->dbid, key, len, -1);
    if (e->has_expire)
        d->expires--;
    entry_free(e);
    return 1;
}

entry *db_detach(cmd_ctx *c, entry *e)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    shard *s = ctx_shard(c, k, klen);
    snapshot_before_write(s, c->dbid, k, klen);
    db *d = &s->dbs[c->dbid];
    entry **ref = table_find_ref(&d->keys, k, klen);
    entry *got = table_unlink(&d->keys, ref);
    cluster_count_key(c->dbid, k, klen, -1);
    if (got->has_expire)
        d->expires--;
    return got;
}

entry *db_set_expire(cmd_ctx *c, entry *e, int64_t when_ms)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    shard *s = ctx_shard(c, k, klen);
    snapshot_before_write(s, c->dbid, k, klen);
    db *d = &s->dbs[c->dbid];
    entry **ref = table_find_ref(&d->keys, k, klen);
    int had = e->has_expire;
    entry *n = entry_set_expire(e, when_ms);
    if (n != e)
        table_ref_set(ref, n); /* same key: same chain position and tag */
    d->expires += (size_t)n->has_expire - (size_t)had;
    return n;
}

/* Types a blocked client can wait for (BLPOP, BZPOPMIN, XREAD). */
static int blockable_type(int type)
{
    return type == OBJ_LIST || type == OBJ_ZSET || type == OBJ_STREAM;
}

void db_signal_modified(cmd_ctx *c, const char *key, size_t len)
{
    shard *s = ctx_shard(c, key, len);
    stat_inc(&s->stats.dirty);
    if (db_watch_hook)
        db_watch_hook(s, c->dbid, key, len);
    tracking_key_changed(s, key, len, c->cl ? c->cl->id : 0);
    /* Any write that leaves a list, sorted set or stream at the key may serve a blocked client
     * (a push, but also RENAME, MOVE, RESTORE onto it). */
    if (s->blocking) {
        entry **ref = table_find_ref(&s->dbs[c->dbid].keys, key, len);
        if (ref && blockable_type(table_ref_entry(ref)->type))
            block_signal_key(c, key, len);
    }
}

void db_notify(cmd_ctx *c, int type, const char *event, const char *key, size_t len)
{
    notify_keyspace_event(c, type, event, key, len);
}

size_t db_size(shard *s, int dbid)
{
    return table_count(&s->dbs[dbid].keys);
}

void db_flush(shard *s, int dbid)
{
    /* Before clearing: WATCH is told only of the watched keys that existed (Redis 7). */
    if (db_flush_hook)
        db_flush_hook(s, dbid);
    snapshot_flush_shard(s);
    if (dbid <= 0)
        cluster_forget_shard_keys(s->id);
    for (int i = 0; i < s->ndbs; i++) {
        if (dbid >= 0 && i != dbid)
            continue;
        table_clear(&s->dbs[i].keys);
        s->dbs[i].expires = 0;
        s->dbs[i].expire_cursor = 0;
    }
}

void db_swap(shard *s, int id1, int id2)
{
    if (id1 == id2)
        return;
    snapshot_flush_shard(s);
    db tmp = s->dbs[id1];
    s->dbs[id1] = s->dbs[id2];
    s->dbs[id2] = tmp;
    /* Without a precise hook, every WATCHer of either db is told: a false abort of EXEC is
     * allowed, a missed change is not. */
    if (db_swap_hook) {
        db_swap_hook(s, id1, id2);
    } else if (db_flush_hook) {
        db_flush_hook(s, id1);
        db_flush_hook(s, id2);
    }
}

/* ---- active expiry ----------------------------------------------------------------------- */

#define EXPIRE_BUCKETS_PER_STEP 64

struct expire_scan {
    shard *s;
    int dbid;
    int64_t now;
    entry *victims[256];
    int n;
    int seen;
};

static void expire_scan_cb(void *arg, entry *e)
{
    struct expire_scan *x = arg;
    if (e->has_expire) {
        x->seen++;
        if (entry_expire(e) <= x->now && x->n < (int)(sizeof(x->victims) / sizeof(x->victims[0])))
            x->victims[x->n++] = e;
    }
}

void db_active_expire(shard *s, uint64_t budget_us)
{
    /* A replica waits for its master's DELs; a master handing over keeps its offset still. */
    if (!server.cfg.active_expire_enabled || repl_is_replica() || repl_expiry_paused())
        return;
    uint64_t start = clock_mono_us();
    cmd_ctx c = {.now_ms = clock_wall_ms()};
    for (int round = 0; round < s->ndbs; round++) {
        int dbid = (s->expire_db + round) % s->ndbs;
        db *d = &s->dbs[dbid];
        /* Rehash a little on every tick too, so idle shards finish a resize. */
        table_rehash_step(&d->keys, 16);
        if (d->expires == 0)
            continue;
        c.dbid = dbid;
        do {
            struct expire_scan x = {.s = s, .dbid = dbid, .now = c.now_ms};
            for (int i = 0; i < EXPIRE_BUCKETS_PER_STEP; i++) {
                d->expire_cursor = table_scan(&d->keys, d->expire_cursor, expire_scan_cb, &x);
                if (d->expire_cursor == 0)
                    break;
            }
            for (int i = 0; i < x.n; i++) {
                size_t klen;
                const char *k = entry_key(x.victims[i], &klen);
                entry **ref = table_find_ref(&d->keys, k, klen);
                if (ref)
                    expire_entry(&c, s, dbid, ref);
            }
            if (d->expire_cursor == 0 || x.n * 10 < x.seen + 1)
                break; /* few expired keys here: move on */
        } while (clock_mono_us() - start < budget_us);
        if (clock_mono_us() - start >= budget_us) {
            s->expire_db = dbid;
            return;
        }
    }
}

/* ---- eviction ---------------------------------------------------------------------------- */

#define EVICT_MAX_PER_CALL 1024
#define EVICT_DRAWS_PER_SAMPLE 8 /* random draws allowed per wanted eviction candidate */

static int policy_volatile(void)
{
    return server.policy == MAXMEMORY_VOLATILE_LRU || server.policy == MAXMEMORY_VOLATILE_LFU ||
           server.policy == MAXMEMORY_VOLATILE_RANDOM || server.policy == MAXMEMORY_VOLATILE_TTL;
}

/* Higher score: better eviction candidate. */
static uint64_t evict_score(const entry *e)
{
    switch (server.policy) {
    case MAXMEMORY_ALLKEYS_LRU:
    case MAXMEMORY_VOLATILE_LRU: return entry_idle_secs(e);
    case MAXMEMORY_ALLKEYS_LFU:
    case MAXMEMORY_VOLATILE_LFU: return 255 - (uint64_t)lfu_decayed(e);
    case MAXMEMORY_VOLATILE_TTL: return UINT64_MAX - (uint64_t)entry_expire(e);
    default: return 0;
    }
}

struct volatile_find {
    entry *found;
};

static void volatile_find_cb(void *arg, entry *e)
{
    struct volatile_find *f = arg;
    if (!f->found && e->has_expire)
        f->found = e;
}

/* The first key with a TTL in scan order, or NULL. Only for when random draws keep missing
 * (few keys have a TTL), so its bias toward the first buckets does not matter. */
static entry *find_volatile(table *t)
{
    struct volatile_find f = {NULL};
    uint64_t cursor = 0;
    do
        cursor = table_scan(t, cursor, volatile_find_cb, &f);
    while (!f.found && cursor);
    return f.found;
}

/* Samples maxmemory-samples keys of the shard and evicts the best candidate. Returns 1 when a
 * key was evicted. */
static int evict_one(shard *s)
{
    int volatile_only = policy_volatile();
    entry *best = NULL;
    int best_db = -1;
    uint64_t best_score = 0;
    int samples = (int)server.cfg.maxmemory_samples;
    for (int dbid = 0; dbid < s->ndbs; dbid++) {
        db *d = &s->dbs[dbid];
        if (table_count(&d->keys) == 0 || (volatile_only && d->expires == 0))
            continue;
        /* Up to `samples` candidates, within a bounded number of draws: under a volatile policy
         * most draws may hit keys without a TTL. */
        int seen = 0;
        for (int i = 0; i < samples * EVICT_DRAWS_PER_SAMPLE && seen < samples; i++) {
            entry *e = table_random(&d->keys, shard_rand(s));
            if (!e || (volatile_only && !e->has_expire))
                continue;
            seen++;
            uint64_t sc = evict_score(e);
            if (!best || sc > best_score) {
                best = e;
                best_score = sc;
                best_db = dbid;
            }
            if (server.policy == MAXMEMORY_ALLKEYS_RANDOM ||
                server.policy == MAXMEMORY_VOLATILE_RANDOM)
                break;
        }
        if (!best && volatile_only) {
            /* The draws missed the few keys with a TTL: find one by walking the table. */
            best = find_volatile(&d->keys);
            best_db = dbid;
        }
        if (best && (server.policy == MAXMEMORY_ALLKEYS_RANDOM ||
                     server.policy == MAXMEMORY_VOLATILE_RANDOM))
            break;
    }
    if (!best)
        return 0;
    db *d = &s->dbs[best_db];
    size_t klen;
    const char *k = entry_key(best, &klen);
    snapshot_before_write(s, best_db, k, klen);
    if (db_watch_hook)
        db_watch_hook(s, best_db, k, klen);
    tracking_key_changed(s, k, klen, 0);
    entry **ref = table_find_ref(&d->keys, k, klen);
    entry *e = table_unlink(&d->keys, ref);
    cluster_count_key(best_db, k, klen, -1);
    if (e->has_expire)
        d->expires--;
    cmd_ctx c = {.dbid = best_db, .now_ms = clock_wall_ms()};
    db_notify(&c, NOTIFY_EVICTED, "evicted", k, klen);
    journal_tap_deleted(best_db, k, klen); /* replicas delete it when the master says so */
    entry_free(e);
    stat_inc(&s->stats.evicted_keys);
    return 1;
}

int db_evict_if_needed(shard *s, int dbid_hint)
{
    (void)dbid_hint;
    long long max = server.cfg.maxmemory;
    if (max <= 0 || zmalloc_used() <= max)
        return 0;
    if (server.policy == MAXMEMORY_NOEVICTION)
        return -1;
    /* Success is judged when this shard's evictions got under the limit: re-reading the sum
     * afterwards would also count what other shards allocated meanwhile, and fail a write
     * that this shard did make room for. */
    for (int i = 0; i < EVICT_MAX_PER_CALL; i++) {
        if (zmalloc_used() <= max)
            return 0;
        if (!evict_one(s))
            return -1;
    }
    return zmalloc_used() > max ? -1 : 0;
}

/* ---- loading (rdb_load.c) ----------------------------------------------------------------- */

/* Stores e, read from a snapshot, in database dbid of shard s, on behalf of s (its thread,
 * while server.loading keeps commands away). A key of the same name is replaced: the later
 * record of a file wins. The LRU/LFU data comes from the file's hints as Redis's
 * objectSetLRUOrLFU sets it (idle seconds under an LRU policy, the counter under LFU; -1: none),
 * else is fresh. No notification or WATCH: nothing to tell while loading. Returns 1 when a key
 * was replaced. */
int db_load_entry(shard *s, int dbid, entry *e, int64_t idle_secs, int freq)
{
    db *d = &s->dbs[dbid];
    size_t klen;
    const char *k = entry_key(e, &klen);
    entry_init_lru(e);
    if (lfu_policy() && freq >= 0)
        e->lru = (lfu_minutes() << 8) | ((uint32_t)freq & 0xff);
    else if (!lfu_policy() && idle_secs >= 0)
        e->lru = (lru_clock() - (idle_secs > LRU_CLOCK_MAX ? LRU_CLOCK_MAX : (uint32_t)idle_secs)) &
                 LRU_CLOCK_MAX;
    snapshot_before_write(s, dbid, k, klen);
    entry **ref = table_find_ref(&d->keys, k, klen);
    d->expires += (size_t)e->has_expire;
    if (!ref) {
        table_insert(&d->keys, e);
        cluster_count_key(dbid, k, klen, 1);
        return 0;
    }
    entry *old = table_replace(&d->keys, ref, e);
    d->expires -= (size_t)old->has_expire;
    entry_free(old);
    return 1;
}
