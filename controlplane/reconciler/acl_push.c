/* ACL users on the nodes (issue 14). SQLite holds the desired users of an instance (table
 * acl_users: normalised rules, enabled, SHA-256 password hashes). Each pass computes a
 * fingerprint of them; a running node whose last push had another fingerprint, or that
 * (re)started since, gets every user again with "ACL SETUSER name reset on|off #hash… rules"
 * and loses the users that are no longer wanted. The default user (the instance's password) gets
 * only its passwords ("ACL SETUSER default on resetpass #new [#old]"), and only once it was
 * rotated through the API. Loop thread only. */
#include "acl_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "secret.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "node/resp.h"
#include "reconciler_int.h"

#define ACL_SEEN_MAX 1024
#define ACL_FIXED_ARGS 6 /* ACL SETUSER name reset on #hash */
#define ACL_CALL_OUT_MAX 512

/* What each node last took: the epoch is its running_since, so a restart shows as a change. */
typedef struct acl_seen {
    char node_id[ID_MAX];
    int64_t epoch;
    char fp[ACL_HASH_HEX];
} acl_seen;

static acl_seen seen[ACL_SEEN_MAX];
static int nseen;

typedef struct acl_user {
    char *name, *rules, *hash, *old_hash;
    int enabled;
} acl_user;

int acl_rules_split(char *text, char **tok, int max)
{
    int n = 0;
    char *s = text;
    while (*s) {
        while (*s == ' ')
            *s++ = '\0';
        if (!*s)
            break;
        if (n == max)
            return -1;
        tok[n++] = s;
        if (*s == '(') { /* a selector: up to its closing parenthesis */
            char *close = strchr(s, ')');
            if (!close)
                return -1;
            s = close + 1;
            if (*s && *s != ' ')
                return -1;
        } else {
            while (*s && *s != ' ')
                s++;
        }
    }
    return n;
}

/* Tokens of an ACL LIST line that are not rules: the user's state and passwords. */
static int acl_token_is_state(const char *t)
{
    return !strcmp(t, "on") || !strcmp(t, "off") || !strcmp(t, "nopass") ||
           !strcmp(t, "sanitize-payload") || t[0] == '#';
}

int acl_list_rules(const char *line, char *out, size_t outlen)
{
    char copy[ACL_RULES_MAX * 2];
    char *tok[ACL_TOKENS_MAX + 4];
    snprintf(copy, sizeof(copy), "%s", line);
    int n = acl_rules_split(copy, tok, ACL_TOKENS_MAX + 4);
    if (n < 2 || strcmp(tok[0], "user"))
        return -1;
    size_t used = 0;
    out[0] = '\0';
    for (int i = 2; i < n; i++) {
        if (acl_token_is_state(tok[i]))
            continue;
        int w = snprintf(out + used, outlen - used, "%s%s", used ? " " : "", tok[i]);
        if (w < 0 || (size_t)w >= outlen - used)
            return -1;
        used += (size_t)w;
    }
    return 0;
}

static acl_seen *acl_seen_of(const char *node_id)
{
    for (int i = 0; i < nseen; i++)
        if (!strcmp(seen[i].node_id, node_id))
            return &seen[i];
    /* Full (more nodes than ACL_SEEN_MAX came and went): the last slot is shared, which costs
     * repeated pushes to the nodes that use it, never a missed one. */
    acl_seen *s = &seen[nseen < ACL_SEEN_MAX ? nseen++ : ACL_SEEN_MAX - 1];
    memset(s, 0, sizeof(*s));
    snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
    return s;
}

/* Rotations whose grace period is over lose their old password. */
static void acl_expire_rotations(pass *p)
{
    sqlite3_stmt *st =
        db_prepare("UPDATE acl_users SET old_password_hash = NULL, rotation_expires_at = NULL, "
                   "updated_at = ? WHERE instance_id = ? AND rotation_expires_at IS NOT NULL AND "
                   "rotation_expires_at <= ?");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, p->now);
    db_bind_text(st, 2, p->in.id);
    sqlite3_bind_int64(st, 3, p->now);
    db_step_done(st);
    db_done(st);
    if (db_changes() > 0)
        store_event(p->in.id, "acl_rotation_finished", NULL, NULL, NULL,
                    "the grace period of a password rotation ended: old password removed");
}

static void acl_users_free(acl_user *u, int n)
{
    for (int i = 0; i < n; i++) {
        free(u[i].name);
        free(u[i].rules);
        free(u[i].hash);
        free(u[i].old_hash);
    }
    free(u);
}

/* The desired users of the instance and their fingerprint. Returns the count, or -1. */
static int acl_users_load(const char *instance_id, acl_user **out, char *fp)
{
    sqlite3_stmt *st =
        db_prepare("SELECT name, rules, enabled, password_hash, coalesce(old_password_hash, '') "
                   "FROM acl_users WHERE instance_id = ? ORDER BY name");
    if (!st)
        return -1;
    db_bind_text(st, 1, instance_id);
    acl_user *u = NULL;
    int n = 0;
    buf all = {0};
    while (sqlite3_step(st) == SQLITE_ROW) {
        u = mem_realloc(u, sizeof(*u) * (size_t)(n + 1));
        u[n].name = strdup(db_text(st, 0));
        u[n].rules = strdup(db_text(st, 1));
        u[n].enabled = sqlite3_column_int(st, 2);
        u[n].hash = strdup(db_text(st, 3));
        u[n].old_hash = strdup(db_text(st, 4));
        buf_printf(&all, "%s\n%s\n%d\n%s\n%s\n", u[n].name, u[n].rules, u[n].enabled, u[n].hash,
                   u[n].old_hash);
        n++;
    }
    db_done(st);
    ids_sha256_hex(all.data ? all.data : "", all.len, fp);
    buf_free(&all);
    *out = u;
    return n;
}

