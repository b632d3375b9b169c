/* Convergence of one instance, one step per reconciler pass: create the node rows and their
 * ports, start and supervise the processes, roll restarts, push the configuration, remove
 * nodes that are no longer wanted, and finally report status, progress and events.
 *
 * Crash safety: every decision is made from SQLite and from what runs (the provisioner's
 * status), never from memory alone; rows are written before the processes they describe are
 * started, and removed only after those processes are gone. A pass interrupted anywhere is
 * redone by the next one. Loop thread only. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl_push.h"
#include "backup/backup.h"
#include "config.h"
#include "failover.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "metrics.h"
#include "node/resp.h"
#include "reconciler_int.h"
#include "resize.h"
#include "store.h"
#include "supervisor.h"
#include "topology.h"
#include "tls_push.h"

#define PORTS_PER_NODE 2
#define PORT_SPACE 65536
#define PROGRESS_ALLOCATED 10
#define PROGRESS_NODES_SPAN 70
#define PROGRESS_CONFIGURED 90
#define CALL_OUT_MAX 512
#define INFO_OUT_MAX 8192
#define PROGRESS_RESTORE_STOPPING 20
#define NUM_TEXT_MAX 32

int rec_node_wanted(const pass *p, const node_row *nd)
{
    return nd->shard < p->in.shards && nd->replica_index <= p->in.replicas;
}

static void node_spec(const pass *p, const node_row *nd, prov_node *s)
{
    memset(s, 0, sizeof(*s));
    s->instance_id = nd->instance_id;
    s->node_id = nd->id;
    s->host = nd->host;
    s->port = nd->port;
    s->admin_port = nd->admin_port;
    s->cluster_mode = p->cluster_mode;
    s->cluster_id = nd->cluster_id;
    s->maxmemory = p->in.memory / p->in.shards;
    s->eviction_policy = p->in.eviction_policy;
    s->password = p->password;
    s->masterauth = p->in.replicas > 0 ? p->password : NULL;
    s->snapshot_cron = p->in.snapshot_cron;
    s->appendonly = p->in.appendonly;
    s->threads = (int)ctl_cfg.node_threads;
    tls_node_spec(p, s); /* issue 14 */
}

int rec_node_create(const pass *p, const node_row *nd, char *err, size_t errlen)
{
    prov_node spec;
    node_spec(p, nd, &spec);
    return rec_prov->ops->create(rec_prov, &spec, err, errlen);
}

int rec_node_call_timeout(const pass *p, const node_row *nd, int timeout_ms, char *out,
                          size_t outlen, int argc, const char *const *argv)
{
    int rc = resp_call(nd->host, nd->admin_port, p->password, timeout_ms, out, outlen, argc, argv);
    /* issue 14: during a rotation of the default password a node may know only the old one. */
    char old[SECRET_MAX];
    if (rc == RESP_ERROR && strstr(out, "WRONGPASS") &&
        acl_default_old_password(p->in.id, old, sizeof(old)) == 0)
        rc = resp_call(nd->host, nd->admin_port, old, timeout_ms, out, outlen, argc, argv);
    if (rc != RESP_OK)
        atomic_fetch_add(&ctl_counters.node_call_errors, 1);
    return rc;
}

int rec_node_call(const pass *p, const node_row *nd, char *out, size_t outlen, int argc,
                  const char *const *argv)
{
    return rec_node_call_timeout(p, nd, (int)ctl_cfg.node_call_timeout_ms, out, outlen, argc, argv);
}

/* ---- ports and node rows ------------------------------------------------------------------ */

