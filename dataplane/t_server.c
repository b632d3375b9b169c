/* Server commands: INFO CONFIG COMMAND DEBUG FLUSHALL FLUSHDB SLOWLOG MEMORY TIME SHUTDOWN... */
#include <string.h>

#include "db.h"
#include "reply.h"
#include "server.h"

static void flushall_cmd(cmd_ctx *c)
{
    for (int i = 0; i < server.nshards; i++)
        db_flush(shards[i], -1);
    reply_ok(c);
}

static void flushdb_cmd(cmd_ctx *c)
{
    for (int i = 0; i < server.nshards; i++)
        db_flush(shards[i], c->dbid);
    reply_ok(c);
}

command server_commands[] = {
    {.name = "flushall", .proc = flushall_cmd, .arity = -1, .flags = CMD_WRITE | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS, .group = "server",
     .since = "1.0.0", .summary = "Removes all keys from all databases."},
    {.name = "flushdb", .proc = flushdb_cmd, .arity = -1, .flags = CMD_WRITE | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS, .group = "server",
     .since = "1.0.0", .summary = "Remove all keys from the current database."},
    {0},
};
