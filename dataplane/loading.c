/* Loading the dataset at start; see loading.h.
 *
 * The load runs on its own thread (not a worker): the workers keep serving meanwhile, answering
 * -LOADING to every command without CMD_LOADING (dispatch.c), and store the keys the loader
 * sends them. Redis loads on its main thread and serves only a few commands in between; here
 * PING, INFO and the like answer normally all along. */
#include "loading.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "journal.h"
#include "log.h"
#include "rdb_load.h"
#include "server.h"

#define LOADING_ERR_MAX 1024
#define PERCENT 100.0
#define PERC_USED_MEM_MAX 99.99 /* used-mem only estimates the size: never claim 100% */

long long loading_key_load_delay;

enum load_source { LOAD_NONE, LOAD_JOURNAL, LOAD_RDB };

static pthread_t loader_thread;
static int loader_started;
static enum load_source source;
static atomic_int cancelled, failed;
/* Progress, written by the loader thread, read by INFO on any thread. */
static _Atomic int64_t start_time; /* Unix seconds */
static _Atomic uint64_t total_bytes, loaded_bytes, rdb_used_mem, keys_loaded;

int loading_cancelled(void)
{
    return atomic_load(&cancelled);
}

int loading_failed(void)
{
    return atomic_load(&failed);
}

void loading_set_total_bytes(uint64_t n)
{
    atomic_store(&total_bytes, n);
    atomic_store(&loaded_bytes, 0);
}

void loading_set_loaded_bytes(uint64_t n)
{
    atomic_store(&loaded_bytes, n);
}

void loading_set_rdb_used_mem(uint64_t n)
{
    atomic_store(&rdb_used_mem, n);
}

void loading_add_keys(uint64_t n)
{
    atomic_fetch_add(&keys_loaded, n);
}

static void *loader_main(void *arg)
{
    (void)arg;
    uint64_t t0 = clock_mono_us();
    char err[LOADING_ERR_MAX] = "";
    int rc = source == LOAD_JOURNAL ? journal_load(err, sizeof(err))
                                    : rdb_load_file(server.cfg.dbfilename, err, sizeof(err));
    if (rc && loading_cancelled()) {
        log_warning("Loading interrupted by shutdown: %s", err);
        return NULL; /* server.loading stays set: this dataset is not to be saved */
    }
    if (rc) {
        log_error("%s", err);
        log_error("Refusing to serve a dataset that did not load completely: exiting");
        atomic_store(&failed, 1);
        server_request_shutdown(SHUTDOWN_NOSAVE);
        return NULL;
    }
    log_info("DB loaded from disk: %llu keys in %.3f seconds",
             (unsigned long long)atomic_load(&keys_loaded), (double)(clock_mono_us() - t0) / 1e6);
    atomic_store(&server.loading, 0);
    return NULL;
}

/* What there is to load: the journal when it is on and exists, else the snapshot file. */
static enum load_source load_source_find(void)
{
    if (server.cfg.appendonly && journal_exists())
        return LOAD_JOURNAL;
    const char *f = server.cfg.dbfilename;
    if (f && *f && access(f, F_OK) == 0)
        return LOAD_RDB;
    return LOAD_NONE;
}

int loading_start(void)
{
    source = load_source_find();
    if (source == LOAD_NONE)
        return 0;
    atomic_store(&start_time, (int64_t)time(NULL));
    /* INFO shows the size from the first moment it says loading:1 (the loader sets it again
     * once it has the file open). */
    struct stat st;
    if (source == LOAD_RDB && stat(server.cfg.dbfilename, &st) == 0)
        loading_set_total_bytes((uint64_t)st.st_size);
    atomic_store(&server.loading, 1);
    if (source == LOAD_RDB)
        log_info("Loading the snapshot %s", server.cfg.dbfilename);
    else
        log_info("Loading the append-only journal");
    int rc = pthread_create(&loader_thread, NULL, loader_main, NULL);
    if (rc) {
        log_error("cannot start the loader thread: %s", strerror(rc));
        atomic_store(&failed, 1);
        return -1;
    }
    loader_started = 1;
    return 0;
}

void loading_stop(void)
{
    if (!loader_started)
        return;
    atomic_store(&cancelled, 1);
    pthread_join(loader_thread, NULL);
    loader_started = 0;
}

void loading_info(buf *out)
{
    int loading = atomic_load(&server.loading);
    buf_printf(out, "loading:%d\r\nasync_loading:0\r\n", loading);
    if (!loading)
        return;
    /* Redis's figures (genRedisInfoString): the percentage of the file, or of used-mem when
     * the size is unknown, and an ETA from the rate so far. */
    uint64_t total = atomic_load(&total_bytes), done = atomic_load(&loaded_bytes);
    uint64_t used_mem = atomic_load(&rdb_used_mem);
    double perc = 0;
    int64_t remaining = 1;
    if (total) {
        perc = (double)done / (double)total * PERCENT;
        remaining = (int64_t)(total - (done < total ? done : total));
    } else if (used_mem) {
        perc = (double)done / (double)used_mem * PERCENT;
        if (perc > PERC_USED_MEM_MAX)
            perc = PERC_USED_MEM_MAX;
        remaining = (int64_t)used_mem - (int64_t)done;
        if (remaining < 1)
            remaining = 1;
    }
    int64_t started = atomic_load(&start_time);
    int64_t elapsed = (int64_t)time(NULL) - started;
    int64_t eta = elapsed <= 0 ? 1 : elapsed * remaining / (int64_t)(done + 1);
    buf_printf(out,
               "loading_start_time:%lld\r\n"
               "loading_total_bytes:%llu\r\n"
               "loading_rdb_used_mem:%llu\r\n"
               "loading_loaded_bytes:%llu\r\n"
               "loading_loaded_perc:%.2f\r\n"
               "loading_eta_seconds:%lld\r\n",
               (long long)started, (unsigned long long)total, (unsigned long long)used_mem,
               (unsigned long long)done, perc, (long long)eta);
}
