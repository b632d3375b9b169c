/* From a parsed request to its reply: lookup, arity, authentication, MULTI queueing, routing to
 * the shards of its keys, running it, statistics. */
#ifndef DFLY_DISPATCH_H
#define DFLY_DISPATCH_H

#include "client.h"
#include "command.h"
#include "tx.h"

/* Runs one request for cl. Returns 0 when its reply is in cl->wbuf, 1 when it went to other
 * threads (cl->waiting is set and client_command_done follows). */
int dispatch_command(client *cl, int argc, slice *argv);

/* The shards c's call touches; c remembers its first key's (db.h ctx_key_shard). Returns 0, or
 * -1 when its keys cannot be determined (the command then runs on the client's thread and
 * reports the syntax error itself). */
int dispatch_shards(cmd_ctx *c, shardset *set);

/* Calls c->cmd's proc with statistics: the one place every command passes through, also for
 * EXEC and scripts. The caller holds the shards of its keys. */
void dispatch_call(cmd_ctx *c);
/* dispatch_call after the memory check of write commands (OOM or eviction). */
void dispatch_run(cmd_ctx *c);
/* The memory check alone: 1 when c->cmd may run (not a DENYOOM command, under maxmemory, or
 * eviction from the shard of its first key brought memory under the limit). */
int dispatch_memory_ok(cmd_ctx *c);

/* Runs the command a blocked client waits with again, as a new command (blocking.c, when its
 * serving needs shards the server does not hold). On cl's thread. */
void dispatch_rerun_blocked(client *cl);

/* Keys of a call whose shards must all be held, e.g. for EXEC. Adds to set; remember (or NULL)
 * learns the first key's shard. */
void dispatch_add_shards(const command *cmd, int argc, const slice *argv, shardset *set,
                         cmd_ctx *remember);

/* Optional per-command routing used by EXEC: fills set from the client's state. */
typedef int (*dispatch_route_fn)(client *cl, shardset *set);
void dispatch_set_exec_route(dispatch_route_fn fn);

#endif
