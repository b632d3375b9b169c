/* libdflyapi: the C client of dfly-control's REST API (api/openapi.yaml), shared by dfly (cli/)
 * and terraform-provider-dfly (terraform/). It is the one place that knows the API's paths,
 * auth, error shape, retries and pagination.
 *
 * Threads: a dflyapi_client holds one libcurl easy handle and must be used by one thread at a
 * time; make one client per thread. Every other function is thread-safe. libcurl's global
 * initialisation runs once, on the first dflyapi_client_new (pthread_once).
 *
 * Ownership: a dflyapi_result owns everything it points to; dflyapi_result_clear frees it and
 * leaves it reusable. Start one zeroed (dflyapi_result r = {0}): every call clears its result
 * first, so one result may serve several calls in a row. JSON given to the library (request bodies)
 * stays the caller's. Strings in dflyapi_options are copied by dflyapi_client_new.
 *
 * Errors: every call returns a dflyapi_err (0 on success) and fills the result's err_code and
 * err_message: the API's {"error": {code, message, field}} for an HTTP error, or a code of the
 * library's own ("transport", "invalid_response", "timeout", "operation_failed") otherwise. */
#ifndef DFLY_API_H
#define DFLY_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#define DFLYAPI_VERSION DFLY_VERSION

/* Defaults that dflyapi_options fields of 0 (or NULL) select. */
#define DFLYAPI_DEFAULT_TIMEOUT_MS 30000 /* one HTTP exchange */
#define DFLYAPI_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DFLYAPI_DEFAULT_MAX_RETRIES 4     /* after the first attempt */
#define DFLYAPI_DEFAULT_RETRY_BASE_MS 250 /* doubled at each retry, with jitter */
#define DFLYAPI_DEFAULT_RETRY_MAX_MS 8000 /* cap of one back-off (and of Retry-After) */
#define DFLYAPI_DEFAULT_POLL_MS 500       /* dflyapi_operation_wait's interval */
#define DFLYAPI_PAGE_LIMIT 100            /* page size used when walking lists */

typedef enum dflyapi_err {
    DFLYAPI_OK = 0,
    DFLYAPI_ERR_HTTP = 1,      /* the API answered an error status; status and err_* say which */
    DFLYAPI_ERR_TRANSPORT = 2, /* no answer: connection refused, DNS, TLS, time-out of a request */
    DFLYAPI_ERR_RESPONSE = 3,  /* an answer that is not the JSON the contract promises */
    DFLYAPI_ERR_TIMEOUT = 4,   /* dflyapi_operation_wait ran out of time */
    DFLYAPI_ERR_FAILED = 5,    /* the awaited operation failed; err_message is its error */
    DFLYAPI_ERR_ARG = 6,       /* a bad argument (NULL id, bad endpoint) */
    DFLYAPI_ERR_IO = 7,        /* a download could not be written to its FILE */
} dflyapi_err;

typedef struct dflyapi_options {
    const char *endpoint;   /* "http://127.0.0.1:8080" (no trailing /v1); required */
    const char *token;      /* bearer token; NULL or "" sends none */
    const char *user_agent; /* NULL: "libdflyapi/<version>" */
    long timeout_ms;        /* per HTTP exchange; 0: DFLYAPI_DEFAULT_TIMEOUT_MS */
    long connect_timeout_ms;
    int max_retries;     /* 0: default; negative: never retry */
    long retry_base_ms;  /* 0: default */
    long retry_max_ms;   /* 0: default */
    int insecure;        /* 1: do not verify the server's TLS certificate */
    const char *ca_file; /* PEM bundle to verify the server with; NULL: the system's */
} dflyapi_options;

typedef struct dflyapi_client dflyapi_client;

/* One answer. status is the HTTP status (0 when there was none). body is the parsed JSON answer
 * (NULL for 204 or when it was not JSON). err_* are set whenever the call failed. */
typedef struct dflyapi_result {
    int status;
    json_t *body;
    char *etag;        /* ETag header, quotes included ("\"v3\""), or NULL */
    char *location;    /* Location header or NULL */
    long retry_after;  /* Retry-After seconds of the last answer, or 0 */
    int attempts;      /* HTTP exchanges made (1 + retries) */
    char *err_code;    /* API error code ("not_found", "validation_failed"…) or the library's */
    char *err_message; /* one line for a human */
    char *err_field;   /* the request member at fault, when the API named one */
    long long bytes;   /* bytes written to dflyapi_req.sink */
} dflyapi_result;

