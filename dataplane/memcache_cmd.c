/* The procs of memcached's text and binary commands (memcache_int.h), and the command table rows
 * they run under. Meta commands are in memcache_meta.c.
 *
 * A request reaches its proc through the ordinary dispatch: the row's key positions route it to
 * the key's shard (a multi-key get becomes a transaction over its shards, so its answer comes in
 * request order), and the proc writes the memcached answer to c->out. A proc trusts its
 * arguments: the parsers checked them. */
#include <arpa/inet.h>
#include <string.h>

#include "db.h"
#include "memcache_int.h"
#include "worker.h"

#define U64_TEXT_MAX 24
#define MCB_GET_EXTLEN 4          /* flags */
#define MCB_INCR_BODY 8           /* the new value */
#define MCB_NO_CREATE 0xffffffffu /* incr/decr expiration: do not create on a miss */

mc_stats mc_stats_of[DFLY_MAX_THREADS];

mc_stats *mc_stats_here(void)
{
    return &mc_stats_of[current_worker ? current_worker->id : 0];
}

/* ---- output helpers ------------------------------------------------------------------------ */

static void out_str(cmd_ctx *c, const char *s)
{
    buf_append_str(c->out, s);
}

static void out_line(cmd_ctx *c, const char *s)
{
    buf_append_str(c->out, s);
    buf_append(c->out, "\r\n", 2);
}

/* " <v>" */
static void out_u64(cmd_ctx *c, uint64_t v)
{
    char t[U64_TEXT_MAX], *p = t + sizeof(t);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    *--p = ' ';
    buf_append(c->out, p, (size_t)(t + sizeof(t) - p));
}

static int last_is_noreply(cmd_ctx *c, int idx)
{
    return idx > 0 && idx < c->argc && mc_is(&c->argv[idx], "noreply");
}

static int64_t arg_exptime(cmd_ctx *c, const slice *a)
{
    int32_t e = 0;
    mc_strtol32(a, &e);
    return mc_exptime_ms(e, c->now_ms);
}

/* ---- get, gets, gat, gats ------------------------------------------------------------------ */

static void out_value(cmd_ctx *c, const slice *key, const mc_item *it, int with_cas, uint64_t cas)
{
    buf_append(c->out, "VALUE ", 6);
    buf_append(c->out, key->p, key->len);
    out_u64(c, it->mc.flags);
    out_u64(c, it->len);
    if (with_cas)
        out_u64(c, cas);
    buf_append(c->out, "\r\n", 2);
    buf_append(c->out, it->val, it->len);
    buf_append(c->out, "\r\n", 2);
}

/* Fetches one key for get/gets (touch < 0) or gat/gats (touch: the new expiry). */
static void get_one(cmd_ctx *c, const slice *key, int with_cas, int gat, int64_t expire)
{
    mc_stats *st = mc_stats_here();
    mc_item it;
    int hit = mc_item_find(c, key, 1, &it);
    if (gat) {
        counter_add(&st->cmd_touch, 1);
        counter_add(hit ? &st->touch_hits : &st->touch_misses, 1);
    } else {
        counter_add(&st->cmd_get, 1);
        counter_add(hit ? &st->get_hits : &st->get_misses, 1);
    }
    if (!hit)
        return;
    uint64_t cas = with_cas ? mc_item_cas(c, key, &it) : 0;
    if (!(it.mc.bits & MC_BIT_FETCHED) && it.has_mc) {
        entry_mc m = it.mc;
        m.bits |= MC_BIT_FETCHED;
        mc_item_set_mc(c, key, &it, &m);
    }
    out_value(c, key, &it, with_cas, cas);
    if (gat) /* after the answer: a touch into the past drops the item, memcached answers once */
        mc_item_expire(c, key, &it, expire);
}

/* get|gets|bget <key>* */
static void get_cmd(cmd_ctx *c)
{
    int with_cas = mc_is(&c->argv[0], "gets");
    for (int i = 1; i < c->argc; i++)
        get_one(c, &c->argv[i], with_cas, 0, 0);
    out_str(c, "END\r\n");
}

