/* Data sources: dfly_instance (one instance by id or name) and dfly_instances (a filtered
 * list). */
#include <stdio.h>
#include <string.h>

#include "api_util.h"
#include "instance.h"

#define SUMMARY_READ "Cannot read instances"
#define LABEL_FILTERS_MAX 8 /* the API's limit of label= filters */
#define LIST_ID "instances"

#define RO ATTR_COMPUTED
static const tf_attr ds_instance_attrs[] = {
    {"id", &TF_STRING, ATTR_OPTIONAL | ATTR_COMPUTED, "The instance's id; give id or name."},
    {"name", &TF_STRING, ATTR_OPTIONAL | ATTR_COMPUTED, "The instance's name; give id or name."},
    {"tenant_id", &TF_STRING, RO, NULL},
    {"memory_bytes", &TF_NUMBER, RO, NULL},
    {"shards", &TF_NUMBER, RO, NULL},
    {"replicas_per_shard", &TF_NUMBER, RO, NULL},
    {"eviction_policy", &TF_STRING, RO, NULL},
    {"snapshot_cron", &TF_STRING, RO, NULL},
    {"appendonly", &TF_BOOL, RO, NULL},
    {"labels", &TF_STRING_MAP, RO, NULL},
    {"status", &TF_STRING, RO, NULL},
    {"cluster_mode", &TF_STRING, RO, NULL},
    {"host", &TF_STRING, RO, NULL},
    {"port", &TF_NUMBER, RO, NULL},
    {"uri", &TF_STRING, RO, NULL},
    {"nodes", &instance_nodes_type, RO, NULL},
    {"tls", &TF_BOOL, RO, NULL},
    {"tls_client_auth", &TF_STRING, RO, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_schema ds_instance_schema = {0, "One instance, by id or by name.",
                                             ds_instance_attrs, NULL};

static void ds_instance_validate(const cty_value *config, diags *d)
{
    const cty_value *id = cty_get(config, "id"), *name = cty_get(config, "name");
    if (cty_is_null(id) && cty_is_null(name))
        diag_error(d, "id", "Missing id or name", "Give the instance's id or its name.");
    else if (!cty_is_null(id) && !cty_is_null(name))
        diag_error(d, "name", "Both id and name", "Give the instance's id or its name, not both.");
}

typedef struct name_find {
    const char *name;
    json_t *found;
    int count;
} name_find;

static int name_match(const json_t *item, void *ud)
{
    name_find *f = ud;
    const char *n = jstr(item, "name");
    if (n && strcmp(n, f->name) == 0) {
        if (!f->found)
            f->found = json_deep_copy(item);
        f->count++;
    }
    return 0;
}

static cty_value *ds_instance_read(provider *p, const cty_value *config, diags *d)
{
    const char *id = cty_get_str(config, "id"), *name = cty_get_str(config, "name");
    dflyapi_result res = {0};
    json_t *inst = NULL;
    if (id) {
        char path[API_PATH_MAX];
        dflyapi_path(path, sizeof path, "/v1/instances", id, DFLYAPI_PATH_END);
        if (api_call(p, "GET", path, NULL, NULL, &res, d, SUMMARY_READ, false, NULL))
            inst = json_incref(res.body);
    } else if (name) {
        name_find f = {name, NULL, 0};
        dflyapi_err err = api_list_each(p, "/v1/instances", NULL, name_match, &f, &res);
        if (err != DFLYAPI_OK)
            diag_api_error(d, SUMMARY_READ, err, &res);
        else if (f.count == 0)
            diag_error(d, "name", "No such instance", "No instance is named \"%s\".", name);
        else if (f.count > 1)
            diag_error(d, "name", "Ambiguous name",
                       "%d instances (of several tenants) are named \"%s\": give the id.", f.count,
                       name);
        else
            inst = json_incref(f.found);
        json_decref(f.found);
    }
    cty_value *out = NULL;
    if (inst) {
        out = cty_map();
        instance_fill(out, inst);
        json_decref(inst);
    }
    dflyapi_result_clear(&res);
    return out;
}

const tf_data_source ds_instance = {"dfly_instance", &ds_instance_schema, ds_instance_validate,
                                    ds_instance_read};

/* --- dfly_instances ------------------------------------------------------------------------- */

static const tf_attr summary_attrs[] = {
    {"id", &TF_STRING, 0, NULL},
    {"name", &TF_STRING, 0, NULL},
    {"tenant_id", &TF_STRING, 0, NULL},
    {"memory_bytes", &TF_NUMBER, 0, NULL},
    {"shards", &TF_NUMBER, 0, NULL},
    {"replicas_per_shard", &TF_NUMBER, 0, NULL},
    {"eviction_policy", &TF_STRING, 0, NULL},
    {"status", &TF_STRING, 0, NULL},
    {"host", &TF_STRING, 0, NULL},
    {"port", &TF_NUMBER, 0, NULL},
    {"uri", &TF_STRING, 0, NULL},
    {"labels", &TF_STRING_MAP, 0, NULL},
    {"tls", &TF_BOOL, 0, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_type summary_type = {TY_OBJECT, NULL, summary_attrs};
static const tf_type summary_list_type = {TY_LIST, &summary_type, NULL};

static const tf_attr ds_instances_attrs[] = {
    {"id", &TF_STRING, RO, "Always \"instances\"."},
    {"status", &TF_STRING, ATTR_OPTIONAL, "Only instances with this status."},
    {"labels", &TF_STRING_MAP, ATTR_OPTIONAL, "Only instances with all these labels (up to 8)."},
    {"tenant_id", &TF_STRING, ATTR_OPTIONAL, "Only this tenant's (operator tokens)."},
    {"ids", &TF_STRING_LIST, RO, "Ids of the instances found."},
    {"instances", &summary_list_type, RO, "The instances found."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema ds_instances_schema = {0, "Instances, filtered by status, labels, tenant.",
                                              ds_instances_attrs, NULL};

static void ds_instances_validate(const cty_value *config, diags *d)
{
    const cty_value *labels = cty_get(config, "labels");
    if (labels && labels->kind == CTY_MAP && labels->n > LABEL_FILTERS_MAX)
        diag_error(d, "labels", "Too many label filters", "At most %d labels can be matched.",
                   LABEL_FILTERS_MAX);
}

static int collect_instance(const json_t *item, void *ud)
{
    cty_value **lists = ud;
    cty_value *full = cty_map();
    instance_fill(full, item);
    cty_value *o = cty_map();
    for (const tf_attr *a = summary_attrs; a->name; a++)
        cty_set(o, a->name, cty_dup(cty_get(full, a->name)));
    cty_free(full);
    cty_push(lists[0], o);
    cty_push(lists[1], cty_str(jstr(item, "id")));
    return 0;
}

static cty_value *ds_instances_read(provider *p, const cty_value *config, diags *d)
{
    dflyapi_param q[LABEL_FILTERS_MAX + 3];
    char label_text[LABEL_FILTERS_MAX][320];
    size_t n = 0;
    const char *status = cty_get_str(config, "status"), *tenant = cty_get_str(config, "tenant_id");
    if (status)
        q[n++] = (dflyapi_param){"status", status};
    if (tenant)
        q[n++] = (dflyapi_param){"tenant_id", tenant};
    const cty_value *labels = cty_get(config, "labels");
    for (size_t i = 0; labels && labels->kind == CTY_MAP && i < labels->n && i < LABEL_FILTERS_MAX;
         i++) {
        const char *v = labels->items[i]->kind == CTY_STRING ? labels->items[i]->s : "";
        snprintf(label_text[i], sizeof label_text[i], "%s=%s", labels->keys[i], v);
        q[n++] = (dflyapi_param){"label", label_text[i]};
    }
    q[n] = (dflyapi_param){NULL, NULL};
    cty_value *lists[2] = {cty_list(), cty_list()};
    dflyapi_result res = {0};
    dflyapi_err err = api_list_each(p, "/v1/instances", q, collect_instance, lists, &res);
    cty_value *out = NULL;
    if (err != DFLYAPI_OK) {
        diag_api_error(d, SUMMARY_READ, err, &res);
        cty_free(lists[0]);
        cty_free(lists[1]);
    } else {
        out = cty_dup(config);
        cty_set(out, "id", cty_str(LIST_ID));
        cty_set(out, "instances", lists[0]);
        cty_set(out, "ids", lists[1]);
    }
    dflyapi_result_clear(&res);
    return out;
}

const tf_data_source ds_instances = {"dfly_instances", &ds_instances_schema, ds_instances_validate,
                                     ds_instances_read};
