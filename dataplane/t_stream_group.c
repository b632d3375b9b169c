/* Consumer groups and stream introspection (the second half of Redis's t_stream.c): XGROUP,
 * XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO. XREADGROUP, which reads through a group, lives
 * with XREAD in t_stream.c.
 *
 * Job queues (BullMQ, Celery-style workers) drive these: a worker reads with XREADGROUP, acks
 * with XACK, and a reaper moves stuck entries with XPENDING + XCLAIM or XAUTOCLAIM. So the
 * replies, the order in which errors are checked, which calls create a consumer or refresh its
 * seen time, and what happens to pending entries whose message was deleted all follow Redis 7.0
 * exactly. Delivery times come from the command's clock (c->now_ms). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "blocking.h"
#include "journal.h"
#include "reply.h"
#include "t_server.h"
#include "t_stream.h"

#define XINFO_FULL_DEFAULT_COUNT 10 /* entries and PEL items XINFO STREAM FULL shows by default */
#define XAUTOCLAIM_DEFAULT_COUNT 100
#define XAUTOCLAIM_ATTEMPTS_FACTOR 10 /* PEL items looked at per entry claimed, at most */
/* Redis allocates room for COUNT deleted IDs up front and fails when it cannot; we allocate as
 * we go, and refuse the COUNTs no allocator could have served. */
#define XAUTOCLAIM_DELETED_MAX_BYTES (1ULL << 40)
#define XPENDING_MIN_ARGS 6
#define XPENDING_MAX_ARGS 9
#define XGROUP_CREATE_MAX_ARGS 8
#define SUBCOMMAND_NAME_SHOW 128
#define STATIC_IDS 8

/* ---- helpers ----------------------------------------------------------------------------- */

/* Redis's addReplySubcommandSyntaxError. */
static void reply_subcommand_syntax(cmd_ctx *c, const char *container)
{
    int len = err_name_len(&c->argv[1]);
    if (len > SUBCOMMAND_NAME_SHOW)
        len = SUBCOMMAND_NAME_SHOW;
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                 len, c->argv[1].p, container);
}

static void reply_nogroup(cmd_ctx *c, const slice *key, const slice *group)
{
    reply_errorf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", err_name_len(key),
                 key->p, err_name_len(group), group->p);
}

static void reply_no_such_group(cmd_ctx *c, const slice *group, const slice *key)
{
    reply_errorf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                 err_name_len(group), group->p, err_name_len(key), key->p);
}

/* The stream and group of a group command; NULL after replying (wrong type, or NOGROUP). */
static stream *group_or_reply(cmd_ctx *c, stream_cg **cg)
{
    int wrong;
    stream *s = stream_lookup(c, &c->argv[1], 0, &wrong);
    if (wrong)
        return NULL;
    *cg = s ? stream_cg_lookup(s, c->argv[2].p, c->argv[2].len) : NULL;
    if (!*cg) {
        reply_nogroup(c, &c->argv[1], &c->argv[2]);
        return NULL;
    }
    return s;
}

/* Parses argv[from..) as strict IDs; NULL after replying. Frees: ids != stack. */
static stream_id *ids_or_reply(cmd_ctx *c, int from, int to, stream_id *stack)
{
    int n = to - from;
    stream_id *ids = n > STATIC_IDS ? mem_malloc(sizeof(stream_id) * (size_t)n) : stack;
    for (int j = from; j < to; j++) {
        if (stream_id_or_reply(c, &c->argv[j], &ids[j - from], 0, 1, NULL)) {
            if (ids != stack)
                free(ids);
            return NULL;
        }
    }
    return ids;
}

/* The entry id as XCLAIM/XAUTOCLAIM reply it. */
static void reply_claimed(cmd_ctx *c, stream *s, const stream_id *id, int justid)
{
    if (justid)
        reply_stream_id(c, id);
    else if (!stream_reply_range(c, s, id, id, 1, 0, NULL, NULL, RWR_RAWENTRIES))
        reply_null(c);
}

/* A growable array of IDs (transient: plain malloc, not counted as data). */
typedef struct id_vec {
    stream_id *v;
    size_t n, cap;
} id_vec;

static void id_vec_push(id_vec *a, const stream_id *id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : STATIC_IDS;
        a->v = mem_realloc(a->v, sizeof(stream_id) * cap);
        a->cap = cap;
    }
    a->v[a->n++] = *id;
}

