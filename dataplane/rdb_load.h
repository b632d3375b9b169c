/* Reading whole RDB files (Redis 7.0's RDB 10, and 7.2's 11 where only the number differs) into
 * the shards.
 *
 * Two layers: rdb_parse walks a file's bytes and hands every record to a sink (no shards, no
 * threads: the fuzz target runs it alone); rdb_load_file maps a file, decrypts it if needed and
 * parses it with a sink that sends the keys to their shards' threads. */
#ifndef DFLY_RDB_LOAD_H
#define DFLY_RDB_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "object.h"

/* The RDB versions we read: 1..RDB_LOAD_VERSION_MAX (Redis 7.0 writes 10, 7.2 and Valkey 11). */
#define RDB_LOAD_VERSION_MAX 11
#define RDB_LOAD_ERR_MAX 512

/* One key record of a file, as the parser hands it to the sink. */
typedef struct rdb_key_rec {
    int dbid;
    const char *key; /* valid during the callback only */
    size_t klen;
    entry *e;          /* the value with its key, without expiry: the sink owns it */
    int64_t expire_ms; /* absolute Unix time in ms, or -1 */
    int64_t idle_secs; /* the IDLE record before the key (LRU hint), or -1 */
    int freq;          /* the FREQ record before the key (LFU hint), or -1 */
} rdb_key_rec;

/* Where the records of a file go. Every callback may be NULL (a NULL key callback frees the
 * entry); each returns 0, or -1 after writing why into err, which stops the parse. */
typedef struct rdb_sink {
    void *arg;
    int (*aux)(void *arg, const char *key, size_t klen, const char *val, size_t vlen, char *err,
               size_t errlen);
    int (*select_db)(void *arg, uint64_t dbid, char *err, size_t errlen);
    int (*key)(void *arg, rdb_key_rec *rec, char *err, size_t errlen);
    /* A FUNCTION2 record: a library's code as FUNCTION LOAD takes it. */
    int (*function)(void *arg, const char *code, size_t len, char *err, size_t errlen);
    /* Called between records every RDB_PROGRESS_BYTES or so, and once at the end: every byte
     * before `offset` has been consumed and nothing points into it any more. */
    void (*progress)(void *arg, size_t offset);
} rdb_sink;

/* Parses a whole RDB file held in data[0..len): header, records, EOF and checksum (a zero
 * checksum means "not computed" and is accepted). Returns 0, or -1 with err saying what is wrong
 * and at which byte offset ("corrupt RDB at offset 1234: ..."). A file that ends early or goes on
 * after its checksum is refused. Any thread; touches no shard itself. */
int rdb_parse(const unsigned char *data, size_t len, const rdb_sink *sink, char *err,
              size_t errlen);

/* rdb_load_file's flags. */
enum {
    /* Keep keys whose expiry has passed (a journal's base file: Redis loads an AOF preamble
     * so, for the commands after it may still touch those keys). */
    RDB_LOAD_KEEP_EXPIRED = 1 << 0,
};

/* Loads the RDB file at path into the shards, from a thread that is not a worker (the loader
 * thread): keys travel to their shards' threads in batches and this call returns when all are
 * stored. An encrypted file is decrypted with --snapshot_encryption_key_file. Expects an empty
 * keyspace. Returns 0, or -1 with err naming the file, the offset and what is wrong; then every
 * shard has been flushed, so nothing is left half loaded (function libraries already added stay:
 * the server exits after a failed load). A load cut short by a shutdown (loading_cancelled) is
 * not flushed. */
int rdb_load_file(const char *path, char *err, size_t errlen);
int rdb_load_file_flags(const char *path, int flags, char *err, size_t errlen);

/* Provided by function.c: adds a library from a snapshot's FUNCTION2 record, as Redis's
 * rdbFunctionLoad does (FUNCTION LOAD without its timeout; an existing library of that name is
 * an error). Call while holding every shard, as every user of the libraries does. Returns 0, or
 * -1 with err. */
int function_load_from_rdb(const char *code, size_t len, char *err, size_t errlen);

#endif
