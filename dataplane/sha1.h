/* SHA-1 (FIPS 180-4), for script identifiers: EVALSHA names a script by the SHA-1 of its body,
 * and redis.sha1hex exposes the same digest to scripts. Not for anything security-related. */
#ifndef DFLY_SHA1_H
#define DFLY_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
#define SHA1_HEX_LEN 40 /* without the terminating NUL */

typedef struct sha1_ctx {
    uint32_t h[5];
    uint64_t total; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in block */
} sha1_ctx;

void sha1_init(sha1_ctx *ctx);
void sha1_update(sha1_ctx *ctx, const void *data, size_t len);
void sha1_final(sha1_ctx *ctx, unsigned char digest[SHA1_DIGEST_LEN]);

/* The digest of p[0..len) as 40 lower-case hex digits and a NUL. */
void sha1_hex(char out[SHA1_HEX_LEN + 1], const void *p, size_t len);

#endif
