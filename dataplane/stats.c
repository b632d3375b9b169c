/* Process-wide statistics: error replies by code, the slow log, the latency monitor, sampled
 * rates and the memory peak; see stats.h. The slow log and the latency monitor are written only
 * by slow commands, so a mutex each is cheap enough and keeps readers simple. */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "acl.h"
#include "clock.h"
#include "db.h"
#include "monitor.h"
#include "reply.h"
#include "server.h"
#include "worker.h"
#include "zmalloc.h"

/* ---- error replies ----------------------------------------------------------------------- */

#define ERRORSTATS_MAX 128 /* Redis keeps at most this many distinct codes */
#define ERROR_CODE_MAX 32

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char code[ERROR_CODE_MAX];
    uint64_t count;
} errs[ERRORSTATS_MAX];
static int nerrs;
static uint64_t total_errors;

void stats_count_error(const char *msg)
{
    size_t n = strcspn(msg, " ");
    if (n >= ERROR_CODE_MAX)
        n = ERROR_CODE_MAX - 1;
    pthread_mutex_lock(&err_lock);
    total_errors++;
    int i;
    for (i = 0; i < nerrs; i++)
        if (strlen(errs[i].code) == n && !memcmp(errs[i].code, msg, n))
            break;
    if (i == nerrs && nerrs < ERRORSTATS_MAX) {
        memcpy(errs[i].code, msg, n);
        errs[i].code[n] = '\0';
        errs[i].count = 0;
        nerrs++;
    }
    if (i < nerrs)
        errs[i].count++;
    pthread_mutex_unlock(&err_lock);
}

void stats_format_errors(buf *out)
{
    pthread_mutex_lock(&err_lock);
    for (int i = 0; i < nerrs; i++)
        buf_printf(out, "errorstat_%s:count=%llu\r\n", errs[i].code,
                   (unsigned long long)errs[i].count);
    pthread_mutex_unlock(&err_lock);
}

uint64_t stats_total_errors(void)
{
    pthread_mutex_lock(&err_lock);
    uint64_t n = total_errors;
    pthread_mutex_unlock(&err_lock);
    return n;
}

/* ---- sampled rates and the memory peak ------------------------------------------------------ */

enum { METRIC_OPS, METRIC_NET_IN, METRIC_NET_OUT, METRIC_COUNT };

/* Written by the main thread's stats_cron only; the averages are read by any thread. */
static struct {
    uint64_t last_ms;
    uint64_t last_value;
    uint64_t samples[STATS_METRIC_SAMPLES];
    int idx;
    _Atomic uint64_t average; /* per second */
} metrics[METRIC_COUNT];

static _Atomic int64_t memory_peak;
static _Atomic int64_t memory_startup;