/* Gives nack (of entry id) to consumer, removing it from its previous owner. */
static void nack_move(stream_nack *nack, stream_consumer *consumer, const stream_id *id)
{
    if (nack->consumer == consumer)
        return;
    if (nack->consumer)
        idtree_remove(&nack->consumer->pel, id, NULL);
    idtree_insert(&consumer->pel, id, nack);
    nack->consumer = consumer;
}

/* ---- XGROUP ------------------------------------------------------------------------------ */

typedef struct xgroup_args {
    stream *s;
    stream_cg *cg;
    int mkstream;
    long long entries_read;
} xgroup_args;

enum { XG_CREATE, XG_SETID, XG_DESTROY, XG_CREATECONSUMER, XG_DELCONSUMER };

/* What every subcommand but HELP checks first, in Redis's order: options, the key, the group. */
static int xgroup_prologue(cmd_ctx *c, int sub, xgroup_args *x)
{
    x->s = NULL;
    x->cg = NULL;
    x->mkstream = 0;
    x->entries_read = STREAM_ENTRIES_READ_INVALID;
    for (int i = 5; i < c->argc;) {
        if (sub == XG_CREATE && arg_eq(&c->argv[i], "mkstream")) {
            x->mkstream = 1;
            i++;
        } else if ((sub == XG_CREATE || sub == XG_SETID) && arg_eq(&c->argv[i], "entriesread") &&
                   i + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], &x->entries_read, NULL))
                return -1;
            if (x->entries_read < 0 && x->entries_read != STREAM_ENTRIES_READ_INVALID) {
                reply_error(c, "ERR value for ENTRIESREAD must be positive or -1");
                return -1;
            }
            i += 2;
        } else {
            reply_subcommand_syntax(c, "XGROUP");
            return -1;
        }
    }
    int wrong;
    x->s = stream_lookup(c, &c->argv[2], 1, &wrong);
    if (wrong)
        return -1;
    if (x->mkstream)
        return 0;
    if (!x->s) {
        reply_error(c, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                       "you may want to use the MKSTREAM option to create an empty stream "
                       "automatically.");
        return -1;
    }
    x->cg = stream_cg_lookup(x->s, c->argv[3].p, c->argv[3].len);
    if (!x->cg && sub != XG_CREATE && sub != XG_DESTROY) {
        reply_no_such_group(c, &c->argv[3], &c->argv[2]);
        return -1;
    }
    return 0;
}

/* XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] */
static void xgroup_create_cmd(cmd_ctx *c)
{
    xgroup_args x;
    if (xgroup_prologue(c, XG_CREATE, &x))
        return;
    if (c->argc > XGROUP_CREATE_MAX_ARGS) {
        reply_subcommand_syntax(c, "XGROUP");
        return;
    }
    const slice *key = &c->argv[2];
    stream_id id = {0, 0};
    if (c->argv[4].len == 1 && c->argv[4].p[0] == '$') {
        if (x.s)
            id = x.s->last_id;
    } else if (stream_id_or_reply(c, &c->argv[4], &id, 0, 1, NULL)) {
        return;
    }
    if (!x.s) {
        x.s = stream_new();
        db_add(c, entry_new_ptr(key->p, key->len, OBJ_STREAM, ENC_STREAM, x.s, -1));
        db_signal_modified(c, key->p, key->len);
    }
    if (!stream_cg_create(x.s, c->argv[3].p, c->argv[3].len, &id, x.entries_read)) {
        reply_error(c, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    /* Group changes touch no key's modification counter (Redis's WATCH ignores them too),
     * so the XGROUP, XACK and XCLAIM families ask the journal for themselves. */
    journal_force(c);
    reply_ok(c);
    db_notify(c, NOTIFY_STREAM, "xgroup-create", key->p, key->len);
}

/* XGROUP SETID key group id|$ [ENTRIESREAD n] */
static void xgroup_setid_cmd(cmd_ctx *c)
{
    xgroup_args x;
    if (xgroup_prologue(c, XG_SETID, &x))
        return;
    if (c->argc != 5 && c->argc != 7) {
        reply_subcommand_syntax(c, "XGROUP");
        return;
    }
    stream_id id;
    if (c->argv[4].len == 1 && c->argv[4].p[0] == '$')
        id = x.s->last_id;
    else if (stream_id_or_reply(c, &c->argv[4], &id, 0, 0, NULL))
        return;
    x.cg->last_id = id;
    x.cg->entries_read = x.entries_read;
    journal_force(c);
    reply_ok(c);
    db_notify(c, NOTIFY_STREAM, "xgroup-setid", c->argv[2].p, c->argv[2].len);
}

/* XGROUP DESTROY key group */
static void xgroup_destroy_cmd(cmd_ctx *c)
{
    xgroup_args x;
    if (xgroup_prologue(c, XG_DESTROY, &x))
        return;
    if (!x.cg) {
        reply_int(c, 0);
        return;
    }
    stream_cg_destroy(x.s, x.cg);
    journal_force(c);
    reply_int(c, 1);
    db_notify(c, NOTIFY_STREAM, "xgroup-destroy", c->argv[2].p, c->argv[2].len);
    /* Readers blocked on the group get their NOGROUP error now. */
    block_signal_key(c, c->argv[2].p, c->argv[2].len);
}

/* XGROUP CREATECONSUMER key group consumer */
static void xgroup_createconsumer_cmd(cmd_ctx *c)
{
    xgroup_args x;
    if (xgroup_prologue(c, XG_CREATECONSUMER, &x))
        return;
    const slice *name = &c->argv[4];
    stream_consumer *created = stream_consumer_create(x.cg, name->p, name->len, c->now_ms);
    if (created) {
        db_notify(c, NOTIFY_STREAM, "xgroup-createconsumer", c->argv[2].p, c->argv[2].len);
        journal_force(c);
    }
    reply_int(c, created ? 1 : 0);
}

/* XGROUP DELCONSUMER key group consumer: replies the pending entries it had. */
static void xgroup_delconsumer_cmd(cmd_ctx *c)
{
    xgroup_args x;
    if (xgroup_prologue(c, XG_DELCONSUMER, &x))
        return;
    stream_consumer *consumer = stream_consumer_lookup(x.cg, c->argv[4].p, c->argv[4].len);
    long long pending = 0;
    if (consumer) {
        pending = (long long)stream_consumer_delete(x.cg, consumer);
        db_notify(c, NOTIFY_STREAM, "xgroup-delconsumer", c->argv[2].p, c->argv[2].len);
        journal_force(c);
    }
    reply_int(c, pending);
}

static void xgroup_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        NULL,
    };
    reply_help(c, "XGROUP", lines);
}

/* Reached only when no subcommand matched. */
void xgroup_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "XGROUP");
}

/* ---- XACK and XPENDING --------------------------------------------------------------------- */

/* XACK key group id [id ...] */
void xack_cmd(cmd_ctx *c)
{
    int wrong;
    stream *s = stream_lookup(c, &c->argv[1], 0, &wrong);
    if (wrong)
        return;
    stream_cg *cg = s ? stream_cg_lookup(s, c->argv[2].p, c->argv[2].len) : NULL;
    if (!cg) {
        reply_int(c, 0);
        return;
    }
    /* Every ID is checked before any is acknowledged: all or nothing. */
    stream_id stack[STATIC_IDS];
    stream_id *ids = ids_or_reply(c, 3, c->argc, stack);
    if (!ids)
        return;
    long long acked = 0;
    for (int j = 0; j < c->argc - 3; j++) {
        void **slot = idtree_find(&cg->pel, &ids[j]);
        if (slot) {
            stream_nack_drop(cg, &ids[j], *slot);
            acked++;
        }
    }
    if (ids != stack)
        free(ids);
    if (acked)
        journal_force(c);
    reply_int(c, acked);
}

/* XPENDING key group: count, smallest and greatest ID, and pending entries per consumer. */
static void xpending_summary(cmd_ctx *c, stream_cg *cg)
{
    reply_array(c, 4);
    reply_int(c, (long long)cg->pel.size);
    if (!cg->pel.size) {
        reply_null(c);
        reply_null(c);
        reply_null_array(c);
        return;
    }
    idtree_iter it;
    idtree_first(&cg->pel, &it);
    stream_id id = idtree_key(&it);
    reply_stream_id(c, &id);
    idtree_last(&cg->pel, &it);
    id = idtree_key(&it);
    reply_stream_id(c, &id);
    size_t handle = reply_deferred(c);
    long n = 0;
    for (uint32_t i = 0; i < cg->nconsumers; i++) {
        const stream_consumer *consumer = cg->consumers[i];
        if (!consumer->pel.size)
            continue;
        reply_array(c, 2);
        reply_bulk(c, consumer->name, consumer->name_len);
        reply_bulk_ll(c, (long long)consumer->pel.size);
        n++;
    }
    reply_set_deferred_array(c, handle, n);
}

