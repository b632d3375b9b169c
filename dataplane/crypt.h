/* Encryption at rest of snapshot files (--snapshot_encryption_key_file): AES-256-GCM in
 * authenticated chunks (OpenSSL). */
#ifndef DFLY_CRYPT_H
#define DFLY_CRYPT_H

#include <stddef.h>

#include "buf.h"

#define CRYPT_KEY_LEN 32

/* Reads a key file: 32 raw bytes, or 64 hex digits (a trailing newline allowed). */
int crypt_key_load(const char *path, unsigned char key[CRYPT_KEY_LEN], char *err, size_t errlen);

/* Streaming encryption: feed plaintext, get ciphertext for every complete chunk appended to out;
 * finish writes the last (marked final) chunk. */
typedef struct crypt_writer crypt_writer;
crypt_writer *crypt_writer_new(const unsigned char key[CRYPT_KEY_LEN]);
int crypt_writer_feed(crypt_writer *w, const void *data, size_t len, buf *out);
int crypt_writer_finish(crypt_writer *w, buf *out);
void crypt_writer_free(crypt_writer *w);

/* 1 when data starts with the encrypted-file header. */
int crypt_is_encrypted(const void *data, size_t len);
/* Decrypts a whole encrypted file into out. Returns 0, or -1 with err (wrong key, corrupt or
 * truncated, with the offset). */
int crypt_decrypt_all(const void *data, size_t len, const unsigned char key[CRYPT_KEY_LEN],
                      buf *out, char *err, size_t errlen);

#endif
