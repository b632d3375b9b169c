/* The Lua engine: interpreters and their sandbox, the redis.* API, reply <-> Lua conversions,
 * running a script, busy replies and SCRIPT KILL. See script.h. */
#include "script.h"

#include <lauxlib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "alloc.h"
#include "busy.h"
#include "client.h"
#include "clock.h"
#include "dispatch.h"
#include "log.h"
#include "multi.h"
#include "reply.h"
#include "server.h"
#include "sha1.h"
#include "stats.h"
#include "worker.h"

/* Registry keys of an interpreter. */
#define REG_PROXIES "dfly.proxies"  /* weak-keyed: read-only proxy -> the table behind it */
#define REG_GLOBALS "dfly.globals"  /* the real globals, behind the proxy scripts see */
#define REG_GLOBALS_MT "dfly.gmeta" /* the proxy's metatable: its __index picks the globals */
#define REG_LOAD_API "dfly.loadapi" /* FUNCTION LOAD's globals (function interpreters) */
#define REG_HANDLER "dfly.errhandler"

#define ERR_READONLY "Attempt to modify a readonly table"
#define ERR_KILLED "Script killed by user with SCRIPT KILL..."
#define ERR_BUSY_EVAL                                                                              \
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define ERR_BUSY_FUNCTION                                                                          \
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

#define HOOK_INSTRUCTIONS 100000 /* the count hook runs this often (Redis's figure) */
#define GC_STEP_PERIOD 50        /* scripts between incremental collector steps (Redis's) */
#define ARGV_STACK 16            /* redis.call arguments converted without allocating */
#define NUMBER_TEXT_MAX 32       /* "%.17g" of a Lua number */
#define RAND48_MAX 0x7fffffff    /* REDIS_LRAND48_MAX */

/* Redis's log levels, as redis.log takes them. */
enum { RLOG_DEBUG = 0, RLOG_VERBOSE, RLOG_NOTICE, RLOG_WARNING };

/* ---- flags ----------------------------------------------------------------------------------- */

static const struct {
    unsigned flag;
    const char *name;
} flag_names[] = {
    {SCRIPT_FLAG_NO_WRITES, "no-writes"},
    {SCRIPT_FLAG_ALLOW_OOM, "allow-oom"},
    {SCRIPT_FLAG_ALLOW_STALE, "allow-stale"},
    {SCRIPT_FLAG_NO_CLUSTER, "no-cluster"},
    {SCRIPT_FLAG_ALLOW_CROSS_SLOT, "allow-cross-slot-keys"},
};
#define FLAG_NAMES (sizeof(flag_names) / sizeof(flag_names[0]))

unsigned script_flag_by_name(const char *name, size_t len, int nocase)
{
    for (size_t i = 0; i < FLAG_NAMES; i++) {
        const char *n = flag_names[i].name;
        if (strlen(n) == len && (nocase ? !strncasecmp(n, name, len) : !memcmp(n, name, len)))
            return flag_names[i].flag;
    }
    return 0;
}

void script_reply_flags(cmd_ctx *c, unsigned flags)
{
    long n = 0;
    for (size_t i = 0; i < FLAG_NAMES; i++)
        n += (flags & flag_names[i].flag) != 0;
    reply_set(c, n);
    for (size_t i = 0; i < FLAG_NAMES; i++)
        if (flags & flag_names[i].flag)
            reply_simple(c, flag_names[i].name);
}

/* ---- the running script ------------------------------------------------------------------ */

/* What other threads may see of the running script. run_state packs a generation number (one
 * per run, so that a late SCRIPT KILL cannot hit the next script) and the RUN_* state. */
enum { RUN_IDLE = 0, RUN_CLEAN, RUN_DIRTY, RUN_KILLED };
#define RUN_STATE_BITS 2
#define RUN_STATE_MASK ((1u << RUN_STATE_BITS) - 1)

static _Atomic uint64_t run_state;
static _Atomic uint64_t run_start_ms; /* monotonic; the run's start */
static _Atomic int run_is_eval;
/* FUNCTION STATS shows the running function's name and command: a copy, under the lock. */
static pthread_mutex_t run_info_lock = PTHREAD_MUTEX_INITIALIZER;
static buf run_info; /* name NUL, then argc, then each argument as length and bytes */

/* The running script, for the redis.* functions. Touched by the running thread only. */
typedef struct script_ctx {
    cmd_ctx *caller;
    int dbid;        /* changed by SELECT inside the script */
    int resp;        /* how command replies convert (redis.setresp) */
    int readonly;    /* writes are refused */
    int allow_oom;   /* writes go on over maxmemory */
    int64_t now_ms;  /* one instant for the whole script: keys do not expire midway */
    uint64_t gen;    /* run_state generation */
    int caller_dbid; /* restored after the script: SELECT inside it does not leak out */
} script_ctx;

