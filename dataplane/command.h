/* The command table and the context a command runs in.
 *
 * One table states every command's arity, flags, key positions and ACL categories; dispatch, key
 * routing, ACL and COMMAND INFO all read it. Each command family keeps its part of the table in
 * its own file (t_string.c: string_commands[]) and command.c lists the families.
 *
 * A command's proc runs with every shard its keys live on available to it: on the shard's own
 * thread, or on the client's thread while a transaction holds those shards. It reads its
 * arguments from the context, touches data through db.h and answers through reply.h. */
#ifndef DFLY_COMMAND_H
#define DFLY_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct client;
struct command;

typedef struct slice {
    const char *p;
    size_t len;
} slice;

/* Command flags (Redis's names where Redis has them). */
enum {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_DENYOOM = 1u << 2,
    CMD_ADMIN = 1u << 3,
    CMD_PUBSUB = 1u << 4,
    CMD_NOSCRIPT = 1u << 5,
    CMD_BLOCKING = 1u << 6,
    CMD_LOADING = 1u << 7,
    CMD_STALE = 1u << 8,
    CMD_SKIP_MONITOR = 1u << 9,
    CMD_SKIP_SLOWLOG = 1u << 10,
    CMD_FAST = 1u << 11,
    CMD_NO_AUTH = 1u << 12,
    CMD_MAY_REPLICATE = 1u << 13,
    CMD_NO_MULTI = 1u << 14,
    CMD_ALLOW_BUSY = 1u << 15,
    /* dfly: the command needs every shard held (KEYS, DBSIZE, FLUSHALL...). */
    CMD_ALL_SHARDS = 1u << 16,
    /* dfly: the command changes the calling client's own state (SELECT, HELLO, MULTI...) and
     * therefore runs on the client's thread; it must not take keys from the table. */
    CMD_CLIENT_STATE = 1u << 17,
};

/* ACL categories. */
enum {
    ACL_KEYSPACE = 1u << 0,
    ACL_READ = 1u << 1,
    ACL_WRITE = 1u << 2,
    ACL_SET = 1u << 3,
    ACL_SORTEDSET = 1u << 4,
    ACL_LIST = 1u << 5,
    ACL_HASH = 1u << 6,
    ACL_STRING = 1u << 7,
    ACL_BITMAP = 1u << 8,
    ACL_HYPERLOGLOG = 1u << 9,
    ACL_GEO = 1u << 10,
    ACL_STREAM = 1u << 11,
    ACL_PUBSUB = 1u << 12,
    ACL_ADMIN = 1u << 13,
    ACL_FAST = 1u << 14,
    ACL_SLOW = 1u << 15,
    ACL_BLOCKING = 1u << 16,
    ACL_DANGEROUS = 1u << 17,
    ACL_CONNECTION = 1u << 18,
    ACL_TRANSACTION = 1u << 19,
    ACL_SCRIPTING = 1u << 20,
};
#define ACL_CATEGORY_COUNT 21
extern const char *const acl_category_names[ACL_CATEGORY_COUNT];

/* Context flags. */
enum {
    CTX_IN_EXEC = 1u << 0,   /* running inside MULTI/EXEC */
    CTX_IN_SCRIPT = 1u << 1, /* running from a script */
    CTX_REMOTE = 1u << 2,    /* running on another thread than the client's */
    CTX_UNBLOCKED = 1u << 3, /* serving a blocked client (blocking.h): must not block again */
    /* A replica running its master's replication stream (replication.h): keys do not expire
     * under it (the master sends DELs), and read-only or cluster routing do not apply. */
    CTX_MASTER = 1u << 4,
};

#define CTX_KEY_CACHE 48 /* keys up to this length have their shard remembered */

typedef struct cmd_ctx {
    struct client *cl; /* the caller; may be NULL for internal calls (no client state) */
    const struct command *cmd;
    int argc;
    slice *argv; /* valid while the command runs; never keep a pointer */
    int dbid;
    int resp;        /* 2 or 3 */
    buf *out;        /* the reply goes here */
    int64_t now_ms;  /* wall clock when the command started: one instant for expiry */
    unsigned flags;  /* CTX_* */
    int error;       /* set by reply_error: the command failed */
    int blocked;     /* set by block_on_keys / block_keep_waiting: no reply now, the client waits */
    slice ready_key; /* with CTX_UNBLOCKED: the key that became ready */
    /* The last key whose shard was computed (db.h ctx_shard): commands look one key up
     * several times, and the CRC16 is not free. A batch also hands over the key's table hash,
     * which its prefetch computed (db.h ctx_key_hash). */
    size_t kc_len; /* 0: nothing remembered */
    int kc_shard;
    int kc_hashed; /* kc_hash holds table_hash of kc_key */
    uint64_t kc_hash;
    char kc_key[CTX_KEY_CACHE];
    /* A batch runs its commands back to back: the clock read when one ends is when the next
     * starts, so that each costs one reading, not two. start_us, when not 0, is taken (once) as
     * dispatch_call's start; end_us is its end. */
    int64_t start_us, end_us;
} cmd_ctx;

