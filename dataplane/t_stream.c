/* Stream commands (Redis's t_stream.c): XADD, XTRIM, XRANGE/XREVRANGE, XLEN, XDEL, XSETID,
 * XREAD and XREADGROUP (with BLOCK), and the stream type's registration. Consumer-group
 * commands and XINFO live in t_stream_group.c, the data structure in stream.c.
 *
 * Streams follow Redis 7.0 to the letter, since job-queue libraries depend on the details: the
 * ID rules, the order in which arguments are checked (and so which error wins), empty streams
 * that stay after XDEL/XTRIM, and the consumer group bookkeeping (PELs, read counters, lag).
 *
 * XREAD/XREADGROUP BLOCK use blocking.h: a blocked read is served again when XADD signals one of
 * its keys, reading only that key (Redis 7.0 answers with the one stream that woke it). Before
 * blocking, "$" is rewritten to the ID it meant, as Redis rewrites the client's arguments. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "blocking.h"
#include "debug.h"
#include "journal.h"
#include "reply.h"
#include "server.h"
#include "t_stream.h"
#include "types.h"

#define XREAD_BLOCKED_DEFAULT_COUNT 1000 /* entries served to a woken reader without COUNT */
#define XREAD_STATIC_STREAMS 8           /* streams of one XREAD parsed without allocating */
/* Approximate trimming without LIMIT removes at most 100 nodes' worth, within these bounds. */
#define TRIM_APPROX_NODES 100
#define TRIM_APPROX_LIMIT_MIN 10000
#define TRIM_APPROX_LIMIT_MAX 1000000

#define ERR_NO_TRIM_STRATEGY "ERR syntax error, XTRIM must be called with a trimming strategy"
#define ERR_TRIM_CONFLICT                                                                          \
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
#define ERR_LIMIT_NO_STRATEGY                                                                      \
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
#define ERR_LIMIT_NO_APPROX "ERR syntax error, LIMIT cannot be used without the special ~ option"
#define ERR_XADD_ID_SMALL                                                                          \
    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
#define ERR_XADD_ID_ZERO "ERR The ID specified in XADD must be greater than 0-0"
#define ERR_XADD_EXHAUSTED                                                                         \
    "ERR The stream has exhausted the last possible ID, unable to add more items"
#define ERR_XADD_TOO_BIG "ERR Elements are too large to be stored"
#define ERR_NOGROUP_GONE "NOGROUP the consumer group this client was blocked on no longer exists"

/* ---- shared helpers (t_stream.h) ----------------------------------------------------------- */

stream *stream_lookup(cmd_ctx *c, const slice *key, int write, int *wrong)
{
    entry *e = write ? db_lookup_write(c, key->p, key->len) : db_lookup_read(c, key->p, key->len);
    *wrong = db_wrong_type(c, e, OBJ_STREAM);
    return e && !*wrong ? entry_ptr(e) : NULL;
}

int stream_id_or_reply(cmd_ctx *c, const slice *a, stream_id *id, uint64_t missing_seq, int strict,
                       int *seq_given)
{
    if (stream_id_parse(a->p, a->len, id, missing_seq, strict, seq_given) == 0)
        return 0;
    reply_error(c, ERR_INVALID_STREAM_ID);
    return -1;
}

int stream_interval_or_reply(cmd_ctx *c, const slice *a, stream_id *id, int *exclude,
                             uint64_t missing_seq)
{
    *exclude = a->len > 1 && a->p[0] == '(';
    if (*exclude) {
        slice rest = {a->p + 1, a->len - 1};
        return stream_id_or_reply(c, &rest, id, missing_seq, 1, NULL);
    }
    return stream_id_or_reply(c, a, id, missing_seq, 0, NULL);
}

void reply_stream_id(cmd_ctx *c, const stream_id *id)
{
    char buf[STREAM_ID_STR_MAX];
    int n = stream_id_format(buf, id);
    reply_bulk(c, buf, (size_t)n);
}

int err_name_len(const slice *a)
{
    const char *nul = memchr(a->p, '\0', a->len);
    return (int)(nul ? (size_t)(nul - a->p) : a->len);
}

stream_consumer *stream_consumer_get(cmd_ctx *c, stream_cg *cg, const slice *key, const slice *name)
{
    stream_consumer *consumer = stream_consumer_lookup(cg, name->p, name->len);
    if (!consumer) {
        consumer = stream_consumer_create(cg, name->p, name->len, c->now_ms);
        db_notify(c, NOTIFY_STREAM, "xgroup-createconsumer", key->p, key->len);
    }
    consumer->seen_time = c->now_ms;
    return consumer;
}

/* Records that entry id went to consumer: a new nack, or the existing one moved to it. */
static void deliver(cmd_ctx *c, stream_cg *group, stream_consumer *consumer, const stream_id *id)
{
    void **slot = idtree_find(&group->pel, id);
    if (!slot) {
        stream_nack *nack = stream_nack_new(consumer, c->now_ms);
        idtree_insert(&group->pel, id, nack);
        idtree_insert(&consumer->pel, id, nack);
        return;
    }
    /* XGROUP SETID can make a group deliver an entry again that someone still owns. */
    stream_nack *nack = *slot;
    idtree_remove(&nack->consumer->pel, id, NULL);
    nack->consumer = consumer;
    nack->delivery_time = c->now_ms;
    nack->delivery_count = 1;
    idtree_insert(&consumer->pel, id, nack);
}

