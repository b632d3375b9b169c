/* Connection commands: PING ECHO SELECT QUIT AUTH HELLO RESET MONITOR. CLIENT is in
 * t_client.c. Every command here that changes the caller's state runs on the caller's thread
 * (CMD_CLIENT_STATE). */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "client.h"
#include "cluster.h"
#include "connection.h"
#include "db.h"
#include "monitor.h"
#include "multi.h"
#include "pubsub.h"
#include "replication.h"
#include "reply.h"
#include "server.h"
#include "tracking.h"

#define RESP_MIN 2
#define RESP_MAX 3
/* Redis's HELLO map: server, version, proto, id, mode, role, modules. */
#define HELLO_FIELDS 7
#define CLIENT_NAME_MIN_CHAR '!'
#define CLIENT_NAME_MAX_CHAR '~'

#define ERR_AUTH_NOPASS                                                                            \
    "ERR AUTH <password> called without any password configured for the default user. Are you "    \
    "sure your configuration is correct?"
#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."
/* Redis 7.0's text (7.2 added "<proto>" after HELLO). */
#define ERR_HELLO_NOAUTH                                                                           \
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "      \
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "        \
    "protocol version at the same time"

/* ---- shared helpers (connection.h) ------------------------------------------------------- */

int connection_password_set(void)
{
    acl_user *d = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    int set = !d || !(d->flags & ACL_USER_NOPASS);
    acl_user_unref(d);
    return set;
}

int connection_check_password(const slice *user, const slice *pass)
{
    const char *name = user ? user->p : ACL_DEFAULT_USER;
    acl_user *u = acl_lookup(name, user ? user->len : strlen(ACL_DEFAULT_USER));
    int ok = u && (u->flags & ACL_USER_ON) && acl_user_password_ok(u, pass->p, pass->len);
    acl_user_unref(u);
    return ok;
}

/* Redis's authRequired: the default user has a password or is off. */
int connection_auth_required(const client *cl)
{
    return !cl->authenticated && !acl_default_nopass();
}

int connection_setname_or_reply(cmd_ctx *c, const slice *name)
{
    for (size_t i = 0; i < name->len; i++) {
        if (name->p[i] < CLIENT_NAME_MIN_CHAR || name->p[i] > CLIENT_NAME_MAX_CHAR) {
            reply_error(c, "ERR Client names cannot contain spaces, newlines or special "
                           "characters.");
            return -1;
        }
    }
    client *cl = c->cl;
    free(cl->name);
    cl->name = NULL;
    if (name->len) {
        cl->name = mem_malloc(name->len + 1);
        memcpy(cl->name, name->p, name->len);
        cl->name[name->len] = '\0';
    }
    return 0;
}

/* ---- commands ---------------------------------------------------------------------------- */

static void ping_cmd(cmd_ctx *c)
{
    if (c->argc > 2) {
        reply_wrong_args(c);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c, c->argv[1].p, c->argv[1].len);
    else
        reply_simple(c, "PONG");
}

static void echo_cmd(cmd_ctx *c)
{
    reply_bulk(c, c->argv[1].p, c->argv[1].len);
}

static void select_cmd(cmd_ctx *c)
{
    long long id;
    if (arg_ll_or_reply(c, &c->argv[1], &id, NULL))
        return;
    if (id < 0 || id >= server.cfg.databases) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    c->cl->dbid = (int)id;
    c->dbid = (int)id;
    reply_ok(c);
}

static void quit_cmd(cmd_ctx *c)
{
    reply_ok(c);
    c->cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* AUTH [username] password */
static void auth_cmd(cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    const slice *user = c->argc == 3 ? &c->argv[1] : NULL;
    const slice *pass = &c->argv[c->argc - 1];
    if (!user && !connection_password_set()) {
        reply_error(c, ERR_AUTH_NOPASS);
        return;
    }
    if (!acl_authenticate(c->cl, user, pass)) {
        reply_error(c, ERR_WRONGPASS); /* a failed AUTH leaves the client as it was */
        return;
    }
    reply_ok(c);
}

static void hello_reply(cmd_ctx *c)
{
    reply_map(c, HELLO_FIELDS);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, REDIS_COMPAT_VERSION);
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->cl->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, cluster_enabled() ? "cluster" : "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, repl_is_replica() ? "replica" : "master");
    reply_bulk_cstr(c, "modules");
    reply_array(c, 0);
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] — Redis's helloCommand: the
 * version is checked first, then the options, then AUTH; only an authenticated client may
 * switch protocol or set its name. The reply already speaks the new protocol. */
