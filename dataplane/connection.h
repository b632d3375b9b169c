/* Helpers shared by the connection commands (t_connection.c: AUTH HELLO RESET..., t_client.c:
 * CLIENT ...). */
#ifndef DFLY_CONNECTION_H
#define DFLY_CONNECTION_H

#include "client.h"
#include "command.h"

/* The Redis version dfly answers as (HELLO, and what INFO should report as redis_version):
 * clients pick features by it. */
#define REDIS_COMPAT_VERSION "7.0.15"

/* True when the default user has a password (requirepass), i.e. new connections must AUTH. */
int connection_password_set(void);
/* Checks AUTH credentials. user NULL means the default user. Until ACL users exist, "default"
 * is the only user; it takes any password when requirepass is empty. Returns 1 on success.
 * Compares in time independent of where the password differs. */
int connection_check_password(const slice *user, const slice *pass);
/* True when cl must authenticate before running commands that lack CMD_NO_AUTH. Follows
 * requirepass as it is now, as Redis 7 does: clearing the password lets everyone in. */
int connection_auth_required(const client *cl);
/* Sets (or with an empty name clears) cl's name; replies Redis's error and returns -1 when the
 * name has spaces, newlines or other characters outside '!'..'~'. */
int connection_setname_or_reply(cmd_ctx *c, const slice *name);

#endif
