/* Reading whole RDB files; see rdb_load.h.
 *
 * rdb_parse is the format: the header, the opcodes between key records, the key records (whose
 * values rdb.c reads), EOF and the CRC64. It knows nothing of shards. rdb_load_file is where the
 * keys go: it maps the file, runs the parser on the loader thread and ships the keys in batches
 * to their shards' threads (a bounded number of batches in flight), then waits for all. */
#include "rdb_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "crc64.h"
#include "crypt.h"
#include "db.h"
#include "loading.h"
#include "log.h"
#include "memcache.h"
#include "rdb.h"
#include "server.h"
#include "tx.h"
#include "worker.h"

/* ---- the format ---------------------------------------------------------------------------- */

/* Header: "REDIS" and the version in four decimal digits. */
#define RDB_MAGIC "REDIS"
#define RDB_MAGIC_LEN 5
#define RDB_VERSION_DIGITS 4
#define RDB_HEADER_LEN (RDB_MAGIC_LEN + RDB_VERSION_DIGITS)
/* Files from version 5 on end with a CRC64 of everything before it (little-endian). */
#define RDB_VERSION_CHECKSUM 5
#define RDB_CHECKSUM_LEN 8
#define RDB_EXPIRE_MS_LEN 8
#define RDB_EXPIRE_SECS_LEN 4
#define MS_PER_SEC 1000
/* Length encodings (the top two bits of the first byte) and string encodings (rdb.c reads
 * them; the parser only sizes them, to tell a truncated file from a corrupt one). */
#define RDB_LEN_6BIT 0
#define RDB_LEN_14BIT 1
#define RDB_LEN_ENCVAL 3
#define RDB_LEN_32BIT 0x80
#define RDB_LEN_64BIT 0x81
#define RDB_LEN_MAX_BYTES 9
#define RDB_LEN_6BIT_MASK 0x3f
#define RDB_STR_ENC_INT32 2
#define RDB_STR_ENC_LZF 3

/* Opcodes (Redis's rdb.h); a record starting with a smaller byte is a key of that value type. */
/* Dragonfly's key properties record before a key: a u32 mask, then the memcached flags (u32)
 * when the mask says so (snapshot.c writes it for items with flags). */
#define RDB_OPCODE_DF_MASK 220
#define DF_MASK_STICKY (1u << 0)
#define DF_MASK_MC_FLAGS (1u << 1)
#define RDB_DF_MASK_LEN 4
#define RDB_OPCODE_SLOT_INFO 244 /* Redis 7.4, Valkey: slot id and two sizes, hints only */
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_FUNCTION_PRE_GA 246
#define RDB_OPCODE_MODULE_AUX 247
#define RDB_OPCODE_IDLE 248
#define RDB_OPCODE_FREQ 249
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_RESIZEDB 251
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_EXPIRETIME 253
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255
#define RDB_SLOT_INFO_FIELDS 3
#define RDB_RESIZEDB_FIELDS 2
/* The newest value type we know of (RDB_TYPE_STREAM_LISTPACKS_3, Redis 7.2). */
#define RDB_TYPE_LAST_KNOWN 21

/* Progress (and the checksum) are brought up to date this often. */
#define RDB_PROGRESS_BYTES (1u << 20)
/* Bytes of a key quoted in a message, and the buffer for it ("..." and a NUL more). */
#define KEY_SHOWN_MAX 64
#define KEY_SHOWN_BUF (KEY_SHOWN_MAX + sizeof("..."))

#define ERR_CORRUPT "corrupt RDB"
#define ERR_REFUSED "cannot load RDB"

typedef struct parser {
    const unsigned char *data;
    size_t len;
    rdb_reader r;
    const rdb_sink *sink;
    int version;
    int dbid;
    /* What the records before the next key said about it. */
    int64_t expire_ms, idle_secs;
    int freq;
    int64_t mc_flags; /* -1: none */
    uint64_t crc;
    size_t crc_pos; /* bytes the checksum covers so far */
    size_t last_progress;
    char *err;
    size_t errlen;
} parser;

static size_t p_off(const parser *p)
{
    return (size_t)(p->r.p - p->data);
}

