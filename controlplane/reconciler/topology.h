/* The cluster configuration of an instance, in the JSON that DFLYCLUSTER CONFIG takes: one
 * entry per shard with its slot range (16384 slots split evenly, shard i before shard i+1),
 * its master and replicas. */
#ifndef DFLY_CONTROL_TOPOLOGY_H
#define DFLY_CONTROL_TOPOLOGY_H

#include "store.h"

#define CLUSTER_SLOTS 16384

/* Slots of shard i of n: [*start, *end]. */
void topology_slots(int shard, int shards, int *start, int *end);
/* The configuration as JSON text (malloc'd). nodes: every node of the instance. */
char *topology_cluster_config(const node_row *nodes, int n, int shards);

#endif
