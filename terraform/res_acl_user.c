/* dfly_acl_user: an ACL user of an instance (/v1/instances/{id}/users/{name}). Rules and enabled
 * change in place; a new password (given, or generated on a change of password_version) is a
 * rotation, finished at once or left to end after rotation_grace_period. instance_id and
 * username need a new user.
 *
 * Rules: the API stores the data plane's normalised form ("+@read ~c:*" comes back as
 * "~c:* resetchannels -@all +@read"). The state keeps the configuration's string in rules and
 * the API's form in rules_normalized; a read keeps rules while the API still shows the form it
 * gave for them, and shows the API's form when the user was changed elsewhere (drift). So a
 * rules string that the configuration writes differently from the node yields no perpetual
 * diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"

#define USERNAME_MAX 64 /* the API's limit */
#define USERNAME_CHARS                                                                             \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-" /* the API's set */
#define RESERVED_USER "default"
#define RULES_DEFAULT "" /* the API's: a user that may do nothing */
#define PASSWORD_MIN 8   /* the API's limits */
#define PASSWORD_MAX 256
#define MS_PER_S 1000LL
#define GRACE_MAX_MS (7 * 24 * 3600 * MS_PER_S) /* the API's longest grace period */
#define SUMMARY_CREATE "Cannot create the ACL user"
#define SUMMARY_UPDATE "Cannot update the ACL user"
#define SUMMARY_ROTATE "Cannot rotate the ACL user's password"
#define SUMMARY_DELETE "Cannot delete the ACL user"
#define SUMMARY_READ "Cannot read the ACL user"

