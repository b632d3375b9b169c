/* /v1/operations/{id} and /v1/instances/{id}/events: what the reconciler did and is doing. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "jsonx.h"

#define EVENT_CURSOR_ID "e" /* events page by sequence number; the id part is fixed */

void api_operation_get(http_req *r)
{
    const char *id = r->params[0];
    json_t *op = api_operation_json(id);
    if (!op || !api_tenant_visible(r, jx_str(op, "tenant_id", ""))) {
        json_decref(op);
        http_reply_error(r, 404, "not_found", NULL, "no operation %s", id);
        return;
    }
    http_reply_json(r, 200, op);
}

static json_t *event_from_row(sqlite3_stmt *st)
{
    json_t *e = json_pack("{s:I, s:o, s:s, s:s}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                          "time", jx_time(sqlite3_column_int64(st, 1)), "type", db_text(st, 2),
                          "reason", db_text(st, 6));
    static const char *const opt[] = {"from_status", "to_status", "node_id"};
    for (int i = 0; i < 3; i++)
        json_object_set_new(e, opt[i],
                            sqlite3_column_type(st, 3 + i) == SQLITE_NULL
                                ? json_null()
                                : json_string(db_text(st, 3 + i)));
    return e;
}

void api_instance_events(http_req *r)
{
    instance_row in;
    if (store_instance_get(r->params[0], api_scope_tenant(r), 0, &in) < 0) {
        http_reply_error(r, 404, "not_found", NULL, "no instance %s", r->params[0]);
        return;
    }
    store_instance_clear(&in);
    page_req pg;
    if (api_page_parse(r, &pg) < 0)
        return;
    sqlite3_stmt *st = db_prepare("SELECT seq, time, type, from_status, to_status, node_id, "
                                  "reason FROM events WHERE instance_id = ? AND seq > ? "
                                  "ORDER BY seq LIMIT ?");
    db_bind_text(st, 1, r->params[0]);
    sqlite3_bind_int64(st, 2, pg.after_ts);
    sqlite3_bind_int(st, 3, pg.limit + 1);
    json_t *items = json_array();
    long long last = 0;
    int more = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(items) == pg.limit) {
            more = 1;
            break;
        }
        json_array_append_new(items, event_from_row(st));
        last = sqlite3_column_int64(st, 0);
    }
    db_done(st);
    http_reply_json(r, 200, api_page(items, more, last, EVENT_CURSOR_ID));
}
