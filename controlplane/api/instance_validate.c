/* The checks of an instance's fields, for create and PATCH, and of the tenant's quotas. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "backup/backup.h"
#include "cron.h"
#include "db.h"
#include "instance.h"
#include "jsonx.h"

static const char *const create_fields[] = {"name",
                                            "memory",
                                            "shards",
                                            "replicas_per_shard",
                                            "eviction_policy",
                                            "persistence",
                                            "labels",
                                            "tenant_id",
                                            "backup_schedule",
                                            "backup_retention",
                                            "restore_from",
                                            "tls",
                                            "tls_client_auth",
                                            NULL};
static const char *const patch_fields[] = {"name",
                                           "memory",
                                           "shards",
                                           "replicas_per_shard",
                                           "eviction_policy",
                                           "persistence",
                                           "labels",
                                           "backup_schedule",
                                           "backup_retention",
                                           "tls",
                                           "tls_client_auth",
                                           NULL};
static const char *const persistence_fields[] = {"snapshot_cron", "appendonly", NULL};
static const char *const policies[] = {"noeviction",      "allkeys-lru",  "allkeys-lfu",
                                       "allkeys-random",  "volatile-lru", "volatile-lfu",
                                       "volatile-random", "volatile-ttl", NULL};

static int int_field(http_req *r, json_t *body, const char *field, int lo, int hi, int *out)
{
    json_t *v = json_object_get(body, field);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        http_reply_invalid(r, field, "%s must be an integer %d to %d", field, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int label_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > LABEL_KEY_MAX || !isalnum((unsigned char)k[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)k[i]) && !strchr("._/-", k[i]))
            return 0;
    return 1;
}

static int labels_parse(http_req *r, json_t *v, instance_spec *s)
{
    if (!json_is_object(v) || json_object_size(v) > LABELS_MAX) {
        http_reply_invalid(r, "labels", "labels must be an object of at most %d strings",
                           LABELS_MAX);
        return -1;
    }
    const char *k;
    json_t *lv;
    json_object_foreach(v, k, lv)
    {
        if (!label_key_valid(k)) {
            http_reply_invalid(r, "labels",
                               "label key '%.64s' must be 1 to %d of A-Z a-z 0-9 . _ / -, "
                               "starting with a letter or digit",
                               k, LABEL_KEY_MAX);
            return -1;
        }
        if (!json_is_string(lv) || strlen(json_string_value(lv)) > LABEL_VALUE_MAX) {
            http_reply_invalid(r, "labels", "label '%s' must be a string of at most %d bytes", k,
                               LABEL_VALUE_MAX);
            return -1;
        }
    }
    s->labels = v;
    s->given |= SPEC_LABELS;
    return 0;
}

static int persistence_parse(http_req *r, json_t *v, instance_spec *s)
{
    if (!json_is_object(v)) {
        http_reply_invalid(r, "persistence", "persistence must be an object");
        return -1;
    }
    const char *bad = jx_unknown_member(v, persistence_fields);
    if (bad) {
        char field[128];
        snprintf(field, sizeof(field), "persistence.%s", bad);
        http_reply_invalid(r, field, "unknown field '%s'", field);
        return -1;
    }
    json_t *cron = json_object_get(v, "snapshot_cron");
    if (cron) {
        char err[CRON_ERR_MAX] = ""; /* cron_parse fills it only when it runs */
        cron_expr e;
        if (json_is_null(cron)) {
            s->snapshot_cron = "";
        } else if (!json_is_string(cron) || strlen(json_string_value(cron)) >= CRON_TEXT_MAX ||
                   strchr(json_string_value(cron), '"') ||
                   (*json_string_value(cron) &&
                    cron_parse(json_string_value(cron), &e, err, sizeof(err)) < 0)) {
            http_reply_invalid(r, "persistence.snapshot_cron",
                               "snapshot_cron must be a 5-field cron expression or null%s%s",
                               json_is_string(cron) ? ": " : "", json_is_string(cron) ? err : "");
            return -1;
        } else {
            s->snapshot_cron = json_string_value(cron);
        }
        s->given |= SPEC_CRON;
    }
    json_t *aof = json_object_get(v, "appendonly");
    if (aof) {
        if (!json_is_boolean(aof)) {
            http_reply_invalid(r, "persistence.appendonly", "appendonly must be true or false");
            return -1;
        }
        s->appendonly = json_is_true(aof);
        s->given |= SPEC_APPENDONLY;
    }
    return 0;
}

static int policy_parse(http_req *r, json_t *v, instance_spec *s)
{
    for (const char *const *p = policies; json_is_string(v) && *p; p++)
        if (!strcmp(*p, json_string_value(v))) {
            s->eviction_policy = *p;
            s->given |= SPEC_POLICY;
            return 0;
        }
    http_reply_invalid(r, "eviction_policy",
                       "eviction_policy must be one of noeviction, allkeys-lru, allkeys-lfu, "
                       "allkeys-random, volatile-lru, volatile-lfu, volatile-random, "
                       "volatile-ttl");
    return -1;
}

