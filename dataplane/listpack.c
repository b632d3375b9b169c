/* listpack: a packed sequence of strings and integers in one zmalloc block.
 *
 * Layout: [total bytes: u32][count: u32][element]...[LP_EOF]
 * An element is [encoding + data][backlen]. The encoding's first byte says what follows (as in
 * Redis's listpack):
 *   0xxxxxxx                 7-bit unsigned integer
 *   10llllll                 string of up to 63 bytes
 *   110xxxxx xxxxxxxx        13-bit signed integer
 *   1110llll llllllll        string of up to 4095 bytes
 *   11110000 l l l l         string with a 32-bit length
 *   11110001..11110100       16, 24, 32, 64-bit signed integer
 *   11111111                 end of the block
 * backlen is the size of [encoding + data] written so that it can be read backwards from the
 * element's last byte: 7 bits a byte, the rightmost byte holds the lowest bits, and every byte
 * but the leftmost has its high bit set. It is what makes lp_prev O(1).
 * Multi-byte fields are little-endian. Counts and sizes are 32-bit: a block never reaches 4 GiB
 * because callers convert to a bigger encoding long before. */
#include "listpack.h"

#include <string.h>

#include "zmalloc.h"

#define LP_HDR_SIZE 8
#define LP_EOF 0xFF

#define LP_UINT7_MASK 0x80 /* 0xxxxxxx */
#define LP_STR6 0x80       /* 10xxxxxx */
#define LP_STR6_MASK 0xC0
#define LP_INT13 0xC0 /* 110xxxxx */
#define LP_INT13_MASK 0xE0
#define LP_STR12 0xE0 /* 1110xxxx */
#define LP_STR12_MASK 0xF0
#define LP_STR32 0xF0
#define LP_INT16 0xF1
#define LP_INT24 0xF2
#define LP_INT32 0xF3
#define LP_INT64 0xF4

#define LP_STR6_MAX 63
#define LP_STR12_MAX 4095
#define LP_UINT7_MAX 127
#define LP_INT13_MIN (-4096)
#define LP_INT13_MAX 4095
#define LP_INT16_BITS 16
#define LP_INT24_BITS 24
#define LP_INT32_BITS 32

/* Largest header of an encoded element (STR32 or INT64 data) and of a backlen. */
#define LP_ENC_MAX 9
#define LP_BACKLEN_MAX 5
#define LP_BACKLEN_BITS 7
#define LP_BACKLEN_MORE 0x80
#define LP_BACKLEN_LOW 0x7F

/* ---- header ------------------------------------------------------------------------------- */

static uint32_t lp_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void lp_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

size_t lp_bytes(const unsigned char *lp)
{
    return lp_get_u32(lp);
}

uint32_t lp_count(const unsigned char *lp)
{
    return lp_get_u32(lp + 4);
}

static void lp_set_bytes(unsigned char *lp, size_t n)
{
    lp_put_u32(lp, (uint32_t)n);
}

static void lp_set_count(unsigned char *lp, uint32_t n)
{
    lp_put_u32(lp + 4, n);
}

unsigned char *lp_new(void)
{
    unsigned char *lp = zmalloc(LP_HDR_SIZE + 1);
    lp_set_bytes(lp, LP_HDR_SIZE + 1);
    lp_set_count(lp, 0);
    lp[LP_HDR_SIZE] = LP_EOF;
    return lp;
}

void lp_free(unsigned char *lp)
{
    zfree(lp);
}

unsigned char *lp_dup(const unsigned char *lp)
{
    size_t n = lp_bytes(lp);
    unsigned char *copy = zmalloc(n);
    memcpy(copy, lp, n);
    return copy;
}

/* ---- element encoding --------------------------------------------------------------------- */

