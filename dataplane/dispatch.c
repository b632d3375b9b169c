/* The way of a command: see dispatch.h. */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "blocking.h"
#include "clock.h"
#include "cluster.h"
#include "connection.h"
#include "db.h"
#include "journal.h"
#include "memcache.h"
#include "multi.h"
#include "pause.h"
#include "pubsub.h"
#include "replication.h"
#include "reply.h"
#include "script.h"
#include "server.h"
#include "stats.h"
#include "tracking.h"
#include "worker.h"
#include "zmalloc.h"

#define DISPATCH_MAX_KEYS 4096
#define ERR_LOADING "LOADING Redis is loading the dataset in memory"
#define UNKNOWN_ARGS_MAX 128

static dispatch_route_fn exec_route;

void dispatch_set_exec_route(dispatch_route_fn fn)
{
    exec_route = fn;
}

void dispatch_add_shards(const command *cmd, int argc, const slice *argv, shardset *set,
                         cmd_ctx *remember)
{
    if (cmd->flags & CMD_ALL_SHARDS) {
        shardset_all(set);
        return;
    }
    int stack_keys[64];
    int *keys = stack_keys;
    int max = 64;
    if (argc > 64) {
        max = argc < DISPATCH_MAX_KEYS ? argc : DISPATCH_MAX_KEYS;
        keys = mem_malloc(sizeof(int) * (size_t)max);
    }
    int n = command_get_keys(cmd, argc, argv, keys, max);
    if (n < 0)
        shardset_all(set); /* keys we cannot list (a syntax error, or very many): hold all */
    for (int i = 0; i < n; i++) {
        const slice *k = &argv[keys[i]];
        int id = key_shard(k->p, k->len);
        shardset_add(set, id);
        if (i == 0 && remember)
            ctx_key_shard_known(remember, k->p, k->len, id);
    }
    if (keys != stack_keys)
        free(keys);
}

int dispatch_shards(cmd_ctx *c, shardset *set)
{
    shardset_clear(set);
    if (c->cmd->flags & CMD_CLIENT_STATE)
        return 0;
    dispatch_add_shards(c->cmd, c->argc, c->argv, set, c);
    return 0;
}

void dispatch_call(cmd_ctx *c)
{
    /* Cluster mode: SELECT n, MOVE, SWAPDB, COPY ... DB refused; the keys of commands in EXEC
     * and scripts checked and counted per slot (cluster.c). A replica's master is obeyed. */
    if (__builtin_expect(cluster_mode != CLUSTER_OFF, 0) && !(c->flags & CTX_MASTER) &&
        cluster_refuse_call(c)) {
        counter_add(&current_worker->cmdstats[c->cmd->id].calls, 1);
        counter_add(&current_worker->cmdstats[c->cmd->id].failed, 1);
        return;
    }
    /* Writes inside EXEC and scripts on a read-only replica, without enough good replicas, or
     * after a takeover (checked here, while the shards are held, so that a takeover's cut
     * falls between commands). */
    if (repl_refuse_write(c, c->cmd)) {
        counter_add(&current_worker->cmdstats[c->cmd->id].calls, 1);
        counter_add(&current_worker->cmdstats[c->cmd->id].failed, 1);
        return;
    }
    int64_t start = c->start_us ? c->start_us : clock_wall_us();
    c->start_us = 0; /* EXEC's and scripts' commands read the clock themselves */
    c->error = 0;
    if (!(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT)))
        c->now_ms = start / 1000;
    /* The journal sees the command while its shards are still held: records of one shard
     * are appended in the order the commands ran. */
    journal_rec jr;
    int journaled = atomic_load_explicit(&journal_active, memory_order_relaxed);
    if (__builtin_expect(journaled, 0))
        journal_before(c, &jr);
    c->cmd->proc(c);
    if (__builtin_expect(journaled, 0))
        journal_after(c, &jr);
    tracking_after_command(c); /* client-side caching: the keys a tracking client read */
    int64_t end = clock_wall_us();
    c->end_us = end;
    uint64_t dur = end > start ? (uint64_t)(end - start) : 0;
    worker *w = current_worker;
    cmd_stats *st = &w->cmdstats[c->cmd->id];
    counter_add(&st->calls, 1);
    counter_add(&st->usec, dur);
    if (c->error)
        counter_add(&st->failed, 1);
    counter_add(&w->stats.commands, 1);
    stats_after_command(c, dur);
    /* Blocked clients are served after a whole command (after all of EXEC, not inside it). */
    if (!(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT | CTX_UNBLOCKED)))
        block_serve_ready();
}

/* The shard a write may evict from: the one of its first key, which whoever runs the command
 * holds. The running thread's own shard may belong to another transaction. NULL if keyless. */
