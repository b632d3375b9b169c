/* Output formats: table (columns chosen per resource), json (the API's objects as they are;
 * lists as a JSON array) and yaml (the same data; strings double-quoted, which is valid YAML and
 * keeps "yes", "0123" and "" from changing type). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"

#define COLUMNS_MAX 16
#define CELL_GAP 3
#define YAML_INDENT 2
#define PATH_PART_MAX 64
#define BYTES_PER_KB 1024
/* Room for an instance id (ids are far shorter; the same bound as the commands use). */
#define ID_MAX_LEN 256

/* The member at "a.b" of obj, or NULL. */
static const json_t *member_at(const json_t *obj, const char *path)
{
    const json_t *v = obj;
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char part[PATH_PART_MAX];
        snprintf(part, sizeof(part), "%.*s", (int)len, p);
        v = json_object_get(v, part);
        p += len + (dot ? 1 : 0);
    }
    return v;
}

/* 1073741824 -> "1gb": sizes as people write them (exact units only, else bytes). */
static void bytes_text(buf *b, long long n)
{
    static const char *const units[] = {"b", "kb", "mb", "gb", "tb"};
    int u = 0;
    while (u < 4 && n >= BYTES_PER_KB && n % BYTES_PER_KB == 0) {
        n /= BYTES_PER_KB;
        u++;
    }
    buf_printf(b, "%lld%s", n, units[u]);
}

char *out_cell(const json_t *obj, const char *path)
{
    char member[PATH_PART_MAX * 2];
    const char *bar = strchr(path, '|');
    int as_bytes = bar && !strcmp(bar + 1, "bytes");
    snprintf(member, sizeof(member), "%.*s", bar ? (int)(bar - path) : (int)strlen(path), path);
    const json_t *v = member_at(obj, member);
    buf b;
    buf_init(&b);
    if (as_bytes && json_is_integer(v)) {
        bytes_text(&b, (long long)json_integer_value(v));
    } else if (json_is_string(v)) {
        buf_append_str(&b, json_string_value(v));
    } else if (json_is_integer(v)) {
        buf_printf(&b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        buf_printf(&b, "%g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        buf_append_str(&b, json_is_true(v) ? "true" : "false");
    } else if (json_is_object(v)) {
        /* labels and endpoints: k=v,k=v or host:port */
        const json_t *host = json_object_get(v, "host"), *port = json_object_get(v, "port");
        if (host && port) {
            buf_printf(&b, "%s:%lld", json_string_value(host), (long long)json_integer_value(port));
        } else {
            const char *k;
            json_t *e;
            int first = 1;
            json_object_foreach((json_t *)v, k, e)
            {
                buf_printf(&b, "%s%s=%s", first ? "" : ",", k,
                           json_is_string(e) ? json_string_value(e) : "?");
                first = 0;
            }
        }
    } else if (json_is_array(v)) {
        buf_printf(&b, "%zu", json_array_size(v));
    }
    if (b.len == 0)
        buf_append_str(&b, "-");
    char *s = strdup(b.data);
    buf_free(&b);
    return s;
}

static void table_print(FILE *f, const json_t *rows, const out_column *cols)
{
    size_t ncols = 0;
    while (ncols < COLUMNS_MAX && cols[ncols].header)
        ncols++;
    size_t nrows = json_array_size(rows);
    char **cells = calloc((nrows ? nrows : 1) * ncols, sizeof(char *));
    size_t width[COLUMNS_MAX];
    for (size_t c = 0; c < ncols; c++)
        width[c] = strlen(cols[c].header);
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            char *s = out_cell(json_array_get(rows, r), cols[c].path);
            cells[r * ncols + c] = s;
            if (strlen(s) > width[c])
                width[c] = strlen(s);
        }
    for (size_t c = 0; c < ncols; c++)
        fprintf(f, "%-*s", c + 1 < ncols ? (int)(width[c] + CELL_GAP) : 0, cols[c].header);
    fputc('\n', f);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++)
            fprintf(f, "%-*s", c + 1 < ncols ? (int)(width[c] + CELL_GAP) : 0,
                    cells[r * ncols + c]);
        fputc('\n', f);
    }
    for (size_t i = 0; i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
}

void out_json(FILE *f, const json_t *v)
{
    json_dumpf(v, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    fputc('\n', f);
}

static int plain_key(const char *k)
{
    if (!*k)
        return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.' && *p != '/')
            return 0;
    return 1;
}

static void yaml_scalar(FILE *f, const json_t *v)
{
    if (json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v))
        json_dumpf(v, f, JSON_ENCODE_ANY);
    else if (json_is_object(v))
        fputs("{}", f);
    else
        fputs("[]", f);
}

static int yaml_nested(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

static void yaml_key(FILE *f, const char *k)
{
    if (plain_key(k)) {
        fputs(k, f);
    } else {
        json_t *s = json_string(k);
        json_dumpf(s, f, JSON_ENCODE_ANY);
        json_decref(s);
    }
    fputc(':', f);
}

void out_yaml(FILE *f, const json_t *v, int indent)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *e;
        int first = 1;
        json_object_foreach((json_t *)v, k, e)
        {
            /* the first member of an array item follows its "- " on the same line */
            fprintf(f, "%*s", first && indent < 0 ? 0 : (indent < 0 ? -indent : indent), "");
            first = 0;
            yaml_key(f, k);
            if (yaml_nested(e)) {
                fputc('\n', f);
                out_yaml(f, e, (indent < 0 ? -indent : indent) + YAML_INDENT);
            } else {
                fputc(' ', f);
                yaml_scalar(f, e);
                fputc('\n', f);
            }
        }
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *e;
        int ind = indent < 0 ? -indent : indent;
        json_array_foreach(v, i, e)
        {
            fprintf(f, "%*s- ", ind, "");
            if (json_is_object(e) && json_object_size(e) > 0) {
                out_yaml(f, e, -(ind + YAML_INDENT));
            } else if (yaml_nested(e)) {
                fputc('\n', f);
                out_yaml(f, e, ind + YAML_INDENT);
            } else {
                yaml_scalar(f, e);
                fputc('\n', f);
            }
        }
    } else {
        fprintf(f, "%*s", indent < 0 ? 0 : indent, "");
        yaml_scalar(f, v);
        fputc('\n', f);
    }
}

void out_print(cli_ctx *x, const json_t *v, const out_column *cols)
{
    switch (x->out) {
    case OUT_JSON: out_json(stdout, v); break;
    case OUT_YAML: out_yaml(stdout, v, 0); break;
    case OUT_TABLE:
        if (json_is_array(v)) {
            table_print(stdout, v, cols);
        } else {
            json_t *one = json_array();
            json_array_append((json_t *)one, (json_t *)v);
            table_print(stdout, one, cols);
            json_decref(one);
        }
        break;
    }
}

/* ---- commands on what an instance holds: resolve the instance, call, print ---------------- */

int cli_print_instance_items(cli_ctx *x, const char *ref, cli_instance_list_fn fn,
                             const out_column *cols)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, ref, id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = fn(cli_api(x), id, &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    out_print(x, json_object_get(r.body, "items"), cols);
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

int cli_delete_instance_item(cli_ctx *x, const char *ref, const char *item, cli_instance_item_fn fn,
                             const char *done)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, ref, id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = fn(cli_api(x), id, item, &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    dflyapi_result_clear(&r);
    fprintf(stderr, "%s %s\n", done, item);
    return EXIT_OK;
}
