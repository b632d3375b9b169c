/* RDB merge: header parsing just deep enough to find where each file's body starts. */
#include "rdb_merge.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"

#define RDB_MAGIC "REDIS"
#define RDB_MAGIC_LEN 5
#define RDB_VERSION_LEN 4
#define RDB_HEADER_LEN (RDB_MAGIC_LEN + RDB_VERSION_LEN)
#define RDB_OPCODE_FUNCTION2 0xF5
#define RDB_OPCODE_AUX 0xFA
#define RDB_OPCODE_EOF 0xFF
#define RDB_CRC_LEN 8
#define RDB_LEN_6BIT 0
#define RDB_LEN_14BIT 1
#define RDB_LEN_32_OR_64 2
#define RDB_ENCVAL 3
#define RDB_LEN_32 0x80
#define RDB_LEN_64 0x81
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3
#define COPY_CHUNK (64 * 1024)
#define BYTE_BITS 8

typedef struct writer {
    FILE *out;
    uint64_t crc;
    int failed;
} writer;

static void w_put(writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->out) != n)
        w->failed = 1;
    w->crc = crc64(w->crc, p, n);
}

/* One input being read: its bytes go to the writer when copying is on. */
typedef struct reader {
    FILE *in;
    writer *w;
    int copy;
    long long left; /* bytes up to the EOF opcode */
} reader;

static int r_read(reader *r, void *p, size_t n)
{
    if ((long long)n > r->left || fread(p, 1, n, r->in) != n)
        return -1;
    r->left -= (long long)n;
    if (r->copy)
        w_put(r->w, p, n);
    return 0;
}

/* Skips (or copies) n bytes. */
static int r_skip(reader *r, uint64_t n)
{
    char buf[COPY_CHUNK];
    while (n) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        if (r_read(r, buf, k) < 0)
            return -1;
        n -= k;
    }
    return 0;
}

/* A length or special encoding: *len, and *enc set when it is an encoded value. */
static int r_len(reader *r, uint64_t *len, int *enc)
{
    unsigned char b[BYTE_BITS];
    if (r_read(r, b, 1) < 0)
        return -1;
    int type = b[0] >> 6;
    *enc = 0;
    switch (type) {
    case RDB_LEN_6BIT: *len = b[0] & 0x3F; return 0;
    case RDB_LEN_14BIT:
        if (r_read(r, b + 1, 1) < 0)
            return -1;
        *len = ((uint64_t)(b[0] & 0x3F) << BYTE_BITS) | b[1];
        return 0;
    case RDB_ENCVAL:
        *enc = 1;
        *len = b[0] & 0x3F;
        return 0;
    default: break;
    }
    int bytes = b[0] == RDB_LEN_32 ? 4 : b[0] == RDB_LEN_64 ? 8 : 0;
    if (!bytes || r_read(r, b, (size_t)bytes) < 0)
        return -1;
    *len = 0;
    for (int i = 0; i < bytes; i++)
        *len = (*len << BYTE_BITS) | b[i];
    return 0;
}

/* Skips (or copies) one string in any of its encodings. */
static int r_string(reader *r)
{
    uint64_t len, clen, ulen;
    int enc;
    if (r_len(r, &len, &enc) < 0)
        return -1;
    if (!enc)
        return r_skip(r, len);
    switch (len) {
    case RDB_ENC_INT8: return r_skip(r, 1);
    case RDB_ENC_INT16: return r_skip(r, 2);
    case RDB_ENC_INT32: return r_skip(r, 4);
    case RDB_ENC_LZF:
        if (r_len(r, &clen, &enc) < 0 || enc || r_len(r, &ulen, &enc) < 0 || enc)
            return -1;
        return r_skip(r, clen);
    default: return -1;
    }
}

/* Input i: checks its header and where its EOF is; copies the header when first. */
static int merge_header(reader *r, int first, char *version, char *err, size_t errlen, int i)
{
    long start = ftell(r->in);
    if (start < 0 || fseek(r->in, 0, SEEK_END) < 0) {
        snprintf(err, errlen, "shard file %d: not seekable", i);
        return -1;
    }
    long end = ftell(r->in);
    unsigned char tail[1 + RDB_CRC_LEN];
    if (end - start < RDB_HEADER_LEN + (long)sizeof(tail) ||
        fseek(r->in, end - (long)sizeof(tail), SEEK_SET) < 0 ||
        fread(tail, 1, sizeof(tail), r->in) != sizeof(tail) || tail[0] != RDB_OPCODE_EOF ||
        fseek(r->in, start, SEEK_SET) < 0) {
        snprintf(err, errlen, "shard file %d: not an RDB file (no EOF marker)", i);
        return -1;
    }
    r->left = end - start - (long)sizeof(tail);
    char header[RDB_HEADER_LEN + 1] = {0};
    r->copy = first;
    if (r_read(r, header, RDB_HEADER_LEN) < 0 || memcmp(header, RDB_MAGIC, RDB_MAGIC_LEN)) {
        snprintf(err, errlen, "shard file %d: not an RDB file (bad magic)", i);
        return -1;
    }
    if (first)
        memcpy(version, header + RDB_MAGIC_LEN, RDB_VERSION_LEN);
    else if (memcmp(version, header + RDB_MAGIC_LEN, RDB_VERSION_LEN)) {
        snprintf(err, errlen, "shard file %d: RDB version %.4s differs from %.4s", i,
                 header + RDB_MAGIC_LEN, version);
        return -1;
    }
    return 0;
}

/* The opcodes before the first database: AUX fields (copied from the first input only) and
 * function libraries (likewise). Leaves r at the first other opcode. */
static int merge_preamble(reader *r, int first)
{
    for (;;) {
        int c = fgetc(r->in);
        if (c == EOF)
            return -1;
        if (c != RDB_OPCODE_AUX && c != RDB_OPCODE_FUNCTION2) {
            ungetc(c, r->in);
            return 0;
        }
        r->left--;
        r->copy = first;
        unsigned char op = (unsigned char)c;
        if (first)
            w_put(r->w, &op, 1);
        if (r_string(r) < 0 || (c == RDB_OPCODE_AUX && r_string(r) < 0))
            return -1;
    }
}

int rdb_merge(FILE *const *inputs, int n, FILE *out, char *err, size_t errlen)
{
    writer w = {.out = out};
    char version[RDB_VERSION_LEN] = {0};
    for (int i = 0; i < n; i++) {
        reader r = {.in = inputs[i], .w = &w};
        if (merge_header(&r, i == 0, version, err, errlen, i) < 0)
            return -1;
        if (merge_preamble(&r, i == 0) < 0) {
            snprintf(err, errlen, "shard file %d: malformed header fields", i);
            return -1;
        }
        r.copy = 1;
        if (r_skip(&r, (uint64_t)r.left) < 0) {
            snprintf(err, errlen, "shard file %d: cannot read", i);
            return -1;
        }
    }
    unsigned char eof = RDB_OPCODE_EOF;
    w_put(&w, &eof, 1);
    unsigned char crc[RDB_CRC_LEN];
    for (int i = 0; i < RDB_CRC_LEN; i++)
        crc[i] = (unsigned char)(w.crc >> (BYTE_BITS * i));
    if (fwrite(crc, 1, sizeof(crc), out) != sizeof(crc) || fflush(out) != 0 || w.failed) {
        snprintf(err, errlen, "cannot write the merged file");
        return -1;
    }
    return 0;
}
