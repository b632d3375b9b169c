/* Pipeline squashing; see pipeline.h. */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "clock.h"
#include "connection.h"
#include "dispatch.h"
#include "journal.h"
#include "pause.h"
#include "script.h"
#include "server.h"
#include "tx.h"
#include "worker.h"

typedef struct pl_cmd {
    const command *cmd;
    int argc;
    size_t argv_at; /* index of its first slice in the arena */
    int group;      /* shard */
    int key;        /* index in its argv of a key on that shard, -1: none */
    uint64_t hash;  /* table_hash of that key, once group_body's prefetch computed it */
    size_t rstart, rlen;
} pl_cmd;

struct pipeline;

typedef struct pl_group {
    struct pipeline *pl;
    int *idx; /* commands of this shard, in request order */
    int n, cap;
    buf out;
} pl_group;

typedef struct pipeline {
    client *cl;
    pl_cmd *cmds;
    int n, cap;
    slice *slices;
    size_t nslices, slices_cap;
    pl_group *groups; /* one per shard */
    int pending;
    int64_t now_ms;
} pipeline;

extern void client_batch_done(client *cl);

static pipeline *pl_get(client *cl)
{
    if (!cl->pipeline) {
        pipeline *pl = mem_calloc(1, sizeof(pipeline));
        pl->cl = cl;
        pl->groups = mem_calloc((size_t)server.nshards, sizeof(pl_group));
        for (int i = 0; i < server.nshards; i++)
            pl->groups[i].pl = pl;
        cl->pipeline = pl;
    }
    return cl->pipeline;
}

int pipeline_squashable(client *cl, int argc, const slice *argv, const command **out_cmd,
                        int *out_shard, int *out_key)
{
    /* While loading, every request passes dispatch_command's -LOADING gate; so it does while
     * the journal cannot be written (MISCONF). */
    if (cl->rp.type != 1 || connection_auth_required(cl) || pause_requested() || script_busy() ||
        atomic_load_explicit(&journal_write_failed, memory_order_relaxed) ||
        atomic_load(&server.loading) ||
        (cl->flags & (CLIENT_MULTI | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT |
                      CLIENT_MONITOR | CLIENT_PUBSUB)))
        return 0;
    if (!acl_client_unrestricted(cl)) /* ACL checks happen in dispatch_command */
        return 0;
    const command *cmd = command_lookup_name(argv[0].p, argv[0].len);
    if (!cmd || cmd->subcommands || !command_arity_ok(cmd, argc) ||
        (cmd->flags & (CMD_ALL_SHARDS | CMD_CLIENT_STATE | CMD_BLOCKING | CMD_PUBSUB)))
        return 0;
    int keys[8];
    int n = command_get_keys(cmd, argc, argv, keys, 8);
    if (n < 0)
        return 0;
    int shard = cl->owner->id;
    if (n > 0) {
        shard = key_shard(argv[keys[0]].p, argv[keys[0]].len);
        for (int i = 1; i < n; i++)
            if (key_shard(argv[keys[i]].p, argv[keys[i]].len) != shard)
                return 0;
    } else if (strcmp(cmd->name, "ping") && strcmp(cmd->name, "echo")) {
        return 0; /* keyless commands other than these may read global state: keep them in order */
    }
    *out_cmd = cmd;
    *out_shard = shard;
    *out_key = n > 0 ? keys[0] : -1;
    return 1;
}

void pipeline_add(client *cl, const command *cmd, int shard, int key, int argc, const slice *argv)
{
    pipeline *pl = pl_get(cl);
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 32;
        pl->cmds = mem_realloc(pl->cmds, sizeof(pl_cmd) * (size_t)pl->cap);
    }
    if (pl->nslices + (size_t)argc > pl->slices_cap) {
        while (pl->nslices + (size_t)argc > pl->slices_cap)
            pl->slices_cap = pl->slices_cap ? pl->slices_cap * 2 : 128;
        pl->slices = mem_realloc(pl->slices, sizeof(slice) * pl->slices_cap);
    }
    pl_cmd *pc = &pl->cmds[pl->n];
    pc->cmd = cmd;
    pc->argc = argc;
    pc->argv_at = pl->nslices;
    pc->group = shard;
    pc->key = key;
    memcpy(pl->slices + pl->nslices, argv, sizeof(slice) * (size_t)argc);
    pl->nslices += (size_t)argc;
    pl_group *g = &pl->groups[shard];
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->idx = mem_realloc(g->idx, sizeof(int) * (size_t)g->cap);
    }
    g->idx[g->n++] = pl->n++;
}

int pipeline_count(const client *cl)
{
    return cl->pipeline ? ((const pipeline *)cl->pipeline)->n : 0;
}

/* How far ahead of the command it runs group_body asks for the bucket slot of a command's key,
 * and (half as far) for the entry: the lookups of a batch then overlap their cache misses. */
#define PL_PREFETCH_AHEAD 8

static void prefetch_key(pipeline *pl, pl_group *g, const table *t, int i, int stage)
{
    if (i >= g->n)
        return;
    pl_cmd *pc = &pl->cmds[g->idx[i]];
    if (pc->key < 0)
        return;
    if (stage == 0) {
        const slice *k = &pl->slices[pc->argv_at + (size_t)pc->key];
        pc->hash = table_hash(k->p, k->len);
    }
    table_prefetch(t, pc->hash, stage);
}

