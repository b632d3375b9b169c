/* FUNCTION LOAD/DELETE/LIST/FLUSH/DUMP/RESTORE/STATS/KILL/HELP, FCALL and FCALL_RO: Redis 7's
 * function libraries.
 *
 * A library is Lua code that starts with `#!lua name=<lib>` and registers functions with
 * redis.register_function while FUNCTION LOAD runs it; FCALL then calls a function by name.
 * Every library lives in one Lua interpreter (script.h), apart from EVAL's; its functions are
 * references in that interpreter's registry. Commands that touch libraries hold every shard
 * (CMD_ALL_SHARDS); FUNCTION STATS and KILL hold none and read only atomics. FUNCTION DUMP's
 * payload is the RDB encoding Redis uses, so payloads move between dfly and Redis. */
#include <ctype.h>
#include <lauxlib.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "clock.h"
#include "glob.h"
#include "journal.h"
#include "object.h"
#include "rdb_load.h"
#include "reply.h"
#include "script.h"
#include "t_server.h"

#define LOAD_TIMEOUT_MS 500    /* FUNCTION LOAD's code must be done registering by then */
#define LOAD_HOOK_COUNT 100000 /* instructions between timeout checks */
#define META_PARTS_MAX 64
#define FN_ERR_MAX 4096
#define ENGINE_NAME "LUA"

/* The RDB encoding of FUNCTION DUMP (Redis 7.0: RDB version 10). */
#define RDB_VERSION 10
#define RDB_OPCODE_FUNCTION_PRE_GA 246
#define RDB_OPCODE_FUNCTION2 245
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3
#define DUMP_FOOTER_LEN 10 /* 2 bytes of RDB version, 8 of CRC64 */
#define CRC64_JONES_REFLECTED 0x95ac9329ac4bc9b5ull
#define RDB_STRING_MAX (512ull << 20) /* proto-max-bulk-len's default: no code is larger */

typedef struct fn_function {
    char *name;
    char *desc; /* NULL when none was given */
    unsigned flags;
    int ref; /* the callback, in the interpreter's registry */
} fn_function;

typedef struct fn_library {
    struct fn_library *next;
    char *name;
    char *code; /* as loaded, shebang included */
    size_t code_len;
    fn_function *funcs;
    int nfuncs, cap;
} fn_library;

/* A set of libraries: the current one, or the ones a RESTORE reads before it joins them. */
typedef struct fn_set {
    fn_library *head;
} fn_set;

static lua_State *fn_vm;    /* created on first use; FUNCTION FLUSH replaces it */
static fn_set current;      /* what FCALL sees */
static fn_library *loading; /* the library redis.register_function adds to */
static uint64_t load_deadline_ms;
/* FUNCTION STATS runs without shards, next to a FUNCTION LOAD on another thread. */
static _Atomic long stat_libraries, stat_functions;

/* ---- libraries ----------------------------------------------------------------------------- */

static void function_free(lua_State *L, fn_function *f)
{
    if (L)
        luaL_unref(L, LUA_REGISTRYINDEX, f->ref);
    free(f->name);
    free(f->desc);
}

/* Frees lib; L is the interpreter holding its callbacks (NULL when it is gone). */
static void library_free(lua_State *L, fn_library *lib)
{
    for (int i = 0; i < lib->nfuncs; i++)
        function_free(L, &lib->funcs[i]);
    free(lib->funcs);
    free(lib->name);
    free(lib->code);
    free(lib);
}

static fn_library *set_find_library(const fn_set *set, const char *name, size_t len)
{
    for (fn_library *lib = set->head; lib; lib = lib->next)
        if (strlen(lib->name) == len && !memcmp(lib->name, name, len))
            return lib;
    return NULL;
}

/* Function names are unique in a set regardless of case, as Redis's function dictionary. */
static fn_function *set_find_function(const fn_set *set, const char *name, size_t len,
                                      const fn_library *except, fn_library **owner)
{
    for (fn_library *lib = set->head; lib; lib = lib->next) {
        if (lib == except)
            continue;
        for (int i = 0; i < lib->nfuncs; i++) {
            if (strlen(lib->funcs[i].name) == len && !strncasecmp(lib->funcs[i].name, name, len)) {
                if (owner)
                    *owner = lib;
                return &lib->funcs[i];
            }
        }
    }
    return NULL;
}

static void set_link(fn_set *set, fn_library *lib)
{
    fn_library **tail = &set->head;
    while (*tail)
        tail = &(*tail)->next;
    lib->next = NULL;
    *tail = lib;
    if (set == &current) {
        atomic_fetch_add(&stat_libraries, 1);
        atomic_fetch_add(&stat_functions, lib->nfuncs);
    }
}

