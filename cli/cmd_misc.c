/* dfly login, logout, version, connect, completion and docs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define REDIS_CLI_ARGS_MAX 64
#define PORT_TEXT_MAX 16

/* Reads a secret from the terminal without echo. Echo goes off before the prompt shows, and
 * without flushing input, so that nothing typed after the prompt is echoed or lost. */
static char *read_secret(const char *prompt)
{
    struct termios old, quiet;
    int restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    fputs(prompt, stderr);
    fflush(stderr);
    char *s = cli_read_line();
    if (restore)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fputc('\n', stderr);
    return s;
}

/* The token login is to store: --token, --token-stdin, else asked on the terminal. */
static char *login_token(cli_ctx *x)
{
    if (x->opt[OPT_TOKEN])
        return strdup(x->opt[OPT_TOKEN]);
    if (x->opt[OPT_TOKEN_STDIN])
        return cli_read_line();
    if (x->in_tty)
        return read_secret("Token: ");
    cli_fail(EXIT_USAGE, "no token: give --token or --token-stdin");
    return NULL;
}

int cmd_login(cli_ctx *x)
{
    char *token = login_token(x);
    if (!token)
        return x->opt[OPT_TOKEN_STDIN] ? cli_fail(EXIT_USAGE, "no token on stdin") : EXIT_USAGE;
    if (!*token) {
        free(token);
        return cli_fail(EXIT_USAGE, "the token is empty");
    }
    /* check it before it is stored: any token may list instances */
    free(x->token);
    x->token = token;
    dflyapi_result r = {0};
    dflyapi_param q[] = {{"limit", "1"}, {NULL, NULL}};
    dflyapi_req req = {.query = q};
    dflyapi_err e = dflyapi_request(cli_api(x), "GET", "/v1/instances", &req, &r);
    if (e != DFLYAPI_OK) {
        int rc = cli_api_fail(x, e, &r);
        dflyapi_result_clear(&r);
        return rc;
    }
    dflyapi_result_clear(&r);
    char *path = config_path();
    json_t *cfg = config_load(path);
    if (!cfg) {
        free(path);
        return EXIT_ERROR;
    }
    json_t *profiles = json_object_get(cfg, "profiles");
    if (!json_is_object(profiles)) {
        profiles = json_object();
        json_object_set_new(cfg, "profiles", profiles);
    }
    json_t *p = json_pack("{s:s, s:s}", "endpoint", x->endpoint, "token", x->token);
    char *ca = x->ca_file ? realpath(x->ca_file, NULL) : NULL;
    if (ca) /* an absolute path: the profile is used from any directory */
        json_object_set_new(p, "ca_file", json_string(ca));
    free(ca);
    json_object_set_new(profiles, x->profile, p);
    json_object_set_new(cfg, "current_profile", json_string(x->profile));
    int rc = EXIT_OK;
    if (config_save(path, cfg) < 0)
        rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", path, strerror(errno));
    else
        fprintf(stderr, "Logged in to %s (profile %s, saved in %s)\n", x->endpoint, x->profile,
                path);
    json_decref(cfg);
    free(path);
    return rc;
}

int cmd_logout(cli_ctx *x)
{
    char *path = config_path();
    json_t *cfg = config_load(path);
    int rc = EXIT_OK;
    json_t *p = cfg ? json_object_get(json_object_get(cfg, "profiles"), x->profile) : NULL;
    if (!cfg) {
        rc = EXIT_ERROR;
    } else if (!p || !json_object_get(p, "token")) {
        fprintf(stderr, "profile %s has no token\n", x->profile);
    } else {
        json_object_del(p, "token");
        if (config_save(path, cfg) < 0)
            rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", path, strerror(errno));
        else
            fprintf(stderr, "Logged out (profile %s)\n", x->profile);
    }
    json_decref(cfg);
    free(path);
    return rc;
}

int cmd_version(cli_ctx *x)
{
    json_t *v = json_pack("{s:{s:s}}", "client", "version", DFLY_VERSION);
    int rc = EXIT_OK;
    if (!x->opt[OPT_CLIENT]) {
        dflyapi_result r = {0};
        dflyapi_err e = dflyapi_openapi_get(cli_api(x), &r);
        if (e != DFLYAPI_OK) {
            rc = cli_api_fail(x, e, &r);
        } else {
            const char *api =
                json_string_value(json_object_get(json_object_get(r.body, "info"), "version"));
            dflyapi_result h = {0};
            dflyapi_health(cli_api(x), &h); /* 503 while starting: its body still says so */
            const char *ready = json_string_value(json_object_get(h.body, "status"));
            json_object_set_new(v, "server",
                                json_pack("{s:s, s:s, s:s}", "endpoint", x->endpoint, "api_version",
                                          api ? api : "unknown", "status",
                                          ready ? ready : "unknown"));
            dflyapi_result_clear(&h);
        }
        dflyapi_result_clear(&r);
    }
    if (x->out == OUT_TABLE) {
        printf("Client: dfly %s\n", DFLY_VERSION);
        json_t *s = json_object_get(v, "server");
        if (s)
            printf("Server: %s API %s (%s)\n", json_string_value(json_object_get(s, "endpoint")),
                   json_string_value(json_object_get(s, "api_version")),
                   json_string_value(json_object_get(s, "status")));
    } else {
        out_print(x, v, NULL);
    }
    json_decref(v);
    return rc;
}

