/* String commands (Redis's t_string.c): SET and its variants, GET and its variants, MGET/MSET,
 * counters (INCR...), byte ranges (APPEND, GETRANGE, SETRANGE) and LCS. Bit-level commands on
 * strings live in t_bits.c.
 *
 * Values keep Redis's encodings, which OBJECT ENCODING shows: a value that reads as an integer is
 * stored as int, a short one inline (embstr), and a value that APPEND or SETRANGE changed becomes
 * a growable raw string, so a run of appends costs amortized constant time. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "journal.h"
#include "memcache.h"
#include "reply.h"
#include "server.h"

#define ERR_STRING_TOO_LONG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_OFFSET_RANGE "ERR offset is out of range"
#define ERR_FLOAT_NAN "ERR increment would produce NaN or Infinity"
#define ERR_DECR_OVERFLOW "ERR decrement would overflow"
#define ERR_LCS_TYPES "ERR The specified keys must contain string values"
#define ERR_LCS_LEN_IDX "ERR If you want both the length and indexes, please just use IDX."
#define ERR_LCS_TOO_LONG "ERR String too long for LCS"
#define ERR_LCS_TABLE_LIMIT                                                                        \
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
#define ERR_LCS_TABLE_ALLOC "ERR Insufficient memory, failed allocating transient memory for LCS"

#define MS_PER_SEC 1000
/* Text of a long double as INCRBYFLOAT writes it (Redis's MAX_LONG_DOUBLE_CHARS). */
#define LONG_DOUBLE_STR_MAX (5 * 1024)

/* Flags of SET and GETEX (Redis's OBJ_SET_* / OBJ_EX...), shared with SETNX, SETEX, PSETEX and
 * GETSET through set_generic. */
enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_PERSIST = 1 << 4,
    SET_EX = 1 << 5,
    SET_PX = 1 << 6,
    SET_EXAT = 1 << 7,
    SET_PXAT = 1 << 8,
    SET_MCFLAGS = 1 << 9, /* Dragonfly's _MCFLAGS: a memcached item's flags (journal, replicas) */
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* Which commands take an option of parse_set_options. */
enum { OPT_SET = 1 << 0, OPT_GETEX = 1 << 1 };

/* An option of SET or GETEX: the flag it sets, the flags it cannot be combined with, and whether
 * an expire value follows it. */
typedef struct set_option {
    const char *name;
    int flag;
    int conflicts;
    int commands; /* OPT_* */
    int takes_value;
} set_option;

#define EXPIRE_OPTION_CONFLICTS(flag) (SET_KEEPTTL | SET_PERSIST | (SET_ANY_EXPIRE & ~(flag)))

static const set_option set_options[] = {
    {"nx", SET_NX, SET_XX, OPT_SET, 0},
    {"xx", SET_XX, SET_NX, OPT_SET, 0},
    {"get", SET_GET, 0, OPT_SET, 0},
    {"keepttl", SET_KEEPTTL, SET_PERSIST | SET_ANY_EXPIRE, OPT_SET, 0},
    {"persist", SET_PERSIST, SET_KEEPTTL | SET_ANY_EXPIRE, OPT_GETEX, 0},
    {"ex", SET_EX, EXPIRE_OPTION_CONFLICTS(SET_EX), OPT_SET | OPT_GETEX, 1},
    {"px", SET_PX, EXPIRE_OPTION_CONFLICTS(SET_PX), OPT_SET | OPT_GETEX, 1},
    {"exat", SET_EXAT, EXPIRE_OPTION_CONFLICTS(SET_EXAT), OPT_SET | OPT_GETEX, 1},
    {"pxat", SET_PXAT, EXPIRE_OPTION_CONFLICTS(SET_PXAT), OPT_SET | OPT_GETEX, 1},
    {"_mcflags", SET_MCFLAGS, 0, OPT_SET, 1},
};

static void reply_string(cmd_ctx *c, const entry *e)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    reply_bulk(c, s, len);
}

