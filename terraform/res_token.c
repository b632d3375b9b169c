/* dfly_token: an API token of a tenant (/v1/tenants/{id}/tokens). Its secret exists only in the
 * create answer, so it is kept from the state; tokens cannot change, so any change replaces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"

#define SUMMARY_CREATE "Cannot create the token"
#define SUMMARY_DELETE "Cannot revoke the token"
#define SUMMARY_READ "Cannot read the token"

static const tf_attr token_attrs[] = {
    {"id", &TF_STRING, ATTR_COMPUTED, "The token's id."},
    {"tenant_id", &TF_STRING, ATTR_REQUIRED, "Tenant the token acts for."},
    {"name", &TF_STRING, ATTR_OPTIONAL | ATTR_COMPUTED, "A name to tell tokens apart."},
    {"secret", &TF_STRING, ATTR_COMPUTED | ATTR_SENSITIVE,
     "The bearer token itself (null after an import: the API shows it once)."},
    {"prefix", &TF_STRING, ATTR_COMPUTED, "The first characters of the secret."},
    {"created_at", &TF_STRING, ATTR_COMPUTED, "RFC 3339 time of creation."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema token_schema = {0, "An API token of a tenant.", token_attrs, NULL};

static cty_value *token_state(const json_t *t, const cty_value *prior)
{
    cty_value *o = cty_map();
    static const char *const direct[] = {"id", "tenant_id", "name", "prefix", "created_at"};
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        cty_set(o, direct[i], cty_from_member(t, direct[i]));
    const char *secret = jstr(t, "secret");
    cty_set(o, "secret", secret ? cty_str(secret) : cty_dup(cty_get(prior, "secret")));
    return o;
}

static void token_plan(provider *p, const cty_value *prior, cty_value *planned,
                       const cty_value *config, const char **replace, diags *d)
{
    if (cty_is_null(prior)) {
        static const char *const computed[] = {"id", "name", "secret", "prefix", "created_at"};
        for (size_t i = 0; i < sizeof computed / sizeof computed[0]; i++)
            if (cty_is_null(cty_get(planned, computed[i])))
                cty_set(planned, computed[i], cty_unknown());
        return;
    }
    size_t n = 0;
    static const char *const immutable[] = {"tenant_id", "name"};
    for (size_t i = 0; i < sizeof immutable / sizeof immutable[0]; i++)
        if (!cty_equal(cty_get(prior, immutable[i]), cty_get(planned, immutable[i])))
            replace[n++] = immutable[i];
}

static cty_value *token_apply(provider *p, const cty_value *prior, const cty_value *planned,
                              const cty_value *config, diags *d)
{
    char path[API_PATH_MAX];
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (cty_is_null(planned)) {
        dflyapi_path(path, sizeof path, "/v1/tenants", cty_get_str(prior, "tenant_id"), "tokens",
                     cty_get_str(prior, "id"), DFLYAPI_PATH_END);
        if (api_call(p, "DELETE", path, NULL, NULL, &res, d, SUMMARY_DELETE, true, NULL))
            state = cty_null();
    } else if (cty_is_null(prior)) {
        dflyapi_path(path, sizeof path, "/v1/tenants", cty_get_str(planned, "tenant_id"), "tokens",
                     DFLYAPI_PATH_END);
        json_t *body = json_object();
        const char *name = cty_get_str(planned, "name");
        if (name)
            json_object_set_new(body, "name", json_string(name));
        char key[API_IDEMPOTENCY_KEY_MAX];
        dflyapi_idempotency_key(key, sizeof key);
        if (api_call(p, "POST", path, body, key, &res, d, SUMMARY_CREATE, false, NULL))
            state = token_state(res.body, planned);
        json_decref(body);
    } else {
        diag_error(d, NULL, "Tokens cannot change", "A change of a token replaces it.");
    }
    dflyapi_result_clear(&res);
    return state;
}

typedef struct token_find {
    const char *id;
    json_t *found;
} token_find;

static int token_match(const json_t *item, void *ud)
{
    token_find *f = ud;
    if (strcmp(jstr(item, "id") ? jstr(item, "id") : "", f->id) != 0)
        return 0;
    f->found = json_deep_copy(item);
    return 1;
}

/* The API lists tokens but has no GET of one: find it in its tenant's list. A revoked token is
 * gone for Terraform. */
static cty_value *token_read(provider *p, const cty_value *state, diags *d)
{
    const char *id = cty_get_str(state, "id"), *tenant = cty_get_str(state, "tenant_id");
    if (!id || !tenant)
        return cty_null();
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/tenants", tenant, "tokens", DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    token_find f = {id, NULL};
    dflyapi_err err = api_list_each(p, path, NULL, token_match, &f, &res);
    cty_value *out = NULL;
    if (err == DFLYAPI_ERR_HTTP && res.status == 404)
        out = cty_null();
    else if (err != DFLYAPI_OK)
        diag_api_error(d, SUMMARY_READ, err, &res);
    else if (!f.found || !json_is_null(json_object_get(f.found, "revoked_at")))
        out = cty_null();
    else
        out = token_state(f.found, state);
    json_decref(f.found);
    dflyapi_result_clear(&res);
    return out;
}

/* terraform import dfly_token.x <tenant_id>/<token_id> */
static cty_value *token_import(provider *p, const char *id, diags *d)
{
    char *tenant = NULL;
    const char *token = NULL;
    if (!import_id_split(id, &tenant, &token)) {
        diag_error(d, NULL, "Invalid import id",
                   "A token is imported as <tenant_id>/<token_id>, got \"%s\".", id);
        return NULL;
    }
    cty_value *o = schema_null_object(&token_schema);
    cty_set(o, "tenant_id", cty_str(tenant));
    cty_set(o, "id", cty_str(token));
    free(tenant);
    return o;
}

const tf_resource res_token = {
    "dfly_token", &token_schema, NULL, token_plan, token_apply, token_read, token_import,
};
