/* libFuzzer target: DFLYCLUSTER CONFIG documents (dataplane/cluster_config.c). Any input either
 * gives a configuration that keeps the promises of cluster.h (every slot in exactly one of its
 * shard's ranges, a valid place for this node, ids that CLUSTER NODES can print) or NULL with a
 * reason; nothing else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define MY_ID "node-a" /* the seeds name this node in some of their shards */

static void check_node(const cluster_node *n)
{
    if (!cluster_valid_id(n->id, strlen(n->id)) || !n->ip[0] || n->port < 1 ||
        n->port > CLUSTER_PORT_MAX)
        abort();
}

static void check(const cluster_config *cfg)
{
    /* Recount from the ranges themselves: each slot exactly once, in the shard slot_shard says. */
    static int covered[CLUSTER_SLOTS], shard_of[CLUSTER_SLOTS];
    memset(covered, 0, sizeof(covered));
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        for (int r = 0; r < sh->nranges; r++) {
            if (sh->ranges[r].start > sh->ranges[r].end || sh->ranges[r].end >= CLUSTER_SLOTS)
                abort();
            for (int s = sh->ranges[r].start; s <= sh->ranges[r].end; s++) {
                covered[s]++;
                shard_of[s] = i;
            }
        }
    }
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (covered[s] != 1 || shard_of[s] != cfg->slot_shard[s])
            abort();
    int found = 0;
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        check_node(&sh->master);
        found += !strcmp(sh->master.id, MY_ID);
        for (int r = 0; r < sh->nreplicas; r++) {
            check_node(&sh->replicas[r]);
            found += !strcmp(sh->replicas[r].id, MY_ID);
        }
        for (int m = 0; m < sh->nmigrations; m++) {
            const cluster_migration *mig = &sh->migrations[m];
            check_node(&mig->target);
            for (int r = 0; r < mig->nranges; r++)
                for (int s = mig->ranges[r].start; s <= mig->ranges[r].end; s++)
                    if (cfg->slot_shard[s] != i)
                        abort(); /* a shard only hands over its own slots */
        }
    }
    if (found > 1 || (found == 1) != (cfg->my_role != CLUSTER_ROLE_NONE))
        abort();
    if (cfg->my_role != CLUSTER_ROLE_NONE && (cfg->my_shard < 0 || cfg->my_shard >= cfg->nshards))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    err[0] = '\0';
    cluster_config *cfg = cluster_config_parse((const char *)data, size, MY_ID, err, sizeof(err));
    if (!cfg) {
        if (!err[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    check(cfg);
    cluster_config_free(cfg);
    return 0;
}
