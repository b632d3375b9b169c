/* libdflyapi: one thin typed helper per route of api/openapi.yaml. Paths are built here and
 * nowhere else; ids are URL-encoded so that no caller can step outside a resource. */
#include <stdio.h>
#include <string.h>

#include "dflyapi.h"

#define PATH_MAX_LEN 1024
#define IDEMPOTENCY_KEY_LEN 48

/* Builds the path of base/seg1/seg2 (NULL-terminated) or fails the call with ERR_ARG. */
#define BUILD_PATH(out, ...)                                                                       \
    do {                                                                                           \
        if (dflyapi_path(path, sizeof(path), __VA_ARGS__, DFLYAPI_PATH_END) < 0) {                 \
            dflyapi_result_clear(out);                                                             \
            (out)->err_code = strdup("invalid_argument");                                          \
            (out)->err_message = strdup("an id is too long");                                      \
            return DFLYAPI_ERR_ARG;                                                                \
        }                                                                                          \
    } while (0)

static dflyapi_err missing(dflyapi_result *out, const char *what)
{
    dflyapi_result_clear(out);
    out->err_code = strdup("invalid_argument");
    char msg[PATH_MAX_LEN];
    snprintf(msg, sizeof(msg), "%s is required", what);
    out->err_message = strdup(msg);
    return DFLYAPI_ERR_ARG;
}

/* A POST that makes something: with an Idempotency-Key always, made up when the caller gave
 * none, so that the library may retry it after a lost answer without making two. */
static dflyapi_err post_create(dflyapi_client *c, const char *path, const json_t *body,
                               const char *key, const char *if_match, dflyapi_result *out)
{
    char made[IDEMPOTENCY_KEY_LEN];
    if (!key) {
        dflyapi_idempotency_key(made, sizeof(made));
        key = made;
    }
    dflyapi_req req = {.body = body, .idempotency_key = key, .if_match = if_match};
    return dflyapi_request(c, "POST", path, &req, out);
}

dflyapi_err dflyapi_health(dflyapi_client *c, dflyapi_result *out)
{
    return dflyapi_request(c, "GET", "/readyz", NULL, out);
}

dflyapi_err dflyapi_openapi_get(dflyapi_client *c, dflyapi_result *out)
{
    return dflyapi_request(c, "GET", "/v1/openapi.json", NULL, out);
}

/* --- tenants ----------------------------------------------------------------------------- */

