/* Unit tests of dataplane/crypt.c: round trips of many sizes, a wrong key, every flipped byte,
 * truncation at every chunk boundary, reordered, dropped and spliced chunks, and key files. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"
#include "log.h"
#include "testing.h"

/* A small chunk size lets a small file have many chunks. */
#define SMALL_CHUNK 16
#define CHUNK_BYTES(n) (CRYPT_LENGTH_LEN + (n) + CRYPT_TAG_LEN)
/* Plaintexts of these sizes are searched for in the encrypted file. */
#define PLAIN_SEARCH_MIN 16
#define PLAIN_SEARCH_MAX 1024

static const unsigned char key_a[CRYPT_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char key_b[CRYPT_KEY_LEN] = "0123456789abcdef0123456789abcdX";

/* Deterministic plaintext. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
}

/* Encrypts p in pieces of `piece` bytes (0: all at once) with the given chunk size. */
static void encrypt(const unsigned char *key, const void *p, size_t n, size_t chunk, size_t piece,
                    buf *out)
{
    crypt_writer *w = chunk ? crypt_writer_new_chunked(key, chunk) : crypt_writer_new(key);
    if (!w)
        abort();
    const unsigned char *s = p;
    size_t off = 0;
    do {
        size_t k = piece && n - off > piece ? piece : n - off;
        if (crypt_writer_feed(w, s + off, k, out) != 0)
            abort();
        off += k;
    } while (off < n);
    if (crypt_writer_finish(w, out) != 0)
        abort();
    crypt_writer_free(w);
}

/* Decrypts; returns the rc and leaves the message in err. */
static int decrypt(const buf *file, const unsigned char *key, buf *plain, char *err)
{
    err[0] = '\0';
    return crypt_decrypt_all(file->data, file->len, key, plain, err, CRYPT_ERR_MAX);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void round_trip(size_t n, size_t chunk, size_t piece)
{
    unsigned char *p = malloc(n ? n : 1);
    REQUIRE(p);
    fill(p, n, (unsigned)n);
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    encrypt(key_a, p, n, chunk, piece, &file);
    size_t cs = chunk ? chunk : CRYPT_CHUNK_SIZE;
    size_t chunks = n == 0 ? 1 : (n + cs - 1) / cs;
    CHECK_EQ_INT(file.len, CRYPT_HEADER_LEN + chunks * CHUNK_BYTES(0) + n);
    CHECK(crypt_is_encrypted(file.data, file.len));
    char err[CRYPT_ERR_MAX];
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(plain.len, n);
    CHECK(n == 0 || memcmp(plain.data, p, n) == 0);
    if (n >= PLAIN_SEARCH_MIN && n <= PLAIN_SEARCH_MAX)   /* shorter ones may occur by chance */
        CHECK(memmem(file.data, file.len, p, n) == NULL); /* no plaintext in the file */
    buf_free(&file);
    buf_free(&plain);
    free(p);
}

TEST(round_trip_sizes)
{
    const size_t c = CRYPT_CHUNK_SIZE;
    const size_t sizes[] = {0, 1, c - 1, c, c + 1, 2 * c, 3 * c + 17, 5 * 1024 * 1024 + 123};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        round_trip(sizes[i], 0, 0);    /* one feed */
        round_trip(sizes[i], 0, 1000); /* pieces that straddle chunk boundaries */
    }
    round_trip(c + 1, 0, 1); /* byte by byte */
    for (size_t n = 0; n <= 3 * SMALL_CHUNK + 1; n++) {
        round_trip(n, SMALL_CHUNK, 0);
        round_trip(n, SMALL_CHUNK, 1);
        round_trip(n, SMALL_CHUNK, 5);
    }
    round_trip(1000, 1, 7); /* one byte per chunk */
}

TEST(appends_to_out)
{
    /* Output and plaintext are appended after what the buffers already hold. */
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    crypt_writer *w = crypt_writer_new(key_a);
    REQUIRE(w);
    CHECK_EQ_INT(crypt_writer_feed(w, "hello ", 6, &file), 0);
    CHECK_EQ_INT(file.len, CRYPT_HEADER_LEN); /* the header, no chunk yet */
    CHECK_EQ_INT(crypt_writer_feed(w, "", 0, &file), 0);
    CHECK_EQ_INT(crypt_writer_feed(w, "world", 5, &file), 0);
    CHECK_EQ_INT(crypt_writer_finish(w, &file), 0);
    /* A finished writer takes nothing more. */
    CHECK_EQ_INT(crypt_writer_feed(w, "x", 1, &file), -1);
    CHECK_EQ_INT(crypt_writer_finish(w, &file), -1);
    crypt_writer_free(w);
    buf_append_str(&plain, "prefix:");
    char err[CRYPT_ERR_MAX];
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), 0);
    CHECK_EQ_STR(plain.data, "prefix:hello world");
    /* A failure leaves what was there. */
    CHECK_EQ_INT(decrypt(&file, key_b, &plain, err), -1);
    CHECK_EQ_STR(plain.data, "prefix:hello world");
    buf_free(&file);
    buf_free(&plain);
    CHECK(crypt_writer_new_chunked(key_a, 0) == NULL);
    CHECK(crypt_writer_new_chunked(key_a, CRYPT_CHUNK_MAX + 1) == NULL);
}