static void set_unlink(fn_set *set, fn_library *lib)
{
    for (fn_library **ref = &set->head; *ref; ref = &(*ref)->next) {
        if (*ref == lib) {
            *ref = lib->next;
            break;
        }
    }
    if (set == &current) {
        atomic_fetch_sub(&stat_libraries, 1);
        atomic_fetch_sub(&stat_functions, lib->nfuncs);
    }
}

static void set_clear(fn_set *set, lua_State *L)
{
    while (set->head) {
        fn_library *lib = set->head;
        set_unlink(set, lib);
        library_free(L, lib);
    }
}

/* [A-Za-z0-9_]+, the names of libraries and functions. */
static int name_valid(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

#define ERR_NAME_FORMAT                                                                            \
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one " \
    "character long"

/* ---- redis.register_function --------------------------------------------------------------- */

static int raise(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* The flags table on top: Redis's names, any case. NULL or an error. */
static const char *read_flags(lua_State *L, unsigned *flags)
{
    *flags = 0;
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return NULL;
        }
        size_t len;
        const char *s = lua_isstring(L, -1) ? lua_tolstring(L, -1, &len) : NULL;
        unsigned f = s ? script_flag_by_name(s, len, 1) : 0;
        lua_pop(L, 1);
        if (!f)
            return "unknown flag given";
        *flags |= f;
    }
}

typedef struct reg_args {
    const char *name;
    size_t name_len;
    const char *desc;
    size_t desc_len;
    int ref; /* LUA_NOREF until the callback is seen */
    unsigned flags;
} reg_args;

/* redis.register_function{function_name=..., callback=..., flags={...}, description=...}.
 * Strings stay valid: the argument table holds them. NULL or an error. */
static const char *read_named_args(lua_State *L, reg_args *a)
{
    if (!lua_istable(L, 1))
        return "calling redis.register_function with a single argument is only applicable to Lua "
               "table (representing named arguments).";
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (!lua_isstring(L, -2))
            return "named argument key given to redis.register_function is not a string";
        const char *key = lua_tostring(L, -2);
        if (!strcasecmp(key, "function_name")) {
            if (!lua_isstring(L, -1))
                return "function_name argument given to redis.register_function must be a string";
            a->name = lua_tolstring(L, -1, &a->name_len);
        } else if (!strcasecmp(key, "description")) {
            if (!lua_isstring(L, -1))
                return "description argument given to redis.register_function must be a string";
            a->desc = lua_tolstring(L, -1, &a->desc_len);
        } else if (!strcasecmp(key, "callback")) {
            if (!lua_isfunction(L, -1))
                return "callback argument given to redis.register_function must be a function";
            if (a->ref != LUA_NOREF)
                luaL_unref(L, LUA_REGISTRYINDEX, a->ref);
            a->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the value */
            continue;
        } else if (!strcasecmp(key, "flags")) {
            if (!lua_istable(L, -1))
                return "flags argument to redis.register_function must be a table representing "
                       "function flags";
            const char *err = read_flags(L, &a->flags);
            if (err)
                return err;
        } else {
            return "unknown argument given to redis.register_function";
        }
        lua_pop(L, 1);
    }
    if (!a->name)
        return "redis.register_function must get a function name argument";
    if (a->ref == LUA_NOREF)
        return "redis.register_function must get a callback argument";
    return NULL;
}

static const char *read_args(lua_State *L, reg_args *a)
{
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return "wrong number of arguments to redis.register_function";
    if (argc == 1)
        return read_named_args(L, a);
    if (!lua_isstring(L, 1))
        return "first argument to redis.register_function must be a string";
    if (!lua_isfunction(L, 2))
        return "second argument to redis.register_function must be a function";
    a->name = lua_tolstring(L, 1, &a->name_len);
    a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return NULL;
}

static const char *library_add_function(fn_library *lib, const reg_args *a)
{
    if (!name_valid(a->name, a->name_len))
        return ERR_NAME_FORMAT; /* Redis 7.0's text, though it is about the function */
    for (int i = 0; i < lib->nfuncs; i++)
        if (strlen(lib->funcs[i].name) == a->name_len &&
            !memcmp(lib->funcs[i].name, a->name, a->name_len))
            return "Function already exists in the library";
    if (lib->nfuncs == lib->cap) {
        lib->cap = lib->cap ? lib->cap * 2 : 4;
        lib->funcs = mem_realloc(lib->funcs, sizeof(fn_function) * (size_t)lib->cap);
    }
    fn_function *f = &lib->funcs[lib->nfuncs++];
    f->name = mem_memdupz(a->name, a->name_len);
    f->desc = a->desc ? mem_memdupz(a->desc, a->desc_len) : NULL;
    f->flags = a->flags;
    f->ref = a->ref;
    return NULL;
}

