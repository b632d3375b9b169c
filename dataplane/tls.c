/* TLS contexts and the memory-BIO transport of client connections; see tls.h. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "server.h"

#define TLS_READ_CHUNK (16 * 1024) /* plaintext room made per SSL_read */
#define TLS_SESSION_ID_CTX "dfly"
#define TLS_PROTO_WORDS_MAX 8

struct tls_conn {
    atomic_int refs; /* the client, and a full sync's writer while it sends (repl_sync.c) */
    SSL *ssl;
    BIO *rbio; /* what the peer sent, for OpenSSL to read */
    BIO *wbio; /* what OpenSSL wrote, for the socket */
    int failed;
};

static struct {
    pthread_mutex_t mu;
    SSL_CTX *server_ctx; /* current; NULL when --tls is off */
    SSL_CTX *client_ctx; /* current for outgoing links (master, migration target); NULL without
                          * tls_replication and tls_cluster */
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

int tls_server_enabled(void)
{
    return server.cfg.tls != 0;
}

/* Outgoing links speak TLS: to the master (--tls_replication), to a migration's target
 * (--tls_cluster). */
static int client_side(void)
{
    return server.cfg.tls_replication || server.cfg.tls_cluster;
}

static int str_set(const char *s)
{
    return s && *s;
}

/* The last OpenSSL error as text, and the queue emptied (errors are per thread). */
static void ssl_err_text(char *out, size_t outlen)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, out, outlen);
    else
        snprintf(out, outlen, "unknown error");
    ERR_clear_error();
}

/* ---- building a context ---------------------------------------------------------------------- */

/* "TLSv1.2 TLSv1.3" → the SSL_OP_NO_* options that exclude every other version. */
static int protocols_options(const char *spec, uint64_t *opts, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        uint64_t no;
    } versions[] = {
        {"TLSv1", SSL_OP_NO_TLSv1},
        {"TLSv1.1", SSL_OP_NO_TLSv1_1},
        {"TLSv1.2", SSL_OP_NO_TLSv1_2},
        {"TLSv1.3", SSL_OP_NO_TLSv1_3},
    };
    const size_t n = sizeof(versions) / sizeof(versions[0]);
    uint64_t all = 0;
    for (size_t i = 0; i < n; i++)
        all |= versions[i].no;
    if (!str_set(spec)) { /* Redis's default: TLSv1.2 and TLSv1.3 */
        *opts = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        return 0;
    }
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", spec);
    uint64_t allowed = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        size_t i = 0;
        while (i < n && strcasecmp(w, versions[i].name))
            i++;
        if (i == n) {
            snprintf(err, errlen, "invalid tls-protocols '%s': TLSv1, TLSv1.1, TLSv1.2, TLSv1.3",
                     spec);
            return -1;
        }
        allowed |= versions[i].no;
    }
    *opts = all & ~allowed;
    return 0;
}

static int verify_mode(const char *auth, int *mode, char *err, size_t errlen)
{
    if (!str_set(auth) || !strcasecmp(auth, "yes"))
        *mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (!strcasecmp(auth, "optional"))
        *mode = SSL_VERIFY_PEER;
    else if (!strcasecmp(auth, "no"))
        *mode = SSL_VERIFY_NONE;
    else {
        snprintf(err, errlen, "invalid tls-auth-clients '%s': yes, no or optional", auth);
        return -1;
    }
    return 0;
}

/* The key's passphrase for OpenSSL's PEM reader. */
static int key_pass_cb(char *out, int size, int rwflag, void *arg)
{
    (void)rwflag;
    const char *pass = arg;
    if (!pass)
        return 0;
    int n = (int)strlen(pass);
    if (n > size)
        n = size;
    memcpy(out, pass, (size_t)n);
    return n;
}

/* tls-crl-file: every CRL in the file goes into the context's store, and then every
 * certificate of a peer's chain must have its issuer's CRL (a CA without revocations gives an
 * empty one). Revoked certificates fail the handshake. */
static int crl_load(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    char why[TLS_ERR_MAX];
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    BIO *in = BIO_new_file(path, "r");
    if (!in) {
        ssl_err_text(why, sizeof(why));
        snprintf(err, errlen, "cannot open tls-crl-file '%s': %s", path, why);
        return -1;
    }
    int n = 0;
    X509_CRL *crl;
    while ((crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL))) {
        int ok = X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
        if (!ok) {
            BIO_free(in);
            ssl_err_text(why, sizeof(why));
            snprintf(err, errlen, "cannot use tls-crl-file '%s': %s", path, why);
            return -1;
        }
        n++;
    }
    BIO_free(in);
    ERR_clear_error(); /* the read that ended the loop */
    if (n == 0) {
        snprintf(err, errlen, "tls-crl-file '%s' holds no CRL", path);
        return -1;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    return 0;
}