/* XPENDING key group [[IDLE ms] start end count [consumer]] */
void xpending_cmd(cmd_ctx *c)
{
    if (c->argc != 3 && (c->argc < XPENDING_MIN_ARGS || c->argc > XPENDING_MAX_ARGS)) {
        reply_syntax_error(c);
        return;
    }
    stream_id start = {0, 0}, end = {0, 0};
    long long count = 0, minidle = 0;
    const slice *consumer_name = NULL;
    if (c->argc >= XPENDING_MIN_ARGS) {
        int at = 3;
        if (arg_eq(&c->argv[3], "idle")) {
            if (arg_ll_or_reply(c, &c->argv[4], &minidle, NULL))
                return;
            if (c->argc < XPENDING_MIN_ARGS + 2) {
                reply_syntax_error(c);
                return;
            }
            at += 2;
        }
        int startex, endex;
        if (arg_ll_or_reply(c, &c->argv[at + 2], &count, NULL))
            return;
        if (count < 0)
            count = 0;
        if (stream_interval_or_reply(c, &c->argv[at], &start, &startex, 0))
            return;
        if (startex && stream_id_incr(&start)) {
            reply_error(c, "ERR invalid start ID for the interval");
            return;
        }
        if (stream_interval_or_reply(c, &c->argv[at + 1], &end, &endex, UINT64_MAX))
            return;
        if (endex && stream_id_decr(&end)) {
            reply_error(c, "ERR invalid end ID for the interval");
            return;
        }
        if (at + 3 < c->argc)
            consumer_name = &c->argv[at + 3];
    }
    stream_cg *cg;
    if (!group_or_reply(c, &cg))
        return;
    if (c->argc == 3) {
        xpending_summary(c, cg);
        return;
    }
    const idtree *pel = &cg->pel;
    if (consumer_name) {
        const stream_consumer *consumer =
            stream_consumer_lookup(cg, consumer_name->p, consumer_name->len);
        if (!consumer) {
            reply_array(c, 0);
            return;
        }
        pel = &consumer->pel;
    }
    size_t handle = reply_deferred(c);
    long n = 0;
    idtree_iter it;
    for (int ok = count ? idtree_seek_ge(pel, &start, &it) : 0; ok && count;
         ok = idtree_next(&it)) {
        stream_id id = idtree_key(&it);
        if (stream_id_cmp(&id, &end) > 0)
            break;
        const stream_nack *nack = idtree_val(&it);
        int64_t idle = c->now_ms - nack->delivery_time;
        if (minidle && idle < minidle)
            continue;
        reply_array(c, 4);
        reply_stream_id(c, &id);
        reply_bulk(c, nack->consumer->name, nack->consumer->name_len);
        reply_int(c, idle < 0 ? 0 : idle);
        reply_int(c, (long long)nack->delivery_count);
        n++;
        count--;
    }
    reply_set_deferred_array(c, handle, n);
}

/* ---- XCLAIM and XAUTOCLAIM ----------------------------------------------------------------- */

typedef struct xclaim_opts {
    int64_t deliverytime; /* -1: now */
    long long retrycount; /* -1: not given */
    int force, justid;
    stream_id last_id;
} xclaim_opts;

