/* CLIENT PAUSE; see pause.h. */
#include "pause.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "dispatch.h"
#include "server.h"
#include "worker.h"

/* A paused worker re-checks at least this often, so that a pause that was extended (or a very
 * long one) needs no exact timer. */
#define PAUSE_RECHECK_MAX_MS (60 * 1000)

/* A worker's held-back clients, in arrival order, and its timer for the pause's end. Only that
 * worker's thread touches them. */
typedef struct paused_set {
    client **v;
    int n, cap;
    uv_timer_t timer;
    int timer_ready;
} paused_set;

static paused_set paused[DFLY_MAX_THREADS];
/* Serializes writers (CLIENT PAUSE/UNPAUSE); readers use the atomics without it. */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;

/* Forgets a pause whose end has passed, so that pause_requested is false again. */
static void pause_expire(int64_t now_ms)
{
    pthread_mutex_lock(&pause_lock);
    if (now_ms >= atomic_load(&server.clients_paused_until_ms))
        atomic_store_explicit(&server.clients_paused_until_type, PAUSE_NONE, memory_order_release);
    pthread_mutex_unlock(&pause_lock);
}

enum pause_type pause_current(int64_t now_ms)
{
    int type = atomic_load_explicit(&server.clients_paused_until_type, memory_order_acquire);
    if (type == PAUSE_NONE)
        return PAUSE_NONE;
    if (now_ms >= atomic_load_explicit(&server.clients_paused_until_ms, memory_order_acquire)) {
        pause_expire(now_ms);
        return PAUSE_NONE;
    }
    return (enum pause_type)type;
}

void pause_start(enum pause_type type, int64_t end_ms)
{
    int64_t now = clock_wall_ms();
    pthread_mutex_lock(&pause_lock);
    enum pause_type cur = PAUSE_NONE;
    if (now < atomic_load(&server.clients_paused_until_ms))
        cur = (enum pause_type)atomic_load(&server.clients_paused_until_type);
    if (cur != PAUSE_NONE) {
        /* A pause in force: keep the later end and the stronger type. */
        int64_t cur_end = atomic_load(&server.clients_paused_until_ms);
        if (cur_end > end_ms)
            end_ms = cur_end;
        if (cur > type)
            type = cur;
    }
    /* The end first: a reader that sees the new type also sees an end that goes with it. */
    atomic_store_explicit(&server.clients_paused_until_ms, end_ms, memory_order_release);
    atomic_store_explicit(&server.clients_paused_until_type, (int)type, memory_order_release);
    pthread_mutex_unlock(&pause_lock);
}

static void resume_all_msg(void *arg);

void pause_end(void)
{
    pthread_mutex_lock(&pause_lock);
    atomic_store_explicit(&server.clients_paused_until_type, PAUSE_NONE, memory_order_release);
    atomic_store_explicit(&server.clients_paused_until_ms, 0, memory_order_release);
    pthread_mutex_unlock(&pause_lock);
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], resume_all_msg, NULL);
}

/* Redis holds back, under PAUSE WRITE, what may change data or be replicated: write commands,
 * CMD_MAY_REPLICATE ones (PUBLISH, EVAL...), and EXEC of a transaction that queued any. */
static int pause_affects(const client *cl, const command *cmd, enum pause_type type)
{
    if (!strcmp(cmd->name, "quit"))
        return 0; /* Redis answers QUIT before any other check */
    if (cl->flags & CLIENT_REPLICA)
        return 0; /* replicas' acknowledgements go on (Redis: "interactions with replicas") */
    if (type == PAUSE_ALL)
        return 1;
    const uint32_t writes = CMD_WRITE | CMD_MAY_REPLICATE;
    if (cmd->flags & writes)
        return 1;
    if (!strcmp(cmd->name, "exec") && (cl->flags & CLIENT_MULTI))
        for (int i = 0; i < cl->mcount; i++)
            if (cl->mqueue[i].cmd->flags & writes)
                return 1;
    return 0;
}

static void resume_client(client *cl)
{
    if (cl->closing) {
        client_command_done(cl); /* frees it, or lets its close callback do so */
        return;
    }
    /* The request is still where dispatch saw it: the parser did not move on and input that
     * arrived meanwhile went to spill. */
    int argc = cl->ctx.argc;
    slice *argv = cl->ctx.argv;
    cl->waiting = 0;
    cl->reply_mark = cl->wbuf.len;
    if (dispatch_command(cl, argc, argv) || cl->waiting)
        return; /* went elsewhere, deferred its reply, or was held back again */
    client_command_done(cl);
}

/* On a worker: dispatch every held-back command again, in arrival order. Those still affected
 * are held back again, into a fresh list. */
static void resume_all(paused_set *ps)
{
    client **v = ps->v;
    int n = ps->n;
    ps->v = NULL;
    ps->n = ps->cap = 0;
    if (ps->timer_ready)
        uv_timer_stop(&ps->timer);
    for (int i = 0; i < n; i++)
        resume_client(v[i]);
    free(v);
}

static void resume_all_msg(void *arg)
{
    (void)arg;
    resume_all(&paused[current_worker->id]);
}

static void on_pause_timer(uv_timer_t *t)
{
    resume_all(t->data);
}

static void arm_timer(paused_set *ps, int64_t now_ms)
{
    worker *w = current_worker;
    if (!ps->timer_ready) {
        uv_timer_init(&w->loop, &ps->timer);
        ps->timer.data = ps;
        ps->timer_ready = 1;
    }
    if (uv_is_active((uv_handle_t *)&ps->timer))
        return;
    int64_t left = atomic_load(&server.clients_paused_until_ms) - now_ms;
    if (left < 1)
        left = 1;
    if (left > PAUSE_RECHECK_MAX_MS)
        left = PAUSE_RECHECK_MAX_MS;
    uv_timer_start(&ps->timer, on_pause_timer, (uint64_t)left, 0);
}

int pause_postpone(client *cl, const command *cmd)
{
    if (!pause_requested())
        return 0;
    int64_t now = clock_wall_ms();
    enum pause_type type = pause_current(now);
    if (type == PAUSE_NONE || !pause_affects(cl, cmd, type))
        return 0;
    paused_set *ps = &paused[cl->owner->id];
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 8;
        ps->v = mem_realloc(ps->v, sizeof(client *) * (size_t)ps->cap);
    }
    ps->v[ps->n++] = cl;
    cl->waiting = 1; /* keeps the request in rbuf and cl alive until resume_client */
    arm_timer(ps, now);
    /* The replies of the commands before this one go out now; client_process returns without
     * flushing when dispatch says the command is in flight. */
    client_flush(cl);
    return 1;
}
