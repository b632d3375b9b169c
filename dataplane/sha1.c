/* SHA-1: see sha1.h. */
#include "sha1.h"

#include <string.h>

#define SHA1_BLOCK 64
#define SHA1_LENGTH_AT 56 /* where the message length goes in the last block */

static inline uint32_t rol(uint32_t v, int n)
{
    return (v << n) | (v >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    /* Four rounds of 20 steps, each with its own function and constant (no branch per step). */
#define SHA1_STEP(f, k, i)                                                                         \
    do {                                                                                           \
        uint32_t t = rol(a, 5) + (f) + e + (k) + w[i];                                             \
        e = d;                                                                                     \
        d = c;                                                                                     \
        c = rol(b, 30);                                                                            \
        b = a;                                                                                     \
        a = t;                                                                                     \
    } while (0)
    for (int i = 0; i < 20; i++)
        SHA1_STEP((b & c) | (~b & d), 0x5a827999u, i);
    for (int i = 20; i < 40; i++)
        SHA1_STEP(b ^ c ^ d, 0x6ed9eba1u, i);
    for (int i = 40; i < 60; i++)
        SHA1_STEP((b & c) | (b & d) | (c & d), 0x8f1bbcdcu, i);
    for (int i = 60; i < 80; i++)
        SHA1_STEP(b ^ c ^ d, 0xca62c1d6u, i);
#undef SHA1_STEP
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_init(sha1_ctx *ctx)
{
    static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    memcpy(ctx->h, iv, sizeof(iv));
    ctx->total = 0;
    ctx->used = 0;
}

void sha1_update(sha1_ctx *ctx, const void *data, size_t len)
{
    const unsigned char *p = data;
    ctx->total += len;
    while (len) {
        size_t n = SHA1_BLOCK - ctx->used;
        if (n > len)
            n = len;
        memcpy(ctx->block + ctx->used, p, n);
        ctx->used += n;
        p += n;
        len -= n;
        if (ctx->used == SHA1_BLOCK) {
            sha1_block(ctx->h, ctx->block);
            ctx->used = 0;
        }
    }
}

void sha1_final(sha1_ctx *ctx, unsigned char digest[SHA1_DIGEST_LEN])
{
    uint64_t bits = ctx->total * 8;
    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > SHA1_LENGTH_AT) {
        memset(ctx->block + ctx->used, 0, SHA1_BLOCK - ctx->used);
        sha1_block(ctx->h, ctx->block);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, SHA1_LENGTH_AT - ctx->used);
    for (int i = 0; i < 8; i++)
        ctx->block[SHA1_LENGTH_AT + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_block(ctx->h, ctx->block);
    for (int i = 0; i < 5; i++) {
        digest[4 * i] = (unsigned char)(ctx->h[i] >> 24);
        digest[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
        digest[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
        digest[4 * i + 3] = (unsigned char)ctx->h[i];
    }
}

void sha1_hex(char out[SHA1_HEX_LEN + 1], const void *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[SHA1_DIGEST_LEN];
    sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, p, len);
    sha1_final(&ctx, d);
    for (int i = 0; i < SHA1_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 0xf];
    }
    out[SHA1_HEX_LEN] = '\0';
}