static script_ctx *cur;

static uint64_t state_gen(uint64_t s)
{
    return s >> RUN_STATE_BITS;
}

static unsigned state_of(uint64_t s)
{
    return (unsigned)(s & RUN_STATE_MASK);
}

static int shutdown_kills(void)
{
    int asked = atomic_load(&server.shutdown_asked);
    return (asked & SHUTDOWN_ASKED) &&
           ((asked & SHUTDOWN_NOSAVE) || state_of(atomic_load(&run_state)) == RUN_CLEAN);
}

/* Marks the running script as having written; 0 when it was killed meanwhile. */
static int run_mark_dirty(void)
{
    uint64_t s = atomic_load(&run_state);
    while (state_of(s) == RUN_CLEAN) {
        uint64_t dirty = (state_gen(s) << RUN_STATE_BITS) | RUN_DIRTY;
        if (atomic_compare_exchange_weak(&run_state, &s, dirty))
            return 1;
    }
    return state_of(s) == RUN_DIRTY;
}

static void run_info_set(const char *name, int argc, const slice *argv)
{
    pthread_mutex_lock(&run_info_lock);
    buf_clear(&run_info);
    buf_append(&run_info, name, strlen(name) + 1);
    buf_append(&run_info, &argc, sizeof(argc));
    for (int i = 0; i < argc; i++) {
        buf_append(&run_info, &argv[i].len, sizeof(argv[i].len));
        buf_append(&run_info, argv[i].p, argv[i].len);
    }
    pthread_mutex_unlock(&run_info_lock);
}

static void run_begin(script_ctx *sc, const char *name, int is_eval, int argc, const slice *argv)
{
    uint64_t gen = state_gen(atomic_load(&run_state)) + 1;
    sc->gen = gen;
    if (!is_eval)
        run_info_set(name, argc, argv);
    atomic_store(&run_is_eval, is_eval);
    atomic_store(&run_start_ms, clock_mono_ms());
    atomic_store(&run_state, (gen << RUN_STATE_BITS) | RUN_CLEAN);
    cur = sc;
}

static void run_end(script_ctx *sc)
{
    atomic_store(&run_state, sc->gen << RUN_STATE_BITS | RUN_IDLE);
    atomic_store(&run_start_ms, 0);
    cur = NULL;
}

/* 1 while a script has run for longer than busy-reply-threshold (0 disables the threshold). */
static int run_is_busy(void)
{
    uint64_t start = atomic_load(&run_start_ms);
    long long limit = server.cfg.busy_reply_threshold;
    return start && limit > 0 && clock_mono_ms() - start >= (uint64_t)limit;
}

int script_busy(void)
{
    return run_is_busy();
}

int script_busy_reject(cmd_ctx *c, const command *cmd)
{
    if (!run_is_busy())
        return 0;
    int allowed = (cmd->flags & CMD_ALLOW_BUSY) != 0;
    /* Redis lets SHUTDOWN through only with NOSAVE while a script is busy. */
    if (allowed && !strcmp(cmd->name, "shutdown")) {
        allowed = 0;
        for (int i = 1; i < c->argc; i++)
            if (arg_eq(&c->argv[i], "nosave"))
                allowed = 1;
    }
    if (allowed)
        return 0;
    const char *busy = atomic_load(&run_is_eval) ? ERR_BUSY_EVAL : ERR_BUSY_FUNCTION;
    counter_add(&current_worker->cmdstats[cmd->id].rejected, 1);
    if (c->cl && !strcmp(cmd->name, "exec")) {
        /* Redis's rejectCommand: a refused EXEC discards the transaction, and says why. */
        reply_errorf(c, "EXECABORT Transaction discarded because of: %s", busy);
        multi_reset(c->cl);
        return 1;
    }
    reply_error(c, busy);
    if (c->cl && (c->cl->flags & CLIENT_MULTI))
        c->cl->flags |= CLIENT_DIRTY_EXEC;
    return 1;
}

void script_kill(cmd_ctx *c, int is_eval)
{
    uint64_t s = atomic_load(&run_state);
    for (;;) {
        switch (state_of(s)) {
        case RUN_IDLE: reply_error(c, "NOTBUSY No scripts in execution right now."); return;
        case RUN_DIRTY:
            reply_error(c, "UNKILLABLE Sorry the script already executed write commands against "
                           "the dataset. You can either wait the script termination or kill the "
                           "server in a hard way using the SHUTDOWN NOSAVE command.");
            return;
        case RUN_KILLED: reply_ok(c); return;
        default: break;
        }
        int eval_runs = atomic_load(&run_is_eval);
        if (is_eval != eval_runs) {
            reply_error(c, eval_runs ? ERR_BUSY_EVAL : ERR_BUSY_FUNCTION);
            return;
        }
        uint64_t killed = (state_gen(s) << RUN_STATE_BITS) | RUN_KILLED;
        if (atomic_compare_exchange_weak(&run_state, &s, killed)) {
            reply_ok(c);
            return;
        }
    }
}

