/* The procs of memcached's meta commands: mg, ms, md, ma, me (memcache_int.h).
 *
 * Answers follow memcached 1.6: a two-letter code, then the flags that return something in the
 * order the request gave them (s, t, c, f, l, h, O, k...), then the item bits Z, X and W. q
 * hides the nominal answer (EN of mg, HD of ms, md and ma), never an error. The per-item state
 * behind h, l, X, W and Z is the entry's memcached block (fetched, stale and win-sent bits) and
 * its LRU clock. */
#include <string.h>

#include "db.h"
#include "memcache_int.h"
#include "worker.h"

#define U64_TEXT_MAX 24
#define B64_KEY_MAX 344 /* base64 of a MC_KEY_MAX-byte key */
#define MC_SLAB_CLASS 1 /* me cls=: one class stands for all (we have no slabs) */

/* ---- output -------------------------------------------------------------------------------- */

static void out_raw(cmd_ctx *c, const char *s, size_t n)
{
    buf_append(c->out, s, n);
}

static void out_str(cmd_ctx *c, const char *s)
{
    buf_append_str(c->out, s);
}

/* " <letter><v>" */
static void out_flag_u64(cmd_ctx *c, char letter, uint64_t v)
{
    char t[U64_TEXT_MAX + 2];
    int n = snprintf(t, sizeof(t), " %c%llu", letter, (unsigned long long)v);
    out_raw(c, t, (size_t)n);
}

static void out_flag_ll(cmd_ctx *c, char letter, long long v)
{
    char t[U64_TEXT_MAX + 2];
    int n = snprintf(t, sizeof(t), " %c%lld", letter, v);
    out_raw(c, t, (size_t)n);
}

/* " k<key>", base64 and followed by " b" for a binary key (memcached's META_KEY). */
static void out_key(cmd_ctx *c, const slice *key, int binary)
{
    out_raw(c, " k", 2);
    if (!binary) {
        out_raw(c, key->p, key->len);
        return;
    }
    char b64[B64_KEY_MAX];
    size_t n = mc_base64_encode(key->p, key->len, b64, sizeof(b64));
    out_raw(c, b64, n);
    out_raw(c, " b", 2);
}

/* The O and k flags, which every answer returns, in request order. */
static void out_opaque_key(cmd_ctx *c, int first, int last, const slice *key, int binary)
{
    for (int i = first; i < last; i++) {
        const slice *t = &c->argv[i];
        if (t->p[0] == 'O') {
            out_raw(c, " ", 1);
            out_raw(c, t->p, t->len);
        } else if (t->p[0] == 'k') {
            out_key(c, key, binary);
        }
    }
}

static void out_code_line(cmd_ctx *c, const char *code, int first, int last, const slice *key,
                          int binary)
{
    out_str(c, code);
    out_opaque_key(c, first, last, key, binary);
    out_raw(c, "\r\n", 2);
}

static long long ttl_of(cmd_ctx *c, int64_t expire_ms)
{
    if (expire_ms < 0)
        return -1;
    int64_t left = expire_ms - c->now_ms;
    return left <= 0 ? 0 : (left + 999) / 1000;
}

/* ---- mg ------------------------------------------------------------------------------------ */

/* What mg does to an item it found: the answer's flags, and the changes to make after it. */
typedef struct mg_state {
    int created, won, ttl_set, expire_changed;
    int64_t expire; /* the item's expiry as T leaves it */
} mg_state;

static void mg_flags(cmd_ctx *c, const mc_meta *m, const slice *key, mc_item *it, mg_state *s,
                     int hit_before, uint64_t la)
{
    for (int i = 2; i < c->argc; i++) {
        const slice *t = &c->argv[i];
        switch (t->p[0]) {
        case 'T':
            s->ttl_set = s->expire_changed = 1;
            s->expire = mc_exptime_ms(m->ttl, c->now_ms);
            break;
        case 'N': /* the vivified item gets N's TTL here, in flag order, as in memcached */
            if (s->created) {
                s->won = 1;
                s->expire = mc_exptime_ms(m->vivify_ttl, c->now_ms);
                s->expire_changed = 1;
            }
            break;
        case 'R':
            if (!(it->mc.bits & MC_BIT_WON) && !s->created && s->expire > 0 &&
                s->expire < mc_exptime_ms(m->recache, c->now_ms))
                s->won = 1;
            break;
        case 's': out_flag_u64(c, 's', it->len); break;
        case 't': out_flag_ll(c, 't', ttl_of(c, s->expire)); break;
        case 'c': out_flag_u64(c, 'c', mc_item_cas(c, key, it)); break;
        case 'f': out_flag_u64(c, 'f', it->mc.flags); break;
        case 'l': out_flag_u64(c, 'l', la); break;
        case 'h': out_raw(c, hit_before ? " h1" : " h0", 3); break;
        case 'O':
            out_raw(c, " ", 1);
            out_raw(c, t->p, t->len);
            break;
        case 'k': out_key(c, key, (it->mc.bits & MC_BIT_BINKEY) != 0); break;
        default: break;
        }
    }
}

