/* Shards and their databases, and the keyspace operations commands use.
 *
 * The keyspace is split into server.nshards shards; a key lives in shard
 * key_slot(key) % nshards, where key_slot is Redis Cluster's CRC16 slot with hash tags. Each
 * shard has `databases` tables. A shard's data is touched only by its own thread, or by the
 * thread that runs a transaction holding it (tx.h): every db_* function assumes the caller runs
 * on behalf of the key's shard. */
#ifndef DFLY_DB_H
#define DFLY_DB_H

#include <stdatomic.h>
#include <stdint.h>

#include "command.h"
#include "object.h"
#include "table.h"

#define CLUSTER_SLOTS 16384

struct tx;
struct local_op;
struct watch_table;

typedef struct db {
    table keys;
    size_t expires; /* keys with a TTL */
    uint64_t expire_cursor;
} db;

/* Counters of a shard; written by whoever runs for the shard, read by INFO from any thread. */
typedef struct shard_stats {
    _Atomic uint64_t expired_keys;
    _Atomic uint64_t evicted_keys;
    _Atomic uint64_t keyspace_hits;
    _Atomic uint64_t keyspace_misses;
    _Atomic uint64_t dirty; /* writes since the last save */
    _Atomic int64_t expired_stale_perc;
} shard_stats;

typedef struct shard {
    int id;
    int ndbs;
    db *dbs;
    shard_stats stats;
    uint64_t rng;
    /* Transaction scheduling (tx.c). */
    struct tx_node *txq_head, *txq_tail;          /* sorted by txid */
    struct tx_node *held_by;                      /* the transaction holding the shard, if any */
    uint64_t committed_txid;                      /* highest txid that has held the shard */
    struct local_op *pending_head, *pending_tail; /* work that waits for the holder */
    /* WATCHed keys of this shard (multi.c). */
    struct watch_table *watch;
    /* Clients blocked on keys of this shard (blocking.c). */
    struct block_table *blocking;
    int expire_db;
    /* The snapshot serializing this shard, if any (snapshot.c). */
    struct snap_shard *snap;
} shard;

extern shard **shards;

void shards_init(int n, int ndbs);
void shards_free(void);

uint16_t key_slot(const char *key, size_t len);
static inline int slot_shard(uint16_t slot)
{
    extern int dfly_nshards;
    return slot % dfly_nshards;
}
static inline int key_shard(const char *key, size_t len)
{
    extern int dfly_nshards;
    return dfly_nshards == 1 ? 0 : slot_shard(key_slot(key, len));
}
static inline shard *shard_of(const char *key, size_t len)
{
    return shards[key_shard(key, len)];
}
/* Remembers in c that key lives on shard id (computed by the caller). */
static inline void ctx_key_shard_known(cmd_ctx *c, const char *key, size_t len, int id)
{
    if (len && len <= CTX_KEY_CACHE) {
        __builtin_memcpy(c->kc_key, key, len);
        c->kc_len = len;
        c->kc_shard = id;
        c->kc_hashed = 0;
    }
}
/* Remembers the table hash of the key ctx_key_shard_known just remembered. */
static inline void ctx_key_hash_known(cmd_ctx *c, size_t len, uint64_t hash)
{
    if (len && len == c->kc_len) {
        c->kc_hash = hash;
        c->kc_hashed = 1;
    }
}
/* table_hash of key: the remembered one when it is that key. */
static inline uint64_t ctx_key_hash(const cmd_ctx *c, const char *key, size_t len)
{
    if (c->kc_hashed && len == c->kc_len && __builtin_memcmp(key, c->kc_key, len) == 0)
        return c->kc_hash;
    return table_hash(key, len);
}
/* The shard of key, remembered in c for the next lookup of the same key. */
static inline int ctx_key_shard(cmd_ctx *c, const char *key, size_t len)
{
    extern int dfly_nshards;
    if (dfly_nshards == 1)
        return 0;
    if (len == c->kc_len && __builtin_memcmp(key, c->kc_key, len) == 0)
        return c->kc_shard;
    int id = key_shard(key, len);
    ctx_key_shard_known(c, key, len, id);
    return id;
}
static inline shard *ctx_shard(cmd_ctx *c, const char *key, size_t len)
{
    return shards[ctx_key_shard(c, key, len)];
}
static inline db *ctx_db(cmd_ctx *c, const char *key, size_t len)
{
    return &ctx_shard(c, key, len)->dbs[c->dbid];
}

/* Lookups: NULL when the key is absent or expired (an expired key is deleted on the way).
 * _read counts a keyspace hit or miss; both refresh the LRU/LFU data. */
entry *db_lookup_read(cmd_ctx *c, const char *key, size_t len);
entry *db_lookup_write(cmd_ctx *c, const char *key, size_t len);
/* A read lookup that counts the hit or miss but leaves the LRU/LFU data alone (Redis's
 * LOOKUP_NOTOUCH: EXISTS, TYPE, TTL, OBJECT). */
