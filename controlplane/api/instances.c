/* /v1/instances: create, list, get, update (PATCH), delete, restart. Each change is written as
 * desired state plus an operation in one transaction; the reconciler does the work. A change
 * while the instance is busy is accepted: it becomes the new desired state and is applied after
 * the current step. If-Match with a stale ETag gets 412. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/secret.h"
#include "backup/backup.h"
#include "db.h"
#include "instance.h"
#include "jsonx.h"

#define LIST_LABELS_MAX 8
#define SQL_MAX 2048
#define LABEL_PATH_MAX (LABEL_KEY_MAX + 8)
#define PASSWORD_PREFIX "" /* passwords are bare hex: safe in every client's URI */

static const char *const statuses[] = {ST_CREATING, ST_RUNNING,  ST_UPDATING, ST_DEGRADED,
                                       ST_FAILED,   ST_DELETING, NULL};

/* A JSON value's text (malloc'd), or NULL for a missing or null value. */
static char *json_text_or_null(json_t *v)
{
    return v && !json_is_null(v) ? jx_dump(v, NULL) : NULL;
}

/* restore_from of a new instance: a succeeded backup of the tenant whose files are intact.
 * Returns 0, or -1 answered (422). */
static int restore_source_check(http_req *r, const instance_spec *s, const char *tenant)
{
    if (!(s->given & SPEC_RESTORE_FROM))
        return 0;
    backup_row b;
    char err[BACKUP_ERR_MAX];
    if (backup_get(s->restore_from, tenant, &b) < 0) {
        http_reply_invalid(r, "restore_from", "no backup %s", s->restore_from);
        return -1;
    }
    int rc = 0;
    if (strcmp(b.status, BK_SUCCEEDED)) {
        http_reply_invalid(r, "restore_from", "backup %s is %s, not succeeded", b.id, b.status);
        rc = -1;
    } else if (backup_verify(&b, err, sizeof(err)) < 0) {
        http_reply_error(r, 422, "backup_corrupt", "restore_from", "%s", err);
        rc = -1;
    }
    backup_clear(&b);
    return rc;
}

/* {"instance": ..., "operation": ...} for 202 answers. */
static void reply_accepted(http_req *r, const char *id, const char *op_id, json_t *extra_key,
                           const char *extra_name)
{
    json_t *inst = instance_view_load(id, NULL, 1, r->etag);
    json_t *op = api_operation_json(op_id);
    if (!inst || !op) {
        json_decref(inst);
        json_decref(op);
        json_decref(extra_key);
        http_reply_internal(r, "an accepted change cannot be read back");
        return;
    }
    json_t *body = json_pack("{s:o, s:o}", "instance", inst, "operation", op);
    if (extra_key)
        json_object_set_new(body, extra_name, extra_key);
    snprintf(r->location, sizeof(r->location), "/v1/instances/%s", id);
    r->wake_reconciler = 1;
    http_reply_json(r, 202, body);
}

/* The tenant a new instance belongs to. Returns it, or NULL answered. */
static const char *create_tenant(http_req *r, const instance_spec *s)
{
    if (r->who.is_operator) {
        if (!(s->given & SPEC_TENANT)) {
            http_reply_invalid(r, "tenant_id", "tenant_id is required with an operator token");
            return NULL;
        }
        if (!api_tenant_exists(s->tenant_id)) {
            http_reply_invalid(r, "tenant_id", "no tenant %s", s->tenant_id);
            return NULL;
        }
        return s->tenant_id;
    }
    if ((s->given & SPEC_TENANT) && strcmp(s->tenant_id, r->who.tenant_id)) {
        http_reply_error(r, 404, "not_found", NULL, "no tenant %s", s->tenant_id);
        return NULL;
    }
    return r->who.tenant_id;
}

