/* DFLYCLUSTER CONFIG documents. */
#include "topology.h"

#include <jansson.h>
#include <string.h>

#include "jsonx.h"

void topology_slots(int shard, int shards, int *start, int *end)
{
    *start = (int)((long)shard * CLUSTER_SLOTS / shards);
    *end = (int)((long)(shard + 1) * CLUSTER_SLOTS / shards) - 1;
}

static json_t *node_json(const node_row *nd)
{
    return json_pack("{s:s, s:s, s:i}", "id", nd->cluster_id, "ip", nd->host, "port", nd->port);
}

char *topology_cluster_config(const node_row *nodes, int n, int shards)
{
    json_t *doc = json_array();
    for (int s = 0; s < shards; s++) {
        int start, end;
        topology_slots(s, shards, &start, &end);
        json_t *master = json_null();
        json_t *replicas = json_array();
        for (int i = 0; i < n; i++) {
            if (nodes[i].shard != s)
                continue;
            if (!strcmp(nodes[i].role, ROLE_MASTER))
                master = node_json(&nodes[i]);
            else
                json_array_append_new(replicas, node_json(&nodes[i]));
        }
        json_array_append_new(doc,
                              json_pack("{s:[{s:i, s:i}], s:o, s:o}", "slot_ranges", "start", start,
                                        "end", end, "master", master, "replicas", replicas));
    }
    char *text = jx_dump(doc, NULL);
    json_decref(doc);
    return text;
}
