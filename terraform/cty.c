/* cty values and their msgpack encoding (see cty.h). */
#include "cty.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define CTY_UNKNOWN_EXT_TYPE 0 /* cty's msgpack extension for an unknown value */
#define CTY_MAX_DEPTH 64       /* deeper input is refused rather than recursed into */

static cty_value *cty_new(cty_kind kind)
{
    cty_value *v = mem_calloc(1, sizeof *v);
    v->kind = kind;
    return v;
}

cty_value *cty_null(void)
{
    return cty_new(CTY_NULL);
}

cty_value *cty_unknown(void)
{
    return cty_new(CTY_UNKNOWN);
}

cty_value *cty_bool(bool b)
{
    cty_value *v = cty_new(CTY_BOOL);
    v->b = b;
    return v;
}

cty_value *cty_int(int64_t i)
{
    cty_value *v = cty_new(CTY_NUMBER);
    v->is_int = true;
    v->i = i;
    v->d = (double)i;
    return v;
}

static cty_value *cty_double(double d)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return cty_int((int64_t)d);
    cty_value *v = cty_new(CTY_NUMBER);
    v->d = d;
    return v;
}

static cty_value *cty_strn(const char *s, size_t n)
{
    cty_value *v = cty_new(CTY_STRING);
    v->s = n ? mem_strndup(s, n) : mem_strdup(""); /* msgpack's empty strings have no pointer */
    return v;
}

cty_value *cty_str(const char *s)
{
    return s ? cty_strn(s, strlen(s)) : cty_null();
}

cty_value *cty_list(void)
{
    return cty_new(CTY_LIST);
}

cty_value *cty_map(void)
{
    return cty_new(CTY_MAP);
}

void cty_free(cty_value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        cty_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->s);
    free(v);
}

static void cty_grow(cty_value *c, bool keyed)
{
    if (c->n < c->cap)
        return;
    c->cap = c->cap ? 2 * c->cap : 8;
    c->items = mem_realloc(c->items, c->cap * sizeof *c->items);
    if (keyed)
        c->keys = mem_realloc(c->keys, c->cap * sizeof *c->keys);
}

void cty_push(cty_value *l, cty_value *v)
{
    if (!l || l->kind != CTY_LIST) { /* likewise */
        cty_free(v);
        return;
    }
    cty_grow(l, false);
    l->items[l->n++] = v;
}

void cty_set(cty_value *m, const char *key, cty_value *v)
{
    if (!m || m->kind != CTY_MAP) { /* a state or config that is not an object: malformed input
                                     * (fuzz_tfplugin), where there is no attribute to set */
        cty_free(v);
        return;
    }
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) {
            cty_free(m->items[i]);
            m->items[i] = v;
            return;
        }
    cty_grow(m, true);
    m->keys[m->n] = mem_strdup(key);
    m->items[m->n++] = v;
}

cty_value *cty_get(const cty_value *m, const char *key)
{
    if (!m || m->kind != CTY_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return m->items[i];
    return NULL;
}

cty_value *cty_dup(const cty_value *v)
{
    if (!v)
        return cty_null();
    cty_value *c = cty_new(v->kind);
    c->b = v->b;
    c->is_int = v->is_int;
    c->i = v->i;
    c->d = v->d;
    if (v->s)
        c->s = mem_strdup(v->s);
    for (size_t i = 0; i < v->n; i++) {
        if (v->kind == CTY_MAP)
            cty_set(c, v->keys[i], cty_dup(v->items[i]));
        else
            cty_push(c, cty_dup(v->items[i]));
    }
    return c;
}

bool cty_is_null(const cty_value *v)
{
    return !v || v->kind == CTY_NULL;
}

bool cty_is_known(const cty_value *v)
{
    if (!v)
        return true;
    if (v->kind == CTY_UNKNOWN)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (!cty_is_known(v->items[i]))
            return false;
    return true;
}

/* Maps compare as sets of entries: the order of keys means nothing (labels). */
bool cty_equal(const cty_value *a, const cty_value *b)
{
    cty_kind ka = a ? a->kind : CTY_NULL, kb = b ? b->kind : CTY_NULL;
    if (ka != kb)
        return false;
    switch (ka) {
    case CTY_NULL:
    case CTY_UNKNOWN: return true;
    case CTY_BOOL: return a->b == b->b;
    case CTY_NUMBER: return a->is_int && b->is_int ? a->i == b->i : a->d == b->d;
    case CTY_STRING: return strcmp(a->s, b->s) == 0;
    case CTY_LIST:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!cty_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case CTY_MAP:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++) {
            const cty_value *o = cty_get(b, a->keys[i]);
            if (!o || !cty_equal(a->items[i], o))
                return false;
        }
        return true;
    }
    return false;
}

