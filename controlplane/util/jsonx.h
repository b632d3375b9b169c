/* Small jansson helpers of the API: strict parsing, member checks, time values. */
#ifndef DFLY_CONTROL_JSONX_H
#define DFLY_CONTROL_JSONX_H

#include <jansson.h>
#include <stddef.h>

/* The first member of obj whose name is not in allowed (a NULL-terminated list), or NULL. */
const char *jx_unknown_member(json_t *obj, const char *const *allowed);
/* An RFC 3339 time string, or JSON null for 0. New reference. */
json_t *jx_time(long long ms);
/* Compact serialization (malloc'd), or NULL. */
char *jx_dump(const json_t *v, size_t *len);
/* Parses text (a JSON object or array). NULL on error with a message in err. */
json_t *jx_parse(const char *text, size_t len, char *err, size_t errlen);
/* obj[key] as a string, or def when absent or not a string. */
const char *jx_str(json_t *obj, const char *key, const char *def);

#endif
