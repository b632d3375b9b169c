/* Serving a thread's other connections while a long script runs on it; see busy.h. */
#include "busy.h"

#include <stdint.h>

#include "client.h"
#include "clock.h"
#include "worker.h"

/* How often a busy script's thread looks at its connections: short enough that -BUSY and
 * SCRIPT KILL feel immediate, long enough that a script with many idle connections on its
 * thread does not spend its time in recv. */
#define BUSY_SERVE_INTERVAL_MS 10

static _Thread_local uint64_t last_serve_ms;
static _Thread_local int serving;

int busy_serving(void)
{
    return serving;
}

void busy_serve(const client *runner)
{
    worker *w = current_worker;
    uint64_t now = clock_mono_ms();
    if (!w || serving || now - last_serve_ms < BUSY_SERVE_INTERVAL_MS)
        return;
    last_serve_ms = now;
    serving = 1;
    worker_accept_now(w);
    /* A client served here may close (QUIT), which unlinks it but frees it only from the loop:
     * the next pointer taken first stays valid. New connections join at the head, before. */
    for (client *cl = w->clients, *next; cl; cl = next) {
        next = cl->next;
        if (cl != runner)
            client_serve_busy(cl);
    }
    serving = 0;
}
