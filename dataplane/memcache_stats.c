/* memcached's statistics (memcache_int.h): "stats", "stats settings", "stats items",
 * "stats slabs", "stats sizes", "stats reset", in text and as binary STAT responses.
 *
 * The names are memcached 1.6's, so tools that read them (memcstat, monitoring agents) find what
 * they expect. Counters of memcached commands are kept per worker (mc_stats_of); item counts
 * and bytes are the keyspace's (database 0, used_memory). There are no slabs: one class stands
 * for all items. Read on any thread, like INFO. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "db.h"
#include "memcache_int.h"
#include "worker.h"
#include "zmalloc.h"

#define STAT_VALUE_MAX 64
#define MC_SLAB_CLASS 1
#define MC_CHUNK_SIZE 96 /* what memcached's first class holds: a typical small item */
#define MC_GROWTH_FACTOR "1.25"
#define MC_CHUNK_MIN 48
#define MC_HASH_POWER 16

atomic_int mc_verbosity;

typedef void (*stat_fn)(void *arg, const char *name, const char *value);

typedef struct stat_out {
    buf *out;
    const mc_bin_header *h; /* binary: the request's header; text: NULL */
} stat_out;

static void stat_emit(void *arg, const char *name, const char *value)
{
    stat_out *o = arg;
    if (!o->h) {
        buf_printf(o->out, "STAT %s %s\r\n", name, value);
        return;
    }
    size_t kl = strlen(name), vl = strlen(value);
    mc_bin_response(o->out, o->h, MCB_OK, 0, (uint16_t)kl, (uint32_t)(kl + vl), 0);
    buf_append(o->out, name, kl);
    buf_append(o->out, value, vl);
}

static void stat_u64(stat_out *o, const char *name, uint64_t v)
{
    char b[STAT_VALUE_MAX];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    stat_emit(o, name, b);
}

#define SUM(field)                                                                                 \
    ({                                                                                             \
        uint64_t _s = 0;                                                                           \
        for (int _i = 0; _i < DFLY_MAX_THREADS; _i++)                                              \
            _s += counter_get(&mc_stats_of[_i].field);                                             \
        _s;                                                                                        \
    })

static uint64_t items_now(void)
{
    uint64_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        n += db_size(shards[i], 0);
    return n;
}

