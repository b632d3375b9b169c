/* The reconciler's part of backups: schedules fire, attempts run as small steps across passes
 * (BGSAVE on every shard's master at once, then polls of INFO persistence, then the copy into
 * the store), failures are retried, retention prunes. Loop thread only.
 *
 * What an attempt in progress waits for is kept in memory (jobs); a backup found running
 * without one (the daemon restarted) simply starts a new attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "bstore.h"
#include "config.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "mem.h"
#include "node/resp.h"
#include "reconciler_int.h"
#include "topology.h"

#define SHARDS_LIMIT 64
#define INFO_OUT_MAX 8192
#define CALL_OUT_MAX 512
#define VERSION_MAX 32
#define SNAPSHOT_TIMEOUT_MS (10 * 60 * 1000)
#define FILE_NAME_MAX 32
#define PROGRESS_STARTED 10
#define PROGRESS_SAVED 60

typedef struct job {
    char backup_id[ID_MAX];
    char instance_id[ID_MAX];
    char password[SECRET_MAX];
    int n;
    node_row masters[SHARDS_LIMIT];
    long long saves_before[SHARDS_LIMIT];
    int saved[SHARDS_LIMIT];
    char version[SHARDS_LIMIT][VERSION_MAX];
    int64_t started_ms;
    struct job *next;
} job;

static job *jobs;

static job *job_find(const char *backup_id)
{
    for (job *j = jobs; j; j = j->next)
        if (!strcmp(j->backup_id, backup_id))
            return j;
    return NULL;
}

static void job_free(job *j)
{
    for (job **pp = &jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    free(j);
}

void backups_stop(void)
{
    while (jobs)
        job_free(jobs);
}

static int call(const job *j, const node_row *nd, char *out, size_t outlen, int argc,
                const char *const *argv)
{
    return resp_call(nd->host, nd->admin_port, j->password, (int)ctl_cfg.node_call_timeout_ms, out,
                     outlen, argc, argv);
}

/* ---- outcome -------------------------------------------------------------------------------- */

static void row_update(const char *sql, const char *id, const char *text, long long a, long long b)
{
    sqlite3_stmt *st = db_prepare(sql);
    if (!st)
        return;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, text);
    sqlite3_bind_int64(st, 3, a);
    sqlite3_bind_int64(st, 4, b);
    sqlite3_bind_int64(st, 5, ids_now_ms());
    db_step_done(st);
    db_done(st);
}

/* An attempt failed: retried after --backup-retry-delay, or failed for good after
 * --backup-max-attempts. */
static void attempt_fail(const backup_row *b, job *j, const char *why)
{
    if (j)
        job_free(j);
    int final = b->attempts >= ctl_cfg.backup_max_attempts;
    long long now = ids_now_ms();
    if (db_begin() != SQLITE_OK)
        return;
    if (final) {
        row_update("UPDATE backups SET status = 'failed', error = ?2, finished_at = ?3, "
                   "started_at = coalesce(started_at, ?3), updated_at = ?5 WHERE id = ?1",
                   b->id, why, now, 0);
        store_operation_finish_one(b->operation_id, OP_FAILED, why);
        store_event(b->instance_id, "backup_failed", NULL, NULL, NULL,
                    "backup %s failed after %d attempt(s): %s", b->id, b->attempts, why);
        log_warning("backup %s of %s failed: %s", b->id, b->instance_id, why);
    } else {
        row_update("UPDATE backups SET status = 'pending', error = ?2, next_attempt_at = ?3, "
                   "updated_at = ?5 WHERE id = ?1",
                   b->id, why, now + ctl_cfg.backup_retry_delay_ms, 0);
        store_event(b->instance_id, "backup_retry", NULL, NULL, NULL,
                    "backup %s attempt %d failed (%s); retrying in %lld ms", b->id, b->attempts,
                    why, ctl_cfg.backup_retry_delay_ms);
    }
    if (db_commit() != SQLITE_OK)
        db_rollback();
}

