/* Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK...): a client waits on keys until a
 * write makes one of them ready, its timeout passes, or it goes away.
 *
 * A blocking command's proc first tries to serve itself. When nothing is there and it may block
 * (not inside MULTI or a script), it calls block_on_keys() and replies nothing. Writes that can
 * make a key ready (LPUSH, ZADD, XADD, RENAME onto the key...) call block_signal_key(). After the
 * command that signalled (or the transaction body) has finished on its shard, the clients blocked
 * on the ready keys are served in the order they blocked: their command runs again, in serving
 * mode (c->flags & CTX_UNBLOCKED, with c->ready_key naming the key that became ready), and its
 * reply goes to the client. A proc in serving mode must not block again; if it still finds
 * nothing it calls block_keep_waiting() and the client stays blocked. */
#ifndef DFLY_BLOCKING_H
#define DFLY_BLOCKING_H

#include <stdint.h>

#include "command.h"

/* Blocks the calling client on keys (argv indexes of c's arguments) until timeout_ms (an
 * absolute wall-clock time in ms; 0 waits forever). On timeout the client gets reply_null_array
 * (or the null that null_reply selects: BLOCK_NULL_ARRAY, BLOCK_NULL). */
enum { BLOCK_NULL_ARRAY = 0, BLOCK_NULL = 1 };
void block_on_keys(cmd_ctx *c, const int *keyidx, int nkeys, int64_t timeout_ms, int null_reply);
/* After block_on_keys: replaces argument idx of the blocked command for its serving runs (a
 * copy of p/len lives as long as the wait), as Redis's rewriteClientCommandArgument; XREAD BLOCK
 * turns "$" into the ID it meant when it blocked. */
void block_set_arg(cmd_ctx *c, int idx, const char *p, size_t len);
/* A write made key ready (it exists now, with something a blocked client may take). */
void block_signal_key(cmd_ctx *c, const char *key, size_t len);
/* In serving mode: nothing for this client after all; it keeps waiting. */
void block_keep_waiting(cmd_ctx *c);
/* 1 when c may block (not in MULTI/EXEC, not in a script, not in serving mode). */
int block_allowed(const cmd_ctx *c);
/* Parses a blocking timeout in seconds (fractions allowed) into an absolute time in ms, 0 for
 * "forever". Replies Redis's errors ("ERR timeout is not a float or out of range", "ERR timeout
 * is negative") and returns -1. */
int block_timeout_or_reply(cmd_ctx *c, const slice *a, int64_t *timeout_ms);

/* ---- for the client, dispatch and worker code ---- */
struct client;
struct shard;
/* On the client's thread, after its command blocked: arms the timeout. */
void block_start_wait(struct client *cl);
/* The client goes away while blocked (disconnect, CLIENT KILL). */
void block_cancel(struct client *cl);
/* CLIENT UNBLOCK: ends the wait with a null reply or an UNBLOCKED error; 1 if it was blocked. */
int block_unblock(struct client *cl, int with_error);
/* Serves the clients blocked on keys that the command just run made ready. Called by
 * dispatch_call after every top-level command, on the thread holding those keys. */
void block_serve_ready(void);
/* Drops finished registrations (shard timer) / all of them (shutdown). */
void block_shard_sweep(struct shard *s);
void block_shard_free(struct shard *s);

#endif