/* Redis's checkStringLength: the result of growing a string must fit proto-max-bulk-len. */
static int string_len_ok_or_reply(cmd_ctx *c, size_t have, size_t add)
{
    if ((long long)(have + add) > server.cfg.proto_max_bulk_len || have + add < have) {
        reply_error(c, ERR_STRING_TOO_LONG);
        return 0;
    }
    return 1;
}

/* The raw, writable form of string entry e (Redis's dbUnshareStringValue), with room for cap
 * bytes. An int or embstr value is copied into a new raw entry that takes e's place. */
static entry *string_unshare(cmd_ctx *c, entry *e, size_t cap)
{
    if (e->enc == ENC_RAW)
        return e;
    return db_replace(c, e, entry_string_to_raw(e, cap));
}

/* ---- SET, GETEX and their variants --------------------------------------------------------- */

/* Redis's parseExtendedStringArgumentsOrReply: reads the options of `command` (OPT_SET or
 * OPT_GETEX) from argv[first] on. Every option is checked before any expire value is parsed, so
 * a syntax error wins over a bad number, as in Redis. Repeating an option is allowed; for the
 * expire options the last value counts. */
static int parse_set_options(cmd_ctx *c, int first, int command, int *flags, const slice **expire,
                             const slice **mcflags)
{
    for (int j = first; j < c->argc; j++) {
        const set_option *opt = NULL;
        for (size_t i = 0; i < sizeof(set_options) / sizeof(set_options[0]) && !opt; i++)
            if ((set_options[i].commands & command) && arg_eq(&c->argv[j], set_options[i].name))
                opt = &set_options[i];
        if (!opt || (*flags & opt->conflicts) || (opt->takes_value && j + 1 == c->argc)) {
            reply_syntax_error(c);
            return -1;
        }
        *flags |= opt->flag;
        if (opt->flag == SET_MCFLAGS)
            *mcflags = &c->argv[++j];
        else if (opt->takes_value)
            *expire = &c->argv[++j];
    }
    return 0;
}

/* Redis's getExpireMillisecondsOrReply: the expire argument of `flags`' unit as an absolute time
 * in ms. Zero, negative and overflowing values are "invalid expire time". */
static int expire_ms_or_reply(cmd_ctx *c, const slice *expire, int flags, int64_t *when_ms)
{
    long long v;
    if (arg_ll_or_reply(c, expire, &v, NULL))
        return -1;
    if (v <= 0) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
        return -1;
    }
    long long unit = (flags & (SET_EX | SET_EXAT)) ? MS_PER_SEC : 1;
    return arg_expire_or_reply(c, expire, unit, (flags & (SET_EXAT | SET_PXAT)) != 0, when_ms);
}

/* Redis's setGenericCommand, serving SET, SETNX, SETEX, PSETEX and GETSET. Replies: with SET_GET
 * the old value (or an error when it is not a string); otherwise OK (or 1 with int_replies), or
 * null (0) when NX/XX prevented the write. */
static void set_generic(cmd_ctx *c, int flags, const slice *key, const slice *val,
                        const slice *expire, const slice *mcflags, int int_replies)
{
    int64_t when = -1;
    if (expire && expire_ms_or_reply(c, expire, flags, &when))
        return;
    long long mc_flags = 0;
    if (mcflags && arg_ll_range_or_reply(c, mcflags, 0, UINT32_MAX, &mc_flags, NULL))
        return;
    entry *old;
    if (flags & SET_GET) {
        old = db_lookup_read(c, key->p, key->len);
        if (db_wrong_type(c, old, OBJ_STRING))
            return;
        if (old)
            reply_string(c, old);
        else
            reply_null(c);
    } else {
        old = db_lookup_write(c, key->p, key->len);
    }
    if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
        if (flags & SET_GET)
            return; /* the old value was the reply */
        if (int_replies)
            reply_int(c, 0);
        else
            reply_null(c);
        return;
    }
    entry_mc m = {.flags = (uint32_t)mc_flags};
    if (mc_flags)
        m.cas = memcache_cas_next(ctx_key_shard(c, key->p, key->len));
    db_put(c,
           mc_flags ? entry_new_string_mc(key->p, key->len, val->p, val->len, when, &m)
                    : entry_new_string(key->p, key->len, val->p, val->len, when),
           (flags & SET_KEEPTTL) != 0);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, "set", key->p, key->len);
    if (expire) {
        db_notify(c, NOTIFY_GENERIC, "expire", key->p, key->len);
        /* SETEX, PSETEX and relative expiries are journaled with the absolute time. */
        if (mc_flags)
            journal_rewrite(c, "sbbslsl", "SET", key, val, "PXAT", (long long)when, "_MCFLAGS",
                            mc_flags);
        else
            journal_rewrite(c, "sbbsl", "SET", key, val, "PXAT", (long long)when);
    }
    if (flags & SET_GET)
        return;
    if (int_replies)
        reply_int(c, 1);
    else
        reply_ok(c);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL] */
