/* PSYNC, SYNC and full syncs (Redis 7.0's wire format). See replication.h.
 *
 * A partial resync answers +CONTINUE and streams from the asked offset. A full sync takes a
 * snapshot (snapshot.h) whose sink is a pipe; a forwarder thread copies the pipe to the
 * replicas' sockets. That lets the preamble wait for the snapshot's point in time, which gives
 * the offset of +FULLRESYNC <replid> <offset>: the snapshot writer may start writing before the
 * point is taken, and only the forwarder decides when bytes reach the sockets. It also lets
 * several replicas share one snapshot, and a stuck replica be dropped without stalling it.
 *
 * Replicas that support it (REPLCONF capa eof, all Redis versions since 2.8.18 and redis-cli)
 * get the diskless form "$EOF:<40 hex>\r\n" <rdb> <the 40 characters>; others the length form
 * "$<len>\r\n" <rdb>, for which the forwarder first spools the snapshot to a temporary file.
 * While its snapshot is sent a replica's connection writes nothing else (CLIENT_REPL_TRANSFER);
 * when it is done the replica streams from the snapshot's point in time, which at_point
 * registered in the stream buffer so that nothing after it can be dropped meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "journal.h"
#include "log.h"
#include "repl_int.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "tls.h"
#include "worker.h"

#define SYNC_PIPE_SIZE (1 << 20)    /* the snapshot's pipe, so that the writer seldom waits */
#define SYNC_COPY_CHUNK (64 * 1024) /* bytes moved from the pipe at once */
#define SYNC_POLL_MS 100
#define EOF_MARK_LEN 40
#define SYNC_TMP_PREFIX "temp-repl-"
#define SYNC_WAIT_US 1000 /* polling period while shutdown waits for forwarders */
#define SYNC_WAIT_LOG_MS 5000

typedef struct sync_target {
    repl_replica *rp;     /* a reference */
    int fd;               /* a duplicate of its socket, -1 once dropped */
    struct tls_conn *tls; /* a reference to its TLS state (tls.h), or NULL: plain text */
    int64_t stuck_since_ms;
} sync_target;

typedef struct sync_job {
    int pipe_r, pipe_w;
    int eof; /* the EOF-marker form, else the length form from a temporary file */
    char mark[EOF_MARK_LEN + 1];
    sync_target *t;
    int nt;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int have_point, snap_finished, snap_ok;
    uint64_t point;
    char replid[REPL_ID_LEN + 1];
} sync_job;

/* Forwarders still running: shutdown waits for them (they post to the workers). */
static atomic_int jobs_running;
static atomic_int sync_stop;

int repl_sync_in_progress(void)
{
    return atomic_load(&jobs_running) > 0;
}

/* ---- the replica's end of it: on its worker -------------------------------------------------- */

typedef struct finish_msg {
    repl_replica *rp; /* a reference */
    int ok;
    uint64_t point;
} finish_msg;

/* The snapshot reached rp (ok) or not: it streams from the point, or its connection closes. */
static void finish_on_owner(void *arg)
{
    finish_msg *m = arg;
    repl_replica *rp = m->rp;
    client *cl = rp->cl;
    pthread_mutex_lock(&R.mu);
    int alive = cl && !cl->closing;
    if (alive && m->ok) {
        repl_replica_online_locked(rp, m->point);
        rp->wait_first_ack = rp->capa_eof;
    } else {
        rp->has_pos = 0;
    }
    pthread_mutex_unlock(&R.mu);
    if (alive) {
        client_repl_transfer_end(cl); /* TLS state back to the client's thread */
        if (!m->ok) {
            client_close(cl);
        } else if (rp->rdb_only) {
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY; /* redis-cli --rdb: the snapshot only */
            client_flush(cl);
        } else {
            log_info("Synchronization with replica %s:%d succeeded", rp->ip, rp->listening_port);
            atomic_store(&rp->ack_ms, (int64_t)clock_mono_ms());
            repl_replica_pump(rp);
        }
    }
    repl_replica_unref(rp);
    free(m);
}

/* ---- the forwarder thread -------------------------------------------------------------------- */

/* Writes all of p to target t's socket (non-blocking: polls). Drops the target on an error or
 * after repl-timeout seconds without progress. */