static int instance_insert(http_req *r, const instance_spec *s, const char *tenant, const char *id,
                           const char *password)
{
    unsigned char *sealed;
    size_t slen;
    secret_seal(password, strlen(password), &sealed, &slen);
    char *labels = s->labels ? jx_dump(s->labels, NULL) : strdup("{}");
    char *schedule = json_text_or_null(s->backup_schedule);
    char *retention = json_text_or_null(s->backup_retention);
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare(
        "INSERT INTO instances(id, tenant_id, name, memory, shards, replicas, eviction_policy, "
        "snapshot_cron, appendonly, labels, password_enc, status, spec_version, created_at, "
        "updated_at, backup_schedule, backup_retention, restore_from) "
        "VALUES (?,?,?,?,?,?,?,nullif(?, ''),?,?,?,'creating',1,?,?,?,?,?)");
    int rc = SQLITE_ERROR;
    if (st) {
        db_bind_text(st, 1, id);
        db_bind_text(st, 2, tenant);
        db_bind_text(st, 3, s->name);
        sqlite3_bind_int64(st, 4, s->memory);
        sqlite3_bind_int(st, 5, s->shards);
        sqlite3_bind_int(st, 6, s->replicas);
        db_bind_text(st, 7, s->eviction_policy);
        db_bind_text(st, 8, s->snapshot_cron);
        sqlite3_bind_int(st, 9, s->appendonly);
        db_bind_text(st, 10, labels);
        sqlite3_bind_blob(st, 11, sealed, (int)slen, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 12, now);
        sqlite3_bind_int64(st, 13, now);
        db_bind_text(st, 14, schedule);
        db_bind_text(st, 15, retention);
        db_bind_text(st, 16, s->restore_from);
        rc = db_step_done(st);
        db_done(st);
    }
    free(sealed);
    free(labels);
    free(schedule);
    free(retention);
    if (rc == SQLITE_CONSTRAINT)
        http_reply_error(r, 409, "conflict", "name", "an instance named '%s' exists", s->name);
    else if (rc != SQLITE_DONE)
        http_reply_internal(r, "cannot insert an instance");
    return rc == SQLITE_DONE ? 0 : -1;
}

void api_instance_create(http_req *r)
{
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    instance_spec s;
    const char *tenant = NULL;
    /* The backup's files are read before the transaction: hashing them may take a while. */
    if (instance_spec_parse(r, body, &s, 1) < 0 || !(tenant = create_tenant(r, &s)) ||
        restore_source_check(r, &s, tenant) < 0 || db_begin() != SQLITE_OK) {
        if (!r->status)
            http_reply_internal(r, "cannot begin");
        json_decref(body);
        return;
    }
    char id[ID_MAX], op[ID_MAX], password[SECRET_MAX];
    ids_new("ins", id);
    ids_secret(PASSWORD_PREFIX, password);
    if (instance_quota_check(r, tenant, NULL, s.memory, 1) < 0 ||
        instance_insert(r, &s, tenant, id, password) < 0 || instance_tls_save(r, id, &s, 1) < 0 ||
        store_operation_create(tenant, "create", id, 1, op) < 0) {
        db_rollback();
        if (!r->status)
            http_reply_internal(r, "cannot create an operation");
        json_decref(body);
        return;
    }
    store_event(id, "status", NULL, ST_CREATING, NULL,
                "create requested: %d shard(s), %d replica(s) per shard, %lld bytes%s%s", s.shards,
                s.replicas, s.memory, s.restore_from ? ", restored from " : "",
                s.restore_from ? s.restore_from : "");
    json_decref(body);
    if (db_commit() != SQLITE_OK) {
        http_reply_internal(r, "cannot commit");
        return;
    }
    reply_accepted(r, id, op, json_pack("{s:s, s:s}", "username", "default", "password", password),
                   "credentials");
}

/* ---- get, list ------------------------------------------------------------------------------ */

void api_instance_get(http_req *r)
{
    json_t *v = instance_view_load(r->params[0], api_scope_tenant(r), 0, r->etag);
    if (!v) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    http_reply_json(r, 200, v);
}

