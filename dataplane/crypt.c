/* Encryption at rest of snapshot files: AES-256-GCM in authenticated chunks; the format is
 * described in crypt.h. */
#include "crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "log.h"

#define CRYPT_MAGIC "DFLYENC1"
#define CRYPT_MAGIC_LEN 8
#define CRYPT_VERSION 1
#define CRYPT_ALG_AES256GCM_HKDF 1
#define CRYPT_SALT_LEN 16
#define CRYPT_CHECK_LEN 16
#define CRYPT_PREFIX_LEN 4
#define CRYPT_NONCE_LEN 12 /* GCM's native nonce: prefix || 64-bit chunk index */
#define CRYPT_INDEX_LEN 8
/* Header fields. */
#define CRYPT_OFF_VERSION 8
#define CRYPT_OFF_ALG 9
#define CRYPT_OFF_RESERVED 10
#define CRYPT_OFF_CHUNK 12
#define CRYPT_OFF_SALT 16
#define CRYPT_OFF_CHECK 32
/* Additional authenticated data of a chunk: header, index, final flag. */
#define CRYPT_AAD_LEN (CRYPT_HEADER_LEN + CRYPT_INDEX_LEN + 1)
#define CRYPT_CHUNK_OVERHEAD (CRYPT_LENGTH_LEN + CRYPT_TAG_LEN)
/* What HKDF derives per file: AES key, nonce prefix, key check. */
#define CRYPT_DERIVED_LEN (CRYPT_KEY_LEN + CRYPT_PREFIX_LEN + CRYPT_CHECK_LEN)
#define CRYPT_HKDF_INFO "dfly snapshot encryption v1"
/* Key files: 32 raw bytes, or 64 hex digits and an optional "\n" or "\r\n". */
#define CRYPT_KEY_HEX_LEN (2 * CRYPT_KEY_LEN)
#define CRYPT_KEY_FILE_MAX (CRYPT_KEY_HEX_LEN + 2)

_Static_assert(CRYPT_OFF_CHECK + CRYPT_CHECK_LEN == CRYPT_HEADER_LEN, "header layout");

/* The per-file secrets HKDF gives. */
typedef struct file_keys {
    unsigned char key[CRYPT_KEY_LEN];
    unsigned char prefix[CRYPT_PREFIX_LEN];
    unsigned char check[CRYPT_CHECK_LEN];
} file_keys;

struct crypt_writer {
    EVP_CIPHER_CTX *ctx;
    unsigned char header[CRYPT_HEADER_LEN];
    file_keys keys;
    size_t chunk_size;
    uint64_t index;         /* of the next chunk */
    int header_out;         /* the header went out */
    int done;               /* finished, or failed: no more output */
    unsigned char *pending; /* plaintext of the chunk being filled */
    size_t pending_len;
};

/* ---------- helpers ---------- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* HKDF-SHA256(key, salt) -> the file's keys. Returns 0 or -1. */
static int derive_file_keys(const unsigned char key[CRYPT_KEY_LEN],
                            const unsigned char salt[CRYPT_SALT_LEN], file_keys *out)
{
    unsigned char derived[CRYPT_DERIVED_LEN];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kctx)
        return -1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, CRYPT_KEY_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, CRYPT_SALT_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)CRYPT_HKDF_INFO,
                                          strlen(CRYPT_HKDF_INFO)),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(kctx, derived, sizeof(derived), params) == 1;
    EVP_KDF_CTX_free(kctx);
    if (ok) {
        memcpy(out->key, derived, CRYPT_KEY_LEN);
        memcpy(out->prefix, derived + CRYPT_KEY_LEN, CRYPT_PREFIX_LEN);
        memcpy(out->check, derived + CRYPT_KEY_LEN + CRYPT_PREFIX_LEN, CRYPT_CHECK_LEN);
    }
    OPENSSL_cleanse(derived, sizeof(derived));
    return ok ? 0 : -1;
}

