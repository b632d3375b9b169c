/* /v1/tenants: create, list, get, update (name and quotas), delete (refused while the tenant
 * has instances). Operator only, except that a tenant token may read its own tenant. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "jsonx.h"

#define DEFAULT_MAX_INSTANCES 10
#define DEFAULT_MAX_MEMORY (16LL << 30)
#define MAX_INSTANCES_LIMIT 10000
#define MAX_MEMORY_LIMIT (1LL << 50)

static const char *const tenant_fields[] = {"name", "max_instances", "max_memory", NULL};

#define CREATED_AT_COL 4 /* of the SELECT below */
#define TENANT_SELECT                                                                              \
    "SELECT t.id, t.name, t.max_instances, t.max_memory, t.created_at, t.updated_at, "             \
    "(SELECT count(*) FROM instances i WHERE i.tenant_id = t.id AND i.status != 'gone'), "         \
    "(SELECT coalesce(sum(memory), 0) FROM instances i WHERE i.tenant_id = t.id AND "              \
    "i.status != 'gone') FROM tenants t "

static json_t *tenant_from_row(sqlite3_stmt *st)
{
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:o, s:o, s:{s:I, s:I}}", "id", db_text(st, 0), "name",
        db_text(st, 1), "max_instances", (json_int_t)sqlite3_column_int64(st, 2), "max_memory",
        (json_int_t)sqlite3_column_int64(st, 3), "created_at", jx_time(sqlite3_column_int64(st, 4)),
        "updated_at", jx_time(sqlite3_column_int64(st, 5)), "usage", "instances",
        (json_int_t)sqlite3_column_int64(st, 6), "memory", (json_int_t)sqlite3_column_int64(st, 7));
}

static json_t *tenant_json(const char *id)
{
    sqlite3_stmt *st = db_prepare(TENANT_SELECT "WHERE t.id = ?");
    if (!st)
        return NULL;
    db_bind_text(st, 1, id);
    json_t *t = sqlite3_step(st) == SQLITE_ROW ? tenant_from_row(st) : NULL;
    db_done(st);
    return t;
}

/* Reads and checks the quota fields present in body. Returns 0, or -1 answered. */
static int quotas_parse(http_req *r, json_t *body, long long *max_instances, long long *max_memory)
{
    json_t *v = json_object_get(body, "max_instances");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > MAX_INSTANCES_LIMIT) {
            http_reply_invalid(r, "max_instances", "max_instances must be an integer 0 to %d",
                               MAX_INSTANCES_LIMIT);
            return -1;
        }
        *max_instances = json_integer_value(v);
    }
    v = json_object_get(body, "max_memory");
    if (v && (api_bytes(v, max_memory) < 0 || *max_memory > MAX_MEMORY_LIMIT)) {
        http_reply_invalid(r, "max_memory",
                           "max_memory must be bytes: an integer or a size such as \"64gb\"");
        return -1;
    }
    return 0;
}

static int name_parse(http_req *r, json_t *body, const char **name, int required)
{
    json_t *v = json_object_get(body, "name");
    if (!v && !required)
        return 0;
    if (!json_is_string(v) || !api_name_valid(json_string_value(v))) {
        http_reply_invalid(r, "name",
                           "name must be 1 to %d characters of a-z, 0-9 and '-', starting with "
                           "a letter or digit",
                           NAME_MAX_LEN);
        return -1;
    }
    *name = json_string_value(v);
    return 0;
}

static void reply_tenant(http_req *r, int status, const char *id)
{
    json_t *t = tenant_json(id);
    if (!t) {
        http_reply_internal(r, "a tenant vanished");
        return;
    }
    snprintf(r->location, sizeof(r->location), "/v1/tenants/%s", id);
    http_reply_json(r, status, t);
}

