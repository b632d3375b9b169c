/* Server commands: FLUSHALL FLUSHDB TIME LASTSAVE SHUTDOWN SLOWLOG MEMORY LATENCY, and the
 * helpers the other server families share (t_server.h). INFO lives in t_info.c, CONFIG in
 * t_config.c, COMMAND in t_command.c, DEBUG in t_debug.c. */
#include "t_server.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "stats.h"
#include "tracking.h"
#include "worker.h"
#include "zmalloc.h"

#define SUBCOMMAND_NAME_MAX 128
/* MEMORY DOCTOR has nothing to say below this much data (Redis's threshold). */
#define MEMORY_DOCTOR_MIN_BYTES (1024 * 1024 * 5)
/* MEMORY DOCTOR's thresholds for a peak well above the current use, and fragmentation. */
#define MEMORY_DOCTOR_PEAK_RATIO 1.5
#define MEMORY_DOCTOR_FRAG_RATIO 1.4
#define SLOWLOG_DEFAULT_COUNT 10

/* ---- shared helpers ------------------------------------------------------------------------ */

void reply_help(cmd_ctx *c, const char *container, const char *const *lines)
{
    long n = 0;
    while (lines[n])
        n++;
    reply_array(c, n + 3);
    buf title;
    buf_init(&title);
    buf_printf(&title, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", container);
    reply_simple(c, title.data);
    buf_free(&title);
    for (long i = 0; i < n; i++)
        reply_simple(c, lines[i]);
    reply_simple(c, "HELP");
    reply_simple(c, "    Prints this help.");
}

void reply_unknown_subcommand(cmd_ctx *c, const char *container)
{
    const slice *sub = &c->argv[1];
    int len = sub->len > SUBCOMMAND_NAME_MAX ? SUBCOMMAND_NAME_MAX : (int)sub->len;
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.", len, sub->p, container);
}

void bytes_to_human(char *out, size_t outlen, unsigned long long n)
{
    static const char units[] = "KMGTPE";
    if (n < 1024) {
        snprintf(out, outlen, "%lluB", n);
        return;
    }
    double d = (double)n / 1024;
    int u = 0;
    while (d >= 1024 && units[u + 1]) {
        d /= 1024;
        u++;
    }
    snprintf(out, outlen, "%.2f%c", d, units[u]);
}

/* ---- FLUSHALL, FLUSHDB --------------------------------------------------------------------- */

/* FLUSHALL/FLUSHDB [ASYNC|SYNC]: both modes free at once; every shard is held meanwhile. */
static int flush_args_ok(cmd_ctx *c)
{
    if (c->argc > 2 ||
        (c->argc == 2 && !arg_eq(&c->argv[1], "async") && !arg_eq(&c->argv[1], "sync"))) {
        reply_syntax_error(c);
        return 0;
    }
    return 1;
}

static void flush_generic(cmd_ctx *c, int dbid)
{
    if (!flush_args_ok(c))
        return;
    for (int i = 0; i < server.nshards; i++) {
        shard *s = shards[i];
        size_t removed = 0;
        for (int d = 0; d < s->ndbs; d++)
            if (dbid < 0 || d == dbid)
                removed += db_size(s, d);
        db_flush(s, dbid);
        counter_add(&s->stats.dirty, removed + 1);
    }
    tracking_on_flush(); /* cached keys of any db: every tracking client is told */
    reply_ok(c);
}

static void flushall_cmd(cmd_ctx *c)
{
    flush_generic(c, -1);
}

static void flushdb_cmd(cmd_ctx *c)
{
    flush_generic(c, c->dbid);
}

/* ---- TIME, LASTSAVE, SHUTDOWN -------------------------------------------------------------- */

static void time_cmd(cmd_ctx *c)
{
    int64_t us = clock_wall_us();
    reply_array(c, 2);
    reply_bulk_ll(c, us / 1000000);
    reply_bulk_ll(c, us % 1000000);
}

static void lastsave_cmd(cmd_ctx *c)
{
    reply_int(c, atomic_load(&server.lastsave));
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Like Redis, a successful SHUTDOWN sends no
 * reply: the connection closes and the process exits. NOW and FORCE change nothing here (no
 * replicas to wait for, and a failed save does not stop the exit). */
static void shutdown_cmd(cmd_ctx *c)
{
    int flags = 0, abort_asked = 0;
    for (int i = 1; i < c->argc; i++) {
        const slice *a = &c->argv[i];
        if (arg_eq(a, "nosave")) {
            flags |= SHUTDOWN_NOSAVE;
        } else if (arg_eq(a, "save")) {
            flags |= SHUTDOWN_SAVE;
        } else if (arg_eq(a, "now") || arg_eq(a, "force")) {
            /* accepted */
        } else if (arg_eq(a, "abort")) {
            abort_asked = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if ((flags & SHUTDOWN_NOSAVE) && (flags & SHUTDOWN_SAVE)) {
        reply_syntax_error(c);
        return;
    }
    if (abort_asked) {
        if (c->argc != 2)
            reply_syntax_error(c);
        else
            reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    log_warning("User requested shutdown...");
    if (c->cl)
        c->cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
    server_request_shutdown(flags);
}

/* ---- SLOWLOG ------------------------------------------------------------------------------- */

static void slowlog_get_cmd(cmd_ctx *c)
{
    long long count = SLOWLOG_DEFAULT_COUNT;
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (c->argc == 3 && arg_ll_range_or_reply(c, &c->argv[2], -1, LONG_MAX, &count,
                                              "ERR count should be greater than or equal to -1"))
        return;
    slowlog_reply(c, (long)count);
}

static void slowlog_len_cmd(cmd_ctx *c)
{
    reply_int(c, slowlog_len());
}

static void slowlog_reset_cmd(cmd_ctx *c)
{
    slowlog_reset();
    reply_ok(c);
}

static void slowlog_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL,
    };
    reply_help(c, "SLOWLOG", lines);
}

static void slowlog_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "SLOWLOG");
}

/* ---- MEMORY -------------------------------------------------------------------------------- */

/* MEMORY USAGE key [SAMPLES count]: the entry's bytes are known exactly, so SAMPLES is only
 * checked, as Redis checks it. */
static void memory_usage_cmd(cmd_ctx *c)
{
    for (int i = 3; i < c->argc; i++) {
        long long samples;
        if (!arg_eq(&c->argv[i], "samples") || i + 1 >= c->argc) {
            reply_syntax_error(c);
            return;
        }
        if (arg_ll_or_reply(c, &c->argv[++i], &samples, NULL))
            return;
        if (samples < 0) {
            reply_syntax_error(c);
            return;
        }
    }
    entry *e = db_peek(c, c->argv[2].p, c->argv[2].len);
    if (!e) {
        reply_null(c);
        return;
    }
    reply_int(c, (long long)entry_mem_usage(e));
}

/* Bytes of a db's hash table itself (its bucket arrays). */
static size_t table_overhead(shard *s, int dbid)
{
    return table_buckets(&s->dbs[dbid].keys) * sizeof(entry *);
}

/* MEMORY STATS, with Redis's field names; the caller holds every shard. */
static void memory_stats_cmd(cmd_ctx *c)
{
    int64_t used = zmalloc_used(), peak = stats_used_memory_peak();
    int64_t startup = stats_startup_memory();
    size_t rss = zmalloc_rss();
    size_t handle = reply_deferred(c);
    long pairs = 0;
#define FIELD_INT(name, v) (reply_bulk_cstr(c, name), reply_int(c, (long long)(v)), pairs++)
#define FIELD_DOUBLE(name, v) (reply_bulk_cstr(c, name), reply_double(c, (v)), pairs++)
    FIELD_INT("peak.allocated", peak);
    FIELD_INT("total.allocated", used);
    FIELD_INT("startup.allocated", startup);
    FIELD_INT("replication.backlog", 0);
    FIELD_INT("clients.slaves", 0);
    FIELD_INT("clients.normal", 0);
    FIELD_INT("cluster.links", 0);
    FIELD_INT("aof.buffer", 0);
    FIELD_INT("lua.caches", 0);
    FIELD_INT("functions.caches", 0);
    size_t overhead = (size_t)(startup > 0 ? startup : 0), keys = 0;
    for (int d = 0; d < server.cfg.databases; d++) {
        size_t n = 0, main = 0;
        for (int i = 0; i < server.nshards; i++) {
            n += db_size(shards[i], d);
            main += table_overhead(shards[i], d);
        }
        if (!n)
            continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%d", d);
        reply_bulk_cstr(c, name);
        reply_map(c, 2);
        reply_bulk_cstr(c, "overhead.hashtable.main");
        reply_int(c, (long long)main);
        reply_bulk_cstr(c, "overhead.hashtable.expires");
        reply_int(c, 0);
        pairs++;
        overhead += main;
        keys += n;
    }
    int64_t dataset = used > (int64_t)overhead ? used - (int64_t)overhead : 0;
    int64_t net = used > startup ? used - startup : 0;
    FIELD_INT("overhead.total", overhead);
    FIELD_INT("keys.count", keys);
    FIELD_INT("keys.bytes-per-key", keys ? (size_t)net / keys : 0);
    FIELD_INT("dataset.bytes", dataset);
    FIELD_DOUBLE("dataset.percentage", net ? 100.0 * (double)dataset / (double)net : 0);
    FIELD_DOUBLE("peak.percentage", peak ? 100.0 * (double)used / (double)peak : 0);
    FIELD_INT("allocator.allocated", used);
    FIELD_INT("allocator.active", used);
    FIELD_INT("allocator.resident", rss);
    FIELD_DOUBLE("fragmentation", used ? (double)rss / (double)used : 0);
    FIELD_INT("fragmentation.bytes", (long long)rss - used);
#undef FIELD_INT
#undef FIELD_DOUBLE
    reply_set_deferred_map(c, handle, pairs);
}

static void memory_doctor_cmd(cmd_ctx *c)
{
    int64_t used = zmalloc_used(), peak = stats_used_memory_peak();
    double frag = used ? (double)zmalloc_rss() / (double)used : 0;
    buf out;
    buf_init(&out);
    if (used < MEMORY_DOCTOR_MIN_BYTES) {
        buf_append_str(&out, "Hi Sam, this instance is empty or is using very little memory, my "
                             "issues detector can't be used in these conditions. Please, leave "
                             "for your mission on Earth and fill it with some data. The new Sam "
                             "and I will be back to our programming as soon as I finished "
                             "rebooting.\n");
    } else if ((double)peak <= (double)used * MEMORY_DOCTOR_PEAK_RATIO &&
               frag <= MEMORY_DOCTOR_FRAG_RATIO) {
        buf_append_str(&out, "Hi Sam, I can't find any memory issue in your instance. I can "
                             "only account for what occurs on this base.\n");
    } else {
        buf_append_str(&out, "Sam, I detected a few issues in this instance memory "
                             "implementation:\n\n");
        if ((double)peak > (double)used * MEMORY_DOCTOR_PEAK_RATIO)
            buf_append_str(&out, " * Peak memory: In the past this instance used more than 150% "
                                 "the memory that is currently using. The allocator is normally "
                                 "not able to release memory after a peak, so you can expect to "
                                 "see a big fragmentation ratio.\n\n");
        if (frag > MEMORY_DOCTOR_FRAG_RATIO)
            buf_printf(&out,
                       " * High total RSS: This instance has a memory fragmentation and RSS "
                       "overhead greater than %.1f (%.2f).\n\n",
                       MEMORY_DOCTOR_FRAG_RATIO, frag);
        buf_append_str(&out, "I'm here to keep you safe, Sam. I want to help you.\n");
    }
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
}

static void memory_malloc_stats_cmd(cmd_ctx *c)
{
    buf out = {0};
    zmalloc_stats(&out);
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
}

static void memory_purge_cmd(cmd_ctx *c)
{
    zmalloc_purge();
    reply_ok(c);
}

static void memory_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    reply_help(c, "MEMORY", lines);
}

