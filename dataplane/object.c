/* Keyspace entries and string values: see object.h for the layout. */
#include "object.h"

#include <assert.h>
#include <string.h>

#include "zmalloc.h"

static const obj_type_ops *type_ops[OBJ_TYPE_MAX];

static const char *default_type_names[OBJ_TYPE_MAX] = {
    "string", "list", "set", "zset", "hash", "none", "stream",
};

void obj_register_type(enum obj_type type, const obj_type_ops *ops)
{
    type_ops[type] = ops;
}

const obj_type_ops *obj_type_get(enum obj_type type)
{
    return type_ops[type];
}

const char *obj_type_name(int type)
{
    if (type_ops[type] && type_ops[type]->name)
        return type_ops[type]->name;
    return default_type_names[type] ? default_type_names[type] : "none";
}

const char *obj_enc_name(const entry *e)
{
    if (type_ops[e->type] && type_ops[e->type]->enc_name) {
        const char *n = type_ops[e->type]->enc_name(e->enc);
        if (n)
            return n;
    }
    static const char *names[ENC_MAX] = {"raw",       "int",    "embstr",   "hashtable", "listpack",
                                         "quicklist", "intset", "skiplist", "stream"};
    return names[e->enc] ? names[e->enc] : "unknown";
}

/* Varints: 7 bits a byte, low bits first. Keys and embedded strings are short; the format allows
 * any length. */