int cmd_completion(cli_ctx *x)
{
    return gendoc_completion(stdout, x->args[0]);
}

int cmd_docs(cli_ctx *x)
{
    if (strcmp(x->args[0], "markdown"))
        return cli_fail(EXIT_USAGE, "docs: '%s' is not a format (markdown)", x->args[0]);
    return gendoc_markdown(stdout);
}

/* --- connect ----------------------------------------------------------------------------- */

/* Whether the instance has TLS: a "tls" member that is true or {"enabled": true}. Instances
 * have no TLS in this API version yet; this is where it will show. */
static int instance_tls(const json_t *inst)
{
    const json_t *t = json_object_get(inst, "tls");
    return json_is_true(t) || json_is_true(json_object_get(t, "enabled"));
}

/* Starts redis-cli on the instance; returns only when that fails. */
static int exec_redis_cli(cli_ctx *x, const json_t *inst, const char *host, int port)
{
    char *password = NULL;
    if (x->opt[OPT_PASSWORD_STDIN]) {
        password = cli_read_line();
        if (!password)
            return cli_fail(EXIT_USAGE, "no password on stdin");
    } else if (getenv("DFLY_PASSWORD")) {
        password = strdup(getenv("DFLY_PASSWORD"));
    }
    const char *bin = getenv("DFLY_REDIS_CLI");
    if (!bin || !*bin)
        bin = "redis-cli";
    const char *argv[REDIS_CLI_ARGS_MAX];
    int n = 0;
    char port_text[PORT_TEXT_MAX];
    snprintf(port_text, sizeof(port_text), "%d", port);
    argv[n++] = bin;
    argv[n++] = "-h";
    argv[n++] = host;
    argv[n++] = "-p";
    argv[n++] = port_text;
    if (password && *password) {
        /* the password goes in the environment: argv is world-readable in /proc */
        argv[n++] = "--user";
        argv[n++] = "default";
        setenv("REDISCLI_AUTH", password, 1);
        memset(password, 0, strlen(password));
    } else
        fputs("dfly: no password given ($DFLY_PASSWORD or --password-stdin): connecting "
              "without one\n",
              stderr);
    free(password);
    const char *mode = json_string_value(json_object_get(inst, "cluster_mode"));
    if (mode && !strcmp(mode, "yes"))
        argv[n++] = "-c";
    if (instance_tls(inst)) {
        argv[n++] = "--tls";
        if (x->opt[OPT_CACERT]) {
            argv[n++] = "--cacert";
            argv[n++] = x->opt[OPT_CACERT];
        }
    }
    if (n + x->nrest >= REDIS_CLI_ARGS_MAX)
        return cli_fail(EXIT_USAGE, "too many redis-cli arguments");
    for (int i = 0; i < x->nrest; i++)
        argv[n++] = x->rest[i];
    argv[n] = NULL;
    fflush(stdout);
    execvp(bin, (char *const *)argv);
    return cli_fail(EXIT_ERROR, "cannot run %s: %s (install redis-tools or set $DFLY_REDIS_CLI)",
                    bin, strerror(errno));
}

int cmd_connect(cli_ctx *x)
{
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_instance_find(cli_api(x), x->args[0], &r);
    if (e != DFLYAPI_OK) {
        int rc = cli_api_fail(x, e, &r);
        dflyapi_result_clear(&r);
        return rc;
    }
    const json_t *ep = json_object_get(r.body, "endpoint");
    const char *host = json_string_value(json_object_get(ep, "host"));
    int port = (int)json_integer_value(json_object_get(ep, "port"));
    if (!host || port <= 0) {
        const char *status = json_string_value(json_object_get(r.body, "status"));
        cli_fail(EXIT_ERROR,
                 "instance %s has no endpoint yet (status %s); hint: wait with "
                 "'dfly instances get %s'",
                 x->args[0], status ? status : "?", x->args[0]);
        dflyapi_result_clear(&r);
        return EXIT_ERROR;
    }
    if (x->opt[OPT_EXEC]) {
        int rc = exec_redis_cli(x, r.body, host, port);
        dflyapi_result_clear(&r);
        return rc;
    }
    const char *uri = json_string_value(json_object_get(r.body, "uri"));
    if (x->out == OUT_TABLE) {
        printf("%s\n", uri ? uri : "");
    } else {
        json_t *v = json_pack("{s:s?, s:s, s:i, s:s, s:b}", "uri", uri, "host", host, "port", port,
                              "username", "default", "tls", instance_tls(r.body));
        out_print(x, v, NULL);
        json_decref(v);
    }
    dflyapi_result_clear(&r);
    return EXIT_OK;
}
