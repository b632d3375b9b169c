/* Allocation for the data store with exact accounting.
 *
 * Every block of keyspace data goes through zmalloc, which adds the block's usable size to a
 * per-thread counter; used_memory is the sum of those counters. Blocks are mimalloc's, from a data
 * heap per thread apart from the thread's default heap (see zmalloc.c), or libc's in the
 * sanitizer build so that ASan sees them. A block may be freed by any
 * thread: the freeing thread's counter goes down, and only the sum has meaning. */
#ifndef DFLY_ZMALLOC_H
#define DFLY_ZMALLOC_H

#include <stddef.h>
#include <stdint.h>

void *zmalloc(size_t size);
void *zcalloc(size_t size);
void *zrealloc(void *p, size_t size);
void zfree(void *p);
char *zstrndup(const char *s, size_t n);
size_t zmalloc_size(const void *p);

/* Bytes in use by every thread's zmalloc blocks. Safe from any thread. */
int64_t zmalloc_used(void);
/* Resident set size of the process, from /proc. */
size_t zmalloc_rss(void);
const char *zmalloc_lib(void);

struct buf;
/* MEMORY MALLOC-STATS: appends the allocator's own statistics (mimalloc's table of reserved,
 * committed and in-use memory, process-wide, then each thread's data and other heap at its last
 * collection) to out, or says that the allocator has none. */
void zmalloc_stats(struct buf *out);

/* Called by every worker's timer: gives this thread's freed memory back to the system after the
 * used memory fell notably, or after zmalloc_purge. */
void zmalloc_maintain(void);
/* MEMORY PURGE: the calling thread gives its freed memory back now, the others at their next
 * zmalloc_maintain. */
void zmalloc_purge(void);
/* The calling thread freed memory that used_memory does not count (a closed connection's
 * record and buffers): enough of it makes its next zmalloc_maintain give memory back too. */
void zmalloc_note_freed(size_t bytes);

#endif