static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(unsigned char *p, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_get(const unsigned char *p, size_t *v)
{
    size_t r = 0, n = 0;
    int shift = 0;
    for (;;) {
        unsigned char b = p[n++];
        r |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *v = r;
    return n;
}

/* Offset of the memcached block inside data[] (it follows the expiry). */
static size_t mc_offset(const entry *e)
{
    return e->has_expire ? sizeof(int64_t) : 0;
}

static size_t key_offset(const entry *e)
{
    return mc_offset(e) + (e->has_mc ? ENTRY_MC_SIZE : 0);
}

static void mc_put(unsigned char *p, const entry_mc *m)
{
    memcpy(p, &m->cas, sizeof(m->cas));
    memcpy(p + sizeof(m->cas), &m->flags, sizeof(m->flags));
    p[sizeof(m->cas) + sizeof(m->flags)] = m->bits;
}

/* Offset of the value inside data[]. */
static size_t value_offset(const entry *e)
{
    size_t off = key_offset(e), klen;
    off += varint_get(e->data + off, &klen);
    return off + klen;
}

/* Allocates an entry with room for `vbytes` of value after the key, fills header, memcached
 * block (when mc is not NULL) and key. */
static entry *entry_alloc_mc(const char *key, size_t klen, int type, int enc, size_t vbytes,
                             int64_t expire_ms, const entry_mc *mc, unsigned char **vout)
{
    size_t hdr = expire_ms >= 0 ? sizeof(int64_t) : 0;
    size_t mcb = mc ? ENTRY_MC_SIZE : 0;
    size_t size = offsetof(entry, data) + hdr + mcb + varint_len(klen) + klen + vbytes;
    entry *e = zmalloc(size);
    e->next = NULL;
    e->type = (uint32_t)type;
    e->has_mc = mc != NULL;
    e->enc = (uint32_t)enc;
    e->has_expire = expire_ms >= 0;
    e->lru = 0;
    unsigned char *p = e->data;
    if (hdr) {
        memcpy(p, &expire_ms, sizeof(expire_ms));
        p += hdr;
    }
    if (mc) {
        mc_put(p, mc);
        p += mcb;
    }
    p += varint_put(p, klen);
    memcpy(p, key, klen);
    *vout = p + klen;
    return e;
}

static entry *entry_alloc(const char *key, size_t klen, int type, int enc, size_t vbytes,
                          int64_t expire_ms, unsigned char **vout)
{
    return entry_alloc_mc(key, klen, type, enc, vbytes, expire_ms, NULL, vout);
}

static rawstr *rawstr_new(const char *s, size_t len)
{
    rawstr *r = zmalloc(sizeof(rawstr) + len + 1);
    r->len = len;
    r->cap = zmalloc_size(r) - sizeof(rawstr) - 1;
    memcpy(r->data, s, len);
    r->data[len] = '\0';
    return r;
}

/* entry_new_string with an optional memcached block. */
static entry *string_new(const char *key, size_t klen, const char *val, size_t vlen,
                         int64_t expire_ms, const entry_mc *mc)
{
    long long ll;
    unsigned char *v;
    if (vlen <= 20 && str_to_ll(val, vlen, &ll)) {
        entry *e = entry_alloc_mc(key, klen, OBJ_STRING, ENC_INT, sizeof(ll), expire_ms, mc, &v);
        memcpy(v, &ll, sizeof(ll));
        return e;
    }
    if (vlen <= OBJ_EMBSTR_MAX) {
        entry *e = entry_alloc_mc(key, klen, OBJ_STRING, ENC_EMBSTR, varint_len(vlen) + vlen,
                                  expire_ms, mc, &v);
        v += varint_put(v, vlen);
        memcpy(v, val, vlen);
        return e;
    }
    entry *e = entry_alloc_mc(key, klen, OBJ_STRING, ENC_RAW, sizeof(void *), expire_ms, mc, &v);
    rawstr *r = rawstr_new(val, vlen);
    memcpy(v, &r, sizeof(r));
    return e;
}

entry *entry_new_string(const char *key, size_t klen, const char *val, size_t vlen,
                        int64_t expire_ms)
{
    return string_new(key, klen, val, vlen, expire_ms, NULL);
}

entry *entry_new_string_mc(const char *key, size_t klen, const char *val, size_t vlen,
                           int64_t expire_ms, const entry_mc *m)
{
    return string_new(key, klen, val, vlen, expire_ms, m);
}

entry *entry_new_int(const char *key, size_t klen, long long ll, int64_t expire_ms)
{
    unsigned char *v;
    entry *e = entry_alloc(key, klen, OBJ_STRING, ENC_INT, sizeof(ll), expire_ms, &v);
    memcpy(v, &ll, sizeof(ll));
    return e;
}

entry *entry_new_ptr(const char *key, size_t klen, int type, int enc, void *ptr, int64_t expire_ms)
{
    unsigned char *v;
    entry *e = entry_alloc(key, klen, type, enc, sizeof(void *), expire_ms, &v);
    memcpy(v, &ptr, sizeof(ptr));
    return e;
}

const char *entry_key(const entry *e, size_t *len)
{
    size_t off = key_offset(e);
    off += varint_get(e->data + off, len);
    return (const char *)e->data + off;
}

void *entry_ptr(const entry *e)
{
    void *p;
    assert(e->enc != ENC_EMBSTR && e->enc != ENC_INT);
    memcpy(&p, e->data + value_offset(e), sizeof(p));
    return p;
}

void entry_set_ptr(entry *e, void *ptr)
{
    memcpy(e->data + value_offset(e), &ptr, sizeof(ptr));
}

const char *entry_str(const entry *e, char tmp[OBJ_INT_STR_MAX], size_t *len)
{
    const unsigned char *v = e->data + value_offset(e);
    switch (e->enc) {
    case ENC_EMBSTR: {
        size_t n;
        v += varint_get(v, &n);
        *len = n;
        return (const char *)v;
    }
    case ENC_INT: {
        long long ll;
        memcpy(&ll, v, sizeof(ll));
        *len = (size_t)ll_to_str(tmp, ll);
        return tmp;
    }
    default: {
        rawstr *r;
        memcpy(&r, v, sizeof(r));
        *len = r->len;
        return r->data;
    }
    }
}

int entry_get_ll(const entry *e, long long *out)
{
    if (e->enc == ENC_INT) {
        memcpy(out, e->data + value_offset(e), sizeof(*out));
        return 1;
    }
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    return str_to_ll(s, len, out);
}

static void value_free(entry *e)
{
    if (e->enc == ENC_EMBSTR || e->enc == ENC_INT)
        return;
    void *p = entry_ptr(e);
    if (e->type == OBJ_STRING) {
        zfree(p);
        return;
    }
    const obj_type_ops *ops = type_ops[e->type];
    assert(ops && ops->free);
    ops->free(p, e->enc);
}

void entry_free(entry *e)
{
    value_free(e);
    zfree(e);
}

entry *entry_with_key(const entry *e, const char *key, size_t klen, void *ptr)
{
    int64_t exp = entry_expire(e);
    entry *n;
    if (e->type == OBJ_STRING && e->enc != ENC_RAW) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = entry_str(e, tmp, &len);
        /* Keep the encoding: an embstr of digits (INCRBYFLOAT's result) stays an embstr. */
        n = e->enc == ENC_INT ? entry_new_string(key, klen, s, len, exp)
                              : entry_new_string_plain(key, klen, s, len, exp);
    } else if (e->type == OBJ_STRING && !ptr) {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = entry_str(e, tmp, &len);
        unsigned char *v;
        n = entry_alloc(key, klen, OBJ_STRING, ENC_RAW, sizeof(void *), exp, &v);
        rawstr *r = rawstr_new(s, len);
        memcpy(v, &r, sizeof(r));
    } else {
        n = entry_new_ptr(key, klen, e->type, e->enc, ptr ? ptr : entry_ptr(e), exp);
    }
    n->lru = e->lru;
    entry_mc m;
    if (entry_get_mc(e, &m)) /* memcached's flags and CAS go with the value */
        n = entry_set_mc(n, &m);
    return n;
}

/* A copy of e with the given expiry and memcached block (NULL: none) that shares e's value. */
static entry *entry_relayout_copy(const entry *e, int64_t expire_ms, const entry_mc *mc)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    size_t rest_off = value_offset(e);
    /* value bytes: everything from the value offset to the end of the logical entry */
    size_t vbytes;
    const unsigned char *v = e->data + rest_off;
    if (e->enc == ENC_EMBSTR) {
        size_t n;
        vbytes = varint_get(v, &n);
        vbytes += n;
    } else if (e->enc == ENC_INT) {
        vbytes = sizeof(long long);
    } else {
        vbytes = sizeof(void *);
    }
    unsigned char *nv;
    entry *n = entry_alloc_mc(k, klen, e->type, e->enc, vbytes, expire_ms, mc, &nv);
    memcpy(nv, v, vbytes);
    n->lru = e->lru;
    n->next = e->next;
    return n;
}