/* N on a miss: an empty item with N's TTL, whose creator wins the right to fill it. */
static int mg_vivify(cmd_ctx *c, const mc_meta *m, const slice *key, mc_item *it)
{
    mc_store_args a = {.mode = MC_MODE_ADD,
                       .key = *key,
                       .val = {"", 0},
                       .expire_ms = -1,
                       .bits = m->base64 ? MC_BIT_BINKEY : 0};
    uint64_t cas;
    return mc_store(c, &a, &cas) == MC_STORED && mc_item_find(c, key, 0, it);
}

/* mg <key> <flags>* */
static void mg_cmd(cmd_ctx *c)
{
    mc_journal_begin();
    mc_meta m;
    mc_meta_parse(c->argv, 2, c->argc, &m);
    const slice *key = &c->argv[1];
    mc_stats *st = mc_stats_here();
    mc_item it;
    mg_state s = {0};
    int hit = mc_item_find(c, key, 0, &it);
    if (!hit && m.vivify)
        hit = s.created = mg_vivify(c, &m, key, &it);
    if (!hit) {
        counter_add(m.has_ttl ? &st->cmd_touch : &st->cmd_get, 1);
        counter_add(m.has_ttl ? &st->touch_misses : &st->get_misses, 1);
        if (!m.quiet)
            out_code_line(c, "EN", 2, c->argc, key, m.base64);
        return;
    }
    int hit_before = (it.mc.bits & MC_BIT_FETCHED) != 0;
    uint64_t la = entry_idle_secs(it.e);
    s.expire = entry_expire(it.e);
    if (m.value) {
        char t[U64_TEXT_MAX + 3];
        out_raw(c, t, (size_t)snprintf(t, sizeof(t), "VA %zu", it.len));
    } else {
        out_raw(c, "HD", 2);
    }
    mg_flags(c, &m, key, &it, &s, hit_before, la);
    uint8_t bits = it.mc.bits;
    if (bits & MC_BIT_WON)
        out_raw(c, " Z", 2);
    if (bits & MC_BIT_STALE) {
        out_raw(c, " X", 2);
        s.won |= !(bits & MC_BIT_WON); /* a stale item's first reader is told to refill it */
    }
    if (s.won) {
        out_raw(c, " W", 2);
        bits |= MC_BIT_WON;
    }
    out_raw(c, "\r\n", 2);
    if (m.value) {
        out_raw(c, it.val, it.len);
        out_raw(c, "\r\n", 2);
    }
    if (!m.no_bump) {
        bits |= MC_BIT_FETCHED;
        entry_touch(it.e);
    }
    if (bits != it.mc.bits) {
        mc_item_cas(c, key, &it); /* gives the item a memcached block if it has none */
        entry_mc nb = it.mc;
        nb.bits = bits;
        mc_item_set_mc(c, key, &it, &nb);
    }
    if (s.expire_changed)
        mc_item_expire(c, key, &it, s.expire);
    counter_add(s.ttl_set ? &st->cmd_touch : &st->cmd_get, 1);
    counter_add(s.ttl_set ? &st->touch_hits : &st->get_hits, 1);
}

/* ---- ms ------------------------------------------------------------------------------------ */

static int ms_mode(const mc_meta *m)
{
    switch (m->mode) {
    case 'E': return MC_MODE_ADD;
    case 'A': return MC_MODE_APPEND;
    case 'P': return MC_MODE_PREPEND;
    case 'R': return m->has_cas ? MC_MODE_CAS : MC_MODE_REPLACE;
    default: return m->has_cas ? MC_MODE_CAS : MC_MODE_SET;
    }
}

