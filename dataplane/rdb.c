/* Redis's RDB value format (see rdb.h): lengths, strings, and every type's value, written in
 * Redis 7.0's encodings and read back with every length checked against the input. */
#include "rdb.h"

#include <math.h>
#include <string.h>

#include "command.h"
#include "hashtab.h"
#include "intset.h"
#include "listpack.h"
#include "lzf.h"
#include "quicklist.h"
#include "rdb_listpack.h"
#include "rdb_stream.h"
#include "server.h"
#include "zmalloc.h"
#include "zset.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "RDB's binary doubles and intsets are little-endian; this code copies them as they are"
#endif

/* Length encoding: the top two bits of the first byte. */
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_ENCVAL 3
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_6BIT_MAX 63
#define RDB_14BIT_MAX 16383
/* Special string encodings (after RDB_ENCVAL). */
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

/* Strings up to this long may be stored as integers, longer ones may be compressed (Redis's
 * rdbSaveRawString). */
#define RDB_INT_STRING_MAX 11
#define RDB_LZF_MIN 20
/* LZF output must save this many bytes to be worth it (Redis's rdbSaveLzfStringObject). */
#define RDB_LZF_MIN_SAVING 4
/* LZF expands at most this much (a 3-byte back reference yields 264 bytes): a claimed length
 * beyond it is corrupt, and is refused before anything is allocated. */
#define RDB_LZF_MAX_RATIO 100

/* Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2). */
#define QUICKLIST_NODE_PLAIN 1
#define QUICKLIST_NODE_PACKED 2

/* Old-style double encoding (RDB_TYPE_ZSET). */
#define RDB_DOUBLE_NAN 253
#define RDB_DOUBLE_POS_INF 254
#define RDB_DOUBLE_NEG_INF 255
#define RDB_DOUBLE_TEXT_MAX 64

/* ---- primitives ---------------------------------------------------------------------------- */

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

void rdb_save_len(buf *out, uint64_t len)
{
    unsigned char b[9];
    if (len <= RDB_6BIT_MAX) {
        b[0] = (unsigned char)len;
        buf_append(out, b, 1);
    } else if (len <= RDB_14BIT_MAX) {
        b[0] = (unsigned char)((RDB_14BITLEN << 6) | (len >> 8));
        b[1] = (unsigned char)(len & 0xff);
        buf_append(out, b, 2);
    } else if (len <= UINT32_MAX) {
        b[0] = RDB_32BITLEN;
        put_be(b + 1, len, 4);
        buf_append(out, b, 5);
    } else {
        b[0] = RDB_64BITLEN;
        put_be(b + 1, len, 8);
        buf_append(out, b, 9);
    }
}