dflyapi_err dflyapi_tenant_create(dflyapi_client *c, const json_t *spec,
                                  const char *idempotency_key, dflyapi_result *out)
{
    return post_create(c, "/v1/tenants", spec, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_tenant_list(dflyapi_client *c, dflyapi_result *out)
{
    return dflyapi_list_all(c, "/v1/tenants", NULL, out);
}

dflyapi_err dflyapi_tenant_get(dflyapi_client *c, const char *tenant_id, dflyapi_result *out)
{
    if (!tenant_id || !*tenant_id)
        return missing(out, "a tenant id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/tenants", tenant_id);
    return dflyapi_request(c, "GET", path, NULL, out);
}

dflyapi_err dflyapi_tenant_update(dflyapi_client *c, const char *tenant_id, const json_t *patch,
                                  dflyapi_result *out)
{
    if (!tenant_id || !*tenant_id)
        return missing(out, "a tenant id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/tenants", tenant_id);
    dflyapi_req req = {.body = patch};
    return dflyapi_request(c, "PATCH", path, &req, out);
}

dflyapi_err dflyapi_tenant_delete(dflyapi_client *c, const char *tenant_id, dflyapi_result *out)
{
    if (!tenant_id || !*tenant_id)
        return missing(out, "a tenant id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/tenants", tenant_id);
    return dflyapi_request(c, "DELETE", path, NULL, out);
}

/* --- tokens ------------------------------------------------------------------------------ */

dflyapi_err dflyapi_token_create(dflyapi_client *c, const char *tenant_id, const char *name,
                                 const char *idempotency_key, dflyapi_result *out)
{
    if (!tenant_id || !*tenant_id)
        return missing(out, "a tenant id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/tenants", tenant_id, "tokens");
    json_t *body = name ? json_pack("{s:s}", "name", name) : json_object();
    dflyapi_err rc = post_create(c, path, body, idempotency_key, NULL, out);
    json_decref(body);
    return rc;
}

dflyapi_err dflyapi_token_list(dflyapi_client *c, const char *tenant_id, dflyapi_result *out)
{
    if (!tenant_id || !*tenant_id)
        return missing(out, "a tenant id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/tenants", tenant_id, "tokens");
    return dflyapi_list_all(c, path, NULL, out);
}

dflyapi_err dflyapi_token_revoke(dflyapi_client *c, const char *tenant_id, const char *token_id,
                                 dflyapi_result *out)
{
    if (!tenant_id || !*tenant_id || !token_id || !*token_id)
        return missing(out, "a tenant id and a token id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/tenants", tenant_id, "tokens", token_id);
    return dflyapi_request(c, "DELETE", path, NULL, out);
}

/* --- instances --------------------------------------------------------------------------- */

dflyapi_err dflyapi_instance_create(dflyapi_client *c, const json_t *spec,
                                    const char *idempotency_key, dflyapi_result *out)
{
    return post_create(c, "/v1/instances", spec, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_instance_list(dflyapi_client *c, const dflyapi_param *filters,
                                  dflyapi_result *out)
{
    return dflyapi_list_all(c, "/v1/instances", filters, out);
}

dflyapi_err dflyapi_instance_get(dflyapi_client *c, const char *instance_id, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id);
    return dflyapi_request(c, "GET", path, NULL, out);
}

dflyapi_err dflyapi_instance_update(dflyapi_client *c, const char *instance_id, const json_t *patch,
                                    const char *if_match, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id);
    dflyapi_req req = {.body = patch, .if_match = if_match};
    return dflyapi_request(c, "PATCH", path, &req, out);
}

dflyapi_err dflyapi_instance_delete(dflyapi_client *c, const char *instance_id,
                                    const char *if_match, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id);
    dflyapi_req req = {.if_match = if_match};
    return dflyapi_request(c, "DELETE", path, &req, out);
}

dflyapi_err dflyapi_instance_restart(dflyapi_client *c, const char *instance_id,
                                     const char *if_match, const char *idempotency_key,
                                     dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "restart");
    return post_create(c, path, NULL, idempotency_key, if_match, out);
}

typedef struct name_match {
    const char *name;
    json_t *found; /* the first match (a reference) */
    int count;
} name_match;

static int match_name(const json_t *item, void *ud)
{
    name_match *m = ud;
    const char *name = json_string_value(json_object_get(item, "name"));
    if (name && !strcmp(name, m->name)) {
        if (!m->found)
            m->found = json_incref((json_t *)item);
        m->count++;
    }
    return 0;
}

dflyapi_err dflyapi_instance_find(dflyapi_client *c, const char *id_or_name, dflyapi_result *out)
{
    dflyapi_err rc = dflyapi_instance_get(c, id_or_name, out);
    if (rc != DFLYAPI_ERR_HTTP || out->status != 404)
        return rc;
    /* names never contain '_' and ids always do: only a name is worth a search */
    if (strchr(id_or_name, '_'))
        return rc;
    name_match m = {.name = id_or_name};
    dflyapi_result list = {0};
    rc = dflyapi_list_each(c, "/v1/instances", NULL, match_name, &m, &list);
    if (rc != DFLYAPI_OK) {
        dflyapi_result_clear(out);
        *out = list;
        json_decref(m.found);
        return rc;
    }
    dflyapi_result_clear(&list);
    if (m.count != 1) {
        json_decref(m.found);
        dflyapi_result_clear(out);
        out->status = 404;
        out->err_code = strdup(m.count ? "ambiguous" : "not_found");
        char msg[PATH_MAX_LEN];
        if (m.count)
            snprintf(msg, sizeof(msg), "%d instances are named %s: give its id", m.count,
                     id_or_name);
        else
            snprintf(msg, sizeof(msg), "no instance %s", id_or_name);
        out->err_message = strdup(msg);
        return DFLYAPI_ERR_HTTP;
    }
    /* read it again by id so that the answer carries its ETag */
    const char *id = json_string_value(json_object_get(m.found, "id"));
    char idbuf[PATH_MAX_LEN];
    snprintf(idbuf, sizeof(idbuf), "%s", id ? id : "");
    json_decref(m.found);
    return dflyapi_instance_get(c, idbuf, out);
}

