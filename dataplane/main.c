/* dfly-server: flags, startup, signals and shutdown. */
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "acl.h"
#include "alloc.h"
#include "blocking.h"
#include "clock.h"
#include "cluster.h"
#include "command.h"
#include "db.h"
#include "journal.h"
#include "loading.h"
#include "log.h"
#include "multi.h"
#include "replication.h"
#include "server.h"
#include "snapshot.h"
#include "stats.h"
#include "table.h"
#include "tls.h"
#include "tracking.h"
#include "types.h"
#include "worker.h"
#include "zmalloc.h"

static uv_loop_t main_loop;
static uv_signal_t sig_term, sig_int, sig_hup;
static uv_async_t shutdown_async;
static uv_timer_t stats_timer;

static void on_shutdown(uv_async_t *h)
{
    (void)h;
    uv_stop(&main_loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_info("received %s, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    /* A running script that has not written is killed so that the workers can stop. */
    atomic_fetch_or(&server.shutdown_asked, SHUTDOWN_ASKED);
    uv_stop(&main_loop);
}

/* SIGHUP (--tls_reload in Dragonfly's words): the certificate files are read again; new
 * connections use them, existing ones keep theirs. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h, (void)signum;
    char err[TLS_ERR_MAX];
    if (tls_reload(err, sizeof(err)) < 0)
        log_warning("SIGHUP: TLS configuration not reloaded: %s", err);
    else if (server.cfg.tls || server.cfg.tls_replication || server.cfg.tls_cluster)
        log_info("SIGHUP: TLS certificates reloaded");
}

/* Descriptors beyond maxclients: listeners, snapshot and journal files, pipes, the link. */
#define FD_RESERVE 64

/* As Redis does, raises the soft open-files limit to what maxclients needs (up to the hard
 * limit), so that --maxclients, not EMFILE, is what refuses connections. */
static void fd_limit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)server.cfg.maxclients + FD_RESERVE;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || want <= rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
        log_warning("maxclients %lld needs %llu open files, but the limit is %llu: raise it "
                    "(ulimit -n) or lower maxclients",
                    server.cfg.maxclients, (unsigned long long)want,
                    (unsigned long long)rl.rlim_cur);
}

/* server_request_shutdown's way to wake this thread (any thread may call it). */
static void notify_shutdown(void)
{
    uv_async_send(&shutdown_async);
}

static void on_stats_timer(uv_timer_t *t)
{
    (void)t;
    stats_cron();
}

/* The snapshot taken on the way out (SHUTDOWN, SIGTERM, SIGINT), unless SHUTDOWN NOSAVE asked
 * otherwise, snapshots are off (empty --dbfilename) or the dataset is not completely loaded (a
 * partial one must never replace the file). Returns the process's exit code. */
static int shutdown_save(void)
{
    int flags = atomic_load(&server.shutdown_asked);
    if ((flags & SHUTDOWN_NOSAVE) || !server.cfg.dbfilename || !*server.cfg.dbfilename)
        return 0;
    if (atomic_load(&server.loading)) {
        log_warning("not saving on shutdown: the dataset was not completely loaded");
        return 0;
    }
    log_info("saving the dataset before exiting");
    char err[512];
    if (snapshot_save_blocking(server.cfg.dbfilename, err, sizeof(err)) < 0) {
        log_error("the snapshot on shutdown failed: %s", err);
        return 1;
    }
    return 0;
}

/* The config file flags_init reads (the first bare argument, or --config's value), as an
 * absolute path for CONFIG REWRITE; NULL when there is none. Call before chdir. */
static char *config_file_of(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--config=", 9))
            path = a + 9;
        else if (!strcmp(a, "--config") && i + 1 < argc)
            path = argv[++i];
        else if (a[0] != '-' && !(i > 1 && argv[i - 1][0] == '-' && !strchr(argv[i - 1], '=')))
            path = a;
    }
    if (!path)
        return NULL;
    char abs[PATH_MAX];
    return realpath(path, abs) ? mem_strdup(abs) : mem_strdup(path);
}

static void make_run_id(void)
{
    FILE *f = fopen("/dev/urandom", "rb");
    unsigned char raw[20] = {0};
    if (f) {
        if (fread(raw, 1, sizeof(raw), f) != sizeof(raw))
            memset(raw, 0, sizeof(raw));
        fclose(f);
    }
    for (int i = 0; i < 20; i++)
        snprintf(server.run_id + 2 * i, 3, "%02x", raw[i]);
    uint64_t seed;
    memcpy(&seed, raw, sizeof(seed));
    table_set_seed(seed ^ clock_mono_ns());
}

