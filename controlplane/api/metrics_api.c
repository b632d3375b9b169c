/* GET /v1/instances/{id}/metrics?names=a,b&from=&to=&step= (issue 14): the scraped series of
 * an instance (metrics/scraper.c) as JSON, averaged per step. Times are Unix seconds. The
 * source follows the step and the age of the range: raw points (a day) for steps under a
 * minute, minute rollups for steps under an hour or older ranges, hour rollups beyond. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "metrics/alerts.h"
#include "metrics/scraper.h"

#define MS_PER_S 1000LL
#define DEFAULT_RANGE_S 3600LL
#define DEFAULT_POINTS 300LL /* a default step gives about this many points per series */
#define MAX_POINTS 11000LL   /* per series, as Prometheus's query_range */
#define NAMES_MAX 32
#define NAMES_TEXT_MAX 1024

enum source { SRC_RAW, SRC_MINUTE, SRC_HOUR };
static const char *const source_names[] = {"raw", "1m", "1h"};

typedef struct range_req {
    long long from_ms, to_ms, step_ms;
    const char *names[NAMES_MAX];
    int nnames;
    char names_buf[NAMES_TEXT_MAX];
} range_req;

static int known_name(const char *s)
{
    for (int i = 0; i < scrape_names_count; i++)
        if (!strcmp(s, scrape_names[i]))
            return 1;
    return !strcmp(s, METRIC_NODE_UP) || !strcmp(s, METRIC_REPL_LAG);
}

/* A Unix time in seconds (fractions allowed) into ms. Returns 0, or -1 when malformed. */
static int parse_seconds(const char *s, long long *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0 || v > 1e11)
        return -1;
    *ms = (long long)llround(v * (double)MS_PER_S);
    return 0;
}

static int bad(http_req *r, const char *field, const char *why)
{
    http_reply_error(r, 400, "bad_request", field, "%s", why);
    return -1;
}

