/* Glob-style pattern matching with Redis's rules (stringmatchlen): KEYS, SCAN MATCH, CONFIG GET,
 * PSUBSCRIBE.
 *
 *   *      any run of bytes, also empty
 *   ?      exactly one byte
 *   [abc]  one of the listed bytes; [a-z] a range (either order); [^...] the complement
 *   \x     the byte x literally (also inside [...])
 *
 * Pattern and subject are byte strings with explicit lengths (no NUL terminator needed). An
 * unterminated [ set ends at the end of the pattern, as in Redis. */
#ifndef DFLY_GLOB_H
#define DFLY_GLOB_H

#include <stddef.h>

/* 1 when s matches pat. nocase folds ASCII letters. Bounded work: nested stars give up past
 * GLOB_MAX_NESTING, as Redis does against abusive patterns. */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* 1 when the pattern is "*": callers skip matching altogether. */
int glob_is_match_all(const char *pat, size_t plen);

#define GLOB_MAX_NESTING 1000

#endif
