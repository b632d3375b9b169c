/* Keyspace commands: DEL, EXISTS, TYPE, RENAME, EXPIRE, SCAN and the rest of Redis's
 * "generic" group. */
#include <string.h>

#include "db.h"
#include "reply.h"
#include "server.h"

/* DEL/UNLINK key [key ...]: the keys may live on several shards; all of them are held. */
static void del_cmd(cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (db_delete(c, c->argv[i].p, c->argv[i].len)) {
            db_signal_modified(c, c->argv[i].p, c->argv[i].len);
            db_notify(c, NOTIFY_GENERIC, "del", c->argv[i].p, c->argv[i].len);
            n++;
        }
    }
    reply_int(c, n);
}

static void exists_cmd(cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += db_lookup_read(c, c->argv[i].p, c->argv[i].len) != NULL;
    reply_int(c, n);
}

static void dbsize_cmd(cmd_ctx *c)
{
    size_t n = 0;
    for (int i = 0; i < server.nshards; i++)
        n += db_size(shards[i], c->dbid);
    reply_int(c, (long long)n);
}

command keyspace_commands[] = {
    {.name = "del", .proc = del_cmd, .arity = -2, .flags = CMD_WRITE, .first_key = 1,
     .last_key = -1, .key_step = 1, .acl = ACL_KEYSPACE | ACL_WRITE | ACL_SLOW,
     .group = "generic", .since = "1.0.0", .summary = "Deletes one or more keys."},
    {.name = "exists", .proc = exists_cmd, .arity = -2, .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1, .last_key = -1, .key_step = 1, .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST,
     .group = "generic", .since = "1.0.0", .summary = "Determines whether one or more keys exist."},
    {.name = "dbsize", .proc = dbsize_cmd, .arity = 1,
     .flags = CMD_READONLY | CMD_FAST | CMD_ALL_SHARDS,
     .acl = ACL_KEYSPACE | ACL_READ | ACL_FAST, .group = "server", .since = "1.0.0",
     .summary = "Returns the number of keys in the database."},
    {0},
};