static void set_cmd(cmd_ctx *c)
{
    int flags = 0;
    const slice *expire = NULL;
    const slice *mcflags = NULL;
    if (parse_set_options(c, 3, OPT_SET, &flags, &expire, &mcflags))
        return;
    set_generic(c, flags, &c->argv[1], &c->argv[2], expire, mcflags, 0);
}

/* SETNX key value */
static void setnx_cmd(cmd_ctx *c)
{
    set_generic(c, SET_NX, &c->argv[1], &c->argv[2], NULL, NULL, 1);
}

/* SETEX key seconds value */
static void setex_cmd(cmd_ctx *c)
{
    set_generic(c, SET_EX, &c->argv[1], &c->argv[3], &c->argv[2], NULL, 0);
}

/* PSETEX key milliseconds value */
static void psetex_cmd(cmd_ctx *c)
{
    set_generic(c, SET_PX, &c->argv[1], &c->argv[3], &c->argv[2], NULL, 0);
}

/* GETSET key value: SET key value GET. */
static void getset_cmd(cmd_ctx *c)
{
    set_generic(c, SET_GET, &c->argv[1], &c->argv[2], NULL, NULL, 0);
}

static void get_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    reply_string(c, e);
}

/* GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST] */
static void getex_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    int flags = 0;
    const slice *expire = NULL;
    if (parse_set_options(c, 2, OPT_GETEX, &flags, &expire, NULL))
        return;
    entry *e = db_lookup_read(c, key->p, key->len);
    if (!e) {
        reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    int64_t when = -1;
    if (expire && expire_ms_or_reply(c, expire, flags, &when))
        return;
    reply_string(c, e);
    if ((flags & (SET_EXAT | SET_PXAT)) && db_expiry_passed(c, when)) {
        /* An absolute time already past: the key goes now rather than on its next access. */
        db_delete(c, key->p, key->len);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
        journal_rewrite(c, "sb", "DEL", key);
    } else if (expire) {
        db_set_expire(c, e, when);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "expire", key->p, key->len);
        journal_rewrite(c, "sbl", "PEXPIREAT", key, (long long)when);
    } else if ((flags & SET_PERSIST) && e->has_expire) {
        db_set_expire(c, e, -1);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_GENERIC, "persist", key->p, key->len);
        journal_rewrite(c, "sb", "PERSIST", key);
    }
}

/* GETDEL key */
static void getdel_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_read(c, key->p, key->len);
    if (!e) {
        reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    reply_string(c, e);
    db_delete(c, key->p, key->len);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_GENERIC, "del", key->p, key->len);
}

/* ---- multi-key: MGET, MSET, MSETNX ----------------------------------------------------------
 * Their table rows declare every key, so the dispatcher holds all the shards involved and the
 * procs simply loop: the whole command is one atomic step. */

