/* Wrappers over libdflyapi (see api_util.h). */
#include "api_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

#define MS_PER_S 1000LL
#define NS_PER_MS 1000000LL

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {ms / MS_PER_S, (ms % MS_PER_S) * NS_PER_MS};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

dflyapi_err api_request(provider *p, const char *method, const char *path, const dflyapi_req *req,
                        dflyapi_result *res)
{
    pthread_mutex_lock(&p->lock);
    dflyapi_err err = dflyapi_request(p->api, method, path, req, res);
    pthread_mutex_unlock(&p->lock);
    return err;
}

bool api_call(provider *p, const char *method, const char *path, const json_t *body,
              const char *idempotency_key, dflyapi_result *res, diags *d, const char *summary,
              bool ok_404, bool *gone)
{
    dflyapi_req req = {.body = body, .idempotency_key = idempotency_key};
    dflyapi_err err = api_request(p, method, path, &req, res);
    if (gone)
        *gone = false;
    if (err == DFLYAPI_OK)
        return true;
    if (ok_404 && err == DFLYAPI_ERR_HTTP && res->status == 404) {
        if (gone)
            *gone = true;
        return true;
    }
    diag_api_error(d, summary, err, res);
    return false;
}

bool api_get_text(provider *p, const char *path, char **text, diags *d, const char *summary)
{
    size_t len = 0;
    *text = NULL;
    FILE *sink = open_memstream(text, &len);
    if (!sink)
        mem_oom_in("opening a memory stream"); /* it fails only for want of memory */
    dflyapi_req req = {.sink = sink};
    dflyapi_result res = {0};
    dflyapi_err err = api_request(p, "GET", path, &req, &res);
    fclose(sink); /* sets *text */
    if (err != DFLYAPI_OK) {
        diag_api_error(d, summary, err, &res);
        free(*text);
        *text = NULL;
    }
    dflyapi_result_clear(&res);
    return err == DFLYAPI_OK;
}

dflyapi_err api_list_each(provider *p, const char *path, const dflyapi_param *query,
                          dflyapi_item_fn fn, void *ud, dflyapi_result *out)
{
    pthread_mutex_lock(&p->lock);
    dflyapi_err err = dflyapi_list_each(p->api, path, query, fn, ud, out);
    pthread_mutex_unlock(&p->lock);
    return err;
}

bool api_wait_operation(provider *p, const char *operation_id, long long timeout_ms, diags *d,
                        const char *summary)
{
    char path[API_PATH_MAX];
    if (dflyapi_path(path, sizeof path, "/v1/operations", operation_id, DFLYAPI_PATH_END) != 0) {
        diag_error(d, NULL, summary, "Bad operation id \"%s\".", operation_id);
        return false;
    }
    long long deadline = now_ms() + timeout_ms;
    dflyapi_result res = {0};
    bool ok = false;
    for (;;) {
        if (!api_call(p, "GET", path, NULL, NULL, &res, d, summary, false, NULL))
            break;
        const char *status = jstr(res.body, "status");
        if (status && strcmp(status, "succeeded") == 0) {
            ok = true;
            break;
        }
        if (status && strcmp(status, "failed") == 0) {
            const char *why = jstr(res.body, "error");
            diag_error(d, NULL, summary, "Operation %s failed: %s", operation_id,
                       why ? why : "no reason given");
            break;
        }
        if (now_ms() >= deadline) {
            diag_error(d, NULL, summary,
                       "Operation %s is still %s after %lld s; raise the timeouts block's value "
                       "or look at it with GET /v1/operations/%s.",
                       operation_id, status ? status : "unfinished", timeout_ms / MS_PER_S,
                       operation_id);
            break;
        }
        sleep_ms(API_POLL_MS);
    }
    dflyapi_result_clear(&res);
    return ok;
}

bool api_wait_gone(provider *p, const char *path, long long timeout_ms, diags *d,
                   const char *summary)
{
    long long deadline = now_ms() + timeout_ms;
    dflyapi_result res = {0};
    bool ok = false;
    for (;;) {
        bool gone = false;
        if (!api_call(p, "GET", path, NULL, NULL, &res, d, summary, true, &gone))
            break;
        if (gone) {
            ok = true;
            break;
        }
        if (now_ms() >= deadline) {
            diag_error(d, NULL, summary, "%s still exists after %lld s.", path,
                       timeout_ms / MS_PER_S);
            break;
        }
        sleep_ms(API_POLL_MS);
    }
    dflyapi_result_clear(&res);
    return ok;
}
