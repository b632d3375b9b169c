/* Failover of a shard's master to one of its replicas (issue 15).
 *
 * Automatic: masters of instances with replicas are watched (their process, and INFO
 * replication over the admin port every --health-check-interval, which also records how far
 * their replication stream got). A master that died is not restarted in place while a replica
 * of its shard runs: once it has been down for --failover-timeout, the replica with the
 * highest replication offset is promoted (REPLICAOF NO ONE), the roles are swapped in SQLite,
 * the cluster configuration goes to every node, the other replicas follow the new master, and
 * the old master is started again as a replica. An event `failover` records the offsets: the
 * new master's and the old master's last one seen, whose difference bounds what was lost.
 *
 * Planned (POST /v1/instances/{id}/failover): REPLTAKEOVER on the chosen replica, which waits
 * until it has every write the master acknowledged, then takes over; nothing acknowledged is
 * lost. The old master stays up as a replica of the new one.
 *
 * Loop thread only. */
#ifndef DFLY_CONTROL_FAILOVER_H
#define DFLY_CONTROL_FAILOVER_H

#include "reconciler_int.h"

/* nd's process does not run: 1 when it must not be restarted yet because a failover of its
 * shard is due (p->reason says so), 0 to restart it as usual. */
int failover_hold(pass *p, node_row *nd, node_rt *rt);
/* nd runs and answered before: a health check when one is due. */
void failover_watch(pass *p, node_row *nd, node_rt *rt);
/* After supervision: promotes replicas of masters down too long, and carries out a planned
 * failover that was asked for once every node runs. Returns 1 when roles changed (the caller
 * reloads its nodes). */
int failover_step(pass *p, int all_running);

#endif