/* Redis's rdbEncodeInteger: 0 when v needs more than 32 bits. */
static int rdb_encode_int(unsigned char *p, long long v)
{
    int n;
    if (v >= INT8_MIN && v <= INT8_MAX) {
        p[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT8;
        n = 1;
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        p[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT16;
        n = 2;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        p[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT32;
        n = 4;
    } else {
        return 0;
    }
    for (int i = 0; i < n; i++)
        p[1 + i] = (unsigned char)((uint64_t)v >> (8 * i));
    return n + 1;
}

static int rdb_save_lzf(buf *out, const char *s, size_t len)
{
    size_t room = len - RDB_LZF_MIN_SAVING;
    unsigned char *c = zmalloc(room);
    size_t clen = lzf_compress(s, len, c, room);
    if (clen) {
        unsigned char b = (RDB_ENCVAL << 6) | RDB_ENC_LZF;
        buf_append(out, &b, 1);
        rdb_save_len(out, clen);
        rdb_save_len(out, len);
        buf_append(out, c, clen);
    }
    zfree(c);
    return clen != 0;
}

void rdb_save_string(buf *out, const char *s, size_t len)
{
    long long v;
    unsigned char b[5];
    int n;
    if (len <= RDB_INT_STRING_MAX && str_to_ll(s, len, &v) && (n = rdb_encode_int(b, v))) {
        buf_append(out, b, (size_t)n);
        return;
    }
    if (len > RDB_LZF_MIN && rdb_save_lzf(out, s, len))
        return;
    rdb_save_len(out, len);
    buf_append(out, s, len);
}

static int rdb_read(rdb_reader *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

static size_t rdb_left(const rdb_reader *r)
{
    return (size_t)(r->end - r->p);
}

/* Reads a length, or (with *encoded set) a special string encoding's number. */
static int rdb_load_len_enc(rdb_reader *r, uint64_t *len, int *encoded)
{
    unsigned char b[8];
    if (rdb_read(r, b, 1) < 0)
        return -1;
    int kind = b[0] >> 6;
    *encoded = 0;
    if (kind == RDB_ENCVAL) {
        *encoded = 1;
        *len = b[0] & RDB_6BIT_MAX;
    } else if (kind == RDB_6BITLEN) {
        *len = b[0] & RDB_6BIT_MAX;
    } else if (kind == RDB_14BITLEN) {
        unsigned char lo;
        if (rdb_read(r, &lo, 1) < 0)
            return -1;
        *len = ((uint64_t)(b[0] & RDB_6BIT_MAX) << 8) | lo;
    } else if (b[0] == RDB_32BITLEN || b[0] == RDB_64BITLEN) {
        int n = b[0] == RDB_32BITLEN ? 4 : 8;
        if (rdb_read(r, b, (size_t)n) < 0)
            return -1;
        *len = 0;
        for (int i = 0; i < n; i++)
            *len = (*len << 8) | b[i];
    } else {
        return -1;
    }
    return 0;
}

int rdb_load_len(rdb_reader *r, uint64_t *len)
{
    int encoded;
    return rdb_load_len_enc(r, len, &encoded) < 0 || encoded ? -1 : 0;
}

static int rdb_load_lzf(rdb_reader *r, rdb_str *out)
{
    uint64_t clen, len;
    if (rdb_load_len(r, &clen) < 0 || rdb_load_len(r, &len) < 0)
        return -1;
    if (clen > rdb_left(r) || len == 0 || len / RDB_LZF_MAX_RATIO > clen)
        return -1;
    out->owned = zmalloc(len);
    if (lzf_decompress(r->p, clen, out->owned, len) != len) {
        rdb_str_free(out);
        return -1;
    }
    r->p += clen;
    out->s = out->owned;
    out->len = len;
    return 0;
}

int rdb_load_string(rdb_reader *r, rdb_str *out)
{
    uint64_t len;
    int encoded;
    out->owned = NULL;
    if (rdb_load_len_enc(r, &len, &encoded) < 0)
        return -1;
    if (!encoded) {
        if (len > rdb_left(r))
            return -1;
        out->s = (const char *)r->p;
        out->len = len;
        r->p += len;
        return 0;
    }
    if (len == RDB_ENC_LZF)
        return rdb_load_lzf(r, out);
    if (len > RDB_ENC_INT32)
        return -1;
    int n = 1 << len; /* 1, 2 or 4 bytes, little-endian */
    unsigned char b[4];
    if (rdb_read(r, b, (size_t)n) < 0)
        return -1;
    uint64_t u = 0;
    for (int i = 0; i < n; i++)
        u |= (uint64_t)b[i] << (8 * i);
    long long v = n == 1 ? (int8_t)u : n == 2 ? (int16_t)u : (int32_t)u;
    out->len = (size_t)ll_to_str(out->tmp, v);
    out->s = out->tmp;
    return 0;
}

void rdb_str_free(rdb_str *s)
{
    zfree(s->owned);
    s->owned = NULL;
}

/* ---- writing values ------------------------------------------------------------------------ */

static void rdb_save_type(buf *out, int type)
{
    buf_append_char(out, (char)type);
}

/* Our listpack lp, transcoded element by element into Redis's format, as an RDB string. */
static void rdb_save_listpack(buf *out, const unsigned char *lp)
{
    rlp_writer w;
    rlp_writer_init(&w);
    char tmp[OBJ_INT_STR_MAX];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        lp_value v;
        lp_get(p, &v, tmp);
        rlp_append(&w, v.s, v.len);
    }
    rlp_finish(&w);
    rdb_save_string(out, w.b.data, w.b.len);
    rlp_writer_free(&w);
}

/* Redis 7.0 writes every list as a quicklist of packed listpack nodes. */
static void rdb_save_list(buf *out, const entry *e)
{
    rdb_save_type(out, RDB_TYPE_LIST_QUICKLIST_2);
    if (e->enc == ENC_LISTPACK) {
        rdb_save_len(out, 1);
        rdb_save_len(out, QUICKLIST_NODE_PACKED);
        rdb_save_listpack(out, entry_ptr(e));
        return;
    }
    const quicklist *ql = entry_ptr(e);
    rdb_save_len(out, ql->len);
    for (const ql_node *n = ql->head; n; n = n->next) {
        rdb_save_len(out, QUICKLIST_NODE_PACKED);
        rdb_save_listpack(out, n->lp);
    }
}

static void rdb_save_hashtab(buf *out, const hashtab *h, int with_values)
{
    rdb_save_len(out, ht_count(h));
    ht_iter it;
    ht_iter_init(&it, h);
    for (const ht_elem *el; (el = ht_iter_next(&it));) {
        size_t len;
        const char *s = ht_elem_key(el, &len);
        rdb_save_string(out, s, len);
        if (with_values) {
            s = ht_elem_val(el, &len);
            rdb_save_string(out, s, len);
        }
    }
}

/* RDB 10 has no listpack sets: a listpack set is written as a plain set. */
static void rdb_save_set(buf *out, const entry *e)
{
    const void *ptr = entry_ptr(e);
    if (e->enc == ENC_INTSET) {
        rdb_save_type(out, RDB_TYPE_SET_INTSET);
        rdb_save_string(out, ptr, intset_bytes(ptr));
        return;
    }
    rdb_save_type(out, RDB_TYPE_SET);
    if (e->enc == ENC_HASHTABLE) {
        rdb_save_hashtab(out, ptr, 0);
        return;
    }
    char tmp[OBJ_INT_STR_MAX];
    rdb_save_len(out, lp_count(ptr));
    for (unsigned char *p = lp_first(ptr); p; p = lp_next(ptr, p)) {
        lp_value v;
        lp_get(p, &v, tmp);
        rdb_save_string(out, v.s, v.len);
    }
}

static void rdb_save_hash(buf *out, const entry *e)
{
    if (e->enc == ENC_LISTPACK) {
        rdb_save_type(out, RDB_TYPE_HASH_LISTPACK);
        rdb_save_listpack(out, entry_ptr(e));
    } else {
        rdb_save_type(out, RDB_TYPE_HASH);
        rdb_save_hashtab(out, entry_ptr(e), 1);
    }
}

/* A listpack zset is member, score, member, score... in both formats (scores as Redis's
 * d2string text, which our listpack holds too). A skiplist is written from the highest score
 * down, as Redis does, each score as a binary double. */
static void rdb_save_zset(buf *out, const entry *e)
{
    if (e->enc == ENC_LISTPACK) {
        rdb_save_type(out, RDB_TYPE_ZSET_LISTPACK);
        rdb_save_listpack(out, entry_ptr(e));
        return;
    }
    rdb_save_type(out, RDB_TYPE_ZSET_2);
    rdb_save_len(out, zset_length(e));
    zset_iter it;
    zset_elem el;
    for (zset_iter_at_rank(&it, e, 0, 1); zset_iter_get(&it, &el); zset_iter_next(&it)) {
        rdb_save_string(out, el.s, el.len);
        buf_append(out, &el.score, sizeof(el.score));
    }
}

int rdb_save_object(buf *out, const entry *e)
{
    switch (e->type) {
    case OBJ_STRING: {
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        const char *s = entry_str(e, tmp, &len);
        rdb_save_type(out, RDB_TYPE_STRING);
        rdb_save_string(out, s, len);
        return 0;
    }
    case OBJ_LIST: rdb_save_list(out, e); return 0;
    case OBJ_SET: rdb_save_set(out, e); return 0;
    case OBJ_HASH: rdb_save_hash(out, e); return 0;
    case OBJ_ZSET: rdb_save_zset(out, e); return 0;
    case OBJ_STREAM: rdb_save_stream(out, e); return 0;
    default: return -1;
    }
}

/* ---- reading values: builders that pick our encoding as the type's commands would ------------
 * Each value's elements go through a builder; a duplicate member or field is an error (Redis
 * refuses such payloads too). Element counts from the input are only hints, capped by the bytes
 * left, so a corrupt count cannot make us allocate much. */

static size_t rdb_hint(const rdb_reader *r, uint64_t n)
{
    return n < rdb_left(r) ? (size_t)n : rdb_left(r);
}

typedef struct list_builder {
    int enc;
    unsigned char *lp;
    quicklist *ql;
    int fill;
} list_builder;

static void lb_init(list_builder *b)
{
    b->enc = ENC_LISTPACK;
    b->lp = lp_new();
    b->ql = NULL;
    b->fill = (int)server.cfg.list_max_listpack_size;
}

/* t_list.c's rule: a listpack list that would outgrow one node becomes a quicklist. */
static void lb_push(list_builder *b, const char *s, size_t len)
{
    if (b->enc == ENC_LISTPACK) {
        if (!ql_exceeds_limit(b->fill, lp_bytes(b->lp) + len, lp_count(b->lp) + 1)) {
            b->lp = lp_append(b->lp, s, len);
            return;
        }
        if (lp_count(b->lp)) {
            b->ql = ql_from_listpack(b->lp, b->fill);
        } else {
            lp_free(b->lp);
            b->ql = ql_new(b->fill);
        }
        b->lp = NULL;
        b->enc = ENC_QUICKLIST;
    }
    ql_push(b->ql, QL_TAIL, s, len);
}

static unsigned long lb_count(const list_builder *b)
{
    return b->enc == ENC_LISTPACK ? lp_count(b->lp) : b->ql->count;
}

static void lb_free(list_builder *b)
{
    if (b->enc == ENC_LISTPACK)
        lp_free(b->lp);
    else
        ql_free(b->ql);
}

static entry *lb_finish(list_builder *b, const char *key, size_t klen)
{
    if (!lb_count(b)) { /* Redis refuses empty keys */
        lb_free(b);
        return NULL;
    }
    void *ptr = b->enc == ENC_LISTPACK ? (void *)b->lp : (void *)b->ql;
    return entry_new_ptr(key, klen, OBJ_LIST, b->enc, ptr, -1);
}

/* The elements of a Redis listpack held in RDB string s, pushed onto b. */
static int lb_push_listpack(list_builder *b, const rdb_str *s)
{
    rlp_iter it;
    const char *v;
    size_t len;
    char tmp[OBJ_INT_STR_MAX];
    int rc;
    if (rlp_open(&it, (const unsigned char *)s->s, s->len) < 0)
        return -1;
    while ((rc = rlp_next(&it, &v, &len, tmp)) == 1)
        lb_push(b, v, len);
    return rc;
}

static entry *rdb_load_list(rdb_reader *r, int type, const char *key, size_t klen)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return NULL;
    list_builder b;
    lb_init(&b);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t container = QUICKLIST_NODE_PLAIN;
        if (type == RDB_TYPE_LIST_QUICKLIST_2 && rdb_load_len(r, &container) < 0)
            goto fail;
        if (container != QUICKLIST_NODE_PLAIN && container != QUICKLIST_NODE_PACKED)
            goto fail;
        rdb_str s;
        if (rdb_load_string(r, &s) < 0)
            goto fail;
        int rc = 0;
        if (container == QUICKLIST_NODE_PLAIN)
            lb_push(&b, s.s, s.len);
        else
            rc = lb_push_listpack(&b, &s);
        rdb_str_free(&s);
        if (rc < 0)
            goto fail;
    }
    return lb_finish(&b, key, klen);
fail:
    lb_free(&b);
    return NULL;
}

typedef struct set_builder {
    int enc; /* ENC_INTSET, ENC_LISTPACK or ENC_HASHTABLE */
    void *ptr;
    uint64_t expect;
} set_builder;

/* t_set.c's rules: an intset while every member is an integer and the set is small enough,
 * then a listpack while small, else a hash table. */
static void sb_init(set_builder *b, uint64_t expect, size_t hint)
{
    b->expect = expect;
    if ((long long)expect <= server.cfg.set_max_intset_entries) {
        b->enc = ENC_INTSET;
        b->ptr = intset_new();
    } else if ((long long)expect <= server.cfg.set_max_listpack_entries) {
        b->enc = ENC_LISTPACK;
        b->ptr = lp_new();
    } else {
        b->enc = ENC_HASHTABLE;
        b->ptr = ht_new(HT_KEYS_ONLY, hint);
    }
}

static void sb_to_hashtable(set_builder *b)
{
    hashtab *h = ht_new(HT_KEYS_ONLY, b->expect < RDB_14BIT_MAX ? b->expect : RDB_14BIT_MAX);
    char tmp[OBJ_INT_STR_MAX];
    if (b->enc == ENC_INTSET) {
        intset *is = b->ptr;
        for (uint32_t i = 0; i < intset_len(is); i++) {
            int n = ll_to_str(tmp, intset_get(is, i));
            ht_add(h, tmp, (size_t)n, NULL, 0);
        }
        intset_free(is);
    } else {
        unsigned char *lp = b->ptr;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
            lp_value v;
            lp_get(p, &v, tmp);
            ht_add(h, v.s, v.len, NULL, 0);
        }
        lp_free(lp);
    }
    b->enc = ENC_HASHTABLE;
    b->ptr = h;
}

