/* The scraper's thread: one pass per --scrape-interval over every node of every live instance
 * (INFO over the admin port), aggregation per instance, one SQLite transaction of points, then
 * rollups and retention. The latest values are also kept in memory for /metrics. */
#include "scraper.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "cmdclass.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "node/resp.h"
#include "store.h"

#define INFO_REPLY_MAX (64 * 1024)
#define SCRAPE_TIMEOUT_MIN_MS 100
/* AUTH and INFO of the scraper itself count in total_commands_processed: not the tenant's. */
#define SCRAPE_OWN_COMMANDS 4 /* AUTH + INFO, AUTH + INFO commandstats */
/* ...and its connection counts in connected_clients while INFO runs. */
#define SCRAPE_OWN_CONNECTIONS 1
#define KEYSPACE_DBS 16
#define INFO_VALUE_MAX 256
#define NS_PER_MS 1000000LL
#define MS_PER_S 1000.0

enum scrape_metric {
    M_OPS,
    M_HITS,
    M_MISSES,
    M_HIT_RATIO,
    M_USED_MEMORY,
    M_MEMORY_LIMIT,
    M_MEMORY_SHARE,
    M_KEYS,
    M_EXPIRED,
    M_EVICTED,
    M_CLIENTS,
    M_NET_IN,
    M_NET_OUT,
    M_NODES_UP,
    M_NODES_DOWN,
    M_OPS_READ,
    M_OPS_WRITE,
    M_COUNT
};

const char *const scrape_names[] = {
    "ops_per_sec",
    "hits_per_sec",
    "misses_per_sec",
    "hit_ratio",
    "used_memory_bytes",
    "memory_limit_bytes",
    "memory_share",
    "keys",
    "expired_keys",
    "evicted_keys",
    "connected_clients",
    "net_input_bytes_per_sec",
    "net_output_bytes_per_sec",
    "nodes_up",
    "nodes_down",
    "read_ops_per_sec",
    "write_ops_per_sec",
};
_Static_assert(sizeof(scrape_names) / sizeof(scrape_names[0]) == M_COUNT,
               "one name per enum scrape_metric");
const int scrape_names_count = M_COUNT;

/* Counters of a node at its previous scrape, for rates. */
typedef struct node_prev {
    char id[ID_MAX];
    int64_t ts;
    long long cmds, hits, misses, net_in, net_out;
    long long calls[CMD_CLASSES];
    int has_calls;
    int seen; /* in this pass; the others are forgotten */
} node_prev;

/* One node as this pass found it. */
typedef struct node_obs {
    char id[ID_MAX];
    int shard;
    int up;
    int is_master;
    long long repl_offset; /* master_repl_offset of a master, slave_repl_offset of a replica */
    int has_lag;
    double lag;
} node_obs;

/* One instance as this pass aggregated it. */
typedef struct inst_obs {
    char id[ID_MAX], tenant_id[ID_MAX];
    char name[NAME_MAX_LEN + 1], tenant_name[NAME_MAX_LEN + 1];
    char password[SECRET_MAX];
    long long memory;
    double v[M_COUNT];
    int has[M_COUNT];
    double rate_hits, rate_misses; /* for the hit ratio */
    node_obs *nodes;
    int nnodes;
} inst_obs;

static pthread_t thread;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stopping, running;

static node_prev *prevs; /* scraper thread only */
static int nprevs;

/* The latest pass, for /metrics. */
static pthread_mutex_t latest_lock = PTHREAD_MUTEX_INITIALIZER;
static inst_obs *latest;
static int nlatest;

static void insts_free(inst_obs *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].nodes);
    free(v);
}

static node_prev *prev_find(const char *id)
{
    for (int i = 0; i < nprevs; i++)
        if (!strcmp(prevs[i].id, id))
            return &prevs[i];
    prevs = mem_realloc(prevs, sizeof(node_prev) * (size_t)(nprevs + 1));
    node_prev *p = &prevs[nprevs++];
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", id);
    return p;
}

/* Drops the counters of nodes that this pass did not see (deleted nodes). */
static void prevs_sweep(void)
{
    int k = 0;
    for (int i = 0; i < nprevs; i++)
        if (prevs[i].seen) {
            prevs[i].seen = 0;
            prevs[k++] = prevs[i];
        }
    nprevs = k;
}