static void mget_cmd(cmd_ctx *c)
{
    reply_array(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        entry *e = db_lookup_read(c, c->argv[j].p, c->argv[j].len);
        if (e && e->type == OBJ_STRING)
            reply_string(c, e);
        else
            reply_null(c); /* MGET answers null for values of other types, not an error */
    }
}

static void mset_generic(cmd_ctx *c, int nx)
{
    if (c->argc % 2 == 0) {
        reply_wrong_args(c);
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            if (db_lookup_write(c, c->argv[j].p, c->argv[j].len)) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        const slice *k = &c->argv[j], *v = &c->argv[j + 1];
        db_put(c, entry_new_string(k->p, k->len, v->p, v->len, -1), 0);
        db_signal_modified(c, k->p, k->len);
        db_notify(c, NOTIFY_STRING, "set", k->p, k->len);
    }
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

static void mset_cmd(cmd_ctx *c)
{
    mset_generic(c, 0);
}

static void msetnx_cmd(cmd_ctx *c)
{
    mset_generic(c, 1);
}

/* ---- counters -------------------------------------------------------------------------------- */

/* Redis's incrDecrCommand. An int-encoded value is updated in place; any other string that reads
 * as an integer becomes an int entry with the same expiry. */
static void incr_decr(cmd_ctx *c, long long incr)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    long long value = 0;
    if (e && !entry_get_ll(e, &value)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(c, ERR_OVERFLOW);
        return;
    }
    value += incr;
    if (e && e->enc == ENC_INT)
        entry_set_ll(e, value);
    else if (e)
        db_put(c, entry_new_int(key->p, key->len, value, entry_expire(e)), 0);
    else
        db_add(c, entry_new_int(key->p, key->len, value, -1));
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, "incrby", key->p, key->len);
    reply_int(c, value);
}

static void incr_cmd(cmd_ctx *c)
{
    incr_decr(c, 1);
}

static void decr_cmd(cmd_ctx *c)
{
    incr_decr(c, -1);
}

static void incrby_cmd(cmd_ctx *c)
{
    long long incr;
    if (arg_ll_or_reply(c, &c->argv[2], &incr, NULL))
        return;
    incr_decr(c, incr);
}

static void decrby_cmd(cmd_ctx *c)
{
    long long decr;
    if (arg_ll_or_reply(c, &c->argv[2], &decr, NULL))
        return;
    if (decr == LLONG_MIN) { /* its negation does not exist */
        reply_error(c, ERR_DECR_OVERFLOW);
        return;
    }
    incr_decr(c, -decr);
}

/* INCRBYFLOAT key increment. The result is stored as the text it replies (Redis's "human"
 * long double format), keeping the key's expiry. */
static void incrbyfloat_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    long double value = 0, incr;
    if (e) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = entry_str(e, tmp, &len);
        if (!str_to_long_double(s, len, &value)) {
            reply_error(c, ERR_NOT_FLOAT);
            return;
        }
    }
    if (arg_long_double_or_reply(c, &c->argv[2], &incr, NULL))
        return;
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(c, ERR_FLOAT_NAN);
        return;
    }
    char buf[LONG_DOUBLE_STR_MAX];
    int n = fmt_long_double(buf, sizeof(buf), value);
    entry *ne = entry_new_string_plain(key->p, key->len, buf, (size_t)n, e ? entry_expire(e) : -1);
    if (e)
        db_put(c, ne, 0);
    else
        db_add(c, ne);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, "incrbyfloat", key->p, key->len);
    /* The result, not the increment: float arithmetic must not differ on replay (Redis). */
    slice result = {buf, (size_t)n};
    journal_rewrite(c, "sbbs", "SET", key, &result, "KEEPTTL");
    reply_bulk(c, buf, (size_t)n);
}

/* ---- byte ranges: APPEND, STRLEN, GETRANGE, SETRANGE ---------------------------------------- */