static shard *evict_shard(cmd_ctx *c)
{
    int keys[64];
    int n = command_get_keys(c->cmd, c->argc, c->argv, keys, 64);
    if (n > 0)
        return ctx_shard(c, c->argv[keys[0]].p, c->argv[keys[0]].len);
    /* Keys we could not list, or a whole-keyspace command: dispatch held every shard. */
    if (n < 0 || (c->cmd->flags & CMD_ALL_SHARDS))
        return current_worker->shard;
    return NULL;
}

int dispatch_memory_ok(cmd_ctx *c)
{
    if (!(c->cmd->flags & CMD_DENYOOM) || server.cfg.maxmemory <= 0 ||
        zmalloc_used() <= server.cfg.maxmemory)
        return 1;
    shard *s = evict_shard(c);
    return server.policy != MAXMEMORY_NOEVICTION && s && db_evict_if_needed(s, c->dbid) == 0;
}

void dispatch_run(cmd_ctx *c)
{
    /* Cluster mode: CROSSSLOT, MOVED or CLUSTERDOWN instead of running (cluster.c). */
    if (__builtin_expect(cluster_mode != CLUSTER_OFF, 0) && cluster_refuse_command(c)) {
        counter_add(&current_worker->cmdstats[c->cmd->id].rejected, 1);
        return;
    }
    if (!dispatch_memory_ok(c)) {
        reply_error(c, ERR_OOM);
        counter_add(&current_worker->cmdstats[c->cmd->id].rejected, 1);
        return;
    }
    dispatch_call(c);
}

/* Runs on whichever thread holds the command's shards. */
static void run_body(void *arg)
{
    client *cl = arg;
    cmd_ctx *c = &cl->ctx;
    if (current_worker != cl->owner) {
        c->out = &cl->xbuf;
        c->flags |= CTX_REMOTE;
    }
    dispatch_run(c);
}

static void body_done(void *arg)
{
    client *cl = arg;
    if (cl->ctx.blocked) {
        block_start_wait(cl);
        return;
    }
    if (cl->xbuf.len) {
        buf_append(&cl->wbuf, cl->xbuf.data, cl->xbuf.len);
        buf_clear(&cl->xbuf);
        buf_shrink(&cl->xbuf, 1 << 16);
    }
    client_command_done(cl);
}

static void reply_unknown_command(cmd_ctx *c, int argc, const slice *argv)
{
    buf args;
    buf_init(&args);
    for (int i = 1; i < argc && args.len < UNKNOWN_ARGS_MAX; i++) {
        int room = UNKNOWN_ARGS_MAX - (int)args.len;
        buf_printf(&args, "'%.*s' ", (int)argv[i].len < room ? (int)argv[i].len : room, argv[i].p);
    }
    int nlen = argv[0].len > 128 ? 128 : (int)argv[0].len;
    reply_errorf(c, "ERR unknown command '%.*s', with args beginning with: %s", nlen, argv[0].p,
                 args.data ? args.data : "");
    buf_free(&args);
}

/* ACL: a change of the user applies from this command on; a deleted or disabled user's
 * connection closes. Commands that need no authentication (AUTH, HELLO, QUIT, RESET) are
 * never refused, as in Redis. A refusal inside MULTI aborts the transaction, and a refused EXEC
 * discards it (Redis's rejectCommand). */
static int acl_refuse(client *cl, const command *cmd, const command *container, int argc,
                      const slice *argv)
{
    cmd_ctx *c = &cl->ctx;
    if (cl->proto == PROTO_MEMCACHE || (cmd->flags & CMD_NO_AUTH) ||
        (container && (container->flags & CMD_NO_AUTH)))
        return 0;
    if (acl_restricted(cl, cmd)) {
        reply_error(c, ERR_RESTRICTED);
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 1;
    }
    if (acl_refresh(cl)) {
        reply_error(c, "NOPERM the user of this connection was deleted or disabled");
        cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        return 1;
    }
    int pos;
    int multi = (cl->flags & CLIENT_MULTI) != 0;
    int why = acl_check_client(cl, cmd, container, argc, argv,
                               multi ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, &pos);
    if (why == ACL_OK)
        return 0;
    counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
    if (!strcmp(cmd->name, "exec")) {
        buf err;
        buf_init(&err);
        cmd_ctx tmp = *c;
        tmp.out = &err;
        acl_reply_denied(&tmp, why, cmd, container);
        /* "-NOPERM ...\r\n" becomes the reason of the abort */
        int n = err.len > 3 ? (int)err.len - 3 : 0;
        reply_errorf(c, "EXECABORT Transaction discarded because of: %.*s", n,
                     err.data ? err.data + 1 : "");
        buf_free(&err);
        multi_reset(cl);
        return 1;
    }
    acl_reply_denied(c, why, cmd, container);
    if (multi)
        cl->flags |= CLIENT_DIRTY_EXEC;
    return 1;
}

static int is_tx_control(const command *cmd)
{
    static const char *names[] = {"exec", "discard", "multi", "watch", "quit", "reset"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(cmd->name, names[i]))
            return 1;
    return 0;
}

