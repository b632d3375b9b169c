/* Pub/Sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH SSUBSCRIBE
 * SUNSUBSCRIBE SPUBLISH and PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB /
 * HELP. The registry and delivery are in pubsub.c.
 *
 * Every command here runs on the caller's thread (CMD_CLIENT_STATE): a subscription belongs to
 * the connection, and a publisher's messages leave from its own thread in the order it sends
 * them. SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH declare their shard channels as keys, as Redis
 * does (COMMAND INFO, and cluster slot checks), without being routed to the keys' shards. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "journal.h"
#include "pubsub.h"
#include "reply.h"
#include "t_server.h"

#define SUBCOMMAND_NAME_MAX 128

/* The replies of one (un)subscribe command: one ["<verb>", name, count] per name. */
typedef struct sub_reply {
    cmd_ctx *c;
    int kind;
    const char *verb;
} sub_reply;

/* Redis counts channels and patterns together, shard channels apart. */
static int subscription_count(const client *cl, int kind)
{
    if (kind == PUBSUB_SHARD)
        return pubsub_count(cl, PUBSUB_SHARD);
    return pubsub_count(cl, PUBSUB_CHANNEL) + pubsub_count(cl, PUBSUB_PATTERN);
}

static void reply_confirmation(sub_reply *r, const char *name, size_t len)
{
    reply_push(r->c, 3);
    reply_bulk_cstr(r->c, r->verb);
    if (name)
        reply_bulk(r->c, name, len);
    else
        reply_null(r->c);
    reply_int(r->c, subscription_count(r->c->cl, r->kind));
}

static void on_name(void *arg, const char *name, size_t len, int changed)
{
    (void)changed; /* Redis confirms a repeated or absent name all the same */
    reply_confirmation(arg, name, len);
}

/* Scripts expect one reply per call: a subscription would outlive the call. */
static int subscribe_allowed_or_reply(cmd_ctx *c)
{
    if (c->cl && !(c->flags & CTX_IN_SCRIPT))
        return 1;
    char name[SUBCOMMAND_NAME_MAX];
    command_fullname(c->cmd, c->cmd->parent, name, sizeof(name));
    for (char *p = name; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    reply_errorf(c, "ERR %s isn't allowed for a DENY BLOCKING client", name);
    return 0;
}

static void subscribe_generic(cmd_ctx *c, int kind, const char *verb)
{
    if (!subscribe_allowed_or_reply(c))
        return;
    sub_reply r = {c, kind, verb};
    pubsub_subscribe(c->cl, kind, c->argc - 1, c->argv + 1, on_name, &r);
}

/* ---- unsubscribing -------------------------------------------------------------------------
 * A message that a publisher counted this subscriber in may still be on its way to this thread
 * when the subscription ends. The confirmation waits until those are delivered, so that the
 * subscriber gets every message it was counted for and none after its confirmation. */

typedef struct unsub_pending {
    client *cl;
    buf reply;
    int muted;
} unsub_pending;

/* On the client's thread, after the messages that were on their way. */
static void unsub_confirm(void *arg)
{
    unsub_pending *p = arg;
    client *cl = p->cl;
    if (!cl->closing)
        pubsub_settle(cl);
    client_deferred_reply(cl, p->reply.data ? p->reply.data : "", p->reply.len, p->muted, 0);
    buf_free(&p->reply);
    free(p);
}

/* Only a command of the caller's own, answered straight into its output, can wait: inside
 * EXEC or a script the reply is part of a larger one. */
static int may_defer(const cmd_ctx *c)
{
    return c->out == &c->cl->wbuf && !(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT | CTX_REMOTE));
}

static void unsubscribe_generic(cmd_ctx *c, int kind, const char *verb)
{
    if (!subscribe_allowed_or_reply(c))
        return;
    client *cl = c->cl;
    unsub_pending *p = mem_calloc(1, sizeof(*p));
    buf_init(&p->reply);
    cmd_ctx rc = *c;
    rc.out = &p->reply;
    sub_reply r = {&rc, kind, verb};
    int before = pubsub_count(cl, kind);
    pubsub_unsubscribe(cl, kind, c->argc - 1, c->argv + 1, on_name, &r);
    if (c->argc == 1 && before == 0)
        reply_confirmation(&r, NULL, 0); /* nothing to leave: one confirmation with a null */
    if (may_defer(c) && pubsub_after_deliveries(unsub_confirm, p)) {
        p->cl = cl;
        p->muted = client_defer_reply(cl);
        return;
    }
    buf_append(c->out, p->reply.data ? p->reply.data : "", p->reply.len);
    buf_free(&p->reply);
    free(p);
    pubsub_settle(cl);
}

