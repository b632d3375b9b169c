/* The internal CA: master key, bootstrap (create or load), issuing certificates and CRLs. */
#include "ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "ids.h"
#include "log.h"
#include "mem.h"
#include "secret.h"

#define CA_COMMON_NAME "dfly-control internal CA"
#define CA_LIFETIME_S (10LL * 365 * 24 * 3600) /* ten years: rotating the CA is out of scope */
#define SERIAL_BYTES 16
#define MASTER_KEY_FILE_MODE 0600
#define MASTER_KEY_ENV_MIN 16 /* characters: a short passphrase is no key */
#define MS_PER_S 1000LL
#define ERR_TEXT_MAX 256

struct pki_authority {
    X509 *cert;
    EVP_PKEY *key;
};

/* The internal CA, and the master key its key (and the instances' CAs' keys) are sealed with. */
static struct {
    pthread_mutex_t mu; /* signing: OpenSSL's keys are not promised to be thread-safe */
    pki_authority root;
    char *pem;
    unsigned char master[SECRET_KEY_LEN];
} CA = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- small helpers -------------------------------------------------------------------------- */

static void ssl_err(char *err, size_t errlen, const char *what)
{
    char why[ERR_TEXT_MAX];
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "unknown error");
    ERR_clear_error();
    snprintf(err, errlen, "%s: %s", what, why);
}

/* What was written to the memory BIO b, as a malloc'd NUL-terminated string. */
static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *out = mem_realloc(NULL, (size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    return out;
}

static char *cert_to_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *s = bio_text(b);
    BIO_free(b);
    return s;
}

static char *key_to_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *s = bio_text(b);
    BIO_free(b);
    return s;
}

void pki_san_for_host(const char *host, char *out, size_t outlen)
{
    unsigned char addr[sizeof(struct in6_addr)];
    int ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    snprintf(out, outlen, "%s:%s", ip ? "IP" : "DNS", host);
}

/* A random positive serial (RFC 5280: at most 20 bytes, positive), also as hex text. */
static int serial_set(X509 *x, char *hex)
{
    unsigned char raw[SERIAL_BYTES];
    ids_random(raw, sizeof(raw));
    raw[0] &= 0x7f; /* positive */
    raw[0] |= 0x01; /* and never shorter, so the hex is always the same length */
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = ai && X509_set_serialNumber(x, ai);
    ids_hex(raw, sizeof(raw), hex);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return ok ? 0 : -1;
}

/* An extension from its OpenSSL config text, with issuer and subject set for key ids. */
static int ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static void fingerprint_hex(X509 *x, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    ids_hex(md, n, out);
}

/* ---- the master key -------------------------------------------------------------------------- */