static void set(inst_obs *in, int m, double v)
{
    in->v[m] += v;
    in->has[m] = 1;
}

/* The keys of every database in an INFO keyspace section ("db0:keys=3,expires=0,..."). */
static long long info_keys(const char *info)
{
    long long total = 0;
    for (int db = 0; db < KEYSPACE_DBS; db++) {
        char field[16], val[INFO_VALUE_MAX];
        snprintf(field, sizeof(field), "db%d", db);
        if (resp_info_field(info, field, val, sizeof(val)) == 0 && !strncmp(val, "keys=", 5))
            total += strtoll(val + 5, NULL, 10);
    }
    return total;
}

/* Rate of a counter since the previous scrape; -1 when there is none (first scrape, or the
 * node restarted and its counters went back). */
static double rate(long long cur, long long prev, double dt_s)
{
    if (dt_s <= 0 || cur < prev)
        return -1;
    return (double)(cur - prev) / dt_s;
}

/* Rates of calls by class (when the node answered INFO commandstats now and before). */
static void add_class_rates(inst_obs *in, const node_prev *p, const long long *calls, double dt)
{
    double rr = rate(calls[CMD_READ], p->calls[CMD_READ], dt);
    double rw = rate(calls[CMD_WRITE], p->calls[CMD_WRITE], dt);
    if (rr >= 0 && rw >= 0) {
        set(in, M_OPS_READ, rr);
        set(in, M_OPS_WRITE, rw);
    }
}

/* Adds the rates of one answered node to its instance. */
static void add_rates(inst_obs *in, const node_obs *nd, const char *info, const long long *calls,
                      int64_t now)
{
    node_prev *p = prev_find(nd->id);
    int had = p->ts > 0;
    double dt = (double)(now - p->ts) / MS_PER_S;
    long long cmds = resp_info_ll(info, "total_commands_processed", 0);
    long long hits = resp_info_ll(info, "keyspace_hits", 0);
    long long misses = resp_info_ll(info, "keyspace_misses", 0);
    long long nin = resp_info_ll(info, "total_net_input_bytes", 0);
    long long nout = resp_info_ll(info, "total_net_output_bytes", 0);
    if (had && calls && p->has_calls)
        add_class_rates(in, p, calls, dt);
    if (had) {
        double ops = rate(cmds, p->cmds, dt);
        double rh = rate(hits, p->hits, dt), rm = rate(misses, p->misses, dt);
        double ri = rate(nin, p->net_in, dt), ro = rate(nout, p->net_out, dt);
        if (ops >= 0 && rh >= 0 && rm >= 0 && ri >= 0 && ro >= 0) {
            ops -= SCRAPE_OWN_COMMANDS / dt;
            ops = ops > 0 ? ops : 0;
            set(in, M_OPS, ops);
            set(in, M_HITS, rh);
            set(in, M_MISSES, rm);
            set(in, M_NET_IN, ri);
            set(in, M_NET_OUT, ro);
            in->rate_hits += rh;
            in->rate_misses += rm;
        }
    }
    *p = (node_prev){.ts = now,
                     .cmds = cmds,
                     .hits = hits,
                     .misses = misses,
                     .net_in = nin,
                     .net_out = nout,
                     .seen = 1,
                     .has_calls = calls != NULL};
    if (calls)
        memcpy(p->calls, calls, sizeof(p->calls));
    snprintf(p->id, sizeof(p->id), "%s", nd->id);
}

