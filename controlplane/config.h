/* dfly-control's flags: one table (config.c), read by flags_init from defaults, a config file,
 * DFLY_CONTROL_* environment variables and the command line, then checked and resolved into
 * the derived fields below (absolute data directory, listen address, port range). */
#ifndef DFLY_CONTROL_CONFIG_H
#define DFLY_CONTROL_CONFIG_H

#include <limits.h>

#include "flags.h"

#define CONTROL_ENV_PREFIX "DFLY_CONTROL_"
#define CONTROL_HOST_MAX 256

typedef struct control_config {
    /* flags */
    char *listen;        /* host:port of the REST API */
    char *data_dir;      /* SQLite database, tokens, instances' files */
    char *port_range;    /* "min-max": ports given to data-plane nodes */
    char *server_binary; /* dfly-server; "" finds it beside dfly-control */
    char *tls_cert_file, *tls_key_file;
    char *log_format; /* text | json */
    char *logfile, *loglevel;
    char *provisioner; /* local */
    char *node_host;   /* where nodes listen and what clients are told */
    long long node_threads;
    long long http_threads;
    long long http_connection_limit;
    long long http_timeout_s;
    long long max_body_bytes;
    long long rate_limit; /* requests per second per token */
    long long rate_burst;
    long long stop_grace_ms;
    long long restart_backoff_min_ms, restart_backoff_max_ms;
    long long reconcile_interval_ms;
    long long node_start_timeout_ms;
    long long create_max_attempts;
    long long node_call_timeout_ms;
    /* failover and backups (issue 15) */
    long long failover_timeout_ms;      /* a master down this long is replaced by a replica */
    long long health_check_interval_ms; /* how often masters with replicas are asked */
    long long takeover_timeout_s;       /* REPLTAKEOVER's wait in a planned failover */
    char *backup_dir;                   /* the local backup store; "" is <data-dir>/backups */
    char *backup_store;                 /* local | s3 */
    char *backup_s3_endpoint, *backup_s3_bucket, *backup_s3_prefix, *backup_s3_region;
    long long backup_max_attempts; /* a failing backup is tried this often */
    long long backup_retry_delay_ms;
    long long schedule_hour_ms; /* an "hour" of every_hours and max_age_hours (tests shorten it) */
    /* the web console (issue 16) */
    char *web_dir; /* files served at /; "" finds web/ (http/static.c) */
    /* metrics aggregation (issue 14, controlplane/metrics/) */
    long long scrape_interval_ms; /* how often every node's INFO is read */
    /* TLS certificates (issue 14, controlplane/pki/) */
    long long cert_lifetime_s; /* of the certificates the internal CA issues to instances */
    char *cert_renew_share;    /* renew when less than this share of the lifetime is left */
    int tls_auto;              /* serve HTTPS with a certificate from the internal CA */

    /* derived by config_resolve */
    char data_dir_abs[PATH_MAX];
    char listen_host[CONTROL_HOST_MAX];
    int listen_port;
    int port_min, port_max;
    char server_binary_abs[PATH_MAX];
    char backup_dir_abs[PATH_MAX];
    int log_json;
    double cert_renew_share_value; /* --cert-renew-share, parsed */
} control_config;

extern control_config ctl_cfg;
extern const flag_def control_flags[];

/* Parses argv (flags_init) and resolves the derived fields; creates the data directory.
 * Returns FLAGS_OK, FLAGS_HELP, FLAGS_VERSION or FLAGS_ERROR with err set. */
int config_init(int argc, char **argv, char *err, size_t errlen);
void config_free(void);

/* "host:port" or "[v6]:port" into parts. Returns 0 or -1. */
int config_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
