/* dfly_instance: a managed instance (POST/GET/PATCH/DELETE /v1/instances). memory, shards
 * (an online resize), replicas, eviction policy, persistence, labels and TLS change in place; name
 * and tenant_id need a new instance, as the API allows no change of them. Every change waits for
 * its operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "instance.h"

#define MS_PER_MINUTE 60000LL
#define DEFAULT_CREATE_TIMEOUT_MS (20 * MS_PER_MINUTE)
#define DEFAULT_UPDATE_TIMEOUT_MS (20 * MS_PER_MINUTE)
#define DEFAULT_DELETE_TIMEOUT_MS (10 * MS_PER_MINUTE)
#define SHARDS_MIN 1
#define SHARDS_MAX 64
#define REPLICAS_MIN 0
#define REPLICAS_MAX 2
#define LABELS_MAX 32
#define EVERY_HOURS_MIN 1 /* the API's limits of backup schedules and retention */
#define EVERY_HOURS_MAX 8760
#define RETENTION_COUNT_MIN 1
#define RETENTION_COUNT_MAX 1000
#define RETENTION_AGE_MIN 1
#define RETENTION_AGE_MAX 87600
#define TLS_DEFAULT false /* the API's defaults, planned when unset so that drift is undone */
#define TLS_CLIENT_AUTH_DEFAULT "no"
#define SUMMARY_CREATE "Cannot create the instance"
#define SUMMARY_UPDATE "Cannot update the instance"
#define SUMMARY_DELETE "Cannot delete the instance"
#define SUMMARY_READ "Cannot read the instance"

static const char *const eviction_policies[] = {
    "noeviction",   "allkeys-lru",  "allkeys-lfu",     "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
};

static const char *const tls_client_auth_values[] = {"no", "optional", "yes"};

