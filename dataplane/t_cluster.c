/* Cluster commands: CLUSTER (INFO MYID SLOTS SHARDS NODES KEYSLOT COUNTKEYSINSLOT
 * GETKEYSINSLOT HELP), READONLY, READWRITE, ASKING, and the control plane's DFLYCLUSTER (CONFIG
 * GETSLOTINFO FLUSHSLOTS MYID SLOT-MIGRATION-STATUS HELP), accepted only on the admin port.
 *
 * The CLUSTER replies have Redis 7.0's shapes, so that cluster clients (redis-cli -c, redis-py's
 * RedisCluster...) discover the topology. In emulated mode they describe one node owning every
 * slot, at --cluster_announce_ip (else the address the client connected to) and --port. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "cluster.h"
#include "log.h"
#include "migration.h"
#include "object.h"
#include "reply.h"
#include "server.h"
#include "t_server.h"

#define ERR_DISABLED "ERR This instance has cluster support disabled"
#define ERR_NOT_CONFIGURED "ERR Cluster is not yet configured" /* Dragonfly's */
#define ERR_RESTRICTED "ERR Cannot execute restricted command (admin only)"
#define ERR_DFLY_DISABLED "ERR Cluster is disabled. Use --cluster_mode=yes to enable."
#define ERR_INVALID_CONFIG "ERR Invalid cluster configuration."
#define ERR_INVALID_SLOT "ERR Invalid slot"
#define ERR_INVALID_SLOT_OR_COUNT "ERR Invalid slot or number of keys"
#define ERR_INVALID_SLOT_ID "ERR Invalid slot id"
#define ERR_INVALID_SLOT_RANGE "ERR Invalid slot range"
#define CONFIG_ERR_MAX 256
#define IP_TEXT_MAX 64
#define SLOT_INFO_FIELDS 7 /* slot, then key_count, total_reads, total_writes with their values */

/* ---- the topology to describe --------------------------------------------------------------- */

/* Emulated mode's topology: this node alone, owning every slot. Lives on the caller's stack. */
typedef struct emulated_view {
    cluster_config cfg;
    cluster_shard shard;
    cluster_slot_range range;
    char ip[IP_TEXT_MAX];
} emulated_view;

/* The address clients should use: --cluster_announce_ip, else the one this client reached. */
static void announce_ip(cmd_ctx *c, char *out, size_t outlen)
{
    const char *ann = server.cfg.cluster_announce_ip;
    if (ann && *ann) {
        snprintf(out, outlen, "%s", ann);
        return;
    }
    snprintf(out, outlen, "%s", c->cl && c->cl->laddr[0] ? c->cl->laddr : "127.0.0.1:0");
    char *colon = strrchr(out, ':'); /* laddr is "ip:port" */
    if (colon)
        *colon = '\0';
}

static const cluster_config *emulated(cmd_ctx *c, emulated_view *v)
{
    memset(&v->shard, 0, sizeof(v->shard));
    announce_ip(c, v->ip, sizeof(v->ip));
    v->range = (cluster_slot_range){0, CLUSTER_SLOTS - 1};
    v->shard.ranges = &v->range;
    v->shard.nranges = 1;
    v->shard.master = (cluster_node){(char *)cluster_my_id(), v->ip, (int)server.cfg.port};
    v->cfg.shards = &v->shard;
    v->cfg.nshards = 1;
    v->cfg.my_shard = 0;
    v->cfg.my_role = CLUSTER_ROLE_MASTER;
    v->cfg.epoch = 0; /* no configuration was ever pushed; slot_shard is not read here */
    return &v->cfg;
}

/* The topology to describe, or NULL (not configured yet). */
static const cluster_config *topology(cmd_ctx *c, emulated_view *v)
{
    return cluster_mode == CLUSTER_EMULATED ? emulated(c, v) : cluster_current();
}

/* Replies the error of a node outside cluster mode; returns 1 then. */
static int refuse_disabled(cmd_ctx *c)
{
    if (cluster_enabled())
        return 0;
    reply_error(c, ERR_DISABLED);
    return 1;
}

/* ---- CLUSTER INFO / MYID / KEYSLOT --------------------------------------------------------- */