const char *cty_get_str(const cty_value *m, const char *key)
{
    const cty_value *v = cty_get(m, key);
    return v && v->kind == CTY_STRING ? v->s : NULL;
}

bool cty_get_int(const cty_value *m, const char *key, int64_t *out)
{
    const cty_value *v = cty_get(m, key);
    if (!v || v->kind != CTY_NUMBER)
        return false;
    *out = v->is_int ? v->i : (int64_t)v->d;
    return true;
}

bool cty_get_bool(const cty_value *m, const char *key, bool *out)
{
    const cty_value *v = cty_get(m, key);
    if (!v || v->kind != CTY_BOOL)
        return false;
    *out = v->b;
    return true;
}

bool cty_get_unknown(const cty_value *m, const char *key)
{
    const cty_value *v = cty_get(m, key);
    return v && v->kind == CTY_UNKNOWN;
}

/* --- msgpack ------------------------------------------------------------------------------- */

static cty_value *from_msgpack(const msgpack_object *o, int depth)
{
    if (depth > CTY_MAX_DEPTH)
        return NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return cty_null();
    case MSGPACK_OBJECT_BOOLEAN: return cty_bool(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 > INT64_MAX ? cty_double((double)o->via.u64)
                                      : cty_int((int64_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return cty_int(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return cty_double(o->via.f64);
    case MSGPACK_OBJECT_STR: return cty_strn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return cty_strn(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT: return cty_unknown(); /* type 0, and refinements we ignore */
    case MSGPACK_OBJECT_ARRAY: {
        cty_value *l = cty_list();
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            cty_value *e = from_msgpack(&o->via.array.ptr[i], depth + 1);
            if (!e) {
                cty_free(l);
                return NULL;
            }
            cty_push(l, e);
        }
        return l;
    }
    case MSGPACK_OBJECT_MAP: {
        cty_value *m = cty_map();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            cty_value *e =
                kv->key.type == MSGPACK_OBJECT_STR ? from_msgpack(&kv->val, depth + 1) : NULL;
            if (!e) {
                cty_free(m);
                return NULL;
            }
            char *key = kv->key.via.str.size
                            ? mem_strndup(kv->key.via.str.ptr, kv->key.via.str.size)
                            : mem_strdup(""); /* msgpack's empty strings have no pointer */
            cty_set(m, key, e);
            free(key);
        }
        return m;
    }
    }
    return NULL;
}

/* Big-endian unsigned of n bytes. */
static uint64_t be_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* True when every array and map in the msgpack value at p[0..len) declares no more items than
 * bytes remain for them (each takes at least one). msgpack-c's unpacker allocates a container's
 * items from its declared count before it reads them, so a few bytes claiming 2^32 entries
 * would ask for tens of gigabytes (found by tests/fuzz/fuzz_tfplugin.c). */
static bool msgpack_counts_fit(const uint8_t *p, size_t len)
{
    size_t off = 0;
    uint64_t pending = 1; /* values still to read */
    while (pending > 0) {
        if (off >= len || pending > len - off)
            return false;
        uint8_t b = p[off++];
        uint64_t items = 0, skip = 0;
        size_t hdr = 0; /* bytes of a length that follows b */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            items = 2u * (b & 0x0f);
        } else if (b <= 0x9f) {
            items = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b >= 0xc4 && b <= 0xc6) { /* bin 8/16/32 */
            hdr = (size_t)1 << (b - 0xc4);
        } else if (b >= 0xc7 && b <= 0xc9) { /* ext 8/16/32: length, then a type byte */
            hdr = (size_t)1 << (b - 0xc7);
            skip = 1;
        } else if (b == 0xca || b == 0xcb) { /* float 32/64 */
            skip = b == 0xca ? 4 : 8;
        } else if (b >= 0xcc && b <= 0xd3) { /* uint and int 8..64 */
            skip = (uint64_t)1 << ((b - 0xcc) & 3);
        } else if (b >= 0xd4 && b <= 0xd8) { /* fixext 1..16, and a type byte */
            skip = 1 + ((uint64_t)1 << (b - 0xd4));
        } else if (b >= 0xd9 && b <= 0xdb) { /* str 8/16/32 */
            hdr = (size_t)1 << (b - 0xd9);
        } else if (b == 0xdc || b == 0xdd) { /* array 16/32 */
            if (len - off < (b == 0xdc ? 2u : 4u))
                return false;
            items = be_uint(p + off, b == 0xdc ? 2 : 4);
            off += b == 0xdc ? 2 : 4;
        } else if (b == 0xde || b == 0xdf) { /* map 16/32 */
            if (len - off < (b == 0xde ? 2u : 4u))
                return false;
            items = 2 * be_uint(p + off, b == 0xde ? 2 : 4);
            off += b == 0xde ? 2 : 4;
        } else {
            return false; /* 0xc1: never used */
        }
        if (hdr) {
            if (len - off < hdr)
                return false;
            skip += be_uint(p + off, hdr);
            off += hdr;
        }
        if (skip > len - off)
            return false;
        off += (size_t)skip;
        pending = pending - 1 + items;
    }
    return true;
}

cty_value *cty_decode_msgpack(const uint8_t *p, size_t len)
{
    if (len == 0)
        return cty_null(); /* an absent DynamicValue */
    if (!msgpack_counts_fit(p, len))
        return NULL;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cty_value *v = NULL;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) == MSGPACK_UNPACK_SUCCESS)
        v = from_msgpack(&u.data, 0);
    msgpack_unpacked_destroy(&u);
    return v;
}

