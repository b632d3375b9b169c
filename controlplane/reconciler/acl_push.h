/* ACL users of an instance (issue 14): the rule grammar helpers that the API (api/users.c) and
 * the reconciler share, and the push of the desired users to every running node. */
#ifndef DFLY_CONTROL_ACL_PUSH_H
#define DFLY_CONTROL_ACL_PUSH_H

#include <stddef.h>

#define ACL_RULES_MAX 4096
#define ACL_TOKENS_MAX 256
#define ACL_USER_NAME_MAX 64
#define ACL_HASH_HEX 65 /* SHA-256 in hex, with its NUL */
/* Users made on a node to check rules (api/users.c); the push leaves them alone. */
#define ACL_SCRATCH_PREFIX "dfly-validate-"
/* The reply of ACL LIST / ACL USERS: one line per user. */
#define ACL_LIST_OUT_MAX 65536

/* Splits text (modified in place) into tokens at spaces; a selector "( ... )" stays one token.
 * Returns the count, or -1 when there are more than max or a parenthesis is unbalanced. */
int acl_rules_split(char *text, char **tok, int max);

/* The rules of one user from its ACL LIST line ("user NAME on #... ~k -@all +get"): the line
 * without the name, on/off, the passwords and the flag that reset gives (sanitize-payload), so
 * that "reset <rules>" makes the same user again. Returns 0, or -1 when it does not parse. */
int acl_list_rules(const char *line, char *out, size_t outlen);

#define ACL_DEFAULT_USER "default"

/* The default user's password from before a rotation still in progress (decrypted), for a node
 * that does not know the new one yet. Returns 0, or -1 when there is none. Any thread. */
int acl_default_old_password(const char *instance_id, char *out, size_t outlen);

struct pass;
/* Gives every running node of the pass's instance the desired users (those that changed or
 * that it has not had since it started), ends rotations whose grace period is over. Loop
 * thread only; failures are retried on the next pass. */
void acl_push(struct pass *p);

#endif
