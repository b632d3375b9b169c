/* Rollups and retention of the scraped points. Every pass rewrites the rollups of the current
 * and the previous bucket (a bucket fills over several passes and the last points of the
 * previous one may have come after its last rollup), so the rewrite is idempotent and a missed
 * pass loses nothing. Hours are rolled up from minutes, which are cheaper to read than raw. */
#include <stdint.h>

#include "db.h"
#include "scraper.h"

static int64_t bucket(int64_t t, int64_t period)
{
    return t / period * period;
}

static void rollup_minutes(int64_t now)
{
    sqlite3_stmt *st = db_prepare(
        "INSERT OR REPLACE INTO metric_rollups(instance_id, period, name, node_id, ts, sum, "
        "count, min, max) SELECT instance_id, ?1, name, node_id, ts / ?1 * ?1 AS b, "
        "sum(value), count(*), min(value), max(value) FROM metric_points WHERE ts >= ?2 "
        "GROUP BY instance_id, name, node_id, b");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, METRICS_MINUTE_MS);
    sqlite3_bind_int64(st, 2, bucket(now, METRICS_MINUTE_MS) - METRICS_MINUTE_MS);
    db_step_done(st);
    db_done(st);
}

static void rollup_hours(int64_t now)
{
    sqlite3_stmt *st = db_prepare(
        "INSERT OR REPLACE INTO metric_rollups(instance_id, period, name, node_id, ts, sum, "
        "count, min, max) SELECT instance_id, ?1, name, node_id, ts / ?1 * ?1 AS b, sum(sum), "
        "sum(count), min(min), max(max) FROM metric_rollups WHERE period = ?3 AND ts >= ?2 "
        "GROUP BY instance_id, name, node_id, b");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, METRICS_HOUR_MS);
    sqlite3_bind_int64(st, 2, bucket(now, METRICS_HOUR_MS) - METRICS_HOUR_MS);
    sqlite3_bind_int64(st, 3, METRICS_MINUTE_MS);
    db_step_done(st);
    db_done(st);
}

void metrics_rollup(int64_t now)
{
    if (db_begin() != SQLITE_OK)
        return;
    rollup_minutes(now);
    rollup_hours(now);
    if (db_commit() != SQLITE_OK)
        db_rollback();
}

void metrics_retention(int64_t now)
{
    sqlite3_stmt *st = db_prepare("DELETE FROM metric_points WHERE ts < ?");
    if (st) {
        sqlite3_bind_int64(st, 1, now - METRICS_RAW_KEEP_MS);
        db_step_done(st);
        db_done(st);
    }
    st = db_prepare("DELETE FROM metric_rollups WHERE ts < ?");
    if (st) {
        sqlite3_bind_int64(st, 1, now - METRICS_ROLLUP_KEEP_MS);
        db_step_done(st);
        db_done(st);
    }
}
