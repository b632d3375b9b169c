/* Running a sequence of commands on the shards, in order, from a thread that is not a worker:
 * the journal's loader (journal_load.c, which implements this) and a replica applying its
 * master's stream (replica.c).
 *
 * Commands gather in a batch; running it hands the batch to worker 0, which schedules it
 * through tx_run: the commands of one shard run in order on that shard's thread, different
 * shards in parallel, and a command or MULTI/EXEC that touches several shards runs alone,
 * holding them all, after everything before it. So the outcome is the order of the input.
 * SELECT, MULTI and EXEC shape the batch (the selected database, atomic units) and are not
 * run themselves. */
#ifndef DFLY_REPLAY_H
#define DFLY_REPLAY_H

#include <stdint.h>

#include "command.h"

typedef struct replay replay;

enum {
    /* Run commands as a replica runs its master's (CTX_MASTER): through dispatch_call, so that
     * they are journaled (the replica's own append-only file), counted, shown to MONITOR and
     * wake blocked clients, and a unit of several commands is journaled as one MULTI/EXEC.
     * Without it commands run bare, as the journal's own replay does. */
    REPLAY_AS_MASTER = 1 << 0,
};

/* A new, empty sequence; what names it in log lines ("appendonly.aof.1.incr.aof"). */
replay *replay_new(const char *what, int flags);
void replay_free(replay *rp);
/* The time commands added from now on run with (expiry decisions; 0 at first). */
void replay_set_time(replay *rp, int64_t now_ms);
/* Adds a command (its arguments are copied). Returns 0, or -1 with err for an unknown command
 * or an out-of-range SELECT (nothing added); a wrong arity is logged, counted and skipped. */
int replay_add(replay *rp, int argc, const slice *argv, char *err, size_t errlen);
/* Commands held that have not run. */
int replay_pending(const replay *rp);
/* 1 while a MULTI is open (its commands wait for EXEC). */
int replay_in_multi(const replay *rp);
/* Runs what was added (but an open MULTI) and waits until it ran. */
void replay_run(replay *rp);
/* Commands that failed (an error reply) so far. */
long long replay_errors(const replay *rp);

/* For tests/fuzz/fuzz_journal.c only: parses the journal commands read from fd without running
 * them. Returns 0, or -1 with err for what the loader would refuse. */
int journal_parse_for_fuzzing(int fd, char *err, size_t errlen);

#endif