static const tf_attr node_attrs[] = {
    {"id", &TF_STRING, 0, NULL},   {"shard", &TF_NUMBER, 0, NULL},
    {"role", &TF_STRING, 0, NULL}, {"host", &TF_STRING, 0, NULL},
    {"port", &TF_NUMBER, 0, NULL}, {"admin_port", &TF_NUMBER, 0, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_type node_type = {TY_OBJECT, NULL, node_attrs};
const tf_type instance_nodes_type = {TY_LIST, &node_type, NULL};

#define RO ATTR_COMPUTED
#define OC (ATTR_OPTIONAL | ATTR_COMPUTED)
static const tf_attr instance_attrs[] = {
    {"id", &TF_STRING, RO, "The instance's id (ins_...)."},
    {"name", &TF_STRING, ATTR_REQUIRED,
     "Name, unique in its tenant: lowercase letters, digits, '-'. Changing it replaces the "
     "instance."},
    {"tenant_id", &TF_STRING, OC,
     "Tenant that owns it: required with an operator token, implied by a tenant token. "
     "Changing it replaces the instance."},
    {"memory", &TF_STRING, ATTR_REQUIRED,
     "Memory of the whole instance, split across its shards: bytes or \"512mb\", \"1gb\"."},
    {"memory_bytes", &TF_NUMBER, RO, "memory in bytes, as the service keeps it."},
    {"shards", &TF_NUMBER, OC,
     "Shards, 1 to 64 (default 1). Changes in place: slots move online to the new shards."},
    {"replicas_per_shard", &TF_NUMBER, OC, "Replicas of each shard, 0 to 2 (default 0)."},
    {"eviction_policy", &TF_STRING, OC, "Redis maxmemory-policy (noeviction, allkeys-lru, ...)."},
    {"snapshot_cron", &TF_STRING, ATTR_OPTIONAL,
     "5-field cron expression (UTC) of snapshots; unset for none."},
    {"appendonly", &TF_BOOL, OC, "Keep an append-only journal."},
    {"labels", &TF_STRING_MAP, ATTR_OPTIONAL, "Up to 32 labels."},
    {"status", &TF_STRING, RO, "creating, running, updating, degraded, failed, deleting."},
    {"cluster_mode", &TF_STRING, RO, "\"emulated\" for one shard, \"yes\" for more."},
    {"host", &TF_STRING, RO, "Host clients connect to (shard 0's master)."},
    {"port", &TF_NUMBER, RO, "Port clients connect to."},
    {"uri", &TF_STRING, RO, "redis://default@host:port (rediss:// with tls)."},
    {"default_password", &TF_STRING, ATTR_COMPUTED | ATTR_SENSITIVE,
     "Password of the default user, known from creation (null after an import)."},
    {"nodes", &instance_nodes_type, RO, "The instance's nodes."},
    {"restore_from", &TF_STRING, OC,
     "A backup id whose data the new instance starts with. Changing it replaces the instance."},
    {"tls", &TF_BOOL, OC,
     "TLS on the client port with a certificate of the internal CA (default false). Changes "
     "in place."},
    {"tls_client_auth", &TF_STRING, OC,
     "\"no\" (default), \"optional\" or \"yes\": whether the nodes ask clients for a "
     "certificate of the internal CA (dfly_client_certificate). Needs tls. Changes in place."},
    {NULL, NULL, 0, NULL},
};
static const tf_attr backup_schedule_attrs[] = {
    {"cron", &TF_STRING, ATTR_OPTIONAL, "5-field cron expression (\"0 3 * * *\", \"@daily\")."},
    {"timezone", &TF_STRING, ATTR_OPTIONAL, "IANA time zone of cron (default UTC)."},
    {"every_hours", &TF_NUMBER, ATTR_OPTIONAL,
     "A backup every N hours, 1 to 8760 (instead of cron)."},
    {NULL, NULL, 0, NULL},
};
static const tf_attr backup_retention_attrs[] = {
    {"count", &TF_NUMBER, ATTR_OPTIONAL, "Scheduled backups kept, 1 to 1000."},
    {"max_age_hours", &TF_NUMBER, ATTR_OPTIONAL, "Scheduled backups older than this are deleted."},
    {NULL, NULL, 0, NULL},
};
static const tf_block instance_blocks[] = {
    {"backup_schedule", backup_schedule_attrs,
     "When backups are taken by themselves: cron (with timezone) or every_hours."},
    {"backup_retention", backup_retention_attrs, "Which scheduled backups are kept."},
    {"timeouts", timeouts_attrs, "How long to wait for operations."},
    {NULL, NULL, NULL},
};
static const tf_schema instance_schema = {
    0, "A managed dfly instance: sharded, with replicas, run by dfly-control.", instance_attrs,
    instance_blocks};

/* --- JSON to attributes --------------------------------------------------------------------- */

static cty_value *nodes_value(const json_t *nodes)
{
    cty_value *l = cty_list();
    size_t i;
    const json_t *n;
    json_array_foreach(nodes, i, n)
    {
        cty_value *o = cty_map();
        for (const tf_attr *a = node_attrs; a->name; a++)
            cty_set(o, a->name, cty_from_member(n, a->name));
        cty_push(l, o);
    }
    return l;
}

void instance_fill(cty_value *o, const json_t *inst)
{
    static const char *const direct[] = {
        "id",     "name",         "tenant_id", "shards", "replicas_per_shard", "eviction_policy",
        "status", "cluster_mode", "uri",       "tls",    "tls_client_auth"};
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        cty_set(o, direct[i], cty_from_member(inst, direct[i]));
    cty_set(o, "memory_bytes", cty_from_member(inst, "memory"));
    const json_t *pers = json_object_get(inst, "persistence");
    cty_set(o, "snapshot_cron", cty_from_member(pers, "snapshot_cron"));
    cty_set(o, "appendonly", cty_from_member(pers, "appendonly"));
    cty_set(o, "labels", cty_from_member(inst, "labels"));
    const json_t *ep = json_object_get(inst, "endpoint");
    cty_set(o, "host", cty_from_member(ep, "host"));
    cty_set(o, "port", cty_from_member(ep, "port"));
    cty_set(o, "nodes", nodes_value(json_object_get(inst, "nodes")));
}

/* The state of an instance. What the service normalises keeps the form the configuration used
 * (memory "1gb" stays "1gb" while it means the same bytes; no labels stay null), so that plans
 * show no difference; what the API never shows again (the password) comes from prior. */
static cty_value *instance_state(const json_t *inst, const cty_value *prior)
{
    cty_value *o = cty_map();
    instance_fill(o, inst);
    json_int_t bytes = json_integer_value(json_object_get(inst, "memory"));
    const char *prior_mem = cty_get_str(prior, "memory");
    if (prior_mem && size_parse(prior_mem) == bytes) {
        cty_set(o, "memory", cty_str(prior_mem));
    } else {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)bytes);
        cty_set(o, "memory", cty_str(text));
    }
    const cty_value *labels = cty_get(o, "labels");
    if (cty_is_null(cty_get(prior, "labels")) && labels && labels->kind == CTY_MAP &&
        labels->n == 0)
        cty_set(o, "labels", cty_null());
    cty_set(o, "default_password", cty_dup(cty_get(prior, "default_password")));
    cty_set(o, "timeouts", cty_dup(cty_get(prior, "timeouts")));
    /* Backup settings exist on services that have backups; elsewhere they stay null. */
    cty_set(o, "backup_schedule", cty_from_member(inst, "backup_schedule"));
    cty_set(o, "backup_retention", cty_from_member(inst, "backup_retention"));
    cty_set(o, "restore_from", cty_from_member(inst, "restored_from"));
    return o;
}

