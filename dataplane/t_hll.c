/* HyperLogLog (Redis's hyperloglog.c): PFADD PFCOUNT PFMERGE PFDEBUG.
 *
 * An HLL is an ordinary string value holding Redis's exact "HYLL" bytes, so GET, SET, DUMP and
 * replication carry it unchanged and a value written by Redis counts the same here:
 *
 *   "HYLL" | encoding (1 byte) | 3 unused zero bytes | cached cardinality (8 bytes, LE) | data
 *
 * The cached cardinality is valid unless the top bit of its last byte is set. The data is either
 * dense (16384 registers of 6 bits, least significant bits first) or sparse, a run-length code of
 * three opcodes:
 *
 *   ZERO  00xxxxxx           xxxxxx+1 registers (1..64) set to 0
 *   XZERO 01xxxxxx yyyyyyyy  xxxxxxyyyyyyyy+1 registers (1..16384) set to 0
 *   VAL   1vvvvvxx           xx+1 registers (1..4) set to vvvvv+1 (1..32)
 *
 * Every choice that shows in the bytes (hash and seed, how an opcode is split and neighbours
 * merged, when sparse turns dense) follows Redis, so the same commands leave the same bytes and
 * PFCOUNT gives the same numbers (Ertl's improved estimator, as Redis 5+).
 *
 * A value is modified in place as a raw string (Redis's dbUnshareStringValue first); the sparse
 * form grows through entry_raw_resize, and turning dense allocates the exact dense size, so
 * used_memory follows every change. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "db.h"
#include "journal.h"
#include "reply.h"
#include "server.h"
#include "zmalloc.h"

#define ERR_HLL_INVALID "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_HLL_CORRUPT "INVALIDOBJ Corrupted HLL object detected"
#define ERR_PFDEBUG_NO_KEY "ERR The specified key does not exist"
#define ERR_PFDEBUG_NOT_SPARSE "ERR HLL encoding is not sparse"

#define HLL_P 14                       /* 2^P registers: the larger, the smaller the error */
#define HLL_Q (64 - HLL_P)             /* hash bits left to count the run of zeros in */
#define HLL_REGISTERS (1 << HLL_P)     /* 16384 */
#define HLL_P_MASK (HLL_REGISTERS - 1) /* hash bits that pick the register */
#define HLL_BITS 6                     /* a register holds up to 63 */
#define HLL_REGISTER_MAX ((1 << HLL_BITS) - 1)
#define HLL_HASH_SEED 0xadc83b19ULL           /* Redis's MurmurHash64A seed */
#define HLL_ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

/* Header layout. */
#define HLL_MAGIC "HYLL"
#define HLL_MAGIC_LEN 4
#define HLL_ENC_OFFSET 4
#define HLL_CARD_OFFSET 8
#define HLL_CARD_LEN 8
#define HLL_CARD_STALE_BIT 0x80 /* in the cardinality's last byte: the cache is stale */
#define HLL_HDR_SIZE 16
#define HLL_DENSE_BYTES ((HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + HLL_DENSE_BYTES)
#define HLL_DENSE 0
#define HLL_SPARSE 1
#define HLL_MAX_ENCODING HLL_SPARSE

/* Sparse opcodes. */
#define SPARSE_OP_MASK 0xc0
#define SPARSE_XZERO_BIT 0x40
#define SPARSE_VAL_BIT 0x80
#define SPARSE_LEN6_MASK 0x3f
#define SPARSE_VAL_SHIFT 2
#define SPARSE_VAL_VALUE_MASK 0x1f
#define SPARSE_VAL_LEN_MASK 0x3
#define SPARSE_VAL_MAX_VALUE 32
#define SPARSE_VAL_MAX_LEN 4
#define SPARSE_ZERO_MAX_LEN 64
#define SPARSE_XZERO_MAX_LEN 16384
/* An empty HLL: the header and XZERO runs covering every register. */
#define HLL_SPARSE_EMPTY_SIZE                                                                      \
    (HLL_HDR_SIZE + 2 * ((HLL_REGISTERS + SPARSE_XZERO_MAX_LEN - 1) / SPARSE_XZERO_MAX_LEN))