int script_eval_busy(void)
{
    return atomic_load(&run_is_eval) && run_is_busy();
}

void script_reply_running_function(cmd_ctx *c)
{
    uint64_t start = atomic_load(&run_start_ms);
    if (!start || atomic_load(&run_is_eval)) {
        reply_null(c);
        return;
    }
    pthread_mutex_lock(&run_info_lock);
    const char *p = run_info.data;
    if (!p) {
        pthread_mutex_unlock(&run_info_lock);
        reply_null(c);
        return;
    }
    reply_map(c, 3);
    reply_bulk_cstr(c, "name");
    reply_bulk_cstr(c, p);
    p += strlen(p) + 1;
    int argc;
    memcpy(&argc, p, sizeof(argc));
    p += sizeof(argc);
    reply_bulk_cstr(c, "command");
    reply_array(c, argc);
    for (int i = 0; i < argc; i++) {
        size_t len;
        memcpy(&len, p, sizeof(len));
        p += sizeof(len);
        reply_bulk(c, p, len);
        p += len;
    }
    pthread_mutex_unlock(&run_info_lock);
    reply_bulk_cstr(c, "duration_ms");
    uint64_t now = clock_mono_ms();
    reply_int(c, now > start ? (long long)(now - start) : 0);
}

/* ---- errors ------------------------------------------------------------------------------- */

void script_push_error(lua_State *L, const char *msg, size_t len)
{
    const char *code = "ERR";
    size_t code_len = 3;
    if (len && msg[0] == '-') {
        const char *sp = memchr(msg, ' ', len);
        if (sp) {
            code = msg + 1;
            code_len = (size_t)(sp - msg - 1);
            len -= (size_t)(sp + 1 - msg);
            msg = sp + 1;
        } else {
            msg++;
            len--;
        }
    }
    while (len && (msg[len - 1] == '\r' || msg[len - 1] == '\n'))
        len--;
    lua_newtable(L);
    lua_pushliteral(L, "err");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, len);
    luaL_pushresult(&b);
    lua_rawset(L, -3);
}

static void push_error_cstr(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
}

/* Raises msg as a Redis error table: the script stops unless it catches it. */
static int raise_error(lua_State *L, const char *msg)
{
    push_error_cstr(L, msg);
    return lua_error(L);
}

size_t script_error_text(lua_State *L, int idx, char *out, size_t outlen)
{
    const char *s = NULL;
    size_t len = 0;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) {
        s = lua_tolstring(L, idx, &len);
    } else if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "err");
        if (lua_isstring(L, -1))
            s = lua_tolstring(L, -1, &len);
        lua_pop(L, 1); /* the string stays alive: the table holds it */
    }
    if (!s) {
        s = "unknown error";
        len = strlen(s);
    }
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, s, len);
    out[len] = '\0';
    return len;
}

/* ---- redis.call / redis.pcall ------------------------------------------------------------ */

/* The arguments of a redis.call, converted. Strings point into the Lua stack, which keeps them
 * alive until the call returns; numbers are formatted into num[]. */
typedef struct call_args {
    int argc;
    slice *argv;
    char (*num)[NUMBER_TEXT_MAX];
    slice argv_stack[ARGV_STACK];
    char num_stack[ARGV_STACK][NUMBER_TEXT_MAX];
} call_args;

static void call_args_free(call_args *a)
{
    if (a->argv != a->argv_stack) {
        free(a->argv);
        free(a->num);
    }
}

/* Converts the Lua arguments; returns NULL (an error message) when one is not a string or a
 * number. Numbers are written as "%.17g": Lua's own conversion loses precision. */
static const char *call_args_init(lua_State *L, call_args *a)
{
    a->argc = lua_gettop(L);
    a->argv = a->argv_stack;
    a->num = a->num_stack;
    if (a->argc > ARGV_STACK) {
        a->argv = mem_malloc(sizeof(slice) * (size_t)a->argc);
        a->num = mem_malloc(sizeof(*a->num) * (size_t)a->argc);
    }
    for (int i = 0; i < a->argc; i++) {
        int t = lua_type(L, i + 1);
        if (t == LUA_TNUMBER) {
            int n = snprintf(a->num[i], NUMBER_TEXT_MAX, "%.17g", (double)lua_tonumber(L, i + 1));
            a->argv[i].p = a->num[i];
            a->argv[i].len = (size_t)n;
        } else if (t == LUA_TSTRING) {
            a->argv[i].p = lua_tolstring(L, i + 1, &a->argv[i].len);
        } else {
            return "Lua redis lib command arguments must be strings or integers";
        }
    }
    return NULL;
}

