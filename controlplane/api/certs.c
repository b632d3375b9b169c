/* The internal CA and certificates (issue 14): GET /v1/ca, an instance's server certificate
 * (metadata and rotation) and its client certificates (issue, list, get, revoke), plus the
 * tls and tls_client_auth fields of instances. Certificates are made by the CA in pki/; the
 * reconciler installs them on the nodes (pki/tls_push.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "instance.h"
#include "jsonx.h"
#include "pki/instance_tls.h"

#define PEM_CONTENT_TYPE "application/x-pem-file"
#define CLIENT_CN_MAX 64
#define CLIENT_DAYS_MIN 1
#define CLIENT_DAYS_MAX 825 /* the CA/Browser Forum's old ceiling, a familiar bound */
#define CLIENT_DAYS_DEFAULT 365
#define SECONDS_PER_DAY 86400LL
#define CLIENT_CERT_ID_PREFIX "ccert"
#define CLIENT_CERT_COLUMNS "id, name, serial, not_before, not_after, revoked_at, created_at"
#define CLIENT_CERT_TS_COL 6

static const char *const client_create_fields[] = {"name", "days", NULL};

/* ---- instance fields ------------------------------------------------------------------------- */

int instance_tls_parse(http_req *r, json_t *body, instance_spec *s)
{
    json_t *v;
    if ((v = json_object_get(body, "tls"))) {
        if (!json_is_boolean(v)) {
            http_reply_invalid(r, "tls", "tls must be true or false");
            return -1;
        }
        s->tls = json_is_true(v);
        s->given |= SPEC_TLS;
    }
    if ((v = json_object_get(body, "tls_client_auth"))) {
        if (!json_is_string(v) || !pki_client_auth_valid(json_string_value(v))) {
            http_reply_invalid(r, "tls_client_auth",
                               "tls_client_auth must be \"no\", \"optional\" or \"yes\"");
            return -1;
        }
        s->tls_client_auth = json_string_value(v);
        s->given |= SPEC_TLS_CLIENT_AUTH;
    }
    return 0;
}

int instance_tls_save(http_req *r, const char *id, const instance_spec *s, int create)
{
    if (!create && !(s->given & (SPEC_TLS | SPEC_TLS_CLIENT_AUTH)))
        return 0;
    int tls = 0;
    char auth[TLS_AUTH_MAX] = TLS_AUTH_DEFAULT;
    if (!create && pki_instance_settings(id, &tls, auth) < 0) {
        http_reply_internal(r, "cannot read the instance's TLS settings");
        return -1;
    }
    if (s->given & SPEC_TLS)
        tls = s->tls;
    if (s->given & SPEC_TLS_CLIENT_AUTH)
        snprintf(auth, sizeof(auth), "%s", s->tls_client_auth);
    if (pki_instance_settings_save(id, tls, auth) < 0) {
        http_reply_internal(r, "cannot write the instance's TLS settings");
        return -1;
    }
    return 0;
}

/* ---- the CA and the server certificate ------------------------------------------------------- */

void api_ca_get(http_req *r)
{
    const char *pem = pki_ca_pem();
    http_reply_raw(r, 200, PEM_CONTENT_TYPE, pem, strlen(pem));
}

/* The instance of the path as the caller may see it, with TLS on (require_tls): 404 when it is
 * not visible, 404 or 409 (conflict_when_off) when TLS is off. Returns 0 or -1 answered. */
static int tls_target(http_req *r, instance_row *in, int conflict_when_off)
{
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return -1;
    }
    int tls = 0;
    char auth[TLS_AUTH_MAX];
    if (pki_instance_settings(in->id, &tls, auth) < 0 || !tls) {
        if (conflict_when_off)
            http_reply_error(r, 409, "conflict", "tls", "instance %s has TLS off", in->id);
        else
            http_reply_error(r, 404, "not_found", NULL, "instance %s has TLS off: no certificate",
                             in->id);
        store_instance_clear(in);
        return -1;
    }
    return 0;
}

static json_t *server_cert_json(sqlite3_stmt *st, const char *issuer)
{
    char err[64];
    const char *sans = db_text(st, 1);
    json_t *jsans = jx_parse(sans, strlen(sans), err, sizeof(err));
    return json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:o}", "serial", db_text(st, 0), "sans",
                     jsans ? jsans : json_array(), "not_before",
                     jx_time(sqlite3_column_int64(st, 2)), "not_after",
                     jx_time(sqlite3_column_int64(st, 3)), "issuer", issuer, "fingerprint_sha256",
                     db_text(st, 4), "renew_after", jx_time(sqlite3_column_int64(st, 5)));
}

