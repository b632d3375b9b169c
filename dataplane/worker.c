/* Worker threads, their inboxes, listeners and timers; see worker.h. */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "blocking.h"
#include "client.h"
#include "clock.h"
#include "log.h"
#include "multi.h"
#include "pause.h"
#include "server.h"
#include "snapshot.h"
#include "tx.h"
#include "zmalloc.h"

#define INBOX_BATCH 4096
#define EXPIRE_BUDGET_US 1000
#define ACCEPT_NOW_MAX 64 /* connections worker_accept_now takes per listener and call */

worker **workers;
int nworkers;
_Thread_local worker *current_worker;

/* ---- inbox (Vyukov's intrusive MPSC queue) ----------------------------------------------- */

static void inbox_init(worker *w)
{
    atomic_store(&w->inbox_stub.next, NULL);
    atomic_store(&w->inbox_head, &w->inbox_stub);
    w->inbox_tail = &w->inbox_stub;
}

static void inbox_push(worker *w, msg *m)
{
    atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
    msg *prev = atomic_exchange_explicit(&w->inbox_head, m, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, m, memory_order_release);
}

/* Returns the next message, or NULL when empty or a producer is midway through a push (its
 * uv_async_send follows, so we will be woken again). */
static msg *inbox_pop(worker *w)
{
    msg *tail = w->inbox_tail;
    msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &w->inbox_stub) {
        if (!next)
            return NULL;
        w->inbox_tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        w->inbox_tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&w->inbox_head, memory_order_acquire))
        return NULL;
    inbox_push(w, &w->inbox_stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        w->inbox_tail = next;
        return tail;
    }
    return NULL;
}

static void worker_post_msg_owned(worker *w, msg *m);

void worker_post(worker *w, void (*fn)(void *arg), void *arg)
{
    msg *m = mem_malloc(sizeof(*m));
    m->fn = fn;
    m->arg = arg;
    m->heap = 1;
    worker_post_msg_owned(w, m);
}

/* Pushes m and wakes w if it may be asleep. The sleeping flag and the inbox length are a
 * Dekker pair (both sequentially consistent): either this thread sees w asleep and wakes it, or
 * w sees the message before it sleeps. */
static void worker_post_msg_owned(worker *w, msg *m)
{
    inbox_push(w, m);
    atomic_fetch_add(&w->inbox_len, 1);
    if (atomic_load(&w->sleeping))
        uv_async_send(&w->wakeup);
}

void worker_post_msg(worker *w, msg *m)
{
    m->heap = 0;
    worker_post_msg_owned(w, m);
}

/* Runs up to a batch of messages; keeps the loop from blocking while more remain, so that I/O
 * gets its turn between batches. */
static void on_busy(uv_idle_t *h);

static void inbox_drain(worker *w)
{
    for (int i = 0; i < INBOX_BATCH; i++) {
        msg *m = inbox_pop(w);
        if (!m)
            break; /* empty, or a producer is midway: inbox_len keeps us awake for it */
        atomic_fetch_sub(&w->inbox_len, 1);
        void (*fn)(void *) = m->fn;
        void *arg = m->arg;
        if (m->heap)
            free(m);
        fn(arg);
    }
    if (atomic_load(&w->inbox_len) > 0)
        uv_idle_start(&w->busy, on_busy);
    else
        uv_idle_stop(&w->busy);
}

static void on_wakeup(uv_async_t *h)
{
    inbox_drain(h->data);
}

static void on_busy(uv_idle_t *h)
{
    inbox_drain(h->data);
}

static void on_before_poll(uv_prepare_t *h)
{
    worker *w = h->data;
    atomic_store(&w->sleeping, 1);
    if (atomic_load(&w->inbox_len) > 0) {
        atomic_store(&w->sleeping, 0);
        uv_idle_start(&w->busy, on_busy);
    }
}

static void on_after_poll(uv_check_t *h)
{
    worker *w = h->data;
    atomic_store(&w->sleeping, 0);
    if (atomic_load(&w->inbox_len) > 0)
        inbox_drain(w);
}

/* ---- listeners --------------------------------------------------------------------------- */

struct listener {
    uv_tcp_t tcp;
    worker *w;
    int admin;    /* --admin_port: its connections may run control-plane commands */
    int memcache; /* --memcached_port: its connections speak memcached (memcache.h) */
    int tls;      /* its connections speak TLS (tls.h) */
};