static void hello_cmd(cmd_ctx *c)
{
    long long ver = 0;
    if (c->argc >= 2) {
        if (arg_ll_or_reply(c, &c->argv[1], &ver,
                            "ERR Protocol version is not an integer or out of range"))
            return;
        if (ver < RESP_MIN || ver > RESP_MAX) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const slice *user = NULL, *pass = NULL, *name = NULL;
    for (int j = 2; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(&c->argv[j], "auth") && more >= 2) {
            user = &c->argv[j + 1];
            pass = &c->argv[j + 2];
            j += 2;
        } else if (arg_eq(&c->argv[j], "setname") && more >= 1) {
            name = &c->argv[j + 1];
            j++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[j].len,
                         c->argv[j].p);
            return;
        }
    }
    client *cl = c->cl;
    if (user) {
        if (!acl_authenticate(cl, user, pass)) {
            reply_error(c, ERR_WRONGPASS);
            return;
        }
    }
    if (connection_auth_required(cl)) {
        reply_error(c, ERR_HELLO_NOAUTH);
        return;
    }
    if (name && connection_setname_or_reply(c, name))
        return;
    if (ver) {
        cl->resp = (int)ver;
        c->resp = (int)ver;
    }
    hello_reply(c);
}

/* RESET: the connection as it was right after accept, as Redis's clearClientConnectionState:
 * no MULTI or WATCH, not a monitor, no tracking, db 0, RESP2, no name, replies on, no-evict and
 * no-touch off, and logged out when a password is required. The library name and version stay. */
static void reset_cmd(cmd_ctx *c)
{
    client *cl = c->cl;
    monitor_remove(cl);
    multi_reset(cl);
    pubsub_unsubscribe_all(cl);
    tracking_disable(cl);
    cl->dbid = 0;
    c->dbid = 0;
    cl->resp = RESP_MIN;
    c->resp = RESP_MIN;
    free(cl->name);
    cl->name = NULL;
    cl->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_NO_EVICT |
                   CLIENT_NO_TOUCH | CLIENT_READONLY);
    /* Back to the default user, logged in only when it needs no password. */
    acl_user *d = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    if (d)
        acl_client_login(cl, d);
    acl_user_unref(d);
    cl->authenticated = acl_default_nopass();
    reply_simple(c, "RESET");
}

/* MONITOR: from now on the client receives every command (monitor.c). Redis ignores a second
 * MONITOR without replying, and refuses it inside MULTI or a script (it would block them). */
static void monitor_cmd(cmd_ctx *c)
{
    if (c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT)) {
        reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->cl->flags & CLIENT_MONITOR)
        return;
    monitor_add(c->cl);
    reply_ok(c);
}

#define CONN_FLAGS (CMD_FAST | CMD_STALE | CMD_LOADING)
#define CONN_STATE_FLAGS                                                                           \
    (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY |            \
     CMD_CLIENT_STATE)

command connection_commands[] = {
    {.name = "ping",
     .proc = ping_cmd,
     .arity = -1,
     .flags = CONN_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "1.0.0",
     .summary = "Returns the server's liveliness response."},
    {.name = "echo",
     .proc = echo_cmd,
     .arity = 2,
     .flags = CONN_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "1.0.0",
     .summary = "Returns the given string."},
    {.name = "select",
     .proc = select_cmd,
     .arity = 2,
     .flags = CONN_FLAGS | CMD_CLIENT_STATE,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "1.0.0",
     .summary = "Changes the selected database."},
    {.name = "quit",
     .proc = quit_cmd,
     .arity = -1,
     .flags = CONN_STATE_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "1.0.0",
     .summary = "Closes the connection."},
    {.name = "auth",
     .proc = auth_cmd,
     .arity = -2,
     .flags = CONN_STATE_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "1.0.0",
     .summary = "Authenticates the connection."},
    {.name = "hello",
     .proc = hello_cmd,
     .arity = -1,
     .flags = CONN_STATE_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "6.0.0",
     .summary = "Handshakes with the Redis server."},
    {.name = "reset",
     .proc = reset_cmd,
     .arity = 1,
     .flags = CONN_STATE_FLAGS,
     .acl = ACL_FAST | ACL_CONNECTION,
     .group = "connection",
     .since = "6.2.0",
     .summary = "Resets the connection."},
    {.name = "monitor",
     .proc = monitor_cmd,
     .arity = 1,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CLIENT_STATE,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "1.0.0",
     .summary = "Listens for all requests received by the server in real-time."},
    {0},
};
