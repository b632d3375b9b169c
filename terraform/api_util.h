/* Small wrappers over libdflyapi's generic calls that resources share. */
#ifndef TF_API_UTIL_H
#define TF_API_UTIL_H

#include "provider.h"

#define API_POLL_MS 500            /* how often an awaited operation or deletion is asked about */
#define API_PATH_MAX 256           /* longest request path we build (ids are short) */
#define API_IDEMPOTENCY_KEY_MAX 64 /* dflyapi_idempotency_key needs 40 bytes */

/* One request; on failure adds a diagnostic with summary and returns false. 404 is reported as
 * a failure too unless ok_404 (then *gone says it was 404). res is cleared first. */
bool api_call(provider *p, const char *method, const char *path, const json_t *body,
              const char *idempotency_key, dflyapi_result *res, diags *d, const char *summary,
              bool ok_404, bool *gone);

/* dflyapi_request under the provider's lock; the caller reports errors. */
dflyapi_err api_request(provider *p, const char *method, const char *path, const dflyapi_req *req,
                        dflyapi_result *res);

/* GET of a document that is not JSON (a PEM file): its body in *text (caller frees). Errors as
 * api_call, without ok_404. */
bool api_get_text(provider *p, const char *path, char **text, diags *d, const char *summary);

/* dflyapi_list_each under the provider's lock. */
dflyapi_err api_list_each(provider *p, const char *path, const dflyapi_param *query,
                          dflyapi_item_fn fn, void *ud, dflyapi_result *out);

/* Polls GET /v1/operations/{id} until it succeeded (true) or failed or timeout_ms passed (false,
 * with a diagnostic). */
bool api_wait_operation(provider *p, const char *operation_id, long long timeout_ms, diags *d,
                        const char *summary);

/* Polls GET path until it answers 404 (true) or timeout_ms passes (false, with a diagnostic). */
bool api_wait_gone(provider *p, const char *path, long long timeout_ms, diags *d,
                   const char *summary);

/* A json member as a string, or NULL. */
const char *jstr(const json_t *o, const char *key);

#endif
