/* DFLYMIGRATE: the target's side of a slot migration (migration.h), spoken by a source node to
 * the target's admin port. Our own protocol, after Dragonfly's design:
 *
 *   DFLYMIGRATE INIT <source id> <flows> <start> <end> [<start> <end> ...]
 *       The source starts (or restarts) migrating these slots here: their keys on this node are
 *       dropped (a failed earlier attempt may have left some). +OK, or +UNKNOWN_MIGRATION while
 *       this node's configuration does not list the migration (the source tries again).
 *   DFLYMIGRATE FLOW <source id> <flow>
 *       Turns this connection into one of the migration's streams: the commands that follow
 *       (RESTORE ... REPLACE ABSTTL of the keys, then the writes made on the source) run like a
 *       client's, with replies, but are not routed by slot.
 *   DFLYMIGRATE ACK <source id>
 *       Everything was sent and applied: the migration is FINISHED here, and connections that
 *       send ASKING may use its slots until the configuration gives them to this node. */
#include <string.h>

#include "client.h"
#include "cluster.h"
#include "journal.h"
#include "log.h"
#include "migration.h"
#include "reply.h"
#include "t_server.h"

#define ERR_RESTRICTED "ERR Cannot execute restricted command (admin only)"
#define ERR_DFLY_DISABLED "ERR Cluster is disabled. Use --cluster_mode=yes to enable."
#define ERR_NO_MIGRATION "ERR no such incoming migration"
#define INIT_FIRST_RANGE 4 /* argv index of the first range's start */
#define ERR_TEXT_MAX 128

/* Admin port only (or from inside the server), cluster mode yes only. Returns 1 after refusing. */
static int migrate_refuse(cmd_ctx *c)
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