static void subscribe_cmd(cmd_ctx *c)
{
    subscribe_generic(c, PUBSUB_CHANNEL, "subscribe");
}

static void psubscribe_cmd(cmd_ctx *c)
{
    subscribe_generic(c, PUBSUB_PATTERN, "psubscribe");
}

static void ssubscribe_cmd(cmd_ctx *c)
{
    subscribe_generic(c, PUBSUB_SHARD, "ssubscribe");
}

static void unsubscribe_cmd(cmd_ctx *c)
{
    unsubscribe_generic(c, PUBSUB_CHANNEL, "unsubscribe");
}

static void punsubscribe_cmd(cmd_ctx *c)
{
    unsubscribe_generic(c, PUBSUB_PATTERN, "punsubscribe");
}

static void sunsubscribe_cmd(cmd_ctx *c)
{
    unsubscribe_generic(c, PUBSUB_SHARD, "sunsubscribe");
}

/* PUBLISH channel message: the number of subscriptions reached (see pubsub.h for exactly
 * which). */
/* A message published on a master reaches the subscribers of its replicas too (Redis
 * propagates PUBLISH to replicas, not to the append-only file). */
static void publish_cmd(cmd_ctx *c)
{
    reply_int(c, pubsub_publish(c, PUBSUB_CHANNEL, c->argv[1].p, c->argv[1].len, c->argv[2].p,
                                c->argv[2].len));
    journal_tap_force(c);
}

static void spublish_cmd(cmd_ctx *c)
{
    reply_int(c, pubsub_publish(c, PUBSUB_SHARD, c->argv[1].p, c->argv[1].len, c->argv[2].p,
                                c->argv[2].len));
    journal_tap_force(c);
}

/* ---- PUBSUB ---------------------------------------------------------------------------------- */

static void reply_subcommand_syntax_error(cmd_ctx *c)
{
    int len = c->argv[1].len > SUBCOMMAND_NAME_MAX ? SUBCOMMAND_NAME_MAX : (int)c->argv[1].len;
    reply_errorf(c,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB "
                 "HELP.",
                 len, c->argv[1].p);
}

typedef struct list_acc {
    cmd_ctx *c;
    long n;
} list_acc;

static void list_one(void *arg, const char *name, size_t len)
{
    list_acc *a = arg;
    reply_bulk(a->c, name, len);
    a->n++;
}

static void channels_generic(cmd_ctx *c, int kind)
{
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    list_acc a = {c, 0};
    size_t h = reply_deferred(c);
    if (c->argc == 3)
        pubsub_list(kind, c->argv[2].p, c->argv[2].len, list_one, &a);
    else
        pubsub_list(kind, NULL, 0, list_one, &a);
    reply_set_deferred_array(c, h, a.n);
}

static void numsub_generic(cmd_ctx *c, int kind)
{
    reply_array(c, (long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(c, c->argv[i].p, c->argv[i].len);
        reply_int(c, pubsub_numsub(kind, c->argv[i].p, c->argv[i].len));
    }
}

static void pubsub_channels_cmd(cmd_ctx *c)
{
    channels_generic(c, PUBSUB_CHANNEL);
}

static void pubsub_shardchannels_cmd(cmd_ctx *c)
{
    channels_generic(c, PUBSUB_SHARD);
}

static void pubsub_numsub_cmd(cmd_ctx *c)
{
    numsub_generic(c, PUBSUB_CHANNEL);
}

static void pubsub_shardnumsub_cmd(cmd_ctx *c)
{
    numsub_generic(c, PUBSUB_SHARD);
}

/* Distinct patterns with subscribers, as Redis 7 counts them. */
static void pubsub_numpat_cmd(cmd_ctx *c)
{
    reply_int(c, pubsub_topics(PUBSUB_PATTERN));
}

static void pubsub_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        NULL,
    };
    reply_help(c, "PUBSUB", lines);
}