/* --- validation ----------------------------------------------------------------------------- */

/* obj is the configuration, or its block named block. */
static void check_range(const cty_value *obj, const char *block, const char *attr, int64_t lo,
                        int64_t hi, diags *d)
{
    int64_t v;
    if (cty_get_int(obj, attr, &v) && (v < lo || v > hi))
        diag_error_in(d, block, attr, "Value out of range",
                      "%s must be an integer %lld to %lld, got %lld.", attr, (long long)lo,
                      (long long)hi, (long long)v);
}

static bool eviction_policy_valid(const char *p)
{
    for (size_t i = 0; i < sizeof eviction_policies / sizeof eviction_policies[0]; i++)
        if (strcmp(p, eviction_policies[i]) == 0)
            return true;
    return false;
}

void timeouts_validate(const cty_value *config, diags *d)
{
    const cty_value *t = cty_get(config, "timeouts");
    for (const tf_attr *a = timeouts_attrs; a->name; a++) {
        const char *v = cty_get_str(t, a->name);
        if (v && duration_parse_ms(v) <= 0)
            diag_error(d, "timeouts", "Invalid timeout",
                       "timeouts.%s must be a duration like \"30s\", \"20m\" or \"1h\", got "
                       "\"%s\".",
                       a->name, v);
    }
}

static void backups_validate(const cty_value *config, diags *d)
{
    const cty_value *sched = cty_get(config, "backup_schedule");
    if (!cty_is_null(sched) && cty_is_known(sched)) {
        bool cron = !cty_is_null(cty_get(sched, "cron"));
        bool every = !cty_is_null(cty_get(sched, "every_hours"));
        if (cron == every)
            diag_error(d, "backup_schedule", "Invalid backup schedule",
                       "backup_schedule needs exactly one of cron and every_hours.");
        else if (every && !cty_is_null(cty_get(sched, "timezone")))
            diag_error(d, "backup_schedule", "Invalid backup schedule",
                       "timezone goes with cron, not with every_hours.");
        check_range(sched, "backup_schedule", "every_hours", EVERY_HOURS_MIN, EVERY_HOURS_MAX, d);
    }
    const cty_value *ret = cty_get(config, "backup_retention");
    check_range(ret, "backup_retention", "count", RETENTION_COUNT_MIN, RETENTION_COUNT_MAX, d);
    check_range(ret, "backup_retention", "max_age_hours", RETENTION_AGE_MIN, RETENTION_AGE_MAX, d);
}

