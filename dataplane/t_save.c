/* SAVE and BGSAVE, and what starts snapshots by itself: Redis's save points and
 * --snapshot_cron (save_cron, on worker 0's timer). The snapshot itself is snapshot.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "client.h"
#include "command.h"
#include "cron.h"
#include "db.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "t_server.h"
#include "worker.h"

#define SAVE_RETRY_DELAY_MS 5000 /* after a failed save, save points wait this long (Redis) */
#define SAVE_POINTS_MAX 32
#define SAVE_ERR_MAX 256

static const char *const ERR_IN_PROGRESS = "ERR Background save already in progress";

/* What the scheduler remembers between ticks; worker 0 only. */
static struct {
    int scheduled;       /* BGSAVE SCHEDULE asked while a snapshot ran */
    int64_t last_try_ms; /* last automatic start */
    int last_failed;     /* the last automatic snapshot failed */
    char *cron_text;     /* the --snapshot_cron value `cron` was parsed from */
    cron_expr cron;
    int cron_ok;
    int64_t cron_next; /* unix seconds of the next cron snapshot, -1: none */
} sched = {.cron_next = -1};

static int snapshots_enabled(void)
{
    return server.cfg.dbfilename && *server.cfg.dbfilename;
}

/* ---- SAVE ---------------------------------------------------------------------------------- */

typedef struct save_wait {
    client *cl;
    int resp;
    int muted;
} save_wait;

static void save_done(void *arg, int ok, const char *err)
{
    save_wait *w = arg;
    buf out;
    buf_init(&out);
    cmd_ctx rc = {.cl = w->cl, .resp = w->resp, .out = &out};
    if (ok) {
        reply_ok(&rc);
    } else {
        char msg[SAVE_ERR_MAX + 32];
        snprintf(msg, sizeof(msg), "ERR snapshot failed: %s", err);
        reply_error(&rc, msg);
    }
    client_deferred_reply(w->cl, out.data, out.len, w->muted, 0);
    buf_free(&out);
    free(w);
}

static void bgsave_done(void *arg, int ok, const char *err)
{
    (void)arg;
    (void)ok;
    (void)err; /* snapshot.c logs the outcome */
}

static int start(const char *path, void (*done)(void *, int, const char *), void *arg, char *err,
                 size_t errlen)
{
    snapshot_req req = {.path = path, .done = done, .arg = arg};
    return snapshot_start(&req, err, errlen);
}

/* SAVE: the snapshot is the same forkless one as BGSAVE's; the client gets its reply when the
 * file is complete, while every other client goes on being served. */
static void save_cmd(cmd_ctx *c)
{
    if (!snapshots_enabled()) {
        reply_error(c, "ERR snapshots are disabled: dbfilename is empty");
        return;
    }
    if (snapshot_in_progress()) {
        reply_error(c, ERR_IN_PROGRESS);
        return;
    }
    save_wait *w = mem_calloc(1, sizeof(*w));
    w->cl = c->cl;
    w->resp = c->resp;
    char err[SAVE_ERR_MAX];
    if (start(server.cfg.dbfilename, save_done, w, err, sizeof(err)) < 0) {
        free(w);
        char msg[SAVE_ERR_MAX + 32];
        snprintf(msg, sizeof(msg), "ERR %s", err);
        reply_error(c, msg);
        return;
    }
    w->muted = client_defer_reply(c->cl);
}

/* BGSAVE [SCHEDULE] */
static void bgsave_cmd(cmd_ctx *c)
{
    int schedule = 0;
    if (c->argc == 2 && arg_eq(&c->argv[1], "schedule")) {
        schedule = 1;
    } else if (c->argc > 1) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (!snapshots_enabled()) {
        reply_error(c, "ERR snapshots are disabled: dbfilename is empty");
        return;
    }
    if (snapshot_in_progress()) {
        if (!schedule) {
            reply_error(c, ERR_IN_PROGRESS);
            return;
        }
        save_schedule();
        reply_simple(c, "Background saving scheduled");
        return;
    }
    char err[SAVE_ERR_MAX];
    if (start(server.cfg.dbfilename, bgsave_done, NULL, err, sizeof(err)) < 0) {
        char msg[SAVE_ERR_MAX + 32];
        snprintf(msg, sizeof(msg), "ERR %s", err);
        reply_error(c, msg);
        return;
    }
    reply_simple(c, "Background saving started");
}