/* ---- an attempt ----------------------------------------------------------------------------- */

/* BGSAVE on master k; a snapshot already running gets ours queued behind it. */
static int snapshot_ask(job *j, int k, char *why, size_t whylen)
{
    char info[INFO_OUT_MAX], out[CALL_OUT_MAX];
    static const char *const persistence[] = {"INFO", "persistence"};
    static const char *const server[] = {"INFO", "server"};
    static const char *const bgsave[] = {"BGSAVE"};
    static const char *const schedule[] = {"BGSAVE", "SCHEDULE"};
    node_row *m = &j->masters[k];
    if (call(j, m, info, sizeof(info), 2, server) == RESP_OK &&
        resp_info_field(info, "dfly_version", j->version[k], VERSION_MAX) < 0)
        resp_info_field(info, "redis_version", j->version[k], VERSION_MAX);
    if (call(j, m, info, sizeof(info), 2, persistence) != RESP_OK) {
        snprintf(why, whylen, "shard %d: INFO persistence: %.300s", m->shard, info);
        return -1;
    }
    j->saves_before[k] = resp_info_ll(info, "rdb_saves", 0);
    int rc = call(j, m, out, sizeof(out), 1, bgsave);
    if (rc == RESP_ERROR && strstr(out, "progress"))
        rc = call(j, m, out, sizeof(out), 2, schedule);
    if (rc != RESP_OK) {
        snprintf(why, whylen, "shard %d: BGSAVE: %.300s", m->shard, out);
        return -1;
    }
    return 0;
}

/* Starts an attempt: every shard's master must run. */
static void attempt_start(backup_row *b)
{
    char why[BACKUP_ERR_MAX];
    instance_row in;
    b->attempts++;
    sqlite3_stmt *st = db_prepare("UPDATE backups SET status = 'running', attempts = ?2, "
                                  "started_at = coalesce(started_at, ?3), updated_at = ?3 "
                                  "WHERE id = ?1");
    db_bind_text(st, 1, b->id);
    sqlite3_bind_int(st, 2, b->attempts);
    sqlite3_bind_int64(st, 3, ids_now_ms());
    db_step_done(st);
    db_done(st);
    store_operation_progress_one(b->operation_id, PROGRESS_STARTED);
    if (store_instance_get(b->instance_id, NULL, 0, &in) < 0 || in.delete_requested) {
        b->attempts = (int)ctl_cfg.backup_max_attempts; /* no point in retrying */
        attempt_fail(b, NULL, "the instance is deleted");
        return;
    }
    job *j = calloc(1, sizeof(*j));
    snprintf(j->backup_id, sizeof(j->backup_id), "%s", b->id);
    snprintf(j->instance_id, sizeof(j->instance_id), "%s", b->instance_id);
    store_instance_password(in.id, j->password, sizeof(j->password));
    j->n = in.shards < SHARDS_LIMIT ? in.shards : SHARDS_LIMIT;
    j->started_ms = ids_now_ms();
    j->next = jobs;
    jobs = j;
    store_instance_clear(&in);
    node_row *nodes = NULL;
    int n = 0, found = 0;
    store_nodes_load(b->instance_id, &nodes, &n);
    for (int i = 0; i < n; i++)
        if (nodes[i].shard < j->n && !strcmp(nodes[i].role, ROLE_MASTER) &&
            !strcmp(nodes[i].status, NODE_RUNNING)) {
            j->masters[nodes[i].shard] = nodes[i];
            found++;
        }
    free(nodes);
    if (found != j->n) {
        attempt_fail(b, j, "not every shard's master is running");
        return;
    }
    for (int k = 0; k < j->n; k++)
        if (snapshot_ask(j, k, why, sizeof(why)) < 0) {
            attempt_fail(b, j, why);
            return;
        }
    store_event(b->instance_id, "backup_started", NULL, NULL, NULL,
                "backup %s (%s, attempt %d): BGSAVE on %d shard(s)", b->id, b->trigger, b->attempts,
                j->n);
}

