/* dfly backups …, dfly instances restore and failover, and the backup options of instances
 * create and update. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define EVERY_HOURS_MAX 8760
#define KEEP_MAX 1000
#define MAX_AGE_HOURS_MAX 87600
#define WAIT_DEFAULT_MS (10L * 60 * 1000)
#define ID_MAX_LEN 128

static const out_column backup_cols[] = {
    {"ID", "id"},           {"INSTANCE", "instance_id"}, {"STATUS", "status"},
    {"TRIGGER", "trigger"}, {"SIZE", "size|bytes"},      {"SHARDS", "shards"},
    {"ERROR", "error"},     {"CREATED", "created_at"},   {NULL, NULL},
};

/* "6h" or "6" -> 6 hours in [1, max]; -1 otherwise. */
static long parse_hours(const char *s, long max)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || (*end && strcmp(end, "h")) || n < 1 || n > max)
        return -1;
    return n;
}

int cli_backup_options(cli_ctx *x, json_t *body)
{
    const char *sched = x->opt[OPT_BACKUP_SCHEDULE];
    if (x->opt[OPT_BACKUP_TIMEZONE] && (!sched || strchr(sched, ' ') == NULL))
        return cli_fail(EXIT_USAGE, "--backup-timezone goes with a cron --backup-schedule"), -1;
    if (sched) {
        json_t *v;
        long hours = parse_hours(sched, EVERY_HOURS_MAX);
        if (!strcmp(sched, "none"))
            v = json_null();
        else if (hours > 0)
            v = json_pack("{s:i}", "every_hours", (int)hours);
        else if (strchr(sched, ' ') || sched[0] == '@')
            v = json_pack("{s:s}", "cron", sched);
        else
            return cli_fail(EXIT_USAGE,
                            "--backup-schedule: '%s' is not a cron expression, Nh or none", sched),
                   -1;
        if (x->opt[OPT_BACKUP_TIMEZONE])
            json_object_set_new(v, "timezone", json_string(x->opt[OPT_BACKUP_TIMEZONE]));
        json_object_set_new(body, "backup_schedule", v);
    }
    json_t *ret = json_object();
    if (cli_int_option(x, OPT_BACKUP_KEEP, 1, KEEP_MAX, ret, "count") < 0) {
        json_decref(ret);
        return -1;
    }
    const char *age = x->opt[OPT_BACKUP_MAX_AGE];
    if (age) {
        long hours = parse_hours(age, MAX_AGE_HOURS_MAX);
        if (hours < 0) {
            json_decref(ret);
            return cli_fail(EXIT_USAGE, "--backup-max-age: '%s' is not 1h to %ldh", age,
                            (long)MAX_AGE_HOURS_MAX),
                   -1;
        }
        json_object_set_new(ret, "max_age_hours", json_integer(hours));
    }
    if (json_object_size(ret))
        json_object_set_new(body, "backup_retention", ret);
    else
        json_decref(ret);
    if (x->opt[OPT_RESTORE_FROM])
        json_object_set_new(body, "restore_from", json_string(x->opt[OPT_RESTORE_FROM]));
    return 0;
}

/* Prints an accepted {backup|instance, operation} answer; --wait waits for the operation,
 * then shows the member `what` as it is then (read by get). */
static int accepted(cli_ctx *x, dflyapi_result *r, const char *what, const out_column *cols,
                    dflyapi_err (*get)(dflyapi_client *, const char *, dflyapi_result *))
{
    json_t *body = json_incref(r->body);
    dflyapi_result_clear(r);
    const char *op = json_string_value(json_object_get(json_object_get(body, "operation"), "id"));
    const char *id = json_string_value(json_object_get(json_object_get(body, what), "id"));
    char op_id[ID_MAX_LEN], obj_id[ID_MAX_LEN];
    snprintf(op_id, sizeof(op_id), "%s", op ? op : "");
    snprintf(obj_id, sizeof(obj_id), "%s", id ? id : "");
    const char *kind =
        json_string_value(json_object_get(json_object_get(body, "operation"), "kind"));
    fprintf(stderr, "%s of %s accepted: operation %s\n", kind ? kind : "change", obj_id, op_id);
    int rc = EXIT_OK;
    if (x->opt[OPT_WAIT] && *op_id) {
        long timeout = cli_timeout_ms(x, WAIT_DEFAULT_MS);
        json_t *final_op = NULL;
        rc = timeout < 0 ? EXIT_USAGE : cli_wait_operation(x, op_id, timeout, &final_op);
        if (final_op)
            json_object_set_new(body, "operation", final_op);
        if (rc != EXIT_USAGE && get(cli_api(x), obj_id, r) == DFLYAPI_OK)
            json_object_set(body, what, r->body);
        dflyapi_result_clear(r);
    }
    out_print(x, x->out == OUT_TABLE ? json_object_get(body, what) : body, cols);
    json_decref(body);
    return rc;
}