static void to_msgpack(msgpack_packer *pk, const cty_value *v)
{
    static const char unknown_payload = 0;
    switch (v ? v->kind : CTY_NULL) {
    case CTY_NULL: msgpack_pack_nil(pk); break;
    case CTY_UNKNOWN:
        msgpack_pack_ext_with_body(pk, &unknown_payload, 1, CTY_UNKNOWN_EXT_TYPE);
        break;
    case CTY_BOOL: v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case CTY_NUMBER:
        if (v->is_int)
            msgpack_pack_int64(pk, v->i);
        else
            msgpack_pack_double(pk, v->d);
        break;
    case CTY_STRING: {
        size_t n = strlen(v->s);
        msgpack_pack_str_with_body(pk, v->s, n);
        break;
    }
    case CTY_LIST:
        msgpack_pack_array(pk, v->n);
        for (size_t i = 0; i < v->n; i++)
            to_msgpack(pk, v->items[i]);
        break;
    case CTY_MAP:
        msgpack_pack_map(pk, v->n);
        for (size_t i = 0; i < v->n; i++) {
            msgpack_pack_str_with_body(pk, v->keys[i], strlen(v->keys[i]));
            to_msgpack(pk, v->items[i]);
        }
        break;
    }
}

static int sbuf_write(void *data, const char *p, size_t n)
{
    buf_append(data, p, n);
    return 0;
}

void cty_encode_msgpack(const cty_value *v, buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    to_msgpack(&pk, v);
}

/* --- JSON ---------------------------------------------------------------------------------- */

cty_value *cty_from_json(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL: return cty_null();
    case JSON_TRUE: return cty_bool(true);
    case JSON_FALSE: return cty_bool(false);
    case JSON_INTEGER: return cty_int(json_integer_value(j));
    case JSON_REAL: return cty_double(json_real_value(j));
    case JSON_STRING: return cty_strn(json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        cty_value *l = cty_list();
        for (size_t i = 0; i < json_array_size(j); i++)
            cty_push(l, cty_from_json(json_array_get(j, i)));
        return l;
    }
    case JSON_OBJECT: {
        cty_value *m = cty_map();
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it))
            cty_set(m, json_object_iter_key(it), cty_from_json(json_object_iter_value(it)));
        return m;
    }
    }
    return cty_null();
}
