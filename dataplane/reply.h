/* Writing replies in RESP2 or RESP3, whichever the caller's connection speaks (c->resp).
 * Every function appends to c->out. Types RESP2 lacks degrade the way Redis degrades them. */
#ifndef DFLY_REPLY_H
#define DFLY_REPLY_H

#include <stddef.h>

#include "command.h"

void reply_ok(cmd_ctx *c);
void reply_simple(cmd_ctx *c, const char *s); /* +s */
/* An error; msg starts with its code ("ERR ...", "WRONGTYPE ..."); a missing code becomes ERR.
 * Counted in errorstats; marks the command failed. */
void reply_error(cmd_ctx *c, const char *msg);
void reply_errorf(cmd_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_wrong_args(cmd_ctx *c); /* wrong number of arguments for 'name' command */
void reply_syntax_error(cmd_ctx *c);
void reply_int(cmd_ctx *c, long long v);
void reply_bulk(cmd_ctx *c, const char *p, size_t len);
void reply_bulk_cstr(cmd_ctx *c, const char *s);
void reply_bulk_ll(cmd_ctx *c, long long v);
void reply_null(cmd_ctx *c);       /* RESP2 $-1, RESP3 _ */
void reply_null_array(cmd_ctx *c); /* RESP2 *-1, RESP3 _ */
void reply_array(cmd_ctx *c, long n);
void reply_map(cmd_ctx *c, long pairs);  /* RESP2: an array of 2*pairs */
void reply_set(cmd_ctx *c, long n);      /* RESP2: an array */
void reply_push(cmd_ctx *c, long n);     /* RESP2: an array */
void reply_double(cmd_ctx *c, double d); /* RESP2: a bulk string */
/* A double already formatted (as GEOPOS formats coordinates): RESP3 `,`, RESP2 a bulk string. */
void reply_double_text(cmd_ctx *c, const char *s, size_t len);
void reply_long_double(cmd_ctx *c, long double d); /* bulk, as INCRBYFLOAT formats */
void reply_bool(cmd_ctx *c, int v);                /* RESP2: :1 / :0 */
void reply_verbatim(cmd_ctx *c, const char *p, size_t len, const char *ext); /* RESP2: bulk */
void reply_bignum(cmd_ctx *c, const char *digits);                           /* RESP2: bulk */

/* Aggregates whose length is known only at the end: reply_deferred returns a handle, the
 * elements follow, then reply_set_deferred_* writes the header in place. */
size_t reply_deferred(cmd_ctx *c);
void reply_set_deferred_array(cmd_ctx *c, size_t handle, long n);
void reply_set_deferred_map(cmd_ctx *c, size_t handle, long pairs);
void reply_set_deferred_set(cmd_ctx *c, size_t handle, long n);

/* Formats d as Redis does for RESP (inf, -inf, nan; %.17g); returns the length. */
int fmt_double(char *buf, size_t len, double d);
/* Formats d as INCRBYFLOAT does (%.17Lf without trailing zeros); returns the length. */
int fmt_long_double(char *buf, size_t len, long double d);

/* Counts an error reply by its code for INFO errorstats; called by reply_error. */
void stats_count_error(const char *msg);

#endif