static int scalars_parse(http_req *r, json_t *body, instance_spec *s)
{
    json_t *v;
    if ((v = json_object_get(body, "name"))) {
        if (!json_is_string(v) || !api_name_valid(json_string_value(v))) {
            http_reply_invalid(r, "name",
                               "name must be 1 to %d characters of a-z, 0-9 and '-', starting "
                               "with a letter or digit",
                               NAME_MAX_LEN);
            return -1;
        }
        s->name = json_string_value(v);
        s->given |= SPEC_NAME;
    }
    if ((v = json_object_get(body, "tenant_id"))) {
        if (!json_is_string(v)) {
            http_reply_invalid(r, "tenant_id", "tenant_id must be a string");
            return -1;
        }
        s->tenant_id = json_string_value(v);
        s->given |= SPEC_TENANT;
    }
    if (json_object_get(body, "shards")) {
        if (int_field(r, body, "shards", SHARDS_MIN, SHARDS_MAX, &s->shards) < 0)
            return -1;
        s->given |= SPEC_SHARDS;
    }
    if (json_object_get(body, "replicas_per_shard")) {
        if (int_field(r, body, "replicas_per_shard", 0, REPLICAS_MAX, &s->replicas) < 0)
            return -1;
        s->given |= SPEC_REPLICAS;
    }
    if ((v = json_object_get(body, "memory"))) {
        if (api_bytes(v, &s->memory) < 0 || s->memory < MEMORY_PER_SHARD_MIN ||
            s->memory > MEMORY_MAX) {
            http_reply_invalid(r, "memory",
                               "memory must be bytes (an integer, or a size such as \"1gb\") "
                               "from 1mb to 1tb");
            return -1;
        }
        s->given |= SPEC_MEMORY;
    }
    if ((v = json_object_get(body, "eviction_policy")) && policy_parse(r, v, s) < 0)
        return -1;
    return 0;
}

/* backup_schedule and backup_retention: an object or null (none). */
static int backup_fields_parse(http_req *r, json_t *body, instance_spec *s)
{
    char err[BACKUP_ERR_MAX];
    json_t *v;
    if ((v = json_object_get(body, "backup_schedule"))) {
        if (!json_is_null(v) && backup_schedule_check(v, err, sizeof(err)) < 0) {
            http_reply_invalid(r, "backup_schedule", "%s", err);
            return -1;
        }
        s->backup_schedule = v;
        s->given |= SPEC_BACKUP_SCHEDULE;
    }
    if ((v = json_object_get(body, "backup_retention"))) {
        if (!json_is_null(v) && backup_retention_check(v, err, sizeof(err)) < 0) {
            http_reply_invalid(r, "backup_retention", "%s", err);
            return -1;
        }
        s->backup_retention = v;
        s->given |= SPEC_BACKUP_RETENTION;
    }
    if ((v = json_object_get(body, "restore_from"))) {
        if (!json_is_string(v)) {
            http_reply_invalid(r, "restore_from", "restore_from must be a backup id");
            return -1;
        }
        s->restore_from = json_string_value(v);
        s->given |= SPEC_RESTORE_FROM;
    }
    return 0;
}

int instance_spec_parse(http_req *r, json_t *body, instance_spec *s, int create)
{
    memset(s, 0, sizeof(*s));
    if (api_check_members(r, body, create ? create_fields : patch_fields) < 0)
        return -1;
    s->shards = SHARDS_MIN;
    s->eviction_policy = "noeviction";
    s->snapshot_cron = "";
    if (scalars_parse(r, body, s) < 0)
        return -1;
    json_t *v;
    if ((v = json_object_get(body, "persistence")) && persistence_parse(r, v, s) < 0)
        return -1;
    if ((v = json_object_get(body, "labels")) && labels_parse(r, v, s) < 0)
        return -1;
    if (backup_fields_parse(r, body, s) < 0 || instance_tls_parse(r, body, s) < 0)
        return -1;
    if (create && !(s->given & SPEC_NAME)) {
        http_reply_invalid(r, "name", "name is required");
        return -1;
    }
    if (create && !(s->given & SPEC_MEMORY)) {
        http_reply_invalid(r, "memory", "memory is required");
        return -1;
    }
    if ((s->given & SPEC_MEMORY) && (s->given & SPEC_SHARDS) &&
        s->memory < MEMORY_PER_SHARD_MIN * s->shards) {
        http_reply_invalid(r, "memory", "memory must be at least 1mb per shard");
        return -1;
    }
    return 0;
}

int instance_quota_check(http_req *r, const char *tenant, const char *except, long long memory,
                         int adds_instance)
{
    sqlite3_stmt *st = db_prepare(
        "SELECT t.max_instances, t.max_memory, "
        "(SELECT count(*) FROM instances i WHERE i.tenant_id = t.id AND i.status != 'gone' "
        " AND i.id != coalesce(?2, '')), "
        "(SELECT coalesce(sum(memory), 0) FROM instances i WHERE i.tenant_id = t.id AND "
        " i.status != 'gone' AND i.id != coalesce(?2, '')) FROM tenants t WHERE t.id = ?1");
    if (!st) {
        http_reply_internal(r, "cannot read quotas");
        return -1;
    }
    db_bind_text(st, 1, tenant);
    db_bind_text(st, 2, except);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_done(st);
        http_reply_error(r, 404, "not_found", NULL, "no tenant %s", tenant);
        return -1;
    }
    long long max_instances = sqlite3_column_int64(st, 0);
    long long max_memory = sqlite3_column_int64(st, 1);
    long long count = sqlite3_column_int64(st, 2);
    long long used = sqlite3_column_int64(st, 3);
    db_done(st);
    if (adds_instance && count + 1 > max_instances) {
        http_reply_error(r, 422, "quota_exceeded", "max_instances",
                         "the tenant may have %lld instance(s) and has %lld", max_instances, count);
        return -1;
    }
    if (used + memory > max_memory) {
        http_reply_error(r, 422, "quota_exceeded", "memory",
                         "the tenant may use %lld bytes; its other instances use %lld and this "
                         "one asks %lld",
                         max_memory, used, memory);
        return -1;
    }
    return 0;
}
