/* Backups: rows, JSON, checksums, the merged export, schedules. See backup.h. */
#include "backup.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bstore.h"
#include "config.h"
#include "cron.h"
#include "db.h"
#include "jsonx.h"
#include "rdb_merge.h"

#define READ_CHUNK (256 * 1024)
#define EVERY_HOURS_MAX 8760
#define RETAIN_COUNT_MAX 1000
#define RETAIN_AGE_HOURS_MAX 87600
#define MS_PER_S 1000
#define BACKUP_COLUMNS                                                                             \
    "id, tenant_id, instance_id, trigger, status, attempts, coalesce(error, ''), size, shards, "   \
    "manifest, coalesce(operation_id, ''), next_attempt_at, created_at, updated_at, "              \
    "coalesce(started_at, 0), coalesce(finished_at, 0)"

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    snprintf(dst, n, "%s", db_text(st, col));
}

int backup_get(const char *id, const char *tenant, backup_row *o)
{
    sqlite3_stmt *st = db_prepare("SELECT " BACKUP_COLUMNS
                                  " FROM backups WHERE id = ?1 AND (?2 IS NULL OR tenant_id = ?2)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, tenant);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        memset(o, 0, sizeof(*o));
        copy_col(o->id, sizeof(o->id), st, 0);
        copy_col(o->tenant_id, sizeof(o->tenant_id), st, 1);
        copy_col(o->instance_id, sizeof(o->instance_id), st, 2);
        copy_col(o->trigger, sizeof(o->trigger), st, 3);
        copy_col(o->status, sizeof(o->status), st, 4);
        o->attempts = sqlite3_column_int(st, 5);
        copy_col(o->error, sizeof(o->error), st, 6);
        o->size = sqlite3_column_int64(st, 7);
        o->shards = sqlite3_column_int(st, 8);
        o->manifest = sqlite3_column_type(st, 9) == SQLITE_NULL ? NULL : strdup(db_text(st, 9));
        copy_col(o->operation_id, sizeof(o->operation_id), st, 10);
        o->next_attempt_at = sqlite3_column_int64(st, 11);
        o->created_at = sqlite3_column_int64(st, 12);
        o->updated_at = sqlite3_column_int64(st, 13);
        o->started_at = sqlite3_column_int64(st, 14);
        o->finished_at = sqlite3_column_int64(st, 15);
    }
    db_done(st);
    return found ? 0 : -1;
}

void backup_clear(backup_row *b)
{
    free(b->manifest);
    b->manifest = NULL;
}

json_t *backup_json(const backup_row *b)
{
    char err[64];
    json_t *manifest =
        b->manifest ? jx_parse(b->manifest, strlen(b->manifest), err, sizeof(err)) : NULL;
    int done = b->finished_at && b->started_at;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     b->id, "tenant_id", b->tenant_id, "instance_id", b->instance_id, "status",
                     b->status, "trigger", b->trigger, "size", (json_int_t)b->size, "shards",
                     b->shards, "attempts", b->attempts, "error",
                     b->error[0] ? json_string(b->error) : json_null(), "duration_ms",
                     done ? json_integer(b->finished_at - b->started_at) : json_null(), "manifest",
                     manifest ? manifest : json_null(), "created_at", jx_time(b->created_at),
                     "started_at", jx_time(b->started_at), "finished_at", jx_time(b->finished_at));
}