static void tls_validate(const cty_value *config, diags *d)
{
    const char *auth = cty_get_str(config, "tls_client_auth");
    if (!auth)
        return;
    bool known = false;
    for (size_t i = 0; i < sizeof tls_client_auth_values / sizeof tls_client_auth_values[0]; i++)
        known |= strcmp(auth, tls_client_auth_values[i]) == 0;
    bool tls = TLS_DEFAULT;
    if (!known)
        diag_error(d, "tls_client_auth", "Invalid tls_client_auth",
                   "tls_client_auth must be \"no\", \"optional\" or \"yes\", got \"%s\".", auth);
    else if (strcmp(auth, TLS_CLIENT_AUTH_DEFAULT) != 0 && !cty_get_unknown(config, "tls") &&
             !(cty_get_bool(config, "tls", &tls) && tls))
        diag_error(d, "tls_client_auth", "tls_client_auth needs tls",
                   "Client certificates are asked for in the TLS handshake: set tls = true.");
}

static void instance_validate(const cty_value *config, diags *d)
{
    const char *name = cty_get_str(config, "name");
    if (name && !name_valid(name))
        diag_error(d, "name", "Invalid name", NAME_RULE, name);
    const char *memory = cty_get_str(config, "memory");
    if (memory && size_parse(memory) <= 0)
        diag_error(d, "memory", "Invalid memory",
                   "memory must be a size in bytes or with a unit (\"512mb\", \"1gb\"); got "
                   "\"%s\".",
                   memory);
    check_range(config, NULL, "shards", SHARDS_MIN, SHARDS_MAX, d);
    check_range(config, NULL, "replicas_per_shard", REPLICAS_MIN, REPLICAS_MAX, d);
    const char *policy = cty_get_str(config, "eviction_policy");
    if (policy && !eviction_policy_valid(policy))
        diag_error(d, "eviction_policy", "Invalid eviction policy",
                   "eviction_policy must be one of noeviction, allkeys-lru, allkeys-lfu, "
                   "allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl; "
                   "got \"%s\".",
                   policy);
    const cty_value *labels = cty_get(config, "labels");
    if (labels && labels->kind == CTY_MAP && labels->n > LABELS_MAX)
        diag_error(d, "labels", "Too many labels", "An instance has at most %d labels.",
                   LABELS_MAX);
    backups_validate(config, d);
    tls_validate(config, d);
    timeouts_validate(config, d);
}

/* --- plan ------------------------------------------------------------------------------------ */

static const char *const computed_on_create[] = {
    "id",   "tenant_id", "eviction_policy",  "appendonly", "status", "cluster_mode", "host",
    "port", "uri",       "default_password", "nodes",
};

static void set_unknown_if_null(cty_value *planned, const char *attr)
{
    if (cty_is_null(cty_get(planned, attr)))
        cty_set(planned, attr, cty_unknown());
}

static void plan_memory_bytes(cty_value *planned)
{
    const char *mem = cty_get_str(planned, "memory");
    long long bytes = mem ? size_parse(mem) : -1;
    cty_set(planned, "memory_bytes", bytes >= 0 ? cty_int(bytes) : cty_unknown());
}

static bool attr_changed(const cty_value *prior, const cty_value *planned, const char *attr)
{
    return !cty_equal(cty_get(prior, attr), cty_get(planned, attr));
}

/* Unset TLS settings mean the API's defaults: an instance switched elsewhere is switched back. */
static void plan_tls_defaults(cty_value *planned, const cty_value *config)
{
    if (cty_is_null(cty_get(config, "tls")) && !cty_get_unknown(config, "tls"))
        cty_set(planned, "tls", cty_bool(TLS_DEFAULT));
    if (cty_is_null(cty_get(config, "tls_client_auth")) &&
        !cty_get_unknown(config, "tls_client_auth"))
        cty_set(planned, "tls_client_auth", cty_str(TLS_CLIENT_AUTH_DEFAULT));
}