TEST(same_plaintext_differs)
{
    /* A random salt per file: the same data and key never give the same bytes. */
    buf a, b;
    buf_init(&a);
    buf_init(&b);
    encrypt(key_a, "same", 4, 0, 0, &a);
    encrypt(key_a, "same", 4, 0, 0, &b);
    CHECK_EQ_INT(a.len, b.len);
    CHECK(memcmp(a.data, b.data, a.len) != 0);
    buf_free(&a);
    buf_free(&b);
}

TEST(wrong_key)
{
    unsigned char p[3 * SMALL_CHUNK];
    fill(p, sizeof(p), 1);
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    encrypt(key_a, p, sizeof(p), SMALL_CHUNK, 0, &file);
    char err[CRYPT_ERR_MAX];
    CHECK_EQ_INT(decrypt(&file, key_b, &plain, err), -1);
    CHECK_EQ_STR(err, "wrong key or corrupt file: the key check in the header (offset 32) does "
                      "not match this key");
    CHECK_EQ_INT(plain.len, 0);
    buf_free(&file);
    buf_free(&plain);
}

TEST(every_flipped_byte_is_detected)
{
    unsigned char p[100];
    fill(p, sizeof(p), 2);
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    encrypt(key_a, p, sizeof(p), SMALL_CHUNK, 0, &file);
    REQUIRE(file.len == CRYPT_HEADER_LEN + 7 * CHUNK_BYTES(0) + sizeof(p));
    char err[CRYPT_ERR_MAX];
    const unsigned char masks[] = {0x01, 0x80, 0xff};
    int detected = 0, tries = 0;
    for (size_t i = 0; i < file.len; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            file.data[i] ^= (char)masks[m];
            tries++;
            if (decrypt(&file, key_a, &plain, err) == -1 && plain.len == 0 && err[0])
                detected++;
            else
                fprintf(stderr, "flip 0x%02x at %zu not detected (%s)\n", masks[m], i, err);
            file.data[i] ^= (char)masks[m];
        }
    }
    CHECK_EQ_INT(detected, tries);
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), 0); /* flipped back: fine again */
    buf_free(&file);
    buf_free(&plain);
}

