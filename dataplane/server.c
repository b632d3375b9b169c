/* dfly-server's flags (also its CONFIG parameters) and derived settings. */
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cluster.h" /* cluster_mode_parse */
#include "cron.h"
#include "loading.h" /* loading_key_load_delay */
#include "pubsub.h"  /* OBUF_LIMIT_DEFAULT */

struct server server;

#define C(f) (&server.cfg.f)

/* Names follow Redis's config names with '_' for '-'; both spellings are accepted. */
const flag_def server_flags[] = {
    {"port", FLAG_INT, C(port), "6379", "TCP port for RESP and HTTP", 0, 65535},
    {"bind", FLAG_STR, C(bind), "127.0.0.1", "addresses to listen on, separated by spaces"},
    {"threads", FLAG_INT, C(threads), "0", "worker threads, each owning one shard (0: one per CPU)",
     0, 256},
    {"maxmemory", FLAG_BYTES, C(maxmemory), "0", "memory limit for data, e.g. 4gb (0: none)"},
    {"maxmemory_policy", FLAG_STR, C(maxmemory_policy), "noeviction",
     "noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, "
     "volatile-random or volatile-ttl"},
    {"cache_mode", FLAG_BOOL, C(cache_mode), "no",
     "evict least recently used keys at maxmemory (sets allkeys-lru)"},
    {"maxmemory_samples", FLAG_INT, C(maxmemory_samples), "5", "keys sampled per eviction", 1, 64},
    {"requirepass", FLAG_STR, C(requirepass), "", "password clients must AUTH with"},
    {"dir", FLAG_STR, C(dir), ".", "working directory for snapshots"},
    {"dbfilename", FLAG_STR, C(dbfilename), "dump.rdb", "snapshot file name"},
    {"logfile", FLAG_STR, C(logfile), "", "log file (empty: standard error)"},
    {"loglevel", FLAG_STR, C(loglevel), "notice", "debug, verbose, notice or warning"},
    {"log_json", FLAG_BOOL, C(log_json), "no", "write logs as JSON lines"},
    {"maxclients", FLAG_INT, C(maxclients), "10000", "maximum connected clients", 1, 1000000},
    {"timeout", FLAG_INT, C(timeout), "0", "close clients idle this many seconds (0: never)", 0,
     31536000},
    {"databases", FLAG_INT, C(databases), "16", "number of databases", 1, 1024},
    {"proto_max_bulk_len", FLAG_BYTES, C(proto_max_bulk_len), "512mb",
     "largest bulk string a client may send", 1024, 1LL << 40},
    {"client_query_buffer_limit", FLAG_BYTES, C(client_query_buffer_limit), "1gb",
     "unprocessed input a client may have buffered", 1024, 1LL << 40},
    {"max_multibulk_len", FLAG_INT, C(max_multibulk_len), "1048576",
     "most arguments one command may have", 1, 1LL << 31},
    {"tcp_keepalive", FLAG_INT, C(tcp_keepalive), "300", "TCP keepalive seconds (0: off)", 0, 7200},
    {"tcp_backlog", FLAG_INT, C(tcp_backlog), "511", "listen backlog", 1, 65535},
    {"hz", FLAG_INT, C(hz), "10", "background task frequency per second", 1, 500},
    {"slowlog_log_slower_than", FLAG_INT, C(slowlog_log_slower_than), "10000",
     "log commands slower than this many microseconds (-1: never)", -1, 1LL << 40},
    {"slowlog_max_len", FLAG_INT, C(slowlog_max_len), "128", "slow log entries kept", 0, 1LL << 31},
    {"lfu_log_factor", FLAG_INT, C(lfu_log_factor), "10", "LFU counter logarithm factor", 0,
     1000000},
    {"lfu_decay_time", FLAG_INT, C(lfu_decay_time), "1", "LFU decay period in minutes", 0, 1000000},
    {"active_expire_effort", FLAG_INT, C(active_expire_effort), "1",
     "active expiry effort, 1 to 10", 1, 10},
    {"active_expire_enabled", FLAG_BOOL, C(active_expire_enabled), "yes",
     "delete expired keys in the background"},
    {"protected_mode", FLAG_BOOL, C(protected_mode), "yes",
     "without a password, accept connections from the loopback interface only"},
    {"latency_monitor_threshold", FLAG_INT, C(latency_monitor_threshold), "0",
     "record latency events of at least this many milliseconds (0: off)", 0, 1LL << 40},
    {"busy_reply_threshold", FLAG_INT, C(busy_reply_threshold), "5000",
     "ms a script may run before other clients get BUSY (0: never)", 0, 1LL << 40},
    {"lua_time_limit", FLAG_INT, C(busy_reply_threshold), "5000", "alias of busy-reply-threshold",
     0, 1LL << 40},
    {"save", FLAG_STR, C(save), "",
     "save points: snapshot after <seconds> when at least <changes> writes happened, pairs"},
    {"snapshot_cron", FLAG_STR, C(snapshot_cron), "",
     "cron expression (5 fields, UTC) of periodic snapshots, e.g. \"*/5 * * * *\""},
    {"snapshot_encryption_key_file", FLAG_STR, C(snapshot_encryption_key_file), "",
     "file with a 256-bit key (32 bytes or 64 hex digits): encrypt snapshots with AES-256-GCM"},
    {"appendonly", FLAG_BOOL, C(appendonly), "no", "keep an append-only journal of writes"},
    {"appendfsync", FLAG_STR, C(appendfsync), "everysec",
     "journal fsync policy: always, everysec or no"},
    {"appenddirname", FLAG_STR, C(appenddirname), "appendonlydir",
     "directory of the journal's files, inside --dir"},
    {"appendfilename", FLAG_STR, C(appendfilename), "appendonly.aof",
     "base name of the journal's files"},
    {"aof_load_truncated", FLAG_BOOL, C(aof_load_truncated), "yes",
     "at start, cut a journal whose last record is torn (else refuse to start)"},
    {"key_load_delay", FLAG_INT, &loading_key_load_delay, "0",
     "testing aid: microseconds to sleep per key loaded at start, to make loading last", 0,
     1000000},
    {"notify_keyspace_events", FLAG_STR, C(notify_keyspace_events), "",
     "keyspace notification classes, Redis's letters (K E g $ l s h z x e t m d n A)"},
    {"client_output_buffer_limit", FLAG_STR, C(client_output_buffer_limit), OBUF_LIMIT_DEFAULT,
     "output limits per client class: <class> <hard> <soft> <soft seconds>..."},
    {"list_max_listpack_size", FLAG_INT, C(list_max_listpack_size), "-2",
     "list node size: entries if positive, -1..-5 for 4..64 KiB", -5, 1LL << 31},
    {"list_max_ziplist_size", FLAG_INT, C(list_max_listpack_size), "-2",
     "alias of list-max-listpack-size", -5, 1LL << 31},
    {"list_compress_depth", FLAG_INT, C(list_compress_depth), "0",
     "accepted for compatibility: list nodes are not compressed", 0, 1LL << 31},
    {"hash_max_listpack_entries", FLAG_INT, C(hash_max_listpack_entries), "512",
     "hashes with more fields use a hash table", 0, 1LL << 31},
    {"hash_max_listpack_value", FLAG_INT, C(hash_max_listpack_value), "64",
     "hashes with a longer field or value use a hash table", 0, 1LL << 31},
    {"hash_max_ziplist_entries", FLAG_INT, C(hash_max_listpack_entries), "512",
     "alias of hash-max-listpack-entries", 0, 1LL << 31},
    {"hash_max_ziplist_value", FLAG_INT, C(hash_max_listpack_value), "64",
     "alias of hash-max-listpack-value", 0, 1LL << 31},
    {"set_max_intset_entries", FLAG_INT, C(set_max_intset_entries), "512",
     "integer sets with more members use a hash table", 0, 1LL << 31},
    {"set_max_listpack_entries", FLAG_INT, C(set_max_listpack_entries), "128",
     "sets with more members use a hash table", 0, 1LL << 31},
    {"set_max_listpack_value", FLAG_INT, C(set_max_listpack_value), "64",
     "sets with a longer member use a hash table", 0, 1LL << 31},
    {"zset_max_listpack_entries", FLAG_INT, C(zset_max_listpack_entries), "128",
     "sorted sets with more members use a skiplist", 0, 1LL << 31},
    {"zset_max_listpack_value", FLAG_INT, C(zset_max_listpack_value), "64",
     "sorted sets with a longer member use a skiplist", 0, 1LL << 31},
    {"zset_max_ziplist_entries", FLAG_INT, C(zset_max_listpack_entries), "128",
     "alias of zset-max-listpack-entries", 0, 1LL << 31},
    {"zset_max_ziplist_value", FLAG_INT, C(zset_max_listpack_value), "64",
     "alias of zset-max-listpack-value", 0, 1LL << 31},
    {"stream_node_max_bytes", FLAG_BYTES, C(stream_node_max_bytes), "4096",
     "largest stream node in bytes (0: no limit)", 0, 1LL << 31},
    {"stream_node_max_entries", FLAG_INT, C(stream_node_max_entries), "100",
     "most entries in a stream node (0: no limit)", 0, 1LL << 31},
    {"hll_sparse_max_bytes", FLAG_BYTES, C(hll_sparse_max_bytes), "3000",
     "HyperLogLogs larger than this use the dense representation", 0, 1LL << 31},
    {"tracking_table_max_keys", FLAG_INT, C(tracking_table_max_keys), "1000000",
     "keys remembered for client-side caching (0: no limit)", 0, 1LL << 40},
    {"cluster_mode", FLAG_STR, C(cluster_mode), "no",
     "cluster mode: no, yes (slots pushed by DFLYCLUSTER CONFIG) or emulated (one node owning "
     "every slot)"},
    {"cluster_node_id", FLAG_STR, C(cluster_node_id), "",
     "this node's id in the cluster configuration (default: generated once, kept in --dir)"},
    {"cluster_announce_ip", FLAG_STR, C(cluster_announce_ip), "",
     "address CLUSTER SLOTS/SHARDS/NODES announce in emulated mode (default: the one the "
     "client connected to)"},
    {"memcached_port", FLAG_INT, C(memcached_port), "0",
     "port of the memcached listener (text, meta and binary protocols; 0: none)", 0, 65535},
    {"memcached_max_item_size", FLAG_BYTES, C(memcached_max_item_size), "1mb",
     "largest memcached value accepted (memcached's -I)", 1024, 1LL << 30},
    {"admin_port", FLAG_INT, C(admin_port), "0",
     "port of the admin listener for control-plane commands such as DFLYCLUSTER (0: none)", 0,
     65535},
    {"admin_bind", FLAG_STR, C(admin_bind), "127.0.0.1",
     "addresses of the admin listener, separated by spaces"},
    {"replicaof", FLAG_STR, C(replicaof), "",
     "\"<host> <port>\": start as a replica of that master (REPLICAOF)"},
    {"masterauth", FLAG_STR, C(masterauth), "", "password to authenticate to the master with"},
    {"masteruser", FLAG_STR, C(masteruser), "", "user to authenticate to the master as"},
    {"repl_backlog_size", FLAG_BYTES, C(repl_backlog_size), "1mb",
     "replication stream kept for replicas that reconnect (partial resync)", 16384, 1LL << 40},
    {"replica_read_only", FLAG_BOOL, C(replica_read_only), "yes",
     "a replica refuses writes from its clients"},
    {"slave_read_only", FLAG_BOOL, C(replica_read_only), "yes", "alias of replica-read-only"},
    {"min_replicas_to_write", FLAG_INT, C(min_replicas_to_write), "0",
     "refuse writes while fewer replicas acknowledge within min-replicas-max-lag (0: off)", 0,
     1LL << 31},
    {"min_replicas_max_lag", FLAG_INT, C(min_replicas_max_lag), "10",
     "seconds since a replica's last acknowledgement for it to count for min-replicas-to-write", 0,
     1LL << 31},
    {"repl_ping_replica_period", FLAG_INT, C(repl_ping_replica_period), "10",
     "seconds between the PINGs a master sends its replicas", 1, 1LL << 31},
    {"repl_timeout", FLAG_INT, C(repl_timeout), "60",
     "seconds without traffic after which a replication link is given up", 1, 1LL << 31},
    /* TLS (tls.h). */
    {"tls", FLAG_BOOL, C(tls), "no",
     "TLS on the client listeners (main, memcached and admin ports; see no_tls_on_admin_port)"},
    {"tls_cert_file", FLAG_STR, C(tls_cert_file), "", "server certificate file (PEM)"},
    {"tls_key_file", FLAG_STR, C(tls_key_file), "", "private key file of the certificate (PEM)"},
    {"tls_key_file_pass", FLAG_STR, C(tls_key_file_pass), "",
     "passphrase of the private key, if it is encrypted"},
    {"tls_ca_cert_file", FLAG_STR, C(tls_ca_cert_file), "",
     "CA certificates that client and master certificates must chain to (PEM)"},
    {"tls_ca_cert_dir", FLAG_STR, C(tls_ca_cert_dir), "",
     "directory of CA certificates (c_rehash layout)"},
    {"tls_crl_file", FLAG_STR, C(tls_crl_file), "",
     "CRLs (PEM) of the CAs: revoked client and master certificates are refused"},
    {"tls_auth_clients", FLAG_STR, C(tls_auth_clients), "yes",
     "client certificates: yes (required), no, or optional (verified when sent)"},
    {"tls_protocols", FLAG_STR, C(tls_protocols), "",
     "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\" (default: both)"},
    {"tls_ciphers", FLAG_STR, C(tls_ciphers), "", "TLSv1.2 cipher list (OpenSSL syntax)"},
    {"tls_ciphersuites", FLAG_STR, C(tls_ciphersuites), "", "TLSv1.3 cipher suites"},
    {"tls_prefer_server_ciphers", FLAG_BOOL, C(tls_prefer_server_ciphers), "no",
     "choose the cipher by the server's preference rather than the client's"},
    {"tls_replication", FLAG_BOOL, C(tls_replication), "no",
     "connect to the master with TLS (REPLICAOF)"},
    {"tls_cluster", FLAG_BOOL, C(tls_cluster), "no",
     "connect to a slot migration's target (its admin port) with TLS"},
    {"no_tls_on_admin_port", FLAG_BOOL, C(no_tls_on_admin_port), "no",
     "keep the admin listener plain text when --tls is set"},
    /* ACL (acl.h). */
    {"aclfile", FLAG_STR, C(aclfile), "", "file of ACL users (ACL SAVE / ACL LOAD)"},
    {"acllog_max_len", FLAG_INT, C(acllog_max_len), "128", "entries ACL LOG keeps", 0, 1LL << 31},
    {"restricted_commands", FLAG_STR, C(restricted_commands), "",
     "commands (comma separated) that run only on the admin port or for users allowed them by "
     "name (+cmd)"},
    {"rename_command", FLAG_STR, C(rename_command), "",
     "OLD=NEW pairs (comma separated) renaming commands; an empty NEW disables OLD"},
    {NULL},
};

