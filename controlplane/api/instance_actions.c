/* Actions on an instance that are not changes of its desired state (issue 15): a planned
 * failover (POST /v1/instances/{id}/failover) and a restore from a backup in place
 * (POST /v1/instances/{id}/restore). Each is recorded as a request on the instance's row plus
 * an operation, in one transaction; the reconciler carries it out and finishes the operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "db.h"
#include "instance.h"
#include "jsonx.h"

/* {"instance": ..., "operation": ...} with 202. */
static void action_accepted(http_req *r, const char *id, const char *op_id)
{
    json_t *inst = instance_view_load(id, NULL, 1, r->etag);
    json_t *op = api_operation_json(op_id);
    if (!inst || !op) {
        json_decref(inst);
        json_decref(op);
        http_reply_internal(r, "an accepted action cannot be read back");
        return;
    }
    snprintf(r->location, sizeof(r->location), "/v1/operations/%s", op_id);
    r->wake_reconciler = 1;
    http_reply_json(r, 202, json_pack("{s:o, s:o}", "instance", inst, "operation", op));
}

/* The instance an action is about, in the current transaction: 404 when it is not visible,
 * 409 when it is being deleted or not running yet. Returns 0 or -1 answered. */
static int action_target(http_req *r, instance_row *in)
{
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return -1;
    }
    if (in->delete_requested || !in->ever_running) {
        http_reply_error(r, 409, "conflict", NULL, "instance %s is %s", in->id,
                         in->delete_requested ? "being deleted" : "not running yet");
        store_instance_clear(in);
        return -1;
    }
    return 0;
}

/* ---- planned failover ----------------------------------------------------------------------- */

static const char *const failover_fields[] = {"shard", "replica_node_id", NULL};

/* The shard and the replica of a failover request. Returns 0 or -1 answered (422). */
static int failover_parse(http_req *r, json_t *body, const instance_row *in, int *shard,
                          const char **node)
{
    if (api_check_members(r, body, failover_fields) < 0)
        return -1;
    json_t *js = json_object_get(body, "shard");
    json_t *jn = json_object_get(body, "replica_node_id");
    if (in->replicas == 0) {
        http_reply_invalid(r, NULL, "the instance has no replicas to fail over to");
        return -1;
    }
    if (js && (!json_is_integer(js) || json_integer_value(js) < 0 ||
               json_integer_value(js) >= in->shards)) {
        http_reply_invalid(r, "shard", "shard must be an integer 0 to %d", in->shards - 1);
        return -1;
    }
    *shard = js ? (int)json_integer_value(js) : 0;
    *node = NULL;
    if (!jn || json_is_null(jn))
        return 0;
    node_row *nodes = NULL;
    int n = 0, found = -1;
    store_nodes_load(in->id, &nodes, &n);
    for (int i = 0; json_is_string(jn) && i < n; i++)
        if (!strcmp(nodes[i].id, json_string_value(jn)) && !strcmp(nodes[i].role, ROLE_REPLICA) &&
            nodes[i].replica_index <= in->replicas && (!js || nodes[i].shard == *shard))
            found = i;
    if (found >= 0)
        *shard = nodes[found].shard;
    free(nodes);
    if (found < 0) {
        http_reply_invalid(r, "replica_node_id", "replica_node_id must name a replica%s",
                           js ? " of that shard" : "");
        return -1;
    }
    *node = json_string_value(jn);
    return 0;
}

