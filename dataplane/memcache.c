/* The memcached listener's connections (memcache.h): protocol choice, the request loop, running
 * requests as commands, the requests answered here (version, stats, verbosity, quit, mn, noop,
 * SASL), authentication, and errors of the common path in memcached's form.
 *
 * A connection speaks binary when its first byte is the binary magic (0x80), text otherwise, as
 * memcached decides. Requests are parsed from cl->rbuf with cl->rp.start/pos marking the
 * unconsumed input (so client.c's buffer handling applies unchanged). A request that touches
 * one key joins a squashed batch (pipeline.h) like a RESP pipeline does: the requests of one
 * read go to their shards one message per shard, and the answers come back in request order.
 * Anything else first lets the batch finish, then runs alone. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "connection.h"
#include "dispatch.h"
#include "journal.h"
#include "log.h"
#include "memcache_int.h"
#include "pause.h"
#include "pipeline.h"
#include "reply.h"
#include "resp.h"
#include "script.h"
#include "tx.h"
#include "worker.h"

#define MC_VERBOSITY_MAX 2 /* memcached's MAX_VERBOSITY_LEVEL */
#define SASL_MECH_PLAIN "PLAIN"

enum { MC_PROTO_UNKNOWN = 0, MC_PROTO_TEXT, MC_PROTO_BINARY };

/* What one step of the request loop did. */
enum {
    STEP_NEXT,  /* a request was handled: go on */
    STEP_INPUT, /* the input ends inside a request: wait for more */
    STEP_WAIT,  /* a command or batch went to other threads */
};

typedef struct mc_conn {
    int proto;
    size_t swallow;     /* input bytes still to discard (a refused data block) */
    const command *cur; /* the command dispatch runs (memcache_current_command) */
    mc_text_req treq;   /* the text request being run: its decoded key lives here */
    mc_bin_req breq;
    slice bargv[MCB_ARGC];
} mc_conn;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void mc_init(void)
{
    mc_commands_init();
}

static mc_conn *conn_of(client *cl)
{
    if (!cl->mc) {
        pthread_once(&init_once, mc_init);
        cl->mc = mem_calloc(1, sizeof(mc_conn));
        mc_stats *st = mc_stats_here();
        counter_add(&st->curr_conns, 1);
        counter_add(&st->total_conns, 1);
    }
    return cl->mc;
}

void memcache_client_free(client *cl)
{
    if (!cl->mc)
        return;
    counter_add(&mc_stats_of[cl->owner->id].curr_conns, (uint64_t)-1);
    free(cl->mc);
    cl->mc = NULL;
}

const command *memcache_current_command(const client *cl)
{
    return cl->mc ? cl->mc->cur : NULL;
}

/* ---- errors of the common path ------------------------------------------------------------- */

void memcache_reply_error(cmd_ctx *c, const char *msg)
{
    stats_count_error(msg);
    int oom = !strncmp(msg, "OOM ", 4);
    mc_conn *mc = c->cl->mc;
    if (mc && mc->proto == MC_PROTO_BINARY && c->argc == MCB_ARGC) {
        mc_bin_header h;
        mc_bin_header_decode(c->argv[MCB_ARG_HEADER].p, &h);
        int temporary =
            !strncmp(msg, "LOADING", 7) || !strncmp(msg, "BUSY", 4) || !strncmp(msg, "MISCONF", 7);
        mc_bin_error(c->out, &h,
                     oom         ? MCB_ENOMEM
                     : temporary ? MCB_ETMPFAIL
                                 : MCB_EINTERNAL,
                     oom ? NULL : msg);
        return;
    }
    /* Text: memcached's SERVER_ERROR; noreply hides it as it hides every classic answer. */
    int last = c->cmd == &mc_cmd_store ? c->argc - 2 : c->argc - 1; /* data comes last */
    int meta = c->argv[0].len == 2 && c->argv[0].p[0] == 'm';
    if (!meta && last > 0 && mc_is(&c->argv[last], "noreply"))
        return;
    buf_append_str(c->out, "SERVER_ERROR ");
    buf_append_str(c->out, oom ? "out of memory storing object" : msg);
    buf_append(c->out, "\r\n", 2);
}

/* ---- running requests ---------------------------------------------------------------------- */