static int lua_register_function(lua_State *L)
{
    if (!loading)
        return raise(L, "redis.register_function can only be called on FUNCTION LOAD command");
    reg_args a = {.ref = LUA_NOREF};
    const char *err = read_args(L, &a);
    if (!err)
        err = library_add_function(loading, &a);
    if (err) {
        if (a.ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, a.ref);
        return raise(L, err);
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------- */

static lua_State *fn_vm_get(void)
{
    if (!fn_vm)
        fn_vm = script_vm_new(SCRIPT_VM_FUNCTION, lua_register_function);
    return fn_vm;
}

size_t function_vm_memory(void)
{
    return script_vm_memory(fn_vm);
}

/* FUNCTION LOAD's code may only register functions: it gets LOAD_TIMEOUT_MS for that. */
static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (clock_mono_ms() <= load_deadline_ms)
        return;
    lua_sethook(L, load_hook, LUA_MASKLINE, 0);
    raise(L, "FUNCTION LOAD timeout");
}

typedef struct lib_meta {
    slice engine, name;
    const char *body; /* the code after the shebang line (from its newline on) */
    size_t body_len;
} lib_meta;

/* `#!<engine> name=<library>` (functionExtractLibMetaData). 0, or -1 with err. */
static int parse_metadata(const char *code, size_t len, lib_meta *md, buf *err)
{
    if (len < 2 || memcmp(code, "#!", 2)) {
        buf_printf(err, "Missing library metadata");
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        buf_printf(err, "Invalid library metadata");
        return -1;
    }
    slice parts[META_PARTS_MAX];
    int n = 0;
    for (const char *p = code, *end = nl; p < end && n < META_PARTS_MAX;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        const char *s = p;
        while (p < end && !isspace((unsigned char)*p))
            p++;
        if (p > s)
            parts[n++] = (slice){s, (size_t)(p - s)};
    }
    if (n == 0) {
        buf_printf(err, "Invalid library metadata");
        return -1;
    }
    md->engine = (slice){parts[0].p + 2, parts[0].len - 2};
    md->name.p = NULL;
    for (int i = 1; i < n; i++) {
        if (parts[i].len >= 5 && !strncasecmp(parts[i].p, "name=", 5)) {
            if (md->name.p) {
                buf_printf(err, "Invalid metadata value, name argument was given multiple times");
                return -1;
            }
            md->name = (slice){parts[i].p + 5, parts[i].len - 5};
            continue;
        }
        buf_printf(err, "Invalid metadata value given: %.*s", (int)parts[i].len, parts[i].p);
        return -1;
    }
    if (!md->name.p) {
        buf_printf(err, "Library name was not given");
        return -1;
    }
    md->body = nl;
    md->body_len = len - (size_t)(nl - code);
    return 0;
}

/* The message of a failed registration run: a string error gets ERR, a table its err. */
static void registration_error(lua_State *L, buf *err)
{
    buf_printf(err, "Error registering functions: ");
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        buf_printf(err, "ERR %s", lua_tostring(L, -1));
        return;
    }
    char msg[FN_ERR_MAX];
    if (lua_istable(L, -1)) {
        script_error_text(L, -1, msg, sizeof(msg));
        buf_printf(err, "%s", msg);
    } else {
        buf_printf(err, "(null)");
    }
}

