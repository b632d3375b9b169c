/* Loading the dataset: at start (the journal, else the snapshot file) and on DEBUG RELOAD.
 * While server.loading is set, commands without CMD_LOADING get -LOADING. */
#ifndef DFLY_LOADING_H
#define DFLY_LOADING_H

#include "buf.h"

/* Called by main after the workers started: loads what there is to load on a loader thread.
 * Returns 0, or -1 when loading cannot even start. A file that turns out corrupt stops the
 * server with a log line naming the file and the offset. */
int loading_start(void);
/* Waits for the loader thread (shutdown). */
void loading_stop(void);

/* The loading:* lines of INFO persistence. */
void loading_info(buf *out);

#endif
