/* dfly-control's flag table and the checks that turn flags into a usable configuration. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define C(f) &ctl_cfg.f
#define PORT_MAX 65535
#define DATA_DIR_MODE 0700

control_config ctl_cfg;

const flag_def control_flags[] = {
    {"listen", FLAG_STR, C(listen), "127.0.0.1:8080", "address of the REST API (host:port)"},
    {"data_dir", FLAG_STR, C(data_dir), "./var",
     "state: SQLite database, operator token, instances' files"},
    {"port_range", FLAG_STR, C(port_range), "17000-17999",
     "ports given to data-plane nodes (each node takes two: client and admin)"},
    {"server_binary", FLAG_STR, C(server_binary), "",
     "dfly-server to run (empty: beside dfly-control, then ../dataplane/, then PATH)"},
    {"tls_cert_file", FLAG_STR, C(tls_cert_file), "", "PEM certificate: serve HTTPS"},
    {"tls_key_file", FLAG_STR, C(tls_key_file), "", "PEM private key of --tls-cert-file"},
    {"log_format", FLAG_STR, C(log_format), "text", "text or json (JSON lines)"},
    {"logfile", FLAG_STR, C(logfile), "", "log file (empty: standard error)"},
    {"loglevel", FLAG_STR, C(loglevel), "info", "debug, info, warning or error"},
    {"provisioner", FLAG_STR, C(provisioner), "local",
     "where nodes run: local (child processes on this host)"},
    {"node_host", FLAG_STR, C(node_host), "127.0.0.1",
     "address nodes listen on and clients are given"},
    {"node_threads", FLAG_INT, C(node_threads), "1", "--threads of every dfly-server node", 1, 256},
    {"http_threads", FLAG_INT, C(http_threads), "4", "threads serving the REST API", 1, 256},
    {"http_connection_limit", FLAG_INT, C(http_connection_limit), "1024",
     "concurrent API connections", 1, 1000000},
    {"http_timeout", FLAG_INT, C(http_timeout_s), "30", "seconds an idle API connection is kept", 1,
     3600},
    {"max_body_bytes", FLAG_BYTES, C(max_body_bytes), "64kb",
     "largest request body accepted (413 beyond)", 1, 1LL << 30},
    {"rate_limit", FLAG_INT, C(rate_limit), "50",
     "API requests per second per token (429 beyond; 0: unlimited)", 0, 1000000},
    {"rate_burst", FLAG_INT, C(rate_burst), "100", "requests a token may send at once", 1,
     10000000},
    {"stop_grace_period", FLAG_INT, C(stop_grace_ms), "10000",
     "milliseconds between SIGTERM and SIGKILL when a node stops", 0, 3600000},
    {"restart_backoff_min", FLAG_INT, C(restart_backoff_min_ms), "500",
     "milliseconds before the first restart of a node that exited", 0, 3600000},
    {"restart_backoff_max", FLAG_INT, C(restart_backoff_max_ms), "30000",
     "longest wait between restarts of a node that keeps exiting", 0, 86400000},
    {"reconcile_interval", FLAG_INT, C(reconcile_interval_ms), "500",
     "milliseconds between reconciler passes (changes wake it at once)", 10, 60000},
    {"node_start_timeout", FLAG_INT, C(node_start_timeout_ms), "30000",
     "milliseconds a started node has to answer before it is restarted", 100, 3600000},
    {"create_max_attempts", FLAG_INT, C(create_max_attempts), "5",
     "starts of a node of a new instance that may fail before the instance is failed", 1, 1000},
    {"node_call_timeout", FLAG_INT, C(node_call_timeout_ms), "2000",
     "milliseconds one command to a node may take", 10, 600000},
    /* failover and backups (issue 15) */
    {"failover_timeout", FLAG_INT, C(failover_timeout_ms), "5000",
     "milliseconds a master with replicas may be down before its best replica is promoted", 100,
     3600000},
    {"health_check_interval", FLAG_INT, C(health_check_interval_ms), "1000",
     "milliseconds between health checks (INFO replication) of masters that have replicas", 50,
     600000},
    {"takeover_timeout", FLAG_INT, C(takeover_timeout_s), "10",
     "seconds a replica has to catch up in a planned failover (REPLTAKEOVER)", 1, 600},
    {"backup_dir", FLAG_STR, C(backup_dir), "",
     "the local backup store (empty: <data-dir>/backups)"},
    {"backup_store", FLAG_STR, C(backup_store), "local",
     "where backups go: local (--backup-dir) or s3 (credentials from AWS_ACCESS_KEY_ID and "
     "AWS_SECRET_ACCESS_KEY)"},
    {"backup_s3_endpoint", FLAG_STR, C(backup_s3_endpoint), "",
     "S3-compatible endpoint, http(s)://host[:port] (path-style requests)"},
    {"backup_s3_bucket", FLAG_STR, C(backup_s3_bucket), "", "the bucket of the s3 store"},
    {"backup_s3_prefix", FLAG_STR, C(backup_s3_prefix), "", "key prefix in the bucket"},
    {"backup_s3_region", FLAG_STR, C(backup_s3_region), "us-east-1", "region of the signatures"},
    {"backup_max_attempts", FLAG_INT, C(backup_max_attempts), "3",
     "attempts of a backup before it is failed", 1, 100},
    {"backup_retry_delay", FLAG_INT, C(backup_retry_delay_ms), "5000",
     "milliseconds between attempts of a failing backup", 0, 3600000},
    {"schedule_hour", FLAG_INT, C(schedule_hour_ms), "3600000",
     "milliseconds of an hour in every_hours schedules and max_age_hours retention (for tests)",
     100, 3600000},
    /* the web console (issue 16, controlplane/http/static.c) */
    {"web_dir", FLAG_STR, C(web_dir), "",
     "the web console's files, served at / (empty: an installed share/dfly/web, else the source "
     "tree's web/)"},
    /* metrics aggregation (issue 14, controlplane/metrics/) */
    {"scrape_interval", FLAG_INT, C(scrape_interval_ms), "10000",
     "milliseconds between scrapes of every node's INFO for the metrics API", 100, 3600000},
    /* TLS certificates (issue 14, controlplane/pki/) */
    {"cert_lifetime", FLAG_INT, C(cert_lifetime_s), "7776000",
     "seconds an instance's server certificate is valid (90 days)", 1, 3650LL * 86400},
    {"cert_renew_share", FLAG_STR, C(cert_renew_share), "0.33",
     "renew a certificate when less than this share of its lifetime is left (0 < share < 1)"},
    {"tls_auto", FLAG_BOOL, C(tls_auto), "no",
     "serve HTTPS with a certificate from the internal CA (written to the data directory)"},
    {NULL},
};