/* What keeps a request from joining a batch whatever it is (pipeline_squashable's checks). */
static int batch_allowed(client *cl)
{
    return !connection_auth_required(cl) && !pause_requested() && !script_busy() &&
           !atomic_load_explicit(&journal_write_failed, memory_order_relaxed) &&
           !atomic_load(&server.loading);
}

/* The input of the request just handled is consumed (plus what follows it to discard). */
static void consume(client *cl, mc_conn *mc, size_t n, size_t swallow)
{
    cl->rp.pos += n;
    resp_parser_next(&cl->rp);
    mc->swallow = swallow;
}

/* Runs a command on its own (after any batch). Returns STEP_NEXT or STEP_WAIT. */
static int run_command(client *cl, mc_conn *mc, const command *cmd, int argc, slice *argv,
                       size_t consumed, size_t swallow)
{
    mc->cur = cmd;
    cl->rp.pos += consumed;
    mc->swallow = swallow;
    cl->reply_mark = cl->wbuf.len;
    if (dispatch_command(cl, argc, argv))
        return STEP_WAIT; /* client_command_done moves the parser on */
    resp_parser_next(&cl->rp);
    return STEP_NEXT;
}

/* A command that touches one key joins the batch (1), else 0. */
static int try_batch(client *cl, mc_conn *mc, const command *cmd, int argc, slice *argv,
                     size_t consumed, size_t swallow)
{
    if (!batch_allowed(cl) || cmd->first_key <= 0 || (cmd->flags & CMD_ALL_SHARDS))
        return 0;
    int keys[2];
    if (command_get_keys(cmd, argc, argv, keys, 2) != 1)
        return 0;
    int shard = key_shard(argv[keys[0]].p, argv[keys[0]].len);
    pipeline_add(cl, cmd, shard, keys[0], argc, argv);
    consume(cl, mc, consumed, swallow);
    return 1;
}

/* Before a request that cannot join it, the batch runs. STEP_NEXT when it is done (or there
 * was none), STEP_WAIT when it went to other threads (the request is parsed again after). */
static int flush_batch(client *cl)
{
    if (!pipeline_count(cl))
        return STEP_NEXT;
    return pipeline_run(cl) ? STEP_WAIT : STEP_NEXT;
}

/* Runs cmd: in the batch when it can join it, else alone once the batch is done. */
static int run_or_batch(client *cl, mc_conn *mc, const command *cmd, int argc, slice *argv,
                        size_t consumed, size_t swallow, int batchable)
{
    /* The only request of the read goes straight to dispatch: a batch of one costs more. */
    int alone = !pipeline_count(cl) && cl->rp.pos + consumed + swallow >= cl->rbuf.len;
    if (batchable && !alone && try_batch(cl, mc, cmd, argc, argv, consumed, swallow)) {
        if (pipeline_count(cl) >= PIPELINE_BATCH_MAX)
            return flush_batch(cl);
        return STEP_NEXT;
    }
    if (flush_batch(cl) == STEP_WAIT)
        return STEP_WAIT;
    return run_command(cl, mc, cmd, argc, argv, consumed, swallow);
}

/* ---- text protocol ------------------------------------------------------------------------- */

static void text_line(client *cl, const char *s)
{
    buf_append_str(&cl->wbuf, s);
    buf_append(&cl->wbuf, "\r\n", 2);
}

static void text_auth(client *cl, const slice *tok)
{
    mc_stats *st = mc_stats_here();
    counter_add(&st->auth_cmds, 1);
    if (connection_check_password(NULL, &tok[1])) {
        cl->authenticated = 1;
        text_line(cl, "STORED");
    } else {
        counter_add(&st->auth_errors, 1);
        text_line(cl, "CLIENT_ERROR authentication failure");
    }
}

