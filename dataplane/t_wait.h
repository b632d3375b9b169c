/* WAIT numreplicas timeout, and the hook replication uses to wake its waiters.
 *
 * WAIT answers how many replicas acknowledged the replication offset that the caller's writes
 * reached. When fewer than numreplicas did, the client blocks (no reply, its pipeline stops, as
 * for CLIENT LIST's deferred reply) until enough acknowledge, the timeout passes (0: forever),
 * CLIENT UNBLOCK, or a disconnect; a timer on the client's own thread measures the timeout.
 * replication.c installs the hooks (replicas acknowledge with REPLCONF ACK); without replicas
 * nothing acknowledges: WAIT 0 and WAIT inside MULTI/EXEC answer at once, WAIT n>0 answers 0
 * when its timeout passes. */
#ifndef DFLY_T_WAIT_H
#define DFLY_T_WAIT_H

#include <stdint.h>

struct client;

/* What replication provides. Every function may be NULL. */
typedef struct wait_repl_ops {
    /* 1 on a replica: WAIT is refused there, as in Redis. */
    int (*is_replica)(void);
    /* The replication offset right after the client's last write (Redis's c->woff). On the
     * client's thread. */
    uint64_t (*client_offset)(const struct client *cl);
    /* How many replicas acknowledged at least offset. Any worker thread. */
    long (*count_acks)(uint64_t offset);
    /* A WAIT starts waiting: ask the replicas to acknowledge now (REPLCONF GETACK). On the
     * client's thread. */
    void (*request_acks)(void);
} wait_repl_ops;

/* Installs replication's functions (NULL: standalone). Call before the workers serve clients;
 * ops must stay valid. */
void wait_set_repl_ops(const wait_repl_ops *ops);
/* Replication calls this, from any thread, when a replica acknowledged a new offset: every
 * waiting WAIT counts again (on its client's thread) and those satisfied reply. Cheap when no
 * WAIT is waiting. */
void wait_acks_changed(void);

/* client.c: the client goes away while in WAIT (disconnect, CLIENT KILL). On its thread. */
void wait_cancel(struct client *cl);
/* CLIENT UNBLOCK: ends a WAIT with its current count, or with an UNBLOCKED error. Returns 1
 * when the client was in WAIT. On its thread. */
int wait_unblock(struct client *cl, int with_error);

#endif