/* ms <key> <datalen> <flags>* and the data block (the last argument). */
static void ms_cmd(cmd_ctx *c)
{
    mc_meta m;
    int last = c->argc - 1;
    mc_meta_parse(c->argv, 3, last, &m);
    mc_store_args a = {.mode = ms_mode(&m),
                       .key = c->argv[1],
                       .val = c->argv[last],
                       .flags = m.client_flags,
                       .expire_ms = m.has_ttl ? mc_exptime_ms(m.ttl, c->now_ms) : -1,
                       .cas = m.has_cas ? m.cas : 0,
                       .stale_ok = m.invalidate,
                       .new_cas = m.has_new_cas ? m.new_cas : 0,
                       .bits = m.base64 ? MC_BIT_BINKEY : 0};
    uint64_t cas = 0;
    int rc = mc_store(c, &a, &cas);
    if (rc == MC_STORED && m.quiet)
        return;
    static const char *const codes[] = {
        [MC_STORED] = "HD", [MC_NOT_STORED] = "NS", [MC_EXISTS] = "EX", [MC_NOT_FOUND] = "NF"};
    out_str(c, codes[rc]);
    for (int i = 3; i < last; i++) {
        const slice *t = &c->argv[i];
        if (t->p[0] == 'O') {
            out_raw(c, " ", 1);
            out_raw(c, t->p, t->len);
        } else if (t->p[0] == 'k') {
            out_key(c, &c->argv[1], m.base64);
        } else if (t->p[0] == 'c') {
            out_flag_u64(c, 'c', rc == MC_STORED ? cas : 0);
        }
    }
    out_raw(c, "\r\n", 2);
}

/* ---- md ------------------------------------------------------------------------------------ */

/* md I: the item stays, marked stale with a new CAS (and T's TTL); its next reader wins. */
static void md_invalidate(cmd_ctx *c, const mc_meta *m, const slice *key, mc_item *it)
{
    entry_mc nb = it->mc;
    nb.bits = (uint8_t)((nb.bits | MC_BIT_STALE) & ~MC_BIT_WON);
    nb.cas = memcache_cas_next(ctx_key_shard(c, key->p, key->len));
    mc_item_set_mc(c, key, it, &nb); /* memcached data only: nothing to journal */
    if (m->has_ttl)
        mc_item_expire(c, key, it, mc_exptime_ms(m->ttl, c->now_ms));
}

/* md <key> <flags>* */
static void md_cmd(cmd_ctx *c)
{
    mc_journal_begin();
    mc_meta m;
    mc_meta_parse(c->argv, 2, c->argc, &m);
    const slice *key = &c->argv[1];
    const char *code;
    mc_item it;
    int is_item = mc_item_find(c, key, 0, &it);
    if (!db_peek(c, key->p, key->len)) {
        counter_add(&mc_stats_here()->delete_misses, 1);
        code = "NF";
    } else if (m.has_cas && (!is_item || !it.has_mc || it.mc.cas != m.cas)) {
        counter_add(&mc_stats_here()->delete_misses, 1);
        code = "EX"; /* C0 too: it matches no item */
    } else if (is_item && m.invalidate) {
        md_invalidate(c, &m, key, &it);
        code = "HD";
    } else {
        mc_delete(c, key, 0);
        code = "HD";
    }
    if (m.quiet && code[0] == 'H')
        return;
    out_code_line(c, code, 2, c->argc, key, m.base64);
}

/* ---- ma ------------------------------------------------------------------------------------ */

static void ma_answer(cmd_ctx *c, const mc_meta *m, const slice *key, uint64_t value, uint64_t cas,
                      int created)
{
    mc_item it;
    int64_t expire = mc_item_find(c, key, 0, &it) ? entry_expire(it.e) : -1;
    char digits[U64_TEXT_MAX];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value);
    if (m->value) {
        char t[U64_TEXT_MAX + 3];
        out_raw(c, t, (size_t)snprintf(t, sizeof(t), "VA %d", n));
    } else {
        out_raw(c, "HD", 2);
    }
    int64_t new_expire = expire;
    for (int i = 2; i < c->argc; i++) {
        const slice *t = &c->argv[i];
        switch (t->p[0]) {
        case 'c': out_flag_u64(c, 'c', cas); break;
        case 't': out_flag_ll(c, 't', ttl_of(c, new_expire)); break;
        case 'T': new_expire = mc_exptime_ms(m->ttl, c->now_ms); break;
        case 'N': /* a created item gets N's TTL here, in flag order, as in memcached */
            if (created)
                new_expire = mc_exptime_ms(m->vivify_ttl, c->now_ms);
            break;
        case 'O':
            out_raw(c, " ", 1);
            out_raw(c, t->p, t->len);
            break;
        case 'k': out_key(c, key, m->base64); break;
        default: break;
        }
    }
    if (m->value) {
        out_raw(c, "\r\n", 2);
        out_raw(c, digits, (size_t)n);
    }
    out_raw(c, "\r\n", 2);
    if (new_expire != expire && it.e)
        mc_item_expire(c, key, &it, new_expire);
}

