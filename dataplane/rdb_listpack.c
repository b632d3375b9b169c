/* Redis's listpack byte format: writer and checking reader (see rdb_listpack.h). */
#include "rdb_listpack.h"

#include <string.h>

#define RLP_HEADER_SIZE 6 /* total bytes (4) and element count (2) */
#define RLP_EOF 0xFF
#define RLP_COUNT_UNKNOWN 65535
#define RLP_MIN_SIZE (RLP_HEADER_SIZE + 1)

/* Encoding bytes and masks (Redis's LP_ENCODING_*). */
#define RLP_UINT7_MASK 0x80
#define RLP_UINT7_MAX 127
#define RLP_STR6 0x80
#define RLP_STR6_MASK 0xC0
#define RLP_STR6_MAX 63
#define RLP_INT13 0xC0
#define RLP_INT13_MASK 0xE0
#define RLP_INT13_BITS 13
#define RLP_STR12 0xE0
#define RLP_STR12_MASK 0xF0
#define RLP_STR12_MAX 4095
#define RLP_STR32 0xF0
#define RLP_INT16 0xF1
#define RLP_INT24 0xF2
#define RLP_INT32 0xF3
#define RLP_INT64 0xF4

/* Backlen limits: the element lengths that fit in 1, 2, 3 and 4 backlen bytes. */
static const uint64_t rlp_backlen_max[] = {127, 16382, 2097150, 268435454};
#define RLP_BACKLEN_MAX_BYTES 5
#define RLP_BACKLEN_BITS 7
#define RLP_BACKLEN_MORE 0x80