static size_t p_left(const parser *p)
{
    return (size_t)(p->r.end - p->r.p);
}

/* Writes "<kind> at offset <at>: <message>" into p->err; returns -1. */
__attribute__((format(printf, 4, 5))) static int p_fail(parser *p, size_t at, const char *kind,
                                                        const char *fmt, ...)
{
    int n = snprintf(p->err, p->errlen, "%s at offset %zu: ", kind, at);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Copies up to KEY_SHOWN_MAX bytes of s for a message, non-printable bytes as '?'. */
static const char *shown(const char *s, size_t len, char out[KEY_SHOWN_BUF])
{
    size_t n = len < KEY_SHOWN_MAX ? len : KEY_SHOWN_MAX;
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static int p_read(parser *p, void *dst, size_t n, const char *what)
{
    if (p_left(p) < n)
        return p_fail(p, p_off(p), ERR_CORRUPT, "unexpected end of file reading %s", what);
    memcpy(dst, p->r.p, n);
    p->r.p += n;
    return 0;
}

static uint64_t get_le(const unsigned char *b, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Bytes a length encoding starting with byte b occupies (RDB's 6, 14, 32 and 64-bit forms). */
static size_t len_size(unsigned char b)
{
    switch (b >> 6) {
    case RDB_LEN_6BIT: return 1;
    case RDB_LEN_14BIT: return 2;
    case RDB_LEN_ENCVAL: return 1;
    default: return b == RDB_LEN_32BIT ? 5 : b == RDB_LEN_64BIT ? RDB_LEN_MAX_BYTES : 1;
    }
}

/* A failed read at `at`: the end of the file, or bad bytes. */
static int p_fail_read(parser *p, size_t at, size_t need, const char *what)
{
    p->r.p = p->data + at;
    if (p_left(p) < need)
        return p_fail(p, at, ERR_CORRUPT, "unexpected end of file reading %s", what);
    return p_fail(p, at, ERR_CORRUPT, "bad %s", what);
}

static int p_len(parser *p, uint64_t *v, const char *what)
{
    size_t at = p_off(p);
    if (rdb_load_len(&p->r, v) == 0)
        return 0;
    return p_fail_read(p, at, p_left(p) ? len_size(*p->r.p) : 1, what);
}

/* Bytes a string at the cursor needs as far as its encoding says, to tell a file that ends
 * early from bad bytes. */
static size_t string_need(const parser *p)
{
    rdb_reader r = p->r;
    uint64_t len, clen;
    if (r.p >= r.end)
        return 1;
    unsigned char b = *r.p;
    if (b >> 6 == RDB_LEN_ENCVAL) {
        unsigned enc = b & RDB_LEN_6BIT_MASK;
        if (enc != RDB_STR_ENC_LZF) /* an integer of 1, 2 or 4 bytes */
            return enc <= RDB_STR_ENC_INT32 ? 1 + ((size_t)1 << enc) : 1;
        r.p++;
        if (rdb_load_len(&r, &clen) || rdb_load_len(&r, &len))
            return 1 + 2 * RDB_LEN_MAX_BYTES;
    } else if (rdb_load_len(&r, &clen)) {
        return len_size(b);
    }
    size_t head = (size_t)(r.p - p->r.p);
    return clen > SIZE_MAX - head ? SIZE_MAX : head + (size_t)clen;
}

static int p_string(parser *p, rdb_str *s, const char *what)
{
    size_t at = p_off(p);
    size_t need = string_need(p);
    if (rdb_load_string(&p->r, s) == 0)
        return 0;
    return p_fail_read(p, at, need, what);
}

/* Brings the checksum up to the cursor and tells the sink how far the parse got. */
static void p_progress(parser *p)
{
    size_t off = p_off(p);
    p->crc = crc64(p->crc, p->data + p->crc_pos, off - p->crc_pos);
    p->crc_pos = off;
    p->last_progress = off;
    if (p->sink->progress)
        p->sink->progress(p->sink->arg, off);
}

static int p_header(parser *p)
{
    size_t magic = p->len < RDB_MAGIC_LEN ? p->len : RDB_MAGIC_LEN;
    if (memcmp(p->data, RDB_MAGIC, magic) || p->len == 0)
        return p_fail(p, 0, ERR_CORRUPT, "not an RDB file (it does not start with \"REDIS\")");
    if (p->len < RDB_HEADER_LEN)
        return p_fail(p, p->len, ERR_CORRUPT, "unexpected end of file in the header");
    int version = 0;
    for (int i = 0; i < RDB_VERSION_DIGITS; i++) {
        unsigned char c = p->data[RDB_MAGIC_LEN + i];
        if (c < '0' || c > '9')
            return p_fail(p, RDB_MAGIC_LEN, ERR_CORRUPT, "bad version number in the header");
        version = version * 10 + (c - '0');
    }
    if (version < 1 || version > RDB_LOAD_VERSION_MAX)
        return p_fail(p, RDB_MAGIC_LEN, ERR_REFUSED,
                      "unsupported RDB version %d (this server reads versions 1 to %d)", version,
                      RDB_LOAD_VERSION_MAX);
    p->version = version;
    p->r.p += RDB_HEADER_LEN;
    return 0;
}

/* Calls a sink callback's error path: its message, at the record's offset. */
static int p_sink_fail(parser *p, size_t at, const char *msg)
{
    return p_fail(p, at, ERR_REFUSED, "%s", msg);
}

static int p_aux(parser *p, size_t at)
{
    rdb_str k, v;
    if (p_string(p, &k, "aux field name"))
        return -1;
    if (p_string(p, &v, "aux field value")) {
        rdb_str_free(&k);
        return -1;
    }
    int rc = 0;
    char msg[RDB_LOAD_ERR_MAX];
    if (p->sink->aux && p->sink->aux(p->sink->arg, k.s, k.len, v.s, v.len, msg, sizeof(msg)))
        rc = p_sink_fail(p, at, msg);
    rdb_str_free(&k);
    rdb_str_free(&v);
    return rc;
}

static int p_select_db(parser *p, size_t at)
{
    uint64_t dbid;
    if (p_len(p, &dbid, "database number"))
        return -1;
    if (dbid > INT_MAX)
        return p_fail(p, at, ERR_CORRUPT, "database number %llu is out of range",
                      (unsigned long long)dbid);
    char msg[RDB_LOAD_ERR_MAX];
    if (p->sink->select_db && p->sink->select_db(p->sink->arg, dbid, msg, sizeof(msg)))
        return p_sink_fail(p, at, msg);
    p->dbid = (int)dbid;
    return 0;
}

static int p_function(parser *p, size_t at)
{
    rdb_str code;
    if (p_string(p, &code, "function library code"))
        return -1;
    int rc = 0;
    char msg[RDB_LOAD_ERR_MAX];
    if (p->sink->function && p->sink->function(p->sink->arg, code.s, code.len, msg, sizeof(msg)))
        rc = p_sink_fail(p, at, msg);
    rdb_str_free(&code);
    return rc;
}

/* Lengths that are hints only (RESIZEDB, SLOT_INFO): read and dropped. */
static int p_skip_lens(parser *p, int n, const char *what)
{
    uint64_t v;
    for (int i = 0; i < n; i++)
        if (p_len(p, &v, what))
            return -1;
    return 0;
}

/* Why a value type cannot be loaded at all, or NULL. */
static const char *type_refused(int type)
{
    switch (type) {
    case RDB_TYPE_MODULE:
    case RDB_TYPE_MODULE_2: return "module data is not supported";
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
        return "the ziplist and zipmap encodings of Redis before 7.0 are not supported";
    default: return NULL;
    }
}

static void p_reset_key_hints(parser *p)
{
    p->expire_ms = -1;
    p->idle_secs = -1;
    p->freq = -1;
    p->mc_flags = -1;
}

static int p_key(parser *p, int type, size_t at)
{
    if (type > RDB_TYPE_LAST_KNOWN)
        return p_fail(p, at, ERR_CORRUPT, "unknown record type %d", type);
    const char *why = type_refused(type);
    if (why)
        return p_fail(p, at, ERR_REFUSED, "value of RDB type %d: %s", type, why);
    rdb_str k;
    if (p_string(p, &k, "key"))
        return -1;
    char sk[KEY_SHOWN_BUF];
    entry *e = rdb_load_object(&p->r, type, k.s, k.len);
    if (!e) {
        p_fail(p, at, ERR_CORRUPT, "bad or truncated value of RDB type %d for key '%s'", type,
               shown(k.s, k.len, sk));
        rdb_str_free(&k);
        return -1;
    }
    rdb_key_rec rec = {.dbid = p->dbid,
                       .key = k.s,
                       .klen = k.len,
                       .e = e,
                       .expire_ms = p->expire_ms,
                       .idle_secs = p->idle_secs,
                       .freq = p->freq};
    if (p->mc_flags >= 0 && type == RDB_TYPE_STRING) /* the CAS is given when it is stored */
        rec.e = entry_set_mc(rec.e, &(entry_mc){.flags = (uint32_t)p->mc_flags});
    p_reset_key_hints(p);
    int rc = 0;
    char msg[RDB_LOAD_ERR_MAX];
    if (!p->sink->key)
        entry_free(e);
    else if (p->sink->key(p->sink->arg, &rec, msg, sizeof(msg)))
        rc = p_fail(p, at, ERR_REFUSED, "key '%s': %s", shown(k.s, k.len, sk), msg);
    rdb_str_free(&k);
    return rc;
}

/* Dragonfly's key properties: stickiness (which we do not have) and memcached flags. A bit we do
 * not know may be followed by data we cannot skip. */
static int p_df_mask(parser *p, size_t at)
{
    unsigned char b[RDB_DF_MASK_LEN];
    if (p_read(p, b, RDB_DF_MASK_LEN, "a key properties mask"))
        return -1;
    uint32_t mask = (uint32_t)get_le(b, RDB_DF_MASK_LEN);
    if (mask & ~(DF_MASK_STICKY | DF_MASK_MC_FLAGS))
        return p_fail(p, at, ERR_REFUSED, "unknown key properties 0x%x", mask);
    if (mask & DF_MASK_MC_FLAGS) {
        if (p_read(p, b, RDB_DF_MASK_LEN, "memcached flags"))
            return -1;
        p->mc_flags = (int64_t)get_le(b, RDB_DF_MASK_LEN);
    }
    return 0;
}

/* One record. Returns 1 at EOF, 0 to go on, -1 on error. */
static int p_record(parser *p)
{
    size_t at = p_off(p);
    unsigned char type = 0, b[RDB_EXPIRE_MS_LEN] = {0};
    if (p_read(p, &type, 1, "the next record (no EOF marker)"))
        return -1;
    uint64_t v;
    switch (type) {
    case RDB_OPCODE_EOF: return 1;
    case RDB_OPCODE_EXPIRETIME_MS:
        if (p_read(p, b, RDB_EXPIRE_MS_LEN, "an expiry time"))
            return -1;
        p->expire_ms = (int64_t)get_le(b, RDB_EXPIRE_MS_LEN);
        return 0;
    case RDB_OPCODE_EXPIRETIME:
        if (p_read(p, b, RDB_EXPIRE_SECS_LEN, "an expiry time"))
            return -1;
        p->expire_ms = (int64_t)(int32_t)get_le(b, RDB_EXPIRE_SECS_LEN) * MS_PER_SEC;
        return 0;
    case RDB_OPCODE_IDLE:
        if (p_len(p, &v, "idle time"))
            return -1;
        p->idle_secs = v > INT64_MAX ? INT64_MAX : (int64_t)v;
        return 0;
    case RDB_OPCODE_FREQ:
        if (p_read(p, b, 1, "an LFU frequency"))
            return -1;
        p->freq = b[0];
        return 0;
    case RDB_OPCODE_DF_MASK: return p_df_mask(p, at);
    case RDB_OPCODE_SELECTDB: return p_select_db(p, at);
    case RDB_OPCODE_RESIZEDB: return p_skip_lens(p, RDB_RESIZEDB_FIELDS, "database size hint");
    case RDB_OPCODE_SLOT_INFO: return p_skip_lens(p, RDB_SLOT_INFO_FIELDS, "slot info");
    case RDB_OPCODE_AUX: return p_aux(p, at);
    case RDB_OPCODE_FUNCTION2: return p_function(p, at);
    case RDB_OPCODE_MODULE_AUX: return p_fail(p, at, ERR_REFUSED, "module data is not supported");
    case RDB_OPCODE_FUNCTION_PRE_GA:
        return p_fail(p, at, ERR_REFUSED,
                      "functions in the pre-GA format of Redis 7.0 release candidates are not "
                      "supported");
    default: return p_key(p, type, at);
    }
}

/* After EOF: the checksum, then nothing. */
static int p_trailer(parser *p)
{
    size_t at = p_off(p);
    if (p->version >= RDB_VERSION_CHECKSUM) {
        unsigned char b[RDB_CHECKSUM_LEN] = {0};
        if (p_read(p, b, RDB_CHECKSUM_LEN, "the checksum"))
            return -1;
        p->crc = crc64(p->crc, p->data + p->crc_pos, at - p->crc_pos);
        p->crc_pos = at;
        uint64_t want = get_le(b, RDB_CHECKSUM_LEN);
        if (want && want != p->crc)
            return p_fail(p, at, ERR_CORRUPT,
                          "checksum mismatch: the file says %016llx, its contents give %016llx",
                          (unsigned long long)want, (unsigned long long)p->crc);
    }
    if (p_left(p))
        return p_fail(p, p_off(p), ERR_CORRUPT, "%zu bytes of trailing data after the end",
                      p_left(p));
    return 0;
}

int rdb_parse(const unsigned char *data, size_t len, const rdb_sink *sink, char *err, size_t errlen)
{
    parser p = {.data = data,
                .len = len,
                .r = {data, data + len},
                .sink = sink,
                .err = err,
                .errlen = errlen};
    p_reset_key_hints(&p);
    if (p_header(&p))
        return -1;
    for (;;) {
        int rc = p_record(&p);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
        if (p_off(&p) - p.last_progress >= RDB_PROGRESS_BYTES)
            p_progress(&p);
    }
    if (p_trailer(&p))
        return -1;
    p_progress(&p);
    return 0;
}

/* ---- loading into the shards --------------------------------------------------------------- */

/* Keys per batch sent to a shard, and batches in flight per shard: enough to keep the workers
 * busy, few enough that the loader never runs far ahead of them (memory, and inboxes that stay
 * short for the clients' messages). */
#define LOAD_BATCH_KEYS 256
#define LOAD_INFLIGHT_PER_SHARD 4
/* Duplicate keys warned about one by one; the rest are only counted. */
#define LOAD_DUP_WARN_MAX 10
#define BYTES_PER_MB (1024.0 * 1024.0)

typedef struct load_item {
    entry *e;
    int dbid;
    int64_t idle_secs;
    int freq;
} load_item;

typedef struct loader loader;

typedef struct load_batch {
    loader *ld;
    int shard;
    int n;
    int flush; /* a batch without keys that flushes the shard (on error) */
    load_item items[LOAD_BATCH_KEYS];
} load_batch;

struct loader {
    const char *path;
    int flags;
    load_batch **open; /* per shard: the batch being filled, or NULL */
    int max_inflight;
    pthread_mutex_t mu; /* guards what follows, shared with the workers */
    pthread_cond_t cv;
    int inflight;
    int fn_pending; /* a function library is being loaded on a worker */
    uint64_t replaced;
    /* The loader thread's own. */
    uint64_t keys, expired;
    const unsigned char *map; /* the mapping whose consumed pages are given back, or NULL */
    size_t dropped;
    size_t page;
};

static atomic_int dup_warnings;

/* On the shard's thread, holding the shard: stores the batch's keys (or flushes the shard). */
static void batch_apply(void *arg)
{
    load_batch *b = arg;
    loader *ld = b->ld;
    shard *s = shards[b->shard];
    uint64_t replaced = 0;
    if (b->flush)
        db_flush(s, -1);
    for (int i = 0; i < b->n; i++) {
        load_item *it = &b->items[i];
        size_t klen;
        const char *k = entry_key(it->e, &klen); /* stays valid: e goes into the table */
        memcache_cas_bump(it->e, b->shard);      /* an item with memcached flags gets its CAS */
        if (db_load_entry(s, it->dbid, it->e, it->idle_secs, it->freq)) {
            replaced++;
            char sk[KEY_SHOWN_BUF];
            if (atomic_fetch_add(&dup_warnings, 1) < LOAD_DUP_WARN_MAX)
                log_warning("RDB has duplicated key '%s' in DB %d: the later one is kept",
                            shown(k, klen, sk), it->dbid);
        }
    }
    free(b);
    /* Last touch of ld: once inflight drops, the loader may return and free it. */
    pthread_mutex_lock(&ld->mu);
    ld->inflight--;
    ld->replaced += replaced;
    pthread_cond_signal(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
}

static void batch_noop(void *arg)
{
    (void)arg; /* batch_apply has freed the batch and reported */
}

/* On the shard's thread: runs the batch now, or after the transaction holding the shard. */
static void batch_arrive(void *arg)
{
    load_batch *b = arg;
    shardset set;
    shardset_clear(&set);
    shardset_add(&set, b->shard);
    tx_run(&set, batch_apply, batch_noop, b);
}

static load_batch *batch_new(loader *ld, int shard)
{
    load_batch *b = mem_malloc(sizeof(*b));
    b->ld = ld;
    b->shard = shard;
    b->n = 0;
    b->flush = 0;
    return b;
}

/* Hands b to its shard's thread, after waiting while too many batches are in flight. */
static void batch_post(loader *ld, load_batch *b)
{
    pthread_mutex_lock(&ld->mu);
    while (ld->inflight >= ld->max_inflight)
        pthread_cond_wait(&ld->cv, &ld->mu);
    ld->inflight++;
    pthread_mutex_unlock(&ld->mu);
    worker_post(workers[b->shard], batch_arrive, b);
}

static void loader_wait_all(loader *ld)
{
    pthread_mutex_lock(&ld->mu);
    while (ld->inflight > 0)
        pthread_cond_wait(&ld->cv, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
}

static void loader_post_open(loader *ld)
{
    for (int i = 0; i < server.nshards; i++) {
        if (ld->open[i] && ld->open[i]->n)
            batch_post(ld, ld->open[i]);
        else
            free(ld->open[i]);
        ld->open[i] = NULL;
    }
}

/* After an error: drops the keys not sent yet, then empties every shard. */
static void loader_undo(loader *ld)
{
    for (int i = 0; i < server.nshards; i++) {
        load_batch *b = ld->open[i];
        for (int j = 0; b && j < b->n; j++)
            entry_free(b->items[j].e);
        free(b);
        ld->open[i] = NULL;
    }
    for (int i = 0; i < server.nshards; i++) {
        load_batch *b = batch_new(ld, i);
        b->flush = 1;
        batch_post(ld, b);
    }
    loader_wait_all(ld);
}

static int sink_key(void *arg, rdb_key_rec *rec, char *err, size_t errlen)
{
    loader *ld = arg;
    long long delay = loading_key_load_delay;
    if (delay > 0)
        usleep((useconds_t)delay); /* a testing aid that makes the loading state last */
    if (loading_cancelled()) {
        entry_free(rec->e);
        snprintf(err, errlen, "loading interrupted by shutdown");
        return -1;
    }
    if (rec->expire_ms != -1) { /* a negative time is long past */
        if (!(ld->flags & RDB_LOAD_KEEP_EXPIRED) && rec->expire_ms <= clock_wall_ms()) {
            entry_free(rec->e); /* as a Redis master does: expired keys are not loaded */
            ld->expired++;
            return 0;
        }
        rec->e = entry_set_expire(rec->e, rec->expire_ms);
    }
    int sh = key_shard(rec->key, rec->klen);
    load_batch *b = ld->open[sh];
    if (!b)
        b = ld->open[sh] = batch_new(ld, sh);
    b->items[b->n++] = (load_item){rec->e, rec->dbid, rec->idle_secs, rec->freq};
    if (b->n == LOAD_BATCH_KEYS) {
        ld->open[sh] = NULL;
        batch_post(ld, b);
    }
    ld->keys++;
    return 0;
}

static int sink_select_db(void *arg, uint64_t dbid, char *err, size_t errlen)
{
    (void)arg;
    if (dbid >= (uint64_t)server.cfg.databases) {
        snprintf(err, errlen,
                 "the file has keys in database %llu, but this server has %lld databases "
                 "(--databases)",
                 (unsigned long long)dbid, server.cfg.databases);
        return -1;
    }
    return 0;
}

static int sink_aux(void *arg, const char *key, size_t klen, const char *val, size_t vlen,
                    char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    char sv[KEY_SHOWN_BUF];
    long long n;
    int is_num = str_to_ll(val, vlen, &n);
    if (klen == strlen("redis-ver") && !memcmp(key, "redis-ver", klen)) {
        log_info("Loading RDB produced by version %s", shown(val, vlen, sv));
    } else if (klen == strlen("ctime") && !memcmp(key, "ctime", klen) && is_num) {
        long long age = clock_wall_ms() / MS_PER_SEC - n;
        log_info("RDB age %lld seconds", age < 0 ? 0 : age);
    } else if (klen == strlen("used-mem") && !memcmp(key, "used-mem", klen) && is_num && n >= 0) {
        loading_set_rdb_used_mem((uint64_t)n);
        log_info("RDB memory usage when created %.2f Mb", (double)n / BYTES_PER_MB);
    }
    return 0;
}

/* A FUNCTION2 record on its way to the interpreter: libraries are touched only by whoever holds
 * every shard (INFO and FUNCTION commands read them so), so the loader hands the code to worker
 * 0, which loads it in a transaction over all shards, and waits. */
typedef struct fn_job {
    loader *ld;
    const char *code;
    size_t len;
    int rc;
    char msg[RDB_LOAD_ERR_MAX];
} fn_job;

static void fn_job_body(void *arg)
{
    fn_job *j = arg;
    j->rc = function_load_from_rdb(j->code, j->len, j->msg, sizeof(j->msg));
}

static void fn_job_done(void *arg)
{
    fn_job *j = arg;
    loader *ld = j->ld;
    pthread_mutex_lock(&ld->mu);
    ld->fn_pending = 0;
    pthread_cond_signal(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
}

static void fn_job_arrive(void *arg)
{
    shardset all;
    shardset_all(&all);
    if (tx_run(&all, fn_job_body, fn_job_done, arg))
        fn_job_done(arg); /* ran inline: tx_run does not call done then */
}

static int sink_function(void *arg, const char *code, size_t len, char *err, size_t errlen)
{
    loader *ld = arg;
    fn_job j = {.ld = ld, .code = code, .len = len, .rc = -1};
    pthread_mutex_lock(&ld->mu);
    ld->fn_pending = 1;
    pthread_mutex_unlock(&ld->mu);
    worker_post(workers[0], fn_job_arrive, &j);
    pthread_mutex_lock(&ld->mu);
    while (ld->fn_pending)
        pthread_cond_wait(&ld->cv, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
    if (j.rc == 0)
        return 0;
    snprintf(err, errlen, "function library: %s", j.msg);
    return -1;
}

/* Gives the consumed pages of the mapping back (the file stays on disk: RSS stays low). */
static void sink_progress(void *arg, size_t offset)
{
    loader *ld = arg;
    loading_set_loaded_bytes(offset);
    if (!ld->map)
        return;
    size_t upto = offset & ~(ld->page - 1);
    if (upto > ld->dropped) {
        madvise((void *)(ld->map + ld->dropped), upto - ld->dropped, MADV_DONTNEED);
        ld->dropped = upto;
    }
}

/* ---- the file ------------------------------------------------------------------------------ */

typedef struct rdb_file {
    int fd;
    const unsigned char *map;
    size_t len;
} rdb_file;

static int file_map(const char *path, rdb_file *f, char *err, size_t errlen)
{
    f->map = NULL;
    f->len = 0;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(f->fd, &st) < 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(f->fd);
        return -1;
    }
    f->len = (size_t)st.st_size;
    if (f->len == 0)
        return 0; /* the parser says what is wrong with an empty file */
    void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        close(f->fd);
        return -1;
    }
    madvise(m, f->len, MADV_SEQUENTIAL);
    f->map = m;
    return 0;
}

static void file_unmap(rdb_file *f)
{
    if (f->map)
        munmap((void *)f->map, f->len);
    if (f->fd >= 0)
        close(f->fd);
    f->map = NULL;
    f->fd = -1;
}

/* Decrypts an encrypted file into out with --snapshot_encryption_key_file. */
static int file_decrypt(const char *path, const rdb_file *f, buf *out, char *err, size_t errlen)
{
    const char *keyfile = server.cfg.snapshot_encryption_key_file;
    if (!keyfile || !*keyfile) {
        snprintf(err, errlen,
                 "%s: the file is encrypted, but no key is configured "
                 "(--snapshot_encryption_key_file)",
                 path);
        return -1;
    }
    unsigned char key[CRYPT_KEY_LEN];
    char msg[RDB_LOAD_ERR_MAX];
    if (crypt_key_load(keyfile, key, msg, sizeof(msg))) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    int rc = crypt_decrypt_all(f->map, f->len, key, out, msg, sizeof(msg));
    memset(key, 0, sizeof(key));
    if (rc)
        snprintf(err, errlen, "%s: cannot decrypt: %s", path, msg);
    return rc;
}

static int load_parse(loader *ld, const unsigned char *data, size_t len, const char *name,
                      char *err, size_t errlen)
{
    rdb_sink sink = {.arg = ld,
                     .aux = sink_aux,
                     .select_db = sink_select_db,
                     .key = sink_key,
                     .function = sink_function,
                     .progress = sink_progress};
    char msg[RDB_LOAD_ERR_MAX];
    loading_set_total_bytes(len);
    int rc = rdb_parse(data, len, &sink, msg, sizeof(msg));
    if (rc == 0) {
        loader_post_open(ld);
        loader_wait_all(ld);
        return 0;
    }
    snprintf(err, errlen, "%s: %s", name, msg);
    if (!loading_cancelled()) {
        loader_undo(ld);
    } else { /* shutting down: no need to empty the shards */
        loader_post_open(ld);
        loader_wait_all(ld);
    }
    return -1;
}

int rdb_load_file_flags(const char *path, int flags, char *err, size_t errlen)
{
    rdb_file f;
    if (file_map(path, &f, err, errlen))
        return -1;
    loader ld = {.path = path, .flags = flags, .page = (size_t)sysconf(_SC_PAGESIZE)};
    ld.open = mem_calloc((size_t)server.nshards, sizeof(load_batch *));
    ld.max_inflight = LOAD_INFLIGHT_PER_SHARD * server.nshards;
    pthread_mutex_init(&ld.mu, NULL);
    pthread_cond_init(&ld.cv, NULL);
    atomic_store(&dup_warnings, 0);
    int rc;
    if (f.map && crypt_is_encrypted(f.map, f.len)) {
        buf plain;
        buf_init(&plain);
        rc = file_decrypt(path, &f, &plain, err, errlen);
        file_unmap(&f);
        if (rc == 0) {
            char name[PATH_MAX + 16];
            snprintf(name, sizeof(name), "%s (decrypted)", path);
            rc = load_parse(&ld, (const unsigned char *)plain.data, plain.len, name, err, errlen);
        }
        buf_free(&plain);
    } else {
        ld.map = f.map;
        static const unsigned char empty[1];
        rc = load_parse(&ld, f.map ? f.map : empty, f.len, path, err, errlen);
        file_unmap(&f);
    }
    if (rc == 0) {
        log_info("Done loading RDB %s: keys loaded: %llu, keys expired: %llu, duplicates "
                 "replaced: %llu",
                 path, (unsigned long long)ld.keys, (unsigned long long)ld.expired,
                 (unsigned long long)ld.replaced);
        loading_add_keys(ld.keys - ld.replaced);
    }
    pthread_mutex_destroy(&ld.mu);
    pthread_cond_destroy(&ld.cv);
    free(ld.open);
    return rc;
}

int rdb_load_file(const char *path, char *err, size_t errlen)
{
    return rdb_load_file_flags(path, 0, err, errlen);
}