/* Runs the library code so that it registers its functions into lib. 0, or -1 with err. */
static int library_run(lua_State *L, fn_library *lib, const lib_meta *md, int timeout, buf *err)
{
    script_vm_load_api(L, 1);
    int rc = -1;
    if (luaL_loadbuffer(L, md->body, md->body_len, "@user_function")) {
        buf_printf(err, "Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        goto done;
    }
    loading = lib;
    if (timeout) {
        load_deadline_ms = clock_mono_ms() + LOAD_TIMEOUT_MS;
        lua_sethook(L, load_hook, LUA_MASKCOUNT, LOAD_HOOK_COUNT);
    }
    if (lua_pcall(L, 0, 0, 0)) {
        registration_error(L, err);
        lua_pop(L, 1);
        goto done;
    }
    rc = 0;
done:
    loading = NULL;
    lua_sethook(L, NULL, 0, 0);
    script_vm_load_api(L, 0);
    return rc;
}

/* Compiles code as a library of set (replacing one of the same name when `replace`), as
 * functionsCreateWithLibraryCtx. Returns it, or NULL with err. */
static fn_library *library_create(const char *code, size_t len, int replace, fn_set *set,
                                  int timeout, buf *err)
{
    lib_meta md;
    if (parse_metadata(code, len, &md, err))
        return NULL;
    if (!name_valid(md.name.p, md.name.len)) {
        buf_printf(err, ERR_NAME_FORMAT);
        return NULL;
    }
    if (md.engine.len != strlen(ENGINE_NAME) ||
        strncasecmp(md.engine.p, ENGINE_NAME, md.engine.len)) {
        buf_printf(err, "Engine '%.*s' not found", (int)md.engine.len, md.engine.p);
        return NULL;
    }
    fn_library *old = set_find_library(set, md.name.p, md.name.len);
    if (old && !replace) {
        buf_printf(err, "Library '%.*s' already exists", (int)md.name.len, md.name.p);
        return NULL;
    }
    lua_State *L = fn_vm_get();
    fn_library *lib = mem_calloc(1, sizeof(*lib));
    lib->name = mem_memdupz(md.name.p, md.name.len);
    lib->code = mem_memdupz(code, len);
    lib->code_len = len;
    if (library_run(L, lib, &md, timeout, err))
        goto fail;
    if (lib->nfuncs == 0) {
        buf_printf(err, "No functions registered");
        goto fail;
    }
    for (int i = 0; i < lib->nfuncs; i++) {
        const char *name = lib->funcs[i].name;
        if (set_find_function(set, name, strlen(name), old, NULL)) {
            buf_printf(err, "Function %s already exists", name);
            goto fail;
        }
    }
    if (old) {
        set_unlink(set, old);
        library_free(L, old);
    }
    set_link(set, lib);
    return lib;
fail:
    library_free(L, lib);
    return NULL;
}

/* ---- FCALL --------------------------------------------------------------------------------- */

static void fcall_generic(cmd_ctx *c, int ro)
{
    fn_function *f = set_find_function(&current, c->argv[1].p, c->argv[1].len, NULL, NULL);
    if (!f) {
        reply_error(c, "ERR Function not found");
        return;
    }
    long long numkeys;
    if (!str_to_ll(c->argv[2].p, c->argv[2].len, &numkeys)) {
        reply_error(c, "ERR Bad number of keys provided");
        return;
    }
    if (numkeys > c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return;
    }
    lua_State *L = fn_vm_get();
    script_push_error_handler(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
    script_run(L, c, f->name, f->flags, ro, 0, (int)numkeys);
}

static void fcall_cmd(cmd_ctx *c)
{
    fcall_generic(c, 0);
}

static void fcall_ro_cmd(cmd_ctx *c)
{
    fcall_generic(c, 1);
}

/* ---- FUNCTION LOAD / DELETE / FLUSH / LIST ------------------------------------------------ */

static void reply_buf_error(cmd_ctx *c, buf *err)
{
    reply_errorf(c, "ERR %.*s", (int)err->len, err->data ? err->data : "");
}

static void function_load_cmd(cmd_ctx *c)
{
    int replace = 0;
    int pos = 2;
    for (; pos < c->argc - 1; pos++) {
        if (!arg_eq(&c->argv[pos], "replace")) {
            reply_errorf(c, "ERR Unknown option given: %.*s", (int)c->argv[pos].len,
                         c->argv[pos].p);
            return;
        }
        replace = 1;
    }
    if (pos >= c->argc) {
        reply_error(c, "ERR Function code is missing");
        return;
    }
    buf err;
    buf_init(&err);
    fn_library *lib = library_create(c->argv[pos].p, c->argv[pos].len, replace, &current, 1, &err);
    if (lib) {
        reply_bulk_cstr(c, lib->name);
        journal_force(c); /* libraries change no key, yet the journal must replay them */
    } else {
        reply_buf_error(c, &err);
    }
    buf_free(&err);
}

static void function_delete_cmd(cmd_ctx *c)
{
    fn_library *lib = set_find_library(&current, c->argv[2].p, c->argv[2].len);
    if (!lib) {
        reply_error(c, "ERR Library not found");
        return;
    }
    set_unlink(&current, lib);
    library_free(fn_vm, lib);
    journal_force(c);
    reply_ok(c);
}

static void reply_subcommand_syntax_error(cmd_ctx *c)
{
    reply_errorf(c,
                 "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try FUNCTION "
                 "HELP.",
                 c->cmd->name);
}

/* Drops every library and the interpreter with them (Redis starts a new engine too). */
static void functions_flush(void)
{
    set_clear(&current, NULL);
    script_vm_free(fn_vm);
    fn_vm = NULL;
}

static void function_flush_cmd(cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 3 && !arg_eq(&c->argv[2], "sync") && !arg_eq(&c->argv[2], "async")) {
        reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    functions_flush();
    journal_force(c);
    reply_ok(c);
}

static void reply_function(cmd_ctx *c, const fn_function *f)
{
    reply_map(c, 3);
    reply_bulk_cstr(c, "name");
    reply_bulk_cstr(c, f->name);
    reply_bulk_cstr(c, "description");
    reply_bulk_cstr(c, f->desc); /* NULL: a null reply */
    reply_bulk_cstr(c, "flags");
    script_reply_flags(c, f->flags);
}

static void reply_library(cmd_ctx *c, const fn_library *lib, int with_code)
{
    reply_map(c, with_code ? 4 : 3);
    reply_bulk_cstr(c, "library_name");
    reply_bulk_cstr(c, lib->name);
    reply_bulk_cstr(c, "engine");
    reply_bulk_cstr(c, ENGINE_NAME);
    reply_bulk_cstr(c, "functions");
    reply_array(c, lib->nfuncs);
    for (int i = 0; i < lib->nfuncs; i++)
        reply_function(c, &lib->funcs[i]);
    if (with_code) {
        reply_bulk_cstr(c, "library_code");
        reply_bulk(c, lib->code, lib->code_len);
    }
}

static void function_list_cmd(cmd_ctx *c)
{
    int with_code = 0;
    const slice *pattern = NULL;
    for (int i = 2; i < c->argc; i++) {
        if (!with_code && arg_eq(&c->argv[i], "withcode")) {
            with_code = 1;
            continue;
        }
        if (!pattern && arg_eq(&c->argv[i], "libraryname")) {
            if (i >= c->argc - 1) {
                reply_error(c, "ERR library name argument was not given");
                return;
            }
            pattern = &c->argv[++i];
            continue;
        }
        reply_errorf(c, "ERR Unknown argument %.*s", (int)c->argv[i].len, c->argv[i].p);
        return;
    }
    size_t h = reply_deferred(c);
    long n = 0;
    for (const fn_library *lib = current.head; lib; lib = lib->next) {
        if (pattern && !glob_match(pattern->p, pattern->len, lib->name, strlen(lib->name), 1))
            continue;
        reply_library(c, lib, with_code);
        n++;
    }
    reply_set_deferred_array(c, h, n);
}

/* ---- FUNCTION DUMP / RESTORE ---------------------------------------------------------------- */

/* Redis's CRC-64 (Jones polynomial, reflected, no final xor). Payloads are small: bitwise. */
static uint64_t crc64(uint64_t crc, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ CRC64_JONES_REFLECTED : crc >> 1;
    }
    return crc;
}

static void rdb_write_len(buf *b, uint64_t len)
{
    unsigned char out[9];
    size_t n;
    if (len < (1 << 6)) {
        out[0] = (unsigned char)(RDB_6BITLEN << 6 | len);
        n = 1;
    } else if (len < (1 << 14)) {
        out[0] = (unsigned char)(RDB_14BITLEN << 6 | len >> 8);
        out[1] = (unsigned char)len;
        n = 2;
    } else if (len <= UINT32_MAX) {
        out[0] = RDB_32BITLEN;
        for (int i = 0; i < 4; i++)
            out[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        out[0] = RDB_64BITLEN;
        for (int i = 0; i < 8; i++)
            out[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    buf_append(b, out, n);
}

void function_save_rdb(buf *out)
{
    for (const fn_library *lib = current.head; lib; lib = lib->next) {
        buf_append_char(out, (char)RDB_OPCODE_FUNCTION2);
        rdb_write_len(out, lib->code_len);
        buf_append(out, lib->code, lib->code_len);
    }
}

static void function_dump_cmd(cmd_ctx *c)
{
    buf b;
    buf_init(&b);
    function_save_rdb(&b);
    unsigned char footer[DUMP_FOOTER_LEN];
    footer[0] = RDB_VERSION & 0xff;
    footer[1] = (RDB_VERSION >> 8) & 0xff;
    buf_append(&b, footer, 2);
    uint64_t crc = crc64(0, (const unsigned char *)b.data, b.len);
    for (int i = 0; i < 8; i++)
        footer[i] = (unsigned char)(crc >> (8 * i));
    buf_append(&b, footer, 8);
    reply_bulk(c, b.data, b.len);
    buf_free(&b);
}

typedef struct rdb_reader {
    const unsigned char *p, *end;
} rdb_reader;

/* A length, or with *encoded set the RDB_ENC_* of a specially encoded string. -1 when the
 * input ends. */
static int rdb_read_len(rdb_reader *r, uint64_t *len, int *encoded)
{
    *encoded = 0;
    if (r->p >= r->end)
        return -1;
    unsigned char b = *r->p++;
    int type = (b & 0xc0) >> 6;
    if (type == RDB_ENCVAL) {
        *encoded = 1;
        *len = b & 0x3f;
        return 0;
    }
    if (type == RDB_6BITLEN) {
        *len = b & 0x3f;
        return 0;
    }
    if (type == RDB_14BITLEN) {
        if (r->p >= r->end)
            return -1;
        *len = (uint64_t)(b & 0x3f) << 8 | *r->p++;
        return 0;
    }
    int bytes = b == RDB_32BITLEN ? 4 : b == RDB_64BITLEN ? 8 : 0;
    if (!bytes || r->end - r->p < bytes)
        return -1;
    *len = 0;
    for (int i = 0; i < bytes; i++)
        *len = *len << 8 | *r->p++;
    return 0;
}

/* LZF decompression (the format liblzf writes): literal runs and back references. Returns
 * the bytes written, or 0 on malformed input. */
static size_t lzf_decompress(const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t out_len)
{
    const unsigned char *ip = in, *in_end = in + in_len;
    unsigned char *op = out, *out_end = out + out_len;
    while (ip < in_end) {
        unsigned int ctrl = *ip++;
        if (ctrl < (1 << 5)) {
            ctrl++;
            if ((size_t)(out_end - op) < ctrl || (size_t)(in_end - ip) < ctrl)
                return 0;
            memcpy(op, ip, ctrl);
            op += ctrl;
            ip += ctrl;
            continue;
        }
        unsigned int len = ctrl >> 5;
        size_t back = ((size_t)(ctrl & 0x1f) << 8) + 1;
        if (ip >= in_end)
            return 0;
        if (len == 7) {
            len += *ip++;
            if (ip >= in_end)
                return 0;
        }
        back += *ip++;
        len += 2;
        if ((size_t)(out_end - op) < len || back > (size_t)(op - out))
            return 0;
        for (unsigned int i = 0; i < len; i++, op++)
            *op = op[-(ptrdiff_t)back];
    }
    return (size_t)(op - out);
}

/* An RDB string into out (appended). 0, or -1 on malformed input. */
static int rdb_read_string(rdb_reader *r, buf *out)
{
    uint64_t len;
    int encoded;
    if (rdb_read_len(r, &len, &encoded))
        return -1;
    if (!encoded) {
        if ((uint64_t)(r->end - r->p) < len)
            return -1;
        buf_append(out, r->p, (size_t)len);
        r->p += len;
        return 0;
    }
    if (len == RDB_ENC_LZF) {
        uint64_t clen, ulen;
        int enc2;
        if (rdb_read_len(r, &clen, &enc2) || enc2 || rdb_read_len(r, &ulen, &enc2) || enc2 ||
            (uint64_t)(r->end - r->p) < clen || ulen > RDB_STRING_MAX)
            return -1;
        unsigned char *tmp = mem_malloc(ulen ? (size_t)ulen : 1);
        size_t n = lzf_decompress(r->p, (size_t)clen, tmp, (size_t)ulen);
        if (n != ulen) {
            free(tmp);
            return -1;
        }
        buf_append(out, tmp, n);
        free(tmp);
        r->p += clen;
        return 0;
    }
    int bytes = len == RDB_ENC_INT8 ? 1 : len == RDB_ENC_INT16 ? 2 : len == RDB_ENC_INT32 ? 4 : 0;
    if (!bytes || r->end - r->p < bytes)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint32_t)r->p[i] << (8 * i); /* little endian */
    r->p += bytes;
    long long sv = bytes == 1 ? (int8_t)v : bytes == 2 ? (int16_t)v : (int32_t)v;
    buf_printf(out, "%lld", sv);
    return 0;
}

/* verifyDumpPayload: a known RDB version and a matching CRC. */
static int dump_payload_ok(const unsigned char *p, size_t len)
{
    if (len < DUMP_FOOTER_LEN)
        return 0;
    const unsigned char *footer = p + len - DUMP_FOOTER_LEN;
    unsigned version = (unsigned)footer[0] | (unsigned)footer[1] << 8;
    if (version > RDB_VERSION)
        return 0;
    uint64_t crc = crc64(0, p, len - 8), want = 0;
    for (int i = 0; i < 8; i++)
        want |= (uint64_t)footer[2 + i] << (8 * i);
    return crc == want;
}

/* Reads every library of a payload into set. 0, or -1 with err. */
static int restore_read(const slice *payload, fn_set *set, buf *err)
{
    rdb_reader r = {(const unsigned char *)payload->p,
                    (const unsigned char *)payload->p + payload->len - DUMP_FOOTER_LEN};
    buf code;
    buf_init(&code);
    int rc = -1;
    while (r.p < r.end) {
        int type = *r.p++;
        if (type == RDB_OPCODE_FUNCTION_PRE_GA) {
            buf_printf(err, "Pre-GA function format not supported");
            goto done;
        }
        if (type != RDB_OPCODE_FUNCTION2) {
            buf_printf(err, "given type is not a function");
            goto done;
        }
        buf_clear(&code);
        if (rdb_read_string(&r, &code)) {
            buf_printf(err, "failed loading the given functions payload");
            goto done;
        }
        if (!library_create(code.data ? code.data : "", code.len, 0, set, 0, err))
            goto done;
    }
    rc = 0;
done:
    buf_free(&code);
    return rc;
}

/* Moves the libraries of src into current (libraryJoin); on a name collision nothing moves
 * unless `replace`, which drops the current library of that name. 0, or -1 with err. */
static int restore_join(fn_set *src, int replace, buf *err)
{
    for (fn_library *lib = src->head; lib; lib = lib->next) {
        fn_library *old = set_find_library(&current, lib->name, strlen(lib->name));
        if (old && !replace) {
            buf_printf(err, "Library %s already exists", lib->name);
            return -1;
        }
    }
    for (fn_library *lib = src->head; lib; lib = lib->next) {
        for (int i = 0; i < lib->nfuncs; i++) {
            const char *name = lib->funcs[i].name;
            fn_library *owner;
            /* A function of a library that is about to be replaced does not collide. */
            if (set_find_function(&current, name, strlen(name), NULL, &owner) &&
                !(replace && set_find_library(src, owner->name, strlen(owner->name)))) {
                buf_printf(err, "Function %s already exists", name);
                return -1;
            }
        }
    }
    while (src->head) {
        fn_library *lib = src->head;
        set_unlink(src, lib);
        fn_library *old = set_find_library(&current, lib->name, strlen(lib->name));
        if (old) {
            set_unlink(&current, old);
            library_free(fn_vm, old);
        }
        set_link(&current, lib);
    }
    return 0;
}

enum restore_policy { RESTORE_APPEND, RESTORE_REPLACE, RESTORE_FLUSH };

static void function_restore_cmd(cmd_ctx *c)
{
    if (c->argc > 4) {
        reply_subcommand_syntax_error(c);
        return;
    }
    enum restore_policy policy = RESTORE_APPEND;
    if (c->argc == 4) {
        if (arg_eq(&c->argv[3], "append")) {
            policy = RESTORE_APPEND;
        } else if (arg_eq(&c->argv[3], "replace")) {
            policy = RESTORE_REPLACE;
        } else if (arg_eq(&c->argv[3], "flush")) {
            policy = RESTORE_FLUSH;
        } else {
            reply_error(c, "ERR Wrong restore policy given, value should be either FLUSH, APPEND "
                           "or REPLACE.");
            return;
        }
    }
    if (!dump_payload_ok((const unsigned char *)c->argv[2].p, c->argv[2].len)) {
        reply_error(c, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    fn_set incoming = {NULL};
    buf err;
    buf_init(&err);
    int rc = restore_read(&c->argv[2], &incoming, &err);
    if (rc == 0 && policy == RESTORE_FLUSH) {
        set_clear(&current, fn_vm);
        while (incoming.head) {
            fn_library *lib = incoming.head;
            set_unlink(&incoming, lib);
            set_link(&current, lib);
        }
    } else if (rc == 0) {
        rc = restore_join(&incoming, policy == RESTORE_REPLACE, &err);
    }
    set_clear(&incoming, fn_vm);
    if (rc) {
        reply_buf_error(c, &err);
    } else {
        journal_force(c);
        reply_ok(c);
    }
    buf_free(&err);
}

/* ---- FUNCTION STATS / KILL / HELP ---------------------------------------------------------- */

static void function_stats_cmd(cmd_ctx *c)
{
    if (script_eval_busy()) {
        reply_error(c, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                       "SHUTDOWN NOSAVE.");
        return;
    }
    reply_map(c, 2);
    reply_bulk_cstr(c, "running_script");
    script_reply_running_function(c);
    reply_bulk_cstr(c, "engines");
    reply_map(c, 1);
    reply_bulk_cstr(c, ENGINE_NAME);
    reply_map(c, 2);
    reply_bulk_cstr(c, "libraries_count");
    reply_int(c, atomic_load(&stat_libraries));
    reply_bulk_cstr(c, "functions_count");
    reply_int(c, atomic_load(&stat_functions));
}

static void function_kill_cmd(cmd_ctx *c)
{
    script_kill(c, 0);
}

static void function_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
        NULL,
    };
    reply_help(c, "FUNCTION", lines);
}

static void function_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "FUNCTION");
}

#define FN_SUB .group = "scripting", .since = "7.0.0"
#define FN_ROW(n, p, a, f, aclf, sum)                                                              \
    {                                                                                              \
        .name = n, .proc = p, .arity = a, .flags = f, .acl = aclf, FN_SUB, .summary = sum          \
    }

static command function_subcommands[] = {
    FN_ROW("load", function_load_cmd, -3, CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_ALL_SHARDS,
           ACL_WRITE | ACL_SLOW | ACL_SCRIPTING,
           "Create a function with the given arguments (name, code, description)"),
    FN_ROW("delete", function_delete_cmd, 3, CMD_WRITE | CMD_NOSCRIPT | CMD_ALL_SHARDS,
           ACL_WRITE | ACL_SLOW | ACL_SCRIPTING, "Delete a function by name"),
    FN_ROW("flush", function_flush_cmd, -2, CMD_WRITE | CMD_NOSCRIPT | CMD_ALL_SHARDS,
           ACL_WRITE | ACL_SLOW | ACL_SCRIPTING, "Deleting all functions"),
    FN_ROW("list", function_list_cmd, -2, CMD_NOSCRIPT | CMD_ALL_SHARDS, ACL_SLOW | ACL_SCRIPTING,
           "List information about all the functions"),
    FN_ROW("dump", function_dump_cmd, 2, CMD_NOSCRIPT | CMD_ALL_SHARDS, ACL_SLOW | ACL_SCRIPTING,
           "Dump all functions into a serialized binary payload"),
    FN_ROW("restore", function_restore_cmd, -3,
           CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_ALL_SHARDS,
           ACL_WRITE | ACL_SLOW | ACL_SCRIPTING, "Restore all the functions on the given payload"),
    FN_ROW("stats", function_stats_cmd, 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, ACL_SLOW | ACL_SCRIPTING,
           "Return information about the function currently running (name, description, "
           "duration)"),
    FN_ROW("kill", function_kill_cmd, 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, ACL_SLOW | ACL_SCRIPTING,
           "Kill the function currently in execution."),
    FN_ROW("help", function_help_cmd, 2, CMD_LOADING | CMD_STALE, ACL_SLOW | ACL_SCRIPTING,
           "Show helpful text about the different subcommands"),
    {0},
};

#define FCALL_FLAGS                                                                                \
    (CMD_NOSCRIPT | CMD_SKIP_MONITOR | CMD_MAY_REPLICATE | CMD_STALE | CMD_ALL_SHARDS)

command function_commands[] = {
    {.name = "fcall",
     .proc = fcall_cmd,
     .arity = -3,
     .flags = FCALL_FLAGS,
     .acl = ACL_SLOW | ACL_SCRIPTING,
     .getkeys = script_numkeys_getkeys,
     FN_SUB,
     .summary = "Invoke a function"},
    {.name = "fcall_ro",
     .proc = fcall_ro_cmd,
     .arity = -3,
     .flags = (FCALL_FLAGS & ~CMD_MAY_REPLICATE) | CMD_READONLY,
     .acl = ACL_SLOW | ACL_SCRIPTING,
     .getkeys = script_numkeys_getkeys,
     FN_SUB,
     .summary = "Invoke a read-only function"},
    {.name = "function",
     .proc = function_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     FN_SUB,
     .summary = "A container for function commands",
     .subcommands = function_subcommands},
    {0},
};

/* ---- snapshots (rdb_load.h) ---------------------------------------------------------------- */

/* A FUNCTION2 record of a snapshot: Redis's rdbFunctionLoad creates the library without the
 * load timeout and refuses a name that exists. The caller holds every shard. */
int function_load_from_rdb(const char *code, size_t len, char *err, size_t errlen)
{
    buf msg;
    buf_init(&msg);
    fn_library *lib = library_create(code, len, 0, &current, 0, &msg);
    if (!lib)
        snprintf(err, errlen, "%.*s", (int)msg.len, msg.data ? msg.data : "");
    buf_free(&msg);
    return lib ? 0 : -1;
}