/* 1 when every shard's snapshot is written, 0 while one runs, -1 failed (why). */
static int snapshots_poll(job *j, char *why, size_t whylen)
{
    static const char *const persistence[] = {"INFO", "persistence"};
    char info[INFO_OUT_MAX], status[VERSION_MAX];
    int done = 1;
    for (int k = 0; k < j->n; k++) {
        if (j->saved[k])
            continue;
        node_row *m = &j->masters[k];
        if (call(j, m, info, sizeof(info), 2, persistence) != RESP_OK) {
            snprintf(why, whylen, "shard %d: INFO persistence: %.300s", m->shard, info);
            return -1;
        }
        if (resp_info_ll(info, "rdb_bgsave_in_progress", 1) ||
            resp_info_ll(info, "rdb_saves", 0) <= j->saves_before[k]) {
            done = 0;
            continue;
        }
        if (resp_info_field(info, "rdb_last_bgsave_status", status, sizeof(status)) < 0 ||
            strcmp(status, "ok")) {
            snprintf(why, whylen, "shard %d: the snapshot failed (see node %s's log)", m->shard,
                     m->id);
            return -1;
        }
        j->saved[k] = 1;
    }
    if (!done && ids_now_ms() - j->started_ms > SNAPSHOT_TIMEOUT_MS) {
        snprintf(why, whylen, "the snapshots took longer than %d s", SNAPSHOT_TIMEOUT_MS / 1000);
        return -1;
    }
    return done;
}

/* The instance's configuration as the manifest records it. */
static json_t *manifest_instance(const char *instance_id)
{
    instance_row in;
    if (store_instance_get(instance_id, NULL, 1, &in) < 0)
        return json_object();
    json_t *v = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s, s:s, s:b}", "id", in.id, "name", in.name,
                          "memory", (json_int_t)in.memory, "shards", in.shards,
                          "replicas_per_shard", in.replicas, "eviction_policy", in.eviction_policy,
                          "snapshot_cron", in.snapshot_cron, "appendonly", in.appendonly);
    store_instance_clear(&in);
    return v;
}

/* Copies every shard's snapshot into the store and writes the manifest. Returns the total
 * size, or -1 with why. */
static long long files_copy(job *j, const backup_row *b, char **manifest_text, char *why,
                            size_t whylen)
{
    bstore *bs = bstore_default();
    json_t *shards = json_array();
    long long total = 0;
    for (int k = 0; k < j->n; k++) {
        node_row *m = &j->masters[k];
        char name[FILE_NAME_MAX], sha[BSTORE_SHA256_HEX];
        long long size = 0;
        int fd = -1;
        snprintf(name, sizeof(name), "shard-%d.rdb", k);
        int rc = rec_prov->ops->snapshot_open(rec_prov, m->instance_id, m->id, &fd);
        if (rc < 0) {
            snprintf(why, whylen, "shard %d: cannot open its snapshot", k);
            json_decref(shards);
            return -1;
        }
        rc = bs->ops->put_fd(bs, b->id, name, fd, &size, sha, why, whylen);
        close(fd);
        if (rc < 0) {
            json_decref(shards);
            return -1;
        }
        int start, end;
        topology_slots(k, j->n, &start, &end);
        json_array_append_new(shards,
                              json_pack("{s:i, s:[{s:i, s:i}], s:s, s:I, s:s, s:s, s:s}", "shard",
                                        k, "slot_ranges", "start", start, "end", end, "file", name,
                                        "size", (json_int_t)size, "sha256", sha, "node_id", m->id,
                                        "server_version", j->version[k]));
        total += size;
    }
    json_t *manifest = json_pack("{s:i, s:s, s:o, s:o, s:I}", "format", BACKUP_MANIFEST_FORMAT,
                                 "backup_id", b->id, "instance", manifest_instance(b->instance_id),
                                 "shards", shards, "created_at", (json_int_t)b->created_at);
    size_t len = 0;
    *manifest_text = jx_dump(manifest, &len);
    json_decref(manifest);
    if (bs->ops->put_data(bs, b->id, BACKUP_MANIFEST, *manifest_text, len, why, whylen) < 0) {
        free(*manifest_text);
        *manifest_text = NULL;
        return -1;
    }
    return total;
}

