/* MULTI/EXEC/DISCARD and WATCH/UNWATCH.
 *
 * EXEC runs every queued command while one transaction holds the shards of all their keys and
 * of the watched keys, so no other client sees a part of it. WATCH registers the client in the
 * watched key's shard (a per-shard table); every write to that key marks the client's watch
 * state dirty. Registrations are never removed by the client's thread: it marks its state dead
 * and the shards drop dead entries as they meet them or on their timer. */
#ifndef DFLY_MULTI_H
#define DFLY_MULTI_H

#include "client.h"
#include "db.h"

/* Copies a command into the client's MULTI queue. */
void multi_queue(client *cl, const command *cmd, int argc, const slice *argv);
/* Drops the queue and the watches (DISCARD, RESET, disconnect). */
void multi_reset(client *cl);
/* Forgets every WATCH of the client. */
void multi_unwatch(client *cl);
/* Installs the db hooks; call once at startup. */
void multi_init(void);
/* Removes dead watch registrations from a shard (WATCH also does so a few buckets at a time).
 * Runs on the shard's thread, or on the thread of a transaction holding it. */
void multi_shard_sweep(shard *s);
/* Frees a shard's watch registrations; at shutdown, once no thread runs commands. */
void multi_shard_free(shard *s);
/* multi_shard_free for every shard; call before shards_free(). */
void multi_shards_free(void);

#endif