static void sb_intset_to_listpack(set_builder *b)
{
    intset *is = b->ptr;
    unsigned char *lp = lp_new();
    char tmp[OBJ_INT_STR_MAX];
    for (uint32_t i = 0; i < intset_len(is); i++) {
        int n = ll_to_str(tmp, intset_get(is, i));
        lp = lp_append(lp, tmp, (size_t)n);
    }
    intset_free(is);
    b->enc = ENC_LISTPACK;
    b->ptr = lp;
}

/* Adds a member: 0, or -1 when it is a duplicate. */
static int sb_add(set_builder *b, const char *s, size_t len)
{
    long long v;
    if (b->enc == ENC_INTSET) {
        if (str_to_ll(s, len, &v)) {
            int added;
            b->ptr = intset_add(b->ptr, v, &added);
            return added ? 0 : -1;
        }
        if ((long long)b->expect <= server.cfg.set_max_listpack_entries)
            sb_intset_to_listpack(b);
        else
            sb_to_hashtable(b);
    }
    if (b->enc == ENC_LISTPACK && (long long)len > server.cfg.set_max_listpack_value)
        sb_to_hashtable(b);
    if (b->enc == ENC_LISTPACK) {
        unsigned char *lp = b->ptr, *first = lp_first(lp);
        if (first && lp_find(lp, first, s, len, 0))
            return -1;
        b->ptr = lp_append(lp, s, len);
        return 0;
    }
    return ht_add(b->ptr, s, len, NULL, 0) ? 0 : -1;
}

