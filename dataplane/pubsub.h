/* Pub/Sub: who subscribes to what, and getting published messages to them.
 *
 * Subscribers and publishers may be on any worker thread. One registry, shared by every thread
 * and guarded by a reader-writer lock, maps each channel, pattern and shard channel to its
 * subscriptions; a subscription names the subscribing client through a small handle that
 * records the client's worker. SUBSCRIBE and friends take the lock for writing on the
 * subscriber's own thread; PUBLISH takes it for reading, so publishers on different threads
 * run side by side.
 *
 * PUBLISH, under the read lock, lists the subscriptions its channel reaches (channel subscribers
 * plus every matching pattern) and posts the message, one inbox message per worker, to the
 * workers of those subscribers; a subscriber is only ever written to by its own thread. The
 * reply is the length of that list: the subscribers registered at the instant the lock was
 * held, which is also exactly who receives the message. That holds across a concurrent
 * UNSUBSCRIBE: a subscription that was listed is delivered to even if it is cancelled before
 * the message arrives, and the UNSUBSCRIBE's confirmation waits until every message that was
 * in flight to that worker when it ran has been delivered (a fence message behind them in the
 * worker's FIFO inbox). So a subscriber sees exactly the messages published between its
 * SUBSCRIBE and its UNSUBSCRIBE, in order, and never a message after its confirmation.
 * Messages of one publisher reach each subscriber in publishing order (per-pair FIFO inboxes).
 * Subscribers on the publisher's own thread are served inline, before PUBLISH replies, when
 * nothing is in flight to that thread (else they too get it by message, to keep the order).
 * Exceptions, where the count may exceed the deliveries: RESET and disconnects drop messages on
 * their way, and an UNSUBSCRIBE inside EXEC cannot wait for them.
 *
 * Why a shared index rather than asking every worker: the count is then known when PUBLISH runs,
 * so PUBLISH needs no round trip, works inside EXEC and scripts, and a publisher's pipeline is
 * not stalled; the lock is held for a hash lookup plus the pattern matches, and readers do not
 * exclude each other (writer-preferring, so SUBSCRIBE is not starved by a publish flood). The
 * delivery side writes each subscriber once per loop iteration (a prepare handle flushes the
 * subscribers that got output), not once per message. Measured on 2 threads, redis-benchmark
 * -c 20 -P 16 PUBLISH with 3 subscribers: ~660k publishes/s (redis-server 7.0: ~700k); with no
 * subscriber, the unlocked fast path: ~2.1M/s.
 *
 * Slow subscribers: after each message appended to a subscriber, its pending output is checked
 * against client-output-buffer-limit's pubsub class (Redis's "32mb 8mb 60" by default), and a
 * subscriber over the hard limit, or over the soft limit for longer than the soft seconds, is
 * disconnected, so that a reader that stops reading cannot grow the server without bound. The
 * normal and replica classes are kept for CONFIG GET/SET but not enforced. */
#ifndef DFLY_PUBSUB_H
#define DFLY_PUBSUB_H

#include <stddef.h>

#include "client.h"
#include "command.h"

/* What a subscription is to: a channel (SUBSCRIBE), a pattern (PSUBSCRIBE) or a shard channel
 * (SSUBSCRIBE). Also selects what PUBLISH (channels and patterns) or SPUBLISH reaches. */
enum pubsub_kind { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN, PUBSUB_SHARD, PUBSUB_KINDS };

/* Called for each name a subscribe or unsubscribe handled, in order: changed is 1 when the
 * subscription was added (or removed), 0 when it already existed (or did not exist). */
typedef void (*pubsub_name_fn)(void *arg, const char *name, size_t len, int changed);

/* ---- the caller's own subscriptions: on the client's thread (or while its command runs) -- */

/* Subscribes cl to each of names[0..n). Sets CLIENT_PUBSUB. */
void pubsub_subscribe(client *cl, int kind, int n, const slice *names, pubsub_name_fn fn,
                      void *arg);