/* Bytes of [encoding + data] of the element at p, judged from its first bytes. */
static uint32_t lp_enc_len(const unsigned char *p)
{
    unsigned char b = p[0];
    if ((b & LP_UINT7_MASK) == 0)
        return 1;
    if ((b & LP_STR6_MASK) == LP_STR6)
        return 1 + (b & LP_STR6_MAX);
    if ((b & LP_INT13_MASK) == LP_INT13)
        return 2;
    if ((b & LP_STR12_MASK) == LP_STR12)
        return 2 + (((uint32_t)(b & 0x0F) << 8) | p[1]);
    switch (b) {
    case LP_STR32: return 5 + lp_get_u32(p + 1);
    case LP_INT16: return 3;
    case LP_INT24: return 4;
    case LP_INT32: return 5;
    case LP_INT64: return 9;
    default: return 0; /* LP_EOF or an invalid byte */
    }
}

static unsigned lp_backlen_size(uint32_t l)
{
    unsigned n = 1;
    while (l >>= LP_BACKLEN_BITS)
        n++;
    return n;
}

static void lp_backlen_encode(unsigned char *buf, uint32_t l)
{
    unsigned n = lp_backlen_size(l);
    for (unsigned i = n; i-- > 0;) {
        buf[i] = (unsigned char)(l & LP_BACKLEN_LOW);
        if (i != 0)
            buf[i] |= LP_BACKLEN_MORE;
        l >>= LP_BACKLEN_BITS;
    }
}

/* Reads the backlen that ends at p (its last byte); *size receives its length in bytes. */
static uint32_t lp_backlen_decode(const unsigned char *p, unsigned *size)
{
    uint32_t v = 0;
    unsigned shift = 0, n = 0;
    for (;;) {
        unsigned char c = p[-(long)n];
        v |= (uint32_t)(c & LP_BACKLEN_LOW) << shift;
        n++;
        if (!(c & LP_BACKLEN_MORE) || n == LP_BACKLEN_MAX)
            break;
        shift += LP_BACKLEN_BITS;
    }
    *size = n;
    return v;
}

/* Total size of the element at p, backlen included. */
static uint32_t lp_elem_len(const unsigned char *p)
{
    uint32_t l = lp_enc_len(p);
    return l + lp_backlen_size(l);
}

static int64_t lp_sign_extend(uint64_t u, unsigned bits)
{
    uint64_t sign = 1ull << (bits - 1);
    return (int64_t)((u ^ sign) - sign);
}

