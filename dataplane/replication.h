/* Master-replica replication, wire-compatible with Redis 7.0 (PSYNC2).
 *
 * Master side (replication.c). Every write reaches the replication stream through the
 * journal's tap (journal.h): the same deterministic RESP records the append-only file gets, in
 * one order, plus a DEL for each key that expires or is evicted. The stream feeds a shared
 * buffer of blocks: its last repl-backlog-size bytes are the backlog, and each replica streams
 * from its own position in it (nothing is copied per replica until it is written). A replica
 * asks PSYNC <replid> <offset>: within the backlog it continues (+CONTINUE); otherwise it gets
 * +FULLRESYNC <replid> <offset> and a point-in-time snapshot (snapshot.h, forkless, all shards
 * in parallel) as "$EOF:<mark>" ... <mark>, then the stream from that snapshot's point on.
 * Replicas that ask while a snapshot is being taken wait for the next one; several waiting
 * replicas share it. Replicas acknowledge with REPLCONF ACK <offset>; WAIT and
 * min-replicas-to-write count those acknowledgements.
 *
 * Replica side (replica.c). One link thread connects to the master, does the handshake,
 * receives the snapshot into a file and loads it (-LOADING meanwhile), then applies the stream
 * through replay.h (per-shard parallel, in order), feeds the same bytes to its own backlog, and
 * acknowledges every second and after each batch. Keys never expire on a replica by themselves:
 * they read as absent to clients once expired, and go when the master's DEL arrives. A broken
 * link is retried every second with PSYNC, so a short break costs no full copy.
 *
 * Replication ids: a master's replid names its history; a replica adopts its master's replid
 * and offset. A replica that becomes master (REPLICAOF NO ONE, REPLTAKEOVER) keeps the old id
 * as replid2 up to its offset, so the other replicas of the old master continue with PSYNC. */
#ifndef DFLY_REPLICATION_H
#define DFLY_REPLICATION_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "command.h"

struct client;

#define REPL_ID_LEN 40
#define ERR_READONLY "READONLY You can't write against a read only replica."
#define ERR_NOREPLICAS "NOREPLICAS Not enough good replicas to write."

/* ---- startup and shutdown (main.c) ---------------------------------------------------------- */

/* After the workers started: installs WAIT's hooks, the cron, and with --replicaof starts the
 * link to the master. */
void replication_init(void);
/* Before the workers are quiesced: stops the link thread and the snapshot forwarders. */
void replication_shutdown(void);

/* Cluster mode: the configuration in force makes this node a replica of master_ip:port
 * (replica 1), or a master (replica 0), which stops replicating if it did. Any worker thread;
 * done by the link thread soon after. */
void replication_follow(int replica, const char *master_ip, int master_port);

/* CONFIG SET of replica-read-only or min-replicas-*: the write guards follow. */
void replication_config_changed(void);

/* ---- the command path ------------------------------------------------------------------------ */

/* Nonzero while some writes must be refused: a read-only replica, min-replicas-to-write not
 * met, or a master that handed over to a replica (REPLTAKEOVER). */
extern atomic_int repl_write_guard;
/* Replies the error and returns 1 when the write command cmd may not run for c now. */
int repl_refuse_write_slow(cmd_ctx *c, const struct command *cmd);
static inline int repl_refuse_write(cmd_ctx *c, const struct command *cmd)
{
    return __builtin_expect(atomic_load_explicit(&repl_write_guard, memory_order_relaxed), 0) &&
           (cmd->flags & CMD_WRITE) && !(c->flags & CTX_MASTER) && repl_refuse_write_slow(c, cmd);
}

/* 1 while this node is a replica (REPLICAOF host port): keys expire only by the master's DEL. */
extern atomic_int repl_replica_mode;
static inline int repl_is_replica(void)
{
    return atomic_load_explicit(&repl_replica_mode, memory_order_relaxed);
}

/* 1 while this master hands over to a replica (REPLTAKEOVER): active expiry waits, so that
 * the stream stays still while the replica catches up. */
extern atomic_int repl_handover;
static inline int repl_expiry_paused(void)
{
    return atomic_load_explicit(&repl_handover, memory_order_relaxed);
}

/* ---- client.c -------------------------------------------------------------------------------- */

/* A replica's connection closes (on its thread). */
void repl_client_closed(struct client *cl);
/* A write to a replica's connection completed: more of the stream may go (on its thread). */
void repl_client_written(struct client *cl);
/* Everything queued for a replica went to the kernel at once, so no write completion will ask
 * for the next part of the stream: a pump follows on its thread. */
void repl_client_drained(struct client *cl);

/* ---- INFO and /metrics ----------------------------------------------------------------------- */

void replication_info(buf *out); /* INFO replication */
/* INFO stats' sync_full, sync_partial_ok, sync_partial_err. */
enum { REPL_SYNC_FULL, REPL_SYNC_PARTIAL_OK, REPL_SYNC_PARTIAL_ERR };
long long replication_sync_count(int which);
void replication_metrics(buf *out); /* GET /metrics */

#endif
