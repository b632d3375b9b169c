/* Automatic and planned failover of shard masters. See failover.h. */
#include "failover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "node/resp.h"

#define INFO_OUT_MAX 8192
#define CALL_OUT_MAX 512
#define NUM_TEXT_MAX 32
#define OFFSET_UNKNOWN (-1LL)
#define MS_PER_S 1000
/* A failover that keeps failing (no replica takes the promotion) is given up after this many
 * failover timeouts: the master is then restarted in place, as without replicas. */
#define FAILOVER_GIVE_UP_FACTOR 6

static int is_master(const node_row *nd)
{
    return !strcmp(nd->role, ROLE_MASTER);
}

static int is_running(const node_row *nd)
{
    return !strcmp(nd->status, NODE_RUNNING);
}

/* A replication offset of a running node from INFO replication: field is master_repl_offset
 * for a master, slave_repl_offset for a replica (what it has applied). */
static long long node_offset(pass *p, const node_row *nd, const char *field)
{
    static const char *const cmd[] = {"INFO", "replication"};
    char out[INFO_OUT_MAX];
    if (rec_node_call(p, nd, out, sizeof(out), 2, cmd) != RESP_OK)
        return OFFSET_UNKNOWN;
    long long off = resp_info_ll(out, field, OFFSET_UNKNOWN);
    return off != OFFSET_UNKNOWN ? off : resp_info_ll(out, "master_repl_offset", OFFSET_UNKNOWN);
}

static int shard_has_running_replica(const pass *p, int shard)
{
    for (int i = 0; i < p->n; i++) {
        const node_row *nd = &p->nodes[i];
        if (rec_node_wanted(p, nd) && nd->shard == shard && !is_master(nd) && is_running(nd))
            return 1;
    }
    return 0;
}

/* Has the failover of a master down since down_since been tried for too long? */
static int given_up(const pass *p, int64_t down_since)
{
    return p->now - down_since > ctl_cfg.failover_timeout_ms * FAILOVER_GIVE_UP_FACTOR;
}

/* A master whose row says it is down but that this daemon never saw run, stop or fail to start:
 * it died under an earlier daemon, which was killed before the failover. */
static int down_before_restart(const node_row *nd, const node_rt *rt)
{
    return !strcmp(nd->status, NODE_DOWN) && !rt->down_since && !rt->next_start_ms &&
           !rt->failures && !rt->started_ms;
}

int failover_hold(pass *p, node_row *nd, node_rt *rt)
{
    /* Its failover timer starts now: started again in place, it would come back empty and its
     * replicas would copy that. */
    if (p->in.replicas > 0 && is_master(nd) && down_before_restart(nd, rt))
        rt->down_since = p->now;
    if (p->in.replicas == 0 || !is_master(nd) || !rt->down_since || given_up(p, rt->down_since) ||
        !shard_has_running_replica(p, nd->shard))
        return 0;
    long long left = rt->down_since + ctl_cfg.failover_timeout_ms - p->now;
    snprintf(p->reason, sizeof(p->reason), "master %s of shard %d is down; failover in %lld ms",
             nd->id, nd->shard, left > 0 ? left : 0);
    return 1;
}

void failover_watch(pass *p, node_row *nd, node_rt *rt)
{
    if (p->in.replicas == 0 || !is_master(nd) || p->now < rt->next_health_ms)
        return;
    rt->next_health_ms = p->now + ctl_cfg.health_check_interval_ms;
    long long off = node_offset(p, nd, "master_repl_offset");
    if (off != OFFSET_UNKNOWN) {
        rt->last_offset = off;
        rt->last_offset_ms = p->now;
        rt->down_since = 0;
        return;
    }
    if (!rt->down_since) {
        rt->down_since = p->now;
        store_event(p->in.id, "node_unhealthy", NULL, NULL, nd->id,
                    "master does not answer INFO replication on its admin port");
        log_warning("instance %s: master %s does not answer", p->in.id, nd->id);
    }
    snprintf(p->reason, sizeof(p->reason), "master %s of shard %d does not answer", nd->id,
             nd->shard);
}

/* The running replica of shard with the highest applied offset (*offset), or NULL. */
static node_row *best_replica(pass *p, int shard, long long *offset)
{
    node_row *best = NULL;
    *offset = OFFSET_UNKNOWN;
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd) || nd->shard != shard || is_master(nd) || !is_running(nd))
            continue;
        long long off = node_offset(p, nd, "slave_repl_offset");
        if (off > *offset || (!best && off != OFFSET_UNKNOWN)) {
            best = nd;
            *offset = off;
        }
    }
    return best;
}

