/* WAIT; see t_wait.h. A waiting client's state lives on its own thread: a uv timer for the
 * timeout and a per-worker list that wait_acks_changed walks. It is not a blocking.c wait (that
 * machinery is about keys); the reply is deferred with client_defer_reply and given with
 * client_deferred_reply, and CLIENT_BLOCKED marks the client as blocked for INFO, CLIENT LIST
 * and the idle timeout. */
#include "t_wait.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "reply.h"
#include "server.h"
#include "worker.h"

#define ERR_WAIT_ON_REPLICA                                                                        \
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "  \
    "replica is configured to be writable (which is not the default) writes to replicas are just " \
    "local and are not propagated."
#define ERR_TIMEOUT_NOT_INT "ERR timeout is not an integer or out of range"
#define ERR_UNBLOCKED "UNBLOCKED client unblocked via CLIENT UNBLOCK"

typedef struct wait_state {
    client *cl;
    uv_timer_t timer;
    long long numreplicas;
    uint64_t offset;
    int muted; /* CLIENT REPLY OFF/SKIP applied to the WAIT */
    int resp;
    struct wait_state *prev, *next; /* in its worker's list */
} wait_state;

static _Atomic(const wait_repl_ops *) repl_ops;
static wait_state *waiting[DFLY_MAX_THREADS]; /* per worker; touched by that worker only */
static atomic_long nwaiting;                  /* WAITs waiting, all workers together */

void wait_set_repl_ops(const wait_repl_ops *ops)
{
    atomic_store(&repl_ops, ops);
}

static long count_acks(uint64_t offset)
{
    const wait_repl_ops *ops = atomic_load(&repl_ops);
    return ops && ops->count_acks ? ops->count_acks(offset) : 0;
}

static int is_replica(void)
{
    const wait_repl_ops *ops = atomic_load(&repl_ops);
    return ops && ops->is_replica && ops->is_replica();
}

static uint64_t client_offset(const client *cl)
{
    const wait_repl_ops *ops = atomic_load(&repl_ops);
    return cl && ops && ops->client_offset ? ops->client_offset(cl) : 0;
}

static void request_acks(void)
{
    const wait_repl_ops *ops = atomic_load(&repl_ops);
    if (ops && ops->request_acks)
        ops->request_acks();
}

static void list_add(wait_state *ws)
{
    atomic_fetch_add(&nwaiting, 1);
    wait_state **head = &waiting[ws->cl->owner->id];
    ws->prev = NULL;
    ws->next = *head;
    if (*head)
        (*head)->prev = ws;
    *head = ws;
}

static void list_remove(wait_state *ws)
{
    atomic_fetch_sub(&nwaiting, 1);
    if (ws->prev)
        ws->prev->next = ws->next;
    else
        waiting[ws->cl->owner->id] = ws->next;
    if (ws->next)
        ws->next->prev = ws->prev;
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

/* Ends ws's wait and gives the client its reply: the current count, or the UNBLOCKED error. */
static void wait_finish(wait_state *ws, int with_error)
{
    client *cl = ws->cl;
    list_remove(ws);
    cl->wait = NULL;
    cl->flags &= ~CLIENT_BLOCKED;
    counter_add(&cl->owner->stats.blocked, (uint64_t)-1);
    uv_timer_stop(&ws->timer);
    buf out;
    buf_init(&out);
    cmd_ctx rc = {.cl = cl, .resp = ws->resp, .out = &out};
    if (with_error)
        reply_error(&rc, ERR_UNBLOCKED);
    else
        reply_int(&rc, count_acks(ws->offset));
    int muted = ws->muted;
    uv_close((uv_handle_t *)&ws->timer, free_on_close); /* frees ws */
    client_deferred_reply(cl, out.data, out.len, muted, 0);
    buf_free(&out);
}

static void on_timeout(uv_timer_t *t)
{
    wait_finish(t->data, 0);
}

/* Blocks c's client until numreplicas acknowledge offset or timeout_ms (relative; 0: never)
 * passes. On the client's thread, with the command running inline. */
static void wait_block(cmd_ctx *c, long long numreplicas, uint64_t offset, long long timeout_ms)
{
    client *cl = c->cl;
    wait_state *ws = mem_calloc(1, sizeof(*ws));
    ws->cl = cl;
    ws->numreplicas = numreplicas;
    ws->offset = offset;
    ws->resp = c->resp;
    ws->muted = client_defer_reply(cl);
    cl->wait = ws;
    cl->flags |= CLIENT_BLOCKED;
    counter_add(&cl->owner->stats.blocked, 1);
    list_add(ws);
    uv_timer_init(&cl->owner->loop, &ws->timer);
    ws->timer.data = ws;
    if (timeout_ms > 0) {
        uv_update_time(&cl->owner->loop); /* the cached loop time may lag behind */
        uv_timer_start(&ws->timer, on_timeout, (uint64_t)timeout_ms, 0);
    }
    request_acks();
}

/* Whether c can wait: a top-level command on its client's own thread. Inside EXEC Redis answers
 * at once (the client is in MULTI), and scripts cannot call WAIT. */
static int wait_allowed(const cmd_ctx *c)
{
    return c->cl && !(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT | CTX_REMOTE)) &&
           c->cl->owner == current_worker;
}

/* WAIT numreplicas timeout */
static void wait_cmd(cmd_ctx *c)
{
    if (is_replica()) {
        reply_error(c, ERR_WAIT_ON_REPLICA);
        return;
    }
    long long numreplicas, timeout;
    if (arg_ll_or_reply(c, &c->argv[1], &numreplicas, NULL) ||
        arg_ll_or_reply(c, &c->argv[2], &timeout, ERR_TIMEOUT_NOT_INT))
        return;
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    if (timeout > 0 && timeout > INT64_MAX - clock_wall_ms()) {
        reply_error(c, "ERR timeout is out of range");
        return;
    }
    uint64_t offset = client_offset(c->cl);
    long acked = count_acks(offset);
    if (acked >= numreplicas || !wait_allowed(c)) {
        reply_int(c, acked);
        return;
    }
    wait_block(c, numreplicas, offset, timeout);
}

/* On each worker: the waits that have enough acknowledgements now end. */
static void recheck_msg(void *arg)
{
    (void)arg;
    wait_state *next;
    for (wait_state *ws = waiting[current_worker->id]; ws; ws = next) {
        next = ws->next;
        if (count_acks(ws->offset) >= ws->numreplicas)
            wait_finish(ws, 0);
    }
}

void wait_acks_changed(void)
{
    if (atomic_load(&nwaiting) == 0)
        return;
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], recheck_msg, NULL);
}

void wait_cancel(client *cl)
{
    if (cl->wait)
        wait_finish(cl->wait, 0); /* the reply is dropped: the client is closing */
}

int wait_unblock(client *cl, int with_error)
{
    if (!cl->wait)
        return 0;
    wait_finish(cl->wait, with_error);
    return 1;
}

command wait_commands[] = {
    {.name = "wait",
     .proc = wait_cmd,
     .arity = 3,
     .flags = CMD_NOSCRIPT,
     .acl = ACL_SLOW | ACL_CONNECTION,
     .group = "generic",
     .since = "3.0.0",
     .summary = "Blocks until the asynchronous replication of all preceding write commands sent by "
                "the connection is completed."},
    {0},
};
