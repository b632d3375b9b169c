/* Cluster slot migration: moving the keys of slot ranges from this node (the source) to another
 * (the target) while both keep serving, as a pushed configuration's `migrations` ask.
 *
 * Outgoing (the source), one thread per migration:
 *   CONNECTING  the thread connects to the target's admin port: DFLYMIGRATE INIT <source id>
 *               <flows> <ranges> (the target empties those slots and expects the flows), then
 *               one connection per shard: DFLYMIGRATE FLOW <source id> <shard>.
 *   SYNC        a transaction over every shard is the point in time: each shard's table of db 0
 *               is frozen and gets a bitmap of its buckets, the slots start forwarding. Each
 *               shard then serializes its buckets in slices on its own thread, as RESTORE ...
 *               REPLACE ABSTTL commands (DUMP payloads) of the keys of the migrating slots; a
 *               write to a bucket not yet serialized serializes it first (the snapshot's hook,
 *               snapshot_before_write), and the write itself reaches the same flow through the
 *               journal's slot tap right after. So a flow carries, in order, each key as it was
 *               at the point in time and then every later write to it: nothing lost, nothing
 *               applied twice. The target runs the flows' commands like a client's and replies;
 *               the thread counts the replies, and a refused command fails the migration.
 *   finalizing  once every shard is serialized and the target has nearly caught up, a
 *               transaction stops the slots' writes (clients get -TRYAGAIN), the rest drains,
 *               and DFLYMIGRATE ACK tells the target everything arrived.
 *   FINISHED    both sides. The source answers -ASK <slot> <target> for the slots' keys and the
 *               target serves them to connections that sent ASKING; the control plane then
 *               pushes the final configuration (the target owns the slots, the source drops
 *               their keys).
 *   ERROR       the target refused, went away or stopped answering: the migration is undone on
 *               the source (the slots are served here as before) and the reason kept for
 *               SLOT-MIGRATION-STATUS; pushing the configuration again starts it afresh.
 *
 * Incoming (the target): DFLYMIGRATE INIT/FLOW/ACK, accepted on the admin port only, for
 * migrations its configuration lists (t_migration.c). */
#ifndef DFLY_MIGRATION_H
#define DFLY_MIGRATION_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cluster.h"
#include "command.h"

struct shard;

#define MIGRATION_ERR_MAX 256
/* Answered to INIT for a migration the target's configuration does not list (yet): the source
 * tries again a little later (the control plane pushes configurations one node at a time). */
#define MIGRATION_UNKNOWN "UNKNOWN_MIGRATION"

enum migration_state {
    MIGRATION_CONNECTING = 0,
    MIGRATION_SYNC,
    MIGRATION_FINISHED,
    MIGRATION_ERROR,
};
const char *migration_state_name(int state);

/* What a slot is doing on the source (routing, cluster.c). */
enum {
    MIG_SLOT_NONE = 0,
    MIG_SLOT_SYNC,       /* served here and forwarded */
    MIG_SLOT_FINALIZING, /* the last writes drain: -TRYAGAIN */
    MIG_SLOT_MOVED,      /* the target has it all: -ASK */
};

/* ---- the configuration (cluster.c) ----------------------------------------------------------- */

/* A new configuration is in force; runs while every shard is held. Starts the outgoing
 * migrations it lists for this node that are not running (a failed one starts again), cancels
 * those it no longer lists, and forgets incoming ones it no longer lists. */
void migration_config_applied(const cluster_config *cfg);

/* ---- routing (cluster.c), by whoever holds the slot's shard ---------------------------------- */

/* MIG_SLOT_* of an outgoing slot. */
int migration_slot_phase(uint16_t slot);
/* The target's client address for -ASK (MIG_SLOT_MOVED). Returns 0, or -1 when unknown. */
int migration_ask_target(uint16_t slot, char *ip, size_t iplen, int *port);
/* 1 when slot is coming to this node and its data is all here (incoming FINISHED): a command
 * after ASKING may use it. */
int migration_importing(uint16_t slot);

/* ---- hooks ----------------------------------------------------------------------------------- */

/* snapshot_before_write: the key of shard s is about to change. */
void migration_before_write(struct shard *s, int dbid, const char *key, size_t len);
/* snapshot_flush_shard: s's databases are about to change wholesale. */
void migration_flush_shard(struct shard *s);

/* ---- status ---------------------------------------------------------------------------------- */

/* DFLYCLUSTER SLOT-MIGRATION-STATUS [node_id]: [direction, node id, state, keys, error] per
 * migration (error "0" when none), or NO_STATE when there is none to report. */
void migration_status_reply(cmd_ctx *c, const char *filter, size_t flen);
/* INFO cluster's migration lines, and /metrics' samples. */
void migration_info(buf *out);
void migration_metrics(buf *out);

/* ---- the target side (t_migration.c) --------------------------------------------------------- */

/* DFLYMIGRATE INIT: registers (or restarts) the incoming migration from source_id of these
 * slots, with nflows flows. Returns 0, 1 when the configuration does not list it, -1 on a
 * mismatch (err). Runs while every shard is held; the caller empties the slots. */
int migration_incoming_init(const char *source_id, size_t idlen, int nflows,
                            const cluster_slot_range *ranges, int nranges, char *err,
                            size_t errlen);
/* DFLYMIGRATE FLOW / ACK: 0, or -1 when there is no such incoming migration. */
int migration_incoming_flow(const char *source_id, size_t idlen, int flow);
int migration_incoming_ack(const char *source_id, size_t idlen);

/* ---- pure helpers (unit tests) --------------------------------------------------------------- */

/* Counts the complete RESP2 replies at the start of p: returns how many, sets *used to their
 * bytes and adds the error replies among them to *errors (the first one's text, cut, to err
 * when err is not NULL and still empty). Returns -1 on bytes that are not RESP. */
long migration_count_replies(const char *p, size_t len, size_t *used, long *errors, char *err,
                             size_t errlen);
/* Appends RESTORE key ttl payload REPLACE ABSTTL for a value (payload: type byte and value,
 * as rdb_save_object writes them; the DUMP footer is added here). ttl_ms 0: none. */
void migration_put_restore(buf *out, const char *key, size_t klen, int64_t ttl_ms,
                           const char *value, size_t vlen);

#endif