void api_instance_failover(http_req *r)
{
    json_t *body = http_body_object(r, 1);
    if (!body)
        return;
    instance_row in;
    if (db_begin() != SQLITE_OK) {
        json_decref(body);
        http_reply_internal(r, "cannot begin");
        return;
    }
    if (action_target(r, &in) < 0) {
        db_rollback();
        json_decref(body);
        return;
    }
    int shard = 0, rc = -1;
    const char *node = NULL;
    char op[ID_MAX];
    if (failover_parse(r, body, &in, &shard, &node) < 0)
        goto out;
    if (in.failover_op[0]) {
        http_reply_error(r, 409, "conflict", NULL, "a failover of instance %s is in progress (%s)",
                         in.id, in.failover_op);
        goto out;
    }
    if (store_operation_create(in.tenant_id, "failover", in.id, in.spec_version, op) < 0)
        goto out;
    sqlite3_stmt *st = db_prepare("UPDATE instances SET failover_op = ?, failover_shard = ?, "
                                  "failover_node = ?, updated_at = ? WHERE id = ?");
    db_bind_text(st, 1, op);
    sqlite3_bind_int(st, 2, shard);
    db_bind_text(st, 3, node);
    sqlite3_bind_int64(st, 4, ids_now_ms());
    db_bind_text(st, 5, in.id);
    rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
    db_done(st);
    if (rc == 0)
        store_event(in.id, "failover_requested", NULL, NULL, node, "planned failover of shard %d",
                    shard);
out:
    json_decref(body);
    store_instance_clear(&in);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        db_rollback();
        if (!r->status)
            http_reply_internal(r, "cannot record a failover");
        return;
    }
    action_accepted(r, r->params[0], op);
}

/* ---- restore in place ----------------------------------------------------------------------- */

static const char *const restore_fields[] = {"backup_id", NULL};

/* The backup a restore names: visible to tenant (NULL: any), succeeded, every checksum right;
 * its id and its tenant (owner) out. Returns 0 or -1 answered (422; backup_corrupt when a file
 * does not match its checksum). */
static int restore_source(http_req *r, json_t *body, const char *tenant, char *id, char *owner)
{
    if (api_check_members(r, body, restore_fields) < 0)
        return -1;
    json_t *v = json_object_get(body, "backup_id");
    backup_row b;
    char err[BACKUP_ERR_MAX];
    if (!json_is_string(v) || backup_get(json_string_value(v), tenant, &b) < 0) {
        http_reply_invalid(r, "backup_id", "backup_id must name a backup of this tenant");
        return -1;
    }
    int rc = -1;
    if (strcmp(b.status, BK_SUCCEEDED))
        http_reply_invalid(r, "backup_id", "backup %s is %s, not succeeded", b.id, b.status);
    else if (backup_verify(&b, err, sizeof(err)) < 0)
        http_reply_error(r, 422, "backup_corrupt", "backup_id", "%s", err);
    else
        rc = 0;
    snprintf(id, ID_MAX, "%s", b.id);
    snprintf(owner, ID_MAX, "%s", b.tenant_id);
    backup_clear(&b);
    return rc;
}

void api_instance_restore(http_req *r)
{
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    instance_row in;
    char backup[ID_MAX], op[ID_MAX], tenant[ID_MAX];
    /* The files are checked before the transaction: hashing them may take a while. */
    if (restore_source(r, body, api_scope_tenant(r), backup, tenant) < 0) {
        json_decref(body);
        return;
    }
    if (db_begin() != SQLITE_OK) {
        json_decref(body);
        http_reply_internal(r, "cannot begin");
        return;
    }
    if (action_target(r, &in) < 0) {
        db_rollback();
        json_decref(body);
        return;
    }
    int rc = -1;
    if (strcmp(tenant, in.tenant_id)) {
        http_reply_invalid(r, "backup_id", "backup %s belongs to another tenant", backup);
        goto out;
    }
    if (in.restore_backup_id[0]) {
        http_reply_error(r, 409, "conflict", NULL, "a restore of instance %s is in progress",
                         in.id);
        goto out;
    }
    if (store_operation_create(in.tenant_id, "restore", in.id, in.spec_version, op) < 0)
        goto out;
    sqlite3_stmt *st = db_prepare("UPDATE instances SET restore_backup_id = ?, restore_op = ?, "
                                  "updated_at = ? WHERE id = ?");
    db_bind_text(st, 1, backup);
    db_bind_text(st, 2, op);
    sqlite3_bind_int64(st, 3, ids_now_ms());
    db_bind_text(st, 4, in.id);
    rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
    db_done(st);
    if (rc == 0)
        store_event(in.id, "restore_requested", NULL, NULL, NULL,
                    "restore from backup %s: every node stops, its data is replaced", backup);
out:
    json_decref(body);
    store_instance_clear(&in);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        db_rollback();
        if (!r->status)
            http_reply_internal(r, "cannot record a restore");
        return;
    }
    action_accepted(r, r->params[0], op);
}
