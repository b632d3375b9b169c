/* The replication commands: REPLICAOF (SLAVEOF), ROLE, REPLCONF, PSYNC, SYNC and
 * REPLTAKEOVER, and the master's half of a takeover (REPLCONF TAKEOVER). See replication.h.
 *
 * REPLICAOF and REPLTAKEOVER are carried out by the link thread (replica.c): their replies
 * wait (client_defer_reply) until it has done them.
 *
 * A takeover, on the master: writes are paused (CLIENT PAUSE WRITE) and active expiry stops, so
 * the stream comes to rest; once the replica has acknowledged all of it, a transaction holding
 * every shard sets the takeover guard (every write refused from then on, also those already
 * queued) and reads the final offset; once the replica acknowledged that too, the master
 * answers +OK and becomes a replica of it. Anything acknowledged to a client before the cut is
 * in the stream before the final offset, so the new master has it. On timeout the guard and
 * the pause are lifted and the master goes on as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "log.h"
#include "pause.h"
#include "repl_int.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "tx.h"
#include "worker.h"

#define TAKEOVER_TICK_MS 1
#define ERR_TAKEOVER_FAILED "ERR Takeover failed: "
#define PORT_MAX 65535

/* ---- REPLICAOF, ROLE ------------------------------------------------------------------------- */

/* Defers c's reply and hands the request to the link thread. */
static void link_request(cmd_ctx *c, int kind, const char *host, int port, long long timeout_ms)
{
    client *cl = c->cl;
    if (!cl || cl->owner != current_worker || (c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT))) {
        reply_error(c, "ERR this command cannot run here");
        return;
    }
    int muted = client_defer_reply(cl);
    replica_request(kind, host, port, timeout_ms, cl, c->resp, muted);
}

/* REPLICAOF host port | NO ONE */
static void replicaof_cmd(cmd_ctx *c)
{
    if (arg_eq(&c->argv[1], "no") && arg_eq(&c->argv[2], "one")) {
        link_request(c, LINK_REQ_NO_ONE, NULL, 0, 0);
        return;
    }
    long long port;
    if (arg_ll_range_or_reply(c, &c->argv[2], 0, PORT_MAX, &port, "ERR Invalid master port"))
        return;
    char host[REPL_HOST_MAX];
    if (c->argv[1].len >= sizeof(host)) {
        reply_error(c, "ERR Invalid master host");
        return;
    }
    memcpy(host, c->argv[1].p, c->argv[1].len);
    host[c->argv[1].len] = '\0';
    link_request(c, LINK_REQ_MASTER, host, (int)port, 0);
}

static void role_master(cmd_ctx *c)
{
    pthread_mutex_lock(&R.mu);
    reply_array(c, 3);
    reply_bulk_cstr(c, "master");
    reply_int(c, (long long)R.offset);
    reply_array(c, R.nreplicas);
    for (repl_replica *rp = R.replicas; rp; rp = rp->next) {
        reply_array(c, 3);
        reply_bulk_cstr(c, rp->ip);
        reply_bulk_ll(c, rp->listening_port);
        reply_bulk_ll(c, (long long)atomic_load(&rp->ack_off));
    }
    pthread_mutex_unlock(&R.mu);
}

static void role_cmd(cmd_ctx *c)
{
    if (!repl_is_replica()) {
        role_master(c);
        return;
    }
    repl_link_info li;
    replica_link_info(&li);
    pthread_mutex_lock(&R.mu);
    long long off = li.link_up ? (long long)R.offset : -1;
    pthread_mutex_unlock(&R.mu);
    reply_array(c, 5);
    reply_bulk_cstr(c, "slave");
    reply_bulk_cstr(c, li.host);
    reply_int(c, li.port);
    reply_bulk_cstr(c, li.state);
    reply_int(c, off);
}

/* ---- PSYNC, SYNC ----------------------------------------------------------------------------- */

static void psync_cmd(cmd_ctx *c)
{
    long long offset;
    if (arg_ll_or_reply(c, &c->argv[2], &offset, NULL))
        return;
    char replid[REPL_ID_LEN + 1];
    size_t n = c->argv[1].len < REPL_ID_LEN ? c->argv[1].len : REPL_ID_LEN;
    memcpy(replid, c->argv[1].p, n);
    replid[n] = '\0';
    repl_sync_command(c, replid, offset, 1);
}

static void sync_cmd(cmd_ctx *c)
{
    repl_sync_command(c, "?", -1, 0);
}

/* ---- REPLCONF -------------------------------------------------------------------------------- */

static void takeover_start(cmd_ctx *c, long long timeout_ms, long long port, int save);

