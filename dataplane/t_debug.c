/* DEBUG: SLEEP, POPULATE, OBJECT, DIGEST, DIGEST-VALUE, SET-ACTIVE-EXPIRE, LOG, ERROR, HELP,
 * and the subcommands other subsystems register (debug.h).
 *
 * DEBUG holds every shard while it runs (CMD_ALL_SHARDS): POPULATE inserts straight into each
 * key's shard, DIGEST walks every table, and SLEEP stalls the server as Redis's does. Digests
 * follow Redis's algorithm (SHA1-based, debug.c), so a string-only dataset has the digest
 * redis-server computes for it. */
#include "debug.h"
#include "sha1.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "t_server.h"

#define DEBUG_SUBCOMMANDS_MAX 32
#define POPULATE_DEFAULT_PREFIX "key"
#define POPULATE_KEY_MAX 512
#define DEBUG_TEXT_MAX 512
#define NS_PER_SEC 1000000000LL

/* ---- digests ----------------------------------------------------------------------------- */

static void sha1(const void *p, size_t len, unsigned char out[DEBUG_DIGEST_LEN])
{
    sha1_ctx s;
    sha1_init(&s);
    sha1_update(&s, p, len);
    sha1_final(&s, out);
}

static debug_digest_fn digest_fns[OBJ_TYPE_MAX];

void debug_register_digest(int type, debug_digest_fn fn)
{
    if (type >= 0 && type < OBJ_TYPE_MAX)
        digest_fns[type] = fn;
}

void debug_digest_xor(unsigned char digest[DEBUG_DIGEST_LEN], const void *p, size_t len)
{
    unsigned char hash[DEBUG_DIGEST_LEN];
    sha1(p, len, hash);
    for (int i = 0; i < DEBUG_DIGEST_LEN; i++)
        digest[i] ^= hash[i];
}

void debug_digest_mix(unsigned char digest[DEBUG_DIGEST_LEN], const void *p, size_t len)
{
    debug_digest_xor(digest, p, len);
    sha1(digest, DEBUG_DIGEST_LEN, digest);
}

/* Redis's xorObjectDigest: the type, the value, and a mark when the key has an expiry. */
static void digest_value(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN])
{
    uint32_t type = htonl(e->type);
    debug_digest_mix(digest, &type, sizeof(type));
    if (e->type == OBJ_STRING) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = entry_str(e, tmp, &len);
        debug_digest_mix(digest, s, len);
    } else if (digest_fns[e->type]) {
        digest_fns[e->type](e, digest);
    } else {
        const char *name = obj_type_name(e->type);
        debug_digest_mix(digest, name, strlen(name));
    }
    if (e->has_expire)
        debug_digest_xor(digest, "!!expire!!", 10);
}

