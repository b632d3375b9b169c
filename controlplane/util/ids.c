/* Identifiers, secrets and timestamps. */
#include "ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define SHA256_LEN 32

void ids_random(void *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) {
        log_error("no random bytes from OpenSSL: refusing to make predictable secrets");
        abort();
    }
}

void ids_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void ids_new(const char *prefix, char *out)
{
    unsigned char raw[ID_RANDOM_BYTES];
    char hex[2 * ID_RANDOM_BYTES + 1];
    ids_random(raw, sizeof(raw));
    ids_hex(raw, sizeof(raw), hex);
    snprintf(out, ID_MAX, "%s_%s", prefix, hex);
}

void ids_secret(const char *prefix, char *out)
{
    unsigned char raw[SECRET_RANDOM_BYTES];
    char hex[2 * SECRET_RANDOM_BYTES + 1];
    ids_random(raw, sizeof(raw));
    ids_hex(raw, sizeof(raw), hex);
    snprintf(out, SECRET_MAX, "%s%s", prefix, hex);
}

void ids_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char md[SHA256_LEN];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    ids_hex(md, SHA256_LEN, out);
}

void ids_time_format(int64_t ms, char *out)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, TIME_TEXT_MAX - n, ".%03dZ", (int)(ms % 1000));
}

int64_t ids_now_ms(void)
{
    return clock_wall_ms();
}