void api_instance_cert_get(http_req *r)
{
    instance_row in;
    if (tls_target(r, &in, 0) < 0)
        return;
    sqlite3_stmt *st = db_prepare("SELECT serial, sans, not_before, not_after, fingerprint, "
                                  "renew_after FROM instance_certs WHERE instance_id = ?");
    if (!st) {
        store_instance_clear(&in);
        http_reply_internal(r, "cannot read the certificate");
        return;
    }
    db_bind_text(st, 1, in.id);
    char issuer[PKI_ISSUER_MAX] = "";
    pki_authority *a = pki_instance_ca(in.id);
    if (a)
        pki_authority_name(a, issuer, sizeof(issuer));
    pki_authority_free(a);
    if (sqlite3_step(st) == SQLITE_ROW)
        http_reply_json(r, 200, server_cert_json(st, issuer));
    else
        http_reply_error(r, 404, "not_found", NULL,
                         "instance %s has no certificate yet: it is issued in a moment", in.id);
    db_done(st);
    store_instance_clear(&in);
}

void api_instance_cert_rotate(http_req *r)
{
    if (!http_body_none(r))
        return;
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin");
        return;
    }
    instance_row in;
    if (tls_target(r, &in, 1) < 0) {
        db_rollback();
        return;
    }
    char op[ID_MAX], running[ID_MAX] = "";
    int rc = -1, asked = 0;
    if (in.delete_requested)
        http_reply_error(r, 409, "conflict", NULL, "instance %s is being deleted", in.id);
    else if (store_operation_create(in.tenant_id, "certificate_rotate", in.id, in.spec_version,
                                    op) < 0)
        http_reply_internal(r, "cannot create an operation");
    else if ((asked = pki_instance_rotate_request(in.id, op, running)) == PKI_ROTATION_RUNNING)
        http_reply_error(r, 409, "conflict", NULL, "a rotation is in progress: operation %s",
                         running);
    else if (asked < 0)
        http_reply_error(r, 409, "conflict", NULL,
                         "instance %s has no certificate yet: it is issued in a moment", in.id);
    else
        rc = 0;
    if (rc == 0)
        store_event(in.id, "certificate_rotation_requested", NULL, NULL, NULL, "operation %s", op);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        if (rc < 0)
            db_rollback();
        else
            http_reply_internal(r, "cannot commit");
        store_instance_clear(&in);
        return;
    }
    json_t *inst = instance_view_load(in.id, NULL, 1, r->etag);
    json_t *jop = api_operation_json(op);
    store_instance_clear(&in);
    if (!inst || !jop) {
        json_decref(inst);
        json_decref(jop);
        http_reply_internal(r, "an accepted rotation cannot be read back");
        return;
    }
    snprintf(r->location, sizeof(r->location), "/v1/operations/%s", op);
    r->wake_reconciler = 1;
    http_reply_json(r, 202, json_pack("{s:o, s:o}", "instance", inst, "operation", jop));
}

/* ---- client certificates --------------------------------------------------------------------- */

/* A certificate's CN: 1-64 of [A-Za-z0-9._-]. */
static int client_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CLIENT_CN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* name and days of a create request. Returns 0, or -1 answered (422). */
static int client_create_parse(http_req *r, json_t *body, const char **name, int *days)
{
    if (api_check_members(r, body, client_create_fields) < 0)
        return -1;
    json_t *v = json_object_get(body, "name");
    if (!json_is_string(v) || !client_name_valid(json_string_value(v))) {
        http_reply_invalid(r, "name",
                           "name (the certificate's CN) is required: 1 to %d of A-Z a-z 0-9 . _ -",
                           CLIENT_CN_MAX);
        return -1;
    }
    *name = json_string_value(v);
    *days = CLIENT_DAYS_DEFAULT;
    if ((v = json_object_get(body, "days"))) {
        if (!json_is_integer(v) || json_integer_value(v) < CLIENT_DAYS_MIN ||
            json_integer_value(v) > CLIENT_DAYS_MAX) {
            http_reply_invalid(r, "days", "days must be an integer %d to %d", CLIENT_DAYS_MIN,
                               CLIENT_DAYS_MAX);
            return -1;
        }
        *days = (int)json_integer_value(v);
    }
    return 0;
}

static int client_cert_insert(const char *id, const char *instance_id, const char *name,
                              const pki_cert *c)
{
    sqlite3_stmt *st = db_prepare("INSERT INTO client_certs(id, instance_id, name, serial, "
                                  "not_before, not_after, created_at) VALUES (?,?,?,?,?,?,?)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, instance_id);
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, c->serial);
    sqlite3_bind_int64(st, 5, c->not_before_ms);
    sqlite3_bind_int64(st, 6, c->not_after_ms);
    sqlite3_bind_int64(st, 7, ids_now_ms());
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

void api_client_cert_create(http_req *r)
{
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    const char *name;
    int days;
    instance_row in;
    if (client_create_parse(r, body, &name, &days) < 0 || tls_target(r, &in, 1) < 0) {
        json_decref(body);
        return;
    }
    pki_cert c;
    char err[REASON_MAX], id[ID_MAX];
    /* signed by the instance's CA: its nodes trust nothing else, so the certificate opens this
     * instance only */
    pki_authority *a = pki_instance_ca(in.id);
    int issued = a ? pki_issue(a, name, NULL, 0, PKI_USAGE_CLIENT, days * SECONDS_PER_DAY, &c, err,
                               sizeof(err))
                   : -1;
    pki_authority_free(a);
    if (issued < 0) {
        http_reply_internal(r, "cannot issue a certificate");
    } else {
        ids_new(CLIENT_CERT_ID_PREFIX, id);
        if (client_cert_insert(id, in.id, name, &c) < 0) {
            http_reply_internal(r, "cannot store a certificate");
        } else {
            store_event(in.id, "client_certificate_issued", NULL, NULL, NULL,
                        "client certificate %s (CN %s, serial %s)", id, name, c.serial);
            snprintf(r->location, sizeof(r->location), "/v1/instances/%s/client-certificates/%s",
                     in.id, id);
            http_reply_json(r, 201,
                            json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s}", "id", id, "name",
                                      name, "serial", c.serial, "not_before",
                                      jx_time(c.not_before_ms), "not_after",
                                      jx_time(c.not_after_ms), "certificate", c.cert_pem,
                                      "private_key", c.key_pem, "ca", pki_ca_pem()));
        }
        pki_cert_clear(&c);
    }
    json_decref(body);
    store_instance_clear(&in);
}

