/* DUMP and RESTORE: a value serialized as Redis 7.0 does, so payloads move both ways between
 * dfly and Redis.
 *
 * A payload is the RDB type byte and value (rdb.h), the RDB version (2 bytes, little-endian) and
 * a CRC64 of everything before it (8 bytes, little-endian). */
#include <string.h>

#include "clock.h"
#include "crc64.h"
#include "db.h"
#include "journal.h"
#include "rdb.h"
#include "reply.h"
#include "server.h"

#define DUMP_VERSION_SIZE 2
#define DUMP_CRC_SIZE 8
#define DUMP_FOOTER_SIZE (DUMP_VERSION_SIZE + DUMP_CRC_SIZE)
#define DUMP_MIN_SIZE (1 + DUMP_FOOTER_SIZE) /* a type byte at least */
#define LFU_FREQ_MAX 255
/* The LRU/LFU fields of an entry (db.c's layout): a 23-bit clock in seconds, or 15 bits of
 * minutes and an 8-bit counter. */
#define DUMP_LRU_CLOCK_MAX ((1u << 23) - 1)
#define DUMP_LFU_MINUTES_MAX ((1u << 15) - 1)
#define DUMP_LFU_COUNTER_BITS 8
#define MS_PER_MINUTE 60000

#define ERR_DUMP_PAYLOAD "ERR DUMP payload version or checksum are wrong"
#define ERR_BUSYKEY "BUSYKEY Target key name already exists."
#define ERR_TTL "ERR Invalid TTL value, must be >= 0"
#define ERR_BAD_FORMAT "ERR Bad data format"
#define ERR_IDLETIME "ERR Invalid IDLETIME value, must be >= 0"
#define ERR_FREQ "ERR Invalid FREQ value, must be >= 0 and <= 255"

/* Appends the version and checksum that close a payload. */
static void dump_add_footer(buf *b)
{
    unsigned char f[DUMP_FOOTER_SIZE];
    f[0] = RDB_VERSION & 0xff;
    f[1] = RDB_VERSION >> 8;
    buf_append(b, f, DUMP_VERSION_SIZE);
    uint64_t crc = crc64(0, b->data, b->len);
    for (int i = 0; i < DUMP_CRC_SIZE; i++)
        f[i] = (unsigned char)(crc >> (8 * i));
    buf_append(b, f, DUMP_CRC_SIZE);
}

/* Redis's verifyDumpPayload: 1 when the version is one we read and the checksum matches. */
static int dump_payload_ok(const unsigned char *p, size_t len)
{
    if (len < DUMP_MIN_SIZE)
        return 0;
    const unsigned char *footer = p + len - DUMP_FOOTER_SIZE;
    unsigned version = footer[0] | (unsigned)footer[1] << 8;
    if (version > RDB_VERSION)
        return 0;
    uint64_t crc = crc64(0, p, len - DUMP_CRC_SIZE), want = 0;
    for (int i = 0; i < DUMP_CRC_SIZE; i++)
        want |= (uint64_t)footer[DUMP_VERSION_SIZE + i] << (8 * i);
    return crc == want;
}

static void dump_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_read(c, key->p, key->len);
    if (!e) {
        reply_null(c);
        return;
    }
    buf b;
    buf_init(&b);
    if (rdb_save_object(&b, e) < 0) {
        buf_free(&b);
        reply_error(c, "ERR DUMP of this type is not supported");
        return;
    }
    dump_add_footer(&b);
    reply_bulk(c, b.data, b.len);
    buf_free(&b);
}

typedef struct restore_opts {
    int replace, absttl;
    long long idle; /* -1: not given */
    long long freq; /* -1: not given */
} restore_opts;