static void append_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *add = &c->argv[2];
    entry *e = db_lookup_write(c, key->p, key->len);
    size_t total;
    if (!e) {
        db_add(c, entry_new_string(key->p, key->len, add->p, add->len, -1));
        total = add->len;
    } else {
        if (db_wrong_type(c, e, OBJ_STRING))
            return;
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        entry_str(e, tmp, &len);
        if (!string_len_ok_or_reply(c, len, add->len))
            return;
        e = string_unshare(c, e, len + add->len);
        rawstr *r = entry_raw_resize(e, len + add->len);
        memcpy(r->data + len, add->p, add->len);
        total = r->len;
    }
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, "append", key->p, key->len);
    reply_int(c, (long long)total);
}

static void strlen_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    entry_str(e, tmp, &len);
    reply_int(c, (long long)len);
}

/* GETRANGE key start end (and SUBSTR): inclusive, negative indexes count from the end. */
static void getrange_cmd(cmd_ctx *c)
{
    long long start, end;
    if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) ||
        arg_ll_or_reply(c, &c->argv[3], &end, NULL))
        return;
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_bulk(c, "", 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    char tmp[OBJ_INT_STR_MAX];
    size_t slen;
    const char *s = entry_str(e, tmp, &slen);
    long long len = (long long)slen;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (start > end || len == 0)
        reply_bulk(c, "", 0);
    else
        reply_bulk(c, s + start, (size_t)(end - start + 1));
}

/* SETRANGE key offset value: writing past the end pads with zero bytes. */
static void setrange_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1], *val = &c->argv[3];
    long long offset;
    if (arg_ll_or_reply(c, &c->argv[2], &offset, NULL))
        return;
    if (offset < 0) {
        reply_error(c, ERR_OFFSET_RANGE);
        return;
    }
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        if (val->len == 0) { /* nothing to write: no key is created */
            reply_int(c, 0);
            return;
        }
        if (!string_len_ok_or_reply(c, (size_t)offset, val->len))
            return;
        size_t len = (size_t)offset + val->len;
        e = entry_new_raw(key->p, key->len, NULL, len, len, -1);
        db_add(c, e);
    } else {
        if (db_wrong_type(c, e, OBJ_STRING))
            return;
        char tmp[OBJ_INT_STR_MAX];
        size_t olen;
        entry_str(e, tmp, &olen);
        if (val->len == 0) {
            reply_int(c, (long long)olen);
            return;
        }
        if (!string_len_ok_or_reply(c, (size_t)offset, val->len))
            return;
        size_t need = (size_t)offset + val->len;
        e = string_unshare(c, e, need > olen ? need : olen);
        if (need > olen)
            entry_raw_resize(e, need);
    }
    rawstr *r = entry_ptr(e);
    memcpy(r->data + offset, val->p, val->len);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, "setrange", key->p, key->len);
    reply_int(c, (long long)r->len);
}

/* ---- LCS ------------------------------------------------------------------------------------ */

typedef struct lcs_opts {
    int getlen, getidx, withmatchlen;
    long long minmatchlen;
} lcs_opts;

static int lcs_parse_or_reply(cmd_ctx *c, lcs_opts *o)
{
    for (int j = 3; j < c->argc; j++) {
        const slice *a = &c->argv[j];
        if (arg_eq(a, "idx")) {
            o->getidx = 1;
        } else if (arg_eq(a, "len")) {
            o->getlen = 1;
        } else if (arg_eq(a, "withmatchlen")) {
            o->withmatchlen = 1;
        } else if (arg_eq(a, "minmatchlen") && j + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[++j], &o->minmatchlen, NULL))
                return -1;
            if (o->minmatchlen < 0)
                o->minmatchlen = 0;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    if (o->getidx && o->getlen) {
        reply_error(c, ERR_LCS_LEN_IDX);
        return -1;
    }
    return 0;
}

/* One IDX match: [[a_start, a_end], [b_start, b_end]] and its length with WITHMATCHLEN. */
static void lcs_reply_range(cmd_ctx *c, const lcs_opts *o, uint32_t astart, uint32_t aend,
                            uint32_t bstart, uint32_t bend)
{
    reply_array(c, 2 + o->withmatchlen);
    reply_array(c, 2);
    reply_int(c, astart);
    reply_int(c, aend);
    reply_array(c, 2);
    reply_int(c, bstart);
    reply_int(c, bend);
    if (o->withmatchlen)
        reply_int(c, aend - astart + 1);
}