typedef struct list_filter {
    int nlabels;
    char keys[LIST_LABELS_MAX][LABEL_PATH_MAX];
    const char *values[LIST_LABELS_MAX];
    int bad;
} list_filter;

static void label_arg(void *ctx, const char *v)
{
    list_filter *f = ctx;
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || eq - v > LABEL_KEY_MAX || f->nlabels == LIST_LABELS_MAX) {
        f->bad = 1;
        return;
    }
    for (const char *p = v; p < eq; p++)
        if (*p == '"' || *p == '\\')
            f->bad = 1;
    snprintf(f->keys[f->nlabels], LABEL_PATH_MAX, "$.\"%.*s\"", (int)(eq - v), v);
    f->values[f->nlabels++] = eq + 1;
}

static int status_valid(const char *s)
{
    for (const char *const *p = statuses; *p; p++)
        if (!strcmp(*p, s))
            return 1;
    return 0;
}

/* The SQL of a list with these filters (labels make it vary: each adds a condition). */
static void list_sql(char *sql, int nlabels)
{
    int n = snprintf(sql, SQL_MAX,
                     "SELECT id, created_at FROM instances WHERE status != 'gone' "
                     "AND (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR status = ?2) "
                     "AND (created_at, id) > (?3, ?4)");
    for (int i = 0; i < nlabels; i++)
        n += snprintf(sql + n, (size_t)(SQL_MAX - n), " AND json_extract(labels, ?%d) = ?%d",
                      5 + 2 * i, 6 + 2 * i);
    snprintf(sql + n, (size_t)(SQL_MAX - n), " ORDER BY created_at, id LIMIT ?%d", 5 + 2 * nlabels);
}

void api_instance_list(http_req *r)
{
    page_req pg;
    if (api_page_parse(r, &pg) < 0)
        return;
    const char *status = http_query(r, "status");
    if (status && !status_valid(status)) {
        http_reply_error(r, 400, "bad_request", "status", "unknown status '%s'", status);
        return;
    }
    list_filter f = {0};
    http_query_each(r, "label", label_arg, &f);
    if (f.bad) {
        http_reply_error(r, 400, "bad_request", "label", "label filters are key=value (at most %d)",
                         LIST_LABELS_MAX);
        return;
    }
    const char *tenant = api_scope_tenant(r);
    const char *tq = http_query(r, "tenant_id");
    if (tq && !tenant)
        tenant = tq; /* an operator may narrow to one tenant */
    char sql[SQL_MAX];
    list_sql(sql, f.nlabels);
    sqlite3_stmt *st = db_prepare(sql);
    if (!st) {
        http_reply_internal(r, "cannot list instances");
        return;
    }
    db_bind_text(st, 1, tenant);
    db_bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, pg.after_ts);
    db_bind_text(st, 4, pg.after_id);
    for (int i = 0; i < f.nlabels; i++) {
        db_bind_text(st, 5 + 2 * i, f.keys[i]);
        db_bind_text(st, 6 + 2 * i, f.values[i]);
    }
    sqlite3_bind_int(st, 5 + 2 * f.nlabels, pg.limit + 1);
    int n = 0, more = 0;
    char **ids = calloc((size_t)pg.limit + 1, sizeof(char *));
    long long last_ts = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = 1;
            break;
        }
        ids[n++] = strdup(db_text(st, 0));
        last_ts = sqlite3_column_int64(st, 1);
    }
    db_done(st);
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *v = instance_view_load(ids[i], NULL, 0, NULL);
        if (v)
            json_array_append_new(items, v);
    }
    http_reply_json(r, 200, api_page(items, more, last_ts, n ? ids[n - 1] : ""));
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* ---- changes -------------------------------------------------------------------------------- */

/* If-Match against the instance's ETag: 1 when it may go on, else 0 answered (412). "*" and
 * a missing header match; quotes and a weak W/ prefix are accepted. */
