/* Helpers the sorted-set command files share (t_zset.c, t_zset_setops.c, t_geo.c): Redis's
 * argument parsing and reply formats for scores, ranges and stored results. */
#ifndef DFLY_T_ZSET_H
#define DFLY_T_ZSET_H

#include <stddef.h>

#include "command.h"
#include "object.h"
#include "zskiplist.h"

/* Redis's getDoubleFromObject: the whole argument must be a number strtod reads (inf and -inf
 * included), without leading space, NaN or overflow. 0 on success. */
int zset_parse_double(const slice *a, double *out);
/* The same, replying errmsg (NULL: "ERR value is not a valid float") on failure: -1. */
int zset_double_or_reply(cmd_ctx *c, const slice *a, double *out, const char *errmsg);
/* Redis's zslParseRange ("(" for exclusive) and zslParseLexRange ("[", "(", "-", "+"). 0 on
 * success, -1 when either end is invalid (the caller replies). */
int zset_parse_score_range(const slice *min, const slice *max, zrange_score *r);
int zset_parse_lex_range(const slice *min, const slice *max, zrange_lex *r);

/* A score as Redis replies it: a %.17g bulk string in RESP2, a double in RESP3. */
void zset_reply_score(cmd_ctx *c, double d);
/* A member, followed by its score when withscores ([member, score] pairs in RESP3). */
void zset_reply_elem(cmd_ctx *c, const char *s, size_t len, double score, int withscores);

/* Finishes a write to key's sorted set e: the keyspace event, the deletion of an emptied key,
 * and the modification signal (WATCH, blocked clients). */
void zset_written(cmd_ctx *c, const slice *key, entry *e, const char *event);

/* Stores result (a sorted-set entry for key dst, or NULL for an empty result) and replies its
 * size, as Redis's *STORE commands do: an empty result deletes dst. Takes result. */
void zset_store_result(cmd_ctx *c, const slice *dst, entry *result, const char *event);

/* Keys of "[dst] numkeys key [key ...] ...", numkeys at argv[nk] (a cmd_getkeys helper). */
int zset_numkeys_getkeys(int argc, const slice *argv, int nk, int with_dst, int *keys, int max);

/* ZADD itself: GEOADD rewrites its arguments into a ZADD call, as Redis does. */
void zadd_cmd(cmd_ctx *c);

/* ZPOPMIN ZPOPMAX ZMPOP BZPOPMIN BZPOPMAX BZMPOP (t_zset_pop.c). */
void zpopmin_cmd(cmd_ctx *c);
void zpopmax_cmd(cmd_ctx *c);
void zmpop_cmd(cmd_ctx *c);
void bzpopmin_cmd(cmd_ctx *c);
void bzpopmax_cmd(cmd_ctx *c);
void bzmpop_cmd(cmd_ctx *c);
int zmpop_getkeys(int argc, const slice *argv, int *keys, int max);  /* numkeys key... */
int bzmpop_getkeys(int argc, const slice *argv, int *keys, int max); /* timeout numkeys key... */

/* ZUNION ZUNIONSTORE ZINTER ZINTERSTORE ZINTERCARD ZDIFF ZDIFFSTORE (t_zset_setops.c). */
void zunion_cmd(cmd_ctx *c);
void zunionstore_cmd(cmd_ctx *c);
void zinter_cmd(cmd_ctx *c);
void zinterstore_cmd(cmd_ctx *c);
void zintercard_cmd(cmd_ctx *c);
void zdiff_cmd(cmd_ctx *c);
void zdiffstore_cmd(cmd_ctx *c);
int zunion_getkeys(int argc, const slice *argv, int *keys, int max); /* numkeys key... */
int zstore_getkeys(int argc, const slice *argv, int *keys, int max); /* dst numkeys key... */

#endif
