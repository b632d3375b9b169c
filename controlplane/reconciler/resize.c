/* Online resize: see resize.h. The slot layouts are even splits (topology_slots), so the
 * migrations follow from the two shard counts alone: each slot goes straight from its owner in
 * the old split to its owner in the new one, one range per (source, target) pair. */
#include "resize.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "node/resp.h"
#include "topology.h"

#define STATUS_OUT_MAX 8192
#define STATUS_FIELDS 5 /* direction, node id, state, keys, error */
#define NUM_TEXT_MAX 32

/* Progress of a resize's operation: nodes up to PROGRESS_NODES, the migrations between
 * PROGRESS_MIGRATE_FROM and its end, then the final configuration (the stops follow). */
#define PROGRESS_NODES 20
#define PROGRESS_MIGRATE_FROM 30
#define PROGRESS_MIGRATE_SPAN 50
#define PROGRESS_FINAL 85

enum resize_phase { PHASE_PREPARE = 0, PHASE_MIGRATING = 1, PHASE_FINAL = 2 };

/* What the last poll saw, for resize_report in the same pass (loop thread only). */
static int polled_finished, polled_total;

void resize_pass_begin(pass *p)
{
    p->resize_from = p->resize_to = 0;
    polled_finished = polled_total = 0;
    sqlite3_stmt *st =
        db_prepare("SELECT slot_shards, resize_phase, resize_attempts FROM instances WHERE id = ?");
    if (!st)
        return;
    db_bind_text(st, 1, p->in.id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        int from = sqlite3_column_int(st, 0);
        if (from > 0 && from != p->in.shards) {
            p->resize_from = from;
            p->resize_to = p->in.shards;
            p->resize_phase = sqlite3_column_int(st, 1);
            p->resize_attempts = sqlite3_column_int(st, 2);
            p->in.shards = from > p->in.shards ? from : p->in.shards;
        }
    }
    db_done(st);
}

/* ---- the configuration of a phase ------------------------------------------------------------ */

static json_t *node_json(const node_row *nd)
{
    return json_pack("{s:s, s:s, s:i}", "id", nd->cluster_id, "ip", nd->host, "port", nd->port);
}

static const node_row *master_of(const node_row *nodes, int n, int shard)
{
    for (int i = 0; i < n; i++)
        if (nodes[i].shard == shard && !strcmp(nodes[i].role, ROLE_MASTER))
            return &nodes[i];
    return NULL;
}

/* The slots of source (old split) that go to target (new split): [*lo, *hi]; 0 when none. */
static int moving_range(const pass *p, int source, int target, int *lo, int *hi)
{
    int a0, a1, b0, b1;
    topology_slots(source, p->resize_from, &a0, &a1);
    topology_slots(target, p->resize_to, &b0, &b1);
    *lo = a0 > b0 ? a0 : b0;
    *hi = a1 < b1 ? a1 : b1;
    return source != target && *lo <= *hi;
}

/* The migrations shard s starts in phase 1: towards each new owner of some of its slots. The
 * port is the target's admin port (the migration's flows connect there). */
static json_t *migrations_json(const pass *p, const node_row *nodes, int n, int s)
{
    json_t *list = json_array();
    for (int t = 0; s < p->resize_from && t < p->resize_to; t++) {
        int lo, hi;
        const node_row *m = master_of(nodes, n, t);
        if (!m || !moving_range(p, s, t, &lo, &hi))
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:[{s:i, s:i}]}", "node_id",
                                              m->cluster_id, "ip", m->host, "port", m->admin_port,
                                              "slot_ranges", "start", lo, "end", hi));
    }
    return list;
}

