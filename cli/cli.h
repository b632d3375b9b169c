/* dfly: the command-line tool. One command table (commands.c) drives argument parsing, --help,
 * shell completion and docs/cli.md; each command is a small function over libdflyapi. */
#ifndef DFLY_CLI_H
#define DFLY_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "dflyapi.h"

/* Exit codes (documented in docs/cli.md; scripts rely on them). */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,         /* the API refused, an operation failed, anything else */
    EXIT_USAGE = 2,         /* bad command line, or a confirmation that cannot be asked */
    EXIT_NOT_FOUND = 3,     /* no such tenant, token, instance or operation */
    EXIT_TIMEOUT = 4,       /* --wait or operations wait ran out of time */
    EXIT_AUTH = 5,          /* no token, a bad one, or one without the right (401, 403) */
    EXIT_UNREACHABLE = 6,   /* no answer from the API */
    EXIT_INTERRUPTED = 130, /* Ctrl-C while waiting (the shell's 128 + SIGINT) */
};

/* Options. Global ones are accepted by every command; the others by the commands that list
 * them. */
typedef enum opt_id {
    OPT_HELP,
    OPT_ENDPOINT,
    OPT_TOKEN,
    OPT_PROFILE,
    OPT_OUTPUT,
    OPT_INSECURE,
    OPT_CA_FILE,
    OPT_GLOBAL_COUNT, /* options above are global */
    OPT_YES = OPT_GLOBAL_COUNT,
    OPT_WAIT,
    OPT_TIMEOUT,
    OPT_TOKEN_STDIN,
    OPT_MEMORY,
    OPT_SHARDS,
    OPT_REPLICAS,
    OPT_EVICTION,
    OPT_SNAPSHOT_CRON,
    OPT_APPENDONLY,
    OPT_LABEL,
    OPT_TENANT,
    OPT_STATUS,
    OPT_NAME,
    OPT_MAX_INSTANCES,
    OPT_MAX_MEMORY,
    OPT_IF_MATCH,
    OPT_IDEMPOTENCY_KEY,
    OPT_FOLLOW,
    OPT_INTERVAL,
    OPT_EXEC,
    OPT_PASSWORD_STDIN,
    OPT_CACERT,
    OPT_CLIENT,
    OPT_BACKUP,
    OPT_FILE,
    OPT_SHARD,
    OPT_REPLICA_NODE,
    OPT_RESTORE_FROM,
    OPT_BACKUP_SCHEDULE,
    OPT_BACKUP_TIMEZONE,
    OPT_BACKUP_KEEP,
    OPT_BACKUP_MAX_AGE,
    OPT_RULES,
    OPT_ENABLED,
    OPT_GRACE,
    OPT_FINISH,
    OPT_USER,
    OPT_NAMES,
    OPT_SINCE,
    OPT_STEP,
    OPT_WATCH,
    OPT_ASCII,
    OPT_TLS,
    OPT_NO_TLS,
    OPT_TLS_CLIENT_AUTH,
    OPT_CERT,
    OPT_KEY,
    OPT_DAYS,
    OPT_OUT_DIR,
    OPT_COUNT
} opt_id;

typedef struct cli_option {
    opt_id id;
    const char *name;    /* long name without "--" */
    char shortname;      /* 0: none */
    const char *metavar; /* NULL: a switch */
    int repeat;          /* may be given several times */
    const char *help;
} cli_option;

#define OPT_LIST_MAX 24
#define CLI_ARGS_MAX 8
#define CLI_REPEAT_MAX 64

typedef enum output_fmt { OUT_TABLE, OUT_JSON, OUT_YAML } output_fmt;

typedef struct cli_ctx cli_ctx;
typedef int (*cli_run_fn)(cli_ctx *x);

#define CMD_DESTRUCTIVE 1 /* asks for confirmation (or --yes) */
#define CMD_NO_API 2      /* needs no endpoint or token */

typedef struct cli_command {
    const char *group; /* "instances", or NULL for a top-level command */
    const char *name;
    const char *args; /* usage of positional arguments: "NAME" */
    int min_args, max_args;
    const char *summary;
    const char *description;
    opt_id opts[OPT_LIST_MAX]; /* accepted options besides the global ones, ended by OPT_HELP */
    const char *examples;      /* lines "command  # what" */
    cli_run_fn run;
    int flags;
} cli_command;

