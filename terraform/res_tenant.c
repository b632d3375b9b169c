/* dfly_tenant: a tenant and its quotas (/v1/tenants; needs an operator token). Name and quotas
 * change in place. */
#include <stdio.h>
#include <string.h>

#include "api_util.h"

#define SUMMARY_CREATE "Cannot create the tenant"
#define SUMMARY_UPDATE "Cannot update the tenant"
#define SUMMARY_DELETE "Cannot delete the tenant"
#define SUMMARY_READ "Cannot read the tenant"
#define MAX_INSTANCES_LIMIT 10000

static const tf_attr tenant_attrs[] = {
    {"id", &TF_STRING, ATTR_COMPUTED, "The tenant's id (ten_...)."},
    {"name", &TF_STRING, ATTR_REQUIRED, "Unique name: lowercase letters, digits, '-'."},
    {"max_instances", &TF_NUMBER, ATTR_OPTIONAL | ATTR_COMPUTED,
     "Most instances the tenant may have (default 10)."},
    {"max_memory", &TF_STRING, ATTR_OPTIONAL | ATTR_COMPUTED,
     "Memory all its instances may have together: bytes or \"8gb\"."},
    {"max_memory_bytes", &TF_NUMBER, ATTR_COMPUTED, "max_memory in bytes."},
    {"created_at", &TF_STRING, ATTR_COMPUTED, "RFC 3339 time of creation."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema tenant_schema = {0, "A tenant of the service, with its quotas.",
                                        tenant_attrs, NULL};

static cty_value *tenant_state(const json_t *t, const cty_value *prior)
{
    cty_value *o = cty_map();
    cty_set(o, "id", cty_from_member(t, "id"));
    cty_set(o, "name", cty_from_member(t, "name"));
    cty_set(o, "max_instances", cty_from_member(t, "max_instances"));
    cty_set(o, "created_at", cty_from_member(t, "created_at"));
    json_int_t bytes = json_integer_value(json_object_get(t, "max_memory"));
    cty_set(o, "max_memory_bytes", cty_int(bytes));
    const char *pm = cty_get_str(prior, "max_memory");
    if (pm && size_parse(pm) == bytes) {
        cty_set(o, "max_memory", cty_str(pm));
    } else {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)bytes);
        cty_set(o, "max_memory", cty_str(text));
    }
    return o;
}

static void tenant_validate(const cty_value *config, diags *d)
{
    const char *name = cty_get_str(config, "name");
    if (name && !name_valid(name))
        diag_error(d, "name", "Invalid name", NAME_RULE, name);
    const char *mm = cty_get_str(config, "max_memory");
    if (mm && size_parse(mm) < 0)
        diag_error(d, "max_memory", "Invalid max_memory",
                   "max_memory must be a size in bytes or with a unit (\"8gb\"); got \"%s\".", mm);
    int64_t mi;
    if (cty_get_int(config, "max_instances", &mi) && (mi < 0 || mi > MAX_INSTANCES_LIMIT))
        diag_error(d, "max_instances", "Value out of range",
                   "max_instances must be an integer 0 to %d, got %lld.", MAX_INSTANCES_LIMIT,
                   (long long)mi);
}

static void tenant_plan(provider *p, const cty_value *prior, cty_value *planned,
                        const cty_value *config, const char **replace, diags *d)
{
    const char *mm = cty_get_str(planned, "max_memory");
    if (cty_is_null(prior)) {
        static const char *const computed[] = {"id", "max_instances", "max_memory", "created_at"};
        for (size_t i = 0; i < sizeof computed / sizeof computed[0]; i++)
            if (cty_is_null(cty_get(planned, computed[i])))
                cty_set(planned, computed[i], cty_unknown());
        cty_set(planned, "max_memory_bytes",
                mm && size_parse(mm) >= 0 ? cty_int(size_parse(mm)) : cty_unknown());
        return;
    }
    const char *pm = cty_get_str(prior, "max_memory");
    if (pm && mm && size_parse(pm) == size_parse(mm))
        cty_set(planned, "max_memory", cty_str(pm));
    else if (mm)
        cty_set(planned, "max_memory_bytes", cty_int(size_parse(mm)));
}

static json_t *tenant_body(const cty_value *prior, const cty_value *planned)
{
    json_t *body = json_object();
    bool create = cty_is_null(prior);
    if (create || !cty_equal(cty_get(prior, "name"), cty_get(planned, "name")))
        json_object_set_new(body, "name", json_string(cty_get_str(planned, "name")));
    int64_t mi;
    if (cty_get_int(planned, "max_instances", &mi) &&
        (create || !cty_equal(cty_get(prior, "max_instances"), cty_get(planned, "max_instances"))))
        json_object_set_new(body, "max_instances", json_integer(mi));
    const char *mm = cty_get_str(planned, "max_memory");
    if (mm && (create || !cty_equal(cty_get(prior, "max_memory"), cty_get(planned, "max_memory"))))
        json_object_set_new(body, "max_memory", json_integer(size_parse(mm)));
    return body;
}

static cty_value *tenant_apply(provider *p, const cty_value *prior, const cty_value *planned,
                               const cty_value *config, diags *d)
{
    char path[API_PATH_MAX] = "/v1/tenants";
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (cty_is_null(planned)) {
        dflyapi_path(path, sizeof path, "/v1/tenants", cty_get_str(prior, "id"), DFLYAPI_PATH_END);
        if (api_call(p, "DELETE", path, NULL, NULL, &res, d, SUMMARY_DELETE, true, NULL))
            state = cty_null();
    } else {
        json_t *body = tenant_body(prior, planned);
        bool create = cty_is_null(prior);
        char key[API_IDEMPOTENCY_KEY_MAX];
        dflyapi_idempotency_key(key, sizeof key);
        if (!create)
            dflyapi_path(path, sizeof path, "/v1/tenants", cty_get_str(prior, "id"),
                         DFLYAPI_PATH_END);
        if (api_call(p, create ? "POST" : "PATCH", path, body, create ? key : NULL, &res, d,
                     create ? SUMMARY_CREATE : SUMMARY_UPDATE, false, NULL))
            state = tenant_state(res.body, planned);
        json_decref(body);
    }
    dflyapi_result_clear(&res);
    return state;
}

static cty_value *tenant_read(provider *p, const cty_value *state, diags *d)
{
    const char *id = cty_get_str(state, "id");
    if (!id)
        return cty_null();
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/tenants", id, DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    bool gone = false;
    cty_value *out = NULL;
    if (api_call(p, "GET", path, NULL, NULL, &res, d, SUMMARY_READ, true, &gone))
        out = gone ? cty_null() : tenant_state(res.body, state);
    dflyapi_result_clear(&res);
    return out;
}

static cty_value *tenant_import(provider *p, const char *id, diags *d)
{
    cty_value *o = schema_null_object(&tenant_schema);
    cty_set(o, "id", cty_str(id));
    return o;
}

const tf_resource res_tenant = {
    "dfly_tenant", &tenant_schema, tenant_validate, tenant_plan,
    tenant_apply,  tenant_read,    tenant_import,
};
