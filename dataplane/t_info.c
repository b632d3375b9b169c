/* INFO [section ...]: Redis 7's sections, fields and text format, from the counters of every
 * worker and shard. INFO holds every shard while it runs (CMD_ALL_SHARDS), so it may read the
 * shards' tables; the per-thread counters are atomics, read as they are. Other subsystems may
 * replace a section or add one with info_set_section (stats.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "acl.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "pubsub.h"
#include "replication.h"
#include "reply.h"
#include "script.h"
#include "journal.h"
#include "loading.h"
#include "server.h"
#include "snapshot.h"
#include "stats.h"
#include "t_server.h"
#include "tracking.h"
#include "worker.h"
#include "zmalloc.h"

#define INFO_SECTIONS_MAX 32
#define INFO_SECTION_NAME_MAX 64
#define HUMAN_MAX 32
#define SECONDS_PER_DAY 86400

extern long client_count(void);

static const char *const policy_names[] = {
    [MAXMEMORY_NOEVICTION] = "noeviction",           [MAXMEMORY_ALLKEYS_LRU] = "allkeys-lru",
    [MAXMEMORY_ALLKEYS_LFU] = "allkeys-lfu",         [MAXMEMORY_ALLKEYS_RANDOM] = "allkeys-random",
    [MAXMEMORY_VOLATILE_LRU] = "volatile-lru",       [MAXMEMORY_VOLATILE_LFU] = "volatile-lfu",
    [MAXMEMORY_VOLATILE_RANDOM] = "volatile-random", [MAXMEMORY_VOLATILE_TTL] = "volatile-ttl",
};

static uint64_t shards_sum(size_t offset)
{
    uint64_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        n += counter_get((_Atomic uint64_t *)((char *)&shards[i]->stats + offset));
    return n;
}
#define SHARDS_SUM(field) shards_sum(offsetof(shard_stats, field))

/* ---- sections -------------------------------------------------------------------------------- */

static void section_server(buf *out)
{
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof(u));
    int64_t now_us = clock_wall_us();
    uint64_t uptime = (clock_mono_ms() - server.start_mono_ms) / 1000;
    buf_printf(out,
               "redis_version:%s\r\n"
               "dfly_version:%s\r\n"
               "redis_git_sha1:00000000\r\n"
               "redis_git_dirty:0\r\n"
               "redis_build_id:0\r\n"
               "redis_mode:%s\r\n"
               "os:%s %s %s\r\n"
               "arch_bits:%d\r\n"
               "monotonic_clock:POSIX clock_gettime\r\n"
               "multiplexing_api:epoll\r\n"
               "atomicvar_api:c11-builtin\r\n"
               "gcc_version:%d.%d.%d\r\n"
               "process_id:%d\r\n"
               "process_supervised:no\r\n"
               "run_id:%s\r\n"
               "tcp_port:%lld\r\n"
               "server_time_usec:%lld\r\n"
               "uptime_in_seconds:%llu\r\n"
               "uptime_in_days:%llu\r\n"
               "hz:%lld\r\n"
               "configured_hz:%lld\r\n"
               "lru_clock:%u\r\n"
               "executable:%s\r\n"
               "config_file:%s\r\n"
               "io_threads_active:0\r\n"
               "thread_count:%d\r\n",
               DFLY_REDIS_VERSION, DFLY_VERSION, cluster_enabled() ? "cluster" : "standalone",
               u.sysname, u.release, u.machine, (int)(sizeof(void *) * 8), __GNUC__, __GNUC_MINOR__,
               __GNUC_PATCHLEVEL__, (int)getpid(), server.run_id, server.cfg.port,
               (long long)now_us, (unsigned long long)uptime,
               (unsigned long long)(uptime / SECONDS_PER_DAY), server.cfg.hz, server.cfg.hz,
               lru_clock(), server.executable, server.config_file ? server.config_file : "",
               nworkers);
}

static void section_clients(buf *out)
{
    buf_printf(out,
               "connected_clients:%ld\r\n"
               "cluster_connections:0\r\n"
               "maxclients:%lld\r\n"
               "client_recent_max_input_buffer:0\r\n"
               "client_recent_max_output_buffer:0\r\n"
               "blocked_clients:%llu\r\n"
               "tracking_clients:%ld\r\n"
               "clients_in_timeout_table:0\r\n",
               client_count(), server.cfg.maxclients, (unsigned long long)WORKERS_SUM(blocked),
               tracking_clients_count());
}

