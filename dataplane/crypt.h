/* Encryption at rest of snapshot files (--snapshot_encryption_key_file): AES-256-GCM in
 * authenticated chunks (OpenSSL).
 *
 * File format (version 1), all integers big-endian:
 *
 *   header, CRYPT_HEADER_LEN bytes:
 *     0   magic "DFLYENC1"
 *     8   format version (1)
 *     9   algorithm (1: AES-256-GCM, HKDF-SHA256 file keys)
 *     10  reserved, 0 (2 bytes)
 *     12  chunk size: plaintext bytes of every chunk but the last (4 bytes)
 *     16  file salt, random (16 bytes)
 *     32  key check (16 bytes)
 *   chunks, each: [length: 4 bytes][ciphertext: length bytes][GCM tag: 16 bytes]
 *
 * HKDF-SHA256 of the 32-byte key with the file salt gives the file's AES key, a 4-byte nonce
 * prefix and the key check, so no two files share an AES key and a wrong key is told apart from
 * a damaged chunk. Chunk i is sealed with nonce = prefix || i (64 bits) and, as additional
 * authenticated data, the whole header, i (64 bits) and a byte that is 1 on the last chunk only.
 * Every chunk but the last holds exactly chunk-size bytes; the last one (possibly empty) is
 * always written, so reordered, dropped, duplicated or spliced chunks, a truncation at any
 * point (chunk boundaries included) and trailing bytes all fail to authenticate. */
#ifndef DFLY_CRYPT_H
#define DFLY_CRYPT_H

#include <stddef.h>

#include "buf.h"

#define CRYPT_KEY_LEN 32
#define CRYPT_HEADER_LEN 48
#define CRYPT_CHUNK_SIZE (64 * 1024) /* what crypt_writer_new uses */
#define CRYPT_CHUNK_MAX (16 * 1024 * 1024)
#define CRYPT_LENGTH_LEN 4
#define CRYPT_TAG_LEN 16
#define CRYPT_ERR_MAX 256

/* Reads a key file: 32 raw bytes, or 64 hex digits (a trailing newline allowed). Anything else
 * is an error saying what the file holds. A file that group or others may access is used, with
 * a warning in the log (secrets mounted by orchestrators are often mode 0644). */
int crypt_key_load(const char *path, unsigned char key[CRYPT_KEY_LEN], char *err, size_t errlen);

/* Streaming encryption: feed plaintext, get ciphertext for every complete chunk appended to out;
 * finish writes the last (marked final) chunk. The header goes out with the first output.
 * Returns 0, or -1 when OpenSSL fails or the writer is already finished. One writer belongs to
 * one thread at a time; the key is copied (and wiped by crypt_writer_free). */
typedef struct crypt_writer crypt_writer;
crypt_writer *crypt_writer_new(const unsigned char key[CRYPT_KEY_LEN]);
/* The same with another chunk size (1..CRYPT_CHUNK_MAX): small chunks let tests cover many. */
crypt_writer *crypt_writer_new_chunked(const unsigned char key[CRYPT_KEY_LEN], size_t chunk_size);
int crypt_writer_feed(crypt_writer *w, const void *data, size_t len, buf *out);
int crypt_writer_finish(crypt_writer *w, buf *out);
void crypt_writer_free(crypt_writer *w);

/* 1 when data starts with the encrypted-file header. */
int crypt_is_encrypted(const void *data, size_t len);
/* Decrypts a whole encrypted file into out. Returns 0, or -1 with err (wrong key, corrupt or
 * truncated, with the offset); out then gets none of the file's plaintext. */
int crypt_decrypt_all(const void *data, size_t len, const unsigned char key[CRYPT_KEY_LEN],
                      buf *out, char *err, size_t errlen);

#endif