/* Splitting one opcode yields at most XZERO VAL XZERO. */
#define SPARSE_SPLIT_MAX 5
/* After an update, this many opcodes from the one before it are tried for merging. */
#define SPARSE_MERGE_SCAN 5

/* Register counts by value (Redis's reghisto); values above Q+1 only come from corrupt data. */
#define HLL_HISTO_SIZE 64

static inline int sparse_is_zero(const uint8_t *p)
{
    return (*p & SPARSE_OP_MASK) == 0;
}
static inline int sparse_is_xzero(const uint8_t *p)
{
    return (*p & SPARSE_OP_MASK) == SPARSE_XZERO_BIT;
}
static inline int sparse_is_val(const uint8_t *p)
{
    return (*p & SPARSE_VAL_BIT) != 0;
}
static inline int sparse_zero_len(const uint8_t *p)
{
    return (*p & SPARSE_LEN6_MASK) + 1;
}
/* p[1] of an XZERO at the very end of a truncated value is the string's terminating zero. */
static inline int sparse_xzero_len(const uint8_t *p)
{
    return (((*p & SPARSE_LEN6_MASK) << 8) | p[1]) + 1;
}
static inline int sparse_val_value(const uint8_t *p)
{
    return ((*p >> SPARSE_VAL_SHIFT) & SPARSE_VAL_VALUE_MASK) + 1;
}
static inline int sparse_val_len(const uint8_t *p)
{
    return (*p & SPARSE_VAL_LEN_MASK) + 1;
}
static inline void sparse_val_set(uint8_t *p, int val, int len)
{
    *p = (uint8_t)(((val - 1) << SPARSE_VAL_SHIFT) | (len - 1) | SPARSE_VAL_BIT);
}
/* Writes a run of len zero registers as ZERO or, when longer than ZERO holds, XZERO; returns
 * the opcode's length. */
static int sparse_zeros_set(uint8_t *p, int len)
{
    if (len <= SPARSE_ZERO_MAX_LEN) {
        *p = (uint8_t)(len - 1);
        return 1;
    }
    p[0] = (uint8_t)(((len - 1) >> 8) | SPARSE_XZERO_BIT);
    p[1] = (uint8_t)((len - 1) & 0xff);
    return 2;
}
/* Length and register span of the opcode at p. */
static inline int sparse_op(const uint8_t *p, int *span)
{
    if (sparse_is_zero(p)) {
        *span = sparse_zero_len(p);
        return 1;
    }
    if (sparse_is_val(p)) {
        *span = sparse_val_len(p);
        return 1;
    }
    *span = sparse_xzero_len(p);
    return 2;
}

/* ---- dense registers ------------------------------------------------------------------------
 * Register i occupies bits 6i..6i+5 counting from the least significant bit of byte 0. The
 * second byte read for the last register is the string's terminating zero, whose bits the
 * masks leave alone. */

static inline int dense_get(const uint8_t *regs, long i)
{
    unsigned long byte = (unsigned long)i * HLL_BITS / 8;
    unsigned fb = (unsigned)(i * HLL_BITS) & 7;
    unsigned long b0 = regs[byte], b1 = regs[byte + 1];
    return (int)(((b0 >> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX);
}

static inline void dense_put(uint8_t *regs, long i, int val)
{
    unsigned long byte = (unsigned long)i * HLL_BITS / 8;
    unsigned fb = (unsigned)(i * HLL_BITS) & 7;
    unsigned long v = (unsigned long)val;
    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REGISTER_MAX << fb)) | (v << fb));
    regs[byte + 1] =
        (uint8_t)((regs[byte + 1] & ~(HLL_REGISTER_MAX >> (8 - fb))) | (v >> (8 - fb)));
}

/* Raises register i to count; 1 when it changed. */
static int dense_set(uint8_t *regs, long i, int count)
{
    if (count <= dense_get(regs, i))
        return 0;
    dense_put(regs, i, count);
    return 1;
}

/* ---- hashing --------------------------------------------------------------------------------- */