TEST(truncation_is_detected)
{
    unsigned char p[5 * SMALL_CHUNK + 3];
    fill(p, sizeof(p), 3);
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    encrypt(key_a, p, sizeof(p), SMALL_CHUNK, 0, &file);
    char err[CRYPT_ERR_MAX];
    /* At every length short of the whole file. */
    for (size_t len = 0; len < file.len; len++) {
        err[0] = '\0';
        int rc = crypt_decrypt_all(file.data, len, key_a, &plain, err, sizeof(err));
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_INT(plain.len, 0);
        if (len >= 8) /* shorter is not even recognized as an encrypted file */
            CHECK(starts_with(err, "truncated: "));
    }
    /* At each chunk boundary the message says where the file ends. */
    for (size_t k = 1; k <= 5; k++) {
        size_t len = CRYPT_HEADER_LEN + k * CHUNK_BYTES(SMALL_CHUNK);
        CHECK_EQ_INT(crypt_decrypt_all(file.data, len, key_a, &plain, err, sizeof(err)), -1);
        char want[CRYPT_ERR_MAX];
        snprintf(want, sizeof(want),
                 "truncated: the file ends after chunk %zu at offset %zu, before its last chunk",
                 k - 1, len - CHUNK_BYTES(SMALL_CHUNK));
        CHECK_EQ_STR(err, want);
    }
    CHECK_EQ_INT(crypt_decrypt_all(file.data, CRYPT_HEADER_LEN, key_a, &plain, err, sizeof(err)),
                 -1);
    CHECK_EQ_STR(err, "truncated: chunk 0 at offset 48 has no complete length field (the file "
                      "ends at 48)");
    CHECK_EQ_INT(crypt_decrypt_all(file.data, 20, key_a, &plain, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "truncated: the encryption header needs 48 bytes, the file has 20");
    CHECK_EQ_INT(crypt_decrypt_all(file.data, 60, key_a, &plain, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "truncated: chunk 0 at offset 48 needs 36 bytes, the file has 12 more");
    buf_free(&file);
    buf_free(&plain);
}

/* Rebuilds a file from the header and the chunks of src listed in order (all chunks full). */
static void splice(const buf *src, const int *order, size_t n, buf *out)
{
    buf_clear(out);
    buf_append(out, src->data, CRYPT_HEADER_LEN);
    for (size_t i = 0; i < n; i++) {
        size_t off = CRYPT_HEADER_LEN + (size_t)order[i] * CHUNK_BYTES(SMALL_CHUNK);
        buf_append(out, src->data + off, CHUNK_BYTES(SMALL_CHUNK));
    }
}

TEST(reordered_dropped_and_foreign_chunks)
{
    unsigned char p[4 * SMALL_CHUNK]; /* four full chunks, the last one final */
    fill(p, sizeof(p), 4);
    buf file, other, edited, plain;
    buf_init(&file);
    buf_init(&other);
    buf_init(&edited);
    buf_init(&plain);
    encrypt(key_a, p, sizeof(p), SMALL_CHUNK, 0, &file);
    encrypt(key_a, p, sizeof(p), SMALL_CHUNK, 0, &other);
    REQUIRE(file.len == CRYPT_HEADER_LEN + 4 * CHUNK_BYTES(SMALL_CHUNK));
    char err[CRYPT_ERR_MAX];
    static const int identity[] = {0, 1, 2, 3};
    splice(&file, identity, 4, &edited);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), 0);
    buf_clear(&plain);

    static const int swapped[] = {0, 2, 1, 3};
    splice(&file, swapped, 4, &edited);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    CHECK_EQ_STR(err, "wrong key or corrupt file: chunk 1 at offset 84 fails authentication "
                      "(damaged, reordered or from another file)");
    static const int dropped[] = {0, 2, 3};
    splice(&file, dropped, 3, &edited);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    CHECK(starts_with(err, "wrong key or corrupt file: chunk 1 at offset 84"));
    static const int duplicated[] = {0, 1, 1, 2, 3};
    splice(&file, duplicated, 5, &edited);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    static const int final_moved[] = {0, 1, 3};
    splice(&file, final_moved, 3, &edited);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    static const int final_dropped[] = {0, 1, 2};
    splice(&file, final_dropped, 3, &edited);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    CHECK(starts_with(err, "truncated: the file ends after chunk 2"));

    /* A chunk of another file under the same key (same position) does not fit. */
    buf_clear(&edited);
    buf_append(&edited, file.data, file.len);
    size_t off = CRYPT_HEADER_LEN + CHUNK_BYTES(SMALL_CHUNK);
    memcpy(edited.data + off, other.data + off, CHUNK_BYTES(SMALL_CHUNK));
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    /* Nor does the other file's header on this file's chunks. */
    buf_clear(&edited);
    buf_append(&edited, file.data, file.len);
    memcpy(edited.data, other.data, CRYPT_HEADER_LEN);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);

    /* Bytes after the last chunk. */
    buf_clear(&edited);
    buf_append(&edited, file.data, file.len);
    buf_append(&edited, "junk", 4);
    CHECK_EQ_INT(decrypt(&edited, key_a, &plain, err), -1);
    CHECK_EQ_STR(err, "corrupt file: 4 bytes after the last chunk (chunk 3 at offset 156)");
    CHECK_EQ_INT(plain.len, 0);
    buf_free(&file);
    buf_free(&other);
    buf_free(&edited);
    buf_free(&plain);
}

TEST(header_checks)
{
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    encrypt(key_a, "data", 4, 0, 0, &file);
    char err[CRYPT_ERR_MAX];
    CHECK(!crypt_is_encrypted("REDIS0011", 9));
    CHECK(!crypt_is_encrypted("DFLYENC", 7));
    CHECK_EQ_INT(crypt_decrypt_all("REDIS0011", 9, key_a, &plain, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "not an encrypted snapshot (no DFLYENC1 header at offset 0)");
    file.data[8] = 2;
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), -1);
    CHECK_EQ_STR(err, "unsupported encryption format version 2, algorithm 1 at offset 8 (this "
                      "build reads version 1, algorithm 1)");
    file.data[8] = 1;
    file.data[12] = 0x7f; /* chunk size beyond the limit */
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), -1);
    CHECK_EQ_STR(err, "corrupt file: bad encryption header at offset 10");
    file.data[12] = 0;
    file.data[13] = 0; /* 64 KiB -> 0 */
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), -1);
    file.data[13] = 1; /* back to 64 KiB */
    CHECK_EQ_INT(decrypt(&file, key_a, &plain, err), 0);
    buf_free(&file);
    buf_free(&plain);
}

/* ---- key files ---- */

static char key_dir[] = "/tmp/dfly-test-crypt-XXXXXX";

