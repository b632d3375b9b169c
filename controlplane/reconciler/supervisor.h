/* What the reconciler remembers about each node between passes (in memory only: after a
 * restart of the daemon every node starts with a clean slate and SQLite says the rest):
 * restart back-off, when it started and answered, whether it needs its cluster configuration
 * again, and a stop in progress.
 *
 * Threads: the reconciler's loop thread only. */
#ifndef DFLY_CONTROL_SUPERVISOR_H
#define DFLY_CONTROL_SUPERVISOR_H

#include <stdint.h>

#include "ids.h"

/* A node that answered for this long has its back-off forgotten. */
#define SUPERVISOR_STABLE_MS 10000
#define SUPERVISOR_EXIT_TEXT_MAX 96

typedef struct node_rt {
    char node_id[ID_MAX];
    int failures;          /* consecutive exits or failed starts */
    int64_t next_start_ms; /* back-off: not started again before this */
    int64_t started_ms;    /* its process started (or was adopted); 0: not known running */
    int64_t running_since; /* it answered; 0: not yet */
    int needs_push;        /* started since the last configuration push */
    int stopping;          /* SIGTERM sent on purpose (restart, delete, scale-down) */
    int64_t kill_at_ms;    /* SIGKILL after this when it still runs */
    int planned_exit;      /* the exit that follows is the stop we asked for */
    char last_exit[SUPERVISOR_EXIT_TEXT_MAX]; /* "exit status 1", "signal 9" */
    int seen;                                 /* mark of the current pass */
    /* failover (failover.c): masters of instances with replicas are watched */
    int64_t down_since;     /* its process died or it stopped answering; 0: up */
    int64_t next_health_ms; /* next INFO replication */
    long long last_offset;  /* master_repl_offset it last reported (-1: never) */
    int64_t last_offset_ms; /* when */
} node_rt;

/* The state of node_id, made on first use. The pointer stays valid until supervisor_forget or
 * supervisor_sweep. */
node_rt *supervisor_rt(const char *node_id);
void supervisor_forget(const char *node_id);
/* Clears the marks before a pass; supervisor_sweep forgets nodes not marked since. */
void supervisor_unmark_all(void);
void supervisor_sweep(void);
/* The wait before restart number `failures` (1: the first): --restart-backoff-min doubled
 * each time, up to --restart-backoff-max. */
int64_t supervisor_backoff_ms(int failures);
/* A child exited (the provisioner saw it): remembers how, for the event. */
void supervisor_note_exit(const char *node_id, int64_t exit_status, int term_signal);
void supervisor_free(void);

#endif