static int restore_parse_opts(cmd_ctx *c, restore_opts *o)
{
    *o = (restore_opts){0, 0, -1, -1};
    for (int j = 4; j < c->argc; j++) {
        const slice *a = &c->argv[j];
        int more = j + 1 < c->argc;
        if (arg_eq(a, "replace")) {
            o->replace = 1;
        } else if (arg_eq(a, "absttl")) {
            o->absttl = 1;
        } else if (arg_eq(a, "idletime") && more && o->freq == -1) {
            if (arg_ll_or_reply(c, &c->argv[++j], &o->idle, NULL) < 0)
                return -1;
            if (o->idle < 0) {
                reply_error(c, ERR_IDLETIME);
                return -1;
            }
        } else if (arg_eq(a, "freq") && more && o->idle == -1) {
            if (arg_ll_or_reply(c, &c->argv[++j], &o->freq, NULL) < 0)
                return -1;
            if (o->freq < 0 || o->freq > LFU_FREQ_MAX) {
                reply_error(c, ERR_FREQ);
                return -1;
            }
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

static int lfu_policy(void)
{
    return server.policy == MAXMEMORY_ALLKEYS_LFU || server.policy == MAXMEMORY_VOLATILE_LFU;
}

/* Redis's objectSetLRUOrLFU: FREQ counts under an LFU policy, IDLETIME under any other. */
static void restore_set_lru(entry *e, const restore_opts *o)
{
    if (lfu_policy() && o->freq >= 0) {
        uint32_t minutes = (uint32_t)(clock_mono_ms() / MS_PER_MINUTE) & DUMP_LFU_MINUTES_MAX;
        e->lru = (minutes << DUMP_LFU_COUNTER_BITS) | (uint32_t)o->freq;
    } else if (!lfu_policy() && o->idle >= 0) {
        uint32_t idle = o->idle > DUMP_LRU_CLOCK_MAX ? DUMP_LRU_CLOCK_MAX : (uint32_t)o->idle;
        e->lru = (lru_clock() - idle) & DUMP_LRU_CLOCK_MAX;
    }
}

/* RESTORE with a relative TTL is journaled with the absolute time (Redis adds ABSTTL). */
static void restore_journal_absttl(cmd_ctx *c, long long when)
{
    if (!journal_wanted())
        return;
    journal_cmd jc;
    journal_cmd_init(&jc, "RESTORE");
    journal_cmd_add(&jc, c->argv[1].p, c->argv[1].len);
    journal_cmd_add_ll(&jc, when);
    for (int i = 3; i < c->argc; i++)
        journal_cmd_add(&jc, c->argv[i].p, c->argv[i].len);
    journal_cmd_add(&jc, "ABSTTL", strlen("ABSTTL"));
    journal_cmd_commit(c, &jc, 0);
}

static void restore_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *payload = &c->argv[3];
    restore_opts o;
    long long ttl;
    if (restore_parse_opts(c, &o) < 0)
        return;
    if (!o.replace && db_lookup_write(c, key->p, key->len)) {
        reply_error(c, ERR_BUSYKEY);
        return;
    }
    if (arg_ll_or_reply(c, &c->argv[2], &ttl, NULL) < 0)
        return;
    if (ttl < 0) {
        reply_error(c, ERR_TTL);
        return;
    }
    const unsigned char *p = (const unsigned char *)payload->p;
    if (!dump_payload_ok(p, payload->len)) {
        reply_error(c, ERR_DUMP_PAYLOAD);
        return;
    }
    rdb_reader r = {p + 1, p + payload->len - DUMP_FOOTER_SIZE};
    entry *e = rdb_load_object(&r, p[0], key->p, key->len);
    if (!e) {
        reply_error(c, ERR_BAD_FORMAT);
        return;
    }
    int deleted = o.replace && db_delete(c, key->p, key->len);
    if (ttl && !o.absttl)
        ttl += c->now_ms;
    if (ttl && db_expiry_passed(c, ttl)) {
        /* Already expired: nothing is stored, but a replaced key is gone. */
        entry_free(e);
        if (deleted) {
            db_signal_modified(c, key->p, key->len);
            db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
            journal_rewrite(c, "sb", "DEL", key);
        }
        reply_ok(c);
        return;
    }
    db_add(c, e);
    if (ttl)
        e = db_set_expire(c, e, ttl);
    if (ttl && !o.absttl)
        restore_journal_absttl(c, ttl);
    restore_set_lru(e, &o);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "restore", key->p, key->len);
    reply_ok(c);
}

command dump_commands[] = {
    {.name = "dump",
     .proc = dump_cmd,
     .arity = 2,
     .flags = CMD_READONLY,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_SLOW,
     .group = "generic",
     .since = "2.6.0",
     .summary = "Returns a serialized representation of the value stored at a key."},
    {.name = "restore",
     .proc = restore_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS,
     .group = "generic",
     .since = "2.6.0",
     .summary = "Creates a key from the serialized representation of a value."},
    {0},
};
