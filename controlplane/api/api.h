/* Handlers of API v1, one file per resource: system.c (health, readiness, metrics, the OpenAPI
 * document), tenants.c, tokens.c, instances.c (with instance_view.c, the JSON of an instance
 * and instance_validate.c, the checks of its fields), operations.c (operations and events).
 *
 * A handler validates, then writes desired state and an operation in one transaction, and
 * answers. It never talks to nodes or processes: the reconciler does. */
#ifndef DFLY_CONTROL_API_H
#define DFLY_CONTROL_API_H

#include <jansson.h>
#include <sqlite3.h>

#include "http/http.h"
#include "store.h"

#define PAGE_LIMIT_DEFAULT 20
#define PAGE_LIMIT_MAX 100
#define CURSOR_MAX 160

void api_healthz(http_req *r);
void api_readyz(http_req *r);
void api_metrics(http_req *r);
void api_openapi(http_req *r);

void api_tenant_create(http_req *r);
void api_tenant_list(http_req *r);
void api_tenant_get(http_req *r);
void api_tenant_update(http_req *r);
void api_tenant_delete(http_req *r);

void api_token_create(http_req *r);
void api_token_list(http_req *r);
void api_token_revoke(http_req *r);

void api_instance_create(http_req *r);
void api_instance_list(http_req *r);
void api_instance_get(http_req *r);
void api_instance_update(http_req *r);
void api_instance_delete(http_req *r);
void api_instance_restart(http_req *r);
void api_instance_events(http_req *r);

void api_operation_get(http_req *r);

/* issue 15: failover, backups, restores (instance_actions.c, backups.c) */
void api_instance_failover(http_req *r);
void api_instance_restore(http_req *r);
void api_backup_create(http_req *r);
void api_backup_list(http_req *r);
void api_backup_get(http_req *r);
void api_backup_delete(http_req *r);
void api_backup_download(http_req *r);

/* issue 14: ACL users of an instance (users.c) */
void api_user_create(http_req *r);
void api_user_list(http_req *r);
void api_user_get(http_req *r);
void api_user_update(http_req *r);
void api_user_delete(http_req *r);
void api_user_rotate(http_req *r);
void api_user_finish_rotation(http_req *r);

/* issue 14: metrics aggregation (metrics_api.c) */
void api_instance_metrics(http_req *r);
void api_instance_alerts_get(http_req *r);
void api_instance_alerts_put(http_req *r);

/* issue 14: the internal CA and certificates (certs.c) */
void api_ca_get(http_req *r);
void api_instance_cert_get(http_req *r);
void api_instance_cert_rotate(http_req *r);
void api_client_cert_create(http_req *r);
void api_client_cert_list(http_req *r);
void api_client_cert_get(http_req *r);
void api_client_cert_delete(http_req *r);

/* ---- shared by the handlers (api_util.c) ---------------------------------------------------- */

/* A page of a list: limit and the position after which it starts (from ?limit= and ?cursor=).
 * Answers 400 and returns -1 when they are malformed. */
typedef struct page_req {
    int limit;
    long long after_ts;
    char after_id[ID_MAX]; /* "" for the first page */
} page_req;
int api_page_parse(http_req *r, page_req *pg);
/* tests/fuzz/fuzz_control.c only: decodes a ?cursor= value (id: ID_MAX). 0, or -1. */
int api_cursor_decode_for_fuzzing(const char *s, long long *ts, char *id);
/* {"items": items, "next_cursor": <cursor after (ts, id)> or null}. Steals items. */
json_t *api_page(json_t *items, int more, long long last_ts, const char *last_id);
/* The page of a list query whose rows are ordered by (created_at, id) and limited to
 * pg->limit + 1: each row becomes an item through row(); id is column 0, created_at column
 * ts_col. Finishes st. */
json_t *api_page_rows(sqlite3_stmt *st, const page_req *pg, json_t *(*row)(sqlite3_stmt *),
                      int ts_col);

/* The tenant a caller may act on: NULL for the operator (all), its own id otherwise. */
const char *api_scope_tenant(const http_req *r);
/* 1 when the caller may see tenant_id (an operator, or a token of that tenant). */
int api_tenant_visible(const http_req *r, const char *tenant_id);
/* 1 when tenant_id exists. */
int api_tenant_exists(const char *tenant_id);

/* A name: 1-63 of [a-z0-9-], starting with a letter or digit. */
int api_name_valid(const char *s);
/* A size in bytes from a JSON integer or a string with Redis's units ("1gb"). Returns 0, or -1
 * when it is neither. */
int api_bytes(json_t *v, long long *out);
/* Answers 422 naming the first member of body not in allowed; returns -1 then. */
int api_check_members(http_req *r, json_t *body, const char *const *allowed);

/* JSON of operation id, or NULL. */
json_t *api_operation_json(const char *id);

#endif