/* The checks Redis makes before a script's command runs (scriptCall); NULL when it may run. */
static const char *call_check(script_ctx *sc, cmd_ctx *sub, const command *container)
{
    const command *cmd = sub->cmd;
    /* A container that matched no subcommand is unknown too, as Redis's lookup has it. */
    if (!cmd || (cmd->subcommands && !container && sub->argc >= 2))
        return "Unknown Redis command called from script";
    if (!command_arity_ok(cmd, sub->argc))
        return "Wrong number of args calling Redis command from script";
    if ((cmd->flags & CMD_NOSCRIPT) || (container && (container->flags & CMD_NOSCRIPT)))
        return "This Redis command is not allowed from script";
    if (acl_restricted(sub->cl, cmd))
        return ERR_RESTRICTED_TEXT; /* the script error adds "ERR " */
    /* The script runs with its caller's permissions (Redis's scriptVerifyACL). */
    int pos;
    int why =
        sub->cl ? acl_check_client(sub->cl, cmd, container, sub->argc, sub->argv, ACL_CTX_LUA, &pos)
                : ACL_OK;
    if (why != ACL_OK)
        return acl_script_error(why);
    int write = (cmd->flags & CMD_WRITE) != 0;
    if (write && sc->readonly)
        return "Write commands are not allowed from read-only scripts.";
    /* Over maxmemory a script may not start writing, but once it wrote it must finish. */
    if (!sc->allow_oom && state_of(atomic_load(&run_state)) != RUN_DIRTY &&
        !dispatch_memory_ok(sub))
        return ERR_OOM;
    if (write && !run_mark_dirty())
        return ERR_KILLED;
    return NULL;
}

static int redis_generic_call(lua_State *L, int raise)
{
    script_ctx *sc = cur;
    if (!sc)
        return raise_error(L, "redis.call/pcall can only be called inside a script invocation");
    if (lua_gettop(L) == 0) {
        push_error_cstr(L, "Please specify at least one argument for this redis lib call");
        return raise ? lua_error(L) : 1;
    }
    call_args a;
    const char *err = call_args_init(L, &a);
    if (err) {
        call_args_free(&a);
        push_error_cstr(L, err);
        return raise ? lua_error(L) : 1;
    }
    const command *container;
    cmd_ctx sub = {
        .cl = sc->caller->cl,
        .cmd = command_lookup(a.argc, a.argv, &container),
        .argc = a.argc,
        .argv = a.argv,
        .dbid = sc->dbid,
        .resp = sc->resp,
        .now_ms = sc->now_ms,
        .flags = CTX_IN_SCRIPT,
    };
    buf out;
    buf_init(&out);
    sub.out = &out;
    err = call_check(sc, &sub, container);
    if (err) {
        call_args_free(&a);
        buf_free(&out);
        push_error_cstr(L, err);
        lua_pushliteral(L, "ignore_error_stats_update");
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        return raise ? lua_error(L) : 1;
    }
    dispatch_call(&sub);
    sc->dbid = sub.dbid; /* SELECT */
    call_args_free(&a);
    lua_settop(L, 0); /* the arguments are no longer needed; room for the reply */
    int failed = out.len && out.data[0] == '-';
    script_push_reply(L, out.data, out.len);
    buf_free(&out);
    return raise && failed ? lua_error(L) : 1;
}

static int lua_redis_call(lua_State *L)
{
    return redis_generic_call(L, 1);
}

static int lua_redis_pcall(lua_State *L)
{
    return redis_generic_call(L, 0);
}

/* The global pcall: Redis 7 raises errors as tables; pcall hands scripts their message, as
 * Redis 6 did. */
static int lua_pcall_compat(lua_State *L)
{
    luaL_checkany(L, 1);
    int argc = lua_gettop(L);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

/* ---- the rest of redis.* ------------------------------------------------------------------ */

static int lua_redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return raise_error(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex(hex, s ? s : "", s ? len : 0);
    lua_pushstring(L, hex);
    return 1;
}

static int lua_redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error_cstr(L, "wrong number or type of arguments");
        return 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len && s[0] == '-') {
        script_push_error(L, s, len);
        return 1;
    }
    lua_pushliteral(L, "-");
    lua_pushvalue(L, 1);
    lua_concat(L, 2);
    s = lua_tolstring(L, -1, &len);
    script_push_error(L, s, len);
    return 1;
}

static int lua_redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error_cstr(L, "wrong number or type of arguments");
        return 1;
    }
    lua_newtable(L);
    lua_pushliteral(L, "ok");
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    return 1;
}

static int lua_redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return raise_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < RLOG_DEBUG || level > RLOG_WARNING)
        return raise_error(L, "Invalid debug level.");
    static const enum log_level map[] = {LOG_DEBUG, LOG_DEBUG, LOG_INFO, LOG_WARNING};
    if (map[level] < log_get_level())
        return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int j = 2; j <= argc; j++) {
        size_t len;
        const char *s = lua_tolstring(L, j, &len);
        if (!s)
            continue;
        if (j != 2)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    log_write(map[level], "%s", lua_tostring(L, -1));
    return 0;
}

