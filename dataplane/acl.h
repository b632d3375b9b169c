/* Users and their permissions, Redis 7's ACL model.
 *
 * A user is a name, on/off, passwords (kept only as SHA-256 digests) and selectors. A selector
 * allows a set of commands (a bitmap over command ids, subcommands included), key patterns
 * with read/write permission and channel patterns. The root selector is the user's own; the
 * extra ones come from "(...)" rules. A command is allowed when one selector allows all of it.
 *
 * Versions: a user is never changed in place. ACL SETUSER builds a changed copy and swaps it
 * into the registry, bumping an epoch; every connection holds a reference to the version it
 * last saw and, when the epoch moved, looks its user up again before the next command
 * (acl_refresh). So the check on the hot path takes no lock, and a change applies to live
 * connections from their next command on. Deleted or disabled users' connections are closed
 * on every worker (acl_kill_user).
 *
 * acl_rules.c: the user structure, rule parsing and describing (no server state: unit tests
 * and the fuzzer use it alone). acl.c: the registry, checks, ACL LOG, statistics.
 * acl_file.c: the ACL file. t_acl.c: the ACL command. */
#ifndef DFLY_ACL_H
#define DFLY_ACL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "command.h"

struct client;

#define ACL_CMD_BITS 1024 /* room for every command id (command.c's table) */
#define ACL_CMD_WORDS (ACL_CMD_BITS / 64)
/* Set only by +@all / allcommands: the selector also allows commands added later, which is
 * how the describing code knows to start from "+@all" (Redis's USER_COMMAND_BITS_COUNT-1). */
#define ACL_FUTURE_BIT (ACL_CMD_BITS - 1)
#define ACL_DIGEST_LEN 32 /* SHA-256 */
#define ACL_DIGEST_HEX_LEN (ACL_DIGEST_LEN * 2)
#define ACL_DEFAULT_USER "default"

/* Key permissions of a pattern (%R~, %W~, ~ = both). */
enum { ACL_PERM_READ = 1, ACL_PERM_WRITE = 2, ACL_PERM_RW = 3 };
/* Selector flags. */
enum { ACL_SEL_ALLKEYS = 1u << 0, ACL_SEL_ALLCHANNELS = 1u << 1 };
/* User flags (Redis's names in GETUSER). */
enum {
    ACL_USER_ON = 1u << 0,
    ACL_USER_NOPASS = 1u << 1,
    ACL_USER_SANITIZE = 1u << 2,      /* sanitize-payload */
    ACL_USER_SKIP_SANITIZE = 1u << 3, /* skip-sanitize-payload */
};

/* Why a check failed, ordered as Redis orders "the most relevant error" among selectors. */
enum {
    ACL_OK = 0,
    ACL_DENIED_CMD = 1,
    ACL_DENIED_KEY = 2,
    ACL_DENIED_AUTH = 3,
    ACL_DENIED_CHANNEL = 4,
};

typedef struct acl_pattern {
    char *p;
    size_t len;
    int perm; /* ACL_PERM_* for keys; unused for channels */
} acl_pattern;

/* +cmd|arg for a command without subcommands: allowed when its first argument is arg. */
typedef struct acl_firstarg {
    int id;
    char *arg;
} acl_firstarg;

typedef struct acl_selector {
    unsigned flags;
    uint64_t cmds[ACL_CMD_WORDS];
    acl_pattern *keys;
    int nkeys;
    acl_pattern *chans;
    int nchans;
    acl_firstarg *fargs;
    int nfargs;
} acl_selector;

typedef struct acl_user {
    char *name;
    size_t namelen;
    unsigned flags;
    unsigned char (*pass)[ACL_DIGEST_LEN];
    int npass;
    acl_selector root;
    acl_selector *sels;
    int nsels;
    atomic_int refs;
    /* Set when stored (acl_store): every command, key and channel is allowed, so fast paths
     * (pipeline squashing) may skip the checks. */
    int unrestricted;
} acl_user;

