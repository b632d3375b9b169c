/* EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/DEBUG/HELP.
 *
 * A script is named by the SHA-1 of its body. Compiled scripts live in one Lua interpreter
 * (script.h), in its registry: sha -> function, sha -> flags. Every command that touches the
 * interpreter holds every shard (CMD_ALL_SHARDS), which serializes them across threads; SCRIPT
 * KILL holds none, since it must get through while a script runs. */
#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#include "object.h"
#include "reply.h"
#include "script.h"
#include "sha1.h"
#include "t_server.h"

#define REG_SCRIPTS "dfly.scripts" /* sha -> compiled function */
#define REG_FLAGS "dfly.flags"     /* sha -> SCRIPT_FLAG_* */
#define SHEBANG_PARTS_MAX 64
#define EVAL_ERR_MAX 4096

static lua_State *eval_vm; /* created on first use; SCRIPT FLUSH replaces it */

static lua_State *eval_vm_get(void)
{
    if (!eval_vm) {
        eval_vm = script_vm_new(SCRIPT_VM_EVAL, NULL);
        lua_newtable(eval_vm);
        lua_setfield(eval_vm, LUA_REGISTRYINDEX, REG_SCRIPTS);
        lua_newtable(eval_vm);
        lua_setfield(eval_vm, LUA_REGISTRYINDEX, REG_FLAGS);
    }
    return eval_vm;
}

/* Pushes scripts[sha] (nil when unknown). */
static void push_script(lua_State *L, const char *sha)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
}

static unsigned script_flags(lua_State *L, const char *sha)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
    lua_getfield(L, -1, sha);
    unsigned flags = (unsigned)lua_tonumber(L, -1);
    lua_pop(L, 2);
    return flags;
}

/* ---- shebang ------------------------------------------------------------------------------- */

/* Splits s[0..len) at runs of whitespace; returns the word count (at most max). */
static int split_words(const char *s, size_t len, slice *words, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        while (i < len && isspace((unsigned char)s[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !isspace((unsigned char)s[i]))
            i++;
        words[n].p = s + start;
        words[n].len = i - start;
        n++;
    }
    return n;
}

/* `flags=a,b` of a shebang into *flags; replies and returns -1 on an unknown flag. */
static int parse_shebang_flags(cmd_ctx *c, const slice *w, unsigned *flags)
{
    const char *p = w->p + strlen("flags=");
    const char *end = w->p + w->len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        unsigned f = script_flag_by_name(p, (size_t)(e - p), 0);
        if (!f) {
            reply_errorf(c, "ERR Unexpected flag in script shebang: %.*s", (int)(e - p), p);
            return -1;
        }
        *flags |= f;
        p = comma ? comma + 1 : end;
        if (comma && p == end) { /* a trailing comma names an empty flag */
            reply_error(c, "ERR Unexpected flag in script shebang: ");
            return -1;
        }
    }
    return 0;
}

/* Reads the `#!lua flags=...` line of a body; *skip is where the code starts (the newline is
 * kept, so line numbers stay right). Without a shebang the script runs by Redis 6's rules.
 * Replies and returns -1 on a bad shebang. */
static int parse_shebang(cmd_ctx *c, const slice *body, unsigned *flags, size_t *skip)
{
    *skip = 0;
    if (body->len < 2 || memcmp(body->p, "#!", 2)) {
        *flags = SCRIPT_FLAG_EVAL_COMPAT;
        return 0;
    }
    *flags = 0;
    const char *nl = memchr(body->p, '\n', body->len);
    if (!nl) {
        reply_error(c, "ERR Invalid script shebang");
        return -1;
    }
    *skip = (size_t)(nl - body->p);
    slice w[SHEBANG_PARTS_MAX];
    int n = split_words(body->p, *skip, w, SHEBANG_PARTS_MAX);
    if (n == 0 || !(w[0].len == 5 && !memcmp(w[0].p, "#!lua", 5))) {
        reply_errorf(c, "ERR Unexpected engine in script shebang: %.*s", n ? (int)w[0].len : 0,
                     n ? w[0].p : "");
        return -1;
    }
    for (int i = 1; i < n; i++) {
        if (w[i].len >= 6 && !memcmp(w[i].p, "flags=", 6)) {
            if (parse_shebang_flags(c, &w[i], flags))
                return -1;
        } else {
            reply_errorf(c, "ERR Unknown lua shebang option: %.*s", (int)w[i].len, w[i].p);
            return -1;
        }
    }
    return 0;
}

