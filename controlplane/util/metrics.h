/* The daemon's own counters for /metrics (Prometheus text). Thread-safe: counters are atomics,
 * the per-route table has a lock. */
#ifndef DFLY_CONTROL_METRICS_H
#define DFLY_CONTROL_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

typedef struct control_counters {
    atomic_llong reconcile_passes;
    atomic_llong node_starts;
    atomic_llong node_exits;
    atomic_llong node_adoptions;
    atomic_llong node_stops;
    atomic_llong orphans_killed;
    atomic_llong operations_succeeded;
    atomic_llong operations_failed;
    atomic_llong node_call_errors;
    atomic_llong last_pass_ms; /* wall time of the last reconciler pass */
} control_counters;

extern control_counters ctl_counters;

/* One answered request: route index into router_routes (-1: none matched), status, duration. */
void metrics_http_observe(int route, int status, uint64_t ns);
/* Appends the HTTP and reconciler series. */
void metrics_render(buf *out);

#endif
