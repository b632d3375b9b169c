/* The Lua engine behind EVAL (t_script.c) and FUNCTION/FCALL (function.c), as Redis 7.0 has it:
 * a sandboxed Lua 5.1 interpreter with the redis.* API, the conversions between replies and Lua
 * values, and the state of the script that is running (busy replies, SCRIPT KILL).
 *
 * Threads. A script runs holding every shard (EVAL and FCALL are CMD_ALL_SHARDS), on its
 * client's thread, so at most one script runs in the whole process at a time, and the commands it
 * calls may touch any key. Everything that touches an interpreter (loading, flushing, listing)
 * also holds every shard, which is what makes one interpreter per engine safe to share between
 * threads: the hand-over of the shards orders the accesses. Only the busy/kill state below is
 * read by other threads, through atomics. See docs/architecture.md. */
#ifndef DFLY_SCRIPT_H
#define DFLY_SCRIPT_H

#include <lua.h>

#include "command.h"

/* Script flags: `#!lua flags=...` of EVAL and redis.register_function's flags (Redis's names). */
enum {
    SCRIPT_FLAG_NO_WRITES = 1u << 0,
    SCRIPT_FLAG_ALLOW_OOM = 1u << 1,
    SCRIPT_FLAG_ALLOW_STALE = 1u << 2,
    SCRIPT_FLAG_NO_CLUSTER = 1u << 3,
    SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1u << 4,
    SCRIPT_FLAG_EVAL_COMPAT = 1u << 5, /* EVAL without a shebang: Redis 6's rules */
};

/* The flag named name[0..len) (case-insensitive when nocase), or 0 when there is none. */
unsigned script_flag_by_name(const char *name, size_t len, int nocase);
/* Replies the set of flag names, as FUNCTION LIST shows them. */
void script_reply_flags(cmd_ctx *c, unsigned flags);

/* ---- interpreters -------------------------------------------------------------------------- */

enum script_vm_kind { SCRIPT_VM_EVAL, SCRIPT_VM_FUNCTION };

/* A new interpreter with the libraries Redis exposes, the redis.* API and the read-only
 * sandbox. A SCRIPT_VM_FUNCTION interpreter also gets the API that FUNCTION LOAD code sees
 * (redis.register_function = register_function, redis.log, the versions), which
 * script_vm_load_api() switches to. The caller owns it: script_vm_free(). */
lua_State *script_vm_new(enum script_vm_kind kind, lua_CFunction register_function);
void script_vm_free(lua_State *L);
/* on: globals are the FUNCTION LOAD API; off: the full library. */
void script_vm_load_api(lua_State *L, int on);
/* Pushes the error handler that script_run expects below the function. */
void script_push_error_handler(lua_State *L);
/* Bytes the interpreter uses (INFO used_memory_lua). */
size_t script_vm_memory(lua_State *L);

/* Replies the Lua value on top of L's stack and pops it (tables become errors, statuses,
 * RESP3 types or arrays up to their first nil). script_resp is the protocol the script chose
 * with redis.setresp: it decides how booleans go out. */
void script_reply_value(cmd_ctx *c, lua_State *L, int script_resp);
/* Pushes the reply p[0..len) (well formed, as reply.h writes them) as the Lua value redis.call
 * returns. */
void script_push_reply(lua_State *L, const char *p, size_t len);
/* An error reply of msg exactly as given (no code added), newlines made spaces. */
void script_reply_raw_error(cmd_ctx *c, const char *msg, size_t len);

/* Pushes Redis's error table {err = "CODE message"} for msg: "-CODE message" keeps its code,
 * anything else gets ERR (luaPushError). */
void script_push_error(lua_State *L, const char *msg, size_t len);
/* Extracts the message of an error value (a string, or a table with a string err field) into
 * out; returns its length. */
size_t script_error_text(lua_State *L, int idx, char *out, size_t outlen);

/* ---- running ------------------------------------------------------------------------------- */

/* Runs the function on top of L's stack, just above the error handler, for EVAL/EVALSHA
 * (is_eval: KEYS and ARGV are globals) or FCALL (they are its two arguments): argv[3..) of c are
 * numkeys keys and then the arguments. name is what errors cite (the sha, or the function name).
 * flags are the script's SCRIPT_FLAG_*; ro is set for EVAL_RO, EVALSHA_RO and FCALL_RO. Replies
 * to c and pops the function and the handler. The caller holds every shard. */
void script_run(lua_State *L, cmd_ctx *c, const char *name, unsigned flags, int ro, int is_eval,
                int numkeys);

/* Called by dispatch_command for every request before it is routed: while a script has been
 * running for longer than busy-reply-threshold, a command without CMD_ALLOW_BUSY (and SHUTDOWN
 * without NOSAVE) gets Redis's BUSY error. Returns 1 when it replied so. Any thread. */
int script_busy_reject(cmd_ctx *c, const command *cmd);
/* 1 while script_busy_reject refuses commands: pipeline squashing then steps aside, so that
 * every request passes dispatch_command. Any thread. */
int script_busy(void);
/* SCRIPT KILL (is_eval) and FUNCTION KILL. Any thread. */
void script_kill(cmd_ctx *c, int is_eval);
/* 1 while an EVAL script is busy (FUNCTION STATS then replies BUSY). Any thread. */
int script_eval_busy(void);
/* FUNCTION STATS' running_script: nil, or the running function's name, command and duration.
 * Any thread. */
void script_reply_running_function(cmd_ctx *c);

/* Keys of EVAL and FCALL calls: numkeys at argv[2], then the keys (t_script.c). */
int script_numkeys_getkeys(int argc, const slice *argv, int *keys, int max);
/* Bytes used by the EVAL interpreter (t_script.c) and the FUNCTION one (function.c). */
size_t script_eval_memory(void);
size_t function_vm_memory(void);
/* Appends every function library as RDB FUNCTION2 records (FUNCTION DUMP, snapshots). Call
 * while holding every shard. */
void function_save_rdb(buf *out);

/* The libraries without a Debian package (script_lib.c). */
int luaopen_struct(lua_State *L);
int luaopen_cmsgpack(lua_State *L);

#endif
