/* dfly: the command-line tool. Parses the command line against the command table
 * (commands.c), resolves the endpoint and token (config.c), runs the command and maps what went
 * wrong to one line on stderr and a documented exit code. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define ANSWER_MAX 16
#define HINT_MAX 160
#define MS_PER_S 1000L
#define S_PER_MIN 60L
#define S_PER_HOUR 3600L
#define HTTP_UNAUTHORIZED 401
#define HTTP_FORBIDDEN 403
#define HTTP_NOT_FOUND 404
#define CLI_RETRIES 2 /* a person waits: retry a hiccup, report an outage quickly */

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dfly: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* A hint for an API error code: what to try next (in buf, or a constant). */
static const char *hint_for(const cli_ctx *x, const dflyapi_result *r, dflyapi_err e, char *buf,
                            size_t size)
{
    const char *code = r->err_code ? r->err_code : "";
    if (e == DFLYAPI_ERR_TRANSPORT)
        return "is dfly-control running there? set --endpoint, $DFLY_ENDPOINT or dfly login";
    if (r->status == HTTP_UNAUTHORIZED)
        return "check the token: dfly login, $DFLY_TOKEN or --token";
    if (r->status == HTTP_FORBIDDEN)
        return "this needs an operator token";
    const char *group = x->cmd && x->cmd->group ? x->cmd->group : "instances";
    if (!strcmp(code, "not_found") || !strcmp(code, "ambiguous")) {
        if (!strcmp(group, "backups"))
            return "see what there is with 'dfly backups list INSTANCE'";
        if (!strcmp(group, "operations"))
            return "operations are listed by 'dfly events INSTANCE' and the answers of changes";
        if (!strcmp(group, "users"))
            return "see what there is with 'dfly instances list' and 'dfly users list INSTANCE'";
        if (!strcmp(group, "certs"))
            return "certificates exist for instances with TLS on ('dfly instances update "
                   "INSTANCE --tls')";
        snprintf(buf, size, "see what there is with 'dfly %s list%s'", group,
                 !strcmp(group, "tokens") ? " TENANT" : "");
        return buf;
    }
    if ((!strcmp(code, "validation_failed") || !strcmp(code, "bad_request")) && x->cmd) {
        char name[64];
        gendoc_fullname(name, sizeof(name), x->cmd);
        snprintf(buf, size, "see '%s --help'", name);
        return buf;
    }
    if (!strcmp(code, "precondition_failed"))
        return "it changed meanwhile: get it again and retry with the new etag";
    if (!strcmp(code, "rate_limited"))
        return "too many requests: retry in a moment";
    if (!strcmp(code, "quota_exceeded"))
        return "ask the operator for a higher quota ('dfly tenants update')";
    if (e == DFLYAPI_ERR_TIMEOUT)
        return "it goes on in the background: 'dfly operations wait' it again";
    if (e == DFLYAPI_ERR_FAILED)
        return "see 'dfly events INSTANCE' for what happened";
    return NULL;
}

int cli_api_fail(cli_ctx *x, dflyapi_err e, const dflyapi_result *r)
{
    const char *msg = r->err_message ? r->err_message : dflyapi_strerror(e);
    char buf[HINT_MAX];
    const char *hint = hint_for(x, r, e, buf, sizeof(buf));
    fprintf(stderr, "dfly: error: %s", msg);
    if (r->err_code && e == DFLYAPI_ERR_HTTP)
        fprintf(stderr, " (%s%s%s)", r->err_code, r->err_field ? ", field " : "",
                r->err_field ? r->err_field : "");
    if (hint)
        fprintf(stderr, "; hint: %s", hint);
    fputc('\n', stderr);
    switch (e) {
    case DFLYAPI_ERR_TRANSPORT: return EXIT_UNREACHABLE;
    case DFLYAPI_ERR_TIMEOUT: return EXIT_TIMEOUT;
    case DFLYAPI_ERR_ARG: return EXIT_USAGE;
    default: break;
    }
    if (r->status == HTTP_UNAUTHORIZED || r->status == HTTP_FORBIDDEN)
        return EXIT_AUTH;
    if (r->status == HTTP_NOT_FOUND)
        return EXIT_NOT_FOUND;
    return EXIT_ERROR;
}