static void memory_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "MEMORY");
}

/* ---- LATENCY ------------------------------------------------------------------------------- */

static void latency_latest_cmd(cmd_ctx *c)
{
    latency_reply_latest(c);
}

static void latency_history_cmd(cmd_ctx *c)
{
    char event[SUBCOMMAND_NAME_MAX];
    size_t len = c->argv[2].len < sizeof(event) ? c->argv[2].len : sizeof(event) - 1;
    memcpy(event, c->argv[2].p, len);
    event[len] = '\0';
    latency_reply_history(c, event);
}

static void latency_reset_cmd(cmd_ctx *c)
{
    reply_int(c, latency_reset(c->argv + 2, c->argc - 2));
}

static void latency_doctor_cmd(cmd_ctx *c)
{
    buf out;
    buf_init(&out);
    latency_doctor(&out);
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
}

static void latency_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        NULL,
    };
    reply_help(c, "LATENCY", lines);
}

static void latency_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "LATENCY");
}

/* ---- the table ----------------------------------------------------------------------------- */

#define SRV .group = "server"
#define ADMIN_FLAGS CMD_ADMIN | CMD_LOADING | CMD_STALE
#define ADMIN_ACL ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS
#define HELP_SUB(fn, ver)                                                                          \
    {                                                                                              \
        .name = "help", .proc = fn, .arity = 2, .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW, \
        SRV, .since = ver, .summary = "Show helpful text about the different subcommands"          \
    }

