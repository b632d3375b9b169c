/* Backups (issue 15): POST/GET /v1/instances/{id}/backups, GET/DELETE /v1/backups/{id} and
 * GET /v1/backups/{id}/download (one merged RDB file). Taking a backup is the reconciler's
 * work (backup/backup_run.c): the handler records a pending backup and its operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "db.h"
#include "instance.h"
#include "jsonx.h"

static void backup_not_found(http_req *r, const char *id)
{
    http_reply_error(r, 404, "not_found", NULL, "no backup %s", id);
}

void api_backup_create(http_req *r)
{
    if (!http_body_none(r))
        return;
    instance_row in;
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin");
        return;
    }
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, &in) < 0) {
        db_rollback();
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    char id[ID_MAX], op[ID_MAX];
    int rc = -1;
    if (in.delete_requested || !in.ever_running)
        http_reply_error(r, 409, "conflict", NULL, "instance %s is %s", in.id,
                         in.delete_requested ? "being deleted" : "not running yet");
    else if (backup_create(in.tenant_id, in.id, in.shards, BK_TRIGGER_MANUAL, id, op) == 0)
        rc = 0;
    store_instance_clear(&in);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        db_rollback();
        if (!r->status)
            http_reply_internal(r, "cannot record a backup");
        return;
    }
    backup_row b;
    json_t *opj = api_operation_json(op);
    if (backup_get(id, NULL, &b) < 0 || !opj) {
        json_decref(opj);
        http_reply_internal(r, "a new backup cannot be read back");
        return;
    }
    snprintf(r->location, sizeof(r->location), "/v1/backups/%s", id);
    r->wake_reconciler = 1;
    http_reply_json(r, 202, json_pack("{s:o, s:o}", "backup", backup_json(&b), "operation", opj));
    backup_clear(&b);
}

static json_t *backup_item(sqlite3_stmt *st)
{
    backup_row b;
    json_t *v = backup_get(db_text(st, 0), NULL, &b) == 0 ? backup_json(&b) : json_null();
    if (json_is_object(v))
        backup_clear(&b);
    return v;
}

void api_backup_list(http_req *r)
{
    instance_row in;
    /* Backups outlive their instance: a deleted one's are listed too. */
    if (store_instance_get(r->params[0], api_scope_tenant(r), 1, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    store_instance_clear(&in);
    page_req pg;
    if (api_page_parse(r, &pg) < 0)
        return;
    sqlite3_stmt *st = db_prepare("SELECT id, created_at FROM backups WHERE instance_id = ? AND "
                                  "(created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?");
    if (!st) {
        http_reply_internal(r, "cannot list backups");
        return;
    }
    db_bind_text(st, 1, r->params[0]);
    sqlite3_bind_int64(st, 2, pg.after_ts);
    db_bind_text(st, 3, pg.after_id);
    sqlite3_bind_int(st, 4, pg.limit + 1);
    http_reply_json(r, 200, api_page_rows(st, &pg, backup_item, 1));
}

void api_backup_get(http_req *r)
{
    backup_row b;
    if (backup_get(r->params[0], api_scope_tenant(r), &b) < 0) {
        backup_not_found(r, r->params[0]);
        return;
    }
    http_reply_json(r, 200, backup_json(&b));
    backup_clear(&b);
}

void api_backup_delete(http_req *r)
{
    backup_row b;
    char err[BACKUP_ERR_MAX];
    if (backup_get(r->params[0], api_scope_tenant(r), &b) < 0) {
        backup_not_found(r, r->params[0]);
        return;
    }
    if (!strcmp(b.status, BK_PENDING) || !strcmp(b.status, BK_RUNNING))
        http_reply_error(r, 409, "conflict", NULL, "backup %s is %s", b.id, b.status);
    else if (backup_in_use(b.id))
        http_reply_error(r, 409, "conflict", NULL, "a restore is using backup %s", b.id);
    else if (backup_destroy(b.id, err, sizeof(err)) < 0)
        http_reply_internal(r, err);
    else
        http_reply_raw(r, 204, "application/json", "", 0);
    backup_clear(&b);
}

void api_backup_download(http_req *r)
{
    backup_row b;
    char err[BACKUP_ERR_MAX];
    if (backup_get(r->params[0], api_scope_tenant(r), &b) < 0) {
        backup_not_found(r, r->params[0]);
        return;
    }
    if (strcmp(b.status, BK_SUCCEEDED)) {
        http_reply_error(r, 409, "conflict", NULL, "backup %s is %s, not succeeded", b.id,
                         b.status);
        backup_clear(&b);
        return;
    }
    /* In memory: backups of this service's instances are bounded by its memory limits. */
    char *data = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&data, &len);
    int rc = out ? backup_export(&b, out, err, sizeof(err)) : -1;
    if (out)
        fclose(out);
    if (rc == 0)
        http_reply_raw(r, 200, "application/octet-stream", data, len);
    else if (strstr(err, "corrupt"))
        http_reply_error(r, 422, "backup_corrupt", NULL, "%s", err);
    else
        http_reply_internal(r, err);
    free(data);
    backup_clear(&b);
}
