/* Metrics aggregation (issue 14). A thread of its own reads every node's INFO over its admin
 * port every --scrape-interval, aggregates the answers per instance and stores them in SQLite
 * as raw points (kept a day) and 1 min / 1 h rollups (kept 30 days). It never blocks the
 * reconciler: it only reads the nodes table, and a slow or dead node costs one bounded call
 * (a pass starts only after the previous one ended, so calls never pile up).
 *
 * Series of an instance (node_id ""): see scrape_names. Series of a node: node_up and, on
 * replicas, replication_lag_bytes. */
#ifndef DFLY_CONTROL_SCRAPER_H
#define DFLY_CONTROL_SCRAPER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_RAW_KEEP_MS (24LL * 3600 * 1000)         /* raw points: a day */
#define METRICS_ROLLUP_KEEP_MS (30LL * 24 * 3600 * 1000) /* rollups: 30 days */
#define METRICS_MINUTE_MS 60000LL
#define METRICS_HOUR_MS 3600000LL

/* Instance series, in the order of enum scrape_metric (scraper.c). */
extern const char *const scrape_names[];
extern const int scrape_names_count;
/* Node series. */
#define METRIC_NODE_UP "node_up"
#define METRIC_REPL_LAG "replication_lag_bytes"

/* Starts the scraper thread. Returns 0 or -1 with err. */
int scraper_start(char *err, size_t errlen);
/* Stops it (waits for a pass in progress, which is bounded by the node call timeout). */
void scraper_stop(void);
/* Appends the latest values of every instance and node as Prometheus text (for /metrics). */
void scraper_render(buf *out);

/* rollup.c: rewrites the rollups of the buckets that may have changed since the last pass,
 * and removes points and rollups older than their retention. Scraper thread only. */
void metrics_rollup(int64_t now);
void metrics_retention(int64_t now);

#endif