/* Moves the group's last delivered ID to id and keeps its read counter (Redis 7.0). */
static void advance_group(stream *s, stream_cg *group, const stream_id *id)
{
    if (group->entries_read != STREAM_ENTRIES_READ_INVALID &&
        !stream_range_has_tombstones(s, id, NULL))
        group->entries_read++;
    else if (s->entries_added)
        group->entries_read = stream_estimate_distance(s, id);
    group->last_id = *id;
}

/* XREADGROUP with an ID other than ">": the consumer's own pending entries from start on. An
 * entry deleted meanwhile is reported as its ID and a null. */
static size_t reply_range_from_pel(cmd_ctx *c, stream *s, const stream_id *start, size_t count,
                                   stream_consumer *consumer)
{
    size_t handle = reply_deferred(c);
    size_t n = 0;
    idtree_iter it;
    for (int ok = idtree_seek_ge(&consumer->pel, start, &it); ok && (!count || n < count);
         ok = idtree_next(&it)) {
        stream_id id = idtree_key(&it);
        if (stream_reply_range(c, s, &id, &id, 1, 0, NULL, NULL, RWR_RAWENTRIES) == 0) {
            reply_array(c, 2);
            reply_stream_id(c, &id);
            reply_null_array(c);
        } else {
            stream_nack *nack = idtree_val(&it);
            nack->delivery_time = c->now_ms;
            nack->delivery_count++;
        }
        n++;
    }
    reply_set_deferred_array(c, handle, (long)n);
    return n;
}

size_t stream_reply_range(cmd_ctx *c, stream *s, const stream_id *start, const stream_id *end,
                          size_t count, int rev, stream_cg *group, stream_consumer *consumer,
                          int flags)
{
    if (group && (flags & RWR_HISTORY))
        return reply_range_from_pel(c, s, start, count, consumer);
    size_t handle = (flags & RWR_RAWENTRIES) ? 0 : reply_deferred(c);
    size_t n = 0;
    stream_iter si;
    stream_id id;
    long nfields;
    stream_iter_start(&si, s, start, end, rev);
    while (stream_iter_next(&si, &id, &nfields)) {
        if (group && stream_id_cmp(&id, &group->last_id) > 0)
            advance_group(s, group, &id);
        reply_array(c, 2);
        reply_stream_id(c, &id);
        reply_array(c, nfields * 2);
        while (nfields--) {
            const char *f, *v;
            size_t flen, vlen;
            stream_iter_field(&si, &f, &flen, &v, &vlen);
            reply_bulk(c, f, flen);
            reply_bulk(c, v, vlen);
        }
        if (group && !(flags & RWR_NOACK))
            deliver(c, group, consumer, &id);
        n++;
        if (count && count == n)
            break;
    }
    if (!(flags & RWR_RAWENTRIES))
        reply_set_deferred_array(c, handle, (long)n);
    return n;
}

/* ---- XADD and XTRIM ------------------------------------------------------------------------ */

typedef struct add_trim_args {
    stream_trim_args trim;
    stream_id id;    /* XADD's explicit ID */
    int id_given;    /* not "*" */
    int seq_given;   /* not "<ms>-*" */
    int no_mkstream; /* XADD NOMKSTREAM */
    /* Argument positions of "~", the threshold and LIMIT (0: absent), for the journal. */
    int approx_idx, threshold_idx, limit_idx;
} add_trim_args;

static int is_char_arg(const slice *a, char ch)
{
    return a->len == 1 && a->p[0] == ch;
}

/* MAXLEN/MINID [=|~] <threshold> at argv[*i] (the option name); advances *i to the threshold. */
static int parse_trim_strategy(cmd_ctx *c, add_trim_args *a, int *i, int strategy)
{
    int moreargs = c->argc - 1 - *i;
    if (a->trim.strategy != TRIM_NONE) {
        reply_error(c, ERR_TRIM_CONFLICT);
        return -1;
    }
    a->trim.approx = 0;
    const slice *next = &c->argv[*i + 1];
    if (moreargs >= 2 && is_char_arg(next, '~')) {
        a->trim.approx = 1;
        a->approx_idx = *i + 1;
        (*i)++;
    } else if (moreargs >= 2 && is_char_arg(next, '=')) {
        (*i)++;
    }
    const slice *arg = &c->argv[*i + 1];
    a->threshold_idx = *i + 1;
    if (strategy == TRIM_MAXLEN) {
        if (arg_ll_or_reply(c, arg, &a->trim.maxlen, NULL))
            return -1;
        if (a->trim.maxlen < 0) {
            reply_error(c, "ERR The MAXLEN argument must be >= 0.");
            return -1;
        }
    } else if (stream_id_or_reply(c, arg, &a->trim.minid, 0, 1, NULL)) {
        return -1;
    }
    (*i)++;
    a->trim.strategy = strategy;
    return 0;
}

/* Redis's streamParseAddOrTrimArgsOrReply: the options of XADD (xadd set) or XTRIM. Returns
 * the position of XADD's ID argument, or -1 after replying an error. */
