/* API v1 routes and the steps every request goes through before its handler. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "config.h"
#include "http/idempotency.h"
#include "ratelimit.h"

#define BEARER "Bearer "
#define PATH_SEGMENTS_MAX 8

void (*router_on_change)(void);

const route router_routes[] = {
    {"GET", "/healthz", ROUTE_PUBLIC, api_healthz},
    {"GET", "/readyz", ROUTE_PUBLIC, api_readyz},
    {"GET", "/metrics", ROUTE_PUBLIC, api_metrics},
    {"GET", "/v1/openapi.json", ROUTE_PUBLIC, api_openapi},
    {"POST", "/v1/tenants", ROUTE_OPERATOR, api_tenant_create},
    {"GET", "/v1/tenants", ROUTE_OPERATOR, api_tenant_list},
    {"GET", "/v1/tenants/{tenant_id}", ROUTE_TOKEN, api_tenant_get},
    {"PATCH", "/v1/tenants/{tenant_id}", ROUTE_OPERATOR, api_tenant_update},
    {"DELETE", "/v1/tenants/{tenant_id}", ROUTE_OPERATOR, api_tenant_delete},
    {"POST", "/v1/tenants/{tenant_id}/tokens", ROUTE_TOKEN, api_token_create},
    {"GET", "/v1/tenants/{tenant_id}/tokens", ROUTE_TOKEN, api_token_list},
    {"DELETE", "/v1/tenants/{tenant_id}/tokens/{token_id}", ROUTE_TOKEN, api_token_revoke},
    {"POST", "/v1/instances", ROUTE_TOKEN, api_instance_create},
    {"GET", "/v1/instances", ROUTE_TOKEN, api_instance_list},
    {"GET", "/v1/instances/{instance_id}", ROUTE_TOKEN, api_instance_get},
    {"PATCH", "/v1/instances/{instance_id}", ROUTE_TOKEN, api_instance_update},
    {"DELETE", "/v1/instances/{instance_id}", ROUTE_TOKEN, api_instance_delete},
    {"POST", "/v1/instances/{instance_id}/restart", ROUTE_TOKEN, api_instance_restart},
    {"GET", "/v1/instances/{instance_id}/events", ROUTE_TOKEN, api_instance_events},
    {"GET", "/v1/operations/{operation_id}", ROUTE_TOKEN, api_operation_get},
    {"POST", "/v1/instances/{instance_id}/failover", ROUTE_TOKEN, api_instance_failover},
    {"POST", "/v1/instances/{instance_id}/restore", ROUTE_TOKEN, api_instance_restore},
    {"POST", "/v1/instances/{instance_id}/backups", ROUTE_TOKEN, api_backup_create},
    {"GET", "/v1/instances/{instance_id}/backups", ROUTE_TOKEN, api_backup_list},
    {"GET", "/v1/backups/{backup_id}", ROUTE_TOKEN, api_backup_get},
    {"DELETE", "/v1/backups/{backup_id}", ROUTE_TOKEN, api_backup_delete},
    {"GET", "/v1/backups/{backup_id}/download", ROUTE_TOKEN, api_backup_download},
    /* issue 14: ACL users (api/users.c) */
    {"POST", "/v1/instances/{instance_id}/users", ROUTE_TOKEN, api_user_create},
    {"GET", "/v1/instances/{instance_id}/users", ROUTE_TOKEN, api_user_list},
    {"GET", "/v1/instances/{instance_id}/users/{username}", ROUTE_TOKEN, api_user_get},
    {"PATCH", "/v1/instances/{instance_id}/users/{username}", ROUTE_TOKEN, api_user_update},
    {"DELETE", "/v1/instances/{instance_id}/users/{username}", ROUTE_TOKEN, api_user_delete},
    {"POST", "/v1/instances/{instance_id}/users/{username}/rotate-password", ROUTE_TOKEN,
     api_user_rotate},
    {"POST", "/v1/instances/{instance_id}/users/{username}/finish-rotation", ROUTE_TOKEN,
     api_user_finish_rotation},
    /* issue 14: metrics aggregation (api/metrics_api.c) */
    {"GET", "/v1/instances/{instance_id}/metrics", ROUTE_TOKEN, api_instance_metrics},
    {"GET", "/v1/instances/{instance_id}/alerts", ROUTE_TOKEN, api_instance_alerts_get},
    {"PUT", "/v1/instances/{instance_id}/alerts", ROUTE_TOKEN, api_instance_alerts_put},
    /* issue 14: the internal CA and certificates (api/certs.c) */
    {"GET", "/v1/ca", ROUTE_TOKEN, api_ca_get},
    {"GET", "/v1/instances/{instance_id}/certificate", ROUTE_TOKEN, api_instance_cert_get},
    {"POST", "/v1/instances/{instance_id}/certificate/rotate", ROUTE_TOKEN,
     api_instance_cert_rotate},
    {"POST", "/v1/instances/{instance_id}/client-certificates", ROUTE_TOKEN,
     api_client_cert_create},
    {"GET", "/v1/instances/{instance_id}/client-certificates", ROUTE_TOKEN, api_client_cert_list},
    {"GET", "/v1/instances/{instance_id}/client-certificates/{cert_id}", ROUTE_TOKEN,
     api_client_cert_get},
    {"DELETE", "/v1/instances/{instance_id}/client-certificates/{cert_id}", ROUTE_TOKEN,
     api_client_cert_delete},
    {NULL},
};