char *resize_cluster_config(const pass *p, const node_row *wanted, int k)
{
    if (!p->resize_to)
        return topology_cluster_config(wanted, k, p->in.shards);
    int owners = p->resize_phase == PHASE_FINAL ? p->resize_to : p->resize_from;
    json_t *doc = json_array();
    for (int s = 0; s < p->in.shards; s++) {
        json_t *ranges = json_array();
        if (s < owners) {
            int start, end;
            topology_slots(s, owners, &start, &end);
            json_array_append_new(ranges, json_pack("{s:i, s:i}", "start", start, "end", end));
        }
        json_t *master = json_null();
        json_t *replicas = json_array();
        for (int i = 0; i < k; i++) {
            if (wanted[i].shard != s)
                continue;
            if (!strcmp(wanted[i].role, ROLE_MASTER))
                master = node_json(&wanted[i]);
            else
                json_array_append_new(replicas, node_json(&wanted[i]));
        }
        json_t *entry = json_pack("{s:o, s:o, s:o}", "slot_ranges", ranges, "master", master,
                                  "replicas", replicas);
        json_t *migs = p->resize_phase == PHASE_MIGRATING ? migrations_json(p, wanted, k, s) : NULL;
        if (migs && json_array_size(migs))
            json_object_set_new(entry, "migrations", migs);
        else
            json_decref(migs);
        json_array_append_new(doc, entry);
    }
    char *text = jx_dump(doc, NULL);
    json_decref(doc);
    return text;
}

/* ---- state in SQLite ------------------------------------------------------------------------- */

static int save_phase(pass *p, int phase, int attempts)
{
    sqlite3_stmt *st =
        db_prepare("UPDATE instances SET resize_phase = ?1, resize_attempts = ?2 WHERE id = ?3");
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, phase);
    sqlite3_bind_int(st, 2, attempts);
    db_bind_text(st, 3, p->in.id);
    int rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
    db_done(st);
    if (rc == 0) {
        p->resize_phase = phase;
        p->resize_attempts = attempts;
    }
    return rc;
}

/* Ends the resize: the new split is the only one (slot_shards cleared). A single shard runs
 * in emulated cluster mode, more in cluster mode: down to one, the nodes restart (rolling,
 * they keep their data) in emulated mode. */
static int finish(pass *p)
{
    if (db_begin() != SQLITE_OK)
        return -1;
    sqlite3_stmt *st = db_prepare(
        "UPDATE instances SET slot_shards = NULL, resize_phase = 0, resize_attempts = 0, "
        "restart_version = restart_version + ?1 WHERE id = ?2");
    sqlite3_bind_int(st, 1, p->resize_to == 1);
    db_bind_text(st, 2, p->in.id);
    int rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
    db_done(st);
    if (rc == 0)
        store_event(p->in.id, "resized", NULL, NULL, NULL,
                    "%d shard(s) -> %d: every slot moved, the final configuration is in force%s",
                    p->resize_from, p->resize_to,
                    p->resize_to < p->resize_from ? "; removed nodes stop" : "");
    if (rc < 0 || db_commit() != SQLITE_OK) {
        db_rollback();
        return -1;
    }
    log_info("instance %s: resized from %d to %d shard(s)", p->in.id, p->resize_from, p->resize_to);
    return 0;
}

/* Gives up: the shard count goes back to what the nodes serve, the operation fails with the
 * reason. Slots that did move are handed back by the old configuration's push. */
static void give_up(pass *p, const char *why)
{
    if (db_begin() != SQLITE_OK)
        return;
    sqlite3_stmt *st = db_prepare(
        "UPDATE instances SET shards = slot_shards, slot_shards = NULL, resize_phase = 0, "
        "resize_attempts = 0, restart_version = restart_version + ?1 WHERE id = ?2");
    sqlite3_bind_int(st, 1, p->resize_from == 1); /* back to emulated mode */
    db_bind_text(st, 2, p->in.id);
    db_step_done(st);
    db_done(st);
    char error[REASON_MAX];
    snprintf(error, sizeof(error), "resize to %d shard(s) failed after %d attempt(s): %.400s",
             p->resize_to, p->resize_attempts, why);
    store_operations_finish(p->in.id, p->in.spec_version, OP_FAILED, error);
    store_event(p->in.id, "resize_failed", NULL, NULL, NULL, "%s; back to %d shard(s)", error,
                p->resize_from);
    if (db_commit() != SQLITE_OK)
        db_rollback();
    log_warning("instance %s: %s", p->in.id, error);
}

