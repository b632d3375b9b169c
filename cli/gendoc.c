/* Help, docs/cli.md and shell completion, all generated from the command table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define NAME_MAX_LEN 64
#define OPT_COL_WIDTH 32
#define WRAP_WIDTH 92

void gendoc_fullname(char *out, size_t size, const cli_command *c)
{
    if (c->group)
        snprintf(out, size, "dfly %s %s", c->group, c->name);
    else
        snprintf(out, size, "dfly %s", c->name);
}

static void option_label(char *out, size_t size, const cli_option *o)
{
    char shortpart[8] = "";
    if (o->shortname)
        snprintf(shortpart, sizeof(shortpart), "-%c, ", o->shortname);
    snprintf(out, size, "%s--%s%s%s", shortpart, o->name, o->metavar ? " " : "",
             o->metavar ? o->metavar : "");
}

void gendoc_usage(FILE *f, const cli_command *c)
{
    char name[NAME_MAX_LEN];
    gendoc_fullname(name, sizeof(name), c);
    int exec = 0;
    for (int i = 0; i < OPT_LIST_MAX && c->opts[i] != OPT_HELP; i++)
        exec |= c->opts[i] == OPT_EXEC;
    fprintf(f, "Usage: %s%s%s [options]%s\n", name, *c->args ? " " : "", c->args,
            exec ? " [-- redis-cli args]" : "");
}

/* Prints text wrapped at WRAP_WIDTH columns with indent spaces before each line. */
static void wrap(FILE *f, const char *text, int indent)
{
    const char *p = text;
    while (*p) {
        int width = WRAP_WIDTH - indent;
        int len = (int)strlen(p);
        int cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = width;
        }
        fprintf(f, "%*s%.*s\n", indent, "", cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

static void print_options(FILE *f, const opt_id *ids, int n)
{
    for (int i = 0; i < n; i++) {
        char label[NAME_MAX_LEN];
        const cli_option *o = &cli_options[ids[i]];
        option_label(label, sizeof(label), o);
        fprintf(f, "  %-*s %s\n", OPT_COL_WIDTH, label, o->help);
    }
}

static int command_opts(const cli_command *c, opt_id *ids)
{
    int n = 0;
    for (int i = 0; i < OPT_LIST_MAX && c->opts[i] != OPT_HELP; i++)
        ids[n++] = c->opts[i];
    return n;
}

static const opt_id global_ids[] = {OPT_OUTPUT,  OPT_ENDPOINT, OPT_TOKEN, OPT_PROFILE,
                                    OPT_CA_FILE, OPT_INSECURE, OPT_HELP};
#define GLOBAL_IDS_N ((int)(sizeof(global_ids) / sizeof(global_ids[0])))

void gendoc_help(FILE *f, const cli_command *c)
{
    fprintf(f, "%s\n\n", c->summary);
    gendoc_usage(f, c);
    if (c->description && *c->description) {
        fputc('\n', f);
        wrap(f, c->description, 0);
    }
    opt_id ids[OPT_LIST_MAX];
    int n = command_opts(c, ids);
    if (n) {
        fputs("\nOptions:\n", f);
        print_options(f, ids, n);
    }
    fputs("\nGlobal options:\n", f);
    print_options(f, global_ids, GLOBAL_IDS_N);
    if (c->examples && *c->examples) {
        fputs("\nExamples:\n", f);
        const char *p = c->examples;
        while (*p) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "  %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
    }
}

void gendoc_overview(FILE *f)
{
    fputs("dfly: the command-line tool of the dfly managed service.\n\n"
          "Usage: dfly COMMAND [SUBCOMMAND] [ARGS] [options]\n\n",
          f);
    for (int g = 0; cli_groups[g][0]; g++) {
        fprintf(f, "%s: %s\n", cli_groups[g][0], cli_groups[g][1]);
        for (const cli_command *c = cli_commands; c->name; c++)
            if (c->group && !strcmp(c->group, cli_groups[g][0])) {
                char name[NAME_MAX_LEN];
                snprintf(name, sizeof(name), "%s %s", c->name, c->args);
                fprintf(f, "  %-22s %s\n", name, c->summary);
            }
        fputc('\n', f);
    }
    fputs("other:\n", f);
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!c->group) {
            char name[NAME_MAX_LEN];
            snprintf(name, sizeof(name), "%s %s", c->name, c->args);
            fprintf(f, "  %-22s %s\n", name, c->summary);
        }
    fputs("\nGlobal options:\n", f);
    print_options(f, global_ids, GLOBAL_IDS_N);
    fputs("\nRun 'dfly COMMAND --help' for a command's options and examples.\n"
          "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 timeout, 5 auth, 6 unreachable,\n"
          "130 interrupted.\n",
          f);
}

/* --- docs/cli.md ------------------------------------------------------------------------- */

static void md_command(FILE *f, const cli_command *c)
{
    char name[NAME_MAX_LEN];
    gendoc_fullname(name, sizeof(name), c);
    fprintf(f, "### `%s`\n\n%s", name, c->summary);
    if (c->description && *c->description)
        fprintf(f, " %s", c->description);
    fputs("\n\n```\n", f);
    gendoc_usage(f, c);
    fputs("```\n\n", f);
    opt_id ids[OPT_LIST_MAX];
    int n = command_opts(c, ids);
    if (n) {
        fputs("| option | what |\n| --- | --- |\n", f);
        for (int i = 0; i < n; i++) {
            char label[NAME_MAX_LEN];
            option_label(label, sizeof(label), &cli_options[ids[i]]);
            fprintf(f, "| `%s` | %s |\n", label, cli_options[ids[i]].help);
        }
        fputc('\n', f);
    }
    if (c->examples && *c->examples)
        fprintf(f, "```sh\n%s\n```\n\n", c->examples);
}

/* `tenants delete`, `tokens revoke`, ...: the commands that ask before they act. */
static void destructive_list(FILE *f)
{
    int first = 1;
    for (const cli_command *c = cli_commands; c->name; c++)
        if (c->flags & CMD_DESTRUCTIVE) {
            fprintf(f, "%s`%s%s%s`", first ? "" : ", ", c->group ? c->group : "",
                    c->group ? " " : "", c->name);
            first = 0;
        }
}

int gendoc_markdown(FILE *f)
{
    fputs("# dfly: the command-line tool\n\n"
          "<!-- Generated by `dfly docs markdown` from cli/commands.c; do not edit by hand. -->\n\n"
          "`dfly` drives dfly-control's REST API (api/openapi.yaml) through libdflyapi. "
          "Every command has `--help` with examples.\n\n"
          "```sh\n"
          "dfly login --endpoint http://127.0.0.1:8080 --token-stdin < var/operator.token\n"
          "dfly tenants create acme\n"
          "dfly instances create cache --tenant ten_... --memory 1gb --shards 3 --wait\n"
          "DFLY_PASSWORD=... dfly connect cache --exec -- set hello world\n"
          "dfly events cache --follow\n"
          "dfly users create cache app --rules '+@read +@write ~app:*'\n"
          "dfly metrics cache --since 15m --watch\n"
          "dfly instances update cache --tls --tls-client-auth yes --wait\n"
          "dfly certs client-create cache app --out-dir ./tls\n"
          "DFLY_PASSWORD=... dfly connect cache --exec --cert tls/app.crt --key tls/app.key\n"
          "dfly instances delete cache --yes --wait\n"
          "```\n\n"
          "## Secrets\n\n"
          "The API shows a secret once, when it is made, and `dfly` prints it then: an instance's "
          "password (`instances create`), an ACL user's (`users create`, `users rotate`), a "
          "token's (`tokens create`) and a client certificate's private key (`certs "
          "client-create`, which writes it with mode 0600 under `--out-dir`). In tables a "
          "password has a line of its own and a reminder on stderr. Passwords go to redis-cli "
          "in `REDISCLI_AUTH`, never on a command line. For a TLS instance `connect` keeps the "
          "internal CA in `$XDG_CACHE_HOME/dfly` (`~/.cache/dfly`), mode 0600, fetched anew "
          "each time.\n\n"
          "## Configuration\n\n"
          "`dfly login` stores an endpoint and a token in a profile of "
          "`$XDG_CONFIG_HOME/dfly/config.json` (`~/.config/dfly/config.json` without it), mode "
          "0600. The endpoint and the token are resolved in this order: `--endpoint` / `--token`, "
          "then `$DFLY_ENDPOINT` / `$DFLY_TOKEN`, then the profile (`--profile`, else "
          "`$DFLY_PROFILE`, else the current one), then `http://127.0.0.1:8080`. The token is "
          "never printed.\n\n"
          "## Output\n\n"
          "`-o table` (the default when stdout is a terminal), `-o json` (the default otherwise, "
          "as gh does: the API's objects unchanged, lists as a JSON array; `events --follow` "
          "prints one object per line) or `-o yaml`. Progress of `--wait` and prompts go to "
          "stderr, so stdout stays parseable.\n\n"
          "Requests that fail for a moment (no connection, `429`, `502`-`504`) are retried "
          "twice with back-off; creates carry an `Idempotency-Key` so that a retry never makes "
          "two.\n\n"
          "## Exit codes\n\n"
          "| code | meaning |\n| --- | --- |\n"
          "| 0 | success (Ctrl-C ending `metrics --watch` too) |\n"
          "| 1 | the API refused the request, an awaited operation failed, or another error |\n"
          "| 2 | usage: a bad command line, or a confirmation needed without a terminal "
          "(give `--yes`) |\n"
          "| 3 | not found: no such tenant, token, instance or operation (`404`) |\n"
          "| 4 | timeout: `--wait` or `operations wait` ran past `--timeout` |\n"
          "| 5 | authentication: no token, a bad token, or one without the right (`401`, "
          "`403`) |\n"
          "| 6 | unreachable: no answer from the endpoint |\n"
          "| 130 | interrupted: Ctrl-C while waiting (the operation goes on) |\n\n"
          "Errors are one line on stderr: `dfly: error: <the API's message> (<code>[, field "
          "<field>]); hint: <what to try>`.\n\n"
          "Destructive commands (",
          f);
    destructive_list(f);
    fputs(") ask for confirmation when stdin is a terminal; `--yes` skips it, and without a "
          "terminal they refuse (exit 2) unless `--yes` is given.\n\n"
          "## Global options\n\n| option | what |\n| --- | --- |\n",
          f);
    for (int i = 0; i < GLOBAL_IDS_N; i++) {
        char label[NAME_MAX_LEN];
        option_label(label, sizeof(label), &cli_options[global_ids[i]]);
        fprintf(f, "| `%s` | %s |\n", label, cli_options[global_ids[i]].help);
    }
    fputs("\n", f);
    for (int g = 0; cli_groups[g][0]; g++) {
        fprintf(f, "## %s\n\n%s\n\n", cli_groups[g][0], cli_groups[g][1]);
        for (const cli_command *c = cli_commands; c->name; c++)
            if (c->group && !strcmp(c->group, cli_groups[g][0]))
                md_command(f, c);
    }
    fputs("## Other commands\n\n", f);
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!c->group)
            md_command(f, c);
    return EXIT_OK;
}