static int parse_add_trim(cmd_ctx *c, add_trim_args *a, int xadd)
{
    memset(a, 0, sizeof(*a));
    int limit_given = 0;
    int i = 2;
    for (; i < c->argc; i++) {
        int moreargs = c->argc - 1 - i;
        const slice *opt = &c->argv[i];
        if (xadd && is_char_arg(opt, '*')) {
            break;
        } else if (arg_eq(opt, "maxlen") && moreargs) {
            if (parse_trim_strategy(c, a, &i, TRIM_MAXLEN))
                return -1;
        } else if (arg_eq(opt, "minid") && moreargs) {
            if (parse_trim_strategy(c, a, &i, TRIM_MINID))
                return -1;
        } else if (arg_eq(opt, "limit") && moreargs) {
            a->limit_idx = i;
            if (arg_ll_or_reply(c, &c->argv[i + 1], &a->trim.limit, NULL))
                return -1;
            if (a->trim.limit < 0) {
                reply_error(c, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && arg_eq(opt, "nomkstream")) {
            a->no_mkstream = 1;
        } else if (xadd) {
            if (stream_id_or_reply(c, opt, &a->id, 0, 1, &a->seq_given))
                return -1;
            a->id_given = 1;
            break;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    if (a->trim.limit && a->trim.strategy == TRIM_NONE) {
        reply_error(c, ERR_LIMIT_NO_STRATEGY);
        return -1;
    }
    if (!xadd && a->trim.strategy == TRIM_NONE) {
        reply_error(c, ERR_NO_TRIM_STRATEGY);
        return -1;
    }
    if (limit_given) {
        if (!a->trim.approx) {
            reply_error(c, ERR_LIMIT_NO_APPROX);
            return -1;
        }
    } else if (a->trim.approx) {
        /* Bound the work of "~" so that trimming cannot stall the shard. */
        long long limit = TRIM_APPROX_NODES * server.cfg.stream_node_max_entries;
        if (limit <= 0)
            limit = TRIM_APPROX_LIMIT_MIN;
        if (limit > TRIM_APPROX_LIMIT_MAX)
            limit = TRIM_APPROX_LIMIT_MAX;
        a->trim.limit = limit;
    } else {
        a->trim.limit = 0;
    }
    return i;
}

/* XADD and XTRIM are journaled deterministically, as Redis propagates them: a generated ID as
 * the ID it became, and an approximate trim ("~", which depends on the node layout and on
 * LIMIT) as the exact trim that happened: "=" and the length (MAXLEN) or first ID (MINID) the
 * stream was left with. idpos is XADD's ID argument and id the ID it added (0 and NULL for
 * XTRIM). */
static void journal_add_trim(cmd_ctx *c, const add_trim_args *a, stream *s, int idpos,
                             const stream_id *id)
{
    int new_id = idpos > 0 && id && (!a->id_given || !a->seq_given);
    if (!journal_wanted() || (!new_id && !a->trim.approx))
        return;
    journal_cmd jc;
    journal_cmd_init(&jc, c->cmd->name);
    char tmp[STREAM_ID_STR_MAX];
    for (int i = 1; i < c->argc; i++) {
        if (i == idpos && new_id) {
            journal_cmd_add(&jc, tmp, (size_t)stream_id_format(tmp, id));
        } else if (a->trim.approx && i == a->approx_idx) {
            journal_cmd_add(&jc, "=", 1);
        } else if (a->trim.approx && i == a->threshold_idx) {
            if (a->trim.strategy == TRIM_MAXLEN) {
                journal_cmd_add_ll(&jc, (long long)s->length);
            } else {
                stream_id first;
                stream_edge_id(s, 1, 0, &first);
                journal_cmd_add(&jc, tmp, (size_t)stream_id_format(tmp, &first));
            }
        } else if (!(a->limit_idx && (i == a->limit_idx || i == a->limit_idx + 1))) {
            journal_cmd_add(&jc, c->argv[i].p, c->argv[i].len);
        }
    }
    journal_cmd_commit(c, &jc, 0);
}

/* XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ... */
static void xadd_cmd(cmd_ctx *c)
{
    add_trim_args a;
    int idpos = parse_add_trim(c, &a, 1);
    if (idpos < 0)
        return;
    int field_pos = idpos + 1;
    int nargs = c->argc - field_pos;
    if (nargs < 2 || nargs % 2) {
        reply_wrong_args(c);
        return;
    }
    /* Checked before the key so that a bad ID cannot leave an empty stream behind. */
    if (a.id_given && a.seq_given && stream_id_is_zero(&a.id)) {
        reply_error(c, ERR_XADD_ID_ZERO);
        return;
    }
    const slice *key = &c->argv[1];
    int wrong;
    stream *s = stream_lookup(c, key, 1, &wrong);
    if (wrong)
        return;
    int created = 0;
    if (!s) {
        if (a.no_mkstream) {
            reply_null(c);
            return;
        }
        s = stream_new();
        created = 1;
    }
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        reply_error(c, ERR_XADD_EXHAUSTED);
        return;
    }
    stream_id id;
    int rc = stream_append(s, &c->argv[field_pos], nargs / 2, a.id_given ? &a.id : NULL,
                           a.seq_given, c->now_ms, &id);
    if (rc != STREAM_OK) {
        if (created)
            stream_free(s);
        reply_error(c, rc == STREAM_ERR_ID ? ERR_XADD_ID_SMALL : ERR_XADD_TOO_BIG);
        return;
    }
    if (created)
        db_add(c, entry_new_ptr(key->p, key->len, OBJ_STREAM, ENC_STREAM, s, -1));
    reply_stream_id(c, &id);
    db_notify(c, NOTIFY_STREAM, "xadd", key->p, key->len);
    if (a.trim.strategy != TRIM_NONE && stream_trim(s, &a.trim))
        db_notify(c, NOTIFY_STREAM, "xtrim", key->p, key->len);
    db_signal_modified(c, key->p, key->len);
    block_signal_key(c, key->p, key->len);
    journal_add_trim(c, &a, s, idpos, &id);
}

/* XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count] */
static void xtrim_cmd(cmd_ctx *c)
{
    add_trim_args a;
    if (parse_add_trim(c, &a, 0) < 0)
        return;
    const slice *key = &c->argv[1];
    int wrong;
    stream *s = stream_lookup(c, key, 1, &wrong);
    if (wrong)
        return;
    if (!s) {
        reply_int(c, 0);
        return;
    }
    int64_t deleted = stream_trim(s, &a.trim);
    if (deleted) {
        db_notify(c, NOTIFY_STREAM, "xtrim", key->p, key->len);
        db_signal_modified(c, key->p, key->len);
        journal_add_trim(c, &a, s, 0, NULL);
    }
    reply_int(c, deleted);
}

/* ---- reading by range ---------------------------------------------------------------------- */

/* XRANGE key start end [COUNT n], XREVRANGE key end start [COUNT n]. "(" excludes a bound. */
static void xrange_generic(cmd_ctx *c, int rev)
{
    const slice *startarg = rev ? &c->argv[3] : &c->argv[2];
    const slice *endarg = rev ? &c->argv[2] : &c->argv[3];
    stream_id start, end;
    int startex, endex;
    if (stream_interval_or_reply(c, startarg, &start, &startex, 0))
        return;
    if (startex && stream_id_incr(&start)) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    if (stream_interval_or_reply(c, endarg, &end, &endex, UINT64_MAX))
        return;
    if (endex && stream_id_decr(&end)) {
        reply_error(c, "ERR invalid end ID for the interval");
        return;
    }
    long long count = -1;
    for (int j = 4; j < c->argc; j++) {
        if (arg_eq(&c->argv[j], "count") && j + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &count, NULL))
                return;
            if (count < 0)
                count = 0;
            j++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int wrong;
    stream *s = stream_lookup(c, &c->argv[1], 0, &wrong);
    if (wrong)
        return;
    if (!s) {
        reply_array(c, 0);
        return;
    }
    if (count == 0)
        reply_null_array(c);
    else
        stream_reply_range(c, s, &start, &end, count < 0 ? 0 : (size_t)count, rev, NULL, NULL, 0);
}

static void xrange_cmd(cmd_ctx *c)
{
    xrange_generic(c, 0);
}

static void xrevrange_cmd(cmd_ctx *c)
{
    xrange_generic(c, 1);
}

/* XLEN key */
static void xlen_cmd(cmd_ctx *c)
{
    int wrong;
    stream *s = stream_lookup(c, &c->argv[1], 0, &wrong);
    if (!wrong)
        reply_int(c, s ? (long long)s->length : 0);
}

/* ---- XDEL and XSETID ----------------------------------------------------------------------- */

/* Parses argv[from..argc) as strict IDs into an array the caller frees (ids != stack). */
static stream_id *parse_ids_or_reply(cmd_ctx *c, int from, stream_id *stack, int stack_len)
{
    int n = c->argc - from;
    stream_id *ids = n > stack_len ? mem_malloc(sizeof(stream_id) * (size_t)n) : stack;
    for (int j = from; j < c->argc; j++) {
        if (stream_id_or_reply(c, &c->argv[j], &ids[j - from], 0, 1, NULL)) {
            if (ids != stack)
                free(ids);
            return NULL;
        }
    }
    return ids;
}

/* XDEL key id [id ...] */
static void xdel_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    int wrong;
    stream *s = stream_lookup(c, key, 1, &wrong);
    if (wrong)
        return;
    if (!s) {
        reply_int(c, 0);
        return;
    }
    stream_id stack[XREAD_STATIC_STREAMS];
    stream_id *ids = parse_ids_or_reply(c, 2, stack, XREAD_STATIC_STREAMS);
    if (!ids)
        return;
    long long deleted = 0;
    int first_entry = 0;
    for (int j = 0; j < c->argc - 2; j++) {
        if (!stream_delete(s, &ids[j]))
            continue;
        if (stream_id_cmp(&ids[j], &s->first_id) == 0)
            first_entry = 1;
        if (stream_id_cmp(&ids[j], &s->max_deleted) > 0)
            s->max_deleted = ids[j];
        deleted++;
    }
    if (ids != stack)
        free(ids);
    if (deleted) {
        if (s->length == 0)
            s->first_id = (stream_id){0, 0};
        else if (first_entry)
            stream_edge_id(s, 1, 1, &s->first_id);
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_STREAM, "xdel", key->p, key->len);
    }
    reply_int(c, deleted);
}

/* XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id] */
static void xsetid_cmd(cmd_ctx *c)
{
    stream_id id, max_xdel = {0, 0};
    long long entries_added = -1;
    if (stream_id_or_reply(c, &c->argv[2], &id, 0, 1, NULL))
        return;
    for (int i = 3; i < c->argc; i += 2) {
        int moreargs = c->argc - 1 - i;
        if (arg_eq(&c->argv[i], "entriesadded") && moreargs) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], &entries_added, NULL))
                return;
            if (entries_added < 0) {
                reply_error(c, "ERR entries_added must be positive");
                return;
            }
        } else if (arg_eq(&c->argv[i], "maxdeletedid") && moreargs) {
            if (stream_id_or_reply(c, &c->argv[i + 1], &max_xdel, 0, 1, NULL))
                return;
            if (stream_id_cmp(&id, &max_xdel) < 0) {
                reply_error(c, "ERR The ID specified in XSETID is smaller than the provided "
                               "max_deleted_entry_id");
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    const slice *key = &c->argv[1];
    int wrong;
    stream *s = stream_lookup(c, key, 1, &wrong);
    if (wrong)
        return;
    if (!s) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    /* Redis checks the top item before max_deleted_entry_id: an ID below both gets the
     * top-item error. */
    if (s->length > 0) {
        stream_id maxid;
        stream_edge_id(s, 0, 1, &maxid);
        if (stream_id_cmp(&id, &maxid) < 0) {
            reply_error(c, "ERR The ID specified in XSETID is smaller than the target stream top "
                           "item");
            return;
        }
        if (entries_added != -1 && s->length > (uint64_t)entries_added) {
            reply_error(c, "ERR The entries_added specified in XSETID is smaller than the "
                           "target stream length");
            return;
        }
    }
    if (stream_id_cmp(&id, &s->max_deleted) < 0) {
        reply_error(c, "ERR The ID specified in XSETID is smaller than current "
                       "max_deleted_entry_id");
        return;
    }
    s->last_id = id;
    if (entries_added != -1)
        s->entries_added = (uint64_t)entries_added;
    if (!stream_id_is_zero(&max_xdel))
        s->max_deleted = max_xdel;
    reply_ok(c);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STREAM, "xsetid", key->p, key->len);
}