static int parse_names(http_req *r, range_req *q)
{
    const char *names = http_query(r, "names");
    if (!names || !*names) {
        for (int i = 0; i < scrape_names_count && q->nnames < NAMES_MAX; i++)
            q->names[q->nnames++] = scrape_names[i];
        q->names[q->nnames++] = METRIC_NODE_UP;
        q->names[q->nnames++] = METRIC_REPL_LAG;
        return 0;
    }
    if (strlen(names) >= sizeof(q->names_buf))
        return bad(r, "names", "names is too long");
    snprintf(q->names_buf, sizeof(q->names_buf), "%s", names);
    for (char *save = NULL, *s = strtok_r(q->names_buf, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        if (!known_name(s)) {
            http_reply_error(r, 400, "bad_request", "names", "unknown metric %s", s);
            return -1;
        }
        if (q->nnames == NAMES_MAX)
            return bad(r, "names", "too many names");
        q->names[q->nnames++] = s;
    }
    return q->nnames ? 0 : bad(r, "names", "names is empty");
}

/* Query parameters, with defaults: the last hour, about DEFAULT_POINTS points. */
static int parse_range(http_req *r, range_req *q)
{
    memset(q, 0, sizeof(*q));
    const char *from = http_query(r, "from"), *to = http_query(r, "to");
    const char *step = http_query(r, "step");
    q->to_ms = ids_now_ms();
    if (to && parse_seconds(to, &q->to_ms) < 0)
        return bad(r, "to", "to must be a Unix time in seconds");
    q->from_ms = q->to_ms - DEFAULT_RANGE_S * MS_PER_S;
    if (from && parse_seconds(from, &q->from_ms) < 0)
        return bad(r, "from", "from must be a Unix time in seconds");
    if (q->from_ms > q->to_ms)
        return bad(r, "from", "from is after to");
    if (step) {
        char *end;
        long long s = strtoll(step, &end, 10);
        if (end == step || *end || s < 1 || s > METRICS_ROLLUP_KEEP_MS / MS_PER_S)
            return bad(r, "step", "step must be a whole number of seconds, at least 1");
        q->step_ms = s * MS_PER_S;
    } else {
        long long s = (q->to_ms - q->from_ms) / DEFAULT_POINTS / MS_PER_S + 1;
        long long scrape_s = (ctl_cfg.scrape_interval_ms + MS_PER_S - 1) / MS_PER_S;
        q->step_ms = (s > scrape_s ? s : scrape_s) * MS_PER_S;
    }
    if ((q->to_ms - q->from_ms) / q->step_ms > MAX_POINTS)
        return bad(r, "step", "too many points: use a larger step or a shorter range");
    return parse_names(r, q);
}

static enum source source_for(const range_req *q)
{
    long long now = ids_now_ms();
    if (q->step_ms >= METRICS_HOUR_MS || q->from_ms < now - METRICS_ROLLUP_KEEP_MS)
        return SRC_HOUR;
    if (q->step_ms >= METRICS_MINUTE_MS || q->from_ms < now - METRICS_RAW_KEEP_MS)
        return SRC_MINUTE;
    return SRC_RAW;
}

static sqlite3_stmt *series_query(enum source src)
{
    if (src == SRC_RAW)
        return db_prepare("SELECT node_id, ts / ?1 * ?1 AS b, avg(value) FROM metric_points "
                          "WHERE instance_id = ?2 AND name = ?3 AND ts >= ?4 AND ts <= ?5 "
                          "GROUP BY node_id, b ORDER BY node_id, b");
    return db_prepare("SELECT node_id, ts / ?1 * ?1 AS b, sum(sum) / sum(count) FROM "
                      "metric_rollups WHERE instance_id = ?2 AND name = ?3 AND ts >= ?4 AND "
                      "ts <= ?5 AND period = ?6 GROUP BY node_id, b ORDER BY node_id, b");
}

/* The series of one name (one per node for node series) appended to series. */
static int add_series(json_t *series, const char *iid, const char *name, const range_req *q,
                      enum source src)
{
    sqlite3_stmt *st = series_query(src);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, q->step_ms);
    db_bind_text(st, 2, iid);
    db_bind_text(st, 3, name);
    sqlite3_bind_int64(st, 4, q->from_ms);
    sqlite3_bind_int64(st, 5, q->to_ms);
    if (src != SRC_RAW)
        sqlite3_bind_int64(st, 6, src == SRC_HOUR ? METRICS_HOUR_MS : METRICS_MINUTE_MS);
    json_t *points = NULL;
    char node[ID_MAX] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *nd = db_text(st, 0);
        if (!points || strcmp(nd, node)) {
            snprintf(node, sizeof(node), "%s", nd);
            points = json_array();
            json_array_append_new(series,
                                  json_pack("{s:s, s:o, s:o}", "name", name, "node_id",
                                            *nd ? json_string(nd) : json_null(), "points", points));
        }
        json_array_append_new(
            points, json_pack("[I, f]", (json_int_t)(sqlite3_column_int64(st, 1) / MS_PER_S),
                              sqlite3_column_double(st, 2)));
    }
    db_done(st);
    return 0;
}

