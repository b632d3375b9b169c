/* Schemas as protobuf and as value shapes (see schema.h). */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

const tf_type TF_STRING = {TY_STRING, NULL, NULL};
const tf_type TF_NUMBER = {TY_NUMBER, NULL, NULL};
const tf_type TF_BOOL = {TY_BOOL, NULL, NULL};
const tf_type TF_STRING_MAP = {TY_MAP, &TF_STRING, NULL};
const tf_type TF_STRING_LIST = {TY_LIST, &TF_STRING, NULL};

static json_t *type_json(const tf_type *t)
{
    switch (t->kind) {
    case TY_STRING: return json_string("string");
    case TY_NUMBER: return json_string("number");
    case TY_BOOL: return json_string("bool");
    case TY_LIST: return json_pack("[s o]", "list", type_json(t->elem));
    case TY_MAP: return json_pack("[s o]", "map", type_json(t->elem));
    case TY_OBJECT: {
        json_t *attrs = json_object();
        for (const tf_attr *a = t->attrs; a->name; a++)
            json_object_set_new(attrs, a->name, type_json(a->type));
        return json_pack("[s o]", "object", attrs);
    }
    }
    return json_null();
}

static Tfplugin6__Schema__Attribute *attr_proto(const tf_attr *a)
{
    Tfplugin6__Schema__Attribute *p = mem_malloc(sizeof *p);
    tfplugin6__schema__attribute__init(p);
    p->name = (char *)a->name;
    json_t *t = type_json(a->type);
    char *text = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(t);
    if (!text) /* only when memory runs out: the type is a small valid value */
        mem_oom_in("encoding an attribute type");
    p->type.data = (uint8_t *)text;
    p->type.len = strlen(text);
    p->description = (char *)(a->description ? a->description : "");
    p->required = (a->flags & ATTR_REQUIRED) != 0;
    p->optional = (a->flags & ATTR_OPTIONAL) != 0;
    p->computed = (a->flags & ATTR_COMPUTED) != 0;
    p->sensitive = (a->flags & ATTR_SENSITIVE) != 0;
    return p;
}

static size_t attr_count(const tf_attr *attrs)
{
    size_t n = 0;
    while (attrs && attrs[n].name)
        n++;
    return n;
}

static Tfplugin6__Schema__Block *block_proto(const tf_attr *attrs, const tf_block *blocks,
                                             const char *description)
{
    Tfplugin6__Schema__Block *b = mem_malloc(sizeof *b);
    tfplugin6__schema__block__init(b);
    b->description = (char *)(description ? description : "");
    b->n_attributes = attr_count(attrs);
    b->attributes = mem_calloc(b->n_attributes + 1, sizeof *b->attributes);
    for (size_t i = 0; i < b->n_attributes; i++)
        b->attributes[i] = attr_proto(&attrs[i]);
    size_t nb = 0;
    while (blocks && blocks[nb].name)
        nb++;
    b->n_block_types = nb;
    b->block_types = mem_calloc(nb + 1, sizeof *b->block_types);
    for (size_t i = 0; i < nb; i++) {
        Tfplugin6__Schema__NestedBlock *nbp = mem_malloc(sizeof *nbp);
        tfplugin6__schema__nested_block__init(nbp);
        const tf_block *nested = &blocks[i];
        nbp->type_name = (char *)nested->name;
        nbp->nesting = TFPLUGIN6__SCHEMA__NESTED_BLOCK__NESTING_MODE__SINGLE;
        nbp->block = block_proto(nested->attrs, NULL, nested->description);
        b->block_types[i] = nbp;
    }
    return b;
}

Tfplugin6__Schema *schema_proto(const tf_schema *s)
{
    Tfplugin6__Schema *p = mem_malloc(sizeof *p);
    tfplugin6__schema__init(p);
    p->version = s->version;
    p->block = block_proto(s->attrs, s->blocks, s->description);
    return p;
}

static void block_proto_free(Tfplugin6__Schema__Block *b)
{
    for (size_t i = 0; i < b->n_attributes; i++) {
        free(b->attributes[i]->type.data);
        free(b->attributes[i]);
    }
    for (size_t i = 0; i < b->n_block_types; i++) {
        block_proto_free(b->block_types[i]->block);
        free(b->block_types[i]);
    }
    free(b->attributes);
    free(b->block_types);
    free(b);
}

void schema_proto_free(Tfplugin6__Schema *p)
{
    if (!p)
        return;
    block_proto_free(p->block);
    free(p);
}

/* --- shapes -------------------------------------------------------------------------------- */

static cty_value *conform_attrs(const tf_attr *attrs, const cty_value *v);

static cty_value *conform_type(const tf_type *t, const cty_value *v)
{
    if (!v || v->kind == CTY_NULL || v->kind == CTY_UNKNOWN)
        return cty_dup(v);
    switch (t->kind) {
    case TY_LIST: {
        if (v->kind != CTY_LIST)
            return cty_null();
        cty_value *l = cty_list();
        for (size_t i = 0; i < v->n; i++)
            cty_push(l, conform_type(t->elem, v->items[i]));
        return l;
    }
    case TY_MAP: {
        if (v->kind != CTY_MAP)
            return cty_null();
        cty_value *m = cty_map();
        for (size_t i = 0; i < v->n; i++)
            cty_set(m, v->keys[i], conform_type(t->elem, v->items[i]));
        return m;
    }
    case TY_OBJECT: return v->kind == CTY_MAP ? conform_attrs(t->attrs, v) : cty_null();
    default: return cty_dup(v);
    }
}

static cty_value *conform_attrs(const tf_attr *attrs, const cty_value *v)
{
    cty_value *o = cty_map();
    for (const tf_attr *a = attrs; a->name; a++)
        cty_set(o, a->name, conform_type(a->type, cty_get(v, a->name)));
    return o;
}

cty_value *schema_conform(const tf_schema *s, const cty_value *v)
{
    if (cty_is_null(v))
        return cty_null();
    cty_value *o = conform_attrs(s->attrs, v);
    for (const tf_block *b = s->blocks; b && b->name; b++) {
        const cty_value *bv = cty_get(v, b->name);
        cty_set(o, b->name, bv && bv->kind == CTY_MAP ? conform_attrs(b->attrs, bv) : cty_dup(bv));
    }
    return o;
}

cty_value *schema_null_object(const tf_schema *s)
{
    cty_value *empty = cty_map();
    cty_value *o = schema_conform(s, empty);
    cty_free(empty);
    return o;
}
