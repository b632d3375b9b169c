/* Shared between the reconciler's loop (reconciler.c) and its per-instance convergence
 * (instance_reconcile.c). Loop thread only. */
#ifndef DFLY_CONTROL_RECONCILER_INT_H
#define DFLY_CONTROL_RECONCILER_INT_H

#include "pki/instance_tls.h"
#include "provisioner/provisioner.h"
#include "store.h"
#include "supervisor.h"

extern provisioner *rec_prov;

/* One convergence step of instance id: observe its nodes, start, stop, configure, report. */
void reconcile_instance(const char *id);
/* Asks for the next pass soon (RECONCILE_SOON_MS) rather than at the next tick: a node was
 * started and will answer in a moment. */
void reconcile_soon(void);

#define RECONCILE_SOON_MS 50

/* One pass over one instance (instance_reconcile.c): what it loaded and what it found. */
typedef struct pass {
    instance_row in;
    node_row *nodes;
    int n;
    char password[SECRET_MAX];
    int64_t now;
    const char *cluster_mode; /* "yes" or "emulated" */
    char reason[REASON_MAX];  /* why it is not converged yet, for status_reason */
    int failed_starts;        /* a node of a never-running instance failed this often */
    char last_exit[SUPERVISOR_EXIT_TEXT_MAX]; /* how the last node that exited ended */
    /* resize.c: a shard change being applied (resize_to 0: none). in.shards is then the
     * larger layout, so the nodes of both run. */
    int resize_from, resize_to, resize_phase, resize_attempts;
    pki_instance_tls tls; /* issue 14: its TLS settings and material (pki/tls_push.c) */
} pass;

/* A wanted node: its shard and replica index are within the desired counts. */
int rec_node_wanted(const pass *p, const node_row *nd);
/* Runs a command on a node's admin port (within --node-call-timeout, or timeout_ms). Returns a
 * resp_result; out gets the reply or why. */
int rec_node_call(const pass *p, const node_row *nd, char *out, size_t outlen, int argc,
                  const char *const *argv);
int rec_node_call_timeout(const pass *p, const node_row *nd, int timeout_ms, char *out,
                          size_t outlen, int argc, const char *const *argv);
/* Writes a node's configuration and files from the pass (the provisioner's create), as before a
 * start. Returns 0 or a negative code with err. */
int rec_node_create(const pass *p, const node_row *nd, char *err, size_t errlen);
/* The wanted master of shard (by role), or NULL. */
node_row *rec_shard_master(pass *p, int shard);
/* DFLYCLUSTER CONFIG to every wanted node (running_only: to those that run, the others get it
 * when they start); REPLICAOF to replicas (all, or those that need it).
 * Return 0 or -1 with p->reason set. */
int rec_push_cluster(pass *p, int running_only);
int rec_push_replication(pass *p, int all);

#endif
