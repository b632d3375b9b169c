/* Keyspace entries: one allocation holding key, metadata and (for small strings) the value.
 *
 * Layout: [next][type:3 has_mc:1 enc:4 has_expire:1 lru:23][expire ms, if has_expire]
 * [memcached data, if has_mc][varint keylen][key][value]. The value is, by encoding: ENC_EMBSTR a
 * varint length and the bytes; ENC_INT an int64; anything else a pointer to a structure owned by
 * the entry (a raw string, a list...). The memcached data (entry_mc) is there only for strings
 * written through the memcached listener (memcache.h).
 * Entries live in a shard's table and belong to that shard: only a thread that runs on behalf of
 * the shard (its own thread, or a transaction holding it) may touch them. */
#ifndef DFLY_OBJECT_H
#define DFLY_OBJECT_H

#include <stddef.h>
#include <stdint.h>

/* Types, numbered as in RDB's type names order for INFO/TYPE. */
enum obj_type {
    OBJ_STRING = 0,
    OBJ_LIST = 1,
    OBJ_SET = 2,
    OBJ_ZSET = 3,
    OBJ_HASH = 4,
    OBJ_MODULE = 5,
    OBJ_STREAM = 6,
    OBJ_TYPE_MAX = 16,
};

enum obj_enc {
    ENC_RAW = 0,    /* string in a separate rawstr block */
    ENC_INT = 1,    /* string holding an integer that round-trips */
    ENC_EMBSTR = 2, /* string stored inside the entry */
    ENC_HASHTABLE = 3,
    ENC_LISTPACK = 4,
    ENC_QUICKLIST = 5,
    ENC_INTSET = 6,
    ENC_SKIPLIST = 7,
    ENC_STREAM = 8,
    ENC_MAX = 16,
};

/* Strings up to this length live inside the entry (Redis's embstr limit). */
#define OBJ_EMBSTR_MAX 44
/* The longest decimal int64 plus sign. */
#define OBJ_INT_STR_MAX 21

typedef struct entry {
    struct entry *next;
    uint32_t type : 3;   /* enum obj_type */
    uint32_t has_mc : 1; /* an entry_mc block follows the expiry */
    uint32_t enc : 4;
    uint32_t has_expire : 1;
    uint32_t lru : 23; /* LRU clock (seconds) or LFU counter (8 bits) and decay time (15 bits) */
    unsigned char data[];
} entry;

/* What memcached keeps beside an item's value (memcache.h): the client's 32-bit flags, the CAS
 * unique and the meta protocol's per-item bits. Stored packed (ENTRY_MC_SIZE bytes) only in
 * entries written by memcached commands; an entry without it reads as flags 0 and a CAS that
 * matches nothing. */
typedef struct entry_mc {
    uint64_t cas;
    uint32_t flags;
    uint8_t bits; /* MC_BIT_* (memcache.h) */
} entry_mc;
#define ENTRY_MC_SIZE 13 /* packed: cas 8, flags 4, bits 1 */

/* A separately allocated string value (ENC_RAW); grows by doubling for APPEND/SETRANGE. */
typedef struct rawstr {
    size_t len;
    size_t cap;
    char data[];
} rawstr;

/* Per-type hooks, registered by the file of each type. */
typedef struct obj_type_ops {
    const char *name;                 /* TYPE's answer: "list" */
    void (*free)(void *ptr, int enc); /* frees the structure behind the value pointer */
    size_t (*mem_usage)(const void *ptr, int enc); /* bytes for MEMORY USAGE */
    const char *(*enc_name)(int enc); /* OBJECT ENCODING's answer, NULL for the default names */
    /* A deep copy of the structure behind the value pointer, same encoding (COPY). The copy
     * is owned by the caller until it is put into an entry. */
    void *(*dup)(const void *ptr, int enc);
} obj_type_ops;

void obj_register_type(enum obj_type type, const obj_type_ops *ops);
const obj_type_ops *obj_type_get(enum obj_type type);
const char *obj_type_name(int type);
const char *obj_enc_name(const entry *e);

/* Builds an entry. expire_ms < 0 means no expiry. */
entry *entry_new_string(const char *key, size_t klen, const char *val, size_t vlen,
                        int64_t expire_ms);