static int master_key_create(const char *path, unsigned char *key, char *err, size_t errlen)
{
    ids_random(key, SECRET_KEY_LEN);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, MASTER_KEY_FILE_MODE);
    if (fd < 0 || write(fd, key, SECRET_KEY_LEN) != SECRET_KEY_LEN || fsync(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    log_info("pki: master key created, written to %s (mode 0600): keep it with the database", path);
    return 0;
}

/* The master key: from the environment, else the file (made only when there is no CA yet,
 * so that a lost file is an error, never a new CA). */
static int master_key_get(const char *data_dir, int ca_exists, unsigned char *key, char *err,
                          size_t errlen)
{
    const char *env = getenv(PKI_MASTER_KEY_ENV);
    if (env && *env) {
        if (strlen(env) < MASTER_KEY_ENV_MIN) {
            snprintf(err, errlen, "%s must be at least %d characters", PKI_MASTER_KEY_ENV,
                     MASTER_KEY_ENV_MIN);
            return -1;
        }
        unsigned int n = 0;
        EVP_Digest(env, strlen(env), key, &n, EVP_sha256(), NULL);
        return 0;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", data_dir, PKI_MASTER_KEY_FILE);
    int rc = secret_key_file_read(path, key, err, errlen);
    if (rc <= 0)
        return rc;
    if (ca_exists) {
        snprintf(err, errlen,
                 "the internal CA's key is sealed under a master key, but neither %s nor %s is "
                 "there: refusing to start (a new CA would invalidate every certificate)",
                 PKI_MASTER_KEY_ENV, path);
        return -1;
    }
    return master_key_create(path, key, err, errlen);
}

/* ---- bootstrap ------------------------------------------------------------------------------- */

static int ca_make(char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    char serial[PKI_SERIAL_HEX_MAX];
    if (!key || !x) {
        ssl_err(err, errlen, "cannot make the CA's key");
        goto fail;
    }
    X509_set_version(x, 2);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CA_COMMON_NAME, -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_time_adj_ex(X509_getm_notAfter(x), 0, CA_LIFETIME_S, NULL);
    X509_set_pubkey(x, key);
    if (serial_set(x, serial) < 0 ||
        /* pathlen 1: the instances' CAs sit below it */
        ext_add(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:1") < 0 ||
        ext_add(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") < 0 ||
        ext_add(x, x, NID_subject_key_identifier, "hash") < 0 || !X509_sign(x, key, EVP_sha256())) {
        ssl_err(err, errlen, "cannot make the CA's certificate");
        goto fail;
    }
    CA.root.cert = x;
    CA.root.key = key;
    return 0;
fail:
    X509_free(x);
    EVP_PKEY_free(key);
    return -1;
}

static int ca_store(const unsigned char *mkey, char *err, size_t errlen)
{
    char *cert_pem = cert_to_pem(CA.root.cert), *key_pem = key_to_pem(CA.root.key);
    unsigned char *sealed;
    size_t slen;
    secret_seal_key(mkey, key_pem, strlen(key_pem), &sealed, &slen);
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    sqlite3_stmt *st =
        db_prepare("INSERT INTO pki_ca(id, cert_pem, key_enc, created_at) VALUES (1, ?, ?, ?)");
    int rc = SQLITE_ERROR;
    if (st) {
        db_bind_text(st, 1, cert_pem);
        sqlite3_bind_blob(st, 2, sealed, (int)slen, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, ids_now_ms());
        rc = db_step_done(st);
        db_done(st);
    }
    free(sealed);
    free(cert_pem);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "cannot store the internal CA");
        return -1;
    }
    return 0;
}

/* Parses the stored CA; its key must open under mkey. */
static int ca_load(const char *cert_pem, const void *sealed, size_t slen, const unsigned char *mkey,
                   char *err, size_t errlen)
{
    char *key_pem = NULL;
    size_t klen = 0;
    if (secret_open_key(mkey, sealed, slen, &key_pem, &klen) < 0) {
        snprintf(err, errlen,
                 "wrong master key: it does not open the internal CA's key (%s or %s/%s is not "
                 "the one the CA was made with); refusing to start",
                 PKI_MASTER_KEY_ENV, "<data-dir>", PKI_MASTER_KEY_FILE);
        return -1;
    }
    BIO *kb = BIO_new_mem_buf(key_pem, (int)klen);
    BIO *cb = BIO_new_mem_buf(cert_pem, -1);
    CA.root.key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    CA.root.cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    BIO_free(kb);
    BIO_free(cb);
    OPENSSL_cleanse(key_pem, klen);
    free(key_pem);
    if (!CA.root.key || !CA.root.cert || X509_check_private_key(CA.root.cert, CA.root.key) != 1) {
        ssl_err(err, errlen, "the stored internal CA does not parse");
        return -1;
    }
    return 0;
}

int pki_init(const char *data_dir, char *err, size_t errlen)
{
    sqlite3_stmt *st = db_prepare("SELECT cert_pem, key_enc FROM pki_ca WHERE id = 1");
    if (!st) {
        snprintf(err, errlen, "cannot read the internal CA");
        return -1;
    }
    int exists = sqlite3_step(st) == SQLITE_ROW;
    unsigned char mkey[SECRET_KEY_LEN];
    int rc = master_key_get(data_dir, exists, mkey, err, errlen);
    if (rc == 0 && exists)
        rc = ca_load(db_text(st, 0), sqlite3_column_blob(st, 1),
                     (size_t)sqlite3_column_bytes(st, 1), mkey, err, errlen);
    db_done(st);
    if (rc == 0 && !exists) {
        rc = ca_make(err, errlen);
        if (rc == 0)
            rc = ca_store(mkey, err, errlen);
        if (rc == 0)
            log_info("pki: internal CA created (EC P-256)");
    }
    if (rc == 0)
        memcpy(CA.master, mkey, sizeof(mkey));
    OPENSSL_cleanse(mkey, sizeof(mkey));
    if (rc < 0)
        return -1;
    CA.pem = cert_to_pem(CA.root.cert);
    return 0;
}

const char *pki_ca_pem(void)
{
    return CA.pem;
}

void pki_free(void)
{
    X509_free(CA.root.cert);
    EVP_PKEY_free(CA.root.key);
    free(CA.pem);
    CA.root.cert = NULL;
    CA.root.key = NULL;
    CA.pem = NULL;
    OPENSSL_cleanse(CA.master, sizeof(CA.master));
}

void pki_seal(const char *text, unsigned char **out, size_t *outlen)
{
    secret_seal_key(CA.master, text, strlen(text), out, outlen);
}

int pki_open(const void *in, size_t n, char **out)
{
    return secret_open_key(CA.master, in, n, out, NULL);
}

void pki_authority_name(const pki_authority *a, char *out, size_t outlen)
{
    char text[PKI_ISSUER_MAX];
    X509_NAME_oneline(X509_get_subject_name((a ? a : &CA.root)->cert), text, sizeof(text));
    /* oneline gives "/CN=..."; RFC 4514 readers expect "CN=..." */
    snprintf(out, outlen, "%s", text[0] == '/' ? text + 1 : text);
}

/* ---- the instances' authorities -------------------------------------------------------------- */

/* A CA certificate for key named cn: signed by the internal CA, or by itself (signer NULL). */
static X509 *authority_cert(EVP_PKEY *key, const char *cn, const pki_authority *signer)
{
    X509 *x = X509_new();
    char serial[PKI_SERIAL_HEX_MAX];
    X509_set_version(x, 2);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509 *issuer = signer ? signer->cert : x;
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    /* both twins end with the internal CA */
    X509_set1_notAfter(x, X509_get0_notAfter(CA.root.cert));
    X509_set_pubkey(x, key);
    int ok =
        serial_set(x, serial) == 0 &&
        ext_add(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
        ext_add(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") == 0 &&
        ext_add(x, issuer, NID_subject_key_identifier, "hash") == 0 &&
        (!signer || ext_add(x, issuer, NID_authority_key_identifier, "keyid:always") == 0);
    if (ok) {
        pthread_mutex_lock(&CA.mu);
        ok = X509_sign(x, signer ? signer->key : key, EVP_sha256()) > 0;
        pthread_mutex_unlock(&CA.mu);
    }
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int pki_authority_make(const char *cn, char **cert_pem, char **self_pem, unsigned char **key_enc,
                       size_t *key_len, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *signed_cert = key ? authority_cert(key, cn, &CA.root) : NULL;
    X509 *self_cert = signed_cert ? authority_cert(key, cn, NULL) : NULL;
    int rc = -1;
    if (self_cert) {
        *cert_pem = cert_to_pem(signed_cert);
        *self_pem = cert_to_pem(self_cert);
        char *key_pem = key_to_pem(key);
        pki_seal(key_pem, key_enc, key_len);
        OPENSSL_cleanse(key_pem, strlen(key_pem));
        free(key_pem);
        rc = 0;
    } else {
        ssl_err(err, errlen, "cannot make an instance's CA");
    }
    X509_free(self_cert);
    X509_free(signed_cert);
    EVP_PKEY_free(key);
    return rc;
}

pki_authority *pki_authority_load(const char *cert_pem, const void *key_enc, size_t key_len)
{
    char *key_pem = NULL;
    if (pki_open(key_enc, key_len, &key_pem) < 0)
        return NULL;
    BIO *kb = BIO_new_mem_buf(key_pem, -1);
    BIO *cb = BIO_new_mem_buf(cert_pem, -1);
    pki_authority *a = mem_calloc(1, sizeof(*a));
    a->key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    a->cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    BIO_free(kb);
    BIO_free(cb);
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    if (!a->key || !a->cert || X509_check_private_key(a->cert, a->key) != 1) {
        ERR_clear_error();
        pki_authority_free(a);
        return NULL;
    }
    return a;
}

void pki_authority_free(pki_authority *a)
{
    if (!a)
        return;
    X509_free(a->cert);
    EVP_PKEY_free(a->key);
    free(a);
}

/* ---- issuing --------------------------------------------------------------------------------- */

static long long asn1_ms(const ASN1_TIME *t)
{
    struct tm tm;
    ASN1_TIME_to_tm(t, &tm);
    return (long long)timegm(&tm) * MS_PER_S;
}

/* The certificate's extensions: leaf, its usages, its names. */
static int leaf_extensions(X509 *x, X509 *issuer, const char *const *sans, int nsans, int usage)
{
    char eku[64] = "", san[PKI_SANS_MAX * (PKI_SAN_MAX + 1)] = "";
    if (usage & PKI_USAGE_SERVER)
        snprintf(eku, sizeof(eku), "serverAuth");
    if (usage & PKI_USAGE_CLIENT)
        snprintf(eku + strlen(eku), sizeof(eku) - strlen(eku), "%sclientAuth", eku[0] ? "," : "");
    for (int i = 0; i < nsans && i < PKI_SANS_MAX; i++)
        snprintf(san + strlen(san), sizeof(san) - strlen(san), "%s%s", i ? "," : "", sans[i]);
    if (ext_add(x, issuer, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        ext_add(x, issuer, NID_key_usage, "critical,digitalSignature,keyAgreement") < 0 ||
        ext_add(x, issuer, NID_ext_key_usage, eku) < 0 ||
        ext_add(x, issuer, NID_subject_key_identifier, "hash") < 0 ||
        ext_add(x, issuer, NID_authority_key_identifier, "keyid:always") < 0)
        return -1;
    return nsans > 0 ? ext_add(x, issuer, NID_subject_alt_name, san) : 0;
}

int pki_issue(const pki_authority *a, const char *cn, const char *const *sans, int nsans, int usage,
              long long lifetime_s, pki_cert *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!a)
        a = &CA.root;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x) {
        ssl_err(err, errlen, "cannot make a key");
        goto fail;
    }
    X509_set_version(x, 2);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(a->cert));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_time_adj_ex(X509_getm_notAfter(x), 0, lifetime_s, NULL);
    if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(a->cert)) > 0)
        X509_set1_notAfter(x, X509_get0_notAfter(a->cert));
    X509_set_pubkey(x, key);
    if (serial_set(x, out->serial) < 0 || leaf_extensions(x, a->cert, sans, nsans, usage) < 0) {
        ssl_err(err, errlen, "cannot build the certificate");
        goto fail;
    }
    pthread_mutex_lock(&CA.mu);
    int signed_ok = X509_sign(x, a->key, EVP_sha256()) > 0;
    pthread_mutex_unlock(&CA.mu);
    if (!signed_ok) {
        ssl_err(err, errlen, "cannot sign the certificate");
        goto fail;
    }
    out->cert_pem = cert_to_pem(x);
    out->key_pem = key_to_pem(key);
    out->not_before_ms = asn1_ms(X509_get0_notBefore(x));
    out->not_after_ms = asn1_ms(X509_get0_notAfter(x));
    fingerprint_hex(x, out->fingerprint);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
fail:
    X509_free(x);
    EVP_PKEY_free(key);
    return -1;
}

void pki_cert_clear(pki_cert *c)
{
    free(c->cert_pem);
    if (c->key_pem)
        OPENSSL_cleanse(c->key_pem, strlen(c->key_pem));
    free(c->key_pem);
    c->cert_pem = c->key_pem = NULL;
}

/* ---- revocation ------------------------------------------------------------------------------ */

static int crl_add(X509_CRL *crl, const char *serial_hex, long long revoked_ms)
{
    BIGNUM *bn = NULL;
    if (!BN_hex2bn(&bn, serial_hex))
        return -1;
    X509_REVOKED *rv = X509_REVOKED_new();
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)(revoked_ms / MS_PER_S));
    int ok = rv && ai && when && X509_REVOKED_set_serialNumber(rv, ai) &&
             X509_REVOKED_set_revocationDate(rv, when) && X509_CRL_add0_revoked(crl, rv);
    if (!ok)
        X509_REVOKED_free(rv);
    ASN1_TIME_free(when);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return ok ? 0 : -1;
}