/* A new connection takes the listener's kind. */
static void listener_adopt(const struct listener *l, client *cl)
{
    if (cl && l->admin)
        cl->flags |= CLIENT_ADMIN_PORT;
    if (cl && l->memcache)
        cl->proto = PROTO_MEMCACHE;
}

static void on_connection(uv_stream_t *server_stream, int status)
{
    struct listener *l = server_stream->data;
    if (status < 0) {
        log_warning("accept failed: %s", uv_strerror(status));
        return;
    }
    listener_adopt(l, client_accept(l->w, server_stream, l->tls));
}

void worker_accept_now(worker *w)
{
    if (w->stopping)
        return;
    for (int i = 0; i < w->nlisteners; i++) {
        struct listener *l = &w->listeners[i];
        int lfd;
        /* Memcached connections would wait for the loop anyway: the kernel keeps them. */
        if (l->memcache || uv_fileno((uv_handle_t *)&l->tcp, &lfd) < 0)
            continue;
        for (int n = 0; n < ACCEPT_NOW_MAX; n++) {
            int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break; /* EAGAIN: none left; anything else: the loop's accept reports it */
            listener_adopt(l, client_accept_fd(w, fd, l->tls));
        }
    }
}

/* SO_REUSEPORT would let a second server share a port that is in use and split its clients.
 * A plain bind first tells whether anybody listens there. Returns 0 or a negative errno. */
static int port_free(const struct sockaddr *sa, socklen_t sl)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    int rc = bind(fd, sa, sl) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Opens a listening socket with SO_REUSEPORT so that every worker can have its own. The first
 * worker's socket (first set) checks that no other process listens on the port. */
static int listen_socket(const char *bind_addr, int port, int backlog, int first, int *out_fd)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind_addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof(*in4);
    } else if (inet_pton(AF_INET6, bind_addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*in6);
    } else if (!strcmp(bind_addr, "localhost")) {
        return listen_socket("127.0.0.1", port, backlog, first, out_fd);
    } else {
        return -EINVAL;
    }
    if (first && port != 0) {
        int rc = port_free((struct sockaddr *)&ss, sl);
        if (rc < 0)
            return rc;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *out_fd = fd;
    return 0;
}

static int count_addrs(const char *list)
{
    char *copy = mem_strdup(list);
    char *save = NULL;
    int n = 0;
    for (char *a = strtok_r(copy, " ,", &save); a; a = strtok_r(NULL, " ,", &save))
        n++;
    free(copy);
    return n;
}

/* The admin listener (--admin_port on each --admin_bind address): on worker 0 only, as
 * control-plane traffic is light. Its room is reserved in w->listeners. Returns 0 or -errno. */
static int admin_listeners_init(worker *w)
{
    char *addrs = mem_strdup(server.cfg.admin_bind);
    char *save = NULL;
    int port = (int)server.cfg.admin_port;
    for (char *a = strtok_r(addrs, " ,", &save); a; a = strtok_r(NULL, " ,", &save)) {
        int fd;
        int rc = listen_socket(a, port, (int)server.cfg.tcp_backlog, 1, &fd);
        if (rc < 0) {
            log_error("cannot listen on %s:%d (admin): %s", a, port, strerror(-rc));
            free(addrs);
            return rc;
        }
        struct listener *l = &w->listeners[w->nlisteners++];
        l->w = w;
        l->admin = 1;
        l->tls = server.cfg.tls && !server.cfg.no_tls_on_admin_port;
        uv_tcp_init(&w->loop, &l->tcp);
        l->tcp.data = l;
        uv_tcp_open(&l->tcp, fd);
        log_info("admin listener on %s:%d", a, port);
    }
    free(addrs);
    return 0;
}

/* The memcached listener (--memcached_port on each --bind address): one socket per worker, as
 * for the main port, so memcached connections spread over the threads the same way. Its room
 * is reserved in w->listeners. Returns 0 or -errno. */
