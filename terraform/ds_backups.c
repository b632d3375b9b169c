/* Data source dfly_backups: an instance's backups (GET /v1/instances/{id}/backups, every page),
 * oldest first, optionally only those of one status or trigger. */
#include <string.h>

#include "api_util.h"

#define SUMMARY_READ "Cannot read the backups"

static const tf_attr backup_item_attrs[] = {
    {"id", &TF_STRING, 0, NULL},          {"instance_id", &TF_STRING, 0, NULL},
    {"tenant_id", &TF_STRING, 0, NULL},   {"status", &TF_STRING, 0, NULL},
    {"trigger", &TF_STRING, 0, NULL},     {"size", &TF_NUMBER, 0, NULL},
    {"shards", &TF_NUMBER, 0, NULL},      {"created_at", &TF_STRING, 0, NULL},
    {"finished_at", &TF_STRING, 0, NULL}, {NULL, NULL, 0, NULL},
};
static const tf_type backup_item_type = {TY_OBJECT, NULL, backup_item_attrs};
static const tf_type backup_list_type = {TY_LIST, &backup_item_type, NULL};

static const tf_attr ds_backups_attrs[] = {
    {"id", &TF_STRING, ATTR_COMPUTED, "The instance's id."},
    {"instance_id", &TF_STRING, ATTR_REQUIRED, "The instance whose backups are listed."},
    {"status", &TF_STRING, ATTR_OPTIONAL,
     "Only backups with this status: pending, running, succeeded or failed."},
    {"trigger", &TF_STRING, ATTR_OPTIONAL, "Only backups with this trigger: manual or schedule."},
    {"ids", &TF_STRING_LIST, ATTR_COMPUTED, "Ids of the backups found, oldest first."},
    {"backups", &backup_list_type, ATTR_COMPUTED, "The backups found, oldest first."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema ds_backups_schema = {0, "An instance's backups, oldest first.",
                                            ds_backups_attrs, NULL};

static const char *const statuses[] = {"pending", "running", "succeeded", "failed", NULL};
static const char *const triggers[] = {"manual", "schedule", NULL};

static int one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (!strcmp(v, *allowed))
            return 1;
    return 0;
}

static void ds_backups_validate(const cty_value *config, diags *d)
{
    const char *status = cty_get_str(config, "status"), *trigger = cty_get_str(config, "trigger");
    if (status && !one_of(status, statuses))
        diag_error(d, "status", "Unknown backup status",
                   "status must be pending, running, succeeded or failed, not \"%s\".", status);
    if (trigger && !one_of(trigger, triggers))
        diag_error(d, "trigger", "Unknown backup trigger",
                   "trigger must be manual or schedule, not \"%s\".", trigger);
}

typedef struct backup_filter {
    const char *status, *trigger;
    cty_value *backups, *ids;
} backup_filter;

static int collect_backup(const json_t *item, void *ud)
{
    backup_filter *f = ud;
    const char *status = jstr(item, "status"), *trigger = jstr(item, "trigger");
    if ((f->status && (!status || strcmp(status, f->status))) ||
        (f->trigger && (!trigger || strcmp(trigger, f->trigger))))
        return 0;
    cty_value *o = cty_map();
    for (const tf_attr *a = backup_item_attrs; a->name; a++)
        cty_set(o, a->name, cty_from_member(item, a->name));
    cty_push(f->backups, o);
    cty_push(f->ids, cty_str(jstr(item, "id")));
    return 0;
}

static cty_value *ds_backups_read(provider *p, const cty_value *config, diags *d)
{
    const char *instance = cty_get_str(config, "instance_id");
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/instances", instance, "backups", DFLYAPI_PATH_END);
    backup_filter f = {cty_get_str(config, "status"), cty_get_str(config, "trigger"), cty_list(),
                       cty_list()};
    dflyapi_result res = {0};
    dflyapi_err err = api_list_each(p, path, NULL, collect_backup, &f, &res);
    cty_value *out = NULL;
    if (err != DFLYAPI_OK) {
        diag_api_error(d, SUMMARY_READ, err, &res);
        cty_free(f.backups);
        cty_free(f.ids);
    } else {
        out = cty_dup(config);
        cty_set(out, "id", cty_str(instance));
        cty_set(out, "backups", f.backups);
        cty_set(out, "ids", f.ids);
    }
    dflyapi_result_clear(&res);
    return out;
}

const tf_data_source ds_backups = {"dfly_backups", &ds_backups_schema, ds_backups_validate,
                                   ds_backups_read};