/* Is host:port free to listen on right now? Another program may hold a port of our range. */
static int port_bindable(const char *host, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[NUM_TEXT_MAX];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return 0;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, ok = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ok = bind(fd, res->ai_addr, res->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

/* need free ports of the range (not given to any node, and bindable) into out. Inside the
 * transaction that gives them, so two passes can never pick the same one. */
static int ports_pick(int need, int *out)
{
    static unsigned char used[PORT_SPACE / 8];
    memset(used, 0, sizeof(used));
    sqlite3_stmt *st = db_prepare("SELECT port FROM ports");
    if (!st)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int port = sqlite3_column_int(st, 0);
        if (port > 0 && port < PORT_SPACE)
            used[port / 8] |= (unsigned char)(1u << (port % 8));
    }
    db_done(st);
    int k = 0;
    for (int port = ctl_cfg.port_min; port <= ctl_cfg.port_max && k < need; port++)
        if (!(used[port / 8] & (1u << (port % 8))) && port_bindable(ctl_cfg.node_host, port))
            out[k++] = port;
    return k == need ? 0 : -1;
}

static int node_insert(const pass *p, int shard, int replica, int port, int admin_port)
{
    char id[ID_MAX], cluster_id[CLUSTER_ID_LEN + 1];
    unsigned char raw[CLUSTER_ID_LEN / 2];
    ids_new("nod", id);
    ids_random(raw, sizeof(raw));
    ids_hex(raw, sizeof(raw), cluster_id);
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare(
        "INSERT INTO nodes(id, instance_id, shard, replica_index, role, host, port, admin_port, "
        "cluster_id, status, created_at, updated_at, restart_version) "
        "VALUES (?,?,?,?,?,?,?,?,?,'pending',?,?,?)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, p->in.id);
    sqlite3_bind_int(st, 3, shard);
    sqlite3_bind_int(st, 4, replica);
    db_bind_text(st, 5, replica == 0 ? ROLE_MASTER : ROLE_REPLICA);
    db_bind_text(st, 6, ctl_cfg.node_host);
    sqlite3_bind_int(st, 7, port);
    sqlite3_bind_int(st, 8, admin_port);
    db_bind_text(st, 9, cluster_id);
    sqlite3_bind_int64(st, 10, now);
    sqlite3_bind_int64(st, 11, now);
    /* A new node starts with the current configuration: no rolling restart asked before it
     * existed concerns it (one to cluster mode for a resize, say). */
    sqlite3_bind_int64(st, 12, p->in.restart_version);
    int rc = db_step_done(st);
    db_done(st);
    static const char *const kinds[PORTS_PER_NODE] = {"client", "admin"};
    const int ports[PORTS_PER_NODE] = {port, admin_port};
    for (int i = 0; rc == SQLITE_DONE && i < PORTS_PER_NODE; i++) {
        st = db_prepare("INSERT INTO ports(port, node_id, kind) VALUES (?,?,?)");
        sqlite3_bind_int(st, 1, ports[i]);
        db_bind_text(st, 2, id);
        db_bind_text(st, 3, kinds[i]);
        rc = db_step_done(st);
        db_done(st);
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

static int node_exists(const pass *p, int shard, int replica)
{
    for (int i = 0; i < p->n; i++)
        if (p->nodes[i].shard == shard && p->nodes[i].replica_index == replica)
            return 1;
    return 0;
}

static void nodes_reload(pass *p)
{
    free(p->nodes);
    store_nodes_load(p->in.id, &p->nodes, &p->n);
}

/* Makes the rows (and ports) of wanted nodes that have none, in one transaction. */
static int nodes_create_missing(pass *p)
{
    int missing = 0;
    for (int s = 0; s < p->in.shards; s++)
        for (int r = 0; r <= p->in.replicas; r++)
            missing += !node_exists(p, s, r);
    if (!missing)
        return 0;
    int *ports = malloc(sizeof(int) * (size_t)(missing * PORTS_PER_NODE));
    /* Looked at first without the write lock: an instance waiting for ports must not take
     * it on every pass. The pick that counts is the one inside the transaction. */
    int rc = ports_pick(missing * PORTS_PER_NODE, ports) == 0 && db_begin() == SQLITE_OK ? 0 : -1;
    if (rc < 0 || ports_pick(missing * PORTS_PER_NODE, ports) < 0) {
        snprintf(p->reason, sizeof(p->reason), "no free ports: %d needed in --port-range %d-%d",
                 missing * PORTS_PER_NODE, ctl_cfg.port_min, ctl_cfg.port_max);
        rc = -1;
    }
    int k = 0;
    for (int s = 0; rc == 0 && s < p->in.shards; s++)
        for (int r = 0; rc == 0 && r <= p->in.replicas; r++)
            if (!node_exists(p, s, r)) {
                rc = node_insert(p, s, r, ports[k], ports[k + 1]);
                k += PORTS_PER_NODE;
            }
    free(ports);
    if (rc == 0 && db_commit() == SQLITE_OK) {
        store_event(p->in.id, "nodes_allocated", NULL, NULL, NULL,
                    "%d node(s) and %d port(s) allocated", missing, missing * PORTS_PER_NODE);
        nodes_reload(p);
        return 0;
    }
    if (db_in_transaction())
        db_rollback();
    return -1;
}

/* ---- supervision ---------------------------------------------------------------------------- */

static int node_start(pass *p, node_row *nd, node_rt *rt)
{
    char err[REASON_MAX];
    prov_node spec;
    node_spec(p, nd, &spec);
    long pid = 0;
    int rc = rec_prov->ops->create(rec_prov, &spec, err, sizeof(err));
    if (rc == 0)
        rc = rec_prov->ops->start(rec_prov, nd->instance_id, nd->id, &pid, err, sizeof(err));
    if (rc < 0) {
        rt->failures++;
        rt->next_start_ms = p->now + supervisor_backoff_ms(rt->failures);
        store_event(p->in.id, "node_start_failed", NULL, NULL, nd->id, "%s", err);
        snprintf(p->reason, sizeof(p->reason), "node %s cannot start: %.400s", nd->id, err);
        log_warning("instance %s: node %s cannot start: %s", p->in.id, nd->id, err);
        return -1;
    }
    atomic_fetch_add(&ctl_counters.node_starts, 1);
    snprintf(nd->status, sizeof(nd->status), "%s", NODE_STARTING);
    nd->pid = pid;
    rt->started_ms = p->now;
    rt->running_since = 0;
    rt->stopping = 0;
    rt->planned_exit = 0;
    rt->last_exit[0] = '\0';
    store_event(p->in.id, "node_started", NULL, NULL, nd->id, "pid %ld on port %d", pid, nd->port);
    reconcile_soon();
    return 0;
}

/* The node's process is gone: count it, choose when it starts again. */
static void node_exited(pass *p, node_row *nd, node_rt *rt)
{
    const char *how = rt->last_exit[0] ? rt->last_exit : "gone (not a child of this daemon)";
    snprintf(p->last_exit, sizeof(p->last_exit), "%s", how);
    if (rt->planned_exit) {
        rt->next_start_ms = p->now;
        store_event(p->in.id, "node_stopped", NULL, NULL, nd->id, "stopped on purpose (%s)", how);
    } else {
        rt->down_since = p->now; /* a master's replica may replace it (failover.c) */
        rt->failures++;
        nd->restarts++;
        int64_t wait = supervisor_backoff_ms(rt->failures);
        rt->next_start_ms = p->now + wait;
        atomic_fetch_add(&ctl_counters.node_exits, 1);
        store_event(p->in.id, "node_exited", NULL, NULL, nd->id,
                    "pid %ld %s; restart %d in %lld ms", nd->pid, how, nd->restarts,
                    (long long)wait);
        log_warning("instance %s: node %s (pid %ld) %s; restarting in %lld ms", p->in.id, nd->id,
                    nd->pid, how, (long long)wait);
    }
    snprintf(nd->status, sizeof(nd->status), "%s", NODE_DOWN);
    nd->pid = 0;
    rt->started_ms = 0;
    rt->running_since = 0;
    rt->stopping = 0;
    rt->planned_exit = 0;
    rt->last_exit[0] = '\0';
}

/* A started node answers PING: it is running and needs its configuration. */
static void node_probe(pass *p, node_row *nd, node_rt *rt)
{
    static const char *const ping[] = {"PING"};
    static const char *const persistence[] = {"INFO", "persistence"};
    char out[CALL_OUT_MAX], info[INFO_OUT_MAX];
    int answers = rec_node_call(p, nd, out, sizeof(out), 1, ping) == RESP_OK;
    /* Not before it loaded its data: the first cluster configuration drops the keys of slots
     * it does not own, which must include every key of a restored snapshot. */
    if (answers && rec_node_call(p, nd, info, sizeof(info), 2, persistence) == RESP_OK &&
        resp_info_ll(info, "loading", 0)) {
        snprintf(p->reason, sizeof(p->reason), "node %s is loading its data", nd->id);
        reconcile_soon();
        return;
    }
    if (answers) {
        snprintf(nd->status, sizeof(nd->status), "%s", NODE_RUNNING);
        rt->running_since = p->now;
        rt->needs_push = 1;
        rt->down_since = 0;
        store_event(p->in.id, "node_running", NULL, NULL, nd->id, "answers on port %d (pid %ld)",
                    nd->port, nd->pid);
        return;
    }
    if (p->now - rt->started_ms > ctl_cfg.node_start_timeout_ms) {
        log_warning("instance %s: node %s did not answer within %lld ms: killing it", p->in.id,
                    nd->id, ctl_cfg.node_start_timeout_ms);
        snprintf(rt->last_exit, sizeof(rt->last_exit), "did not answer in time (%.60s)", out);
        rec_prov->ops->stop(rec_prov, nd->instance_id, nd->id, 1);
    }
    snprintf(p->reason, sizeof(p->reason), "waiting for node %s to answer", nd->id);
    reconcile_soon();
}

/* Sends SIGTERM once, SIGKILL after the grace period. */
static void node_stop_step(pass *p, node_row *nd, node_rt *rt)
{
    if (!rt->stopping) {
        rt->stopping = 1;
        rt->planned_exit = 1;
        rt->kill_at_ms = p->now + ctl_cfg.stop_grace_ms;
        atomic_fetch_add(&ctl_counters.node_stops, 1);
        rec_prov->ops->stop(rec_prov, nd->instance_id, nd->id, 0);
        snprintf(nd->status, sizeof(nd->status), "%s", NODE_STOPPING);
        reconcile_soon();
    } else if (p->now >= rt->kill_at_ms) {
        log_warning("instance %s: node %s still runs %lld ms after SIGTERM: SIGKILL", p->in.id,
                    nd->id, ctl_cfg.stop_grace_ms);
        rec_prov->ops->stop(rec_prov, nd->instance_id, nd->id, 1);
    }
}

/* Observes one wanted node and moves it one step towards running. Returns 1 when it runs. */
static int node_supervise(pass *p, node_row *nd)
{
    node_rt *rt = supervisor_rt(nd->id);
    node_row before = *nd;
    long pid = 0;
    int st = rec_prov->ops->status(rec_prov, nd->instance_id, nd->id, &pid);
    if (st == PROV_RUNNING) {
        if (!rt->started_ms) { /* running, and not started by this daemon: adopt it */
            rt->started_ms = p->now;
            rt->needs_push = 1;
            atomic_fetch_add(&ctl_counters.node_adoptions, 1);
            store_event(p->in.id, "node_adopted", NULL, NULL, nd->id,
                        "pid %ld was running; adopted", pid);
            if (!strcmp(nd->status, NODE_RUNNING))
                rt->running_since = p->now;
            else if (strcmp(nd->status, NODE_STOPPING))
                snprintf(nd->status, sizeof(nd->status), "%s", NODE_STARTING);
        }
        nd->pid = pid;
        if (!strcmp(nd->status, NODE_STOPPING))
            node_stop_step(p, nd, rt);
        else if (strcmp(nd->status, NODE_RUNNING))
            node_probe(p, nd, rt);
        else {
            failover_watch(p, nd, rt);
            if (rt->failures && p->now - rt->running_since >= SUPERVISOR_STABLE_MS)
                rt->failures = 0;
        }
    } else {
        if (!strcmp(nd->status, NODE_STARTING) || !strcmp(nd->status, NODE_RUNNING) ||
            !strcmp(nd->status, NODE_STOPPING))
            node_exited(p, nd, rt);
        if (failover_hold(p, nd, rt))
            ; /* its replica takes over; it comes back as a replica */
        else if (p->now >= rt->next_start_ms)
            node_start(p, nd, rt);
        else
            snprintf(p->reason, sizeof(p->reason), "node %s restarts in %lld ms", nd->id,
                     (long long)(rt->next_start_ms - p->now));
        if (!p->in.ever_running && rt->failures > p->failed_starts)
            p->failed_starts = rt->failures;
    }
    if (memcmp(&before, nd, sizeof(before)))
        store_node_save(nd);
    return !strcmp(nd->status, NODE_RUNNING);
}

/* Stops and removes one node that is no longer wanted. Returns 1 once it is gone. */
static int node_remove_step(pass *p, node_row *nd)
{
    node_rt *rt = supervisor_rt(nd->id);
    long pid = 0;
    if (rec_prov->ops->status(rec_prov, nd->instance_id, nd->id, &pid) == PROV_RUNNING) {
        node_stop_step(p, nd, rt);
        store_node_save(nd);
        return 0;
    }
    rec_prov->ops->destroy(rec_prov, nd->instance_id, nd->id);
    sqlite3_stmt *st = db_prepare("DELETE FROM nodes WHERE id = ?"); /* its ports go with it */
    db_bind_text(st, 1, nd->id);
    db_step_done(st);
    db_done(st);
    store_event(p->in.id, "node_removed", NULL, NULL, nd->id, "stopped; files and ports freed");
    supervisor_forget(nd->id);
    return 1;
}

/* ---- rolling restart ------------------------------------------------------------------------ */

/* When a restart was asked, stops the next node not restarted yet (one at a time, each once
 * every node runs again). Returns 1 while a restart is in progress. */
static int restart_step(pass *p)
{
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd) || nd->restart_version >= p->in.restart_version)
            continue;
        node_rt *rt = supervisor_rt(nd->id);
        nd->restart_version = p->in.restart_version;
        node_stop_step(p, nd, rt);
        store_node_save(nd);
        store_event(p->in.id, "node_restarting", NULL, NULL, nd->id, "rolling restart");
        snprintf(p->reason, sizeof(p->reason), "restarting node %s", nd->id);
        return 1;
    }
    return 0;
}

/* ---- configuration push --------------------------------------------------------------------- */

/* CONFIG SET of what may change while the node runs, and its config file for the next start. */
static int node_apply_spec(pass *p, node_row *nd)
{
    char err[REASON_MAX], out[CALL_OUT_MAX], mem[NUM_TEXT_MAX];
    prov_node spec;
    node_spec(p, nd, &spec);
    if (rec_prov->ops->create(rec_prov, &spec, err, sizeof(err)) < 0) {
        snprintf(p->reason, sizeof(p->reason), "%s", err);
        return -1;
    }
    snprintf(mem, sizeof(mem), "%lld", spec.maxmemory);
    const char *set[] = {"CONFIG",           "SET",
                         "maxmemory",        mem,
                         "maxmemory-policy", spec.eviction_policy,
                         "snapshot-cron",    spec.snapshot_cron};
    if (rec_node_call(p, nd, out, sizeof(out), 8, set) != RESP_OK)
        goto fail;
    /* issue 14: the default password may have been rotated; replicas reconnect with it. */
    const char *set_auth[] = {"CONFIG", "SET", "masterauth", spec.masterauth};
    if (spec.masterauth && rec_node_call(p, nd, out, sizeof(out), 4, set_auth) != RESP_OK)
        goto fail;
    static const char *const get_aof[] = {"CONFIG", "GET", "appendonly"};
    if (rec_node_call(p, nd, out, sizeof(out), 3, get_aof) != RESP_OK)
        goto fail;
    /* Only a change: CONFIG SET appendonly yes on a node that has it starts a new base. */
    const char *want = spec.appendonly ? "yes" : "no";
    const char *set_aof[] = {"CONFIG", "SET", "appendonly", want};
    const char *have = strchr(out, '\n');
    if ((!have || strncmp(have + 1, want, strlen(want))) &&
        rec_node_call(p, nd, out, sizeof(out), 4, set_aof) != RESP_OK)
        goto fail;
    return 0;
fail:
    snprintf(p->reason, sizeof(p->reason), "node %s: %.400s", nd->id, out);
    return -1;
}

node_row *rec_shard_master(pass *p, int shard)
{
    for (int i = 0; i < p->n; i++)
        if (rec_node_wanted(p, &p->nodes[i]) && p->nodes[i].shard == shard &&
            !strcmp(p->nodes[i].role, ROLE_MASTER))
            return &p->nodes[i];
    return NULL;
}

/* DFLYCLUSTER CONFIG with the topology of the wanted nodes, to each of them. */
int rec_push_cluster(pass *p, int running_only)
{
    node_row *wanted = malloc(sizeof(node_row) * (size_t)(p->n ? p->n : 1));
    int k = 0;
    for (int i = 0; i < p->n; i++)
        if (rec_node_wanted(p, &p->nodes[i]))
            wanted[k++] = p->nodes[i];
    char *json = resize_cluster_config(p, wanted, k);
    free(wanted);
    int rc = 0;
    char out[CALL_OUT_MAX];
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd) || (running_only && strcmp(nd->status, NODE_RUNNING)))
            continue;
        const char *cmd[] = {"DFLYCLUSTER", "CONFIG", json};
        if (rec_node_call(p, nd, out, sizeof(out), 3, cmd) != RESP_OK) {
            snprintf(p->reason, sizeof(p->reason), "DFLYCLUSTER CONFIG on node %s: %.400s", nd->id,
                     out);
            rc = -1;
            if (!running_only)
                break;
        }
    }
    free(json);
    return rc;
}

