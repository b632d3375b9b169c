/* LZF (liblzf's format). A compressed stream is a sequence of
 *   literal run:  000LLLLL, then L+1 bytes (1..32) copied as they are;
 *   back reference: LLLOOOOO [LLLLLLLL if LLL is 7] OOOOOOOO: copy len+2 bytes starting
 *                 offset+1 bytes back in the output (len 1..264, offset 0..8191).
 * The compressor finds matches through a hash table of the last position of every 3-byte
 * sequence, like liblzf; it need not produce liblzf's exact bytes, only a valid stream. */
#include "lzf.h"

#include <stdint.h>
#include <string.h>

#define LZF_MAX_LITERAL 32          /* bytes in one literal run */
#define LZF_MAX_OFFSET (1 << 13)    /* back references reach this far */
#define LZF_SHORT_LEN_MAX 7         /* len field value meaning "a length byte follows" */
#define LZF_MIN_MATCH 3             /* shorter matches do not pay */
#define LZF_MAX_MATCH (7 + 255 + 2) /* the longest match a reference can encode */
#define LZF_HASH_LOG 14
#define LZF_HASH_SIZE (1u << LZF_HASH_LOG)
#define LZF_HASH_MUL 2654435761u /* Knuth's multiplicative hash */

#define LZF_HASH_LOG_MIN 8

static uint32_t lzf_hash(const uint8_t *p, int hlog)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * LZF_HASH_MUL) >> (32 - hlog);
}

/* A hash table about twice the input's size (within limits): clearing it costs in proportion
 * to the input, which matters when many short strings are compressed (snapshots). */
static int lzf_hash_log(size_t in_len)
{
    int hlog = LZF_HASH_LOG_MIN;
    while (hlog < LZF_HASH_LOG && ((size_t)1 << hlog) < 2 * in_len)
        hlog++;
    return hlog;
}

/* Output state: op the next byte, ctrl the pending literal run's control byte. */
typedef struct lzf_out {
    uint8_t *op, *end;
    uint8_t *ctrl;
    int lit; /* bytes in the pending literal run */
} lzf_out;

/* Reserves the control byte of a new literal run. 0 when out of room. */
static int lzf_open_run(lzf_out *o)
{
    if (o->op >= o->end)
        return 0;
    o->ctrl = o->op++;
    o->lit = 0;
    return 1;
}

/* Finishes the pending run; an empty one gives its control byte back. */
static void lzf_close_run(lzf_out *o)
{
    if (o->lit)
        *o->ctrl = (uint8_t)(o->lit - 1);
    else
        o->op--;
}

static int lzf_literal(lzf_out *o, uint8_t c)
{
    if (o->op >= o->end)
        return 0;
    *o->op++ = c;
    if (++o->lit == LZF_MAX_LITERAL) {
        lzf_close_run(o);
        return lzf_open_run(o);
    }
    return 1;
}

static int lzf_backref(lzf_out *o, size_t len, size_t off)
{
    lzf_close_run(o);
    size_t l = len - 2;
    if ((size_t)(o->end - o->op) < 3)
        return 0;
    if (l < LZF_SHORT_LEN_MAX) {
        *o->op++ = (uint8_t)(l << 5 | off >> 8);
    } else {
        *o->op++ = (uint8_t)(LZF_SHORT_LEN_MAX << 5 | off >> 8);
        *o->op++ = (uint8_t)(l - LZF_SHORT_LEN_MAX);
    }
    *o->op++ = (uint8_t)(off & 0xff);
    return lzf_open_run(o);
}

size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_len)
{
    if (!in_len || !out_len)
        return 0;
    const uint8_t *base = in, *ip = base, *in_end = base + in_len;
    /* Positions + 1 (0: empty); one table per thread, cleared as far as this input uses it. */
    static _Thread_local uint32_t htab[LZF_HASH_SIZE];
    int hlog = lzf_hash_log(in_len);
    memset(htab, 0, ((size_t)1 << hlog) * sizeof(uint32_t));
    lzf_out o = {out, (uint8_t *)out + out_len, NULL, 0};
    int ok = lzf_open_run(&o);
    while (ok && in_end - ip >= LZF_MIN_MATCH) {
        uint32_t h = lzf_hash(ip, hlog);
        size_t pos = (size_t)(ip - base);
        const uint8_t *ref = htab[h] ? base + htab[h] - 1 : NULL;
        htab[h] = (uint32_t)(pos + 1);
        if (ref && (size_t)(ip - ref) <= LZF_MAX_OFFSET && memcmp(ref, ip, LZF_MIN_MATCH) == 0) {
            size_t max = (size_t)(in_end - ip), len = LZF_MIN_MATCH;
            if (max > LZF_MAX_MATCH)
                max = LZF_MAX_MATCH;
            while (len < max && ref[len] == ip[len])
                len++;
            ok = lzf_backref(&o, len, (size_t)(ip - ref) - 1);
            ip += len;
        } else {
            ok = lzf_literal(&o, *ip++);
        }
    }
    while (ok && ip < in_end)
        ok = lzf_literal(&o, *ip++);
    if (!ok)
        return 0;
    lzf_close_run(&o);
    return (size_t)(o.op - (uint8_t *)out);
}

size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_len)
{
    const uint8_t *ip = in, *in_end = ip + in_len;
    uint8_t *op = out, *out_start = out, *out_end = op + out_len;
    while (ip < in_end) {
        unsigned ctrl = *ip++;
        if (ctrl < LZF_MAX_LITERAL) {
            size_t n = ctrl + 1;
            if ((size_t)(in_end - ip) < n || (size_t)(out_end - op) < n)
                return 0;
            memcpy(op, ip, n);
            op += n;
            ip += n;
            continue;
        }
        size_t len = ctrl >> 5;
        if (len == LZF_SHORT_LEN_MAX) {
            if (ip >= in_end)
                return 0;
            len += *ip++;
        }
        if (ip >= in_end)
            return 0;
        size_t back = ((size_t)(ctrl & 0x1f) << 8) + *ip++ + 1;
        len += 2;
        if ((size_t)(op - out_start) < back || (size_t)(out_end - op) < len)
            return 0;
        const uint8_t *ref = op - back;
        for (size_t i = 0; i < len; i++) /* byte by byte: the source may overlap the copy */
            op[i] = ref[i];
        op += len;
    }
    return (size_t)(op - out_start);
}