/* Bytes of every db's hash tables (bucket arrays), the part of used_memory that is not data. */
static size_t tables_overhead(void)
{
    size_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        for (int d = 0; d < shards[i]->ndbs; d++)
            n += table_buckets(&shards[i]->dbs[d].keys) * sizeof(entry *);
    return n;
}

static void section_memory(buf *out)
{
    int64_t used = zmalloc_used(), peak = stats_used_memory_peak();
    int64_t startup = stats_startup_memory();
    size_t rss = zmalloc_rss();
    int64_t overhead = startup + (int64_t)tables_overhead();
    int64_t dataset = used > overhead ? used - overhead : 0;
    int64_t net = used > startup ? used - startup : 0;
    struct sysinfo si;
    unsigned long long total_mem =
        sysinfo(&si) == 0 ? (unsigned long long)si.totalram * si.mem_unit : 0;
    char h_used[HUMAN_MAX], h_rss[HUMAN_MAX], h_peak[HUMAN_MAX], h_total[HUMAN_MAX],
        h_max[HUMAN_MAX];
    bytes_to_human(h_used, sizeof(h_used), (unsigned long long)used);
    bytes_to_human(h_rss, sizeof(h_rss), rss);
    bytes_to_human(h_peak, sizeof(h_peak), (unsigned long long)peak);
    bytes_to_human(h_total, sizeof(h_total), total_mem);
    bytes_to_human(h_max, sizeof(h_max), (unsigned long long)server.cfg.maxmemory);
    buf_printf(out,
               "used_memory:%lld\r\n"
               "used_memory_human:%s\r\n"
               "used_memory_rss:%zu\r\n"
               "used_memory_rss_human:%s\r\n"
               "used_memory_peak:%lld\r\n"
               "used_memory_peak_human:%s\r\n"
               "used_memory_peak_perc:%.2f%%\r\n"
               "used_memory_overhead:%lld\r\n"
               "used_memory_startup:%lld\r\n"
               "used_memory_dataset:%lld\r\n"
               "used_memory_dataset_perc:%.2f%%\r\n"
               "total_system_memory:%llu\r\n"
               "total_system_memory_human:%s\r\n"
               "used_memory_scripts:0\r\n"
               "used_memory_lua:%zu\r\n"
               "used_memory_vm_functions:%zu\r\n"
               "maxmemory:%lld\r\n"
               "maxmemory_human:%s\r\n"
               "maxmemory_policy:%s\r\n"
               "mem_fragmentation_ratio:%.2f\r\n"
               "mem_fragmentation_bytes:%lld\r\n"
               "mem_not_counted_for_evict:0\r\n"
               "mem_clients_slaves:0\r\n"
               "mem_clients_normal:0\r\n"
               "mem_allocator:%s\r\n"
               "lazyfree_pending_objects:0\r\n"
               "lazyfreed_objects:0\r\n",
               (long long)used, h_used, rss, h_rss, (long long)peak, h_peak,
               peak ? 100.0 * (double)used / (double)peak : 0.0, (long long)overhead,
               (long long)startup, (long long)dataset,
               net ? 100.0 * (double)dataset / (double)net : 0.0, total_mem, h_total,
               script_eval_memory(), function_vm_memory(), server.cfg.maxmemory, h_max,
               policy_names[server.policy], used ? (double)rss / (double)used : 0.0,
               (long long)rss - (long long)used, zmalloc_lib());
}

static void section_persistence(buf *out)
{
    loading_info(out);
    snapshot_info(out);
    journal_info(out);
}

