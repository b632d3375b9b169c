/* Inside the memcached listener (memcache.h): what its parsers, its glue and its command procs
 * share. Not for the rest of the server. */
#ifndef DFLY_MEMCACHE_INT_H
#define DFLY_MEMCACHE_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "memcache.h"
#include "object.h"
#include "server.h"

/* ---- limits (memcached's) -------------------------------------------------------------- */

#define MC_KEY_MAX 250        /* KEY_MAX_LENGTH */
#define MC_TOKENS_MAX 24      /* MAX_TOKENS: a command line is cut into at most this many */
#define MC_META_TOKENS_MAX 20 /* MFLAG_MAX_OPT_LENGTH: tokens of a meta command, with the end */
#define MC_OPAQUE_MAX 32      /* MFLAG_MAX_OPAQUE_LENGTH */
#define MC_LINE_MAX 2048      /* no newline in this many bytes: garbage, unless a long multiget */
#define MC_MULTIGET_PREFIX_MAX 100              /* spaces allowed before such a multiget's "get " */
#define MC_MULTIGET_LINE_MAX (16 * 1024 * 1024) /* our bound on one multiget line */
#define MC_REALTIME_MAXDELTA (60 * 60 * 24 * 30) /* exptimes above this are unix times */
/* Bytes memcached's item adds to key and value (header, CAS, terminators, flags): an item is
 * too large when key + value + this passes -I. */
#define MC_ITEM_OVERHEAD 63

/* ---- binary protocol (memcached's protocol_binary.h) -------------------------------------- */

#define MC_BIN_REQ_MAGIC 0x80
#define MC_BIN_RES_MAGIC 0x81
#define MC_BIN_HEADER 24

enum mc_bin_opcode {
    MCB_GET = 0x00,
    MCB_SET = 0x01,
    MCB_ADD = 0x02,
    MCB_REPLACE = 0x03,
    MCB_DELETE = 0x04,
    MCB_INCREMENT = 0x05,
    MCB_DECREMENT = 0x06,
    MCB_QUIT = 0x07,
    MCB_FLUSH = 0x08,
    MCB_GETQ = 0x09,
    MCB_NOOP = 0x0a,
    MCB_VERSION = 0x0b,
    MCB_GETK = 0x0c,
    MCB_GETKQ = 0x0d,
    MCB_APPEND = 0x0e,
    MCB_PREPEND = 0x0f,
    MCB_STAT = 0x10,
    MCB_SETQ = 0x11,
    MCB_ADDQ = 0x12,
    MCB_REPLACEQ = 0x13,
    MCB_DELETEQ = 0x14,
    MCB_INCREMENTQ = 0x15,
    MCB_DECREMENTQ = 0x16,
    MCB_QUITQ = 0x17,
    MCB_FLUSHQ = 0x18,
    MCB_APPENDQ = 0x19,
    MCB_PREPENDQ = 0x1a,
    MCB_TOUCH = 0x1c,
    MCB_GAT = 0x1d,
    MCB_GATQ = 0x1e,
    MCB_SASL_LIST_MECHS = 0x20,
    MCB_SASL_AUTH = 0x21,
    MCB_SASL_STEP = 0x22,
    MCB_GATK = 0x23,
    MCB_GATKQ = 0x24,
};

enum mc_bin_status {
    MCB_OK = 0x00,
    MCB_KEY_ENOENT = 0x01,
    MCB_KEY_EEXISTS = 0x02,
    MCB_E2BIG = 0x03,
    MCB_EINVAL = 0x04,
    MCB_NOT_STORED = 0x05,
    MCB_DELTA_BADVAL = 0x06,
    MCB_AUTH_ERROR = 0x20,
    MCB_AUTH_CONTINUE = 0x21,
    MCB_UNKNOWN_COMMAND = 0x81,
    MCB_ENOMEM = 0x82,
    MCB_EINTERNAL = 0x84,
    MCB_ETMPFAIL = 0x86,
};

/* A request header in host order. */
typedef struct mc_bin_header {
    uint8_t magic, opcode, extlen, datatype;
    uint16_t keylen, vbucket;
    uint32_t bodylen, opaque;
    uint64_t cas;
} mc_bin_header;

