/* The daemon's own endpoints: /healthz (the process answers), /readyz (the database is open
 * and the reconciler finished its first pass, so nodes were adopted), /metrics (Prometheus
 * text: the daemon's counters and gauges of what it manages) and /v1/openapi.json. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "db.h"
#include "metrics.h"
#include "metrics/scraper.h"
#include "reconciler/reconciler.h"

#define PROC_STAT_MAX 1024

/* The JSON of api/openapi.yaml, made at build time (scripts/openapi_embed.py). */
extern const char openapi_json[];
extern const size_t openapi_json_len;

void api_healthz(http_req *r)
{
    http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void api_readyz(http_req *r)
{
    int db_ok = db_schema_version() > 0;
    int rec_ok = reconciler_ready();
    int ok = db_ok && rec_ok;
    http_reply_json(r, ok ? 200 : 503,
                    json_pack("{s:s, s:{s:b, s:b}}", "status", ok ? "ready" : "not ready", "checks",
                              "database", db_ok, "reconciler", rec_ok));
}

/* Gauges read from SQLite: instances and nodes by status. */
static void render_state(buf *out)
{
    static const char *const q[][3] = {
        {"dfly_control_instances", "Instances by status.",
         "SELECT status, count(*) FROM instances WHERE status != 'gone' GROUP BY status"},
        {"dfly_control_nodes", "Nodes by status.",
         "SELECT status, count(*) FROM nodes GROUP BY status"},
        {"dfly_control_operations", "Unfinished operations by status.",
         "SELECT status, count(*) FROM operations WHERE status IN ('pending','running') "
         "GROUP BY status"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", q[i][0], q[i][1], q[i][0]);
        sqlite3_stmt *st = db_prepare(q[i][2]);
        while (st && sqlite3_step(st) == SQLITE_ROW)
            buf_printf(out, "%s{status=\"%s\"} %lld\n", q[i][0], db_text(st, 0),
                       (long long)sqlite3_column_int64(st, 1));
        db_done(st);
    }
    buf_printf(out,
               "# HELP dfly_control_ready 1 once the reconciler finished its first pass.\n"
               "# TYPE dfly_control_ready gauge\ndfly_control_ready %d\n",
               reconciler_ready());
}

/* The daemon's CPU time and resident memory, from /proc/self/stat (Prometheus's process_*
 * names, which dashboards expect). */
static void render_process(buf *out)
{
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return;
    char line[PROC_STAT_MAX];
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    char *p = ok ? strrchr(line, ')') : NULL;
    unsigned long utime = 0, stime = 0;
    long rss = 0;
    /* after ")": state is field 3; utime 14, stime 15, rss 24 */
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                     "%*d %*d %*u %*u %ld",
                     &utime, &stime, &rss) != 3)
        return;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    buf_printf(out,
               "# HELP process_cpu_seconds_total CPU time of dfly-control.\n"
               "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
               "# HELP process_resident_memory_bytes Resident memory of dfly-control.\n"
               "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
               (double)(utime + stime) / ticks, rss * sysconf(_SC_PAGESIZE));
}

void api_metrics(http_req *r)
{
    buf out;
    buf_init(&out);
    metrics_render(&out);
    render_state(&out);
    render_process(&out);
    scraper_render(&out); /* per instance and node (issue 14) */
    http_reply_raw(r, 200, "text/plain; version=0.0.4", out.data, out.len);
    buf_free(&out);
}

void api_openapi(http_req *r)
{
    http_reply_raw(r, 200, "application/json", openapi_json, openapi_json_len);
}