/* Redis's lcsCommand: the classic dynamic programming table, then a walk back from its corner
 * that spells the subsequence backwards and emits the ranges matched (the last ones first, as
 * Redis does). */
static void lcs_compute(cmd_ctx *c, const lcs_opts *o, const char *a, uint32_t alen, const char *b,
                        uint32_t blen)
{
    uint64_t cells = (uint64_t)(alen + 1) * (blen + 1);
    if (cells > (uint64_t)server.cfg.proto_max_bulk_len / sizeof(uint32_t)) {
        reply_error(c, ERR_LCS_TABLE_LIMIT);
        return;
    }
    uint32_t *lcs = malloc(cells * sizeof(uint32_t));
    if (!lcs) {
        reply_error(c, ERR_LCS_TABLE_ALLOC);
        return;
    }
#define LCS(i, j) lcs[(size_t)(j) + (size_t)(i) * (blen + 1)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    }
    uint32_t idx = LCS(alen, blen);
    int computelcs = o->getidx || !o->getlen;
    char *result = computelcs ? mem_malloc(idx + 1) : NULL;
    size_t matches_handle = 0;
    long nmatches = 0;
    if (o->getidx) {
        reply_map(c, 2);
        reply_bulk_cstr(c, "matches");
        matches_handle = reply_deferred(c);
    }
    /* arange_start == alen means "no range open". */
    uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
    uint32_t i = alen, j = blen;
    while (computelcs && i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            result[idx - 1] = a[i - 1];
            if (arange_start == alen) {
                arange_start = arange_end = i - 1;
                brange_start = brange_end = j - 1;
            } else if (arange_start == i && brange_start == j) {
                arange_start--; /* the range extends backwards */
                brange_start--;
            } else {
                emit = 1;
            }
            if (arange_start == 0 || brange_start == 0)
                emit = 1;
            idx--, i--, j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (arange_start != alen)
                emit = 1;
        }
        if (emit) {
            uint32_t match_len = arange_end - arange_start + 1;
            if (o->getidx && (o->minmatchlen == 0 || match_len >= o->minmatchlen)) {
                lcs_reply_range(c, o, arange_start, arange_end, brange_start, brange_end);
                nmatches++;
            }
            arange_start = alen;
        }
    }
    if (o->getidx) {
        reply_bulk_cstr(c, "len");
        reply_int(c, LCS(alen, blen));
        reply_set_deferred_array(c, matches_handle, nmatches);
    } else if (o->getlen) {
        reply_int(c, LCS(alen, blen));
    } else {
        reply_bulk(c, result, LCS(alen, blen));
    }
#undef LCS
    free(result);
    free(lcs);
}

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] */
static void lcs_cmd(cmd_ctx *c)
{
    entry *ea = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    entry *eb = db_lookup_read(c, c->argv[2].p, c->argv[2].len);
    if ((ea && ea->type != OBJ_STRING) || (eb && eb->type != OBJ_STRING)) {
        reply_error(c, ERR_LCS_TYPES);
        return;
    }
    lcs_opts o = {0};
    if (lcs_parse_or_reply(c, &o))
        return;
    char tmpa[OBJ_INT_STR_MAX], tmpb[OBJ_INT_STR_MAX];
    size_t alen = 0, blen = 0;
    const char *a = ea ? entry_str(ea, tmpa, &alen) : "";
    const char *b = eb ? entry_str(eb, tmpb, &blen) : "";
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        reply_error(c, ERR_LCS_TOO_LONG);
        return;
    }
    lcs_compute(c, &o, a, (uint32_t)alen, b, (uint32_t)blen);
}

#define STRING_CMD .group = "string", .acl = ACL_STRING
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1

