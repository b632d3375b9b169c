/* /v1/tenants/{id}/tokens: API tokens of a tenant. An operator manages any tenant's tokens; a
 * tenant token manages its own tenant's. The secret is in the create response only. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "jsonx.h"

#define TOKEN_NAME_MAX 128

static const char *const token_fields[] = {"name", NULL};

static json_t *token_from_row(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", db_text(st, 0), "tenant_id",
                     db_text(st, 1), "name", db_text(st, 2), "prefix", db_text(st, 3), "created_at",
                     jx_time(sqlite3_column_int64(st, 4)), "last_used_at",
                     jx_time(sqlite3_column_int64(st, 5)), "revoked_at",
                     jx_time(sqlite3_column_int64(st, 6)));
}

#define CREATED_AT_COL 4 /* of the SELECT below */
#define TOKEN_SELECT                                                                               \
    "SELECT id, tenant_id, name, prefix, created_at, coalesce(last_used_at, 0), "                  \
    "coalesce(revoked_at, 0) FROM tokens "

static int tenant_found(http_req *r, const char *id)
{
    if (api_tenant_visible(r, id) && api_tenant_exists(id))
        return 1;
    http_reply_error(r, 404, "not_found", NULL, "no tenant %s", id);
    return 0;
}

static json_t *token_json(const char *id)
{
    sqlite3_stmt *st = db_prepare(TOKEN_SELECT "WHERE id = ?");
    db_bind_text(st, 1, id);
    json_t *t = sqlite3_step(st) == SQLITE_ROW ? token_from_row(st) : NULL;
    db_done(st);
    return t;
}

void api_token_create(http_req *r)
{
    const char *tenant = r->params[0];
    if (!tenant_found(r, tenant))
        return;
    json_t *body = http_body_object(r, 1);
    if (!body)
        return;
    if (api_check_members(r, body, token_fields) < 0) {
        json_decref(body);
        return;
    }
    json_t *nv = json_object_get(body, "name");
    if (nv && (!json_is_string(nv) || !*json_string_value(nv) ||
               strlen(json_string_value(nv)) > TOKEN_NAME_MAX)) {
        http_reply_invalid(r, "name", "name must be a string of 1 to %d characters",
                           TOKEN_NAME_MAX);
        json_decref(body);
        return;
    }
    char id[ID_MAX], secret[SECRET_MAX];
    if (auth_token_create(tenant, nv ? json_string_value(nv) : "token", id, secret, NULL) < 0) {
        json_decref(body);
        http_reply_internal(r, "cannot create a token");
        return;
    }
    json_decref(body);
    json_t *t = token_json(id);
    json_object_set_new(t, "secret", json_string(secret));
    snprintf(r->location, sizeof(r->location), "/v1/tenants/%s/tokens/%s", tenant, id);
    http_reply_json(r, 201, t);
}

void api_token_list(http_req *r)
{
    const char *tenant = r->params[0];
    if (!tenant_found(r, tenant))
        return;
    page_req pg;
    if (api_page_parse(r, &pg) < 0)
        return;
    sqlite3_stmt *st = db_prepare(TOKEN_SELECT "WHERE tenant_id = ?1 AND (created_at, id) > "
                                               "(?2, ?3) ORDER BY created_at, id LIMIT ?4");
    db_bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, pg.after_ts);
    db_bind_text(st, 3, pg.after_id);
    sqlite3_bind_int(st, 4, pg.limit + 1);
    http_reply_json(r, 200, api_page_rows(st, &pg, token_from_row, CREATED_AT_COL));
}

void api_token_revoke(http_req *r)
{
    const char *tenant = r->params[0], *id = r->params[1];
    if (!tenant_found(r, tenant))
        return;
    sqlite3_stmt *st = db_prepare("UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) "
                                  "WHERE id = ? AND tenant_id = ?");
    sqlite3_bind_int64(st, 1, ids_now_ms());
    db_bind_text(st, 2, id);
    db_bind_text(st, 3, tenant);
    int rc = db_step_done(st);
    db_done(st);
    if (rc != SQLITE_DONE)
        http_reply_internal(r, "cannot revoke a token");
    else if (db_changes() == 0)
        http_reply_error(r, 404, "not_found", NULL, "no token %s", id);
    else
        http_reply_raw(r, 204, "application/json", "", 0);
}