static void section_stats(buf *out)
{
    buf_printf(
        out,
        "total_connections_received:%llu\r\n"
        "total_commands_processed:%llu\r\n"
        "instantaneous_ops_per_sec:%llu\r\n"
        "total_net_input_bytes:%llu\r\n"
        "total_net_output_bytes:%llu\r\n"
        "total_net_repl_input_bytes:0\r\n"
        "total_net_repl_output_bytes:0\r\n"
        "instantaneous_input_kbps:%.2f\r\n"
        "instantaneous_output_kbps:%.2f\r\n"
        "instantaneous_input_repl_kbps:0.00\r\n"
        "instantaneous_output_repl_kbps:0.00\r\n"
        "rejected_connections:%llu\r\n"
        "sync_full:%lld\r\n"
        "sync_partial_ok:%lld\r\n"
        "sync_partial_err:%lld\r\n"
        "expired_keys:%llu\r\n"
        "expired_stale_perc:0.00\r\n"
        "expired_time_cap_reached_count:0\r\n"
        "evicted_keys:%llu\r\n"
        "evicted_clients:0\r\n"
        "keyspace_hits:%llu\r\n"
        "keyspace_misses:%llu\r\n"
        "pubsub_channels:%ld\r\n"
        "pubsub_patterns:%ld\r\n"
        "pubsubshard_channels:%ld\r\n"
        "latest_fork_usec:0\r\n"
        "total_forks:0\r\n"
        "migrate_cached_sockets:0\r\n"
        "tracking_total_keys:%llu\r\n"
        "tracking_total_items:%llu\r\n"
        "tracking_total_prefixes:%llu\r\n"
        "unexpected_error_replies:0\r\n"
        "total_error_replies:%llu\r\n"
        "dump_payload_sanitizations:0\r\n"
        "multi_shard_transactions:%llu\r\n"
        "transaction_retries:%llu\r\n"
        "shard_hops:%llu\r\n",
        (unsigned long long)WORKERS_SUM(connections), (unsigned long long)WORKERS_SUM(commands),
        (unsigned long long)stats_instantaneous_ops(), (unsigned long long)WORKERS_SUM(net_in),
        (unsigned long long)WORKERS_SUM(net_out), stats_instantaneous_kbps(1),
        stats_instantaneous_kbps(0), (unsigned long long)WORKERS_SUM(rejected),
        replication_sync_count(REPL_SYNC_FULL), replication_sync_count(REPL_SYNC_PARTIAL_OK),
        replication_sync_count(REPL_SYNC_PARTIAL_ERR), (unsigned long long)SHARDS_SUM(expired_keys),
        (unsigned long long)SHARDS_SUM(evicted_keys), (unsigned long long)SHARDS_SUM(keyspace_hits),
        (unsigned long long)SHARDS_SUM(keyspace_misses), pubsub_topics(PUBSUB_CHANNEL),
        pubsub_topics(PUBSUB_PATTERN), pubsub_topics(PUBSUB_SHARD),
        (unsigned long long)tracking_total_keys(), (unsigned long long)tracking_total_items(),
        (unsigned long long)tracking_total_prefixes(), (unsigned long long)stats_total_errors(),
        (unsigned long long)WORKERS_SUM(tx_scheduled), (unsigned long long)WORKERS_SUM(tx_retries),
        (unsigned long long)WORKERS_SUM(hops));
    acl_info_stats(out); /* acl_access_denied_* */
}

static void section_replication(buf *out)
{
    replication_info(out); /* replication.c */
}

static double timeval_secs(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void section_cpu(buf *out)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    buf_printf(out,
               "used_cpu_sys:%.6f\r\n"
               "used_cpu_user:%.6f\r\n"
               "used_cpu_sys_children:%.6f\r\n"
               "used_cpu_user_children:%.6f\r\n",
               timeval_secs(self.ru_stime), timeval_secs(self.ru_utime),
               timeval_secs(children.ru_stime), timeval_secs(children.ru_utime));
}

static void section_modules(buf *out)
{
    (void)out;
}

static void section_commandstats(buf *out)
{
    for (int id = 0; id < command_count(); id++) {
        uint64_t calls = 0, usec = 0, rejected = 0, failed = 0;
        for (int w = 0; w < nworkers; w++) {
            cmd_stats *st = &workers[w]->cmdstats[id];
            calls += counter_get(&st->calls);
            usec += counter_get(&st->usec);
            rejected += counter_get(&st->rejected);
            failed += counter_get(&st->failed);
        }
        if (!calls && !rejected && !failed)
            continue;
        char name[INFO_SECTION_NAME_MAX * 2];
        stats_command_name(id, name, sizeof(name));
        buf_printf(out,
                   "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                   "failed_calls=%llu\r\n",
                   name, (unsigned long long)calls, (unsigned long long)usec,
                   calls ? (double)usec / (double)calls : 0.0, (unsigned long long)rejected,
                   (unsigned long long)failed);
    }
}