entry *db_lookup_read_notouch(cmd_ctx *c, const char *key, size_t len);
/* Lookup without side effects on LRU or stats (still drops an expired key). */
entry *db_peek(cmd_ctx *c, const char *key, size_t len);
/* 1 after replying WRONGTYPE when e is not NULL and not of `type`. */
int db_wrong_type(cmd_ctx *c, const entry *e, int type);

/* Adds e (its key must be absent). */
void db_add(cmd_ctx *c, entry *e);
/* Adds or overwrites e's key. With keep_ttl the old TTL, if any, moves to e. Returns the entry
 * as stored (it may be a new address). */
entry *db_put(cmd_ctx *c, entry *e, int keep_ttl);
/* Replaces the stored entry of the same key by n (old is freed). Returns n. */
entry *db_replace(cmd_ctx *c, entry *old, entry *n);
/* Deletes key; returns 1 when it existed. */
int db_delete(cmd_ctx *c, const char *key, size_t len);
/* Removes the entry from its table without freeing it (for moves); returns it. */
entry *db_detach(cmd_ctx *c, entry *e);
/* Sets (when_ms >= 0) or removes (when_ms < 0) the key's expiry; returns the entry as stored. */
entry *db_set_expire(cmd_ctx *c, entry *e, int64_t when_ms);
/* Marks a key modified: WATCH invalidation and the dirty counter. Call after every write. */
void db_signal_modified(cmd_ctx *c, const char *key, size_t len);
/* Keyspace notification hook (type: a NOTIFY_* class, event: "set", "del"...). */
void db_notify(cmd_ctx *c, int type, const char *event, const char *key, size_t len);

/* Per-db operations over one shard. */
size_t db_size(shard *s, int dbid);
void db_flush(shard *s, int dbid); /* dbid -1: every db */
/* Exchanges databases id1 and id2 of shard s (SWAPDB, run on every shard) and tells WATCH. */
void db_swap(shard *s, int id1, int id2);
int db_expired(const entry *e, int64_t now_ms);
/* Redis's checkAlreadyExpired: whether a command giving a key the expiry `when` deletes it at
 * once (EXPIRE and the like, GETEX, RESTORE, SET with a time past). Not on a replica, nor while
 * loading: there the command replays what a master did while the time was still ahead, so the
 * key stays, expired, until the master's DEL, and what the master ran after it (a RENAME of the
 * key, say) finds it too. */
int db_expiry_passed(const cmd_ctx *c, int64_t when);

/* Deletes expired keys of shard s's databases within a time budget (active expiry). */
void db_active_expire(shard *s, uint64_t budget_us);
/* Evicts keys from shard s while used_memory is above maxmemory. Returns 0 when under the
 * limit afterwards, -1 when the policy cannot free enough (noeviction or no candidates). */
int db_evict_if_needed(shard *s, int dbid_hint);
/* The LRU clock in seconds (23 bits), and LFU helpers. */
uint32_t lru_clock(void);
void entry_touch(entry *e);
/* Idle seconds of e (OBJECT IDLETIME), and its LFU counter (OBJECT FREQ). */
uint64_t entry_idle_secs(const entry *e);
int entry_lfu_count(const entry *e);

uint64_t shard_rand(shard *s);

/* Notification classes (for db_notify). */
enum {
    NOTIFY_KEYSPACE = 1 << 0,
    NOTIFY_KEYEVENT = 1 << 1,
    NOTIFY_GENERIC = 1 << 2,
    NOTIFY_STRING = 1 << 3,
    NOTIFY_LIST = 1 << 4,
    NOTIFY_SET = 1 << 5,
    NOTIFY_HASH = 1 << 6,
    NOTIFY_ZSET = 1 << 7,
    NOTIFY_EXPIRED = 1 << 8,
    NOTIFY_EVICTED = 1 << 9,
    NOTIFY_STREAM = 1 << 10,
    NOTIFY_KEY_MISS = 1 << 11,
    NOTIFY_NEW = 1 << 12,
};

/* Called for every key write (set by multi.c for WATCH). */
extern void (*db_watch_hook)(shard *s, int dbid, const char *key, size_t len);
/* Called just before a whole db (dbid >= 0) or every db (-1) of a shard is flushed, while
 * its keys are still there. */
extern void (*db_flush_hook)(shard *s, int dbid);
/* Called after db_swap exchanged dbs id1 and id2 of shard s: WATCHed keys of either db that
 * exist in either must be touched. When unset, db_swap calls db_flush_hook for both dbs. */
extern void (*db_swap_hook)(shard *s, int id1, int id2);

/* Loading (rdb_load.c): stores e, read from a snapshot, in db dbid of shard s, on behalf of s;
 * replaces a key of the same name (returns 1 then). idle_secs and freq are the file's LRU/LFU
 * hints, -1 when absent. */
int db_load_entry(shard *s, int dbid, entry *e, int64_t idle_secs, int freq);

#endif