/* ---- polling the migrations ------------------------------------------------------------------ */

/* The state of the migration of direction ("out", "in") with peer in a SLOT-MIGRATION-STATUS
 * reply (one field per line, consumed), with its error; "" when it is not listed (yet). */
static void row_state(char *reply, const char *direction, const char *peer, char *state,
                      size_t slen, char *err, size_t elen)
{
    state[0] = err[0] = '\0';
    char *fields[STATUS_FIELDS];
    int k = 0;
    for (char *line = reply, *nl; line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        fields[k++] = line;
        if (k < STATUS_FIELDS)
            continue;
        k = 0;
        if (!strcmp(fields[0], direction) && !strcmp(fields[1], peer)) {
            snprintf(state, slen, "%s", fields[2]);
            snprintf(err, elen, "%s", fields[4]);
        }
    }
}

/* The state of nd's migration of direction with peer. Returns 0, or -1 when nd did not answer
 * (p->reason says so). */
static int migration_state(pass *p, node_row *nd, const char *direction, const char *peer,
                           char *state, size_t slen, char *err, size_t elen)
{
    char out[STATUS_OUT_MAX];
    static const char *const cmd[] = {"DFLYCLUSTER", "SLOT-MIGRATION-STATUS"};
    if (rec_node_call(p, nd, out, sizeof(out), 2, cmd) != RESP_OK) {
        snprintf(p->reason, sizeof(p->reason), "resize: SLOT-MIGRATION-STATUS on %s: %.300s",
                 nd->id, out);
        return -1;
    }
    row_state(out, direction, peer, state, slen, err, elen);
    return 0;
}

enum poll_result { POLL_RUNNING, POLL_DONE, POLL_ERROR, POLL_LOST, POLL_BUSY };

/* Asks the sources (and, for what they finished, the targets) about the migrations. DONE when
 * every one finished on both sides; ERROR when one failed (why says how); LOST when a target
 * no longer has what it was sent (it restarted since: in memory only); BUSY (only_idle: before
 * they start) while a source still lists one of them from an earlier attempt. */
static int poll_migrations(pass *p, int only_idle, char *why, size_t whylen)
{
    int finished = 0, total = 0, failed = 0, lost = 0, busy = 0;
    for (int s = 0; s < p->resize_from; s++) {
        node_row *src = rec_shard_master(p, s);
        for (int t = 0; src && t < p->resize_to; t++) {
            int lo, hi;
            node_row *dst = rec_shard_master(p, t);
            if (!dst || !moving_range(p, s, t, &lo, &hi))
                continue;
            total++;
            char state[NUM_TEXT_MAX], err[REASON_MAX], in[NUM_TEXT_MAX];
            if (migration_state(p, src, "out", dst->cluster_id, state, sizeof(state), err,
                                sizeof(err)) < 0)
                continue;
            busy += state[0] != '\0';
            if (only_idle)
                continue;
            if (!strcmp(state, "ERROR") && !failed++)
                snprintf(why, whylen, "slots %d-%d from shard %d to shard %d: %.300s", lo, hi, s, t,
                         err);
            if (strcmp(state, "FINISHED") || migration_state(p, dst, "in", src->cluster_id, in,
                                                             sizeof(in), err, sizeof(err)) < 0)
                continue;
            if (!strcmp(in, "FINISHED"))
                finished++;
            else if (!lost++)
                snprintf(why, whylen, "the master of shard %d restarted after slots %d-%d arrived",
                         t, lo, hi);
        }
    }
    polled_finished = finished;
    polled_total = total;
    if (only_idle)
        return busy ? POLL_BUSY : POLL_DONE;
    if (failed)
        return POLL_ERROR;
    if (lost)
        return POLL_LOST;
    return finished == total ? POLL_DONE : POLL_RUNNING;
}

/* A failed attempt: counted, and retried (or the resize given up after too many). phase: where
 * the retry starts. */