int cli_api_fail_clear(cli_ctx *x, dflyapi_err e, dflyapi_result *r)
{
    int rc = cli_api_fail(x, e, r);
    dflyapi_result_clear(r);
    return rc;
}

int cli_confirm(cli_ctx *x, const char *fmt, ...)
{
    if (x->opt[OPT_YES])
        return EXIT_OK;
    if (!x->in_tty)
        return cli_fail(EXIT_USAGE, "refusing to %s without --yes: stdin is not a terminal",
                        x->cmd->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" [y/N] ", stderr);
    fflush(stderr);
    char answer[ANSWER_MAX] = "";
    if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
        fputs("dfly: cancelled\n", stderr);
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

dflyapi_client *cli_api(cli_ctx *x)
{
    if (!x->api) {
        char ua[64];
        snprintf(ua, sizeof(ua), "dfly-cli/%s", DFLY_VERSION);
        dflyapi_options o = {.endpoint = x->endpoint,
                             .token = x->token,
                             .user_agent = ua,
                             .insecure = x->opt[OPT_INSECURE] != NULL,
                             .ca_file = x->ca_file,
                             .max_retries = CLI_RETRIES};
        x->api = dflyapi_client_new(&o);
        if (!x->api) {
            cli_fail(EXIT_USAGE, "cannot use endpoint '%s'", x->endpoint);
            exit(EXIT_USAGE);
        }
    }
    return x->api;
}

long cli_parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double scale = MS_PER_S;
    if (!strcmp(end, "ms"))
        scale = 1;
    else if (!strcmp(end, "s") || !*end)
        scale = MS_PER_S;
    else if (!strcmp(end, "m"))
        scale = S_PER_MIN * MS_PER_S;
    else if (!strcmp(end, "h"))
        scale = S_PER_HOUR * MS_PER_S;
    else
        return -1;
    return (long)(v * scale);
}

long cli_timeout_ms(cli_ctx *x, long default_ms)
{
    const char *t = x->opt[OPT_TIMEOUT];
    if (!t)
        return default_ms;
    long ms = cli_parse_duration(t);
    if (ms <= 0)
        cli_fail(EXIT_USAGE, "--timeout: '%s' is not a duration like 90s, 10m or 1h", t);
    return ms > 0 ? ms : -1;
}

/* --- parsing ----------------------------------------------------------------------------- */

static int cmd_accepts(const cli_command *c, opt_id id)
{
    if (id < OPT_GLOBAL_COUNT)
        return 1;
    for (int i = 0; i < OPT_LIST_MAX && c->opts[i] != OPT_HELP; i++)
        if (c->opts[i] == id)
            return 1;
    return 0;
}

static const cli_option *option_by_long(const char *name, size_t len)
{
    for (int i = 0; i < OPT_COUNT; i++)
        if (strlen(cli_options[i].name) == len && !strncmp(cli_options[i].name, name, len))
            return &cli_options[i];
    return NULL;
}

static const cli_option *option_by_short(char s)
{
    for (int i = 0; i < OPT_COUNT; i++)
        if (cli_options[i].shortname && cli_options[i].shortname == s)
            return &cli_options[i];
    return NULL;
}

static int is_group(const char *w)
{
    for (int i = 0; cli_groups[i][0]; i++)
        if (!strcmp(cli_groups[i][0], w))
            return 1;
    return 0;
}

static const cli_command *find_command(const char *group, const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (((!group && !c->group) || (group && c->group && !strcmp(group, c->group))) &&
            !strcmp(c->name, name))
            return c;
    return NULL;
}

