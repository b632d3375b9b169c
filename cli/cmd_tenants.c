/* dfly tenants … and dfly tokens …: thin commands over libdflyapi's tenant and token helpers. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define QUOTA_INSTANCES_MAX 10000

static const out_column tenant_cols[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"INSTANCES", "usage.instances"},
    {"MAX_INSTANCES", "max_instances"},
    {"MEMORY", "usage.memory|bytes"},
    {"MAX_MEMORY", "max_memory|bytes"},
    {"CREATED", "created_at"},
    {NULL, NULL},
};

static const out_column token_cols[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"PREFIX", "prefix"},
    {"CREATED", "created_at"},
    {"LAST_USED", "last_used_at"},
    {"REVOKED", "revoked_at"},
    {NULL, NULL},
};

/* Prints a result's body (items of a list) or reports its error; returns the exit code. */
static int show(cli_ctx *x, dflyapi_err e, dflyapi_result *r, const out_column *cols, int list)
{
    int rc = EXIT_OK;
    if (e != DFLYAPI_OK)
        rc = cli_api_fail(x, e, r);
    else
        out_print(x, list ? json_object_get(r->body, "items") : r->body, cols);
    dflyapi_result_clear(r);
    return rc;
}

/* The body of a tenant create or update from the options. */
static json_t *tenant_body(cli_ctx *x, const char *name)
{
    json_t *b = json_object();
    if (name)
        json_object_set_new(b, "name", json_string(name));
    if (cli_int_option(x, OPT_MAX_INSTANCES, 0, QUOTA_INSTANCES_MAX, b, "max_instances") < 0) {
        json_decref(b);
        return NULL;
    }
    if (x->opt[OPT_MAX_MEMORY])
        json_object_set_new(b, "max_memory", cli_bytes(x->opt[OPT_MAX_MEMORY]));
    return b;
}

int cmd_tenants_create(cli_ctx *x)
{
    json_t *b = tenant_body(x, x->args[0]);
    if (!b)
        return EXIT_USAGE;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_tenant_create(cli_api(x), b, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    json_decref(b);
    return show(x, e, &r, tenant_cols, 0);
}

int cmd_tenants_list(cli_ctx *x)
{
    dflyapi_result r = {0};
    return show(x, dflyapi_tenant_list(cli_api(x), &r), &r, tenant_cols, 1);
}

int cmd_tenants_get(cli_ctx *x)
{
    dflyapi_result r = {0};
    return show(x, dflyapi_tenant_get(cli_api(x), x->args[0], &r), &r, tenant_cols, 0);
}

int cmd_tenants_update(cli_ctx *x)
{
    json_t *b = tenant_body(x, x->opt[OPT_NAME]);
    if (!b)
        return EXIT_USAGE;
    if (json_object_size(b) == 0) {
        json_decref(b);
        return cli_fail(EXIT_USAGE, "nothing to change: give --name, --max-instances or "
                                    "--max-memory");
    }
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_tenant_update(cli_api(x), x->args[0], b, &r);
    json_decref(b);
    return show(x, e, &r, tenant_cols, 0);
}

int cmd_tenants_delete(cli_ctx *x)
{
    dflyapi_result r = {0};
    /* read it first: a typo gets "not found" before any question, and the prompt names it */
    dflyapi_err e = dflyapi_tenant_get(cli_api(x), x->args[0], &r);
    if (e != DFLYAPI_OK)
        return show(x, e, &r, NULL, 0);
    const char *name = json_string_value(json_object_get(r.body, "name"));
    int rc = cli_confirm(x, "Delete tenant %s (%s) and its tokens?", name ? name : "?", x->args[0]);
    dflyapi_result_clear(&r);
    if (rc != EXIT_OK)
        return rc;
    e = dflyapi_tenant_delete(cli_api(x), x->args[0], &r);
    if (e != DFLYAPI_OK)
        return show(x, e, &r, NULL, 0);
    dflyapi_result_clear(&r);
    fprintf(stderr, "tenant %s deleted\n", x->args[0]);
    return EXIT_OK;
}

int cmd_tokens_create(cli_ctx *x)
{
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_token_create(cli_api(x), x->args[0], x->opt[OPT_NAME],
                                         x->opt[OPT_IDEMPOTENCY_KEY], &r);
    if (e != DFLYAPI_OK)
        return show(x, e, &r, NULL, 0);
    if (x->out == OUT_TABLE) {
        out_print(x, r.body, token_cols);
        printf("\nsecret: %s\n", json_string_value(json_object_get(r.body, "secret")));
        fputs("Keep the secret: it is not shown again.\n", stderr);
        dflyapi_result_clear(&r);
        return EXIT_OK;
    }
    return show(x, e, &r, token_cols, 0);
}

int cmd_tokens_list(cli_ctx *x)
{
    dflyapi_result r = {0};
    return show(x, dflyapi_token_list(cli_api(x), x->args[0], &r), &r, token_cols, 1);
}

int cmd_tokens_revoke(cli_ctx *x)
{
    int rc = cli_confirm(x, "Revoke token %s of tenant %s? Whatever uses it stops working.",
                         x->args[1], x->args[0]);
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_token_revoke(cli_api(x), x->args[0], x->args[1], &r);
    if (e != DFLYAPI_OK)
        return show(x, e, &r, NULL, 0);
    dflyapi_result_clear(&r);
    fprintf(stderr, "token %s revoked\n", x->args[1]);
    return EXIT_OK;
}