/* REPLICAOF on every replica whose master or itself (re)started, or on every replica (all). */
int rec_push_replication(pass *p, int all)
{
    char out[CALL_OUT_MAX], port[NUM_TEXT_MAX];
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd))
            continue;
        if (!strcmp(nd->role, ROLE_MASTER)) {
            /* A master replicates from nobody: one promoted by a failover that the daemon did
             * not finish (a crash) may still follow the old master. Harmless on a master. */
            static const char *const no_one[] = {"REPLICAOF", "NO", "ONE"};
            if ((all || supervisor_rt(nd->id)->needs_push) &&
                rec_node_call(p, nd, out, sizeof(out), 3, no_one) != RESP_OK) {
                snprintf(p->reason, sizeof(p->reason), "REPLICAOF NO ONE on node %s: %.400s",
                         nd->id, out);
                return -1;
            }
            continue;
        }
        node_row *m = rec_shard_master(p, nd->shard);
        if (!m)
            continue;
        if (!all && !supervisor_rt(nd->id)->needs_push && !supervisor_rt(m->id)->needs_push)
            continue;
        snprintf(port, sizeof(port), "%d", m->port);
        const char *cmd[] = {"REPLICAOF", m->host, port};
        if (rec_node_call(p, nd, out, sizeof(out), 3, cmd) != RESP_OK) {
            snprintf(p->reason, sizeof(p->reason), "REPLICAOF on node %s: %.400s", nd->id, out);
            return -1;
        }
    }
    return 0;
}

