/* tfplugin6 RPCs: each unpacks its request, calls the resource or data source it names and
 * packs the answer with diagnostics (see provider.h). Also go-plugin's GRPCController. */
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "provider.h"
#include "tfplugin6.pb-c.h"

#define ENV_ENDPOINT "DFLY_ENDPOINT"
#define ENV_TOKEN "DFLY_TOKEN"
#define PROVIDER_USER_AGENT "terraform-provider-dfly/" DFLY_VERSION

static const tf_resource *const resources[] = {
    &res_instance, &res_tenant, &res_token, &res_backup, &res_acl_user, &res_client_certificate,
};
static const tf_data_source *const data_sources[] = {&ds_instance, &ds_instances, &ds_backups,
                                                     &ds_ca_certificate};
/* protoc-c makes unpack functions for top-level messages only; ours are nested (X.Request). */
#define UNPACK(name, len, data)                                                                    \
    ((void *)protobuf_c_message_unpack(&tfplugin6__##name##__request__descriptor, NULL, len, data))

#define N_RESOURCES (sizeof resources / sizeof resources[0])
#define N_DATA_SOURCES (sizeof data_sources / sizeof data_sources[0])

static const tf_attr provider_attrs[] = {
    {"endpoint", &TF_STRING, ATTR_OPTIONAL,
     "URL of dfly-control's REST API (\"http://127.0.0.1:8080\"); default $DFLY_ENDPOINT."},
    {"token", &TF_STRING, ATTR_OPTIONAL | ATTR_SENSITIVE,
     "API token (operator or tenant); default $DFLY_TOKEN."},
    {"ca_file", &TF_STRING, ATTR_OPTIONAL,
     "PEM bundle that verifies an https endpoint (default: the system's CAs)."},
    {"insecure", &TF_BOOL, ATTR_OPTIONAL, "Do not verify the https endpoint's certificate."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema provider_schema = {0, "The dfly managed service (dfly-control).",
                                          provider_attrs, NULL};

static const tf_resource *resource_find(const char *name)
{
    for (size_t i = 0; i < N_RESOURCES; i++)
        if (strcmp(resources[i]->type_name, name) == 0)
            return resources[i];
    return NULL;
}

static const tf_data_source *data_source_find(const char *name)
{
    for (size_t i = 0; i < N_DATA_SOURCES; i++)
        if (strcmp(data_sources[i]->type_name, name) == 0)
            return data_sources[i];
    return NULL;
}

/* --- packing ------------------------------------------------------------------------------ */

/* Diagnostics as messages; the array and its contents are freed by diag_protos_free. */
static Tfplugin6__Diagnostic **diag_protos(const diags *d, size_t *n)
{
    size_t count = 0;
    for (const diag *g = d->head; g; g = g->next)
        count++;
    Tfplugin6__Diagnostic **out = mem_calloc(count + 1, sizeof *out);
    size_t i = 0;
    for (const diag *g = d->head; g; g = g->next, i++) {
        Tfplugin6__Diagnostic *p = mem_calloc(1, sizeof *p);
        tfplugin6__diagnostic__init(p);
        p->severity = g->warning ? TFPLUGIN6__DIAGNOSTIC__SEVERITY__WARNING
                                 : TFPLUGIN6__DIAGNOSTIC__SEVERITY__ERROR;
        p->summary = g->summary ? g->summary : "";
        p->detail = g->detail ? g->detail : "";
        size_t steps = 0;
        while (steps < DIAG_MAX_PATH && g->path[steps])
            steps++;
        if (steps) {
            Tfplugin6__AttributePath *ap = mem_calloc(1, sizeof *ap);
            tfplugin6__attribute_path__init(ap);
            ap->n_steps = steps;
            ap->steps = mem_calloc(steps, sizeof *ap->steps);
            for (size_t s = 0; s < steps; s++) {
                Tfplugin6__AttributePath__Step *st = mem_calloc(1, sizeof *st);
                tfplugin6__attribute_path__step__init(st);
                st->selector_case = TFPLUGIN6__ATTRIBUTE_PATH__STEP__SELECTOR_ATTRIBUTE_NAME;
                st->attribute_name = (char *)g->path[s];
                ap->steps[s] = st;
            }
            p->attribute = ap;
        }
        out[i] = p;
    }
    *n = count;
    return out;
}

static void attr_path_free(Tfplugin6__AttributePath *ap)
{
    if (!ap)
        return;
    for (size_t s = 0; s < ap->n_steps; s++)
        free(ap->steps[s]);
    free(ap->steps);
    free(ap);
}

static void diag_protos_free(Tfplugin6__Diagnostic **p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        attr_path_free(p[i]->attribute);
        free(p[i]);
    }
    free(p);
}

/* A DynamicValue holding v as msgpack; its bytes live in storage (the caller frees it). */
static Tfplugin6__DynamicValue *dynamic_value(Tfplugin6__DynamicValue *dv, const cty_value *v,
                                              buf *storage)
{
    tfplugin6__dynamic_value__init(dv);
    cty_encode_msgpack(v, storage);
    dv->msgpack.data = (uint8_t *)storage->data;
    dv->msgpack.len = storage->len;
    return dv;
}

static cty_value *dynamic_decode(const Tfplugin6__DynamicValue *dv, diags *d)
{
    if (!dv || (dv->msgpack.len == 0 && dv->json.len == 0))
        return cty_null();
    if (dv->msgpack.len == 0) {
        json_error_t err;
        json_t *j = json_loadb((const char *)dv->json.data, dv->json.len, JSON_DECODE_ANY, &err);
        cty_value *v = j ? cty_from_json(j) : NULL;
        json_decref(j);
        if (v)
            return v;
    } else {
        cty_value *v = cty_decode_msgpack(dv->msgpack.data, dv->msgpack.len);
        if (v)
            return v;
    }
    diag_error(d, NULL, "Invalid value from Terraform", "A value could not be decoded.");
    return cty_null();
}

static void pack(const ProtobufCMessage *m, buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    buf_reserve(out, n);
    protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    out->len += n;
}

/* --- provider ----------------------------------------------------------------------------- */

static Tfplugin6__GetProviderSchema__Response__ResourceSchemasEntry *rs_entry(const char *name,
                                                                              const tf_schema *s)
{
    Tfplugin6__GetProviderSchema__Response__ResourceSchemasEntry *e = mem_malloc(sizeof *e);
    tfplugin6__get_provider_schema__response__resource_schemas_entry__init(e);
    e->key = (char *)name;
    e->value = schema_proto(s);
    return e;
}

static Tfplugin6__GetProviderSchema__Response__DataSourceSchemasEntry *ds_entry(const char *name,
                                                                                const tf_schema *s)
{
    Tfplugin6__GetProviderSchema__Response__DataSourceSchemasEntry *e = mem_malloc(sizeof *e);
    tfplugin6__get_provider_schema__response__data_source_schemas_entry__init(e);
    e->key = (char *)name;
    e->value = schema_proto(s);
    return e;
}

static int rpc_get_provider_schema(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__GetProviderSchema__Response resp = TFPLUGIN6__GET_PROVIDER_SCHEMA__RESPONSE__INIT;
    Tfplugin6__ServerCapabilities caps = TFPLUGIN6__SERVER_CAPABILITIES__INIT;
    resp.provider = schema_proto(&provider_schema);
    resp.server_capabilities = &caps;
    Tfplugin6__GetProviderSchema__Response__ResourceSchemasEntry *rs[N_RESOURCES];
    Tfplugin6__GetProviderSchema__Response__DataSourceSchemasEntry *ds[N_DATA_SOURCES];
    for (size_t i = 0; i < N_RESOURCES; i++)
        rs[i] = rs_entry(resources[i]->type_name, resources[i]->schema);
    for (size_t i = 0; i < N_DATA_SOURCES; i++)
        ds[i] = ds_entry(data_sources[i]->type_name, data_sources[i]->schema);
    resp.n_resource_schemas = N_RESOURCES;
    resp.resource_schemas = rs;
    resp.n_data_source_schemas = N_DATA_SOURCES;
    resp.data_source_schemas = ds;
    pack(&resp.base, out);
    schema_proto_free(resp.provider);
    for (size_t i = 0; i < N_RESOURCES; i++) {
        schema_proto_free(rs[i]->value);
        free(rs[i]);
    }
    for (size_t i = 0; i < N_DATA_SOURCES; i++) {
        schema_proto_free(ds[i]->value);
        free(ds[i]);
    }
    return GRPC_OK;
}

static void provider_validate(const cty_value *config, diags *d)
{
    const char *ep = cty_get_str(config, "endpoint");
    if (ep && strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
        diag_error(d, "endpoint", "Invalid endpoint",
                   "endpoint must be an http:// or https:// URL, got \"%s\".", ep);
}

static int rpc_validate_provider_config(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ValidateProviderConfig__Request *r = UNPACK(validate_provider_config, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    cty_value *config = dynamic_decode(r->config, &d);
    provider_validate(config, &d);
    Tfplugin6__ValidateProviderConfig__Response resp =
        TFPLUGIN6__VALIDATE_PROVIDER_CONFIG__RESPONSE__INIT;
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

/* An attribute of the configuration, else the environment; NULL when neither is known. */
static const char *config_or_env(const cty_value *config, const char *attr, const char *env,
                                 bool *unknown)
{
    if (cty_get_unknown(config, attr)) {
        *unknown = true;
        return NULL;
    }
    const char *v = cty_get_str(config, attr);
    if (!v || !*v)
        v = getenv(env);
    return v && *v ? v : NULL;
}

static void provider_configure(provider *p, const cty_value *config, diags *d)
{
    bool unknown = false;
    const char *endpoint = config_or_env(config, "endpoint", ENV_ENDPOINT, &unknown);
    const char *token = config_or_env(config, "token", ENV_TOKEN, &unknown);
    if (unknown || cty_get_unknown(config, "ca_file") || cty_get_unknown(config, "insecure"))
        return; /* known only after apply: plans work, API calls report it (provider_ready) */
    if (!endpoint) {
        diag_error(d, "endpoint", "Missing endpoint",
                   "Set endpoint in the provider block or DFLY_ENDPOINT in the environment.");
        return;
    }
    bool insecure = false;
    cty_get_bool(config, "insecure", &insecure);
    dflyapi_options o = {.endpoint = endpoint,
                         .token = token,
                         .user_agent = PROVIDER_USER_AGENT,
                         .insecure = insecure,
                         .ca_file = cty_get_str(config, "ca_file")};
    dflyapi_client *c = dflyapi_client_new(&o);
    if (!c) {
        diag_error(d, "endpoint", "Invalid endpoint", "Cannot use endpoint \"%s\".", endpoint);
        return;
    }
    pthread_mutex_lock(&p->lock);
    dflyapi_client_free(p->api);
    free(p->endpoint);
    p->api = c;
    p->endpoint = strdup(endpoint);
    pthread_mutex_unlock(&p->lock);
}

static int rpc_configure_provider(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ConfigureProvider__Request *r = UNPACK(configure_provider, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    cty_value *config = dynamic_decode(r->config, &d);
    provider_validate(config, &d);
    if (!d.has_error)
        provider_configure(&ctx->provider, config, &d);
    Tfplugin6__ConfigureProvider__Response resp = TFPLUGIN6__CONFIGURE_PROVIDER__RESPONSE__INIT;
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static void unknown_type(diags *d, const char *what, const char *name)
{
    diag_error(d, NULL, "Unknown type", "This provider has no %s \"%s\".", what, name);
}

/* --- validation ---------------------------------------------------------------------------- */

static int rpc_validate_resource_config(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ValidateResourceConfig__Request *r = UNPACK(validate_resource_config, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_resource *res = resource_find(r->type_name);
    cty_value *config = dynamic_decode(r->config, &d);
    if (!res)
        unknown_type(&d, "resource", r->type_name);
    else if (res->validate && !d.has_error)
        res->validate(config, &d);
    Tfplugin6__ValidateResourceConfig__Response resp =
        TFPLUGIN6__VALIDATE_RESOURCE_CONFIG__RESPONSE__INIT;
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static int rpc_validate_data_resource_config(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ValidateDataResourceConfig__Request *r =
        UNPACK(validate_data_resource_config, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_data_source *ds = data_source_find(r->type_name);
    cty_value *config = dynamic_decode(r->config, &d);
    if (!ds)
        unknown_type(&d, "data source", r->type_name);
    else if (ds->validate && !d.has_error)
        ds->validate(config, &d);
    Tfplugin6__ValidateDataResourceConfig__Response resp =
        TFPLUGIN6__VALIDATE_DATA_RESOURCE_CONFIG__RESPONSE__INIT;
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

/* --- managed resources --------------------------------------------------------------------- */

/* State written by any version of this provider is read as JSON and given today's shape. */
static int rpc_upgrade_resource_state(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__UpgradeResourceState__Request *r = UNPACK(upgrade_resource_state, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_resource *res = resource_find(r->type_name);
    cty_value *state = NULL;
    if (!res) {
        unknown_type(&d, "resource", r->type_name);
    } else if (r->raw_state && r->raw_state->json.len) {
        json_error_t err;
        json_t *j =
            json_loadb((const char *)r->raw_state->json.data, r->raw_state->json.len, 0, &err);
        if (!j) {
            diag_error(&d, NULL, "Unreadable state", "The stored state is not JSON: %s", err.text);
        } else {
            cty_value *raw = cty_from_json(j);
            state = schema_conform(res->schema, raw);
            cty_free(raw);
            json_decref(j);
        }
    } else {
        diag_error(&d, NULL, "Unreadable state",
                   "The stored state has no JSON form (the flatmap form predates Terraform 0.12).");
    }
    Tfplugin6__UpgradeResourceState__Response resp =
        TFPLUGIN6__UPGRADE_RESOURCE_STATE__RESPONSE__INIT;
    Tfplugin6__DynamicValue dv;
    buf storage;
    buf_init(&storage);
    if (state)
        resp.upgraded_state = dynamic_value(&dv, state, &storage);
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    buf_free(&storage);
    cty_free(state);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static int rpc_read_resource(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ReadResource__Request *r = UNPACK(read_resource, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_resource *res = resource_find(r->type_name);
    cty_value *current = dynamic_decode(r->current_state, &d);
    cty_value *state = NULL;
    if (!res)
        unknown_type(&d, "resource", r->type_name);
    else if (!d.has_error && cty_is_null(current))
        state = cty_null();
    else if (!d.has_error && provider_ready(&ctx->provider, &d))
        state = res->read(&ctx->provider, current, &d);
    cty_value *shaped = NULL;
    if (state) {
        shaped = schema_conform(res->schema, state);
        cty_free(state);
    } else {
        shaped = cty_dup(current); /* an error keeps what Terraform had */
    }
    Tfplugin6__ReadResource__Response resp = TFPLUGIN6__READ_RESOURCE__RESPONSE__INIT;
    Tfplugin6__DynamicValue dv;
    buf storage;
    buf_init(&storage);
    resp.new_state = dynamic_value(&dv, shaped, &storage);
    resp.private_ = r->private_;
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    buf_free(&storage);
    cty_free(shaped);
    cty_free(current);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static Tfplugin6__AttributePath **replace_paths(const char **replace, size_t *n)
{
    size_t count = 0;
    while (count < PLAN_MAX_REPLACE && replace[count])
        count++;
    Tfplugin6__AttributePath **paths = mem_calloc(count + 1, sizeof *paths);
    for (size_t i = 0; i < count; i++) {
        Tfplugin6__AttributePath *ap = mem_calloc(1, sizeof *ap);
        Tfplugin6__AttributePath__Step *st = mem_calloc(1, sizeof *st);
        Tfplugin6__AttributePath__Step **steps = mem_calloc(1, sizeof *steps);
        tfplugin6__attribute_path__init(ap);
        tfplugin6__attribute_path__step__init(st);
        st->selector_case = TFPLUGIN6__ATTRIBUTE_PATH__STEP__SELECTOR_ATTRIBUTE_NAME;
        st->attribute_name = (char *)replace[i];
        steps[0] = st;
        ap->steps = steps;
        ap->n_steps = 1;
        paths[i] = ap;
    }
    *n = count;
    return paths;
}

static int rpc_plan_resource_change(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__PlanResourceChange__Request *r = UNPACK(plan_resource_change, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_resource *res = resource_find(r->type_name);
    cty_value *prior = dynamic_decode(r->prior_state, &d);
    cty_value *proposed = dynamic_decode(r->proposed_new_state, &d);
    cty_value *config = dynamic_decode(r->config, &d);
    const char *replace[PLAN_MAX_REPLACE + 1] = {0};
    cty_value *planned = cty_dup(proposed);
    if (!res) {
        unknown_type(&d, "resource", r->type_name);
    } else if (!d.has_error && !cty_is_null(proposed)) {
        res->plan(&ctx->provider, prior, planned, config, replace, &d);
        cty_value *shaped = schema_conform(res->schema, planned);
        cty_free(planned);
        planned = shaped;
    }
    Tfplugin6__PlanResourceChange__Response resp = TFPLUGIN6__PLAN_RESOURCE_CHANGE__RESPONSE__INIT;
    Tfplugin6__DynamicValue dv;
    buf storage;
    buf_init(&storage);
    resp.planned_state = dynamic_value(&dv, planned, &storage);
    resp.planned_private = r->prior_private;
    resp.requires_replace = replace_paths(replace, &resp.n_requires_replace);
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    for (size_t i = 0; i < resp.n_requires_replace; i++)
        attr_path_free(resp.requires_replace[i]);
    free(resp.requires_replace);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    buf_free(&storage);
    cty_free(planned);
    cty_free(prior);
    cty_free(proposed);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static int rpc_apply_resource_change(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ApplyResourceChange__Request *r = UNPACK(apply_resource_change, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_resource *res = resource_find(r->type_name);
    cty_value *prior = dynamic_decode(r->prior_state, &d);
    cty_value *planned = dynamic_decode(r->planned_state, &d);
    cty_value *config = dynamic_decode(r->config, &d);
    cty_value *state = NULL;
    if (!res)
        unknown_type(&d, "resource", r->type_name);
    else if (!d.has_error && provider_ready(&ctx->provider, &d))
        state = res->apply(&ctx->provider, prior, planned, config, &d);
    cty_value *shaped;
    if (state) {
        shaped = schema_conform(res->schema, state);
        cty_free(state);
    } else {
        /* Nothing changed: a failed create leaves nothing, a failed update or delete the prior. */
        shaped = cty_dup(prior);
    }
    Tfplugin6__ApplyResourceChange__Response resp =
        TFPLUGIN6__APPLY_RESOURCE_CHANGE__RESPONSE__INIT;
    Tfplugin6__DynamicValue dv;
    buf storage;
    buf_init(&storage);
    resp.new_state = dynamic_value(&dv, shaped, &storage);
    resp.private_ = r->planned_private;
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    buf_free(&storage);
    cty_free(shaped);
    cty_free(prior);
    cty_free(planned);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static int rpc_import_resource_state(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ImportResourceState__Request *r = UNPACK(import_resource_state, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_resource *res = resource_find(r->type_name);
    cty_value *state = NULL;
    if (!res)
        unknown_type(&d, "resource", r->type_name);
    else if (!r->id[0])
        diag_error(&d, NULL, "Missing import id", "terraform import needs the resource's id.");
    else
        state = res->import(&ctx->provider, r->id, &d);
    Tfplugin6__ImportResourceState__Response resp =
        TFPLUGIN6__IMPORT_RESOURCE_STATE__RESPONSE__INIT;
    Tfplugin6__ImportResourceState__ImportedResource ir =
        TFPLUGIN6__IMPORT_RESOURCE_STATE__IMPORTED_RESOURCE__INIT;
    Tfplugin6__ImportResourceState__ImportedResource *irs[1] = {&ir};
    Tfplugin6__DynamicValue dv;
    buf storage;
    buf_init(&storage);
    cty_value *shaped = NULL;
    if (state && !d.has_error) {
        shaped = schema_conform(res->schema, state);
        ir.type_name = r->type_name;
        ir.state = dynamic_value(&dv, shaped, &storage);
        resp.imported_resources = irs;
        resp.n_imported_resources = 1;
    }
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    buf_free(&storage);
    cty_free(shaped);
    cty_free(state);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

static int rpc_read_data_source(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__ReadDataSource__Request *r = UNPACK(read_data_source, len, req);
    if (!r)
        return GRPC_INVALID_ARGUMENT;
    diags d = {0};
    const tf_data_source *ds = data_source_find(r->type_name);
    cty_value *config = dynamic_decode(r->config, &d);
    cty_value *state = NULL;
    if (!ds)
        unknown_type(&d, "data source", r->type_name);
    else if (!d.has_error && provider_ready(&ctx->provider, &d))
        state = ds->read(&ctx->provider, config, &d);
    cty_value *shaped = state ? schema_conform(ds->schema, state) : cty_dup(config);
    Tfplugin6__ReadDataSource__Response resp = TFPLUGIN6__READ_DATA_SOURCE__RESPONSE__INIT;
    Tfplugin6__DynamicValue dv;
    buf storage;
    buf_init(&storage);
    resp.state = dynamic_value(&dv, shaped, &storage);
    resp.diagnostics = diag_protos(&d, &resp.n_diagnostics);
    pack(&resp.base, out);
    diag_protos_free(resp.diagnostics, resp.n_diagnostics);
    diags_free(&d);
    buf_free(&storage);
    cty_free(shaped);
    cty_free(state);
    cty_free(config);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_OK;
}

/* Terraform asks running operations to stop; ours are bounded by their timeouts. */
static int rpc_stop_provider(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out)
{
    Tfplugin6__StopProvider__Response resp = TFPLUGIN6__STOP_PROVIDER__RESPONSE__INIT;
    pack(&resp.base, out);
    return GRPC_OK;
}

/* --- dispatch ------------------------------------------------------------------------------ */

typedef int (*rpc_fn)(rpc_ctx *ctx, const uint8_t *req, size_t len, buf *out);

static const struct {
    const char *path;
    rpc_fn fn;
} rpcs[] = {
    {"/tfplugin6.Provider/GetProviderSchema", rpc_get_provider_schema},
    {"/tfplugin6.Provider/ValidateProviderConfig", rpc_validate_provider_config},
    {"/tfplugin6.Provider/ValidateResourceConfig", rpc_validate_resource_config},
    {"/tfplugin6.Provider/ValidateDataResourceConfig", rpc_validate_data_resource_config},
    {"/tfplugin6.Provider/ConfigureProvider", rpc_configure_provider},
    {"/tfplugin6.Provider/UpgradeResourceState", rpc_upgrade_resource_state},
    {"/tfplugin6.Provider/ReadResource", rpc_read_resource},
    {"/tfplugin6.Provider/PlanResourceChange", rpc_plan_resource_change},
    {"/tfplugin6.Provider/ApplyResourceChange", rpc_apply_resource_change},
    {"/tfplugin6.Provider/ImportResourceState", rpc_import_resource_state},
    {"/tfplugin6.Provider/ReadDataSource", rpc_read_data_source},
    {"/tfplugin6.Provider/StopProvider", rpc_stop_provider},
};

#define SHUTDOWN_PATH "/plugin.GRPCController/Shutdown"

int rpc_handle(void *ud, const char *method, const uint8_t *req, size_t len, buf *resp, bool *stop)
{
    rpc_ctx *ctx = ud;
    if (strcmp(method, SHUTDOWN_PATH) == 0) {
        *stop = true; /* an empty message answers; the connection ends once it is sent */
        return GRPC_OK;
    }
    for (size_t i = 0; i < sizeof rpcs / sizeof rpcs[0]; i++)
        if (strcmp(method, rpcs[i].path) == 0)
            return rpcs[i].fn(ctx, req, len, resp);
    return GRPC_UNIMPLEMENTED;
}

void rpc_ctx_init(rpc_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    pthread_mutex_init(&ctx->provider.lock, NULL);
}

void rpc_ctx_free(rpc_ctx *ctx)
{
    dflyapi_client_free(ctx->provider.api);
    free(ctx->provider.endpoint);
    ctx->provider.api = NULL;
    ctx->provider.endpoint = NULL;
    pthread_mutex_destroy(&ctx->provider.lock);
}