static void sb_free(set_builder *b)
{
    switch (b->enc) {
    case ENC_INTSET: intset_free(b->ptr); break;
    case ENC_LISTPACK: lp_free(b->ptr); break;
    default: ht_free(b->ptr); break;
    }
}

static uint64_t sb_count(const set_builder *b)
{
    switch (b->enc) {
    case ENC_INTSET: return intset_len(b->ptr);
    case ENC_LISTPACK: return lp_count(b->ptr);
    default: return ht_count(b->ptr);
    }
}

static entry *sb_finish(set_builder *b, const char *key, size_t klen)
{
    if (!sb_count(b)) {
        sb_free(b);
        return NULL;
    }
    return entry_new_ptr(key, klen, OBJ_SET, b->enc, b->ptr, -1);
}

/* The members of an RDB intset blob: checked (sorted, distinct, sized) before use. */
static int sb_add_intset(set_builder *b, const rdb_str *s)
{
    if (!intset_validate(s->s, s->len))
        return -1;
    intset is_hdr;
    memcpy(&is_hdr, s->s, sizeof(is_hdr));
    for (uint32_t i = 0; i < is_hdr.length; i++) {
        int64_t v = 0;
        if (is_hdr.encoding == INTSET_ENC_INT16) {
            int16_t x;
            memcpy(&x, s->s + sizeof(is_hdr) + i * sizeof(x), sizeof(x));
            v = x;
        } else if (is_hdr.encoding == INTSET_ENC_INT32) {
            int32_t x;
            memcpy(&x, s->s + sizeof(is_hdr) + i * sizeof(x), sizeof(x));
            v = x;
        } else {
            memcpy(&v, s->s + sizeof(is_hdr) + i * sizeof(v), sizeof(v));
        }
        char tmp[OBJ_INT_STR_MAX];
        int n = ll_to_str(tmp, v);
        if (sb_add(b, tmp, (size_t)n) < 0)
            return -1;
    }
    return 0;
}