/* Gives the nodes what they need after a change of the desired state (full) or after some of
 * them (re)started: the spec's values, the cluster configuration, replication. Returns 0 once
 * every node took it. */
static int push_config(pass *p, int full)
{
    int any_new = 0;
    for (int i = 0; i < p->n; i++)
        if (rec_node_wanted(p, &p->nodes[i]))
            any_new |= supervisor_rt(p->nodes[i].id)->needs_push;
    if (!full && !any_new)
        return 0;
    for (int i = 0; full && i < p->n; i++)
        if (rec_node_wanted(p, &p->nodes[i]) && node_apply_spec(p, &p->nodes[i]) < 0)
            return -1;
    if (!strcmp(p->cluster_mode, "yes") && rec_push_cluster(p, 0) < 0)
        return -1;
    if (p->in.replicas > 0 && rec_push_replication(p, full) < 0)
        return -1;
    for (int i = 0; i < p->n; i++)
        if (rec_node_wanted(p, &p->nodes[i]))
            supervisor_rt(p->nodes[i].id)->needs_push = 0;
    return 0;
}

/* ---- restores ------------------------------------------------------------------------------- */

/* The merged data of backup_id becomes what every master loads at its next start; replicas
 * start empty and copy their master. Nodes must not run. Returns 0 or -1 with p->reason. */