/* ---- the scheduler ------------------------------------------------------------------------- */

static void save_schedule_msg(void *arg)
{
    (void)arg;
    sched.scheduled = 1;
}

void save_schedule(void)
{
    worker_post(workers[0], save_schedule_msg, NULL);
}

static void auto_done(void *arg, int ok, const char *err)
{
    (void)arg;
    (void)err;
    sched.last_failed = !ok;
}

static void auto_start(const char *why)
{
    char err[SAVE_ERR_MAX];
    sched.last_try_ms = clock_mono_ms();
    log_info("snapshot: starting (%s)", why);
    if (start(server.cfg.dbfilename, auto_done, NULL, err, sizeof(err)) < 0) {
        sched.last_failed = 1;
        log_warning("snapshot: cannot start: %s", err);
    }
}

/* Whether one of Redis's save points ("<seconds> <changes>" pairs) is reached. */
static int save_point_reached(int64_t now_s)
{
    const char *p = server.cfg.save;
    if (!p || !*p)
        return 0;
    uint64_t changes = snapshot_changes_since_save();
    if (changes == 0)
        return 0;
    int64_t since = now_s - atomic_load(&server.lastsave);
    for (int i = 0; i < SAVE_POINTS_MAX && *p; i++) {
        char *end;
        long long secs = strtoll(p, &end, 10);
        if (end == p)
            break;
        long long need = strtoll(end, &end, 10);
        p = end;
        if ((uint64_t)need <= changes && since >= secs)
            return 1;
    }
    return 0;
}

/* The next cron time after now, parsed again when --snapshot_cron changed (CONFIG SET). */
static void cron_refresh(int64_t now_s)
{
    const char *text = server.cfg.snapshot_cron ? server.cfg.snapshot_cron : "";
    if (sched.cron_text && !strcmp(sched.cron_text, text))
        return;
    free(sched.cron_text);
    sched.cron_text = mem_strdup(text);
    sched.cron_ok = 0;
    sched.cron_next = -1;
    if (!*text)
        return;
    char err[SAVE_ERR_MAX];
    if (cron_parse(text, &sched.cron, err, sizeof(err)) < 0) {
        log_warning("snapshot_cron '%s' is invalid: %s", text, err);
        return;
    }
    sched.cron_ok = 1;
    sched.cron_next = cron_next(&sched.cron, now_s, NULL);
}

void save_cron(void)
{
    if (!snapshots_enabled() || server.loading)
        return;
    int64_t now_s = clock_wall_ms() / 1000;
    cron_refresh(now_s);
    int cron_due = sched.cron_ok && sched.cron_next >= 0 && now_s >= sched.cron_next;
    if (cron_due)
        sched.cron_next = cron_next(&sched.cron, now_s, NULL);
    if (snapshot_in_progress())
        return;
    if (sched.scheduled) {
        sched.scheduled = 0;
        auto_start("BGSAVE SCHEDULE");
        return;
    }
    if (cron_due) {
        auto_start("snapshot_cron");
        return;
    }
    int may_retry =
        !sched.last_failed || clock_mono_ms() - sched.last_try_ms >= (uint64_t)SAVE_RETRY_DELAY_MS;
    if (may_retry && save_point_reached(now_s))
        auto_start("save point reached");
}

/* ---- the command table --------------------------------------------------------------------- */

#define SAVE_ACL (ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS)

command save_commands[] = {
    {.name = "save",
     .proc = save_cmd,
     .arity = 1,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI,
     .acl = SAVE_ACL,
     .group = "server",
     .since = "1.0.0",
     .summary = "Synchronously save the dataset to disk"},
    {.name = "bgsave",
     .proc = bgsave_cmd,
     .arity = -1,
     .flags = CMD_ADMIN | CMD_NOSCRIPT,
     .acl = SAVE_ACL,
     .group = "server",
     .since = "1.0.0",
     .summary = "Asynchronously save the dataset to disk"},
    {0},
};
