/* The reconciler's thread: a libuv loop with a periodic pass, a wake-up from API handlers, the
 * provisioner's child-exit notices and housekeeping timers. */
#include "reconciler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "backup/backup.h"
#include "config.h"
#include "db.h"
#include "http/idempotency.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "reconciler_int.h"
#include "store.h"
#include "supervisor.h"

#define HOUSEKEEPING_INTERVAL_MS 60000
#define STRAY_SWEEP_INTERVAL_MS 5000
#define INSTANCES_DIR "instances"

provisioner *rec_prov;

static uv_loop_t loop;
static uv_thread_t thread;
static uv_async_t wake_async, stop_async;
static uv_timer_t pass_timer, housekeeping_timer, soon_timer, stray_timer;
static int soon_asked;
static atomic_int ready, started, wake_pending;

/* The ids of every instance that is not gone. */
static char **instances_active(int *n)
{
    *n = 0;
    sqlite3_stmt *st = db_prepare("SELECT id FROM instances WHERE status != 'gone' "
                                  "ORDER BY created_at, id");
    if (!st)
        return NULL;
    char **ids = NULL;
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = mem_realloc(ids, sizeof(char *) * (size_t)cap);
        }
        ids[(*n)++] = strdup(db_text(st, 0));
    }
    db_done(st);
    return ids;
}

static void on_soon(uv_timer_t *t);

void reconcile_soon(void)
{
    soon_asked = 1;
}

static void pass_run(void)
{
    atomic_store(&wake_pending, 0);
    soon_asked = 0;
    int n = 0;
    char **ids = instances_active(&n);
    supervisor_unmark_all();
    for (int i = 0; i < n; i++) {
        reconcile_instance(ids[i]);
        free(ids[i]);
    }
    free(ids);
    backups_tick();
    supervisor_sweep();
    if (soon_asked && !uv_is_active((uv_handle_t *)&soon_timer))
        uv_timer_start(&soon_timer, on_soon, RECONCILE_SOON_MS, 0);
    atomic_fetch_add(&ctl_counters.reconcile_passes, 1);
    atomic_store(&ctl_counters.last_pass_ms, ids_now_ms());
    if (!atomic_load(&ready)) {
        atomic_store(&ready, 1);
        log_info("reconciler: first pass done (%d instance(s)); ready", n);
    }
}

static void on_pass_timer(uv_timer_t *t)
{
    (void)t;
    pass_run();
}

static void on_soon(uv_timer_t *t)
{
    (void)t;
    pass_run();
}

static void on_wake(uv_async_t *a)
{
    (void)a;
    pass_run();
}

static void on_housekeeping(uv_timer_t *t)
{
    (void)t;
    int n = idempotency_expire(ids_now_ms());
    if (n)
        log_debug("reconciler: %d Idempotency-Key record(s) expired", n);
}

static void on_close_noop(uv_handle_t *h)
{
    (void)h;
}

static void on_stop(uv_async_t *a)
{
    (void)a;
    uv_timer_stop(&pass_timer);
    uv_timer_stop(&housekeeping_timer);
    uv_timer_stop(&soon_timer);
    uv_timer_stop(&stray_timer);
    uv_close((uv_handle_t *)&soon_timer, on_close_noop);
    uv_close((uv_handle_t *)&stray_timer, on_close_noop);
    uv_close((uv_handle_t *)&pass_timer, on_close_noop);
    uv_close((uv_handle_t *)&housekeeping_timer, on_close_noop);
    uv_close((uv_handle_t *)&wake_async, on_close_noop);
    uv_close((uv_handle_t *)&stop_async, on_close_noop);
    backups_stop();
    rec_prov->ops->close(rec_prov);
    rec_prov = NULL;
}

/* A child exited: remember how, and look at it now rather than at the next tick. */
static void on_child_exit(void *ctx, const char *instance_id, const char *node_id, long pid,
                          int64_t exit_status, int term_signal)
{
    (void)ctx;
    (void)instance_id;
    (void)pid;
    supervisor_note_exit(node_id, exit_status, term_signal);
    reconciler_wake();
}