/* INFO of one node into nd and in. */
static void scrape_node(inst_obs *in, node_obs *nd, const char *host, int admin_port, int64_t now,
                        char *info, char *scratch)
{
    int timeout = (int)ctl_cfg.node_call_timeout_ms;
    if (timeout > ctl_cfg.scrape_interval_ms)
        timeout = (int)ctl_cfg.scrape_interval_ms;
    if (timeout < SCRAPE_TIMEOUT_MIN_MS)
        timeout = SCRAPE_TIMEOUT_MIN_MS;
    static const char *const argv[] = {"INFO"};
    int rc = resp_call(host, admin_port, in->password, timeout, info, INFO_REPLY_MAX, 1, argv);
    nd->up = rc == RESP_OK;
    if (!nd->up) {
        log_debug("scraper: node %s of %s does not answer: %s", nd->id, in->id, info);
        return;
    }
    char role[INFO_VALUE_MAX];
    nd->is_master =
        resp_info_field(info, "role", role, sizeof(role)) < 0 || !strcmp(role, "master");
    nd->repl_offset =
        resp_info_ll(info, nd->is_master ? "master_repl_offset" : "slave_repl_offset", 0);
    node_target t = {host, admin_port, in->password, timeout};
    long long calls[CMD_CLASSES];
    int has_calls = cmdclass_counts(&t, scratch, INFO_REPLY_MAX, calls) == 0;
    add_rates(in, nd, info, has_calls ? calls : NULL, now);
    long long clients = resp_info_ll(info, "connected_clients", 0) - SCRAPE_OWN_CONNECTIONS;
    set(in, M_CLIENTS, (double)(clients > 0 ? clients : 0));
    if (!nd->is_master)
        return; /* a replica holds its master's data: counting it would count it twice */
    set(in, M_USED_MEMORY, (double)resp_info_ll(info, "used_memory", 0));
    set(in, M_KEYS, (double)info_keys(info));
    set(in, M_EXPIRED, (double)resp_info_ll(info, "expired_keys", 0));
    set(in, M_EVICTED, (double)resp_info_ll(info, "evicted_keys", 0));
}

/* Lag of each answering replica behind the answering master of its shard, in bytes. */
static void replication_lags(inst_obs *in)
{
    for (int i = 0; i < in->nnodes; i++) {
        node_obs *r = &in->nodes[i];
        if (!r->up || r->is_master)
            continue;
        for (int j = 0; j < in->nnodes; j++) {
            node_obs *m = &in->nodes[j];
            if (m->up && m->is_master && m->shard == r->shard) {
                long long d = m->repl_offset - r->repl_offset;
                r->lag = d > 0 ? (double)d : 0;
                r->has_lag = 1;
                break;
            }
        }
    }
}

static void finish_instance(inst_obs *in)
{
    if (in->rate_hits + in->rate_misses > 0)
        set(in, M_HIT_RATIO, in->rate_hits / (in->rate_hits + in->rate_misses));
    set(in, M_MEMORY_LIMIT, (double)in->memory);
    if (in->has[M_USED_MEMORY] && in->memory > 0)
        set(in, M_MEMORY_SHARE, in->v[M_USED_MEMORY] / (double)in->memory);
    int up = 0;
    for (int i = 0; i < in->nnodes; i++)
        up += in->nodes[i].up;
    set(in, M_NODES_UP, up);
    set(in, M_NODES_DOWN, in->nnodes - up);
    replication_lags(in);
}

/* The nodes to scrape: those of live instances that were started (pending nodes never ran,
 * stopping ones are going away). */
static sqlite3_stmt *nodes_query(void)
{
    return db_prepare("SELECT n.id, n.instance_id, n.shard, n.host, n.admin_port, i.memory, "
                      "i.tenant_id, i.name, t.name FROM nodes n "
                      "JOIN instances i ON i.id = n.instance_id "
                      "JOIN tenants t ON t.id = i.tenant_id "
                      "WHERE i.status != 'gone' AND i.delete_requested = 0 "
                      "AND n.status IN ('starting', 'running', 'down') "
                      "ORDER BY n.instance_id, n.shard, n.replica_index");
}

static inst_obs *instance_for(inst_obs **v, int *n, sqlite3_stmt *st)
{
    const char *iid = db_text(st, 1);
    if (*n && !strcmp((*v)[*n - 1].id, iid))
        return &(*v)[*n - 1];
    *v = mem_realloc(*v, sizeof(inst_obs) * (size_t)(*n + 1));
    inst_obs *in = &(*v)[(*n)++];
    memset(in, 0, sizeof(*in));
    snprintf(in->id, sizeof(in->id), "%s", iid);
    in->memory = sqlite3_column_int64(st, 5);
    snprintf(in->tenant_id, sizeof(in->tenant_id), "%s", db_text(st, 6));
    snprintf(in->name, sizeof(in->name), "%s", db_text(st, 7));
    snprintf(in->tenant_name, sizeof(in->tenant_name), "%s", db_text(st, 8));
    if (store_instance_password(in->id, in->password, sizeof(in->password)) < 0)
        in->password[0] = '\0';
    return in;
}

/* Reads the node list first (a short read), then calls the nodes with no statement open. */
typedef struct node_addr {
    char host[HOST_MAX];
    int admin_port;
} node_addr;