static void cluster_info_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    emulated_view v;
    const cluster_config *cfg = topology(c, &v);
    int assigned = cfg ? CLUSTER_SLOTS : 0, known = cfg ? 0 : 1, size = 0;
    for (int i = 0; cfg && i < cfg->nshards; i++) {
        known += 1 + cfg->shards[i].nreplicas;
        size += cfg->shards[i].nranges > 0;
    }
    unsigned long long epoch = cfg ? (unsigned long long)cfg->epoch : 0;
    buf out;
    buf_init(&out);
    /* Redis 7.0's fields; there is no cluster bus, so no messages. */
    buf_printf(&out,
               "cluster_state:%s\r\n"
               "cluster_slots_assigned:%d\r\n"
               "cluster_slots_ok:%d\r\n"
               "cluster_slots_pfail:0\r\n"
               "cluster_slots_fail:0\r\n"
               "cluster_known_nodes:%d\r\n"
               "cluster_size:%d\r\n"
               "cluster_current_epoch:%llu\r\n"
               "cluster_my_epoch:%llu\r\n"
               "cluster_stats_messages_sent:0\r\n"
               "cluster_stats_messages_received:0\r\n"
               "total_cluster_links_buffer_limit_exceeded:0\r\n",
               cfg ? "ok" : "fail", assigned, assigned, known, size, epoch, epoch);
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
}

static void cluster_myid_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    reply_bulk_cstr(c, cluster_my_id());
}

static void cluster_keyslot_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    reply_int(c, key_slot(c->argv[2].p, c->argv[2].len));
}

/* ---- CLUSTER SLOTS ------------------------------------------------------------------------- */

typedef struct slot_run {
    int start, end, shard;
} slot_run;

static int slot_run_cmp(const void *a, const void *b)
{
    return ((const slot_run *)a)->start - ((const slot_run *)b)->start;
}

/* One node of CLUSTER SLOTS: ip, port, id and (Redis 7) an empty map of extra endpoints. */
static void reply_slots_node(cmd_ctx *c, const cluster_node *n)
{
    reply_array(c, 4);
    reply_bulk_cstr(c, n->ip);
    reply_int(c, n->port);
    reply_bulk_cstr(c, n->id);
    reply_map(c, 0);
}

/* Runs of consecutive slots of one shard, in slot order, as Redis lists them. */
static slot_run *slot_runs(const cluster_config *cfg, int *count)
{
    int total = 0;
    for (int i = 0; i < cfg->nshards; i++)
        total += cfg->shards[i].nranges;
    slot_run *runs = mem_malloc(sizeof(slot_run) * (size_t)(total ? total : 1));
    int n = 0;
    for (int i = 0; i < cfg->nshards; i++)
        for (int r = 0; r < cfg->shards[i].nranges; r++)
            runs[n++] = (slot_run){cfg->shards[i].ranges[r].start, cfg->shards[i].ranges[r].end, i};
    qsort(runs, (size_t)n, sizeof(slot_run), slot_run_cmp);
    int merged = 0;
    for (int i = 0; i < n; i++) {
        if (merged && runs[merged - 1].shard == runs[i].shard &&
            runs[merged - 1].end + 1 == runs[i].start)
            runs[merged - 1].end = runs[i].end;
        else
            runs[merged++] = runs[i];
    }
    *count = merged;
    return runs;
}

static void cluster_slots_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    emulated_view v;
    const cluster_config *cfg = topology(c, &v);
    if (!cfg) {
        reply_error(c, ERR_NOT_CONFIGURED);
        return;
    }
    int n;
    slot_run *runs = slot_runs(cfg, &n);
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        const cluster_shard *sh = &cfg->shards[runs[i].shard];
        reply_array(c, 3 + sh->nreplicas);
        reply_int(c, runs[i].start);
        reply_int(c, runs[i].end);
        reply_slots_node(c, &sh->master);
        for (int r = 0; r < sh->nreplicas; r++)
            reply_slots_node(c, &sh->replicas[r]);
    }
    free(runs);
}

/* ---- CLUSTER SHARDS ------------------------------------------------------------------------ */

static void reply_shards_node(cmd_ctx *c, const cluster_node *n, const char *role)
{
    reply_map(c, 7); /* Redis 7.0's fields, in its order */
    reply_bulk_cstr(c, "id");
    reply_bulk_cstr(c, n->id);
    reply_bulk_cstr(c, "port");
    reply_int(c, n->port);
    reply_bulk_cstr(c, "ip");
    reply_bulk_cstr(c, n->ip);
    reply_bulk_cstr(c, "endpoint");
    reply_bulk_cstr(c, n->ip);
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, role);
    reply_bulk_cstr(c, "replication-offset");
    reply_int(c, 0);
    reply_bulk_cstr(c, "health");
    reply_bulk_cstr(c, "online");
}