/* What the binary parser makes of the input. */
enum {
    MCB_PARSE_INCOMPLETE = 0,
    MCB_PARSE_OK,    /* a request to run: *hdr, and key/extras/value slices */
    MCB_PARSE_ERROR, /* answer status `status` (opaque from hdr); then swallow and maybe close */
    MCB_PARSE_CLOSE, /* garbage (bad magic): close without an answer */
};

typedef struct mc_bin_req {
    mc_bin_header hdr;
    slice header; /* the raw 24 bytes */
    slice extras, key, value;
    size_t consumed; /* bytes of the whole packet (or of what is known when swallowing) */
    int status;      /* MCB_PARSE_ERROR: the status to answer */
    size_t swallow;  /* MCB_PARSE_ERROR: input bytes to discard after `consumed` */
    int close;       /* MCB_PARSE_ERROR: close after answering */
    int too_large;   /* MCB_PARSE_OK of a store whose value passes the limit: value is empty */
} mc_bin_req;

/* Parses one binary request from p[0..n). max_item is --memcached_max_item_size. */
int mc_bin_parse(const char *p, size_t n, long long max_item, mc_bin_req *r);
void mc_bin_header_decode(const char *p, mc_bin_header *h);
/* Appends a response header (magic 0x81) for request header h. */
void mc_bin_response(buf *out, const mc_bin_header *h, uint16_t status, uint8_t extlen,
                     uint16_t keylen, uint32_t bodylen, uint64_t cas);
/* Appends an error response with memcached's text for status (or msg when not NULL). */
void mc_bin_error(buf *out, const mc_bin_header *h, uint16_t status, const char *msg);
/* 1 for the quiet opcodes (GETQ, SETQ...). */
int mc_bin_quiet(uint8_t opcode);

/* ---- text and meta protocols ------------------------------------------------------------- */

enum mc_text_op {
    MT_NONE = 0,
    MT_GET,
    MT_GETS,
    MT_GAT,
    MT_GATS,
    MT_SET,
    MT_ADD,
    MT_REPLACE,
    MT_APPEND,
    MT_PREPEND,
    MT_CAS,
    MT_INCR,
    MT_DECR,
    MT_DELETE,
    MT_TOUCH,
    MT_MG,
    MT_MS,
    MT_MD,
    MT_MA,
    MT_ME,
    MT_MN,
    MT_FLUSH_ALL,
    MT_VERSION,
    MT_VERBOSITY,
    MT_QUIT,
    MT_STATS,
    MT_AUTH, /* the "set" that carries "user password" before authentication */
};

enum {
    MCT_PARSE_INCOMPLETE = 0,
    MCT_PARSE_OK,    /* r->op with tokens (and data), or r->error to answer */
    MCT_PARSE_CLOSE, /* garbage: close the connection */
};

typedef struct mc_text_req {
    int op;
    int ntok;            /* tokens in tok[] */
    slice data;          /* storage commands: the data block without its \r\n */
    size_t consumed;     /* bytes of the line, and of the data block with its \r\n */
    int noreply;         /* classic noreply, or meta q */
    const char *error;   /* when set: answer this line (unless suppressed by noreply) */
    int error_always;    /* the error is answered even with noreply (meta commands) */
    size_t swallow;      /* after the error: input bytes to discard */
    int too_large;       /* a store whose data passes the limit: data is empty, swallow follows */
    int writes;          /* mg with N or T: changes the item */
    int touch_then_fail; /* gat with a key too long: touch the keys before it, answer the error */
    char
        key[MC_KEY_MAX]; /* a meta command's key decoded from base64 (flag b); tok[1] points here */
} mc_text_req;

/* Parses one request from p[0..n). tok/tokcap: a growable token array (realloc'ed here).
 * authenticated: 0 makes every line an authentication attempt (requirepass). */
int mc_text_parse(const char *p, size_t n, long long max_item, int authenticated, mc_text_req *r,
                  slice **tok, int *tokcap);

/* ---- numbers as memcached reads them (safe_strtoul & co) ------------------------------- */