static void target_send(sync_target *t, const char *p, size_t n)
{
    int64_t limit = server.cfg.repl_timeout * 1000;
    int64_t since = (int64_t)clock_mono_ms();
    while (t->fd >= 0 && n > 0) {
        ssize_t w = send(t->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            since = (int64_t)clock_mono_ms();
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !atomic_load(&sync_stop) &&
            (int64_t)clock_mono_ms() - since < limit) {
            struct pollfd pf = {.fd = t->fd, .events = POLLOUT};
            poll(&pf, 1, SYNC_POLL_MS);
            continue;
        }
        log_warning("Replica %s:%d: the snapshot could not be sent (%s)", t->rp->ip,
                    t->rp->listening_port, w < 0 ? strerror(errno) : "timeout");
        pthread_mutex_lock(&R.mu); /* repl_sync_leave may shut it down meanwhile */
        close(t->fd);
        t->fd = -1;
        pthread_mutex_unlock(&R.mu);
    }
}

/* Writes p to target t: as is, or encrypted with the replica's TLS state, which the client's
 * thread leaves alone while CLIENT_REPL_TRANSFER is set. */
static void target_write(sync_target *t, const char *p, size_t n)
{
    if (!t->tls) {
        target_send(t, p, n);
        return;
    }
    buf enc;
    buf_init(&enc);
    while (n > 0 && t->fd >= 0) {
        long took = tls_conn_write(t->tls, p, n);
        if (took <= 0) {
            log_warning("Replica %s:%d: the snapshot could not be encrypted", t->rp->ip,
                        t->rp->listening_port);
            pthread_mutex_lock(&R.mu);
            close(t->fd);
            t->fd = -1;
            pthread_mutex_unlock(&R.mu);
            break;
        }
        p += took;
        n -= (size_t)took;
        tls_conn_take(t->tls, &enc);
        target_send(t, enc.data, enc.len);
        buf_clear(&enc);
    }
    buf_free(&enc);
}

static int targets_alive(const sync_job *j)
{
    for (int i = 0; i < j->nt; i++)
        if (j->t[i].fd >= 0)
            return 1;
    return 0;
}

static void write_all_targets(sync_job *j, const char *p, size_t n)
{
    for (int i = 0; i < j->nt; i++)
        target_write(&j->t[i], p, n);
}

/* Waits for the snapshot's point in time (or its failure before it). */
static int wait_point(sync_job *j)
{
    pthread_mutex_lock(&j->mu);
    while (!j->have_point && !j->snap_finished)
        pthread_cond_wait(&j->cv, &j->mu);
    int ok = j->have_point;
    pthread_mutex_unlock(&j->mu);
    return ok;
}

/* "+FULLRESYNC <replid> <offset>\r\n" to PSYNC replicas. */
static void write_fullresync(sync_job *j)
{
    char line[REPL_ID_LEN + 64];
    int n = snprintf(line, sizeof(line), "+FULLRESYNC %s %llu\r\n", j->replid,
                     (unsigned long long)j->point);
    for (int i = 0; i < j->nt; i++)
        if (j->t[i].rp->capa_psync2 >= 0) /* -1: SYNC, which has no such line */
            target_write(&j->t[i], line, (size_t)n);
}

/* Copies the pipe to the targets (or to spool) until the snapshot's end. Returns 0 at the end,
 * -1 when every target is gone (the pipe is closed: the snapshot fails). */
