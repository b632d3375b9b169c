/* Replication's shared state and the master side of the stream: ids and offsets, the stream
 * buffer and backlog, the replicas and their acknowledgements, the write guards (read-only
 * replica, min-replicas-to-write, takeover), WAIT's hooks, the periodic work, role changes,
 * INFO and /metrics. Full syncs are in repl_sync.c, the link to our own master in replica.c.
 * See replication.h.
 *
 * The stream buffer is a list of blocks shared by everyone: the tap appends at the tail; each
 * online replica has a position in it and its worker copies from there into the connection's
 * output a chunk at a time (more when a write completes); blocks go once they are older than
 * repl-backlog-size and no replica's position is in them. So a replica costs no copy of the
 * stream until its bytes are written, and one that falls more than the replica class of
 * client-output-buffer-limit (256mb by default) behind is disconnected, as Redis does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "journal.h"
#include "log.h"
#include "reply.h"
#include "repl_int.h"
#include "server.h"
#include "t_wait.h"
#include "tx.h"
#include "worker.h"

#define OBUF_CLASS_REPLICA "replica"
#define OBUF_CLASS_SLAVE "slave"
#define MS_PER_S 1000

struct repl R = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .second_offset = -1,
    .replid2 = REPL_NULL_ID,
};

atomic_int repl_write_guard;
atomic_int repl_replica_mode;
atomic_int repl_handover;

static void good_refresh(void);

void repl_new_id(char out[REPL_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[REPL_ID_LEN / 2] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
        uint64_t x = clock_mono_ns() ^ (uint64_t)clock_wall_us();
        for (size_t i = 0; i < sizeof(raw); i++, x = x * 6364136223846793005ULL + 1)
            raw[i] = (unsigned char)(x >> 56);
    }
    if (f)
        fclose(f);
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[REPL_ID_LEN] = '\0';
}

/* ---- the stream buffer ----------------------------------------------------------------------- */

static long long obuf_hard_limit(void)
{
    /* "<class> <hard> <soft> <seconds>" groups; the replica class's hard limit, 0 = none. */
    const char *s = server.cfg.client_output_buffer_limit;
    if (!s)
        return REPL_OBUF_HARD_DEFAULT;
    char cls[32], hard[32];
    int n = 0;
    while (sscanf(s, "%31s %31s %*s %*s%n", cls, hard, &n) == 2) {
        if (!strcasecmp(cls, OBUF_CLASS_REPLICA) || !strcasecmp(cls, OBUF_CLASS_SLAVE)) {
            long long v;
            return flags_parse_bytes(hard, &v) == 0 ? v : REPL_OBUF_HARD_DEFAULT;
        }
        s += n;
    }
    return REPL_OBUF_HARD_DEFAULT;
}

/* Blocks are allocated and freed with R.mu held. */
static repl_block *block_new(uint64_t start, size_t need)
{
    size_t cap = REPL_BLOCK_CAP;
    repl_block *b;
    if (need <= cap && R.spare) {
        b = R.spare;
        R.spare = NULL;
    } else {
        if (need > cap)
            cap = need;
        b = mem_malloc(sizeof(*b) + cap);
    }
    b->next = NULL;
    b->start = start;
    b->used = 0;
    b->cap = cap;
    return b;
}

static void block_free(repl_block *b)
{
    if (!R.spare && b->cap == REPL_BLOCK_CAP)
        R.spare = b;
    else
        free(b);
}

/* The stream index from which bytes are still wanted: the backlog's repl-backlog-size, and
 * every replica's position (mu). Whole blocks below it are freed; bytes below it in the first
 * block kept are no longer part of the backlog. */
static uint64_t keep_from_locked(void)
{
    uint64_t size = (uint64_t)server.cfg.repl_backlog_size;
    uint64_t keep = R.offset > size ? R.offset - size : 0;
    for (repl_replica *rp = R.replicas; rp; rp = rp->next)
        if (rp->has_pos && rp->pos < keep)
            keep = rp->pos;
    return keep;
}

