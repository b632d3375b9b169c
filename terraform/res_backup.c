/* dfly_backup: a backup taken on demand (POST /v1/instances/{id}/backups, GET and DELETE
 * /v1/backups/{id}). A backup cannot change: any change takes a new one. Creation waits until
 * the backup succeeded, so that restore_from can use it at once. */
#include <string.h>

#include "api_util.h"

#define MS_PER_MINUTE 60000LL
#define DEFAULT_CREATE_TIMEOUT_MS (20 * MS_PER_MINUTE)
#define SUMMARY_CREATE "Cannot take the backup"
#define SUMMARY_DELETE "Cannot delete the backup"
#define SUMMARY_READ "Cannot read the backup"

#define RO ATTR_COMPUTED
static const tf_attr backup_attrs[] = {
    {"id", &TF_STRING, RO, "The backup's id."},
    {"instance_id", &TF_STRING, ATTR_REQUIRED,
     "The instance to back up. Changing it takes a new backup."},
    {"tenant_id", &TF_STRING, RO, NULL},
    {"status", &TF_STRING, RO, "pending, running, succeeded or failed."},
    {"trigger", &TF_STRING, RO, "manual (this resource) or schedule."},
    {"size", &TF_NUMBER, RO, "Bytes of its files."},
    {"shards", &TF_NUMBER, RO, "Shards of the instance when it was taken."},
    {"created_at", &TF_STRING, RO, NULL},
    {"finished_at", &TF_STRING, RO, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_attr backup_timeouts_attrs[] = {
    {"create", &TF_STRING, ATTR_OPTIONAL, "How long to wait for the backup (\"20m\")."},
    {NULL, NULL, 0, NULL},
};
static const tf_block backup_blocks[] = {
    {"timeouts", backup_timeouts_attrs, "How long to wait."},
    {NULL, NULL, NULL},
};
static const tf_schema backup_schema = {0, "A backup of an instance, taken on demand.",
                                        backup_attrs, backup_blocks};

static cty_value *backup_state(const json_t *b, const cty_value *prior)
{
    cty_value *o = cty_map();
    for (const tf_attr *a = backup_attrs; a->name; a++)
        cty_set(o, a->name, cty_from_member(b, a->name));
    cty_set(o, "timeouts", cty_dup(cty_get(prior, "timeouts")));
    return o;
}

static void backup_validate(const cty_value *config, diags *d)
{
    timeouts_validate(config, d);
}

static void backup_plan(provider *p, const cty_value *prior, cty_value *planned,
                        const cty_value *config, const char **replace, diags *d)
{
    if (cty_is_null(prior)) {
        for (const tf_attr *a = backup_attrs; a->name; a++)
            if (a->flags == RO)
                cty_set(planned, a->name, cty_unknown());
        return;
    }
    if (!cty_equal(cty_get(prior, "instance_id"), cty_get(planned, "instance_id")))
        replace[0] = "instance_id";
}

static cty_value *backup_fetch(provider *p, const char *id, const cty_value *prior, diags *d,
                               const char *summary, bool *gone)
{
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/backups", id, DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (api_call(p, "GET", path, NULL, NULL, &res, d, summary, gone != NULL, gone))
        state = gone && *gone ? cty_null() : backup_state(res.body, prior);
    dflyapi_result_clear(&res);
    return state;
}

static cty_value *backup_create(provider *p, const cty_value *planned, diags *d)
{
    char path[API_PATH_MAX], key[API_IDEMPOTENCY_KEY_MAX];
    dflyapi_path(path, sizeof path, "/v1/instances", cty_get_str(planned, "instance_id"), "backups",
                 DFLYAPI_PATH_END);
    dflyapi_idempotency_key(key, sizeof key);
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (api_call(p, "POST", path, NULL, key, &res, d, SUMMARY_CREATE, false, NULL)) {
        const json_t *b = json_object_get(res.body, "backup");
        const char *op = jstr(json_object_get(res.body, "operation"), "id");
        if (op)
            api_wait_operation(p, op, timeout_ms(planned, "create", DEFAULT_CREATE_TIMEOUT_MS), d,
                               SUMMARY_CREATE);
        state = backup_fetch(p, jstr(b, "id"), planned, d, SUMMARY_CREATE, NULL);
        if (!state) /* it exists: Terraform must know it, tainted by the error */
            state = backup_state(b, planned);
    }
    dflyapi_result_clear(&res);
    return state;
}

static cty_value *backup_apply(provider *p, const cty_value *prior, const cty_value *planned,
                               const cty_value *config, diags *d)
{
    if (!cty_is_null(planned) && cty_is_null(prior))
        return backup_create(p, planned, d);
    if (!cty_is_null(planned)) {
        diag_error(d, NULL, "Backups cannot change", "A change of a backup takes a new one.");
        return NULL;
    }
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/backups", cty_get_str(prior, "id"), DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    bool ok = api_call(p, "DELETE", path, NULL, NULL, &res, d, SUMMARY_DELETE, true, NULL);
    dflyapi_result_clear(&res);
    return ok ? cty_null() : NULL;
}

static cty_value *backup_read(provider *p, const cty_value *state, diags *d)
{
    const char *id = cty_get_str(state, "id");
    if (!id)
        return cty_null();
    bool gone = false;
    return backup_fetch(p, id, state, d, SUMMARY_READ, &gone);
}

static cty_value *backup_import(provider *p, const char *id, diags *d)
{
    cty_value *o = schema_null_object(&backup_schema);
    cty_set(o, "id", cty_str(id));
    return o;
}

const tf_resource res_backup = {
    "dfly_backup", &backup_schema, backup_validate, backup_plan,
    backup_apply,  backup_read,    backup_import,
};
