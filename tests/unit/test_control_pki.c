/* Unit tests of dfly-control's internal CA (controlplane/pki/ca.c): made once and loaded again
 * under the same master key, refused under another; issued certificates verify against it with
 * their names and usages; a CRL revokes exactly what it names. TLS end to end is in
 * tests/control/test_tls.py. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "pki/ca.h"
#include "testing.h"

#define ERR_MAX 512
#define PATH_TEXT_MAX 512
#define TMPDIR_MAX 64
#define LIFETIME_S 3600
#define KEY_FILE_MODE 0600
#define KEY_FILE_SIZE 32

static char tmpdir[TMPDIR_MAX];

static void open_db(void)
{
    char path[PATH_TEXT_MAX], err[ERR_MAX];
    snprintf(path, sizeof(path), "%s/control.db", tmpdir);
    REQUIRE(db_open(path, err, sizeof(err)) == 0);
}

/* Removes what a test left in tmpdir (the database and the master key file). */
static void tmpdir_remove(void)
{
    static const char *const files[] = {"control.db", "control.db-wal", "control.db-shm",
                                        PKI_MASTER_KEY_FILE};
    char path[PATH_TEXT_MAX];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

/* Verifies leaf against trusted_pem (NULL: the internal CA), with an untrusted intermediate
 * (or NULL) and crl_pem (or NULL) for purpose; X509_V_OK or the error. */
static int verify_with(const char *trusted_pem, const char *untrusted_pem, const char *leaf_pem,
                       const char *crl_pem, int purpose)
{
    X509 *ca = pem_cert(trusted_pem ? trusted_pem : pki_ca_pem()), *leaf = pem_cert(leaf_pem);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    if (crl_pem) {
        BIO *b = BIO_new_mem_buf(crl_pem, -1);
        X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
        BIO_free(b);
        X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *mid = untrusted_pem ? pem_cert(untrusted_pem) : NULL;
    if (mid)
        sk_X509_push(chain, mid);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, chain);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    int rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(leaf);
    return rc;
}

static int verify(const char *leaf_pem, const char *crl_pem, int purpose)
{
    return verify_with(NULL, NULL, leaf_pem, crl_pem, purpose);
}

TEST(ca_is_made_once_and_needs_its_master_key)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dfly-pki-XXXXXX");
    REQUIRE(mkdtemp(tmpdir));
    unsetenv(PKI_MASTER_KEY_ENV);
    open_db();
    char err[ERR_MAX], path[PATH_TEXT_MAX];
    REQUIRE(pki_init(tmpdir, err, sizeof(err)) == 0);
    char *first = strdup(pki_ca_pem());
    CHECK(strstr(first, "BEGIN CERTIFICATE") != NULL);
    char name[PKI_ISSUER_MAX];
    pki_authority_name(NULL, name, sizeof(name));
    CHECK_EQ_STR(name, "CN=dfly-control internal CA");
    snprintf(path, sizeof(path), "%s/%s", tmpdir, PKI_MASTER_KEY_FILE);
    struct stat sb;
    REQUIRE(stat(path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, KEY_FILE_MODE);
    CHECK_EQ_INT(sb.st_size, KEY_FILE_SIZE);
    pki_free();
    /* the same key: the same CA */
    REQUIRE(pki_init(tmpdir, err, sizeof(err)) == 0);
    CHECK_EQ_STR(pki_ca_pem(), first);
    pki_free();
    /* another key: refused, never a new CA */
    setenv(PKI_MASTER_KEY_ENV, "not the key the CA was sealed with", 1);
    CHECK_EQ_INT(pki_init(tmpdir, err, sizeof(err)), -1);
    CHECK(strstr(err, "wrong master key") != NULL);
    unsetenv(PKI_MASTER_KEY_ENV);
    /* no key at all: refused too */
    REQUIRE(unlink(path) == 0);
    CHECK_EQ_INT(pki_init(tmpdir, err, sizeof(err)), -1);
    CHECK(strstr(err, "refusing to start") != NULL);
    free(first);
    db_close_all();
    tmpdir_remove();
}

TEST(issued_certificates_verify_with_names_and_usages)
{
    char err[ERR_MAX];
    setenv(PKI_MASTER_KEY_ENV, "a master key for the issuing test", 1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dfly-pki-XXXXXX");
    REQUIRE(mkdtemp(tmpdir));
    open_db();
    REQUIRE(pki_init(tmpdir, err, sizeof(err)) == 0);
    const char *sans[] = {"IP:127.0.0.1", "DNS:localhost"};
    pki_cert server, client;
    REQUIRE(pki_issue(NULL, "ins_1", sans, 2, PKI_USAGE_SERVER | PKI_USAGE_CLIENT, LIFETIME_S,
                      &server, err, sizeof(err)) == 0);
    REQUIRE(pki_issue(NULL, "app", NULL, 0, PKI_USAGE_CLIENT, LIFETIME_S, &client, err,
                      sizeof(err)) == 0);
    CHECK_EQ_INT(server.not_after_ms - server.not_before_ms, LIFETIME_S * 1000LL);
    CHECK(strcmp(server.serial, client.serial) != 0);
    CHECK_EQ_INT(strlen(server.fingerprint), 64);
    CHECK_EQ_INT(verify(server.cert_pem, NULL, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    CHECK_EQ_INT(verify(server.cert_pem, NULL, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    CHECK_EQ_INT(verify(client.cert_pem, NULL, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    CHECK(verify(client.cert_pem, NULL, X509_PURPOSE_SSL_SERVER) != X509_V_OK);
    X509 *x = pem_cert(server.cert_pem);
    CHECK_EQ_INT(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    CHECK_EQ_INT(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    CHECK_EQ_INT(X509_check_host(x, "example.com", 0, 0, NULL), 0);
    X509_free(x);

    /* An empty CRL is fine for everyone; one naming the client revokes only it. */
    char *empty = pki_crl_pem(NULL, NULL, NULL, 0, 1);
    REQUIRE(empty);
    CHECK_EQ_INT(verify(client.cert_pem, empty, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    const char *revoked[] = {client.serial};
    long long when[] = {0};
    char *crl = pki_crl_pem(NULL, revoked, when, 1, 2);
    REQUIRE(crl);
    CHECK_EQ_INT(verify(client.cert_pem, crl, X509_PURPOSE_SSL_CLIENT), X509_V_ERR_CERT_REVOKED);
    CHECK_EQ_INT(verify(server.cert_pem, crl, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    free(empty);
    free(crl);
    pki_cert_clear(&server);
    pki_cert_clear(&client);
    pki_free();
    db_close_all();
    unsetenv(PKI_MASTER_KEY_ENV);
    tmpdir_remove();
}

/* An instance's CA: servers chain to the internal CA through it; its nodes, which trust only
 * its self-signed twin, accept its client certificates and no other authority's. */
TEST(instance_authorities_keep_instances_apart)
{
    char err[ERR_MAX];
    setenv(PKI_MASTER_KEY_ENV, "a master key for the authority test", 1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dfly-pki-XXXXXX");
    REQUIRE(mkdtemp(tmpdir));
    open_db();
    REQUIRE(pki_init(tmpdir, err, sizeof(err)) == 0);
    char *cert[2], *self[2];
    unsigned char *key[2];
    size_t klen[2];
    pki_authority *a[2];
    for (int i = 0; i < 2; i++) {
        REQUIRE(pki_authority_make(i ? "B" : "A", &cert[i], &self[i], &key[i], &klen[i], err,
                                   sizeof(err)) == 0);
        REQUIRE((a[i] = pki_authority_load(cert[i], key[i], klen[i])) != NULL);
    }
    char name[PKI_ISSUER_MAX];
    pki_authority_name(a[0], name, sizeof(name));
    CHECK_EQ_STR(name, "CN=A");
    key[0][klen[0] / 2] ^= 1; /* a sealed key that was altered does not load */
    CHECK(pki_authority_load(cert[0], key[0], klen[0]) == NULL);
    const char *sans[] = {"IP:127.0.0.1"};
    pki_cert server, client_a, client_b;
    REQUIRE(pki_issue(a[0], "ins_a", sans, 1, PKI_USAGE_SERVER | PKI_USAGE_CLIENT, LIFETIME_S,
                      &server, err, sizeof(err)) == 0);
    REQUIRE(pki_issue(a[0], "app", NULL, 0, PKI_USAGE_CLIENT, LIFETIME_S, &client_a, err,
                      sizeof(err)) == 0);
    REQUIRE(pki_issue(a[1], "app", NULL, 0, PKI_USAGE_CLIENT, LIFETIME_S, &client_b, err,
                      sizeof(err)) == 0);
    /* a client trusting the internal CA, given the chain */
    CHECK_EQ_INT(verify_with(NULL, cert[0], server.cert_pem, NULL, X509_PURPOSE_SSL_SERVER),
                 X509_V_OK);
    CHECK(verify_with(NULL, NULL, server.cert_pem, NULL, X509_PURPOSE_SSL_SERVER) != X509_V_OK);
    /* instance A's nodes, with A's CRL */
    char *crl = pki_crl_pem(a[0], NULL, NULL, 0, 1);
    REQUIRE(crl);
    CHECK_EQ_INT(verify_with(self[0], NULL, client_a.cert_pem, crl, X509_PURPOSE_SSL_CLIENT),
                 X509_V_OK);
    CHECK_EQ_INT(verify_with(self[0], cert[0], server.cert_pem, crl, X509_PURPOSE_SSL_SERVER),
                 X509_V_OK);
    CHECK(verify_with(self[0], NULL, client_b.cert_pem, crl, X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
    CHECK(verify_with(self[0], cert[1], client_b.cert_pem, crl, X509_PURPOSE_SSL_CLIENT) !=
          X509_V_OK);
    free(crl);
    pki_cert_clear(&server);
    pki_cert_clear(&client_a);
    pki_cert_clear(&client_b);
    for (int i = 0; i < 2; i++) {
        pki_authority_free(a[i]);
        free(cert[i]);
        free(self[i]);
        free(key[i]);
    }
    pki_free();
    db_close_all();
    unsetenv(PKI_MASTER_KEY_ENV);
    tmpdir_remove();
}

TEST(san_text_for_hosts)
{
    char out[PKI_SAN_MAX];
    pki_san_for_host("10.1.2.3", out, sizeof(out));
    CHECK_EQ_STR(out, "IP:10.1.2.3");
    pki_san_for_host("::1", out, sizeof(out));
    CHECK_EQ_STR(out, "IP:::1");
    pki_san_for_host("db.example.com", out, sizeof(out));
    CHECK_EQ_STR(out, "DNS:db.example.com");
}

int main(void)
{
    RUN_TEST(ca_is_made_once_and_needs_its_master_key);
    RUN_TEST(issued_certificates_verify_with_names_and_usages);
    RUN_TEST(instance_authorities_keep_instances_apart);
    RUN_TEST(san_text_for_hosts);
    TEST_MAIN_END();
}