static int rlp_backlen_size(uint64_t l)
{
    int n = 1;
    for (size_t i = 0; i < sizeof(rlp_backlen_max) / sizeof(rlp_backlen_max[0]); i++, n++)
        if (l <= rlp_backlen_max[i])
            return n;
    return RLP_BACKLEN_MAX_BYTES;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void rlp_writer_init(rlp_writer *w)
{
    buf_init(&w->b);
    unsigned char hdr[RLP_HEADER_SIZE] = {0};
    buf_append(&w->b, hdr, sizeof(hdr));
    w->count = 0;
}

/* The encoding of an integer (Redis's lpEncodeIntegerGetType); returns its size. */
static int rlp_encode_int(unsigned char *p, long long v)
{
    if (v >= 0 && v <= RLP_UINT7_MAX) {
        p[0] = (unsigned char)v;
        return 1;
    }
    if (v >= -4096 && v <= 4095) {
        uint64_t u = v < 0 ? (uint64_t)((1 << RLP_INT13_BITS) + v) : (uint64_t)v;
        p[0] = (unsigned char)(RLP_INT13 | (u >> 8));
        p[1] = (unsigned char)(u & 0xff);
        return 2;
    }
    int n;
    if (v >= INT16_MIN && v <= INT16_MAX) {
        p[0] = RLP_INT16;
        n = 2;
    } else if (v >= -(1 << 23) && v <= (1 << 23) - 1) {
        p[0] = RLP_INT24;
        n = 3;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        p[0] = RLP_INT32;
        n = 4;
    } else {
        p[0] = RLP_INT64;
        n = 8;
    }
    put_le(p + 1, (uint64_t)v, n);
    return n + 1;
}

static int rlp_encode_str_header(unsigned char *p, size_t len)
{
    if (len <= RLP_STR6_MAX) {
        p[0] = (unsigned char)(RLP_STR6 | len);
        return 1;
    }
    if (len <= RLP_STR12_MAX) {
        p[0] = (unsigned char)(RLP_STR12 | (len >> 8));
        p[1] = (unsigned char)(len & 0xff);
        return 2;
    }
    p[0] = RLP_STR32;
    put_le(p + 1, len, 4);
    return 5;
}

static void rlp_append_backlen(buf *b, uint64_t l)
{
    unsigned char bl[RLP_BACKLEN_MAX_BYTES];
    int n = rlp_backlen_size(l);
    bl[0] = (unsigned char)(l >> (RLP_BACKLEN_BITS * (n - 1)));
    for (int i = 1; i < n; i++)
        bl[i] =
            (unsigned char)(((l >> (RLP_BACKLEN_BITS * (n - 1 - i))) & 0x7f) | RLP_BACKLEN_MORE);
    buf_append(b, bl, (size_t)n);
}

void rlp_append(rlp_writer *w, const char *s, size_t len)
{
    unsigned char hdr[9];
    long long v;
    size_t n;
    if (len <= OBJ_INT_STR_MAX && str_to_ll(s, len, &v)) {
        n = (size_t)rlp_encode_int(hdr, v);
        buf_append(&w->b, hdr, n);
    } else {
        n = (size_t)rlp_encode_str_header(hdr, len);
        buf_append(&w->b, hdr, n);
        buf_append(&w->b, s, len);
        n += len;
    }
    rlp_append_backlen(&w->b, n);
    w->count++;
}

void rlp_finish(rlp_writer *w)
{
    buf_append_char(&w->b, (char)RLP_EOF);
    unsigned char *p = (unsigned char *)w->b.data;
    put_le(p, w->b.len, 4);
    put_le(p + 4, w->count < RLP_COUNT_UNKNOWN ? w->count : RLP_COUNT_UNKNOWN, 2);
}

void rlp_writer_free(rlp_writer *w)
{
    buf_free(&w->b);
}

int rlp_open(rlp_iter *it, const unsigned char *lp, size_t len)
{
    if (len < RLP_MIN_SIZE || get_le(lp, 4) != len || lp[len - 1] != RLP_EOF)
        return -1;
    it->p = lp + RLP_HEADER_SIZE;
    it->end = lp + len - 1;
    it->header_count = (uint32_t)get_le(lp + 4, 2);
    it->seen = 0;
    return 0;
}

static long long sign_extend(uint64_t u, int bits)
{
    uint64_t sign = 1ULL << (bits - 1);
    if (bits < 64 && (u & sign))
        u |= ~((1ULL << bits) - 1);
    return (long long)u;
}

/* Decodes the encoding at p (avail bytes before the terminator): the header size, and either
 * the string length (*is_str) or the integer. -1 when it does not fit. */
static int rlp_decode_header(const unsigned char *p, size_t avail, size_t *hdr, uint64_t *slen,
                             long long *v, int *is_str)
{
    unsigned b = p[0];
    int n = 0; /* integer data bytes after the encoding byte */
    *is_str = 0;
    if (!(b & RLP_UINT7_MASK)) {
        *hdr = 1;
        *v = b;
        return 0;
    }
    if ((b & RLP_STR6_MASK) == RLP_STR6) {
        *hdr = 1;
        *slen = b & RLP_STR6_MAX;
        *is_str = 1;
        return 0;
    }
    if ((b & RLP_INT13_MASK) == RLP_INT13) {
        if (avail < 2)
            return -1;
        *hdr = 2;
        *v = sign_extend(((uint64_t)(b & 0x1f) << 8) | p[1], RLP_INT13_BITS);
        return 0;
    }
    if ((b & RLP_STR12_MASK) == RLP_STR12) {
        if (avail < 2)
            return -1;
        *hdr = 2;
        *slen = ((uint64_t)(b & 0x0f) << 8) | p[1];
        *is_str = 1;
        return 0;
    }
    switch (b) {
    case RLP_STR32:
        if (avail < 5)
            return -1;
        *hdr = 5;
        *slen = get_le(p + 1, 4);
        *is_str = 1;
        return 0;
    case RLP_INT16: n = 2; break;
    case RLP_INT24: n = 3; break;
    case RLP_INT32: n = 4; break;
    case RLP_INT64: n = 8; break;
    default: return -1;
    }
    if (avail < (size_t)n + 1)
        return -1;
    *hdr = (size_t)n + 1;
    *v = sign_extend(get_le(p + 1, n), n * 8);
    return 0;
}

/* 1 when the backlen at p (n bytes) encodes l. */
static int rlp_backlen_ok(const unsigned char *p, int n, uint64_t l)
{
    uint64_t v = 0;
    int shift = 0;
    for (int i = n - 1; i >= 0; i--, shift += RLP_BACKLEN_BITS) {
        v |= (uint64_t)(p[i] & 0x7f) << shift;
        if ((i > 0) != ((p[i] & RLP_BACKLEN_MORE) != 0))
            return 0;
    }
    return v == l;
}

int rlp_next(rlp_iter *it, const char **s, size_t *len, char tmp[OBJ_INT_STR_MAX])
{
    if (it->p == it->end)
        return it->header_count == RLP_COUNT_UNKNOWN || it->header_count == it->seen ? 0 : -1;
    size_t avail = (size_t)(it->end - it->p), hdr;
    uint64_t slen = 0;
    long long v = 0;
    int is_str;
    if (rlp_decode_header(it->p, avail, &hdr, &slen, &v, &is_str) < 0)
        return -1;
    uint64_t elen = hdr + (is_str ? slen : 0);
    if (slen > avail || elen > avail)
        return -1;
    int bl = rlp_backlen_size(elen);
    if (avail - elen < (uint64_t)bl || !rlp_backlen_ok(it->p + elen, bl, elen))
        return -1;
    if (is_str) {
        *s = (const char *)it->p + hdr;
        *len = (size_t)slen;
    } else {
        *len = (size_t)ll_to_str(tmp, v);
        *s = tmp;
    }
    it->p += elen + (uint64_t)bl;
    it->seen++;
    return 1;
}