/* MurmurHash2, 64-bit version (MurmurHash64A), reading words little-endian as Redis does on
 * every architecture. */
static uint64_t murmur64a(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ ((uint64_t)len * m);
    const uint8_t *data = key;
    const uint8_t *end = data + (len - (len & 7));

    for (; data != end; data += 8) {
        uint64_t k = 0;
        for (int b = 7; b >= 0; b--)
            k = (k << 8) | data[b];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail) {
        for (size_t b = tail; b-- > 0;)
            h ^= (uint64_t)data[b] << (8 * b);
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

/* Redis's hllPatLen: the register an element falls in and the length of the "000..1" pattern
 * in the remaining hash bits (1..Q+1). */
static int hll_pattern(const char *ele, size_t len, long *reg)
{
    uint64_t hash = murmur64a(ele, len, HLL_HASH_SEED);
    *reg = (long)(hash & HLL_P_MASK);
    hash >>= HLL_P;
    hash |= (uint64_t)1 << HLL_Q; /* bounds the count at Q+1 */
    return __builtin_ctzll(hash) + 1;
}

/* ---- the value ------------------------------------------------------------------------------ */

static uint8_t *hll_bytes(entry *e)
{
    return (uint8_t *)((rawstr *)entry_ptr(e))->data;
}

static size_t hll_len(entry *e)
{
    return ((rawstr *)entry_ptr(e))->len;
}

static void hll_invalidate_cache(uint8_t *hll)
{
    hll[HLL_CARD_OFFSET + HLL_CARD_LEN - 1] |= HLL_CARD_STALE_BIT;
}

/* Redis's isHLLObjectOrReply: 1 when e is a string holding a well-formed header (and a dense
 * one of the exact size); otherwise replies WRONGTYPE and returns 0. */
static int hll_valid_or_reply(cmd_ctx *c, const entry *e)
{
    if (db_wrong_type(c, e, OBJ_STRING))
        return 0;
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    if (len < HLL_HDR_SIZE || memcmp(s, HLL_MAGIC, HLL_MAGIC_LEN) != 0 ||
        (uint8_t)s[HLL_ENC_OFFSET] > HLL_MAX_ENCODING ||
        ((uint8_t)s[HLL_ENC_OFFSET] == HLL_DENSE && len != HLL_DENSE_SIZE)) {
        reply_error(c, ERR_HLL_INVALID);
        return 0;
    }
    return 1;
}

/* A new, empty sparse HLL at key (Redis's createHLLObject: a raw string). */
static entry *hll_create(cmd_ctx *c, const slice *key)
{
    entry *e =
        entry_new_raw(key->p, key->len, NULL, HLL_SPARSE_EMPTY_SIZE, HLL_SPARSE_EMPTY_SIZE, -1);
    uint8_t *p = hll_bytes(e);
    memcpy(p, HLL_MAGIC, HLL_MAGIC_LEN);
    p[HLL_ENC_OFFSET] = HLL_SPARSE;
    uint8_t *op = p + HLL_HDR_SIZE;
    for (int left = HLL_REGISTERS; left > 0; left -= SPARSE_XZERO_MAX_LEN)
        op += sparse_zeros_set(op, left < SPARSE_XZERO_MAX_LEN ? left : SPARSE_XZERO_MAX_LEN);
    db_add(c, e);
    return e;
}

/* The value of e as a raw string that may change in place (Redis's dbUnshareStringValue). */
static entry *hll_unshare(cmd_ctx *c, entry *e)
{
    if (e->enc == ENC_RAW)
        return e;
    return db_replace(c, e, entry_string_to_raw(e, 0));
}

/* Calls fn(arg, first, n, value) for each run of the sparse data; returns the number of
 * registers covered, or -1 as soon as the runs pass the last register (corrupt data: Redis
 * refuses it too, once it has seen that the total is not 16384). */
typedef void (*sparse_run_fn)(void *arg, long first, int n, int value);
static long sparse_walk(const uint8_t *p, const uint8_t *end, sparse_run_fn fn, void *arg)
{
    long idx = 0;
    while (p < end) {
        int span;
        int value = sparse_is_val(p) ? sparse_val_value(p) : 0;
        p += sparse_op(p, &span);
        if (idx + span > HLL_REGISTERS)
            return -1;
        fn(arg, idx, span, value);
        idx += span;
    }
    return idx;
}

static void run_to_dense(void *arg, long first, int n, int value)
{
    for (int i = 0; value && i < n; i++)
        dense_put(arg, first + i, value);
}

/* Redis's hllSparseToDense: replaces the sparse value of *ep by its dense form, keeping the
 * header (the cached cardinality too). Returns -1, changing nothing, when the data is corrupt. */
static int hll_sparse_to_dense(cmd_ctx *c, entry **ep)
{
    entry *e = *ep;
    uint8_t *old = hll_bytes(e);
    size_t oldlen = hll_len(e);
    if (old[HLL_ENC_OFFSET] == HLL_DENSE)
        return 0;
    size_t klen;
    const char *key = entry_key(e, &klen);
    entry *n = entry_new_raw(key, klen, NULL, HLL_DENSE_SIZE, HLL_DENSE_SIZE, entry_expire(e));
    n->lru = e->lru;
    uint8_t *dense = hll_bytes(n);
    memcpy(dense, old, HLL_HDR_SIZE);
    dense[HLL_ENC_OFFSET] = HLL_DENSE;
    if (sparse_walk(old + HLL_HDR_SIZE, old + oldlen, run_to_dense, dense + HLL_HDR_SIZE) !=
        HLL_REGISTERS) {
        entry_free(n);
        return -1;
    }
    rawstr *sparse = entry_ptr(e);
    *ep = db_replace(c, e, n); /* frees e but not its value, which was not moved */
    zfree(sparse);
    return 0;
}

/* Replaces the opcode of oldlen bytes at offset off by seq (seqlen bytes), moving what follows
 * and resizing the value. */
static void sparse_splice(entry *e, size_t off, int oldlen, const uint8_t *seq, int seqlen)
{
    size_t len = hll_len(e);
    long delta = seqlen - oldlen;
    size_t next = off + (size_t)oldlen;
    uint8_t *p = hll_bytes(e);
    if (delta > 0)
        p = (uint8_t *)entry_raw_resize(e, len + (size_t)delta)->data;
    if (delta && next < len)
        memmove(p + next + delta, p + next, len - next);
    if (delta < 0)
        entry_raw_resize(e, len - (size_t)-delta);
    memcpy(p + off, seq, (size_t)seqlen);
}

/* Merges adjacent VAL opcodes of equal value whose runs fit one opcode, scanning a few opcodes
 * from offset `from` (the opcode before the one just changed). */
static void sparse_merge_vals(entry *e, size_t from)
{
    uint8_t *base = hll_bytes(e);
    uint8_t *p = base + from, *end = base + hll_len(e);
    int scan = SPARSE_MERGE_SCAN;
    while (p < end && scan--) {
        if (sparse_is_xzero(p)) {
            p += 2;
            continue;
        }
        if (sparse_is_zero(p)) {
            p++;
            continue;
        }
        if (p + 1 < end && sparse_is_val(p + 1) && sparse_val_value(p) == sparse_val_value(p + 1)) {
            int len = sparse_val_len(p) + sparse_val_len(p + 1);
            if (len <= SPARSE_VAL_MAX_LEN) {
                sparse_val_set(p + 1, sparse_val_value(p), len);
                memmove(p, p + 1, (size_t)(end - p - 1));
                end--;
                entry_raw_resize(e, (size_t)(end - base));
                continue; /* the merged run may merge with the next one too */
            }
        }
        p++;
    }
}

/* The split of the opcode at p (covering registers first..first+span-1) that sets register
 * index to count: the registers before and after keep their value. Returns seq's length. */
static int sparse_split(const uint8_t *p, long first, int span, long index, int count,
                        uint8_t seq[SPARSE_SPLIT_MAX])
{
    long last = first + span - 1;
    int n = 0;
    if (sparse_is_val(p)) {
        int cur = sparse_val_value(p);
        if (index != first)
            sparse_val_set(seq + n++, cur, (int)(index - first));
        sparse_val_set(seq + n++, count, 1);
        if (index != last)
            sparse_val_set(seq + n++, cur, (int)(last - index));
    } else {
        if (index != first)
            n += sparse_zeros_set(seq + n, (int)(index - first));
        sparse_val_set(seq + n++, count, 1);
        if (index != last)
            n += sparse_zeros_set(seq + n, (int)(last - index));
    }
    return n;
}

/* Redis's hllSparseSet: raises register index of the sparse HLL *ep to count. Turns the value
 * dense when count does not fit a VAL opcode or the value would pass hll-sparse-max-bytes.
 * Returns 1 when a register changed, 0 when not, -1 on corrupt data. */
static int hll_sparse_set(cmd_ctx *c, entry **ep, long index, int count)
{
    entry *e = *ep;
    if (count > SPARSE_VAL_MAX_VALUE)
        goto promote;

    /* Find the opcode covering the register, and the one before it. */
    uint8_t *base = hll_bytes(e);
    size_t len = hll_len(e);
    size_t off = HLL_HDR_SIZE, prev = HLL_HDR_SIZE;
    long first = 0;
    int span = 0, oplen = 0;
    while (off < len) {
        oplen = sparse_op(base + off, &span);
        if (index <= first + span - 1)
            break;
        prev = off;
        off += (size_t)oplen;
        first += span;
    }
    if (span == 0 || off >= len || off + (size_t)oplen > len)
        return -1; /* no opcode covers it, or a truncated XZERO does */

    uint8_t *p = base + off;
    if (sparse_is_val(p) && sparse_val_value(p) >= count)
        return 0;
    if ((sparse_is_val(p) || sparse_is_zero(p)) && span == 1) {
        sparse_val_set(p, count, 1); /* a run of one: overwrite it */
    } else {
        uint8_t seq[SPARSE_SPLIT_MAX];
        int seqlen = sparse_split(p, first, span, index, count, seq);
        if (seqlen > oplen &&
            (long long)(len + (size_t)(seqlen - oplen)) > server.cfg.hll_sparse_max_bytes)
            goto promote;
        sparse_splice(e, off, oplen, seq, seqlen);
    }
    sparse_merge_vals(e, prev);
    hll_invalidate_cache(hll_bytes(e));
    return 1;

promote:
    if (hll_sparse_to_dense(c, ep) < 0)
        return -1;
    /* A register needs the update (count did not fit, or the split grew the value), so the
     * dense set changes it. */
    return dense_set(hll_bytes(*ep) + HLL_HDR_SIZE, index, count);
}

/* Redis's hllAdd: adds an element to the HLL *ep; 1 when a register changed, -1 on corrupt
 * data. */
static int hll_add(cmd_ctx *c, entry **ep, const slice *ele)
{
    long reg;
    int count = hll_pattern(ele->p, ele->len, &reg);
    uint8_t *p = hll_bytes(*ep);
    switch (p[HLL_ENC_OFFSET]) {
    case HLL_DENSE: return dense_set(p + HLL_HDR_SIZE, reg, count);
    case HLL_SPARSE: return hll_sparse_set(c, ep, reg, count);
    default: return -1;
    }
}

/* ---- counting -------------------------------------------------------------------------------- */

static void dense_histo(const uint8_t *regs, int histo[HLL_HISTO_SIZE])
{
    /* Four registers per three bytes. */
    for (int j = 0; j < HLL_REGISTERS / 4; j++, regs += 3) {
        histo[regs[0] & HLL_REGISTER_MAX]++;
        histo[(regs[0] >> 6 | regs[1] << 2) & HLL_REGISTER_MAX]++;
        histo[(regs[1] >> 4 | regs[2] << 4) & HLL_REGISTER_MAX]++;
        histo[(regs[2] >> 2) & HLL_REGISTER_MAX]++;
    }
}

/* Ertl's sigma and tau ("New cardinality estimation algorithms for HyperLogLog sketches",
 * arXiv:1702.01284), iterated until the sum stops changing, as Redis computes them: the
 * estimate must match Redis's to the last bit. */
static double hll_sigma(double x)
{
    if (x == 1.)
        return INFINITY;
    double zprev, y = 1, z = x;
    do {
        x *= x;
        zprev = z;
        z += x * y;
        y += y;
    } while (zprev != z);
    return z;
}

static double hll_tau(double x)
{
    if (x == 0. || x == 1.)
        return 0.;
    double zprev, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        zprev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zprev != z);
    return z / 3;
}

/* The cardinality estimate from the register histogram (Redis's hllCount). */
static uint64_t hll_estimate(const int histo[HLL_HISTO_SIZE])
{
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / (double)m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / (double)m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

static void run_to_histo(void *arg, long first, int n, int value)
{
    (void)first;
    ((int *)arg)[value] += n;
}

/* The estimate of an HLL's bytes; -1 when its sparse data does not cover every register. */
static int64_t hll_count(const uint8_t *hll, size_t len)
{
    int histo[HLL_HISTO_SIZE] = {0};
    if (hll[HLL_ENC_OFFSET] == HLL_DENSE)
        dense_histo(hll + HLL_HDR_SIZE, histo);
    else if (sparse_walk(hll + HLL_HDR_SIZE, hll + len, run_to_histo, histo) != HLL_REGISTERS)
        return -1;
    return (int64_t)hll_estimate(histo);
}

static void run_to_max(void *arg, long first, int n, int value)
{
    uint8_t *max = arg;
    for (int i = 0; value && i < n; i++)
        if (value > max[first + i])
            max[first + i] = (uint8_t)value;
}

/* Redis's hllMerge: max[i] = MAX(max[i], register i of the HLL in e). -1 on corrupt data. */
static int hll_merge_into(uint8_t max[HLL_REGISTERS], const entry *e)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const uint8_t *s = (const uint8_t *)entry_str(e, tmp, &len);
    if (s[HLL_ENC_OFFSET] == HLL_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            int v = dense_get(s + HLL_HDR_SIZE, i);
            if (v > max[i])
                max[i] = (uint8_t)v;
        }
        return 0;
    }
    return sparse_walk(s + HLL_HDR_SIZE, s + len, run_to_max, max) == HLL_REGISTERS ? 0 : -1;
}