static void peak_update(int64_t used)
{
    int64_t peak = atomic_load_explicit(&memory_peak, memory_order_relaxed);
    while (used > peak &&
           !atomic_compare_exchange_weak_explicit(&memory_peak, &peak, used, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

int64_t stats_startup_memory(void)
{
    return atomic_load_explicit(&memory_startup, memory_order_relaxed);
}

int64_t stats_used_memory_peak(void)
{
    peak_update(zmalloc_used());
    return atomic_load_explicit(&memory_peak, memory_order_relaxed);
}

/* Redis's trackInstantaneousMetric: the rate since the previous sample, averaged over the
 * last STATS_METRIC_SAMPLES samples. */
static void metric_track(int m, uint64_t value, uint64_t now_ms)
{
    uint64_t dt = now_ms - metrics[m].last_ms;
    uint64_t dv = value >= metrics[m].last_value ? value - metrics[m].last_value : 0;
    if (metrics[m].last_ms && dt > 0) {
        metrics[m].samples[metrics[m].idx] = dv * 1000 / dt;
        metrics[m].idx = (metrics[m].idx + 1) % STATS_METRIC_SAMPLES;
        uint64_t sum = 0;
        for (int i = 0; i < STATS_METRIC_SAMPLES; i++)
            sum += metrics[m].samples[i];
        atomic_store_explicit(&metrics[m].average, sum / STATS_METRIC_SAMPLES,
                              memory_order_relaxed);
    }
    metrics[m].last_ms = now_ms;
    metrics[m].last_value = value;
}

void stats_cron(void)
{
    uint64_t now = clock_mono_ms();
    if (!atomic_load_explicit(&memory_startup, memory_order_relaxed))
        atomic_store_explicit(&memory_startup, zmalloc_used(), memory_order_relaxed);
    metric_track(METRIC_OPS, WORKERS_SUM(commands), now);
    metric_track(METRIC_NET_IN, WORKERS_SUM(net_in), now);
    metric_track(METRIC_NET_OUT, WORKERS_SUM(net_out), now);
    peak_update(zmalloc_used());
}

uint64_t stats_instantaneous_ops(void)
{
    return atomic_load_explicit(&metrics[METRIC_OPS].average, memory_order_relaxed);
}

double stats_instantaneous_kbps(int input)
{
    int m = input ? METRIC_NET_IN : METRIC_NET_OUT;
    return (double)atomic_load_explicit(&metrics[m].average, memory_order_relaxed) / 1024.0;
}

/* ---- command names ----------------------------------------------------------------------- */

/* Subcommands do not point at their container; this map, built once, does. */
static const command **container_of;
static pthread_once_t container_once = PTHREAD_ONCE_INIT;

static void map_container(const command *cmd, void *arg)
{
    (void)arg;
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++)
        container_of[sub->id] = cmd;
}

static void container_map_init(void)
{
    container_of = mem_calloc((size_t)command_count() + 1, sizeof(*container_of));
    command_foreach(map_container, NULL);
}

void stats_command_name(int id, char *out, size_t outlen)
{
    pthread_once(&container_once, container_map_init);
    const command *cmd = command_by_id(id);
    command_fullname(cmd, container_of[id], out, outlen);
}

/* ---- the slow log ------------------------------------------------------------------------ */

typedef struct slowlog_entry {
    struct slowlog_entry *next; /* older */
    long long id;
    int64_t time;      /* unix seconds */
    uint64_t duration; /* microseconds */
    int argc;
    slice *argv; /* each p is a malloc'ed copy */
    char *addr;
    char *name;
} slowlog_entry;

static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static slowlog_entry *slow_head; /* newest first */
static long slow_len;
static long long slow_next_id;

static void slowlog_entry_free(slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        free((char *)e->argv[i].p);
    free(e->argv);
    free(e->addr);
    free(e->name);
    free(e);
}

/* Copies the call's arguments the way Redis's slowlogCreateEntry trims them. */
static slowlog_entry *slowlog_entry_new(const cmd_ctx *c, uint64_t dur_us)
{
    slowlog_entry *e = mem_calloc(1, sizeof(*e));
    int argc = c->argc < SLOWLOG_ENTRY_MAX_ARGC ? c->argc : SLOWLOG_ENTRY_MAX_ARGC;
    e->argc = argc;
    e->argv = mem_calloc((size_t)argc, sizeof(slice));
    for (int i = 0; i < argc; i++) {
        const slice *a = &c->argv[i];
        slice *d = &e->argv[i];
        buf b; /* its block becomes the entry's copy */
        buf_init(&b);
        if (argc != c->argc && i == argc - 1) {
            buf_printf(&b, "... (%d more arguments)", c->argc - argc + 1);
            d->p = b.data;
            d->len = b.len;
        } else if (acl_arg_redacted(c->argc, c->argv, i)) { /* no secrets in SLOWLOG */
            d->p = mem_memdupz(ACL_REDACTED, strlen(ACL_REDACTED));
            d->len = strlen(ACL_REDACTED);
        } else if (a->len > SLOWLOG_ENTRY_MAX_STRING) {
            buf_append(&b, a->p, SLOWLOG_ENTRY_MAX_STRING);
            buf_printf(&b, "... (%zu more bytes)", a->len - SLOWLOG_ENTRY_MAX_STRING);
            d->p = b.data;
            d->len = b.len;
        } else {
            d->p = mem_memdupz(a->p, a->len);
            d->len = a->len;
        }
    }
    e->time = c->now_ms / 1000;
    e->duration = dur_us;
    const client *cl = c->cl;
    e->addr = mem_memdupz(cl ? cl->addr : "", cl ? strlen(cl->addr) : 0);
    e->name = mem_memdupz(cl && cl->name ? cl->name : "", cl && cl->name ? strlen(cl->name) : 0);
    return e;
}

/* Drops the oldest entries beyond max. The caller holds slow_lock. */
static void slowlog_trim(long max)
{
    if (slow_len <= max)
        return;
    slowlog_entry **link = &slow_head;
    for (long i = 0; i < max; i++)
        link = &(*link)->next;
    slowlog_entry *e = *link;
    *link = NULL;
    while (e) {
        slowlog_entry *next = e->next;
        slowlog_entry_free(e);
        slow_len--;
        e = next;
    }
}

static void slowlog_maybe_add(cmd_ctx *c, uint64_t dur_us)
{
    long long threshold = server.cfg.slowlog_log_slower_than;
    if (threshold < 0 || dur_us < (uint64_t)threshold || (c->cmd->flags & CMD_SKIP_SLOWLOG))
        return;
    slowlog_entry *e = slowlog_entry_new(c, dur_us);
    pthread_mutex_lock(&slow_lock);
    e->id = slow_next_id++;
    e->next = slow_head;
    slow_head = e;
    slow_len++;
    slowlog_trim((long)server.cfg.slowlog_max_len);
    pthread_mutex_unlock(&slow_lock);
}

long slowlog_len(void)
{
    pthread_mutex_lock(&slow_lock);
    long n = slow_len;
    pthread_mutex_unlock(&slow_lock);
    return n;
}

void slowlog_reset(void)
{
    pthread_mutex_lock(&slow_lock);
    slowlog_trim(0);
    pthread_mutex_unlock(&slow_lock);
}

void slowlog_reply(cmd_ctx *c, long count)
{
    pthread_mutex_lock(&slow_lock);
    long n = count < 0 || count > slow_len ? slow_len : count;
    reply_array(c, n);
    const slowlog_entry *e = slow_head;
    for (long i = 0; i < n; i++, e = e->next) {
        reply_array(c, 6);
        reply_int(c, e->id);
        reply_int(c, e->time);
        reply_int(c, (long long)e->duration);
        reply_array(c, e->argc);
        for (int j = 0; j < e->argc; j++)
            reply_bulk(c, e->argv[j].p, e->argv[j].len);
        reply_bulk_cstr(c, e->addr);
        reply_bulk_cstr(c, e->name);
    }
    pthread_mutex_unlock(&slow_lock);
}

/* ---- the latency monitor ----------------------------------------------------------------- */

#define LATENCY_EVENTS_MAX 32
#define LATENCY_EVENT_NAME_MAX 64

typedef struct latency_event {
    char name[LATENCY_EVENT_NAME_MAX];
    struct {
        int64_t time; /* unix seconds; 0 for an unused slot */
        uint32_t latency;
    } samples[LATENCY_TS_LEN];
    int idx; /* the next slot to write */
    uint32_t max;
} latency_event;

static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;
static latency_event *lat_events[LATENCY_EVENTS_MAX];
static int lat_nevents;

static latency_event *latency_find(const char *name, size_t len)
{
    for (int i = 0; i < lat_nevents; i++)
        if (strlen(lat_events[i]->name) == len && !memcmp(lat_events[i]->name, name, len))
            return lat_events[i];
    return NULL;
}

void latency_add_sample_if_needed(const char *event, uint64_t ms)
{
    long long threshold = server.cfg.latency_monitor_threshold;
    if (threshold <= 0 || ms < (uint64_t)threshold)
        return;
    int64_t now = clock_wall_ms() / 1000;
    pthread_mutex_lock(&lat_lock);
    latency_event *ev = latency_find(event, strlen(event));
    if (!ev && lat_nevents < LATENCY_EVENTS_MAX) {
        ev = mem_calloc(1, sizeof(*ev));
        snprintf(ev->name, sizeof(ev->name), "%s", event);
        lat_events[lat_nevents++] = ev;
    }
    if (ev) {
        uint32_t v = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
        int prev = (ev->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        if (ev->samples[prev].time == now) {
            /* One sample per second, keeping the worst (as Redis does). */
            if (v > ev->samples[prev].latency)
                ev->samples[prev].latency = v;
        } else {
            ev->samples[ev->idx].time = now;
            ev->samples[ev->idx].latency = v;
            ev->idx = (ev->idx + 1) % LATENCY_TS_LEN;
        }
        if (v > ev->max)
            ev->max = v;
    }
    pthread_mutex_unlock(&lat_lock);
}

void latency_reply_latest(cmd_ctx *c)
{
    pthread_mutex_lock(&lat_lock);
    reply_array(c, lat_nevents);
    for (int i = 0; i < lat_nevents; i++) {
        const latency_event *ev = lat_events[i];
        int last = (ev->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        reply_array(c, 4);
        reply_bulk_cstr(c, ev->name);
        reply_int(c, ev->samples[last].time);
        reply_int(c, ev->samples[last].latency);
        reply_int(c, ev->max);
    }
    pthread_mutex_unlock(&lat_lock);
}

void latency_reply_history(cmd_ctx *c, const char *event)
{
    pthread_mutex_lock(&lat_lock);
    const latency_event *ev = latency_find(event, strlen(event));
    if (!ev) {
        reply_array(c, 0);
        pthread_mutex_unlock(&lat_lock);
        return;
    }
    size_t h = reply_deferred(c);
    long n = 0;
    for (int i = 0; i < LATENCY_TS_LEN; i++) {
        int j = (ev->idx + i) % LATENCY_TS_LEN;
        if (!ev->samples[j].time)
            continue;
        reply_array(c, 2);
        reply_int(c, ev->samples[j].time);
        reply_int(c, ev->samples[j].latency);
        n++;
    }
    reply_set_deferred_array(c, h, n);
    pthread_mutex_unlock(&lat_lock);
}

static void latency_remove(int i)
{
    free(lat_events[i]);
    lat_events[i] = lat_events[--lat_nevents];
}

int latency_reset(const slice *names, int n)
{
    int reset = 0;
    pthread_mutex_lock(&lat_lock);
    if (n == 0) {
        reset = lat_nevents;
        while (lat_nevents)
            latency_remove(lat_nevents - 1);
    }
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < lat_nevents; i++) {
            if (strlen(lat_events[i]->name) == names[k].len &&
                !memcmp(lat_events[i]->name, names[k].p, names[k].len)) {
                latency_remove(i);
                reset++;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lat_lock);
    return reset;
}

void latency_doctor(buf *out)
{
    if (server.cfg.latency_monitor_threshold <= 0) {
        buf_append_str(out,
                       "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                       "server. You may use \"CONFIG SET latency-monitor-threshold "
                       "<milliseconds>.\" in order to enable it.\n");
        return;
    }
    pthread_mutex_lock(&lat_lock);
    if (lat_nevents == 0) {
        buf_append_str(out, "Dave, no latency spike was observed during the lifetime of this "
                            "server instance, not in the slightest bit. I honestly think you "
                            "ought to sleep a bit more.\n");
    } else {
        buf_append_str(out, "Dave, I have observed latency spikes in this server instance. You "
                            "don't mind talking about it, do you Dave?\n\n");
        for (int i = 0; i < lat_nevents; i++) {
            const latency_event *ev = lat_events[i];
            long samples = 0;
            uint64_t sum = 0;
            for (int j = 0; j < LATENCY_TS_LEN; j++)
                if (ev->samples[j].time) {
                    samples++;
                    sum += ev->samples[j].latency;
                }
            buf_printf(out, "%d. %s: %ld latency spikes (average %llums, worst %ums).\n", i + 1,
                       ev->name, samples,
                       (unsigned long long)(samples ? sum / (uint64_t)samples : 0), ev->max);
        }
        buf_printf(out, "\nI have a few advices for you:\n\n- Check the slow log (SLOWLOG GET) "
                        "for the commands that took longest.\n- Commands that scan the whole "
                        "keyspace (KEYS, FLUSHALL, DEBUG POPULATE) hold every shard while they "
                        "run.\n");
    }
    pthread_mutex_unlock(&lat_lock);
}

/* ---- reset and the per-command hook ------------------------------------------------------ */

static void counter_zero(_Atomic uint64_t *v)
{
    atomic_store_explicit(v, 0, memory_order_relaxed);
}

/* Each counter has one writer that adds with a relaxed load and store; a reset racing with it
 * may lose that one increment, which is harmless for statistics. */
void stats_reset(void)
{
    pthread_mutex_lock(&err_lock);
    nerrs = 0;
    total_errors = 0;
    pthread_mutex_unlock(&err_lock);
    atomic_store(&memory_peak, zmalloc_used());
    for (int w = 0; w < nworkers; w++) {
        worker_stats *st = &workers[w]->stats;
        counter_zero(&st->commands);
        counter_zero(&st->net_in);
        counter_zero(&st->net_out);
        counter_zero(&st->connections);
        counter_zero(&st->rejected);
        counter_zero(&st->tx_scheduled);
        counter_zero(&st->tx_retries);
        counter_zero(&st->hops);
        for (int id = 0; id < command_count(); id++) {
            cmd_stats *cs = &workers[w]->cmdstats[id];
            counter_zero(&cs->calls);
            counter_zero(&cs->usec);
            counter_zero(&cs->rejected);
            counter_zero(&cs->failed);
        }
    }
    for (int i = 0; i < server.nshards; i++) {
        shard_stats *st = &shards[i]->stats;
        counter_zero(&st->expired_keys);
        counter_zero(&st->evicted_keys);
        counter_zero(&st->keyspace_hits);
        counter_zero(&st->keyspace_misses);
    }
}

void stats_after_command(cmd_ctx *c, uint64_t dur_us)
{
    slowlog_maybe_add(c, dur_us);
    latency_add_sample_if_needed((c->cmd->flags & CMD_FAST) ? "fast-command" : "command",
                                 dur_us / 1000);

    /* ---- MONITOR feed ------------------------------------------------------------------
     * Reserved for the MONITOR feature: it adds its call here, after the slow log. Nothing
     * above depends on it. */
    monitor_feed(c); /* MONITOR: monitor.c (connection commands) */
}
