/* Bit commands on strings (Redis's bitops.c): SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
 * BITFIELD_RO.
 *
 * A string is a bit array, bit 0 being the most significant bit of byte 0. Reads treat a missing
 * key or the bytes past the end as zeros; writes grow the value (zero-filled) as far as they
 * reach, which turns it into a raw string, as in Redis. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "reply.h"
#include "server.h"

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE "ERR bit is not an integer or out of range"
#define ERR_BITPOS_BIT "ERR The bit argument must be 1 or 0."
#define ERR_BITOP_NOT "ERR BITOP NOT must be called with a single source key."
#define ERR_BITFIELD_TYPE                                                                          \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "    \
    "i64 is."
#define ERR_BITFIELD_OVERFLOW "ERR Invalid OVERFLOW type specified"
#define ERR_BITFIELD_RO "ERR BITFIELD_RO only supports the GET subcommand"

#define BITS_PER_BYTE 8
#define BITFIELD_MAX_SIGNED_BITS 64
#define BITFIELD_MAX_UNSIGNED_BITS 63
/* A bitfield of up to 64 bits at any bit offset spans at most this many bytes. */
#define BITFIELD_MAX_BYTES 9

/* Redis's getBitOffsetFromArgument: a bit offset below proto-max-bulk-len bytes. With `hash`,
 * "#N" means the N-th field of `bits` bits (BITFIELD). */
static int bit_offset_or_reply(cmd_ctx *c, const slice *a, int hash, int bits, uint64_t *out)
{
    int usehash = hash && bits > 0 && a->len && a->p[0] == '#';
    long long off;
    if (!str_to_ll(a->p + usehash, a->len - (size_t)usehash, &off) ||
        __builtin_mul_overflow(off, usehash ? bits : 1, &off) || off < 0 ||
        (off >> 3) >= server.cfg.proto_max_bulk_len) {
        reply_error(c, ERR_BIT_OFFSET);
        return -1;
    }
    *out = (uint64_t)off;
    return 0;
}

/* Redis's lookupStringForBitCommand: the raw string at argv[1], created or grown (zero-filled)
 * to hold bit `maxbit`. Returns NULL after replying WRONGTYPE. *dirty (when not NULL) tells
 * whether the key was created or grown. */
static entry *string_for_bit_write(cmd_ctx *c, uint64_t maxbit, int *dirty)
{
    const slice *key = &c->argv[1];
    size_t need = (size_t)(maxbit >> 3) + 1;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (db_wrong_type(c, e, OBJ_STRING))
        return NULL;
    int grown = 0;
    if (!e) {
        e = entry_new_raw(key->p, key->len, NULL, need, need, -1);
        db_add(c, e);
        grown = 1;
    } else {
        if (e->enc != ENC_RAW)
            e = db_replace(c, e, entry_string_to_raw(e, need));
        rawstr *r = entry_ptr(e);
        if (r->len < need) {
            entry_raw_resize(e, need);
            grown = 1;
        }
    }
    if (dirty)
        *dirty = grown;
    return e;
}

static unsigned char *raw_bytes(entry *e)
{
    return (unsigned char *)((rawstr *)entry_ptr(e))->data;
}

/* ---- SETBIT, GETBIT ---------------------------------------------------------------------- */

/* SETBIT key offset value: replies the bit's old value. */
static void setbit_cmd(cmd_ctx *c)
{
    uint64_t bitoffset;
    long long on;
    if (bit_offset_or_reply(c, &c->argv[2], 0, 0, &bitoffset) ||
        arg_ll_or_reply(c, &c->argv[3], &on, ERR_BIT_VALUE))
        return;
    if (on & ~1LL) {
        reply_error(c, ERR_BIT_VALUE);
        return;
    }
    int dirty;
    entry *e = string_for_bit_write(c, bitoffset, &dirty);
    if (!e)
        return;
    unsigned char *p = raw_bytes(e) + (bitoffset >> 3);
    int bit = 7 - (int)(bitoffset & 7);
    int bitval = (*p >> bit) & 1;
    if (dirty || bitval != on) {
        *p = (unsigned char)((*p & ~(1 << bit)) | ((int)on << bit));
        db_signal_modified(c, c->argv[1].p, c->argv[1].len);
        db_notify(c, NOTIFY_STRING, "setbit", c->argv[1].p, c->argv[1].len);
    }
    reply_int(c, bitval);
}