/* Merges the HLLs at every key argument (missing keys count as empty) into max. Returns 0, or
 * -1 after replying an error; *any_dense tells whether one of them was dense. */
static int hll_merge_keys_or_reply(cmd_ctx *c, uint8_t max[HLL_REGISTERS], int *any_dense)
{
    memset(max, 0, HLL_REGISTERS);
    *any_dense = 0;
    for (int j = 1; j < c->argc; j++) {
        entry *e = db_lookup_read(c, c->argv[j].p, c->argv[j].len);
        if (!e)
            continue;
        if (!hll_valid_or_reply(c, e))
            return -1;
        char tmp[OBJ_INT_STR_MAX];
        size_t len;
        if ((uint8_t)entry_str(e, tmp, &len)[HLL_ENC_OFFSET] == HLL_DENSE)
            *any_dense = 1;
        if (hll_merge_into(max, e) < 0) {
            reply_error(c, ERR_HLL_CORRUPT);
            return -1;
        }
    }
    return 0;
}

/* ---- commands -------------------------------------------------------------------------------- */

/* PFADD key [element ...]: 1 when the HLL was created or a register changed. */
static void pfadd_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    entry *e = db_lookup_write(c, key->p, key->len);
    int updated = 0;
    if (!e) {
        e = hll_create(c, key);
        updated++;
    } else {
        if (!hll_valid_or_reply(c, e))
            return;
        e = hll_unshare(c, e);
    }
    for (int j = 2; j < c->argc; j++) {
        int ret = hll_add(c, &e, &c->argv[j]);
        if (ret < 0) {
            reply_error(c, ERR_HLL_CORRUPT);
            return;
        }
        updated += ret;
    }
    if (updated) {
        hll_invalidate_cache(hll_bytes(e));
        db_signal_modified(c, key->p, key->len);
        db_notify(c, NOTIFY_STRING, "pfadd", key->p, key->len);
    }
    reply_int(c, updated ? 1 : 0);
}