static int restore_place(pass *p, const char *backup_id)
{
    char tmp[PATH_MAX + 64], err[BACKUP_ERR_MAX];
    snprintf(tmp, sizeof(tmp), "%s/restore-%s.rdb", ctl_cfg.data_dir_abs, p->in.id);
    int rc = backup_export_file(backup_id, tmp, err, sizeof(err));
    if (rc < 0)
        snprintf(p->reason, sizeof(p->reason), "restore from %s: %.400s", backup_id, err);
    for (int i = 0; rc == 0 && i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        int master = !strcmp(nd->role, ROLE_MASTER);
        if (rec_prov->ops->snapshot_place(rec_prov, nd->instance_id, nd->id, master ? tmp : NULL) <
            0) {
            snprintf(p->reason, sizeof(p->reason), "restore: cannot place data for node %s",
                     nd->id);
            rc = -1;
        }
    }
    unlink(tmp);
    return rc;
}

/* A new instance made from a backup: before any node starts, its data is put in place. Returns
 * 0 (done, or not such an instance) or -1 (the instance failed: p->reason says why). */
static int restore_new(pass *p)
{
    if (!p->in.restore_from[0] || p->in.restore_placed || p->in.ever_running)
        return 0;
    if (!strcmp(p->in.status, ST_FAILED)) { /* for good: no node starts without its data */
        snprintf(p->reason, sizeof(p->reason), "%s", p->in.status_reason);
        return -1;
    }
    int rc = restore_place(p, p->in.restore_from);
    if (db_begin() != SQLITE_OK)
        return -1;
    if (rc == 0) {
        sqlite3_stmt *st = db_prepare("UPDATE instances SET restore_placed = 1 WHERE id = ?");
        db_bind_text(st, 1, p->in.id);
        db_step_done(st);
        db_done(st);
        store_event(p->in.id, "restored", NULL, NULL, NULL,
                    "the data of backup %s is in place for %d master(s)", p->in.restore_from,
                    p->in.shards);
        p->in.restore_placed = 1;
    } else {
        store_operations_finish(p->in.id, p->in.spec_version, OP_FAILED, p->reason);
        store_event(p->in.id, "restore_failed", NULL, NULL, NULL, "%s", p->reason);
    }
    if (db_commit() != SQLITE_OK)
        db_rollback();
    return rc;
}