static void attempt_failed(pass *p, int phase, const char *why)
{
    if (p->resize_attempts + 1 >= RESIZE_MAX_ATTEMPTS) {
        p->resize_attempts++;
        give_up(p, why);
        return;
    }
    save_phase(p, phase, p->resize_attempts + 1);
    store_event(p->in.id, "resize_retry", NULL, NULL, NULL, "attempt %d failed: %s",
                p->resize_attempts, why);
    snprintf(p->reason, sizeof(p->reason), "resize: retrying (%.400s)", why);
}

int resize_step(pass *p)
{
    if (!p->resize_to)
        return 0;
    char why[REASON_MAX];
    switch (p->resize_phase) {
    case PHASE_PREPARE:
        /* Every node runs and serves the old split (new masters own nothing). Migrations of an
         * earlier attempt must be gone from the sources first: the same one listed again would
         * not start afresh. */
        if (poll_migrations(p, 1, why, sizeof(why)) != POLL_DONE) {
            if (!p->reason[0])
                snprintf(p->reason, sizeof(p->reason),
                         "resize: waiting for an earlier attempt's migrations to end");
        } else if (save_phase(p, PHASE_MIGRATING, p->resize_attempts) == 0) {
            store_event(p->in.id, "resize_migrating", NULL, NULL, NULL,
                        "moving slots from %d shard(s) to %d", p->resize_from, p->resize_to);
            snprintf(p->reason, sizeof(p->reason), "resize: starting the slot migrations");
        }
        break;
    case PHASE_MIGRATING:
        switch (poll_migrations(p, 0, why, sizeof(why))) {
        case POLL_DONE:
            /* Written before the final configuration is pushed (by the next pass's push). */
            save_phase(p, PHASE_FINAL, p->resize_attempts);
            snprintf(p->reason, sizeof(p->reason), "resize: pushing the final configuration");
            break;
        case POLL_ERROR: /* the next push of the same configuration starts it afresh */
            attempt_failed(p, PHASE_MIGRATING, why);
            break;
        case POLL_LOST: /* the sources still have the keys: take the slots back, move again */
            attempt_failed(p, PHASE_PREPARE, why);
            break;
        default:
            if (!p->reason[0])
                snprintf(p->reason, sizeof(p->reason),
                         "resize: %d of %d slot migration(s) finished", polled_finished,
                         polled_total);
        }
        break;
    default: /* PHASE_FINAL: every node took the final configuration in this pass's push */
        if (finish(p) == 0)
            snprintf(p->reason, sizeof(p->reason), "resize: stopping nodes no longer wanted");
        break;
    }
    reconcile_soon();
    return 1;
}

int resize_report(pass *p, int running, int total)
{
    if (!p->resize_to)
        return 0;
    int progress = total ? PROGRESS_NODES * running / total : 0;
    const char *mig = "pending", *fin = "pending";
    if (p->resize_phase == PHASE_MIGRATING) {
        progress = PROGRESS_MIGRATE_FROM;
        if (polled_total)
            progress += PROGRESS_MIGRATE_SPAN * polled_finished / polled_total;
        mig = "running";
    } else if (p->resize_phase == PHASE_FINAL) {
        progress = PROGRESS_FINAL;
        mig = "done";
        fin = "running";
    }
    char nodes[NUM_TEXT_MAX * 2], moved[NUM_TEXT_MAX * 2];
    snprintf(nodes, sizeof(nodes), "%d/%d running", running, total);
    snprintf(moved, sizeof(moved), "%d/%d finished", polled_finished, polled_total);
    json_t *steps =
        json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name",
                  "start_nodes", "status", running == total ? "done" : "running", "detail", nodes,
                  "name", "migrate_slots", "status", mig, "detail", moved, "name", "final_config",
                  "status", fin, "name", "stop_removed_nodes", "status", "pending");
    char *text = jx_dump(steps, NULL);
    json_decref(steps);
    store_operations_progress(p->in.id, progress, text);
    free(text);
    return 1;
}