static int sb_add_listpack(set_builder *b, const rdb_str *s)
{
    rlp_iter it;
    const char *v;
    size_t len;
    char tmp[OBJ_INT_STR_MAX];
    int rc;
    if (rlp_open(&it, (const unsigned char *)s->s, s->len) < 0)
        return -1;
    while ((rc = rlp_next(&it, &v, &len, tmp)) == 1)
        if (sb_add(b, v, len) < 0)
            return -1;
    return rc;
}

/* A set given as one blob (intset or listpack): its count comes from the blob's header. */
static entry *rdb_load_set_blob(rdb_reader *r, int type, const char *key, size_t klen)
{
    rdb_str s;
    if (rdb_load_string(r, &s) < 0)
        return NULL;
    uint64_t expect = 0;
    if (s.len >= sizeof(intset)) {
        uint32_t w[2];
        memcpy(w, s.s, sizeof(w));
        /* intset: {encoding, length}; listpack: {bytes, count:16} */
        expect = type == RDB_TYPE_SET_INTSET ? w[1] : (w[1] & 0xffff);
    }
    set_builder b;
    sb_init(&b, expect, 0);
    int rc = type == RDB_TYPE_SET_INTSET ? sb_add_intset(&b, &s) : sb_add_listpack(&b, &s);
    rdb_str_free(&s);
    if (rc < 0) {
        sb_free(&b);
        return NULL;
    }
    return sb_finish(&b, key, klen);
}