static int if_match(http_req *r, long long spec_version)
{
    const char *h = http_header(r, "If-Match");
    if (!h || !strcmp(h, "*"))
        return 1;
    char want[HTTP_HEADER_VALUE_MAX];
    instance_etag(spec_version, want, sizeof(want));
    if (!strncmp(h, "W/", 2))
        h += 2;
    size_t hl = strlen(h);
    if (!strcmp(h, want) || (hl + 2 == strlen(want) && !strncmp(want + 1, h, hl)))
        return 1;
    snprintf(r->etag, sizeof(r->etag), "%s", want);
    http_reply_error(r, 412, "precondition_failed", "If-Match",
                     "the instance changed: its ETag is %s, not %s", want, h);
    return 0;
}

/* Loads the instance a change is about, in the current transaction. Returns 0, or -1
 * answered (404, 409 while it is being deleted, 412). */
static int change_target(http_req *r, instance_row *in, int allow_deleting)
{
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return -1;
    }
    if (!if_match(r, in->spec_version)) {
        store_instance_clear(in);
        return -1;
    }
    if (in->delete_requested && !allow_deleting) {
        store_instance_clear(in);
        http_reply_error(r, 409, "conflict", NULL, "instance %s is being deleted", r->params[0]);
        return -1;
    }
    return 0;
}

/* The status shown right after a change is accepted: a new instance stays creating. */
static const char *status_after_change(const instance_row *in)
{
    return in->ever_running ? ST_UPDATING : in->status;
}

static int patch_check(http_req *r, const instance_row *in, const instance_spec *s)
{
    if ((s->given & SPEC_NAME) && strcmp(s->name, in->name)) {
        http_reply_invalid(r, "name", "an instance cannot be renamed");
        return -1;
    }
    if (instance_resize_check(r, in, s) < 0)
        return -1;
    long long memory = (s->given & SPEC_MEMORY) ? s->memory : in->memory;
    int shards = (s->given & SPEC_SHARDS) ? s->shards : in->shards;
    if (memory < MEMORY_PER_SHARD_MIN * shards) {
        http_reply_invalid(r, "memory", "memory must be at least 1mb per shard");
        return -1;
    }
    return instance_quota_check(r, in->tenant_id, in->id, memory, 0);
}

