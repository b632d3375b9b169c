/* Backups of instances (issue 15): rows of the backups table, their files in the backup store
 * (bstore.h), checksums, the merged export, restores, and the scheduler.
 *
 * A backup is taken by the reconciler (backup_run.c): BGSAVE on every shard's master at once
 * (one point in time per shard, forkless), then each shard's snapshot file is copied into the
 * store as shard-<i>.rdb with its SHA-256, and manifest.json describes it all (the instance's
 * configuration, shard -> slot ranges, sizes, server versions, checksums). A failed attempt is
 * retried (--backup-max-attempts, --backup-retry-delay) and reported as an event.
 *
 * Restores never trust the store: every file's SHA-256 is checked against the manifest before
 * anything is replaced. The data goes in as one merged RDB file (rdb_merge.h) given to every
 * master of the target instance as the snapshot it loads at start; in cluster mode the first
 * DFLYCLUSTER CONFIG then drops the keys of slots the node does not own. So a backup restores
 * into any shard count (keys are re-sharded by slot), at the cost of each master loading the
 * whole data set once.
 *
 * Threads: the model functions (backup.c) use the calling thread's database connection; the
 * runner (backup_run.c) runs on the reconciler's loop thread. */
#ifndef DFLY_CONTROL_BACKUP_H
#define DFLY_CONTROL_BACKUP_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "ids.h"
#include "store.h"

#define BACKUP_MANIFEST "manifest.json"
#define BACKUP_MANIFEST_FORMAT 1
#define BACKUP_ERR_MAX 512

#define BK_PENDING "pending"
#define BK_RUNNING "running"
#define BK_SUCCEEDED "succeeded"
#define BK_FAILED "failed"
#define BK_TRIGGER_MANUAL "manual"
#define BK_TRIGGER_SCHEDULE "schedule"

typedef struct backup_row {
    char id[ID_MAX];
    char tenant_id[ID_MAX];
    char instance_id[ID_MAX];
    char trigger[STATUS_MAX];
    char status[STATUS_MAX];
    int attempts;
    char error[REASON_MAX];
    long long size;
    int shards;
    char *manifest; /* JSON text, malloc'd; NULL until it succeeded */
    char operation_id[ID_MAX];
    long long next_attempt_at, created_at, updated_at, started_at, finished_at;
} backup_row;

/* Backup id as tenant sees it (NULL: any). Returns 0 or -1. Free with backup_clear. */
int backup_get(const char *id, const char *tenant, backup_row *out);
void backup_clear(backup_row *b);
/* The API's JSON of a backup. */
json_t *backup_json(const backup_row *b);
/* A new pending backup of instance (and its operation), in the caller's transaction. */
int backup_create(const char *tenant, const char *instance_id, int shards, const char *trigger,
                  char *id, char *op_id);
/* Removes the files and the row of backup id. Returns 0 or -1 with err. */
int backup_destroy(const char *id, char *err, size_t errlen);
/* 1 when a restore waits for backup id (it must not be deleted). */
int backup_in_use(const char *id);

/* Checks every shard file of a succeeded backup against the SHA-256 of its manifest. Returns
 * 0, or -1 with err ("shard 1: checksum mismatch ..."). */
int backup_verify(const backup_row *b, char *err, size_t errlen);
/* Writes the backup as one RDB file to out, after backup_verify. Returns 0 or -1 with err. */
int backup_export(const backup_row *b, FILE *out, char *err, size_t errlen);
/* Writes the merged, verified RDB of backup id into the file path. Returns 0 or -1. */
int backup_export_file(const char *id, const char *path, char *err, size_t errlen);

/* Schedules and retention: JSON values of the API (see api/openapi.yaml). Return 0, or -1
 * with err saying what is wrong. */
int backup_schedule_check(json_t *v, char *err, size_t errlen);
int backup_retention_check(json_t *v, char *err, size_t errlen);
/* When the schedule (its JSON text) fires next after now (ms), or 0 when it never does. */
int64_t backup_schedule_next(const char *schedule, int64_t now_ms);

/* The reconciler's part (backup_run.c), once per pass: scheduled backups, running backups,
 * retention. */
void backups_tick(void);
/* Forgets in-memory state (the reconciler stops). */
void backups_stop(void);

#endif