static entry *rdb_load_set(rdb_reader *r, const char *key, size_t klen)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return NULL;
    set_builder b;
    sb_init(&b, n, rdb_hint(r, n));
    for (uint64_t i = 0; i < n; i++) {
        rdb_str s;
        if (rdb_load_string(r, &s) < 0)
            goto fail;
        int rc = sb_add(&b, s.s, s.len);
        rdb_str_free(&s);
        if (rc < 0)
            goto fail;
    }
    return sb_finish(&b, key, klen);
fail:
    sb_free(&b);
    return NULL;
}

typedef struct hash_builder {
    int enc; /* ENC_LISTPACK or ENC_HASHTABLE */
    void *ptr;
} hash_builder;

static void hb_init(hash_builder *b, uint64_t expect, size_t hint)
{
    if ((long long)expect <= server.cfg.hash_max_listpack_entries) {
        b->enc = ENC_LISTPACK;
        b->ptr = lp_new();
    } else {
        b->enc = ENC_HASHTABLE;
        b->ptr = ht_new(HT_VALUES, hint);
    }
}

static void hb_to_hashtable(hash_builder *b)
{
    unsigned char *lp = b->ptr;
    hashtab *h = ht_new(HT_VALUES, lp_count(lp) / 2);
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        lp_value f, v;
        lp_get(p, &f, ftmp);
        lp_get(lp_next(lp, p), &v, vtmp);
        ht_add(h, f.s, f.len, v.s, v.len);
    }
    lp_free(lp);
    b->enc = ENC_HASHTABLE;
    b->ptr = h;
}

