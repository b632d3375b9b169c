/* ACL users of an instance (issue 14): /v1/instances/{id}/users and
 * /v1/instances/{id}/users/{name}[/rotate-password|/finish-rotation].
 *
 * Rules are checked by the data plane itself, so that the API accepts exactly its grammar: the
 * handler makes a scratch user on a running node of the instance ("ACL SETUSER scratch reset
 * <rules>"), reads back its ACL LIST line as the normalised rules, and deletes it. This is the
 * one place where a handler talks to a node (bounded by --node-call-timeout); pushing the users
 * to every node is the reconciler's work (reconciler/acl_push.c).
 *
 * Passwords are generated (or given), returned once, and stored only as SHA-256 hashes, which
 * is what "ACL SETUSER name #<hash>" takes. A rotation keeps the old hash beside the new one
 * until finish-rotation or the end of its grace period. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "jsonx.h"
#include "node/resp.h"
#include "secret.h"
#include "reconciler/acl_push.h"

#define PASSWORD_RANDOM_BYTES 24
#define PASSWORD_MIN 8
#define PASSWORD_MAX 256
#define GRACE_DEFAULT_S 3600
#define GRACE_MAX_S (7 * 24 * 3600)
#define MS_PER_S 1000
#define SCRATCH_RANDOM_BYTES 6
#define NODE_ERR_MAX 512

/* A password: given (checked) or generated, into out (PASSWORD_MAX + 1), and its hash. */
static int password_take(http_req *r, json_t *given, char *out, char *hash)
{
    if (given && !json_is_null(given)) {
        const char *s = json_string_value(given);
        size_t n = s ? strlen(s) : 0;
        if (!s || n < PASSWORD_MIN || n > PASSWORD_MAX) {
            http_reply_invalid(r, "password", "password must be a string of %d to %d characters",
                               PASSWORD_MIN, PASSWORD_MAX);
            return -1;
        }
        snprintf(out, PASSWORD_MAX + 1, "%s", s);
    } else {
        unsigned char raw[PASSWORD_RANDOM_BYTES];
        ids_random(raw, sizeof(raw));
        ids_hex(raw, sizeof(raw), out);
    }
    ids_sha256_hex(out, strlen(out), hash);
    return 0;
}

/* A user name: what the node accepts and a URL segment can carry. */
static int user_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ACL_USER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.:@", s[i]))
            return 0;
    return 1;
}

/* Tokens that are not rules: the user's state and passwords are the API's own fields. */
static int rule_token_forbidden(const char *t)
{
    static const char *const words[] = {"on", "off", "nopass", "resetpass", "reset", NULL};
    for (int i = 0; words[i]; i++)
        if (!strcasecmp(t, words[i]))
            return 1;
    return strchr("><#!", t[0]) != NULL;
}

/* The text of the offending modifier in the node's "Error in ACL SETUSER modifier 'X': …". */
static void node_error_token(const char *err, char *tok, size_t toklen)
{
    const char *a = strstr(err, "modifier '");
    const char *b = a ? strstr(a + strlen("modifier '"), "': ") : NULL;
    if (!a || !b) {
        snprintf(tok, toklen, "%s", "");
        return;
    }
    a += strlen("modifier '");
    snprintf(tok, toklen, "%.*s", (int)(b - a), a);
}

/* A running node of instance_id to check rules on (a master when there is one). */
static int check_node(const char *instance_id, node_row *out)
{
    node_row *nodes = NULL;
    int n = 0, found = -1;
    if (store_nodes_load(instance_id, &nodes, &n) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(nodes[i].status, NODE_RUNNING) &&
            (found < 0 || !strcmp(nodes[i].role, ROLE_MASTER)))
            found = i;
    if (found >= 0)
        *out = nodes[found];
    free(nodes);
    return found >= 0 ? 0 : -1;
}

