/* The collection types: each file registers its obj_type_ops (and DEBUG digest) in its init. */
#ifndef DFLY_TYPES_H
#define DFLY_TYPES_H

#include <stddef.h>

void list_type_init(void);
void hash_type_init(void);
void set_type_init(void);
void zset_type_init(void);
void hll_type_init(void);
void geo_type_init(void);
void stream_type_init(void);

/* Calls every init above; once at startup, before the workers start. */
void types_init(void);

/* ---- reading any collection (SORT) ---------------------------------------------------------- */

struct entry;
/* Called with each element's bytes, valid during the call only. */
typedef void (*elem_fn)(void *arg, const char *s, size_t len);
/* A new list entry holding items[0..n) in order (n > 0), not yet in any table. */
struct entry *list_entry_new(const char *key, size_t klen, const char *const *items,
                             const size_t *lens, size_t n);
/* Every element of a list, head to tail. */
void list_each(const struct entry *e, elem_fn fn, void *arg);
/* Every member of a set, in the encoding's order. */
void set_each(const struct entry *e, elem_fn fn, void *arg);
/* Every member of a sorted set, by rank. */
void zset_each(const struct entry *e, elem_fn fn, void *arg);
/* A hash field's value: 1 and *val (into the hash, or into tmp, which holds 21 bytes, for a
 * listpack integer), or 0 when the field is absent. */
int hash_field(const struct entry *e, const char *f, size_t flen, char *tmp, const char **val,
               size_t *vlen);

#endif
