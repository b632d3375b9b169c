/* Identifiers, random secrets and timestamps of the control plane. */
#ifndef DFLY_CONTROL_IDS_H
#define DFLY_CONTROL_IDS_H

#include <stddef.h>
#include <stdint.h>

/* "ins_" + 20 hex digits: a prefix that says the kind, then 80 random bits. */
#define ID_RANDOM_BYTES 10
#define ID_MAX 48
/* Tokens and passwords: 256 random bits. */
#define SECRET_RANDOM_BYTES 32
#define SECRET_MAX 96
#define TIME_TEXT_MAX 32

/* Fills out with n random bytes from OpenSSL's CSPRNG. Aborts if it has no entropy: every
 * secret of the service depends on it. */
void ids_random(void *out, size_t n);
/* Lower-case hex of n bytes; out holds 2n+1. */
void ids_hex(const void *in, size_t n, char *out);
/* prefix + "_" + hex random id into out (ID_MAX). */
void ids_new(const char *prefix, char *out);
/* A secret: prefix + 64 hex digits (SECRET_MAX). */
void ids_secret(const char *prefix, char *out);
/* SHA-256 of s as 64 hex digits (out: 65 bytes). */
void ids_sha256_hex(const void *data, size_t len, char *out);

/* RFC 3339 UTC with milliseconds: 2026-01-02T03:04:05.678Z. */
void ids_time_format(int64_t ms, char *out);
int64_t ids_now_ms(void);

#endif