/* GETBIT key offset */
static void getbit_cmd(cmd_ctx *c)
{
    uint64_t bitoffset;
    if (bit_offset_or_reply(c, &c->argv[2], 0, 0, &bitoffset))
        return;
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const unsigned char *s = (const unsigned char *)entry_str(e, tmp, &len);
    uint64_t byte = bitoffset >> 3;
    int bitval = byte < len ? (s[byte] >> (7 - (bitoffset & 7))) & 1 : 0;
    reply_int(c, bitval);
}

/* ---- BITCOUNT, BITPOS -------------------------------------------------------------------- */

static long long popcount(const unsigned char *p, size_t n)
{
    long long count = 0;
    size_t i = 0;
    for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        count += __builtin_popcountll(w);
    }
    for (; i < n; i++)
        count += __builtin_popcount(p[i]);
    return count;
}

/* Redis's redisBitpos: the position of the first bit equal to `bit` in p[0..n). When there is
 * none: -1 looking for a 1, n*8 looking for a 0 (the string is as if followed by zeros). */
static long long first_bit(const unsigned char *p, size_t n, int bit)
{
    unsigned char skip = bit ? 0x00 : 0xff; /* bytes that cannot hold the bit looked for */
    size_t i = 0;
    for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        if (w != (bit ? 0 : UINT64_MAX))
            break;
    }
    for (; i < n && p[i] == skip; i++)
        ;
    if (i == n)
        return bit ? -1 : (long long)n * BITS_PER_BYTE;
    unsigned char b = bit ? p[i] : (unsigned char)~p[i];
    return (long long)i * BITS_PER_BYTE + __builtin_clz((unsigned)b) -
           (int)(8 * sizeof(unsigned) - 8);
}

/* A BITCOUNT/BITPOS range resolved to bytes [start, end]; with BIT units, masks of the bits of
 * the first and last byte that lie outside the range. empty: nothing is in range. */
typedef struct bit_range {
    long long start, end;
    unsigned char first_mask, last_mask;
    int empty;
} bit_range;

/* Converts start/end (negative counting from the end, in bytes or in bits with is_bit) over a
 * string of len bytes, as Redis's bitcountCommand and bitposCommand do. */
static bit_range bit_range_resolve(long long start, long long end, long long len, int is_bit)
{
    bit_range r = {0};
    long long total = is_bit ? len * BITS_PER_BYTE : len;
    if (start < 0)
        start += total;
    if (end < 0)
        end += total;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= total)
        end = total - 1;
    if (is_bit && start <= end) {
        r.first_mask = (unsigned char)(~((1u << (8 - (start & 7))) - 1) & 0xff);
        r.last_mask = (unsigned char)((1u << (7 - (end & 7))) - 1);
        start >>= 3;
        end >>= 3;
    }
    r.start = start;
    r.end = end;
    r.empty = start > end;
    return r;
}

/* The BYTE|BIT argument at argv[i]; 0 for byte, 1 for bit, -1 after a syntax error reply. */
static int bit_unit_or_reply(cmd_ctx *c, int i)
{
    if (arg_eq(&c->argv[i], "bit"))
        return 1;
    if (arg_eq(&c->argv[i], "byte"))
        return 0;
    reply_syntax_error(c);
    return -1;
}