int mc_strtoul32(const slice *s, uint32_t *out);
int mc_strtol32(const slice *s, int32_t *out);
int mc_strtoull(const slice *s, uint64_t *out);
int mc_is(const slice *s, const char *lit); /* exact, case-sensitive */

/* base64 (meta flag b): returns the decoded length, 0 on bad input. */
size_t mc_base64_decode(const char *in, size_t inlen, char *out, size_t outcap);
size_t mc_base64_encode(const char *in, size_t inlen, char *out, size_t outcap);

/* ---- meta flags ------------------------------------------------------------------------- */

/* A meta command's flags, parsed from tokens tok[first..ntok). */
typedef struct mc_meta {
    unsigned base64 : 1, cas_ret : 1, flags_ret : 1, hit_ret : 1, key_ret : 1, la_ret : 1,
        quiet : 1, size_ret : 1, ttl_ret : 1, no_bump : 1, value : 1, vivify : 1, has_ttl : 1,
        has_recache : 1, has_cas : 1, invalidate : 1, has_flags : 1, has_new_cas : 1;
    char mode;
    int32_t ttl, vivify_ttl, recache;
    uint32_t client_flags;
    uint64_t cas, new_cas, delta, initial;
    slice opaque; /* empty when absent */
} mc_meta;

/* Parses meta flags; returns NULL, or the CLIENT_ERROR line to answer. Validates as memcached
 * does (duplicates, unknown flags, bad numbers, token lengths). */
const char *mc_meta_parse(const slice *tok, int first, int ntok, mc_meta *m);

/* ---- statistics -------------------------------------------------------------------------- */

/* memcached's counters, one set per worker (written by the thread that ran the command). */
typedef struct mc_stats {
    _Atomic uint64_t cmd_get, cmd_set, cmd_flush, cmd_touch, cmd_meta;
    _Atomic uint64_t get_hits, get_misses, get_expired, get_flushed;
    _Atomic uint64_t delete_hits, delete_misses, incr_hits, incr_misses, decr_hits, decr_misses;
    _Atomic uint64_t cas_hits, cas_misses, cas_badval, touch_hits, touch_misses;
    _Atomic uint64_t store_too_large, store_no_memory, auth_cmds, auth_errors;
    _Atomic uint64_t total_items, curr_conns, total_conns;
    char pad[64];
} mc_stats;

extern mc_stats mc_stats_of[DFLY_MAX_THREADS];
mc_stats *mc_stats_here(void);
/* Writes "STAT name value\r\n" lines of `stats [group]` (text) into out; returns 0, or -1 for
 * an unknown group. */
int mc_stats_text(const char *group, size_t glen, buf *out);
/* The same statistics as binary STAT responses, ended by the empty one. */
int mc_stats_binary(const char *group, size_t glen, buf *out, const mc_bin_header *h);
extern atomic_int mc_verbosity;

/* ---- items (memcache_item.c): memcached's operations on the keyspace ------------------- *
 * Each runs on behalf of the key's shard (a command proc), in database 0. */

/* A stored item as memcached sees it: a string value with its memcached data. */
typedef struct mc_item {
    entry *e;
    const char *val;
    size_t len;
    char tmp[OBJ_INT_STR_MAX]; /* the digits of an int-encoded value */
    entry_mc mc;               /* zeros when the entry has no block */
    int has_mc;
} mc_item;

/* Outcomes, as memcached names them. */
enum { MC_STORED, MC_NOT_STORED, MC_EXISTS, MC_NOT_FOUND, MC_DELTA_OK, MC_NON_NUMERIC };

/* Storage modes. */
enum { MC_MODE_SET, MC_MODE_ADD, MC_MODE_REPLACE, MC_MODE_APPEND, MC_MODE_PREPEND, MC_MODE_CAS };

typedef struct mc_store_args {
    int mode;
    slice key, val;
    uint32_t flags;
    int64_t expire_ms; /* mc_exptime_ms */
    uint64_t cas;      /* 0: none (CAS mode compares with it anyway) */
    int stale_ok;      /* meta I: an older CAS stores the item marked stale */
    uint64_t new_cas;  /* meta E: the CAS to give the item (0: a fresh one) */
    uint8_t bits;      /* MC_BIT_* the new item starts with (MC_BIT_BINKEY) */
} mc_store_args;