/* gat|gats <exptime> <key>* */
static void gat_cmd(cmd_ctx *c)
{
    mc_journal_begin();
    int with_cas = mc_is(&c->argv[0], "gats");
    int64_t expire = arg_exptime(c, &c->argv[1]);
    int fail = c->cmd == &mc_cmd_gat_fail;
    size_t mark = c->out->len;
    for (int i = 2; i < c->argc; i++)
        get_one(c, &c->argv[i], with_cas, 1, expire);
    if (fail) { /* a later key was too long: memcached drops the answer, keeps the touches */
        c->out->len = mark;
        out_str(c, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    out_str(c, "END\r\n");
}

/* ---- storage ------------------------------------------------------------------------------- */

static int text_mode(const slice *name)
{
    switch (name->p[0]) {
    case 'a': return name->len == 3 ? MC_MODE_ADD : MC_MODE_APPEND;
    case 'r': return MC_MODE_REPLACE;
    case 'p': return MC_MODE_PREPEND;
    case 'c': return MC_MODE_CAS;
    default: return MC_MODE_SET;
    }
}

static const char *const store_answers[] = {
    [MC_STORED] = "STORED",
    [MC_NOT_STORED] = "NOT_STORED",
    [MC_EXISTS] = "EXISTS",
    [MC_NOT_FOUND] = "NOT_FOUND",
};

/* set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply] <data>
 * cas <key> <flags> <exptime> <bytes> <cas unique> [noreply] <data> */
static void store_cmd(cmd_ctx *c)
{
    mc_store_args a = {
        .mode = text_mode(&c->argv[0]), .key = c->argv[1], .val = c->argv[c->argc - 1]};
    mc_strtoul32(&c->argv[2], &a.flags);
    a.expire_ms = arg_exptime(c, &c->argv[3]);
    if (a.mode == MC_MODE_CAS)
        mc_strtoull(&c->argv[5], &a.cas);
    uint64_t cas;
    int rc = mc_store(c, &a, &cas);
    if (!last_is_noreply(c, c->argc - 2))
        out_line(c, store_answers[rc]);
}

/* A store whose value passed -I: memcached drops the old item of a set, and answers. The
 * arguments are the request's tokens (the data was not read). */
static void too_large_cmd(cmd_ctx *c)
{
    counter_add(&mc_stats_here()->store_too_large, 1);
    int meta = mc_is(&c->argv[0], "ms");
    if (meta || mc_is(&c->argv[0], "set"))
        mc_item_drop(c, &c->argv[1]);
    if (meta || !last_is_noreply(c, c->argc - 1))
        out_line(c, "SERVER_ERROR object too large for cache");
}

/* ---- incr, decr, delete, touch ------------------------------------------------------------- */

/* incr|decr <key> <value> [noreply] */
static void arith_cmd(cmd_ctx *c)
{
    uint64_t delta = 0, value, cas;
    int created;
    mc_strtoull(&c->argv[2], &delta);
    int rc =
        mc_arith(c, &c->argv[1], c->argv[0].p[0] == 'i', delta, 0, 0, 0, 0, &value, &cas, &created);
    if (last_is_noreply(c, c->argc - 1))
        return;
    if (rc == MC_DELTA_OK) {
        char t[U64_TEXT_MAX];
        snprintf(t, sizeof(t), "%llu", (unsigned long long)value);
        out_line(c, t);
    } else if (rc == MC_NOT_FOUND) {
        out_line(c, "NOT_FOUND");
    } else {
        out_line(c, "CLIENT_ERROR cannot increment or decrement non-numeric value");
    }
}

/* delete <key> [0] [noreply] */
static void delete_cmd(cmd_ctx *c)
{
    int rc = mc_delete(c, &c->argv[1], 0);
    if (!last_is_noreply(c, c->argc - 1))
        out_line(c, rc == MC_STORED ? "DELETED" : "NOT_FOUND");
}

/* touch <key> <exptime> [noreply] */
static void touch_cmd(cmd_ctx *c)
{
    mc_journal_begin();
    mc_stats *st = mc_stats_here();
    counter_add(&st->cmd_touch, 1);
    mc_item it;
    int hit = mc_item_find(c, &c->argv[1], 1, &it);
    counter_add(hit ? &st->touch_hits : &st->touch_misses, 1);
    if (hit)
        mc_item_expire(c, &c->argv[1], &it, arg_exptime(c, &c->argv[2]));
    if (!last_is_noreply(c, c->argc - 1))
        out_line(c, hit ? "TOUCHED" : "NOT_FOUND");
}

/* flush_all [delay] [noreply]: runs holding every shard. */
static void flush_all_cmd(cmd_ctx *c)
{
    counter_add(&mc_stats_here()->cmd_flush, 1);
    int noreply = last_is_noreply(c, c->argc - 1);
    int32_t delay = 0;
    if (c->argc > (noreply ? 2 : 1))
        mc_strtol32(&c->argv[1], &delay);
    if (delay > 0) {
        mc_flush_schedule(mc_exptime_ms(delay, c->now_ms));
    } else {
        mc_flush_cancel();
        mc_flush_now(c);
    }
    if (!noreply)
        out_line(c, "OK");
}

/* ---- binary commands ----------------------------------------------------------------------- */

static void bin_header(cmd_ctx *c, mc_bin_header *h)
{
    mc_bin_header_decode(c->argv[MCB_ARG_HEADER].p, h);
}

static uint32_t extras_u32(cmd_ctx *c, size_t off)
{
    uint32_t v;
    memcpy(&v, c->argv[MCB_ARG_EXTRAS].p + off, sizeof(v));
    return ntohl(v);
}

static uint64_t extras_u64(cmd_ctx *c, size_t off)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)c->argv[MCB_ARG_EXTRAS].p[off + (size_t)i];
    return v;
}