static void replica_index_set(const char *node_id, int index)
{
    sqlite3_stmt *st = db_prepare("UPDATE nodes SET replica_index = ? WHERE id = ?");
    sqlite3_bind_int(st, 1, index);
    db_bind_text(st, 2, node_id);
    db_step_done(st);
    db_done(st);
}

/* The master keeps replica index 0 (which replicas are wanted, and which go when
 * replicas_per_shard shrinks, is decided by index): a and b trade theirs, through -1 for
 * UNIQUE(instance_id, shard, replica_index). */
static void replica_index_swap(node_row *a, node_row *b)
{
    int ia = a->replica_index;
    a->replica_index = b->replica_index;
    b->replica_index = ia;
    if (!db_in_transaction())
        return;
    replica_index_set(a->id, -1);
    replica_index_set(b->id, b->replica_index);
    replica_index_set(a->id, a->replica_index);
}

/* Makes promoted the master of its shard and old a replica, in SQLite with an event, in one
 * transaction. Returns 0 or -1 (nothing changed). */
static int roles_swap(pass *p, node_row *old, node_row *promoted, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int roles_swap(pass *p, node_row *old, node_row *promoted, const char *fmt, ...)
{
    char reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (db_begin() != SQLITE_OK)
        return -1;
    snprintf(old->role, sizeof(old->role), "%s", ROLE_REPLICA);
    snprintf(promoted->role, sizeof(promoted->role), "%s", ROLE_MASTER);
    store_node_save(old);
    store_node_save(promoted);
    replica_index_swap(old, promoted);
    store_event(p->in.id, "failover", NULL, NULL, promoted->id, "%s", reason);
    if (db_commit() != SQLITE_OK) {
        db_rollback();
        snprintf(old->role, sizeof(old->role), "%s", ROLE_MASTER);
        snprintf(promoted->role, sizeof(promoted->role), "%s", ROLE_REPLICA);
        replica_index_swap(old, promoted); /* back, in memory */
        return -1;
    }
    log_info("instance %s: %s", p->in.id, reason);
    return 0;
}

/* After a promotion: the cluster configuration to every node that runs, and the other
 * replicas of the shard follow the new master. Nodes that miss it now get it when every node
 * runs again (needs_push). */
static void topology_spread(pass *p, int shard)
{
    if (!strcmp(p->cluster_mode, "yes") && rec_push_cluster(p, 1) < 0)
        log_warning("instance %s: after a failover: %s", p->in.id, p->reason);
    node_row *m = rec_shard_master(p, shard);
    char out[CALL_OUT_MAX], port[NUM_TEXT_MAX];
    for (int i = 0; m && i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd) || nd->shard != shard || is_master(nd) || !is_running(nd))
            continue;
        snprintf(port, sizeof(port), "%d", m->port);
        const char *cmd[] = {"REPLICAOF", m->host, port};
        if (rec_node_call(p, nd, out, sizeof(out), 3, cmd) != RESP_OK)
            log_warning("instance %s: REPLICAOF on %s after a failover: %s", p->in.id, nd->id, out);
    }
    for (int i = 0; i < p->n; i++)
        supervisor_rt(p->nodes[i].id)->needs_push = 1;
}

/* Replaces master m, down since its rt->down_since, by its best replica. Returns 1 when it
 * did. */
static int failover_auto(pass *p, node_row *m, node_rt *rt)
{
    long long offset;
    node_row *best = best_replica(p, m->shard, &offset);
    if (!best) {
        snprintf(p->reason, sizeof(p->reason), "master %s is down and no replica answers", m->id);
        return 0;
    }
    long pid = 0;
    if (rec_prov->ops->status(rec_prov, m->instance_id, m->id, &pid) == PROV_RUNNING)
        rec_prov->ops->stop(rec_prov, m->instance_id, m->id, 1); /* hung: fence it off */
    static const char *const no_one[] = {"REPLICAOF", "NO", "ONE"};
    char out[CALL_OUT_MAX];
    if (rec_node_call(p, best, out, sizeof(out), 3, no_one) != RESP_OK) {
        snprintf(p->reason, sizeof(p->reason), "cannot promote %s: %.400s", best->id, out);
        return 0;
    }
    long long down_ms = p->now - rt->down_since;
    long long lost =
        rt->last_offset >= 0 && rt->last_offset > offset ? rt->last_offset - offset : 0;
    if (roles_swap(p, m, best,
                   "automatic: master %s of shard %d down for %lld ms; promoted replica %s at "
                   "offset %lld; the old master's last seen offset was %lld (%lld ms before it "
                   "went down): at least %lld byte(s) of the replication stream may be lost; "
                   "new_master_offset=%lld old_master_offset=%lld",
                   m->id, m->shard, down_ms, best->id, offset, rt->last_offset,
                   rt->last_offset_ms ? (long long)(rt->down_since - rt->last_offset_ms) : -1, lost,
                   offset, rt->last_offset) < 0)
        return 0;
    rt->down_since = 0;
    rt->next_start_ms = p->now; /* it comes back at once, as a replica */
    rt->last_offset = OFFSET_UNKNOWN;
    topology_spread(p, m->shard);
    return 1;
}

