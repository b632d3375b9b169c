/* Client-side caching (CLIENT TRACKING): who may hold which keys in a local cache, and telling
 * them when those keys change.
 *
 * Default mode. After a read-only command of a tracking client, each key it read is remembered
 * in the tracking table of the key's shard (key -> ids of the clients that read it), by the
 * thread that holds that shard while the command runs (dispatch_call calls
 * tracking_after_command). When a key is written, expires or is evicted, the thread holding its
 * shard (db.c calls tracking_key_changed) takes the key out of the table and sends an
 * invalidation to each client that read it; the next read remembers it again. As in Redis the
 * table is keyed by name only (any db), and ids of clients that turned tracking off or left are
 * dropped lazily, when their key is invalidated.
 *
 * BCAST mode. A client registers prefixes (none: the empty prefix, every key) in a registry
 * shared by all threads (a reader-writer lock, as pub/sub's); every changed key is matched
 * against the prefixes and invalidated to their clients, read or not.
 *
 * Delivery. Invalidations travel like Pub/Sub messages: the shard's thread posts one message per
 * worker that has recipients (worker_post), and each client is written to by its own thread
 * only. There the message is checked against the client's current state (still tracking, in
 * that mode, NOLOOP) and follows its REDIRECT: to a RESP3 connection as a push
 * `>2 invalidate [keys]`, to a RESP2 one in subscribed mode as a message on
 * `__redis__:invalidate`. Output for a client waits in its pending queue until the client has
 * no command or pipeline in flight (a blocked command does not count), and is written just
 * before the thread polls again: an invalidation never overtakes the reply that carried the
 * value it invalidates. A vanished redirect target gives the tracking client (RESP3) a
 * `tracking-redir-broken` push, as Redis does, at the next invalidation.
 *
 * FLUSHALL and FLUSHDB empty every table and send a null invalidation (`invalidate` with a null)
 * to every tracking client. The tables hold at most about tracking-table-max-keys keys (Redis's
 * default 1000000; 0: no limit): a shard over its share of the limit forgets random keys,
 * invalidating them, when it remembers new ones.
 *
 * Limitation: in OPTIN/OPTOUT mode, CLIENT CACHING applies to the next command; in a pipeline
 * whose reads are spread over several shards (and run in parallel) it applies to whichever of
 * them finishes first. Inside MULTI/EXEC, as in Redis, it applies to the whole transaction. */
#ifndef DFLY_TRACKING_H
#define DFLY_TRACKING_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "command.h"

struct shard;

/* Tracking options and state (tracking_flags). */
enum {
    TRK_ON = 1u << 0,
    TRK_BCAST = 1u << 1,
    TRK_OPTIN = 1u << 2,
    TRK_OPTOUT = 1u << 3,
    TRK_NOLOOP = 1u << 4,
    TRK_CACHING = 1u << 5,      /* CLIENT CACHING yes (OPTIN) / no (OPTOUT) for the next command */
    TRK_BROKEN_REDIR = 1u << 6, /* the redirect target was gone at an invalidation */
};

/* ---- the caller's own state: on the client's thread ----------------------------------------- */

/* TRK_* of cl; 0 when tracking is off. */
unsigned tracking_flags(const client *cl);
/* The client invalidations go to (0: cl itself); meaningful when tracking is on. */
uint64_t tracking_redirect(const client *cl);
/* 1 when a connection with this id exists (REDIRECT's check). Any thread. */
int tracking_client_exists(uint64_t id);
/* 1 when prefix p overlaps (one starts with the other) a BCAST prefix cl already has; *other is
 * then that prefix (valid until cl's tracking changes). */
int tracking_prefix_overlap(const client *cl, const slice *p, slice *other);
/* Turns tracking on (or changes its options): redirect 0 for none; options TRK_BCAST,
 * TRK_OPTIN, TRK_OPTOUT, TRK_NOLOOP; with TRK_BCAST the prefixes are added to the ones cl has
 * (none given: the empty prefix). The caller checked the options as Redis does. */
void tracking_enable(client *cl, uint64_t redirect, unsigned options, int nprefixes,
                     const slice *prefixes);
void tracking_disable(client *cl);
/* CLIENT CACHING: the next command is cached (OPTIN) or not (OPTOUT). */
void tracking_set_caching(client *cl);
/* cl's BCAST prefixes in lexicographic order: fn is called for each. */
void tracking_prefixes(const client *cl, void (*fn)(void *arg, const char *p, size_t len),
                       void *arg);
int tracking_prefix_count(const client *cl);

/* ---- hooks ------------------------------------------------------------------------------------
 */

/* client.c: a connection was accepted (it gets an id) / is being freed. On its thread. */
void tracking_client_opened(client *cl);
void tracking_client_freed(client *cl);
/* dispatch_call, after every command: remembers the keys a tracking client read, and consumes
 * CLIENT CACHING. A no-op unless tracking is on for c->cl. Runs on the thread holding the
 * shards of the command's keys. */
void tracking_after_command(cmd_ctx *c);
/* db.c: key of shard s was written (writer: the id of the client whose command wrote it, for
 * NOLOOP; 0 when none, e.g. expiry and eviction). On the thread holding s. */
void tracking_key_changed(struct shard *s, const char *key, size_t len, uint64_t writer);
/* FLUSHALL / FLUSHDB, while holding every shard: forget every tracked key and send every
 * tracking client a null invalidation. */
void tracking_on_flush(void);
/* main.c, after the workers stopped: frees the tracking tables. */
void tracking_shutdown(void);

/* ---- INFO: any thread -------------------------------------------------------------------------
 */

long tracking_clients_count(void);      /* tracking_clients */
uint64_t tracking_total_keys(void);     /* tracking_total_keys */
uint64_t tracking_total_items(void);    /* tracking_total_items */
uint64_t tracking_total_prefixes(void); /* tracking_total_prefixes */

#endif