/* ma <key> <flags>* */
static void ma_cmd(cmd_ctx *c)
{
    mc_meta m;
    mc_meta_parse(c->argv, 2, c->argc, &m);
    const slice *key = &c->argv[1];
    int incr = m.mode != 'D' && m.mode != '-';
    int has_delta = 0;
    for (int i = 2; i < c->argc; i++)
        has_delta |= c->argv[i].p[0] == 'D';
    uint64_t value = 0, cas = 0;
    int created;
    /* A created item starts without expiry; its N flag sets it in ma_answer. */
    int rc = mc_arith(c, key, incr, has_delta ? m.delta : 1, m.has_cas ? m.cas : 0, m.vivify,
                      m.initial, -1, &value, &cas, &created);
    if (rc == MC_NON_NUMERIC) {
        out_str(c, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        return;
    }
    if (rc != MC_DELTA_OK) {
        out_code_line(c, rc == MC_EXISTS ? "EX" : "NF", 2, c->argc, key, m.base64);
        return;
    }
    size_t mark = c->out->len;
    ma_answer(c, &m, key, value, cas, created); /* applies T and N, whatever q says */
    if (m.quiet && !created)
        c->out->len = mark;
}

/* ---- me ------------------------------------------------------------------------------------ */

/* me <key> [b]: memcached's debug line about an item. */
static void me_cmd(cmd_ctx *c)
{
    counter_add(&mc_stats_here()->cmd_meta, 1);
    const slice *key = &c->argv[1];
    mc_item it;
    if (!mc_item_find(c, key, 0, &it)) {
        out_str(c, "EN\r\n");
        return;
    }
    out_raw(c, "ME ", 3);
    if (it.mc.bits & MC_BIT_BINKEY) {
        char b64[B64_KEY_MAX];
        out_raw(c, b64, mc_base64_encode(key->p, key->len, b64, sizeof(b64)));
    } else {
        out_raw(c, key->p, key->len);
    }
    long long ttl = ttl_of(c, entry_expire(it.e));
    char t[160];
    /* memcached prints exp as now - exptime: minus the seconds left. */
    int n = snprintf(t, sizeof(t), " exp=%lld la=%llu cas=%llu fetch=%s cls=%d size=%zu\r\n",
                     ttl < 0 ? -1 : -ttl, (unsigned long long)entry_idle_secs(it.e),
                     (unsigned long long)it.mc.cas, (it.mc.bits & MC_BIT_FETCHED) ? "yes" : "no",
                     MC_SLAB_CLASS, mc_item_size(key->len, it.len, it.mc.flags));
    out_raw(c, t, (size_t)n);
}

/* ---- the rows ------------------------------------------------------------------------------ */

#define META_ROW(nm, fn, fl)                                                                       \
    {                                                                                              \
        .name = nm, .proc = fn, .arity = -2, .flags = (fl), .first_key = 1, .last_key = 1,         \
        .key_step = 1, .group = "memcached"                                                        \
    }

command mc_cmd_mg = META_ROW("mg", mg_cmd, CMD_READONLY | CMD_FAST);
command mc_cmd_mg_write = META_ROW("mg", mg_cmd, CMD_WRITE | CMD_DENYOOM);
command mc_cmd_ms = META_ROW("ms", ms_cmd, CMD_WRITE | CMD_DENYOOM);
command mc_cmd_md = META_ROW("md", md_cmd, CMD_WRITE);
command mc_cmd_ma = META_ROW("ma", ma_cmd, CMD_WRITE | CMD_DENYOOM);
command mc_cmd_me = META_ROW("me", me_cmd, CMD_READONLY);
