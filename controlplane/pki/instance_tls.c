/* Instances' TLS settings, their server certificates (issue, renewal, rotation) and the CRL. */
#include "instance_tls.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "mem.h"
#include "secret.h"
#include "store.h"

#define MS_PER_S 1000LL
#define LOCALHOST_DNS "DNS:localhost"
#define LOCALHOST_IP "IP:127.0.0.1"

static const char *const client_auth_values[] = {"no", "optional", "yes", NULL};

int pki_client_auth_valid(const char *v)
{
    for (const char *const *p = client_auth_values; *p; p++)
        if (!strcmp(*p, v))
            return 1;
    return 0;
}

int pki_instance_settings(const char *id, int *tls, char *client_auth)
{
    sqlite3_stmt *st = db_prepare("SELECT tls, tls_client_auth FROM instances WHERE id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        *tls = sqlite3_column_int(st, 0);
        snprintf(client_auth, TLS_AUTH_MAX, "%s", db_text(st, 1));
    }
    db_done(st);
    return found ? 0 : -1;
}

int pki_instance_settings_save(const char *id, int tls, const char *client_auth)
{
    /* tls on or off changes the nodes' listeners, which they build only at start: a rolling
     * restart at the version the caller just wrote (nodes made later start at that version,
     * so they do not restart again). tls_client_auth alone is a CONFIG SET. */
    sqlite3_stmt *st = db_prepare(
        "UPDATE instances SET restart_version = CASE WHEN tls != ?2 THEN spec_version ELSE "
        "restart_version END, tls = ?2, tls_client_auth = ?3 WHERE id = ?1");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, tls);
    db_bind_text(st, 3, client_auth);
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int pki_instance_rotate_request(const char *id, const char *op, char *running_op)
{
    sqlite3_stmt *st =
        db_prepare("SELECT coalesce(rotate_op, '') FROM instance_certs WHERE instance_id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        snprintf(running_op, ID_MAX, "%s", db_text(st, 0));
    db_done(st);
    if (!found)
        return -1;
    if (running_op[0])
        return PKI_ROTATION_RUNNING;
    st = db_prepare("UPDATE instance_certs SET rotate_requested = 1, rotate_op = ?2, "
                    "updated_at = ?3 WHERE instance_id = ?1");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, op);
    sqlite3_bind_int64(st, 3, ids_now_ms());
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the instance's CA and its CRL ---------------------------------------------------------- */

#define INSTANCE_CA_CN_FMT "dfly instance %s CA"
#define CA_CN_MAX (ID_MAX + 32)
#define CRL_FIRST_NUMBER 1

/* The revoked client certificates of instance id, as serials and times (malloc'd arrays). */
static int revoked_load(const char *id, char ***serials, long long **when)
{
    *serials = NULL;
    *when = NULL;
    sqlite3_stmt *st = db_prepare("SELECT serial, revoked_at FROM client_certs WHERE "
                                  "instance_id = ? AND revoked_at IS NOT NULL ORDER BY revoked_at");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *serials = mem_realloc(*serials, sizeof(**serials) * (size_t)cap);
            *when = mem_realloc(*when, sizeof(**when) * (size_t)cap);
        }
        (*serials)[n] = mem_strdup(db_text(st, 0));
        (*when)[n++] = sqlite3_column_int64(st, 1);
    }
    db_done(st);
    return n;
}

/* A CRL of a naming the instance's revoked certificates. malloc'd PEM or NULL. */
static char *crl_make(const char *id, const pki_authority *a, long long number)
{
    char **serials;
    long long *when;
    int n = revoked_load(id, &serials, &when);
    char *pem = n < 0 ? NULL : pki_crl_pem(a, (const char *const *)serials, when, n, number);
    for (int i = 0; i < n; i++)
        free(serials[i]);
    free(serials);
    free(when);
    return pem;
}

/* Makes the instance's CA when it has none. Two threads may race (the API and the reconciler):
 * the insert that comes second changes nothing. Returns 0 or -1 (logged). */
