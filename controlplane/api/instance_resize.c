/* PATCH of `shards` (online resize, issue 15): accepted while no other shard change is being
 * applied. The reconciler (reconciler/resize.c) moves the slots; here only the desired state
 * is checked and written. */
#include <string.h>

#include "db.h"
#include "instance.h"

/* 1 while the slots of instance id are still being moved by an earlier change. */
static int resize_running(const char *id)
{
    sqlite3_stmt *st = db_prepare("SELECT slot_shards IS NOT NULL FROM instances WHERE id = ?");
    if (!st)
        return 0;
    db_bind_text(st, 1, id);
    int running = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    db_done(st);
    return running;
}

int instance_resize_check(http_req *r, const instance_row *in, const instance_spec *s)
{
    if (!(s->given & SPEC_SHARDS) || s->shards == in->shards)
        return 0;
    if (resize_running(in->id)) {
        http_reply_error(r, 409, "conflict", "shards",
                         "instance %s is still moving its slots to %d shard(s); change the "
                         "shard count again once that finished",
                         in->id, in->shards);
        return -1;
    }
    return 0;
}
