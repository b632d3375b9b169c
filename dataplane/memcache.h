/* The memcached listener (--memcached_port): memcached's text, meta and binary protocols on the
 * same keyspace as RESP.
 *
 * A memcached item is a Redis string in database 0. Its 32-bit client flags, its CAS unique and
 * the meta protocol's per-item bits (stale, win token sent, fetched) live in an optional block of
 * the entry (object.h: entry_mc, 13 bytes), present only in items written through this
 * listener; a string written by RESP reads as flags 0, and its CAS matches no client's value
 * until a memcached command gives it one. Any change of an item (from RESP too: db.c calls
 * memcache_cas_bump on every write lookup) gives it a new CAS.
 *
 * Files: memcache.c reads requests, resolves them and runs them as commands (memcache_cmd.c
 * holds their procs) through the ordinary dispatch (shards, hops, transactions, pipelines,
 * journal, stats); memcache_text.c parses the text and meta protocols, memcache_bin.c the
 * binary one; both parsers are pure functions that the fuzzer drives. */
#ifndef DFLY_MEMCACHE_H
#define DFLY_MEMCACHE_H

#include <stdint.h>

#include "command.h"
#include "object.h"

struct client;

/* Per-item bits of the meta protocol (entry_mc.bits). */
enum {
    MC_BIT_STALE = 1 << 0,   /* marked stale (md I, ms I with an older CAS): mg answers X */
    MC_BIT_WON = 1 << 1,     /* a client was given the win token (W); others get Z */
    MC_BIT_FETCHED = 1 << 2, /* read at least once (mg h, me fetch) */
    MC_BIT_BINKEY = 1 << 3,  /* stored with a base64 key (meta b): mg k answers in base64 */
};

/* client.c: parses and runs what cl received. Returns 1 when a command or batch went to other
 * threads (cl->waiting is set; the client resumes in client_command_done/client_batch_done),
 * 0 when everything parsed so far has its reply in cl->wbuf. */
int memcache_process(struct client *cl);
/* client.c: frees cl's memcached state. */
void memcache_client_free(struct client *cl);
/* dispatch.c: the command of the request a memcached connection is running (it is resolved by
 * the memcached parser, not looked up by name). */
const command *memcache_current_command(const struct client *cl);
/* reply.c: an error of the common command path (OOM, LOADING, MOVED...) for a memcached
 * client, written as that protocol's error: SERVER_ERROR, or a binary response. */
void memcache_reply_error(cmd_ctx *c, const char *msg);

/* A new CAS unique, on behalf of shard `shard_id` (its thread, or a transaction holding it).
 * Each shard counts on its own; the shard id in the low bits keeps values of different shards
 * apart, so a CAS is never handed out twice in a process's life. */
uint64_t memcache_cas_next(int shard_id);
/* db.c: e, an entry with a memcached block, is about to change: it gets a new CAS. */
void memcache_cas_bump(entry *e, int shard_id);

/* The memcached version the protocol answers as (VERSION, stats). */
#define MEMCACHE_COMPAT_VERSION "1.6.18"

#endif