/* Certificate, key, CAs, versions and ciphers shared by server and client contexts. */
static int ctx_configure(SSL_CTX *ctx, char *err, size_t errlen)
{
    char why[TLS_ERR_MAX];
    const struct server_config *c = &server.cfg;
    uint64_t no_versions;
    if (protocols_options(c->tls_protocols, &no_versions, err, errlen) < 0)
        return -1;
    SSL_CTX_set_options(ctx, no_versions | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (c->tls_prefer_server_ciphers)
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Our write buffers move when they grow: partial SSL_writes are retried from elsewhere. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (str_set(c->tls_key_file_pass)) {
        SSL_CTX_set_default_passwd_cb(ctx, key_pass_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, c->tls_key_file_pass);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) <= 0) {
        ssl_err_text(why, sizeof(why));
        snprintf(err, errlen, "cannot load tls-cert-file '%s': %s", c->tls_cert_file, why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file, SSL_FILETYPE_PEM) <= 0 ||
        !SSL_CTX_check_private_key(ctx)) {
        ssl_err_text(why, sizeof(why));
        snprintf(err, errlen, "cannot load tls-key-file '%s': %s", c->tls_key_file, why);
        return -1;
    }
    /* The passphrase is needed only while loading; the string may be replaced later. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if ((str_set(c->tls_ca_cert_file) || str_set(c->tls_ca_cert_dir)) &&
        SSL_CTX_load_verify_locations(
            ctx, str_set(c->tls_ca_cert_file) ? c->tls_ca_cert_file : NULL,
            str_set(c->tls_ca_cert_dir) ? c->tls_ca_cert_dir : NULL) <= 0) {
        ssl_err_text(why, sizeof(why));
        snprintf(err, errlen, "cannot load the CA certificates: %s", why);
        return -1;
    }
    if (str_set(c->tls_crl_file) && crl_load(ctx, c->tls_crl_file, err, errlen) < 0)
        return -1;
    if (str_set(c->tls_ciphers) && !SSL_CTX_set_cipher_list(ctx, c->tls_ciphers)) {
        ERR_clear_error();
        snprintf(err, errlen, "invalid tls-ciphers '%s'", c->tls_ciphers);
        return -1;
    }
    if (str_set(c->tls_ciphersuites) && !SSL_CTX_set_ciphersuites(ctx, c->tls_ciphersuites)) {
        ERR_clear_error();
        snprintf(err, errlen, "invalid tls-ciphersuites '%s'", c->tls_ciphersuites);
        return -1;
    }
    return 0;
}

/* Checks what Redis checks before it builds anything. */
static int settings_check(char *err, size_t errlen)
{
    const struct server_config *c = &server.cfg;
    int mode;
    if (verify_mode(c->tls_auth_clients, &mode, err, errlen) < 0)
        return -1;
    if (!str_set(c->tls_cert_file) || !str_set(c->tls_key_file)) {
        snprintf(err, errlen, "TLS needs tls-cert-file and tls-key-file");
        return -1;
    }
    int need_ca = client_side() || (c->tls && mode != SSL_VERIFY_NONE);
    if (need_ca && !str_set(c->tls_ca_cert_file) && !str_set(c->tls_ca_cert_dir)) {
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
                 "tls-replication or tls-auth-clients are enabled!");
        return -1;
    }
    return 0;
}

static SSL_CTX *server_ctx_build(char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_err_text(err, errlen);
        return NULL;
    }
    int mode;
    if (ctx_configure(ctx, err, errlen) < 0 ||
        verify_mode(server.cfg.tls_auth_clients, &mode, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, mode, NULL);
    /* Resumed sessions keep the peer's verified identity; the id context scopes them to us. */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SESSION_ID_CTX,
                                   sizeof(TLS_SESSION_ID_CTX) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    return ctx;
}

/* The replica's side of the link: it presents our certificate (a master may require one) and
 * verifies the master's against the CAs, as Redis does (no host name check). */