/* Frees blocks that are past the backlog and behind every replica (mu). */
static void trim_locked(void)
{
    uint64_t keep = keep_from_locked();
    while (R.head && R.head != R.tail && R.head->start + R.head->used <= keep) {
        repl_block *b = R.head;
        R.head = b->next;
        for (repl_replica *rp = R.replicas; rp; rp = rp->next)
            if (rp->cur == b)
                rp->cur = NULL;
        block_free(b);
    }
}

void repl_backlog_reset_locked(uint64_t offset)
{
    while (R.head) {
        repl_block *b = R.head;
        R.head = b->next;
        block_free(b);
    }
    R.tail = NULL;
    R.offset = offset;
    for (repl_replica *rp = R.replicas; rp; rp = rp->next)
        rp->cur = NULL;
}

uint64_t repl_first_kept_locked(void)
{
    if (!R.head)
        return R.offset;
    uint64_t keep = keep_from_locked();
    return keep > R.head->start ? keep : R.head->start;
}

/* ---- waking the workers of online replicas --------------------------------------------------- */

static atomic_int wake_pending[DFLY_MAX_THREADS];
static msg wake_msgs[DFLY_MAX_THREADS];

static void pump_worker(worker *w);

static void wake_handler(void *arg)
{
    int id = (int)(intptr_t)arg;
    atomic_store(&wake_pending[id], 0);
    pump_worker(workers[id]);
}

/* Any thread: the worker copies new stream bytes to its replicas soon (once per wake-up). */
static void wake_worker(worker *w)
{
    if (atomic_exchange(&wake_pending[w->id], 1))
        return;
    wake_msgs[w->id].fn = wake_handler;
    wake_msgs[w->id].arg = (void *)(intptr_t)w->id;
    worker_post_msg(w, &wake_msgs[w->id]);
}

void repl_feed(const char *p, size_t len)
{
    pthread_mutex_lock(&R.mu);
    if (!R.backlog_on) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    while (len) {
        repl_block *t = R.tail;
        if (!t || t->used == t->cap) {
            t = block_new(R.offset, len);
            if (R.tail)
                R.tail->next = t;
            else
                R.head = t;
            R.tail = t;
        }
        size_t n = t->cap - t->used < len ? t->cap - t->used : len;
        memcpy(t->data + t->used, p, n);
        t->used += n;
        R.offset += n;
        p += n;
        len -= n;
    }
    trim_locked();
    long long limit = obuf_hard_limit();
    for (repl_replica *rp = R.replicas; rp; rp = rp->next) {
        if (rp->state != RS_ONLINE && !rp->has_pos)
            continue;
        if (limit > 0 && R.offset - rp->pos > (uint64_t)limit)
            rp->over_limit = 1;
        if (rp->state == RS_ONLINE || rp->over_limit)
            wake_worker(rp->owner);
    }
    pthread_mutex_unlock(&R.mu);
}

static void tap_feed(const char *p, size_t len)
{
    repl_feed(p, len);
}

void repl_backlog_enable(void)
{
    pthread_mutex_lock(&R.mu);
    int was = R.backlog_on;
    if (!was) {
        R.backlog_on = 1;
        repl_backlog_reset_locked(R.offset);
    }
    pthread_mutex_unlock(&R.mu);
    /* A replica proxies its master's stream instead of its own writes. */
    if (!repl_is_replica())
        journal_tap_set(tap_feed);
}

/* ---- replicas -------------------------------------------------------------------------------- */

repl_replica *repl_replica_new(client *cl)
{
    repl_replica *rp = mem_calloc(1, sizeof(*rp));
    rp->cl = cl;
    rp->owner = cl->owner;
    atomic_init(&rp->refs, 1);
    rp->state = RS_WAIT_SYNC;
    atomic_store(&rp->ack_ms, (int64_t)clock_mono_ms());
    snprintf(rp->ip, sizeof(rp->ip), "%s", cl->addr);
    char *colon = strrchr(rp->ip, ':');
    if (colon)
        *colon = '\0';
    pthread_mutex_lock(&R.mu);
    rp->next = R.replicas;
    if (R.replicas)
        R.replicas->prev = rp;
    R.replicas = rp;
    R.nreplicas++;
    pthread_mutex_unlock(&R.mu);
    cl->repl = rp;
    cl->flags |= CLIENT_REPLICA;
    return rp;
}