/* ---- acl_rules.c: users as values ---------------------------------------------------------- */

/* A new user as ACL SETUSER creates it: off, no password, no commands, keys or channels. The
 * caller owns the one reference. */
acl_user *acl_user_new(const char *name, size_t len);
/* A deep copy with one reference. */
acl_user *acl_user_dup(const acl_user *u);
void acl_user_ref(acl_user *u);
/* Drops a reference; frees at zero. NULL is ignored. */
void acl_user_unref(acl_user *u);

/* Applies one rule ("on", ">pw", "+@read", "(~x +get)"...) to u. Returns 0, or -1 with *err
 * set to Redis's explanation ("Syntax error"...). */
int acl_user_apply(acl_user *u, const char *op, size_t len, const char **err);
/* Applies ACL SETUSER's arguments: joins "(...)" selectors spread over several arguments and
 * applies them in order. On failure u is partly changed (callers work on a copy) and errbuf
 * holds the whole error reply text ("ERR Error in ACL SETUSER modifier ..."). */
int acl_user_apply_args(acl_user *u, int n, const slice *args, char *errbuf, size_t errlen);
/* 1 when name is a valid user name (no spaces or NUL). */
int acl_name_ok(const char *name, size_t len);

/* The rules that rebuild u, as ACL LIST shows them after "user <name> " (no trailing space). */
void acl_user_describe(const acl_user *u, buf *out);
/* GETUSER's parts of a selector: "commands", "keys", "channels" strings. */
void acl_selector_describe_commands(const acl_selector *s, buf *out);
void acl_selector_describe_keys(const acl_selector *s, buf *out);
void acl_selector_describe_channels(const acl_selector *s, buf *out);

/* Fetches SHA-256 from OpenSSL while memory is there (start-up); acl_digest works without. */
void acl_digest_init(void);
void acl_digest(const char *pass, size_t len, unsigned char out[ACL_DIGEST_LEN]);
void acl_digest_hex(const unsigned char d[ACL_DIGEST_LEN], char out[ACL_DIGEST_HEX_LEN + 1]);
/* 1 when pass matches one of u's passwords (or u is nopass); compares in constant time. */
int acl_user_password_ok(const acl_user *u, const char *pass, size_t len);

/* A command with its categories as Redis derives them (command_acl_categories) allowed? */
int acl_selector_allows_cmd(const acl_selector *s, const command *cmd, int argc, const slice *argv);

/* Category by name ("read", no "@"): its ACL_* bit, or 0. */
uint32_t acl_category_by_name(const char *name, size_t len);

/* ---- acl.c: the registry and the checks ---------------------------------------------------- */

/* Creates the default user (from requirepass) and loads --aclfile. Before workers start.
 * Returns 0, or -1 with a message in err when the ACL file cannot be loaded. */
int acl_init(char *err, size_t errlen);

/* The default user as Redis creates it: on, nopass, every command, key and channel. */
acl_user *acl_default_user_new(void);

/* The registry. Lookups return a new reference (or NULL). */
acl_user *acl_lookup(const char *name, size_t len);
/* Puts u in place of the user of the same name (or adds it), taking the caller's reference. */
void acl_store(acl_user *u);
/* Removes a user; returns 1 when it existed. */
int acl_remove(const char *name, size_t len);
/* Calls fn for every user in name order, under the registry lock (fn must not call back);
 * returns how many. */
int acl_foreach(void (*fn)(const acl_user *u, void *arg), void *arg);
/* Replaces every user at once (ACL LOAD): takes the caller's references. */
void acl_replace_all(acl_user **users, int n);
/* The registry's lock, for ACL LOAD/SAVE which need a stable view. */
void acl_lock(void);
void acl_unlock(void);