static int instance_ca_ensure(const char *id)
{
    sqlite3_stmt *st = db_prepare("SELECT 1 FROM instance_cas WHERE instance_id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int exists = sqlite3_step(st) == SQLITE_ROW;
    db_done(st);
    if (exists)
        return 0;
    char cn[CA_CN_MAX], err[REASON_MAX];
    snprintf(cn, sizeof(cn), INSTANCE_CA_CN_FMT, id);
    char *cert = NULL, *self = NULL, *crl = NULL;
    unsigned char *key = NULL;
    size_t klen = 0;
    if (pki_authority_make(cn, &cert, &self, &key, &klen, err, sizeof(err)) < 0) {
        log_error("instance %s: %s", id, err);
        return -1;
    }
    pki_authority *a = pki_authority_load(cert, key, klen);
    crl = a ? crl_make(id, a, CRL_FIRST_NUMBER) : NULL;
    pki_authority_free(a);
    int rc = -1;
    if (crl &&
        (st = db_prepare("INSERT INTO instance_cas(instance_id, cert_pem, self_pem, key_enc, "
                         "crl_pem, crl_number, created_at) VALUES (?,?,?,?,?,?,?) "
                         "ON CONFLICT(instance_id) DO NOTHING"))) {
        db_bind_text(st, 1, id);
        db_bind_text(st, 2, cert);
        db_bind_text(st, 3, self);
        sqlite3_bind_blob(st, 4, key, (int)klen, SQLITE_TRANSIENT);
        db_bind_text(st, 5, crl);
        sqlite3_bind_int64(st, 6, CRL_FIRST_NUMBER);
        sqlite3_bind_int64(st, 7, ids_now_ms());
        rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
        db_done(st);
    }
    if (rc == 0)
        log_info("instance %s: its CA made (%s)", id, cn);
    free(cert);
    free(self);
    free(crl);
    free(key);
    return rc;
}

pki_authority *pki_instance_ca(const char *id)
{
    if (instance_ca_ensure(id) < 0)
        return NULL;
    sqlite3_stmt *st =
        db_prepare("SELECT cert_pem, key_enc FROM instance_cas WHERE instance_id = ?");
    if (!st)
        return NULL;
    db_bind_text(st, 1, id);
    pki_authority *a = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        a = pki_authority_load(db_text(st, 0), sqlite3_column_blob(st, 1),
                               (size_t)sqlite3_column_bytes(st, 1));
    db_done(st);
    if (!a)
        log_error("instance %s: its CA does not load (another master key?)", id);
    return a;
}

int pki_instance_crl_refresh(const char *id)
{
    pki_authority *a = pki_instance_ca(id);
    if (!a)
        return -1;
    sqlite3_stmt *st = db_prepare("SELECT crl_number FROM instance_cas WHERE instance_id = ?");
    long long number = -1;
    if (st) {
        db_bind_text(st, 1, id);
        number = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) + 1 : -1;
        db_done(st);
    }
    char *crl = number > 0 ? crl_make(id, a, number) : NULL;
    pki_authority_free(a);
    int rc = -1;
    if (crl && (st = db_prepare("UPDATE instance_cas SET crl_pem = ?, crl_number = ? WHERE "
                                "instance_id = ?"))) {
        db_bind_text(st, 1, crl);
        sqlite3_bind_int64(st, 2, number);
        db_bind_text(st, 3, id);
        rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
        db_done(st);
    }
    free(crl);
    return rc;
}

/* The CA the nodes trust (self-signed twin), the chain servers send after their certificate,
 * and the CRL, into t. */
static int instance_ca_files(const char *id, pki_instance_tls *t, char **chain)
{
    sqlite3_stmt *st = db_prepare(
        "SELECT self_pem, cert_pem, crl_pem, crl_number FROM instance_cas WHERE instance_id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        t->ca_pem = mem_strdup(db_text(st, 0));
        *chain = mem_strdup(db_text(st, 1));
        t->crl_pem = mem_strdup(db_text(st, 2));
        t->crl_number = sqlite3_column_int64(st, 3);
    }
    db_done(st);
    return found ? 0 : -1;
}

/* ---- the server certificate ------------------------------------------------------------------ */

/* The names clients reach the instance's nodes by: the address nodes listen on and are
 * announced with (--node-host), and this host's loopback names. */
static int instance_sans(char sans[][PKI_SAN_MAX], int max)
{
    int n = 0;
    pki_san_for_host(ctl_cfg.node_host, sans[n++], PKI_SAN_MAX);
    const char *fixed[] = {LOCALHOST_DNS, LOCALHOST_IP};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && n < max; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= !strcmp(sans[j], fixed[i]);
        if (!dup)
            snprintf(sans[n++], PKI_SAN_MAX, "%s", fixed[i]);
    }
    return n;
}

/* When a certificate of this lifetime is renewed: once less than --cert-renew-share of it is
 * left. */
static long long renew_after(long long not_before_ms, long long not_after_ms)
{
    double life = (double)(not_after_ms - not_before_ms);
    return not_before_ms + (long long)(life * (1.0 - ctl_cfg.cert_renew_share_value));
}

