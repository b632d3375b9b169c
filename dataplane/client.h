/* Client connections: reading, protocol detection, the RESP parser state, pipelining and
 * writing replies. A client belongs to the worker that accepted it; its fields are touched by
 * that thread only, except while one of its commands runs elsewhere (client.waiting), when the
 * running command may use the fields cmd_ctx exposes and the ones marked below. */
#ifndef DFLY_CLIENT_H
#define DFLY_CLIENT_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "command.h"

struct worker;

/* PROTO_MEMCACHE: accepted on --memcached_port (memcache.h); never detected from bytes. */
enum client_proto { PROTO_UNKNOWN = 0, PROTO_RESP, PROTO_HTTP, PROTO_MEMCACHE };

enum {
    CLIENT_MULTI = 1u << 0,
    CLIENT_DIRTY_EXEC = 1u << 1, /* a command failed while queueing: EXEC aborts */
    CLIENT_CLOSE_AFTER_REPLY = 1u << 2,
    CLIENT_MONITOR = 1u << 3,
    CLIENT_NO_EVICT = 1u << 4,
    CLIENT_REPLY_OFF = 1u << 5,
    CLIENT_REPLY_SKIP_NEXT = 1u << 6,
    CLIENT_REPLY_SKIP = 1u << 7,
    CLIENT_PUBSUB = 1u << 8,
    CLIENT_NO_TOUCH = 1u << 9,
    CLIENT_BLOCKED = 1u << 10,
    CLIENT_ADMIN_PORT = 1u << 11, /* accepted on --admin_port (worker.c) */
    CLIENT_READONLY = 1u << 12,   /* cluster READONLY: may read slots this node replicates */
    CLIENT_REPLICA = 1u << 13,    /* a replica's link (PSYNC/SYNC): it gets the stream */
    /* A snapshot is being written to this replica's socket by another thread: nothing else
     * may be written to it meanwhile (replication.h). */
    CLIENT_REPL_TRANSFER = 1u << 14,
    /* Cluster slot migration (migration.h, "migrate"): ASKING was sent, so the next command
     * may use a slot being imported; and a source node's stream connection (DFLYMIGRATE FLOW),
     * whose commands are not routed by slot. */
    CLIENT_ASKING = 1u << 15,
    CLIENT_MIGRATION_FLOW = 1u << 16,
};

/* A command queued by MULTI: its own copy of the arguments. */
typedef struct queued_cmd {
    const struct command *cmd;
    int argc;
    slice *argv;
} queued_cmd;

/* Parser state for one RESP request. Offsets are into rbuf so that growth keeps them valid. */
typedef struct resp_parser {
    int type;            /* 0 none yet, 1 multibulk, 2 inline */
    long multibulk_left; /* arguments still to read */
    long bulk_len;       /* -1 when reading a $ header next */
    size_t start;        /* where the current request begins in rbuf */
    size_t pos;          /* parse position in rbuf */
    int argc;
    int argv_cap;
    size_t *arg_off; /* 2 per argument: offset and length in rbuf */
} resp_parser;