/* A binary exptime: unsigned 32 bits, otherwise read as the text protocol reads it. */
static int64_t bin_exptime(cmd_ctx *c, uint32_t e)
{
    return mc_exptime_ms((int64_t)e, c->now_ms);
}

/* GET, GETQ, GETK, GETKQ, TOUCH, GAT, GATQ, GATK, GATKQ */
static void bin_get_cmd(cmd_ctx *c)
{
    mc_journal_begin();
    mc_bin_header h;
    bin_header(c, &h);
    const slice *key = &c->argv[MCB_ARG_KEY];
    uint8_t op = h.opcode;
    int touch =
        op == MCB_TOUCH || op == MCB_GAT || op == MCB_GATQ || op == MCB_GATK || op == MCB_GATKQ;
    int with_key = op == MCB_GETK || op == MCB_GETKQ || op == MCB_GATK || op == MCB_GATKQ;
    int with_value = op != MCB_TOUCH;
    mc_stats *st = mc_stats_here();
    mc_item it;
    int hit = mc_item_find(c, key, 1, &it);
    counter_add(touch ? &st->cmd_touch : &st->cmd_get, 1);
    if (touch)
        counter_add(hit ? &st->touch_hits : &st->touch_misses, 1);
    else
        counter_add(hit ? &st->get_hits : &st->get_misses, 1);
    if (!hit) {
        if (mc_bin_quiet(op))
            return;
        if (with_key) {
            mc_bin_response(c->out, &h, MCB_KEY_ENOENT, 0, (uint16_t)key->len, (uint32_t)key->len,
                            0);
            buf_append(c->out, key->p, key->len);
        } else {
            mc_bin_error(c->out, &h, MCB_KEY_ENOENT, NULL);
        }
        return;
    }
    uint64_t cas = mc_item_cas(c, key, &it);
    uint32_t flags = it.mc.flags;
    size_t vlen = with_value ? it.len : 0;
    size_t klen = with_key ? key->len : 0;
    /* The answer is built before a touch that may drop the item (an exptime in the past). */
    mc_bin_response(c->out, &h, MCB_OK, MCB_GET_EXTLEN, (uint16_t)klen,
                    (uint32_t)(MCB_GET_EXTLEN + klen + vlen), cas);
    uint32_t nf = htonl(flags);
    buf_append(c->out, &nf, sizeof(nf));
    buf_append(c->out, key->p, klen);
    buf_append(c->out, it.val, vlen);
    if (touch)
        mc_item_expire(c, key, &it, bin_exptime(c, extras_u32(c, 0)));
}

static int bin_mode(uint8_t op, uint64_t cas)
{
    switch (op) {
    case MCB_APPEND:
    case MCB_APPENDQ: return MC_MODE_APPEND;
    case MCB_PREPEND:
    case MCB_PREPENDQ: return MC_MODE_PREPEND;
    default: break;
    }
    if (cas)
        return MC_MODE_CAS; /* memcached: any set/add/replace with a CAS is a cas */
    if (op == MCB_ADD || op == MCB_ADDQ)
        return MC_MODE_ADD;
    if (op == MCB_REPLACE || op == MCB_REPLACEQ)
        return MC_MODE_REPLACE;
    return MC_MODE_SET;
}

/* SET, ADD, REPLACE, APPEND, PREPEND and their quiet forms. */
static void bin_store_cmd(cmd_ctx *c)
{
    mc_bin_header h;
    bin_header(c, &h);
    mc_store_args a = {.mode = bin_mode(h.opcode, h.cas),
                       .key = c->argv[MCB_ARG_KEY],
                       .val = c->argv[MCB_ARG_VALUE],
                       .cas = h.cas};
    if (c->argv[MCB_ARG_EXTRAS].len >= 8) {
        a.flags = extras_u32(c, 0);
        a.expire_ms = bin_exptime(c, extras_u32(c, 4));
    } else {
        a.expire_ms = -1;
    }
    uint64_t cas = 0;
    int rc = mc_store(c, &a, &cas);
    if (rc == MC_STORED) {
        if (!mc_bin_quiet(h.opcode))
            mc_bin_response(c->out, &h, MCB_OK, 0, 0, 0, cas);
        return;
    }
    uint16_t status = rc == MC_EXISTS             ? MCB_KEY_EEXISTS
                      : rc == MC_NOT_FOUND        ? MCB_KEY_ENOENT
                      : a.mode == MC_MODE_ADD     ? MCB_KEY_EEXISTS
                      : a.mode == MC_MODE_REPLACE ? MCB_KEY_ENOENT
                                                  : MCB_NOT_STORED;
    mc_bin_error(c->out, &h, status, NULL);
}

