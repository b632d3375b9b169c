/* What the dfly_instance resource and data sources share: an instance of the API as attributes. */
#ifndef TF_INSTANCE_H
#define TF_INSTANCE_H

#include "provider.h"

extern const tf_type instance_nodes_type;

/* Sets the attributes every view of an instance has from the API's instance JSON: id, name,
 * tenant_id, memory_bytes, shards, replicas_per_shard, eviction_policy, snapshot_cron,
 * appendonly, labels, status, cluster_mode, host, port, uri, nodes, tls, tls_client_auth. */
void instance_fill(cty_value *o, const json_t *inst);

#endif