static void instance_plan(provider *p, const cty_value *prior, cty_value *planned,
                          const cty_value *config, const char **replace, diags *d)
{
    plan_tls_defaults(planned, config);
    if (cty_is_null(prior)) {
        for (size_t i = 0; i < sizeof computed_on_create / sizeof computed_on_create[0]; i++)
            set_unknown_if_null(planned, computed_on_create[i]);
        if (cty_is_null(cty_get(planned, "shards")))
            cty_set(planned, "shards", cty_int(SHARDS_MIN));
        if (cty_is_null(cty_get(planned, "replicas_per_shard")))
            cty_set(planned, "replicas_per_shard", cty_int(REPLICAS_MIN));
        /* restore_from is computed only to keep what the service reports: null unless set */
        if (cty_get_unknown(planned, "restore_from") &&
            cty_is_null(cty_get(config, "restore_from")))
            cty_set(planned, "restore_from", cty_null());
        plan_memory_bytes(planned);
        return;
    }
    /* The same size written another way is no change. */
    const char *pm = cty_get_str(prior, "memory"), *nm = cty_get_str(planned, "memory");
    if (pm && nm && size_parse(pm) >= 0 && size_parse(pm) == size_parse(nm))
        cty_set(planned, "memory", cty_str(pm));
    size_t n = 0;
    static const char *const immutable[] = {"name", "tenant_id", "restore_from"};
    for (size_t i = 0; i < sizeof immutable / sizeof immutable[0]; i++)
        if (attr_changed(prior, planned, immutable[i]))
            replace[n++] = immutable[i];
    static const char *const in_place[] = {"memory",          "shards",        "replicas_per_shard",
                                           "eviction_policy", "snapshot_cron", "appendonly",
                                           "labels",          "tls",           "tls_client_auth"};
    bool changed = false;
    for (size_t i = 0; i < sizeof in_place / sizeof in_place[0]; i++)
        changed |= attr_changed(prior, planned, in_place[i]);
    if (!changed)
        return;
    if (attr_changed(prior, planned, "memory"))
        plan_memory_bytes(planned);
    if (attr_changed(prior, planned, "replicas_per_shard"))
        cty_set(planned, "nodes", cty_unknown());
    if (attr_changed(prior, planned, "shards")) {
        /* A resize adds or removes nodes, and one shard or several decide the cluster mode
         * and which node the endpoint names. */
        static const char *const resized[] = {"nodes", "cluster_mode", "host", "port", "uri"};
        for (size_t i = 0; i < sizeof resized / sizeof resized[0]; i++)
            cty_set(planned, resized[i], cty_unknown());
    }
    if (attr_changed(prior, planned, "tls"))
        cty_set(planned, "uri", cty_unknown()); /* redis:// or rediss:// */
    cty_set(planned, "status", cty_unknown());
}

/* --- apply ----------------------------------------------------------------------------------- */

/* memory as the API takes it: an integer when it is bytes, else the string with its unit. */
static json_t *memory_json(const char *mem)
{
    long long bytes = size_parse(mem);
    if (bytes >= 0 && strspn(mem, "0123456789") == strlen(mem))
        return json_integer(bytes);
    return json_string(mem);
}

static json_t *cty_to_json(const cty_value *v)
{
    if (cty_is_null(v) || v->kind == CTY_UNKNOWN)
        return json_null();
    switch (v->kind) {
    case CTY_BOOL: return json_boolean(v->b);
    case CTY_NUMBER: return v->is_int ? json_integer(v->i) : json_real(v->d);
    case CTY_STRING: return json_string(v->s);
    case CTY_LIST: {
        json_t *a = json_array();
        for (size_t i = 0; i < v->n; i++)
            json_array_append_new(a, cty_to_json(v->items[i]));
        return a;
    }
    case CTY_MAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < v->n; i++)
            json_object_set_new(o, v->keys[i], cty_to_json(v->items[i]));
        return o;
    }
    default: return json_null();
    }
}

/* A block as the API takes it: null, or an object of the members that are set (the API refuses
 * a timezone next to every_hours, even a null one). */