/* Ends an in-place restore: its operation, the instance's request columns, an event. */
static void restore_finish(pass *p, int ok)
{
    if (db_begin() != SQLITE_OK)
        return;
    store_operation_finish_one(p->in.restore_op, ok ? OP_SUCCEEDED : OP_FAILED,
                               ok ? NULL : p->reason);
    sqlite3_stmt *st =
        db_prepare("UPDATE instances SET restore_backup_id = NULL, restore_op = NULL WHERE id = ?");
    db_bind_text(st, 1, p->in.id);
    db_step_done(st);
    db_done(st);
    if (ok)
        store_event(p->in.id, "restored", NULL, NULL, NULL,
                    "data replaced by backup %s; nodes start again", p->in.restore_backup_id);
    else
        store_event(p->in.id, "restore_failed", NULL, NULL, NULL, "%s", p->reason);
    if (db_commit() != SQLITE_OK)
        db_rollback();
}

/* An in-place restore: every node stops (writes stop with it), the backup's data replaces
 * theirs, and normal supervision starts them again (their exits were planned). */
static void converge_restore(pass *p)
{
    int running = 0;
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        long pid = 0;
        if (rec_prov->ops->status(rec_prov, nd->instance_id, nd->id, &pid) != PROV_RUNNING)
            continue;
        node_row before = *nd;
        node_stop_step(p, nd, supervisor_rt(nd->id));
        if (memcmp(&before, nd, sizeof(before)))
            store_node_save(nd);
        running++;
    }
    if (running) {
        snprintf(p->reason, sizeof(p->reason), "restore: stopping %d node(s)", running);
        store_operation_progress_one(p->in.restore_op, PROGRESS_RESTORE_STOPPING);
        return;
    }
    int ok = restore_place(p, p->in.restore_backup_id) == 0;
    restore_finish(p, ok);
    if (ok)
        p->reason[0] = '\0';
    reconcile_soon();
}