static void cluster_shards_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    emulated_view v;
    const cluster_config *cfg = topology(c, &v);
    if (!cfg) {
        reply_error(c, ERR_NOT_CONFIGURED);
        return;
    }
    reply_array(c, cfg->nshards);
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        reply_map(c, 2);
        reply_bulk_cstr(c, "slots");
        reply_array(c, 2L * sh->nranges);
        for (int r = 0; r < sh->nranges; r++) {
            reply_int(c, sh->ranges[r].start);
            reply_int(c, sh->ranges[r].end);
        }
        reply_bulk_cstr(c, "nodes");
        reply_array(c, 1 + sh->nreplicas);
        reply_shards_node(c, &sh->master, "master");
        for (int r = 0; r < sh->nreplicas; r++)
            reply_shards_node(c, &sh->replicas[r], "replica");
    }
}

/* ---- CLUSTER NODES ------------------------------------------------------------------------- */

/* "<id> <ip>:<port>@<bus port> <flags> <master> <ping> <pong> <epoch> <link> <slots...>\n". There
 * is no cluster bus: its port is the client port, as Dragonfly writes it. */
static void nodes_line(buf *out, const cluster_node *n, const char *master_id,
                       const cluster_shard *sh)
{
    int me = !strcmp(n->id, cluster_my_id());
    buf_printf(out, "%s %s:%d@%d %s%s %s 0 0 0 connected", n->id, n->ip, n->port, n->port,
               me ? "myself," : "", master_id ? "slave" : "master", master_id ? master_id : "-");
    for (int r = 0; sh && r < sh->nranges; r++) {
        if (sh->ranges[r].start == sh->ranges[r].end)
            buf_printf(out, " %d", sh->ranges[r].start);
        else
            buf_printf(out, " %d-%d", sh->ranges[r].start, sh->ranges[r].end);
    }
    buf_append_char(out, '\n');
}

static void cluster_nodes_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    emulated_view v;
    const cluster_config *cfg = topology(c, &v);
    if (!cfg) {
        reply_error(c, ERR_NOT_CONFIGURED);
        return;
    }
    buf out;
    buf_init(&out);
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        nodes_line(&out, &sh->master, NULL, sh);
        for (int r = 0; r < sh->nreplicas; r++)
            nodes_line(&out, &sh->replicas[r], sh->master.id, NULL);
    }
    reply_verbatim(c, out.data ? out.data : "", out.len, "txt");
    buf_free(&out);
}

/* ---- CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT ----------------------------------------------- */

static void cluster_countkeysinslot_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    long long slot;
    if (arg_ll_or_reply(c, &c->argv[2], &slot, NULL))
        return;
    if (slot < 0 || slot >= CLUSTER_SLOTS) {
        reply_error(c, ERR_INVALID_SLOT);
        return;
    }
    reply_int(c, (long long)cluster_slot_key_count((uint16_t)slot));
}

typedef struct slot_keys {
    uint16_t slot;
    size_t max, n;
    entry **found;
} slot_keys;

static void slot_keys_cb(void *arg, entry *e)
{
    slot_keys *w = arg;
    size_t klen;
    const char *k = entry_key(e, &klen);
    if (w->n < w->max && key_slot(k, klen) == w->slot)
        w->found[w->n++] = e;
}

/* Holds every shard (CMD_ALL_SHARDS). The slot's key count bounds the walk of its shard: it
 * ends once that many (or count) keys are found. */