/* BITCOUNT key [start end [BYTE|BIT]] */
static void bitcount_cmd(cmd_ctx *c)
{
    /* Redis 7.0 looks the key up before it reads the range: a missing key counts 0 whatever
     * the arguments. */
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const unsigned char *p = (const unsigned char *)entry_str(e, tmp, &len);
    bit_range r = {.start = 0, .end = (long long)len - 1};
    if (c->argc == 4 || c->argc == 5) {
        long long start, end;
        int is_bit = 0;
        if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) ||
            arg_ll_or_reply(c, &c->argv[3], &end, NULL))
            return;
        if (start < 0 && end < 0 && start > end) {
            reply_int(c, 0);
            return;
        }
        if (c->argc == 5 && (is_bit = bit_unit_or_reply(c, 4)) < 0)
            return;
        r = bit_range_resolve(start, end, (long long)len, is_bit);
    } else if (c->argc != 2) {
        reply_syntax_error(c);
        return;
    }
    r.empty = r.start > r.end;
    if (r.empty) {
        reply_int(c, 0);
        return;
    }
    long long count = popcount(p + r.start, (size_t)(r.end - r.start + 1));
    /* Bits of the edge bytes outside a BIT range were counted: take them back. */
    count -= __builtin_popcount(p[r.start] & r.first_mask);
    count -= __builtin_popcount(p[r.end] & r.last_mask);
    reply_int(c, count);
}

/* Redis's bitposCommand search over a resolved range: the edge bytes are searched with the bits
 * outside the range forced to the value not looked for. Returns the position relative to the
 * range's first byte, as first_bit does, and in *bytes the bytes searched last. */
static long long bitpos_search(const unsigned char *p, bit_range *r, int bit, long *bytes)
{
    *bytes = (long)(r->end - r->start + 1);
    unsigned char c;
    long long pos;
    if (r->first_mask) {
        c = bit ? p[r->start] & ~r->first_mask : p[r->start] | r->first_mask;
        if (r->last_mask && *bytes == 1)
            c = bit ? c & ~r->last_mask : c | r->last_mask;
        pos = first_bit(&c, 1, bit);
        if (*bytes == 1 || (pos != -1 && pos != BITS_PER_BYTE))
            return pos;
        r->start++;
        (*bytes)--;
    }
    long curbytes = *bytes - (r->last_mask ? 1 : 0);
    if (curbytes > 0) {
        pos = first_bit(p + r->start, (size_t)curbytes, bit);
        if (*bytes == curbytes || (pos != -1 && pos != (long long)curbytes * BITS_PER_BYTE))
            return pos;
        r->start += curbytes;
        *bytes -= curbytes;
    }
    c = bit ? p[r->end] & ~r->last_mask : p[r->end] | r->last_mask;
    return first_bit(&c, 1, bit);
}

/* BITPOS key bit [start [end [BYTE|BIT]]] */
static void bitpos_cmd(cmd_ctx *c)
{
    long long bit;
    if (arg_ll_or_reply(c, &c->argv[2], &bit, NULL))
        return;
    if (bit != 0 && bit != 1) {
        reply_error(c, ERR_BITPOS_BIT);
        return;
    }
    /* A missing key is an endless run of zeros. */
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_int(c, bit ? -1 : 0);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const unsigned char *p = (const unsigned char *)entry_str(e, tmp, &len);
    bit_range r = {.start = 0, .end = (long long)len - 1};
    int end_given = 0;
    if (c->argc >= 4 && c->argc <= 6) {
        long long start, end;
        int is_bit = 0;
        if (arg_ll_or_reply(c, &c->argv[3], &start, NULL))
            return;
        if (c->argc == 6 && (is_bit = bit_unit_or_reply(c, 5)) < 0)
            return;
        if (c->argc >= 5) {
            if (arg_ll_or_reply(c, &c->argv[4], &end, NULL))
                return;
            end_given = 1;
        } else {
            end = (long long)len - 1;
        }
        r = bit_range_resolve(start, end, (long long)len, is_bit);
    } else if (c->argc != 3) {
        reply_syntax_error(c);
        return;
    }
    if (r.start > r.end) {
        reply_int(c, -1);
        return;
    }
    long bytes;
    long long pos = bitpos_search(p, &r, (int)bit, &bytes);
    /* Looking for a 0 in an explicit range, "the first bit after the range" is not an answer:
     * the range holds no clear bit. */
    if (end_given && bit == 0 && pos == (long long)bytes * BITS_PER_BYTE) {
        reply_int(c, -1);
        return;
    }
    if (pos != -1)
        pos += r.start * BITS_PER_BYTE;
    reply_int(c, pos);
}

/* ---- BITOP ------------------------------------------------------------------------------- */