/* REPLCONF <option> <value> [<option> <value> ...] */
static void replconf_cmd(cmd_ctx *c)
{
    client *cl = c->cl;
    if (c->argc >= 4 && arg_eq(&c->argv[1], "takeover")) {
        /* REPLCONF TAKEOVER <timeout ms> <listening port> [SAVE] (replica.c sends it) */
        long long ms, port;
        if (arg_ll_range_or_reply(c, &c->argv[2], 0, INT32_MAX, &ms, NULL) ||
            arg_ll_range_or_reply(c, &c->argv[3], 1, PORT_MAX, &port, NULL))
            return;
        takeover_start(c, ms, port, c->argc == 5 && arg_eq(&c->argv[4], "save"));
        return;
    }
    if (c->argc % 2 == 0) {
        reply_syntax_error(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        const slice *opt = &c->argv[i], *val = &c->argv[i + 1];
        long long v;
        if (arg_eq(opt, "listening-port")) {
            if (arg_ll_range_or_reply(c, val, 0, PORT_MAX, &v, NULL))
                return;
            cl->repl_listening_port = (int)v;
        } else if (arg_eq(opt, "ip-address")) {
            /* announced address: the peer address is what we report */
        } else if (arg_eq(opt, "capa")) {
            if (arg_eq(val, "eof"))
                cl->repl_capa |= REPL_CAPA_EOF;
            else if (arg_eq(val, "psync2"))
                cl->repl_capa |= REPL_CAPA_PSYNC2;
        } else if (arg_eq(opt, "ack")) {
            /* A replica's acknowledgement: no reply, as in Redis. */
            if (cl->repl && arg_ll_or_reply(c, val, &v, NULL) == 0 && v >= 0)
                repl_replica_ack(cl->repl, (uint64_t)v);
            return;
        } else if (arg_eq(opt, "getack")) {
            return; /* only a master asks; our link answers it in replica.c */
        } else if (arg_eq(opt, "rdb-only")) {
            if (arg_ll_range_or_reply(c, val, 0, 1, &v, NULL))
                return;
            if (v)
                cl->repl_capa |= REPL_RDB_ONLY;
            else
                cl->repl_capa &= ~(unsigned)REPL_RDB_ONLY;
        } else {
            reply_errorf(c, "ERR Unrecognized REPLCONF option: %.*s", (int)opt->len, opt->p);
            return;
        }
    }
    reply_ok(c);
}

/* ---- the master's half of a takeover --------------------------------------------------------- */

typedef struct handover {
    client *cl; /* who asked (the replica's second connection); its reply waits */
    int muted;
    repl_replica *rp; /* a reference */
    int64_t deadline_ms;
    int cut;  /* the guard is set and final_off read */
    int busy; /* the cut's transaction is in flight */
    int save; /* SAVE: a snapshot once handed over */
    uint64_t final_off;
    uv_timer_t timer;
} handover;

static void handover_free(uv_handle_t *h)
{
    free(h->data);
}

static void handover_end(handover *ho, const char *reply)
{
    uv_timer_stop(&ho->timer);
    size_t n = strlen(reply);
    char *line = mem_malloc(n + 2);
    memcpy(line, reply, n);
    memcpy(line + n, "\r\n", 2);
    client_deferred_reply(ho->cl, line, n + 2, ho->muted, 0);
    free(line);
    repl_replica_unref(ho->rp);
    uv_close((uv_handle_t *)&ho->timer, handover_free);
}

static void handover_fail(handover *ho, const char *why)
{
    log_warning("Takeover failed: %s", why);
    repl_guard_set(GUARD_TAKEOVER, 0);
    atomic_store(&repl_handover, 0);
    pause_end();
    char msg[REPL_ERR_MAX];
    snprintf(msg, sizeof(msg), "-" ERR_TAKEOVER_FAILED "%s", why);
    handover_end(ho, msg);
}

static void handover_done(handover *ho)
{
    repl_replica *rp = ho->rp;
    char ip[REPL_IP_MAX];
    snprintf(ip, sizeof(ip), "%s", rp->ip);
    int port = rp->listening_port;
    log_info("Takeover by replica %s:%d done at offset %llu: becoming its replica", ip, port,
             (unsigned long long)ho->final_off);
    if (ho->save)
        save_schedule();
    handover_end(ho, "+OK");
    /* Writes stay refused until we are a replica (the link thread clears the guard then); held
     * ones are then refused as a replica's. */
    replica_request(LINK_REQ_MASTER, ip, port, 0, NULL, 2, 0);
    pause_end();
}

static void cut_body(void *arg)
{
    handover *ho = arg;
    repl_guard_set(GUARD_TAKEOVER, 1);
    pthread_mutex_lock(&R.mu);
    ho->final_off = R.offset;
    pthread_mutex_unlock(&R.mu);
}

static void cut_done(void *arg)
{
    handover *ho = arg;
    ho->busy = 0;
    ho->cut = 1;
}

static void handover_tick(uv_timer_t *t)
{
    handover *ho = t->data;
    if (ho->busy)
        return;
    repl_replica *rp = ho->rp;
    pthread_mutex_lock(&R.mu);
    int gone = rp->cl == NULL;
    uint64_t ack = atomic_load(&rp->ack_off), off = R.offset;
    pthread_mutex_unlock(&R.mu);
    if (gone) {
        handover_fail(ho, "the replica disconnected");
        return;
    }
    if (ho->cut && ack >= ho->final_off) {
        handover_done(ho);
        return;
    }
    if ((int64_t)clock_mono_ms() > ho->deadline_ms) {
        handover_fail(ho, "the replica did not catch up in time");
        return;
    }
    if (!ho->cut && ack >= off) {
        /* Caught up with the paused stream: cut it, between commands of every shard. */
        shardset all;
        shardset_all(&all);
        ho->busy = 1;
        if (tx_run(&all, cut_body, cut_done, ho))
            cut_done(ho);
    }
}

/* The replica asking is the one connected from the same address with that listening port. */
static repl_replica *find_replica(const client *cl, int port)
{
    char ip[REPL_IP_MAX];
    snprintf(ip, sizeof(ip), "%s", cl->addr);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = '\0';
    repl_replica *found = NULL;
    pthread_mutex_lock(&R.mu);
    for (repl_replica *rp = R.replicas; rp && !found; rp = rp->next)
        if (rp->state == RS_ONLINE && rp->listening_port == port && !strcmp(rp->ip, ip))
            found = rp;
    if (found)
        atomic_fetch_add(&found->refs, 1);
    pthread_mutex_unlock(&R.mu);
    return found;
}

static void takeover_start(cmd_ctx *c, long long timeout_ms, long long port, int save)
{
    client *cl = c->cl;
    if (repl_is_replica()) {
        reply_error(c, ERR_TAKEOVER_FAILED "this node is not a master");
        return;
    }
    if (c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT) || cl->owner != current_worker) {
        reply_error(c, ERR_TAKEOVER_FAILED "not here");
        return;
    }
    repl_replica *rp = find_replica(cl, (int)port);
    if (!rp) {
        reply_error(c, ERR_TAKEOVER_FAILED "no such replica in stable sync");
        return;
    }
    if (atomic_exchange(&repl_handover, 1)) {
        repl_replica_unref(rp);
        reply_error(c, ERR_TAKEOVER_FAILED "a takeover is already in progress");
        return;
    }
    handover *ho = mem_calloc(1, sizeof(*ho));
    ho->cl = cl;
    ho->rp = rp;
    ho->save = save;
    ho->deadline_ms = (int64_t)clock_mono_ms() + timeout_ms;
    ho->muted = client_defer_reply(cl);
    log_info("Takeover requested by replica %s:%d (timeout %lld ms): pausing writes", rp->ip,
             rp->listening_port, timeout_ms);
    pause_start(PAUSE_WRITE, clock_wall_ms() + timeout_ms + TAKEOVER_TICK_MS);
    uv_timer_init(&cl->owner->loop, &ho->timer);
    ho->timer.data = ho;
    uv_timer_start(&ho->timer, handover_tick, 0, TAKEOVER_TICK_MS);
}