static int lua_redis_setresp(lua_State *L)
{
    if (!cur)
        return raise_error(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return raise_error(L, "RESP version must be 2 or 3.");
    cur->resp = resp;
    return 0;
}

/* Replication is a later issue: the flags are checked and accepted. */
static int lua_redis_set_repl(lua_State *L)
{
    if (!cur)
        return raise_error(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, -1);
    if (flags & ~3)
        return raise_error(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

/* redis.acl_check_cmd(cmd, args...): may the script's caller run it? (No log entry.) */
static int lua_redis_acl_check_cmd(lua_State *L)
{
    if (!cur)
        return raise_error(L, "redis.acl_check_cmd can only be called inside a script invocation");
    if (lua_gettop(L) == 0)
        return raise_error(L, "Please specify at least one argument for this redis lib call");
    call_args a;
    const char *err = call_args_init(L, &a);
    const command *container;
    const command *cmd = err ? NULL : command_lookup(a.argc, a.argv, &container);
    if (err || !cmd) {
        call_args_free(&a);
        return raise_error(L, err ? err : "Invalid command passed to redis.acl_check_cmd()");
    }
    int pos;
    client *cl = cur->caller->cl;
    int ok = !cl || acl_check(acl_client_user(cl), cmd, a.argc, a.argv, &pos) == ACL_OK;
    call_args_free(&a);
    lua_pushboolean(L, ok);
    return 1;
}

static int lua_redis_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int lua_redis_false(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int lua_redis_nothing(lua_State *L)
{
    (void)L;
    return 0;
}

/* math.random and math.randomseed on Redis's rand48, so every platform gives the same
 * sequence. */
static uint64_t rand48_state;
#define RAND48_MUL 0x5deece66dull
#define RAND48_ADD 0xbull
#define RAND48_MASK ((1ull << 48) - 1)
#define RAND48_SEED_LOW 0x330e

static void rand48_seed(int32_t seed)
{
    rand48_state = ((uint64_t)(uint32_t)seed << 16 | RAND48_SEED_LOW) & RAND48_MASK;
}

static int32_t rand48_next(void)
{
    rand48_state = (rand48_state * RAND48_MUL + RAND48_ADD) & RAND48_MASK;
    return (int32_t)(rand48_state >> 17);
}

static int lua_math_random(lua_State *L)
{
    lua_Number r = (lua_Number)(rand48_next() % RAND48_MAX) / (lua_Number)RAND48_MAX;
    switch (lua_gettop(L)) {
    case 0: lua_pushnumber(L, r); break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default: return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int lua_math_randomseed(lua_State *L)
{
    rand48_seed(luaL_checkint(L, 1));
    return 0;
}

/* ---- the sandbox -------------------------------------------------------------------------- */

/* Scripts see read-only proxies: empty tables whose metatable reads through to the real table
 * and refuses writes, as Redis 7's patched Lua refuses writes to protected tables. Stock Lua 5.1
 * has no such flag, so the functions that bypass metatables (rawset, rawget, next, pairs,
 * setmetatable) are wrapped to see through the proxies. */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, ERR_READONLY);
}

/* Raised from a C function: no position, as Redis's rawset gives none. */
static int ro_refuse(lua_State *L)
{
    lua_pushliteral(L, ERR_READONLY);
    return lua_error(L);
}

static int missing_global(lua_State *L)
{
    if (lua_gettop(L) != 2)
        return luaL_error(L, "Wrong number of arguments to luaProtectedTableError");
    if (!lua_isstring(L, -1) && !lua_isnumber(L, -1))
        return luaL_error(L,
                          "Second argument to luaProtectedTableError must be a string or number");
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      lua_tostring(L, -1));
}

/* Sets the metatable that raises "nonexistent global variable" on the table on top. */
static void set_error_metatable(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

/* Pushes the table behind proxy idx, or idx itself when it is no proxy. Upvalue 1 of the
 * calling closure is the proxies table. */
static void push_real(lua_State *L, int idx)
{
    lua_pushvalue(L, idx);
    lua_rawget(L, lua_upvalueindex(1));
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
    }
}

static int is_proxy(lua_State *L, int idx)
{
    lua_pushvalue(L, idx);
    lua_rawget(L, lua_upvalueindex(1));
    int yes = !lua_isnil(L, -1);
    lua_pop(L, 1);
    return yes;
}

static int sb_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    push_real(L, 1);
    lua_replace(L, 1);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int sb_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(2)); /* our next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int sb_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    push_real(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int sb_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_proxy(L, 1))
        return ro_refuse(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int sb_setmetatable(lua_State *L)
{
    if (lua_istable(L, 1) && is_proxy(L, 1))
        return ro_refuse(L);
    lua_pushvalue(L, lua_upvalueindex(2)); /* the original setmetatable */
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Pushes a read-only proxy of the table at idx. */
static void push_proxy(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    /* getmetatable() hands out a read-only stand-in, never the metatable itself. */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushliteral(L, "placeholder");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1))
        lua_pop(L, 1);
    else
        lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* The registry's proxies table (weak keys) and the stand-in that getmetatable() returns. */
static void proxies_init(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_newtable(L);
    push_proxy(L, -1); /* there is no placeholder yet: hide this one's metatable by hand */
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushliteral(L, "placeholder");
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 3);
}