static command slowlog_subcommands[] = {
    {.name = "get",
     .proc = slowlog_get_cmd,
     .arity = -2,
     .flags = ADMIN_FLAGS,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.2.12",
     .summary = "Get the slow log's entries"},
    {.name = "len",
     .proc = slowlog_len_cmd,
     .arity = 2,
     .flags = ADMIN_FLAGS,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.2.12",
     .summary = "Get the slow log's length"},
    {.name = "reset",
     .proc = slowlog_reset_cmd,
     .arity = 2,
     .flags = ADMIN_FLAGS,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.2.12",
     .summary = "Clear all entries from the slow log"},
    HELP_SUB(slowlog_help_cmd, "6.2.0"),
    {0},
};

static command memory_subcommands[] = {
    {.name = "usage",
     .proc = memory_usage_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     .first_key = 2,
     .last_key = 2,
     .key_step = 1,
     .acl = ACL_READ | ACL_SLOW,
     SRV,
     .since = "4.0.0",
     .summary = "Estimate the memory usage of a key"},
    {.name = "stats",
     .proc = memory_stats_cmd,
     .arity = 2,
     .flags = CMD_ALL_SHARDS,
     .acl = ACL_SLOW,
     SRV,
     .since = "4.0.0",
     .summary = "Show memory usage details"},
    {.name = "doctor",
     .proc = memory_doctor_cmd,
     .arity = 2,
     .acl = ACL_SLOW,
     SRV,
     .since = "4.0.0",
     .summary = "Outputs memory problems report"},
    {.name = "malloc-stats",
     .proc = memory_malloc_stats_cmd,
     .arity = 2,
     .acl = ACL_SLOW,
     SRV,
     .since = "4.0.0",
     .summary = "Show allocator internal stats"},
    {.name = "purge",
     .proc = memory_purge_cmd,
     .arity = 2,
     .acl = ACL_SLOW,
     SRV,
     .since = "4.0.0",
     .summary = "Ask the allocator to release memory"},
    HELP_SUB(memory_help_cmd, "4.0.0"),
    {0},
};