void repl_replica_unref(repl_replica *rp)
{
    if (atomic_fetch_sub(&rp->refs, 1) == 1)
        free(rp);
}

void repl_replica_online_locked(repl_replica *rp, uint64_t pos)
{
    rp->state = RS_ONLINE;
    rp->pos = pos;
    rp->has_pos = 1;
    rp->cur = NULL;
}

/* Copies stream bytes from rp's position into its connection's output while there is room
 * (mu). Returns 1 when something was added. */
static int pump_locked(repl_replica *rp)
{
    client *cl = rp->cl;
    int added = 0;
    if (rp->wait_first_ack)
        return 0;
    while (rp->pos < R.offset && cl->wbuf.len < REPL_SEND_CHUNK) {
        repl_block *b = rp->cur ? rp->cur : R.head;
        while (b && rp->pos >= b->start + b->used)
            b = b->next;
        if (!b || rp->pos < b->start)
            break; /* cannot happen: blocks stay while a position is in them */
        size_t off = (size_t)(rp->pos - b->start), n = b->used - off;
        size_t room = REPL_SEND_CHUNK - cl->wbuf.len;
        if (n > room)
            n = room;
        buf_append(&cl->wbuf, b->data + off, n);
        rp->pos += n;
        rp->cur = b;
        added = 1;
    }
    return added;
}

static void close_over_limit(client *cl)
{
    log_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits "
                "(replica)",
                (unsigned long long)cl->id, cl->addr);
    client_close(cl);
}

void repl_replica_pump(repl_replica *rp)
{
    client *cl = rp->cl;
    if (!cl || cl->closing)
        return;
    pthread_mutex_lock(&R.mu);
    int over = rp->over_limit;
    int added = !over && rp->state == RS_ONLINE && pump_locked(rp);
    pthread_mutex_unlock(&R.mu);
    if (over)
        close_over_limit(cl);
    else if (added)
        client_flush(cl);
}

/* The worker's replicas get what the stream has for them. */
static void pump_worker(worker *w)
{
    pthread_mutex_lock(&R.mu);
    /* The replicas with something to send (or to close), collected under the lock. */
    client **ready = mem_malloc(sizeof(client *) * (size_t)(R.nreplicas + 1));
    int *over = mem_malloc(sizeof(int) * (size_t)(R.nreplicas + 1));
    int n = 0;
    for (repl_replica *rp = R.replicas; rp; rp = rp->next) {
        if (rp->owner != w || !rp->cl || rp->cl->closing)
            continue;
        /* A write in flight pumps again when it completes (repl_client_written). */
        if (rp->over_limit || (rp->state == RS_ONLINE && !rp->cl->writing && pump_locked(rp))) {
            over[n] = rp->over_limit;
            ready[n++] = rp->cl;
        }
    }
    pthread_mutex_unlock(&R.mu);
    /* Outside the lock: a failed write closes the client, which takes the lock. */
    for (int i = 0; i < n; i++) {
        if (over[i])
            close_over_limit(ready[i]);
        else
            client_flush(ready[i]);
    }
    free(ready);
    free(over);
}

void repl_client_written(client *cl)
{
    repl_replica *rp = cl->repl;
    if (!rp || cl->closing)
        return;
    pthread_mutex_lock(&R.mu);
    if (rp->state == RS_ONLINE && !rp->over_limit)
        pump_locked(rp);
    pthread_mutex_unlock(&R.mu);
}

void repl_client_drained(client *cl)
{
    repl_replica *rp = cl->repl;
    if (rp && !cl->closing && rp->state == RS_ONLINE)
        wake_worker(rp->owner);
}

void repl_client_closed(client *cl)
{
    repl_replica *rp = cl->repl;
    if (!rp)
        return;
    pthread_mutex_lock(&R.mu);
    if (rp->prev)
        rp->prev->next = rp->next;
    else
        R.replicas = rp->next;
    if (rp->next)
        rp->next->prev = rp->prev;
    rp->prev = rp->next = NULL;
    R.nreplicas--;
    rp->cl = NULL;
    rp->has_pos = 0;
    int in_job = rp->job != NULL;
    pthread_mutex_unlock(&R.mu);
    if (in_job)
        repl_sync_leave(rp);
    log_info("Connection with replica %s:%d lost.", rp->ip, rp->listening_port);
    cl->repl = NULL;
    repl_replica_unref(rp);
    good_refresh();
}

