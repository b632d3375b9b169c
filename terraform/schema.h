/* Schemas of the provider, its resources and data sources: attribute types as data, turned into
 * tfplugin6 Schema messages (types as JSON bytes: "string", ["list","string"], ["object",{...}])
 * and used to give every value the exact shape Terraform expects (every attribute present). */
#ifndef TF_SCHEMA_H
#define TF_SCHEMA_H

#include <stdint.h>

#include "cty.h"
#include "tfplugin6.pb-c.h"

typedef enum { TY_STRING, TY_NUMBER, TY_BOOL, TY_LIST, TY_MAP, TY_OBJECT } tf_type_kind;

typedef struct tf_attr tf_attr;
typedef struct tf_type {
    tf_type_kind kind;
    const struct tf_type *elem; /* TY_LIST, TY_MAP */
    const tf_attr *attrs;       /* TY_OBJECT: attributes, ended by one with a NULL name */
} tf_type;

extern const tf_type TF_STRING, TF_NUMBER, TF_BOOL, TF_STRING_MAP, TF_STRING_LIST;

enum {
    ATTR_REQUIRED = 1 << 0,
    ATTR_OPTIONAL = 1 << 1,
    ATTR_COMPUTED = 1 << 2,
    ATTR_SENSITIVE = 1 << 3,
};

struct tf_attr {
    const char *name;
    const tf_type *type;
    unsigned flags;
    const char *description;
};

/* A nested block nested once (SINGLE), like timeouts { create = "30m" }. */
typedef struct tf_block {
    const char *name;
    const tf_attr *attrs;
    const char *description;
} tf_block;

typedef struct tf_schema {
    int64_t version;
    const char *description;
    const tf_attr *attrs;   /* ended by a NULL name */
    const tf_block *blocks; /* ended by a NULL name; may be NULL */
} tf_schema;

/* A Schema message (caller frees with schema_proto_free). */
Tfplugin6__Schema *schema_proto(const tf_schema *s);
void schema_proto_free(Tfplugin6__Schema *p);

/* A copy of v shaped as schema s: every attribute and block present (missing ones null),
 * unknown names dropped, nested objects shaped by their types. v may be NULL or null. */
cty_value *schema_conform(const tf_schema *s, const cty_value *v);

/* An object of schema s with every attribute null. */
cty_value *schema_null_object(const tf_schema *s);

#endif
