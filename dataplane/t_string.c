/* String commands: GET, SET and friends. */
#include <string.h>

#include "db.h"
#include "reply.h"

/* SET flags, shared by SET, SETNX, SETEX, PSETEX (Redis's setGenericCommand). */
enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_KEEPTTL = 1 << 2,
    SET_GET = 1 << 3,
    SET_EXPIRE = 1 << 4,
};

/* Stores val at key. Replies: with SET_GET the old value; otherwise OK, or null when NX/XX
 * prevented the write (or 1/0 for SETNX via ok/abort replies). */
static void set_generic(cmd_ctx *c, const slice *key, const slice *val, int flags,
                        int64_t expire_at, const char *ok_reply, int nx_ints)
{
    entry *old = db_lookup_write(c, key->p, key->len);
    if ((flags & SET_GET) && old && old->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
        if (flags & SET_GET) {
            if (!old) {
                reply_null(c);
            } else {
                char tmp[OBJ_INT_STR_MAX];
                size_t len;
                const char *s = entry_str(old, tmp, &len);
                reply_bulk(c, s, len);
            }
        } else if (nx_ints) {
            reply_int(c, 0);
        } else {
            reply_null(c);
        }
        return;
    }
    if (flags & SET_GET) {
        if (!old) {
            reply_null(c);
        } else {
            char tmp[OBJ_INT_STR_MAX];
            size_t len;
            const char *s = entry_str(old, tmp, &len);
            reply_bulk(c, s, len);
        }
    }
    entry *e = entry_new_string(key->p, key->len, val->p, val->len,
                                (flags & SET_EXPIRE) ? expire_at : -1);
    db_put(c, e, flags & SET_KEEPTTL);
    db_signal_modified(c, key->p, key->len);
    db_notify(c, NOTIFY_STRING, "set", key->p, key->len);
    if (flags & SET_EXPIRE)
        db_notify(c, NOTIFY_GENERIC, "expire", key->p, key->len);
    if (!(flags & SET_GET)) {
        if (nx_ints)
            reply_int(c, 1);
        else
            reply_simple(c, ok_reply);
    }
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL] */
static void set_cmd(cmd_ctx *c)
{
    int flags = 0;
    int64_t when = -1;
    for (int i = 3; i < c->argc; i++) {
        const slice *a = &c->argv[i];
        int has_next = i + 1 < c->argc;
        long long unit = 0;
        int absolute = 0;
        if (arg_eq(a, "nx") && !(flags & SET_XX)) {
            flags |= SET_NX;
        } else if (arg_eq(a, "xx") && !(flags & SET_NX)) {
            flags |= SET_XX;
        } else if (arg_eq(a, "get")) {
            flags |= SET_GET;
        } else if (arg_eq(a, "keepttl") && !(flags & SET_EXPIRE)) {
            flags |= SET_KEEPTTL;
        } else if (arg_eq(a, "ex") && has_next && !(flags & (SET_EXPIRE | SET_KEEPTTL))) {
            unit = 1000;
        } else if (arg_eq(a, "px") && has_next && !(flags & (SET_EXPIRE | SET_KEEPTTL))) {
            unit = 1;
        } else if (arg_eq(a, "exat") && has_next && !(flags & (SET_EXPIRE | SET_KEEPTTL))) {
            unit = 1000;
            absolute = 1;
        } else if (arg_eq(a, "pxat") && has_next && !(flags & (SET_EXPIRE | SET_KEEPTTL))) {
            unit = 1;
            absolute = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
        if (unit) {
            long long v;
            if (arg_ll_or_reply(c, &c->argv[++i], &v, NULL))
                return;
            if (v <= 0) {
                reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
                return;
            }
            if (arg_expire_or_reply(c, &c->argv[i], unit, absolute, &when))
                return;
            flags |= SET_EXPIRE;
        }
    }
    set_generic(c, &c->argv[1], &c->argv[2], flags, when, "OK", 0);
}

static void get_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (!e) {
        reply_null(c);
        return;
    }
    if (db_wrong_type(c, e, OBJ_STRING))
        return;
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    reply_bulk(c, s, len);
}

#define STRING_CMD .group = "string", .acl = ACL_STRING

command string_commands[] = {
    {.name = "get", .proc = get_cmd, .arity = 2, .flags = CMD_READONLY | CMD_FAST,
     .first_key = 1, .last_key = 1, .key_step = 1, STRING_CMD | ACL_READ | ACL_FAST,
     .since = "1.0.0", .summary = "Returns the string value of a key."},
    {.name = "set", .proc = set_cmd, .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM,
     .first_key = 1, .last_key = 1, .key_step = 1, STRING_CMD | ACL_WRITE | ACL_SLOW,
     .since = "1.0.0",
     .summary = "Sets the string value of a key, ignoring its type. The key is created if it "
                "doesn't exist."},
    {0},
};
