/* dfly-control: the control-plane daemon. Start-up order: flags, log, data directory, the
 * database and its migrations, secrets, the operator token, the reconciler (which adopts
 * running nodes before its first pass), then the REST API. SIGTERM or SIGINT stops the API and
 * the reconciler; nodes keep running and the next start adopts them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "auth/auth.h"
#include "auth/ratelimit.h"
#include "auth/secret.h"
#include "backup/bstore.h"
#include "config.h"
#include "db.h"
#include "http/router.h"
#include "http/server.h"
#include "log.h"
#include "metrics/scraper.h"
#include "pki/ca.h"
#include "reconciler/reconciler.h"

#define ERR_MAX 512
#define EXIT_USAGE 2
#define PRIVATE_UMASK 077

static uv_loop_t main_loop;
static uv_signal_t sig_term, sig_int;

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_info("received %s, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_stop(&main_loop);
}

static int open_log(void)
{
    enum log_level level;
    if (log_level_parse(ctl_cfg.loglevel, &level) < 0) {
        fprintf(stderr, "dfly-control: --loglevel must be debug, info, warning or error\n");
        return -1;
    }
    int rc = log_open("dfly-control", ctl_cfg.logfile, level, ctl_cfg.log_json);
    if (rc < 0) {
        fprintf(stderr, "dfly-control: cannot open --logfile %s: %s\n", ctl_cfg.logfile,
                strerror(-rc));
        return -1;
    }
    return 0;
}

/* Everything before serving: returns 0, or -1 after logging why. */
static int start(void)
{
    char err[ERR_MAX], path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", ctl_cfg.data_dir_abs, DB_FILE_NAME);
    if (db_open(path, err, sizeof(err)) < 0 ||
        secret_init(ctl_cfg.data_dir_abs, err, sizeof(err)) < 0 ||
        pki_init(ctl_cfg.data_dir_abs, err, sizeof(err)) < 0 ||
        pki_tls_auto(err, sizeof(err)) < 0 ||
        auth_bootstrap(ctl_cfg.data_dir_abs, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    log_info("database %s (schema version %d)", path, db_schema_version());
    ratelimit_configure(ctl_cfg.rate_limit, ctl_cfg.rate_burst);
    if (bstore_init(err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    log_info("backup store: %s", !strcmp(ctl_cfg.backup_store, "s3") ? ctl_cfg.backup_s3_endpoint
                                                                     : ctl_cfg.backup_dir_abs);
    if (reconciler_start(err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    router_on_change = reconciler_wake;
    if (scraper_start(err, sizeof(err)) < 0) {
        log_error("%s", err);
        reconciler_stop();
        return -1;
    }
    if (http_server_start(err, sizeof(err)) < 0) {
        log_error("%s", err);
        scraper_stop();
        reconciler_stop();
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[ERR_MAX];
    int rc = config_init(argc, argv, err, sizeof(err));
    if (rc == FLAGS_HELP) {
        flags_print_help(control_flags, stdout, "dfly-control [config-file] [--flag value ...]");
        config_free();
        return 0;
    }
    if (rc == FLAGS_VERSION) {
        printf("dfly-control v%s\n", DFLY_VERSION);
        config_free();
        return 0;
    }
    if (rc != FLAGS_OK) {
        fprintf(stderr, "dfly-control: %s\n", err);
        config_free();
        return EXIT_USAGE;
    }
    if (open_log() < 0) {
        config_free();
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    /* The database, the token and secret files and the nodes' files are for this user only. */
    umask(PRIVATE_UMASK);
    log_info("dfly-control v%s starting, data directory %s", DFLY_VERSION, ctl_cfg.data_dir_abs);
    int status = 0;
    if (start() < 0) {
        status = 1;
    } else {
        uv_loop_init(&main_loop);
        uv_signal_init(&main_loop, &sig_term);
        uv_signal_init(&main_loop, &sig_int);
        uv_signal_start(&sig_term, on_signal, SIGTERM);
        uv_signal_start(&sig_int, on_signal, SIGINT);
        uv_run(&main_loop, UV_RUN_DEFAULT);
        http_server_stop();
        scraper_stop();
        reconciler_stop();
        uv_close((uv_handle_t *)&sig_term, NULL);
        uv_close((uv_handle_t *)&sig_int, NULL);
        uv_run(&main_loop, UV_RUN_NOWAIT);
        uv_loop_close(&main_loop);
        log_info("dfly-control stopped (nodes keep running; the next start adopts them)");
    }
    db_close_all();
    pki_free();
    ratelimit_free();
    config_free();
    log_close();
    return status;
}