static int copy_pipe(sync_job *j, int spool)
{
    char *chunk = mem_malloc(SYNC_COPY_CHUNK);
    int rc = 0;
    for (;;) {
        ssize_t n = read(j->pipe_r, chunk, SYNC_COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (spool >= 0) {
            if (write(spool, chunk, (size_t)n) != n) {
                rc = -1;
                break;
            }
        } else {
            write_all_targets(j, chunk, (size_t)n);
        }
        if (!targets_alive(j) || atomic_load(&sync_stop)) {
            rc = -1;
            break;
        }
    }
    free(chunk);
    return rc;
}

/* The length form: "$<len>\r\n" and the spooled file. */
static void send_spooled(sync_job *j, int spool)
{
    off_t len = lseek(spool, 0, SEEK_END);
    char head[32];
    int n = snprintf(head, sizeof(head), "$%lld\r\n", (long long)len);
    write_all_targets(j, head, (size_t)n);
    char *chunk = mem_malloc(SYNC_COPY_CHUNK);
    for (off_t at = 0; at < len && targets_alive(j);) {
        ssize_t got = pread(spool, chunk, SYNC_COPY_CHUNK, at);
        if (got <= 0)
            break;
        write_all_targets(j, chunk, (size_t)got);
        at += got;
    }
    free(chunk);
}

static int open_spool(char *path, size_t pathlen)
{
    static atomic_int seq;
    snprintf(path, pathlen, SYNC_TMP_PREFIX "%d-%d.rdb", (int)getpid(), atomic_fetch_add(&seq, 1));
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/* Tells every target's worker how it ended. The job is about to go: nobody may reach it from
 * a replica any more. */
static void post_finish(sync_job *j, int ok)
{
    pthread_mutex_lock(&R.mu);
    for (int i = 0; i < j->nt; i++)
        j->t[i].rp->job = NULL;
    pthread_mutex_unlock(&R.mu);
    for (int i = 0; i < j->nt; i++) {
        finish_msg *m = mem_malloc(sizeof(*m));
        m->rp = j->t[i].rp;
        m->ok = ok && j->t[i].fd >= 0;
        m->point = j->point;
        worker_post(m->rp->owner, finish_on_owner, m);
    }
}

static void job_free(sync_job *j)
{
    for (int i = 0; i < j->nt; i++) {
        if (j->t[i].fd >= 0)
            close(j->t[i].fd);
        tls_conn_free(j->t[i].tls);
    }
    free(j->t);
    if (j->pipe_r >= 0)
        close(j->pipe_r);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void *forwarder_main(void *arg)
{
    sync_job *j = arg;
    pthread_setname_np(pthread_self(), "dfly-replsync");
    int ok = wait_point(j);
    char spool_path[64] = "";
    int spool = -1;
    if (ok) {
        write_fullresync(j);
        if (j->eof) {
            char head[EOF_MARK_LEN + 8];
            int n = snprintf(head, sizeof(head), "$EOF:%s\r\n", j->mark);
            write_all_targets(j, head, (size_t)n);
        } else {
            spool = open_spool(spool_path, sizeof(spool_path));
            ok = spool >= 0;
        }
    }
    if (!ok || copy_pipe(j, spool) < 0) {
        ok = 0;
        close(j->pipe_r); /* the writer gets EPIPE: the snapshot ends */
        j->pipe_r = -1;
    }
    /* The snapshot's outcome: known once its done callback ran (it closes the pipe's end). */
    pthread_mutex_lock(&j->mu);
    while (!j->snap_finished)
        pthread_cond_wait(&j->cv, &j->mu);
    ok = ok && j->snap_ok;
    pthread_mutex_unlock(&j->mu);
    if (ok && j->eof)
        write_all_targets(j, j->mark, EOF_MARK_LEN);
    else if (ok)
        send_spooled(j, spool);
    if (spool >= 0) {
        close(spool);
        unlink(spool_path);
    }
    post_finish(j, ok);
    job_free(j);
    atomic_fetch_sub(&jobs_running, 1);
    return NULL;
}

/* ---- the snapshot's callbacks ---------------------------------------------------------------- */

/* Under the journal's append lock, every shard held: the point in time. Each target's
 * position is registered so that the stream after the point stays in the buffer. */
static void point_locked(void *arg)
{
    sync_job *j = arg;
    pthread_mutex_lock(&R.mu);
    j->point = R.offset;
    memcpy(j->replid, R.replid, sizeof(j->replid));
    for (int i = 0; i < j->nt; i++) {
        repl_replica *rp = j->t[i].rp;
        if (rp->cl) {
            rp->pos = j->point;
            rp->has_pos = 1;
            rp->cur = NULL;
        }
    }
    pthread_mutex_unlock(&R.mu);
}

static void sync_at_point(void *arg)
{
    sync_job *j = arg;
    journal_tap_sync(point_locked, j);
    pthread_mutex_lock(&j->mu);
    j->have_point = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void sync_done(void *arg, int ok, const char *err)
{
    sync_job *j = arg;
    if (!ok)
        log_warning("Full sync snapshot failed: %s", err ? err : "?");
    close(j->pipe_w); /* the forwarder reads the end of the pipe */
    pthread_mutex_lock(&j->mu);
    j->pipe_w = -1;
    j->snap_ok = ok;
    j->snap_finished = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* ---- starting full syncs (worker 0's cron, or the PSYNC handler) ----------------------------- */

/* Takes the replicas waiting for a full sync of the same form as the first one into j (mu). */
static void gather_targets_locked(sync_job *j)
{
    int want_eof = -1;
    for (repl_replica *rp = R.replicas; rp; rp = rp->next) {
        if (rp->state != RS_WAIT_SYNC || rp->job || !rp->cl || rp->cl->closing)
            continue;
        if (want_eof < 0)
            want_eof = rp->capa_eof;
        if (rp->capa_eof != want_eof)
            continue;
        int fd = dup(rp->cl->fd); /* the forwarder's own: the client may close meanwhile */
        if (fd < 0)
            continue;
        j->t = mem_realloc(j->t, sizeof(sync_target) * (size_t)(j->nt + 1));
        if (rp->cl->tls)
            tls_conn_ref(rp->cl->tls);
        j->t[j->nt++] = (sync_target){.rp = rp, .fd = fd, .tls = rp->cl->tls};
        atomic_fetch_add(&rp->refs, 1);
        rp->job = j;
        rp->state = RS_TRANSFER;
    }
    j->eof = want_eof != 0;
}

/* Puts the targets back to waiting (the snapshot could not start). */
static void ungather_locked(sync_job *j)
{
    for (int i = 0; i < j->nt; i++) {
        repl_replica *rp = j->t[i].rp;
        rp->job = NULL;
        rp->state = RS_WAIT_SYNC;
        close(j->t[i].fd);
        j->t[i].fd = -1;
        tls_conn_free(j->t[i].tls);
        j->t[i].tls = NULL;
    }
}

static void random_mark(char out[EOF_MARK_LEN + 1])
{
    char id[REPL_ID_LEN + 1];
    repl_new_id(id); /* 40 random hex digits, as Redis's mark */
    memcpy(out, id, EOF_MARK_LEN);
    out[EOF_MARK_LEN] = '\0';
}

static sync_job *job_new(void)
{
    sync_job *j = mem_calloc(1, sizeof(*j));
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        free(j);
        return NULL;
    }
    fcntl(p[1], F_SETPIPE_SZ, SYNC_PIPE_SIZE);
    j->pipe_r = p[0];
    j->pipe_w = p[1];
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    random_mark(j->mark);
    return j;
}

/* Starts one snapshot for the replicas waiting for it. On a worker thread (the snapshot's done
 * callback comes back here). */
static void sync_start(void)
{
    if (snapshot_in_progress() || atomic_load(&sync_stop))
        return;
    sync_job *j = job_new();
    if (!j)
        return;
    pthread_mutex_lock(&R.mu);
    gather_targets_locked(j);
    pthread_mutex_unlock(&R.mu);
    if (!j->nt) {
        close(j->pipe_w);
        job_free(j);
        return;
    }
    snapshot_req req = {
        .path = NULL, .sink_fd = j->pipe_w, .at_point = sync_at_point, .done = sync_done, .arg = j};
    char err[REPL_ERR_MAX];
    if (snapshot_start(&req, err, sizeof(err)) < 0) {
        /* Another snapshot got there first: the replicas wait for the next try. */
        pthread_mutex_lock(&R.mu);
        ungather_locked(j);
        pthread_mutex_unlock(&R.mu);
        for (int i = 0; i < j->nt; i++)
            repl_replica_unref(j->t[i].rp);
        j->nt = 0;
        close(j->pipe_w);
        job_free(j);
        return;
    }
    /* The writer may already fill the pipe: it waits until the forwarder reads. */
    atomic_fetch_add(&jobs_running, 1);
    if (pthread_create(&j->thread, NULL, forwarder_main, j) != 0) {
        log_error("cannot start a thread for a full sync: out of resources");
        abort(); /* the snapshot would wait on its pipe forever */
    }
    pthread_detach(j->thread);
    log_info("Starting a full sync for %d replica(s), %s", j->nt,
             j->eof ? "diskless (EOF marker)" : "through a temporary file");
}

void repl_sync_cron(void)
{
    pthread_mutex_lock(&R.mu);
    int waiting = 0;
    for (repl_replica *rp = R.replicas; rp && !waiting; rp = rp->next)
        waiting = rp->state == RS_WAIT_SYNC && rp->cl;
    pthread_mutex_unlock(&R.mu);
    if (waiting)
        sync_start();
}

/* Its duplicate socket is shut so that the forwarder moves on. */
void repl_sync_leave(repl_replica *rp)
{
    pthread_mutex_lock(&R.mu);
    sync_job *j = rp->job;
    if (j)
        for (int i = 0; i < j->nt; i++)
            if (j->t[i].rp == rp && j->t[i].fd >= 0)
                shutdown(j->t[i].fd, SHUT_RDWR);
    pthread_mutex_unlock(&R.mu);
}

void repl_sync_shutdown(void)
{
    atomic_store(&sync_stop, 1);
    pthread_mutex_lock(&R.mu);
    for (repl_replica *rp = R.replicas; rp; rp = rp->next) {
        sync_job *j = rp->job;
        if (j)
            for (int i = 0; i < j->nt; i++)
                if (j->t[i].fd >= 0)
                    shutdown(j->t[i].fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&R.mu);
    /* A forwarder ends once its snapshot does (the shut sockets make that quick). */
    int64_t logged = (int64_t)clock_mono_ms();
    while (atomic_load(&jobs_running) > 0) {
        if ((int64_t)clock_mono_ms() - logged > SYNC_WAIT_LOG_MS) {
            log_info("waiting for a full sync in progress to end");
            logged = (int64_t)clock_mono_ms();
        }
        usleep(SYNC_WAIT_US);
    }
}

/* ---- PSYNC and SYNC -------------------------------------------------------------------------- */

/* Redis's masterTryPartialResynchronization: the history asked for is ours (or our previous
 * one up to where it ended) and still in the buffer. want is the stream index asked for. */
static int can_continue_locked(const char *replid, long long offset)
{
    if (!R.backlog_on || offset < 1)
        return 0;
    int same = !strcasecmp(replid, R.replid);
    int previous = !strcasecmp(replid, R.replid2) && offset <= R.second_offset;
    if (!same && !previous)
        return 0;
    uint64_t want = (uint64_t)offset - 1;
    return want >= repl_first_kept_locked() && want <= R.offset;
}

void repl_sync_command(cmd_ctx *c, const char *replid, long long offset, int psync)
{
    client *cl = c->cl;
    if (cl->repl) /* already a replica connection: ignored, as Redis does */
        return;
    if (repl_is_replica()) {
        /* Chained replication (a replica serving replicas) is not supported yet. */
        reply_error(c, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    repl_backlog_enable();
    repl_replica *rp = repl_replica_new(cl);
    rp->capa_eof = (cl->repl_capa & REPL_CAPA_EOF) != 0;
    rp->capa_psync2 = psync ? (cl->repl_capa & REPL_CAPA_PSYNC2) != 0 : -1;
    rp->listening_port = cl->repl_listening_port;
    rp->rdb_only = (cl->repl_capa & REPL_RDB_ONLY) != 0;
    pthread_mutex_lock(&R.mu);
    if (psync && !rp->rdb_only && can_continue_locked(replid, offset)) {
        repl_replica_online_locked(rp, (uint64_t)offset - 1);
        char line[REPL_ID_LEN + 32];
        snprintf(line, sizeof(line), rp->capa_psync2 ? "CONTINUE %s" : "CONTINUE", R.replid);
        pthread_mutex_unlock(&R.mu);
        atomic_fetch_add(&R.sync_partial_ok, 1);
        log_info("Partial resynchronization request from %s accepted. Sending %llu bytes of "
                 "backlog starting from offset %lld.",
                 cl->addr, (unsigned long long)(R.offset - ((uint64_t)offset - 1)), offset);
        reply_simple(c, line);
        repl_replica_pump(rp);
        return;
    }
    pthread_mutex_unlock(&R.mu);
    if (psync && strcmp(replid, "?"))
        atomic_fetch_add(&R.sync_partial_err, 1);
    atomic_fetch_add(&R.sync_full, 1);
    log_info("Replica %s:%d asks for synchronization; full resync", rp->ip, rp->listening_port);
    /* Nothing goes to this connection but what the forwarder writes, until the snapshot is
     * there. */
    cl->flags |= CLIENT_REPL_TRANSFER;
    sync_start();
}
