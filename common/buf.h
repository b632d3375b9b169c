/* Growable byte buffer. The owner frees it with buf_free; data is NUL-terminated for convenience.
 */
#ifndef DFLY_BUF_H
#define DFLY_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
/* Makes room for `extra` more bytes. Aborts on out-of-memory like every allocation here. */
void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *p, size_t n);
void buf_append_str(buf *b, const char *s);
void buf_append_char(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes. */
void buf_consume(buf *b, size_t n);
void buf_clear(buf *b);
/* Gives up capacity beyond `keep` bytes when the buffer is empty (after a large burst). */
void buf_shrink(buf *b, size_t keep);

#endif