static void close_replicas_msg(void *arg)
{
    (void)arg;
    client *next;
    for (client *cl = current_worker->clients; cl; cl = next) {
        next = cl->next;
        if (cl->repl)
            client_close(cl);
    }
}

void repl_disconnect_replicas(void)
{
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], close_replicas_msg, NULL);
}

/* REPLCONF ACK <offset> from rp's connection. */
void repl_replica_ack(repl_replica *rp, uint64_t off)
{
    pthread_mutex_lock(&R.mu);
    int first = rp->wait_first_ack;
    rp->wait_first_ack = 0;
    pthread_mutex_unlock(&R.mu);
    if (first)
        repl_replica_pump(rp); /* it loaded the snapshot: the stream may follow */
    uint64_t old = atomic_load(&rp->ack_off);
    atomic_store(&rp->ack_ms, (int64_t)clock_mono_ms());
    if (off > old)
        atomic_store(&rp->ack_off, off);
    if (off > old)
        wait_acks_changed();
    if (server.cfg.min_replicas_to_write > 0)
        good_refresh();
}

/* ---- write guards ---------------------------------------------------------------------------- */

void repl_guard_set(int reason, int on)
{
    if (on)
        atomic_fetch_or(&repl_write_guard, reason);
    else
        atomic_fetch_and(&repl_write_guard, ~reason);
}

/* Counts the replicas that acknowledged within min-replicas-max-lag seconds. */
static void good_refresh(void)
{
    int64_t now = (int64_t)clock_mono_ms();
    long long lag = server.cfg.min_replicas_max_lag;
    long good = 0;
    pthread_mutex_lock(&R.mu);
    for (repl_replica *rp = R.replicas; rp; rp = rp->next)
        if (rp->state == RS_ONLINE && (now - atomic_load(&rp->ack_ms)) / MS_PER_S <= lag)
            good++;
    pthread_mutex_unlock(&R.mu);
    atomic_store(&R.good_replicas, good);
    long long min = server.cfg.min_replicas_to_write;
    repl_guard_set(GUARD_NOREPLICAS, !repl_is_replica() && min > 0 && lag > 0 && good < min);
}

void repl_guard_refresh(void)
{
    repl_guard_set(GUARD_READONLY, repl_is_replica() && server.cfg.replica_read_only);
    good_refresh();
}

void replication_config_changed(void)
{
    repl_guard_refresh();
}

int repl_refuse_write_slow(cmd_ctx *c, const command *cmd)
{
    (void)cmd;
    int g = atomic_load(&repl_write_guard);
    if (g & (GUARD_TAKEOVER | GUARD_READONLY)) {
        reply_error(c, ERR_READONLY);
        return 1;
    }
    if (g & GUARD_NOREPLICAS) {
        reply_error(c, ERR_NOREPLICAS);
        return 1;
    }
    return 0;
}

/* ---- WAIT ---------------------------------------------------------------------------------- */

static int wait_is_replica(void)
{
    return repl_is_replica();
}

/* The offset the caller's writes reached: the whole stream so far. Redis keeps the offset
 * after each client's last write; the global one is never smaller, so WAIT may wait for a few
 * more bytes but never answers too early. */
static uint64_t wait_client_offset(const client *cl)
{
    (void)cl;
    pthread_mutex_lock(&R.mu);
    uint64_t off = R.offset;
    pthread_mutex_unlock(&R.mu);
    return off;
}

static long wait_count_acks(uint64_t offset)
{
    long n = 0;
    pthread_mutex_lock(&R.mu);
    for (repl_replica *rp = R.replicas; rp; rp = rp->next)
        if (rp->state == RS_ONLINE && atomic_load(&rp->ack_off) >= offset)
            n++;
    pthread_mutex_unlock(&R.mu);
    return n;
}

