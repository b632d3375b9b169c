/* Redis's listpack byte format, for RDB values (rdb.c): our in-memory listpack (listpack.h) has
 * its own format, so values are transcoded element by element on the way out and in.
 *
 * A Redis listpack: total bytes (uint32 LE), element count (uint16 LE, 65535 when unknown),
 * elements, and a 0xFF terminator. An element is an encoding byte (7-bit uint, 6-bit-length
 * string, 13-bit int, 12-bit-length string, 32-bit-length string, 16/24/32/64-bit int), its
 * data, and a "backlen" (the element's length, 1..5 bytes, readable backwards). */
#ifndef DFLY_RDB_LISTPACK_H
#define DFLY_RDB_LISTPACK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "object.h"

/* Builds a Redis listpack in b (owned by the writer until taken: b.data, b.len). */
typedef struct rlp_writer {
    buf b;
    uint32_t count;
} rlp_writer;

void rlp_writer_init(rlp_writer *w);
/* Appends a string; one that round-trips as an int64 is stored as an integer, as Redis does. */
void rlp_append(rlp_writer *w, const char *s, size_t len);
/* Writes the header and terminator; the listpack is then w->b.data, w->b.len bytes. */
void rlp_finish(rlp_writer *w);
void rlp_writer_free(rlp_writer *w);

/* Reads a Redis listpack held in len bytes at lp (not owned), checking as it goes. */
typedef struct rlp_iter {
    const unsigned char *p, *end; /* end: the terminator */
    uint32_t header_count;
    uint32_t seen;
} rlp_iter;

/* Checks the header; 0, or -1 when it is not a sound listpack of len bytes. */
int rlp_open(rlp_iter *it, const unsigned char *lp, size_t len);
/* Reads the next element into s/len (an integer as its decimal form in tmp). Returns 1, 0 at
 * the end (after checking the count matches the header), -1 when the bytes are malformed. */
int rlp_next(rlp_iter *it, const char **s, size_t *len, char tmp[OBJ_INT_STR_MAX]);

#endif