static void pubsub_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "PUBSUB");
}

/* ---- the table ------------------------------------------------------------------------------- */

#define PUBSUB_FLAGS (CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_CLIENT_STATE)
#define SUB_FLAGS (PUBSUB_FLAGS | CMD_NOSCRIPT)
#define PUB_FLAGS (PUBSUB_FLAGS | CMD_FAST | CMD_MAY_REPLICATE)
#define ALL_KEYS .first_key = 1, .last_key = -1, .key_step = 1
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1

static command pubsub_subcommands[] = {
    {.name = "channels",
     .proc = pubsub_channels_cmd,
     .arity = -2,
     .flags = PUBSUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.8.0",
     .summary = "List active channels"},
    {.name = "numpat",
     .proc = pubsub_numpat_cmd,
     .arity = 2,
     .flags = PUBSUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.8.0",
     .summary = "Get the count of unique patterns pattern subscriptions"},
    {.name = "numsub",
     .proc = pubsub_numsub_cmd,
     .arity = -2,
     .flags = PUBSUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.8.0",
     .summary = "Get the count of subscribers for channels"},
    {.name = "shardchannels",
     .proc = pubsub_shardchannels_cmd,
     .arity = -2,
     .flags = PUBSUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "7.0.0",
     .summary = "List active shard channels"},
    {.name = "shardnumsub",
     .proc = pubsub_shardnumsub_cmd,
     .arity = -2,
     .flags = PUBSUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "7.0.0",
     .summary = "Get the count of subscribers for shard channels"},
    {.name = "help",
     .proc = pubsub_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE | CMD_CLIENT_STATE,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "6.2.0",
     .summary = "Show helpful text about the different subcommands"},
    {0},
};

command pubsub_commands[] = {
    {.name = "subscribe",
     .proc = subscribe_cmd,
     .arity = -2,
     .flags = SUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.0.0",
     .summary = "Listen for messages published to the given channels"},
    {.name = "unsubscribe",
     .proc = unsubscribe_cmd,
     .arity = -1,
     .flags = SUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.0.0",
     .summary = "Stop listening for messages posted to the given channels"},
    {.name = "psubscribe",
     .proc = psubscribe_cmd,
     .arity = -2,
     .flags = SUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.0.0",
     .summary = "Listen for messages published to channels matching the given patterns"},
    {.name = "punsubscribe",
     .proc = punsubscribe_cmd,
     .arity = -1,
     .flags = SUB_FLAGS,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.0.0",
     .summary = "Stop listening for messages posted to channels matching the given patterns"},
    {.name = "publish",
     .proc = publish_cmd,
     .arity = 3,
     .flags = PUB_FLAGS,
     .acl = ACL_FAST,
     .group = "pubsub",
     .since = "2.0.0",
     .summary = "Post a message to a channel"},
    {.name = "ssubscribe",
     .proc = ssubscribe_cmd,
     .arity = -2,
     .flags = SUB_FLAGS,
     .acl = ACL_SLOW,
     ALL_KEYS,
     .group = "pubsub",
     .since = "7.0.0",
     .summary = "Listen for messages published to the given shard channels"},
    {.name = "sunsubscribe",
     .proc = sunsubscribe_cmd,
     .arity = -1,
     .flags = SUB_FLAGS,
     .acl = ACL_SLOW,
     ALL_KEYS,
     .group = "pubsub",
     .since = "7.0.0",
     .summary = "Stop listening for messages posted to the given shard channels"},
    {.name = "spublish",
     .proc = spublish_cmd,
     .arity = 3,
     .flags = PUB_FLAGS,
     .acl = ACL_FAST,
     KEY1,
     .group = "pubsub",
     .since = "7.0.0",
     .summary = "Post a message to a shard channel"},
    {.name = "pubsub",
     .proc = pubsub_cmd,
     .arity = -2,
     .flags = 0,
     .acl = ACL_SLOW,
     .group = "pubsub",
     .since = "2.8.0",
     .summary = "A container for Pub/Sub commands",
     .subcommands = pubsub_subcommands},
    {0},
};