/* A WAIT blocks: replicas are asked for their offset now rather than at their next periodic
 * acknowledgement (Redis's REPLCONF GETACK). */
static void wait_request_acks(void)
{
    pthread_mutex_lock(&R.mu);
    int any = R.nreplicas > 0 && R.backlog_on;
    pthread_mutex_unlock(&R.mu);
    if (!any || repl_is_replica())
        return;
    slice argv[] = {{"REPLCONF", 8}, {"GETACK", 6}, {"*", 1}};
    journal_tap_command(3, argv);
}

static const wait_repl_ops wait_ops = {
    .is_replica = wait_is_replica,
    .client_offset = wait_client_offset,
    .count_acks = wait_count_acks,
    .request_acks = wait_request_acks,
};

/* ---- role changes ---------------------------------------------------------------------------- */

typedef struct hold_all {
    void (*fn)(void);
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} hold_all;

static void hold_body(void *arg)
{
    ((hold_all *)arg)->fn();
}

static void hold_done(void *arg)
{
    hold_all *h = arg;
    pthread_mutex_lock(&h->mu);
    h->done = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void hold_start(void *arg)
{
    shardset all;
    shardset_all(&all);
    if (tx_run(&all, hold_body, hold_done, arg))
        hold_done(arg);
}

/* Runs fn while every shard is held, from a thread that is not a worker; waits for it. */
static void run_holding_all(void (*fn)(void))
{
    hold_all h = {.fn = fn};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    worker_post(workers[0], hold_start, &h);
    pthread_mutex_lock(&h.mu);
    while (!h.done)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
}

/* Writes stop being ours to stream: our replid and offset stay, so that the new master may
 * continue our history with PSYNC (Redis's replicationCacheMasterUsingMyself). */
static void to_replica_body(void)
{
    atomic_store(&repl_replica_mode, 1);
    repl_guard_refresh();
    repl_guard_set(GUARD_TAKEOVER, 0); /* a handed-over master: the replica's guard now */
    atomic_store(&repl_handover, 0);
    journal_tap_set(NULL);
}

void repl_become_replica(void)
{
    if (repl_is_replica())
        return;
    run_holding_all(to_replica_body);
    repl_disconnect_replicas();
}

/* Redis's shiftReplicationId: what we have is the old history up to our offset. */
static void to_master_body(void)
{
    pthread_mutex_lock(&R.mu);
    memcpy(R.replid2, R.replid, sizeof(R.replid2));
    R.second_offset = (int64_t)R.offset + 1;
    repl_new_id(R.replid);
    pthread_mutex_unlock(&R.mu);
    atomic_store(&repl_replica_mode, 0);
    repl_backlog_enable(); /* the tap first: the guard drops after it */
    repl_guard_refresh();
    repl_guard_set(GUARD_TAKEOVER, 0);
    log_info("Setting secondary replication ID to %s, valid up to offset: %lld. New replication "
             "ID is %s",
             R.replid2, (long long)R.second_offset, R.replid);
}

void repl_become_master(void)
{
    if (!repl_is_replica())
        return;
    run_holding_all(to_master_body);
}

/* ---- periodic work (worker 0) ---------------------------------------------------------------- */

static uv_timer_t cron_timer;
static int cron_started;

/* Replicas that stopped acknowledging for repl-timeout seconds are dropped (on their worker). */
static void timeout_replicas_msg(void *arg)
{
    (void)arg;
    int64_t now = (int64_t)clock_mono_ms();
    int64_t limit = server.cfg.repl_timeout * MS_PER_S;
    client *next;
    for (client *cl = current_worker->clients; cl; cl = next) {
        next = cl->next;
        repl_replica *rp = cl->repl;
        if (rp && rp->state == RS_ONLINE && !rp->rdb_only &&
            now - atomic_load(&rp->ack_ms) > limit) {
            log_warning("Disconnecting timedout replica (streaming sync): %s:%d", rp->ip,
                        rp->listening_port);
            client_close(cl);
        }
    }
}

static void ping_replicas(int64_t now)
{
    if (repl_is_replica() || atomic_load(&repl_handover))
        return; /* a replica proxies its master's PINGs; a handover keeps offsets still */
    if (now - R.last_ping_ms < server.cfg.repl_ping_replica_period * MS_PER_S)
        return;
    R.last_ping_ms = now;
    pthread_mutex_lock(&R.mu);
    int any = R.nreplicas > 0 && R.backlog_on;
    pthread_mutex_unlock(&R.mu);
    if (!any)
        return;
    slice argv[] = {{"PING", 4}};
    journal_tap_command(1, argv);
}

static void on_cron(uv_timer_t *t)
{
    (void)t;
    int64_t now = (int64_t)clock_mono_ms();
    static int64_t last_timeout_check;
    ping_replicas(now);
    repl_sync_cron();
    good_refresh();
    if (now - last_timeout_check >= MS_PER_S) {
        last_timeout_check = now;
        for (int i = 0; i < nworkers; i++)
            worker_post(workers[i], timeout_replicas_msg, NULL);
    }
    pthread_mutex_lock(&R.mu);
    trim_locked();
    pthread_mutex_unlock(&R.mu);
}

static void cron_start_msg(void *arg)
{
    (void)arg;
    uv_timer_init(&current_worker->loop, &cron_timer);
    uv_timer_start(&cron_timer, on_cron, REPL_CRON_MS, REPL_CRON_MS);
    cron_started = 1;
}

static void cron_stop_msg(void *arg)
{
    (void)arg;
    if (cron_started) {
        uv_timer_stop(&cron_timer);
        uv_close((uv_handle_t *)&cron_timer, NULL);
        cron_started = 0;
    }
}

void replication_init(void)
{
    repl_new_id(R.replid);
    wait_set_repl_ops(&wait_ops);
    worker_post(workers[0], cron_start_msg, NULL);
    replica_start();
}

void replication_shutdown(void)
{
    replica_stop();
    repl_sync_shutdown();
    worker_post(workers[0], cron_stop_msg, NULL);
    journal_tap_set(NULL);
}

/* ---- INFO and /metrics ----------------------------------------------------------------------- */

static const char *state_name(int state)
{
    return state == RS_ONLINE ? "online" : "wait_bgsave";
}

static void info_replicas_locked(buf *out)
{
    int64_t now = (int64_t)clock_mono_ms();
    buf_printf(out, "connected_slaves:%d\r\n", R.nreplicas);
    if (server.cfg.min_replicas_to_write > 0 && server.cfg.min_replicas_max_lag > 0)
        buf_printf(out, "min_slaves_good_slaves:%ld\r\n", atomic_load(&R.good_replicas));
    int i = 0;
    for (repl_replica *rp = R.replicas; rp; rp = rp->next, i++)
        buf_printf(out, "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%lld\r\n", i, rp->ip,
                   rp->listening_port, state_name(rp->state),
                   (unsigned long long)atomic_load(&rp->ack_off),
                   (long long)((now - atomic_load(&rp->ack_ms)) / MS_PER_S));
}

static void info_link(buf *out)
{
    repl_link_info li;
    replica_link_info(&li);
    pthread_mutex_lock(&R.mu);
    uint64_t off = R.offset;
    pthread_mutex_unlock(&R.mu);
    buf_printf(out,
               "master_host:%s\r\n"
               "master_port:%d\r\n"
               "master_link_status:%s\r\n"
               "master_last_io_seconds_ago:%lld\r\n"
               "master_sync_in_progress:%d\r\n"
               "slave_read_repl_offset:%llu\r\n"
               "slave_repl_offset:%llu\r\n",
               li.host, li.port, li.link_up ? "up" : "down", (long long)li.last_io_s,
               li.sync_in_progress, (unsigned long long)(li.link_up ? li.read_offset : off),
               (unsigned long long)off);
    if (li.sync_in_progress) {
        long long left = li.sync_total > 0 ? li.sync_total - li.sync_read : -1;
        double perc =
            li.sync_total > 0 ? 100.0 * (double)li.sync_read / (double)li.sync_total : -0.0;
        buf_printf(out,
                   "master_sync_total_bytes:%lld\r\n"
                   "master_sync_read_bytes:%lld\r\n"
                   "master_sync_left_bytes:%lld\r\n"
                   "master_sync_perc:%.2f\r\n"
                   "master_sync_last_io_seconds_ago:%lld\r\n",
                   li.sync_total, li.sync_read, left, perc, li.sync_last_io_s);
    }
    if (!li.link_up)
        buf_printf(out, "master_link_down_since_seconds:%lld\r\n", (long long)li.down_since_s);
    buf_printf(out,
               "slave_priority:100\r\n"
               "slave_read_only:%d\r\n"
               "replica_announced:1\r\n",
               server.cfg.replica_read_only);
}

void replication_info(buf *out)
{
    int replica = repl_is_replica();
    buf_printf(out, "role:%s\r\n", replica ? "slave" : "master");
    if (replica)
        info_link(out);
    pthread_mutex_lock(&R.mu);
    info_replicas_locked(out);
    uint64_t first = repl_first_kept_locked();
    buf_printf(out,
               "master_failover_state:no-failover\r\n"
               "master_replid:%s\r\n"
               "master_replid2:%s\r\n"
               "master_repl_offset:%llu\r\n"
               "second_repl_offset:%lld\r\n"
               "repl_backlog_active:%d\r\n"
               "repl_backlog_size:%lld\r\n"
               "repl_backlog_first_byte_offset:%llu\r\n"
               "repl_backlog_histlen:%llu\r\n",
               R.replid, R.replid2, (unsigned long long)R.offset, (long long)R.second_offset,
               R.backlog_on, server.cfg.repl_backlog_size,
               (unsigned long long)(R.backlog_on ? first + 1 : 0),
               (unsigned long long)(R.backlog_on ? R.offset - first : 0));
    pthread_mutex_unlock(&R.mu);
}

long long replication_sync_count(int which)
{
    return which == REPL_SYNC_FULL         ? atomic_load(&R.sync_full)
           : which == REPL_SYNC_PARTIAL_OK ? atomic_load(&R.sync_partial_ok)
                                           : atomic_load(&R.sync_partial_err);
}

static void metric_line(buf *out, const char *name, const char *type, const char *help, long long v)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name, v);
}