static int hb_add(hash_builder *b, const char *f, size_t flen, const char *v, size_t vlen)
{
    long long max = server.cfg.hash_max_listpack_value;
    if (b->enc == ENC_LISTPACK && ((long long)flen > max || (long long)vlen > max))
        hb_to_hashtable(b);
    if (b->enc == ENC_HASHTABLE)
        return ht_add(b->ptr, f, flen, v, vlen) ? 0 : -1;
    unsigned char *lp = b->ptr, *first = lp_first(lp);
    if (first && lp_find(lp, first, f, flen, 1))
        return -1;
    lp = lp_append(lp, f, flen);
    b->ptr = lp_append(lp, v, vlen);
    if ((long long)lp_count(b->ptr) / 2 > server.cfg.hash_max_listpack_entries)
        hb_to_hashtable(b);
    return 0;
}

static void hb_free(hash_builder *b)
{
    if (b->enc == ENC_LISTPACK)
        lp_free(b->ptr);
    else
        ht_free(b->ptr);
}

static entry *hb_finish(hash_builder *b, const char *key, size_t klen)
{
    size_t n = b->enc == ENC_LISTPACK ? lp_count(b->ptr) : ht_count(b->ptr);
    if (!n) {
        hb_free(b);
        return NULL;
    }
    return entry_new_ptr(key, klen, OBJ_HASH, b->enc, b->ptr, -1);
}

static entry *rdb_load_hash(rdb_reader *r, const char *key, size_t klen)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return NULL;
    hash_builder b;
    hb_init(&b, n, rdb_hint(r, n));
    for (uint64_t i = 0; i < n; i++) {
        rdb_str f, v;
        if (rdb_load_string(r, &f) < 0)
            goto fail;
        if (rdb_load_string(r, &v) < 0) {
            rdb_str_free(&f);
            goto fail;
        }
        int rc = hb_add(&b, f.s, f.len, v.s, v.len);
        rdb_str_free(&f);
        rdb_str_free(&v);
        if (rc < 0)
            goto fail;
    }
    return hb_finish(&b, key, klen);
fail:
    hb_free(&b);
    return NULL;
}

/* Field/value pairs from a Redis listpack; the field is copied because the next element may
 * reuse the integer buffer. */
static entry *rdb_load_hash_listpack(rdb_reader *r, const char *key, size_t klen)
{
    rdb_str s;
    if (rdb_load_string(r, &s) < 0)
        return NULL;
    hash_builder b;
    hb_init(&b, 0, 0);
    rlp_iter it;
    const char *f, *v;
    size_t flen, vlen;
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
    int rc = rlp_open(&it, (const unsigned char *)s.s, s.len);
    while (rc == 0 && (rc = rlp_next(&it, &f, &flen, ftmp)) == 1) {
        rc = rlp_next(&it, &v, &vlen, vtmp) == 1 ? hb_add(&b, f, flen, v, vlen) : -1;
    }
    rdb_str_free(&s);
    if (rc < 0) {
        hb_free(&b);
        return NULL;
    }
    return hb_finish(&b, key, klen);
}