static command latency_subcommands[] = {
    {.name = "latest",
     .proc = latency_latest_cmd,
     .arity = 2,
     .flags = ADMIN_FLAGS | CMD_NOSCRIPT,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.8.13",
     .summary = "Return the latest latency samples for all events"},
    {.name = "history",
     .proc = latency_history_cmd,
     .arity = 3,
     .flags = ADMIN_FLAGS | CMD_NOSCRIPT,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.8.13",
     .summary = "Return timestamp-latency samples for the event"},
    {.name = "reset",
     .proc = latency_reset_cmd,
     .arity = -2,
     .flags = ADMIN_FLAGS | CMD_NOSCRIPT,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.8.13",
     .summary = "Reset latency data for one or more events"},
    {.name = "doctor",
     .proc = latency_doctor_cmd,
     .arity = 2,
     .flags = ADMIN_FLAGS | CMD_NOSCRIPT,
     .acl = ADMIN_ACL,
     SRV,
     .since = "2.8.13",
     .summary = "Return a human readable latency analysis report"},
    HELP_SUB(latency_help_cmd, "2.8.13"),
    {0},
};

command server_commands[] = {
    {.name = "flushall",
     .proc = flushall_cmd,
     .arity = -1,
     .flags = CMD_WRITE | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS,
     SRV,
     .since = "1.0.0",
     .summary = "Remove all keys from all databases"},
    {.name = "flushdb",
     .proc = flushdb_cmd,
     .arity = -1,
     .flags = CMD_WRITE | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS,
     SRV,
     .since = "1.0.0",
     .summary = "Remove all keys from the current database"},
    {.name = "time",
     .proc = time_cmd,
     .arity = 1,
     .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
     .acl = ACL_FAST,
     SRV,
     .since = "2.6.0",
     .summary = "Return the current server time"},
    {.name = "lastsave",
     .proc = lastsave_cmd,
     .arity = 1,
     .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
     .acl = ACL_ADMIN | ACL_FAST | ACL_DANGEROUS,
     SRV,
     .since = "1.0.0",
     .summary = "Get the UNIX time stamp of the last successful save to "
                "disk"},
    {.name = "shutdown",
     .proc = shutdown_cmd,
     .arity = -1,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_ALLOW_BUSY |
              CMD_CLIENT_STATE,
     .acl = ADMIN_ACL,
     SRV,
     .since = "1.0.0",
     .summary = "Synchronously save the dataset to disk and then shut down the server"},
    {.name = "slowlog",
     .proc = slowlog_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     SRV,
     .since = "2.2.12",
     .summary = "A container for slow log commands",
     .subcommands = slowlog_subcommands},
    {.name = "memory",
     .proc = memory_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     SRV,
     .since = "4.0.0",
     .summary = "A container for memory diagnostics commands",
     .subcommands = memory_subcommands},
    {.name = "latency",
     .proc = latency_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     SRV,
     .since = "2.8.13",
     .summary = "A container for latency diagnostics commands",
     .subcommands = latency_subcommands},
    {0},
};