static void cluster_getkeysinslot_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    long long slot, count;
    if (arg_ll_or_reply(c, &c->argv[2], &slot, NULL) ||
        arg_ll_or_reply(c, &c->argv[3], &count, NULL))
        return;
    if (slot < 0 || slot >= CLUSTER_SLOTS || count < 0) {
        reply_error(c, ERR_INVALID_SLOT_OR_COUNT);
        return;
    }
    uint64_t have = cluster_slot_key_count((uint16_t)slot);
    slot_keys w = {.slot = (uint16_t)slot,
                   .max = (size_t)((uint64_t)count < have ? (uint64_t)count : have)};
    w.found = w.max ? mem_malloc(sizeof(entry *) * w.max) : NULL;
    table *t = &shards[slot_shard((uint16_t)slot)]->dbs[0].keys;
    uint64_t cursor = 0;
    while (w.n < w.max) {
        cursor = table_scan(t, cursor, slot_keys_cb, &w);
        if (cursor == 0)
            break;
    }
    reply_array(c, (long)w.n);
    for (size_t i = 0; i < w.n; i++) {
        size_t klen;
        const char *k = entry_key(w.found[i], &klen);
        reply_bulk(c, k, klen);
    }
    free(w.found);
}

/* ---- CLUSTER HELP and the container -------------------------------------------------------- */

static void cluster_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        NULL,
    };
    reply_help(c, "CLUSTER", lines);
}

/* Reached only when no subcommand matched. */
static void cluster_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    reply_unknown_subcommand(c, "CLUSTER");
}

/* ---- READONLY / READWRITE / ASKING --------------------------------------------------------- */

/* The connection whose READONLY state a command may change: not from a script, whose calls
 * Redis makes on a client of their own. */
static client *own_client(cmd_ctx *c)
{
    return c->flags & CTX_IN_SCRIPT ? NULL : c->cl;
}

/* READONLY lets this connection read the slots of the masters this node replicates. */
static void readonly_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    client *cl = own_client(c);
    if (cl)
        cl->flags |= CLIENT_READONLY;
    reply_ok(c);
}

static void readwrite_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    client *cl = own_client(c);
    if (cl)
        cl->flags &= ~CLIENT_READONLY;
    reply_ok(c);
}

/* A client following an -ASK: its next command may use a slot this node is importing
 * (migration.h) and already has all the keys of. */
static void asking_cmd(cmd_ctx *c)
{
    if (refuse_disabled(c))
        return;
    client *cl = own_client(c);
    if (cl)
        cl->flags |= CLIENT_ASKING;
    reply_ok(c);
}

/* ---- DFLYCLUSTER --------------------------------------------------------------------------- */

/* DFLYCLUSTER is for the control plane: only on the admin port (or from inside the server,
 * without a client), and only with --cluster_mode=yes. Returns 1 after refusing. */
static int dfly_refuse(cmd_ctx *c)
{
    if (c->cl && !(c->cl->flags & CLIENT_ADMIN_PORT)) {
        reply_error(c, ERR_RESTRICTED);
        return 1;
    }
    if (cluster_mode != CLUSTER_YES) {
        reply_error(c, ERR_DFLY_DISABLED);
        return 1;
    }
    return 0;
}

/* DFLYCLUSTER CONFIG <json>: holds every shard, so that the keys of slots leaving this node are
 * gone before any command sees the new configuration. */
static void dfly_config_cmd(cmd_ctx *c)
{
    if (dfly_refuse(c))
        return;
    char err[CONFIG_ERR_MAX];
    cluster_config *cfg =
        cluster_config_parse(c->argv[2].p, c->argv[2].len, cluster_my_id(), err, sizeof(err));
    if (!cfg) {
        log_warning("cluster: DFLYCLUSTER CONFIG refused, the previous configuration stays: %s",
                    err);
        reply_error(c, ERR_INVALID_CONFIG);
        return;
    }
    cluster_apply(c, cfg);
    reply_ok(c);
}

