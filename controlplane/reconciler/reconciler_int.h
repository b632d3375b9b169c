/* Shared between the reconciler's loop (reconciler.c) and its per-instance convergence
 * (instance_reconcile.c). Loop thread only. */
#ifndef DFLY_CONTROL_RECONCILER_INT_H
#define DFLY_CONTROL_RECONCILER_INT_H

#include "provisioner/provisioner.h"

extern provisioner *rec_prov;

/* One convergence step of instance id: observe its nodes, start, stop, configure, report. */
void reconcile_instance(const char *id);
/* Asks for the next pass soon (RECONCILE_SOON_MS) rather than at the next tick: a node was
 * started and will answer in a moment. */
void reconcile_soon(void);

#define RECONCILE_SOON_MS 50

#endif
