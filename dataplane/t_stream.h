/* What the stream command files (t_stream.c, t_stream_group.c) share: argument parsing with
 * Redis's replies, entry replies, and the consumer-group procs the command table names. */
#ifndef DFLY_T_STREAM_H
#define DFLY_T_STREAM_H

#include "command.h"
#include "db.h"
#include "stream.h"

#define ERR_INVALID_STREAM_ID "ERR Invalid stream ID specified as stream command argument"

/* The stream at key: NULL when absent, or after replying WRONGTYPE (*wrong set). */
stream *stream_lookup(cmd_ctx *c, const slice *key, int write, int *wrong);

/* Parses an ID as Redis's streamGenericParseIDOrReply; replies the error and returns -1. */
int stream_id_or_reply(cmd_ctx *c, const slice *a, stream_id *id, uint64_t missing_seq, int strict,
                       int *seq_given);
/* A range bound: "(" makes it exclusive (*exclude set). */
int stream_interval_or_reply(cmd_ctx *c, const slice *a, stream_id *id, int *exclude,
                             uint64_t missing_seq);
void reply_stream_id(cmd_ctx *c, const stream_id *id);
/* "%s" of a key or group name in an error: Redis prints it as a C string. */
int err_name_len(const slice *a);

/* stream_reply_range flags (Redis's STREAM_RWR_*). */
enum {
    RWR_NOACK = 1 << 0,      /* no PEL entries for the delivered entries */
    RWR_RAWENTRIES = 1 << 1, /* no enclosing array: just the entries */
    RWR_HISTORY = 1 << 2,    /* serve the consumer's own PEL */
};
/* Redis's streamReplyWithRange: replies the entries start..end (count 0: all), and with a group
 * and consumer records the deliveries. Returns the number of entries. */
size_t stream_reply_range(cmd_ctx *c, stream *s, const stream_id *start, const stream_id *end,
                          size_t count, int rev, stream_cg *group, stream_consumer *consumer,
                          int flags);
/* The consumer `name` of cg, created (with its keyspace event) when absent; its seen time is
 * now. */
stream_consumer *stream_consumer_get(cmd_ctx *c, stream_cg *cg, const slice *key,
                                     const slice *name);

/* Consumer-group commands (t_stream_group.c). */
extern command xgroup_subcommands[];
extern command xinfo_subcommands[];
void xgroup_cmd(cmd_ctx *c);
void xinfo_cmd(cmd_ctx *c);
void xack_cmd(cmd_ctx *c);
void xpending_cmd(cmd_ctx *c);
void xclaim_cmd(cmd_ctx *c);
void xautoclaim_cmd(cmd_ctx *c);

#endif