enum bitop_op { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

typedef struct bitop_src {
    const unsigned char *p;
    size_t len;
    char tmp[OBJ_INT_STR_MAX];
} bitop_src;

static unsigned char bitop_byte(enum bitop_op op, const bitop_src *src, int n, size_t i)
{
    unsigned char acc = i < src[0].len ? src[0].p[i] : 0;
    if (op == BITOP_NOT)
        return (unsigned char)~acc;
    for (int j = 1; j < n; j++) {
        unsigned char b = i < src[j].len ? src[j].p[i] : 0;
        if (op == BITOP_AND)
            acc &= b;
        else if (op == BITOP_OR)
            acc |= b;
        else
            acc ^= b;
    }
    return acc;
}

/* dst[0..n) = op over the sources; bytes a source lacks count as zeros. Whole words over the
 * prefix every source covers, then byte by byte. */
static void bitop_compute(enum bitop_op op, const bitop_src *src, int nsrc, unsigned char *dst,
                          size_t n)
{
    size_t minlen = src[0].len;
    for (int j = 1; j < nsrc; j++)
        if (src[j].len < minlen)
            minlen = src[j].len;
    size_t i = 0;
    for (; i + sizeof(uint64_t) <= minlen; i += sizeof(uint64_t)) {
        uint64_t acc, w;
        memcpy(&acc, src[0].p + i, sizeof(acc));
        if (op == BITOP_NOT)
            acc = ~acc;
        for (int j = 1; j < nsrc; j++) {
            memcpy(&w, src[j].p + i, sizeof(w));
            if (op == BITOP_AND)
                acc &= w;
            else if (op == BITOP_OR)
                acc |= w;
            else
                acc ^= w;
        }
        memcpy(dst + i, &acc, sizeof(acc));
    }
    for (; i < n; i++)
        dst[i] = bitop_byte(op, src, nsrc, i);
}

static int bitop_parse(const slice *a, enum bitop_op *op)
{
    static const char *const names[] = {"and", "or", "xor", "not"};
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        if (arg_eq(a, names[i])) {
            *op = (enum bitop_op)i;
            return 0;
        }
    }
    return -1;
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...]: replies the length of the result, which replaces
 * destkey (deleted when every source is empty). */
static void bitop_cmd(cmd_ctx *c)
{
    enum bitop_op op;
    if (bitop_parse(&c->argv[1], &op)) {
        reply_syntax_error(c);
        return;
    }
    if (op == BITOP_NOT && c->argc != 4) {
        reply_error(c, ERR_BITOP_NOT);
        return;
    }
    int nsrc = c->argc - 3;
    bitop_src *src = mem_malloc(sizeof(bitop_src) * (size_t)nsrc);
    size_t maxlen = 0;
    for (int j = 0; j < nsrc; j++) {
        const slice *k = &c->argv[3 + j];
        entry *e = db_lookup_read(c, k->p, k->len);
        src[j].p = NULL;
        src[j].len = 0;
        if (!e)
            continue;
        if (db_wrong_type(c, e, OBJ_STRING)) {
            free(src);
            return;
        }
        src[j].p = (const unsigned char *)entry_str(e, src[j].tmp, &src[j].len);
        if (src[j].len > maxlen)
            maxlen = src[j].len;
    }
    const slice *dest = &c->argv[2];
    if (maxlen) {
        /* Computed into the new value before it replaces destkey, which may be a source. */
        entry *ne = entry_new_raw(dest->p, dest->len, NULL, maxlen, maxlen, -1);
        bitop_compute(op, src, nsrc, raw_bytes(ne), maxlen);
        db_put(c, ne, 0);
        db_signal_modified(c, dest->p, dest->len);
        db_notify(c, NOTIFY_STRING, "set", dest->p, dest->len);
    } else if (db_delete(c, dest->p, dest->len)) {
        db_signal_modified(c, dest->p, dest->len);
        db_notify(c, NOTIFY_GENERIC, "del", dest->p, dest->len);
    }
    free(src);
    reply_int(c, (long long)maxlen);
}

/* ---- BITFIELD ---------------------------------------------------------------------------- */