int backup_create(const char *tenant, const char *instance_id, int shards, const char *trigger,
                  char *id, char *op_id)
{
    if (store_operation_create(tenant, "backup", instance_id, 0, op_id) < 0)
        return -1;
    ids_new("bak", id);
    long long now = ids_now_ms();
    sqlite3_stmt *st = db_prepare("INSERT INTO backups(id, tenant_id, instance_id, trigger, "
                                  "status, shards, operation_id, created_at, updated_at) "
                                  "VALUES (?,?,?,?,'pending',?,?,?,?)");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, tenant);
    db_bind_text(st, 3, instance_id);
    db_bind_text(st, 4, trigger);
    sqlite3_bind_int(st, 5, shards);
    db_bind_text(st, 6, op_id);
    sqlite3_bind_int64(st, 7, now);
    sqlite3_bind_int64(st, 8, now);
    int rc = db_step_done(st);
    db_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int backup_destroy(const char *id, char *err, size_t errlen)
{
    bstore *bs = bstore_default();
    if (bs->ops->remove(bs, id, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = db_prepare("DELETE FROM backups WHERE id = ?");
    if (!st)
        return -1;
    db_bind_text(st, 1, id);
    int rc = db_step_done(st);
    db_done(st);
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "cannot delete backup %s", id);
    return rc == SQLITE_DONE ? 0 : -1;
}

int backup_in_use(const char *id)
{
    sqlite3_stmt *st =
        db_prepare("SELECT 1 FROM instances WHERE status != 'gone' AND (restore_backup_id = ?1 OR "
                   "(restore_from = ?1 AND restore_placed = 0)) LIMIT 1");
    if (!st)
        return 0;
    db_bind_text(st, 1, id);
    int used = sqlite3_step(st) == SQLITE_ROW;
    db_done(st);
    return used;
}

/* ---- checksums and the export --------------------------------------------------------------- */

/* The manifest's shard entries, or NULL with err. New reference. */
static json_t *manifest_shards(const backup_row *b, char *err, size_t errlen)
{
    char perr[128];
    if (strcmp(b->status, BK_SUCCEEDED) || !b->manifest) {
        snprintf(err, errlen, "backup %s is %s, not succeeded", b->id, b->status);
        return NULL;
    }
    json_t *m = jx_parse(b->manifest, strlen(b->manifest), perr, sizeof(perr));
    json_t *shards = m ? json_incref(json_object_get(m, "shards")) : NULL;
    json_decref(m);
    if (!json_is_array(shards) || json_array_size(shards) == 0) {
        json_decref(shards);
        snprintf(err, errlen, "backup %s: its manifest has no shards", b->id);
        return NULL;
    }
    return shards;
}

/* SHA-256 (hex) of what is left to read in f; rewinds f afterwards. */
static int file_sha256(FILE *f, char *hex)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char *chunk = malloc(READ_CHUNK);
    size_t r;
    while ((r = fread(chunk, 1, READ_CHUNK, f)) > 0)
        EVP_DigestUpdate(md, chunk, r);
    free(chunk);
    int ok = !ferror(f);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    ids_hex(digest, dlen, hex);
    rewind(f);
    return ok ? 0 : -1;
}

/* Opens every shard file of b, each checked against its checksum. *files: n FILE*s (close
 * them with files_close). Returns 0 or -1 with err. */
static int files_open_verified(const backup_row *b, FILE ***files, int *n, char *err, size_t errlen)
{
    json_t *shards = manifest_shards(b, err, errlen);
    if (!shards)
        return -1;
    bstore *bs = bstore_default();
    *n = (int)json_array_size(shards);
    *files = calloc((size_t)*n, sizeof(FILE *));
    int rc = 0;
    for (int i = 0; rc == 0 && i < *n; i++) {
        json_t *sh = json_array_get(shards, (size_t)i);
        const char *name = jx_str(sh, "file", "");
        const char *want = jx_str(sh, "sha256", "");
        char have[BSTORE_SHA256_HEX];
        if (bs->ops->open(bs, b->id, name, &(*files)[i], err, errlen) < 0) {
            rc = -1;
        } else if (file_sha256((*files)[i], have) < 0) {
            snprintf(err, errlen, "backup %s: cannot read %s", b->id, name);
            rc = -1;
        } else if (strcmp(have, want)) {
            snprintf(err, errlen,
                     "backup %s is corrupt: %s has SHA-256 %.16s..., the manifest says %.16s...",
                     b->id, name, have, want);
            rc = -1;
        }
    }
    json_decref(shards);
    return rc;
}

static void files_close(FILE **files, int n)
{
    for (int i = 0; files && i < n; i++)
        if (files[i])
            fclose(files[i]);
    free(files);
}

int backup_verify(const backup_row *b, char *err, size_t errlen)
{
    FILE **files = NULL;
    int n = 0;
    int rc = files_open_verified(b, &files, &n, err, errlen);
    files_close(files, n);
    return rc;
}

int backup_export(const backup_row *b, FILE *out, char *err, size_t errlen)
{
    FILE **files = NULL;
    int n = 0;
    int rc = files_open_verified(b, &files, &n, err, errlen);
    if (rc == 0)
        rc = rdb_merge(files, n, out, err, errlen);
    files_close(files, n);
    return rc;
}

