/* Streams in Redis's RDB format: written as Redis 7.0 writes them (RDB_TYPE_STREAM_LISTPACKS_2),
 * read from Redis 5/6 (STREAM_LISTPACKS), 7.0 (STREAM_LISTPACKS_2) and 7.2 (STREAM_LISTPACKS_3,
 * whose consumers also carry an active time).
 *
 * A stream value is: the number of nodes; per node its master ID (16 bytes, big-endian, as an
 * RDB string) and a Redis listpack in Redis's stream-node layout; the length, last ID, first ID,
 * greatest deleted ID and entries-added counter; then the consumer groups, each with its name,
 * last delivered ID, entries-read counter, PEL (ID, delivery time, delivery count) and consumers
 * (name, seen time, [active time], the IDs they own).
 *
 * Reading checks everything our stream code relies on, as Redis's sanitize-dump-payload does
 * and more: listpack structure, entry counts, IDs strictly increasing within and across nodes,
 * the last ID not below the last entry, PEL entries owned by exactly one consumer of their
 * group. A payload that fails any check is refused whole. Called for the entry's shard. */
#ifndef DFLY_RDB_STREAM_H
#define DFLY_RDB_STREAM_H

#include "buf.h"
#include "object.h"
#include "rdb.h"

/* Appends e's stream value as RDB_TYPE_STREAM_LISTPACKS_2 and its value. */
void rdb_save_stream(buf *out, const entry *e);
/* Reads a stream of RDB type `type` (one of the three stream types) as a new entry for key,
 * owned by the caller; NULL when the input is malformed or inconsistent. An empty stream is a
 * value (XGROUP CREATE MKSTREAM makes one). */
entry *rdb_load_stream(rdb_reader *r, int type, const char *key, size_t klen);

#endif
