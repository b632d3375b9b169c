/* Token creation, lookup and the operator token's first start. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

#define TOKEN_FILE_MODE 0600
#define TOKEN_NAME_FILE "bootstrap"
#define TOKEN_NAME_ENV "environment"
#define LAST_USED_RESOLUTION_MS 60000 /* last_used_at is written at most once a minute */

const char *auth_scope(const principal *p)
{
    return p->is_operator ? OPERATOR_SCOPE : p->tenant_id;
}

int auth_token_create(const char *tenant_id, const char *name, char *id, char *secret,
                      long long *created_at)
{
    char hash[HASH_HEX_LEN + 1];
    char prefix[TOKEN_SHOWN_PREFIX + 1];
    ids_new("tok", id);
    ids_secret(tenant_id ? TOKEN_PREFIX_TENANT : TOKEN_PREFIX_OPERATOR, secret);
    ids_sha256_hex(secret, strlen(secret), hash);
    snprintf(prefix, sizeof(prefix), "%s", secret);
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare("INSERT INTO tokens(id, tenant_id, name, hash, prefix, "
                                  "created_at) VALUES (?,?,?,?,?,?)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, tenant_id);
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, hash);
    db_bind_text(st, 5, prefix);
    sqlite3_bind_int64(st, 6, now);
    int rc = db_step_done(st);
    db_done(st);
    if (created_at)
        *created_at = now;
    return rc == SQLITE_DONE ? 0 : -1;
}

int auth_lookup(const char *secret, principal *out)
{
    char hash[HASH_HEX_LEN + 1];
    ids_sha256_hex(secret, strlen(secret), hash);
    sqlite3_stmt *st = db_prepare("SELECT id, tenant_id, last_used_at FROM tokens "
                                  "WHERE hash = ? AND revoked_at IS NULL");
    if (!st)
        return -1;
    db_bind_text(st, 1, hash);
    int found = sqlite3_step(st) == SQLITE_ROW;
    long long last_used = 0;
    if (found) {
        snprintf(out->token_id, sizeof(out->token_id), "%s", db_text(st, 0));
        out->is_operator = sqlite3_column_type(st, 1) == SQLITE_NULL;
        snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", db_text(st, 1));
        last_used = sqlite3_column_int64(st, 2);
    }
    db_done(st);
    if (!found)
        return -1;
    long long now = ids_now_ms();
    if (now - last_used >= LAST_USED_RESOLUTION_MS) {
        st = db_prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, now);
            db_bind_text(st, 2, out->token_id);
            sqlite3_step(st); /* best effort: a busy database must not refuse the request */
            db_done(st);
        }
    }
    return 0;
}

/* Revokes the operator tokens named name, except the one whose hash is keep (may be NULL). */
static void revoke_operator_tokens(const char *name, const char *keep)
{
    sqlite3_stmt *st = db_prepare("UPDATE tokens SET revoked_at = ? WHERE tenant_id IS NULL AND "
                                  "name = ? AND revoked_at IS NULL AND hash != coalesce(?, '')");
    sqlite3_bind_int64(st, 1, ids_now_ms());
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, keep);
    db_step_done(st);
    db_done(st);
}

static int operator_hash_active(const char *hash, const char *name)
{
    sqlite3_stmt *st = db_prepare("SELECT 1 FROM tokens WHERE hash = ? AND tenant_id IS NULL AND "
                                  "name = ? AND revoked_at IS NULL");
    db_bind_text(st, 1, hash);
    db_bind_text(st, 2, name);
    int found = sqlite3_step(st) == SQLITE_ROW;
    db_done(st);
    return found;
}