/* The options after XCLAIM's IDs, from argv[j]. */
static int xclaim_options(cmd_ctx *c, int j, xclaim_opts *o)
{
    for (; j < c->argc; j++) {
        int moreargs = c->argc - 1 - j;
        const slice *opt = &c->argv[j];
        if (arg_eq(opt, "force")) {
            o->force = 1;
        } else if (arg_eq(opt, "justid")) {
            o->justid = 1;
        } else if (arg_eq(opt, "idle") && moreargs) {
            long long idle;
            if (arg_ll_or_reply(c, &c->argv[++j], &idle,
                                "ERR Invalid IDLE option argument for XCLAIM"))
                return -1;
            /* An idle time outside [0, now] gives a bogus time, which becomes "now" below;
             * computed without overflowing. */
            o->deliverytime = idle < 0 || idle > c->now_ms ? -1 : c->now_ms - idle;
        } else if (arg_eq(opt, "time") && moreargs) {
            long long t;
            if (arg_ll_or_reply(c, &c->argv[++j], &t,
                                "ERR Invalid TIME option argument for XCLAIM"))
                return -1;
            o->deliverytime = t;
        } else if (arg_eq(opt, "retrycount") && moreargs) {
            if (arg_ll_or_reply(c, &c->argv[++j], &o->retrycount,
                                "ERR Invalid RETRYCOUNT option argument for XCLAIM"))
                return -1;
        } else if (arg_eq(opt, "lastid") && moreargs) {
            if (stream_id_or_reply(c, &c->argv[++j], &o->last_id, 0, 1, NULL))
                return -1;
        } else {
            reply_errorf(c, "ERR Unrecognized XCLAIM option '%.*s'", err_name_len(opt), opt->p);
            return -1;
        }
    }
    return 0;
}

/* XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
 *        [FORCE] [JUSTID] [LASTID id] */
void xclaim_cmd(cmd_ctx *c)
{
    stream_cg *cg;
    stream *s = group_or_reply(c, &cg);
    if (!s)
        return;
    long long minidle;
    if (arg_ll_or_reply(c, &c->argv[4], &minidle, "ERR Invalid min-idle-time argument for XCLAIM"))
        return;
    if (minidle < 0)
        minidle = 0;
    /* The IDs end where an argument does not parse as one: the options start there. */
    int j = 5;
    stream_id stack[STATIC_IDS];
    stream_id *ids =
        c->argc - 5 > STATIC_IDS ? mem_malloc(sizeof(stream_id) * (size_t)(c->argc - 5)) : stack;
    for (; j < c->argc; j++)
        if (stream_id_parse(c->argv[j].p, c->argv[j].len, &ids[j - 5], 0, 1, NULL))
            break;
    int nids = j - 5;
    xclaim_opts o = {.deliverytime = -1, .retrycount = -1};
    if (xclaim_options(c, j, &o))
        goto cleanup;
    if (stream_id_cmp(&o.last_id, &cg->last_id) > 0)
        cg->last_id = o.last_id;
    if (o.deliverytime < 0 || o.deliverytime > c->now_ms)
        o.deliverytime = c->now_ms; /* a bogus time is not worth an error: clocks differ */

    stream_consumer *consumer = NULL; /* created on the first claim, as Redis 7.0 does */
    size_t handle = reply_deferred(c);
    long n = 0;
    for (int i = 0; i < nids; i++) {
        const stream_id *id = &ids[i];
        void **slot = idtree_find(&cg->pel, id);
        stream_nack *nack = slot ? *slot : NULL;
        if (!stream_entry_exists(s, id)) {
            if (nack) /* the message is gone: so is its pending entry */
                stream_nack_drop(cg, id, nack);
            continue;
        }
        if (o.force && !nack) {
            nack = stream_nack_new(NULL, c->now_ms);
            idtree_insert(&cg->pel, id, nack);
        }
        if (!nack)
            continue;
        /* A nack FORCE just made has no consumer, and no idle time to check. */
        if (nack->consumer && minidle && c->now_ms - nack->delivery_time < minidle)
            continue;
        if (!consumer)
            consumer = stream_consumer_get(c, cg, &c->argv[1], &c->argv[3]);
        nack->delivery_time = o.deliverytime;
        if (o.retrycount >= 0)
            nack->delivery_count = (uint64_t)o.retrycount;
        else if (!o.justid)
            nack->delivery_count++;
        nack_move(nack, consumer, id);
        reply_claimed(c, s, id, o.justid);
        n++;
    }
    reply_set_deferred_array(c, handle, n);
    journal_force(c); /* replayed at the same time (journal.h), it claims the same */
cleanup:
    if (ids != stack)
        free(ids);
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]: claims idle pending
 * entries from start on; replies the next start (0-0 at the end), the claimed entries, and the
 * IDs whose messages were gone (their pending entries are dropped). */
