/* Online resize (issue 15): a change of an instance's shard count applied while it serves.
 * The nodes of both layouts run at once; slots move with the data plane's slot migration
 * (DFLYCLUSTER CONFIG listing "migrations" on the sources, SLOT-MIGRATION-STATUS polled until
 * FINISHED), then the final configuration is pushed and the nodes no longer wanted stop.
 *
 * State lives in SQLite (instances.slot_shards, resize_phase, resize_attempts), so a daemon
 * restart at any point resumes: phase 0 pushes the old ownership (new masters own nothing),
 * phase 1 the same with the migrations (pushing it again retries a failed one), phase 2 the new
 * ownership. A phase is written before the configuration it names is pushed. Loop thread
 * only. */
#ifndef DFLY_CONTROL_RESIZE_H
#define DFLY_CONTROL_RESIZE_H

#include "reconciler_int.h"

/* Failed migration attempts after which the resize is given up (the shard count goes back). */
#define RESIZE_MAX_ATTEMPTS 5

/* Loads the resize state of p's instance; while one runs, p->in.shards becomes the number of
 * shards that have nodes (the larger of both layouts). Call before anything uses shards. */
void resize_pass_begin(pass *p);
/* The DFLYCLUSTER CONFIG document for the wanted nodes (malloc'd): the even split of shards
 * when no resize runs, else the layout of the current phase. */
char *resize_cluster_config(const pass *p, const node_row *wanted, int k);
/* One step of a running resize, once every node runs and took the configuration. Returns 0
 * when there is none (the change may be reported as applied), 1 while it goes on (p->reason
 * says what it waits for). */
int resize_step(pass *p);
/* The operation's progress and steps while a resize runs. Returns 1 when it reported. */
int resize_report(pass *p, int running, int total);

#endif