/* A query parameter; a name may repeat (label=a=b&label=c=d). Values are URL-encoded here. */
typedef struct dflyapi_param {
    const char *name;
    const char *value;
} dflyapi_param;

/* Optional parts of a request. */
typedef struct dflyapi_req {
    const dflyapi_param *query; /* NULL-terminated by a {NULL, NULL} entry, or NULL */
    const json_t *body;         /* sent as application/json; NULL: no body */
    const char *if_match;       /* If-Match header (an ETag as the API gave it) */
    /* Idempotency-Key header. A POST is retried only when it has one. */
    const char *idempotency_key;
    /* Downloads: a 2xx answer's body is written here instead of being parsed (an error's is
     * still parsed). Not retried once bytes were written. */
    FILE *sink;
} dflyapi_req;

/* Progress of an operation being awaited: op is the latest GET /v1/operations/{id} answer
 * (borrowed for the call). Return non-zero to stop waiting (dflyapi_operation_wait then returns
 * DFLYAPI_ERR_TIMEOUT with err_code "cancelled"). */
typedef int (*dflyapi_progress_fn)(const json_t *op, void *ud);

/* Called for every item of a list while walking its pages; item is borrowed. Non-zero stops. */
typedef int (*dflyapi_item_fn)(const json_t *item, void *ud);

/* --- client ------------------------------------------------------------------------------ */

/* NULL when o is invalid (no endpoint) or libcurl cannot start. */
dflyapi_client *dflyapi_client_new(const dflyapi_options *o);
void dflyapi_client_free(dflyapi_client *c);
/* The endpoint in use, without a trailing '/'. */
const char *dflyapi_client_endpoint(const dflyapi_client *c);

void dflyapi_result_clear(dflyapi_result *r);
/* A fresh random Idempotency-Key ("dfly-" + 32 hex digits) written to out (>= 40 bytes). */
void dflyapi_idempotency_key(char *out, size_t size);
/* base followed by each path segment, URL-encoded, ending with DFLYAPI_PATH_END:
 * dflyapi_path(buf, size, "/v1/instances", id, "events", DFLYAPI_PATH_END). 0, or -1 when it does
 * not fit. (A typed NULL end: a plain NULL in a variadic call is flagged by cppcheck.) */
#define DFLYAPI_PATH_END ((const char *)NULL)
int dflyapi_path(char *out, size_t size, const char *base, ...) __attribute__((sentinel));
/* The error text of an err code alone ("transport error"), for messages. */
const char *dflyapi_strerror(dflyapi_err e);

/* --- generic ----------------------------------------------------------------------------- */

/* One request: method ("GET", "POST", "PATCH", "DELETE"), path ("/v1/instances/ins_1", already
 * encoded), req may be NULL. Retries with exponential back-off and jitter on transport errors,
 * 429 (honouring Retry-After) and 502/503/504: every method but POST (GET, PATCH and DELETE
 * state the desired result, so a repeat is harmless), and POST only with an Idempotency-Key.
 * out is cleared first. */
dflyapi_err dflyapi_request(dflyapi_client *c, const char *method, const char *path,
                            const dflyapi_req *req, dflyapi_result *out);

/* Walks every page of a list endpoint (limit DFLYAPI_PAGE_LIMIT, following next_cursor), calling
 * fn for each item. query may add filters (no limit or cursor). On error out says why. */
dflyapi_err dflyapi_list_each(dflyapi_client *c, const char *path, const dflyapi_param *query,
                              dflyapi_item_fn fn, void *ud, dflyapi_result *out);
/* The same, collecting every item: on success out->body is {"items": [...]} (all pages). */
dflyapi_err dflyapi_list_all(dflyapi_client *c, const char *path, const dflyapi_param *query,
                             dflyapi_result *out);

/* Polls GET /v1/operations/{id} every poll_ms (0: default) until it is succeeded or failed, or
 * timeout_ms passes (0: no limit), calling progress (may be NULL) after each poll. out->body is
 * the last operation seen. Returns DFLYAPI_OK when it succeeded, DFLYAPI_ERR_FAILED with the
 * operation's error when it failed, DFLYAPI_ERR_TIMEOUT when time ran out. */
