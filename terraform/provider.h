/* The provider's model: what a resource or data source implements, the diagnostics it reports
 * and the configured API client it uses. provider.c turns tfplugin6 RPCs into these calls;
 * res_*.c and ds_*.c implement them. Values are cty trees (cty.h) shaped by their schema. */
#ifndef TF_PROVIDER_H
#define TF_PROVIDER_H

#include <pthread.h>
#include <stdbool.h>

#include "cty.h"
#include "dflyapi.h"
#include "schema.h"

#define DIAG_MAX_PATH 4

typedef struct diag {
    bool warning;
    char *summary;
    char *detail;
    const char *path[DIAG_MAX_PATH]; /* attribute names (static strings); NULL-ended */
    struct diag *next;
} diag;

typedef struct diags {
    diag *head, *tail;
    bool has_error;
} diags;

/* Adds an error about the attribute attr (NULL: the whole object). */
void diag_error(diags *d, const char *attr, const char *summary, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same about block.attr (block NULL: a top-level attribute). */
void diag_error_in(diags *d, const char *block, const char *attr, const char *summary,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Adds an error for a failed API call: the API's message, its field as the attribute. */
void diag_api_error(diags *d, const char *summary, dflyapi_err err, const dflyapi_result *r);
void diags_free(diags *d);

/* Calls run on threads of their own (grpc.h); a dflyapi_client serves one thread at a time, so
 * every use of api holds lock (api_util.h does it). Waits sleep without it. */
typedef struct provider {
    dflyapi_client *api; /* NULL until ConfigureProvider */
    char *endpoint;
    pthread_mutex_t lock;
} provider;

/* A provider not configured yet reports it instead of crashing. */
bool provider_ready(provider *p, diags *d);

/* A managed resource. prior, planned and state are whole objects, never NULL pointers; a null
 * cty value means "none" (creation, deletion, gone). Returned values are owned by the caller. */
typedef struct tf_resource {
    const char *type_name;
    const tf_schema *schema;
    void (*validate)(const cty_value *config, diags *d);
    /* Fills planned (a copy of proposed) with unknowns and normalised values, and lists the
     * attributes whose change needs a replacement in replace (names, NULL-ended). */
    void (*plan)(provider *p, const cty_value *prior, cty_value *planned, const cty_value *config,
                 const char **replace, diags *d);
    /* Creates (prior null), updates, or deletes (planned null); returns the new state. */
    cty_value *(*apply)(provider *p, const cty_value *prior, const cty_value *planned,
                        const cty_value *config, diags *d);
    /* The current state of what state describes, or a null value when it is gone. */
    cty_value *(*read)(provider *p, const cty_value *state, diags *d);
    /* A state for an id given to terraform import (ReadResource then fills it in). */
    cty_value *(*import)(provider *p, const char *id, diags *d);
} tf_resource;

typedef struct tf_data_source {
    const char *type_name;
    const tf_schema *schema;
    void (*validate)(const cty_value *config, diags *d);
    cty_value *(*read)(provider *p, const cty_value *config, diags *d);
} tf_data_source;

#define PLAN_MAX_REPLACE 8

extern const tf_resource res_instance, res_tenant, res_token, res_backup, res_acl_user,
    res_client_certificate;
extern const tf_data_source ds_instance, ds_instances, ds_backups, ds_ca_certificate;

/* --- helpers shared by resources ---------------------------------------------------------- */

/* Parses a size: bytes, or Redis-style units ("512mb", "1gb"); -1 when invalid. */
long long size_parse(const char *s);
/* Names of instances and tenants: 1 to 63 of [a-z0-9-], not starting with '-'. NAME_RULE is
 * the diagnostic's text, with a %s for the name given. */
bool name_valid(const char *name);
#define NAME_RULE                                                                                  \
    "name must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit; "     \
    "got \"%s\"."

/* Import ids of things that live inside another: "<parent>/<id>". On success *parent is a copy
 * (caller frees) and *child points into id. */
#define IMPORT_SEPARATOR '/'
bool import_id_split(const char *id, char **parent, const char **child);

/* Parses a Go-style duration ("90s", "20m", "1h30m") into ms; -1 when invalid. */
long long duration_parse_ms(const char *s);
/* A JSON member as a cty value: strings, integers, booleans, null; NULL member gives null. */
cty_value *cty_from_member(const json_t *obj, const char *key);
/* Timeout in ms of timeouts.<which> in v, or fallback_ms. */
long long timeout_ms(const cty_value *v, const char *which, long long fallback_ms);

/* The timeouts block every resource that waits has, and its check. */
extern const tf_attr timeouts_attrs[];
void timeouts_validate(const cty_value *config, diags *d);

#endif