/* Adds a member to a zset entry: -1 for a NaN score or a duplicate member. */
static int zb_add(entry *e, double score, const char *m, size_t len)
{
    int out = 0;
    if (isnan(score))
        return -1;
    zset_add(e, score, m, len, ZADD_IN_NX, &out, NULL);
    return (out & ZADD_OUT_ADDED) ? 0 : -1;
}

/* Redis's rdbLoadDoubleValue: a length byte (or a code for NaN and the infinities) and text. */
static int rdb_load_text_double(rdb_reader *r, double *d)
{
    unsigned char len;
    char text[RDB_DOUBLE_TEXT_MAX];
    if (rdb_read(r, &len, 1) < 0)
        return -1;
    switch (len) {
    case RDB_DOUBLE_NAN: *d = NAN; return 0;
    case RDB_DOUBLE_POS_INF: *d = INFINITY; return 0;
    case RDB_DOUBLE_NEG_INF: *d = -INFINITY; return 0;
    }
    if (len >= sizeof(text) || rdb_read(r, text, len) < 0)
        return -1;
    return str_to_double(text, len, d) ? 0 : -1;
}

static entry *rdb_load_zset(rdb_reader *r, int type, const char *key, size_t klen)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return NULL;
    entry *e = zset_entry_new(key, klen);
    for (uint64_t i = 0; i < n; i++) {
        rdb_str m;
        double score;
        if (rdb_load_string(r, &m) < 0)
            goto fail;
        int rc = type == RDB_TYPE_ZSET_2 ? rdb_read(r, &score, sizeof(score))
                                         : rdb_load_text_double(r, &score);
        if (rc == 0)
            rc = zb_add(e, score, m.s, m.len);
        rdb_str_free(&m);
        if (rc < 0)
            goto fail;
    }
    if (zset_length(e))
        return e;
fail:
    entry_free(e);
    return NULL;
}

static entry *rdb_load_zset_listpack(rdb_reader *r, const char *key, size_t klen)
{
    rdb_str s;
    if (rdb_load_string(r, &s) < 0)
        return NULL;
    entry *e = zset_entry_new(key, klen);
    rlp_iter it;
    const char *m, *sc;
    size_t mlen, sclen;
    char mtmp[OBJ_INT_STR_MAX], stmp[OBJ_INT_STR_MAX];
    int rc = rlp_open(&it, (const unsigned char *)s.s, s.len);
    while (rc == 0 && (rc = rlp_next(&it, &m, &mlen, mtmp)) == 1) {
        double score;
        rc = rlp_next(&it, &sc, &sclen, stmp) == 1 && str_to_double(sc, sclen, &score)
                 ? zb_add(e, score, m, mlen)
                 : -1;
    }
    rdb_str_free(&s);
    if (rc < 0 || !zset_length(e)) {
        entry_free(e);
        return NULL;
    }
    return e;
}

entry *rdb_load_object(rdb_reader *r, int type, const char *key, size_t klen)
{
    switch (type) {
    case RDB_TYPE_STRING: {
        rdb_str s;
        if (rdb_load_string(r, &s) < 0)
            return NULL;
        entry *e = entry_new_string(key, klen, s.s, s.len, -1);
        rdb_str_free(&s);
        return e;
    }
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_QUICKLIST_2: return rdb_load_list(r, type, key, klen);
    case RDB_TYPE_SET: return rdb_load_set(r, key, klen);
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_SET_LISTPACK: return rdb_load_set_blob(r, type, key, klen);
    case RDB_TYPE_HASH: return rdb_load_hash(r, key, klen);
    case RDB_TYPE_HASH_LISTPACK: return rdb_load_hash_listpack(r, key, klen);
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2: return rdb_load_zset(r, type, key, klen);
    case RDB_TYPE_ZSET_LISTPACK: return rdb_load_zset_listpack(r, key, klen);
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
    case RDB_TYPE_STREAM_LISTPACKS_3: return rdb_load_stream(r, type, key, klen);
    default: return NULL;
    }
}
