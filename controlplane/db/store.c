/* Shared reads and writes of instances, nodes, events and operations. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "mem.h"
#include "metrics.h"
#include "secret.h"

#define INSTANCE_COLUMNS                                                                           \
    "id, tenant_id, name, memory, shards, replicas, eviction_policy, snapshot_cron, appendonly, "  \
    "labels, delete_requested, status, status_reason, spec_version, applied_version, "             \
    "restart_version, ever_running, created_at, updated_at, coalesce(deleted_at, 0), "             \
    "coalesce(backup_schedule, ''), coalesce(backup_retention, ''), coalesce(next_backup_at, 0), " \
    "coalesce(restore_from, ''), restore_placed, coalesce(restore_backup_id, ''), "                \
    "coalesce(restore_op, ''), coalesce(failover_op, ''), coalesce(failover_shard, 0), "           \
    "coalesce(failover_node, '')"

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    snprintf(dst, n, "%s", db_text(st, col));
}

static void instance_from_row(sqlite3_stmt *st, instance_row *o)
{
    memset(o, 0, sizeof(*o));
    copy_col(o->id, sizeof(o->id), st, 0);
    copy_col(o->tenant_id, sizeof(o->tenant_id), st, 1);
    copy_col(o->name, sizeof(o->name), st, 2);
    o->memory = sqlite3_column_int64(st, 3);
    o->shards = sqlite3_column_int(st, 4);
    o->replicas = sqlite3_column_int(st, 5);
    copy_col(o->eviction_policy, sizeof(o->eviction_policy), st, 6);
    copy_col(o->snapshot_cron, sizeof(o->snapshot_cron), st, 7);
    o->appendonly = sqlite3_column_int(st, 8);
    o->labels = strdup(db_text(st, 9));
    o->delete_requested = sqlite3_column_int(st, 10);
    copy_col(o->status, sizeof(o->status), st, 11);
    copy_col(o->status_reason, sizeof(o->status_reason), st, 12);
    o->spec_version = sqlite3_column_int64(st, 13);
    o->applied_version = sqlite3_column_int64(st, 14);
    o->restart_version = sqlite3_column_int64(st, 15);
    o->ever_running = sqlite3_column_int(st, 16);
    o->created_at = sqlite3_column_int64(st, 17);
    o->updated_at = sqlite3_column_int64(st, 18);
    o->deleted_at = sqlite3_column_int64(st, 19);
    copy_col(o->backup_schedule, sizeof(o->backup_schedule), st, 20);
    copy_col(o->backup_retention, sizeof(o->backup_retention), st, 21);
    o->next_backup_at = sqlite3_column_int64(st, 22);
    copy_col(o->restore_from, sizeof(o->restore_from), st, 23);
    o->restore_placed = sqlite3_column_int(st, 24);
    copy_col(o->restore_backup_id, sizeof(o->restore_backup_id), st, 25);
    copy_col(o->restore_op, sizeof(o->restore_op), st, 26);
    copy_col(o->failover_op, sizeof(o->failover_op), st, 27);
    o->failover_shard = sqlite3_column_int(st, 28);
    copy_col(o->failover_node, sizeof(o->failover_node), st, 29);
}

int store_instance_get(const char *id, const char *tenant, int include_gone, instance_row *out)
{
    sqlite3_stmt *st = db_prepare("SELECT " INSTANCE_COLUMNS " FROM instances WHERE id = ?1 AND "
                                  "(?3 OR status != 'gone') AND (?2 IS NULL OR tenant_id = ?2)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, tenant);
    sqlite3_bind_int(st, 3, include_gone);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        instance_from_row(st, out);
    db_done(st);
    return found ? 0 : -1;
}

void store_instance_clear(instance_row *row)
{
    free(row->labels);
    row->labels = NULL;
}

int store_instance_save_status(const instance_row *row)
{
    sqlite3_stmt *st =
        db_prepare("UPDATE instances SET status = ?, status_reason = ?, applied_version = ?, "
                   "ever_running = ?, deleted_at = nullif(?, 0), updated_at = ? WHERE id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, row->status);
    db_bind_text(st, 2, row->status_reason);
    sqlite3_bind_int64(st, 3, row->applied_version);
    sqlite3_bind_int(st, 4, row->ever_running);
    sqlite3_bind_int64(st, 5, row->deleted_at);
    sqlite3_bind_int64(st, 6, ids_now_ms());
    db_bind_text(st, 7, row->id);
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_nodes_load(const char *instance_id, node_row **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        db_prepare("SELECT id, instance_id, shard, replica_index, role, host, port, admin_port, "
                   "cluster_id, status, coalesce(pid, 0), restarts, restart_version FROM nodes "
                   "WHERE instance_id = ? ORDER BY shard, replica_index");
    if (!st)
        return -1;
    db_bind_text(st, 1, instance_id);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = mem_realloc(*out, sizeof(node_row) * (size_t)cap);
        }
        node_row *o = &(*out)[(*n)++];
        memset(o, 0, sizeof(*o));
        copy_col(o->id, sizeof(o->id), st, 0);
        copy_col(o->instance_id, sizeof(o->instance_id), st, 1);
        o->shard = sqlite3_column_int(st, 2);
        o->replica_index = sqlite3_column_int(st, 3);
        copy_col(o->role, sizeof(o->role), st, 4);
        copy_col(o->host, sizeof(o->host), st, 5);
        o->port = sqlite3_column_int(st, 6);
        o->admin_port = sqlite3_column_int(st, 7);
        copy_col(o->cluster_id, sizeof(o->cluster_id), st, 8);
        copy_col(o->status, sizeof(o->status), st, 9);
        o->pid = (long)sqlite3_column_int64(st, 10);
        o->restarts = sqlite3_column_int(st, 11);
        o->restart_version = sqlite3_column_int64(st, 12);
    }
    db_done(st);
    return 0;
}

int store_node_save(const node_row *n)
{
    sqlite3_stmt *st = db_prepare("UPDATE nodes SET status = ?, role = ?, pid = nullif(?, 0), "
                                  "restarts = ?, restart_version = ?, updated_at = ? WHERE id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, n->status);
    db_bind_text(st, 2, n->role);
    sqlite3_bind_int64(st, 3, n->pid);
    sqlite3_bind_int(st, 4, n->restarts);
    sqlite3_bind_int64(st, 5, n->restart_version);
    sqlite3_bind_int64(st, 6, ids_now_ms());
    db_bind_text(st, 7, n->id);
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

void store_event(const char *instance_id, const char *type, const char *from, const char *to,
                 const char *node_id, const char *fmt, ...)
{
    char reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = db_prepare("INSERT INTO events(instance_id, time, type, from_status, "
                                  "to_status, node_id, reason) VALUES (?,?,?,?,?,?,?)");
    if (!st)
        return;
    db_bind_text(st, 1, instance_id);
    sqlite3_bind_int64(st, 2, ids_now_ms());
    db_bind_text(st, 3, type);
    db_bind_text(st, 4, from);
    db_bind_text(st, 5, to);
    db_bind_text(st, 6, node_id);
    db_bind_text(st, 7, reason);
    db_step_done(st);
    db_done(st);
}

int store_operation_create(const char *tenant_id, const char *kind, const char *target_id,
                           long long spec_version, char *id)
{
    ids_new("op", id);
    long long now = ids_now_ms();
    sqlite3_stmt *st =
        db_prepare("INSERT INTO operations(id, tenant_id, kind, target_type, target_id, "
                   "spec_version, status, created_at, updated_at) VALUES "
                   "(?, ?, ?, 'instance', ?, ?, 'pending', ?, ?)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, tenant_id);
    db_bind_text(st, 3, kind);
    db_bind_text(st, 4, target_id);
    sqlite3_bind_int64(st, 5, spec_version);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, now);
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_operations_finish(const char *target_id, long long upto, const char *status,
                            const char *error)
{
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare(
        "UPDATE operations SET status = ?1, error = ?2, finished_at = ?3, updated_at = ?3, "
        "progress = CASE WHEN ?1 = 'succeeded' THEN 100 ELSE progress END, "
        "started_at = coalesce(started_at, ?3) "
        "WHERE target_id = ?4 AND spec_version <= ?5 AND status IN ('pending', 'running') "
        "AND kind IN " SPEC_OP_KINDS);
    if (!st)
        return 0;
    db_bind_text(st, 1, status);
    db_bind_text(st, 2, error);
    sqlite3_bind_int64(st, 3, now);
    db_bind_text(st, 4, target_id);
    sqlite3_bind_int64(st, 5, upto);
    db_step_done(st);
    db_done(st);
    int n = db_changes();
    atomic_fetch_add(!strcmp(status, OP_SUCCEEDED) ? &ctl_counters.operations_succeeded
                                                   : &ctl_counters.operations_failed,
                     n);
    return n;
}

void store_operations_progress(const char *target_id, int progress, const char *steps_json)
{
    /* Asked first with a read: most passes change nothing, and an UPDATE takes the write
     * lock even when it matches no row. */
    sqlite3_stmt *st =
        db_prepare("SELECT 1 FROM operations WHERE target_id = ?1 AND "
                   "status IN ('pending', 'running') AND (status != 'running' OR "
                   "progress < ?2 OR steps != ?3) AND kind IN " SPEC_OP_KINDS " LIMIT 1");
    if (!st)
        return;
    db_bind_text(st, 1, target_id);
    sqlite3_bind_int(st, 2, progress);
    db_bind_text(st, 3, steps_json);
    int changed = sqlite3_step(st) == SQLITE_ROW;
    db_done(st);
    if (!changed)
        return;
    long long now = ids_now_ms();
    st = db_prepare(
        "UPDATE operations SET status = 'running', progress = max(progress, ?1), steps = ?2, "
        "updated_at = ?3, started_at = coalesce(started_at, ?3) "
        "WHERE target_id = ?4 AND status IN ('pending', 'running') AND "
        "(status != 'running' OR progress != max(progress, ?1) OR steps != ?2) AND kind "
        "IN " SPEC_OP_KINDS);
    if (!st)
        return;
    sqlite3_bind_int(st, 1, progress);
    db_bind_text(st, 2, steps_json);
    sqlite3_bind_int64(st, 3, now);
    db_bind_text(st, 4, target_id);
    db_step_done(st);
    db_done(st);
}

