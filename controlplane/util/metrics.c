/* Counters and a latency histogram per route. */
#include "metrics.h"

#include <pthread.h>
#include <string.h>

#include "http/router.h"

#define ROUTES_MAX 64
#define STATUS_CLASSES 6 /* 1xx..5xx, index by status / 100 */
#define NS_PER_S 1e9

control_counters ctl_counters;

static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   5};
#define NBUCKETS (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

typedef struct route_stats {
    long long by_status[1000];
    long long buckets[NBUCKETS];
    long long count;
    double sum_s;
} route_stats;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Index 0: requests no route matched; route i is at i + 1. */
static route_stats stats[ROUTES_MAX + 1];

void metrics_http_observe(int route, int status, uint64_t ns)
{
    int i = route < 0 || route >= ROUTES_MAX ? 0 : route + 1;
    double s = (double)ns / NS_PER_S;
    pthread_mutex_lock(&lock);
    route_stats *rs = &stats[i];
    if (status >= 100 && status < 1000)
        rs->by_status[status]++;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (s <= latency_buckets[b])
            rs->buckets[b]++;
    rs->count++;
    rs->sum_s += s;
    pthread_mutex_unlock(&lock);
}

static const char *route_label(int i, const char **method)
{
    if (i == 0) {
        *method = "";
        return "unmatched";
    }
    *method = router_routes[i - 1].method;
    return router_routes[i - 1].pattern;
}

static void render_http(buf *out)
{
    int nroutes = router_route_count();
    buf_append_str(out, "# HELP dfly_control_http_requests_total API requests answered.\n"
                        "# TYPE dfly_control_http_requests_total counter\n");
    pthread_mutex_lock(&lock);
    for (int i = 0; i <= nroutes && i <= ROUTES_MAX; i++) {
        const char *method;
        const char *path = route_label(i, &method);
        for (int code = 100; code < 1000; code++)
            if (stats[i].by_status[code])
                buf_printf(out,
                           "dfly_control_http_requests_total{method=\"%s\",route=\"%s\","
                           "code=\"%d\"} %lld\n",
                           method, path, code, stats[i].by_status[code]);
    }
    buf_append_str(out, "# HELP dfly_control_http_request_duration_seconds Time to answer.\n"
                        "# TYPE dfly_control_http_request_duration_seconds histogram\n");
    for (int i = 0; i <= nroutes && i <= ROUTES_MAX; i++) {
        if (!stats[i].count)
            continue;
        const char *method;
        const char *path = route_label(i, &method);
        for (size_t b = 0; b < NBUCKETS; b++)
            buf_printf(out,
                       "dfly_control_http_request_duration_seconds_bucket{method=\"%s\","
                       "route=\"%s\",le=\"%g\"} %lld\n",
                       method, path, latency_buckets[b], stats[i].buckets[b]);
        buf_printf(out,
                   "dfly_control_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                   "le=\"+Inf\"} %lld\n",
                   method, path, stats[i].count);
        buf_printf(out,
                   "dfly_control_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} "
                   "%.6f\n",
                   method, path, stats[i].sum_s);
        buf_printf(out,
                   "dfly_control_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} "
                   "%lld\n",
                   method, path, stats[i].count);
    }
    pthread_mutex_unlock(&lock);
}

static void counter(buf *out, const char *name, const char *help, atomic_llong *v)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", name, help, name, name,
               (long long)atomic_load(v));
}

void metrics_render(buf *out)
{
    render_http(out);
    control_counters *c = &ctl_counters;
    counter(out, "dfly_control_reconcile_passes_total", "Reconciler passes.", &c->reconcile_passes);
    counter(out, "dfly_control_node_starts_total", "dfly-server processes started.",
            &c->node_starts);
    counter(out, "dfly_control_node_exits_total", "Nodes found exited that were not stopped.",
            &c->node_exits);
    counter(out, "dfly_control_node_adoptions_total",
            "Running nodes adopted after a daemon restart.", &c->node_adoptions);
    counter(out, "dfly_control_node_stops_total", "Nodes stopped on purpose.", &c->node_stops);
    counter(out, "dfly_control_orphans_killed_total",
            "Processes and duplicates found running that no node owns.", &c->orphans_killed);
    counter(out, "dfly_control_operations_succeeded_total", "Operations that succeeded.",
            &c->operations_succeeded);
    counter(out, "dfly_control_operations_failed_total", "Operations that failed.",
            &c->operations_failed);
    counter(out, "dfly_control_node_call_errors_total", "Commands to nodes that failed.",
            &c->node_call_errors);
}
