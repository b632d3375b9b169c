/* RESP request parser (multibulk and inline), kept apart from connections and storage so that
 * unit tests and fuzzers drive it directly. Incremental: feed it the whole unconsumed input each
 * time; it resumes where it stopped and never re-reads a finished argument. */
#ifndef DFLY_RESP_H
#define DFLY_RESP_H

#include <stddef.h>

#include "buf.h"
#include "client.h"

enum { RESP_INCOMPLETE = 0, RESP_OK = 1, RESP_ERROR = -1 };

typedef struct resp_limits {
    long long max_bulk_len;  /* proto-max-bulk-len */
    long long max_multibulk; /* arguments per command */
    size_t max_inline;       /* bytes in an inline request line */
} resp_limits;

void resp_parser_init(resp_parser *p);
void resp_parser_free(resp_parser *p);
/* Forgets the finished command; the next one starts at p->pos. */
void resp_parser_next(resp_parser *p);
/* Forgets the request being parsed so that it is parsed again from its start. */
void resp_parser_rewind(resp_parser *p);

/* Parses one request from data[p->pos .. len). Returns RESP_OK when a command is complete (its
 * p->argc arguments are described by p->arg_off: offsets into data for multibulk, into
 * inline_args for inline requests; p->pos is past it), RESP_INCOMPLETE when more input is
 * needed, RESP_ERROR with *err set to Redis's protocol error text (the connection must be
 * closed after replying). An empty request (blank line, *0) completes with argc 0. */
int resp_parse(resp_parser *p, const char *data, size_t len, const resp_limits *lim,
               buf *inline_args, const char **err);

/* Size the input buffer should have to hold the bulk being read (0 if none). */
size_t resp_pending_bulk(const resp_parser *p, size_t len);

/* Splits an inline request line into arguments with Redis's quoting rules (sdssplitargs).
 * Appends each unescaped argument to out and its (offset,len) to offs (2*max entries).
 * Returns the count, -1 on unbalanced quotes, or -2 when there are more than max arguments. */
int resp_split_inline(const char *line, size_t len, buf *out, size_t *offs, int max);

#endif