static SSL_CTX *client_ctx_build(char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_err_text(err, errlen);
        return NULL;
    }
    if (ctx_configure(ctx, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

int tls_reload(char *err, size_t errlen)
{
    if (!server.cfg.tls && !client_side())
        return 0;
    if (settings_check(err, errlen) < 0)
        return -1;
    SSL_CTX *sctx = NULL, *cctx = NULL;
    if (server.cfg.tls && !(sctx = server_ctx_build(err, errlen)))
        return -1;
    if (client_side() && !(cctx = client_ctx_build(err, errlen))) {
        SSL_CTX_free(sctx);
        return -1;
    }
    pthread_mutex_lock(&T.mu);
    SSL_CTX *old_s = T.server_ctx, *old_c = T.client_ctx;
    T.server_ctx = sctx;
    T.client_ctx = cctx;
    pthread_mutex_unlock(&T.mu);
    SSL_CTX_free(old_s); /* connections made with them hold their own references */
    SSL_CTX_free(old_c);
    return 0;
}

int tls_init(char *err, size_t errlen)
{
    return tls_reload(err, errlen);
}

void tls_shutdown(void)
{
    pthread_mutex_lock(&T.mu);
    SSL_CTX *old_s = T.server_ctx, *old_c = T.client_ctx;
    T.server_ctx = T.client_ctx = NULL;
    pthread_mutex_unlock(&T.mu);
    SSL_CTX_free(old_s);
    SSL_CTX_free(old_c);
}

SSL *tls_client_new(int fd)
{
    pthread_mutex_lock(&T.mu);
    SSL *ssl = T.client_ctx ? SSL_new(T.client_ctx) : NULL;
    pthread_mutex_unlock(&T.mu);
    if (ssl && !SSL_set_fd(ssl, fd)) {
        SSL_free(ssl);
        return NULL;
    }
    if (ssl)
        SSL_set_connect_state(ssl);
    return ssl;
}

void tls_last_error(char *out, size_t outlen)
{
    ssl_err_text(out, outlen);
}

/* ---- connections ----------------------------------------------------------------------------- */

tls_conn *tls_conn_new_server(void)
{
    pthread_mutex_lock(&T.mu);
    SSL *ssl = T.server_ctx ? SSL_new(T.server_ctx) : NULL;
    pthread_mutex_unlock(&T.mu);
    if (!ssl)
        return NULL;
    tls_conn *t = calloc(1, sizeof(*t));
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(BIO_s_mem());
    if (!t || !rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(ssl);
        free(t);
        return NULL;
    }
    atomic_init(&t->refs, 1);
    t->rbio = rbio;
    t->wbio = wbio;
    /* An empty read BIO means "wait for more", not end of stream. */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(ssl, t->rbio, t->wbio); /* the SSL owns both */
    SSL_set_accept_state(ssl);
    t->ssl = ssl;
    return t;
}

void tls_conn_ref(tls_conn *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void tls_conn_free(tls_conn *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    SSL_free(t->ssl);
    free(t);
}

/* A failed handshake or record: the reason at verbose level (Redis logs these as verbose), as
 * a port scanner or a plain-text client must not flood the log. */
static int conn_fail(tls_conn *t, const char *addr, int ssl_err)
{
    char why[TLS_ERR_MAX];
    if (ssl_err == SSL_ERROR_ZERO_RETURN)
        snprintf(why, sizeof(why), "closed by the peer");
    else
        ssl_err_text(why, sizeof(why));
    log_debug("TLS error from client %s: %s", addr ? addr : "?", why);
    t->failed = 1;
    return -1;
}

int tls_conn_feed(tls_conn *t, const char *data, size_t len, buf *out, const char *addr)
{
    if (t->failed)
        return -1;
    if (len && BIO_write(t->rbio, data, (int)len) != (int)len)
        return conn_fail(t, addr, SSL_ERROR_SSL);
    if (!SSL_is_init_finished(t->ssl)) {
        int r = SSL_do_handshake(t->ssl);
        if (r <= 0) {
            int e = SSL_get_error(t->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            return conn_fail(t, addr, e);
        }
    }
    for (;;) {
        buf_reserve(out, TLS_READ_CHUNK);
        size_t got = 0;
        int r = SSL_read_ex(t->ssl, out->data + out->len, out->cap - out->len - 1, &got);
        if (r > 0) {
            out->len += got;
            out->data[out->len] = '\0';
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        return conn_fail(t, addr, e);
    }
}

long tls_conn_write(tls_conn *t, const char *data, size_t len)
{
    if (t->failed)
        return -1;
    if (!len || !SSL_is_init_finished(t->ssl))
        return 0;
    /* The write BIO is memory: it takes everything; partial writes end at record boundaries. */
    size_t total = 0;
    while (total < len) {
        size_t done = 0;
        int r = SSL_write_ex(t->ssl, data + total, len - total, &done);
        if (r > 0) {
            total += done;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        return conn_fail(t, NULL, e);
    }
    return (long)total;
}

void tls_conn_close_notify(tls_conn *t)
{
    if (!t->failed && SSL_is_init_finished(t->ssl)) {
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
}

size_t tls_conn_pending(const tls_conn *t)
{
    return BIO_ctrl_pending(t->wbio);
}

void tls_conn_take(tls_conn *t, buf *out)
{
    size_t n = BIO_ctrl_pending(t->wbio);
    if (!n)
        return;
    buf_reserve(out, n);
    int got = BIO_read(t->wbio, out->data + out->len, (int)n);
    if (got > 0) {
        out->len += (size_t)got;
        out->data[out->len] = '\0';
    }
}