static uint64_t card_get(const uint8_t *hll)
{
    uint64_t v = 0;
    for (int i = HLL_CARD_LEN - 1; i >= 0; i--)
        v = (v << 8) | hll[HLL_CARD_OFFSET + i];
    return v;
}

static void card_put(uint8_t *hll, uint64_t v)
{
    for (int i = 0; i < HLL_CARD_LEN; i++, v >>= 8)
        hll[HLL_CARD_OFFSET + i] = (uint8_t)(v & 0xff);
}

/* PFCOUNT of one key: the cached cardinality, recomputed and stored when stale. Storing it
 * changes the value, which WATCH sees as in Redis. */
static void pfcount_single(cmd_ctx *c, const slice *key)
{
    entry *e = db_lookup_read(c, key->p, key->len);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    if (!hll_valid_or_reply(c, e))
        return;
    e = hll_unshare(c, e);
    uint8_t *hll = hll_bytes(e);
    if (!(hll[HLL_CARD_OFFSET + HLL_CARD_LEN - 1] & HLL_CARD_STALE_BIT)) {
        reply_int(c, (long long)card_get(hll));
        return;
    }
    int64_t card = hll_count(hll, hll_len(e));
    if (card < 0) {
        reply_error(c, ERR_HLL_CORRUPT);
        return;
    }
    card_put(hll, (uint64_t)card);
    db_signal_modified(c, key->p, key->len);
    journal_force(c); /* a read-only command that wrote its cache: Redis journals it too */
    reply_int(c, card);
}