static void chunk_nonce(const file_keys *k, uint64_t index, unsigned char nonce[CRYPT_NONCE_LEN])
{
    memcpy(nonce, k->prefix, CRYPT_PREFIX_LEN);
    put_be64(nonce + CRYPT_PREFIX_LEN, index);
}

static void chunk_aad(const unsigned char *header, uint64_t index, int final,
                      unsigned char aad[CRYPT_AAD_LEN])
{
    memcpy(aad, header, CRYPT_HEADER_LEN);
    put_be64(aad + CRYPT_HEADER_LEN, index);
    aad[CRYPT_HEADER_LEN + CRYPT_INDEX_LEN] = final ? 1 : 0;
}

/* ---------- key files ---------- */

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads at most max bytes (and tells whether there were more). */
static ssize_t read_key_bytes(int fd, unsigned char *p, size_t max)
{
    size_t got = 0;
    while (got < max) {
        ssize_t r = read(fd, p + got, max - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The key from a file's bytes: 32 raw, or 64 hex digits and an optional line end. */
static int key_decode(const char *path, const unsigned char *p, size_t n,
                      unsigned char key[CRYPT_KEY_LEN], char *err, size_t errlen)
{
    if (n == CRYPT_KEY_LEN) {
        memcpy(key, p, CRYPT_KEY_LEN);
        return 0;
    }
    if (n > 0 && p[n - 1] == '\n')
        n--;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n != CRYPT_KEY_HEX_LEN) {
        snprintf(err, errlen,
                 "%s: a key file holds 32 raw bytes or 64 hex digits, this one does not "
                 "(create one with: openssl rand -hex 32 > %s)",
                 path, path);
        return -1;
    }
    for (size_t i = 0; i < CRYPT_KEY_LEN; i++) {
        int hi = hex_value(p[2 * i]), lo = hex_value(p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "%s: character %zu of the key is not a hex digit", path,
                     2 * i + 1 + (hi >= 0));
            return -1;
        }
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int crypt_key_load(const char *path, unsigned char key[CRYPT_KEY_LEN], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open the key file: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: the key file is not a regular file", path);
        close(fd);
        return -1;
    }
    /* Warn rather than refuse: Kubernetes and Docker secrets are often mounted 0644 inside a
     * container only the server runs in, and refusing would break those setups. */
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        log_warning("snapshot key file %s may be read or written by group or others (mode %04o); "
                    "chmod 600 it",
                    path, (unsigned)(st.st_mode & 07777));
    unsigned char data[CRYPT_KEY_FILE_MAX + 1];
    ssize_t n = read_key_bytes(fd, data, sizeof(data));
    int saved = errno;
    close(fd);
    int rc;
    if (n < 0) {
        snprintf(err, errlen, "%s: cannot read the key file: %s", path, strerror(saved));
        rc = -1;
    } else {
        rc = key_decode(path, data, (size_t)n, key, err, errlen);
    }
    OPENSSL_cleanse(data, sizeof(data));
    return rc;
}

/* ---------- writer ---------- */

crypt_writer *crypt_writer_new_chunked(const unsigned char key[CRYPT_KEY_LEN], size_t chunk_size)
{
    if (chunk_size == 0 || chunk_size > CRYPT_CHUNK_MAX)
        return NULL;
    crypt_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->chunk_size = chunk_size;
    w->pending = malloc(chunk_size);
    w->ctx = EVP_CIPHER_CTX_new();
    unsigned char *h = w->header;
    memcpy(h, CRYPT_MAGIC, CRYPT_MAGIC_LEN);
    h[CRYPT_OFF_VERSION] = CRYPT_VERSION;
    h[CRYPT_OFF_ALG] = CRYPT_ALG_AES256GCM_HKDF;
    h[CRYPT_OFF_RESERVED] = h[CRYPT_OFF_RESERVED + 1] = 0;
    put_be32(h + CRYPT_OFF_CHUNK, (uint32_t)chunk_size);
    if (!w->pending || !w->ctx || RAND_bytes(h + CRYPT_OFF_SALT, CRYPT_SALT_LEN) != 1 ||
        derive_file_keys(key, h + CRYPT_OFF_SALT, &w->keys) != 0 ||
        EVP_EncryptInit_ex(w->ctx, EVP_aes_256_gcm(), NULL, w->keys.key, NULL) != 1) {
        crypt_writer_free(w);
        return NULL;
    }
    memcpy(h + CRYPT_OFF_CHECK, w->keys.check, CRYPT_CHECK_LEN);
    return w;
}

crypt_writer *crypt_writer_new(const unsigned char key[CRYPT_KEY_LEN])
{
    return crypt_writer_new_chunked(key, CRYPT_CHUNK_SIZE);
}

void crypt_writer_free(crypt_writer *w)
{
    if (!w)
        return;
    EVP_CIPHER_CTX_free(w->ctx);
    if (w->pending) {
        OPENSSL_cleanse(w->pending, w->chunk_size);
        free(w->pending);
    }
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}

static void header_out(crypt_writer *w, buf *out)
{
    if (!w->header_out) {
        buf_append(out, w->header, CRYPT_HEADER_LEN);
        w->header_out = 1;
    }
}

/* Appends chunk w->index holding len bytes of p to out. Returns 0, or -1 (w is then done). */
static int seal_chunk(crypt_writer *w, const unsigned char *p, size_t len, int final, buf *out)
{
    unsigned char nonce[CRYPT_NONCE_LEN], aad[CRYPT_AAD_LEN];
    chunk_nonce(&w->keys, w->index, nonce);
    chunk_aad(w->header, w->index, final, aad);
    buf_reserve(out, CRYPT_CHUNK_OVERHEAD + len);
    unsigned char *dst = (unsigned char *)out->data + out->len;
    put_be32(dst, (uint32_t)len);
    int n1 = 0, n2 = 0, n3 = 0;
    if (EVP_EncryptInit_ex(w->ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(w->ctx, NULL, &n1, aad, sizeof(aad)) != 1 ||
        (len && EVP_EncryptUpdate(w->ctx, dst + CRYPT_LENGTH_LEN, &n2, p, (int)len) != 1) ||
        EVP_EncryptFinal_ex(w->ctx, dst + CRYPT_LENGTH_LEN + n2, &n3) != 1 ||
        (size_t)(n2 + n3) != len ||
        EVP_CIPHER_CTX_ctrl(w->ctx, EVP_CTRL_GCM_GET_TAG, CRYPT_TAG_LEN,
                            dst + CRYPT_LENGTH_LEN + len) != 1) {
        w->done = 1;
        return -1;
    }
    out->len += CRYPT_CHUNK_OVERHEAD + len;
    out->data[out->len] = '\0'; /* buf keeps its data NUL-terminated */
    w->index++;
    return 0;
}

int crypt_writer_feed(crypt_writer *w, const void *data, size_t len, buf *out)
{
    const unsigned char *p = data;
    if (!w || w->done)
        return -1;
    header_out(w, out);
    /* Top up a partial chunk first; whole chunks then go straight from the caller's bytes. */
    while (len > 0) {
        if (w->pending_len == 0 && len > w->chunk_size) {
            /* A chunk is sealed only once more data follows it: the last one must be final. */
            if (seal_chunk(w, p, w->chunk_size, 0, out) != 0)
                return -1;
            p += w->chunk_size;
            len -= w->chunk_size;
            continue;
        }
        if (w->pending_len == w->chunk_size) {
            if (seal_chunk(w, w->pending, w->chunk_size, 0, out) != 0)
                return -1;
            w->pending_len = 0;
            continue;
        }
        size_t n = w->chunk_size - w->pending_len;
        n = n < len ? n : len;
        memcpy(w->pending + w->pending_len, p, n);
        w->pending_len += n;
        p += n;
        len -= n;
    }
    return 0;
}

int crypt_writer_finish(crypt_writer *w, buf *out)
{
    if (!w || w->done)
        return -1;
    header_out(w, out);
    int rc = seal_chunk(w, w->pending, w->pending_len, 1, out);
    w->pending_len = 0;
    w->done = 1;
    return rc;
}

/* ---------- reader ---------- */

int crypt_is_encrypted(const void *data, size_t len)
{
    return len >= CRYPT_MAGIC_LEN && memcmp(data, CRYPT_MAGIC, CRYPT_MAGIC_LEN) == 0;
}

/* The header's fields, checked. Returns 0, or -1 with err. */
static int header_check(const unsigned char *p, size_t len, size_t *chunk_size, char *err,
                        size_t errlen)
{
    if (!crypt_is_encrypted(p, len)) {
        snprintf(err, errlen, "not an encrypted snapshot (no %s header at offset 0)", CRYPT_MAGIC);
        return -1;
    }
    if (len < CRYPT_HEADER_LEN) {
        snprintf(err, errlen, "truncated: the encryption header needs %d bytes, the file has %zu",
                 CRYPT_HEADER_LEN, len);
        return -1;
    }
    if (p[CRYPT_OFF_VERSION] != CRYPT_VERSION || p[CRYPT_OFF_ALG] != CRYPT_ALG_AES256GCM_HKDF) {
        snprintf(err, errlen,
                 "unsupported encryption format version %u, algorithm %u at offset %d (this "
                 "build reads version %d, algorithm %d)",
                 p[CRYPT_OFF_VERSION], p[CRYPT_OFF_ALG], CRYPT_OFF_VERSION, CRYPT_VERSION,
                 CRYPT_ALG_AES256GCM_HKDF);
        return -1;
    }
    uint32_t cs = get_be32(p + CRYPT_OFF_CHUNK);
    if (p[CRYPT_OFF_RESERVED] || p[CRYPT_OFF_RESERVED + 1] || cs == 0 || cs > CRYPT_CHUNK_MAX) {
        snprintf(err, errlen, "corrupt file: bad encryption header at offset %d",
                 CRYPT_OFF_RESERVED);
        return -1;
    }
    *chunk_size = cs;
    return 0;
}

/* Opens chunk `index` (ciphertext ct of len bytes, then its tag) into dst. Returns 1 when it
 * authenticates with this final flag. */
static int open_chunk(EVP_CIPHER_CTX *ctx, const file_keys *k, const unsigned char *header,
                      uint64_t index, int final, const unsigned char *ct, size_t len,
                      unsigned char *dst)
{
    unsigned char nonce[CRYPT_NONCE_LEN], aad[CRYPT_AAD_LEN];
    chunk_nonce(k, index, nonce);
    chunk_aad(header, index, final, aad);
    int n1 = 0, n2 = 0, n3 = 0;
    return EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
           EVP_DecryptUpdate(ctx, NULL, &n1, aad, sizeof(aad)) == 1 &&
           (len == 0 || EVP_DecryptUpdate(ctx, dst, &n2, ct, (int)len) == 1) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPT_TAG_LEN, (void *)(ct + len)) == 1 &&
           EVP_DecryptFinal_ex(ctx, dst + n2, &n3) == 1 && (size_t)(n2 + n3) == len;
}

/* Says why chunk `index` at `off` does not open: trying the other final flag tells a file cut
 * at a chunk boundary, or one with bytes after its last chunk, from a damaged chunk. */
static void chunk_error(EVP_CIPHER_CTX *ctx, const file_keys *k, const unsigned char *header,
                        uint64_t index, int final, const unsigned char *ct, size_t clen,
                        unsigned char *scratch, size_t off, size_t end, size_t len, char *err,
                        size_t errlen)
{
    if (open_chunk(ctx, k, header, index, !final, ct, clen, scratch)) {
        if (final)
            snprintf(err, errlen,
                     "truncated: the file ends after chunk %llu at offset %zu, before its last "
                     "chunk",
                     (unsigned long long)index, off);
        else
            snprintf(err, errlen,
                     "corrupt file: %zu bytes after the last chunk (chunk %llu at offset %zu)",
                     len - end, (unsigned long long)index, off);
        return;
    }
    snprintf(err, errlen,
             "wrong key or corrupt file: chunk %llu at offset %zu fails authentication (damaged, "
             "reordered or from another file)",
             (unsigned long long)index, off);
}

/* Walks and opens every chunk into out. Returns 0, or -1 with err. */
static int decrypt_chunks(EVP_CIPHER_CTX *ctx, const file_keys *k, const unsigned char *p,
                          size_t len, size_t chunk_size, buf *out, char *err, size_t errlen)
{
    size_t off = CRYPT_HEADER_LEN;
    for (uint64_t index = 0;; index++) {
        if (len - off < CRYPT_LENGTH_LEN) {
            snprintf(err, errlen,
                     "truncated: chunk %llu at offset %zu has no complete length field (the "
                     "file ends at %zu)",
                     (unsigned long long)index, off, len);
            return -1;
        }
        size_t clen = get_be32(p + off);
        if (clen > chunk_size) {
            snprintf(err, errlen,
                     "corrupt file: chunk %llu at offset %zu claims %zu bytes, more than the "
                     "chunk size %zu",
                     (unsigned long long)index, off, clen, chunk_size);
            return -1;
        }
        if (len - off - CRYPT_LENGTH_LEN < clen + CRYPT_TAG_LEN) {
            snprintf(err, errlen,
                     "truncated: chunk %llu at offset %zu needs %zu bytes, the file has %zu more",
                     (unsigned long long)index, off, clen + CRYPT_CHUNK_OVERHEAD, len - off);
            return -1;
        }
        size_t end = off + clen + CRYPT_CHUNK_OVERHEAD;
        int final = end == len;
        const unsigned char *ct = p + off + CRYPT_LENGTH_LEN;
        buf_reserve(out, clen);
        unsigned char *dst = (unsigned char *)out->data + out->len;
        if (!open_chunk(ctx, k, p, index, final, ct, clen, dst)) {
            chunk_error(ctx, k, p, index, final, ct, clen, dst, off, end, len, err, errlen);
            return -1;
        }
        out->len += clen;
        out->data[out->len] = '\0';         /* buf keeps its data NUL-terminated */
        if (!final && clen != chunk_size) { /* the writer never does this */
            snprintf(err, errlen, "corrupt file: short chunk %llu at offset %zu",
                     (unsigned long long)index, off);
            return -1;
        }
        off = end;
        if (final)
            return 0;
    }
}

int crypt_decrypt_all(const void *data, size_t len, const unsigned char key[CRYPT_KEY_LEN],
                      buf *out, char *err, size_t errlen)
{
    const unsigned char *p = data;
    size_t chunk_size;
    if (header_check(p, len, &chunk_size, err, errlen) != 0)
        return -1;
    file_keys k;
    if (derive_file_keys(key, p + CRYPT_OFF_SALT, &k) != 0) {
        snprintf(err, errlen, "cannot derive the file key (OpenSSL)");
        return -1;
    }
    if (CRYPTO_memcmp(k.check, p + CRYPT_OFF_CHECK, CRYPT_CHECK_LEN) != 0) {
        OPENSSL_cleanse(&k, sizeof(k));
        snprintf(err, errlen,
                 "wrong key or corrupt file: the key check in the header (offset %d) does not "
                 "match this key",
                 CRYPT_OFF_CHECK);
        return -1;
    }
    size_t start = out->len;
    buf_reserve(out, len); /* the plaintext is shorter than the file */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = -1;
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k.key, NULL) != 1)
        snprintf(err, errlen, "cannot set up decryption (OpenSSL)");
    else
        rc = decrypt_chunks(ctx, &k, p, len, chunk_size, out, err, errlen);
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(&k, sizeof(k));
    if (rc != 0) {
        /* No unauthenticated plaintext leaves here. */
        OPENSSL_cleanse(out->data + start, out->cap - start);
        out->len = start;
    }
    return rc;
}
