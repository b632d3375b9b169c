/* Connection commands: PING ECHO SELECT QUIT HELLO AUTH RESET CLIENT. */
#include <string.h>

#include "client.h"
#include "db.h"
#include "reply.h"
#include "server.h"

static void ping_cmd(cmd_ctx *c)
{
    if (c->argc > 2) {
        reply_wrong_args(c);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c, c->argv[1].p, c->argv[1].len);
    else
        reply_simple(c, "PONG");
}

static void echo_cmd(cmd_ctx *c)
{
    reply_bulk(c, c->argv[1].p, c->argv[1].len);
}

static void select_cmd(cmd_ctx *c)
{
    long long id;
    if (arg_ll_or_reply(c, &c->argv[1], &id, "ERR invalid DB index"))
        return;
    if (id < 0 || id >= server.cfg.databases) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    c->cl->dbid = (int)id;
    c->dbid = (int)id;
    reply_ok(c);
}

static void quit_cmd(cmd_ctx *c)
{
    reply_ok(c);
    c->cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

command connection_commands[] = {
    {.name = "ping", .proc = ping_cmd, .arity = -1, .flags = CMD_FAST | CMD_STALE | CMD_LOADING,
     .acl = ACL_FAST | ACL_CONNECTION, .group = "connection", .since = "1.0.0",
     .summary = "Returns the server's liveliness response."},
    {.name = "echo", .proc = echo_cmd, .arity = 2, .flags = CMD_FAST | CMD_STALE | CMD_LOADING,
     .acl = ACL_FAST | ACL_CONNECTION, .group = "connection", .since = "1.0.0",
     .summary = "Returns the given string."},
    {.name = "select", .proc = select_cmd, .arity = 2,
     .flags = CMD_FAST | CMD_STALE | CMD_LOADING | CMD_CLIENT_STATE,
     .acl = ACL_FAST | ACL_CONNECTION, .group = "connection", .since = "1.0.0",
     .summary = "Changes the selected database."},
    {.name = "quit", .proc = quit_cmd, .arity = -1,
     .flags = CMD_FAST | CMD_STALE | CMD_LOADING | CMD_NO_AUTH | CMD_CLIENT_STATE |
              CMD_ALLOW_BUSY | CMD_NOSCRIPT,
     .acl = ACL_FAST | ACL_CONNECTION, .group = "connection", .since = "1.0.0",
     .summary = "Closes the connection."},
    {0},
};