/* Records one option occurrence. */
static int set_option(cli_ctx *x, const cli_option *o, const char *value)
{
    x->opt[o->id] = value;
    if (o->repeat) {
        if (x->nrepeats[o->id] == CLI_REPEAT_MAX)
            return cli_fail(EXIT_USAGE, "--%s given too many times", o->name);
        x->repeats[o->id][x->nrepeats[o->id]++] = value;
    }
    return EXIT_OK;
}

/* Parses one option at argv[*i] (advancing past its value). */
static int parse_option(cli_ctx *x, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const cli_option *o;
    const char *value = NULL;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        o = option_by_long(a + 2, len);
        if (eq)
            value = eq + 1;
    } else {
        o = option_by_short(a[1]);
        if (o && a[2])
            value = a + 2 + (a[2] == '=');
    }
    if (!o)
        return cli_fail(EXIT_USAGE, "unknown option %s (see --help)", a);
    if (!o->metavar) {
        if (value)
            return cli_fail(EXIT_USAGE, "--%s takes no value", o->name);
        return set_option(x, o, "");
    }
    if (!value) {
        if (*i + 1 >= argc)
            return cli_fail(EXIT_USAGE, "--%s needs a value (%s)", o->name, o->metavar);
        value = argv[++*i];
    }
    return set_option(x, o, value);
}

/* Splits argv into the command's words, options and positional arguments. */
static int parse_argv(cli_ctx *x, int argc, char **argv, const char **words, int *nwords)
{
    *nwords = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            x->rest = argv + i + 1;
            x->nrest = argc - i - 1;
            break;
        }
        if (a[0] == '-' && a[1]) {
            int rc = parse_option(x, argc, argv, &i);
            if (rc != EXIT_OK)
                return rc;
            continue;
        }
        if (*nwords == CLI_ARGS_MAX + 2)
            return cli_fail(EXIT_USAGE, "too many arguments");
        words[(*nwords)++] = a;
    }
    return EXIT_OK;
}

static void print_group_help(FILE *f, const char *group)
{
    fprintf(f, "Usage: dfly %s COMMAND [options]\n\nCommands:\n", group);
    for (const cli_command *c = cli_commands; c->name; c++)
        if (c->group && !strcmp(c->group, group))
            fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'dfly %s COMMAND --help' for a command's options.\n", group);
}

/* Resolves the command from the words; the rest are its arguments. */
static int resolve_command(cli_ctx *x, const char **words, int nwords)
{
    if (nwords == 0) {
        gendoc_overview(x->opt[OPT_HELP] ? stdout : stderr);
        return x->opt[OPT_HELP] ? EXIT_OK : EXIT_USAGE;
    }
    int used = 1;
    const char *group = NULL;
    if (!strcmp(words[0], "help")) { /* "dfly help instances create" is "... --help" */
        x->opt[OPT_HELP] = "";
        if (nwords == 1) {
            gendoc_overview(stdout);
            return EXIT_OK;
        }
        words++;
        nwords--;
    }
    if (is_group(words[0])) {
        group = words[0];
        if (nwords < 2) {
            print_group_help(x->opt[OPT_HELP] ? stdout : stderr, group);
            return x->opt[OPT_HELP] ? EXIT_OK : EXIT_USAGE;
        }
        used = 2;
    }
    x->cmd = find_command(group, words[used - 1]);
    if (!x->cmd) {
        if (group)
            return cli_fail(EXIT_USAGE, "unknown command '%s %s' (see 'dfly %s --help')", group,
                            words[1], group);
        return cli_fail(EXIT_USAGE, "unknown command '%s' (see 'dfly --help')", words[0]);
    }
    x->nargs = nwords - used;
    for (int i = 0; i < x->nargs && i < CLI_ARGS_MAX; i++)
        x->args[i] = words[used + i];
    return -1; /* go on */
}