static void attempt_succeed(job *j, const backup_row *b, long long size, const char *manifest)
{
    long long now = ids_now_ms();
    if (db_begin() != SQLITE_OK)
        return;
    sqlite3_stmt *st = db_prepare("UPDATE backups SET status = 'succeeded', error = NULL, "
                                  "size = ?2, manifest = ?3, finished_at = ?4, updated_at = ?4 "
                                  "WHERE id = ?1");
    db_bind_text(st, 1, b->id);
    sqlite3_bind_int64(st, 2, size);
    db_bind_text(st, 3, manifest);
    sqlite3_bind_int64(st, 4, now);
    db_step_done(st);
    db_done(st);
    store_operation_finish_one(b->operation_id, OP_SUCCEEDED, NULL);
    store_event(b->instance_id, "backup_succeeded", NULL, NULL, NULL,
                "backup %s: %d shard(s), %lld bytes in %lld ms", b->id, j->n, size,
                now - b->started_at);
    if (db_commit() != SQLITE_OK)
        db_rollback();
    log_info("backup %s of %s: %lld bytes", b->id, b->instance_id, size);
    job_free(j);
}

static void backup_step(const char *id)
{
    backup_row b;
    if (backup_get(id, NULL, &b) < 0)
        return;
    job *j = job_find(id);
    char why[BACKUP_ERR_MAX];
    if (!j) {
        attempt_start(&b);
    } else {
        int rc = snapshots_poll(j, why, sizeof(why));
        if (rc < 0) {
            attempt_fail(&b, j, why);
        } else if (rc == 1) {
            store_operation_progress_one(b.operation_id, PROGRESS_SAVED);
            char *manifest = NULL;
            long long size = files_copy(j, &b, &manifest, why, sizeof(why));
            if (size < 0)
                attempt_fail(&b, j, why);
            else
                attempt_succeed(j, &b, size, manifest);
            free(manifest);
        } else {
            reconcile_soon();
        }
    }
    backup_clear(&b);
}

/* ---- schedules and retention ---------------------------------------------------------------- */

static void schedule_set_next(const char *instance_id, int64_t next)
{
    sqlite3_stmt *st = db_prepare("UPDATE instances SET next_backup_at = ? WHERE id = ?");
    sqlite3_bind_int64(st, 1, next);
    db_bind_text(st, 2, instance_id);
    db_step_done(st);
    db_done(st);
}

/* Scheduled backups that are due, for instances that serve. */
static void schedules_tick(int64_t now)
{
    sqlite3_stmt *st = db_prepare(
        "SELECT id, tenant_id, shards, backup_schedule, coalesce(next_backup_at, 0) FROM "
        "instances WHERE backup_schedule IS NOT NULL AND delete_requested = 0 AND ever_running "
        "AND status != 'gone'");
    if (!st)
        return;
    typedef struct due {
        char id[ID_MAX], tenant[ID_MAX], schedule[SCHEDULE_TEXT_MAX];
        int shards;
        long long next;
    } due;
    due *list = NULL;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        list = mem_realloc(list, sizeof(due) * (size_t)(n + 1));
        snprintf(list[n].id, ID_MAX, "%s", db_text(st, 0));
        snprintf(list[n].tenant, ID_MAX, "%s", db_text(st, 1));
        list[n].shards = sqlite3_column_int(st, 2);
        snprintf(list[n].schedule, SCHEDULE_TEXT_MAX, "%s", db_text(st, 3));
        list[n].next = sqlite3_column_int64(st, 4);
        n++;
    }
    db_done(st);
    for (int i = 0; i < n; i++) {
        due *d = &list[i];
        if (d->next && now < d->next)
            continue;
        if (db_begin() != SQLITE_OK)
            break;
        char id[ID_MAX], op[ID_MAX];
        if (d->next && backup_create(d->tenant, d->id, d->shards, BK_TRIGGER_SCHEDULE, id, op) == 0)
            store_event(d->id, "backup_scheduled", NULL, NULL, NULL, "scheduled backup %s", id);
        schedule_set_next(d->id, backup_schedule_next(d->schedule, now));
        if (db_commit() != SQLITE_OK)
            db_rollback();
    }
    free(list);
}

