/* Where nodes run. The reconciler speaks only this interface; `local` (local.c) runs them as
 * child processes of this daemon. A backend for an orchestrator (Kubernetes StatefulSets...)
 * implements the same operations and is chosen by --provisioner, without touching the
 * reconciler.
 *
 * Threads: every operation is called on the reconciler's loop thread. Operations return 0 or a
 * negative errno-style code; none blocks for long. */
#ifndef DFLY_CONTROL_PROVISIONER_H
#define DFLY_CONTROL_PROVISIONER_H

#include <stddef.h>
#include <stdint.h>

/* What a node is to run: everything its process needs at start. */
typedef struct prov_node {
    const char *instance_id;
    const char *node_id;
    const char *host; /* address it listens on and announces */
    int port, admin_port;
    const char *cluster_mode; /* "yes" or "emulated" */
    const char *cluster_id;   /* its id in the cluster configuration */
    long long maxmemory;
    const char *eviction_policy;
    const char *password;      /* the default user's */
    const char *masterauth;    /* what replicas authenticate with; NULL without replicas */
    const char *snapshot_cron; /* "" for none */
    int appendonly;
    int threads;
    /* issue 14, TLS (controlplane/pki/): PEM texts of the node's certificate, its key, the CA
     * and the CRL, written to the node's place (keys 0600); tls_cert NULL: plain text. */
    const char *tls_cert, *tls_key, *tls_ca, *tls_crl;
    const char *tls_client_auth; /* no, optional or yes */
} prov_node;

/* A node the reconciler knows (for collect_garbage). */
typedef struct prov_known {
    const char *instance_id;
    const char *node_id; /* NULL: the instance is known, with no node */
} prov_known;

enum prov_status { PROV_ABSENT = 0, PROV_RUNNING = 1 };

/* A node's process ended by itself or by stop (for backends that see it happen). */
typedef void (*prov_exit_fn)(void *ctx, const char *instance_id, const char *node_id, long pid,
                             int64_t exit_status, int term_signal);

typedef struct provisioner provisioner;

typedef struct provisioner_ops {
    const char *name;
    /* Makes or rewrites the node's configuration (and its place, e.g. a directory). */
    int (*create)(provisioner *p, const prov_node *spec, char *err, size_t errlen);
    /* Starts the node's process with its configuration; *pid gets an id of it. */
    int (*start)(provisioner *p, const char *instance_id, const char *node_id, long *pid, char *err,
                 size_t errlen);
    /* Asks the node to stop (force: at once, SIGKILL). 0 also when it does not run. */
    int (*stop)(provisioner *p, const char *instance_id, const char *node_id, int force);
    /* Removes the node's files. It must not run. */
    int (*destroy)(provisioner *p, const char *instance_id, const char *node_id);
    /* Removes whatever is left of an instance. Its nodes must not run. */
    int (*destroy_instance)(provisioner *p, const char *instance_id);
    /* PROV_RUNNING with *pid, or PROV_ABSENT. Finds nodes started by an earlier run of the
     * daemon too (adoption). */
    int (*status)(provisioner *p, const char *instance_id, const char *node_id, long *pid);
    /* After a start of the daemon: ends processes no known node owns and extra processes of
     * one node, removes files nobody knows. Returns how many processes it ended. */
    int (*collect_garbage)(provisioner *p, const prov_known *known, int n);
    /* Backups and restores (issue 15). Opens the node's latest snapshot file (the one BGSAVE
     * wrote) for reading: *fd, close it. A snapshot renamed over it meanwhile does not
     * disturb the reader. */
    int (*snapshot_open)(provisioner *p, const char *instance_id, const char *node_id, int *fd);
    /* Makes the file src the data the node loads at its next start (a copy), and removes its
     * journal so that the snapshot is what it loads; src NULL leaves it with no data at all.
     * The node must not run. */
    int (*snapshot_place)(provisioner *p, const char *instance_id, const char *node_id,
                          const char *src);
    void (*close)(provisioner *p);
} provisioner_ops;

struct provisioner {
    const provisioner_ops *ops;
    void *impl;
};

struct uv_loop_s;
/* The local backend: nodes under root/<instance>/<node>/, run from binary. exit_fn is called
 * on the loop thread when a child exits. */
provisioner *provisioner_local_new(struct uv_loop_s *loop, const char *root, const char *binary,
                                   prov_exit_fn exit_fn, void *ctx);

#endif
