/* dfly login, logout, version, connect, completion and docs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define REDIS_CLI_ARGS_MAX 64
#define PORT_TEXT_MAX 16
#define CACHE_PATH_MAX 4096
#define PID_SUFFIX_MAX 16 /* ".<pid>" of a file being written */
#define PRIVATE_FILE_MODE 0600
#define PRIVATE_DIR_MODE 0700
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

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

/* Whether the instance has TLS: its "tls" member (issue 14). */
static int instance_tls(const json_t *inst)
{
    return json_is_true(json_object_get(inst, "tls"));
}

/* $XDG_CACHE_HOME/dfly (or ~/.cache/dfly), made 0700; 0, or -1 after reporting. */
static int cache_dir(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char parent[CACHE_PATH_MAX];
    if (xdg && *xdg)
        snprintf(parent, sizeof(parent), "%s", xdg);
    else
        snprintf(parent, sizeof(parent), "%s/.cache", home && *home ? home : ".");
    if (snprintf(out, size, "%s/dfly", parent) >= (int)size) {
        cli_fail(EXIT_ERROR, "the cache directory's path is too long");
        return -1;
    }
    mkdir(parent, PRIVATE_DIR_MODE); /* may be there already */
    if (mkdir(out, PRIVATE_DIR_MODE) < 0 && errno != EEXIST) {
        cli_fail(EXIT_ERROR, "cannot make %s: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* FNV-1a of the endpoint: each API's CA gets a cache file of its own. */
static unsigned long long endpoint_hash(const char *s)
{
    unsigned long long h = FNV_OFFSET;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return h;
}

/* Fetches the internal CA into a private cache file (written aside, then renamed, so that a
 * redis-cli never reads half of one) and puts its path in out; an exit code. Fetched every
 * time: a CA that was replaced is never served stale. */
static int cached_ca(cli_ctx *x, char *out, size_t size)
{
    char dir[CACHE_PATH_MAX], tmp[CACHE_PATH_MAX + PID_SUFFIX_MAX];
    if (cache_dir(dir, sizeof(dir)) < 0)
        return EXIT_ERROR;
    if (snprintf(out, size, "%s/ca-%016llx.pem", dir, endpoint_hash(x->endpoint)) >= (int)size)
        return cli_fail(EXIT_ERROR, "the cache directory's path is too long");
    snprintf(tmp, sizeof(tmp), "%s.%d", out, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, PRIVATE_FILE_MODE);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return cli_fail(EXIT_ERROR, "cannot write %s: %s", tmp, strerror(errno));
    }
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_ca_get(cli_api(x), f, &r);
    int rc = e == DFLYAPI_OK ? EXIT_OK : cli_api_fail(x, e, &r);
    dflyapi_result_clear(&r);
    if (fclose(f) != 0 && rc == EXIT_OK)
        rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == EXIT_OK && rename(tmp, out) != 0)
        rc = cli_fail(EXIT_ERROR, "cannot write %s: %s", out, strerror(errno));
    if (rc != EXIT_OK)
        unlink(tmp);
    return rc;
}

/* Adds redis-cli's TLS arguments for a TLS instance: --tls, the CA (--cacert or the cached
 * internal CA, kept in ca_path) and a client certificate. An exit code. */
static int tls_args(cli_ctx *x, const char **argv, int *n, char *ca_path, size_t size)
{
    argv[(*n)++] = "--tls";
    if (x->opt[OPT_CACERT]) {
        snprintf(ca_path, size, "%s", x->opt[OPT_CACERT]);
    } else {
        int rc = cached_ca(x, ca_path, size);
        if (rc != EXIT_OK)
            return rc;
    }
    argv[(*n)++] = "--cacert";
    argv[(*n)++] = ca_path;
    if (x->opt[OPT_CERT]) {
        argv[(*n)++] = "--cert";
        argv[(*n)++] = x->opt[OPT_CERT];
        argv[(*n)++] = "--key";
        argv[(*n)++] = x->opt[OPT_KEY];
    }
    return EXIT_OK;
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
    char port_text[PORT_TEXT_MAX], ca_path[CACHE_PATH_MAX];
    snprintf(port_text, sizeof(port_text), "%d", port);
    argv[n++] = bin;
    argv[n++] = "-h";
    argv[n++] = host;
    argv[n++] = "-p";
    argv[n++] = port_text;
    if (password && *password) {
        /* the password goes in the environment: argv is world-readable in /proc */
        argv[n++] = "--user";
        argv[n++] = x->opt[OPT_USER] ? x->opt[OPT_USER] : "default";
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
        int rc = tls_args(x, argv, &n, ca_path, sizeof(ca_path));
        if (rc != EXIT_OK)
            return rc;
    } else if (x->opt[OPT_CERT] || x->opt[OPT_CACERT]) {
        fputs("dfly: the instance has no TLS: --cacert, --cert and --key are not used\n", stderr);
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
    if (!x->opt[OPT_CERT] != !x->opt[OPT_KEY])
        return cli_fail(EXIT_USAGE, "--cert and --key go together");
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
                              "username", x->opt[OPT_USER] ? x->opt[OPT_USER] : "default", "tls",
                              instance_tls(r.body));
        out_print(x, v, NULL);
        json_decref(v);
    }
    dflyapi_result_clear(&r);
    return EXIT_OK;
}