/* PFCOUNT key [key ...]: with several keys, the cardinality of their union (the keys may live
 * on different shards; the table row declares them all, so every one is held). */
static void pfcount_cmd(cmd_ctx *c)
{
    if (c->argc == 2) {
        pfcount_single(c, &c->argv[1]);
        return;
    }
    uint8_t max[HLL_REGISTERS];
    int any_dense, histo[HLL_HISTO_SIZE] = {0};
    if (hll_merge_keys_or_reply(c, max, &any_dense))
        return;
    for (int i = 0; i < HLL_REGISTERS; i++)
        histo[max[i]]++;
    reply_int(c, (long long)hll_estimate(histo));
}

/* PFMERGE destkey [sourcekey ...]: destkey becomes the union of itself and the sources. */
static void pfmerge_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[1];
    uint8_t max[HLL_REGISTERS];
    int use_dense;
    if (hll_merge_keys_or_reply(c, max, &use_dense))
        return;
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e)
        e = hll_create(c, key);
    else
        e = hll_unshare(c, e); /* checked above as one of the inputs */
    /* A dense input makes the result dense at once rather than after a slow sparse build. */
    if (use_dense && hll_sparse_to_dense(c, &e) < 0) {
        reply_error(c, ERR_HLL_CORRUPT);
        return;
    }
    for (long i = 0; i < HLL_REGISTERS; i++) {
        if (!max[i])
            continue;
        uint8_t *hll = hll_bytes(e);
        if (hll[HLL_ENC_OFFSET] == HLL_DENSE)
            dense_set(hll + HLL_HDR_SIZE, i, max[i]);
        else
            hll_sparse_set(c, &e, i, max[i]);
    }
    hll_invalidate_cache(hll_bytes(e));
    db_signal_modified(c, key->p, key->len);
    /* Redis reports a merge as "pfadd": in effect it adds many elements. */
    db_notify(c, NOTIFY_STRING, "pfadd", key->p, key->len);
    reply_ok(c);
}

