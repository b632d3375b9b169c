/* The collection types: each file registers its obj_type_ops (and DEBUG digest) in its init. */
#ifndef DFLY_TYPES_H
#define DFLY_TYPES_H

void list_type_init(void);
void hash_type_init(void);
void set_type_init(void);
void zset_type_init(void);
void hll_type_init(void);
void geo_type_init(void);
void stream_type_init(void);

/* Calls every init above; once at startup, before the workers start. */
void types_init(void);

#endif