static inst_obs *scrape_all(int64_t now, int *ninst)
{
    inst_obs *v = NULL;
    int n = 0;
    node_addr *addrs = NULL;
    int naddrs = 0;
    sqlite3_stmt *st = nodes_query();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        inst_obs *in = instance_for(&v, &n, st);
        in->nodes = mem_realloc(in->nodes, sizeof(node_obs) * (size_t)(in->nnodes + 1));
        node_obs *nd = &in->nodes[in->nnodes++];
        memset(nd, 0, sizeof(*nd));
        snprintf(nd->id, sizeof(nd->id), "%s", db_text(st, 0));
        nd->shard = sqlite3_column_int(st, 2);
        addrs = mem_realloc(addrs, sizeof(node_addr) * (size_t)(naddrs + 1));
        snprintf(addrs[naddrs].host, HOST_MAX, "%s", db_text(st, 3));
        addrs[naddrs++].admin_port = sqlite3_column_int(st, 4);
    }
    db_done(st);
    char *info = mem_realloc(NULL, INFO_REPLY_MAX);
    char *scratch = mem_realloc(NULL, INFO_REPLY_MAX);
    int k = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < v[i].nnodes; j++, k++)
            scrape_node(&v[i], &v[i].nodes[j], addrs[k].host, addrs[k].admin_port, now, info,
                        scratch);
        finish_instance(&v[i]);
    }
    free(info);
    free(scratch);
    free(addrs);
    *ninst = n;
    return v;
}

static void point(sqlite3_stmt *st, const char *iid, const char *name, const char *node, int64_t ts,
                  double value)
{
    db_bind_text(st, 1, iid);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, node);
    sqlite3_bind_int64(st, 4, ts);
    sqlite3_bind_double(st, 5, value);
    db_step_done(st);
    sqlite3_reset(st);
}

static void store_points(const inst_obs *v, int n, int64_t now)
{
    if (db_begin() != SQLITE_OK)
        return;
    sqlite3_stmt *st = db_prepare("INSERT OR REPLACE INTO metric_points(instance_id, name, "
                                  "node_id, ts, value) VALUES (?, ?, ?, ?, ?)");
    for (int i = 0; st && i < n; i++) {
        const inst_obs *in = &v[i];
        for (int m = 0; m < M_COUNT; m++)
            if (in->has[m])
                point(st, in->id, scrape_names[m], "", now, in->v[m]);
        for (int j = 0; j < in->nnodes; j++) {
            const node_obs *nd = &in->nodes[j];
            point(st, in->id, METRIC_NODE_UP, nd->id, now, nd->up);
            if (nd->has_lag)
                point(st, in->id, METRIC_REPL_LAG, nd->id, now, nd->lag);
        }
    }
    db_done(st);
    if (!st || db_commit() != SQLITE_OK)
        db_rollback();
}

/* The values alert thresholds are compared with (alerts.c). */
static void evaluate_alerts(const inst_obs *v, int n)
{
    alert_obs *obs = mem_realloc(NULL, sizeof(alert_obs) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        alert_obs *o = &obs[i];
        memset(o, 0, sizeof(*o));
        o->instance_id = v[i].id;
        o->value[AL_MEMORY_SHARE] = v[i].v[M_MEMORY_SHARE];
        o->has[AL_MEMORY_SHARE] = v[i].has[M_MEMORY_SHARE];
        o->value[AL_HIT_RATIO] = v[i].v[M_HIT_RATIO];
        o->has[AL_HIT_RATIO] = v[i].has[M_HIT_RATIO];
        o->value[AL_NODES_DOWN] = v[i].v[M_NODES_DOWN];
        o->has[AL_NODES_DOWN] = v[i].has[M_NODES_DOWN];
        for (int j = 0; j < v[i].nnodes; j++)
            if (v[i].nodes[j].has_lag) {
                if (v[i].nodes[j].lag > o->value[AL_REPL_LAG])
                    o->value[AL_REPL_LAG] = v[i].nodes[j].lag;
                o->has[AL_REPL_LAG] = 1;
            }
    }
    alerts_evaluate(obs, n);
    free(obs);
}