/* ---- PFDEBUG -----------------------------------------------------------------------------------
 */

/* PFDEBUG GETREG key: every register, turning a sparse value dense as Redis does. */
static void pfdebug_getreg(cmd_ctx *c, entry **ep)
{
    if (hll_bytes(*ep)[HLL_ENC_OFFSET] == HLL_SPARSE) {
        if (hll_sparse_to_dense(c, ep) < 0) {
            reply_error(c, ERR_HLL_CORRUPT);
            return;
        }
        db_signal_modified(c, c->argv[2].p, c->argv[2].len);
    }
    const uint8_t *regs = hll_bytes(*ep) + HLL_HDR_SIZE;
    reply_array(c, HLL_REGISTERS);
    for (long i = 0; i < HLL_REGISTERS; i++)
        reply_int(c, dense_get(regs, i));
}

/* PFDEBUG DECODE key: the sparse opcodes as text ("z:len", "Z:len", "v:value,len"). */
static void pfdebug_decode(cmd_ctx *c, entry *e)
{
    const uint8_t *p = hll_bytes(e), *end = p + hll_len(e);
    if (p[HLL_ENC_OFFSET] != HLL_SPARSE) {
        reply_error(c, ERR_PFDEBUG_NOT_SPARSE);
        return;
    }
    buf out;
    buf_init(&out);
    for (p += HLL_HDR_SIZE; p < end;) {
        int span;
        if (sparse_is_zero(p))
            buf_printf(&out, "z:%d ", sparse_zero_len(p));
        else if (sparse_is_xzero(p))
            buf_printf(&out, "Z:%d ", sparse_xzero_len(p));
        else
            buf_printf(&out, "v:%d,%d ", sparse_val_value(p), sparse_val_len(p));
        p += sparse_op(p, &span);
    }
    reply_bulk(c, out.data, out.len ? out.len - 1 : 0); /* without the last space */
    buf_free(&out);
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key */
static void pfdebug_cmd(cmd_ctx *c)
{
    const slice *key = &c->argv[2];
    entry *e = db_lookup_write(c, key->p, key->len);
    if (!e) {
        reply_error(c, ERR_PFDEBUG_NO_KEY);
        return;
    }
    if (!hll_valid_or_reply(c, e))
        return;
    e = hll_unshare(c, e);
    int enc = hll_bytes(e)[HLL_ENC_OFFSET];
    if (arg_eq(&c->argv[1], "getreg")) {
        pfdebug_getreg(c, &e);
    } else if (arg_eq(&c->argv[1], "decode")) {
        pfdebug_decode(c, e);
    } else if (arg_eq(&c->argv[1], "encoding")) {
        reply_simple(c, enc == HLL_DENSE ? "dense" : "sparse");
    } else if (arg_eq(&c->argv[1], "todense")) {
        if (enc == HLL_SPARSE) {
            if (hll_sparse_to_dense(c, &e) < 0) {
                reply_error(c, ERR_HLL_CORRUPT);
                return;
            }
            db_signal_modified(c, key->p, key->len);
        }
        reply_int(c, enc == HLL_SPARSE);
    } else {
        reply_errorf(c, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)c->argv[1].len, c->argv[1].p);
    }
}