static uint64_t lp_get_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void lp_put_le(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Encodes an integer into buf (LP_ENC_MAX bytes); returns the length. */
static unsigned lp_encode_int(unsigned char *buf, long long v)
{
    if (v >= 0 && v <= LP_UINT7_MAX) {
        buf[0] = (unsigned char)v;
        return 1;
    }
    if (v >= LP_INT13_MIN && v <= LP_INT13_MAX) {
        uint64_t u = (uint64_t)v;
        buf[0] = (unsigned char)(LP_INT13 | ((u >> 8) & 0x1F));
        buf[1] = (unsigned char)u;
        return 2;
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        buf[0] = LP_INT16;
        lp_put_le(buf + 1, (uint64_t)v, 2);
        return 3;
    }
    if (v >= -(1 << 23) && v < (1 << 23)) {
        buf[0] = LP_INT24;
        lp_put_le(buf + 1, (uint64_t)v, 3);
        return 4;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        buf[0] = LP_INT32;
        lp_put_le(buf + 1, (uint64_t)v, 4);
        return 5;
    }
    buf[0] = LP_INT64;
    lp_put_le(buf + 1, (uint64_t)v, 8);
    return 9;
}

/* Encodes a string's header into buf; returns its length. */
static unsigned lp_encode_str_hdr(unsigned char *buf, size_t len)
{
    if (len <= LP_STR6_MAX) {
        buf[0] = (unsigned char)(LP_STR6 | len);
        return 1;
    }
    if (len <= LP_STR12_MAX) {
        buf[0] = (unsigned char)(LP_STR12 | (len >> 8));
        buf[1] = (unsigned char)len;
        return 2;
    }
    buf[0] = LP_STR32;
    lp_put_u32(buf + 1, (uint32_t)len);
    return 5;
}

/* An element about to be written: an encoded header (the whole integer, or a string's header)
 * plus the string's bytes. */
typedef struct lp_enc {
    unsigned char hdr[LP_ENC_MAX];
    unsigned hdr_len;
    const char *data;
    size_t data_len;
    uint32_t enc_len;  /* hdr_len + data_len */
    uint32_t elem_len; /* enc_len + backlen */
} lp_enc;

static void lp_encode(lp_enc *e, const char *s, size_t len)
{
    long long v;
    if (str_to_ll(s, len, &v)) {
        e->hdr_len = lp_encode_int(e->hdr, v);
        e->data = NULL;
        e->data_len = 0;
    } else {
        e->hdr_len = lp_encode_str_hdr(e->hdr, len);
        e->data = s;
        e->data_len = len;
    }
    e->enc_len = (uint32_t)(e->hdr_len + e->data_len);
    e->elem_len = e->enc_len + lp_backlen_size(e->enc_len);
}

static void lp_write(unsigned char *dst, const lp_enc *e)
{
    memcpy(dst, e->hdr, e->hdr_len);
    if (e->data_len)
        memcpy(dst + e->hdr_len, e->data, e->data_len);
    lp_backlen_encode(dst + e->enc_len, e->enc_len);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* 1 and the value when the element at p is an integer. */
static int lp_get_int(const unsigned char *p, long long *v)
{
    unsigned char b = p[0];
    if ((b & LP_UINT7_MASK) == 0) {
        *v = b;
        return 1;
    }
    if ((b & LP_INT13_MASK) == LP_INT13) {
        *v = lp_sign_extend(((uint64_t)(b & 0x1F) << 8) | p[1], 13);
        return 1;
    }
    switch (b) {
    case LP_INT16: *v = lp_sign_extend(lp_get_le(p + 1, 2), LP_INT16_BITS); return 1;
    case LP_INT24: *v = lp_sign_extend(lp_get_le(p + 1, 3), LP_INT24_BITS); return 1;
    case LP_INT32: *v = lp_sign_extend(lp_get_le(p + 1, 4), LP_INT32_BITS); return 1;
    case LP_INT64: *v = (long long)lp_get_le(p + 1, 8); return 1;
    default: return 0;
    }
}

/* For a string element: its bytes and length. */
static const char *lp_get_str(const unsigned char *p, size_t *len)
{
    unsigned char b = p[0];
    if ((b & LP_STR6_MASK) == LP_STR6) {
        *len = b & LP_STR6_MAX;
        return (const char *)p + 1;
    }
    if ((b & LP_STR12_MASK) == LP_STR12) {
        *len = ((size_t)(b & 0x0F) << 8) | p[1];
        return (const char *)p + 2;
    }
    *len = lp_get_u32(p + 1);
    return (const char *)p + 5;
}

void lp_get(const unsigned char *p, lp_value *out, char tmp[OBJ_INT_STR_MAX])
{
    long long v;
    if (lp_get_int(p, &v)) {
        out->is_int = 1;
        out->v = v;
        out->len = (size_t)ll_to_str(tmp, v);
        out->s = tmp;
    } else {
        out->is_int = 0;
        out->v = 0;
        out->s = lp_get_str(p, &out->len);
    }
}

int lp_eq(const unsigned char *p, const char *s, size_t len)
{
    long long v;
    if (lp_get_int(p, &v)) {
        long long w;
        return str_to_ll(s, len, &w) && w == v;
    }
    size_t l;
    const char *d = lp_get_str(p, &l);
    return l == len && (len == 0 || memcmp(d, s, len) == 0);
}

/* ---- iteration ---------------------------------------------------------------------------- */

unsigned char *lp_first(const unsigned char *lp)
{
    unsigned char *p = (unsigned char *)lp + LP_HDR_SIZE;
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_last(const unsigned char *lp)
{
    unsigned char *eof = (unsigned char *)lp + lp_bytes(lp) - 1;
    return lp_prev(lp, eof);
}

unsigned char *lp_next(const unsigned char *lp, const unsigned char *p)
{
    (void)lp;
    unsigned char *n = (unsigned char *)p + lp_elem_len(p);
    return *n == LP_EOF ? NULL : n;
}

/* p may also be the terminator (lp_last's way of starting). */
unsigned char *lp_prev(const unsigned char *lp, const unsigned char *p)
{
    if (p == lp + LP_HDR_SIZE)
        return NULL;
    unsigned size;
    uint32_t enc_len = lp_backlen_decode(p - 1, &size);
    return (unsigned char *)p - size - enc_len;
}

unsigned char *lp_seek(const unsigned char *lp, long index)
{
    long count = (long)lp_count(lp);
    if (index < 0)
        index += count;
    if (index < 0 || index >= count)
        return NULL;
    /* Walk from whichever end is nearer. */
    if (index <= count / 2) {
        unsigned char *p = lp_first(lp);
        while (index-- > 0)
            p = lp_next(lp, p);
        return p;
    }
    unsigned char *p = lp_last(lp);
    for (long i = count - 1; i > index; i--)
        p = lp_prev(lp, p);
    return p;
}

/* ---- modification ------------------------------------------------------------------------- */

/* Replaces old_len bytes at offset off with new_len bytes (left uninitialised for the caller to
 * fill), moving the tail. Returns the block's new address. */
static unsigned char *lp_splice(unsigned char *lp, size_t off, size_t old_len, size_t new_len)
{
    size_t bytes = lp_bytes(lp);
    size_t tail = bytes - off - old_len;
    size_t nbytes = bytes - old_len + new_len;
    if (new_len > old_len) {
        lp = zrealloc(lp, nbytes);
        memmove(lp + off + new_len, lp + off + old_len, tail);
    } else if (new_len < old_len) {
        memmove(lp + off + new_len, lp + off + old_len, tail);
        lp = zrealloc(lp, nbytes);
    }
    lp_set_bytes(lp, nbytes);
    return lp;
}

/* Inserts s/len at byte offset off (an element's start or the terminator). */
static unsigned char *lp_insert_at(unsigned char *lp, size_t off, const char *s, size_t len,
                                   unsigned char **newp)
{
    lp_enc e;
    lp_encode(&e, s, len);
    lp = lp_splice(lp, off, 0, e.elem_len);
    lp_write(lp + off, &e);
    lp_set_count(lp, lp_count(lp) + 1);
    if (newp)
        *newp = lp + off;
    return lp;
}

unsigned char *lp_append(unsigned char *lp, const char *s, size_t len)
{
    return lp_insert_at(lp, lp_bytes(lp) - 1, s, len, NULL);
}

unsigned char *lp_prepend(unsigned char *lp, const char *s, size_t len)
{
    return lp_insert_at(lp, LP_HDR_SIZE, s, len, NULL);
}

unsigned char *lp_insert(unsigned char *lp, unsigned char *p, int after, const char *s, size_t len,
                         unsigned char **newp)
{
    size_t off = (size_t)(p - lp);
    if (after)
        off += lp_elem_len(p);
    return lp_insert_at(lp, off, s, len, newp);
}

unsigned char *lp_replace(unsigned char *lp, unsigned char *p, const char *s, size_t len,
                          unsigned char **newp)
{
    size_t off = (size_t)(p - lp);
    lp_enc e;
    lp_encode(&e, s, len);
    /* s may point into this very block (copying one element over another), and the splice
     * moves or reallocates it: work from a copy then. */
    char *copy = NULL;
    if (e.data && (const unsigned char *)e.data >= lp &&
        (const unsigned char *)e.data < lp + lp_bytes(lp)) {
        copy = zmalloc(e.data_len);
        memcpy(copy, e.data, e.data_len);
        e.data = copy;
    }
    lp = lp_splice(lp, off, lp_elem_len(p), e.elem_len);
    lp_write(lp + off, &e);
    zfree(copy);
    if (newp)
        *newp = lp + off;
    return lp;
}

unsigned char *lp_delete(unsigned char *lp, unsigned char *p, unsigned char **newp)
{
    size_t off = (size_t)(p - lp);
    lp = lp_splice(lp, off, lp_elem_len(p), 0);
    lp_set_count(lp, lp_count(lp) - 1);
    if (newp)
        *newp = lp[off] == LP_EOF ? NULL : lp + off;
    return lp;
}

unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long count)
{
    unsigned char *first = lp_seek(lp, index);
    if (!first || count == 0)
        return lp;
    unsigned char *p = first;
    unsigned long n = 0;
    while (n < count && *p != LP_EOF) {
        p += lp_elem_len(p);
        n++;
    }
    size_t off = (size_t)(first - lp);
    lp = lp_splice(lp, off, (size_t)(p - first), 0);
    lp_set_count(lp, lp_count(lp) - (uint32_t)n);
    return lp;
}

unsigned char *lp_split(unsigned char *lp, unsigned char *p, unsigned char **tail)
{
    size_t off = (size_t)(p - lp);
    size_t moved = lp_bytes(lp) - 1 - off;
    uint32_t n = 0;
    for (unsigned char *q = p; *q != LP_EOF; q += lp_elem_len(q))
        n++;
    unsigned char *t = zmalloc(LP_HDR_SIZE + moved + 1);
    memcpy(t + LP_HDR_SIZE, p, moved);
    t[LP_HDR_SIZE + moved] = LP_EOF;
    lp_set_bytes(t, LP_HDR_SIZE + moved + 1);
    lp_set_count(t, n);
    *tail = t;
    lp = lp_splice(lp, off, moved, 0);
    lp_set_count(lp, lp_count(lp) - n);
    return lp;
}

unsigned char *lp_find(const unsigned char *lp, unsigned char *p, const char *s, size_t len,
                       unsigned skip)
{
    /* Decide once whether s is an integer, then compare encodings cheaply. */
    long long want;
    int want_int = str_to_ll(s, len, &want);
    while (p) {
        long long v;
        if (lp_get_int(p, &v)) {
            if (want_int && v == want)
                return p;
        } else if (!want_int) {
            size_t l;
            const char *d = lp_get_str(p, &l);
            if (l == len && (len == 0 || memcmp(d, s, len) == 0))
                return p;
        }
        for (unsigned i = 0; i <= skip && p; i++)
            p = lp_next(lp, p);
    }
    return NULL;
}

/* ---- validation --------------------------------------------------------------------------- */

/* 1 when the element at p lies within [p, end) and its backlen agrees with its encoding;
 * *len receives its total size. */
static int lp_validate_elem(const unsigned char *p, const unsigned char *end, uint32_t *len)
{
    unsigned char b = p[0];
    size_t avail = (size_t)(end - p);
    /* The header bytes that lp_enc_len reads must be inside the block. */
    size_t need_hdr = 1;
    if ((b & LP_UINT7_MASK) != 0 && (b & LP_STR6_MASK) != LP_STR6) {
        if ((b & LP_INT13_MASK) == LP_INT13 || (b & LP_STR12_MASK) == LP_STR12)
            need_hdr = 2;
        else if (b == LP_STR32)
            need_hdr = 5;
        else if (b < LP_INT16 || b > LP_INT64)
            return 0;
    }
    if (avail < need_hdr)
        return 0;
    /* A 32-bit string length could overflow lp_enc_len's sum: bound it first. */
    if (b == LP_STR32 && lp_get_u32(p + 1) > avail)
        return 0;
    uint64_t enc_len = lp_enc_len(p);
    if (enc_len == 0)
        return 0;
    uint64_t total = enc_len + lp_backlen_size((uint32_t)enc_len);
    if (enc_len > UINT32_MAX || total > avail)
        return 0;
    unsigned size;
    if (lp_backlen_decode(p + total - 1, &size) != enc_len ||
        size != lp_backlen_size((uint32_t)enc_len))
        return 0;
    *len = (uint32_t)total;
    return 1;
}

int lp_validate(const unsigned char *lp, size_t bytes)
{
    if (!lp || bytes < LP_HDR_SIZE + 1 || lp_bytes(lp) != bytes || lp[bytes - 1] != LP_EOF)
        return 0;
    const unsigned char *end = lp + bytes - 1; /* the terminator */
    const unsigned char *p = lp + LP_HDR_SIZE;
    uint64_t n = 0;
    while (p < end) {
        uint32_t len;
        if (!lp_validate_elem(p, end, &len))
            return 0;
        p += len;
        n++;
    }
    return p == end && n == lp_count(lp);
}