#define RO ATTR_COMPUTED
#define OC (ATTR_OPTIONAL | ATTR_COMPUTED)
static const tf_attr user_attrs[] = {
    {"id", &TF_STRING, RO, "<instance_id>/<username>."},
    {"instance_id", &TF_STRING, ATTR_REQUIRED,
     "The instance the user belongs to. Changing it replaces the user."},
    {"username", &TF_STRING, ATTR_REQUIRED,
     "1 to 64 of [A-Za-z0-9._:@-], not \"default\". Changing it replaces the user."},
    {"rules", &TF_STRING, OC,
     "ACL rules as ACL SETUSER takes them (\"+@read ~cache:* &events:*\"), without on/off and "
     "passwords; default: none (the user may do nothing). Changes in place."},
    {"rules_normalized", &TF_STRING, RO, "The rules as the nodes show them (ACL LIST)."},
    {"enabled", &TF_BOOL, OC, "Whether the user may log in (default true). Changes in place."},
    {"password", &TF_STRING, ATTR_OPTIONAL | ATTR_COMPUTED | ATTR_SENSITIVE,
     "8 to 256 characters; generated when not given. A change rotates the password in place "
     "(null after an import: the API shows it once)."},
    {"password_version", &TF_STRING, ATTR_OPTIONAL,
     "Any value; changing it rotates the password (a new generated one, or password)."},
    {"rotation_grace_period", &TF_STRING, ATTR_OPTIONAL,
     "How long the old password keeps working after a rotation (\"1h\", up to 168h); unset: "
     "it stops at once."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema user_schema = {0, "An ACL user of an instance, on every node.", user_attrs,
                                      NULL};

/* --- state ------------------------------------------------------------------------------------ */

/* The state of the API's user u of instance_id. written is a rules string known to normalise to
 * the API's rules (what was just applied, or what the state had while the API still shows the
 * form it gave for it): kept as rules, else rules is the API's form. password (NULL: prior's)
 * and password_version exist only in the state. */
static cty_value *user_state(const char *instance_id, const json_t *u, const char *written,
                             const cty_value *prior, const char *password)
{
    const char *name = jstr(u, "name"), *rules = jstr(u, "rules");
    cty_value *o = cty_map();
    char id[API_PATH_MAX];
    snprintf(id, sizeof id, "%s%c%s", instance_id, IMPORT_SEPARATOR, name ? name : "");
    cty_set(o, "id", cty_str(id));
    cty_set(o, "instance_id", cty_str(instance_id));
    cty_set(o, "username", cty_str(name));
    cty_set(o, "rules", cty_str(written ? written : rules));
    cty_set(o, "rules_normalized", cty_str(rules));
    cty_set(o, "enabled", cty_from_member(u, "enabled"));
    cty_set(o, "password", password ? cty_str(password) : cty_dup(cty_get(prior, "password")));
    cty_set(o, "password_version", cty_dup(cty_get(prior, "password_version")));
    cty_set(o, "rotation_grace_period", cty_dup(cty_get(prior, "rotation_grace_period")));
    return o;
}

/* The API names the member "name"; our attribute is username. */
static void user_api_error(diags *d, const char *summary, dflyapi_err err, const dflyapi_result *r)
{
    diag_api_error(d, summary, err, r);
    if (d->tail && d->tail->path[0] && strcmp(d->tail->path[0], "name") == 0)
        d->tail->path[0] = "username";
}

/* A call on the user of s (instance_id, username) or on its list (username NULL); tail is an
 * action ("rotate-password") or NULL. */
static bool user_call(provider *p, const char *method, const cty_value *s, bool with_name,
                      const char *tail, const json_t *body, dflyapi_result *res, diags *d,
                      const char *summary, bool *gone)
{
    char path[API_PATH_MAX];
    const char *instance = cty_get_str(s, "instance_id");
    const char *name = with_name ? cty_get_str(s, "username") : NULL;
    dflyapi_path(path, sizeof path, "/v1/instances", instance, "users", name, tail,
                 DFLYAPI_PATH_END);
    dflyapi_req req = {.body = body};
    char key[API_IDEMPOTENCY_KEY_MAX];
    if (strcmp(method, "POST") == 0) {
        dflyapi_idempotency_key(key, sizeof key);
        req.idempotency_key = key;
    }
    if (gone)
        *gone = false;
    dflyapi_err err = api_request(p, method, path, &req, res);
    if (err == DFLYAPI_OK)
        return true;
    if (gone && err == DFLYAPI_ERR_HTTP && res->status == 404) {
        *gone = true;
        return true;
    }
    user_api_error(d, summary, err, res);
    return false;
}

/* --- validation and plan ---------------------------------------------------------------------- */

static void user_validate(const cty_value *config, diags *d)
{
    const char *name = cty_get_str(config, "username");
    if (name &&
        (!*name || strlen(name) > USERNAME_MAX || strspn(name, USERNAME_CHARS) != strlen(name)))
        diag_error(d, "username", "Invalid username",
                   "username must be 1 to %d of [A-Za-z0-9._:@-]; got \"%s\".", USERNAME_MAX, name);
    else if (name && strcmp(name, RESERVED_USER) == 0)
        diag_error(d, "username", "Invalid username",
                   "The default user belongs to the instance (its password is the instance's "
                   "default_password).");
    const char *grace = cty_get_str(config, "rotation_grace_period");
    long long grace_ms = grace ? duration_parse_ms(grace) : 0;
    if (grace && (grace_ms < MS_PER_S || grace_ms > GRACE_MAX_MS))
        diag_error(d, "rotation_grace_period", "Invalid rotation_grace_period",
                   "rotation_grace_period must be a duration of 1s to 168h (\"10m\", \"1h\"), "
                   "got \"%s\".",
                   grace);
    const char *password = cty_get_str(config, "password");
    size_t n = password ? strlen(password) : 0;
    if (password && (n < PASSWORD_MIN || n > PASSWORD_MAX))
        diag_error(d, "password", "Invalid password",
                   "password must have %d to %d characters, got %zu.", PASSWORD_MIN, PASSWORD_MAX,
                   n);
}

static bool changed(const cty_value *prior, const cty_value *planned, const char *attr)
{
    return !cty_equal(cty_get(prior, attr), cty_get(planned, attr));
}

/* A new password: a different one in the configuration, or a new password_version. A first
 * password_version (after an import, or added later) is recorded without a rotation. */
static bool version_rotates(const cty_value *prior, const cty_value *planned)
{
    return !cty_is_null(cty_get(prior, "password_version")) &&
           changed(prior, planned, "password_version");
}

static bool password_rotates(const cty_value *prior, const cty_value *planned)
{
    return changed(prior, planned, "password") || version_rotates(prior, planned);
}

/* Unset rules and enabled mean the API's defaults (none, true), so that a change made
 * elsewhere is undone as for a set value. */
static void plan_defaults(cty_value *planned, const cty_value *config)
{
    if (cty_is_null(cty_get(config, "rules")) && !cty_get_unknown(config, "rules"))
        cty_set(planned, "rules", cty_str(RULES_DEFAULT));
    if (cty_is_null(cty_get(config, "enabled")) && !cty_get_unknown(config, "enabled"))
        cty_set(planned, "enabled", cty_bool(true));
}

static void user_plan(provider *p, const cty_value *prior, cty_value *planned,
                      const cty_value *config, const char **replace, diags *d)
{
    plan_defaults(planned, config);
    if (cty_is_null(prior)) {
        static const char *const computed[] = {"id", "rules_normalized", "password"};
        for (size_t i = 0; i < sizeof computed / sizeof computed[0]; i++)
            if (cty_is_null(cty_get(planned, computed[i])))
                cty_set(planned, computed[i], cty_unknown());
        cty_set(planned, "rules_normalized", cty_unknown());
        return;
    }
    size_t n = 0;
    static const char *const immutable[] = {"instance_id", "username"};
    for (size_t i = 0; i < sizeof immutable / sizeof immutable[0]; i++)
        if (changed(prior, planned, immutable[i]))
            replace[n++] = immutable[i];
    if (n)
        return;
    /* Another string may normalise to the same rules: the API tells after the update. */
    if (changed(prior, planned, "rules"))
        cty_set(planned, "rules_normalized", cty_unknown());
    if (version_rotates(prior, planned) && cty_is_null(cty_get(config, "password")))
        cty_set(planned, "password", cty_unknown());
}

/* --- apply ------------------------------------------------------------------------------------ */

static json_t *user_create_body(const cty_value *planned)
{
    json_t *body = json_object();
    json_object_set_new(body, "name", json_string(cty_get_str(planned, "username")));
    const char *rules = cty_get_str(planned, "rules");
    if (rules)
        json_object_set_new(body, "rules", json_string(rules));
    bool enabled = true;
    cty_get_bool(planned, "enabled", &enabled);
    json_object_set_new(body, "enabled", json_boolean(enabled));
    const char *password = cty_get_str(planned, "password");
    if (password)
        json_object_set_new(body, "password", json_string(password));
    return body;
}

static cty_value *user_create(provider *p, const cty_value *planned, diags *d)
{
    json_t *body = user_create_body(planned);
    dflyapi_result res = {0};
    cty_value *state = NULL;
    if (user_call(p, "POST", planned, false, NULL, body, &res, d, SUMMARY_CREATE, NULL))
        state = user_state(cty_get_str(planned, "instance_id"), json_object_get(res.body, "user"),
                           cty_get_str(planned, "rules"), planned, jstr(res.body, "password"));
    dflyapi_result_clear(&res);
    json_decref(body);
    return state;
}

/* Rotates to planned's password (or a generated one). The old one keeps working for
 * rotation_grace_period, or is removed at once without one. A rotation still in its grace
 * period is finished first (the API allows one at a time). Returns the new password (caller
 * frees) or NULL. */
static char *user_rotate(provider *p, const cty_value *planned, diags *d)
{
    dflyapi_result res = {0};
    bool ok =
        user_call(p, "POST", planned, true, "finish-rotation", NULL, &res, d, SUMMARY_ROTATE, NULL);
    dflyapi_result_clear(&res);
    json_t *body = json_object();
    const char *given = cty_get_str(planned, "password");
    if (given)
        json_object_set_new(body, "password", json_string(given));
    long long grace_ms = duration_parse_ms(cty_get_str(planned, "rotation_grace_period"));
    if (grace_ms > 0)
        json_object_set_new(body, "grace_period_seconds", json_integer(grace_ms / MS_PER_S));
    char *password = NULL;
    ok = ok && user_call(p, "POST", planned, true, "rotate-password", body, &res, d, SUMMARY_ROTATE,
                         NULL);
    if (ok && jstr(res.body, "password"))
        password = strdup(jstr(res.body, "password"));
    dflyapi_result_clear(&res);
    if (password && grace_ms <= 0 &&
        !user_call(p, "POST", planned, true, "finish-rotation", NULL, &res, d, SUMMARY_ROTATE,
                   NULL)) {
        free(password);
        password = NULL;
    }
    dflyapi_result_clear(&res);
    json_decref(body);
    return password;
}

static cty_value *user_update(provider *p, const cty_value *prior, const cty_value *planned,
                              diags *d)
{
    dflyapi_result res = {0};
    json_t *user = NULL;
    json_t *patch = json_object();
    if (changed(prior, planned, "rules"))
        json_object_set_new(patch, "rules", json_string(cty_get_str(planned, "rules")));
    bool enabled;
    if (changed(prior, planned, "enabled") && cty_get_bool(planned, "enabled", &enabled))
        json_object_set_new(patch, "enabled", json_boolean(enabled));
    bool ok = true;
    if (json_object_size(patch)) {
        ok = user_call(p, "PATCH", prior, true, NULL, patch, &res, d, SUMMARY_UPDATE, NULL);
        if (ok)
            user = json_incref(res.body);
        dflyapi_result_clear(&res);
    }
    json_decref(patch);
    char *password = NULL;
    if (ok && password_rotates(prior, planned))
        ok = (password = user_rotate(p, planned, d)) != NULL;
    if (ok && !user) {
        ok = user_call(p, "GET", prior, true, NULL, NULL, &res, d, SUMMARY_UPDATE, NULL);
        if (ok)
            user = json_incref(res.body);
        dflyapi_result_clear(&res);
    }
    cty_value *state = NULL;
    if (ok) {
        /* the password is prior's unless it rotated; the rules are planned's, now applied */
        cty_value *keep = cty_dup(planned);
        cty_set(keep, "password", cty_dup(cty_get(prior, "password")));
        state = user_state(cty_get_str(prior, "instance_id"), user, cty_get_str(planned, "rules"),
                           keep, password);
        cty_free(keep);
    }
    free(password);
    json_decref(user);
    return state;
}

static cty_value *user_delete(provider *p, const cty_value *prior, diags *d)
{
    dflyapi_result res = {0};
    bool gone;
    bool ok = user_call(p, "DELETE", prior, true, NULL, NULL, &res, d, SUMMARY_DELETE, &gone);
    dflyapi_result_clear(&res);
    return ok ? cty_null() : NULL;
}

static cty_value *user_apply(provider *p, const cty_value *prior, const cty_value *planned,
                             const cty_value *config, diags *d)
{
    if (cty_is_null(planned))
        return user_delete(p, prior, d);
    if (cty_is_null(prior))
        return user_create(p, planned, d);
    return user_update(p, prior, planned, d);
}

/* --- read and import -------------------------------------------------------------------------- */

static cty_value *user_read(provider *p, const cty_value *state, diags *d)
{
    if (!cty_get_str(state, "instance_id") || !cty_get_str(state, "username"))
        return cty_null();
    dflyapi_result res = {0};
    bool gone = false;
    cty_value *out = NULL;
    bool ok = user_call(p, "GET", state, true, NULL, NULL, &res, d, SUMMARY_READ, &gone);
    if (ok && gone) {
        out = cty_null();
    } else if (ok) {
        /* the state's rules stand while the API shows the form it gave for them */
        const char *norm = cty_get_str(state, "rules_normalized");
        const char *api_rules = jstr(res.body, "rules");
        bool same = norm && api_rules && strcmp(norm, api_rules) == 0;
        out = user_state(cty_get_str(state, "instance_id"), res.body,
                         same ? cty_get_str(state, "rules") : NULL, state, NULL);
    }
    dflyapi_result_clear(&res);
    return out;
}

/* terraform import dfly_acl_user.x <instance_id>/<username> */
static cty_value *user_import(provider *p, const char *id, diags *d)
{
    char *instance = NULL;
    const char *name = NULL;
    if (!import_id_split(id, &instance, &name)) {
        diag_error(d, NULL, "Invalid import id",
                   "An ACL user is imported as <instance_id>/<username>, got \"%s\".", id);
        return NULL;
    }
    cty_value *o = schema_null_object(&user_schema);
    cty_set(o, "id", cty_str(id));
    cty_set(o, "instance_id", cty_str(instance));
    cty_set(o, "username", cty_str(name));
    free(instance);
    return o;
}

const tf_resource res_acl_user = {
    "dfly_acl_user", &user_schema, user_validate, user_plan, user_apply, user_read, user_import,
};