enum bf_opcode { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

typedef struct bf_op {
    uint64_t offset;
    int64_t value; /* SET value or INCRBY increment */
    enum bf_opcode opcode;
    enum bf_overflow overflow;
    int bits;
    int sign;
} bf_op;

static uint64_t bf_get_unsigned(const unsigned char *p, uint64_t offset, int bits)
{
    uint64_t v = 0;
    for (int j = 0; j < bits; j++, offset++)
        v = (v << 1) | ((p[offset >> 3] >> (7 - (offset & 7))) & 1);
    return v;
}

static int64_t bf_get_signed(const unsigned char *p, uint64_t offset, int bits)
{
    uint64_t v = bf_get_unsigned(p, offset, bits);
    if (bits < 64 && (v & (1ull << (bits - 1))))
        v |= UINT64_MAX << bits; /* sign extension */
    return (int64_t)v;
}

static void bf_set(unsigned char *p, uint64_t offset, int bits, uint64_t v)
{
    for (int j = 0; j < bits; j++, offset++) {
        int bitval = (int)((v >> (bits - 1 - j)) & 1);
        int shift = 7 - (int)(offset & 7);
        unsigned char *b = &p[offset >> 3];
        *b = (unsigned char)((*b & ~(1 << shift)) | (bitval << shift));
    }
}

/* Redis's checkUnsignedBitfieldOverflow: 0 when value+incr fits `bits` unsigned bits; else
 * 1 (over) or -1 (under), with *limit the wrapped or saturated result. */
static int bf_unsigned_overflow(uint64_t value, int64_t incr, int bits, enum bf_overflow ow,
                                uint64_t *limit)
{
    uint64_t max = (1ull << bits) - 1; /* bits <= 63 */
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    int result;
    if (value > max || (incr > 0 && incr > maxincr)) {
        result = 1;
        *limit = max;
    } else if (incr < 0 && incr < minincr) {
        result = -1;
        *limit = 0;
    } else {
        return 0;
    }
    if (ow == BF_WRAP)
        *limit = (value + (uint64_t)incr) & max;
    return result;
}

/* Redis's checkSignedBitfieldOverflow, in unsigned arithmetic so that it never overflows. */
static int bf_signed_overflow(int64_t value, int64_t incr, int bits, enum bf_overflow ow,
                              int64_t *limit)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((1ull << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int result;
    if (value > max || (bits != 64 && incr > maxincr) ||
        (value >= 0 && incr > 0 && incr > maxincr)) {
        result = 1;
        *limit = max;
    } else if (value < min || (bits != 64 && incr < minincr) ||
               (value < 0 && incr < 0 && incr < minincr)) {
        result = -1;
        *limit = min;
    } else {
        return 0;
    }
    if (ow == BF_WRAP) {
        uint64_t sum = (uint64_t)value + (uint64_t)incr;
        if (bits < 64) {
            uint64_t mask = UINT64_MAX << bits;
            sum = (sum & (1ull << (bits - 1))) ? sum | mask : sum & ~mask;
        }
        *limit = (int64_t)sum;
    }
    return result;
}

/* "i<bits>" (1..64) or "u<bits>" (1..63). */
static int bf_type_or_reply(cmd_ctx *c, const slice *a, int *sign, int *bits)
{
    long long n;
    if (a->len < 2 || (a->p[0] != 'i' && a->p[0] != 'u') || !str_to_ll(a->p + 1, a->len - 1, &n) ||
        n < 1 || n > (a->p[0] == 'i' ? BITFIELD_MAX_SIGNED_BITS : BITFIELD_MAX_UNSIGNED_BITS)) {
        reply_error(c, ERR_BITFIELD_TYPE);
        return -1;
    }
    *sign = a->p[0] == 'i';
    *bits = (int)n;
    return 0;
}

/* Parses the operations of BITFIELD into ops (allocated, the caller frees). Returns the count,
 * or -1 after an error reply. *max_write is the highest bit a write reaches (-1: no writes). */
static int bf_parse(cmd_ctx *c, bf_op **ops, int64_t *max_write)
{
    enum bf_overflow ow = BF_WRAP;
    int n = 0;
    *ops = NULL;
    *max_write = -1;
    for (int j = 2; j < c->argc; j++) {
        int remargs = c->argc - j - 1;
        const slice *a = &c->argv[j];
        bf_op op = {.overflow = ow};
        if (arg_eq(a, "get") && remargs >= 2) {
            op.opcode = BF_GET;
        } else if (arg_eq(a, "set") && remargs >= 3) {
            op.opcode = BF_SET;
        } else if (arg_eq(a, "incrby") && remargs >= 3) {
            op.opcode = BF_INCRBY;
        } else if (arg_eq(a, "overflow") && remargs >= 1) {
            const slice *t = &c->argv[++j];
            if (arg_eq(t, "wrap")) {
                ow = BF_WRAP;
            } else if (arg_eq(t, "sat")) {
                ow = BF_SAT;
            } else if (arg_eq(t, "fail")) {
                ow = BF_FAIL;
            } else {
                reply_error(c, ERR_BITFIELD_OVERFLOW);
                return -1;
            }
            continue;
        } else {
            reply_syntax_error(c);
            return -1;
        }
        if (bf_type_or_reply(c, &c->argv[j + 1], &op.sign, &op.bits) ||
            bit_offset_or_reply(c, &c->argv[j + 2], 1, op.bits, &op.offset))
            return -1;
        if (op.opcode != BF_GET) {
            long long v;
            if (arg_ll_or_reply(c, &c->argv[j + 3], &v, NULL))
                return -1;
            op.value = v;
            int64_t last = (int64_t)(op.offset + (uint64_t)op.bits - 1);
            if (last > *max_write)
                *max_write = last;
        }
        *ops = mem_realloc(*ops, sizeof(bf_op) * (size_t)(n + 1));
        (*ops)[n++] = op;
        j += op.opcode == BF_GET ? 2 : 3;
    }
    return n;
}

/* One SET or INCRBY on p (grown to hold it): replies the new value (INCRBY) or the old one (SET),
 * or null when OVERFLOW FAIL stopped it. */
static void bf_write(cmd_ctx *c, unsigned char *p, const bf_op *op)
{
    int overflow;
    if (op->sign) {
        int64_t oldval = bf_get_signed(p, op->offset, op->bits), newval, limit, ret;
        if (op->opcode == BF_INCRBY) {
            overflow = bf_signed_overflow(oldval, op->value, op->bits, op->overflow, &limit);
            newval = overflow ? limit : (int64_t)((uint64_t)oldval + (uint64_t)op->value);
            ret = newval;
        } else {
            overflow = bf_signed_overflow(op->value, 0, op->bits, op->overflow, &limit);
            newval = overflow ? limit : op->value;
            ret = oldval;
        }
        if (overflow && op->overflow == BF_FAIL) {
            reply_null(c);
            return;
        }
        reply_int(c, ret);
        bf_set(p, op->offset, op->bits, (uint64_t)newval);
    } else {
        uint64_t oldval = bf_get_unsigned(p, op->offset, op->bits), newval, limit, ret;
        if (op->opcode == BF_INCRBY) {
            overflow = bf_unsigned_overflow(oldval, op->value, op->bits, op->overflow, &limit);
            newval = overflow ? limit : oldval + (uint64_t)op->value;
            ret = newval;
        } else {
            overflow = bf_unsigned_overflow((uint64_t)op->value, 0, op->bits, op->overflow, &limit);
            newval = overflow ? limit : (uint64_t)op->value;
            ret = oldval;
        }
        if (overflow && op->overflow == BF_FAIL) {
            reply_null(c);
            return;
        }
        reply_int(c, (long long)ret);
        bf_set(p, op->offset, op->bits, newval);
    }
}

/* One GET over a read-only string that may be shorter than the field: the bytes it covers are
 * copied into a zero-padded buffer first. */
static void bf_read(cmd_ctx *c, const unsigned char *s, size_t len, const bf_op *op)
{
    unsigned char buf[BITFIELD_MAX_BYTES] = {0};
    uint64_t byte = op->offset >> 3;
    for (uint64_t i = 0; i < BITFIELD_MAX_BYTES && s && byte + i < len; i++)
        buf[i] = s[byte + i];
    uint64_t off = op->offset & 7;
    if (op->sign)
        reply_int(c, bf_get_signed(buf, off, op->bits));
    else
        reply_int(c, (long long)bf_get_unsigned(buf, off, op->bits));
}

/* Redis's bitfieldGeneric, serving BITFIELD and BITFIELD_RO (readonly_cmd). Every operation is
 * parsed before any runs; writes grow the string once, to the farthest bit written. */
static void bitfield_generic(cmd_ctx *c, int readonly_cmd)
{
    bf_op *ops;
    int64_t max_write;
    int n = bf_parse(c, &ops, &max_write);
    if (n < 0) {
        free(ops);
        return;
    }
    entry *e;
    if (max_write < 0) {
        e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
        if (db_wrong_type(c, e, OBJ_STRING)) {
            free(ops);
            return;
        }
    } else if (readonly_cmd) {
        reply_error(c, ERR_BITFIELD_RO);
        free(ops);
        return;
    } else if (!(e = string_for_bit_write(c, (uint64_t)max_write, NULL))) {
        free(ops);
        return;
    }
    char tmp[OBJ_INT_STR_MAX];
    size_t len = 0;
    const unsigned char *s = e ? (const unsigned char *)entry_str(e, tmp, &len) : NULL;
    int changes = 0;
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        if (ops[i].opcode == BF_GET) {
            bf_read(c, s, len, &ops[i]);
        } else {
            bf_write(c, raw_bytes(e), &ops[i]);
            changes++;
        }
    }
    if (changes) {
        db_signal_modified(c, c->argv[1].p, c->argv[1].len);
        db_notify(c, NOTIFY_STRING, "setbit", c->argv[1].p, c->argv[1].len);
    }
    free(ops);
}

static void bitfield_cmd(cmd_ctx *c)
{
    bitfield_generic(c, 0);
}

static void bitfield_ro_cmd(cmd_ctx *c)
{
    bitfield_generic(c, 1);
}

#define BITMAP_CMD .group = "bitmap", .acl = ACL_BITMAP
#define KEY1 .first_key = 1, .last_key = 1, .key_step = 1

command bits_commands[] = {
    {.name = "setbit",
     .proc = setbit_cmd,
     .arity = 4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     BITMAP_CMD | ACL_WRITE | ACL_SLOW,
     .since = "2.2.0",
     .summary = "Sets or clears the bit at offset of the string value. Creates the key if it "
                "doesn't exist."},
    {.name = "getbit",
     .proc = getbit_cmd,
     .arity = 3,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     BITMAP_CMD | ACL_READ | ACL_FAST,
     .since = "2.2.0",
     .summary = "Returns a bit value by offset."},
    {.name = "bitcount",
     .proc = bitcount_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     KEY1,
     BITMAP_CMD | ACL_READ | ACL_SLOW,
     .since = "2.6.0",
     .summary = "Counts the number of set bits (population counting) in a string."},
    {.name = "bitpos",
     .proc = bitpos_cmd,
     .arity = -3,
     .flags = CMD_READONLY,
     KEY1,
     BITMAP_CMD | ACL_READ | ACL_SLOW,
     .since = "2.8.7",
     .summary = "Finds the first set (1) or clear (0) bit in a string."},
    {.name = "bitop",
     .proc = bitop_cmd,
     .arity = -4,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .first_key = 2,
     .last_key = -1,
     .key_step = 1,
     BITMAP_CMD | ACL_WRITE | ACL_SLOW,
     .since = "2.6.0",
     .summary = "Performs bitwise operations on multiple strings, and stores the result."},
    {.name = "bitfield",
     .proc = bitfield_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_DENYOOM,
     KEY1,
     BITMAP_CMD | ACL_WRITE | ACL_SLOW,
     .since = "3.2.0",
     .summary = "Performs arbitrary bitfield integer operations on strings."},
    {.name = "bitfield_ro",
     .proc = bitfield_ro_cmd,
     .arity = -2,
     .flags = CMD_READONLY | CMD_FAST,
     KEY1,
     BITMAP_CMD | ACL_READ | ACL_FAST,
     .since = "6.0.0",
     .summary = "Performs arbitrary read-only bitfield integer operations on strings."},
    {0},
};