char *pki_crl_pem(const pki_authority *a, const char *const *serials, const long long *revoked_ms,
                  int n, long long crl_number)
{
    if (!a)
        a = &CA.root;
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    int ok = crl && now && num && X509_CRL_set_version(crl, 1) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(a->cert)) &&
             X509_CRL_set1_lastUpdate(crl, now) &&
             /* It lives as long as the CA: nodes get a new one at every revocation, and one
              * that expired would make them refuse every client certificate. */
             X509_CRL_set1_nextUpdate(crl, X509_get0_notAfter(a->cert)) &&
             ASN1_INTEGER_set_int64(num, crl_number) &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
    for (int i = 0; ok && i < n; i++)
        ok = crl_add(crl, serials[i], revoked_ms[i]) == 0;
    char *pem = NULL;
    if (ok) {
        X509_CRL_sort(crl);
        pthread_mutex_lock(&CA.mu);
        ok = X509_CRL_sign(crl, a->key, EVP_sha256()) > 0;
        pthread_mutex_unlock(&CA.mu);
    }
    if (ok) {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509_CRL(b, crl);
        pem = bio_text(b);
        BIO_free(b);
    } else {
        char why[ERR_TEXT_MAX];
        ssl_err(why, sizeof(why), "cannot make a CRL");
        log_error("pki: %s", why);
    }
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(now);
    X509_CRL_free(crl);
    return pem;
}