static int memcache_listeners_init(worker *w, const char *bind_list)
{
    char *addrs = mem_strdup(bind_list);
    char *save = NULL;
    int port = (int)server.cfg.memcached_port;
    for (char *a = strtok_r(addrs, " ,", &save); a; a = strtok_r(NULL, " ,", &save)) {
        int fd;
        int rc = listen_socket(a, port, (int)server.cfg.tcp_backlog, w->id == 0, &fd);
        if (rc < 0) {
            log_error("cannot listen on %s:%d (memcached): %s", a, port, strerror(-rc));
            free(addrs);
            return rc;
        }
        struct listener *l = &w->listeners[w->nlisteners++];
        l->w = w;
        l->memcache = 1;
        l->tls = server.cfg.tls;
        uv_tcp_init(&w->loop, &l->tcp);
        l->tcp.data = l;
        uv_tcp_open(&l->tcp, fd);
        if (w->id == 0)
            log_info("memcached listener on %s:%d", a, port);
    }
    free(addrs);
    return 0;
}

/* ---- the timer --------------------------------------------------------------------------- */

static void on_cron(uv_timer_t *t)
{
    worker *w = t->data;
    if (w->id == 0) {
        atomic_store(&server.lru_clock, (unsigned)(clock_mono_ms() / 1000));
        save_cron();
    }
    /* As in Redis, a CLIENT PAUSE also pauses expiry and eviction: nothing may change. */
    int paused = pause_requested() && pause_current(clock_wall_ms()) != PAUSE_NONE;
    if (tx_shard_idle(w->id) && !paused) {
        db_active_expire(w->shard, EXPIRE_BUDGET_US);
        multi_shard_sweep(w->shard);
        block_shard_sweep(w->shard);
        if (server.cfg.maxmemory > 0)
            db_evict_if_needed(w->shard, 0);
    }
    client_cron(w);
    zmalloc_maintain();
}

/* ---- background work --------------------------------------------------------------------- */

static void on_bg_idle(uv_idle_t *h);
static void on_bg_timer(uv_timer_t *h);

static void bg_run(worker *w)
{
    int rc = w->bg_fn ? w->bg_fn(w->bg_arg) : WORKER_BG_DONE;
    if (rc == WORKER_BG_DONE) {
        w->bg_fn = NULL;
        uv_idle_stop(&w->bg_idle);
    } else if (rc == WORKER_BG_LATER) {
        uv_idle_stop(&w->bg_idle);
        uv_timer_start(&w->bg_timer, on_bg_timer, WORKER_BG_LATER_MS, 0);
    } else {
        uv_idle_start(&w->bg_idle, on_bg_idle);
    }
}

static void on_bg_idle(uv_idle_t *h)
{
    bg_run(h->data);
}

static void on_bg_timer(uv_timer_t *h)
{
    bg_run(h->data);
}

void worker_background(int (*fn)(void *arg), void *arg)
{
    worker *w = current_worker;
    w->bg_fn = fn;
    w->bg_arg = arg;
    uv_idle_start(&w->bg_idle, on_bg_idle);
}

/* ---- life cycle -------------------------------------------------------------------------- */

