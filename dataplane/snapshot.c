/* Forkless snapshots; see snapshot.h and docs/architecture.md ("Snapshots").
 *
 * Life of a snapshot:
 *   1. snapshot_start (a worker thread) creates the temporary file and the writer thread, and
 *      runs a transaction over every shard. Its body is the point in time: each shard freezes
 *      its tables (no resize, so every key keeps its bucket) and gets a bitmap of its buckets,
 *      the function libraries are written, and the caller's at_point runs.
 *   2. Each shard's thread then serializes its buckets in slices (worker_background), setting
 *      a bucket's bit as it goes. A write to a bucket whose bit is clear serializes that bucket
 *      first (snapshot_before_write), on whichever thread holds the shard. So every key is
 *      written once, as it was at the point in time; keys created later are never written.
 *   3. Shards hand chunks of about SNAP_CHUNK bytes to the writer thread, which appends them
 *      (each opens with SELECTDB) to the file, encrypting if configured, and keeps the CRC64.
 *      Shards wait while too many bytes are queued, so memory stays bounded.
 *   4. When the last shard is done the writer adds EOF and the checksum, fsyncs, renames the
 *      file over the target, fsyncs the directory and reports to the starting thread. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "crc64.h"
#include "crypt.h"
#include "db.h"
#include "log.h"
#include "migration.h"
#include "rdb.h"
#include "script.h"
#include "server.h"
#include "stats.h"
#include "tx.h"
#include "worker.h"
#include "zmalloc.h"

#define SNAP_CHUNK (256 * 1024)         /* bytes a shard gathers before queueing them */
#define SNAP_QUEUE_MAX (8 * SNAP_CHUNK) /* queued bytes above which shards wait */
#define SNAP_SLICE_BUCKETS 1024         /* buckets one background slice visits at most */
#define SNAP_PREFETCH 8                 /* buckets ahead whose first entry is prefetched */
#define SNAP_ERR_MAX 256
#define SNAP_SOCKET_POLL_MS 1000

/* RDB opcodes (Redis's rdb.h). */
#define RDB_OPCODE_DF_MASK 220 /* Dragonfly's key properties: we write memcached flags */
#define DF_MASK_MC_FLAGS (1u << 1)
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255

/* Writers that need snapshot_before_write: a running snapshot, and slot migrations still
 * serializing (migration.h). A count, so that either may end while the other runs. */
atomic_int snapshot_active_any;

typedef struct chunk {
    struct chunk *next;
    buf data;
} chunk;

/* The serialization state of one database of a shard: which buckets of its two arrays (as
 * they were at the point in time) are written. Buckets past nbits did not exist then. */
typedef struct snap_db {
    uint8_t *done[2];
    size_t nbits[2];
} snap_db;

struct snap_job;

typedef struct snap_shard {
    struct snap_job *job;
    shard *s;
    snap_db *dbs;
    int db, arr; /* the cursor: database, array and bucket */
    size_t idx;
    buf out;      /* the chunk being filled */
    int chunk_db; /* the database the chunk's last SELECTDB named, -1 before the first */
    _Atomic uint64_t keys;
} snap_shard;

typedef struct snap_job {
    snapshot_req req;
    char *path, *tmp_path;
    int fd;
    int to_fd; /* writing to the caller's descriptor (snapshot_req.sink_fd) */
    worker *origin;
    snap_shard *shards;
    atomic_int shards_left;
    int64_t start_ms;
    uint64_t dirty_at_point;
    int64_t point_ms;            /* wall clock at the point in time: keys alive then are written */
    _Atomic uint64_t keys_total; /* keys at the point in time (INFO current_save_keys_total) */
    /* The writer thread and its queue. */
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk *head, *tail;
    _Atomic size_t queued; /* bytes in the queue */
    int end;               /* every shard is done: finish the file */
    uint64_t crc;
    crypt_writer *cw;
    buf enc;
    int ok;
    char err[SNAP_ERR_MAX];
    msg done_msg;
} snap_job;