/* A binary store whose value passed -I. */
static void bin_too_large_cmd(cmd_ctx *c)
{
    mc_bin_header h;
    bin_header(c, &h);
    counter_add(&mc_stats_here()->store_too_large, 1);
    if (h.opcode == MCB_SET || h.opcode == MCB_SETQ)
        mc_item_drop(c, &c->argv[MCB_ARG_KEY]);
    mc_bin_error(c->out, &h, MCB_E2BIG, NULL);
}

/* DELETE, DELETEQ */
static void bin_delete_cmd(cmd_ctx *c)
{
    mc_bin_header h;
    bin_header(c, &h);
    int rc = mc_delete(c, &c->argv[MCB_ARG_KEY], h.cas);
    if (rc == MC_STORED) {
        if (!mc_bin_quiet(h.opcode))
            mc_bin_response(c->out, &h, MCB_OK, 0, 0, 0, 0);
        return;
    }
    mc_bin_error(c->out, &h, rc == MC_EXISTS ? MCB_KEY_EEXISTS : MCB_KEY_ENOENT, NULL);
}

/* INCREMENT, DECREMENT and quiet forms: extras delta (8), initial (8), expiration (4). */
static void bin_arith_cmd(cmd_ctx *c)
{
    mc_bin_header h;
    bin_header(c, &h);
    uint64_t delta = extras_u64(c, 0), initial = extras_u64(c, 8);
    uint32_t exp = extras_u32(c, 16);
    int incr = h.opcode == MCB_INCREMENT || h.opcode == MCB_INCREMENTQ;
    uint64_t value, cas;
    int created;
    int rc = mc_arith(c, &c->argv[MCB_ARG_KEY], incr, delta, h.cas, exp != MCB_NO_CREATE, initial,
                      bin_exptime(c, exp), &value, &cas, &created);
    if (rc == MC_DELTA_OK) {
        if (mc_bin_quiet(h.opcode))
            return;
        mc_bin_response(c->out, &h, MCB_OK, 0, 0, MCB_INCR_BODY, cas);
        char b[MCB_INCR_BODY];
        for (int i = MCB_INCR_BODY - 1; i >= 0; i--, value >>= 8)
            b[i] = (char)(value & 0xff);
        buf_append(c->out, b, sizeof(b));
        return;
    }
    mc_bin_error(c->out, &h,
                 rc == MC_NOT_FOUND ? MCB_KEY_ENOENT
                 : rc == MC_EXISTS  ? MCB_KEY_EEXISTS
                                    : MCB_DELTA_BADVAL,
                 NULL);
}

/* FLUSH, FLUSHQ: optional extras expiration (4). Runs holding every shard. */
static void bin_flush_cmd(cmd_ctx *c)
{
    mc_bin_header h;
    bin_header(c, &h);
    counter_add(&mc_stats_here()->cmd_flush, 1);
    uint32_t delay = c->argv[MCB_ARG_EXTRAS].len == 4 ? extras_u32(c, 0) : 0;
    if (delay > 0) {
        mc_flush_schedule(mc_exptime_ms(delay, c->now_ms));
    } else {
        mc_flush_cancel();
        mc_flush_now(c);
    }
    if (!mc_bin_quiet(h.opcode))
        mc_bin_response(c->out, &h, MCB_OK, 0, 0, 0, 0);
}

/* ---- the rows ------------------------------------------------------------------------------ */

#define MC_ROW(nm, fn, fl, first, last)                                                            \
    {                                                                                              \
        .name = nm, .proc = fn, .arity = -1, .flags = (fl), .first_key = (first),                  \
        .last_key = (last), .key_step = 1, .group = "memcached"                                    \
    }

#define RD (CMD_READONLY | CMD_FAST)
#define WR (CMD_WRITE | CMD_DENYOOM)