dflyapi_err dflyapi_events_page(dflyapi_client *c, const char *instance_id, const char *cursor,
                                dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "events");
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", DFLYAPI_PAGE_LIMIT);
    dflyapi_param q[] = {{"limit", limit}, {cursor ? "cursor" : NULL, cursor}, {NULL, NULL}};
    dflyapi_req req = {.query = q};
    return dflyapi_request(c, "GET", path, &req, out);
}

dflyapi_err dflyapi_events_list(dflyapi_client *c, const char *instance_id, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "events");
    return dflyapi_list_all(c, path, NULL, out);
}

dflyapi_err dflyapi_operation_get(dflyapi_client *c, const char *operation_id, dflyapi_result *out)
{
    if (!operation_id || !*operation_id)
        return missing(out, "an operation id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/operations", operation_id);
    return dflyapi_request(c, "GET", path, NULL, out);
}

/* --- backups, restores, failovers -------------------------------------------------------- */

dflyapi_err dflyapi_backup_create(dflyapi_client *c, const char *instance_id,
                                  const char *idempotency_key, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "backups");
    return post_create(c, path, NULL, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_backup_list(dflyapi_client *c, const char *instance_id, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "backups");
    return dflyapi_list_all(c, path, NULL, out);
}

dflyapi_err dflyapi_backup_get(dflyapi_client *c, const char *backup_id, dflyapi_result *out)
{
    if (!backup_id || !*backup_id)
        return missing(out, "a backup id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/backups", backup_id);
    return dflyapi_request(c, "GET", path, NULL, out);
}

dflyapi_err dflyapi_backup_delete(dflyapi_client *c, const char *backup_id, dflyapi_result *out)
{
    if (!backup_id || !*backup_id)
        return missing(out, "a backup id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/backups", backup_id);
    return dflyapi_request(c, "DELETE", path, NULL, out);
}

dflyapi_err dflyapi_backup_download(dflyapi_client *c, const char *backup_id, FILE *sink,
                                    dflyapi_result *out)
{
    if (!backup_id || !*backup_id || !sink)
        return missing(out, "a backup id and a file");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/backups", backup_id, "download");
    dflyapi_req req = {.sink = sink};
    return dflyapi_request(c, "GET", path, &req, out);
}

dflyapi_err dflyapi_instance_restore(dflyapi_client *c, const char *instance_id,
                                     const char *backup_id, const char *idempotency_key,
                                     dflyapi_result *out)
{
    if (!instance_id || !*instance_id || !backup_id || !*backup_id)
        return missing(out, "an instance id and a backup id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "restore");
    json_t *body = json_pack("{s:s}", "backup_id", backup_id);
    dflyapi_err rc = post_create(c, path, body, idempotency_key, NULL, out);
    json_decref(body);
    return rc;
}

dflyapi_err dflyapi_instance_failover(dflyapi_client *c, const char *instance_id,
                                      const json_t *request, const char *idempotency_key,
                                      dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "failover");
    return post_create(c, path, request, idempotency_key, NULL, out);
}

/* --- ACL users --------------------------------------------------------------------------- */

/* Fails the call unless both the instance id and the user name are given. */
#define NEED_INSTANCE_AND(out, second, what)                                                       \
    do {                                                                                           \
        if (!instance_id || !*instance_id || !(second) || !*(second))                              \
            return missing(out, "an instance id and " what);                                       \
    } while (0)

dflyapi_err dflyapi_user_create(dflyapi_client *c, const char *instance_id, const json_t *spec,
                                const char *idempotency_key, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users");
    return post_create(c, path, spec, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_user_list(dflyapi_client *c, const char *instance_id, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users");
    return dflyapi_list_all(c, path, NULL, out);
}

dflyapi_err dflyapi_user_get(dflyapi_client *c, const char *instance_id, const char *username,
                             dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, username, "a user name");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users", username);
    return dflyapi_request(c, "GET", path, NULL, out);
}

dflyapi_err dflyapi_user_update(dflyapi_client *c, const char *instance_id, const char *username,
                                const json_t *patch, dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, username, "a user name");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users", username);
    dflyapi_req req = {.body = patch};
    return dflyapi_request(c, "PATCH", path, &req, out);
}

