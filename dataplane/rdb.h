/* Redis's RDB value format (RDB version 10, as Redis 7.0 writes it): the encoding of one value
 * in DUMP payloads and in snapshot files.
 *
 * Writing produces Redis's byte formats (Redis's listpack, intset, length and string encodings,
 * LZF-compressed strings), never our in-memory ones, so a Redis 7.0 server reads what we write.
 * Reading accepts what Redis 7.0 writes and checks every length and offset against the input:
 * a corrupt payload gives an error, never a crash or a read past the end.
 *
 * The functions touch one entry; they run for the entry's shard (db.h). */
#ifndef DFLY_RDB_H
#define DFLY_RDB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "object.h"

/* The RDB version we write (Redis 7.0's), and the newest whose values we read. */
#define RDB_VERSION 10

/* Value type bytes (Redis's rdb.h). */
enum rdb_type {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_MODULE = 6,
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
    RDB_TYPE_SET_LISTPACK = 20,       /* Redis 7.2 (RDB 11): read, never written */
    RDB_TYPE_STREAM_LISTPACKS_3 = 21, /* Redis 7.2 (RDB 11): read, never written */
};

/* ---- primitives (also for the snapshot writer and loader) --------------------------------- */

/* Appends a length in RDB's variable encoding (1, 2, 5 or 9 bytes). */
void rdb_save_len(buf *out, uint64_t len);
/* Appends a string as Redis's rdbSaveRawString does: as an integer when it is a short one that
 * round-trips, LZF-compressed when longer than 20 bytes and that makes it smaller, else raw. */
void rdb_save_string(buf *out, const char *s, size_t len);

/* A cursor over input bytes; every read checks it stays before end. */
typedef struct rdb_reader {
    const unsigned char *p, *end;
} rdb_reader;

/* A string read from the input: s points into the input, into tmp (an integer's decimal form)
 * or into owned (a decompressed string, freed by rdb_str_free). Do not copy the struct. */
typedef struct rdb_str {
    const char *s;
    size_t len;
    char *owned;
    char tmp[OBJ_INT_STR_MAX];
} rdb_str;

/* Each returns 0, or -1 when the input is malformed or ends too soon. */
int rdb_load_len(rdb_reader *r, uint64_t *len);
int rdb_load_string(rdb_reader *r, rdb_str *out);
void rdb_str_free(rdb_str *s);

/* ---- values -------------------------------------------------------------------------------- */

/* Appends e's value as its RDB type byte followed by the value. Returns 0, or -1 (nothing
 * appended) when the value has no RDB form we write (modules). */
int rdb_save_object(buf *out, const entry *e);
/* Reads a value of RDB type `type` and returns it as a new entry for key (no expiry), owned by
 * the caller; NULL when the type is unknown or unsupported, the input is malformed, or the value
 * is empty. */
entry *rdb_load_object(rdb_reader *r, int type, const char *key, size_t klen);

#endif