static json_t *block_json(const cty_value *b)
{
    if (cty_is_null(b))
        return json_null();
    json_t *o = json_object();
    for (size_t i = 0; i < b->n; i++)
        if (!cty_is_null(b->items[i]) && cty_is_known(b->items[i]))
            json_object_set_new(o, b->keys[i], cty_to_json(b->items[i]));
    return o;
}

/* The members of planned that differ from prior (all of them when prior is null). */
static json_t *instance_body(const cty_value *prior, const cty_value *planned)
{
    bool create = cty_is_null(prior);
    json_t *body = json_object();
    if (create) {
        json_object_set_new(body, "name", json_string(cty_get_str(planned, "name")));
        const char *tenant = cty_get_str(planned, "tenant_id");
        if (tenant)
            json_object_set_new(body, "tenant_id", json_string(tenant));
    }
    if (create || attr_changed(prior, planned, "memory"))
        json_object_set_new(body, "memory", memory_json(cty_get_str(planned, "memory")));
    static const char *const plain[] = {"shards", "replicas_per_shard", "eviction_policy", "tls",
                                        "tls_client_auth"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        const cty_value *v = cty_get(planned, plain[i]);
        if (cty_is_known(v) && !cty_is_null(v) &&
            (create || attr_changed(prior, planned, plain[i])))
            json_object_set_new(body, plain[i], cty_to_json(v));
    }
    if (create || attr_changed(prior, planned, "labels")) {
        const cty_value *labels = cty_get(planned, "labels");
        json_object_set_new(body, "labels",
                            cty_is_null(labels) ? json_object() : cty_to_json(labels));
    }
    static const char *const blocks[] = {"backup_schedule", "backup_retention"};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (create ? !cty_is_null(cty_get(planned, blocks[i]))
                   : attr_changed(prior, planned, blocks[i]))
            json_object_set_new(body, blocks[i], block_json(cty_get(planned, blocks[i])));
    const char *restore = cty_get_str(planned, "restore_from");
    if (create && restore)
        json_object_set_new(body, "restore_from", json_string(restore));
    json_t *pers = json_object();
    if (create ? !cty_is_null(cty_get(planned, "snapshot_cron"))
               : attr_changed(prior, planned, "snapshot_cron"))
        json_object_set_new(pers, "snapshot_cron", cty_to_json(cty_get(planned, "snapshot_cron")));
    const cty_value *aof = cty_get(planned, "appendonly");
    if (cty_is_known(aof) && !cty_is_null(aof) &&
        (create || attr_changed(prior, planned, "appendonly")))
        json_object_set_new(pers, "appendonly", json_boolean(aof->b));
    if (json_object_size(pers))
        json_object_set_new(body, "persistence", pers);
    else
        json_decref(pers);
    return body;
}

/* GET of the instance as state; NULL (with a diagnostic) when it cannot be read. */
static cty_value *instance_fetch(provider *p, const char *id, const cty_value *prior, diags *d,
                                 const char *summary)
{
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/instances", id, DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (api_call(p, "GET", path, NULL, NULL, &res, d, summary, false, NULL))
        state = instance_state(res.body, prior);
    dflyapi_result_clear(&res);
    return state;
}