int workers_init(int n, const char *bind_list, int port)
{
    nworkers = n;
    workers = mem_calloc((size_t)n, sizeof(worker *));
    char *addrs = mem_strdup(bind_list);
    char *save = NULL;
    int naddr = 0;
    for (char *a = strtok_r(addrs, " ,", &save); a; a = strtok_r(NULL, " ,", &save))
        naddr++;
    for (int i = 0; i < n; i++) {
        worker *w = mem_calloc(1, sizeof(worker));
        w->id = i;
        w->shard = shards[i];
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->wakeup, on_wakeup);
        w->wakeup.data = w;
        atomic_init(&w->sleeping, 1);
        atomic_init(&w->inbox_len, 0);
        uv_prepare_init(&w->loop, &w->before_poll);
        w->before_poll.data = w;
        uv_check_init(&w->loop, &w->after_poll);
        w->after_poll.data = w;
        uv_idle_init(&w->loop, &w->busy);
        w->busy.data = w;
        uv_idle_init(&w->loop, &w->bg_idle);
        w->bg_idle.data = w;
        uv_timer_init(&w->loop, &w->bg_timer);
        w->bg_timer.data = w;
        inbox_init(w);
        uv_timer_init(&w->loop, &w->cron);
        w->cron.data = w;
        w->cmdstats = mem_calloc((size_t)command_count() + 1, sizeof(cmd_stats));
        int nadmin = i == 0 && server.cfg.admin_port > 0 ? count_addrs(server.cfg.admin_bind) : 0;
        int nmc = server.cfg.memcached_port > 0 ? naddr : 0;
        w->listeners = mem_calloc((size_t)(naddr + nadmin + nmc), sizeof(struct listener));
        free(addrs);
        addrs = mem_strdup(bind_list);
        save = NULL;
        for (char *a = strtok_r(addrs, " ,", &save); a; a = strtok_r(NULL, " ,", &save)) {
            int fd;
            int rc = listen_socket(a, port, (int)server.cfg.tcp_backlog, i == 0, &fd);
            if (rc < 0) {
                log_error("cannot listen on %s:%d: %s", a, port, strerror(-rc));
                free(addrs);
                return rc;
            }
            struct listener *l = &w->listeners[w->nlisteners++];
            l->w = w;
            l->tls = server.cfg.tls;
            uv_tcp_init(&w->loop, &l->tcp);
            l->tcp.data = l;
            uv_tcp_open(&l->tcp, fd);
            if (i == 0)
                log_info("listening on %s:%d", a, port);
        }
        int arc = nadmin ? admin_listeners_init(w) : 0;
        if (arc == 0 && nmc)
            arc = memcache_listeners_init(w, bind_list);
        if (arc < 0) {
            free(addrs);
            return arc;
        }
        workers[i] = w;
    }
    free(addrs);
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    current_worker = w;
    char name[16];
    snprintf(name, sizeof(name), "dfly-w%d", w->id);
    pthread_setname_np(pthread_self(), name);
    for (int i = 0; i < w->nlisteners; i++)
        uv_listen((uv_stream_t *)&w->listeners[i].tcp, (int)server.cfg.tcp_backlog, on_connection);
    uint64_t period = (uint64_t)(1000 / (server.cfg.hz > 0 ? server.cfg.hz : 10));
    uv_timer_start(&w->cron, on_cron, period, period);
    uv_prepare_start(&w->before_poll, on_before_poll);
    uv_check_start(&w->after_poll, on_after_poll);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

void workers_start(void)
{
    for (int i = 0; i < nworkers; i++)
        pthread_create(&workers[i]->thread, NULL, worker_main, workers[i]);
}

static atomic_int workers_quiesced;

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, close_cb);
}

/* Shutdown, first step, on each worker: no new connections or requests. The loop keeps running
 * so that work in flight between threads (hops, transactions) completes. */
static void worker_quiesce_msg(void *arg)
{
    worker *w = arg;
    w->stopping = 1;
    for (int i = 0; i < w->nlisteners; i++)
        uv_close((uv_handle_t *)&w->listeners[i].tcp, close_cb);
    uv_timer_stop(&w->cron);
    client_close_all(w);
    atomic_fetch_add(&workers_quiesced, 1);
}

static void worker_stop_msg(void *arg)
{
    worker *w = arg;
    uv_stop(&w->loop);
}

#define STOP_WAIT_MS 5000
#define STOP_DRAIN_MS 50

static int quiesce_asked;

void workers_quiesce(void)
{
    if (quiesce_asked)
        return;
    quiesce_asked = 1;
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], worker_quiesce_msg, workers[i]);
    uint64_t deadline = clock_mono_ms() + STOP_WAIT_MS;
    while (atomic_load(&workers_quiesced) < nworkers && clock_mono_ms() < deadline)
        usleep(1000);
    usleep(STOP_DRAIN_MS * 1000); /* replies of work in flight reach their threads */
}

void workers_stop(void)
{
    workers_quiesce();
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], worker_stop_msg, workers[i]);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i]->thread, NULL);
    /* The threads are gone: close every handle from here and let the close callbacks run. */
    for (int i = 0; i < nworkers; i++) {
        worker *w = workers[i];
        uv_walk(&w->loop, walk_close, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        for (msg *m; (m = inbox_pop(w));)
            if (m->heap)
                free(m);
        uv_loop_close(&w->loop);
    }
    for (int i = 0; i < nworkers; i++) {
        worker *w = workers[i];
        free(w->cmdstats);
        free(w->listeners);
        buf_free(&w->spare_in);
        buf_free(&w->spare_out);
        free(w);
    }
    free(workers);
    workers = NULL;
}
