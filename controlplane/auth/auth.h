/* API tokens: random secrets (256 bits) shown once, stored as SHA-256 hashes, revocable.
 * An operator token (tenant NULL) sees everything; a tenant token sees only its tenant. */
#ifndef DFLY_CONTROL_AUTH_H
#define DFLY_CONTROL_AUTH_H

#include <stddef.h>

#include "ids.h"

#define OPERATOR_TOKEN_FILE "operator.token"
#define OPERATOR_TOKEN_ENV "DFLY_OPERATOR_TOKEN"
#define TOKEN_PREFIX_TENANT "dfly_"
#define TOKEN_PREFIX_OPERATOR "dfly_op_"
#define TOKEN_SHOWN_PREFIX 12 /* characters of a token kept in clear to tell tokens apart */
#define TOKEN_MIN_LEN 16      /* DFLY_OPERATOR_TOKEN must be at least this long */
#define HASH_HEX_LEN 64
#define OPERATOR_SCOPE "operator"

/* Who is calling: filled by auth_lookup. */
typedef struct principal {
    int is_operator;
    char tenant_id[ID_MAX]; /* "" for the operator */
    char token_id[ID_MAX];
} principal;

/* At start: the operator token from DFLY_OPERATOR_TOKEN, or the one in
 * <data_dir>/operator.token (made, mode 0600, when missing or not valid any more). Logs the
 * file's path, never a token. Returns 0 or -1 with err. */
int auth_bootstrap(const char *data_dir, char *err, size_t errlen);

/* Finds the token whose secret is `secret`. Returns 0 with *out filled, -1 when there is none
 * or it is revoked. */
int auth_lookup(const char *secret, principal *out);

/* Makes a token for tenant_id (NULL: operator) named name in the current transaction: writes
 * its id into id and its secret (shown once) into secret (SECRET_MAX). Returns 0 or -1. */
int auth_token_create(const char *tenant_id, const char *name, char *id, char *secret,
                      long long *created_at);

/* The scope of Idempotency-Key records and of ownership checks. */
const char *auth_scope(const principal *p);

#endif
