/* Worker threads: each runs a libuv loop, owns one shard, its own listening socket (SO_REUSEPORT)
 * and the connections the kernel gives that socket. Threads talk only through messages: a
 * lock-free MPSC inbox per worker, drained on a uv_async_t wake-up. */
#ifndef DFLY_WORKER_H
#define DFLY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "db.h"

/* An inbox message. Posting transfers it to the target thread, which frees it. */
typedef struct msg {
    _Atomic(struct msg *) next;
    void (*fn)(void *arg);
    void *arg;
    int heap; /* allocated by worker_post: the receiver frees it */
} msg;

/* Counters of a worker, written by its thread, read by INFO on any thread. */
typedef struct worker_stats {
    _Atomic uint64_t commands;
    _Atomic uint64_t net_in;
    _Atomic uint64_t net_out;
    _Atomic uint64_t connections;
    _Atomic uint64_t rejected;
    _Atomic uint64_t clients;
    _Atomic uint64_t blocked;
    _Atomic uint64_t tx_scheduled; /* multi-shard transactions coordinated */
    _Atomic uint64_t tx_retries;
    _Atomic uint64_t hops; /* commands sent to another thread */
} worker_stats;

struct client;
struct listener;

typedef struct worker {
    int id;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wakeup;
    uv_timer_t cron;
    /* Posting wakes the loop (an eventfd write) only when it may be asleep in epoll: while it
     * runs, it drains the inbox in its check phase anyway. */
    atomic_int sleeping;
    atomic_int inbox_len;
    uv_prepare_t before_poll;
    uv_check_t after_poll;
    uv_idle_t busy; /* active while the inbox has more: the next poll does not block */
    /* Background work in slices between events (worker_background). */
    uv_idle_t bg_idle;
    uv_timer_t bg_timer;
    int (*bg_fn)(void *arg);
    void *bg_arg;
    /* Inbox: Vyukov's intrusive MPSC queue. */
    _Atomic(msg *) inbox_head;
    msg *inbox_tail;
    msg inbox_stub;
    shard *shard;
    struct client *clients; /* doubly linked list of this thread's connections */
    struct listener *listeners;
    int nlisteners;
    worker_stats stats;
    struct cmd_stats *cmdstats; /* per command id */
    /* I/O buffers of idle connections, parked for the next connection that reads or replies
     * (client.c): one for input, one for output. */
    buf spare_in;
    buf spare_out;
    int spare_taken; /* a spare was taken since the last cron run, which frees unused ones */
    int stopping;
} worker;

/* Per-command counters (INFO commandstats), one array per worker. */
typedef struct cmd_stats {
    _Atomic uint64_t calls;
    _Atomic uint64_t usec;
    _Atomic uint64_t rejected;
    _Atomic uint64_t failed;
} cmd_stats;

extern worker **workers;
extern int nworkers;
extern _Thread_local worker *current_worker;

/* Creates n workers and their listeners on addr:port. Returns 0 or a negative errno (bind). */
int workers_init(int n, const char *bind, int port);
void workers_start(void);
/* Shutdown, first step: closes every listener and connection; the loops keep running so that
 * work in flight, and a snapshot taken on the way out, can finish. Waits until all are done. */
void workers_quiesce(void);
/* Asks every worker to stop (quiescing first if needed) and waits for the threads. */
void workers_stop(void);

/* Accepts the connections waiting on w's listeners (not memcached's) without the loop: for a
 * thread busy in a long script (busy.c). w's thread only. */
void worker_accept_now(worker *w);

/* What a background slice returns: more to do at once, more to do a little later (waiting for
 * something: the loop may sleep meanwhile), or finished. */
enum { WORKER_BG_DONE = 0, WORKER_BG_MORE = 1, WORKER_BG_LATER = 2 };
#define WORKER_BG_LATER_MS 1
/* Runs fn(arg) in slices on the calling worker's thread, once per loop iteration between
 * events, until it returns WORKER_BG_DONE. One background task per worker at a time. */
void worker_background(int (*fn)(void *arg), void *arg);

/* Posts fn(arg) to run on worker w's thread. Any thread may call it. */
void worker_post(worker *w, void (*fn)(void *arg), void *arg);
/* Posts a caller-owned message (fn and arg set); it must stay valid until fn has started, and
 * may be posted again from then on. Saves an allocation on hot paths. */
void worker_post_msg(worker *w, msg *m);

static inline void counter_add(_Atomic uint64_t *v, uint64_t n)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline uint64_t counter_get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* Sums a worker_stats field over all workers: WORKERS_SUM(commands). */
#define WORKERS_SUM(field)                                                                         \
    ({                                                                                             \
        uint64_t _s = 0;                                                                           \
        for (int _i = 0; _i < nworkers; _i++)                                                      \
            _s += counter_get(&workers[_i]->stats.field);                                          \
        _s;                                                                                        \
    })

#endif
