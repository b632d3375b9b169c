/* CLIENT PAUSE: holding back clients' commands until a pause ends.
 *
 * The pause itself is process-wide state (server.clients_paused_*), written by CLIENT PAUSE and
 * CLIENT UNPAUSE on any thread. dispatch asks pause_postpone before running or queueing a
 * command; a held-back command keeps its client waiting (cl->waiting) with the request still
 * in its input buffer, on a list of its own worker, and is dispatched again when the pause ends
 * (a timer of that worker, or CLIENT UNPAUSE's message). Replies therefore stay in order. */
#ifndef DFLY_PAUSE_H
#define DFLY_PAUSE_H

#include <stdint.h>

#include "client.h"
#include "command.h"
#include "server.h"

enum pause_type { PAUSE_NONE = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };

/* Starts or extends a pause until end_ms (wall clock). A pause already in force keeps the later
 * end and the stronger type, as Redis's pauseClients does. Any thread. */
void pause_start(enum pause_type type, int64_t end_ms);
/* Ends the pause and lets every held-back command run. Any thread. */
void pause_end(void);
/* The pause in force now (PAUSE_NONE once its end has passed). Any thread. */
enum pause_type pause_current(int64_t now_ms);

/* Cheap test for the hot path: false when no pause was started since the last one ended. A
 * true answer may be stale (the end passed); pause_current tells for sure. */
static inline int pause_requested(void)
{
    return atomic_load_explicit(&server.clients_paused_until_type, memory_order_relaxed) != 0;
}

/* Called by dispatch on cl's thread for a command about to run or be queued (cmd is the
 * subcommand when one matched). Returns 1 when the command must wait for the pause to end: cl is
 * then waiting and will be dispatched again; dispatch must return 1 without replying. */
int pause_postpone(client *cl, const command *cmd);

#endif