int main(int argc, char **argv)
{
    char err[FLAGS_ERR_MAX];
    int rc = flags_init(server_flags, argc, argv, "DFLY_", err, sizeof(err));
    if (rc == FLAGS_HELP) {
        flags_print_help(server_flags, stdout,
                         "Usage: dfly-server [/path/to/dfly.conf] [--flag=value ...]\n\n"
                         "dfly-server is an in-memory data store that speaks the Redis "
                         "protocol.");
        return 0;
    }
    if (rc == FLAGS_VERSION) {
        printf("dfly-server v%s\n", DFLY_VERSION);
        return 0;
    }
    if (rc != FLAGS_OK || server_config_apply(err, sizeof(err))) {
        fprintf(stderr, "dfly-server: %s\n", err);
        return 2;
    }
    enum log_level level;
    if (log_level_parse(server.cfg.loglevel, &level)) {
        fprintf(stderr, "dfly-server: invalid --loglevel '%s'\n", server.cfg.loglevel);
        return 2;
    }
    int lrc = log_open("dfly-server", server.cfg.logfile, level, server.cfg.log_json);
    if (lrc < 0) {
        fprintf(stderr, "dfly-server: cannot open log file '%s': %s\n", server.cfg.logfile,
                strerror(-lrc));
        return 2;
    }
    server.config_file = config_file_of(argc, argv);
    if (server.cfg.dir && *server.cfg.dir && chdir(server.cfg.dir) != 0) {
        log_error("cannot use --dir '%s': %s", server.cfg.dir, strerror(errno));
        return 1;
    }
    /* After chdir, so that relative paths mean the same at start and at every reload. */
    if (tls_init(err, sizeof(err)) < 0) {
        log_error("TLS: %s", err);
        return 1;
    }
    fd_limit_raise();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* past a file size limit, write() fails with EFBIG instead */

    int threads = (int)server.cfg.threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
        if (threads > DFLY_MAX_THREADS)
            threads = DFLY_MAX_THREADS;
    }
    server.nshards = threads;
    server.start_ms = clock_wall_ms();
    server.start_mono_ms = clock_mono_ms();
    atomic_store(&server.lastsave, server.start_ms / 1000);
    atomic_store(&server.lru_clock, (unsigned)(clock_mono_ms() / 1000));
    ssize_t el = readlink("/proc/self/exe", server.executable, sizeof(server.executable) - 1);
    if (el > 0)
        server.executable[el] = '\0';
    make_run_id();

    command_table_init();
    types_init();
    multi_init();
    if (acl_init(err, sizeof(err)) < 0) { /* users: after the command table, after chdir */
        log_error("ACL: %s", err);
        return 1;
    }
    shards_init(threads, (int)server.cfg.databases);
    if (cluster_init(err, sizeof(err)) < 0) { /* after chdir: the node id file is in --dir */
        log_error("%s", err);
        return 1;
    }
    uv_loop_init(&main_loop);
    uv_async_init(&main_loop, &shutdown_async, on_shutdown);
    server_set_shutdown_notify(notify_shutdown);
    if (workers_init(threads, server.cfg.bind, (int)server.cfg.port) < 0)
        return 1;
    log_info("dfly-server v%s starting: %d threads, maxmemory %lld bytes (%s), pid %d",
             DFLY_VERSION, threads, server.cfg.maxmemory, zmalloc_lib(), (int)getpid());
    /* Before the workers run, so that no command slips in before server.loading is set; the
     * loader's batches wait in the workers' inboxes until then. */
    if (loading_start() < 0)
        return 1;
    /* After loading_start set server.loading: the journal opens once the dataset is in. */
    journal_init();
    /* Before the workers serve: WAIT's hooks, and --replicaof makes this a replica from the
     * first command on (its messages wait in the inboxes until the workers run). */
    replication_init();
    workers_start();

    uv_signal_init(&main_loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(&main_loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_init(&main_loop, &sig_hup);
    uv_signal_start(&sig_hup, on_sighup, SIGHUP);
    uv_timer_init(&main_loop, &stats_timer);
    uv_timer_start(&stats_timer, on_stats_timer, STATS_SAMPLE_MS, STATS_SAMPLE_MS);
    uv_run(&main_loop, UV_RUN_DEFAULT);
    uv_timer_stop(&stats_timer);

    loading_stop();         /* a load in progress stops first: it needs the workers */
    replication_shutdown(); /* the link thread and full syncs use the workers too */
    workers_quiesce();
    int exit_code = shutdown_save();
    if (loading_failed())
        exit_code = 1; /* as Redis exits when its dataset does not load */
    /* No command runs any more (the workers still run, for a rewrite that must end): what is
     * pending is written and synced. */
    journal_shutdown();
    workers_stop();
    multi_shards_free(); /* watch registrations live in the shards */
    tracking_shutdown();
    for (int i = 0; i < server.nshards; i++)
        block_shard_free(shards[i]);
    shards_free();
    log_info("dfly-server stopped");
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    uv_close((uv_handle_t *)&shutdown_async, NULL);
    uv_close((uv_handle_t *)&stats_timer, NULL);
    uv_run(&main_loop, UV_RUN_DEFAULT);
    uv_loop_close(&main_loop);
    tls_shutdown();
    flags_free(server_flags);
    free(server.config_file);
    return exit_code;
}
