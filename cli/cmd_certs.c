/* dfly certs …: the internal CA, an instance's server certificate and its client certificates
 * (issue 14). A client certificate's private key is shown once, when it is issued: it is
 * printed, or written with mode 0600. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define ID_MAX_LEN 256
#define PATH_TEXT_MAX 4096
#define DAYS_MAX 825 /* the API's limit, the CA/Browser Forum's old one */
#define PRIVATE_FILE_MODE 0600
#define PRIVATE_DIR_MODE 0700
#define KEY_WIDTH 20

static const out_column client_cert_cols[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"SERIAL", "serial"},
    {"NOT BEFORE", "not_before"},
    {"NOT AFTER", "not_after"},
    {"REVOKED", "revoked"},
    {NULL, NULL},
};

/* A resource as "key: value" lines (arrays joined by ", "), for a single certificate's many
 * members; json and yaml print it as it is. */
static void print_details(cli_ctx *x, const json_t *obj)
{
    if (x->out != OUT_TABLE) {
        out_print(x, obj, NULL);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        printf("%-*s ", KEY_WIDTH, k);
        if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                printf("%s%s", i ? ", " : "", json_string_value(e) ? json_string_value(e) : "?");
            }
            putchar('\n');
        } else {
            char *cell = out_cell(obj, k);
            printf("%s\n", cell);
            free(cell);
        }
    }
}

int cmd_certs_ca(cli_ctx *x)
{
    const char *file = x->opt[OPT_FILE];
    int to_stdout = !file || !strcmp(file, "-");
    FILE *f = to_stdout ? stdout : fopen(file, "w");
    if (!f)
        return cli_fail(EXIT_ERROR, "cannot write %s: %s", file, strerror(errno));
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_ca_get(cli_api(x), f, &r);
    int rc = e == DFLYAPI_OK ? EXIT_OK : cli_api_fail(x, e, &r);
    dflyapi_result_clear(&r);
    if (!to_stdout) {
        if (fclose(f) != 0 && rc == EXIT_OK)
            rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", file, strerror(errno));
        if (rc != EXIT_OK)
            unlink(file); /* no half-written CA for a client to trust */
        else
            fprintf(stderr, "wrote the CA certificate to %s\n", file);
    }
    return rc;
}

int cmd_certs_show(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_certificate_get(cli_api(x), id, &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    print_details(x, r.body);
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

int cmd_certs_rotate(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_certificate_rotate(cli_api(x), id, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    return cli_finish_change(x, &r, "certificate rotation");
}

/* Writes text to dir/name with mode 0600 (also when the file was there with another mode). */
static int write_private(const char *dir, const char *name, const char *text)
{
    char path[PATH_TEXT_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, PRIVATE_FILE_MODE);
    if (fd < 0)
        return cli_fail(EXIT_ERROR, "cannot write %s: %s", path, strerror(errno));
    size_t len = strlen(text), done = 0;
    int ok = fchmod(fd, PRIVATE_FILE_MODE) == 0;
    while (ok && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += n > 0 ? (size_t)n : 0;
    }
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok)
        return cli_fail(EXIT_ERROR, "cannot write %s: %s", path, strerror(err));
    fprintf(stderr, "wrote %s\n", path);
    return EXIT_OK;
}

/* --out-dir: NAME.crt, NAME.key and ca.crt, each 0600, in a directory made 0700 if new. */
static int write_client_files(const char *dir, const char *name, const json_t *body)
{
    if (mkdir(dir, PRIVATE_DIR_MODE) < 0 && errno != EEXIST)
        return cli_fail(EXIT_ERROR, "cannot make %s: %s", dir, strerror(errno));
    const char *cert = json_string_value(json_object_get(body, "certificate"));
    const char *key = json_string_value(json_object_get(body, "private_key"));
    const char *ca = json_string_value(json_object_get(body, "ca"));
    if (!cert || !key || !ca)
        return cli_fail(EXIT_ERROR, "the API's answer has no certificate, private_key or ca");
    char file[PATH_TEXT_MAX];
    snprintf(file, sizeof(file), "%s.crt", name);
    int rc = write_private(dir, file, cert);
    snprintf(file, sizeof(file), "%s.key", name);
    if (rc == EXIT_OK)
        rc = write_private(dir, file, key);
    if (rc == EXIT_OK)
        rc = write_private(dir, "ca.crt", ca);
    return rc;
}

int cmd_certs_client_create(cli_ctx *x)
{
    const char *name = x->args[1];
    /* NAME becomes file names under --out-dir: never a path */
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return cli_fail(EXIT_USAGE, "NAME '%s' is not a certificate name ([A-Za-z0-9._-])", name);
    json_t *body = json_pack("{s:s}", "name", name);
    if (cli_int_option(x, OPT_DAYS, 1, DAYS_MAX, body, "days") < 0) {
        json_decref(body);
        return EXIT_USAGE;
    }
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK) {
        json_decref(body);
        return rc;
    }
    dflyapi_result r = {0};
    dflyapi_err e =
        dflyapi_client_cert_create(cli_api(x), id, body, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    json_decref(body);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    if (x->opt[OPT_OUT_DIR]) {
        rc = write_client_files(x->opt[OPT_OUT_DIR], name, r.body);
        /* the metadata only: the key went to its file */
        json_t *meta = json_deep_copy(r.body);
        json_object_del(meta, "certificate");
        json_object_del(meta, "private_key");
        json_object_del(meta, "ca");
        out_print(x, meta, client_cert_cols);
        json_decref(meta);
    } else if (x->out == OUT_TABLE) {
        out_print(x, r.body, client_cert_cols);
        printf("\n%s%s%s", json_string_value(json_object_get(r.body, "certificate")),
               json_string_value(json_object_get(r.body, "private_key")),
               json_string_value(json_object_get(r.body, "ca")));
        fputs("Keep the private key: it is not shown again.\n", stderr);
    } else {
        out_print(x, r.body, NULL);
    }
    dflyapi_result_clear(&r);
    return rc;
}

int cmd_certs_client_list(cli_ctx *x)
{
    return cli_print_instance_items(x, x->args[0], dflyapi_client_cert_list, client_cert_cols);
}

int cmd_certs_client_revoke(cli_ctx *x)
{
    int rc = cli_confirm(x, "Revoke client certificate %s of instance %s?", x->args[1], x->args[0]);
    if (rc != EXIT_OK)
        return rc;
    return cli_delete_instance_item(x, x->args[0], x->args[1], dflyapi_client_cert_delete,
                                    "revoked client certificate");
}
