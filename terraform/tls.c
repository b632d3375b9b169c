/* TLS for the plugin connection (see tls.h). */
#include "tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_CURVE "P-256"
#define CERT_NAME "localhost"
#define CERT_ORG "dfly terraform provider"
#define CERT_BACKDATE_SECONDS 30L /* tolerate a little clock skew with Terraform */
#define CERT_VALID_SECONDS (365L * 24 * 3600)
#define CERT_SERIAL_BYTES 16
#define ALPN_H2 "h2"

static int cert_add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int cert_set_serial(X509 *x)
{
    unsigned char raw[CERT_SERIAL_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    raw[0] &= 0x7f; /* a positive serial */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

/* A self-signed certificate that go-plugin's client puts in its root pool and checks for
 * "localhost": it must be usable as a CA (it signs itself) and for server and client auth. */
static X509 *cert_make(EVP_PKEY *key)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    int ok = X509_set_version(x, 2) && cert_set_serial(x) == 0 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -CERT_BACKDATE_SECONDS) &&
             X509_gmtime_adj(X509_getm_notAfter(x), CERT_VALID_SECONDS) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)CERT_ORG,
                                        -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CERT_NAME,
                                        -1, -1, 0) &&
             X509_set_issuer_name(x, name) && X509_set_pubkey(x, key) &&
             cert_add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             cert_add_ext(x, NID_key_usage,
                          "critical,digitalSignature,keyEncipherment,keyCertSign") == 0 &&
             cert_add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") == 0 &&
             cert_add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
             cert_add_ext(x, NID_subject_alt_name, "DNS:" CERT_NAME) == 0 &&
             X509_sign(x, key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* DER, then standard base64 with the '=' padding removed (go-plugin decodes RawStdEncoding). */
static char *cert_der_base64(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    if (len <= 0)
        return NULL;
    char *out = malloc(4 * ((size_t)len / 3 + 1) + 1);
    if (!out) {
        OPENSSL_free(der);
        return NULL;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, der, len);
    OPENSSL_free(der);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    return out;
}

static int alpn_select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h2[] = {2, 'h', '2'};
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, h2, sizeof h2, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Trusts the PEM certificates of pem (Terraform's client certificate) and nothing else. */
static int ctx_trust_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return -1;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    X509 *c;
    while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, c))
            added++;
        X509_free(c);
    }
    ERR_clear_error(); /* the read that ends the loop leaves "no start line" behind */
    BIO_free(bio);
    return added > 0 ? 0 : -1;
}

SSL_CTX *tls_server_context(const char *client_cert_pem, char **cert_b64)
{
    EVP_PKEY *key = EVP_EC_gen(CERT_CURVE);
    X509 *cert = key ? cert_make(key) : NULL;
    SSL_CTX *ctx = cert ? SSL_CTX_new(TLS_server_method()) : NULL;
    char *b64 = NULL;
    int ok = ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) &&
             SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
             ctx_trust_pem(ctx, client_cert_pem) == 0 && (b64 = cert_der_base64(cert)) != NULL;
    if (ok) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select_h2, NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    } else {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    *cert_b64 = b64;
    return ctx;
}