void api_instance_metrics(http_req *r)
{
    instance_row in;
    if (store_instance_get(r->params[0], api_scope_tenant(r), 1, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    store_instance_clear(&in);
    range_req q;
    if (parse_range(r, &q) < 0)
        return;
    enum source src = source_for(&q);
    json_t *series = json_array();
    for (int i = 0; i < q.nnames; i++)
        if (add_series(series, r->params[0], q.names[i], &q, src) < 0) {
            json_decref(series);
            http_reply_internal(r, "cannot read metrics");
            return;
        }
    http_reply_json(
        r, 200,
        json_pack("{s:s, s:I, s:I, s:I, s:s, s:I, s:o}", "instance_id", r->params[0], "from",
                  (json_int_t)(q.from_ms / MS_PER_S), "to", (json_int_t)(q.to_ms / MS_PER_S),
                  "step", (json_int_t)(q.step_ms / MS_PER_S), "resolution", source_names[src],
                  "scrape_interval_ms", (json_int_t)ctl_cfg.scrape_interval_ms, "series", series));
}

/* ---- GET/PUT /v1/instances/{id}/alerts: thresholds evaluated by the scraper ---------------- */

#define WEBHOOK_URL_MAX 2048

/* The columns of the thresholds, in the order of enum alert_kind, and their limits. */
static const char *const alert_fields[AL_KINDS] = {"memory_share_max", "hit_ratio_min",
                                                   "replication_lag_max_bytes", "nodes_down_max"};
static const double alert_max[AL_KINDS] = {1e6, 1, 1e18, 1e6};

static json_t *alerts_json(const char *iid)
{
    sqlite3_stmt *st = db_prepare("SELECT memory_share_max, hit_ratio_min, "
                                  "replication_lag_max_bytes, nodes_down_max, webhook_url, "
                                  "firing FROM metric_alerts WHERE instance_id = ?");
    if (!st)
        return NULL;
    db_bind_text(st, 1, iid);
    json_t *v = json_object();
    json_t *firing = json_array();
    int row = sqlite3_step(st) == SQLITE_ROW;
    for (int k = 0; k < AL_KINDS; k++)
        json_object_set_new(v, alert_fields[k],
                            row && sqlite3_column_type(st, k) != SQLITE_NULL
                                ? json_real(sqlite3_column_double(st, k))
                                : json_null());
    json_object_set_new(v, "webhook_url",
                        row && sqlite3_column_type(st, 4) != SQLITE_NULL
                            ? json_string(db_text(st, 4))
                            : json_null());
    int mask = row ? sqlite3_column_int(st, 5) : 0;
    for (int k = 0; k < AL_KINDS; k++)
        if (mask >> k & 1)
            json_array_append_new(firing, json_string(alert_names[k]));
    json_object_set_new(v, "firing", firing);
    db_done(st);
    return v;
}

static int visible_instance(http_req *r)
{
    instance_row in;
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return 0;
    }
    store_instance_clear(&in);
    return 1;
}

void api_instance_alerts_get(http_req *r)
{
    if (!visible_instance(r))
        return;
    json_t *v = alerts_json(r->params[0]);
    if (v)
        http_reply_json(r, 200, v);
    else
        http_reply_internal(r, "cannot read alerts");
}

/* Checks body's thresholds into values (NAN: none). Answers 422 and returns -1 when one is
 * not a number within its limits. */
static int alerts_parse(http_req *r, json_t *body, double *values, const char **url)
{
    for (int k = 0; k < AL_KINDS; k++) {
        json_t *j = json_object_get(body, alert_fields[k]);
        values[k] = NAN;
        if (!j || json_is_null(j))
            continue;
        if (!json_is_number(j) || json_number_value(j) < 0 || json_number_value(j) > alert_max[k]) {
            http_reply_invalid(r, alert_fields[k], "%s must be a number from 0 to %g",
                               alert_fields[k], alert_max[k]);
            return -1;
        }
        values[k] = json_number_value(j);
    }
    json_t *u = json_object_get(body, "webhook_url");
    *url = NULL;
    if (!u || json_is_null(u))
        return 0;
    const char *s = json_string_value(u);
    if (!s || strlen(s) >= WEBHOOK_URL_MAX ||
        (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))) {
        http_reply_invalid(r, "webhook_url", "webhook_url must be an http:// or https:// URL");
        return -1;
    }
    *url = s;
    return 0;
}

static int alerts_save(const char *iid, const double *values, const char *url)
{
    sqlite3_stmt *st = db_prepare(
        "INSERT INTO metric_alerts(instance_id, memory_share_max, hit_ratio_min, "
        "replication_lag_max_bytes, nodes_down_max, webhook_url, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(instance_id) DO UPDATE SET "
        "memory_share_max = excluded.memory_share_max, hit_ratio_min = excluded.hit_ratio_min, "
        "replication_lag_max_bytes = excluded.replication_lag_max_bytes, "
        "nodes_down_max = excluded.nodes_down_max, webhook_url = excluded.webhook_url, "
        "updated_at = excluded.updated_at");
    if (!st)
        return -1;
    db_bind_text(st, 1, iid);
    for (int k = 0; k < AL_KINDS; k++)
        if (isnan(values[k]))
            sqlite3_bind_null(st, 2 + k);
        else
            sqlite3_bind_double(st, 2 + k, values[k]);
    db_bind_text(st, 6, url);
    sqlite3_bind_int64(st, 7, ids_now_ms());
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

void api_instance_alerts_put(http_req *r)
{
    static const char *const allowed[] = {
        "memory_share_max", "hit_ratio_min", "replication_lag_max_bytes",
        "nodes_down_max",   "webhook_url",   NULL};
    if (!visible_instance(r))
        return;
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    double values[AL_KINDS];
    const char *url;
    if (api_check_members(r, body, allowed) < 0 || alerts_parse(r, body, values, &url) < 0) {
        json_decref(body);
        return;
    }
    int rc = alerts_save(r->params[0], values, url);
    json_decref(body);
    json_t *v = rc == 0 ? alerts_json(r->params[0]) : NULL;
    if (v)
        http_reply_json(r, 200, v);
    else
        http_reply_internal(r, "cannot save alerts");
}
