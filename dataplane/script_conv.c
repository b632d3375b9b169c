/* Conversions between replies and Lua values, as Redis 7.0 makes them (script_lua.c):
 * a command's reply becomes a Lua value for redis.call, and a script's result becomes the reply
 * of EVAL or FCALL. See script.h. */
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "object.h"
#include "reply.h"
#include "script.h"

#define DOUBLE_TEXT_MAX 128 /* a RESP3 double's text */

/* An error reply with msg exactly as given (Redis writes "-%s" of the err field: no code is
 * added), newlines turned into spaces. */
void script_reply_raw_error(cmd_ctx *c, const char *msg, size_t len)
{
    c->error = 1;
    buf_append_char(c->out, '-');
    size_t start = c->out->len;
    buf_append(c->out, msg, len);
    for (size_t i = start; i < c->out->len; i++)
        if (c->out->data[i] == '\r' || c->out->data[i] == '\n')
            c->out->data[i] = ' ';
    buf_append(c->out, "\r\n", 2);
    char code[64];
    size_t n = 0;
    while (n < len && n + 1 < sizeof(code) && msg[n] != ' ')
        code[n] = msg[n], n++;
    code[n] = '\0';
    stats_count_error(code);
}

/* ---- Lua values -> replies --------------------------------------------------------------- */

/* Lua numbers become integers by truncation; out of range gives what x86 gives Redis. */
static long long number_to_ll(lua_Number d)
{
    if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
        return LLONG_MIN;
    return (long long)d;
}

/* The string field `name` of the table on top, or NULL. Leaves the stack as it was. */
static const char *table_string_field(lua_State *L, const char *name, size_t *len)
{
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1); /* the table keeps the string alive */
    return s;
}

static void lua_to_reply(cmd_ctx *c, lua_State *L, int script_resp);

/* The field `name` of the table on top is a table: pushes it and returns 1, else 0. */
static int table_table_field(lua_State *L, const char *name)
{
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    if (lua_istable(L, -1))
        return 1;
    lua_pop(L, 1);
    return 0;
}

static void reply_table_map(cmd_ctx *c, lua_State *L, int script_resp)
{
    size_t h = reply_deferred(c);
    long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_to_reply(c, L, script_resp); /* the key */
        lua_to_reply(c, L, script_resp); /* the value */
        n++;
    }
    reply_set_deferred_map(c, h, n);
}

static void reply_table_set(cmd_ctx *c, lua_State *L, int script_resp)
{
    size_t h = reply_deferred(c);
    long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_to_reply(c, L, script_resp);
        n++;
    }
    reply_set_deferred_set(c, h, n);
}