/* ---- XREAD and XREADGROUP ------------------------------------------------------------------ */

typedef struct xread_args {
    int64_t timeout; /* absolute ms, 0 forever; -1 without BLOCK */
    long long count; /* 0: no limit */
    int streams_arg; /* argv index of the first key */
    int nstreams;
    int noack;
    const slice *group, *consumer;
} xread_args;

/* The position of XREAD/XREADGROUP's STREAMS keyword, found the way Redis's xreadGetKeys skips
 * the options before it; -1 when the arguments do not have the form of the command. */
static int xread_streams_pos(int argc, const slice *argv)
{
    int streams_pos = -1;
    for (int i = 1; i < argc; i++) {
        if (arg_eq(&argv[i], "block") || arg_eq(&argv[i], "count")) {
            i++;
        } else if (arg_eq(&argv[i], "group")) {
            i += 2;
        } else if (arg_eq(&argv[i], "noack")) {
            continue;
        } else {
            if (arg_eq(&argv[i], "streams"))
                streams_pos = i;
            break;
        }
    }
    int num = argc - streams_pos - 1;
    if (streams_pos == -1 || num == 0 || num % 2 != 0)
        return -1;
    return streams_pos;
}

/* Key positions of XREAD/XREADGROUP: the first half of the arguments after STREAMS. */
static int xread_getkeys(int argc, const slice *argv, int *keys, int max)
{
    int streams_pos = xread_streams_pos(argc, argv);
    int num = (argc - streams_pos - 1) / 2;
    if (streams_pos < 0 || num > max)
        return -1;
    for (int i = 0; i < num; i++)
        keys[i] = streams_pos + 1 + i;
    return num;
}