extern const cli_command cli_commands[];
extern const cli_option cli_options[OPT_COUNT];
/* The groups in order, with a one-line summary each: {"tenants", "..."}, ended by {NULL}. */
extern const char *const cli_groups[][2];

struct cli_ctx {
    const cli_command *cmd;
    const char *args[CLI_ARGS_MAX];
    int nargs;
    const char *opt[OPT_COUNT]; /* last value ("" for a switch), NULL when not given */
    const char *repeats[OPT_COUNT][CLI_REPEAT_MAX];
    int nrepeats[OPT_COUNT];
    char **rest; /* arguments after "--" */
    int nrest;
    output_fmt out;
    int out_tty, in_tty, err_tty;
    dflyapi_client *api;
    char *endpoint;
    char *token;
    char *profile;
    char *ca_file; /* CA bundle of the API's TLS certificate, or NULL for the system's */
};

/* --- main.c ------------------------------------------------------------------------------ */
/* One line on stderr ("dfly: error: ...") and the exit code for it. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a failed API call (message, code, hint) and returns the exit code that fits it. */
int cli_api_fail(cli_ctx *x, dflyapi_err e, const dflyapi_result *r);
/* Asks "prompt [y/N]" on the terminal; refuses (EXIT_USAGE) when stdin is not one and --yes
 * was not given. Returns EXIT_OK to go on, or the exit code to stop with. */