/* Unsubscribes cl from each of names[0..n), or from every subscription of that kind when n is
 * 0 (fn then sees each removed name). CLIENT_PUBSUB stays set: see pubsub_settle. */
void pubsub_unsubscribe(client *cl, int kind, int n, const slice *names, pubsub_name_fn fn,
                        void *arg);
/* Subscriptions of cl of one kind, and in total. */
int pubsub_count(const client *cl, int kind);
/* 1 when fn returns 1 for one of cl's subscriptions (kind, name). On cl's thread (ACL: a user
 * who lost a channel's permission is disconnected). */
int pubsub_client_any(client *cl, int (*fn)(int kind, const char *name, size_t len, void *arg),
                      void *arg);
int pubsub_total(const client *cl);
/* Clears CLIENT_PUBSUB when cl has no subscription left. */
void pubsub_settle(client *cl);
/* Drops every subscription of cl at once, without replies, and forgets messages still on their
 * way to it (RESET, disconnect): afterwards cl is an ordinary connection. */
void pubsub_unsubscribe_all(client *cl);

/* Runs fn(arg) on the calling worker once every message in flight to it has been delivered,
 * and returns 1; returns 0, without calling fn, when nothing is in flight (the caller goes on
 * at once). For UNSUBSCRIBE's confirmation. Call on a worker thread. */
int pubsub_after_deliveries(void (*fn)(void *arg), void *arg);

/* ---- publishing: any thread ---------------------------------------------------------------- */

/* Sends msg to every subscriber of channel ch (kind PUBSUB_CHANNEL: channel and pattern
 * subscribers; PUBSUB_SHARD: shard channel subscribers). Returns how many subscriptions it
 * reached. c is the publishing command (NULL or with cl NULL for internal events). */
long pubsub_publish(cmd_ctx *c, int kind, const char *ch, size_t chlen, const char *msg,
                    size_t mlen);
/* 1 when nobody subscribes to anything of kind PUBSUB_CHANNEL or PUBSUB_PATTERN: a publisher's
 * fast path (keyspace events skip formatting their channel). */
int pubsub_idle(void);

/* ---- introspection: any thread ------------------------------------------------------------- */

/* Calls fn for each channel of kind (PUBSUB_CHANNEL or PUBSUB_SHARD) with subscribers that
 * matches pat (NULL: all). fn must not call back into pubsub. */
void pubsub_list(int kind, const char *pat, size_t plen,
                 void (*fn)(void *arg, const char *name, size_t len), void *arg);
/* Subscribers of channel ch of kind. */
long pubsub_numsub(int kind, const char *ch, size_t len);
/* Distinct channels (or patterns) of kind with at least one subscriber. */
long pubsub_topics(int kind);

/* ---- client-output-buffer-limit ------------------------------------------------------------ */

/* Redis's default, in the form CONFIG GET shows. */
#define OBUF_LIMIT_DEFAULT "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
/* CONFIG SET's check of client-output-buffer-limit (t_config.c's config_check_fn): merges the
 * classes given onto the current setting and writes the canonical text to out. */
int pubsub_obuf_limit_check(const char *value, char *out, size_t outlen, char *err, size_t errlen);
/* The current client-output-buffer-limit of the "normal" class (client.c enforces it): hard and
 * soft bytes and the soft seconds, 0 meaning none. On the calling thread's parsed copy. */
void pubsub_obuf_normal_limit(long long *hard, long long *soft, long long *soft_secs);

/* ---- dispatch ------------------------------------------------------------------------------ */

/* A RESP2 connection with subscriptions may only (un)subscribe, PING, QUIT and RESET. Returns 1
 * after replying when cmd is refused, or answered here (PING, which then replies as a
 * message: ["pong", arg]); 0 when it runs as usual. */
int pubsub_refuse(client *cl, const command *cmd, cmd_ctx *c);

#endif
