/* dfly instances …, dfly operations …, dfly events: instances and what happens to them, with
 * --wait's progress display. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SHARDS_MAX 64
#define REPLICAS_MAX 2
#define WAIT_DEFAULT_MS (10L * 60 * 1000)
#define POLL_TTY_MS 200 /* the spinner turns at each poll */
#define POLL_PLAIN_MS 500
#define FOLLOW_DEFAULT_MS 1000
#define LABEL_KEY_MAX 256
#define LINE_MAX_LEN 512
#define HTTP_NOT_FOUND 404

const out_column cli_instance_cols[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"STATUS", "status"},
    {"MEMORY", "memory|bytes"},
    {"SHARDS", "shards"},
    {"REPLICAS", "replicas_per_shard"},
    {"ENDPOINT", "endpoint"},
    {"TLS", "tls"},
    {"LABELS", "labels"},
    {NULL, NULL},
};

static const out_column node_cols[] = {
    {"NODE", "id"},   {"SHARD", "shard"},       {"ROLE", "role"},
    {"HOST", "host"}, {"PORT", "port"},         {"STATUS", "status"},
    {"PID", "pid"},   {"RESTARTS", "restarts"}, {NULL, NULL},
};

static const out_column operation_cols[] = {
    {"ID", "id"},
    {"KIND", "kind"},
    {"TARGET", "target.id"},
    {"STATUS", "status"},
    {"PROGRESS", "progress"},
    {"ERROR", "error"},
    {"CREATED", "created_at"},
    {NULL, NULL},
};

static const out_column event_cols[] = {
    {"SEQ", "seq"},      {"TIME", "time"},    {"TYPE", "type"},     {"FROM", "from_status"},
    {"TO", "to_status"}, {"NODE", "node_id"}, {"REASON", "reason"}, {NULL, NULL},
};

/* --- waiting ----------------------------------------------------------------------------- */

typedef struct progress_view {
    int tty;
    int frame;
    char last[LINE_MAX_LEN]; /* the last plain line, printed again only when it changes */
} progress_view;