/* The normalised form of the scratch user's line in an ACL LIST reply. */
static int scratch_rules(char *list, const char *scratch, char *norm, size_t normlen)
{
    char prefix[ACL_USER_NAME_MAX + 8];
    snprintf(prefix, sizeof(prefix), "user %s ", scratch);
    for (char *save = NULL, *line = strtok_r(list, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (!strncmp(line, prefix, strlen(prefix)))
            return acl_list_rules(line, norm, normlen);
    return -1;
}

/* Checks rules against a running node of the instance and puts their normalised form in norm
 * (ACL_RULES_MAX). Answers 422 naming the offending token, 409 when no node runs, 503 when the
 * node does not answer; returns -1 then. */
static int rules_check(http_req *r, const char *instance_id, const char *rules, char *norm)
{
    char copy[ACL_RULES_MAX], err[NODE_ERR_MAX], tok_err[NODE_ERR_MAX];
    char *tok[ACL_TOKENS_MAX];
    if (strlen(rules) >= ACL_RULES_MAX) {
        http_reply_invalid(r, "rules", "rules are longer than %d bytes", ACL_RULES_MAX - 1);
        return -1;
    }
    snprintf(copy, sizeof(copy), "%s", rules);
    int nt = acl_rules_split(copy, tok, ACL_TOKENS_MAX);
    if (nt < 0) {
        http_reply_invalid(r, "rules", "rules: more than %d tokens or an unclosed '('",
                           ACL_TOKENS_MAX);
        return -1;
    }
    for (int i = 0; i < nt; i++)
        if (rule_token_forbidden(tok[i])) {
            http_reply_invalid(r, "rules",
                               "invalid ACL rule '%s': passwords and on/off are set by the "
                               "password and enabled fields",
                               tok[i]);
            return -1;
        }
    node_row nd;
    char pw[SECRET_MAX], scratch[ACL_USER_NAME_MAX];
    if (check_node(instance_id, &nd) < 0 || store_instance_password(instance_id, pw, sizeof(pw))) {
        http_reply_error(r, 409, "conflict", "rules",
                         "instance %s has no running node to check the rules against", instance_id);
        return -1;
    }
    unsigned char raw[SCRATCH_RANDOM_BYTES];
    char hex[2 * SCRATCH_RANDOM_BYTES + 1];
    ids_random(raw, sizeof(raw));
    ids_hex(raw, sizeof(raw), hex);
    snprintf(scratch, sizeof(scratch), "%s%s", ACL_SCRATCH_PREFIX, hex);
    const char *argv[4 + ACL_TOKENS_MAX] = {"ACL", "SETUSER", scratch, "reset"};
    for (int i = 0; i < nt; i++)
        argv[4 + i] = tok[i];
    int timeout = (int)ctl_cfg.node_call_timeout_ms;
    int rc = resp_call(nd.host, nd.admin_port, pw, timeout, err, sizeof(err), 4 + nt, argv);
    if (rc == RESP_ERROR) {
        node_error_token(err, tok_err, sizeof(tok_err));
        if (tok_err[0])
            http_reply_invalid(r, "rules", "invalid ACL rule '%s': %s", tok_err, err);
        else /* not about a rule (the node refused us): nothing to correct in the request */
            http_reply_error(r, 409, "conflict", NULL, "node %s refused the check: %s", nd.id, err);
        return -1;
    }
    char *list = malloc(ACL_LIST_OUT_MAX);
    static const char *const acl_list[] = {"ACL", "LIST"};
    if (rc == RESP_OK)
        rc = resp_call(nd.host, nd.admin_port, pw, timeout, list, ACL_LIST_OUT_MAX, 2, acl_list);
    if (rc == RESP_OK)
        rc = scratch_rules(list, scratch, norm, ACL_RULES_MAX) == 0 ? RESP_OK : RESP_IO;
    const char *del[] = {"ACL", "DELUSER", scratch};
    resp_call(nd.host, nd.admin_port, pw, timeout, err, sizeof(err), 3, del);
    free(list);
    if (rc != RESP_OK) {
        http_reply_error(r, 409, "conflict", NULL, "node %s could not check the rules; retry later",
                         nd.id);
        return -1;
    }
    return 0;
}

/* The instance of the request, visible to the caller and not being deleted. */
static int user_instance(http_req *r, instance_row *in)
{
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return -1;
    }
    if (in->delete_requested) {
        http_reply_error(r, 409, "conflict", NULL, "instance %s is being deleted", in->id);
        store_instance_clear(in);
        return -1;
    }
    return 0;
}

static json_t *user_json_row(sqlite3_stmt *st)
{
    int rotating = sqlite3_column_type(st, 3) != SQLITE_NULL;
    return json_pack(
        "{s:s, s:s, s:b, s:b, s:o, s:o, s:o}", "name", db_text(st, 0), "rules", db_text(st, 1),
        "enabled", sqlite3_column_int(st, 2), "rotating", rotating, "old_password_expires_at",
        rotating ? jx_time(sqlite3_column_int64(st, 3)) : json_null(), "created_at",
        jx_time(sqlite3_column_int64(st, 4)), "updated_at", jx_time(sqlite3_column_int64(st, 5)));
}

#define USER_COLUMNS "name, rules, enabled, rotation_expires_at, created_at, updated_at"

/* The JSON of user name of instance_id, or NULL. */
static json_t *user_json(const char *instance_id, const char *name)
{
    sqlite3_stmt *st =
        db_prepare("SELECT " USER_COLUMNS " FROM acl_users WHERE instance_id = ? AND name = ?");
    if (!st)
        return NULL;
    db_bind_text(st, 1, instance_id);
    db_bind_text(st, 2, name);
    json_t *v = sqlite3_step(st) == SQLITE_ROW ? user_json_row(st) : NULL;
    db_done(st);
    return v;
}

static int user_json_exists(const char *instance_id, const char *name)
{
    json_t *u = user_json(instance_id, name);
    json_decref(u);
    return u != NULL;
}

static void user_not_found(http_req *r)
{
    http_reply_error(r, 404, "not_found", NULL, "no user %s in instance %s", r->params[1],
                     r->params[0]);
}

/* Runs sql (instance_id, name and then the text arguments) and answers with the user: 200, or
 * 404 when no row changed. */
static void user_write(http_req *r, const char *sql, int nargs, const char *const *args,
                       int64_t now, json_t *extra)
{
    sqlite3_stmt *st = db_prepare(sql);
    if (!st) {
        json_decref(extra);
        http_reply_internal(r, "cannot write a user");
        return;
    }
    sqlite3_bind_int64(st, 1, now);
    for (int i = 0; i < nargs; i++)
        if (args[i])
            db_bind_text(st, 2 + i, args[i]);
    db_bind_text(st, 2 + nargs, r->params[0]);
    db_bind_text(st, 3 + nargs, r->params[1]);
    int rc = db_step_done(st);
    db_done(st);
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        json_decref(extra);
        http_reply_internal(r, "cannot write a user");
        return;
    }
    if (db_changes() == 0) {
        json_decref(extra);
        user_not_found(r);
        return;
    }
    json_t *u = user_json(r->params[0], r->params[1]);
    r->wake_reconciler = 1;
    if (extra) {
        json_object_set_new(extra, "user", u);
        http_reply_json(r, 200, extra);
    } else {
        http_reply_json(r, 200, u);
    }
}