/* ---- deletion ------------------------------------------------------------------------------- */

/* Stops every node; once none runs, removes the files, the node rows (and so their ports) and
 * marks the instance gone, in one transaction. */
static void converge_delete(pass *p)
{
    int running = 0;
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        long pid = 0;
        if (rec_prov->ops->status(rec_prov, nd->instance_id, nd->id, &pid) != PROV_RUNNING)
            continue;
        node_row before = *nd;
        node_stop_step(p, nd, supervisor_rt(nd->id));
        if (memcmp(&before, nd, sizeof(before)))
            store_node_save(nd);
        running++;
    }
    if (running) {
        snprintf(p->reason, sizeof(p->reason), "stopping %d node(s)", running);
        return;
    }
    if (rec_prov->ops->destroy_instance(rec_prov, p->in.id) < 0) {
        snprintf(p->reason, sizeof(p->reason), "cannot remove the instance's files");
        return;
    }
    if (db_begin() != SQLITE_OK)
        return;
    sqlite3_stmt *st = db_prepare("DELETE FROM nodes WHERE instance_id = ?");
    db_bind_text(st, 1, p->in.id);
    db_step_done(st);
    db_done(st);
    st = db_prepare("UPDATE operations SET status = 'failed', error = 'canceled: the instance "
                    "was deleted', finished_at = ?1, updated_at = ?1 WHERE target_id = ?2 AND "
                    "kind != 'delete' AND status IN ('pending', 'running')");
    sqlite3_bind_int64(st, 1, p->now);
    db_bind_text(st, 2, p->in.id);
    db_step_done(st);
    db_done(st);
    store_operations_finish(p->in.id, p->in.spec_version, OP_SUCCEEDED, NULL);
    snprintf(p->in.status, sizeof(p->in.status), "%s", ST_GONE);
    p->in.status_reason[0] = '\0';
    p->in.deleted_at = p->now;
    store_instance_save_status(&p->in);
    store_event(p->in.id, "status", ST_DELETING, ST_GONE, NULL,
                "every node stopped; files and ports freed");
    if (db_commit() != SQLITE_OK)
        return;
    for (int i = 0; i < p->n; i++)
        supervisor_forget(p->nodes[i].id);
    log_info("instance %s deleted", p->in.id);
}

/* ---- status and progress -------------------------------------------------------------------- */

static void report_progress(pass *p, int running, int total, int configured)
{
    int allocated = total > 0 && p->n >= total;
    int progress = allocated ? PROGRESS_ALLOCATED : 0;
    if (total > 0)
        progress += PROGRESS_NODES_SPAN * running / total;
    if (configured)
        progress = PROGRESS_CONFIGURED;
    char detail[NUM_TEXT_MAX * 2];
    snprintf(detail, sizeof(detail), "%d/%d running", running, total);
    json_t *steps =
        json_pack("[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]", "name", "allocate", "status",
                  allocated ? "done" : "running", "name", "start_nodes", "status",
                  running == total && allocated ? "done"
                  : allocated                   ? "running"
                                                : "pending",
                  "detail", detail, "name", "configure", "status", configured ? "done" : "pending");
    char *text = jx_dump(steps, NULL);
    json_decref(steps);
    store_operations_progress(p->in.id, progress, text);
    free(text);
}

/* The status the instance shows for what this pass saw. */
static const char *status_of(const pass *p, int all_running)
{
    if (!p->in.ever_running)
        return p->failed_starts >= ctl_cfg.create_max_attempts ? ST_FAILED : ST_CREATING;
    if (p->in.applied_version < p->in.spec_version)
        return ST_UPDATING;
    return all_running ? ST_RUNNING : ST_DEGRADED;
}