static int slot_arg(cmd_ctx *c, const slice *a, uint16_t *out)
{
    long long v;
    if (arg_ll_range_or_reply(c, a, 0, CLUSTER_SLOTS - 1, &v, "ERR Invalid slot id") < 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* What INIT did to the data, for this node's journal and replicas: the migration itself is
 * not theirs (a replica follows its master's configuration). */
static void journal_flushslots(cmd_ctx *c, const cluster_slot_range *ranges, int nranges)
{
    if (!journal_wanted())
        return;
    journal_cmd jc;
    journal_cmd_init(&jc, "DFLYCLUSTER");
    journal_cmd_add(&jc, "FLUSHSLOTS", strlen("FLUSHSLOTS"));
    for (int i = 0; i < nranges; i++) {
        journal_cmd_add_ll(&jc, ranges[i].start);
        journal_cmd_add_ll(&jc, ranges[i].end);
    }
    journal_cmd_commit(c, &jc, 0);
}

/* Holds every shard: the slots' keys are dropped before any flow's command runs. */
static void migrate_init_cmd(cmd_ctx *c)
{
    if (migrate_refuse(c))
        return;
    if ((c->argc - INIT_FIRST_RANGE) % 2) {
        reply_syntax_error(c);
        return;
    }
    long long nflows;
    if (arg_ll_or_reply(c, &c->argv[3], &nflows, NULL) < 0)
        return;
    int nranges = (c->argc - INIT_FIRST_RANGE) / 2;
    cluster_slot_range ranges[CLUSTER_SLOTS / 2 + 1];
    if (nranges > (int)(sizeof(ranges) / sizeof(ranges[0]))) {
        reply_syntax_error(c);
        return;
    }
    uint8_t bits[CLUSTER_SLOTS / 8] = {0};
    for (int i = 0; i < nranges; i++) {
        uint16_t a, b;
        if (slot_arg(c, &c->argv[INIT_FIRST_RANGE + 2 * i], &a) ||
            slot_arg(c, &c->argv[INIT_FIRST_RANGE + 2 * i + 1], &b))
            return;
        if (a > b) {
            reply_error(c, "ERR Invalid slot range");
            return;
        }
        ranges[i] = (cluster_slot_range){a, b};
        for (int s = a; s <= b; s++)
            bits[s / 8] |= (uint8_t)(1u << (s % 8));
    }
    char err[ERR_TEXT_MAX] = "";
    int rc = migration_incoming_init(c->argv[2].p, c->argv[2].len, (int)nflows, ranges, nranges,
                                     err, sizeof(err));
    if (rc > 0) {
        reply_simple(c, MIGRATION_UNKNOWN);
        return;
    }
    if (rc < 0) {
        reply_error(c, err);
        return;
    }
    size_t dropped = cluster_drop_slots(c, bits);
    if (dropped) {
        log_info("migration: dropped %zu keys left in the incoming slots", dropped);
        journal_flushslots(c, ranges, nranges);
    }
    reply_ok(c);
}

/* Runs on the connection's own thread (CMD_CLIENT_STATE): it changes the connection. */
static void migrate_flow_cmd(cmd_ctx *c)
{
    if (migrate_refuse(c))
        return;
    long long flow;
    if (arg_ll_or_reply(c, &c->argv[3], &flow, NULL) < 0)
        return;
    if (migration_incoming_flow(c->argv[2].p, c->argv[2].len, (int)flow) < 0) {
        reply_error(c, ERR_NO_MIGRATION);
        return;
    }
    if (c->cl)
        c->cl->flags |= CLIENT_MIGRATION_FLOW;
    reply_ok(c);
}

static void migrate_ack_cmd(cmd_ctx *c)
{
    if (migrate_refuse(c))
        return;
    if (migration_incoming_ack(c->argv[2].p, c->argv[2].len) < 0) {
        reply_error(c, ERR_NO_MIGRATION);
        return;
    }
    reply_ok(c);
}

static void migrate_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "INIT <source_id> <flows> <start> <end> [<start> <end> ...]",
        "    Start receiving the keys of the slot ranges from the source node.",
        "FLOW <source_id> <flow>",
        "    Make this connection one of the migration's streams.",
        "ACK <source_id>",
        "    The source sent everything: the migration is finished.",
        NULL,
    };
    reply_help(c, "DFLYMIGRATE", lines);
}

static void dflymigrate_cmd(cmd_ctx *c)
{
    if (migrate_refuse(c))
        return;
    reply_unknown_subcommand(c, "DFLYMIGRATE");
}

#define MIGRATE_SUB .group = "cluster", .since = "1.0.0"
#define MIGRATE_ACL .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS
#define MIGRATE_FLAGS CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI

static command migrate_subcommands[] = {
    {.name = "init",
     .proc = migrate_init_cmd,
     .arity = -6,
     .flags = MIGRATE_FLAGS | CMD_ALL_SHARDS,
     MIGRATE_ACL,
     MIGRATE_SUB,
     .summary = "Starts an incoming slot migration (source node, admin port)."},
    {.name = "flow",
     .proc = migrate_flow_cmd,
     .arity = 4,
     .flags = MIGRATE_FLAGS | CMD_CLIENT_STATE,
     MIGRATE_ACL,
     MIGRATE_SUB,
     .summary = "Makes the connection a stream of an incoming slot migration."},
    {.name = "ack",
     .proc = migrate_ack_cmd,
     .arity = 3,
     .flags = MIGRATE_FLAGS,
     MIGRATE_ACL,
     MIGRATE_SUB,
     .summary = "Ends an incoming slot migration."},
    {.name = "help",
     .proc = migrate_help_cmd,
     .arity = 2,
     .flags = MIGRATE_FLAGS,
     MIGRATE_ACL,
     MIGRATE_SUB,
     .summary = "Returns helpful text about the different subcommands."},
    {0},
};

command migrate_commands[] = {
    {.name = "dflymigrate",
     .proc = dflymigrate_cmd,
     .arity = -2,
     .flags = MIGRATE_FLAGS,
     MIGRATE_ACL,
     MIGRATE_SUB,
     .summary = "A container for slot migration's node-to-node commands (admin port).",
     .subcommands = migrate_subcommands},
    {0},
};
