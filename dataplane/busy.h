/* Serving a thread's other connections while a long script runs on it.
 *
 * A script holds its thread: the libuv loop does not run until it ends, and uv_run is not
 * reentrant. Past busy-reply-threshold the script's Lua hook calls busy_serve() now and then,
 * which accepts waiting connections and answers what this thread's other clients have sent, as
 * Redis's processEventsWhileBlocked does: dispatch_command's busy check replies -BUSY to all but
 * SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE and the few commands Redis lets through. */
#ifndef DFLY_BUSY_H
#define DFLY_BUSY_H

struct client;

/* Serves this worker's connections except runner (the script's caller, or NULL), at most once
 * per BUSY_SERVE_INTERVAL_MS. Worker threads only; a no-op elsewhere. */
void busy_serve(const struct client *runner);
/* 1 while busy_serve answers commands on this thread: work that must wait for the end of the
 * script (serving blocked clients) stays put. */
int busy_serving(void);

#endif