static node_row *node_by_id(pass *p, const char *id)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->nodes[i].id, id))
            return &p->nodes[i];
    return NULL;
}

/* Ends the request of a planned failover: its operation and the instance's columns. */
static void planned_finish(pass *p, const char *status, const char *error)
{
    if (db_begin() != SQLITE_OK)
        return;
    store_operation_finish_one(p->in.failover_op, status, error);
    sqlite3_stmt *st = db_prepare("UPDATE instances SET failover_op = NULL, failover_shard = "
                                  "NULL, failover_node = NULL WHERE id = ?");
    db_bind_text(st, 1, p->in.id);
    db_step_done(st);
    db_done(st);
    if (error)
        store_event(p->in.id, "failover_failed", NULL, NULL, NULL, "%s", error);
    if (db_commit() != SQLITE_OK)
        db_rollback();
    p->in.failover_op[0] = '\0';
}

/* REPLTAKEOVER on the chosen replica: the master pauses writes until the replica has all of
 * them, then the replica takes over. Blocks the loop for at most --takeover-timeout. */
static int failover_planned(pass *p)
{
    char error[REASON_MAX];
    node_row *m = rec_shard_master(p, p->in.failover_shard);
    long long offset = OFFSET_UNKNOWN;
    node_row *r = p->in.failover_node[0] ? node_by_id(p, p->in.failover_node)
                                         : best_replica(p, p->in.failover_shard, &offset);
    if (!m || !r || is_master(r) || r->shard != m->shard || !rec_node_wanted(p, r)) {
        snprintf(error, sizeof(error), "no replica of shard %d to promote", p->in.failover_shard);
        planned_finish(p, OP_FAILED, error);
        return 0;
    }
    store_operation_progress_one(p->in.failover_op, 10);
    long long master_off = node_offset(p, m, "master_repl_offset");
    long long replica_off = node_offset(p, r, "slave_repl_offset");
    char secs[NUM_TEXT_MAX], out[CALL_OUT_MAX];
    snprintf(secs, sizeof(secs), "%lld", ctl_cfg.takeover_timeout_s);
    const char *cmd[] = {"REPLTAKEOVER", secs};
    int timeout = (int)(ctl_cfg.takeover_timeout_s * MS_PER_S + ctl_cfg.node_call_timeout_ms);
    if (rec_node_call_timeout(p, r, timeout, out, sizeof(out), 2, cmd) != RESP_OK) {
        snprintf(error, sizeof(error), "REPLTAKEOVER on %s: %.400s", r->id, out);
        planned_finish(p, OP_FAILED, error);
        return 0;
    }
    long long new_off = node_offset(p, r, "master_repl_offset");
    if (roles_swap(p, m, r,
                   "planned: replica %s took over shard %d from %s with nothing lost; master "
                   "offset %lld and replica offset %lld when asked; new_master_offset=%lld "
                   "old_master_offset=%lld",
                   r->id, r->shard, m->id, master_off, replica_off, new_off, master_off) < 0)
        return 0; /* SQLite is busy: the next pass sees the request again (REPLTAKEOVER on a
                   * master answers OK and does nothing) */
    planned_finish(p, OP_SUCCEEDED, NULL);
    topology_spread(p, r->shard);
    return 1;
}

int failover_step(pass *p, int all_running)
{
    int changed = 0;
    for (int i = 0; p->in.replicas > 0 && i < p->n; i++) {
        node_row *m = &p->nodes[i];
        if (!rec_node_wanted(p, m) || !is_master(m))
            continue;
        node_rt *rt = supervisor_rt(m->id);
        if (rt->down_since && p->now - rt->down_since >= ctl_cfg.failover_timeout_ms &&
            !given_up(p, rt->down_since))
            changed |= failover_auto(p, m, rt);
    }
    if (p->in.failover_op[0] && all_running)
        changed |= failover_planned(p);
    return changed;
}