int store_instance_password(const char *id, char *out, size_t outlen)
{
    sqlite3_stmt *st = db_prepare("SELECT password_enc FROM instances WHERE id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char *plain = NULL;
        if (secret_open(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &plain,
                        NULL) == 0) {
            snprintf(out, outlen, "%s", plain);
            free(plain);
            rc = 0;
        }
    }
    db_done(st);
    return rc;
}

void store_operation_finish_one(const char *op_id, const char *status, const char *error)
{
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare(
        "UPDATE operations SET status = ?1, error = ?2, finished_at = ?3, updated_at = ?3, "
        "progress = CASE WHEN ?1 = 'succeeded' THEN 100 ELSE progress END, "
        "started_at = coalesce(started_at, ?3) WHERE id = ?4 AND status IN ('pending', 'running')");
    if (!st)
        return;
    db_bind_text(st, 1, status);
    db_bind_text(st, 2, error);
    sqlite3_bind_int64(st, 3, now);
    db_bind_text(st, 4, op_id);
    db_step_done(st);
    db_done(st);
    if (db_changes())
        atomic_fetch_add(!strcmp(status, OP_SUCCEEDED) ? &ctl_counters.operations_succeeded
                                                       : &ctl_counters.operations_failed,
                         1);
}

void store_operation_progress_one(const char *op_id, int progress)
{
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare(
        "UPDATE operations SET status = 'running', progress = max(progress, ?1), updated_at = ?2, "
        "started_at = coalesce(started_at, ?2) WHERE id = ?3 AND status IN ('pending', 'running') "
        "AND (status != 'running' OR progress < ?1)");
    if (!st)
        return;
    sqlite3_bind_int(st, 1, progress);
    sqlite3_bind_int64(st, 2, now);
    db_bind_text(st, 3, op_id);
    db_step_done(st);
    db_done(st);
}