/* Looks a string item up: 1 and *it on a hit. touch: refresh LRU data and count the keyspace
 * hit or miss (0 for meta's u, h and l, which read them first). */
int mc_item_find(cmd_ctx *c, const slice *key, int touch, mc_item *it);
/* The item's CAS, giving it one (and a memcached block) when it has none. Refreshes *it. */
uint64_t mc_item_cas(cmd_ctx *c, const slice *key, mc_item *it);
/* Rewrites the item's memcached block (bits, flags, CAS) in place or by a copy. Refreshes *it. */
void mc_item_set_mc(cmd_ctx *c, const slice *key, mc_item *it, const entry_mc *m);
/* Seconds the item has left (memcached rounds up), -1 when it does not expire. */
long long mc_item_ttl(cmd_ctx *c, const mc_item *it);
/* Changes the item's expiry (a touch): 0 expires it now. Journals it. */
void mc_item_expire(cmd_ctx *c, const slice *key, mc_item *it, int64_t expire_ms);

/* set/add/replace/append/prepend/cas. *out_cas gets the new CAS when stored. */
int mc_store(cmd_ctx *c, const mc_store_args *a, uint64_t *out_cas);
/* Deletes key if it is there, journaled (a refused set drops the old item). */
void mc_item_drop(cmd_ctx *c, const slice *key);
/* delete (with a CAS to match, 0 for none): MC_STORED means deleted. */
int mc_delete(cmd_ctx *c, const slice *key, uint64_t cas);
/* incr/decr. On MC_DELTA_OK *value and *out_cas hold the result. With create, a miss stores
 * `initial` with expiry create_expire_ms and answers MC_DELTA_OK with *created set. */
int mc_arith(cmd_ctx *c, const slice *key, int incr, uint64_t delta, uint64_t cas, int create,
             uint64_t initial, int64_t create_expire_ms, uint64_t *value, uint64_t *out_cas,
             int *created);
/* A proc that may change several keys calls this first: its first change is journaled in its
 * place, the others after it. */
void mc_journal_begin(void);
/* Empties database 0 on every shard (the caller holds them all) and journals FLUSHDB. */
void mc_flush_now(cmd_ctx *c);
/* flush_all with a delay: at when_ms every item stored before is dropped. */
void mc_flush_schedule(int64_t when_ms);
/* A flush_all without delay: a delayed one still pending is void (memcached keeps one). */
void mc_flush_cancel(void);
/* Stored bytes memcached would report for an item (stats, me size=). */
size_t mc_item_size(size_t klen, size_t vlen, uint32_t flags);

/* ---- the command procs (memcache_cmd.c) ------------------------------------------------- */

/* Text and meta commands: argv is the request's tokens (a meta command's argv[1] the decoded
 * key), plus the data block last for storage commands. */
extern command mc_cmd_get, mc_cmd_gat, mc_cmd_gat_fail, mc_cmd_store, mc_cmd_too_large,
    mc_cmd_arith, mc_cmd_delete, mc_cmd_touch, mc_cmd_mg, mc_cmd_mg_write, mc_cmd_ms, mc_cmd_md,
    mc_cmd_ma, mc_cmd_me, mc_cmd_flush_all;
/* Binary commands: argv = name, key, raw header, extras, value. */
extern command mc_cmd_bin_get, mc_cmd_bin_store, mc_cmd_bin_too_large, mc_cmd_bin_delete,
    mc_cmd_bin_arith, mc_cmd_bin_flush;
enum { MCB_ARG_NAME, MCB_ARG_KEY, MCB_ARG_HEADER, MCB_ARG_EXTRAS, MCB_ARG_VALUE, MCB_ARGC };

/* Gives the commands their statistics ids (those of their RESP kin); once at startup. */
void mc_commands_init(void);
/* The text command a parsed request runs, NULL for those answered by the glue itself. */
command *mc_text_command(const mc_text_req *r);

/* An exptime as memcached reads it, as an absolute time in ms: -1 for none, 0 for "already
 * expired" (negative, or a unix time in the past). */
int64_t mc_exptime_ms(int64_t exptime, int64_t now_ms);

#endif