void api_user_create(http_req *r)
{
    static const char *const allowed[] = {"name", "password", "rules", "enabled", NULL};
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    instance_row in;
    if (api_check_members(r, body, allowed) < 0 || user_instance(r, &in) < 0) {
        json_decref(body);
        return;
    }
    const char *name = jx_str(body, "name", NULL);
    const char *rules = jx_str(body, "rules", "");
    json_t *en = json_object_get(body, "enabled");
    char norm[ACL_RULES_MAX], password[PASSWORD_MAX + 1], hash[ACL_HASH_HEX];
    if (!name || !user_name_valid(name))
        http_reply_invalid(r, "name", "name must be 1 to %d of [A-Za-z0-9-_.:@]",
                           ACL_USER_NAME_MAX);
    else if (!strcmp(name, "default") ||
             !strncmp(name, ACL_SCRATCH_PREFIX, strlen(ACL_SCRATCH_PREFIX)))
        http_reply_invalid(r, "name", "the name %s is reserved", name);
    else if (!json_is_string(json_object_get(body, "rules")) && json_object_get(body, "rules"))
        http_reply_invalid(r, "rules", "rules must be a string");
    else if (en && !json_is_boolean(en))
        http_reply_invalid(r, "enabled", "enabled must be a boolean");
    else if (password_take(r, json_object_get(body, "password"), password, hash) == 0 &&
             rules_check(r, in.id, rules, norm) == 0) {
        int64_t now = ids_now_ms();
        sqlite3_stmt *st = db_prepare(
            "INSERT INTO acl_users (instance_id, name, rules, enabled, password_hash, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
        if (st) {
            db_bind_text(st, 1, in.id);
            db_bind_text(st, 2, name);
            db_bind_text(st, 3, norm);
            sqlite3_bind_int(st, 4, en ? json_is_true(en) : 1);
            db_bind_text(st, 5, hash);
            sqlite3_bind_int64(st, 6, now);
            sqlite3_bind_int64(st, 7, now);
            db_step_done(st);
            db_done(st);
        }
        if (!st)
            http_reply_internal(r, "cannot record a user");
        else if (db_changes() == 0)
            http_reply_error(r, 409, "conflict", "name", "user %s exists in instance %s", name,
                             in.id);
        else {
            snprintf(r->location, sizeof(r->location), "/v1/instances/%s/users/%s", in.id, name);
            r->wake_reconciler = 1;
            http_reply_json(
                r, 201,
                json_pack("{s:o, s:s}", "user", user_json(in.id, name), "password", password));
        }
    }
    store_instance_clear(&in);
    json_decref(body);
}

void api_user_list(http_req *r)
{
    instance_row in;
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    store_instance_clear(&in);
    sqlite3_stmt *st = db_prepare(
        "SELECT " USER_COLUMNS
        " FROM acl_users WHERE instance_id = ? AND name != '" ACL_DEFAULT_USER "' ORDER BY name");
    if (!st) {
        http_reply_internal(r, "cannot list users");
        return;
    }
    db_bind_text(st, 1, r->params[0]);
    json_t *items = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(items, user_json_row(st));
    db_done(st);
    /* Users of one instance are few: one page. */
    http_reply_json(r, 200, api_page(items, 0, 0, ""));
}

void api_user_get(http_req *r)
{
    instance_row in;
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    store_instance_clear(&in);
    json_t *u = user_json(r->params[0], r->params[1]);
    if (u)
        http_reply_json(r, 200, u);
    else
        user_not_found(r);
}

void api_user_update(http_req *r)
{
    static const char *const allowed[] = {"rules", "enabled", NULL};
    json_t *body = http_body_object(r, 0);
    if (!body)
        return;
    instance_row in;
    if (api_check_members(r, body, allowed) < 0 || user_instance(r, &in) < 0) {
        json_decref(body);
        return;
    }
    json_t *rules = json_object_get(body, "rules"), *en = json_object_get(body, "enabled");
    char norm[ACL_RULES_MAX];
    const char *enabled = !en ? NULL : json_is_true(en) ? "1" : "0";
    if (rules && !json_is_string(rules))
        http_reply_invalid(r, "rules", "rules must be a string");
    else if (en && !json_is_boolean(en))
        http_reply_invalid(r, "enabled", "enabled must be a boolean");
    else if (!strcmp(r->params[1], ACL_DEFAULT_USER))
        http_reply_invalid(r, "name", "the default user's rules are the instance's own");
    else if (!user_json_exists(in.id, r->params[1]))
        user_not_found(r);
    else if (!rules || rules_check(r, in.id, json_string_value(rules), norm) == 0) {
        const char *args[] = {rules ? norm : NULL, enabled};
        user_write(r,
                   "UPDATE acl_users SET updated_at = ?1, rules = coalesce(?2, rules), "
                   "enabled = coalesce(?3, enabled) WHERE instance_id = ?4 AND name = ?5",
                   2, args, ids_now_ms(), NULL);
    }
    store_instance_clear(&in);
    json_decref(body);
}

void api_user_delete(http_req *r)
{
    instance_row in;
    if (user_instance(r, &in) < 0)
        return;
    store_instance_clear(&in);
    if (!strcmp(r->params[1], ACL_DEFAULT_USER)) {
        http_reply_error(r, 409, "conflict", NULL, "the default user cannot be deleted");
        return;
    }
    sqlite3_stmt *st = db_prepare("DELETE FROM acl_users WHERE instance_id = ? AND name = ?");
    if (!st) {
        http_reply_internal(r, "cannot delete a user");
        return;
    }
    db_bind_text(st, 1, r->params[0]);
    db_bind_text(st, 2, r->params[1]);
    db_step_done(st);
    db_done(st);
    if (db_changes() == 0) {
        user_not_found(r);
        return;
    }
    r->wake_reconciler = 1;
    http_reply_raw(r, 204, "application/json", "", 0);
}

/* The default user's new password goes into node.conf (requirepass, masterauth): plain
 * characters only. */
static int default_password_valid(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
            return 0;
    return 1;
}

/* Writes the default user's rotation: the instance's password becomes the new one (a new
 * spec_version, so that node configs and masterauth follow), the old one is kept sealed until
 * the rotation ends, for nodes that do not know the new one yet. Inside a transaction. */
static int default_rotation_write(const char *id, const char *old, const char *password,
                                  long long grace)
{
    char hash[ACL_HASH_HEX], old_hash[ACL_HASH_HEX];
    ids_sha256_hex(password, strlen(password), hash);
    ids_sha256_hex(old, strlen(old), old_hash);
    unsigned char *sealed_new = NULL, *sealed_old = NULL;
    size_t nnew = 0, nold = 0;
    secret_seal(password, strlen(password), &sealed_new, &nnew);
    secret_seal(old, strlen(old), &sealed_old, &nold);
    int64_t now = ids_now_ms();
    sqlite3_stmt *a = db_prepare("UPDATE instances SET password_enc = ?, spec_version = "
                                 "spec_version + 1, updated_at = ? WHERE id = ?");
    sqlite3_stmt *b = db_prepare(
        "INSERT INTO acl_users (instance_id, name, rules, enabled, password_hash, "
        "old_password_hash, old_password_enc, rotation_expires_at, created_at, updated_at) "
        "VALUES (?1, '" ACL_DEFAULT_USER "', '', 1, ?2, ?3, ?4, ?5, ?6, ?6) "
        "ON CONFLICT (instance_id, name) DO UPDATE SET password_hash = excluded.password_hash, "
        "old_password_hash = excluded.old_password_hash, old_password_enc = "
        "excluded.old_password_enc, rotation_expires_at = excluded.rotation_expires_at, "
        "updated_at = excluded.updated_at");
    int rc = -1;
    if (a && b) {
        sqlite3_bind_blob(a, 1, sealed_new, (int)nnew, SQLITE_TRANSIENT);
        sqlite3_bind_int64(a, 2, now);
        db_bind_text(a, 3, id);
        db_bind_text(b, 1, id);
        db_bind_text(b, 2, hash);
        db_bind_text(b, 3, old_hash);
        sqlite3_bind_blob(b, 4, sealed_old, (int)nold, SQLITE_TRANSIENT);
        sqlite3_bind_int64(b, 5, now + grace * MS_PER_S);
        sqlite3_bind_int64(b, 6, now);
        int ra = db_step_done(a), rb = db_step_done(b);
        rc = (ra == SQLITE_OK || ra == SQLITE_DONE) && (rb == SQLITE_OK || rb == SQLITE_DONE) ? 0
                                                                                              : -1;
    }
    db_done(a);
    db_done(b);
    free(sealed_new);
    free(sealed_old);
    if (rc == 0)
        store_event(id, "acl_rotation_started", NULL, NULL, NULL,
                    "the default user's password was rotated; the old one works for %lld s", grace);
    return rc;
}

/* POST .../users/default/rotate-password. */
static void default_rotate(http_req *r, json_t *given, long long grace)
{
    char old[SECRET_MAX], busy[SECRET_MAX], password[PASSWORD_MAX + 1], hash[ACL_HASH_HEX];
    if (given && json_is_string(given) && !default_password_valid(json_string_value(given))) {
        http_reply_invalid(r, "password",
                           "the default user's password may hold only "
                           "[A-Za-z0-9-_.]");
        return;
    }
    if (password_take(r, given, password, hash) < 0)
        return;
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin");
        return;
    }
    int rc = -1;
    if (store_instance_password(r->params[0], old, sizeof(old)) < 0)
        http_reply_internal(r, "the instance's password does not decrypt");
    else if (acl_default_old_password(r->params[0], busy, sizeof(busy)) == 0)
        http_reply_error(r, 409, "conflict", NULL,
                         "user default is in a rotation: finish it first (finish-rotation)");
    else if (default_rotation_write(r->params[0], old, password, grace) < 0)
        http_reply_internal(r, "cannot record the rotation");
    else
        rc = 0;
    if (rc < 0 || db_commit() != SQLITE_OK) {
        db_rollback();
        if (!r->status)
            http_reply_internal(r, "cannot commit the rotation");
        return;
    }
    r->wake_reconciler = 1;
    http_reply_json(r, 200,
                    json_pack("{s:o, s:s}", "user", user_json(r->params[0], ACL_DEFAULT_USER),
                              "password", password));
}