/* What INFO persistence reports. */
static struct {
    _Atomic(snap_job *) running;
    _Atomic int64_t last_status_ok; /* 1 ok, 0 err */
    _Atomic int64_t last_time_sec;
    _Atomic int64_t saves;
    _Atomic uint64_t dirty_base; /* dirty counter value at the last successful save's point */
    _Atomic uint64_t last_keys;
} snap_stats = {.last_status_ok = 1, .last_time_sec = -1};

static uint64_t dirty_sum(void)
{
    uint64_t d = 0;
    for (int i = 0; i < server.nshards; i++)
        d += atomic_load_explicit(&shards[i]->stats.dirty, memory_order_relaxed);
    return d;
}

int snapshot_in_progress(void)
{
    return atomic_load(&snap_stats.running) != NULL;
}

/* ---- the writer thread -------------------------------------------------------------------- */

static void job_fail(snap_job *j, const char *what, int err)
{
    if (!j->ok)
        return;
    j->ok = 0;
    snprintf(j->err, sizeof(j->err), "%s %s: %s", what, j->tmp_path, strerror(err));
}

static void write_all(snap_job *j, const void *p, size_t n)
{
    const char *c = p;
    while (j->ok && n > 0) {
        ssize_t w = write(j->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = j->fd, .events = POLLOUT};
            poll(&p, 1, SNAP_SOCKET_POLL_MS); /* a socket sink: wait for room */
            continue;
        }
        if (w < 0) {
            job_fail(j, "cannot write", errno);
            return;
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Appends plaintext to the file: checksummed, then encrypted when a key is configured. */
static void emit(snap_job *j, const void *p, size_t n)
{
    j->crc = crc64(j->crc, p, n);
    if (!j->cw) {
        write_all(j, p, n);
        return;
    }
    buf_clear(&j->enc);
    if (crypt_writer_feed(j->cw, p, n, &j->enc) < 0) {
        if (j->ok) {
            j->ok = 0;
            snprintf(j->err, sizeof(j->err), "cannot encrypt %s", j->tmp_path);
        }
        return;
    }
    write_all(j, j->enc.data, j->enc.len);
}

static int fsync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* EOF, checksum, fsync, rename, fsync of the directory. */
static void finish_file(snap_job *j)
{
    unsigned char eof = RDB_OPCODE_EOF;
    emit(j, &eof, 1);
    unsigned char sum[8];
    for (int i = 0; i < 8; i++)
        sum[i] = (unsigned char)(j->crc >> (8 * i));
    if (j->cw) {
        buf_clear(&j->enc);
        if (crypt_writer_feed(j->cw, sum, sizeof(sum), &j->enc) < 0 ||
            crypt_writer_finish(j->cw, &j->enc) < 0) {
            if (j->ok) {
                j->ok = 0;
                snprintf(j->err, sizeof(j->err), "cannot encrypt %s", j->tmp_path);
            }
        }
        write_all(j, j->enc.data, j->enc.len);
    } else {
        write_all(j, sum, sizeof(sum));
    }
    if (j->to_fd) {
        j->fd = -1; /* the caller's */
        return;
    }
    if (j->ok && fdatasync(j->fd) < 0)
        job_fail(j, "cannot fsync", errno);
    if (close(j->fd) < 0)
        job_fail(j, "cannot close", errno);
    j->fd = -1;
    if (j->ok && rename(j->tmp_path, j->path) < 0)
        job_fail(j, "cannot rename", errno);
    if (j->ok && fsync_dir_of(j->path) < 0)
        job_fail(j, "cannot fsync the directory of", errno);
    if (!j->ok)
        unlink(j->tmp_path);
}

static void job_done_msg(void *arg);

static void *writer_main(void *arg)
{
    snap_job *j = arg;
    pthread_setname_np(pthread_self(), "dfly-snapshot");
    for (;;) {
        pthread_mutex_lock(&j->mu);
        while (!j->head && !j->end)
            pthread_cond_wait(&j->cv, &j->mu);
        chunk *c = j->head;
        if (c) {
            j->head = c->next;
            if (!j->head)
                j->tail = NULL;
        }
        int end = j->end;
        pthread_mutex_unlock(&j->mu);
        if (!c) {
            if (end)
                break;
            continue;
        }
        emit(j, c->data.data, c->data.len); /* after a failure emit only drains */
        atomic_fetch_sub(&j->queued, c->data.len);
        buf_free(&c->data);
        free(c);
    }
    finish_file(j);
    j->done_msg.fn = job_done_msg;
    j->done_msg.arg = j;
    worker_post_msg(j->origin, &j->done_msg);
    return NULL;
}

static void queue_chunk(snap_job *j, buf *data)
{
    chunk *c = mem_malloc(sizeof(*c));
    c->next = NULL;
    c->data = *data;
    buf_init(data);
    atomic_fetch_add(&j->queued, c->data.len);
    pthread_mutex_lock(&j->mu);
    if (j->tail)
        j->tail->next = c;
    else
        j->head = c;
    j->tail = c;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void writer_end(snap_job *j)
{
    pthread_mutex_lock(&j->mu);
    j->end = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* ---- serializing ------------------------------------------------------------------------- */

static void put_u64le(buf *out, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    buf_append(out, b, sizeof(b));
}

static void put_u32le(buf *out, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    buf_append(out, b, sizeof(b));
}

/* A memcached item's flags, as Dragonfly writes them. Only items with flags get the record, so
 * files of data without them stay loadable by Redis. */
static void write_mc_flags(buf *out, const entry *e)
{
    entry_mc m;
    if (!e->has_mc || !entry_get_mc(e, &m) || m.flags == 0)
        return;
    buf_append_char(out, (char)RDB_OPCODE_DF_MASK);
    put_u32le(out, DF_MASK_MC_FLAGS);
    put_u32le(out, m.flags);
}

/* Appends one key record: [EXPIRETIME_MS ms] [DF_MASK mask flags] type key value. rdb_save_object
 * writes the type and the value; the key goes between them. */
static void write_entry(snap_shard *ss, int dbid, const entry *e)
{
    buf *out = &ss->out;
    size_t mark = out->len;
    int mark_db = ss->chunk_db;
    if (ss->chunk_db != dbid) {
        buf_append_char(out, (char)RDB_OPCODE_SELECTDB);
        rdb_save_len(out, (uint64_t)dbid);
        ss->chunk_db = dbid;
    }
    if (e->has_expire) {
        buf_append_char(out, (char)RDB_OPCODE_EXPIRETIME_MS);
        put_u64le(out, (uint64_t)entry_expire(e));
    }
    write_mc_flags(out, e);
    size_t at = out->len;
    if (rdb_save_object(out, e) < 0) {
        size_t klen;
        const char *k = entry_key(e, &klen);
        log_warning("snapshot: key '%.*s' has a type snapshots cannot hold yet; not saved",
                    (int)(klen > 64 ? 64 : klen), k);
        out->len = mark;
        ss->chunk_db = mark_db;
        return;
    }
    size_t klen;
    const char *k = entry_key(e, &klen);
    buf key;
    buf_init(&key);
    rdb_save_string(&key, k, klen);
    buf_reserve(out, key.len);
    memmove(out->data + at + 1 + key.len, out->data + at + 1, out->len - at - 1);
    memcpy(out->data + at + 1, key.data, key.len);
    out->len += key.len;
    out->data[out->len] = '\0';
    buf_free(&key);
    atomic_fetch_add_explicit(&ss->keys, 1, memory_order_relaxed);
}

static void write_bucket(snap_shard *ss, int dbid, entry *link, int64_t now_ms)
{
    for (entry *e = table_untag(link); e; e = table_untag(e->next))
        if (!db_expired(e, now_ms))
            write_entry(ss, dbid, e);
}

static inline int bit_get(const uint8_t *m, size_t i)
{
    return (m[i >> 3] >> (i & 7)) & 1;
}
static inline void bit_set(uint8_t *m, size_t i)
{
    m[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Writes bucket idx of array arr of database dbid unless it is written already. */
static void visit_bucket(snap_shard *ss, int dbid, int arr, size_t idx, int64_t now_ms)
{
    snap_db *sd = &ss->dbs[dbid];
    if (idx >= sd->nbits[arr] || bit_get(sd->done[arr], idx))
        return;
    bit_set(sd->done[arr], idx);
    write_bucket(ss, dbid, ss->s->dbs[dbid].keys.buckets[arr][idx], now_ms);
}

void snapshot_before_write_slow(shard *s, int dbid, const char *key, size_t len)
{
    migration_before_write(s, dbid, key, len);
    snap_shard *ss = s->snap;
    if (!ss)
        return;
    table *t = &s->dbs[dbid].keys;
    uint64_t h = table_hash(key, len);
    int64_t now = ss->job->point_ms;
    /* The key is in one of the arrays, or a new key goes into the newer one: write both
     * candidate buckets, so that neither its old value nor a new key's presence can leak. */
    for (int arr = 0; arr < 2; arr++)
        if (ss->dbs[dbid].nbits[arr])
            visit_bucket(ss, dbid, arr, h & (t->size[arr] - 1), now);
    if (ss->out.len >= SNAP_CHUNK) {
        queue_chunk(ss->job, &ss->out);
        ss->chunk_db = -1;
    }
}

static void shard_finish(snap_shard *ss)
{
    shard *s = ss->s;
    for (int d = 0; d < s->ndbs; d++) {
        s->dbs[d].keys.frozen--; /* a count: a slot migration may freeze it too */
        free(ss->dbs[d].done[0]);
        free(ss->dbs[d].done[1]);
    }
    free(ss->dbs);
    ss->dbs = NULL;
    s->snap = NULL;
    if (ss->out.len)
        queue_chunk(ss->job, &ss->out);
    buf_free(&ss->out);
    if (atomic_fetch_sub(&ss->job->shards_left, 1) == 1)
        writer_end(ss->job);
}

/* Advances the cursor by up to `budget` buckets (or until a chunk is full). Returns 1 when the
 * shard is completely written. */
static int advance(snap_shard *ss, size_t budget)
{
    shard *s = ss->s;
    int64_t now = ss->job->point_ms;
    while (ss->db < s->ndbs) {
        snap_db *sd = &ss->dbs[ss->db];
        while (ss->arr < 2) {
            entry **b = s->dbs[ss->db].keys.buckets[ss->arr];
            while (ss->idx < sd->nbits[ss->arr]) {
                if (budget-- == 0 || ss->out.len >= SNAP_CHUNK)
                    return 0;
                /* Entries are cache misses: ask for one a few buckets ahead. */
                if (ss->idx + SNAP_PREFETCH < sd->nbits[ss->arr])
                    __builtin_prefetch(table_untag(b[ss->idx + SNAP_PREFETCH]));
                visit_bucket(ss, ss->db, ss->arr, ss->idx, now);
                ss->idx++;
            }
            ss->arr++;
            ss->idx = 0;
        }
        ss->db++;
        ss->arr = 0;
    }
    return 1;
}

/* One background slice on the shard's own thread. */
static int shard_slice(void *arg)
{
    snap_shard *ss = arg;
    if (!tx_shard_idle(ss->s->id) || atomic_load(&ss->job->queued) > SNAP_QUEUE_MAX)
        return WORKER_BG_LATER;
    int finished = advance(ss, SNAP_SLICE_BUCKETS);
    if (ss->out.len >= SNAP_CHUNK) {
        queue_chunk(ss->job, &ss->out);
        ss->chunk_db = -1;
    }
    if (!finished)
        return WORKER_BG_MORE;
    shard_finish(ss);
    return WORKER_BG_DONE;
}

void snapshot_flush_shard(shard *s)
{
    migration_flush_shard(s);
    snap_shard *ss = s->snap;
    if (!ss)
        return;
    /* FLUSHALL, FLUSHDB or SWAPDB while this shard is being written: write the rest now, as it
     * was, before the databases change wholesale. The background slice sees s->snap gone. */
    while (!advance(ss, SIZE_MAX)) {
        queue_chunk(ss->job, &ss->out);
        ss->chunk_db = -1;
    }
    ss->db = s->ndbs; /* the slice, when it runs, finds nothing left */
}

/* ---- starting and finishing ---------------------------------------------------------------- */

static void shard_start_msg(void *arg)
{
    snap_shard *ss = arg;
    worker_background(shard_slice, ss);
}

/* The point in time: every shard is held. */
static void point_body(void *arg)
{
    snap_job *j = arg;
    for (int i = 0; i < server.nshards; i++) {
        shard *s = shards[i];
        snap_shard *ss = &j->shards[i];
        ss->job = j;
        ss->s = s;
        ss->chunk_db = -1;
        buf_init(&ss->out);
        ss->dbs = mem_calloc((size_t)s->ndbs, sizeof(snap_db));
        for (int d = 0; d < s->ndbs; d++) {
            table *t = &s->dbs[d].keys;
            t->frozen++;
            atomic_fetch_add(&j->keys_total, table_count(t));
            for (int arr = 0; arr < 2; arr++) {
                size_t n = t->buckets[arr] ? t->size[arr] : 0;
                ss->dbs[d].nbits[arr] = n;
                ss->dbs[d].done[arr] = n ? mem_calloc((n + 7) / 8, 1) : NULL;
            }
        }
        s->snap = ss;
    }
    buf fns;
    buf_init(&fns);
    function_save_rdb(&fns);
    if (fns.len)
        queue_chunk(j, &fns);
    buf_free(&fns);
    j->dirty_at_point = dirty_sum();
    j->point_ms = clock_wall_ms();
    atomic_fetch_add(&snapshot_active_any, 1);
    if (j->req.at_point)
        j->req.at_point(j->req.arg);
}

static void point_done(void *arg)
{
    snap_job *j = arg;
    for (int i = 0; i < server.nshards; i++)
        worker_post(workers[i], shard_start_msg, &j->shards[i]);
}

static void job_free(snap_job *j)
{
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    crypt_writer_free(j->cw);
    buf_free(&j->enc);
    free(j->shards);
    free(j->path);
    free(j->tmp_path);
    free(j);
}

/* On the starting thread, once the writer is done. */
static void job_done_msg(void *arg)
{
    snap_job *j = arg;
    pthread_join(j->writer, NULL);
    int64_t secs = (clock_wall_ms() - j->start_ms + 500) / 1000;
    uint64_t keys = 0;
    for (int i = 0; i < server.nshards; i++)
        keys += atomic_load(&j->shards[i].keys);
    /* Only snapshot files (SAVE, BGSAVE, automatic ones) count as saves in INFO and LASTSAVE;
     * a journal's base or a replica's stream do not, as in Redis. */
    int is_save = !j->to_fd && !j->req.aof_base;
    if (is_save) {
        atomic_store(&snap_stats.last_time_sec, secs);
        atomic_store(&snap_stats.last_status_ok, j->ok);
        atomic_store(&snap_stats.last_keys, keys);
    }
    if (j->ok) {
        if (is_save) {
            atomic_store(&snap_stats.dirty_base, j->dirty_at_point);
            atomic_store(&server.lastsave, j->start_ms / 1000);
            atomic_fetch_add(&snap_stats.saves, 1);
        }
        log_info("snapshot: %llu keys written to %s in %.3f s", (unsigned long long)keys, j->path,
                 (double)(clock_wall_ms() - j->start_ms) / 1000.0);
    } else {
        log_warning("snapshot failed: %s", j->err);
    }
    atomic_fetch_sub(&snapshot_active_any, 1);
    atomic_store(&snap_stats.running, NULL);
    if (j->req.done)
        j->req.done(j->req.arg, j->ok, j->ok ? NULL : j->err);
    job_free(j);
}

static void aux(buf *out, const char *key, const char *val)
{
    buf_append_char(out, (char)RDB_OPCODE_AUX);
    rdb_save_string(out, key, strlen(key));
    rdb_save_string(out, val, strlen(val));
}

static void write_header(buf *out, int aof_base)
{
    char v[64];
    snprintf(v, sizeof(v), "REDIS%04d", RDB_VERSION);
    buf_append(out, v, strlen(v));
    aux(out, "redis-ver", DFLY_REDIS_VERSION);
    aux(out, "redis-bits", sizeof(void *) == 8 ? "64" : "32");
    snprintf(v, sizeof(v), "%lld", (long long)(clock_wall_ms() / 1000));
    aux(out, "ctime", v);
    snprintf(v, sizeof(v), "%lld", (long long)zmalloc_used());
    aux(out, "used-mem", v);
    aux(out, "aof-base", aof_base ? "1" : "0");
}

static int open_target(snap_job *j, char *err, size_t errlen)
{
    if (j->to_fd) {
        j->tmp_path = mem_strdup(j->path);
        return 0;
    }
    if (server.cfg.snapshot_encryption_key_file && *server.cfg.snapshot_encryption_key_file) {
        unsigned char key[CRYPT_KEY_LEN];
        if (crypt_key_load(server.cfg.snapshot_encryption_key_file, key, err, errlen) < 0)
            return -1;
        j->cw = crypt_writer_new(key);
        memset(key, 0, sizeof(key));
        if (!j->cw) {
            snprintf(err, errlen, "cannot set up snapshot encryption");
            return -1;
        }
    }
    size_t n = strlen(j->path) + 32;
    j->tmp_path = mem_malloc(n);
    snprintf(j->tmp_path, n, "%s.tmp-%d", j->path, (int)getpid());
    j->fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", j->tmp_path, strerror(errno));
        return -1;
    }
    return 0;
}

int snapshot_start(const snapshot_req *req, char *err, size_t errlen)
{
    snap_job *j = mem_calloc(1, sizeof(*j));
    snap_job *none = NULL;
    if (!atomic_compare_exchange_strong(&snap_stats.running, &none, j)) {
        free(j);
        snprintf(err, errlen, "Background save already in progress");
        return SNAPSHOT_BUSY;
    }
    j->req = *req;
    j->to_fd = req->path == NULL;
    j->path = mem_strdup(j->to_fd ? "(replica stream)" : req->path);
    j->fd = j->to_fd ? req->sink_fd : -1;
    j->ok = 1;
    j->origin = current_worker;
    j->start_ms = clock_wall_ms();
    j->crc = 0;
    buf_init(&j->enc);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (open_target(j, err, errlen) < 0) {
        atomic_store(&snap_stats.running, NULL);
        if (req->path && !req->aof_base)
            atomic_store(&snap_stats.last_status_ok, 0);
        job_free(j);
        return -1;
    }
    j->shards = mem_calloc((size_t)server.nshards, sizeof(snap_shard));
    atomic_init(&j->shards_left, server.nshards);
    buf head;
    buf_init(&head);
    write_header(&head, req->aof_base);
    queue_chunk(j, &head);
    pthread_create(&j->writer, NULL, writer_main, j);
    shardset all;
    shardset_all(&all);
    if (tx_run(&all, point_body, point_done, j))
        point_done(j);
    return 0;
}

uint64_t snapshot_changes_since_save(void)
{
    uint64_t dirty = dirty_sum(), base = atomic_load(&snap_stats.dirty_base);
    return dirty >= base ? dirty - base : dirty;
}

/* ---- INFO --------------------------------------------------------------------------------- */

void snapshot_info(buf *out)
{
    snap_job *j = atomic_load(&snap_stats.running);
    uint64_t processed = 0, total = 0;
    int64_t current = -1;
    if (j) {
        total = atomic_load(&j->keys_total);
        for (int i = 0; i < server.nshards && j->shards; i++)
            processed += atomic_load(&j->shards[i].keys);
        current = (clock_wall_ms() - j->start_ms) / 1000;
    }
    buf_printf(out,
               "current_cow_peak:0\r\n"
               "current_cow_size:0\r\n"
               "current_fork_perc:0.00\r\n"
               "current_save_keys_processed:%llu\r\n"
               "current_save_keys_total:%llu\r\n"
               "rdb_changes_since_last_save:%llu\r\n"
               "rdb_bgsave_in_progress:%d\r\n"
               "rdb_last_save_time:%lld\r\n"
               "rdb_last_bgsave_status:%s\r\n"
               "rdb_last_bgsave_time_sec:%lld\r\n"
               "rdb_current_bgsave_time_sec:%lld\r\n"
               "rdb_saves:%lld\r\n"
               "rdb_last_cow_size:0\r\n",
               (unsigned long long)processed, (unsigned long long)total,
               (unsigned long long)snapshot_changes_since_save(), j ? 1 : 0,
               (long long)atomic_load(&server.lastsave),
               atomic_load(&snap_stats.last_status_ok) ? "ok" : "err",
               (long long)atomic_load(&snap_stats.last_time_sec), (long long)current,
               (long long)atomic_load(&snap_stats.saves));
}

/* ---- saving from outside the workers (shutdown) ------------------------------------------- */

typedef struct blocking_save {
    const char *path;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished, ok, busy;
    char err[SNAP_ERR_MAX];
} blocking_save;

/* Snapshots of others (BGSAVE, the journal's base file, a replica's full sync) that may take
 * the slot between our wait and our start, each waited for, before the shutdown save gives up. */
#define BLOCKING_SAVE_TRIES 16

static void blocking_finish(blocking_save *b, int ok, const char *err)
{
    pthread_mutex_lock(&b->mu);
    b->ok = ok;
    if (err)
        snprintf(b->err, sizeof(b->err), "%s", err);
    b->finished = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void blocking_done(void *arg, int ok, const char *err)
{
    blocking_finish(arg, ok, err);
}

static void blocking_start_msg(void *arg)
{
    blocking_save *b = arg;
    snapshot_req req = {.path = b->path, .done = blocking_done, .arg = b};
    char err[SNAP_ERR_MAX];
    int rc = snapshot_start(&req, err, sizeof(err));
    if (rc < 0) {
        b->busy = rc == SNAPSHOT_BUSY;
        blocking_finish(b, 0, err);
    }
}

int snapshot_save_blocking(const char *path, char *err, size_t errlen)
{
    blocking_save b = {.path = path};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    for (int try = 0; try < BLOCKING_SAVE_TRIES; try++) {
        /* A snapshot already running (BGSAVE) finishes first: its file is older than now. */
        while (snapshot_in_progress())
            usleep(1000);
        b.finished = b.busy = 0;
        worker_post(workers[0], blocking_start_msg, &b);
        pthread_mutex_lock(&b.mu);
        while (!b.finished)
            pthread_cond_wait(&b.cv, &b.mu);
        pthread_mutex_unlock(&b.mu);
        if (!b.busy)
            break;
    }
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    if (!b.ok)
        snprintf(err, errlen, "%s", b.err);
    return b.ok ? 0 : -1;
}