void replication_metrics(buf *out)
{
    int replica = repl_is_replica();
    metric_line(out, "dragonfly_master", "gauge", "1 if the instance is a master, 0 if a replica.",
                !replica);
    pthread_mutex_lock(&R.mu);
    uint64_t off = R.offset;
    int n = R.nreplicas;
    buf lag;
    buf_init(&lag);
    for (repl_replica *rp = R.replicas; rp; rp = rp->next)
        buf_printf(&lag,
                   "dragonfly_connected_replica_lag_bytes{replica_ip=\"%s\",replica_port=\"%d\","
                   "replica_state=\"%s\"} %llu\n",
                   rp->ip, rp->listening_port, state_name(rp->state),
                   (unsigned long long)(off - atomic_load(&rp->ack_off)));
    pthread_mutex_unlock(&R.mu);
    metric_line(out, "dragonfly_connected_replicas", "gauge", "Replicas connected to this master.",
                n);
    metric_line(out, "dragonfly_replication_offset", "counter",
                "Bytes of the replication stream (master_repl_offset).", (long long)off);
    buf_printf(out,
               "# HELP dragonfly_connected_replica_lag_bytes Bytes of the stream a replica has "
               "not acknowledged.\n# TYPE dragonfly_connected_replica_lag_bytes gauge\n");
    buf_append(out, lag.data, lag.len);
    buf_free(&lag);
    if (replica) {
        repl_link_info li;
        replica_link_info(&li);
        metric_line(out, "dragonfly_master_link_up", "gauge",
                    "1 while the link to the master is up (a replica).", li.link_up);
    }
    metric_line(out, "dragonfly_sync_full_total", "counter", "Full syncs served to replicas.",
                atomic_load(&R.sync_full));
    metric_line(out, "dragonfly_sync_partial_ok_total", "counter",
                "Partial resyncs (PSYNC continued) served to replicas.",
                atomic_load(&R.sync_partial_ok));
}