/* Replaces globals[name] (a table) by its read-only proxy. G is at gidx. */
static void protect_global(lua_State *L, int gidx, const char *name)
{
    lua_getfield(L, gidx, name);
    if (lua_istable(L, -1)) {
        push_proxy(L, -1);
        lua_setfield(L, gidx, name);
    }
    lua_pop(L, 1);
}

/* The string metatable reads through a proxy too, and hides itself behind one. */
static void protect_string_metatable(lua_State *L, int gidx)
{
    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, gidx, "string");
    lua_setfield(L, -2, "__index");
    push_proxy(L, -1);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
}

/* The sandbox functions that see through proxies, replacing the base library's. */
static void install_wrappers(lua_State *L, int gidx)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    int p = lua_gettop(L);
    lua_pushvalue(L, p);
    lua_pushcclosure(L, sb_next, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, gidx, "next");
    lua_pushvalue(L, p);
    lua_insert(L, -2);
    lua_pushcclosure(L, sb_pairs, 2); /* proxies, next */
    lua_setfield(L, gidx, "pairs");
    lua_pushvalue(L, p);
    lua_pushcclosure(L, sb_rawget, 1);
    lua_setfield(L, gidx, "rawget");
    lua_pushvalue(L, p);
    lua_pushcclosure(L, sb_rawset, 1);
    lua_setfield(L, gidx, "rawset");
    lua_pushvalue(L, p);
    lua_getfield(L, gidx, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 2); /* proxies, the original */
    lua_setfield(L, gidx, "setmetatable");
    lua_pop(L, 1);
}

/* ---- interpreters ------------------------------------------------------------------------- */

static void open_lib(lua_State *L, int gidx, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (*name && lua_istable(L, -1))
        lua_setfield(L, gidx, name);
    else
        lua_pop(L, 1);
}