static const char *policy_names[] = {
    "noeviction",   "allkeys-lru",  "allkeys-lfu",     "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
};

int maxmemory_policy_parse(const char *s, enum maxmemory_policy *out)
{
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
        if (!strcasecmp(s, policy_names[i])) {
            *out = (enum maxmemory_policy)i;
            return 0;
        }
    }
    return -1;
}

static void (*shutdown_notify)(void);

void server_set_shutdown_notify(void (*notify)(void))
{
    shutdown_notify = notify;
}

void server_request_shutdown(int flags)
{
    atomic_fetch_or(&server.shutdown_asked, SHUTDOWN_ASKED | flags);
    if (shutdown_notify)
        shutdown_notify();
}

int server_config_apply(char *err, size_t errlen)
{
    enum maxmemory_policy p;
    if (maxmemory_policy_parse(server.cfg.maxmemory_policy, &p)) {
        snprintf(err, errlen, "invalid maxmemory-policy '%s'", server.cfg.maxmemory_policy);
        return -1;
    }
    server.policy = p;
    if (server.cfg.cache_mode && server.policy == MAXMEMORY_NOEVICTION)
        server.policy = MAXMEMORY_ALLKEYS_LRU;
    int mode;
    if (cluster_mode_parse(server.cfg.cluster_mode, &mode) < 0) {
        snprintf(err, errlen, "invalid --cluster_mode '%s': no, yes or emulated",
                 server.cfg.cluster_mode);
        return -1;
    }
    if (server.cfg.memcached_port && (server.cfg.memcached_port == server.cfg.port ||
                                      server.cfg.memcached_port == server.cfg.admin_port)) {
        snprintf(err, errlen, "--memcached_port must differ from --port and --admin_port");
        return -1;
    }
    if (server.cfg.admin_port && server.cfg.admin_port == server.cfg.port) {
        snprintf(err, errlen, "--admin_port must differ from --port");
        return -1;
    }
    if (server.cfg.snapshot_cron && *server.cfg.snapshot_cron) {
        cron_expr e;
        char why[FLAGS_ERR_MAX];
        if (cron_parse(server.cfg.snapshot_cron, &e, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "invalid --snapshot_cron '%s': %s", server.cfg.snapshot_cron,
                     why);
            return -1;
        }
    }
    return 0;
}