/* Before the first pass, then every STRAY_SWEEP_INTERVAL_MS: ends processes and removes
 * directories that no node of SQLite owns (left by a crash between a delete's steps, or by a
 * hand). Loop thread only: a node's row exists before its process and its pid file is written
 * in the same step that spawns it, so a sweep never sees a node half made. */
static void collect_garbage(void)
{
    sqlite3_stmt *st =
        db_prepare("SELECT i.id, n.id FROM instances i LEFT JOIN nodes n ON n.instance_id = i.id "
                   "WHERE i.status != 'gone'");
    if (!st)
        return;
    prov_known *known = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            known = mem_realloc(known, sizeof(prov_known) * (size_t)cap);
        }
        known[n].instance_id = strdup(db_text(st, 0));
        known[n].node_id =
            sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : strdup(db_text(st, 1));
        n++;
    }
    db_done(st);
    int killed = rec_prov->ops->collect_garbage(rec_prov, known, n);
    if (killed)
        log_warning("reconciler: ended %d stray process(es)", killed);
    for (int i = 0; i < n; i++) {
        free((char *)known[i].instance_id);
        free((char *)known[i].node_id);
    }
    free(known);
}

/* Strays can appear after the start too: a child of a daemon killed between its fork and its
 * exec becomes a dfly-server only then, a second process of its node (ended here) or its only
 * one without a pid file (adopted here). */
static void on_stray_sweep(uv_timer_t *t)
{
    (void)t;
    collect_garbage();
}

static void thread_main(void *arg)
{
    (void)arg;
    collect_garbage();
    pass_run();
    uv_timer_start(&pass_timer, on_pass_timer, (uint64_t)ctl_cfg.reconcile_interval_ms,
                   (uint64_t)ctl_cfg.reconcile_interval_ms);
    uv_timer_start(&housekeeping_timer, on_housekeeping, 0, HOUSEKEEPING_INTERVAL_MS);
    uv_timer_start(&stray_timer, on_stray_sweep, STRAY_SWEEP_INTERVAL_MS, STRAY_SWEEP_INTERVAL_MS);
    uv_run(&loop, UV_RUN_DEFAULT);
}

int reconciler_start(char *err, size_t errlen)
{
    char root[PATH_MAX + 16];
    snprintf(root, sizeof(root), "%s/%s", ctl_cfg.data_dir_abs, INSTANCES_DIR);
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
        return -1;
    }
    rec_prov = provisioner_local_new(&loop, root, ctl_cfg.server_binary_abs, on_child_exit, NULL);
    uv_async_init(&loop, &wake_async, on_wake);
    uv_async_init(&loop, &stop_async, on_stop);
    uv_timer_init(&loop, &pass_timer);
    uv_timer_init(&loop, &housekeeping_timer);
    uv_timer_init(&loop, &soon_timer);
    uv_timer_init(&loop, &stray_timer);
    log_info("reconciler: provisioner %s, nodes under %s, ports %d-%d, server %s",
             rec_prov->ops->name, root, ctl_cfg.port_min, ctl_cfg.port_max,
             ctl_cfg.server_binary_abs);
    atomic_store(&started, 1);
    rc = uv_thread_create(&thread, thread_main, NULL);
    if (rc < 0) {
        atomic_store(&started, 0);
        snprintf(err, errlen, "cannot start the reconciler thread: %s", uv_strerror(rc));
        return -1;
    }
    return 0;
}

void reconciler_wake(void)
{
    /* Coalesced: many changes before the pass runs cost one pass. */
    if (atomic_load(&started) && !atomic_exchange(&wake_pending, 1))
        uv_async_send(&wake_async);
}

void reconciler_stop(void)
{
    if (!atomic_exchange(&started, 0))
        return;
    uv_async_send(&stop_async);
    uv_thread_join(&thread);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    supervisor_free();
}

int reconciler_ready(void)
{
    return atomic_load(&ready);
}