static void set_number(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

static void set_function(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
}

/* redis.log, the LOG_* levels and the versions, into the table on top. */
static void register_log_and_version(lua_State *L)
{
    set_function(L, "log", lua_redis_log);
    set_number(L, "LOG_DEBUG", RLOG_DEBUG);
    set_number(L, "LOG_VERBOSE", RLOG_VERBOSE);
    set_number(L, "LOG_NOTICE", RLOG_NOTICE);
    set_number(L, "LOG_WARNING", RLOG_WARNING);
    int major = 0, minor = 0, patch = 0;
    sscanf(DFLY_REDIS_VERSION, "%d.%d.%d", &major, &minor, &patch);
    set_number(L, "REDIS_VERSION_NUM", (major << 16) | (minor << 8) | patch);
    lua_pushstring(L, DFLY_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
}

/* The redis table of scripts (luaRegisterRedisAPI); EVAL's adds the debugger stubs. */
static void push_redis_api(lua_State *L, enum script_vm_kind kind)
{
    lua_newtable(L);
    set_function(L, "call", lua_redis_call);
    set_function(L, "pcall", lua_redis_pcall);
    register_log_and_version(L);
    set_function(L, "setresp", lua_redis_setresp);
    set_function(L, "sha1hex", lua_redis_sha1hex);
    set_function(L, "error_reply", lua_redis_error_reply);
    set_function(L, "status_reply", lua_redis_status_reply);
    set_function(L, "set_repl", lua_redis_set_repl);
    set_number(L, "REPL_NONE", 0);
    set_number(L, "REPL_AOF", 1);
    set_number(L, "REPL_SLAVE", 2);
    set_number(L, "REPL_REPLICA", 2);
    set_number(L, "REPL_ALL", 3);
    set_function(L, "acl_check_cmd", lua_redis_acl_check_cmd);
    if (kind == SCRIPT_VM_EVAL) {
        /* There is no script debugger: breakpoint() says so, debug() logs nowhere. */
        set_function(L, "breakpoint", lua_redis_false);
        set_function(L, "debug", lua_redis_nothing);
        set_function(L, "replicate_commands", lua_redis_true);
    }
}

/* Redis's error handler: a table error gets the script position where it was raised (skipping
 * the C function that raised it), a string becomes {err = "ERR ..."}. */
static const char error_handler_code[] = "local dbg = debug\n"
                                         "return function (err)\n"
                                         "  local i = dbg.getinfo(2,'nSl')\n"
                                         "  if i and i.what == 'C' then\n"
                                         "    i = dbg.getinfo(3,'nSl')\n"
                                         "  end\n"
                                         "  if type(err) ~= 'table' then\n"
                                         "    err = {err='ERR ' .. tostring(err)}\n"
                                         "  end\n"
                                         "  if i then\n"
                                         "    err['source'] = i.source\n"
                                         "    err['line'] = i.currentline\n"
                                         "  end\n"
                                         "  return err\n"
                                         "end\n";

static void make_error_handler(lua_State *L, int gidx, enum script_vm_kind kind)
{
    if (luaL_loadbuffer(L, error_handler_code, sizeof(error_handler_code) - 1,
                        "@err_handler_def") ||
        lua_pcall(L, 0, 1, 0))
        mem_oom_in("setting up a Lua VM"); /* our own code: cannot fail but for memory */
    if (kind == SCRIPT_VM_EVAL) {
        lua_pushvalue(L, -1);
        lua_setfield(L, gidx, "__redis__err__handler");
    }
    lua_setfield(L, LUA_REGISTRYINDEX, REG_HANDLER);
}

/* FUNCTION LOAD's globals: only redis.register_function, redis.log and the versions. */
static void make_load_api(lua_State *L, lua_CFunction register_function)
{
    lua_newtable(L); /* the globals */
    lua_newtable(L); /* their redis */
    set_function(L, "register_function", register_function);
    register_log_and_version(L);
    set_error_metatable(L);
    push_proxy(L, -1);
    lua_setfield(L, -3, "redis");
    lua_pop(L, 1);
    set_error_metatable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LOAD_API);
}

/* Base library functions scripts do not get (7.0's globals). */
static const char *const removed_globals[] = {"dofile",  "loadfile", "print",
                                              "getfenv", "setfenv",  "newproxy"};
/* Tables scripts see read-only. */
static const char *const protected_globals[] = {"string",   "table", "math",   "coroutine", "cjson",
                                                "cmsgpack", "bit",   "struct", "redis"};

lua_State *script_vm_new(enum script_vm_kind kind, lua_CFunction register_function)
{
    lua_State *L = luaL_newstate();
    if (!L)
        mem_oom_in("setting up a Lua VM");
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    int g = lua_gettop(L);
    open_lib(L, g, "", luaopen_base);
    open_lib(L, g, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, g, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, g, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, g, LUA_DBLIBNAME, luaopen_debug);
    open_lib(L, g, "cjson", luaopen_cjson);
    open_lib(L, g, "struct", luaopen_struct);
    open_lib(L, g, "cmsgpack", luaopen_cmsgpack);
    open_lib(L, g, "bit", luaopen_bit);
    for (size_t i = 0; i < sizeof(removed_globals) / sizeof(removed_globals[0]); i++) {
        lua_pushnil(L);
        lua_setfield(L, g, removed_globals[i]);
    }
    lua_pushcfunction(L, lua_pcall_compat);
    lua_setfield(L, g, "pcall");
    push_redis_api(L, kind);
    lua_setfield(L, g, "redis");
    lua_getfield(L, g, "math");
    set_function(L, "random", lua_math_random);
    set_function(L, "randomseed", lua_math_randomseed);
    lua_pop(L, 1);
    make_error_handler(L, g, kind);
    lua_pushnil(L);
    lua_setfield(L, g, "debug"); /* only the error handler keeps it */

    proxies_init(L);
    install_wrappers(L, g);
    for (size_t i = 0; i < sizeof(protected_globals) / sizeof(protected_globals[0]); i++)
        protect_global(L, g, protected_globals[i]);
    protect_string_metatable(L, g);
    if (kind == SCRIPT_VM_FUNCTION)
        make_load_api(L, register_function);
    set_error_metatable(L);
    lua_pushvalue(L, g);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);

    /* Scripts run with the proxy as their globals: new chunks (loadstring too) get it. */
    push_proxy(L, g);
    lua_getmetatable(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS_MT);
    lua_pushvalue(L, -1);
    lua_setfield(L, g, "_G");
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_settop(L, 0);
    rand48_seed(0);
    return L;
}

void script_vm_free(lua_State *L)
{
    if (L)
        lua_close(L);
}

void script_vm_load_api(lua_State *L, int on)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS_MT);
    lua_getfield(L, LUA_REGISTRYINDEX, on ? REG_LOAD_API : REG_GLOBALS);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void script_push_error_handler(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_HANDLER);
}

size_t script_vm_memory(lua_State *L)
{
    return L ? (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0) : 0;
}

/* ---- running ------------------------------------------------------------------------------ */

