/* Statistics shared by INFO, SLOWLOG, LATENCY, MONITOR and /metrics.
 *
 * Counters that belong to a thread live with it (worker.h: worker_stats and cmdstats; db.h:
 * shard_stats); this module keeps what is process-wide: error replies by code, the slow log, the
 * latency monitor's events, the memory peak and the instantaneous rates that stats_cron samples.
 * Every function here may be called from any thread. */
#ifndef DFLY_STATS_H
#define DFLY_STATS_H

#include <stdint.h>

#include "buf.h"
#include "command.h"

/* The Redis version dfly answers to (INFO, /metrics): clients pick features by it. */
#define DFLY_REDIS_VERSION "7.0.15"

/* After every command (dispatch_call): slow log, latency monitor, and the MONITOR feed. */
void stats_after_command(cmd_ctx *c, uint64_t dur_us);
/* Appends "errorstat_ERR:count=N" lines for INFO errorstats. */
void stats_format_errors(buf *out);
/* Total error replies. */
uint64_t stats_total_errors(void);
/* CONFIG RESETSTAT: errors, the memory peak and every thread's counters. */
void stats_reset(void);

/* Sampling period of stats_cron, and how many samples the instantaneous rates average
 * (Redis's STATS_METRIC_SAMPLES over its 100 ms cron). */
#define STATS_SAMPLE_MS 100
#define STATS_METRIC_SAMPLES 16
/* Samples the counters for the instantaneous rates and the memory peak. Called every
 * STATS_SAMPLE_MS by the main thread. */
void stats_cron(void);
uint64_t stats_instantaneous_ops(void);     /* commands per second */
double stats_instantaneous_kbps(int input); /* KiB per second read (1) or written (0) */
/* The highest used_memory seen; refreshed from the current value by this call. */
int64_t stats_used_memory_peak(void);
/* used_memory at the first stats_cron sample, right after startup (0 before it). */
int64_t stats_startup_memory(void);

/* The statistics name of command id: "get", or "config|get" for a subcommand. */
void stats_command_name(int id, char *out, size_t outlen);

/* ---- the slow log (SLOWLOG) ---------------------------------------------------------------- */

/* Redis's limits for an entry: at most this many arguments (the last one then says how many
 * were left out), each cut to this many bytes. */
#define SLOWLOG_ENTRY_MAX_ARGC 32
#define SLOWLOG_ENTRY_MAX_STRING 128

long slowlog_len(void);
void slowlog_reset(void);
/* Replies with the newest `count` entries (all when count < 0) in SLOWLOG GET's format. */
void slowlog_reply(cmd_ctx *c, long count);

/* ---- the latency monitor (LATENCY) --------------------------------------------------------- */

/* Samples kept per event (Redis's LATENCY_TS_LEN). */
#define LATENCY_TS_LEN 160

/* Records a latency sample of event (e.g. "command") when latency-monitor-threshold is on and
 * ms reaches it. */
void latency_add_sample_if_needed(const char *event, uint64_t ms);
void latency_reply_latest(cmd_ctx *c);
void latency_reply_history(cmd_ctx *c, const char *event);
/* Resets the named events (every event when n is 0); returns how many were reset. */
int latency_reset(const slice *names, int n);
/* LATENCY DOCTOR's report. */
void latency_doctor(buf *out);

/* ---- INFO sections ------------------------------------------------------------------------- */

/* Renders one INFO section's "field:value\r\n" lines (without the "# Title" line). Runs while
 * the INFO command holds every shard. */
typedef void (*info_section_fn)(buf *out);
/* Replaces the renderer of a built-in section ("replication", "persistence", "cluster"...), or
 * adds a new section shown by INFO, INFO ALL and INFO <name>. Call at startup, before the
 * workers start. title is the "# Title" text, e.g. "Replication". */
void info_set_section(const char *name, const char *title, info_section_fn fn);

#endif
