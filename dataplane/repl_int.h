/* Replication's shared state: replication.c (ids, offsets, the stream buffer, replicas,
 * acknowledgements, role changes, INFO), repl_sync.c (PSYNC and full syncs), replica.c (the
 * link to our master) and t_replication.c (the commands). Not for other modules: they use
 * replication.h.
 *
 * Locks: R.mu guards the ids, offsets, the buffer and the replica list. The journal's append
 * lock is taken before it (the tap feeds the buffer under both), so nothing that holds R.mu may
 * call into the journal. */
#ifndef DFLY_REPL_INT_H
#define DFLY_REPL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "replication.h"

struct client;
struct worker;
struct sync_job;

/* The stream buffer's blocks, header included. Above mimalloc's medium blocks (128 KiB), each
 * has pages of its own: a freed block's memory goes back to the system whole, instead of staying
 * resident beside the blocks of the backlog that still live. */
#define REPL_BLOCK_BYTES (256 * 1024)
#define REPL_BLOCK_CAP (REPL_BLOCK_BYTES - sizeof(repl_block)) /* its data bytes */
#define REPL_SEND_CHUNK (256 * 1024)         /* stream bytes queued on a replica's socket at once */
#define REPL_CRON_MS 100                     /* the master's periodic work (worker 0) */
#define REPL_RECONNECT_MS 1000               /* a replica retries its master this often */
#define REPL_ACK_PERIOD_MS 1000              /* REPLCONF ACK at least this often */
#define REPL_OBUF_HARD_DEFAULT (256LL << 20) /* client-output-buffer-limit replica 256mb */
#define REPL_IP_MAX 64
#define REPL_HOST_MAX 256
#define REPL_ERR_MAX 512
#define REPL_NULL_ID "0000000000000000000000000000000000000000"

/* What REPLCONF told about a connection before its PSYNC (client.repl_capa). */
enum {
    REPL_CAPA_EOF = 1 << 0,    /* capa eof: takes the diskless "$EOF:<mark>" form */
    REPL_CAPA_PSYNC2 = 1 << 1, /* capa psync2: +CONTINUE <replid> */
    REPL_RDB_ONLY = 1 << 2,    /* rdb-only 1: the snapshot, then the connection closes */
};

/* Where a replica of ours is (Redis's SLAVE_STATE_*). */
enum replica_state {
    RS_WAIT_SYNC = 0, /* wants a full sync: waits for a snapshot to start ("wait_bgsave") */
    RS_TRANSFER,      /* its snapshot is being sent ("wait_bgsave" too, as for a socket target) */
    RS_ONLINE,        /* streaming */
};

/* One replica connection of this master. Lives on its client's worker; the fields marked (mu)
 * are read by other threads under R.mu. Freed when its client is gone and no sync job or
 * message refers to it (refs). */
typedef struct repl_replica {
    struct repl_replica *prev, *next; /* R.replicas (mu) */
    struct client *cl;                /* NULL once the connection closed (mu) */
    struct worker *owner;
    atomic_int refs;
    int state; /* enum replica_state (mu) */
    int capa_eof, capa_psync2, rdb_only;
    int listening_port;
    char ip[REPL_IP_MAX];
    uint64_t pos;             /* stream index of the next byte to send (mu) */
    int has_pos;              /* pos holds the buffer back (mu) */
    struct repl_block *cur;   /* a block at or before pos, or NULL (mu) */
    _Atomic uint64_t ack_off; /* the last REPLCONF ACK */
    _Atomic int64_t ack_ms;   /* when it came (monotonic ms) */
    struct sync_job *job;     /* the full sync it takes part in (mu) */
    /* After the EOF-marker form the stream waits for the replica's first ACK: a replica reads
     * the snapshot in chunks and looks for the mark at the end of one, so nothing may follow it
     * before the replica has loaded (Redis's repl_start_cmd_stream_on_ack). (mu) */
    int wait_first_ack;
    int over_limit; /* fell too far behind: closed at the next chance */
} repl_replica;

/* A block of the stream buffer. */
typedef struct repl_block {
    struct repl_block *next;
    uint64_t start; /* stream index of data[0] */
    size_t used, cap;
    char data[];
} repl_block;