/* "running 40% start_nodes (1/3 running)": the operation's state in one line. */
static void progress_line(const json_t *op, char *out, size_t size)
{
    const char *status = json_string_value(json_object_get(op, "status"));
    long long pct = json_integer_value(json_object_get(op, "progress"));
    const json_t *steps = json_object_get(op, "steps"), *cur = NULL, *s;
    size_t i;
    int finished = status && (!strcmp(status, "succeeded") || !strcmp(status, "failed"));
    json_array_foreach(finished ? NULL : steps, i, s)
    {
        const char *st = json_string_value(json_object_get(s, "status"));
        if (st && strcmp(st, "done")) {
            cur = s;
            break;
        }
    }
    const char *step = cur ? json_string_value(json_object_get(cur, "name")) : NULL;
    const char *detail = cur ? json_string_value(json_object_get(cur, "detail")) : NULL;
    snprintf(out, size, "%s %3lld%%%s%s%s%s%s", status ? status : "?", pct, step ? " " : "",
             step ? step : "", detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

/* Set by Ctrl-C while waiting: stop waiting (the operation goes on) and say how to resume. */
static volatile sig_atomic_t interrupted;

static int on_progress(const json_t *op, void *ud)
{
    static const char frames[] = "|/-\\";
    progress_view *v = ud;
    char line[LINE_MAX_LEN];
    progress_line(op, line, sizeof(line));
    const char *id = json_string_value(json_object_get(op, "id"));
    if (v->tty) {
        /* one line redrawn in place: spinner, operation, state */
        fprintf(stderr, "\r\033[K%c %s %s", frames[v->frame++ % 4], id ? id : "", line);
    } else if (strcmp(line, v->last)) {
        fprintf(stderr, "%s %s\n", id ? id : "", line);
        snprintf(v->last, sizeof(v->last), "%s", line);
    }
    fflush(stderr);
    return interrupted;
}

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

int cli_wait_operation(cli_ctx *x, const char *op_id, long timeout_ms, json_t **final_op)
{
    progress_view v = {.tty = x->err_tty};
    dflyapi_result r = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    dflyapi_err e = dflyapi_operation_wait(
        cli_api(x), op_id, timeout_ms, v.tty ? POLL_TTY_MS : POLL_PLAIN_MS, on_progress, &v, &r);
    sigaction(SIGINT, &old, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (v.tty)
        fputs("\r\033[K", stderr);
    int rc = EXIT_OK;
    if (e == DFLYAPI_OK)
        fprintf(stderr, "%s succeeded in %.1fs\n", op_id, secs);
    else if (interrupted)
        rc = cli_fail(EXIT_INTERRUPTED,
                      "stopped waiting; %s goes on: 'dfly operations wait %s' to follow it", op_id,
                      op_id);
    else
        rc = cli_api_fail(x, e, &r);
    if (final_op && r.body && json_object_get(r.body, "status"))
        *final_op = json_incref(r.body);
    dflyapi_result_clear(&r);
    return rc;
}

/* --- instances --------------------------------------------------------------------------- */

int cli_find_instance(cli_ctx *x, const char *ref, dflyapi_result *r)
{
    dflyapi_err e = dflyapi_instance_find(cli_api(x), ref, r);
    return e == DFLYAPI_OK ? EXIT_OK : cli_api_fail_clear(x, e, r);
}

int cli_instance_id(cli_ctx *x, const char *ref, char *id, size_t size)
{
    dflyapi_result r = {0};
    int rc = cli_find_instance(x, ref, &r);
    if (rc != EXIT_OK)
        return rc;
    snprintf(id, size, "%s", json_string_value(json_object_get(r.body, "id")));
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

static const char *id_of(const json_t *obj)
{
    return json_string_value(json_object_get(obj, "id"));
}

/* Sets persistence members from --snapshot-cron and --appendonly; -1 after a usage error. */
static int persistence_options(cli_ctx *x, json_t *body)
{
    json_t *p = json_object();
    const char *cron = x->opt[OPT_SNAPSHOT_CRON];
    if (cron)
        json_object_set_new(p, "snapshot_cron",
                            !*cron || !strcmp(cron, "none") ? json_null() : json_string(cron));
    if (cli_on_off_option(x, OPT_APPENDONLY, p, "appendonly") < 0) {
        json_decref(p);
        return -1;
    }
    if (json_object_size(p))
        json_object_set_new(body, "persistence", p);
    else
        json_decref(p);
    return 0;
}

/* Applies --label KEY=VALUE (and, when removals are allowed, KEY-) to labels. */
static int label_options(cli_ctx *x, json_t *labels, int removals)
{
    for (int i = 0; i < x->nrepeats[OPT_LABEL]; i++) {
        const char *l = x->repeats[OPT_LABEL][i];
        const char *eq = strchr(l, '=');
        size_t len = strlen(l);
        char key[LABEL_KEY_MAX];
        if (!eq && removals && len > 1 && l[len - 1] == '-' && len <= sizeof(key)) {
            snprintf(key, sizeof(key), "%.*s", (int)(len - 1), l);
            json_object_del(labels, key);
            continue;
        }
        if (!eq || eq == l || (size_t)(eq - l) >= sizeof(key)) {
            cli_fail(EXIT_USAGE, "--label: '%s' is not KEY=VALUE%s", l, removals ? " or KEY-" : "");
            return -1;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - l), l);
        json_object_set_new(labels, key, json_string(eq + 1));
    }
    return 0;
}

/* Sets tls and tls_client_auth from --tls, --no-tls and --tls-client-auth; -1 after a usage
 * error. */
static int tls_options(cli_ctx *x, json_t *body)
{
    if (x->opt[OPT_TLS] && x->opt[OPT_NO_TLS]) {
        cli_fail(EXIT_USAGE, "--tls and --no-tls contradict each other");
        return -1;
    }
    if (x->opt[OPT_TLS] || x->opt[OPT_NO_TLS])
        json_object_set_new(body, "tls", json_boolean(x->opt[OPT_TLS] != NULL));
    const char *auth = x->opt[OPT_TLS_CLIENT_AUTH];
    if (auth) {
        if (strcmp(auth, "no") && strcmp(auth, "optional") && strcmp(auth, "yes")) {
            cli_fail(EXIT_USAGE, "--tls-client-auth: '%s' is not no, optional or yes", auth);
            return -1;
        }
        json_object_set_new(body, "tls_client_auth", json_string(auth));
    }
    return 0;
}

/* Options shared by create and update. */
static int spec_options(cli_ctx *x, json_t *body)
{
    if (tls_options(x, body) < 0)
        return -1;
    if (x->opt[OPT_MEMORY])
        json_object_set_new(body, "memory", cli_bytes(x->opt[OPT_MEMORY]));
    if (cli_int_option(x, OPT_REPLICAS, 0, REPLICAS_MAX, body, "replicas_per_shard") < 0)
        return -1;
    if (x->opt[OPT_EVICTION])
        json_object_set_new(body, "eviction_policy", json_string(x->opt[OPT_EVICTION]));
    if (cli_backup_options(x, body) < 0)
        return -1;
    return persistence_options(x, body);
}

int cli_finish_change(cli_ctx *x, dflyapi_result *r, const char *verb)
{
    json_t *body = json_incref(r->body);
    dflyapi_result_clear(r);
    json_t *inst = json_object_get(body, "instance");
    const char *op = id_of(json_object_get(body, "operation"));
    char op_id[LINE_MAX_LEN], inst_id[LINE_MAX_LEN];
    snprintf(op_id, sizeof(op_id), "%s", op ? op : "");
    snprintf(inst_id, sizeof(inst_id), "%s", id_of(inst) ? id_of(inst) : "");
    fprintf(stderr, "%s of %s accepted: operation %s\n", verb, inst_id, op_id);
    int rc = EXIT_OK;
    if (x->opt[OPT_WAIT] && *op_id) {
        long timeout = cli_timeout_ms(x, WAIT_DEFAULT_MS);
        json_t *final_op = NULL;
        rc = timeout < 0 ? EXIT_USAGE : cli_wait_operation(x, op_id, timeout, &final_op);
        if (final_op)
            json_object_set_new(body, "operation", final_op);
        /* a deleted instance is gone (404): its last view is the accepted one */
        if (rc != EXIT_USAGE && strcmp(verb, "delete") &&
            dflyapi_instance_get(cli_api(x), inst_id, r) == DFLYAPI_OK)
            json_object_set(body, "instance", r->body);
        dflyapi_result_clear(r);
    }
    out_print(x, x->out == OUT_TABLE ? json_object_get(body, "instance") : body, cli_instance_cols);
    json_decref(body);
    return rc;
}

int cmd_instances_create(cli_ctx *x)
{
    json_t *body = json_pack("{s:s}", "name", x->args[0]);
    json_t *labels = json_object();
    if (!x->opt[OPT_MEMORY]) {
        json_decref(body);
        json_decref(labels);
        return cli_fail(EXIT_USAGE, "--memory is required (e.g. --memory 1gb)");
    }
    if (spec_options(x, body) < 0 ||
        cli_int_option(x, OPT_SHARDS, 1, SHARDS_MAX, body, "shards") < 0 ||
        label_options(x, labels, 0) < 0) {
        json_decref(body);
        json_decref(labels);
        return EXIT_USAGE;
    }
    if (json_object_size(labels))
        json_object_set(body, "labels", labels);
    json_decref(labels);
    if (x->opt[OPT_TENANT])
        json_object_set_new(body, "tenant_id", json_string(x->opt[OPT_TENANT]));
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_instance_create(cli_api(x), body, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    json_decref(body);
    if (e != DFLYAPI_OK) {
        int rc = cli_api_fail(x, e, &r);
        dflyapi_result_clear(&r);
        return rc;
    }
    const char *password =
        json_string_value(json_object_get(json_object_get(r.body, "credentials"), "password"));
    if (x->out == OUT_TABLE && password) {
        /* the password is shown this once, and must reach the user even with --wait failing */
        printf("password: %s\n", password);
        fputs("Keep the password: it is not shown again (dfly connect reads $DFLY_PASSWORD).\n",
              stderr);
    }
    return cli_finish_change(x, &r, "create");
}

int cmd_instances_list(cli_ctx *x)
{
    dflyapi_param q[CLI_REPEAT_MAX + 3];
    int n = 0;
    if (x->opt[OPT_STATUS])
        q[n++] = (dflyapi_param){"status", x->opt[OPT_STATUS]};
    if (x->opt[OPT_TENANT])
        q[n++] = (dflyapi_param){"tenant_id", x->opt[OPT_TENANT]};
    for (int i = 0; i < x->nrepeats[OPT_LABEL]; i++)
        q[n++] = (dflyapi_param){"label", x->repeats[OPT_LABEL][i]};
    q[n] = (dflyapi_param){NULL, NULL};
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_instance_list(cli_api(x), q, &r);
    int rc = EXIT_OK;
    if (e != DFLYAPI_OK)
        rc = cli_api_fail(x, e, &r);
    else
        out_print(x, json_object_get(r.body, "items"), cli_instance_cols);
    dflyapi_result_clear(&r);
    return rc;
}

int cmd_instances_get(cli_ctx *x)
{
    dflyapi_result r = {0};
    int rc = cli_find_instance(x, x->args[0], &r);
    if (rc != EXIT_OK)
        return rc;
    out_print(x, r.body, cli_instance_cols);
    if (x->out == OUT_TABLE) {
        const char *reason = json_string_value(json_object_get(r.body, "status_reason"));
        const char *uri = json_string_value(json_object_get(r.body, "uri"));
        printf("\nuri: %s\netag: %s\n", uri ? uri : "-", r.etag ? r.etag : "-");
        if (reason && *reason)
            printf("reason: %s\n", reason);
        json_t *nodes = json_object_get(r.body, "nodes");
        if (json_array_size(nodes)) {
            putchar('\n');
            out_print(x, nodes, node_cols);
        }
    }
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

int cmd_instances_update(cli_ctx *x)
{
    /* a bad option is reported before any request */
    json_t *body = json_object();
    if (spec_options(x, body) < 0) {
        json_decref(body);
        return EXIT_USAGE;
    }
    dflyapi_result r = {0};
    int rc = cli_find_instance(x, x->args[0], &r);
    if (rc != EXIT_OK) {
        json_decref(body);
        return rc;
    }
    char id[LINE_MAX_LEN];
    snprintf(id, sizeof(id), "%s", id_of(r.body));
    if (x->nrepeats[OPT_LABEL]) {
        /* labels are replaced as a whole by the API: start from the current ones */
        json_t *labels = json_deep_copy(json_object_get(r.body, "labels"));
        if (!labels)
            labels = json_object();
        if (label_options(x, labels, 1) < 0) {
            json_decref(labels);
            json_decref(body);
            dflyapi_result_clear(&r);
            return EXIT_USAGE;
        }
        json_object_set_new(body, "labels", labels);
    }
    dflyapi_result_clear(&r);
    if (json_object_size(body) == 0) {
        json_decref(body);
        return cli_fail(EXIT_USAGE, "nothing to change: give --memory, --replicas, --eviction, "
                                    "--snapshot-cron, --appendonly, --label, --tls, --no-tls or "
                                    "--tls-client-auth");
    }
    dflyapi_err e = dflyapi_instance_update(cli_api(x), id, body, x->opt[OPT_IF_MATCH], &r);
    json_decref(body);
    if (e != DFLYAPI_OK) {
        rc = cli_api_fail(x, e, &r);
        dflyapi_result_clear(&r);
        return rc;
    }
    return cli_finish_change(x, &r, "update");
}

int cmd_instances_delete(cli_ctx *x)
{
    dflyapi_result r = {0};
    int rc = cli_find_instance(x, x->args[0], &r);
    if (rc != EXIT_OK)
        return rc;
    char id[LINE_MAX_LEN];
    snprintf(id, sizeof(id), "%s", id_of(r.body));
    rc = cli_confirm(x, "Delete instance %s (%s) and all its data?",
                     json_string_value(json_object_get(r.body, "name")), id);
    dflyapi_result_clear(&r);
    if (rc != EXIT_OK)
        return rc;
    dflyapi_err e = dflyapi_instance_delete(cli_api(x), id, x->opt[OPT_IF_MATCH], &r);
    if (e != DFLYAPI_OK) {
        rc = cli_api_fail(x, e, &r);
        dflyapi_result_clear(&r);
        return rc;
    }
    return cli_finish_change(x, &r, "delete");
}

int cmd_instances_restart(cli_ctx *x)
{
    dflyapi_result r = {0};
    int rc = cli_find_instance(x, x->args[0], &r);
    if (rc != EXIT_OK)
        return rc;
    char id[LINE_MAX_LEN];
    snprintf(id, sizeof(id), "%s", id_of(r.body));
    dflyapi_result_clear(&r);
    dflyapi_err e = dflyapi_instance_restart(cli_api(x), id, x->opt[OPT_IF_MATCH],
                                             x->opt[OPT_IDEMPOTENCY_KEY], &r);
    if (e != DFLYAPI_OK) {
        rc = cli_api_fail(x, e, &r);
        dflyapi_result_clear(&r);
        return rc;
    }
    return cli_finish_change(x, &r, "restart");
}

/* --- operations -------------------------------------------------------------------------- */

int cmd_operations_get(cli_ctx *x)
{
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_operation_get(cli_api(x), x->args[0], &r);
    int rc = EXIT_OK;
    if (e != DFLYAPI_OK) {
        rc = cli_api_fail(x, e, &r);
    } else {
        out_print(x, r.body, operation_cols);
        json_t *steps = json_object_get(r.body, "steps");
        if (x->out == OUT_TABLE && json_array_size(steps)) {
            static const out_column step_cols[] = {
                {"STEP", "name"}, {"STATUS", "status"}, {"DETAIL", "detail"}, {NULL, NULL}};
            putchar('\n');
            out_print(x, steps, step_cols);
        }
    }
    dflyapi_result_clear(&r);
    return rc;
}

int cmd_operations_wait(cli_ctx *x)
{
    long timeout = cli_timeout_ms(x, WAIT_DEFAULT_MS);
    if (timeout < 0)
        return EXIT_USAGE;
    json_t *op = NULL;
    int rc = cli_wait_operation(x, x->args[0], timeout, &op);
    if (op) /* succeeded, failed or still going at the timeout: show where it is */
        out_print(x, op, operation_cols);
    json_decref(op);
    return rc;
}

/* --- events ------------------------------------------------------------------------------ */

typedef struct follow_state {
    long long last_seq; /* the newest event printed */
    char *cursor;       /* the newest non-null cursor: where the next poll starts */
    int header;         /* the table header is printed */
} follow_state;

static void print_event(cli_ctx *x, follow_state *st, const json_t *ev)
{
    if (x->out == OUT_JSON) {
        json_dumpf(ev, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else if (x->out == OUT_YAML) {
        json_t *one = json_array();
        json_array_append(one, (json_t *)ev);
        out_yaml(stdout, one, 0);
        json_decref(one);
    } else {
        if (!st->header) {
            puts("SEQ  TIME                      TYPE               FROM -> TO           REASON");
            st->header = 1;
        }
        char *from = out_cell(ev, "from_status"), *to = out_cell(ev, "to_status");
        char *node = out_cell(ev, "node_id");
        printf("%-4lld %-25s %-18s %s -> %-10s %s%s%s\n",
               (long long)json_integer_value(json_object_get(ev, "seq")),
               json_string_value(json_object_get(ev, "time")),
               json_string_value(json_object_get(ev, "type")), from, to,
               strcmp(node, "-") ? node : "", strcmp(node, "-") ? ": " : "",
               json_string_value(json_object_get(ev, "reason")));
        free(from);
        free(to);
        free(node);
    }
    fflush(stdout);
}

/* Prints the events newer than st->last_seq, walking pages from st->cursor. */
static dflyapi_err follow_poll(cli_ctx *x, const char *id, follow_state *st, dflyapi_result *r)
{
    for (;;) {
        dflyapi_err e = dflyapi_events_page(cli_api(x), id, st->cursor, r);
        if (e != DFLYAPI_OK)
            return e;
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(r->body, "items"), i, ev)
        {
            long long seq = json_integer_value(json_object_get(ev, "seq"));
            if (seq > st->last_seq) {
                print_event(x, st, ev);
                st->last_seq = seq;
            }
        }
        const char *next = json_string_value(json_object_get(r->body, "next_cursor"));
        if (!next)
            return DFLYAPI_OK;
        free(st->cursor);
        st->cursor = strdup(next);
    }
}

int cmd_events(cli_ctx *x)
{
    dflyapi_result r = {0};
    int rc = cli_find_instance(x, x->args[0], &r);
    if (rc != EXIT_OK)
        return rc;
    char id[LINE_MAX_LEN];
    snprintf(id, sizeof(id), "%s", id_of(r.body));
    dflyapi_result_clear(&r);
    if (!x->opt[OPT_FOLLOW]) {
        dflyapi_err e = dflyapi_events_list(cli_api(x), id, &r);
        if (e != DFLYAPI_OK)
            rc = cli_api_fail(x, e, &r);
        else
            out_print(x, json_object_get(r.body, "items"), event_cols);
        dflyapi_result_clear(&r);
        return rc;
    }
    long interval = FOLLOW_DEFAULT_MS;
    if (x->opt[OPT_INTERVAL] && (interval = cli_parse_duration(x->opt[OPT_INTERVAL])) <= 0)
        return cli_fail(EXIT_USAGE, "--interval: '%s' is not a duration", x->opt[OPT_INTERVAL]);
    follow_state st = {0};
    for (;;) {
        dflyapi_err e = follow_poll(x, id, &st, &r);
        if (e != DFLYAPI_OK) {
            /* the instance was deleted: its story is over */
            if (e == DFLYAPI_ERR_HTTP && r.status == HTTP_NOT_FOUND) {
                fprintf(stderr, "instance %s is gone\n", id);
                rc = EXIT_OK;
            } else {
                rc = cli_api_fail(x, e, &r);
            }
            break;
        }
        dflyapi_result_clear(&r);
        usleep((useconds_t)interval * 1000);
    }
    dflyapi_result_clear(&r);
    free(st.cursor);
    return rc;
}