/* Requests answered here, without the keyspace. */
static void text_local(client *cl, mc_text_req *r, const slice *tok)
{
    switch (r->op) {
    case MT_VERSION: text_line(cl, "VERSION " MEMCACHE_COMPAT_VERSION); break;
    case MT_MN: text_line(cl, "MN"); break;
    case MT_QUIT: cl->flags |= CLIENT_CLOSE_AFTER_REPLY; break;
    case MT_VERBOSITY: {
        uint32_t level = 0;
        mc_strtoul32(&tok[1], &level);
        atomic_store(&mc_verbosity, level > MC_VERBOSITY_MAX ? MC_VERBOSITY_MAX : (int)level);
        if (!r->noreply)
            text_line(cl, "OK");
        break;
    }
    case MT_STATS: {
        const char *g = r->ntok > 1 ? tok[1].p : "";
        size_t glen = r->ntok > 1 ? tok[1].len : 0;
        if (mc_stats_text(g, glen, &cl->wbuf) < 0)
            text_line(cl, "ERROR");
        break;
    }
    case MT_AUTH: text_auth(cl, tok); break;
    default: break;
    }
}

static int text_batchable(const mc_text_req *r, const slice *tok)
{
    if (r->ntok > 1 && tok[1].p == r->key)
        return 0; /* a decoded key lives in r, which the next request reuses */
    switch (r->op) {
    case MT_GET:
    case MT_GETS: return r->ntok == 2;
    case MT_GAT:
    case MT_GATS: return r->ntok == 3;
    default: return 1;
    }
}

/* Grows cl->argv to hold n arguments. */
static void argv_reserve(client *cl, int n)
{
    if (n <= cl->argv_cap)
        return;
    cl->argv = mem_realloc(cl->argv, sizeof(slice) * (size_t)n);
    cl->argv_cap = n;
}

static int text_step(client *cl, mc_conn *mc, const char *p, size_t n)
{
    mc_text_req *r = &mc->treq;
    int rc = mc_text_parse(p, n, server.cfg.memcached_max_item_size, !connection_auth_required(cl),
                           r, &cl->argv, &cl->argv_cap);
    if (rc == MCT_PARSE_INCOMPLETE)
        return STEP_INPUT;
    const command *cmd = rc == MCT_PARSE_OK && !r->error ? mc_text_command(r) : NULL;
    if (cmd) {
        int argc = r->ntok;
        if (r->data.p) { /* the data block is the last argument */
            argv_reserve(cl, argc + 1);
            cl->argv[argc++] = r->data;
        }
        return run_or_batch(cl, mc, cmd, argc, cl->argv, r->consumed, r->swallow,
                            text_batchable(r, cl->argv));
    }
    /* Answered here: after the batch, whose answers come first. */
    if (flush_batch(cl) == STEP_WAIT)
        return STEP_WAIT;
    if (rc == MCT_PARSE_CLOSE) { /* a line too long to be anything: memcached hangs up */
        cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        consume(cl, mc, cl->rbuf.len - cl->rp.pos, 0);
        return STEP_NEXT;
    }
    if (r->error) {
        if (!r->noreply || r->error_always)
            text_line(cl, r->error);
    } else {
        text_local(cl, r, cl->argv);
    }
    consume(cl, mc, r->consumed, r->swallow);
    return STEP_NEXT;
}

/* ---- binary protocol ----------------------------------------------------------------------- */

static const command *bin_command(const mc_bin_req *r)
{
    switch (r->hdr.opcode) {
    case MCB_GET:
    case MCB_GETQ:
    case MCB_GETK:
    case MCB_GETKQ:
    case MCB_TOUCH:
    case MCB_GAT:
    case MCB_GATQ:
    case MCB_GATK:
    case MCB_GATKQ: return &mc_cmd_bin_get;
    case MCB_SET:
    case MCB_SETQ:
    case MCB_ADD:
    case MCB_ADDQ:
    case MCB_REPLACE:
    case MCB_REPLACEQ:
    case MCB_APPEND:
    case MCB_APPENDQ:
    case MCB_PREPEND:
    case MCB_PREPENDQ: return r->too_large ? &mc_cmd_bin_too_large : &mc_cmd_bin_store;
    case MCB_DELETE:
    case MCB_DELETEQ: return &mc_cmd_bin_delete;
    case MCB_INCREMENT:
    case MCB_INCREMENTQ:
    case MCB_DECREMENT:
    case MCB_DECREMENTQ: return &mc_cmd_bin_arith;
    case MCB_FLUSH:
    case MCB_FLUSHQ: return &mc_cmd_bin_flush;
    default: return NULL;
    }
}

/* What may run before SASL authentication (memcached's authenticated()). */
static int bin_open_opcode(uint8_t op)
{
    return op == MCB_SASL_LIST_MECHS || op == MCB_SASL_AUTH || op == MCB_SASL_STEP ||
           op == MCB_VERSION;
}