dflyapi_err dflyapi_user_delete(dflyapi_client *c, const char *instance_id, const char *username,
                                dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, username, "a user name");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users", username);
    return dflyapi_request(c, "DELETE", path, NULL, out);
}

dflyapi_err dflyapi_user_rotate_password(dflyapi_client *c, const char *instance_id,
                                         const char *username, const json_t *request,
                                         const char *idempotency_key, dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, username, "a user name");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users", username, "rotate-password");
    /* a retried rotation must not make a second password: it carries a key like a create */
    return post_create(c, path, request, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_user_finish_rotation(dflyapi_client *c, const char *instance_id,
                                         const char *username, dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, username, "a user name");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "users", username, "finish-rotation");
    /* harmless to repeat (a no-op without a rotation): keyed so that it is retried */
    return post_create(c, path, NULL, NULL, NULL, out);
}

/* --- metrics ----------------------------------------------------------------------------- */

#define NUMBER_TEXT_MAX 24

dflyapi_err dflyapi_metrics_get(dflyapi_client *c, const char *instance_id,
                                const dflyapi_metrics_query *q, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "metrics");
    char from[NUMBER_TEXT_MAX], to[NUMBER_TEXT_MAX], step[NUMBER_TEXT_MAX];
    dflyapi_param params[5];
    int n = 0;
    if (q && q->names && *q->names)
        params[n++] = (dflyapi_param){"names", q->names};
    if (q && q->from > 0) {
        snprintf(from, sizeof(from), "%lld", q->from);
        params[n++] = (dflyapi_param){"from", from};
    }
    if (q && q->to > 0) {
        snprintf(to, sizeof(to), "%lld", q->to);
        params[n++] = (dflyapi_param){"to", to};
    }
    if (q && q->step > 0) {
        snprintf(step, sizeof(step), "%ld", q->step);
        params[n++] = (dflyapi_param){"step", step};
    }
    params[n] = (dflyapi_param){NULL, NULL};
    dflyapi_req req = {.query = params};
    return dflyapi_request(c, "GET", path, &req, out);
}

/* --- certificates ------------------------------------------------------------------------ */

dflyapi_err dflyapi_ca_get(dflyapi_client *c, FILE *sink, dflyapi_result *out)
{
    if (!sink)
        return missing(out, "a file");
    dflyapi_req req = {.sink = sink};
    return dflyapi_request(c, "GET", "/v1/ca", &req, out);
}

dflyapi_err dflyapi_certificate_get(dflyapi_client *c, const char *instance_id, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "certificate");
    return dflyapi_request(c, "GET", path, NULL, out);
}

dflyapi_err dflyapi_certificate_rotate(dflyapi_client *c, const char *instance_id,
                                       const char *idempotency_key, dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "certificate", "rotate");
    return post_create(c, path, NULL, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_client_cert_create(dflyapi_client *c, const char *instance_id,
                                       const json_t *spec, const char *idempotency_key,
                                       dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "client-certificates");
    return post_create(c, path, spec, idempotency_key, NULL, out);
}

dflyapi_err dflyapi_client_cert_list(dflyapi_client *c, const char *instance_id,
                                     dflyapi_result *out)
{
    if (!instance_id || !*instance_id)
        return missing(out, "an instance id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "client-certificates");
    return dflyapi_list_all(c, path, NULL, out);
}

dflyapi_err dflyapi_client_cert_get(dflyapi_client *c, const char *instance_id, const char *cert_id,
                                    dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, cert_id, "a certificate id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "client-certificates", cert_id);
    return dflyapi_request(c, "GET", path, NULL, out);
}

dflyapi_err dflyapi_client_cert_delete(dflyapi_client *c, const char *instance_id,
                                       const char *cert_id, dflyapi_result *out)
{
    NEED_INSTANCE_AND(out, cert_id, "a certificate id");
    char path[PATH_MAX_LEN];
    BUILD_PATH(out, "/v1/instances", instance_id, "client-certificates", cert_id);
    return dflyapi_request(c, "DELETE", path, NULL, out);
}
