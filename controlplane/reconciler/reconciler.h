/* The reconciler: one libuv loop thread that makes what runs match what SQLite says should
 * run. API handlers only write desired state (and an operation) and wake it; it allocates
 * ports, writes node configurations, starts, supervises and stops dfly-server processes
 * through the provisioner, pushes cluster configuration and replication to nodes, and records
 * every transition as an event. After a restart it first adopts the nodes that still run and
 * ends strays, then converges as usual: SQLite is the truth, processes are cattle. */
#ifndef DFLY_CONTROL_RECONCILER_H
#define DFLY_CONTROL_RECONCILER_H

#include <stddef.h>

/* Starts the loop thread. Returns 0 or -1 with err. */
int reconciler_start(char *err, size_t errlen);
/* Asks for a pass as soon as possible. Any thread. */
void reconciler_wake(void);
/* Stops the thread (nodes keep running: the next start adopts them). */
void reconciler_stop(void);
/* 1 once the first pass after start finished (adoption done). Any thread. */
int reconciler_ready(void);

#endif
