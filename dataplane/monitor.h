/* MONITOR: every command any connection runs, on any thread, is shown to the monitoring clients
 * in Redis's format:
 *
 *     +1700000000.123456 [0 127.0.0.1:5555] "set" "a" "1"
 *
 * Each worker keeps its own monitoring clients; only that worker's thread touches them. A
 * command's line is formatted once on the thread that ran the command and posted (worker_post)
 * to every worker that has monitors, which appends it to their output. */
#ifndef DFLY_MONITOR_H
#define DFLY_MONITOR_H

#include "client.h"
#include "command.h"

/* Makes cl a monitor. Runs on cl's owner thread. */
void monitor_add(client *cl);
/* Stops feeding cl (RESET, disconnect); a no-op when cl is not a monitor. Owner thread. */
void monitor_remove(client *cl);
/* Feeds c's command to every monitor unless its flags hide it (CMD_ADMIN, CMD_SKIP_MONITOR).
 * Called after the command ran (stats_after_command), on whichever thread ran it; cheap when
 * nobody monitors. */
void monitor_feed(const cmd_ctx *c);
/* Formats the line Redis shows monitors for a command, "+<sec>.<usec> [<db> <addr>] "a" "b"\r\n",
 * into out (exposed for unit tests). Arguments of AUTH and HELLO ... AUTH are redacted. */
void monitor_format(buf *out, int64_t now_us, int dbid, const char *who, int argc,
                    const slice *argv);

#endif
