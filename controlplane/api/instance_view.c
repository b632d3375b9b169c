/* The JSON of an instance: its desired state, what runs (nodes), how to reach it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "jsonx.h"
#include "pki/instance_tls.h"

#define URI_MAX 512

void instance_etag(long long spec_version, char *out, size_t outlen)
{
    snprintf(out, outlen, "\"v%lld\"", spec_version);
}

/* Stored JSON text as a value; "" (none) as null. */
static json_t *json_or_null(const char *text)
{
    char err[64];
    json_t *v = text[0] ? jx_parse(text, strlen(text), err, sizeof(err)) : NULL;
    return v ? v : json_null();
}

static json_t *node_view(const node_row *nd)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:s, s:o, s:i}", "id", nd->id, "shard",
                     nd->shard, "role", nd->role, "host", nd->host, "port", nd->port, "admin_port",
                     nd->admin_port, "status", nd->status, "pid",
                     nd->pid > 0 ? json_integer(nd->pid) : json_null(), "restarts", nd->restarts);
}

/* The address clients start from: shard 0's master (any node works for a cluster client; a
 * plain client of a 1-shard instance needs the master). */
static const node_row *entry_node(const node_row *nodes, int n)
{
    for (int i = 0; i < n; i++)
        if (nodes[i].shard == 0 && !strcmp(nodes[i].role, ROLE_MASTER))
            return &nodes[i];
    return NULL;
}

json_t *instance_view(const instance_row *in, const node_row *nodes, int n)
{
    char etag[HTTP_HEADER_VALUE_MAX], err[64];
    instance_etag(in->spec_version, etag, sizeof(etag));
    json_t *labels = jx_parse(in->labels, strlen(in->labels), err, sizeof(err));
    json_t *jnodes = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(jnodes, node_view(&nodes[i]));
    const node_row *entry = entry_node(nodes, n);
    json_t *endpoint = json_null(), *uri = json_null();
    int tls = 0; /* issue 14 */
    char client_auth[TLS_AUTH_MAX] = TLS_AUTH_DEFAULT;
    pki_instance_settings(in->id, &tls, client_auth);
    if (entry) {
        char u[URI_MAX];
        snprintf(u, sizeof(u), "%s://default@%s:%d", tls ? "rediss" : "redis", entry->host,
                 entry->port);
        endpoint = json_pack("{s:s, s:i}", "host", entry->host, "port", entry->port);
        uri = json_string(u);
    }
    json_t *v = json_pack(
        "{s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:{s:o, s:b}, s:o, s:s, s:s, s:s, s:o, s:o, s:o, "
        "s:s, s:I, s:I, s:o, s:o}",
        "id", in->id, "tenant_id", in->tenant_id, "name", in->name, "memory",
        (json_int_t)in->memory, "shards", in->shards, "replicas_per_shard", in->replicas,
        "eviction_policy", in->eviction_policy, "persistence", "snapshot_cron",
        in->snapshot_cron[0] ? json_string(in->snapshot_cron) : json_null(), "appendonly",
        in->appendonly, "labels", labels ? labels : json_object(), "status", in->status,
        "status_reason", in->status_reason, "cluster_mode", in->shards > 1 ? "yes" : "emulated",
        "endpoint", endpoint, "uri", uri, "nodes", jnodes, "etag", etag, "spec_version",
        (json_int_t)in->spec_version, "applied_version", (json_int_t)in->applied_version,
        "created_at", jx_time(in->created_at), "updated_at", jx_time(in->updated_at));
    json_object_set_new(v, "backup_schedule", json_or_null(in->backup_schedule));
    json_object_set_new(v, "backup_retention", json_or_null(in->backup_retention));
    json_object_set_new(v, "tls", json_boolean(tls));
    json_object_set_new(v, "tls_client_auth", json_string(client_auth));
    json_object_set_new(v, "restored_from",
                        in->restore_from[0] ? json_string(in->restore_from) : json_null());
    return v;
}

json_t *instance_view_load(const char *id, const char *tenant, int include_gone, char *etag)
{
    instance_row in;
    if (store_instance_get(id, tenant, include_gone, &in) < 0)
        return NULL;
    node_row *nodes = NULL;
    int n = 0;
    store_nodes_load(id, &nodes, &n);
    json_t *v = instance_view(&in, nodes, n);
    if (etag)
        instance_etag(in.spec_version, etag, HTTP_HEADER_VALUE_MAX);
    free(nodes);
    store_instance_clear(&in);
    return v;
}