/* entry_relayout_copy, and e's shell is freed: the value, if any, moved to the copy. */
static entry *entry_relayout(entry *e, int64_t expire_ms, const entry_mc *mc)
{
    entry *n = entry_relayout_copy(e, expire_ms, mc);
    zfree(e);
    return n;
}

entry *entry_set_expire(entry *e, int64_t expire_ms)
{
    if (e->has_expire && expire_ms >= 0) {
        memcpy(e->data, &expire_ms, sizeof(expire_ms));
        return e;
    }
    if (!e->has_expire && expire_ms < 0)
        return e;
    entry_mc m;
    return entry_relayout(e, expire_ms, entry_get_mc(e, &m) ? &m : NULL);
}

int entry_get_mc(const entry *e, entry_mc *out)
{
    if (!e->has_mc)
        return 0;
    const unsigned char *p = e->data + mc_offset(e);
    memcpy(&out->cas, p, sizeof(out->cas));
    memcpy(&out->flags, p + sizeof(out->cas), sizeof(out->flags));
    out->bits = p[sizeof(out->cas) + sizeof(out->flags)];
    return 1;
}

entry *entry_set_mc(entry *e, const entry_mc *m)
{
    if (e->has_mc && m) {
        mc_put(e->data + mc_offset(e), m);
        return e;
    }
    if (!e->has_mc && !m)
        return e;
    return entry_relayout(e, entry_expire(e), m);
}

entry *entry_copy_mc(const entry *e, const entry_mc *m)
{
    return entry_relayout_copy(e, entry_expire(e), m);
}

size_t entry_mem_usage(const entry *e)
{
    size_t n = zmalloc_size(e);
    if (e->enc == ENC_EMBSTR || e->enc == ENC_INT)
        return n;
    const void *p = entry_ptr(e);
    if (e->type == OBJ_STRING)
        return n + zmalloc_size(p);
    const obj_type_ops *ops = type_ops[e->type];
    return n + (ops && ops->mem_usage ? ops->mem_usage(p, e->enc) : 0);
}