int cmd_backups_create(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_backup_create(cli_api(x), id, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    return accepted(x, &r, "backup", backup_cols, dflyapi_backup_get);
}

int cmd_backups_list(cli_ctx *x)
{
    return cli_print_instance_items(x, x->args[0], dflyapi_backup_list, backup_cols);
}

int cmd_backups_get(cli_ctx *x)
{
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_backup_get(cli_api(x), x->args[0], &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    out_print(x, r.body, backup_cols);
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

int cmd_backups_delete(cli_ctx *x)
{
    int rc = cli_confirm(x, "Delete backup %s and its files?", x->args[0]);
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_backup_delete(cli_api(x), x->args[0], &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    dflyapi_result_clear(&r);
    fprintf(stderr, "backup %s deleted\n", x->args[0]);
    return EXIT_OK;
}

/* Writes the backup to file through file.part, renamed once complete: a partial download is
 * never left under the asked name. */
static int download_to_file(cli_ctx *x, const char *file)
{
    char *tmp;
    if (asprintf(&tmp, "%s.part", file) < 0)
        return EXIT_ERROR;
    FILE *f = fopen(tmp, "wbe");
    if (!f) {
        int rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_backup_download(cli_api(x), x->args[0], f, &r);
    long long bytes = r.bytes;
    int rc = e == DFLYAPI_OK ? EXIT_OK : cli_api_fail_clear(x, e, &r);
    int closed = fclose(f) == 0;
    if (rc == EXIT_OK && (!closed || rename(tmp, file) < 0))
        rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", file, strerror(errno));
    if (rc != EXIT_OK)
        unlink(tmp);
    else
        fprintf(stderr, "backup %s: %lld bytes written to %s\n", x->args[0], bytes, file);
    free(tmp);
    return rc;
}

int cmd_backups_download(cli_ctx *x)
{
    const char *file = x->opt[OPT_FILE];
    if (file && strcmp(file, "-"))
        return download_to_file(x, file);
    if (x->out_tty)
        return cli_fail(EXIT_USAGE, "the backup is binary: give --file PATH or redirect stdout");
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_backup_download(cli_api(x), x->args[0], stdout, &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

int cmd_instances_restore(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    const char *backup = x->opt[OPT_BACKUP];
    if (!backup)
        return cli_fail(EXIT_USAGE, "--backup is required (see 'dfly backups list %s')",
                        x->args[0]);
    rc = cli_confirm(x, "Replace every key of instance %s (%s) with backup %s?", x->args[0], id,
                     backup);
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e =
        dflyapi_instance_restore(cli_api(x), id, backup, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    return accepted(x, &r, "instance", cli_instance_cols, dflyapi_instance_get);
}

int cmd_instances_failover(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    json_t *req = json_object();
    if (cli_int_option(x, OPT_SHARD, 0, INT32_MAX, req, "shard") < 0) {
        json_decref(req);
        return EXIT_USAGE;
    }
    if (x->opt[OPT_REPLICA_NODE])
        json_object_set_new(req, "replica_node_id", json_string(x->opt[OPT_REPLICA_NODE]));
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_instance_failover(cli_api(x), id, req, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    json_decref(req);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    return accepted(x, &r, "instance", cli_instance_cols, dflyapi_instance_get);
}
