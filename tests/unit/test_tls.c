/* tls.c: settings checks, context reload (a failure keeps the old context), and the memory-BIO
 * transport of a server connection driven by an OpenSSL client in the same process: handshake,
 * data both ways, plain text refused. Certificates are made here with OpenSSL's API. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server.h"
#include "testing.h"
#include "tls.h"

#define CERT_SECONDS (3600L)
#define PATH_MAX_LEN 256
#define BASE_MAX_LEN 128 /* the base name, leaving room for an extension */
#define PUMP_ROUNDS 16   /* handshake round trips allowed */
#define PAYLOAD_LEN (300 * 1024)

static char dir[BASE_MAX_LEN];
static char cert_path[PATH_MAX_LEN], key_path[PATH_MAX_LEN], bad_path[PATH_MAX_LEN];

/* A self-signed EC certificate and its key, as PEM files. */
static int make_cert(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), CERT_SECONDS);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"dfly-unit", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    FILE *f = fopen(cert_path, "w");
    FILE *k = fopen(key_path, "w");
    FILE *b = fopen(bad_path, "w");
    int ok = f && k && b && PEM_write_X509(f, x) &&
             PEM_write_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL);
    if (b)
        fputs("not a certificate\n", b);
    if (f)
        fclose(f);
    if (k)
        fclose(k);
    if (b)
        fclose(b);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

static void settings_default(void)
{
    server.cfg.tls = 1;
    server.cfg.tls_replication = 0;
    server.cfg.tls_cert_file = cert_path;
    server.cfg.tls_key_file = key_path;
    server.cfg.tls_key_file_pass = "";
    server.cfg.tls_ca_cert_file = "";
    server.cfg.tls_ca_cert_dir = "";
    server.cfg.tls_auth_clients = "no";
    server.cfg.tls_protocols = "";
    server.cfg.tls_ciphers = "";
    server.cfg.tls_ciphersuites = "";
}

TEST(settings_are_checked)
{
    char err[TLS_ERR_MAX];
    settings_default();
    server.cfg.tls_auth_clients = "maybe";
    CHECK(tls_reload(err, sizeof(err)) < 0);
    CHECK(strstr(err, "tls-auth-clients") != NULL);
    settings_default();
    server.cfg.tls_auth_clients = "yes"; /* and no CA */
    CHECK(tls_reload(err, sizeof(err)) < 0);
    CHECK(strstr(err, "tls-ca-cert-file or tls-ca-cert-dir") != NULL);
    settings_default();
    server.cfg.tls_protocols = "TLSv9";
    CHECK(tls_reload(err, sizeof(err)) < 0);
    CHECK(strstr(err, "tls-protocols") != NULL);
    settings_default();
    server.cfg.tls_cert_file = "";
    CHECK(tls_reload(err, sizeof(err)) < 0);
    settings_default();
    CHECK_EQ_INT(tls_reload(err, sizeof(err)), 0);
}

TEST(failed_reload_keeps_the_context)
{
    char err[TLS_ERR_MAX];
    settings_default();
    REQUIRE(tls_reload(err, sizeof(err)) == 0);
    server.cfg.tls_cert_file = bad_path;
    CHECK(tls_reload(err, sizeof(err)) < 0);
    CHECK(strstr(err, "tls-cert-file") != NULL);
    tls_conn *t = tls_conn_new_server(); /* the old context still serves */
    CHECK(t != NULL);
    tls_conn_free(t);
    settings_default();
}

/* Moves what one side wrote to the other until neither has anything to say. */
static int pump(tls_conn *srv, SSL *cli, BIO *cli_in, BIO *cli_out, buf *got)
{
    char tmp[16384];
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        int moved = 0;
        int n;
        while ((n = BIO_read(cli_out, tmp, sizeof(tmp))) > 0) {
            if (tls_conn_feed(srv, tmp, (size_t)n, got, "unit") < 0)
                return -1;
            moved = 1;
        }
        buf out;
        buf_init(&out);
        tls_conn_take(srv, &out);
        if (out.len) {
            BIO_write(cli_in, out.data, (int)out.len);
            moved = 1;
        }
        buf_free(&out);
        SSL_do_handshake(cli);
        if (!moved && SSL_is_init_finished(cli))
            return 0;
    }
    return 0;
}

