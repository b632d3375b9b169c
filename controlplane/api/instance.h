/* Internal to the instance handlers: the fields a request may set (instance_validate.c) and
 * the JSON of an instance (instance_view.c). */
#ifndef DFLY_CONTROL_API_INSTANCE_H
#define DFLY_CONTROL_API_INSTANCE_H

#include <jansson.h>

#include "api.h"

#define SHARDS_MIN 1
#define SHARDS_MAX 64
#define REPLICAS_MAX 2
#define MEMORY_PER_SHARD_MIN (1LL << 20) /* 1 MiB */
#define MEMORY_MAX (1LL << 40)           /* 1 TiB */
#define LABELS_MAX 32
#define LABEL_KEY_MAX 63
#define LABEL_VALUE_MAX 255

/* Which members a request gave. */
enum {
    SPEC_NAME = 1 << 0,
    SPEC_MEMORY = 1 << 1,
    SPEC_SHARDS = 1 << 2,
    SPEC_REPLICAS = 1 << 3,
    SPEC_POLICY = 1 << 4,
    SPEC_CRON = 1 << 5,
    SPEC_APPENDONLY = 1 << 6,
    SPEC_LABELS = 1 << 7,
    SPEC_TENANT = 1 << 8,
    SPEC_BACKUP_SCHEDULE = 1 << 9,
    SPEC_BACKUP_RETENTION = 1 << 10,
    SPEC_RESTORE_FROM = 1 << 11,
    SPEC_TLS = 1 << 12, /* issue 14 */
    SPEC_TLS_CLIENT_AUTH = 1 << 13,
};

typedef struct instance_spec {
    unsigned given; /* SPEC_* */
    const char *name;
    const char *tenant_id;
    long long memory;
    int shards;
    int replicas;
    const char *eviction_policy;
    const char *snapshot_cron; /* "" clears it */
    int appendonly;
    json_t *labels; /* borrowed from the body */
    /* issue 15, borrowed from the body: JSON null clears a schedule or retention */
    json_t *backup_schedule;
    json_t *backup_retention;
    const char *restore_from; /* a backup id (create only) */
    /* issue 14: TLS on the nodes, and whether they ask clients for certificates */
    int tls;
    const char *tls_client_auth;
} instance_spec;

/* Reads body into s (for create, required members must be there and defaults fill the rest).
 * Returns 0, or -1 answered with 422 naming the field. s borrows from body. */
int instance_spec_parse(http_req *r, json_t *body, instance_spec *s, int create);

/* Checks the tenant's quotas for an instance of `memory` (excluding instance `except`, the one
 * being changed, or NULL). Returns 0, or -1 answered with 422 quota_exceeded. */
int instance_quota_check(http_req *r, const char *tenant, const char *except, long long memory,
                         int adds_instance);

/* A change of `shards` (instance_resize.c): refused (409) while an earlier one still moves
 * slots. Returns 0, or -1 answered. */
int instance_resize_check(http_req *r, const instance_row *in, const instance_spec *s);

/* issue 14 (certs.c): tls and tls_client_auth of a request into s (422 naming the field);
 * writing them for a new or changed instance (create: the defaults when not given), in the
 * caller's transaction. Return 0 or -1 (answered). */
int instance_tls_parse(http_req *r, json_t *body, instance_spec *s);
int instance_tls_save(http_req *r, const char *id, const instance_spec *s, int create);

/* JSON of an instance with its nodes. */
json_t *instance_view(const instance_row *in, const node_row *nodes, int n);
/* Loads and renders instance id as tenant sees it (NULL: any); NULL when there is none (gone
 * ones count only with include_gone: the answer to a DELETE may find it gone already).
 * etag (HTTP_HEADER_VALUE_MAX) gets its ETag when not NULL. */
json_t *instance_view_load(const char *id, const char *tenant, int include_gone, char *etag);
/* The ETag of spec version v: "v<version>" with the quotes HTTP wants. */
void instance_etag(long long spec_version, char *out, size_t outlen);

#endif