static int cert_store(const char *id, const pki_cert *c, char sans[][PKI_SAN_MAX], int nsans)
{
    json_t *jsans = json_array();
    for (int i = 0; i < nsans; i++)
        json_array_append_new(jsans, json_string(sans[i]));
    char *sans_text = jx_dump(jsans, NULL);
    json_decref(jsans);
    unsigned char *sealed;
    size_t slen;
    secret_seal(c->key_pem, strlen(c->key_pem), &sealed, &slen);
    sqlite3_stmt *st = db_prepare(
        "INSERT INTO instance_certs(instance_id, serial, cert_pem, key_enc, sans, fingerprint, "
        "not_before, not_after, renew_after, rotate_requested, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10) ON CONFLICT(instance_id) DO UPDATE "
        "SET serial = ?2, cert_pem = ?3, key_enc = ?4, sans = ?5, fingerprint = ?6, "
        "not_before = ?7, not_after = ?8, renew_after = ?9, rotate_requested = 0, "
        "updated_at = ?10");
    int rc = SQLITE_ERROR;
    if (st) {
        db_bind_text(st, 1, id);
        db_bind_text(st, 2, c->serial);
        db_bind_text(st, 3, c->cert_pem);
        sqlite3_bind_blob(st, 4, sealed, (int)slen, SQLITE_TRANSIENT);
        db_bind_text(st, 5, sans_text);
        db_bind_text(st, 6, c->fingerprint);
        sqlite3_bind_int64(st, 7, c->not_before_ms);
        sqlite3_bind_int64(st, 8, c->not_after_ms);
        sqlite3_bind_int64(st, 9, renew_after(c->not_before_ms, c->not_after_ms));
        sqlite3_bind_int64(st, 10, ids_now_ms());
        rc = db_step_done(st);
        db_done(st);
    }
    free(sealed);
    free(sans_text);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* A new server certificate for instance id from its CA; why names the event. Returns 0 or -1
 * (logged). */
static int cert_issue(const char *id, const char *why)
{
    pki_authority *a = pki_instance_ca(id);
    if (!a)
        return -1;
    char sans[PKI_SANS_MAX][PKI_SAN_MAX], err[REASON_MAX];
    int nsans = instance_sans(sans, PKI_SANS_MAX);
    const char *ptrs[PKI_SANS_MAX];
    for (int i = 0; i < nsans; i++)
        ptrs[i] = sans[i];
    pki_cert c;
    /* serverAuth for clients, clientAuth for the replication link to a master that asks for
     * client certificates. */
    int issued = pki_issue(a, id, ptrs, nsans, PKI_USAGE_SERVER | PKI_USAGE_CLIENT,
                           ctl_cfg.cert_lifetime_s, &c, err, sizeof(err));
    pki_authority_free(a);
    if (issued < 0) {
        log_error("instance %s: cannot issue its certificate: %s", id, err);
        return -1;
    }
    int rc = cert_store(id, &c, sans, nsans);
    if (rc == 0) {
        char until[TIME_TEXT_MAX];
        ids_time_format(c.not_after_ms, until);
        store_event(id, why, NULL, NULL, NULL, "server certificate %s, valid until %s", c.serial,
                    until);
        log_info("instance %s: %s: serial %s", id, why, c.serial);
    }
    pki_cert_clear(&c);
    return rc;
}

/* Issues a certificate when the instance has none, a rotation was asked or renewal is due. */
static void cert_maintain(const char *id, long long now)
{
    sqlite3_stmt *st = db_prepare(
        "SELECT rotate_requested, renew_after FROM instance_certs WHERE instance_id = ?");
    if (!st)
        return;
    db_bind_text(st, 1, id);
    const char *why = "certificate_issued";
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0))
            why = "certificate_rotated";
        else if (now >= sqlite3_column_int64(st, 1))
            why = "certificate_renewed";
        else
            why = NULL;
    }
    db_done(st);
    if (why)
        cert_issue(id, why);
}

static void cert_load(const char *id, pki_instance_tls *t)
{
    sqlite3_stmt *st = db_prepare("SELECT serial, cert_pem, key_enc, coalesce(rotate_op, ''), "
                                  "rotate_requested FROM "
                                  "instance_certs WHERE instance_id = ?");
    if (!st)
        return;
    db_bind_text(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char *key = NULL;
        if (secret_open(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &key,
                        NULL) == 0) {
            snprintf(t->serial, sizeof(t->serial), "%s", db_text(st, 0));
            t->cert_pem = mem_strdup(db_text(st, 1));
            t->key_pem = key;
            snprintf(t->rotate_op, sizeof(t->rotate_op), "%s", db_text(st, 3));
            t->rotate_pending = sqlite3_column_int(st, 4);
        } else {
            log_error("instance %s: its certificate's key does not decrypt", id);
        }
    }
    db_done(st);
}

/* Appends the CA chain to the server certificate: clients that trust the internal CA need the
 * instance's CA in between. */
static void chain_append(pki_instance_tls *t, const char *chain)
{
    size_t a = strlen(t->cert_pem), b = strlen(chain);
    t->cert_pem = mem_realloc(t->cert_pem, a + b + 1);
    memcpy(t->cert_pem + a, chain, b + 1);
}

void pki_pass_prepare(const char *instance_id, pki_instance_tls *t)
{
    memset(t, 0, sizeof(*t));
    if (pki_instance_settings(instance_id, &t->tls, t->client_auth) < 0 || !t->tls)
        return;
    cert_maintain(instance_id, ids_now_ms());
    cert_load(instance_id, t);
    char *chain = NULL;
    if (t->cert_pem && instance_ca_files(instance_id, t, &chain) == 0)
        chain_append(t, chain);
    else if (t->cert_pem)
        log_error("instance %s: its CA is missing", instance_id);
    free(chain);
}

void pki_pass_free(pki_instance_tls *t)
{
    free(t->cert_pem);
    free(t->key_pem);
    free(t->ca_pem);
    free(t->crl_pem);
    t->cert_pem = t->key_pem = t->ca_pem = t->crl_pem = NULL;
}
