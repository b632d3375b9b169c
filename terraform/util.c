/* Diagnostics and the small parsers resources share (see provider.h). */
#include "provider.h"

#include "alloc.h"
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static diag *diag_add(diags *d, bool warning, const char *attr, const char *summary, char *detail)
{
    diag *g = mem_calloc(1, sizeof *g);
    g->warning = warning;
    g->summary = mem_strdup(summary);
    g->detail = detail;
    g->path[0] = attr;
    if (d->tail)
        d->tail->next = g;
    else
        d->head = g;
    d->tail = g;
    if (!warning)
        d->has_error = true;
    return g;
}

void diag_error(diags *d, const char *attr, const char *summary, const char *fmt, ...)
{
    char *detail = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&detail, fmt, ap) < 0)
        detail = NULL;
    va_end(ap);
    diag_add(d, false, attr, summary, detail);
}

/* The API names the request member at fault ("memory", "persistence.snapshot_cron"); our
 * attributes carry the last part of that name. */
static const char *api_field_attr(const char *field)
{
    static const struct {
        const char *api, *attr;
    } map[] = {
        {"persistence.snapshot_cron", "snapshot_cron"},
        {"persistence.appendonly", "appendonly"},
        {"name", "name"},
        {"memory", "memory"},
        {"shards", "shards"},
        {"replicas_per_shard", "replicas_per_shard"},
        {"eviction_policy", "eviction_policy"},
        {"labels", "labels"},
        {"tenant_id", "tenant_id"},
        {"max_instances", "max_instances"},
        {"max_memory", "max_memory"},
        {"rules", "rules"},
        {"enabled", "enabled"},
        {"password", "password"},
        {"tls", "tls"},
        {"tls_client_auth", "tls_client_auth"},
        {"days", "days"},
        {"grace_period_seconds", "rotation_grace_period"},
    };
    for (size_t i = 0; field && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(field, map[i].api) == 0)
            return map[i].attr;
    return NULL;
}

void diag_error_in(diags *d, const char *block, const char *attr, const char *summary,
                   const char *fmt, ...)
{
    char *detail = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&detail, fmt, ap) < 0)
        detail = NULL;
    va_end(ap);
    diag *g = diag_add(d, false, block ? block : attr, summary, detail);
    if (block)
        g->path[1] = attr;
}

void diag_api_error(diags *d, const char *summary, dflyapi_err err, const dflyapi_result *r)
{
    const char *msg = r->err_message ? r->err_message : dflyapi_strerror(err);
    const char *code = r->err_code ? r->err_code : "error";
    char *detail = NULL;
    int n = r->status ? asprintf(&detail, "%s (%s, HTTP %d)", msg, code, r->status)
                      : asprintf(&detail, "%s (%s)", msg, code);
    if (n < 0)
        detail = NULL;
    diag_add(d, false, api_field_attr(r->err_field), summary, detail);
}

void diags_free(diags *d)
{
    diag *g = d->head;
    while (g) {
        diag *next = g->next;
        free(g->summary);
        free(g->detail);
        free(g);
        g = next;
    }
    d->head = d->tail = NULL;
    d->has_error = false;
}

bool provider_ready(provider *p, diags *d)
{
    if (p->api)
        return true;
    diag_error(d, NULL, "Provider not configured",
               "The dfly provider has no known endpoint yet: set endpoint (or DFLY_ENDPOINT) "
               "to a value known at plan time.");
    return false;
}

/* The service's own parser (Redis's units: "k" is 1000, "kb" 1024), so that the provider and
 * dfly-control never disagree about what a size means. */
long long size_parse(const char *s)
{
    long long v;
    if (!s || flags_parse_bytes(s, &v) != 0)
        return -1;
    return v;
}

long long duration_parse_ms(const char *s)
{
    if (!s || !*s)
        return -1;
    double total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || v < 0)
            return -1;
        double unit;
        if (strncmp(end, "ms", 2) == 0) {
            unit = 1;
            end += 2;
        } else if (*end == 's') {
            unit = 1000;
            end++;
        } else if (*end == 'm') {
            unit = 60000;
            end++;
        } else if (*end == 'h') {
            unit = 3600000;
            end++;
        } else {
            return -1;
        }
        total += v * unit;
        p = end;
    }
    return (long long)total;
}

bool import_id_split(const char *id, char **parent, const char **child)
{
    const char *sep = strchr(id, IMPORT_SEPARATOR);
    if (!sep || sep == id || !sep[1] || strchr(sep + 1, IMPORT_SEPARATOR))
        return false;
    *parent = mem_strndup(id, (size_t)(sep - id));
    *child = sep + 1;
    return true;
}

cty_value *cty_from_member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v ? cty_from_json(v) : cty_null();
}

const tf_attr timeouts_attrs[] = {
    {"create", &TF_STRING, ATTR_OPTIONAL, "How long to wait for a create (\"20m\")."},
    {"update", &TF_STRING, ATTR_OPTIONAL, "How long to wait for an update."},
    {"delete", &TF_STRING, ATTR_OPTIONAL, "How long to wait for a delete."},
    {NULL, NULL, 0, NULL},
};

long long timeout_ms(const cty_value *v, const char *which, long long fallback_ms)
{
    long long ms = duration_parse_ms(cty_get_str(cty_get(v, "timeouts"), which));
    return ms > 0 ? ms : fallback_ms;
}

#define NAME_PATTERN "^[a-z0-9][a-z0-9-]{0,62}$" /* the API's Name */

bool name_valid(const char *name)
{
    regex_t re;
    if (regcomp(&re, NAME_PATTERN, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&re, name, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}
