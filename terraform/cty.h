/* cty values, the data Terraform exchanges with providers, as a small tree: null, unknown, bool,
 * number, string, list (also sets and tuples) and map (also objects). Encoded as msgpack the way
 * Terraform's cty does: objects and maps as msgpack maps, unknown as extension type 0, numbers
 * as integers when they are whole. A value owns its children; cty_free frees the tree. */
#ifndef TF_CTY_H
#define TF_CTY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
    CTY_NULL,
    CTY_UNKNOWN,
    CTY_BOOL,
    CTY_NUMBER,
    CTY_STRING,
    CTY_LIST,
    CTY_MAP,
} cty_kind;

typedef struct cty_value cty_value;
struct cty_value {
    cty_kind kind;
    bool b;
    bool is_int; /* a number: i when whole, else d */
    int64_t i;
    double d;
    char *s;       /* a string, NUL-terminated */
    size_t n, cap; /* list items / map entries */
    char **keys;   /* map keys (NULL for a list) */
    cty_value **items;
};

cty_value *cty_null(void);
cty_value *cty_unknown(void);
cty_value *cty_bool(bool b);
cty_value *cty_int(int64_t i);
cty_value *cty_str(const char *s); /* NULL gives a null value */
cty_value *cty_list(void);
cty_value *cty_map(void);
cty_value *cty_dup(const cty_value *v);
void cty_free(cty_value *v);

/* Adds or replaces m[key], taking ownership of v (freed when m is not a map). */
void cty_set(cty_value *m, const char *key, cty_value *v);
/* m[key], or NULL when m is not a map or has no such key. */
cty_value *cty_get(const cty_value *m, const char *key);
/* Appends v (owned) to the list l (freed when l is not a list). */
void cty_push(cty_value *l, cty_value *v);

bool cty_is_null(const cty_value *v);  /* NULL pointers count as null */
bool cty_is_known(const cty_value *v); /* not unknown, and nothing inside is unknown */
bool cty_equal(const cty_value *a, const cty_value *b);

/* Convenience readers of m[key]: NULL / false when absent, null or unknown. */
const char *cty_get_str(const cty_value *m, const char *key);
bool cty_get_int(const cty_value *m, const char *key, int64_t *out);
bool cty_get_bool(const cty_value *m, const char *key, bool *out);
/* True when m[key] is unknown. */
bool cty_get_unknown(const cty_value *m, const char *key);

/* msgpack: returns NULL on malformed input. */
cty_value *cty_decode_msgpack(const uint8_t *p, size_t len);
void cty_encode_msgpack(const cty_value *v, buf *out);

/* A JSON value (Terraform's JSON state) as a cty tree: objects become maps. */
cty_value *cty_from_json(const json_t *j);

#endif