void api_tenant_create(http_req *r)
{
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    const char *name = NULL;
    long long max_instances = DEFAULT_MAX_INSTANCES, max_memory = DEFAULT_MAX_MEMORY;
    if (api_check_members(r, body, tenant_fields) < 0 || name_parse(r, body, &name, 1) < 0 ||
        quotas_parse(r, body, &max_instances, &max_memory) < 0) {
        json_decref(body);
        return;
    }
    char id[ID_MAX];
    ids_new("ten", id);
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare("INSERT INTO tenants(id, name, max_instances, max_memory, "
                                  "created_at, updated_at) VALUES (?,?,?,?,?,?)");
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, max_instances);
    sqlite3_bind_int64(st, 4, max_memory);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, now);
    int rc = db_step_done(st);
    db_done(st);
    if (rc == SQLITE_CONSTRAINT)
        http_reply_error(r, 409, "conflict", "name", "a tenant named '%s' exists", name);
    else if (rc != SQLITE_DONE)
        http_reply_internal(r, "cannot insert a tenant");
    else
        reply_tenant(r, 201, id);
    json_decref(body);
}

void api_tenant_list(http_req *r)
{
    page_req pg;
    if (api_page_parse(r, &pg) < 0)
        return;
    sqlite3_stmt *st = db_prepare(TENANT_SELECT "WHERE (t.created_at, t.id) > (?1, ?2) "
                                                "ORDER BY t.created_at, t.id LIMIT ?3");
    if (!st) {
        http_reply_internal(r, "cannot list tenants");
        return;
    }
    sqlite3_bind_int64(st, 1, pg.after_ts);
    db_bind_text(st, 2, pg.after_id);
    sqlite3_bind_int(st, 3, pg.limit + 1);
    http_reply_json(r, 200, api_page_rows(st, &pg, tenant_from_row, CREATED_AT_COL));
}

static int tenant_found(http_req *r, const char *id)
{
    if (api_tenant_visible(r, id) && api_tenant_exists(id))
        return 1;
    http_reply_error(r, 404, "not_found", NULL, "no tenant %s", id);
    return 0;
}

void api_tenant_get(http_req *r)
{
    if (tenant_found(r, r->params[0]))
        reply_tenant(r, 200, r->params[0]);
}

void api_tenant_update(http_req *r)
{
    const char *id = r->params[0];
    if (!tenant_found(r, id))
        return;
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    const char *name = NULL;
    long long max_instances = -1, max_memory = -1;
    if (api_check_members(r, body, tenant_fields) < 0 || name_parse(r, body, &name, 0) < 0 ||
        quotas_parse(r, body, &max_instances, &max_memory) < 0) {
        json_decref(body);
        return;
    }
    sqlite3_stmt *st =
        db_prepare("UPDATE tenants SET name = coalesce(?1, name), "
                   "max_instances = CASE WHEN ?2 >= 0 THEN ?2 ELSE max_instances END, "
                   "max_memory = CASE WHEN ?3 >= 0 THEN ?3 ELSE max_memory END, updated_at = ?4 "
                   "WHERE id = ?5");
    db_bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, max_instances);
    sqlite3_bind_int64(st, 3, max_memory);
    sqlite3_bind_int64(st, 4, ids_now_ms());
    db_bind_text(st, 5, id);
    int rc = db_step_done(st);
    db_done(st);
    if (rc == SQLITE_CONSTRAINT)
        http_reply_error(r, 409, "conflict", "name", "a tenant named '%s' exists", name);
    else if (rc != SQLITE_DONE)
        http_reply_internal(r, "cannot update a tenant");
    else
        reply_tenant(r, 200, id);
    json_decref(body);
}

void api_tenant_delete(http_req *r)
{
    const char *id = r->params[0];
    if (!tenant_found(r, id))
        return;
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin");
        return;
    }
    sqlite3_stmt *st =
        db_prepare("SELECT count(*) FROM instances WHERE tenant_id = ? AND status != 'gone'");
    db_bind_text(st, 1, id);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    db_done(st);
    if (n != 0) {
        db_rollback();
        if (n < 0)
            http_reply_internal(r, "cannot count instances");
        else
            http_reply_error(r, 409, "conflict", NULL,
                             "tenant %s has %d instance(s); delete them first", id, n);
        return;
    }
    st = db_prepare("DELETE FROM tenants WHERE id = ?"); /* tokens and history go with it */
    db_bind_text(st, 1, id);
    int rc = db_step_done(st);
    db_done(st);
    if (rc != SQLITE_DONE || db_commit() != SQLITE_OK) {
        if (rc != SQLITE_DONE)
            db_rollback();
        http_reply_internal(r, "cannot delete a tenant");
        return;
    }
    http_reply_raw(r, 204, "application/json", "", 0);
}