/* Runs every HOOK_INSTRUCTIONS instructions: past the threshold, this thread's other clients
 * are answered (busy.c), and one of them may have killed the script; then SCRIPT KILL, or a
 * shutdown that may not wait. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (run_is_busy())
        busy_serve(cur && cur->caller ? cur->caller->cl : NULL);
    int killed = state_of(atomic_load(&run_state)) == RUN_KILLED;
    if (!killed && !shutdown_kills())
        return;
    log_warning(killed ? "Lua script killed by user with SCRIPT KILL."
                       : "Lua script ended by SHUTDOWN.");
    /* From now on every line raises again, so that pcall cannot keep the script alive. */
    lua_sethook(L, count_hook, LUA_MASKLINE, 0);
    raise_error(L, ERR_KILLED);
}

static void push_string_array(lua_State *L, const slice *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].p, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

/* The error of a failed run, as Redis formats it: "<err> script: <name>, on <source>:<line>." */
static void reply_run_error(cmd_ctx *c, lua_State *L, const char *name)
{
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        reply_errorf(c, "ERR Error running script %s, %.100s", name, msg);
        return;
    }
    char msg[4096];
    size_t len = script_error_text(L, -1, msg, sizeof(msg));
    lua_getfield(L, -1, "source");
    lua_getfield(L, -2, "line");
    buf e;
    buf_init(&e);
    buf_append(&e, msg, len);
    if (lua_isstring(L, -1) && lua_isstring(L, -2))
        buf_printf(&e, " script: %s, on %s:%s.", name, lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 2);
    script_reply_raw_error(c, e.data, e.len);
    buf_free(&e);
}

/* Refusals before the script starts (scriptPrepareForRun); 0 when it may run. */
static int run_refused(cmd_ctx *c, unsigned flags, int ro)
{
    if (flags & SCRIPT_FLAG_EVAL_COMPAT)
        return 0;
    if (!(flags & SCRIPT_FLAG_ALLOW_OOM) && server.cfg.maxmemory > 0) {
        cmd_ctx probe = *c;
        /* All shards: eviction may pick from any, the script holds them all. */
        static const command denyoom = {.name = "script", .flags = CMD_DENYOOM | CMD_ALL_SHARDS};
        probe.cmd = &denyoom;
        probe.argc = 0; /* no keys: eviction from the thread's own shard */
        if (!dispatch_memory_ok(&probe)) {
            reply_error(c, "OOM allow-oom flag is not set on the script, can not run it when "
                           "used memory > 'maxmemory'");
            return 1;
        }
    }
    if (!(flags & SCRIPT_FLAG_NO_WRITES) && ro) {
        reply_error(c, "ERR Can not execute a script with write flag using *_ro command.");
        return 1;
    }
    return 0;
}

void script_run(lua_State *L, cmd_ctx *c, const char *name, unsigned flags, int ro, int is_eval,
                int numkeys)
{
    if (run_refused(c, flags, ro)) {
        lua_pop(L, 2);
        return;
    }
    int compat = (flags & SCRIPT_FLAG_EVAL_COMPAT) != 0;
    script_ctx sc = {
        .caller = c,
        .dbid = c->dbid,
        .resp = 2, /* until the script says redis.setresp(3) */
        .readonly = ro || (!compat && (flags & SCRIPT_FLAG_NO_WRITES)),
        .allow_oom = !compat && (flags & SCRIPT_FLAG_ALLOW_OOM),
        .now_ms = c->now_ms,
        .caller_dbid = c->cl ? c->cl->dbid : 0,
    };
    run_begin(&sc, name, is_eval, c->argc, c->argv);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_INSTRUCTIONS);

    const slice *keys = c->argv + 3;
    const slice *args = keys + numkeys;
    int nargs = c->argc - 3 - numkeys;
    int err;
    if (is_eval) {
        lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
        push_string_array(L, keys, numkeys);
        lua_setfield(L, -2, "KEYS");
        push_string_array(L, args, nargs);
        lua_setfield(L, -2, "ARGV");
        lua_pop(L, 1);
        err = lua_pcall(L, 0, 1, -2);
    } else {
        push_string_array(L, keys, numkeys);
        push_string_array(L, args, nargs);
        err = lua_pcall(L, 2, 1, -4);
    }

    static unsigned gc_count;
    if (++gc_count == GC_STEP_PERIOD) {
        lua_gc(L, LUA_GCSTEP, GC_STEP_PERIOD);
        gc_count = 0;
    }
    if (err)
        reply_run_error(c, L, name);
    else
        script_reply_value(c, L, sc.resp);
    if (err)
        lua_pop(L, 1);
    lua_pop(L, 1); /* the handler */
    lua_sethook(L, NULL, 0, 0);
    if (c->cl)
        c->cl->dbid = sc.caller_dbid;
    run_end(&sc);
}