int router_route_count(void)
{
    int n = 0;
    while (router_routes[n].method)
        n++;
    return n;
}

/* Splits path (modified) into segments. Returns their count, or -1 when there are too many. */
static int split_path(char *path, char **seg)
{
    int n = 0;
    for (char *save = NULL, *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == PATH_SEGMENTS_MAX)
            return -1;
        seg[n++] = s;
    }
    return n;
}

/* Does the pattern match these segments? Fills params when it does. */
static int pattern_match(const char *pattern, char **seg, int nseg, const char **params)
{
    char copy[HTTP_HEADER_VALUE_MAX];
    snprintf(copy, sizeof(copy), "%s", pattern);
    char *pseg[PATH_SEGMENTS_MAX];
    int np = split_path(copy, pseg);
    if (np != nseg)
        return 0;
    int k = 0;
    for (int i = 0; i < np; i++) {
        if (pseg[i][0] == '{') {
            if (k < ROUTE_PARAMS_MAX)
                params[k++] = seg[i];
        } else if (strcmp(pseg[i], seg[i])) {
            return 0;
        }
    }
    return 1;
}

/* The route for r, or NULL with a 404 or 405 answered. */
static const route *route_find(http_req *r)
{
    free(r->path_copy);
    r->path_copy = strdup(r->url);
    char *seg[PATH_SEGMENTS_MAX];
    int nseg = split_path(r->path_copy, seg);
    const route *found = NULL;
    r->allow[0] = '\0';
    for (const route *rt = router_routes; nseg >= 0 && rt->method; rt++) {
        const char *params[ROUTE_PARAMS_MAX] = {0};
        if (!pattern_match(rt->pattern, seg, nseg, params))
            continue;
        size_t used = strlen(r->allow);
        snprintf(r->allow + used, sizeof(r->allow) - used, "%s%s", used ? ", " : "", rt->method);
        if (!found && !strcmp(rt->method, r->method)) {
            found = rt;
            memcpy(r->params, params, sizeof(params));
        }
    }
    if (found)
        return found;
    if (r->allow[0])
        http_reply_error(r, 405, "method_not_allowed", NULL,
                         "%s is not allowed on %s (allowed: %s)", r->method, r->url, r->allow);
    else
        http_reply_error(r, 404, "not_found", NULL, "no such resource: %s", r->url);
    return NULL;
}

/* Authenticates r from its Authorization header. Answers 401/403/429 and returns -1 when the
 * request may not go on. */
static int authorize(http_req *r, enum route_auth need)
{
    const char *h = http_header(r, "Authorization");
    if (!h || strncasecmp(h, BEARER, strlen(BEARER))) {
        r->www_authenticate = 1;
        http_reply_error(r, 401, "unauthorized", NULL,
                         "an API token is required: Authorization: Bearer <token>");
        return -1;
    }
    const char *secret = h + strlen(BEARER);
    while (*secret == ' ')
        secret++;
    if (auth_lookup(secret, &r->who) < 0) {
        r->www_authenticate = 1;
        http_reply_error(r, 401, "unauthorized", NULL, "the API token is not valid or revoked");
        return -1;
    }
    r->authenticated = 1;
    int wait = ratelimit_take(r->who.token_id);
    if (wait > 0) {
        r->retry_after = wait;
        http_reply_error(r, 429, "rate_limited", NULL,
                         "too many requests with this token; retry in %d s", wait);
        return -1;
    }
    if (need == ROUTE_OPERATOR && !r->who.is_operator) {
        http_reply_error(r, 403, "forbidden", NULL, "this needs an operator token");
        return -1;
    }
    return 0;
}

void router_dispatch(http_req *r)
{
    const route *rt = route_find(r);
    if (!rt)
        return;
    r->route = rt;
    if (rt->auth != ROUTE_PUBLIC && authorize(r, rt->auth) < 0)
        return;
    if (r->body_too_large) {
        http_reply_error(r, 413, "payload_too_large", NULL,
                         "the body is larger than %lld bytes (--max-body-bytes)",
                         ctl_cfg.max_body_bytes);
        return;
    }
    const char *key = http_header(r, IDEMPOTENCY_HEADER);
    if (!strcmp(r->method, "POST") && key)
        idempotency_run(r, key, rt->fn);
    else
        rt->fn(r);
    if (r->wake_reconciler && router_on_change)
        router_on_change();
}