/* Connections. */
/* The user cl runs as (a borrowed pointer, valid while cl runs its command). */
const acl_user *acl_client_user(struct client *cl);
const char *acl_client_username(const struct client *cl);
/* Logs cl in as u (takes a reference of its own). */
void acl_client_login(struct client *cl, acl_user *u);
/* Drops cl's reference: when the client is freed. */
void acl_client_free(struct client *cl);
/* Before a command of cl: follows a change of cl's user. Returns 0, or -1 when the user was
 * deleted or disabled (the connection is being closed). On cl's thread. */
int acl_refresh(struct client *cl);
/* After a change of user name: closes its subscribed connections that hold a channel or
 * pattern the user may no longer use (Redis 7.0's ACLKillPubsubClientsIfNeeded). */
void acl_kill_pubsub_if_needed(const char *name, size_t len);
/* 1 when cl's user (after acl_refresh) may run anything: the checks can be skipped. */
int acl_client_unrestricted(struct client *cl);
/* Closes, on every worker, the connections logged in as name (except `except`, which the
 * caller closes after its reply). */
void acl_kill_user(const char *name, size_t len, struct client *except);

/* Authentication: checks user/pass (user NULL: default) and logs cl in on success. Returns 1,
 * or 0 after counting the failure and writing an ACL LOG entry. */
int acl_authenticate(struct client *cl, const slice *user, const slice *pass);
/* 1 when the default user is on and nopass: new connections start logged in. */
int acl_default_nopass(void);
/* requirepass: the default user's password (empty: nopass). */
void acl_set_requirepass(const char *pw);

/* --restricted_commands: 1 when cmd may not run for cl (only connections on the admin port
 * may run them, as in Dragonfly). */
int acl_restricted(const struct client *cl, const command *cmd);
#define ERR_RESTRICTED_TEXT "Cannot execute restricted command (admin only)"
#define ERR_RESTRICTED "ERR " ERR_RESTRICTED_TEXT

/* Where a check happens, for ACL LOG's context. */
enum { ACL_CTX_TOPLEVEL = 0, ACL_CTX_MULTI, ACL_CTX_LUA };

/* Checks a call against u's selectors. Returns ACL_OK or ACL_DENIED_*, with *errpos set to
 * the argv index of the denied key or channel. */
int acl_check(const acl_user *u, const command *cmd, int argc, const slice *argv, int *errpos);
/* Checks cl's call; on denial counts it, writes an ACL LOG entry and returns ACL_DENIED_*
 * with *errpos set. */
int acl_check_client(struct client *cl, const command *cmd, const command *container, int argc,
                     const slice *argv, int context, int *errpos);
/* Redis's -NOPERM reply for a denial of acl_check_client. */
void acl_reply_denied(cmd_ctx *c, int why, const command *cmd, const command *container);
/* Redis's script error text for a denial ("The user executing the script can't ..."). */
const char *acl_script_error(int why);

/* Secrets in a call, which MONITOR, SLOWLOG and logs show as "(redacted)" as Redis does: every
 * argument of AUTH, HELLO's AUTH user and password, ACL SETUSER's name and rules, MIGRATE's
 * AUTH/AUTH2 credentials, CONFIG SET's requirepass/masterauth values. 1 when argv[i] is one. */
int acl_arg_redacted(int argc, const slice *argv, int i);
#define ACL_REDACTED "(redacted)"

/* ACL LOG. */
void acl_log_add(int reason, int context, const char *object, size_t olen, const char *user,
                 size_t ulen, struct client *cl);
void acl_log_reply(cmd_ctx *c, long count);
void acl_log_reset(void);

/* INFO stats: acl_access_denied_auth, _cmd, _key, _channel. */
void acl_info_stats(buf *out);

/* ACL file (acl_file.c). Loads path into a new user set; returns 0 or -1 with err. */
int acl_file_load(const char *path, char *err, size_t errlen);
int acl_file_save(const char *path, char *err, size_t errlen);

/* --aclfile: the path, or "" (server.h). */
const char *acl_file_path(void);

#endif