static const char *key_file(const char *name, const void *data, size_t len, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", key_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, len, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

#define HEX64 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void check_key_ok(const char *name, const char *data, size_t len)
{
    unsigned char key[CRYPT_KEY_LEN];
    char err[CRYPT_ERR_MAX] = "";
    const char *path = key_file(name, data, len, 0600);
    CHECK_EQ_INT(crypt_key_load(path, key, err, sizeof(err)), 0);
    for (int i = 0; i < CRYPT_KEY_LEN; i++)
        CHECK_EQ_INT(key[i], i);
}

static void check_key_bad(const char *name, const char *data, size_t len, const char *why)
{
    unsigned char key[CRYPT_KEY_LEN];
    char err[CRYPT_ERR_MAX] = "", want[CRYPT_ERR_MAX + 128];
    const char *path = key_file(name, data, len, 0600);
    CHECK_EQ_INT(crypt_key_load(path, key, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), why, path, path);
    CHECK_EQ_STR(err, want);
}

#define KEY_SIZE_ERR                                                                               \
    "%s: a key file holds 32 raw bytes or 64 hex digits, this one does not (create one with: "     \
    "openssl rand -hex 32 > %s)"

TEST(key_files)
{
    REQUIRE(mkdtemp(key_dir) != NULL);
    char raw[CRYPT_KEY_LEN];
    for (int i = 0; i < CRYPT_KEY_LEN; i++)
        raw[i] = (char)i;
    check_key_ok("raw", raw, sizeof(raw));
    check_key_ok("hex", HEX64, 64);
    check_key_ok("hex_nl", HEX64 "\n", 65);
    check_key_ok("hex_crlf", HEX64 "\r\n", 66);
    check_key_ok("hex_upper", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
                 64);
    check_key_bad("empty", "", 0, KEY_SIZE_ERR);
    check_key_bad("raw33", HEX64, 33, KEY_SIZE_ERR);
    check_key_bad("hex63", HEX64, 63, KEY_SIZE_ERR);
    check_key_bad("hex2nl", HEX64 "\n\n", 66, KEY_SIZE_ERR);
    check_key_bad("hex_space", " " HEX64, 65, KEY_SIZE_ERR);
    check_key_bad("long", HEX64 HEX64, 128, KEY_SIZE_ERR);
    check_key_bad("nonhex", "00010203040506070809Za0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64,
                  "%s: character 21 of the key is not a hex digit");
    check_key_bad("nonhex2", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
                  65, "%s: character 64 of the key is not a hex digit");

    /* A key readable by others still loads (with a warning in the log). */
    log_set_level(LOG_ERROR); /* keep the test output clean */
    unsigned char key[CRYPT_KEY_LEN];
    char err[CRYPT_ERR_MAX];
    const char *path = key_file("open", HEX64, 64, 0644);
    CHECK_EQ_INT(crypt_key_load(path, key, err, sizeof(err)), 0);
    log_set_level(LOG_INFO);

    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing", key_dir);
    CHECK_EQ_INT(crypt_key_load(missing, key, err, sizeof(err)), -1);
    char want[CRYPT_ERR_MAX + 64];
    snprintf(want, sizeof(want), "%s: cannot open the key file: No such file or directory",
             missing);
    CHECK_EQ_STR(err, want);
    CHECK_EQ_INT(crypt_key_load(key_dir, key, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: the key file is not a regular file", key_dir);
    CHECK_EQ_STR(err, want);

    /* A key loaded from hex decrypts what the same raw key encrypted. */
    unsigned char from_hex[CRYPT_KEY_LEN];
    REQUIRE(crypt_key_load(key_file("hex", HEX64, 64, 0600), from_hex, err, sizeof(err)) == 0);
    buf file, plain;
    buf_init(&file);
    buf_init(&plain);
    encrypt((const unsigned char *)raw, "secret", 6, 0, 0, &file);
    CHECK_EQ_INT(decrypt(&file, from_hex, &plain, err), 0);
    CHECK_EQ_STR(plain.data, "secret");
    buf_free(&file);
    buf_free(&plain);

    const char *names[] = {"raw",   "hex",    "hex_nl", "hex_crlf", "hex_upper",
                           "empty", "raw33",  "hex63",  "hex2nl",   "hex_space",
                           "long",  "nonhex", "open",   "nonhex2"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s/%s", key_dir, names[i]);
        unlink(p);
    }
    rmdir(key_dir);
}

int main(void)
{
    RUN_TEST(round_trip_sizes);
    RUN_TEST(appends_to_out);
    RUN_TEST(same_plaintext_differs);
    RUN_TEST(wrong_key);
    RUN_TEST(every_flipped_byte_is_detected);
    RUN_TEST(truncation_is_detected);
    RUN_TEST(reordered_dropped_and_foreign_chunks);
    RUN_TEST(header_checks);
    RUN_TEST(key_files);
    TEST_MAIN_END();
}