int cli_confirm(cli_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The API client, made on first use from the resolved endpoint and token. */
dflyapi_client *cli_api(cli_ctx *x);
/* --timeout in ms (default_ms when not given); -1 after reporting a bad value. */
long cli_timeout_ms(cli_ctx *x, long default_ms);
/* Parses "30s", "2m", "500ms", "1h" or plain seconds; -1 when it is none of those. */
long cli_parse_duration(const char *s);

/* Sets obj[key] from an integer option in [min, max]; 0 when not given or set, -1 after
 * reporting a bad value. */
int cli_int_option(cli_ctx *x, opt_id id, long min, long max, json_t *obj, const char *key);
/* A size as the API takes it: an integer for plain digits, else the string ("1gb"). */
json_t *cli_bytes(const char *s);
/* Reads one line (without its newline) from stdin into a malloc'd string; NULL on EOF. */
char *cli_read_line(void);
/* 1 for on/true/yes, 0 for off/false/no, -1 for anything else. */
int cli_parse_on_off(const char *s);
/* Sets obj[key] to the boolean of an on|off option; 0 when not given or set, -1 after
 * reporting a bad value. */
int cli_on_off_option(cli_ctx *x, opt_id id, json_t *obj, const char *key);

/* --- output.c ---------------------------------------------------------------------------- */
typedef struct out_column {
    const char *header;
    /* member, or "a.b" for a nested one; objects print k=v,… or host:port; a "|bytes" suffix
     * prints sizes as 1gb */
    const char *path;
} out_column;

/* Prints a value in the chosen format: a list (JSON array) or an object; columns are used for
 * the table format only. */
void out_print(cli_ctx *x, const json_t *v, const out_column *cols);
/* One object as "KEY: value" lines (table format of a single resource's details). */
void out_json(FILE *f, const json_t *v);
void out_yaml(FILE *f, const json_t *v, int indent);
/* The text of a member at path for a table cell (malloc'd). */
char *out_cell(const json_t *obj, const char *path);

/* --- config.c ---------------------------------------------------------------------------- */
/* $XDG_CONFIG_HOME/dfly/config.json (or ~/.config/dfly/config.json); malloc'd. */
char *config_path(void);
/* Loads the file ({} when missing); NULL with a message on stderr when it is unreadable. */
json_t *config_load(const char *path);
/* Writes atomically with mode 0600 (directory 0700). 0 or -1 with errno. */
int config_save(const char *path, const json_t *cfg);
/* Resolves endpoint, token and profile from flags, environment and the file into x. */
int config_resolve(cli_ctx *x);

/* --- gendoc.c ---------------------------------------------------------------------------- */
void gendoc_usage(FILE *f, const cli_command *c);
void gendoc_help(FILE *f, const cli_command *c);
void gendoc_overview(FILE *f);
int gendoc_markdown(FILE *f);
int gendoc_completion(FILE *f, const char *shell);
/* "dfly instances create" of a command. */
void gendoc_fullname(char *out, size_t size, const cli_command *c);

/* --- commands (cmd_*.c) ------------------------------------------------------------------ */
int cmd_login(cli_ctx *x);
int cmd_logout(cli_ctx *x);
int cmd_version(cli_ctx *x);
int cmd_completion(cli_ctx *x);
int cmd_docs(cli_ctx *x);
int cmd_tenants_create(cli_ctx *x);
int cmd_tenants_list(cli_ctx *x);
int cmd_tenants_get(cli_ctx *x);
int cmd_tenants_update(cli_ctx *x);
int cmd_tenants_delete(cli_ctx *x);
int cmd_tokens_create(cli_ctx *x);
int cmd_tokens_list(cli_ctx *x);
int cmd_tokens_revoke(cli_ctx *x);
int cmd_instances_create(cli_ctx *x);
int cmd_instances_list(cli_ctx *x);
int cmd_instances_get(cli_ctx *x);
int cmd_instances_update(cli_ctx *x);
int cmd_instances_delete(cli_ctx *x);
int cmd_instances_restart(cli_ctx *x);
int cmd_operations_get(cli_ctx *x);
int cmd_operations_wait(cli_ctx *x);
int cmd_events(cli_ctx *x);
int cmd_connect(cli_ctx *x);
int cmd_backups_create(cli_ctx *x);
int cmd_backups_list(cli_ctx *x);
int cmd_backups_get(cli_ctx *x);
int cmd_backups_delete(cli_ctx *x);
int cmd_backups_download(cli_ctx *x);
int cmd_instances_restore(cli_ctx *x);
int cmd_instances_failover(cli_ctx *x);
int cmd_users_create(cli_ctx *x);
int cmd_users_list(cli_ctx *x);
int cmd_users_get(cli_ctx *x);
int cmd_users_update(cli_ctx *x);
int cmd_users_delete(cli_ctx *x);
int cmd_users_rotate(cli_ctx *x);
int cmd_metrics(cli_ctx *x);
int cmd_certs_ca(cli_ctx *x);
int cmd_certs_show(cli_ctx *x);
int cmd_certs_rotate(cli_ctx *x);
int cmd_certs_client_create(cli_ctx *x);
int cmd_certs_client_list(cli_ctx *x);
int cmd_certs_client_revoke(cli_ctx *x);

/* Finds an instance by id or name into r; reports and returns the exit code when it fails. */
int cli_find_instance(cli_ctx *x, const char *ref, dflyapi_result *r);
/* The id of the instance given by id or name, copied into id; an exit code. */
int cli_instance_id(cli_ctx *x, const char *ref, char *id, size_t size);
/* Reports a failed call, clears r and returns the exit code (the common tail of a command). */
int cli_api_fail_clear(cli_ctx *x, dflyapi_err e, dflyapi_result *r);
/* The list call of something an instance holds (users, backups, client certificates). */
typedef dflyapi_err (*cli_instance_list_fn)(dflyapi_client *c, const char *instance_id,
                                            dflyapi_result *out);
/* Resolves the instance ref (id or name), lists with fn and prints the items with cols: the
 * whole of the "... list INSTANCE" commands. Returns an exit code. */
int cli_print_instance_items(cli_ctx *x, const char *ref, cli_instance_list_fn fn,
                             const out_column *cols);
/* The call on one thing an instance holds (a user by name, a client certificate by id). */
typedef dflyapi_err (*cli_instance_item_fn)(dflyapi_client *c, const char *instance_id,
                                            const char *item, dflyapi_result *out);
/* Deletes item of the instance ref with fn (after the caller's confirmation) and says
 * "<done> <item>" on stderr: the rest of the "... delete INSTANCE ITEM" commands. */
int cli_delete_instance_item(cli_ctx *x, const char *ref, const char *item, cli_instance_item_fn fn,
                             const char *done);

/* The columns of an instance in tables. */
extern const out_column cli_instance_cols[];
/* Sets backup_schedule, backup_retention and restore_from from the options; -1 after a usage
 * error. */
int cli_backup_options(cli_ctx *x, json_t *body);

/* Prints an accepted change ({instance, operation}) and clears r; with --wait, waits for the
 * operation first and prints the instance as it is then, with the finished operation. verb
 * names the change in messages ("update"). Returns an exit code. */
int cli_finish_change(cli_ctx *x, dflyapi_result *r, const char *verb);

/* Waits for an operation with progress on a terminal (spinner, percentage, step) and plain
 * lines otherwise; returns an exit code. *final_op (may be NULL) gets the last operation seen. */
int cli_wait_operation(cli_ctx *x, const char *op_id, long timeout_ms, json_t **final_op);

#endif
