/* jansson helpers. */
#include "jsonx.h"

#include <stdio.h>
#include <string.h>

#include "ids.h"

const char *jx_unknown_member(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, key);
        if (!ok)
            return key;
    }
    return NULL;
}

json_t *jx_time(long long ms)
{
    if (ms <= 0)
        return json_null();
    char text[TIME_TEXT_MAX];
    ids_time_format(ms, text);
    return json_string(text);
}

char *jx_dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && len)
        *len = strlen(s);
    return s;
}

json_t *jx_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!v)
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
    return v;
}

const char *jx_str(json_t *obj, const char *key, const char *def)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : def;
}