/* --- completion -------------------------------------------------------------------------- */

/* Space-separated words: the top-level words, or a group's subcommands. */
static void words_top(FILE *f)
{
    for (int g = 0; cli_groups[g][0]; g++)
        fprintf(f, "%s ", cli_groups[g][0]);
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!c->group)
            fprintf(f, "%s ", c->name);
    fputs("help", f);
}

static void words_group(FILE *f, const char *group)
{
    int first = 1;
    for (const cli_command *c = cli_commands; c->name; c++)
        if (c->group && !strcmp(c->group, group)) {
            fprintf(f, "%s%s", first ? "" : " ", c->name);
            first = 0;
        }
}

static void words_options(FILE *f, const cli_command *c)
{
    for (int i = 0; i < GLOBAL_IDS_N; i++)
        fprintf(f, "--%s ", cli_options[global_ids[i]].name);
    for (int i = 0; i < OPT_LIST_MAX && c->opts[i] != OPT_HELP; i++)
        fprintf(f, "--%s ", cli_options[c->opts[i]].name);
}

/* One shell "case" arm per command: the key is "group/name" or "name". */
static void case_arms(FILE *f, const char *indent, const char *open, const char *close)
{
    for (const cli_command *c = cli_commands; c->name; c++) {
        fprintf(f, "%s%s%s%s) %s", indent, c->group ? c->group : "", c->group ? "/" : "", c->name,
                open);
        words_options(f, c);
        fprintf(f, "%s ;;\n", close);
    }
}