void xautoclaim_cmd(cmd_ctx *c)
{
    long long minidle;
    if (arg_ll_or_reply(c, &c->argv[4], &minidle,
                        "ERR Invalid min-idle-time argument for XAUTOCLAIM"))
        return;
    if (minidle < 0)
        minidle = 0;
    stream_id start;
    int startex;
    if (stream_interval_or_reply(c, &c->argv[5], &start, &startex, 0))
        return;
    if (startex && stream_id_incr(&start)) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    long long count = XAUTOCLAIM_DEFAULT_COUNT;
    int justid = 0;
    for (int j = 6; j < c->argc; j++) {
        int moreargs = c->argc - 1 - j;
        if (arg_eq(&c->argv[j], "count") && moreargs) {
            long long max_count = LONG_MAX / (sizeof(stream_id) > XAUTOCLAIM_ATTEMPTS_FACTOR
                                                  ? sizeof(stream_id)
                                                  : XAUTOCLAIM_ATTEMPTS_FACTOR);
            if (arg_ll_range_or_reply(c, &c->argv[++j], 1, max_count, &count,
                                      "ERR COUNT must be > 0"))
                return;
        } else if (arg_eq(&c->argv[j], "justid")) {
            justid = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    stream_cg *cg;
    stream *s = group_or_reply(c, &cg);
    if (!s)
        return;
    if ((unsigned long long)count > XAUTOCLAIM_DELETED_MAX_BYTES / sizeof(stream_id)) {
        reply_error(c, "ERR Insufficient memory, failed allocating transient memory, COUNT too "
                       "high.");
        return;
    }

    stream_consumer *consumer = NULL;
    long long attempts = count * XAUTOCLAIM_ATTEMPTS_FACTOR;
    /* The reply starts with the cursor, known only at the end: collect first, reply after. */
    id_vec claimed = {0}, deleted = {0};
    idtree_iter it;
    int ok = idtree_seek_ge(&cg->pel, &start, &it);
    while (attempts-- && count && ok) {
        stream_id id = idtree_key(&it);
        stream_nack *nack = idtree_val(&it);
        if (!stream_entry_exists(s, &id)) {
            stream_nack_drop(cg, &id, nack);
            id_vec_push(&deleted, &id);
            count--; /* COUNT bounds the reply, deleted IDs included */
            ok = idtree_seek_ge(&cg->pel, &id, &it);
            continue;
        }
        if (minidle && c->now_ms - nack->delivery_time < minidle) {
            ok = idtree_next(&it);
            continue;
        }
        if (!consumer)
            consumer = stream_consumer_get(c, cg, &c->argv[1], &c->argv[3]);
        nack->delivery_time = c->now_ms;
        if (!justid)
            nack->delivery_count++;
        nack_move(nack, consumer, &id);
        id_vec_push(&claimed, &id);
        count--;
        ok = idtree_next(&it);
    }
    /* The cursor: the first pending entry not looked at. */
    stream_id next = {0, 0};
    if (ok)
        next = idtree_key(&it);
    reply_array(c, 3);
    reply_stream_id(c, &next);
    reply_array(c, (long)claimed.n);
    for (size_t i = 0; i < claimed.n; i++)
        reply_claimed(c, s, &claimed.v[i], justid);
    reply_array(c, (long)deleted.n);
    for (size_t i = 0; i < deleted.n; i++)
        reply_stream_id(c, &deleted.v[i]);
    free(claimed.v);
    free(deleted.v);
    journal_force(c);
}

/* ---- XINFO ------------------------------------------------------------------------------- */

/* Redis 7.0's streamReplyWithCGLag: entries-read and lag, null where they cannot be known. */
static void reply_cg_lag(cmd_ctx *c, const stream *s, const stream_cg *cg)
{
    int valid = 0;
    long long lag = 0;
    if (!s->entries_added) {
        valid = 1; /* a new stream has no lag */
    } else if (cg->entries_read != STREAM_ENTRIES_READ_INVALID &&
               !stream_range_has_tombstones(s, &cg->last_id, NULL)) {
        lag = (long long)s->entries_added - cg->entries_read;
        valid = 1;
    } else {
        long long read = stream_estimate_distance(s, &cg->last_id);
        if (read != STREAM_ENTRIES_READ_INVALID) {
            lag = (long long)s->entries_added - read;
            valid = 1;
        }
    }
    reply_bulk_cstr(c, "entries-read");
    if (cg->entries_read != STREAM_ENTRIES_READ_INVALID)
        reply_int(c, cg->entries_read);
    else
        reply_null(c);
    reply_bulk_cstr(c, "lag");
    if (valid)
        reply_int(c, lag);
    else
        reply_null(c);
}

/* The stream of an XINFO subcommand (argv[2]); NULL after replying. */
static stream *xinfo_stream_or_reply(cmd_ctx *c)
{
    int wrong;
    stream *s = stream_lookup(c, &c->argv[2], 0, &wrong);
    if (!s && !wrong)
        reply_error(c, ERR_NO_KEY);
    return s;
}

/* XINFO STREAM FULL's groups, each with its PEL and consumers (at most count PEL items). */
static void xinfo_full_groups(cmd_ctx *c, stream *s, long long count)
{
    reply_array(c, s->ngroups);
    for (uint32_t g = 0; g < s->ngroups; g++) {
        stream_cg *cg = s->groups[g];
        reply_map(c, 7);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cg->name, cg->name_len);
        reply_bulk_cstr(c, "last-delivered-id");
        reply_stream_id(c, &cg->last_id);
        reply_cg_lag(c, s, cg);
        reply_bulk_cstr(c, "pel-count");
        reply_int(c, (long long)cg->pel.size);
        reply_bulk_cstr(c, "pending");
        size_t handle = reply_deferred(c);
        long n = 0;
        idtree_iter it;
        for (int ok = idtree_first(&cg->pel, &it); ok && (!count || n < count);
             ok = idtree_next(&it), n++) {
            const stream_nack *nack = idtree_val(&it);
            stream_id id = idtree_key(&it);
            reply_array(c, 4);
            reply_stream_id(c, &id);
            reply_bulk(c, nack->consumer->name, nack->consumer->name_len);
            reply_int(c, nack->delivery_time);
            reply_int(c, (long long)nack->delivery_count);
        }
        reply_set_deferred_array(c, handle, n);
        reply_bulk_cstr(c, "consumers");
        reply_array(c, cg->nconsumers);
        for (uint32_t i = 0; i < cg->nconsumers; i++) {
            const stream_consumer *consumer = cg->consumers[i];
            reply_map(c, 4);
            reply_bulk_cstr(c, "name");
            reply_bulk(c, consumer->name, consumer->name_len);
            reply_bulk_cstr(c, "seen-time");
            reply_int(c, consumer->seen_time);
            reply_bulk_cstr(c, "pel-count");
            reply_int(c, (long long)consumer->pel.size);
            reply_bulk_cstr(c, "pending");
            handle = reply_deferred(c);
            n = 0;
            for (int ok = idtree_first(&consumer->pel, &it); ok && (!count || n < count);
                 ok = idtree_next(&it), n++) {
                const stream_nack *nack = idtree_val(&it);
                stream_id id = idtree_key(&it);
                reply_array(c, 3);
                reply_stream_id(c, &id);
                reply_int(c, nack->delivery_time);
                reply_int(c, (long long)nack->delivery_count);
            }
            reply_set_deferred_array(c, handle, n);
        }
    }
}

/* XINFO STREAM key [FULL [COUNT n]] */
static void xinfo_stream_cmd(cmd_ctx *c)
{
    stream *s = xinfo_stream_or_reply(c);
    if (!s)
        return;
    int optc = c->argc - 3, full = optc > 0;
    long long count = XINFO_FULL_DEFAULT_COUNT;
    if (full) {
        if ((optc != 1 && optc != 3) || !arg_eq(&c->argv[3], "full") ||
            (optc == 3 && !arg_eq(&c->argv[4], "count"))) {
            reply_subcommand_syntax(c, "XINFO");
            return;
        }
        if (optc == 3 && arg_ll_or_reply(c, &c->argv[5], &count, NULL))
            return;
        if (count < 0)
            count = XINFO_FULL_DEFAULT_COUNT;
    }
    reply_map(c, full ? 9 : 10);
    reply_bulk_cstr(c, "length");
    reply_int(c, (long long)s->length);
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_int(c, (long long)s->nodes.size);
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_int(c, (long long)stream_rax_nodes(s));
    reply_bulk_cstr(c, "last-generated-id");
    reply_stream_id(c, &s->last_id);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    reply_stream_id(c, &s->max_deleted);
    reply_bulk_cstr(c, "entries-added");
    reply_int(c, (long long)s->entries_added);
    reply_bulk_cstr(c, "recorded-first-entry-id");
    reply_stream_id(c, &s->first_id);
    if (full) {
        reply_bulk_cstr(c, "entries");
        stream_reply_range(c, s, NULL, NULL, (size_t)count, 0, NULL, NULL, 0);
        reply_bulk_cstr(c, "groups");
        xinfo_full_groups(c, s, count);
        return;
    }
    reply_bulk_cstr(c, "groups");
    reply_int(c, s->ngroups);
    reply_bulk_cstr(c, "first-entry");
    if (!stream_reply_range(c, s, NULL, NULL, 1, 0, NULL, NULL, RWR_RAWENTRIES))
        reply_null(c);
    reply_bulk_cstr(c, "last-entry");
    if (!stream_reply_range(c, s, NULL, NULL, 1, 1, NULL, NULL, RWR_RAWENTRIES))
        reply_null(c);
}

/* XINFO GROUPS key */
static void xinfo_groups_cmd(cmd_ctx *c)
{
    stream *s = xinfo_stream_or_reply(c);
    if (!s)
        return;
    reply_array(c, s->ngroups);
    for (uint32_t g = 0; g < s->ngroups; g++) {
        const stream_cg *cg = s->groups[g];
        reply_map(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cg->name, cg->name_len);
        reply_bulk_cstr(c, "consumers");
        reply_int(c, cg->nconsumers);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)cg->pel.size);
        reply_bulk_cstr(c, "last-delivered-id");
        reply_stream_id(c, &cg->last_id);
        reply_cg_lag(c, s, cg);
    }
}