command mc_cmd_get = MC_ROW("get", get_cmd, RD, 1, -1);
command mc_cmd_gat = MC_ROW("gat", gat_cmd, CMD_WRITE, 2, -1);
command mc_cmd_gat_fail = MC_ROW("gat", gat_cmd, CMD_WRITE, 2, -1);
command mc_cmd_store = MC_ROW("set", store_cmd, WR, 1, 1);
command mc_cmd_too_large = MC_ROW("set", too_large_cmd, CMD_WRITE, 1, 1);
command mc_cmd_arith = MC_ROW("incr", arith_cmd, WR, 1, 1);
command mc_cmd_delete = MC_ROW("delete", delete_cmd, CMD_WRITE, 1, 1);
command mc_cmd_touch = MC_ROW("touch", touch_cmd, CMD_WRITE, 1, 1);
command mc_cmd_flush_all = {.name = "flush_all",
                            .proc = flush_all_cmd,
                            .arity = -1,
                            .flags = CMD_WRITE | CMD_ALL_SHARDS,
                            .group = "memcached"};
command mc_cmd_bin_get = MC_ROW("get", bin_get_cmd, RD, MCB_ARG_KEY, MCB_ARG_KEY);
command mc_cmd_bin_store = MC_ROW("set", bin_store_cmd, WR, MCB_ARG_KEY, MCB_ARG_KEY);
command mc_cmd_bin_too_large =
    MC_ROW("set", bin_too_large_cmd, CMD_WRITE, MCB_ARG_KEY, MCB_ARG_KEY);
command mc_cmd_bin_delete = MC_ROW("delete", bin_delete_cmd, CMD_WRITE, MCB_ARG_KEY, MCB_ARG_KEY);
command mc_cmd_bin_arith = MC_ROW("incr", bin_arith_cmd, WR, MCB_ARG_KEY, MCB_ARG_KEY);
command mc_cmd_bin_flush = {.name = "flush_all",
                            .proc = bin_flush_cmd,
                            .arity = -1,
                            .flags = CMD_WRITE | CMD_ALL_SHARDS,
                            .group = "memcached"};

/* Statistics (INFO commandstats) count memcached commands under their RESP kin. */
static void borrow_id(command *cmd, const char *resp_name)
{
    const command *kin = command_lookup_name(resp_name, strlen(resp_name));
    cmd->id = kin ? kin->id : 0;
}

void mc_commands_init(void)
{
    static const struct {
        command *cmd;
        const char *kin;
    } rows[] = {
        {&mc_cmd_get, "mget"},       {&mc_cmd_gat, "getex"},        {&mc_cmd_gat_fail, "getex"},
        {&mc_cmd_store, "set"},      {&mc_cmd_too_large, "set"},    {&mc_cmd_arith, "incrby"},
        {&mc_cmd_delete, "del"},     {&mc_cmd_touch, "expire"},     {&mc_cmd_flush_all, "flushdb"},
        {&mc_cmd_mg, "get"},         {&mc_cmd_mg_write, "getex"},   {&mc_cmd_ms, "set"},
        {&mc_cmd_md, "del"},         {&mc_cmd_ma, "incrby"},        {&mc_cmd_me, "object"},
        {&mc_cmd_bin_get, "get"},    {&mc_cmd_bin_store, "set"},    {&mc_cmd_bin_too_large, "set"},
        {&mc_cmd_bin_delete, "del"}, {&mc_cmd_bin_arith, "incrby"}, {&mc_cmd_bin_flush, "flushdb"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        borrow_id(rows[i].cmd, rows[i].kin);
}

command *mc_text_command(const mc_text_req *r)
{
    if (r->too_large)
        return &mc_cmd_too_large;
    switch (r->op) {
    case MT_GET:
    case MT_GETS: return &mc_cmd_get;
    case MT_GAT:
    case MT_GATS: return r->touch_then_fail ? &mc_cmd_gat_fail : &mc_cmd_gat;
    case MT_SET:
    case MT_ADD:
    case MT_REPLACE:
    case MT_APPEND:
    case MT_PREPEND:
    case MT_CAS: return &mc_cmd_store;
    case MT_INCR:
    case MT_DECR: return &mc_cmd_arith;
    case MT_DELETE: return &mc_cmd_delete;
    case MT_TOUCH: return &mc_cmd_touch;
    case MT_FLUSH_ALL: return &mc_cmd_flush_all;
    case MT_MG: return r->writes ? &mc_cmd_mg_write : &mc_cmd_mg;
    case MT_MS: return &mc_cmd_ms;
    case MT_MD: return &mc_cmd_md;
    case MT_MA: return &mc_cmd_ma;
    case MT_ME: return &mc_cmd_me;
    default: return NULL;
    }
}