int config_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    long long p;
    if (flags_parse_int(colon + 1, &p) < 0 || p < 0 || p > PORT_MAX)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static int parse_port_range(char *err, size_t errlen)
{
    int lo, hi, n = 0;
    if (sscanf(ctl_cfg.port_range, "%d-%d%n", &lo, &hi, &n) != 2 || ctl_cfg.port_range[n] != '\0' ||
        lo < 1 || hi > PORT_MAX || lo > hi) {
        snprintf(err, errlen, "--port-range must be MIN-MAX within 1-65535, got '%s'",
                 ctl_cfg.port_range);
        return -1;
    }
    if (hi - lo + 1 < 2) {
        snprintf(err, errlen, "--port-range must hold at least two ports (a node takes two)");
        return -1;
    }
    ctl_cfg.port_min = lo;
    ctl_cfg.port_max = hi;
    return 0;
}

/* mkdir -p with mode for each level it creates. */
static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int resolve_data_dir(char *err, size_t errlen)
{
    int rc = mkdir_p(ctl_cfg.data_dir, DATA_DIR_MODE);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create --data-dir %s: %s", ctl_cfg.data_dir, strerror(-rc));
        return -1;
    }
    if (!realpath(ctl_cfg.data_dir, ctl_cfg.data_dir_abs)) {
        snprintf(err, errlen, "--data-dir %s: %s", ctl_cfg.data_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The backup store: --backup-dir, or backups/ in the data directory. */
static int resolve_backup_dir(char *err, size_t errlen)
{
    char dir[PATH_MAX];
    if (*ctl_cfg.backup_dir)
        snprintf(dir, sizeof(dir), "%s", ctl_cfg.backup_dir);
    else if (snprintf(dir, sizeof(dir), "%s/backups", ctl_cfg.data_dir_abs) >= (int)sizeof(dir))
        dir[0] = '\0';
    int rc = dir[0] ? mkdir_p(dir, DATA_DIR_MODE) : -ENAMETOOLONG;
    if (rc < 0 || !realpath(dir, ctl_cfg.backup_dir_abs)) {
        snprintf(err, errlen, "cannot create --backup-dir %s: %s", dir,
                 strerror(rc < 0 ? -rc : errno));
        return -1;
    }
    return 0;
}

static int executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* The server binary: the flag, else beside our own executable (an install), else the build
 * tree's ../dataplane/, else the first dfly-server on PATH. */
static int resolve_server_binary(char *err, size_t errlen)
{
    char *out = ctl_cfg.server_binary_abs;
    if (*ctl_cfg.server_binary) {
        if (!realpath(ctl_cfg.server_binary, out) || !executable(out)) {
            snprintf(err, errlen, "--server-binary %s is not an executable file",
                     ctl_cfg.server_binary);
            return -1;
        }
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"/dfly-server", "/../dataplane/dfly-server"};
            for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
                char cand[PATH_MAX];
                if (snprintf(cand, sizeof(cand), "%s%s", self, rel[i]) < (int)sizeof(cand) &&
                    executable(cand) && realpath(cand, out))
                    return 0;
            }
        }
    }
    const char *path = getenv("PATH");
    if (path) {
        char *copy = strdup(path), *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            char cand[PATH_MAX];
            if (snprintf(cand, sizeof(cand), "%s/dfly-server", dir) < (int)sizeof(cand) &&
                executable(cand) && realpath(cand, out)) {
                free(copy);
                return 0;
            }
        }
        free(copy);
    }
    snprintf(err, errlen, "dfly-server not found: give --server-binary");
    return -1;
}