typedef struct client {
    struct client *prev, *next; /* in the owner's list */
    struct worker *owner;
    uint64_t id;
    uv_tcp_t tcp;
    uv_write_t wreq;
    int closing; /* uv_close called */
    int waiting; /* a command runs elsewhere; resume on its completion */
    int writing; /* a uv_write is in flight (wout) */
    int reading_paused;
    int proto;
    int resp;
    int dbid;
    int authenticated;
    uint32_t flags;
    char *name;
    char *lib_name;
    char *lib_ver;
    char addr[64];
    char laddr[64];
    int fd;
    int64_t ctime_ms;
    uint64_t last_io_ms; /* monotonic */
    const struct command *last_cmd;

    buf rbuf;           /* received, not yet consumed */
    buf spill;          /* received while a command was running elsewhere */
    buf wbuf;           /* replies not yet handed to the kernel */
    buf wout;           /* replies being written */
    buf xbuf;           /* the reply of a command running on another thread */
    uint64_t out_total; /* bytes handed to the kernel */
    resp_parser rp;
    void *pipeline;  /* the batch being squashed (pipeline.c) */
    buf inline_args; /* unescaped inline arguments */
    slice *argv;
    int argv_cap;
    cmd_ctx ctx;       /* the command being executed */
    size_t reply_mark; /* where its reply begins in wbuf (for CLIENT REPLY OFF/SKIP) */

    /* MULTI state (multi.c). */
    queued_cmd *mqueue;
    int mcount, mcap;
    struct watch_state *watch; /* WATCHed keys; dirty flag written by other threads */

    struct blocked *blocked; /* the wait of a blocked command (blocking.c) */
    void *http;              /* http.c state */
    struct mc_conn *mc;      /* memcached protocol state (memcache.c) */
    void *pubsub;            /* pubsub state (later) */
    void *tracking;          /* client-side caching state (tracking.c) */
    struct wait_state *wait; /* the wait of a WAIT command (t_wait.c) */
    /* Replication (repl_int.h): what REPLCONF said before PSYNC, and the replica's state. */
    int repl_listening_port;
    unsigned repl_capa;
    struct repl_replica *repl;
    /* Transport and output limits (tls.h, client.c). */
    struct tls_conn *tls;        /* NULL: plain text */
    buf tls_plain;               /* TLS: replies taken from wbuf, being encrypted */
    size_t tls_plain_pos;        /* how much of tls_plain is encrypted */
    buf tls_held;                /* TLS input that came during CLIENT_REPL_TRANSFER */
    uint64_t obuf_soft_since_ms; /* over the soft output limit since (monotonic), or 0 */
    /* ACL (acl.h): the user version this connection runs as (a reference; NULL until first
     * needed: the default user) and the registry epoch it was looked up at. */
    struct acl_user *acl_user;
    uint64_t acl_epoch;
} client;

/* Accepts a connection on a worker's listener, speaking TLS when tls is set. Returns the new
 * client (already refused and closing when over maxclients or denied by protected mode), or
 * NULL when the connection could not be set up. */
client *client_accept(struct worker *w, uv_stream_t *listener, int tls);
/* The same for a socket accepted outside the loop (fd connected; the client owns it from now
 * on, and closes it when the client cannot be set up). */
client *client_accept_fd(struct worker *w, int fd, int tls);
/* While a script runs on this thread (busy.c): reads what cl's socket holds now, without
 * blocking, and answers it the usual way. Skips clients that must wait for the loop. */
void client_serve_busy(client *cl);
/* Closes a client (idempotent). Freed once its close completes and no command runs for it. */
void client_close(client *cl);
void client_close_all(struct worker *w);
/* Periodic work: idle timeouts. */
void client_cron(struct worker *w);
/* Sends buffered replies. */
void client_flush(client *cl);
/* Called on the client's thread when a command that went elsewhere is done. */
void client_command_done(client *cl);
/* Called on the client's thread when a squashed batch (pipeline.c) is done. */
void client_batch_done(client *cl);
/* Writes RESP for a protocol error and closes after replying. */
void client_protocol_error(client *cl, const char *msg);
/* On cl's thread, when CLIENT_REPL_TRANSFER ends (the snapshot writer is done with the
 * connection, and with its TLS state): input held meanwhile is processed. */
void client_repl_transfer_end(client *cl);
/* Describes the client in CLIENT LIST format. Runs on the owner's thread. */
void client_describe(client *cl, buf *out);
/* For a command proc running inline on cl's thread (not in EXEC or a script) whose reply comes
 * later: marks the command in flight. Returns the `muted` flag to hand to
 * client_deferred_reply (CLIENT REPLY OFF/SKIP applied to this command). */
int client_defer_reply(client *cl);
/* On cl's thread: the deferred reply is ready. Appends it (unless muted), closes the
 * connection after it when close_after is set, and resumes the pipeline. Frees cl if it was
 * closed meanwhile. */
void client_deferred_reply(client *cl, const char *reply, size_t len, int muted, int close_after);

#endif