/* Compiles body as script sha and stores it; pushes the function. Replies and returns -1 on a
 * bad shebang or a syntax error (nothing pushed). */
static int script_create(cmd_ctx *c, lua_State *L, const slice *body, const char *sha)
{
    unsigned flags;
    size_t skip;
    if (parse_shebang(c, body, &flags, &skip))
        return -1;
    if (luaL_loadbuffer(L, body->p + skip, body->len - skip, "@user_script")) {
        char msg[EVAL_ERR_MAX];
        script_error_text(L, -1, msg, sizeof(msg));
        lua_pop(L, 1);
        reply_errorf(c, "ERR Error compiling script (new function): %s", msg);
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    return 0;
}

/* ---- EVAL ------------------------------------------------------------------------------------ */

/* numkeys of EVAL and FCALL: argv[2], at most the arguments after it. */
static int numkeys_or_reply(cmd_ctx *c, long long *numkeys)
{
    if (arg_ll_or_reply(c, &c->argv[2], numkeys, NULL))
        return -1;
    if (*numkeys > c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    if (*numkeys < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return -1;
    }
    return 0;
}

static void reply_noscript(cmd_ctx *c)
{
    reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
}

static void eval_generic(cmd_ctx *c, int evalsha, int ro)
{
    char sha[SHA1_HEX_LEN + 1];
    if (evalsha) {
        /* Only a 40-character name can match; Redis answers before looking at numkeys. */
        if (c->argv[1].len != SHA1_HEX_LEN) {
            reply_noscript(c);
            return;
        }
        for (int i = 0; i < SHA1_HEX_LEN; i++)
            sha[i] = (char)tolower((unsigned char)c->argv[1].p[i]);
        sha[SHA1_HEX_LEN] = '\0';
    }
    long long numkeys;
    if (numkeys_or_reply(c, &numkeys))
        return;
    if (!evalsha)
        sha1_hex(sha, c->argv[1].p, c->argv[1].len);
    lua_State *L = eval_vm_get();
    script_push_error_handler(L);
    push_script(L, sha);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (evalsha || script_create(c, L, &c->argv[1], sha)) {
            if (evalsha)
                reply_noscript(c);
            lua_pop(L, 1); /* the handler */
            return;
        }
    }
    script_run(L, c, sha, script_flags(L, sha), ro, 1, (int)numkeys);
}

static void eval_cmd(cmd_ctx *c)
{
    eval_generic(c, 0, 0);
}

static void evalsha_cmd(cmd_ctx *c)
{
    eval_generic(c, 1, 0);
}

static void eval_ro_cmd(cmd_ctx *c)
{
    eval_generic(c, 0, 1);
}

static void evalsha_ro_cmd(cmd_ctx *c)
{
    eval_generic(c, 1, 1);
}

/* Keys of EVAL-like calls: numkeys at argv[2], then the keys (COMMAND GETKEYS, ACL...). */
int script_numkeys_getkeys(int argc, const slice *argv, int *keys, int max)
{
    long long n;
    if (argc < 3 || !str_to_ll(argv[2].p, argv[2].len, &n) || n < 0 || n > argc - 3)
        return -1;
    if (n > max)
        return -1;
    for (int i = 0; i < (int)n; i++)
        keys[i] = 3 + i;
    return (int)n;
}

/* ---- SCRIPT ---------------------------------------------------------------------------------- */

static void script_load_cmd(cmd_ctx *c)
{
    char sha[SHA1_HEX_LEN + 1];
    sha1_hex(sha, c->argv[2].p, c->argv[2].len);
    lua_State *L = eval_vm_get();
    push_script(L, sha);
    int known = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!known) {
        if (script_create(c, L, &c->argv[2], sha))
            return;
        lua_pop(L, 1);
    }
    reply_bulk(c, sha, SHA1_HEX_LEN);
}