int str_to_ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 20)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return 0;
    }
    if (s[i] == '0' && len > i + 1)
        return 0; /* leading zeros do not round-trip */
    if (neg && s[i] == '0')
        return 0; /* "-0" */
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (18446744073709551615ull - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > 9223372036854775808ull)
            return 0;
        *out = (long long)(0 - v);
    } else {
        if (v > 9223372036854775807ull)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

int ll_to_str(char *buf, long long v)
{
    char tmp[OBJ_INT_STR_MAX];
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* ---- string values that change in place --------------------------------------------------- */

/* A rawstr of len bytes (copied from s, or zeros when s is NULL) with room for at least cap. */
static rawstr *rawstr_alloc(const char *s, size_t len, size_t cap)
{
    if (cap < len)
        cap = len;
    rawstr *r = zmalloc(sizeof(rawstr) + cap + 1);
    r->len = len;
    r->cap = zmalloc_size(r) - sizeof(rawstr) - 1;
    if (s)
        memcpy(r->data, s, len);
    else
        memset(r->data, 0, len);
    r->data[len] = '\0';
    return r;
}

entry *entry_new_raw(const char *key, size_t klen, const char *val, size_t vlen, size_t cap,
                     int64_t expire_ms)
{
    unsigned char *v;
    entry *e = entry_alloc(key, klen, OBJ_STRING, ENC_RAW, sizeof(void *), expire_ms, &v);
    rawstr *r = rawstr_alloc(val, vlen, cap);
    memcpy(v, &r, sizeof(r));
    return e;
}

entry *entry_new_string_plain(const char *key, size_t klen, const char *val, size_t vlen,
                              int64_t expire_ms)
{
    if (vlen > OBJ_EMBSTR_MAX)
        return entry_new_raw(key, klen, val, vlen, vlen, expire_ms);
    unsigned char *v;
    entry *e =
        entry_alloc(key, klen, OBJ_STRING, ENC_EMBSTR, varint_len(vlen) + vlen, expire_ms, &v);
    v += varint_put(v, vlen);
    memcpy(v, val, vlen);
    return e;
}

entry *entry_string_to_raw(const entry *e, size_t cap)
{
    assert(e->type == OBJ_STRING && e->enc != ENC_RAW);
    char tmp[OBJ_INT_STR_MAX];
    size_t klen, len;
    const char *k = entry_key(e, &klen);
    const char *s = entry_str(e, tmp, &len);
    entry *n = entry_new_raw(k, klen, s, len, cap, entry_expire(e));
    n->lru = e->lru;
    entry_mc m;
    if (entry_get_mc(e, &m)) /* APPEND from RESP keeps memcached's flags */
        n = entry_set_mc(n, &m);
    return n;
}

/* Redis's sdsMakeRoomFor: double small strings, add a fixed step to large ones, so that a run
 * of APPENDs costs amortized constant time without wasting more than the step on big values. */
static size_t rawstr_grown_cap(size_t len)
{
    return len < RAWSTR_MAX_PREALLOC ? len * 2 : len + RAWSTR_MAX_PREALLOC;
}

rawstr *entry_raw_resize(entry *e, size_t len)
{
    assert(e->type == OBJ_STRING && e->enc == ENC_RAW);
    rawstr *r = entry_ptr(e);
    if (len > r->cap) {
        size_t cap = rawstr_grown_cap(len);
        r = zrealloc(r, sizeof(rawstr) + cap + 1);
        r->cap = zmalloc_size(r) - sizeof(rawstr) - 1;
        entry_set_ptr(e, r);
    }
    if (len > r->len)
        memset(r->data + r->len, 0, len - r->len);
    r->len = len;
    r->data[len] = '\0';
    return r;
}

void entry_set_ll(entry *e, long long v)
{
    assert(e->type == OBJ_STRING && e->enc == ENC_INT);
    memcpy(e->data + value_offset(e), &v, sizeof(v));
}