typedef void (*cmd_proc)(cmd_ctx *c);
/* Fills keys[] with argv indexes of keys; returns how many, or -1 on a syntax error that the
 * command itself will report. max is the room in keys[]. */
typedef int (*cmd_getkeys)(int argc, const slice *argv, int *keys, int max);

typedef struct command {
    const char *name; /* lower case: "get", or "get" of the container for subcommands */
    cmd_proc proc;
    int arity;                         /* argc; negative means at least -arity */
    uint32_t flags;                    /* CMD_* */
    uint32_t acl;                      /* ACL_* */
    int first_key, last_key, key_step; /* 0,0,0 when keyless; last -1 means the last argument */
    cmd_getkeys getkeys;               /* overrides the positions when not NULL */
    const char *group;                 /* COMMAND DOCS group: "string", "generic"... */
    const char *since;
    const char *summary;
    struct command *subcommands;  /* for containers (CONFIG, CLIENT...): ends with {0}; the
                                     tables are writable because registration numbers them */
    int id;                       /* set at registration: index for statistics */
    const struct command *parent; /* set at registration: the container of a subcommand */
} command;

/* Registers every family; call once at startup before threads start. */
void command_table_init(void);
/* Case-insensitive lookup of argv[0] (and argv[1] for containers with subcommands). Returns
 * NULL when unknown. *container is set to the container when a subcommand matched. */
const command *command_lookup(int argc, const slice *argv, const command **container);
const command *command_lookup_name(const char *name, size_t len);
/* --rename_command: from now on the top-level command old_name answers to new_name only (an
 * empty new_name: to nothing). Internal references (cmd->name) keep the original. Before
 * threads start. Returns 0, or -1 when old_name is unknown or new_name taken. */
int command_rename(const char *old_name, const char *new_name);
int command_count(void);
const command *command_by_id(int id);
/* Calls fn for every top-level command. */
void command_foreach(void (*fn)(const command *cmd, void *arg), void *arg);

/* Checks argc against cmd's arity. */
int command_arity_ok(const command *cmd, int argc);
/* Key positions of a call: fills keys[] (argv indexes), returns the count or -1. */
int command_get_keys(const command *cmd, int argc, const slice *argv, int *keys, int max);
/* A command's ACL categories: the table's plus those Redis derives from the flags
 * (setImplicitACLCategories): @write, @read, @admin @dangerous, @pubsub, @fast, @blocking, and
 * @slow for whatever is not @fast. ACL and COMMAND INFO both read this. */
uint32_t command_acl_categories(const command *cmd);
/* Full name for errors and stats: "get", "config|get". */
void command_fullname(const command *cmd, const command *container, char *out, size_t outlen);

/* Argument helpers in the style of Redis's getLongFromObjectOrReply: on failure they reply with
 * Redis's error and return -1. */
int arg_eq(const slice *a, const char *lit);
int arg_ll_or_reply(cmd_ctx *c, const slice *a, long long *out, const char *errmsg);
int arg_ll_range_or_reply(cmd_ctx *c, const slice *a, long long min, long long max, long long *out,
                          const char *errmsg);
int arg_double_or_reply(cmd_ctx *c, const slice *a, double *out, const char *errmsg);
int arg_long_double_or_reply(cmd_ctx *c, const slice *a, long double *out, const char *errmsg);
/* Parses an expire time in `unit_ms` units (1000 for seconds) relative to now (or absolute when
 * absolute is set) into ms since the epoch; replies "invalid expire time in 'cmd' command". */
int arg_expire_or_reply(cmd_ctx *c, const slice *a, long long unit_ms, int absolute,
                        int64_t *when_ms);
/* SCAN/HSCAN/SSCAN/ZSCAN cursors: an unsigned decimal as strtoul reads it (Redis's
 * parseScanCursorOrReply; "-1" wraps); replies "ERR invalid cursor". */
int arg_cursor_or_reply(cmd_ctx *c, const slice *a, uint64_t *out);
int str_to_double(const char *s, size_t len, double *out);
int str_to_long_double(const char *s, size_t len, long double *out);

/* Standard errors. */
#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_SYNTAX "ERR syntax error"
#define ERR_NO_KEY "ERR no such key"
#define ERR_OVERFLOW "ERR increment or decrement would overflow"
#define ERR_OOM "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_OUT_OF_RANGE "ERR index out of range"

#endif