/* ACL SETUSER of one user on one node. */
static int acl_setuser(pass *p, node_row *nd, const acl_user *u, char *out, size_t outlen)
{
    char rules[ACL_RULES_MAX], hash[ACL_HASH_HEX + 1], old[ACL_HASH_HEX + 1];
    const char *argv[ACL_FIXED_ARGS + 1 + ACL_TOKENS_MAX];
    char *tok[ACL_TOKENS_MAX];
    snprintf(rules, sizeof(rules), "%s", u->rules);
    int nt = acl_rules_split(rules, tok, ACL_TOKENS_MAX);
    if (nt < 0) {
        snprintf(out, outlen, "stored rules of %s do not parse", u->name);
        return -1;
    }
    int is_default = !strcmp(u->name, ACL_DEFAULT_USER);
    if (is_default)
        nt = 0; /* its rules stay what the node starts with */
    int argc = 0;
    argv[argc++] = "ACL";
    argv[argc++] = "SETUSER";
    argv[argc++] = u->name;
    argv[argc++] = is_default ? "resetpass" : "reset";
    argv[argc++] = is_default || u->enabled ? "on" : "off";
    snprintf(hash, sizeof(hash), "#%s", u->hash);
    argv[argc++] = hash;
    if (u->old_hash[0]) {
        snprintf(old, sizeof(old), "#%s", u->old_hash);
        argv[argc++] = old;
    }
    for (int i = 0; i < nt; i++)
        argv[argc++] = tok[i];
    return rec_node_call(p, nd, out, outlen, argc, argv) == RESP_OK ? 0 : -1;
}

static int acl_wanted(const acl_user *u, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(u[i].name, name))
            return 1;
    return 0;
}

/* Every desired user to nd, then ACL DELUSER of the others it has. Returns 0 or -1. */
static int acl_node_push(pass *p, node_row *nd, const acl_user *u, int n)
{
    char out[ACL_CALL_OUT_MAX];
    for (int i = 0; i < n; i++)
        if (acl_setuser(p, nd, &u[i], out, sizeof(out)) < 0) {
            log_warning("instance %s: ACL SETUSER %s on node %s: %s", p->in.id, u[i].name, nd->id,
                        out);
            return -1;
        }
    static const char *const users[] = {"ACL", "USERS"};
    char *list = malloc(ACL_LIST_OUT_MAX);
    int rc = rec_node_call(p, nd, list, ACL_LIST_OUT_MAX, 2, users) == RESP_OK ? 0 : -1;
    for (char *save = NULL, *name = rc ? NULL : strtok_r(list, "\n", &save); name && !rc;
         name = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(name, ACL_DEFAULT_USER) || acl_wanted(u, n, name) ||
            !strncmp(name, ACL_SCRATCH_PREFIX, strlen(ACL_SCRATCH_PREFIX)))
            continue;
        const char *del[] = {"ACL", "DELUSER", name};
        rc = rec_node_call(p, nd, out, sizeof(out), 3, del) == RESP_OK ? 0 : -1;
    }
    free(list);
    return rc;
}

void acl_push(pass *p)
{
    acl_expire_rotations(p);
    acl_user *u = NULL;
    char fp[ACL_HASH_HEX];
    int n = acl_users_load(p->in.id, &u, fp);
    if (n < 0)
        return;
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd) || strcmp(nd->status, NODE_RUNNING))
            continue;
        int64_t epoch = supervisor_rt(nd->id)->running_since;
        acl_seen *s = acl_seen_of(nd->id);
        if (s->epoch == epoch && !strcmp(s->fp, fp))
            continue;
        if (acl_node_push(p, nd, u, n) == 0) {
            s->epoch = epoch;
            snprintf(s->fp, sizeof(s->fp), "%s", fp);
            log_debug("instance %s: node %s has its %d ACL users", p->in.id, nd->id, n);
        } else {
            reconcile_soon();
        }
    }
    acl_users_free(u, n);
}

int acl_default_old_password(const char *instance_id, char *out, size_t outlen)
{
    sqlite3_stmt *st = db_prepare("SELECT old_password_enc FROM acl_users WHERE instance_id = ? "
                                  "AND name = '" ACL_DEFAULT_USER "' AND old_password_enc "
                                  "IS NOT NULL");
    if (!st)
        return -1;
    db_bind_text(st, 1, instance_id);
    int rc = -1;
    char *plain = NULL;
    if (sqlite3_step(st) == SQLITE_ROW &&
        secret_open(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &plain,
                    NULL) == 0) {
        snprintf(out, outlen, "%s", plain);
        free(plain);
        rc = 0;
    }
    db_done(st);
    return rc;
}