dflyapi_err dflyapi_operation_wait(dflyapi_client *c, const char *operation_id, long timeout_ms,
                                   long poll_ms, dflyapi_progress_fn progress, void *ud,
                                   dflyapi_result *out);

/* --- typed helpers: one per route; bodies are the contract's JSON ------------------------ */
/* A NULL idempotency_key on a create makes one up, so that the create is safely retried. */

dflyapi_err dflyapi_health(dflyapi_client *c, dflyapi_result *out);      /* GET /readyz */
dflyapi_err dflyapi_openapi_get(dflyapi_client *c, dflyapi_result *out); /* GET /v1/openapi.json */

dflyapi_err dflyapi_tenant_create(dflyapi_client *c, const json_t *spec,
                                  const char *idempotency_key, dflyapi_result *out);
dflyapi_err dflyapi_tenant_list(dflyapi_client *c, dflyapi_result *out); /* every page */
dflyapi_err dflyapi_tenant_get(dflyapi_client *c, const char *tenant_id, dflyapi_result *out);
dflyapi_err dflyapi_tenant_update(dflyapi_client *c, const char *tenant_id, const json_t *patch,
                                  dflyapi_result *out);
dflyapi_err dflyapi_tenant_delete(dflyapi_client *c, const char *tenant_id, dflyapi_result *out);

/* name may be NULL (the API's default). out->body has "secret" (shown this once). */
dflyapi_err dflyapi_token_create(dflyapi_client *c, const char *tenant_id, const char *name,
                                 const char *idempotency_key, dflyapi_result *out);
dflyapi_err dflyapi_token_list(dflyapi_client *c, const char *tenant_id, dflyapi_result *out);
dflyapi_err dflyapi_token_revoke(dflyapi_client *c, const char *tenant_id, const char *token_id,
                                 dflyapi_result *out);

/* out->body is {instance, operation, credentials}. */
dflyapi_err dflyapi_instance_create(dflyapi_client *c, const json_t *spec,
                                    const char *idempotency_key, dflyapi_result *out);
/* filters: status, label (repeatable), tenant_id; may be NULL. Every page. */
dflyapi_err dflyapi_instance_list(dflyapi_client *c, const dflyapi_param *filters,
                                  dflyapi_result *out);
dflyapi_err dflyapi_instance_get(dflyapi_client *c, const char *instance_id, dflyapi_result *out);
/* if_match may be NULL. out->body is {instance, operation}. */
dflyapi_err dflyapi_instance_update(dflyapi_client *c, const char *instance_id, const json_t *patch,
                                    const char *if_match, dflyapi_result *out);
dflyapi_err dflyapi_instance_delete(dflyapi_client *c, const char *instance_id,
                                    const char *if_match, dflyapi_result *out);
dflyapi_err dflyapi_instance_restart(dflyapi_client *c, const char *instance_id,
                                     const char *if_match, const char *idempotency_key,
                                     dflyapi_result *out);
/* Resolves an instance given by id or by name (a tenant's names are unique; an operator token
 * may see several of one name: then DFLYAPI_ERR_HTTP with err_code "ambiguous"). */
dflyapi_err dflyapi_instance_find(dflyapi_client *c, const char *id_or_name, dflyapi_result *out);

/* One page of events after cursor (NULL: from the first); out->body is {items, next_cursor}. */
dflyapi_err dflyapi_events_page(dflyapi_client *c, const char *instance_id, const char *cursor,
                                dflyapi_result *out);
/* Every event, oldest first. */
dflyapi_err dflyapi_events_list(dflyapi_client *c, const char *instance_id, dflyapi_result *out);

dflyapi_err dflyapi_operation_get(dflyapi_client *c, const char *operation_id, dflyapi_result *out);

/* Backups, restores and failovers (the API's issue 15 routes). out->body of a create, restore
 * or failover is {backup, operation} or {instance, operation}. */
dflyapi_err dflyapi_backup_create(dflyapi_client *c, const char *instance_id,
                                  const char *idempotency_key, dflyapi_result *out);
dflyapi_err dflyapi_backup_list(dflyapi_client *c, const char *instance_id, dflyapi_result *out);
dflyapi_err dflyapi_backup_get(dflyapi_client *c, const char *backup_id, dflyapi_result *out);
dflyapi_err dflyapi_backup_delete(dflyapi_client *c, const char *backup_id, dflyapi_result *out);
/* Writes the backup (one RDB file) to sink; out->bytes says how much. */
dflyapi_err dflyapi_backup_download(dflyapi_client *c, const char *backup_id, FILE *sink,
                                    dflyapi_result *out);