static uint64_t limit_bytes(void)
{
    if (server.cfg.maxmemory > 0)
        return (uint64_t)server.cfg.maxmemory;
    return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t evictions(void)
{
    uint64_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        n += counter_get(&shards[i]->stats.evicted_keys);
    return n;
}

static void stats_general(stat_out *o)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char b[STAT_VALUE_MAX];
    stat_u64(o, "pid", (uint64_t)getpid());
    stat_u64(o, "uptime", (uint64_t)(clock_wall_ms() - server.start_ms) / 1000);
    stat_u64(o, "time", (uint64_t)clock_wall_ms() / 1000);
    stat_emit(o, "version", MEMCACHE_COMPAT_VERSION);
    stat_u64(o, "pointer_size", sizeof(void *) * 8);
    snprintf(b, sizeof(b), "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    stat_emit(o, "rusage_user", b);
    snprintf(b, sizeof(b), "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    stat_emit(o, "rusage_system", b);
    stat_u64(o, "max_connections", (uint64_t)server.cfg.maxclients);
    stat_u64(o, "curr_connections", SUM(curr_conns));
    stat_u64(o, "total_connections", SUM(total_conns));
    stat_u64(o, "rejected_connections", WORKERS_SUM(rejected));
    stat_u64(o, "connection_structures", SUM(curr_conns));
    static const struct {
        const char *name;
        size_t off;
    } counters[] = {
#define C(f) {#f, offsetof(mc_stats, f)}
        C(cmd_get),         C(cmd_set),         C(cmd_flush),   C(cmd_touch),   C(cmd_meta),
        C(get_hits),        C(get_misses),      C(get_expired), C(get_flushed), C(delete_misses),
        C(delete_hits),     C(incr_misses),     C(incr_hits),   C(decr_misses), C(decr_hits),
        C(cas_misses),      C(cas_hits),        C(cas_badval),  C(touch_hits),  C(touch_misses),
        C(store_too_large), C(store_no_memory), C(auth_cmds),   C(auth_errors),
#undef C
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        uint64_t s = 0;
        for (int w = 0; w < DFLY_MAX_THREADS; w++)
            s += counter_get((_Atomic uint64_t *)((char *)&mc_stats_of[w] + counters[i].off));
        stat_u64(o, counters[i].name, s);
    }
    stat_u64(o, "bytes_read", WORKERS_SUM(net_in));
    stat_u64(o, "bytes_written", WORKERS_SUM(net_out));
    stat_u64(o, "limit_maxbytes", limit_bytes());
    stat_u64(o, "accepting_conns", 1);
    stat_u64(o, "listen_disabled_num", 0);
    stat_u64(o, "time_in_listen_disabled_us", 0);
    stat_u64(o, "threads", (uint64_t)nworkers);
    stat_u64(o, "conn_yields", 0);
    stat_u64(o, "hash_power_level", MC_HASH_POWER);
    stat_u64(o, "hash_bytes", 0);
    stat_u64(o, "hash_is_expanding", 0);
    stat_u64(o, "bytes", (uint64_t)zmalloc_used());
    stat_u64(o, "curr_items", items_now());
    stat_u64(o, "total_items", SUM(total_items));
    stat_u64(o, "expired_unfetched", 0);
    stat_u64(o, "evicted_unfetched", 0);
    stat_u64(o, "evicted_active", 0);
    stat_u64(o, "evictions", evictions());
    stat_u64(o, "reclaimed", 0);
}

static void stats_settings(stat_out *o)
{
    int auth = server.cfg.requirepass && *server.cfg.requirepass;
    stat_u64(o, "maxbytes", limit_bytes());
    stat_u64(o, "maxconns", (uint64_t)server.cfg.maxclients);
    stat_u64(o, "tcpport", (uint64_t)server.cfg.memcached_port);
    stat_u64(o, "udpport", 0);
    stat_emit(o, "inter", server.cfg.bind);
    stat_u64(o, "verbosity", (uint64_t)atomic_load(&mc_verbosity));
    stat_u64(o, "oldest", 0);
    stat_emit(o, "evictions", server.policy == MAXMEMORY_NOEVICTION ? "off" : "on");
    stat_emit(o, "domain_socket", "NULL");
    stat_emit(o, "umask", "700");
    stat_emit(o, "growth_factor", MC_GROWTH_FACTOR);
    stat_u64(o, "chunk_size", MC_CHUNK_MIN);
    stat_u64(o, "num_threads", (uint64_t)nworkers);
    stat_emit(o, "stat_key_prefix", ":");
    stat_emit(o, "detail_enabled", "no");
    stat_emit(o, "cas_enabled", "yes");
    stat_u64(o, "tcp_backlog", (uint64_t)server.cfg.tcp_backlog);
    stat_emit(o, "binding_protocol", "auto-negotiate");
    stat_emit(o, "auth_enabled_sasl", auth ? "yes" : "no");
    stat_emit(o, "auth_enabled_ascii", auth ? "yes" : "no");
    stat_u64(o, "item_size_max", (uint64_t)server.cfg.memcached_max_item_size);
    stat_emit(o, "maxconns_fast", "yes");
    stat_emit(o, "slab_reassign", "no");
    stat_u64(o, "slab_automove", 0);
    stat_emit(o, "lru_crawler", "no");
    stat_emit(o, "flush_enabled", "yes");
    stat_emit(o, "dump_enabled", "no");
    stat_emit(o, "hash_algorithm", "crc16");
    stat_u64(o, "idle_timeout", (uint64_t)server.cfg.timeout);
}

static void stats_items(stat_out *o)
{
    uint64_t n = items_now();
    if (!n)
        return;
    static const char *const zero[] = {
        "number_hot",        "number_warm",           "age_hot",           "age_warm",
        "evicted_nonzero",   "evicted_time",          "outofmemory",       "tailrepairs",
        "reclaimed",         "expired_unfetched",     "evicted_unfetched", "evicted_active",
        "crawler_reclaimed", "crawler_items_checked", "lrutail_reflocked", "moves_to_cold",
        "moves_to_warm",     "moves_within_lru",      "direct_reclaims",   "hits_to_hot",
        "hits_to_warm",      "hits_to_cold",          "hits_to_temp",
    };
    char name[STAT_VALUE_MAX];
#define ITEM_STAT(field, v)                                                                        \
    do {                                                                                           \
        snprintf(name, sizeof(name), "items:%d:%s", MC_SLAB_CLASS, field);                         \
        stat_u64(o, name, v);                                                                      \
    } while (0)
    ITEM_STAT("number", n);
    ITEM_STAT("number_cold", n);
    ITEM_STAT("age", 0);
    ITEM_STAT("mem_requested", (uint64_t)zmalloc_used());
    ITEM_STAT("evicted", evictions());
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
        ITEM_STAT(zero[i], 0);
#undef ITEM_STAT
}

static void stats_slabs(stat_out *o)
{
    uint64_t n = items_now();
    char name[STAT_VALUE_MAX];
    if (n) {
#define SLAB_STAT(field, v)                                                                        \
    do {                                                                                           \
        snprintf(name, sizeof(name), "%d:%s", MC_SLAB_CLASS, field);                               \
        stat_u64(o, name, v);                                                                      \
    } while (0)
        SLAB_STAT("chunk_size", MC_CHUNK_SIZE);
        SLAB_STAT("chunks_per_page", 1);
        SLAB_STAT("total_pages", n);
        SLAB_STAT("total_chunks", n);
        SLAB_STAT("used_chunks", n);
        SLAB_STAT("free_chunks", 0);
        SLAB_STAT("free_chunks_end", 0);
        SLAB_STAT("get_hits", SUM(get_hits));
        SLAB_STAT("cmd_set", SUM(cmd_set));
        SLAB_STAT("delete_hits", SUM(delete_hits));
        SLAB_STAT("incr_hits", SUM(incr_hits));
        SLAB_STAT("decr_hits", SUM(decr_hits));
        SLAB_STAT("cas_hits", SUM(cas_hits));
        SLAB_STAT("cas_badval", SUM(cas_badval));
        SLAB_STAT("touch_hits", SUM(touch_hits));
#undef SLAB_STAT
    }
    stat_u64(o, "active_slabs", n ? 1 : 0);
    stat_u64(o, "total_malloced", (uint64_t)zmalloc_used());
}

static void stats_reset(void)
{
    /* The counters, not the connection gauges that follow them. */
    for (int i = 0; i < DFLY_MAX_THREADS; i++)
        memset(&mc_stats_of[i], 0, offsetof(mc_stats, curr_conns));
}

/* Runs `stats <group>`; 0 done (the caller ends the list), 1 answered already, -1 unknown. */
static int stats_group(stat_out *o, const char *g, size_t n)
{
#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(g, lit, n))
    if (n == 0)
        stats_general(o);
    else if (IS("settings"))
        stats_settings(o);
    else if (IS("items"))
        stats_items(o);
    else if (IS("slabs"))
        stats_slabs(o);
    else if (IS("sizes"))
        stat_emit(o, "sizes_status", "disabled");
    else if (IS("conns"))
        ; /* no per-connection lines */
    else
        return -1;
    return 0;
#undef IS
}

int mc_stats_text(const char *group, size_t glen, buf *out)
{
    stat_out o = {.out = out};
    if (glen == 5 && !memcmp(group, "reset", 5)) {
        stats_reset();
        buf_append_str(out, "RESET\r\n");
        return 0;
    }
    if (stats_group(&o, group, glen) < 0)
        return -1;
    buf_append_str(out, "END\r\n");
    return 0;
}

int mc_stats_binary(const char *group, size_t glen, buf *out, const mc_bin_header *h)
{
    stat_out o = {.out = out, .h = h};
    if (glen == 5 && !memcmp(group, "reset", 5))
        stats_reset();
    else if (stats_group(&o, group, glen) < 0)
        return -1;
    mc_bin_response(out, h, MCB_OK, 0, 0, 0, 0); /* the empty STAT ends the list */
    return 0;
}