/* BLOCK's milliseconds (Redis's getTimeoutFromObjectOrReply in ms). */
static int block_ms_or_reply(cmd_ctx *c, const slice *a, int64_t *timeout)
{
    long long ms;
    if (!str_to_ll(a->p, a->len, &ms)) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return -1;
    }
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return -1;
    }
    if (ms > 0) {
        if (ms > LLONG_MAX - c->now_ms) {
            reply_error(c, "ERR timeout is out of range");
            return -1;
        }
        ms += c->now_ms;
    }
    *timeout = ms;
    return 0;
}

static int xread_parse(cmd_ctx *c, int xreadgroup, xread_args *a)
{
    memset(a, 0, sizeof(*a));
    a->timeout = -1;
    for (int i = 1; i < c->argc; i++) {
        int moreargs = c->argc - i - 1;
        const slice *o = &c->argv[i];
        if (arg_eq(o, "block") && moreargs) {
            if (block_ms_or_reply(c, &c->argv[++i], &a->timeout))
                return -1;
        } else if (arg_eq(o, "count") && moreargs) {
            if (arg_ll_or_reply(c, &c->argv[++i], &a->count, NULL))
                return -1;
            if (a->count < 0)
                a->count = 0;
        } else if (arg_eq(o, "streams") && moreargs) {
            a->streams_arg = i + 1;
            a->nstreams = c->argc - a->streams_arg;
            if (a->nstreams % 2 != 0) {
                reply_errorf(c,
                             "ERR Unbalanced '%s' list of streams: for each stream key an ID or "
                             "'%c' must be specified.",
                             c->cmd->name, xreadgroup ? '>' : '$');
                return -1;
            }
            a->nstreams /= 2;
            break;
        } else if (arg_eq(o, "group") && moreargs >= 2) {
            if (!xreadgroup) {
                reply_error(c, "ERR The GROUP option is only supported by XREADGROUP. You called "
                               "XREAD instead.");
                return -1;
            }
            a->group = &c->argv[i + 1];
            a->consumer = &c->argv[i + 2];
            i += 2;
        } else if (arg_eq(o, "noack")) {
            if (!xreadgroup) {
                reply_error(c, "ERR The NOACK option is only supported by XREADGROUP. You called "
                               "XREAD instead.");
                return -1;
            }
            a->noack = 1;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    if (a->streams_arg == 0 || xread_streams_pos(c->argc, c->argv) + 1 != a->streams_arg) {
        /* The keys dispatch found (and holds the shards of) must be the ones we read. */
        reply_syntax_error(c);
        return -1;
    }
    if (xreadgroup && !a->group) {
        reply_error(c, "ERR Missing GROUP option for XREADGROUP");
        return -1;
    }
    return 0;
}

/* Resolves stream i's ID argument ("$", ">" or an ID) and group into ids[i] / groups[i]. */
static int xread_resolve(cmd_ctx *c, const xread_args *a, int i, stream_id *ids, stream_cg **groups)
{
    const slice *key = &c->argv[a->streams_arg + i];
    const slice *arg = &c->argv[a->streams_arg + a->nstreams + i];
    int wrong;
    stream *s = stream_lookup(c, key, 0, &wrong);
    if (wrong)
        return -1;
    if (a->group) {
        if (!s || !(groups[i] = stream_cg_lookup(s, a->group->p, a->group->len))) {
            reply_errorf(c,
                         "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with "
                         "GROUP option",
                         err_name_len(key), key->p, err_name_len(a->group), a->group->p);
            return -1;
        }
    }
    if (is_char_arg(arg, '$')) {
        if (a->group) {
            reply_error(c, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                           "read the history of this consumer by specifying a proper ID, or use "
                           "the > ID to get new messages. The $ ID would just return an empty "
                           "result set.");
            return -1;
        }
        ids[i] = s ? s->last_id : (stream_id){0, 0};
        return 0;
    }
    if (is_char_arg(arg, '>')) {
        if (!a->group) {
            reply_error(c, "ERR The > ID can be specified only when calling XREADGROUP using the "
                           "GROUP <group> <consumer> option.");
            return -1;
        }
        ids[i] = (stream_id){UINT64_MAX, UINT64_MAX}; /* ">" */
        return 0;
    }
    return stream_id_or_reply(c, arg, &ids[i], 0, 1, NULL);
}

/* Serves stream i now if it has something for the reader; returns 1 when it replied. */
static int xread_serve_one(cmd_ctx *c, const xread_args *a, int i, const stream_id *gt_in,
                           stream_cg *group, size_t *handle, long *served)
{
    const slice *key = &c->argv[a->streams_arg + i];
    int wrong;
    stream *s = stream_lookup(c, key, 0, &wrong);
    if (!s)
        return 0;
    stream_id gt = *gt_in, maxid;
    int serve = 0, history = 0;
    if (group) {
        if (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX) {
            serve = history = 1; /* the consumer's history: always answered */
        } else if (s->length) {
            stream_edge_id(s, 0, 1, &maxid);
            if (stream_id_cmp(&maxid, &group->last_id) > 0) {
                serve = 1;
                gt = group->last_id;
            }
        }
    } else if (s->length) {
        stream_edge_id(s, 0, 1, &maxid);
        serve = stream_id_cmp(&maxid, &gt) > 0;
    }
    if (!serve)
        return 0;
    if ((*served)++ == 0)
        *handle = reply_deferred(c);
    stream_id start = gt;
    stream_id_incr(&start);
    if (c->resp == 2)
        reply_array(c, 2);
    reply_bulk(c, key->p, key->len);
    /* Only a read that serves something makes the consumer, as in Redis 7.0. */
    stream_consumer *consumer = group ? stream_consumer_get(c, group, key, a->consumer) : NULL;
    int flags = (a->noack ? RWR_NOACK : 0) | (history ? RWR_HISTORY : 0);
    stream_reply_range(c, s, &start, NULL, (size_t)a->count, 0, group, consumer, flags);
    return 1;
}

/* A blocked read woken by c->ready_key: serves that stream alone, as Redis 7.0 does, or keeps
 * waiting when it has nothing past the reader's ID. */
static void xread_serve_blocked(cmd_ctx *c, const xread_args *a)
{
    int i = 0;
    for (; i < a->nstreams; i++) {
        const slice *k = &c->argv[a->streams_arg + i];
        if (k->len == c->ready_key.len && !memcmp(k->p, c->ready_key.p, k->len))
            break;
    }
    entry *e = i < a->nstreams ? db_lookup_read(c, c->ready_key.p, c->ready_key.len) : NULL;
    if (!e || e->type != OBJ_STREAM) {
        block_keep_waiting(c);
        return;
    }
    const slice *key = &c->argv[a->streams_arg + i];
    stream *s = entry_ptr(e);
    stream_cg *group = NULL;
    stream_id gt;
    if (a->group) {
        group = stream_cg_lookup(s, a->group->p, a->group->len);
        if (!group) {
            reply_error(c, ERR_NOGROUP_GONE);
            return;
        }
        gt = group->last_id;
    } else if (stream_id_parse(c->argv[a->streams_arg + a->nstreams + i].p,
                               c->argv[a->streams_arg + a->nstreams + i].len, &gt, 0, 1, NULL)) {
        gt = s->last_id; /* an unrewritten "$": only entries from now on */
    }
    if (stream_id_cmp(&s->last_id, &gt) <= 0) {
        block_keep_waiting(c);
        return;
    }
    stream_id start = gt;
    stream_id_incr(&start);
    stream_consumer *consumer = group ? stream_consumer_get(c, group, key, a->consumer) : NULL;
    if (c->resp == 2) {
        reply_array(c, 1);
        reply_array(c, 2);
    } else {
        reply_map(c, 1);
    }
    reply_bulk(c, key->p, key->len);
    size_t count = a->count ? (size_t)a->count : XREAD_BLOCKED_DEFAULT_COUNT;
    stream_reply_range(c, s, &start, NULL, count, 0, group, consumer, a->noack ? RWR_NOACK : 0);
    if (group && journal_wanted()) {
        /* The read that happened: this stream alone, without BLOCK. */
        journal_cmd jc;
        journal_cmd_init(&jc, "XREADGROUP");
        journal_cmd_add(&jc, "GROUP", strlen("GROUP"));
        journal_cmd_add(&jc, a->group->p, a->group->len);
        journal_cmd_add(&jc, a->consumer->p, a->consumer->len);
        journal_cmd_add(&jc, "COUNT", strlen("COUNT"));
        journal_cmd_add_ll(&jc, (long long)count);
        if (a->noack)
            journal_cmd_add(&jc, "NOACK", strlen("NOACK"));
        journal_cmd_add(&jc, "STREAMS", strlen("STREAMS"));
        journal_cmd_add(&jc, key->p, key->len);
        journal_cmd_add(&jc, ">", 1);
        journal_cmd_commit(c, &jc, 0);
    }
}

/* Blocks on every stream of the read. "$" becomes the ID it stood for, so that the serving
 * looks past it rather than past whatever is last by then. */
static void xread_block(cmd_ctx *c, const xread_args *a, const stream_id *ids)
{
    int stack[XREAD_STATIC_STREAMS];
    int *keyidx =
        a->nstreams > XREAD_STATIC_STREAMS ? mem_malloc(sizeof(int) * (size_t)a->nstreams) : stack;
    for (int i = 0; i < a->nstreams; i++)
        keyidx[i] = a->streams_arg + i;
    block_on_keys(c, keyidx, a->nstreams, a->timeout, BLOCK_NULL_ARRAY);
    for (int i = 0; i < a->nstreams; i++) {
        int idx = a->streams_arg + a->nstreams + i;
        if (is_char_arg(&c->argv[idx], '$')) {
            char buf[STREAM_ID_STR_MAX];
            int n = stream_id_format(buf, &ids[i]);
            block_set_arg(c, idx, buf, (size_t)n);
        }
    }
    if (keyidx != stack)
        free(keyidx);
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS key... id...
 * XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id... */
static void xread_generic(cmd_ctx *c, int xreadgroup)
{
    xread_args a;
    if (xread_parse(c, xreadgroup, &a))
        return;
    if (c->flags & CTX_UNBLOCKED) {
        xread_serve_blocked(c, &a);
        return;
    }
    stream_id ids_stack[XREAD_STATIC_STREAMS];
    stream_cg *groups_stack[XREAD_STATIC_STREAMS];
    int big = a.nstreams > XREAD_STATIC_STREAMS;
    stream_id *ids = big ? mem_malloc(sizeof(stream_id) * (size_t)a.nstreams) : ids_stack;
    stream_cg **groups = big ? mem_malloc(sizeof(stream_cg *) * (size_t)a.nstreams) : groups_stack;
    for (int i = 0; i < a.nstreams; i++)
        if (xread_resolve(c, &a, i, ids, groups))
            goto cleanup;

    size_t handle = 0;
    long served = 0;
    for (int i = 0; i < a.nstreams; i++)
        xread_serve_one(c, &a, i, &ids[i], a.group ? groups[i] : NULL, &handle, &served);
    if (served) {
        if (c->resp == 2)
            reply_set_deferred_array(c, handle, served);
        else
            reply_set_deferred_map(c, handle, served);
        /* Deliveries change the group, not a key's modification counter; replayed at the
         * same time (journal.h) the read delivers the same, and does not block. */
        if (a.group)
            journal_force(c);
    } else if (a.timeout != -1 && block_allowed(c)) {
        xread_block(c, &a, ids);
    } else {
        /* No BLOCK, or blocking is not possible here (MULTI, scripts): as if it timed out. */
        reply_null_array(c);
    }
cleanup:
    if (big) {
        free(ids);
        free(groups);
    }
}

static void xread_cmd(cmd_ctx *c)
{
    xread_generic(c, 0);
}

static void xreadgroup_cmd(cmd_ctx *c)
{
    xread_generic(c, 1);
}

/* ---- the type ---------------------------------------------------------------------------- */

static void stream_obj_free(void *ptr, int enc)
{
    (void)enc;
    stream_free(ptr);
}

static size_t stream_obj_mem(const void *ptr, int enc)
{
    (void)enc;
    return stream_mem_usage(ptr);
}

static void *stream_obj_dup(const void *ptr, int enc)
{
    (void)enc;
    return stream_dup(ptr);
}

/* Redis's xorObjectDigest for streams: every entry's "<ms>.<seq>", fields and values. */
static void stream_digest(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN])
{
    stream_iter si;
    stream_id id;
    long nfields;
    stream_iter_start(&si, entry_ptr(e), NULL, NULL, 0);
    while (stream_iter_next(&si, &id, &nfields)) {
        char buf[STREAM_ID_STR_MAX];
        int n = stream_id_format(buf, &id);
        *strchr(buf, '-') = '.';
        debug_digest_mix(digest, buf, (size_t)n);
        while (nfields--) {
            const char *f, *v;
            size_t flen, vlen;
            stream_iter_field(&si, &f, &flen, &v, &vlen);
            debug_digest_mix(digest, f, flen);
            debug_digest_mix(digest, v, vlen);
        }
    }
}

static const obj_type_ops stream_type_ops = {
    .name = "stream",
    .free = stream_obj_free,
    .mem_usage = stream_obj_mem,
    .dup = stream_obj_dup,
};

void stream_type_init(void)
{
    obj_register_type(OBJ_STREAM, &stream_type_ops);
    debug_register_digest(OBJ_STREAM, stream_digest);
}

/* ---- the command table ------------------------------------------------------------------- */

#define STREAM_CMD .group = "stream"
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1

command stream_commands[] = {
    {.name = "xadd",
     .proc = xadd_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_FAST,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Appends a new entry to a stream"},
    {.name = "xtrim",
     .proc = xtrim_cmd,
     .arity = -4,
     .flags = CMD_WRITE,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Trims the stream to (approximately if '~' is passed) a certain size"},
    {.name = "xrange",
     .proc = xrange_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     KEY1,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Return a range of elements in a stream, with IDs matching the specified IDs "
                "interval"},
    {.name = "xrevrange",
     .proc = xrevrange_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     KEY1,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Return a range of elements in a stream, with IDs matching the specified IDs "
                "interval, in reverse order (from greater to smaller IDs) compared to XRANGE"},
    {.name = "xlen",
     .proc = xlen_cmd,
     .arity = 2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_READ | ACL_FAST,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Return the number of entries in a stream"},
    {.name = "xdel",
     .proc = xdel_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_FAST,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Removes the specified entries from the stream. Returns the number of items "
                "actually deleted, that may be different from the number of IDs passed in case "
                "certain IDs do not exist."},
    {.name = "xsetid",
     .proc = xsetid_cmd,
     .arity = -3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_FAST,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "An internal command for replicating stream values"},
    {.name = "xread",
     .proc = xread_cmd,
     .arity = -4,
     .flags = CMD_READONLY | CMD_BLOCKING,
     .getkeys = xread_getkeys,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW | ACL_BLOCKING,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Return never seen elements in multiple streams, with IDs greater than the ones "
                "reported by the caller for each stream. Can block."},
    {.name = "xreadgroup",
     .proc = xreadgroup_cmd,
     .arity = -7,
     .flags = CMD_WRITE | CMD_BLOCKING,
     .getkeys = xread_getkeys,
     .acl = ACL_STREAM | ACL_WRITE | ACL_SLOW | ACL_BLOCKING,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Return new entries from a stream using a consumer group, or access the history "
                "of the pending entries for a given consumer. Can block."},
    {.name = "xack",
     .proc = xack_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_FAST,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Marks a pending message as correctly processed, effectively removing it from the "
                "pending entries list of the consumer group. Return value of the command is the "
                "number of messages successfully acknowledged, that is, the IDs we were actually "
                "able to resolve in the PEL."},
    {.name = "xpending",
     .proc = xpending_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     KEY1,
     .acl = ACL_STREAM | ACL_READ | ACL_SLOW,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Return information and entries from a stream consumer group pending entries "
                "list, that are messages fetched but never acknowledged."},
    {.name = "xclaim",
     .proc = xclaim_cmd,
     .arity = -6,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_FAST,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "Changes (or acquires) ownership of a message in a consumer group, as if the "
                "message was delivered to the specified consumer."},
    {.name = "xautoclaim",
     .proc = xautoclaim_cmd,
     .arity = -6,
     .flags = CMD_WRITE | CMD_FAST,
     KEY1,
     .acl = ACL_STREAM | ACL_WRITE | ACL_FAST,
     STREAM_CMD,
     .since = "6.2.0",
     .summary = "Changes (or acquires) ownership of messages in a consumer group, as if the "
                "messages were delivered to the specified consumer."},
    {.name = "xgroup",
     .proc = xgroup_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "A container for consumer groups commands",
     .subcommands = xgroup_subcommands},
    {.name = "xinfo",
     .proc = xinfo_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     STREAM_CMD,
     .since = "5.0.0",
     .summary = "A container for stream introspection commands",
     .subcommands = xinfo_subcommands},
    {0},
};
