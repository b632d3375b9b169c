/* Cluster mode: which hash slots this node serves, as the control plane tells it.
 *
 * There is no gossip. With --cluster_mode=yes a node serves nothing until DFLYCLUSTER CONFIG
 * (on the admin port) gives it the whole topology as JSON (Dragonfly's format): an array of
 * shards, each with its slot ranges, its master, its replicas and optional outgoing migrations.
 * Keys of slots the node does not serve get -MOVED to the owning master; keys of one command
 * that hash to several slots get -CROSSSLOT. --cluster_mode=emulated is a single node that owns
 * every slot, for clients that insist on talking to a cluster.
 *
 * The configuration in force is immutable and shared by every thread: a new one replaces it with
 * one atomic pointer swap, and the old one is freed after every worker has gone back to its loop
 * once (readers never keep the pointer past the event they handle).
 *
 * cluster_config.c parses and validates the JSON (no side effects: the fuzzer drives it);
 * cluster.c holds the configuration in force, the routing checks and the per-slot counters;
 * t_cluster.c has the CLUSTER, DFLYCLUSTER, READONLY, READWRITE and ASKING commands. */
#ifndef DFLY_CLUSTER_H
#define DFLY_CLUSTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "command.h"
#include "db.h"

#define CLUSTER_NODE_ID_LEN 40  /* generated ids: hex digits, like Redis's */
#define CLUSTER_NODE_ID_MAX 128 /* longest id accepted from --cluster_node_id or a config */
#define CLUSTER_IP_MAX 255      /* longest "ip" (an address or a host name) in a config */
#define CLUSTER_PORT_MAX 65535
#define CLUSTER_NODE_ID_FILE "nodes.id" /* in --dir: the generated id, kept across restarts */

enum cluster_mode { CLUSTER_OFF = 0, CLUSTER_EMULATED, CLUSTER_YES };
/* The --cluster_mode in force; set once by cluster_init, before the workers start. */
extern int cluster_mode;

/* ---- the configuration (cluster_config.c) ---------------------------------------------------- */

typedef struct cluster_slot_range {
    uint16_t start, end; /* inclusive */
} cluster_slot_range;

typedef struct cluster_node {
    char *id;
    char *ip;
    int port;
} cluster_node;

/* Slots a shard's master hands to another node (the target). */
typedef struct cluster_migration {
    cluster_node target; /* "node_id", "ip", "port" in the JSON */
    cluster_slot_range *ranges;
    int nranges;
} cluster_migration;

typedef struct cluster_shard {
    cluster_slot_range *ranges;
    int nranges;
    cluster_node master;
    cluster_node *replicas;
    int nreplicas;
    cluster_migration *migrations;
    int nmigrations;
} cluster_shard;

enum cluster_role { CLUSTER_ROLE_NONE = 0, CLUSTER_ROLE_MASTER, CLUSTER_ROLE_REPLICA };

/* A whole topology, as seen by one node (my_shard, my_role). Never changed once in force. */
typedef struct cluster_config {
    cluster_shard *shards;
    int nshards;
    uint16_t slot_shard[CLUSTER_SLOTS]; /* index in shards[] of the shard serving each slot */
    int my_shard;                       /* the shard this node belongs to, or -1 */
    int my_role;                        /* CLUSTER_ROLE_* in my_shard */
    uint64_t epoch;                     /* set when put in force: 1, 2, 3... */
} cluster_config;

/* Parses and validates a DFLYCLUSTER CONFIG document for the node my_id. Returns a new config,
 * or NULL with the reason in err (for the log; clients get one fixed error). Checks: JSON of the
 * documented shape and types; every slot 0..16383 in exactly one range; start <= end; node ids
 * unique (masters and replicas) and made of printable characters without spaces; ports
 * 1..65535; migrations within their shard's slots, each slot in at most one, towards the master
 * of another shard. Pure: no global state is read or written. */
cluster_config *cluster_config_parse(const char *json, size_t len, const char *my_id, char *err,
                                     size_t errlen);
void cluster_config_free(cluster_config *cfg);
/* 1 when id is acceptable as a node id (1..CLUSTER_NODE_ID_MAX printable non-space bytes). */
int cluster_valid_id(const char *id, size_t len);
/* 1 when this node serves slot as its master, per cfg. */
static inline int cluster_config_owns(const cluster_config *cfg, uint16_t slot)
{
    return cfg->my_role == CLUSTER_ROLE_MASTER && cfg->slot_shard[slot] == cfg->my_shard;
}
/* 1 when this node holds slot's keys: as its master or as one of its replicas. */
static inline int cluster_config_holds(const cluster_config *cfg, uint16_t slot)
{
    return cfg->my_role != CLUSTER_ROLE_NONE && cfg->slot_shard[slot] == cfg->my_shard;
}