/* XINFO CONSUMERS key group */
static void xinfo_consumers_cmd(cmd_ctx *c)
{
    stream *s = xinfo_stream_or_reply(c);
    if (!s)
        return;
    const stream_cg *cg = stream_cg_lookup(s, c->argv[3].p, c->argv[3].len);
    if (!cg) {
        reply_no_such_group(c, &c->argv[3], &c->argv[2]);
        return;
    }
    reply_array(c, cg->nconsumers);
    for (uint32_t i = 0; i < cg->nconsumers; i++) {
        const stream_consumer *consumer = cg->consumers[i];
        int64_t idle = c->now_ms - consumer->seen_time;
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, consumer->name, consumer->name_len);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)consumer->pel.size);
        reply_bulk_cstr(c, "idle");
        reply_int(c, idle < 0 ? 0 : idle);
    }
}

static void xinfo_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        NULL,
    };
    reply_help(c, "XINFO", lines);
}

void xinfo_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "XINFO");
}

/* ---- subcommand tables ------------------------------------------------------------------- */

#define STREAM_SUB .group = "stream"
#define KEY2 .first_key = 2, .last_key = 2, .key_step = 1

command xgroup_subcommands[] = {
    {.name = "create",
     .proc = xgroup_create_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY2,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Create a consumer group."},
    {.name = "setid",
     .proc = xgroup_setid_cmd,
     .arity = -5,
     .flags = CMD_WRITE,
     KEY2,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Set a consumer group to an arbitrary last delivered ID value."},
    {.name = "destroy",
     .proc = xgroup_destroy_cmd,
     .arity = 4,
     .flags = CMD_WRITE,
     KEY2,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Destroy a consumer group."},
    {.name = "createconsumer",
     .proc = xgroup_createconsumer_cmd,
     .arity = 5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY2,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW,
     STREAM_SUB,
     .since = "6.2.0",
     .summary = "Create a consumer in a consumer group."},
    {.name = "delconsumer",
     .proc = xgroup_delconsumer_cmd,
     .arity = 5,
     .flags = CMD_WRITE,
     KEY2,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Delete a consumer from a consumer group."},
    {.name = "help",
     .proc = xgroup_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE,
     .acl = ACL_STREAM | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Show helpful text about the different subcommands"},
    {0},
};

command xinfo_subcommands[] = {
    {.name = "consumers",
     .proc = xinfo_consumers_cmd,
     .arity = 4,
     .flags = CMD_READONLY,
     KEY2,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "List the consumers in a consumer group"},
    {.name = "groups",
     .proc = xinfo_groups_cmd,
     .arity = 3,
     .flags = CMD_READONLY,
     KEY2,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "List the consumer groups of a stream"},
    {.name = "stream",
     .proc = xinfo_stream_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     KEY2,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Get information about a stream"},
    {.name = "help",
     .proc = xinfo_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE,
     .acl = ACL_STREAM | ACL_SLOW,
     STREAM_SUB,
     .since = "5.0.0",
     .summary = "Show helpful text about the different subcommands"},
    {0},
};