static int insert_operator_hash(const char *secret, const char *name)
{
    char id[ID_MAX], hash[HASH_HEX_LEN + 1], prefix[TOKEN_SHOWN_PREFIX + 1];
    ids_new("tok", id);
    ids_sha256_hex(secret, strlen(secret), hash);
    snprintf(prefix, sizeof(prefix), "%s", secret);
    sqlite3_stmt *st = db_prepare("INSERT INTO tokens(id, tenant_id, name, hash, prefix, "
                                  "created_at) VALUES (?, NULL, ?, ?, ?, ?)");
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, hash);
    db_bind_text(st, 4, prefix);
    sqlite3_bind_int64(st, 5, ids_now_ms());
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Reads the token file (one line). Returns 0, or -errno. */
static int read_token_file(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    if (!fgets(out, (int)outlen, f)) {
        fclose(f);
        return -EINVAL;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return strlen(out) >= TOKEN_MIN_LEN ? 0 : -EINVAL;
}

/* Writes a new operator token to path (mode 0600) through a temporary file. */
static int write_token_file(const char *path, const char *secret, char *err, size_t errlen)
{
    char tmp[4096 + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, TOKEN_FILE_MODE);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t n = strlen(secret);
    int ok = write(fd, secret, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int bootstrap_from_env(const char *secret, char *err, size_t errlen)
{
    if (strlen(secret) < TOKEN_MIN_LEN) {
        snprintf(err, errlen, "%s must be at least %d characters", OPERATOR_TOKEN_ENV,
                 TOKEN_MIN_LEN);
        return -1;
    }
    char hash[HASH_HEX_LEN + 1];
    ids_sha256_hex(secret, strlen(secret), hash);
    revoke_operator_tokens(TOKEN_NAME_FILE, NULL);
    revoke_operator_tokens(TOKEN_NAME_ENV, hash);
    if (!operator_hash_active(hash, TOKEN_NAME_ENV) &&
        insert_operator_hash(secret, TOKEN_NAME_ENV) < 0) {
        snprintf(err, errlen, "cannot store the operator token");
        return -1;
    }
    log_info("operator token: from the environment (%s)", OPERATOR_TOKEN_ENV);
    return 0;
}

/* The file's token stays valid while its hash is an active operator token; otherwise (first
 * start, file deleted to rotate it, database replaced) a new one is made and written. */
static int bootstrap_from_file(const char *data_dir, char *err, size_t errlen)
{
    char path[4096], secret[SECRET_MAX + 2];
    snprintf(path, sizeof(path), "%s/%s", data_dir, OPERATOR_TOKEN_FILE);
    revoke_operator_tokens(TOKEN_NAME_ENV, NULL);
    if (read_token_file(path, secret, sizeof(secret)) == 0) {
        char hash[HASH_HEX_LEN + 1];
        ids_sha256_hex(secret, strlen(secret), hash);
        if (operator_hash_active(hash, TOKEN_NAME_FILE)) {
            log_info("operator token: in %s", path);
            return 0;
        }
    }
    ids_secret(TOKEN_PREFIX_OPERATOR, secret);
    revoke_operator_tokens(TOKEN_NAME_FILE, NULL);
    if (insert_operator_hash(secret, TOKEN_NAME_FILE) < 0) {
        snprintf(err, errlen, "cannot store the operator token");
        return -1;
    }
    if (write_token_file(path, secret, err, errlen) < 0)
        return -1;
    log_info("operator token: created, written to %s (mode 0600)", path);
    return 0;
}

int auth_bootstrap(const char *data_dir, char *err, size_t errlen)
{
    if (db_begin() != SQLITE_OK) {
        snprintf(err, errlen, "cannot start a transaction");
        return -1;
    }
    const char *env = getenv(OPERATOR_TOKEN_ENV);
    int rc = env && *env ? bootstrap_from_env(env, err, errlen)
                         : bootstrap_from_file(data_dir, err, errlen);
    if (rc < 0) {
        db_rollback();
        return -1;
    }
    if (db_commit() != SQLITE_OK) {
        snprintf(err, errlen, "cannot commit the operator token");
        return -1;
    }
    return 0;
}
