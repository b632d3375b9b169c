/* Secrets at rest: AES-256-GCM under a key kept in <data-dir>/secret.key (mode 0600, made at
 * first start). Used for what the control plane must give back later (an instance's password,
 * which nodes need at every start; the first response of an Idempotency-Key, which may hold a
 * secret shown once), never for API tokens, which are only hashed. */
#ifndef DFLY_CONTROL_SECRET_H
#define DFLY_CONTROL_SECRET_H

#include <stddef.h>

#define SECRET_KEY_FILE "secret.key"

/* Loads or creates the key file in data_dir. Returns 0 or -1 with err. */
int secret_init(const char *data_dir, char *err, size_t errlen);

/* Encrypts n bytes; *out (malloc'd, caller frees) gets nonce || ciphertext || tag. */
void secret_seal(const void *in, size_t n, unsigned char **out, size_t *outlen);
/* Decrypts what secret_seal made; *out is malloc'd and NUL-terminated. Returns 0, or -1 when
 * the data was altered or made under another key. */
int secret_open(const void *in, size_t n, char **out, size_t *outlen);

/* The same with another 32-byte key (SECRET_KEY_LEN): the internal CA's key is sealed under
 * the master key (pki/ca.c). */
#define SECRET_KEY_LEN 32
void secret_seal_key(const unsigned char *key, const void *in, size_t n, unsigned char **out,
                     size_t *outlen);
int secret_open_key(const unsigned char *key, const void *in, size_t n, char **out, size_t *outlen);

/* Reads a SECRET_KEY_LEN-byte key file into out: 0, 1 when there is no such file (the caller
 * decides whether to make one), or -1 with err when it cannot be read or has another size. */
int secret_key_file_read(const char *path, unsigned char *out, char *err, size_t errlen);

#endif