/* Deletes the scheduled backups of instance_id beyond its retention: the newest `count`
 * succeeded ones stay, and none older than max_age_hours. */
static void retention_apply(const char *instance_id, const char *retention, int64_t now)
{
    char err[BACKUP_ERR_MAX];
    json_t *v = jx_parse(retention, strlen(retention), err, sizeof(err));
    if (!v)
        return;
    long long count = json_integer_value(json_object_get(v, "count"));
    long long age_h = json_integer_value(json_object_get(v, "max_age_hours"));
    json_decref(v);
    sqlite3_stmt *st = db_prepare("SELECT id, status, created_at FROM backups WHERE instance_id "
                                  "= ? AND trigger = 'schedule' AND status IN ('succeeded', "
                                  "'failed') ORDER BY created_at DESC, id DESC");
    if (!st)
        return;
    db_bind_text(st, 1, instance_id);
    char(*doomed)[ID_MAX] = NULL;
    int n = 0, kept = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int ok = !strcmp(db_text(st, 1), BK_SUCCEEDED);
        int old = age_h && now - sqlite3_column_int64(st, 2) > age_h * ctl_cfg.schedule_hour_ms;
        int over = count && ok && kept >= count;
        kept += ok && !old;
        if (!old && !over)
            continue;
        doomed = mem_realloc(doomed, sizeof(*doomed) * (size_t)(n + 1));
        snprintf(doomed[n++], ID_MAX, "%s", db_text(st, 0));
    }
    db_done(st);
    for (int i = 0; i < n; i++) {
        if (backup_in_use(doomed[i]))
            continue;
        if (backup_destroy(doomed[i], err, sizeof(err)) == 0)
            store_event(instance_id, "backup_pruned", NULL, NULL, NULL,
                        "backup %s deleted by the retention %s", doomed[i], retention);
        else
            log_warning("retention of %s: %s", instance_id, err);
    }
    free(doomed);
}

static void retention_tick(int64_t now)
{
    sqlite3_stmt *st = db_prepare("SELECT id, backup_retention FROM instances WHERE "
                                  "backup_retention IS NOT NULL AND status != 'gone'");
    if (!st)
        return;
    char(*ids)[ID_MAX] = NULL;
    char(*ret)[SCHEDULE_TEXT_MAX] = NULL;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        ids = mem_realloc(ids, sizeof(*ids) * (size_t)(n + 1));
        ret = mem_realloc(ret, sizeof(*ret) * (size_t)(n + 1));
        snprintf(ids[n], ID_MAX, "%s", db_text(st, 0));
        snprintf(ret[n], SCHEDULE_TEXT_MAX, "%s", db_text(st, 1));
        n++;
    }
    db_done(st);
    for (int i = 0; i < n; i++)
        retention_apply(ids[i], ret[i], now);
    free(ids);
    free(ret);
}

void backups_tick(void)
{
    int64_t now = ids_now_ms();
    schedules_tick(now);
    sqlite3_stmt *st = db_prepare("SELECT id FROM backups WHERE status IN ('pending', "
                                  "'running') AND next_attempt_at <= ? ORDER BY created_at, id");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, now);
    char(*ids)[ID_MAX] = NULL;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        ids = mem_realloc(ids, sizeof(*ids) * (size_t)(n + 1));
        snprintf(ids[n++], ID_MAX, "%s", db_text(st, 0));
    }
    db_done(st);
    for (int i = 0; i < n; i++)
        backup_step(ids[i]);
    free(ids);
    retention_tick(now);
}
