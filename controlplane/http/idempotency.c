/* Idempotency-Key records. */
#include "idempotency.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "secret.h"

/* The request's fingerprint: SHA-256 over method, path and body. */
static void fingerprint(http_req *r, char *out)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "%s %s\n", r->method, r->url);
    buf_append(&b, r->body.data ? r->body.data : "", r->body.len);
    ids_sha256_hex(b.data, b.len, out);
    buf_free(&b);
}

/* Replays the stored response of (scope, key). Returns 1 when there was one, 0 when not,
 * -1 when it was answered with an error. */
static int replay(http_req *r, const char *scope, const char *key, const char *fp)
{
    sqlite3_stmt *st = db_prepare("SELECT fingerprint, status, response FROM idempotency_keys "
                                  "WHERE scope = ? AND key = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, scope);
    db_bind_text(st, 2, key);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_done(st);
        return 0;
    }
    int same = !strcmp(db_text(st, 0), fp);
    int status = sqlite3_column_int(st, 1);
    char *plain = NULL;
    size_t plen = 0;
    int ok =
        secret_open(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &plain, &plen);
    db_done(st);
    if (!same) {
        free(plain);
        http_reply_error(r, 422, "idempotency_key_reused", IDEMPOTENCY_HEADER,
                         "this Idempotency-Key was used with another request");
        return -1;
    }
    if (ok < 0) {
        http_reply_internal(r, "an Idempotency-Key record does not decrypt");
        return -1;
    }
    http_reply_raw(r, status, "application/json", plain, plen);
    free(plain);
    return 1;
}

static int record(http_req *r, const char *scope, const char *key, const char *fp)
{
    unsigned char *sealed = NULL;
    size_t slen = 0;
    secret_seal(r->resp ? r->resp : "", r->resp_len, &sealed, &slen);
    sqlite3_stmt *st = db_prepare("INSERT INTO idempotency_keys(scope, key, fingerprint, status, "
                                  "response, created_at) VALUES (?,?,?,?,?,?)");
    int rc = SQLITE_ERROR;
    if (st) {
        db_bind_text(st, 1, scope);
        db_bind_text(st, 2, key);
        db_bind_text(st, 3, fp);
        sqlite3_bind_int(st, 4, r->status);
        sqlite3_bind_blob(st, 5, sealed, (int)slen, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, ids_now_ms());
        rc = db_step_done(st);
        db_done(st);
    }
    free(sealed);
    return rc == SQLITE_DONE ? 0 : -1;
}

void idempotency_run(http_req *r, const char *key, void (*fn)(http_req *r))
{
    size_t klen = strlen(key);
    if (klen == 0 || klen > IDEMPOTENCY_KEY_MAX) {
        http_reply_error(r, 400, "bad_request", IDEMPOTENCY_HEADER,
                         "Idempotency-Key must be 1 to %d characters", IDEMPOTENCY_KEY_MAX);
        return;
    }
    char fp[HASH_HEX_LEN + 1];
    fingerprint(r, fp);
    const char *scope = auth_scope(&r->who);
    if (db_begin() != SQLITE_OK) {
        http_reply_internal(r, "cannot begin a transaction");
        return;
    }
    int found = replay(r, scope, key, fp);
    if (found != 0) {
        db_rollback();
        return;
    }
    fn(r);
    /* Only successes are kept: a refused request changed nothing and may be retried as is. */
    if (r->status >= 200 && r->status < 300 && record(r, scope, key, fp) < 0) {
        db_rollback();
        r->wake_reconciler = 0;
        http_reply_internal(r, "cannot record an Idempotency-Key");
        return;
    }
    if (db_commit() != SQLITE_OK) {
        r->wake_reconciler = 0;
        http_reply_internal(r, "cannot commit");
    }
}

int idempotency_expire(long long now_ms)
{
    sqlite3_stmt *st = db_prepare("DELETE FROM idempotency_keys WHERE created_at < ?");
    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, now_ms - IDEMPOTENCY_TTL_MS);
    db_step_done(st);
    db_done(st);
    return db_changes();
}
