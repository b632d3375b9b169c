/* The two Lua libraries Redis scripts use that Debian does not package: struct (binary
 * pack/unpack, as Roberto Ierusalimschy's struct 0.2 that Redis ships) and cmsgpack (MessagePack,
 * as Redis's lua-cmsgpack 0.4). Written to the same formats, limits and error messages, so that
 * scripts written for Redis behave the same. */
#include <ctype.h>
#include <float.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "script.h"

/* ---- struct --------------------------------------------------------------------------------- */

#define STRUCT_MAXINTSIZE 32 /* the widest i/I integer */
#define STRUCT_MAXALIGN 8    /* '!' without a number */
#define STRUCT_INT_BYTES 8   /* bytes of the integer type values go through (long) */

enum { ST_BIG = 0, ST_LITTLE = 1 };

typedef struct st_header {
    int endian;
    int align;
} st_header;

static int st_native_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one ? ST_LITTLE : ST_BIG;
}

static int st_getnum(lua_State *L, const char **fmt, int df)
{
    if (!isdigit((unsigned char)**fmt))
        return df;
    int a = 0;
    do {
        if (a > (INT_MAX / 10) || a * 10 > (INT_MAX - (**fmt - '0')))
            luaL_error(L, "integral size overflow");
        a = a * 10 + *((*fmt)++) - '0';
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t st_optsize(lua_State *L, char opt, const char **fmt)
{
    switch (opt) {
    case 'B':
    case 'b': return sizeof(char);
    case 'H':
    case 'h': return sizeof(short);
    case 'L':
    case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)st_getnum(L, fmt, 1);
    case 'i':
    case 'I': {
        int sz = st_getnum(L, fmt, sizeof(int));
        if (sz > STRUCT_MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", sz, STRUCT_MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0; /* the other options need no alignment */
    }
}

/* Padding that aligns an item of `size` at offset len. */
static size_t st_toalign(size_t len, const st_header *h, int opt, size_t size)
{
    if (size == 0 || opt == 'c')
        return 0;
    if (size > (size_t)h->align)
        size = (size_t)h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

static void st_controloptions(lua_State *L, int opt, const char **fmt, st_header *h)
{
    switch (opt) {
    case ' ': return;
    case '>': h->endian = ST_BIG; return;
    case '<': h->endian = ST_LITTLE; return;
    case '!': {
        int a = st_getnum(L, fmt, STRUCT_MAXALIGN);
        if (a <= 0 || (a & (a - 1)))
            luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

static void st_putinteger(lua_State *L, luaL_Buffer *b, int arg, int endian, size_t size)
{
    lua_Number n = luaL_checknumber(L, arg);
    unsigned long value;
    if (n < 0)
        value = n < (lua_Number)LONG_MIN ? (unsigned long)LONG_MIN : (unsigned long)(long)n;
    else
        value = n >= (lua_Number)ULONG_MAX ? ULONG_MAX : (unsigned long)n;
    char out[STRUCT_MAXINTSIZE];
    for (size_t i = 0; i < size; i++) {
        size_t at = endian == ST_LITTLE ? i : size - 1 - i;
        out[at] = i < STRUCT_INT_BYTES ? (char)(value >> (8 * i) & 0xff) : 0;
    }
    luaL_addlstring(b, out, size);
}

static void st_correctbytes(char *b, size_t size, int endian)
{
    if (endian == st_native_endian())
        return;
    for (size_t i = 0; i < size / 2; i++) {
        char t = b[i];
        b[i] = b[size - 1 - i];
        b[size - 1 - i] = t;
    }
}

static int st_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    st_header h = {st_native_endian(), 1};
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    lua_pushnil(L); /* separates the arguments from the buffer */
    luaL_buffinit(L, &b);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        size_t pad = st_toalign(total, &h, opt, size);
        total += pad;
        while (pad-- > 0)
            luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I': st_putinteger(L, &b, arg++, h.endian, size); break;
        case 'x': luaL_addchar(&b, '\0'); break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            st_correctbytes((char *)&f, size, h.endian);
            luaL_addlstring(&b, (char *)&f, size);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            st_correctbytes((char *)&d, size, h.endian);
            luaL_addlstring(&b, (char *)&d, size);
            break;
        }
        case 'c':
        case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0)
                size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default: st_controloptions(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number st_getinteger(const char *p, int endian, int issigned, size_t size)
{
    unsigned long l = 0;
    for (size_t i = 0; i < size; i++) {
        size_t at = endian == ST_BIG ? i : size - 1 - i;
        l = l << 8 | (unsigned char)p[at];
    }
    if (!issigned)
        return (lua_Number)l;
    if (size * 8 - 1 < sizeof(l) * 8) {
        unsigned long mask = ~0UL << (size * 8 - 1);
        if (l & mask)
            l |= mask; /* sign extension */
    }
    return (lua_Number)(long)l;
}

static int st_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, start >= 1, 3, "offset must be 1 or greater");
    size_t pos = (size_t)start - 1;
    int n = 0;
    luaL_argcheck(L, pos <= ld, 3, "initial position out of string");
    st_header h = {st_native_endian(), 1};
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        pos += st_toalign(pos, &h, opt, size);
        luaL_argcheck(L, pos <= ld && size <= ld - pos, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            lua_pushnumber(L, st_getinteger(data + pos, h.endian, islower(opt), size));
            n++;
            break;
        case 'x': break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, size);
            st_correctbytes((char *)&f, sizeof(f), h.endian);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, size);
            st_correctbytes((char *)&d, sizeof(d), h.endian);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                lua_Number want = lua_tonumber(L, -1);
                size = want > 0 ? (size_t)want : 0;
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld - pos, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (!e)
                luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default: st_controloptions(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int st_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    st_header h = {st_native_endian(), 1};
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        pos += st_toalign(pos, &h, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt))
            st_controloptions(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int luaopen_struct(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", st_pack}, {"unpack", st_unpack}, {"size", st_size}, {NULL, NULL}};
    luaL_register(L, "struct", fns);
    return 1;
}

/* ---- cmsgpack ------------------------------------------------------------------------------ */

#define MP_MAX_NESTING 16 /* deeper tables are packed as nil, as lua-cmsgpack does */
#define MP_FIXARRAY_MAX 15
#define MP_FIXMAP_MAX 15
#define MP_FIXSTR_MAX 31
#define MP_POSITIVE_FIXINT_MAX 127
#define MP_NEGATIVE_FIXINT_MIN (-32)

/* ---- packing ---- */

static void mp_put(buf *b, const unsigned char *p, size_t len)
{
    buf_append(b, p, len);
}

static void mp_put_byte(buf *b, unsigned char c)
{
    buf_append_char(b, (char)c);
}

/* type byte then v big-endian in `bytes` bytes */
static void mp_put_be(buf *b, unsigned char type, uint64_t v, int bytes)
{
    unsigned char out[9];
    out[0] = type;
    for (int i = 0; i < bytes; i++)
        out[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    mp_put(b, out, (size_t)bytes + 1);
}

static void mp_encode_int(buf *b, int64_t n)
{
    if (n >= 0) {
        if (n <= MP_POSITIVE_FIXINT_MAX)
            mp_put_byte(b, (unsigned char)n);
        else if (n <= UINT8_MAX)
            mp_put_be(b, 0xcc, (uint64_t)n, 1);
        else if (n <= UINT16_MAX)
            mp_put_be(b, 0xcd, (uint64_t)n, 2);
        else if (n <= UINT32_MAX)
            mp_put_be(b, 0xce, (uint64_t)n, 4);
        else
            mp_put_be(b, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= MP_NEGATIVE_FIXINT_MIN)
            mp_put_byte(b, (unsigned char)(int8_t)n);
        else if (n >= INT8_MIN)
            mp_put_be(b, 0xd0, (uint64_t)n, 1);
        else if (n >= INT16_MIN)
            mp_put_be(b, 0xd1, (uint64_t)n, 2);
        else if (n >= INT32_MIN)
            mp_put_be(b, 0xd2, (uint64_t)n, 4);
        else
            mp_put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void mp_encode_double(buf *b, double d)
{
    float f = (float)d;
    if (d == (double)f) {
        uint32_t bits;
        memcpy(&bits, &f, sizeof(bits));
        mp_put_be(b, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        mp_put_be(b, 0xcb, bits, 8);
    }
}

static void mp_encode_number(buf *b, lua_Number n)
{
    /* Integral values that an int64 holds are packed as integers. */
    if (!isinf(n) && !isnan(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
        (lua_Number)(int64_t)n == n)
        mp_encode_int(b, (int64_t)n);
    else
        mp_encode_double(b, (double)n);
}

static void mp_encode_bytes(buf *b, const char *s, size_t len)
{
    if (len <= MP_FIXSTR_MAX)
        mp_put_byte(b, (unsigned char)(0xa0 | len));
    else if (len <= UINT8_MAX)
        mp_put_be(b, 0xd9, len, 1);
    else if (len <= UINT16_MAX)
        mp_put_be(b, 0xda, len, 2);
    else
        mp_put_be(b, 0xdb, len, 4);
    buf_append(b, s, len);
}

static void mp_encode_header(buf *b, size_t n, unsigned char fix, size_t fixmax, unsigned char t16,
                             unsigned char t32)
{
    if (n <= fixmax)
        mp_put_byte(b, (unsigned char)(fix | n));
    else if (n <= UINT16_MAX)
        mp_put_be(b, t16, n, 2);
    else
        mp_put_be(b, t32, n, 4);
}

/* An array when every key is a positive integer and they are 1..n without holes. */
static int mp_table_is_array(lua_State *L)
{
    int top = lua_gettop(L);
    lua_Number max = 0;
    long count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number n;
        if (lua_type(L, -1) != LUA_TNUMBER || (n = lua_tonumber(L, -1)) <= 0 || floor(n) != n) {
            lua_settop(L, top);
            return 0;
        }
        if (n > max)
            max = n;
        count++;
    }
    lua_settop(L, top);
    return max == (lua_Number)count;
}

static void mp_encode(lua_State *L, buf *b, int level);

static void mp_encode_table(lua_State *L, buf *b, int level)
{
    if (mp_table_is_array(L)) {
        size_t len = lua_objlen(L, -1);
        mp_encode_header(b, len, 0x90, MP_FIXARRAY_MAX, 0xdc, 0xdd);
        for (size_t j = 1; j <= len; j++) {
            lua_rawgeti(L, -1, (int)j);
            mp_encode(L, b, level + 1);
        }
        return;
    }
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    mp_encode_header(b, n, 0x80, MP_FIXMAP_MAX, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        mp_encode(L, b, level + 1); /* the key */
        mp_encode(L, b, level + 1); /* the value */
    }
}

/* Packs the value on top and pops it. The stack needs 3 slots per level: MP_MAX_NESTING
 * bounds it, and mp_pack reserves them up front (no Lua error may skip freeing b). */
static void mp_encode(lua_State *L, buf *b, int level)
{
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == MP_MAX_NESTING)
        t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        mp_encode_bytes(b, s, len);
        break;
    }
    case LUA_TBOOLEAN: mp_put_byte(b, lua_toboolean(L, -1) ? 0xc3 : 0xc2); break;
    case LUA_TNUMBER: mp_encode_number(b, lua_tonumber(L, -1)); break;
    case LUA_TTABLE: mp_encode_table(L, b, level); break;
    default: mp_put_byte(b, 0xc0);
    }
    lua_pop(L, 1);
}

#define MP_STACK_PER_LEVEL 3

static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    luaL_checkstack(L, MP_STACK_PER_LEVEL * (MP_MAX_NESTING + 1), "too deep");
    buf b;
    buf_init(&b);
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        mp_encode(L, &b, 0);
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    buf_free(&b);
    return 1;
}

/* ---- unpacking ---- */

enum { MP_OK = 0, MP_EOF, MP_BADFMT };

typedef struct mp_cur {
    const unsigned char *p;
    size_t left;
    int err;
} mp_cur;

static int mp_need(mp_cur *c, size_t n)
{
    if (c->left < n) {
        c->err = MP_EOF;
        return 0;
    }
    return 1;
}

static uint64_t mp_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

static void mp_decode(lua_State *L, mp_cur *c);

static void mp_decode_array(lua_State *L, mp_cur *c, size_t n)
{
    luaL_checkstack(L, 2, "too deep");
    lua_newtable(L);
    for (size_t i = 1; i <= n; i++) {
        mp_decode(L, c);
        if (c->err)
            return;
        lua_rawseti(L, -2, (int)i);
    }
}

static void mp_decode_map(lua_State *L, mp_cur *c, size_t n)
{
    luaL_checkstack(L, 3, "too deep");
    lua_newtable(L);
    for (size_t i = 0; i < n; i++) {
        mp_decode(L, c);
        if (c->err)
            return;
        mp_decode(L, c);
        if (c->err)
            return;
        lua_settable(L, -3);
    }
}

/* Reads a big-endian length of `bytes` after the type byte; 0 with c->err on truncation. */
static size_t mp_len(mp_cur *c, int bytes)
{
    if (!mp_need(c, 1 + (size_t)bytes))
        return 0;
    size_t n = (size_t)mp_be(c->p + 1, bytes);
    c->p += 1 + bytes;
    c->left -= 1 + (size_t)bytes;
    return n;
}

static void mp_decode_bytes(lua_State *L, mp_cur *c, size_t len)
{
    if (c->err || !mp_need(c, len))
        return;
    lua_pushlstring(L, (const char *)c->p, len);
    c->p += len;
    c->left -= len;
}

/* A fixed-size scalar: the type byte and `bytes` of payload. */
static void mp_decode_scalar(lua_State *L, mp_cur *c, unsigned char type, int bytes)
{
    if (!mp_need(c, 1 + (size_t)bytes))
        return;
    uint64_t v = mp_be(c->p + 1, bytes);
    switch (type) {
    case 0xca: {
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof(f));
        lua_pushnumber(L, f);
        break;
    }
    case 0xcb: {
        double d;
        memcpy(&d, &v, sizeof(d));
        lua_pushnumber(L, d);
        break;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: lua_pushnumber(L, (lua_Number)v); break;
    case 0xd0: lua_pushnumber(L, (int8_t)v); break;
    case 0xd1: lua_pushnumber(L, (int16_t)v); break;
    case 0xd2: lua_pushnumber(L, (int32_t)v); break;
    default: /* 0xd3 */ lua_pushnumber(L, (lua_Number)(int64_t)v);
    }
    c->p += 1 + bytes;
    c->left -= 1 + (size_t)bytes;
}

/* Pushes the next value (nothing when c->err gets set). */
static void mp_decode(lua_State *L, mp_cur *c)
{
    if (!mp_need(c, 1))
        return;
    luaL_checkstack(L, 1, "too deep");
    unsigned char t = c->p[0];
    if (t <= 0x7f || t >= 0xe0) { /* positive / negative fixint */
        lua_pushnumber(L, t <= 0x7f ? t : (int8_t)t);
        c->p++, c->left--;
        return;
    }
    if ((t & 0xe0) == 0xa0) { /* fixstr */
        c->p++, c->left--;
        mp_decode_bytes(L, c, t & 0x1f);
        return;
    }
    if ((t & 0xf0) == 0x90 || (t & 0xf0) == 0x80) { /* fixarray, fixmap */
        c->p++, c->left--;
        if ((t & 0xf0) == 0x90)
            mp_decode_array(L, c, t & 0x0f);
        else
            mp_decode_map(L, c, t & 0x0f);
        return;
    }
    switch (t) {
    case 0xc0:
        lua_pushnil(L);
        c->p++, c->left--;
        return;
    case 0xc2:
    case 0xc3:
        lua_pushboolean(L, t == 0xc3);
        c->p++, c->left--;
        return;
    case 0xca:
    case 0xce:
    case 0xd2: mp_decode_scalar(L, c, t, 4); return;
    case 0xcb:
    case 0xcf:
    case 0xd3: mp_decode_scalar(L, c, t, 8); return;
    case 0xcc:
    case 0xd0: mp_decode_scalar(L, c, t, 1); return;
    case 0xcd:
    case 0xd1: mp_decode_scalar(L, c, t, 2); return;
    case 0xc4: /* bin 8/16/32 and str 8/16/32 become strings */
    case 0xd9: mp_decode_bytes(L, c, mp_len(c, 1)); return;
    case 0xc5:
    case 0xda: mp_decode_bytes(L, c, mp_len(c, 2)); return;
    case 0xc6:
    case 0xdb: mp_decode_bytes(L, c, mp_len(c, 4)); return;
    case 0xdc:
    case 0xdd: {
        size_t n = mp_len(c, t == 0xdc ? 2 : 4);
        if (!c->err)
            mp_decode_array(L, c, n);
        return;
    }
    case 0xde:
    case 0xdf: {
        size_t n = mp_len(c, t == 0xde ? 2 : 4);
        if (!c->err)
            mp_decode_map(L, c, n);
        return;
    }
    default: c->err = MP_BADFMT;
    }
}

/* Decodes up to limit values (all with limit 0 and offset 0) from offset; with a limit or an
 * offset, the next offset comes first (-1 at the end of the input). */
static int mp_unpack_full(lua_State *L, int limit, int offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int decode_all = !limit && !offset;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", offset,
                          (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", offset, (int)len);
    if (decode_all)
        limit = INT_MAX;
    mp_cur c = {(const unsigned char *)s + offset, len - (size_t)offset, MP_OK};
    int cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        mp_decode(L, &c);
        if (c.err == MP_EOF)
            return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT)
            return luaL_error(L, "Bad data format in input.");
    }
    if (!decode_all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, 2);
        cnt++;
    }
    return cnt;
}

static int mp_unpack(lua_State *L)
{
    return mp_unpack_full(L, 0, 0);
}

static int mp_unpack_one(lua_State *L)
{
    int offset = (int)luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return mp_unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L)
{
    int limit = (int)luaL_checkinteger(L, 2);
    int offset = (int)luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return mp_unpack_full(L, limit, offset);
}

int luaopen_cmsgpack(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pack", mp_pack},
                                   {"unpack", mp_unpack},
                                   {"unpack_one", mp_unpack_one},
                                   {"unpack_limit", mp_unpack_limit},
                                   {NULL, NULL}};
    luaL_register(L, "cmsgpack", fns);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