int backup_export_file(const char *id, const char *path, char *err, size_t errlen)
{
    backup_row b;
    if (backup_get(id, NULL, &b) < 0) {
        snprintf(err, errlen, "backup %s does not exist", id);
        return -1;
    }
    FILE *out = fopen(path, "wbe");
    int rc = -1;
    if (!out)
        snprintf(err, errlen, "cannot write %s", path);
    else
        rc = backup_export(&b, out, err, errlen);
    if (out && fclose(out) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s", path);
        rc = -1;
    }
    backup_clear(&b);
    return rc;
}

/* ---- schedules ------------------------------------------------------------------------------ */

static int int_member(json_t *v, const char *name, long long lo, long long hi, long long *out)
{
    json_t *m = json_object_get(v, name);
    if (!m)
        return 0;
    if (!json_is_integer(m) || json_integer_value(m) < lo || json_integer_value(m) > hi)
        return -1;
    *out = json_integer_value(m);
    return 1;
}

int backup_schedule_check(json_t *v, char *err, size_t errlen)
{
    static const char *const fields[] = {"cron", "timezone", "every_hours", NULL};
    const char *bad = json_is_object(v) ? jx_unknown_member(v, fields) : NULL;
    if (!json_is_object(v) || bad) {
        snprintf(err, errlen,
                 "backup_schedule must be {\"cron\", \"timezone\"} or "
                 "{\"every_hours\"}%s%s",
                 bad ? ": unknown member " : "", bad ? bad : "");
        return -1;
    }
    json_t *cron = json_object_get(v, "cron");
    long long hours = 0;
    int every = int_member(v, "every_hours", 1, EVERY_HOURS_MAX, &hours);
    if ((cron != NULL) == (every != 0)) {
        snprintf(err, errlen, "backup_schedule needs exactly one of cron and every_hours");
        return -1;
    }
    if (every < 0) {
        snprintf(err, errlen, "every_hours must be an integer 1 to %d", EVERY_HOURS_MAX);
        return -1;
    }
    if (every)
        return json_object_get(v, "timezone")
                   ? (snprintf(err, errlen, "timezone goes with cron"), -1)
                   : 0;
    cron_expr e;
    char cerr[CRON_ERR_MAX], zerr[TZ_ERR_MAX];
    if (!json_is_string(cron) || cron_parse(json_string_value(cron), &e, cerr, sizeof(cerr)) < 0) {
        snprintf(err, errlen, "cron: %s", json_is_string(cron) ? cerr : "must be a string");
        return -1;
    }
    json_t *tzv = json_object_get(v, "timezone");
    tz_zone *z = NULL;
    if (tzv &&
        (!json_is_string(tzv) || tz_load(json_string_value(tzv), &z, zerr, sizeof(zerr)) < 0)) {
        snprintf(err, errlen, "timezone: %s", json_is_string(tzv) ? zerr : "must be a string");
        return -1;
    }
    tz_free(z);
    return 0;
}

int backup_retention_check(json_t *v, char *err, size_t errlen)
{
    static const char *const fields[] = {"count", "max_age_hours", NULL};
    long long x;
    if (!json_is_object(v) || jx_unknown_member(v, fields) || json_object_size(v) == 0) {
        snprintf(err, errlen,
                 "backup_retention must be {\"count\", \"max_age_hours\"} (at least "
                 "one)");
        return -1;
    }
    if (int_member(v, "count", 1, RETAIN_COUNT_MAX, &x) < 0) {
        snprintf(err, errlen, "count must be an integer 1 to %d", RETAIN_COUNT_MAX);
        return -1;
    }
    if (int_member(v, "max_age_hours", 1, RETAIN_AGE_HOURS_MAX, &x) < 0) {
        snprintf(err, errlen, "max_age_hours must be an integer 1 to %d", RETAIN_AGE_HOURS_MAX);
        return -1;
    }
    return 0;
}

int64_t backup_schedule_next(const char *schedule, int64_t now_ms)
{
    char err[128];
    json_t *v = schedule[0] ? jx_parse(schedule, strlen(schedule), err, sizeof(err)) : NULL;
    if (!v)
        return 0;
    int64_t next = 0;
    json_t *hours = json_object_get(v, "every_hours");
    cron_expr e;
    if (json_is_integer(hours)) {
        next = now_ms + json_integer_value(hours) * ctl_cfg.schedule_hour_ms;
    } else if (cron_parse(jx_str(v, "cron", ""), &e, err, sizeof(err)) == 0) {
        int64_t t = cron_next(&e, now_ms / MS_PER_S, jx_str(v, "timezone", "UTC"));
        next = t > 0 ? t * MS_PER_S : 0;
    }
    json_decref(v);
    return next;
}
