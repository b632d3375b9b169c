/* The Prometheus exposition of GET /metrics. Runs while holding every shard. */
#include <stdint.h>

#include "clock.h"
#include "db.h"
#include "http.h"
#include "server.h"
#include "stats.h"
#include "worker.h"
#include "zmalloc.h"

extern long client_count(void);

static void metric(buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_render(buf *out)
{
    metric(out, "dragonfly_uptime_in_seconds", "counter", "Server uptime in seconds.");
    buf_printf(out, "dragonfly_uptime_in_seconds %llu\n",
               (unsigned long long)((clock_mono_ms() - server.start_mono_ms) / 1000));
    metric(out, "dragonfly_connected_clients", "gauge", "Clients connected.");
    buf_printf(out, "dragonfly_connected_clients %ld\n", client_count());
    metric(out, "dragonfly_memory_used_bytes", "gauge", "Bytes allocated for data.");
    buf_printf(out, "dragonfly_memory_used_bytes %lld\n", (long long)zmalloc_used());
    metric(out, "dragonfly_memory_max_bytes", "gauge", "The maxmemory limit, 0 if none.");
    buf_printf(out, "dragonfly_memory_max_bytes %lld\n", server.cfg.maxmemory);
    metric(out, "dragonfly_used_memory_rss_bytes", "gauge", "Resident set size.");
    buf_printf(out, "dragonfly_used_memory_rss_bytes %zu\n", zmalloc_rss());

    uint64_t expired = 0, evicted = 0, hits = 0, misses = 0;
    for (int i = 0; i < server.nshards; i++) {
        expired += atomic_load(&shards[i]->stats.expired_keys);
        evicted += atomic_load(&shards[i]->stats.evicted_keys);
        hits += atomic_load(&shards[i]->stats.keyspace_hits);
        misses += atomic_load(&shards[i]->stats.keyspace_misses);
    }
    metric(out, "dragonfly_expired_keys_total", "counter", "Keys deleted because they expired.");
    buf_printf(out, "dragonfly_expired_keys_total %llu\n", (unsigned long long)expired);
    metric(out, "dragonfly_evicted_keys_total", "counter", "Keys evicted under maxmemory.");
    buf_printf(out, "dragonfly_evicted_keys_total %llu\n", (unsigned long long)evicted);
    metric(out, "dragonfly_keyspace_hits_total", "counter", "Lookups that found the key.");
    buf_printf(out, "dragonfly_keyspace_hits_total %llu\n", (unsigned long long)hits);
    metric(out, "dragonfly_keyspace_misses_total", "counter", "Lookups that missed.");
    buf_printf(out, "dragonfly_keyspace_misses_total %llu\n", (unsigned long long)misses);
    metric(out, "dragonfly_net_input_bytes_total", "counter", "Bytes received from clients.");
    buf_printf(out, "dragonfly_net_input_bytes_total %llu\n",
               (unsigned long long)WORKERS_SUM(net_in));
    metric(out, "dragonfly_net_output_bytes_total", "counter", "Bytes sent to clients.");
    buf_printf(out, "dragonfly_net_output_bytes_total %llu\n",
               (unsigned long long)WORKERS_SUM(net_out));
    metric(out, "dragonfly_commands_processed_total", "counter", "Commands run.");
    buf_printf(out, "dragonfly_commands_processed_total %llu\n",
               (unsigned long long)WORKERS_SUM(commands));

    metric(out, "dragonfly_db_keys", "gauge", "Keys per database.");
    for (int d = 0; d < server.cfg.databases; d++) {
        size_t n = 0;
        for (int i = 0; i < server.nshards; i++)
            n += db_size(shards[i], d);
        if (n)
            buf_printf(out, "dragonfly_db_keys{db=\"db%d\"} %zu\n", d, n);
    }
    metric(out, "dragonfly_commands_total", "counter", "Calls per command.");
    for (int id = 0; id < command_count(); id++) {
        uint64_t calls = 0;
        for (int w = 0; w < nworkers; w++)
            calls += counter_get(&workers[w]->cmdstats[id].calls);
        if (calls)
            buf_printf(out, "dragonfly_commands_total{cmd=\"%s\"} %llu\n",
                       command_by_id(id)->name, (unsigned long long)calls);
    }
}