/* A slot number argument: replies and returns -1 when it is not one. */
static int slot_arg(cmd_ctx *c, const slice *a, uint16_t *out)
{
    long long v;
    if (arg_ll_or_reply(c, a, &v, NULL))
        return -1;
    if (v < 0 || v >= CLUSTER_SLOTS) {
        reply_error(c, ERR_INVALID_SLOT_ID);
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

/* DFLYCLUSTER GETSLOTINFO SLOTS <slot>...: per slot [slot, "key_count", n, "total_reads", n,
 * "total_writes", n], as Dragonfly answers. */
static void dfly_getslotinfo_cmd(cmd_ctx *c)
{
    if (dfly_refuse(c))
        return;
    if (!arg_eq(&c->argv[2], "slots")) {
        reply_syntax_error(c);
        return;
    }
    int n = c->argc - 3;
    uint16_t *slots = mem_malloc(sizeof(uint16_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (slot_arg(c, &c->argv[3 + i], &slots[i])) {
            free(slots);
            return;
        }
    }
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        const cluster_slot_stats *st = cluster_slot_stat(slots[i]);
        reply_array(c, SLOT_INFO_FIELDS);
        reply_int(c, slots[i]);
        reply_bulk_cstr(c, "key_count");
        reply_int(c, (long long)atomic_load_explicit(&st->keys, memory_order_relaxed));
        reply_bulk_cstr(c, "total_reads");
        reply_int(c, (long long)atomic_load_explicit(&st->reads, memory_order_relaxed));
        reply_bulk_cstr(c, "total_writes");
        reply_int(c, (long long)atomic_load_explicit(&st->writes, memory_order_relaxed));
    }
    free(slots);
}

/* DFLYCLUSTER FLUSHSLOTS <start> <end> [<start> <end> ...]: deletes the keys of those slots on
 * this node, whoever owns them. Holds every shard. */
static void dfly_flushslots_cmd(cmd_ctx *c)
{
    if (dfly_refuse(c))
        return;
    if ((c->argc - 2) % 2) {
        reply_syntax_error(c);
        return;
    }
    uint8_t bits[CLUSTER_SLOTS / 8] = {0};
    for (int i = 2; i < c->argc; i += 2) {
        uint16_t start, end;
        if (slot_arg(c, &c->argv[i], &start) || slot_arg(c, &c->argv[i + 1], &end))
            return;
        if (start > end) {
            reply_error(c, ERR_INVALID_SLOT_RANGE);
            return;
        }
        for (int s = start; s <= end; s++)
            bits[s / 8] |= (uint8_t)(1u << (s % 8));
    }
    size_t n = cluster_drop_slots(c, bits);
    log_info("cluster: DFLYCLUSTER FLUSHSLOTS deleted %zu keys", n);
    reply_ok(c);
}

static void dfly_myid_cmd(cmd_ctx *c)
{
    if (dfly_refuse(c))
        return;
    reply_bulk_cstr(c, cluster_my_id());
}

/* DFLYCLUSTER SLOT-MIGRATION-STATUS [node_id]: per migration of this node, Dragonfly's
 * [direction ("out" for its own slots, "in" for slots coming to it), peer node id, state, keys,
 * error or "0"]; NO_STATE when there is none. */
static void dfly_migration_status_cmd(cmd_ctx *c)
{
    if (dfly_refuse(c))
        return;
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    migration_status_reply(c, c->argc == 3 ? c->argv[2].p : NULL,
                           c->argc == 3 ? c->argv[2].len : 0);
}

static void dfly_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "CONFIG <json>",
        "    Set the cluster configuration: an array of shards with slot_ranges, master,",
        "    replicas and optional migrations.",
        "GETSLOTINFO SLOTS <slot> [<slot> ...]",
        "    Return key_count, total_reads and total_writes of each slot.",
        "FLUSHSLOTS <start> <end> [<start> <end> ...]",
        "    Delete the keys of the given slot ranges.",
        "MYID",
        "    Return the node id.",
        "SLOT-MIGRATION-STATUS [<node_id>]",
        "    Return the state of the slot migrations of this node.",
        NULL,
    };
    reply_help(c, "DFLYCLUSTER", lines);
}

static void dflycluster_cmd(cmd_ctx *c)
{
    if (dfly_refuse(c))
        return;
    reply_unknown_subcommand(c, "DFLYCLUSTER");
}

/* ---- the tables ---------------------------------------------------------------------------- */

#define CLUSTER_SUB .group = "cluster", .since = "3.0.0"
#define CLUSTER_INFO_FLAGS .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW
#define DFLY_SUB .group = "cluster", .since = "1.0.0"
#define DFLY_FLAGS CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE
#define DFLY_ACL .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS
#define CONN_CLUSTER_FLAGS .flags = CMD_FAST | CMD_LOADING | CMD_STALE | CMD_CLIENT_STATE