static json_t *client_cert_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "id", db_text(st, 0), "name", db_text(st, 1),
                     "serial", db_text(st, 2), "not_before", jx_time(sqlite3_column_int64(st, 3)),
                     "not_after", jx_time(sqlite3_column_int64(st, 4)), "revoked",
                     sqlite3_column_type(st, 5) != SQLITE_NULL);
}

/* The instance of the path, visible to the caller (any TLS setting: certificates stay listed
 * after TLS is turned off). Returns 0 or -1 answered (404). */
static int visible_instance(http_req *r)
{
    instance_row in;
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return -1;
    }
    store_instance_clear(&in);
    return 0;
}

void api_client_cert_list(http_req *r)
{
    page_req pg;
    if (api_page_parse(r, &pg) < 0 || visible_instance(r) < 0)
        return;
    sqlite3_stmt *st = db_prepare("SELECT " CLIENT_CERT_COLUMNS " FROM client_certs WHERE "
                                  "instance_id = ?1 AND (created_at, id) > (?2, ?3) "
                                  "ORDER BY created_at, id LIMIT ?4");
    if (!st) {
        http_reply_internal(r, "cannot list certificates");
        return;
    }
    db_bind_text(st, 1, r->params[0]);
    sqlite3_bind_int64(st, 2, pg.after_ts);
    db_bind_text(st, 3, pg.after_id);
    sqlite3_bind_int(st, 4, pg.limit + 1);
    http_reply_json(r, 200, api_page_rows(st, &pg, client_cert_json, CLIENT_CERT_TS_COL));
}

/* The client certificate of the path as JSON, or NULL answered (404). */
static json_t *client_cert_load(http_req *r)
{
    if (visible_instance(r) < 0)
        return NULL;
    sqlite3_stmt *st = db_prepare("SELECT " CLIENT_CERT_COLUMNS
                                  " FROM client_certs WHERE instance_id = ? AND id = ?");
    if (!st) {
        http_reply_internal(r, "cannot read a certificate");
        return NULL;
    }
    db_bind_text(st, 1, r->params[0]);
    db_bind_text(st, 2, r->params[1]);
    json_t *v = sqlite3_step(st) == SQLITE_ROW ? client_cert_json(st) : NULL;
    db_done(st);
    if (!v)
        http_reply_error(r, 404, "not_found", NULL, "no client certificate %s", r->params[1]);
    return v;
}

void api_client_cert_get(http_req *r)
{
    json_t *v = client_cert_load(r);
    if (v)
        http_reply_json(r, 200, v);
}

/* Revokes: the certificate goes into the next CRL, which the reconciler writes to every TLS
 * node. Revoking a revoked certificate again changes nothing. */
void api_client_cert_delete(http_req *r)
{
    json_t *v = client_cert_load(r);
    if (!v)
        return;
    int already = json_is_true(json_object_get(v, "revoked"));
    json_decref(v);
    if (already) {
        http_reply_raw(r, 204, "application/json", "", 0);
        return;
    }
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin");
        return;
    }
    sqlite3_stmt *st = db_prepare("UPDATE client_certs SET revoked_at = ? WHERE instance_id = ? "
                                  "AND id = ? AND revoked_at IS NULL");
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, ids_now_ms());
        db_bind_text(st, 2, r->params[0]);
        db_bind_text(st, 3, r->params[1]);
        rc = db_step_done(st) == SQLITE_DONE ? 0 : -1;
        db_done(st);
    }
    if (rc == 0 && db_changes() == 1)
        rc = pki_instance_crl_refresh(r->params[0]);
    if (rc == 0)
        store_event(r->params[0], "client_certificate_revoked", NULL, NULL, NULL,
                    "client certificate %s revoked", r->params[1]);
    if (rc < 0 || db_commit() != SQLITE_OK) {
        if (rc < 0)
            db_rollback();
        http_reply_internal(r, "cannot revoke a certificate");
        return;
    }
    r->wake_reconciler = 1;
    http_reply_raw(r, 204, "application/json", "", 0);
}
