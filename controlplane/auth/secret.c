/* AES-256-GCM sealing of secrets kept in the database. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ids.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define KEY_FILE_MODE 0600

static unsigned char key[KEY_LEN];

int secret_key_file_read(const char *path, unsigned char *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, out, SECRET_KEY_LEN);
    close(fd);
    if (n != SECRET_KEY_LEN) {
        snprintf(err, errlen, "%s: expected %d bytes", path, SECRET_KEY_LEN);
        return -1;
    }
    return 0;
}

/* Writes a new key through a temporary file and rename, so a crash never leaves half a key. */
static int create_key(const char *path, char *err, size_t errlen)
{
    char tmp[4096 + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ids_random(key, sizeof(key));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, KEY_FILE_MODE);
    if (fd < 0 || write(fd, key, sizeof(key)) != KEY_LEN || fsync(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

int secret_init(const char *data_dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", data_dir, SECRET_KEY_FILE);
    int rc = secret_key_file_read(path, key, err, errlen);
    if (rc <= 0)
        return rc;
    return create_key(path, err, errlen);
}

void secret_seal(const void *in, size_t n, unsigned char **out, size_t *outlen)
{
    secret_seal_key(key, in, n, out, outlen);
}

int secret_open(const void *in, size_t n, char **out, size_t *outlen)
{
    return secret_open_key(key, in, n, out, outlen);
}

void secret_seal_key(const unsigned char *with_key, const void *in, size_t n, unsigned char **out,
                     size_t *outlen)
{
    unsigned char *o = malloc(NONCE_LEN + n + TAG_LEN);
    ids_random(o, NONCE_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, with_key, o);
    EVP_EncryptUpdate(ctx, o + NONCE_LEN, &len, in, (int)n);
    EVP_EncryptFinal_ex(ctx, o + NONCE_LEN + len, &fin);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, o + NONCE_LEN + n);
    EVP_CIPHER_CTX_free(ctx);
    *out = o;
    *outlen = NONCE_LEN + n + TAG_LEN;
}

int secret_open_key(const unsigned char *with_key, const void *in, size_t n, char **out,
                    size_t *outlen)
{
    if (n < NONCE_LEN + TAG_LEN)
        return -1;
    const unsigned char *p = in;
    size_t clen = n - NONCE_LEN - TAG_LEN;
    char *o = malloc(clen + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, with_key, p);
    EVP_DecryptUpdate(ctx, (unsigned char *)o, &len, p + NONCE_LEN, (int)clen);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(p + NONCE_LEN + clen));
    int ok = EVP_DecryptFinal_ex(ctx, (unsigned char *)o + len, &fin);
    EVP_CIPHER_CTX_free(ctx);
    if (ok != 1) {
        free(o);
        return -1;
    }
    o[clen] = '\0';
    *out = o;
    if (outlen)
        *outlen = clen;
    return 0;
}