static int patch_write(const instance_row *in, const instance_spec *s)
{
    char *labels = (s->given & SPEC_LABELS) ? jx_dump(s->labels, NULL) : NULL;
    char *schedule = json_text_or_null(s->backup_schedule);
    char *retention = json_text_or_null(s->backup_retention);
    sqlite3_stmt *st = db_prepare(
        "UPDATE instances SET memory = ?1, replicas = ?2, eviction_policy = ?3, "
        "snapshot_cron = nullif(?4, ''), appendonly = ?5, labels = coalesce(?6, labels), "
        "spec_version = spec_version + 1, status = ?7, updated_at = ?8, "
        "backup_schedule = CASE WHEN ?10 THEN ?11 ELSE backup_schedule END, "
        "next_backup_at = CASE WHEN ?10 THEN NULL ELSE next_backup_at END, "
        "backup_retention = CASE WHEN ?12 THEN ?13 ELSE backup_retention END, "
        /* online resize: the nodes keep the old split until the slots moved (resize.c); from
         * one shard its nodes first restart in cluster mode (emulated before) */
        "slot_shards = CASE WHEN ?14 != shards THEN coalesce(slot_shards, shards) "
        "ELSE slot_shards END, restart_version = CASE WHEN shards = 1 AND ?14 > 1 THEN "
        "spec_version + 1 ELSE restart_version END, shards = ?14 WHERE id = ?9");
    sqlite3_bind_int64(st, 1, (s->given & SPEC_MEMORY) ? s->memory : in->memory);
    sqlite3_bind_int(st, 2, (s->given & SPEC_REPLICAS) ? s->replicas : in->replicas);
    db_bind_text(st, 3, (s->given & SPEC_POLICY) ? s->eviction_policy : in->eviction_policy);
    db_bind_text(st, 4, (s->given & SPEC_CRON) ? s->snapshot_cron : in->snapshot_cron);
    sqlite3_bind_int(st, 5, (s->given & SPEC_APPENDONLY) ? s->appendonly : in->appendonly);
    db_bind_text(st, 6, labels);
    db_bind_text(st, 7, status_after_change(in));
    sqlite3_bind_int64(st, 8, ids_now_ms());
    db_bind_text(st, 9, in->id);
    sqlite3_bind_int(st, 10, (s->given & SPEC_BACKUP_SCHEDULE) != 0);
    db_bind_text(st, 11, schedule);
    sqlite3_bind_int(st, 12, (s->given & SPEC_BACKUP_RETENTION) != 0);
    db_bind_text(st, 13, retention);
    sqlite3_bind_int(st, 14, (s->given & SPEC_SHARDS) ? s->shards : in->shards);
    int rc = db_step_done(st);
    db_done(st);
    free(labels);
    free(schedule);
    free(retention);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Records an accepted change: the operation and the event of its status. */
static int change_record(const instance_row *in, const char *kind, const char *status, char *op)
{
    if (store_operation_create(in->tenant_id, kind, in->id, in->spec_version + 1, op) < 0)
        return -1;
    store_event(in->id, "status", in->status, status, NULL, "%s requested (version %lld)", kind,
                in->spec_version + 1);
    return 0;
}

void api_instance_update(http_req *r)
{
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    instance_spec s;
    instance_row in;
    if (instance_spec_parse(r, body, &s, 0) < 0) {
        json_decref(body);
        return;
    }
    if (db_begin() != SQLITE_OK) {
        json_decref(body);
        http_reply_internal(r, "cannot begin");
        return;
    }
    char op[ID_MAX];
    if (change_target(r, &in, 0) < 0) {
        db_rollback();
        json_decref(body);
        return;
    }
    int rc = patch_check(r, &in, &s);
    if (rc == 0 && (patch_write(&in, &s) < 0 || instance_tls_save(r, in.id, &s, 0) < 0 ||
                    change_record(&in, "update", status_after_change(&in), op) < 0))
        rc = -1;
    json_decref(body);
    store_instance_clear(&in);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        if (rc < 0)
            db_rollback();
        if (!r->status)
            http_reply_internal(r, "cannot update an instance");
        return;
    }
    reply_accepted(r, r->params[0], op, NULL, NULL);
}

/* Restart and delete: a new version of the desired state with one column set. */
static void simple_change(http_req *r, const char *kind, const char *set_sql, int allow_deleting)
{
    if (!http_body_none(r))
        return;
    instance_row in;
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin");
        return;
    }
    if (change_target(r, &in, allow_deleting) < 0) {
        db_rollback();
        return;
    }
    char op[ID_MAX];
    const char *status = !strcmp(kind, "delete") ? ST_DELETING : status_after_change(&in);
    sqlite3_stmt *st = db_prepare(set_sql);
    db_bind_text(st, 1, status);
    sqlite3_bind_int64(st, 2, ids_now_ms());
    db_bind_text(st, 3, in.id);
    int rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
    db_done(st);
    if (rc == 0)
        rc = change_record(&in, kind, status, op);
    store_instance_clear(&in);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        if (rc < 0)
            db_rollback();
        http_reply_internal(r, "cannot record a change");
        return;
    }
    reply_accepted(r, r->params[0], op, NULL, NULL);
}

void api_instance_delete(http_req *r)
{
    simple_change(r, "delete",
                  "UPDATE instances SET delete_requested = 1, spec_version = spec_version + 1, "
                  "status = ?1, updated_at = ?2 WHERE id = ?3",
                  1);
}

void api_instance_restart(http_req *r)
{
    simple_change(r, "restart",
                  "UPDATE instances SET spec_version = spec_version + 1, "
                  "restart_version = spec_version + 1, status = ?1, updated_at = ?2 WHERE id = ?3",
                  0);
}