TEST(handshake_and_data_both_ways)
{
    char err[TLS_ERR_MAX];
    settings_default();
    REQUIRE(tls_reload(err, sizeof(err)) == 0);
    tls_conn *srv = tls_conn_new_server();
    REQUIRE(srv != NULL);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *cli = SSL_new(cctx);
    BIO *cli_in = BIO_new(BIO_s_mem()), *cli_out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(cli_in, -1);
    SSL_set_bio(cli, cli_in, cli_out);
    SSL_set_connect_state(cli);
    SSL_do_handshake(cli);
    buf got;
    buf_init(&got);
    CHECK_EQ_INT(pump(srv, cli, cli_in, cli_out, &got), 0);
    CHECK(SSL_is_init_finished(cli));
    /* client -> server */
    CHECK(SSL_write(cli, "PING\r\n", 6) == 6);
    CHECK_EQ_INT(pump(srv, cli, cli_in, cli_out, &got), 0);
    CHECK_EQ_MEM(got.data, got.len, "PING\r\n", 6);
    /* server -> client: a reply larger than a TLS record */
    char *payload = malloc(PAYLOAD_LEN);
    memset(payload, 'v', PAYLOAD_LEN);
    CHECK_EQ_INT(tls_conn_write(srv, payload, PAYLOAD_LEN), PAYLOAD_LEN);
    CHECK(tls_conn_pending(srv) > PAYLOAD_LEN);
    buf enc;
    buf_init(&enc);
    tls_conn_take(srv, &enc);
    CHECK_EQ_INT(tls_conn_pending(srv), 0);
    BIO_write(cli_in, enc.data, (int)enc.len);
    size_t total = 0;
    char tmp[16384];
    int n;
    while ((n = SSL_read(cli, tmp, sizeof(tmp))) > 0)
        total += (size_t)n;
    CHECK_EQ_INT(total, PAYLOAD_LEN);
    free(payload);
    buf_free(&enc);
    buf_free(&got);
    SSL_free(cli);
    SSL_CTX_free(cctx);
    tls_conn_free(srv);
}

TEST(plain_text_is_refused)
{
    char err[TLS_ERR_MAX];
    settings_default();
    REQUIRE(tls_reload(err, sizeof(err)) == 0);
    tls_conn *srv = tls_conn_new_server();
    REQUIRE(srv != NULL);
    buf got;
    buf_init(&got);
    CHECK(tls_conn_feed(srv, "PING\r\n", 6, &got, "unit") < 0);
    CHECK_EQ_INT(got.len, 0);
    CHECK(tls_conn_feed(srv, "", 0, &got, "unit") < 0); /* stays failed */
    CHECK(tls_conn_write(srv, "x", 1) < 0);
    buf_free(&got);
    tls_conn_free(srv);
}

TEST(references)
{
    char err[TLS_ERR_MAX];
    settings_default();
    REQUIRE(tls_reload(err, sizeof(err)) == 0);
    tls_conn *srv = tls_conn_new_server();
    REQUIRE(srv != NULL);
    tls_conn_ref(srv);
    tls_conn_free(srv); /* one owner left */
    CHECK_EQ_INT(tls_conn_pending(srv), 0);
    tls_conn_free(srv);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dfly-unit-tls-%d", (int)getpid());
    snprintf(cert_path, sizeof(cert_path), "%s.crt", dir);
    snprintf(key_path, sizeof(key_path), "%s.key", dir);
    snprintf(bad_path, sizeof(bad_path), "%s.bad", dir);
    if (make_cert() < 0) {
        fprintf(stderr, "cannot make a test certificate\n");
        return 1;
    }
    RUN_TEST(settings_are_checked);
    RUN_TEST(failed_reload_keeps_the_context);
    RUN_TEST(handshake_and_data_both_ways);
    RUN_TEST(plain_text_is_refused);
    RUN_TEST(references);
    tls_shutdown();
    unlink(cert_path);
    unlink(key_path);
    unlink(bad_path);
    TEST_MAIN_END();
}
