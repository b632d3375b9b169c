/* Slot migration's state, shared by migration.c (the source's side: the thread, serializing,
 * the hooks, configuration changes) and migration_in.c (the target's side, status, INFO and
 * /metrics). Not for other modules: they use migration.h. Ownership rules: migration.c's top
 * comment. */
#ifndef DFLY_MIGRATION_INT_H
#define DFLY_MIGRATION_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "migration.h"

#define MIGRATIONS_MAX 64 /* outgoing migrations of one node at a time */

struct out_mig;
struct ssl_st;

/* A connection to the target's admin port: a non-blocking socket, with TLS on it under
 * --tls_cluster (migration_link.c). */
typedef struct mig_link {
    int fd;             /* -1 when closed */
    struct ssl_st *ssl; /* NULL on a plain link */
} mig_link;

/* One shard's stream of an outgoing migration: its serialization state and its connection. */
typedef struct mig_flow {
    struct out_mig *m;
    int shard_id;
    /* What waits to be sent (mu). */
    pthread_mutex_t mu;
    buf out;
    uint64_t appended; /* commands appended so far */
    /* Serialization, by whoever holds the shard. */
    int serializing;
    uint8_t *done[2];
    size_t nbits[2];
    int arr;
    size_t idx;
    atomic_int slice_posted;
    atomic_int serial_done;
    _Atomic uint64_t keys; /* keys serialized */
    /* The connection: the thread's alone. */
    mig_link link;
    buf sending;
    size_t sent;
    buf in;
    uint64_t replies;
} mig_flow;

/* An outgoing migration: created by a configuration, driven by its own thread. */
typedef struct out_mig {
    int index; /* in outs[], 1-based in slot_out[] */
    char *target_id, *ip;
    int port; /* the target's admin port */
    cluster_slot_range *ranges;
    int nranges;
    uint8_t slots[CLUSTER_SLOTS / 8];
    char ask_ip[CLUSTER_IP_MAX + 1]; /* the target's client address, for -ASK */
    int ask_port;
    atomic_int state;
    atomic_int stop; /* cancelled by a configuration */
    atomic_int point_done, finalize_done, teardown_done;
    pthread_mutex_t mu; /* err */
    char err[MIGRATION_ERR_MAX];
    pthread_t thread;
    mig_link ctrl;
    mig_flow *flows;
    int nflows;
    int64_t point_ms;
    uint64_t last_progress_ms;
    struct out_mig *next_retired;
} out_mig;

/* An incoming migration, registered by DFLYMIGRATE INIT. */
typedef struct in_mig {
    char *source_id;
    cluster_slot_range *ranges;
    int nranges;
    uint8_t slots[CLUSTER_SLOTS / 8];
    int state;
    int nflows, flows_seen;
    struct in_mig *next;
} in_mig;

/* Outgoing migrations by index (changed under outs_mu while every shard is held). */
extern pthread_mutex_t outs_mu;
extern out_mig *outs[MIGRATIONS_MAX];
/* Per slot: the outgoing migration (index + 1, 0 none) and its MIG_SLOT_* phase. */
extern _Atomic uint8_t slot_out[CLUSTER_SLOTS];
extern _Atomic uint8_t slot_phase[CLUSTER_SLOTS];
/* Incoming migrations (in_mu), and the slots whose incoming migration is FINISHED. */
extern pthread_mutex_t in_mu;
extern in_mig *ins;
extern _Atomic uint8_t slot_importing[CLUSTER_SLOTS];
/* Totals for INFO and /metrics. */
extern _Atomic uint64_t keys_sent_total;
extern atomic_int finished_total, failed_total;

static inline int bit_get(const uint8_t *m, size_t i)
{
    return (m[i >> 3] >> (i & 7)) & 1;
}
static inline void bit_set(uint8_t *m, size_t i)
{
    m[i >> 3] |= (uint8_t)(1u << (i & 7));
}

void migration_ranges_to_bits(const cluster_slot_range *r, int n, uint8_t *bits);
int migration_ranges_equal(const cluster_slot_range *a, int na, const cluster_slot_range *b,
                           int nb);
/* The outgoing migration of slot, or NULL. */
out_mig *migration_out_of_slot(uint16_t slot);
/* migration_in.c: forgets incoming migrations cfg no longer lists (every shard held). */
void migration_incoming_apply(const cluster_config *cfg);
/* Records why m fails (the first reason wins); migration.c. */
void mig_fail(struct out_mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* migration_link.c: the link's I/O, plain or TLS alike. Failures are recorded with mig_fail. */
/* Connects to m's target (and does the TLS handshake under --tls_cluster). Returns 0 or -1. */
int mig_link_open(struct out_mig *m, mig_link *l);
/* Sends all of p, waiting for room. Returns 0 or -1. */
int mig_link_send_all(struct out_mig *m, mig_link *l, const char *p, size_t len);
/* Reads one reply line (without CRLF) into line, within the handshake timeout. 0 or -1. */
int mig_link_read_line(struct out_mig *m, mig_link *l, char *line, size_t cap);
/* Sends what the socket takes now: bytes sent (0 when it would block), or -1. A write that
 * took nothing must be repeated with the same bytes (TLS). */
long mig_link_write(struct out_mig *m, mig_link *l, const char *p, size_t len);
/* Appends what has arrived to in: bytes read (0 when nothing is there), or -1 (closed, error). */
long mig_link_read(struct out_mig *m, mig_link *l, buf *in);
/* True when received bytes wait inside TLS, which poll() does not see. */
int mig_link_pending(const mig_link *l);
/* Closes the link (close_notify first on TLS). */
void mig_link_close(mig_link *l);

#endif