/* Runs one shard's commands, on the thread that holds that shard. */
static void group_body(void *arg)
{
    pl_group *g = arg;
    pipeline *pl = g->pl;
    client *cl = pl->cl;
    int remote = current_worker != cl->owner;
    int64_t now_us = 0; /* one command's end is the next one's start */
    const table *t = g->n ? &shards[pl->cmds[g->idx[0]].group]->dbs[cl->dbid].keys : NULL;
    for (int i = 0; i < PL_PREFETCH_AHEAD; i++)
        prefetch_key(pl, g, t, i, 0);
    for (int i = 0; i < PL_PREFETCH_AHEAD / 2; i++)
        prefetch_key(pl, g, t, i, 1);
    for (int i = 0; i < g->n; i++) {
        prefetch_key(pl, g, t, i + PL_PREFETCH_AHEAD, 0);
        prefetch_key(pl, g, t, i + PL_PREFETCH_AHEAD / 2, 1);
        pl_cmd *pc = &pl->cmds[g->idx[i]];
        cmd_ctx c = {
            .cl = cl,
            .cmd = pc->cmd,
            .argc = pc->argc,
            .argv = pl->slices + pc->argv_at,
            .dbid = cl->dbid,
            .resp = cl->resp,
            .out = &g->out,
            .flags = remote ? CTX_REMOTE : 0,
            .start_us = now_us,
        };
        if (pc->key >= 0) {
            const slice *k = &c.argv[pc->key];
            ctx_key_shard_known(&c, k->p, k->len, pc->group);
            ctx_key_hash_known(&c, k->len, pc->hash); /* its prefetch computed it */
        }
        pc->rstart = g->out.len;
        dispatch_run(&c);
        pc->rlen = g->out.len - pc->rstart;
        now_us = c.end_us;
    }
}

/* A batch holds the requests of one read: usually a handful, but a burst of large commands
 * leaves arrays sized for it on a connection that may then sit idle. Arrays above these sizes
 * go with their batch. */
#define PL_KEEP_CMDS 1024
#define PL_KEEP_SLICES 8192
#define PL_KEEP_OUT (1 << 16)

/* Frees an array (and zeroes its capacity) when it holds more than keep elements; a macro
 * because the arrays have different element and capacity types. */
#define DROP_IF_BIG(arr, cap, keep)                                                                \
    do {                                                                                           \
        if ((size_t)(cap) > (keep)) {                                                              \
            free(arr);                                                                             \
            (arr) = NULL;                                                                          \
            (cap) = 0;                                                                             \
        }                                                                                          \
    } while (0)

/* Puts the replies in request order and forgets the batch. */
static void assemble(pipeline *pl)
{
    client *cl = pl->cl;
    for (int i = 0; i < pl->n; i++) {
        pl_cmd *pc = &pl->cmds[i];
        buf_append(&cl->wbuf, pl->groups[pc->group].out.data + pc->rstart, pc->rlen);
    }
    for (int s = 0; s < server.nshards; s++) {
        pl_group *g = &pl->groups[s];
        g->n = 0;
        buf_clear(&g->out);
        buf_shrink(&g->out, PL_KEEP_OUT);
        DROP_IF_BIG(g->idx, g->cap, PL_KEEP_CMDS);
    }
    pl->n = 0;
    pl->nslices = 0;
    DROP_IF_BIG(pl->cmds, pl->cap, PL_KEEP_CMDS);
    DROP_IF_BIG(pl->slices, pl->slices_cap, PL_KEEP_SLICES);
}

static void group_done(void *arg)
{
    pl_group *g = arg;
    pipeline *pl = g->pl;
    if (--pl->pending > 0)
        return;
    assemble(pl);
    client_batch_done(pl->cl);
}

int pipeline_run(client *cl)
{
    pipeline *pl = pl_get(cl);
    int own = cl->owner->id;
    pl->pending = 1; /* held by this function until every group is launched */
    shardset set;
    for (int s = 0; s < server.nshards; s++) {
        if (s == own || pl->groups[s].n == 0)
            continue;
        shardset_clear(&set);
        shardset_add(&set, s);
        pl->pending++;
        if (tx_run(&set, group_body, group_done, &pl->groups[s]))
            pl->pending--;
    }
    /* The local group runs while the others are on their way. */
    if (pl->groups[own].n) {
        shardset_clear(&set);
        shardset_add(&set, own);
        pl->pending++;
        if (tx_run(&set, group_body, group_done, &pl->groups[own]))
            pl->pending--;
    }
    if (--pl->pending == 0) {
        assemble(pl);
        return 0;
    }
    cl->waiting = 1;
    return 1;
}

void pipeline_free(client *cl)
{
    pipeline *pl = cl->pipeline;
    if (!pl)
        return;
    for (int s = 0; s < server.nshards; s++) {
        free(pl->groups[s].idx);
        buf_free(&pl->groups[s].out);
    }
    free(pl->groups);
    free(pl->cmds);
    free(pl->slices);
    free(pl);
    cl->pipeline = NULL;
}