static command cluster_subcommands[] = {
    {.name = "info",
     .proc = cluster_info_cmd,
     .arity = 2,
     CLUSTER_INFO_FLAGS,
     CLUSTER_SUB,
     .summary = "Returns information about the state of a node."},
    {.name = "myid",
     .proc = cluster_myid_cmd,
     .arity = 2,
     CLUSTER_INFO_FLAGS,
     CLUSTER_SUB,
     .summary = "Returns the ID of a node."},
    {.name = "slots",
     .proc = cluster_slots_cmd,
     .arity = 2,
     CLUSTER_INFO_FLAGS,
     CLUSTER_SUB,
     .summary = "Returns the mapping of cluster slots to nodes."},
    {.name = "shards",
     .proc = cluster_shards_cmd,
     .arity = 2,
     CLUSTER_INFO_FLAGS,
     .group = "cluster",
     .since = "7.0.0",
     .summary = "Returns the mapping of cluster slots to shards."},
    {.name = "nodes",
     .proc = cluster_nodes_cmd,
     .arity = 2,
     CLUSTER_INFO_FLAGS,
     CLUSTER_SUB,
     .summary = "Returns the cluster configuration for a node."},
    {.name = "keyslot",
     .proc = cluster_keyslot_cmd,
     .arity = 3,
     CLUSTER_INFO_FLAGS,
     CLUSTER_SUB,
     .summary = "Returns the hash slot for a key."},
    {.name = "countkeysinslot",
     .proc = cluster_countkeysinslot_cmd,
     .arity = 3,
     .flags = CMD_STALE,
     .acl = ACL_SLOW,
     CLUSTER_SUB,
     .summary = "Returns the number of keys in a hash slot."},
    {.name = "getkeysinslot",
     .proc = cluster_getkeysinslot_cmd,
     .arity = 4,
     .flags = CMD_STALE | CMD_ALL_SHARDS,
     .acl = ACL_SLOW,
     CLUSTER_SUB,
     .summary = "Returns the key names in a hash slot."},
    {.name = "help",
     .proc = cluster_help_cmd,
     .arity = 2,
     CLUSTER_INFO_FLAGS,
     .group = "cluster",
     .since = "5.0.0",
     .summary = "Returns helpful text about the different subcommands."},
    {0},
};

static command dflycluster_subcommands[] = {
    {.name = "config",
     .proc = dfly_config_cmd,
     .arity = 3,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_ALL_SHARDS,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "Sets the cluster configuration (control plane, admin port)."},
    {.name = "getslotinfo",
     .proc = dfly_getslotinfo_cmd,
     .arity = -4,
     .flags = DFLY_FLAGS,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "Returns key, read and write counts of hash slots."},
    {.name = "flushslots",
     .proc = dfly_flushslots_cmd,
     .arity = -4,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_ALL_SHARDS,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "Deletes the keys of hash slot ranges."},
    {.name = "myid",
     .proc = dfly_myid_cmd,
     .arity = 2,
     .flags = DFLY_FLAGS,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "Returns the ID of this node."},
    {.name = "slot-migration-status",
     .proc = dfly_migration_status_cmd,
     .arity = -2,
     .flags = DFLY_FLAGS,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "Returns the state of this node's slot migrations."},
    {.name = "help",
     .proc = dfly_help_cmd,
     .arity = 2,
     .flags = DFLY_FLAGS,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "Returns helpful text about the different subcommands."},
    {0},
};

command cluster_commands[] = {
    {.name = "cluster",
     .proc = cluster_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     .group = "cluster",
     .since = "3.0.0",
     .summary = "A container for Redis Cluster commands.",
     .subcommands = cluster_subcommands},
    {.name = "readonly",
     .proc = readonly_cmd,
     .arity = 1,
     CONN_CLUSTER_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "cluster",
     .since = "3.0.0",
     .summary = "Enables read-only queries for a connection to a Redis Cluster replica node."},
    {.name = "readwrite",
     .proc = readwrite_cmd,
     .arity = 1,
     CONN_CLUSTER_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "cluster",
     .since = "3.0.0",
     .summary = "Enables read-write queries for a connection to a Redis Cluster replica node."},
    {.name = "asking",
     .proc = asking_cmd,
     .arity = 1,
     CONN_CLUSTER_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "cluster",
     .since = "3.0.0",
     .summary = "Signals that a cluster client is following an -ASK redirect."},
    {.name = "dflycluster",
     .proc = dflycluster_cmd,
     .arity = -2,
     .flags = CMD_ADMIN | CMD_NOSCRIPT,
     DFLY_ACL,
     DFLY_SUB,
     .summary = "A container for the control plane's cluster commands (admin port).",
     .subcommands = dflycluster_subcommands},
    {0},
};