void api_user_rotate(http_req *r)
{
    static const char *const allowed[] = {"password", "grace_period_seconds", NULL};
    json_t *body = http_body_object(r, 1);
    if (!body)
        return;
    instance_row in;
    if (api_check_members(r, body, allowed) < 0 || user_instance(r, &in) < 0) {
        json_decref(body);
        return;
    }
    store_instance_clear(&in);
    json_t *g = json_object_get(body, "grace_period_seconds");
    long long grace = g ? json_integer_value(g) : GRACE_DEFAULT_S;
    char password[PASSWORD_MAX + 1], hash[ACL_HASH_HEX];
    json_t *u = user_json(r->params[0], r->params[1]);
    if (g && (!json_is_integer(g) || grace < 1 || grace > GRACE_MAX_S))
        http_reply_invalid(r, "grace_period_seconds",
                           "grace_period_seconds must be an integer from 1 to %d", GRACE_MAX_S);
    else if (!strcmp(r->params[1], ACL_DEFAULT_USER))
        default_rotate(r, json_object_get(body, "password"), grace);
    else if (!u)
        user_not_found(r);
    else if (json_is_true(json_object_get(u, "rotating")))
        http_reply_error(r, 409, "conflict", NULL,
                         "user %s is in a rotation: finish it first (finish-rotation)",
                         r->params[1]);
    else if (password_take(r, json_object_get(body, "password"), password, hash) == 0) {
        int64_t now = ids_now_ms();
        char expires[32];
        snprintf(expires, sizeof(expires), "%lld", (long long)(now + grace * MS_PER_S));
        const char *args[] = {hash, expires};
        user_write(r,
                   "UPDATE acl_users SET updated_at = ?1, old_password_hash = password_hash, "
                   "password_hash = ?2, rotation_expires_at = CAST(?3 AS INTEGER) "
                   "WHERE instance_id = ?4 AND name = ?5 AND rotation_expires_at IS NULL",
                   2, args, now, json_pack("{s:s}", "password", password));
    }
    json_decref(u);
    json_decref(body);
}

void api_user_finish_rotation(http_req *r)
{
    instance_row in;
    if (user_instance(r, &in) < 0)
        return;
    store_instance_clear(&in);
    user_write(r,
               "UPDATE acl_users SET updated_at = ?1, old_password_hash = NULL, "
               "old_password_enc = NULL, rotation_expires_at = NULL "
               "WHERE instance_id = ?2 AND name = ?3",
               0, NULL, ids_now_ms(), NULL);
}
