/* Process-wide state of dfly-server: configuration, the workers and their shards, counters.
 * Configuration is written at startup and by CONFIG SET (which runs while holding every shard);
 * workers read it without locks. */
#ifndef DFLY_SERVER_H
#define DFLY_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "flags.h"

#define DFLY_MAX_THREADS 256
#define DFLY_DEFAULT_PORT 6379

/* Redis's protocol limits (networking.c). */
#define PROTO_INLINE_MAX_SIZE (1024 * 64)
#define PROTO_MBULK_BIG_ARG (1024 * 32)
#define PROTO_MAX_MULTIBULK_LEN (1024 * 1024)

enum maxmemory_policy {
    MAXMEMORY_NOEVICTION = 0,
    MAXMEMORY_ALLKEYS_LRU,
    MAXMEMORY_ALLKEYS_LFU,
    MAXMEMORY_ALLKEYS_RANDOM,
    MAXMEMORY_VOLATILE_LRU,
    MAXMEMORY_VOLATILE_LFU,
    MAXMEMORY_VOLATILE_RANDOM,
    MAXMEMORY_VOLATILE_TTL,
};

struct server_config {
    long long port;
    char *bind;
    long long threads;
    long long maxmemory;
    char *maxmemory_policy;
    int cache_mode;
    long long maxmemory_samples;
    char *requirepass;
    char *dir;
    char *dbfilename;
    char *logfile;
    char *loglevel;
    int log_json;
    long long maxclients;
    long long timeout;
    long long databases;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long max_multibulk_len;
    long long tcp_keepalive;
    long long tcp_backlog;
    long long hz;
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    long long lfu_log_factor;
    long long lfu_decay_time;
    long long active_expire_effort;
    int active_expire_enabled; /* DEBUG SET-ACTIVE-EXPIRE */
    int protected_mode;
    long long latency_monitor_threshold; /* ms; 0 disables the latency monitor */
    long long busy_reply_threshold;      /* ms a script runs before others get BUSY */
    /* Persistence (snapshot.h, journal.h). */
    char *save;                         /* Redis's save points: "<seconds> <changes>"... */
    char *snapshot_cron;                /* cron expression of periodic snapshots, or "" */
    char *snapshot_encryption_key_file; /* AES-256 key for snapshot files at rest, or "" */
    int appendonly;
    char *appendfsync;
    char *appenddirname;
    char *appendfilename;
    int aof_load_truncated; /* cut a torn last journal record instead of refusing to start */
    char *notify_keyspace_events;
    char *client_output_buffer_limit; /* Redis's classes; pubsub.c enforces "pubsub" */
    /* Thresholds between the packed and the full encodings of collections. */
    long long list_max_listpack_size; /* > 0: entries per node; < 0: -1..-5 = 4..64 KiB */
    long long list_compress_depth;
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long set_max_intset_entries;
    long long set_max_listpack_entries;
    long long set_max_listpack_value;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    long long stream_node_max_bytes;
    long long stream_node_max_entries;
    long long hll_sparse_max_bytes;
    long long tracking_table_max_keys; /* client-side caching: keys remembered (0: no limit) */
    long long memcached_port;          /* 0: no memcached listener (memcache.h) */
    long long memcached_max_item_size; /* largest memcached value (memcached's -I) */
    /* Cluster mode (cluster.h) and the control plane's listener. */
    char *cluster_mode;        /* "no", "yes" or "emulated" */
    char *cluster_node_id;     /* "" : generated, kept in --dir */
    char *cluster_announce_ip; /* address CLUSTER SLOTS/SHARDS/NODES give in emulated mode */
    long long admin_port;      /* 0: no admin listener */
    char *admin_bind;
    /* Replication (replication.h). */
    char *replicaof;                    /* "<host> <port>" at start, or "" */
    char *masterauth;                   /* password for the master, or "" */
    char *masteruser;                   /* user for the master (ACL), or "" */
    long long repl_backlog_size;        /* bytes of the stream kept for partial resyncs */
    int replica_read_only;              /* a replica refuses writes from clients */
    long long min_replicas_to_write;    /* refuse writes with fewer good replicas (0: off) */
    long long min_replicas_max_lag;     /* seconds since a replica's last ack to count it good */
    long long repl_ping_replica_period; /* seconds between the master's PINGs in the stream */
    long long repl_timeout;             /* seconds of silence before a link is given up */
    /* TLS (tls.h): client listeners, replication link, certificates (reloadable). */
    int tls;                 /* client listeners speak TLS */
    char *tls_cert_file;     /* server certificate (PEM, chain allowed) */
    char *tls_key_file;      /* its private key */
    char *tls_key_file_pass; /* the key's passphrase, or "" */
    char *tls_ca_cert_file;  /* CAs that sign client (and master) certificates */
    char *tls_ca_cert_dir;   /* the same as a hashed directory */
    char *tls_crl_file;      /* CRLs checked for every certificate of a peer's chain, or "" */
    char *tls_auth_clients;  /* "yes", "no" or "optional": client certificates */
    char *tls_protocols;     /* e.g. "TLSv1.2 TLSv1.3"; "" : both */
    char *tls_ciphers;       /* TLSv1.2 cipher list, or "" */
    char *tls_ciphersuites;  /* TLSv1.3 suites, or "" */
    int tls_prefer_server_ciphers;
    int tls_replication;      /* a replica connects to its master with TLS */
    int tls_cluster;          /* slot migration connects to the target with TLS */
    int no_tls_on_admin_port; /* the admin listener stays plain text under --tls */

    /* ACL (acl.h). */
    char *aclfile;             /* users file (ACL SAVE/LOAD), or "" */
    long long acllog_max_len;  /* entries ACL LOG keeps */
    char *restricted_commands; /* commands only the admin port (or an explicit +cmd) may run */
    char *rename_command;      /* "OLD=NEW,..." renames (empty NEW: disabled) */
};

struct server {
    struct server_config cfg;
    enum maxmemory_policy policy;
    int nshards;
    int64_t start_ms; /* wall clock at startup */
    uint64_t start_mono_ms;
    char run_id[41];
    char *config_file; /* absolute path, or NULL */
    char executable[1024];
    atomic_int shutdown_asked;
    atomic_uint_fast64_t next_client_id;
    atomic_uint_fast64_t next_txid;
    _Atomic int64_t lastsave;
    atomic_int loading;    /* the dataset is being loaded: -LOADING for most commands */
    atomic_uint lru_clock; /* seconds, 23 bits, updated by the timer */
    atomic_int clients_paused_until_type; /* CLIENT PAUSE: 0 none, 1 write, 2 all */
    _Atomic int64_t clients_paused_until_ms;
};

extern struct server server;
extern const flag_def server_flags[];

/* SHUTDOWN's options, in server.shutdown_asked together with SHUTDOWN_ASKED. */
enum {
    SHUTDOWN_ASKED = 1 << 0,
    SHUTDOWN_NOSAVE = 1 << 1, /* do not snapshot on the way out */
    SHUTDOWN_SAVE = 1 << 2,   /* snapshot even when no save point is configured */
};
/* Asks the main thread to stop the server with SHUTDOWN_* options. Any thread. */
void server_request_shutdown(int flags);
/* How server_request_shutdown wakes the main thread; main.c sets it at startup. */
void server_set_shutdown_notify(void (*notify)(void));

/* Applies derived settings after flags change (policy enum...). Returns 0 or -1 with err. */
int server_config_apply(char *err, size_t errlen);
int maxmemory_policy_parse(const char *s, enum maxmemory_policy *out);

#endif