/* ---- REPLTAKEOVER (on a replica) ------------------------------------------------------------- */

/* REPLTAKEOVER timeout_sec [SAVE] */
static void repltakeover_cmd(cmd_ctx *c)
{
    long long secs;
    if (arg_ll_range_or_reply(c, &c->argv[1], 0, INT32_MAX, &secs,
                              "ERR timeout is not an integer or out of range"))
        return;
    if (c->argc == 3 && !arg_eq(&c->argv[2], "save")) {
        reply_syntax_error(c);
        return;
    }
    if (!repl_is_replica()) {
        reply_ok(c); /* already a master (Dragonfly answers so too) */
        return;
    }
    /* The port slot of the request carries SAVE. */
    link_request(c, LINK_REQ_TAKEOVER, NULL, c->argc == 3, secs * 1000);
}

command replication_commands[] = {
    {.name = "replicaof",
     .proc = replicaof_cmd,
     .arity = 3,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_NO_MULTI | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "5.0.0",
     .summary = "Configures a server as replica of another, or promotes it to a master."},
    {.name = "slaveof",
     .proc = replicaof_cmd,
     .arity = 3,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_NO_MULTI | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "1.0.0",
     .summary = "Sets a Redis server as a replica of another, or promotes it to being a master."},
    {.name = "role",
     .proc = role_cmd,
     .arity = 1,
     .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
     .acl = ACL_ADMIN | ACL_FAST | ACL_DANGEROUS,
     .group = "server",
     .since = "2.8.12",
     .summary = "Returns the replication role."},
    {.name = "replconf",
     .proc = replconf_cmd,
     .arity = -1,
     .flags =
         CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_ALLOW_BUSY | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "3.0.0",
     .summary = "An internal command for configuring the replication stream."},
    {.name = "psync",
     .proc = psync_cmd,
     .arity = -3,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "2.8.0",
     .summary = "An internal command used in replication."},
    {.name = "sync",
     .proc = sync_cmd,
     .arity = 1,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "1.0.0",
     .summary = "An internal command used in replication."},
    {.name = "repltakeover",
     .proc = repltakeover_cmd,
     .arity = -2,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_NO_MULTI | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "dfly",
     .summary = "On a replica: waits until it has all of its master's writes, then takes over "
                "as master (a planned failover)."},
    {0},
};
