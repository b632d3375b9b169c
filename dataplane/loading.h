/* Loading the dataset at start: the journal, else the snapshot file.
 * While server.loading is set, commands without CMD_LOADING get -LOADING. */
#ifndef DFLY_LOADING_H
#define DFLY_LOADING_H

#include <stdint.h>

#include "buf.h"

/* Called by main before the workers start, so that no command runs before server.loading is
 * set: when there is something to load (--appendonly yes and a journal, else <dir>/<dbfilename>)
 * sets server.loading and loads it on a loader thread. Returns 0, or -1 when loading cannot even
 * start (logged). A load that fails logs why (the file and the offset) and asks the server to
 * stop, keeping server.loading set so that nothing is served or saved meanwhile. */
int loading_start(void);
/* Stops and waits for the loader thread (shutdown; before workers_stop, which the loader
 * needs). A load cut short leaves server.loading set: never save that dataset. */
void loading_stop(void);
/* 1 after a load failed: the process exits with a non-zero code. */
int loading_failed(void);

/* The loading:* lines of INFO persistence. */
void loading_info(buf *out);

/* For the loaders (rdb_load.c, journal.c), from the loader thread. */
/* 1 once a shutdown asked the load to stop: return early (with an error). */
int loading_cancelled(void);
void loading_set_total_bytes(uint64_t n);
void loading_set_loaded_bytes(uint64_t n);
void loading_set_rdb_used_mem(uint64_t n); /* the "used-mem" aux field */
void loading_add_keys(uint64_t n);

/* --key_load_delay: microseconds to sleep per loaded key (Redis's key-load-delay), a testing
 * aid that makes the loading state last; 0 in production. */
extern long long loading_key_load_delay;

#endif
