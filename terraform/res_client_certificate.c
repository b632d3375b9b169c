/* dfly_client_certificate: a client certificate of a TLS instance, issued by the internal CA
 * (/v1/instances/{id}/client-certificates). Its private key exists only in the create answer, so
 * it is kept from the state; a certificate cannot change, so any change issues a new one, and
 * destroying it revokes it (the nodes refuse it from the next CRL on). */
#include <stdlib.h>
#include <string.h>

#include "api_util.h"

#define NAME_MAX_LEN 64 /* the API's CN rule: ^[A-Za-z0-9._-]{1,64}$ */
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define DAYS_MIN 1
#define DAYS_MAX 825
#define DAYS_DEFAULT 365
#define SUMMARY_CREATE "Cannot issue the client certificate"
#define SUMMARY_DELETE "Cannot revoke the client certificate"
#define SUMMARY_READ "Cannot read the client certificate"

#define RO ATTR_COMPUTED
static const tf_attr cert_attrs[] = {
    {"id", &TF_STRING, RO, "The certificate's id."},
    {"instance_id", &TF_STRING, ATTR_REQUIRED,
     "The instance (with tls) whose nodes accept the certificate. Changing it issues a new one."},
    {"name", &TF_STRING, ATTR_REQUIRED,
     "The certificate's CN: 1 to 64 of [A-Za-z0-9._-]. Changing it issues a new one."},
    {"days", &TF_NUMBER, ATTR_OPTIONAL | ATTR_COMPUTED,
     "Validity in days, 1 to 825 (default 365). Changing it issues a new one."},
    {"certificate_pem", &TF_STRING, RO, "The certificate (PEM)."},
    {"private_key_pem", &TF_STRING, RO | ATTR_SENSITIVE, "Its private key (PEM, unencrypted)."},
    {"ca_pem", &TF_STRING, RO, "The internal CA's certificate (PEM), to verify the nodes."},
    {"serial", &TF_STRING, RO, "Serial number, hexadecimal."},
    {"not_before", &TF_STRING, RO, "RFC 3339 start of validity."},
    {"not_after", &TF_STRING, RO, "RFC 3339 end of validity."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema cert_schema = {
    0, "A client certificate of a TLS instance, issued by dfly-control's internal CA.", cert_attrs,
    NULL};

/* Attributes the API shows every time; the rest (PEMs, days) come from the create answer and
 * are kept from prior. */
static const char *const cert_api_attrs[] = {"id", "name", "serial", "not_before", "not_after"};

static cty_value *cert_state(const char *instance_id, const json_t *c, const cty_value *prior)
{
    cty_value *o = cty_map();
    for (size_t i = 0; i < sizeof cert_api_attrs / sizeof cert_api_attrs[0]; i++)
        cty_set(o, cert_api_attrs[i], cty_from_member(c, cert_api_attrs[i]));
    cty_set(o, "instance_id", cty_str(instance_id));
    cty_set(o, "days", cty_dup(cty_get(prior, "days")));
    static const struct {
        const char *api, *attr;
    } once[] = {
        {"certificate", "certificate_pem"},
        {"private_key", "private_key_pem"},
        {"ca", "ca_pem"},
    };
    for (size_t i = 0; i < sizeof once / sizeof once[0]; i++) {
        const char *v = jstr(c, once[i].api);
        cty_set(o, once[i].attr, v ? cty_str(v) : cty_dup(cty_get(prior, once[i].attr)));
    }
    return o;
}

static void cert_validate(const cty_value *config, diags *d)
{
    const char *name = cty_get_str(config, "name");
    size_t n = name ? strlen(name) : 0;
    if (name && (n == 0 || n > NAME_MAX_LEN || strspn(name, NAME_CHARS) != n))
        diag_error(d, "name", "Invalid name",
                   "name (the certificate's CN) must be 1 to %d of [A-Za-z0-9._-]; got \"%s\".",
                   NAME_MAX_LEN, name);
    int64_t days;
    if (cty_get_int(config, "days", &days) && (days < DAYS_MIN || days > DAYS_MAX))
        diag_error(d, "days", "Value out of range", "days must be an integer %d to %d, got %lld.",
                   DAYS_MIN, DAYS_MAX, (long long)days);
}

static void cert_plan(provider *p, const cty_value *prior, cty_value *planned,
                      const cty_value *config, const char **replace, diags *d)
{
    if (cty_is_null(cty_get(config, "days")) && !cty_get_unknown(config, "days"))
        cty_set(planned, "days", cty_int(DAYS_DEFAULT));
    if (cty_is_null(prior)) {
        for (const tf_attr *a = cert_attrs; a->name; a++)
            if ((a->flags & RO) && !(a->flags & ATTR_OPTIONAL))
                cty_set(planned, a->name, cty_unknown());
        return;
    }
    size_t n = 0;
    static const char *const immutable[] = {"instance_id", "name", "days"};
    for (size_t i = 0; i < sizeof immutable / sizeof immutable[0]; i++)
        if (!cty_equal(cty_get(prior, immutable[i]), cty_get(planned, immutable[i])))
            replace[n++] = immutable[i];
}

static void cert_path(char *path, size_t size, const cty_value *s, bool with_id)
{
    dflyapi_path(path, size, "/v1/instances", cty_get_str(s, "instance_id"), "client-certificates",
                 with_id ? cty_get_str(s, "id") : NULL, DFLYAPI_PATH_END);
}

static cty_value *cert_apply(provider *p, const cty_value *prior, const cty_value *planned,
                             const cty_value *config, diags *d)
{
    char path[API_PATH_MAX];
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (cty_is_null(planned)) {
        cert_path(path, sizeof path, prior, true);
        if (api_call(p, "DELETE", path, NULL, NULL, &res, d, SUMMARY_DELETE, true, NULL))
            state = cty_null();
    } else if (cty_is_null(prior)) {
        cert_path(path, sizeof path, planned, false);
        int64_t days = DAYS_DEFAULT;
        cty_get_int(planned, "days", &days);
        json_t *body =
            json_pack("{s:s, s:I}", "name", cty_get_str(planned, "name"), "days", (json_int_t)days);
        char key[API_IDEMPOTENCY_KEY_MAX];
        dflyapi_idempotency_key(key, sizeof key);
        if (api_call(p, "POST", path, body, key, &res, d, SUMMARY_CREATE, false, NULL))
            state = cert_state(cty_get_str(planned, "instance_id"), res.body, planned);
        json_decref(body);
    } else {
        diag_error(d, NULL, "Client certificates cannot change",
                   "A change of a client certificate issues a new one.");
    }
    dflyapi_result_clear(&res);
    return state;
}

/* A revoked certificate is gone for Terraform: a plan issues a new one. */
static cty_value *cert_read(provider *p, const cty_value *state, diags *d)
{
    if (!cty_get_str(state, "instance_id") || !cty_get_str(state, "id"))
        return cty_null();
    char path[API_PATH_MAX];
    cert_path(path, sizeof path, state, true);
    dflyapi_result res = {0};
    bool gone = false;
    cty_value *out = NULL;
    if (api_call(p, "GET", path, NULL, NULL, &res, d, SUMMARY_READ, true, &gone)) {
        if (gone || json_is_true(json_object_get(res.body, "revoked")))
            out = cty_null();
        else
            out = cert_state(cty_get_str(state, "instance_id"), res.body, state);
    }
    dflyapi_result_clear(&res);
    return out;
}

static cty_value *cert_import(provider *p, const char *id, diags *d)
{
    diag_error(d, NULL, "Client certificates cannot be imported",
               "The API shows a client certificate's private key only when it issues it: let "
               "Terraform issue a new one.");
    return NULL;
}

const tf_resource res_client_certificate = {
    "dfly_client_certificate",
    &cert_schema,
    cert_validate,
    cert_plan,
    cert_apply,
    cert_read,
    cert_import,
};