/* ---- the node and the configuration in force (cluster.c) ------------------------------------- */

/* Parses a --cluster_mode value: "no" (or empty), "yes", "emulated". Returns 0 or -1. */
int cluster_mode_parse(const char *s, int *out);
/* Startup, after the command table and the shards exist and the process is in --dir: sets
 * cluster_mode, the node id (--cluster_node_id, else the one in CLUSTER_NODE_ID_FILE, else a new
 * one written there) and the per-slot counters. Returns 0, or -1 with err. */
int cluster_init(char *err, size_t errlen);
static inline int cluster_enabled(void)
{
    return cluster_mode != CLUSTER_OFF;
}
const char *cluster_my_id(void);

/* The configuration in force (NULL before the first DFLYCLUSTER CONFIG, and always in emulated
 * mode). Valid until the calling thread returns to its event loop: never keep it longer. */
const cluster_config *cluster_current(void);
/* Puts cfg in force (taking ownership) and drops the keys of the slots this node no longer
 * holds, which the caller's shards must all be held for. Returns the number of keys dropped. */
size_t cluster_apply(cmd_ctx *c, cluster_config *cfg);
/* Deletes every key of db 0 whose slot is set in the bitmap slots (CLUSTER_SLOTS bits), in every
 * shard; the caller holds them all. Returns how many were deleted. */
size_t cluster_drop_slots(cmd_ctx *c, const uint8_t *slots);

/* ---- routing checks (dispatch.c); each replies the error and returns 1 when it refuses --------
 */

/* A command about to run (dispatch_run): CROSSSLOT, MOVED, CLUSTERDOWN; counts the reads or
 * writes of its slot when it may run. */
int cluster_refuse_command(cmd_ctx *c);
/* A command being queued by MULTI: the same checks, nothing counted. */
int cluster_refuse_queued(cmd_ctx *c);
/* EXEC: the keys of every queued command must hash to one slot this node serves, else the
 * transaction is discarded with CROSSSLOT or MOVED, as Redis does. */
int cluster_refuse_exec(cmd_ctx *c);
/* Every command (dispatch_call): SELECT of another db, MOVE, SWAPDB and COPY ... DB are
 * refused; commands inside EXEC and scripts count their slot's reads or writes, and a script may
 * only touch keys of slots this node serves. */
int cluster_refuse_call(cmd_ctx *c);

/* ---- per-slot counters (db.c keeps the key counts) ------------------------------------------ */

/* Counters of one slot. Written by whoever holds the slot's shard, read from any thread. */
typedef struct cluster_slot_stats {
    _Atomic uint64_t keys; /* keys of db 0 */
    _Atomic uint64_t reads;
    _Atomic uint64_t writes;
} cluster_slot_stats;

/* Per shard (NULL outside cluster mode): the counters of that shard's slots, slot / nshards. */
extern cluster_slot_stats *cluster_stats_of[];
extern int dfly_nshards;

static inline cluster_slot_stats *cluster_slot_stat(uint16_t slot)
{
    return &cluster_stats_of[slot_shard(slot)][slot / (unsigned)dfly_nshards];
}
static inline void cluster_counter_add(_Atomic uint64_t *v, int64_t delta)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + (uint64_t)delta,
                          memory_order_relaxed);
}
/* db.c: a key of db dbid appeared (delta 1) or went away (-1). Cheap when cluster mode is off. */
static inline void cluster_count_key(int dbid, const char *key, size_t len, int delta)
{
    if (__builtin_expect(cluster_mode != CLUSTER_OFF, 0) && dbid == 0)
        cluster_counter_add(&cluster_slot_stat(key_slot(key, len))->keys, delta);
}
/* db.c: db 0 of shard s (or every db) was emptied. */
void cluster_forget_shard_keys(int shard_id);
/* Keys of db 0 in slot (all shards). */
uint64_t cluster_slot_key_count(uint16_t slot);

/* ---- status (INFO cluster, /metrics) --------------------------------------------------------- */

typedef struct cluster_status {
    int mode;              /* CLUSTER_* */
    int configured;        /* a configuration is in force (always in emulated mode) */
    int slots_served;      /* slots this node serves as master */
    int known_nodes;       /* masters and replicas of the configuration */
    int migrations_out;    /* migrations of this node's slots in the configuration */
    int migrations_in;     /* migrations towards this node */
    uint64_t epoch;        /* configurations put in force so far */
    uint64_t keys_dropped; /* keys deleted because their slots left this node */
} cluster_status;
void cluster_get_status(cluster_status *st);
/* INFO's "# Cluster" lines. */
void cluster_info_section(buf *out);

#endif