int dispatch_command(client *cl, int argc, slice *argv)
{
    cmd_ctx *c = &cl->ctx;
    memset(c, 0, sizeof(*c));
    c->cl = cl;
    c->argc = argc;
    c->argv = argv;
    c->dbid = cl->dbid;
    c->resp = cl->resp;
    c->out = &cl->wbuf;

    const command *container = NULL;
    /* A memcached request was resolved by its own parser (memcache.c). */
    const command *cmd = cl->proto == PROTO_MEMCACHE ? memcache_current_command(cl)
                                                     : command_lookup(argc, argv, &container);
    if (!cmd) {
        reply_unknown_command(c, argc, argv);
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    c->cmd = cmd;
    if (!command_arity_ok(cmd, argc)) {
        char name[128];
        command_fullname(cmd, container, name, sizeof(name));
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", name);
        counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    if (connection_auth_required(cl) && !(cmd->flags & CMD_NO_AUTH) &&
        !(container && (container->flags & CMD_NO_AUTH))) {
        reply_error(c, "NOAUTH Authentication required.");
        counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    if (acl_refuse(cl, cmd, container, argc, argv)) /* NOPERM, or the user is gone */
        return 0;
    if (pubsub_refuse(cl, cmd, c)) /* RESP2 subscribed mode: only (un)subscribing, PING... */
        return 0;
    /* A monitor is a replica in Redis's eyes: it may not touch the keyspace. */
    if ((cl->flags & CLIENT_MONITOR) && (cmd->flags & (CMD_WRITE | CMD_READONLY))) {
        reply_error(c, "ERR Replica can't interact with the keyspace");
        return 0;
    }
    cl->last_cmd = cmd;
    /* While the dataset loads only CMD_LOADING commands run (Redis's processCommand); inside
     * MULTI the refusal also aborts the transaction, as Redis's rejectCommand does. */
    if (atomic_load(&server.loading) && !(cmd->flags & CMD_LOADING)) {
        reply_error(c, ERR_LOADING);
        counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    if (script_busy_reject(c, cmd)) /* a script has run too long: BUSY (script.c) */
        return 0;
    if (journal_refuse(c, cmd)) { /* the journal cannot be written: MISCONF */
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    /* READONLY on a read-only replica, NOREPLICAS (min-replicas-to-write): refused before
     * queueing too, as Redis's processCommand does. In cluster mode redirection comes first
     * (a replica answers writes with MOVED): dispatch_call checks after routing. */
    if (cluster_mode == CLUSTER_OFF && repl_refuse_write(c, cmd)) {
        counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
        if (cl->flags & CLIENT_MULTI)
            cl->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    if (pause_postpone(cl, cmd)) /* CLIENT PAUSE: held back, dispatched again at its end */
        return 1;
    if ((cl->flags & CLIENT_MULTI) && !is_tx_control(container ? container : cmd)) {
        if ((cmd->flags & CMD_NO_MULTI) || (container && (container->flags & CMD_NO_MULTI))) {
            reply_errorf(c, "ERR Command not allowed inside a transaction");
            cl->flags |= CLIENT_DIRTY_EXEC;
            return 0;
        }
        /* Queueing takes memory too: over the limit Redis refuses every command, and the
         * refusal aborts the transaction. */
        if (server.cfg.maxmemory > 0 && server.policy == MAXMEMORY_NOEVICTION &&
            zmalloc_used() > server.cfg.maxmemory) {
            reply_error(c, ERR_OOM);
            counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
            cl->flags |= CLIENT_DIRTY_EXEC;
            return 0;
        }
        /* Cluster mode: a redirection while queueing aborts the transaction, as in Redis. */
        if (cluster_mode != CLUSTER_OFF && cluster_refuse_queued(c)) {
            counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
            cl->flags |= CLIENT_DIRTY_EXEC;
            return 0;
        }
        multi_queue(cl, cmd, argc, argv);
        reply_simple(c, "QUEUED");
        return 0;
    }
    /* Cluster mode: EXEC's queued keys must hash to one slot served here, else it is discarded
     * with CROSSSLOT or MOVED. */
    if (cluster_mode != CLUSTER_OFF && (cl->flags & CLIENT_MULTI) && !strcmp(cmd->name, "exec") &&
        cluster_refuse_exec(c)) {
        counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
        return 0;
    }

    shardset set;
    if (exec_route && !strcmp(cmd->name, "exec"))
        exec_route(cl, &set);
    else
        dispatch_shards(c, &set);
    if (tx_run(&set, run_body, body_done, cl)) {
        if (!c->blocked)
            return 0;
        cl->waiting = 1;
        block_start_wait(cl);
        return 1;
    }
    cl->waiting = 1;
    return 1;
}

void dispatch_rerun_blocked(client *cl)
{
    int argc = cl->ctx.argc;
    slice *argv = cl->ctx.argv;
    cl->waiting = 0;
    if (!dispatch_command(cl, argc, argv))
        client_command_done(cl);
}
