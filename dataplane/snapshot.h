/* Forkless RDB snapshots: SAVE, BGSAVE, save points, --snapshot_cron and the snapshot taken on
 * the way out.
 *
 * A snapshot starts as a transaction that holds every shard for a moment: that is its point in
 * time. From then on each shard serializes its own tables bucket by bucket on its own thread
 * while it keeps serving; a write to a bucket not yet serialized first serializes that bucket
 * (db.c calls snapshot_before_write), so the file holds the data as it was at the point in time.
 * Tables do not resize while their shard is being serialized. A writer thread appends the
 * shards' chunks to a temporary file (each chunk opens with SELECTDB), adds the checksum, fsyncs,
 * renames it over the target and fsyncs the directory. See docs/architecture.md. */
#ifndef DFLY_SNAPSHOT_H
#define DFLY_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

struct shard;

typedef struct snapshot_req {
    const char *path; /* the file to write (temporary file beside it, renamed at the end) */
    /* With path NULL: the stream goes to this descriptor instead (a replica's socket; blocking
     * or not), with no encryption, fsync or rename. The caller keeps and closes it. */
    int sink_fd;
    int aof_base; /* write aux "aof-base" 1 (a journal's base file) */
    /* Called once, on whichever thread runs it, while every shard is held: the point in time.
     * The journal switches files here. May be NULL. */
    void (*at_point)(void *arg);
    /* Called on the thread that called snapshot_start when the file is complete (ok 1) or the
     * snapshot failed (ok 0, err says why). May be NULL. */
    void (*done)(void *arg, int ok, const char *err);
    void *arg;
} snapshot_req;

/* Starts a snapshot; from a worker thread. Returns 0, SNAPSHOT_BUSY with err when one is
 * already running, or -1 with err when the file cannot be created. */
#define SNAPSHOT_BUSY (-2)
int snapshot_start(const snapshot_req *req, char *err, size_t errlen);
int snapshot_in_progress(void);

/* The hook db.c calls before it changes a key of table t (any database) of shard s: serializes
 * the key's bucket first when a snapshot still has to. Cheap when no snapshot runs. */
void snapshot_before_write_slow(struct shard *s, int dbid, const char *key, size_t len);
static inline void snapshot_before_write(struct shard *s, int dbid, const char *key, size_t len)
{
    extern atomic_int snapshot_active_any;
    if (__builtin_expect(atomic_load_explicit(&snapshot_active_any, memory_order_relaxed), 0))
        snapshot_before_write_slow(s, dbid, key, len);
}

/* FLUSHALL, FLUSHDB and SWAPDB call this (holding shard s) before they change databases
 * wholesale: the rest of s's snapshot is written at once. */
void snapshot_flush_shard(struct shard *s);

/* From a thread that is not a worker (shutdown): takes a snapshot to path on worker 0 and
 * waits for it. Returns 0, or -1 with err. */
int snapshot_save_blocking(const char *path, char *err, size_t errlen);

/* Writes since the point in time of the last successful snapshot (Redis's dirty counter). */
uint64_t snapshot_changes_since_save(void);

/* The rdb_* lines of INFO persistence. */
void snapshot_info(buf *out);

/* ---- t_save.c: SAVE, BGSAVE and what starts snapshots by itself ---- */

/* BGSAVE SCHEDULE: a snapshot as soon as the running one is done. Any thread. */
void save_schedule(void);
/* Worker 0's timer: starts a snapshot when a save point, the cron schedule or a scheduled
 * BGSAVE calls for one. */
void save_cron(void);

#endif
