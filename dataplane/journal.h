/* The append-only journal (--appendonly yes): Redis 7's multi-part AOF in <dir>/<appenddirname>
 * (a base RDB file, incremental files of RESP commands, and a manifest). */
#ifndef DFLY_JOURNAL_H
#define DFLY_JOURNAL_H

#include "buf.h"

/* 1 when a journal (manifest) exists to load at start. */
int journal_exists(void);
/* Loads the base file and replays the incremental files; from the loader thread (it waits
 * while workers run the commands). Returns 0, or -1 with err. */
int journal_load(char *err, size_t errlen);

/* The aof_* lines of INFO persistence. */
void journal_info(buf *out);

#endif