/* "tenants|tokens|...": a shell pattern of the groups. */
static void groups_pattern(FILE *f)
{
    for (int g = 0; cli_groups[g][0]; g++)
        fprintf(f, "%s%s", g ? "|" : "", cli_groups[g][0]);
}

static void completion_bash(FILE *f)
{
    fputs("# bash completion for dfly (generated by 'dfly completion bash')\n"
          "_dfly() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} words=() w i key opts\n"
          "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "        w=${COMP_WORDS[i]}\n"
          "        [[ $w == -* ]] || words+=(\"$w\")\n"
          "    done\n"
          "    if [[ $cur == -* ]]; then\n"
          "        key=${words[0]}\n"
          "        case $key in ",
          f);
    groups_pattern(f);
    fputs(") key=$key/${words[1]} ;; esac\n"
          "        case $key in\n",
          f);
    case_arms(f, "            ", "opts=\"", "\"");
    fputs("            *) opts=\"--help\" ;;\n"
          "        esac\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case ${#words[@]} in\n"
          "        0) COMPREPLY=($(compgen -W \"",
          f);
    words_top(f);
    fputs("\" -- \"$cur\")) ;;\n"
          "        1) case ${words[0]} in\n",
          f);
    for (int g = 0; cli_groups[g][0]; g++) {
        fprintf(f, "               %s) COMPREPLY=($(compgen -W \"", cli_groups[g][0]);
        words_group(f, cli_groups[g][0]);
        fputs("\" -- \"$cur\")) ;;\n", f);
    }
    fputs("               completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) ;;\n"
          "               docs) COMPREPLY=($(compgen -W \"markdown\" -- \"$cur\")) ;;\n"
          "           esac ;;\n"
          "    esac\n"
          "}\n"
          "complete -F _dfly dfly\n",
          f);
}