/* A table is an error, a status, one of RESP3's types, or an array up to its first nil. */
static void reply_table(cmd_ctx *c, lua_State *L, int script_resp)
{
    size_t len;
    const char *s;
    if ((s = table_string_field(L, "err", &len))) {
        script_reply_raw_error(c, s, len);
        return;
    }
    if ((s = table_string_field(L, "ok", &len))) {
        buf_append_char(c->out, '+');
        size_t start = c->out->len;
        buf_append(c->out, s, len);
        for (size_t i = start; i < c->out->len; i++)
            if (c->out->data[i] == '\r' || c->out->data[i] == '\n')
                c->out->data[i] = ' ';
        buf_append(c->out, "\r\n", 2);
        return;
    }
    lua_pushliteral(L, "double");
    lua_rawget(L, -2);
    if (lua_type(L, -1) == LUA_TNUMBER) {
        reply_double(c, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if ((s = table_string_field(L, "big_number", &len))) {
        char *digits = mem_malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            digits[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
        digits[len] = '\0';
        reply_bignum(c, digits);
        free(digits);
        return;
    }
    if (table_table_field(L, "verbatim_string")) {
        size_t flen;
        const char *fmt = table_string_field(L, "format", &flen);
        const char *str = table_string_field(L, "string", &len);
        if (fmt && str) {
            char ext[4] = {0};
            memcpy(ext, fmt, flen < 3 ? flen : 3);
            reply_verbatim(c, str, len, ext);
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    if (table_table_field(L, "map")) {
        reply_table_map(c, L, script_resp);
        lua_pop(L, 1);
        return;
    }
    if (table_table_field(L, "set")) {
        reply_table_set(c, L, script_resp);
        lua_pop(L, 1);
        return;
    }
    size_t h = reply_deferred(c);
    long n = 0;
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        lua_to_reply(c, L, script_resp);
        n++;
    }
    reply_set_deferred_array(c, h, n);
}

/* Replies the value on top of the stack and pops it (luaReplyToRedisReply). */
static void lua_to_reply(cmd_ctx *c, lua_State *L, int script_resp)
{
    if (!lua_checkstack(L, 4)) {
        reply_error(c, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        reply_bulk(c, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        if (script_resp == 2) {
            if (lua_toboolean(L, -1))
                reply_int(c, 1);
            else
                reply_null(c);
        } else {
            reply_bool(c, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER: reply_int(c, number_to_ll(lua_tonumber(L, -1))); break;
    case LUA_TTABLE: reply_table(c, L, script_resp); break;
    default: reply_null(c);
    }
    lua_pop(L, 1);
}

/* ---- replies -> Lua values --------------------------------------------------------------- */

/* The replies parsed here are our own (a command's reply to the script), so they are well
 * formed; the parser still never reads past end. */
typedef struct resp_cursor {
    const char *p, *end;
} resp_cursor;

/* The header line's text (after the type byte) up to CRLF; advances past it. */
static const char *resp_line(resp_cursor *r, size_t *len)
{
    const char *s = r->p + 1;
    const char *e = s;
    while (e + 1 < r->end && !(e[0] == '\r' && e[1] == '\n'))
        e++;
    *len = (size_t)(e - s);
    r->p = e + 1 < r->end ? e + 2 : r->end;
    return s;
}

static long long resp_line_ll(resp_cursor *r)
{
    size_t len;
    const char *s = resp_line(r, &len);
    long long v = 0;
    str_to_ll(s, len, &v);
    return v;
}

/* Bulk payload of len bytes and its CRLF; clamps at end. */
static const char *resp_payload(resp_cursor *r, long long len, size_t *out_len)
{
    const char *s = r->p;
    size_t left = (size_t)(r->end - r->p);
    size_t n = len < 0 ? 0 : (size_t)len;
    if (n > left)
        n = left;
    *out_len = n;
    r->p += n;
    r->p += (size_t)(r->end - r->p) >= 2 ? 2 : (size_t)(r->end - r->p);
    return s;
}

static void resp_push(lua_State *L, resp_cursor *r);

static void resp_push_error(lua_State *L, const char *s, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '-');
    luaL_addlstring(&b, s, len);
    luaL_pushresult(&b);
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    script_push_error(L, msg, n);
    lua_remove(L, -2);
    /* The command already counted its error; Redis marks the table so that the script's
     * reply does not count it twice. */
    lua_pushliteral(L, "ignore_error_stats_update");
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
}

/* t[key] = the next reply, as {key = value} wrappers of RESP3 types do. */
static void resp_push_wrapped(lua_State *L, const char *key, const char *s, size_t len)
{
    lua_newtable(L);
    lua_pushstring(L, key);
    lua_pushlstring(L, s, len);
    lua_rawset(L, -3);
}

static void resp_push_aggregate(lua_State *L, resp_cursor *r, char type, long long n)
{
    if (type == '*' || type == '>') {
        lua_createtable(L, n > 0 && n < INT32_MAX ? (int)n : 0, 0);
        for (long long i = 0; i < n && r->p < r->end; i++) {
            resp_push(L, r);
            lua_rawseti(L, -2, (int)(i + 1)); /* a nil element leaves a hole, as in Redis */
        }
        return;
    }
    lua_newtable(L);
    lua_pushstring(L, type == '%' ? "map" : "set");
    lua_newtable(L);
    for (long long i = 0; i < n && r->p < r->end; i++) {
        resp_push(L, r);
        if (type == '%')
            resp_push(L, r);
        else
            lua_pushboolean(L, 1);
        if (lua_isnil(L, -2))
            lua_pop(L, 2); /* a nil key cannot be stored */
        else
            lua_rawset(L, -3);
    }
    lua_rawset(L, -3);
}

/* Pushes the reply at r as Redis converts replies for redis.call. */
static void resp_push(lua_State *L, resp_cursor *r)
{
    luaL_checkstack(L, 4, "reply too deeply nested");
    if (r->p >= r->end) {
        lua_pushnil(L);
        return;
    }
    char type = *r->p;
    size_t len;
    const char *s;
    long long n;
    switch (type) {
    case '+':
        s = resp_line(r, &len);
        resp_push_wrapped(L, "ok", s, len);
        return;
    case '-':
        s = resp_line(r, &len);
        resp_push_error(L, s, len);
        return;
    case ':': lua_pushnumber(L, (lua_Number)resp_line_ll(r)); return;
    case '$':
        n = resp_line_ll(r);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return;
        }
        s = resp_payload(r, n, &len);
        lua_pushlstring(L, s, len);
        return;
    case '=':
        n = resp_line_ll(r);
        s = resp_payload(r, n, &len);
        lua_newtable(L);
        lua_pushliteral(L, "verbatim_string");
        lua_newtable(L);
        lua_pushliteral(L, "format");
        lua_pushlstring(L, s, len < 3 ? len : 3);
        lua_rawset(L, -3);
        lua_pushliteral(L, "string");
        lua_pushlstring(L, len > 4 ? s + 4 : s + len, len > 4 ? len - 4 : 0);
        lua_rawset(L, -3);
        lua_rawset(L, -3);
        return;
    case '*':
    case '>':
    case '%':
    case '~':
        n = resp_line_ll(r);
        if (n < 0) {
            lua_pushboolean(L, 0); /* the null array */
            return;
        }
        resp_push_aggregate(L, r, type, n);
        return;
    case '_':
        resp_line(r, &len);
        lua_pushnil(L);
        return;
    case '#':
        s = resp_line(r, &len);
        lua_pushboolean(L, len && s[0] == 't');
        return;
    case ',': {
        s = resp_line(r, &len);
        char tmp[DOUBLE_TEXT_MAX];
        size_t k = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
        memcpy(tmp, s, k);
        tmp[k] = '\0';
        lua_newtable(L);
        lua_pushliteral(L, "double");
        lua_pushnumber(L, strtod(tmp, NULL));
        lua_rawset(L, -3);
        return;
    }
    case '(':
        s = resp_line(r, &len);
        resp_push_wrapped(L, "big_number", s, len);
        return;
    case '|': /* attributes are not shown to scripts: skip them, then the reply itself */
        n = resp_line_ll(r);
        for (long long i = 0; i < 2 * n && r->p < r->end; i++) {
            resp_push(L, r);
            lua_pop(L, 1);
        }
        resp_push(L, r);
        return;
    default: resp_line(r, &len); lua_pushnil(L);
    }
}

void script_reply_value(cmd_ctx *c, lua_State *L, int script_resp)
{
    lua_to_reply(c, L, script_resp);
}

void script_push_reply(lua_State *L, const char *p, size_t len)
{
    resp_cursor r = {p, p + len};
    resp_push(L, &r);
}