/* TLS certificates (issue 14): the renewal share, and --tls-auto without a certificate of its
 * own. */
static int check_pki(char *err, size_t errlen)
{
    char *end = NULL;
    double share = strtod(ctl_cfg.cert_renew_share, &end);
    if (end == ctl_cfg.cert_renew_share || *end || !(share > 0 && share < 1)) {
        snprintf(err, errlen, "--cert-renew-share must be a number between 0 and 1, got '%s'",
                 ctl_cfg.cert_renew_share);
        return -1;
    }
    ctl_cfg.cert_renew_share_value = share;
    if (ctl_cfg.tls_auto && *ctl_cfg.tls_cert_file) {
        snprintf(err, errlen, "--tls-auto and --tls-cert-file exclude each other");
        return -1;
    }
    return 0;
}

static int check_values(char *err, size_t errlen)
{
    if (config_parse_hostport(ctl_cfg.listen, ctl_cfg.listen_host, sizeof(ctl_cfg.listen_host),
                              &ctl_cfg.listen_port) < 0) {
        snprintf(err, errlen, "--listen must be HOST:PORT, got '%s'", ctl_cfg.listen);
        return -1;
    }
    if (strcmp(ctl_cfg.log_format, "text") && strcmp(ctl_cfg.log_format, "json")) {
        snprintf(err, errlen, "--log-format must be text or json, got '%s'", ctl_cfg.log_format);
        return -1;
    }
    ctl_cfg.log_json = !strcmp(ctl_cfg.log_format, "json");
    if (!*ctl_cfg.tls_cert_file != !*ctl_cfg.tls_key_file) {
        snprintf(err, errlen, "--tls-cert-file and --tls-key-file go together");
        return -1;
    }
    if (strcmp(ctl_cfg.provisioner, "local")) {
        snprintf(err, errlen, "--provisioner must be local, got '%s'", ctl_cfg.provisioner);
        return -1;
    }
    if (strcmp(ctl_cfg.backup_store, "local") && strcmp(ctl_cfg.backup_store, "s3")) {
        snprintf(err, errlen, "--backup-store must be local or s3, got '%s'", ctl_cfg.backup_store);
        return -1;
    }
    if (!*ctl_cfg.node_host || strlen(ctl_cfg.node_host) >= CONTROL_HOST_MAX) {
        snprintf(err, errlen, "--node-host must be an address");
        return -1;
    }
    if (ctl_cfg.restart_backoff_max_ms < ctl_cfg.restart_backoff_min_ms) {
        snprintf(err, errlen, "--restart-backoff-max must not be below --restart-backoff-min");
        return -1;
    }
    if (check_pki(err, errlen) < 0)
        return -1;
    return parse_port_range(err, errlen);
}

int config_init(int argc, char **argv, char *err, size_t errlen)
{
    int rc = flags_init(control_flags, argc, argv, CONTROL_ENV_PREFIX, err, errlen);
    if (rc != FLAGS_OK)
        return rc;
    if (check_values(err, errlen) < 0 || resolve_data_dir(err, errlen) < 0 ||
        resolve_backup_dir(err, errlen) < 0 || resolve_server_binary(err, errlen) < 0)
        return FLAGS_ERROR;
    return FLAGS_OK;
}

void config_free(void)
{
    flags_free(control_flags);
}