static void completion_zsh(FILE *f)
{
    fputs("#compdef dfly\n"
          "# zsh completion for dfly (generated by 'dfly completion zsh')\n"
          "_dfly() {\n"
          "    local -a words_ opts\n"
          "    local w key\n"
          "    for w in ${words[2,CURRENT-1]}; do\n"
          "        [[ $w == -* ]] || words_+=($w)\n"
          "    done\n"
          "    if [[ $PREFIX == -* ]]; then\n"
          "        key=${words_[1]}\n"
          "        case $key in ",
          f);
    groups_pattern(f);
    fputs(") key=$key/${words_[2]} ;; esac\n"
          "        case $key in\n",
          f);
    case_arms(f, "            ", "opts=(", ")");
    fputs("            *) opts=(--help) ;;\n"
          "        esac\n"
          "        compadd -- ${=opts}\n"
          "        return\n"
          "    fi\n"
          "    case ${#words_} in\n"
          "        0) compadd -- ",
          f);
    words_top(f);
    fputs(" ;;\n"
          "        1) case ${words_[1]} in\n",
          f);
    for (int g = 0; cli_groups[g][0]; g++) {
        fprintf(f, "               %s) compadd -- ", cli_groups[g][0]);
        words_group(f, cli_groups[g][0]);
        fputs(" ;;\n", f);
    }
    fputs("               completion) compadd -- bash zsh ;;\n"
          "               docs) compadd -- markdown ;;\n"
          "           esac ;;\n"
          "    esac\n"
          "}\n"
          "compdef _dfly dfly\n",
          f);
}

int gendoc_completion(FILE *f, const char *shell)
{
    if (!strcmp(shell, "bash"))
        completion_bash(f);
    else if (!strcmp(shell, "zsh"))
        completion_zsh(f);
    else
        return cli_fail(EXIT_USAGE, "completion: '%s' is not bash or zsh", shell);
    return EXIT_OK;
}