dflyapi_err dflyapi_instance_restore(dflyapi_client *c, const char *instance_id,
                                     const char *backup_id, const char *idempotency_key,
                                     dflyapi_result *out);
/* request may be NULL ({shard, replica_node_id}, both optional). */
dflyapi_err dflyapi_instance_failover(dflyapi_client *c, const char *instance_id,
                                      const json_t *request, const char *idempotency_key,
                                      dflyapi_result *out);

/* --- ACL users, metrics and certificates (issue 14) ------------------------------------- */

/* spec: {name, password?, rules?, enabled?}. out->body is {user, password}: the password is
 * shown this once. */
dflyapi_err dflyapi_user_create(dflyapi_client *c, const char *instance_id, const json_t *spec,
                                const char *idempotency_key, dflyapi_result *out);
dflyapi_err dflyapi_user_list(dflyapi_client *c, const char *instance_id,
                              dflyapi_result *out); /* every page */
dflyapi_err dflyapi_user_get(dflyapi_client *c, const char *instance_id, const char *username,
                             dflyapi_result *out);
/* patch: {rules?, enabled?}. */
dflyapi_err dflyapi_user_update(dflyapi_client *c, const char *instance_id, const char *username,
                                const json_t *patch, dflyapi_result *out);
dflyapi_err dflyapi_user_delete(dflyapi_client *c, const char *instance_id, const char *username,
                                dflyapi_result *out);
/* request may be NULL ({password?, grace_period_seconds?}). out->body is {user, password}: the
 * new password, shown this once; the old one works until the grace period ends or
 * dflyapi_user_finish_rotation. */
dflyapi_err dflyapi_user_rotate_password(dflyapi_client *c, const char *instance_id,
                                         const char *username, const json_t *request,
                                         const char *idempotency_key, dflyapi_result *out);
dflyapi_err dflyapi_user_finish_rotation(dflyapi_client *c, const char *instance_id,
                                         const char *username, dflyapi_result *out);

/* A metrics query; members left 0 (or NULL) take the API's defaults (every series, the last
 * hour, about 300 points). */
typedef struct dflyapi_metrics_query {
    const char *names; /* comma-separated series names */
    long long from;    /* Unix seconds */
    long long to;      /* Unix seconds */
    long step;         /* seconds per point */
} dflyapi_metrics_query;

/* q may be NULL. out->body is {instance_id, from, to, step, resolution, scrape_interval_ms,
 * series: [{name, node_id, points: [[time, value], ...]}]}. */
dflyapi_err dflyapi_metrics_get(dflyapi_client *c, const char *instance_id,
                                const dflyapi_metrics_query *q, dflyapi_result *out);

/* Writes the internal CA certificate (PEM) to sink; out->bytes says how much. */
dflyapi_err dflyapi_ca_get(dflyapi_client *c, FILE *sink, dflyapi_result *out);
/* The instance's server certificate: {serial, not_before, not_after, sans, issuer,
 * fingerprint_sha256, renew_after}; 404 when the instance has TLS off. */
dflyapi_err dflyapi_certificate_get(dflyapi_client *c, const char *instance_id,
                                    dflyapi_result *out);
/* Issues a new server certificate now. out->body is {operation}; 409 when TLS is off. */
dflyapi_err dflyapi_certificate_rotate(dflyapi_client *c, const char *instance_id,
                                       const char *idempotency_key, dflyapi_result *out);
/* spec: {name, days?}. out->body is {id, name, serial, not_before, not_after, certificate,
 * private_key, ca}: the key is shown this once. 409 when TLS is off. */
dflyapi_err dflyapi_client_cert_create(dflyapi_client *c, const char *instance_id,
                                       const json_t *spec, const char *idempotency_key,
                                       dflyapi_result *out);
dflyapi_err dflyapi_client_cert_list(dflyapi_client *c, const char *instance_id,
                                     dflyapi_result *out); /* every page */
dflyapi_err dflyapi_client_cert_get(dflyapi_client *c, const char *instance_id, const char *cert_id,
                                    dflyapi_result *out);
/* Revokes it: the nodes refuse it from then on. */
dflyapi_err dflyapi_client_cert_delete(dflyapi_client *c, const char *instance_id,
                                       const char *cert_id, dflyapi_result *out);

#endif