void hll_type_init(void)
{
}

#define HLL_CMD .group = "hyperloglog", .since = "2.8.9"

command hll_commands[] = {
    {.name = "pfadd",
     .proc = pfadd_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
     .acl = ACL_HYPERLOGLOG | ACL_WRITE | ACL_FAST,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     HLL_CMD,
     .summary = "Adds the specified elements to the specified HyperLogLog."},
    {.name = "pfcount",
     .proc = pfcount_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     .acl = ACL_HYPERLOGLOG | ACL_READ | ACL_SLOW,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     HLL_CMD,
     .summary = "Return the approximated cardinality of the set(s) observed by the HyperLogLog "
                "at key(s)."},
    {.name = "pfmerge",
     .proc = pfmerge_cmd,
     .arity = -2,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_HYPERLOGLOG | ACL_WRITE | ACL_SLOW,
     .first_key = 1,
     .last_key = -1,
     .key_step = 1,
     HLL_CMD,
     .summary = "Merge N different HyperLogLogs into a single one."},
    {.name = "pfdebug",
     .proc = pfdebug_cmd,
     .arity = 3,
     .flags = CMD_WRITE | CMD_DENYOOM | CMD_ADMIN,
     .acl = ACL_HYPERLOGLOG | ACL_WRITE | ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .first_key = 2,
     .last_key = 2,
     .key_step = 1,
     HLL_CMD,
     .summary = "Internal commands for debugging HyperLogLog values"},
    {0},
};