command string_commands[] = {
    {.name = "get",
     .proc = get_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_READ | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns the string value of a key."},
    {.name = "set",
     .proc = set_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Sets the string value of a key, ignoring its type. The key is created if it "
                "doesn't exist."},
    {.name = "setnx",
     .proc = setnx_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Set the string value of a key only when the key doesn't exist."},
    {.name = "setex",
     .proc = setex_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "2.0.0",
     .summary = "Sets the string value and expiration time of a key. Creates the key if it "
                "doesn't exist."},
    {.name = "psetex",
     .proc = psetex_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "2.6.0",
     .summary = "Sets both string value and expiration time in milliseconds of a key. The key "
                "is created if it doesn't exist."},
    {.name = "getset",
     .proc = getset_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Returns the previous string value of a key after setting it "
                "to a new value."},
    {.name = "getex",
     .proc = getex_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "6.2.0",
     .summary = "Returns the string value of a key after setting its expiration time."},
    {.name = "getdel",
     .proc = getdel_cmd,
     .arity = 2,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "6.2.0",
     .summary = "Returns the string value of a key after deleting the key."},
    {.name = "mget",
     .proc = mget_cmd,
     .arity = -2,
     .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     STRING_CMD | ACL_READ | ACL_FAST,
     .since = "1.0.0",
     .summary = "Atomically returns the string values of one or more keys."},
    {.name = "mset",
     .proc = mset_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .first_key = 1,
     .last_key = -1,
     .key_step = 2,
     STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.1",
     .summary = "Atomically creates or modifies the string values of one or "
                "more keys."},
    {.name = "msetnx",
     .proc = msetnx_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .first_key = 1,
     .last_key = -1,
     .key_step = 2,
     STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.1",
     .summary = "Atomically modifies the string values of one or more keys "
                "only when all keys don't exist."},
    {.name = "append",
     .proc = append_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.0.0",
     .summary = "Appends a string to the value of a key. Creates the key if "
                "it doesn't exist."},
    {.name = "strlen",
     .proc = strlen_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_READ | ACL_FAST,
     .since = "2.2.0",
     .summary = "Returns the length of a string value."},
    {.name = "incr",
     .proc = incr_cmd,
     .arity = 2,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Increments the integer value of a key by one. Uses 0 as initial value if the "
                "key doesn't exist."},
    {.name = "decr",
     .proc = decr_cmd,
     .arity = 2,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Decrements the integer value of a key by one. Uses 0 as initial value if the "
                "key doesn't exist."},
    {.name = "incrby",
     .proc = incrby_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Increments the integer value of a key by a number. Uses 0 as "
                "initial value if the key doesn't exist."},
    {.name = "decrby",
     .proc = decrby_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "1.0.0",
     .summary = "Decrements a number from the integer value of a key. Uses 0 "
                "as initial value if the key doesn't exist."},
    {.name = "incrbyfloat",
     .proc = incrbyfloat_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_FAST,
     .since = "2.6.0",
     .summary = "Increment the floating point value of a key by a number. "
                "Uses 0 as initial value if the key doesn't exist."},
    {.name = "getrange",
     .proc = getrange_cmd,
     .arity = 4,
     .flags = CMD_READONLY,
     KEY1,
     STRING_CMD | ACL_READ | ACL_SLOW,
     .since = "2.4.0",
     .summary = "Returns a substring of the string stored at a key."},
    {.name = "substr",
     .proc = getrange_cmd,
     .arity = 4,
     .flags = CMD_READONLY,
     KEY1,
     STRING_CMD | ACL_READ | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Returns a substring from a string value."},
    {.name = "setrange",
     .proc = setrange_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "2.2.0",
     .summary = "Overwrites a part of a string value with another by an offset. Creates the key "
                "if it doesn't exist."},
    {.name = "lcs",
     .proc = lcs_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     STRING_CMD | ACL_READ | ACL_SLOW,
     .since = "7.0.0",
     .summary = "Finds the longest common substring."},
    {0},
};
