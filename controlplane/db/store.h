/* Rows of the control plane's tables as C structs, and the reads and writes that both the API
 * handlers and the reconciler make. Every function uses the calling thread's connection and
 * runs inside the caller's transaction when there is one. */
#ifndef DFLY_CONTROL_STORE_H
#define DFLY_CONTROL_STORE_H

#include <stdarg.h>
#include <stddef.h>

#include "ids.h"

#define NAME_MAX_LEN 63
#define POLICY_MAX 32
#define CRON_TEXT_MAX 128
#define STATUS_MAX 16
#define REASON_MAX 512
#define HOST_MAX 256
#define CLUSTER_ID_LEN 40
#define ROLE_MAX 8
#define SCHEDULE_TEXT_MAX 256

/* Instance statuses. */
#define ST_CREATING "creating"
#define ST_RUNNING "running"
#define ST_UPDATING "updating"
#define ST_DEGRADED "degraded"
#define ST_FAILED "failed"
#define ST_DELETING "deleting"
#define ST_GONE "gone"

/* Node statuses. */
#define NODE_PENDING "pending"   /* row made, never started */
#define NODE_STARTING "starting" /* process started, not answering yet */
#define NODE_RUNNING "running"   /* answers */
#define NODE_DOWN "down"         /* exited; waiting for its restart */
#define NODE_STOPPING "stopping" /* being stopped on purpose */

#define ROLE_MASTER "master"
#define ROLE_REPLICA "replica"

/* Operation statuses and kinds. */
#define OP_PENDING "pending"
#define OP_RUNNING "running"
#define OP_SUCCEEDED "succeeded"
#define OP_FAILED "failed"

typedef struct instance_row {
    char id[ID_MAX];
    char tenant_id[ID_MAX];
    char name[NAME_MAX_LEN + 1];
    long long memory;
    int shards;
    int replicas;
    char eviction_policy[POLICY_MAX];
    char snapshot_cron[CRON_TEXT_MAX]; /* "" when none */
    int appendonly;
    char *labels; /* JSON object text, malloc'd */
    int delete_requested;
    char status[STATUS_MAX];
    char status_reason[REASON_MAX];
    long long spec_version, applied_version, restart_version;
    int ever_running;
    long long created_at, updated_at, deleted_at;
    /* issue 15: backups, restores, planned failover */
    char backup_schedule[SCHEDULE_TEXT_MAX];  /* JSON, "" when none */
    char backup_retention[SCHEDULE_TEXT_MAX]; /* JSON, "" when none */
    long long next_backup_at;                 /* 0: not computed yet */
    char restore_from[ID_MAX];                /* the backup a new instance starts from */
    int restore_placed;                       /* its files were put in place */
    char restore_backup_id[ID_MAX];           /* an in-place restore asked for, or "" */
    char restore_op[ID_MAX];
    char failover_op[ID_MAX]; /* a planned failover asked for, or "" */
    int failover_shard;
    char failover_node[ID_MAX]; /* the replica to promote, or "" for the most up to date */
} instance_row;

typedef struct node_row {
    char id[ID_MAX];
    char instance_id[ID_MAX];
    int shard;
    int replica_index;
    char role[ROLE_MAX];
    char host[HOST_MAX];
    int port, admin_port;
    char cluster_id[CLUSTER_ID_LEN + 1];
    char status[STATUS_MAX];
    long pid;
    int restarts;
    long long restart_version;
} node_row;

/* The instance id visible to tenant (NULL: any tenant; gone instances only with include_gone).
 * Returns 0, or -1 when there is none. Free with store_instance_clear. */
int store_instance_get(const char *id, const char *tenant, int include_gone, instance_row *out);
void store_instance_clear(instance_row *row);
/* The default user's password of instance id (decrypted). Returns 0 or -1. */
int store_instance_password(const char *id, char *out, size_t outlen);
/* Writes the status fields (status, status_reason, applied_version, ever_running,
 * deleted_at) of row. */
int store_instance_save_status(const instance_row *row);

/* The nodes of an instance ordered by shard and replica index; *out is malloc'd (free it). */
int store_nodes_load(const char *instance_id, node_row **out, int *n);
int store_node_save(const node_row *n); /* status, role, pid, restarts, restart_version */

/* Appends an event of instance_id. */
void store_event(const char *instance_id, const char *type, const char *from, const char *to,
                 const char *node_id, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A new pending operation; its id goes into id. Returns 0 or -1. */
int store_operation_create(const char *tenant_id, const char *kind, const char *target_id,
                           long long spec_version, char *id);
/* The kinds of operations that a spec_version completes (the others, such as backup or
 * failover, are finished by whoever carries them out). */
#define SPEC_OP_KINDS "('create', 'update', 'restart', 'delete')"
/* Moves every unfinished operation (of SPEC_OP_KINDS) of target with spec_version <= upto to status
 * (succeeded or failed, with error when failed); returns how many. */
int store_operations_finish(const char *target_id, long long upto, const char *status,
                            const char *error);
/* Finishes one operation (status succeeded or failed, error when failed). */
void store_operation_finish_one(const char *op_id, const char *status, const char *error);
/* Marks one operation running with progress. */
void store_operation_progress_one(const char *op_id, int progress);
/* Marks the unfinished operations of target running with progress and the steps JSON. */
void store_operations_progress(const char *target_id, int progress, const char *steps_json);

#endif