static void digest_hex(const unsigned char digest[DEBUG_DIGEST_LEN], char out[41])
{
    for (int i = 0; i < DEBUG_DIGEST_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

struct digest_walk {
    unsigned char *final;
};

static void digest_entry(void *arg, entry *e)
{
    struct digest_walk *w = arg;
    unsigned char d[DEBUG_DIGEST_LEN] = {0};
    size_t klen;
    const char *k = entry_key(e, &klen);
    debug_digest_mix(d, k, klen);
    digest_value(e, d);
    debug_digest_xor(w->final, d, DEBUG_DIGEST_LEN); /* Redis xors in the SHA1 of d */
}

/* Redis's computeDatasetDigest over every shard: per db, its id is mixed in, then each
 * key-value digest's SHA1 is xor-ed, so the order of keys (and shards) does not matter. */
static void debug_digest(cmd_ctx *c)
{
    unsigned char final[DEBUG_DIGEST_LEN] = {0};
    struct digest_walk w = {final};
    for (int d = 0; d < server.cfg.databases; d++) {
        size_t n = 0;
        for (int i = 0; i < server.nshards; i++)
            n += db_size(shards[i], d);
        if (!n)
            continue;
        uint32_t id = htonl((uint32_t)d);
        debug_digest_mix(final, &id, sizeof(id));
        for (int i = 0; i < server.nshards; i++) {
            table *t = &shards[i]->dbs[d].keys;
            uint64_t cursor = 0;
            do
                cursor = table_scan(t, cursor, digest_entry, &w);
            while (cursor);
        }
    }
    char hex[41];
    digest_hex(final, hex);
    reply_simple(c, hex);
}

/* The stored entry of key, expired or not (a debug command sees logically expired keys). */
static entry *raw_lookup(cmd_ctx *c, const slice *key)
{
    return table_find(&shard_of(key->p, key->len)->dbs[c->dbid].keys, key->p, key->len);
}

static void debug_digest_value(cmd_ctx *c)
{
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        unsigned char d[DEBUG_DIGEST_LEN] = {0};
        entry *e = raw_lookup(c, &c->argv[i]);
        if (e)
            digest_value(e, d);
        char hex[41];
        digest_hex(d, hex);
        reply_simple(c, hex);
    }
}

/* ---- OBJECT ------------------------------------------------------------------------------ */

/* RDB's length encoding size (6, 14, 32 or 64 bit lengths). */
static size_t rdb_len_size(size_t len)
{
    return len < (1u << 6) ? 1 : len < (1u << 14) ? 2 : len <= UINT32_MAX ? 5 : 9;
}

/* Bytes the value would take in an RDB file: exact for strings (without compression), the
 * memory footprint for the other types. */
static size_t serialized_length(const entry *e)
{
    if (e->type != OBJ_STRING)
        return entry_mem_usage(e);
    long long v;
    if (e->enc == ENC_INT && entry_get_ll(e, &v)) {
        if (v >= INT8_MIN && v <= INT8_MAX)
            return 2;
        if (v >= INT16_MIN && v <= INT16_MAX)
            return 3;
        if (v >= INT32_MIN && v <= INT32_MAX)
            return 5;
    }
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    entry_str(e, tmp, &len);
    return rdb_len_size(len) + len;
}

static void debug_object(cmd_ctx *c)
{
    entry *e = raw_lookup(c, &c->argv[2]);
    if (!e) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    char text[DEBUG_TEXT_MAX];
    snprintf(text, sizeof(text),
             "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u "
             "lru_seconds_idle:%llu",
             (void *)e, obj_enc_name(e), serialized_length(e), (unsigned)e->lru,
             (unsigned long long)entry_idle_secs(e));
    reply_simple(c, text);
}

/* ---- POPULATE ---------------------------------------------------------------------------- */

/* DEBUG POPULATE count [prefix] [size]: keys prefix:0 .. prefix:count-1 that do not exist yet
 * get "value:N", cut or zero-padded to size bytes when size is given. */
static void debug_populate(cmd_ctx *c)
{
    long long count, size = 0;
    const char *err = "ERR value is out of range, must be positive";
    if (c->argc > 5) {
        reply_syntax_error(c);
        return;
    }
    if (arg_ll_range_or_reply(c, &c->argv[2], 0, INT64_MAX, &count, err) ||
        (c->argc == 5 && arg_ll_range_or_reply(c, &c->argv[4], 0, INT64_MAX, &size, err)))
        return;
    const char *prefix = POPULATE_DEFAULT_PREFIX;
    int plen = (int)strlen(prefix);
    if (c->argc >= 4) {
        prefix = c->argv[3].p;
        plen = c->argv[3].len > POPULATE_KEY_MAX ? POPULATE_KEY_MAX : (int)c->argv[3].len;
    }
    char *val = size ? malloc((size_t)size) : NULL;
    if (size && !val) {
        reply_error(c, "ERR value size too large");
        return;
    }
    char key[POPULATE_KEY_MAX + OBJ_INT_STR_MAX + 2], num[OBJ_INT_STR_MAX + 8];
    for (long long i = 0; i < count; i++) {
        int klen = snprintf(key, sizeof(key), "%.*s:%lld", plen, prefix, i);
        if (db_peek(c, key, (size_t)klen))
            continue;
        int nlen = snprintf(num, sizeof(num), "value:%lld", i);
        const char *v = num;
        size_t vlen = (size_t)nlen;
        if (size) {
            memset(val, 0, (size_t)size);
            memcpy(val, num, (size_t)nlen < (size_t)size ? (size_t)nlen : (size_t)size);
            v = val;
            vlen = (size_t)size;
        }
        db_add(c, entry_new_string(key, (size_t)klen, v, vlen, -1));
    }
    free(val);
    reply_ok(c);
}

/* ---- the rest ---------------------------------------------------------------------------- */

static void debug_sleep(cmd_ctx *c)
{
    double secs;
    if (arg_double_or_reply(c, &c->argv[2], &secs, NULL))
        return;
    if (secs > 0) {
        struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * NS_PER_SEC)};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    reply_ok(c);
}

static void debug_set_active_expire(cmd_ctx *c)
{
    long long v;
    if (arg_ll_or_reply(c, &c->argv[2], &v, NULL))
        return;
    server.cfg.active_expire_enabled = v != 0;
    reply_ok(c);
}

static void debug_log(cmd_ctx *c)
{
    log_warning("DEBUG LOG: %.*s", (int)c->argv[2].len, c->argv[2].p);
    reply_ok(c);
}

static void debug_error(cmd_ctx *c)
{
    reply_errorf(c, "%.*s", (int)c->argv[2].len, c->argv[2].p);
}

static void debug_help(cmd_ctx *c)
{
    static const char *const lines[] = {
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        NULL,
    };
    reply_help(c, "DEBUG", lines);
}

typedef struct debug_sub {
    const char *name;
    cmd_proc proc;
    int arity; /* like a command's: negative means at least */
} debug_sub;

static debug_sub debug_subs[DEBUG_SUBCOMMANDS_MAX] = {
    {"help", debug_help, 2},
    {"sleep", debug_sleep, 3},
    {"populate", debug_populate, -3},
    {"object", debug_object, 3},
    {"digest", debug_digest, 2},
    {"digest-value", debug_digest_value, -2},
    {"set-active-expire", debug_set_active_expire, 3},
    {"log", debug_log, 3},
    {"error", debug_error, 3},
};
static int ndebug_subs = 9;

void debug_register(const char *name, cmd_proc proc)
{
    if (ndebug_subs < DEBUG_SUBCOMMANDS_MAX)
        debug_subs[ndebug_subs++] = (debug_sub){name, proc, -2};
}

static void debug_cmd(cmd_ctx *c)
{
    for (int i = 0; i < ndebug_subs; i++) {
        const debug_sub *s = &debug_subs[i];
        if (!arg_eq(&c->argv[1], s->name))
            continue;
        if (s->arity >= 0 ? c->argc != s->arity : c->argc < -s->arity)
            break;
        s->proc(c);
        return;
    }
    int len = c->argv[1].len > DEBUG_TEXT_MAX / 2 ? DEBUG_TEXT_MAX / 2 : (int)c->argv[1].len;
    reply_errorf(c,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG "
                 "HELP.",
                 len, c->argv[1].p);
}

command debug_commands[] = {
    {.name = "debug",
     .proc = debug_cmd,
     .arity = -2,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_ALL_SHARDS,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "1.0.0",
     .summary = "A container for debugging commands"},
    {0},
};