/* SASL PLAIN: the value is "[authzid] NUL authcid NUL password". Any user name is taken: the
 * password is the default user's (requirepass). */
static void bin_sasl_auth(client *cl, const mc_bin_req *r)
{
    mc_stats *st = mc_stats_here();
    counter_add(&st->auth_cmds, 1);
    const slice *v = &r->value;
    const char *nul = v->len ? memrchr(v->p, '\0', v->len) : NULL;
    int plain =
        r->key.len == strlen(SASL_MECH_PLAIN) && !memcmp(r->key.p, SASL_MECH_PLAIN, r->key.len);
    slice pass = nul ? (slice){nul + 1, v->len - (size_t)(nul + 1 - v->p)} : (slice){0};
    if (plain && nul && memchr(v->p, '\0', (size_t)(nul - v->p)) &&
        connection_check_password(NULL, &pass)) {
        cl->authenticated = 1;
        static const char ok[] = "Authenticated";
        mc_bin_response(&cl->wbuf, &r->hdr, MCB_OK, 0, 0, sizeof(ok) - 1, 0);
        buf_append(&cl->wbuf, ok, sizeof(ok) - 1);
        return;
    }
    counter_add(&st->auth_errors, 1);
    mc_bin_error(&cl->wbuf, &r->hdr, MCB_AUTH_ERROR, NULL);
}

/* Requests answered here, without the keyspace. */
static void bin_local(client *cl, const mc_bin_req *r)
{
    const mc_bin_header *h = &r->hdr;
    buf *out = &cl->wbuf;
    int sasl = connection_password_set();
    switch (h->opcode) {
    case MCB_NOOP: mc_bin_response(out, h, MCB_OK, 0, 0, 0, 0); break;
    case MCB_VERSION: {
        static const char v[] = MEMCACHE_COMPAT_VERSION;
        mc_bin_response(out, h, MCB_OK, 0, 0, sizeof(v) - 1, 0);
        buf_append(out, v, sizeof(v) - 1);
        break;
    }
    case MCB_QUIT:
        mc_bin_response(out, h, MCB_OK, 0, 0, 0, 0);
        cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        break;
    case MCB_QUITQ: cl->flags |= CLIENT_CLOSE_AFTER_REPLY; break;
    case MCB_STAT:
        if (mc_stats_binary(r->key.p, r->key.len, out, h) < 0)
            mc_bin_error(out, h, MCB_KEY_ENOENT, NULL);
        break;
    case MCB_SASL_LIST_MECHS:
        if (!sasl) {
            mc_bin_error(out, h, MCB_UNKNOWN_COMMAND, NULL);
            break;
        }
        mc_bin_response(out, h, MCB_OK, 0, 0, sizeof(SASL_MECH_PLAIN) - 1, 0);
        buf_append_str(out, SASL_MECH_PLAIN);
        break;
    case MCB_SASL_AUTH:
        if (sasl)
            bin_sasl_auth(cl, r);
        else
            mc_bin_error(out, h, MCB_UNKNOWN_COMMAND, NULL);
        break;
    case MCB_SASL_STEP: /* PLAIN has no second step */
        mc_bin_error(out, h, sasl ? MCB_AUTH_ERROR : MCB_UNKNOWN_COMMAND, NULL);
        break;
    default: mc_bin_error(out, h, MCB_UNKNOWN_COMMAND, NULL); break;
    }
}