static void script_exists_cmd(cmd_ctx *c)
{
    lua_State *L = eval_vm_get();
    reply_array(c, c->argc - 2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    for (int i = 2; i < c->argc; i++) {
        /* Redis compares the names case-insensitively. */
        char sha[SHA1_HEX_LEN + 1];
        int ok = c->argv[i].len == SHA1_HEX_LEN;
        for (int j = 0; ok && j < SHA1_HEX_LEN; j++)
            sha[j] = (char)tolower((unsigned char)c->argv[i].p[j]);
        if (ok) {
            sha[SHA1_HEX_LEN] = '\0';
            lua_getfield(L, -1, sha);
            ok = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        reply_int(c, ok);
    }
    lua_pop(L, 1);
}

static void script_flush_cmd(cmd_ctx *c)
{
    if (c->argc > 3 ||
        (c->argc == 3 && !arg_eq(&c->argv[2], "sync") && !arg_eq(&c->argv[2], "async"))) {
        reply_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    /* A new interpreter: whatever the old scripts left behind goes with it. */
    script_vm_free(eval_vm);
    eval_vm = NULL;
    reply_ok(c);
}

static void script_kill_cmd(cmd_ctx *c)
{
    script_kill(c, 1);
}

/* There is no script debugger; NO (the default) is accepted. */
static void script_debug_cmd(cmd_ctx *c)
{
    if (arg_eq(&c->argv[2], "no"))
        reply_ok(c);
    else if (arg_eq(&c->argv[2], "yes") || arg_eq(&c->argv[2], "sync"))
        reply_error(c, "ERR The Lua debugger is not supported");
    else
        reply_error(c, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
}

static void script_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        NULL,
    };
    reply_help(c, "SCRIPT", lines);
}

static void script_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "SCRIPT");
}

size_t script_eval_memory(void)
{
    return script_vm_memory(eval_vm);
}

#define EVAL_FLAGS                                                                                 \
    (CMD_NOSCRIPT | CMD_SKIP_MONITOR | CMD_MAY_REPLICATE | CMD_STALE | CMD_ALL_SHARDS)
#define EVAL_RO_FLAGS (CMD_NOSCRIPT | CMD_SKIP_MONITOR | CMD_STALE | CMD_READONLY | CMD_ALL_SHARDS)
#define EVAL_ROW(n, p, f, s, sum)                                                                  \
    {                                                                                              \
        .name = n, .proc = p, .arity = -3, .flags = f, .acl = ACL_SLOW | ACL_SCRIPTING,            \
        .getkeys = script_numkeys_getkeys, .group = "scripting", .since = s, .summary = sum        \
    }
#define SCRIPT_SUB .group = "scripting", .acl = ACL_SLOW | ACL_SCRIPTING

static command script_subcommands[] = {
    {.name = "load",
     .proc = script_load_cmd,
     .arity = 3,
     .flags = CMD_NOSCRIPT | CMD_STALE | CMD_ALL_SHARDS,
     SCRIPT_SUB,
     .since = "2.6.0",
     .summary = "Load the specified Lua script into the script cache."},
    {.name = "exists",
     .proc = script_exists_cmd,
     .arity = -3,
     .flags = CMD_NOSCRIPT | CMD_STALE | CMD_ALL_SHARDS,
     SCRIPT_SUB,
     .since = "2.6.0",
     .summary = "Check existence of scripts in the script cache."},
    {.name = "flush",
     .proc = script_flush_cmd,
     .arity = -2,
     .flags = CMD_NOSCRIPT | CMD_MAY_REPLICATE | CMD_ALL_SHARDS,
     SCRIPT_SUB,
     .since = "2.6.0",
     .summary = "Remove all the scripts from the script cache."},
    {.name = "kill",
     .proc = script_kill_cmd,
     .arity = 2,
     .flags = CMD_NOSCRIPT | CMD_ALLOW_BUSY,
     SCRIPT_SUB,
     .since = "2.6.0",
     .summary = "Kill the script currently in execution."},
    {.name = "debug",
     .proc = script_debug_cmd,
     .arity = 3,
     .flags = CMD_NOSCRIPT,
     SCRIPT_SUB,
     .since = "3.2.0",
     .summary = "Set the debug mode for executed scripts."},
    {.name = "help",
     .proc = script_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE,
     SCRIPT_SUB,
     .since = "5.0.0",
     .summary = "Show helpful text about the different subcommands"},
    {0},
};

command scripting_commands[] = {
    EVAL_ROW("eval", eval_cmd, EVAL_FLAGS, "2.6.0", "Execute a Lua script server side"),
    EVAL_ROW("evalsha", evalsha_cmd, EVAL_FLAGS, "2.6.0", "Execute a Lua script server side"),
    EVAL_ROW("eval_ro", eval_ro_cmd, EVAL_RO_FLAGS, "7.0.0",
             "Execute a read-only Lua script server side"),
    EVAL_ROW("evalsha_ro", evalsha_ro_cmd, EVAL_RO_FLAGS, "7.0.0",
             "Execute a read-only Lua script server side"),
    {.name = "script",
     .proc = script_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     .group = "scripting",
     .since = "2.6.0",
     .summary = "A container for Lua scripts management commands",
     .subcommands = script_subcommands},
    {0},
};