static cty_value *instance_create(provider *p, const cty_value *planned, diags *d)
{
    json_t *body = instance_body(NULL, planned);
    char key[API_IDEMPOTENCY_KEY_MAX];
    dflyapi_idempotency_key(key, sizeof key);
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (api_call(p, "POST", "/v1/instances", body, key, &res, d, SUMMARY_CREATE, false, NULL)) {
        const json_t *inst = json_object_get(res.body, "instance");
        const char *password = jstr(json_object_get(res.body, "credentials"), "password");
        const char *op = jstr(json_object_get(res.body, "operation"), "id");
        /* The password is shown once: keep it in the state whatever happens next. */
        cty_value *prior = cty_map();
        cty_set(prior, "memory", cty_str(cty_get_str(planned, "memory")));
        cty_set(prior, "labels", cty_dup(cty_get(planned, "labels")));
        cty_set(prior, "default_password", cty_str(password));
        cty_set(prior, "timeouts", cty_dup(cty_get(planned, "timeouts")));
        long long timeout = timeout_ms(planned, "create", DEFAULT_CREATE_TIMEOUT_MS);
        if (op)
            api_wait_operation(p, op, timeout, d, SUMMARY_CREATE);
        state = instance_fetch(p, jstr(inst, "id"), prior, d, SUMMARY_CREATE);
        if (!state) /* the instance exists: Terraform must know it, tainted by the error */
            state = instance_state(inst, prior);
        cty_free(prior);
    }
    dflyapi_result_clear(&res);
    json_decref(body);
    return state;
}

static cty_value *instance_update(provider *p, const cty_value *prior, const cty_value *planned,
                                  diags *d)
{
    const char *id = cty_get_str(prior, "id");
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/instances", id, DFLYAPI_PATH_END);
    json_t *body = instance_body(prior, planned);
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (api_call(p, "PATCH", path, body, NULL, &res, d, SUMMARY_UPDATE, false, NULL)) {
        const char *op = jstr(json_object_get(res.body, "operation"), "id");
        long long timeout = timeout_ms(planned, "update", DEFAULT_UPDATE_TIMEOUT_MS);
        if (op)
            api_wait_operation(p, op, timeout, d, SUMMARY_UPDATE);
        cty_value *keep = cty_dup(planned);
        cty_set(keep, "default_password", cty_dup(cty_get(prior, "default_password")));
        state = instance_fetch(p, id, keep, d, SUMMARY_UPDATE);
        cty_free(keep);
    }
    dflyapi_result_clear(&res);
    json_decref(body);
    return state;
}

static cty_value *instance_delete(provider *p, const cty_value *prior, diags *d)
{
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/instances", cty_get_str(prior, "id"), DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    bool gone = false;
    bool ok = api_call(p, "DELETE", path, NULL, NULL, &res, d, SUMMARY_DELETE, true, &gone);
    dflyapi_result_clear(&res);
    if (ok && !gone)
        ok = api_wait_gone(p, path, timeout_ms(prior, "delete", DEFAULT_DELETE_TIMEOUT_MS), d,
                           SUMMARY_DELETE);
    return ok ? cty_null() : NULL;
}

static cty_value *instance_apply(provider *p, const cty_value *prior, const cty_value *planned,
                                 const cty_value *config, diags *d)
{
    if (cty_is_null(planned))
        return instance_delete(p, prior, d);
    if (cty_is_null(prior))
        return instance_create(p, planned, d);
    return instance_update(p, prior, planned, d);
}

/* --- read and import -------------------------------------------------------------------------- */

static cty_value *instance_read(provider *p, const cty_value *state, diags *d)
{
    const char *id = cty_get_str(state, "id");
    if (!id)
        return cty_null();
    char path[API_PATH_MAX];
    dflyapi_path(path, sizeof path, "/v1/instances", id, DFLYAPI_PATH_END);
    dflyapi_result res = {0};
    bool gone = false;
    cty_value *out = NULL;
    if (api_call(p, "GET", path, NULL, NULL, &res, d, SUMMARY_READ, true, &gone)) {
        const char *status = jstr(res.body, "status");
        /* Being deleted is gone for Terraform: a plan creates it anew. */
        if (gone || (status && (!strcmp(status, "deleting") || !strcmp(status, "gone"))))
            out = cty_null();
        else
            out = instance_state(res.body, state);
    }
    dflyapi_result_clear(&res);
    return out;
}

static cty_value *instance_import(provider *p, const char *id, diags *d)
{
    cty_value *o = schema_null_object(&instance_schema);
    cty_set(o, "id", cty_str(id));
    return o;
}

const tf_resource res_instance = {
    "dfly_instance", &instance_schema, instance_validate, instance_plan,
    instance_apply,  instance_read,    instance_import,
};
