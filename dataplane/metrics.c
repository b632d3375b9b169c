/* The Prometheus text exposition (format 0.0.4) of GET /metrics, with Dragonfly's metric names.
 * Runs while holding every shard (http.c), so it may read the shards' tables; the per-thread
 * counters are atomics. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "migration.h"
#include "db.h"
#include "http.h"
#include "replication.h"
#include "server.h"
#include "stats.h"
#include "worker.h"
#include "zmalloc.h"

#define METRIC_LABEL_MAX 128
#define USEC_PER_SEC 1e6

extern long client_count(void);

static void metric(buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample without labels. */
static void sample_u64(buf *out, const char *name, const char *type, const char *help, uint64_t v)
{
    metric(out, name, type, help);
    buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value with Prometheus's escapes (backslash, double quote, newline). */
static void label_value(buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_append_char(out, '\\');
        if (*s == '\n') {
            buf_append_str(out, "\\n");
            continue;
        }
        buf_append_char(out, *s);
    }
}

static uint64_t shards_sum(size_t offset)
{
    uint64_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        n += counter_get((_Atomic uint64_t *)((char *)&shards[i]->stats + offset));
    return n;
}
#define SHARDS_SUM(field) shards_sum(offsetof(shard_stats, field))

static void render_server(buf *out)
{
    sample_u64(out, "dragonfly_uptime_in_seconds", "counter", "Server uptime in seconds.",
               (clock_mono_ms() - server.start_mono_ms) / 1000);
    metric(out, "dragonfly_version", "gauge", "The server's version, as labels.");
    buf_printf(out, "dragonfly_version{version=\"%s\",redis_version=\"%s\"} 1\n", DFLY_VERSION,
               DFLY_REDIS_VERSION);
    sample_u64(out, "dragonfly_threads", "gauge", "Worker threads, one shard each.",
               (uint64_t)nworkers);
    sample_u64(out, "dragonfly_connected_clients", "gauge", "Clients connected.",
               (uint64_t)client_count());
    sample_u64(out, "dragonfly_blocked_clients", "gauge", "Clients in a blocking command.",
               WORKERS_SUM(blocked));
    sample_u64(out, "dragonfly_connections_received_total", "counter", "Connections accepted.",
               WORKERS_SUM(connections));
    sample_u64(out, "dragonfly_rejected_connections_total", "counter",
               "Connections refused because of maxclients.", WORKERS_SUM(rejected));
}

static void render_memory(buf *out)
{
    sample_u64(out, "dragonfly_memory_used_bytes", "gauge", "Bytes allocated for data.",
               (uint64_t)zmalloc_used());
    sample_u64(out, "dragonfly_memory_used_peak_bytes", "gauge",
               "The most bytes allocated for data so far.", (uint64_t)stats_used_memory_peak());
    sample_u64(out, "dragonfly_memory_max_bytes", "gauge", "The maxmemory limit, 0 if none.",
               (uint64_t)server.cfg.maxmemory);
    sample_u64(out, "dragonfly_used_memory_rss_bytes", "gauge", "Resident set size.",
               zmalloc_rss());
}

static void render_keyspace(buf *out)
{
    sample_u64(out, "dragonfly_expired_keys_total", "counter", "Keys deleted because they expired.",
               SHARDS_SUM(expired_keys));
    sample_u64(out, "dragonfly_evicted_keys_total", "counter", "Keys evicted under maxmemory.",
               SHARDS_SUM(evicted_keys));
    sample_u64(out, "dragonfly_keyspace_hits_total", "counter", "Lookups that found the key.",
               SHARDS_SUM(keyspace_hits));
    sample_u64(out, "dragonfly_keyspace_misses_total", "counter", "Lookups that missed.",
               SHARDS_SUM(keyspace_misses));
    metric(out, "dragonfly_db_keys", "gauge", "Keys per database.");
    for (int d = 0; d < server.cfg.databases; d++) {
        size_t n = 0;
        for (int i = 0; i < server.nshards; i++)
            n += db_size(shards[i], d);
        if (n)
            buf_printf(out, "dragonfly_db_keys{db=\"db%d\"} %zu\n", d, n);
    }
    metric(out, "dragonfly_db_keys_expiring", "gauge", "Keys with a time to live per database.");
    for (int d = 0; d < server.cfg.databases; d++) {
        size_t n = 0, exp = 0;
        for (int i = 0; i < server.nshards; i++) {
            n += db_size(shards[i], d);
            exp += shards[i]->dbs[d].expires;
        }
        if (n)
            buf_printf(out, "dragonfly_db_keys_expiring{db=\"db%d\"} %zu\n", d, exp);
    }
}