entry *entry_new_int(const char *key, size_t klen, long long v, int64_t expire_ms);
/* A non-string value; the entry owns ptr and frees it through the type's ops. */
entry *entry_new_ptr(const char *key, size_t klen, int type, int enc, void *ptr, int64_t expire_ms);
/* A copy of e with another key (for RENAME/COPY/MOVE across shards). Deep-copies strings;
 * for other types, `ptr` replaces the value (the caller made it), or NULL to move the pointer. */
entry *entry_with_key(const entry *e, const char *key, size_t klen, void *ptr);
/* Frees the entry and its value. */
void entry_free(entry *e);
/* Returns a copy of e with a new expire (or none, when expire_ms < 0). e is freed. */
entry *entry_set_expire(entry *e, int64_t expire_ms);
/* The memcached block: 1 and *out when e has one, else 0. */
int entry_get_mc(const entry *e, entry_mc *out);
/* Sets e's memcached block (m) or removes it (m NULL). Returns e when it changed in place, or a
 * copy holding the value (e is freed without its value, as entry_set_expire does). */
entry *entry_set_mc(entry *e, const entry_mc *m);
/* A copy of e with memcached block m (NULL: none) that shares e's value: for an entry in a
 * table, which the caller then puts in e's place with db_replace (that frees e's shell only). */
entry *entry_copy_mc(const entry *e, const entry_mc *m);
/* A string entry with a memcached block from the start (entry_new_string's encodings). */
entry *entry_new_string_mc(const char *key, size_t klen, const char *val, size_t vlen,
                           int64_t expire_ms, const entry_mc *m);

const char *entry_key(const entry *e, size_t *len);
static inline int64_t entry_expire(const entry *e)
{
    int64_t v;
    if (!e->has_expire)
        return -1;
    __builtin_memcpy(&v, e->data, sizeof(v));
    return v;
}
/* The value pointer of a non-string entry, or a rawstr for ENC_RAW. */
void *entry_ptr(const entry *e);
void entry_set_ptr(entry *e, void *ptr);
/* String value: returns a pointer to the bytes and the length. tmp is used for ENC_INT. */
const char *entry_str(const entry *e, char tmp[OBJ_INT_STR_MAX], size_t *len);
/* 1 and the integer when the string value is an integer Redis would accept for INCR. */
int entry_get_ll(const entry *e, long long *out);
/* Bytes in use by the entry and its value, for MEMORY USAGE and eviction. */
size_t entry_mem_usage(const entry *e);

/* Parses a whole string as a 64-bit integer with Redis's rules (no spaces, no leading '+' or
 * zeros). Returns 1 on success. */
int str_to_ll(const char *s, size_t len, long long *out);
/* Formats v in decimal; returns the length. buf must hold OBJ_INT_STR_MAX bytes. */
int ll_to_str(char *buf, long long v);

/* ---- string values that change in place (APPEND, SETRANGE, SETBIT, INCR) ------------------ */

/* Redis's SDS_MAX_PREALLOC: a growing raw string doubles its capacity up to this size, then grows
 * by this much at a time. */
#define RAWSTR_MAX_PREALLOC (1024 * 1024)

/* A string entry stored as ENC_RAW whatever its length or content (Redis's createObject of an
 * sds: OBJECT ENCODING says raw). The value is vlen bytes of val, or zeros when val is NULL; room
 * is reserved for at least cap bytes. */
entry *entry_new_raw(const char *key, size_t klen, const char *val, size_t vlen, size_t cap,
                     int64_t expire_ms);
/* A string entry holding the bytes as given: embstr when short, raw otherwise, never int
 * (Redis's createStringObject, as INCRBYFLOAT stores its result). */
entry *entry_new_string_plain(const char *key, size_t klen, const char *val, size_t vlen,
                              int64_t expire_ms);
/* A copy of string entry e (key, expiry, LRU data) whose value is raw with room for at least cap
 * bytes: Redis's dbUnshareStringValue. e must be embstr or int and is left as it is; the caller
 * swaps the two (db_replace), which frees e and, the value being inline, all of it. */
entry *entry_string_to_raw(const entry *e, size_t cap);
/* Makes the raw string of e (ENC_RAW) len bytes long: new bytes are zeros, shrinking only cuts.
 * Growth reserves extra room as Redis's sdsMakeRoomFor does. The entry itself does not move. */
rawstr *entry_raw_resize(entry *e, size_t len);
/* Overwrites the integer of an ENC_INT entry in place (INCR needs no allocation). */
void entry_set_ll(entry *e, long long v);

#endif