static void section_errorstats(buf *out)
{
    stats_format_errors(out);
}

static void section_cluster(buf *out)
{
    cluster_info_section(out); /* cluster.c: Redis's cluster_enabled, then dfly's details */
}

static void section_keyspace(buf *out)
{
    for (int d = 0; d < server.cfg.databases; d++) {
        size_t keys = 0, expires = 0;
        for (int i = 0; i < server.nshards; i++) {
            keys += db_size(shards[i], d);
            expires += shards[i]->dbs[d].expires;
        }
        if (keys)
            buf_printf(out, "db%d:keys=%zu,expires=%zu,avg_ttl=0\r\n", d, keys, expires);
    }
}

/* ---- the registry ---------------------------------------------------------------------------- */

typedef struct info_section {
    char name[INFO_SECTION_NAME_MAX];
    char title[INFO_SECTION_NAME_MAX];
    info_section_fn fn;
    int in_default; /* shown by INFO without arguments */
} info_section;

/* Redis's order. */
static info_section sections[INFO_SECTIONS_MAX] = {
    {"server", "Server", section_server, 1},
    {"clients", "Clients", section_clients, 1},
    {"memory", "Memory", section_memory, 1},
    {"persistence", "Persistence", section_persistence, 1},
    {"stats", "Stats", section_stats, 1},
    {"replication", "Replication", section_replication, 1},
    {"cpu", "CPU", section_cpu, 1},
    {"modules", "Modules", section_modules, 1},
    {"commandstats", "Commandstats", section_commandstats, 0},
    {"errorstats", "Errorstats", section_errorstats, 1},
    {"cluster", "Cluster", section_cluster, 1},
    {"keyspace", "Keyspace", section_keyspace, 1},
};
static int nsections = 12;

void info_set_section(const char *name, const char *title, info_section_fn fn)
{
    int i;
    for (i = 0; i < nsections; i++)
        if (!strcasecmp(sections[i].name, name))
            break;
    if (i == nsections) {
        if (nsections == INFO_SECTIONS_MAX)
            return;
        /* A new section goes before Keyspace, which Redis always shows last. */
        i = nsections - 1;
        memmove(&sections[i + 1], &sections[i], sizeof(sections[0]));
        nsections++;
        sections[i].in_default = 1;
    }
    snprintf(sections[i].name, sizeof(sections[i].name), "%s", name);
    snprintf(sections[i].title, sizeof(sections[i].title), "%s", title);
    sections[i].fn = fn;
}

static int section_arg_is(const slice *a, const char *name)
{
    return arg_eq(a, name);
}

void info_render(buf *out, int argc, const slice *argv)
{
    unsigned char pick[INFO_SECTIONS_MAX] = {0};
    for (int s = 0; s < nsections; s++)
        pick[s] = argc == 0 && sections[s].in_default;
    for (int i = 0; i < argc; i++) {
        int all = section_arg_is(&argv[i], "all") || section_arg_is(&argv[i], "everything");
        int dflt = section_arg_is(&argv[i], "default");
        for (int s = 0; s < nsections; s++)
            if (all || (dflt && sections[s].in_default) ||
                section_arg_is(&argv[i], sections[s].name))
                pick[s] = 1;
    }
    int shown = 0;
    for (int s = 0; s < nsections; s++) {
        if (!pick[s])
            continue;
        if (shown++)
            buf_append_str(out, "\r\n");
        buf_printf(out, "# %s\r\n", sections[s].title);
        sections[s].fn(out);
    }
}

static void info_cmd(cmd_ctx *c)
{
    buf out;
    buf_init(&out);
    info_render(&out, c->argc - 1, c->argv + 1);
    reply_verbatim(c, out.data ? out.data : "", out.len, "txt");
    buf_free(&out);
}

command info_commands[] = {
    {.name = "info",
     .proc = info_cmd,
     .arity = -1,
     .flags = CMD_LOADING | CMD_STALE | CMD_ALL_SHARDS,
     .acl = ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "1.0.0",
     .summary = "Get information and statistics about the server"},
    {0},
};
