/* Reading whole RDB files (Redis 7.0's RDB 10, and 7.2's 11 where only the number differs) into
 * the shards. */
#ifndef DFLY_RDB_LOAD_H
#define DFLY_RDB_LOAD_H

#include <stddef.h>

/* Loads the RDB file at path into the shards, from a thread that is not a worker (the loader
 * thread): keys travel to their shards' threads in batches and this call returns when all are
 * stored. An encrypted file is decrypted with --snapshot_encryption_key_file. Returns 0, or -1
 * with err naming the file, the offset and what is wrong (nothing is left half loaded: the
 * caller flushes). */
int rdb_load_file(const char *path, char *err, size_t errlen);

#endif