static int check_command_line(cli_ctx *x)
{
    const cli_command *c = x->cmd;
    for (int i = OPT_GLOBAL_COUNT; i < OPT_COUNT; i++)
        if (x->opt[i] && !cmd_accepts(c, (opt_id)i)) {
            char name[64];
            gendoc_fullname(name, sizeof(name), c);
            return cli_fail(EXIT_USAGE, "'%s' takes no --%s (see --help)", name,
                            cli_options[i].name);
        }
    if (x->nargs < c->min_args || x->nargs > c->max_args) {
        fputs("dfly: error: wrong number of arguments; ", stderr);
        gendoc_usage(stderr, c); /* "Usage: ...\n" ends the line */
        return EXIT_USAGE;
    }
    if (x->nrest && !cmd_accepts(c, OPT_EXEC))
        return cli_fail(EXIT_USAGE, "arguments after -- are for 'connect --exec' only");
    const char *o = x->opt[OPT_OUTPUT];
    if (!o)
        x->out = x->out_tty ? OUT_TABLE : OUT_JSON;
    else if (!strcmp(o, "table"))
        x->out = OUT_TABLE;
    else if (!strcmp(o, "json"))
        x->out = OUT_JSON;
    else if (!strcmp(o, "yaml"))
        x->out = OUT_YAML;
    else
        return cli_fail(EXIT_USAGE, "-o: '%s' is not one of table, json, yaml", o);
    return EXIT_OK;
}

static int run(cli_ctx *x, int argc, char **argv)
{
    const char *words[CLI_ARGS_MAX + 2];
    int nwords;
    int rc = parse_argv(x, argc, argv, words, &nwords);
    if (rc != EXIT_OK)
        return rc;
    rc = resolve_command(x, words, nwords);
    if (rc >= 0)
        return rc;
    if (x->opt[OPT_HELP]) {
        gendoc_help(stdout, x->cmd);
        return EXIT_OK;
    }
    rc = check_command_line(x);
    if (rc != EXIT_OK)
        return rc;
    if (config_resolve(x) < 0)
        return EXIT_ERROR;
    return x->cmd->run(x);
}

int main(int argc, char **argv)
{
    /* a closed pipe (dfly ... | head) ends us quietly rather than with an error */
    signal(SIGPIPE, SIG_DFL);
    static cli_ctx x;
    x.out_tty = isatty(STDOUT_FILENO);
    x.in_tty = isatty(STDIN_FILENO);
    x.err_tty = isatty(STDERR_FILENO);
    int rc = run(&x, argc, argv);
    dflyapi_client_free(x.api);
    if (x.token)
        memset(x.token, 0, strlen(x.token));
    free(x.token);
    free(x.endpoint);
    free(x.profile);
    free(x.ca_file);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = EXIT_ERROR;
    return rc;
}

/* --- helpers of the commands ------------------------------------------------------------- */

int cli_int_option(cli_ctx *x, opt_id id, long min, long max, json_t *obj, const char *key)
{
    const char *v = x->opt[id];
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        cli_fail(EXIT_USAGE, "--%s: '%s' is not an integer from %ld to %ld", cli_options[id].name,
                 v, min, max);
        return -1;
    }
    json_object_set_new(obj, key, json_integer(n));
    return 0;
}

int cli_parse_on_off(const char *s)
{
    if (!strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "yes"))
        return 1;
    if (!strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "no"))
        return 0;
    return -1;
}

int cli_on_off_option(cli_ctx *x, opt_id id, json_t *obj, const char *key)
{
    const char *v = x->opt[id];
    if (!v)
        return 0;
    int on = cli_parse_on_off(v);
    if (on < 0) {
        cli_fail(EXIT_USAGE, "--%s: '%s' is not on or off", cli_options[id].name, v);
        return -1;
    }
    json_object_set_new(obj, key, json_boolean(on));
    return 0;
}

json_t *cli_bytes(const char *s)
{
    int digits = *s != '\0';
    for (const char *p = s; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    return digits ? json_integer(strtoll(s, NULL, 10)) : json_string(s);
}

char *cli_read_line(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}