static void render_traffic(buf *out)
{
    sample_u64(out, "dragonfly_net_input_bytes_total", "counter", "Bytes received from clients.",
               WORKERS_SUM(net_in));
    sample_u64(out, "dragonfly_net_output_bytes_total", "counter", "Bytes sent to clients.",
               WORKERS_SUM(net_out));
    sample_u64(out, "dragonfly_commands_processed_total", "counter", "Commands run.",
               WORKERS_SUM(commands));
    sample_u64(out, "dragonfly_error_replies_total", "counter", "Error replies sent.",
               stats_total_errors());
}

/* Calls and time per command ("config|get" for a subcommand); commands never called are left
 * out, as INFO commandstats leaves them out. */
static void render_commands(buf *out)
{
    buf durations;
    buf_init(&durations);
    metric(out, "dragonfly_commands_total", "counter", "Calls per command.");
    metric(&durations, "dragonfly_commands_duration_seconds_total", "counter",
           "Time spent running each command.");
    for (int id = 0; id < command_count(); id++) {
        uint64_t calls = 0, usec = 0;
        for (int w = 0; w < nworkers; w++) {
            calls += counter_get(&workers[w]->cmdstats[id].calls);
            usec += counter_get(&workers[w]->cmdstats[id].usec);
        }
        if (!calls)
            continue;
        char name[METRIC_LABEL_MAX];
        stats_command_name(id, name, sizeof(name));
        buf_append_str(out, "dragonfly_commands_total{cmd=\"");
        label_value(out, name);
        buf_printf(out, "\"} %llu\n", (unsigned long long)calls);
        buf_append_str(&durations, "dragonfly_commands_duration_seconds_total{cmd=\"");
        label_value(&durations, name);
        buf_printf(&durations, "\"} %.6f\n", (double)usec / USEC_PER_SEC);
    }
    buf_append(out, durations.data, durations.len);
    buf_free(&durations);
}

/* Cluster mode only: whether a configuration is in force, and what this node does in it. */
static void render_cluster(buf *out)
{
    if (!cluster_enabled())
        return;
    cluster_status st;
    cluster_get_status(&st);
    sample_u64(out, "dragonfly_cluster_state", "gauge",
               "1 when a cluster configuration is in force (always in emulated mode), else 0.",
               (uint64_t)st.configured);
    sample_u64(out, "dragonfly_cluster_slots_served", "gauge",
               "Hash slots this node serves as master.", (uint64_t)st.slots_served);
    sample_u64(out, "dragonfly_cluster_known_nodes", "gauge",
               "Masters and replicas in the cluster configuration.", (uint64_t)st.known_nodes);
    sample_u64(out, "dragonfly_cluster_config_epoch", "counter",
               "Cluster configurations put in force since start.", st.epoch);
    metric(out, "dragonfly_cluster_migrations", "gauge",
           "Slot migrations of the configuration that involve this node, by direction.");
    buf_printf(out, "dragonfly_cluster_migrations{direction=\"out\"} %d\n", st.migrations_out);
    buf_printf(out, "dragonfly_cluster_migrations{direction=\"in\"} %d\n", st.migrations_in);
    sample_u64(out, "dragonfly_cluster_keys_dropped_total", "counter",
               "Keys deleted because their slots left this node.", st.keys_dropped);
    if (st.mode == CLUSTER_YES)
        migration_metrics(out); /* slot migrations' progress (migration.h) */
}

void metrics_render(buf *out)
{
    render_server(out);
    render_memory(out);
    render_keyspace(out);
    render_traffic(out);
    render_commands(out);
    render_cluster(out);
    replication_metrics(out);
}