/* The process's replication state. */
struct repl {
    pthread_mutex_t mu;
    char replid[REPL_ID_LEN + 1];
    char replid2[REPL_ID_LEN + 1];
    uint64_t offset;       /* master_repl_offset: stream bytes so far (processed, on a replica) */
    int64_t second_offset; /* second_repl_offset, or -1 */
    int backlog_on;        /* a backlog exists: created with the first replica, as Redis does */
    repl_block *head, *tail;
    repl_block *spare; /* a trimmed block kept for the next one: no allocation per block */
    repl_replica *replicas;
    int nreplicas;
    _Atomic long good_replicas; /* online replicas acknowledging within min-replicas-max-lag */
    /* Counters of INFO stats. */
    _Atomic long long sync_full, sync_partial_ok, sync_partial_err;
    int64_t last_ping_ms;
};

extern struct repl R;

/* repl_write_guard's reasons. */
enum {
    GUARD_READONLY = 1 << 0,   /* a replica with replica-read-only yes */
    GUARD_NOREPLICAS = 1 << 1, /* min-replicas-to-write not met */
    GUARD_TAKEOVER = 1 << 2,   /* a master that handed over: no write from now on */
};

/* ---- replication.c ----------------------------------------------------------------------------
 */

/* A new random replication id. */
void repl_new_id(char out[REPL_ID_LEN + 1]);
/* Creates the backlog and installs the journal's tap if not yet done (a master's first
 * replica). Any worker thread. */
void repl_backlog_enable(void);
/* Appends stream bytes (the tap, or a replica proxying its master's stream). R.mu NOT held. */
void repl_feed(const char *p, size_t len);
/* The stream index of the backlog's first byte: the last repl-backlog-size bytes, or more while
 * a replica's position holds them. R.mu held. */
uint64_t repl_first_kept_locked(void);
/* Empties the buffer and sets the offset (a replica after a full sync). R.mu held. */
void repl_backlog_reset_locked(uint64_t offset);
/* Sets or clears a reason of repl_write_guard. */
void repl_guard_set(int reason, int on);
/* Applies replica-read-only and min-replicas-* after CONFIG SET or a role change. */
void repl_guard_refresh(void);

/* Registers a replica (the PSYNC/SYNC handler, on its thread); R.mu NOT held. */
repl_replica *repl_replica_new(struct client *cl);
void repl_replica_unref(repl_replica *rp);
/* Makes rp stream from pos (mu held): it joins the online replicas of its worker. */
void repl_replica_online_locked(repl_replica *rp, uint64_t pos);
/* Sends what rp can take now (on its thread). */
void repl_replica_pump(repl_replica *rp);
/* REPLCONF ACK <offset> from rp's connection (on its thread). */
void repl_replica_ack(repl_replica *rp, uint64_t off);
/* Closes every replica connection (this node becomes a replica). Any worker thread. */
void repl_disconnect_replicas(void);

/* Role changes, from a thread that is not a worker (the link thread): each runs while every
 * shard is held, so that no command is half-way through it. */
void repl_become_replica(void);
/* Promotion: the history so far becomes replid2 up to the offset, a new replid starts. */
void repl_become_master(void);

/* ---- repl_sync.c ------------------------------------------------------------------------------
 */

/* PSYNC replid offset / SYNC from cl (psync 0). Replies +CONTINUE and streams, or queues a full
 * sync. On cl's thread. */
void repl_sync_command(cmd_ctx *c, const char *replid, long long offset, int psync);
/* Worker 0's cron: starts a snapshot for replicas waiting for a full sync. */
void repl_sync_cron(void);
/* A replica leaves its sync job (its connection closed). */
void repl_sync_leave(repl_replica *rp);
void repl_sync_shutdown(void);
int repl_sync_in_progress(void);

/* ---- replica.c --------------------------------------------------------------------------------
 */

/* The link to our master, for INFO and ROLE. */
typedef struct repl_link_info {
    int configured; /* REPLICAOF host port in force */
    char host[REPL_HOST_MAX];
    int port;
    const char *state;    /* ROLE's word: connect, connecting, handshake, sync, connected */
    int link_up;          /* master_link_status */
    int64_t last_io_s;    /* master_last_io_seconds_ago, -1 */
    int64_t down_since_s; /* master_link_down_since_seconds, -1 */
    int sync_in_progress; /* master_sync_in_progress */
    long long sync_total, sync_read, sync_last_io_s;
    uint64_t read_offset; /* slave_read_repl_offset */
} repl_link_info;
void replica_link_info(repl_link_info *out);

/* Requests to the link thread; the reply goes to cl (its reply was deferred). */
enum link_req_kind { LINK_REQ_MASTER = 1, LINK_REQ_NO_ONE, LINK_REQ_TAKEOVER };
void replica_request(int kind, const char *host, int port, long long timeout_ms, struct client *cl,
                     int resp, int muted);
void replica_start(void);
void replica_stop(void);

#endif
