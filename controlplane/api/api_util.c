/* Pagination, scoping and small validators shared by the handlers. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "flags.h"
#include "jsonx.h"

#define CURSOR_RAW_MAX 96

/* Cursors are base64url of "<created_at>:<id>": opaque to clients, stable under inserts. */
static void cursor_encode(long long ts, const char *id, char *out)
{
    char raw[CURSOR_RAW_MAX];
    int n = snprintf(raw, sizeof(raw), "%lld:%s", ts, id);
    unsigned char b64[CURSOR_MAX];
    int len = EVP_EncodeBlock(b64, (unsigned char *)raw, n);
    int k = 0;
    for (int i = 0; i < len; i++) {
        char c = (char)b64[i];
        if (c == '=')
            break;
        out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[k] = '\0';
}

static int cursor_decode(const char *s, long long *ts, char *id)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CURSOR_MAX - 4)
        return -1;
    char b64[CURSOR_MAX];
    size_t k = 0;
    for (; k < n; k++) {
        char c = s[k];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return -1;
        b64[k] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (k % 4)
        b64[k++] = '=';
    b64[k] = '\0';
    unsigned char raw[CURSOR_MAX];
    int len = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)k);
    if (len < 0)
        return -1;
    raw[len] = '\0';
    char *colon = strchr((char *)raw, ':');
    if (!colon || strlen(colon + 1) == 0 || strlen(colon + 1) >= ID_MAX)
        return -1;
    *colon = '\0';
    long long v;
    if (flags_parse_int((char *)raw, &v) < 0)
        return -1;
    /* padding bytes EVP_DecodeBlock counts come out as NULs: strlen stops at them */
    *ts = v;
    snprintf(id, ID_MAX, "%s", colon + 1);
    return 0;
}

/* For tests/fuzz/fuzz_control.c: the ?cursor= decoder, which is otherwise reached only through a
 * libmicrohttpd connection. */
int api_cursor_decode_for_fuzzing(const char *s, long long *ts, char *id)
{
    return cursor_decode(s, ts, id);
}

int api_page_parse(http_req *r, page_req *pg)
{
    memset(pg, 0, sizeof(*pg));
    pg->limit = PAGE_LIMIT_DEFAULT;
    const char *lim = http_query(r, "limit");
    if (lim) {
        long long v;
        if (flags_parse_int(lim, &v) < 0 || v < 1 || v > PAGE_LIMIT_MAX) {
            http_reply_error(r, 400, "bad_request", "limit", "limit must be 1 to %d",
                             PAGE_LIMIT_MAX);
            return -1;
        }
        pg->limit = (int)v;
    }
    const char *cur = http_query(r, "cursor");
    if (cur && cursor_decode(cur, &pg->after_ts, pg->after_id) < 0) {
        http_reply_error(r, 400, "bad_request", "cursor", "cursor is not one this API gave");
        return -1;
    }
    return 0;
}

json_t *api_page(json_t *items, int more, long long last_ts, const char *last_id)
{
    json_t *next = json_null();
    if (more) {
        char cur[CURSOR_MAX];
        cursor_encode(last_ts, last_id, cur);
        next = json_string(cur);
    }
    return json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
}

json_t *api_page_rows(sqlite3_stmt *st, const page_req *pg, json_t *(*row)(sqlite3_stmt *),
                      int ts_col)
{
    json_t *items = json_array();
    long long last_ts = 0;
    char last_id[ID_MAX] = "";
    int more = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(items) == pg->limit) {
            more = 1;
            break;
        }
        json_array_append_new(items, row(st));
        last_ts = sqlite3_column_int64(st, ts_col);
        snprintf(last_id, sizeof(last_id), "%s", db_text(st, 0));
    }
    db_done(st);
    return api_page(items, more, last_ts, last_id);
}

const char *api_scope_tenant(const http_req *r)
{
    return r->who.is_operator ? NULL : r->who.tenant_id;
}

int api_tenant_visible(const http_req *r, const char *tenant_id)
{
    return r->who.is_operator || !strcmp(r->who.tenant_id, tenant_id);
}

int api_tenant_exists(const char *tenant_id)
{
    sqlite3_stmt *st = db_prepare("SELECT 1 FROM tenants WHERE id = ?");
    if (!st)
        return 0;
    db_bind_text(st, 1, tenant_id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    db_done(st);
    return found;
}

int api_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

int api_bytes(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out >= 0 ? 0 : -1;
    }
    if (json_is_string(v))
        return flags_parse_bytes(json_string_value(v), out);
    return -1;
}

int api_check_members(http_req *r, json_t *body, const char *const *allowed)
{
    const char *bad = jx_unknown_member(body, allowed);
    if (!bad)
        return 0;
    http_reply_invalid(r, bad, "unknown field '%s'", bad);
    return -1;
}

json_t *api_operation_json(const char *id)
{
    sqlite3_stmt *st = db_prepare(
        "SELECT id, tenant_id, kind, target_type, target_id, status, progress, steps, error, "
        "created_at, updated_at, coalesce(started_at, 0), coalesce(finished_at, 0) "
        "FROM operations WHERE id = ?");
    if (!st)
        return NULL;
    db_bind_text(st, 1, id);
    json_t *op = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char err[64];
        json_t *steps = jx_parse(db_text(st, 7), strlen(db_text(st, 7)), err, sizeof(err));
        op = json_pack(
            "{s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
            db_text(st, 0), "tenant_id", db_text(st, 1), "kind", db_text(st, 2), "target", "type",
            db_text(st, 3), "id", db_text(st, 4), "status", db_text(st, 5), "progress",
            sqlite3_column_int(st, 6), "steps", steps ? steps : json_array(), "error",
            sqlite3_column_type(st, 8) == SQLITE_NULL ? json_null() : json_string(db_text(st, 8)),
            "created_at", jx_time(sqlite3_column_int64(st, 9)), "updated_at",
            jx_time(sqlite3_column_int64(st, 10)), "started_at",
            jx_time(sqlite3_column_int64(st, 11)), "finished_at",
            jx_time(sqlite3_column_int64(st, 12)));
    }
    db_done(st);
    return op;
}