/* Saves status, reason and applied version when any changed (applied: this pass applied a
 * new version), with an event for a new status. */
static void status_save(pass *p, const char *want, const char *before, int applied)
{
    int changed = strcmp(want, before) != 0;
    if (!changed && !applied && !strcmp(p->reason, p->in.status_reason))
        return;
    snprintf(p->in.status, sizeof(p->in.status), "%s", want);
    snprintf(p->in.status_reason, sizeof(p->in.status_reason), "%s", p->reason);
    store_instance_save_status(&p->in);
    if (changed) {
        store_event(p->in.id, "status", before, want, NULL, "%s",
                    p->reason[0]                 ? p->reason
                    : !strcmp(want, ST_RUNNING)  ? "every node runs and is configured"
                    : !strcmp(want, ST_DEGRADED) ? "a node is not running"
                                                 : "converging");
        log_info("instance %s: %s -> %s%s%s", p->in.id, before, want, p->reason[0] ? ": " : "",
                 p->reason);
    }
}

/* Marks the operations failed when a new instance cannot start. */
static void fail_creation(pass *p)
{
    char error[REASON_MAX];
    snprintf(error, sizeof(error), "a node failed to start %d times (last: %s); its log says why",
             p->failed_starts, p->last_exit[0] ? p->last_exit : "it did not start");
    store_operations_finish(p->in.id, p->in.spec_version, OP_FAILED, error);
}

void reconcile_instance(const char *id)
{
    pass p;
    memset(&p, 0, sizeof(p));
    if (store_instance_get(id, NULL, 0, &p.in) < 0)
        return;
    p.now = ids_now_ms();
    resize_pass_begin(&p); /* a shard change in progress: the nodes of both layouts */
    p.cluster_mode = p.in.shards > 1 ? "yes" : "emulated";
    char before[STATUS_MAX];
    snprintf(before, sizeof(before), "%s", p.in.status);
    store_nodes_load(id, &p.nodes, &p.n);
    pki_pass_prepare(id, &p.tls); /* issue 14: its certificate, issued or renewed when due */
    if (store_instance_password(id, p.password, sizeof(p.password)) < 0) {
        log_error("instance %s: its password does not decrypt (another secret.key?)", id);
        goto out;
    }
    if (p.in.delete_requested) {
        converge_delete(&p);
        if (strcmp(p.in.status, ST_GONE))
            status_save(&p, ST_DELETING, before, 0);
        goto out;
    }
    if (p.in.restore_backup_id[0]) {
        converge_restore(&p);
        status_save(&p, ST_UPDATING, before, 0);
        goto out;
    }
    int ok = nodes_create_missing(&p) == 0;
    if (ok && restore_new(&p) < 0) {
        status_save(&p, ST_FAILED, before, 0);
        goto out;
    }
    int removing = 0;
    for (int i = 0; i < p.n; i++)
        if (!rec_node_wanted(&p, &p.nodes[i]))
            removing += !node_remove_step(&p, &p.nodes[i]);
    if (removing == 0)
        nodes_reload(&p);
    int running = 0, total = 0;
    for (int i = 0; i < p.n; i++)
        if (rec_node_wanted(&p, &p.nodes[i])) {
            total++;
            running += node_supervise(&p, &p.nodes[i]);
        }
    int all_running = ok && total == p.in.shards * (p.in.replicas + 1) && running == total;
    if (!removing && failover_step(&p, all_running)) {
        all_running = 0; /* the old master comes back as a replica in a later pass */
        reconcile_soon();
    }
    int configured = 0;
    int full = p.in.applied_version < p.in.spec_version;
    if (all_running && !removing && !restart_step(&p) && push_config(&p, full) == 0 &&
        resize_step(&p) == 0) {
        configured = 1;
        p.reason[0] = '\0';
        if (full) {
            p.in.applied_version = p.in.spec_version;
            p.in.ever_running = 1;
            store_operations_finish(p.in.id, p.in.spec_version, OP_SUCCEEDED, NULL);
        }
    }
    acl_push(&p); /* issue 14: ACL users to every running node, again after a restart */
    tls_push(&p); /* issue 14: a new certificate, CRL or client auth setting to running nodes */
    if (p.in.applied_version < p.in.spec_version && strcmp(before, ST_FAILED) &&
        !resize_report(&p, running, total))
        report_progress(&p, running, total, configured);
    const char *want = status_of(&p, all_running && configured);
    if (!strcmp(want, ST_FAILED) && strcmp(before, ST_FAILED))
        fail_creation(&p);
    status_save(&p, want, before, configured && full);
out:
    pki_pass_free(&p.tls);
    free(p.nodes);
    store_instance_clear(&p.in);
}
