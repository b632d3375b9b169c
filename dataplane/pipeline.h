/* Pipeline squashing: the commands of one read that each touch a single shard are sent to their
 * shards as one message per shard instead of one hop per command, and their replies are put back
 * in request order. Commands on one shard keep their order; commands on different shards of one
 * pipeline may run in parallel (as in Dragonfly). Anything else — MULTI, client state, several
 * shards, blocking, inline requests — ends the batch and takes the ordinary path. */
#ifndef DFLY_PIPELINE_H
#define DFLY_PIPELINE_H

#include "client.h"

/* The most commands one batch takes before it runs. */
#define PIPELINE_BATCH_MAX 512

/* 1 when the request just parsed may join cl's batch; *shard is the one its keys are on, *key
 * the index in argv of its first key (-1: keyless). */
int pipeline_squashable(client *cl, int argc, const slice *argv, const struct command **cmd,
                        int *shard, int *key);
/* Adds a request; argv must stay valid until the batch has run (it points into rbuf). key is
 * the index of a key on shard (-1: none), whose shard the command then need not compute again. */
void pipeline_add(client *cl, const struct command *cmd, int shard, int key, int argc,
                  const slice *argv);
int pipeline_count(const client *cl);
/* Runs the batch. Returns 0 when every reply is already in wbuf, 1 when it went to other threads
 * (cl->waiting is set; client_batch_done follows on cl's thread). */
int pipeline_run(client *cl);
void pipeline_free(client *cl);

#endif