static int bin_step(client *cl, mc_conn *mc, const char *p, size_t n)
{
    mc_bin_req *r = &mc->breq;
    int rc = mc_bin_parse(p, n, server.cfg.memcached_max_item_size, r);
    if (rc == MCB_PARSE_INCOMPLETE)
        return STEP_INPUT;
    int refused =
        rc == MCB_PARSE_OK && connection_auth_required(cl) && !bin_open_opcode(r->hdr.opcode);
    const command *cmd = rc == MCB_PARSE_OK && !refused ? bin_command(r) : NULL;
    if (cmd) {
        mc->bargv[MCB_ARG_NAME] = (slice){cmd->name, strlen(cmd->name)};
        mc->bargv[MCB_ARG_KEY] = r->key;
        mc->bargv[MCB_ARG_HEADER] = r->header;
        mc->bargv[MCB_ARG_EXTRAS] = r->extras;
        mc->bargv[MCB_ARG_VALUE] = r->value;
        return run_or_batch(cl, mc, cmd, MCB_ARGC, mc->bargv, r->consumed, r->swallow,
                            cmd != &mc_cmd_bin_flush);
    }
    if (flush_batch(cl) == STEP_WAIT)
        return STEP_WAIT;
    if (rc == MCB_PARSE_CLOSE) { /* not a request: memcached hangs up without a word */
        cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        consume(cl, mc, cl->rbuf.len - cl->rp.pos, 0);
        return STEP_NEXT;
    }
    if (rc == MCB_PARSE_ERROR || refused) {
        mc_bin_error(&cl->wbuf, &r->hdr, refused ? MCB_AUTH_ERROR : (uint16_t)r->status, NULL);
        if (refused || r->close) {
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
            consume(cl, mc, cl->rbuf.len - cl->rp.pos, 0);
            return STEP_NEXT;
        }
    } else {
        bin_local(cl, r);
    }
    consume(cl, mc, r->consumed, r->swallow);
    return STEP_NEXT;
}

/* ---- the request loop ---------------------------------------------------------------------- */

int memcache_process(client *cl)
{
    mc_conn *mc = conn_of(cl);
    while (!cl->waiting && !cl->closing && !(cl->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        const char *p = cl->rbuf.data + cl->rp.pos;
        size_t n = cl->rbuf.len - cl->rp.pos;
        if (mc->swallow) {
            size_t k = n < mc->swallow ? n : mc->swallow;
            consume(cl, mc, k, mc->swallow - k);
            if (!k)
                break;
            continue;
        }
        if (n == 0)
            break;
        if (mc->proto == MC_PROTO_UNKNOWN)
            mc->proto = (uint8_t)p[0] == MC_BIN_REQ_MAGIC ? MC_PROTO_BINARY : MC_PROTO_TEXT;
        int step = mc->proto == MC_PROTO_BINARY ? bin_step(cl, mc, p, n) : text_step(cl, mc, p, n);
        if (step == STEP_WAIT)
            return 1;
        if (step == STEP_INPUT)
            break;
    }
    if (!cl->closing && flush_batch(cl) == STEP_WAIT)
        return 1;
    return 0;
}

/* ---- flush_all with a delay ---------------------------------------------------------------- */

/* One timer per worker; the latest flush_all wins (memcached keeps one oldest_live). */
static uv_timer_t flush_timers[DFLY_MAX_THREADS];
static int flush_timer_ready[DFLY_MAX_THREADS];
static _Atomic uint64_t flush_generation;

typedef struct flush_run {
    buf out;
} flush_run;

static void flush_body(void *arg)
{
    flush_run *f = arg;
    static const slice argv[] = {{"flush_all", 9}};
    cmd_ctx c = {
        .cmd = &mc_cmd_flush_all, .argc = 1, .argv = (slice *)argv, .out = &f->out, .resp = 2};
    dispatch_call(&c);
}

static void flush_done(void *arg)
{
    flush_run *f = arg;
    buf_free(&f->out);
    free(f);
}

static void on_flush_timer(uv_timer_t *t)
{
    if ((uint64_t)(uintptr_t)t->data != atomic_load(&flush_generation))
        return; /* a later flush_all replaced this one */
    flush_run *f = mem_calloc(1, sizeof(*f));
    shardset all;
    shardset_all(&all);
    if (tx_run(&all, flush_body, flush_done, f))
        flush_done(f);
}

void mc_flush_cancel(void)
{
    atomic_fetch_add(&flush_generation, 1);
}

void mc_flush_schedule(int64_t when_ms)
{
    worker *w = current_worker;
    uint64_t gen = atomic_fetch_add(&flush_generation, 1) + 1;
    uv_timer_t *t = &flush_timers[w->id];
    if (!flush_timer_ready[w->id]) {
        uv_timer_init(&w->loop, t);
        flush_timer_ready[w->id] = 1;
    }
    t->data = (void *)(uintptr_t)gen;
    int64_t delay = when_ms - clock_wall_ms();
    uv_timer_start(t, on_flush_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}