static void scrape_pass(void)
{
    int64_t now = ids_now_ms();
    int n = 0;
    inst_obs *v = scrape_all(now, &n);
    prevs_sweep();
    store_points(v, n, now);
    evaluate_alerts(v, n);
    metrics_rollup(now);
    metrics_retention(now);
    for (int i = 0; i < n; i++)
        memset(v[i].password, 0, sizeof(v[i].password));
    pthread_mutex_lock(&latest_lock);
    inst_obs *old = latest;
    int nold = nlatest;
    latest = v;
    nlatest = n;
    pthread_mutex_unlock(&latest_lock);
    insts_free(old, nold);
}

static void *thread_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&stop_lock);
    while (!stopping) {
        pthread_mutex_unlock(&stop_lock);
        scrape_pass();
        pthread_mutex_lock(&stop_lock);
        /* The next pass starts an interval after this one ended: a slow pass delays the next
         * one instead of piling passes up. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + ctl_cfg.scrape_interval_ms * NS_PER_MS;
        until.tv_sec += (time_t)(ns / (NS_PER_MS * 1000));
        until.tv_nsec = (long)(ns % (NS_PER_MS * 1000));
        while (!stopping && pthread_cond_timedwait(&stop_cond, &stop_lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

int scraper_start(char *err, size_t errlen)
{
    stopping = 0;
    alerts_init();
    int rc = pthread_create(&thread, NULL, thread_main, NULL);
    if (rc) {
        snprintf(err, errlen, "cannot start the metrics scraper: %s", strerror(rc));
        return -1;
    }
    running = 1;
    log_info("scraper: every %lld ms", ctl_cfg.scrape_interval_ms);
    return 0;
}

void scraper_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&stop_lock);
    stopping = 1;
    pthread_cond_signal(&stop_cond);
    pthread_mutex_unlock(&stop_lock);
    pthread_join(thread, NULL);
    running = 0;
    free(prevs);
    cmdclass_free();
    prevs = NULL;
    nprevs = 0;
    pthread_mutex_lock(&latest_lock);
    insts_free(latest, nlatest);
    latest = NULL;
    nlatest = 0;
    pthread_mutex_unlock(&latest_lock);
}

/* A label value with Prometheus's escapes (\\, \" and \n). */
static void label(buf *out, const char *s)
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

static void instance_labels(buf *out, const inst_obs *in)
{
    buf_append_str(out, "tenant_id=\"");
    label(out, in->tenant_id);
    buf_append_str(out, "\",tenant_name=\"");
    label(out, in->tenant_name);
    buf_append_str(out, "\",instance_id=\"");
    label(out, in->id);
    buf_append_str(out, "\",instance_name=\"");
    label(out, in->name);
    buf_append_char(out, '"');
}

static void render_node_series(buf *out, const char *name, const char *help, int lag)
{
    buf_printf(out, "# HELP dfly_node_%s %s\n# TYPE dfly_node_%s gauge\n", name, help, name);
    for (int i = 0; i < nlatest; i++)
        for (int j = 0; j < latest[i].nnodes; j++) {
            const node_obs *nd = &latest[i].nodes[j];
            if (lag && !nd->has_lag)
                continue;
            buf_printf(out, "dfly_node_%s{", name);
            instance_labels(out, &latest[i]);
            buf_printf(out, ",node_id=\"%s\",shard=\"%d\"} %.17g\n", nd->id, nd->shard,
                       lag ? nd->lag : (double)nd->up);
        }
}

void scraper_render(buf *out)
{
    pthread_mutex_lock(&latest_lock);
    for (int m = 0; m < M_COUNT; m++) {
        buf_printf(out,
                   "# HELP dfly_instance_%s The instance's %s at the last scrape.\n"
                   "# TYPE dfly_instance_%s gauge\n",
                   scrape_names[m], scrape_names[m], scrape_names[m]);
        for (int i = 0; i < nlatest; i++) {
            if (!latest[i].has[m])
                continue;
            buf_printf(out, "dfly_instance_%s{", scrape_names[m]);
            instance_labels(out, &latest[i]);
            buf_printf(out, "} %.17g\n", latest[i].v[m]);
        }
    }
    render_node_series(out, METRIC_NODE_UP, "1 when the node answered the last scrape.", 0);
    render_node_series(out, METRIC_REPL_LAG, "Bytes a replica is behind its master.", 1);
    pthread_mutex_unlock(&latest_lock);
}
