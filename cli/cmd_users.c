/* dfly users …: an instance's ACL users (issue 14). A password is printed once, when it is
 * made (create, rotate); the API keeps only its hash. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ID_MAX_LEN 256
#define GRACE_MAX_S (7L * 24 * 3600) /* the API's limit of grace_period_seconds */
#define MS_PER_S 1000L

static const out_column user_cols[] = {
    {"NAME", "name"},         {"ENABLED", "enabled"},
    {"ROTATING", "rotating"}, {"OLD PASSWORD UNTIL", "old_password_expires_at"},
    {"RULES", "rules"},       {NULL, NULL},
};

/* Prints one user (an API answer), and the table's exit code. */
static int print_user(cli_ctx *x, dflyapi_err e, dflyapi_result *r)
{
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, r);
    out_print(x, r->body, user_cols);
    dflyapi_result_clear(r);
    return EXIT_OK;
}

/* Prints {user, password}: the password is shown this once, so in tables it gets a line of its
 * own and a reminder on stderr; json and yaml print the answer as it is. */
static int print_with_password(cli_ctx *x, dflyapi_err e, dflyapi_result *r)
{
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, r);
    if (x->out != OUT_TABLE) {
        out_print(x, r->body, NULL);
    } else {
        out_print(x, json_object_get(r->body, "user"), user_cols);
        const char *pw = json_string_value(json_object_get(r->body, "password"));
        printf("\npassword: %s\n", pw ? pw : "-");
        fputs("Keep the password: it is not shown again.\n", stderr);
    }
    dflyapi_result_clear(r);
    return EXIT_OK;
}

/* Sets body.password from --password-stdin; -1 after a usage error. */
static int password_option(cli_ctx *x, json_t *body)
{
    if (!x->opt[OPT_PASSWORD_STDIN])
        return 0;
    char *pw = cli_read_line();
    if (!pw || !*pw) {
        free(pw);
        cli_fail(EXIT_USAGE, "no password on stdin");
        return -1;
    }
    json_object_set_new(body, "password", json_string(pw));
    memset(pw, 0, strlen(pw));
    free(pw);
    return 0;
}

int cmd_users_create(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    json_t *body = json_pack("{s:s}", "name", x->args[1]);
    if (x->opt[OPT_RULES])
        json_object_set_new(body, "rules", json_string(x->opt[OPT_RULES]));
    if (cli_on_off_option(x, OPT_ENABLED, body, "enabled") < 0 || password_option(x, body) < 0) {
        json_decref(body);
        return EXIT_USAGE;
    }
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_user_create(cli_api(x), id, body, x->opt[OPT_IDEMPOTENCY_KEY], &r);
    json_decref(body);
    return print_with_password(x, e, &r);
}

int cmd_users_list(cli_ctx *x)
{
    return cli_print_instance_items(x, x->args[0], dflyapi_user_list, user_cols);
}

int cmd_users_get(cli_ctx *x)
{
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_result r = {0};
    return print_user(x, dflyapi_user_get(cli_api(x), id, x->args[1], &r), &r);
}

int cmd_users_update(cli_ctx *x)
{
    json_t *body = json_object();
    if (x->opt[OPT_RULES])
        json_object_set_new(body, "rules", json_string(x->opt[OPT_RULES]));
    if (cli_on_off_option(x, OPT_ENABLED, body, "enabled") < 0) {
        json_decref(body);
        return EXIT_USAGE;
    }
    if (json_object_size(body) == 0) {
        json_decref(body);
        return cli_fail(EXIT_USAGE, "nothing to change: give --rules or --enabled");
    }
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK) {
        json_decref(body);
        return rc;
    }
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_user_update(cli_api(x), id, x->args[1], body, &r);
    json_decref(body);
    return print_user(x, e, &r);
}

int cmd_users_delete(cli_ctx *x)
{
    int rc = cli_confirm(x, "Delete user %s of instance %s (its connections are closed)?",
                         x->args[1], x->args[0]);
    if (rc != EXIT_OK)
        return rc;
    return cli_delete_instance_item(x, x->args[0], x->args[1], dflyapi_user_delete, "deleted user");
}

/* Builds the body of a rotation from --password-stdin and --grace; NULL after a usage error. */
static json_t *rotate_request(cli_ctx *x)
{
    json_t *body = json_object();
    if (password_option(x, body) < 0) {
        json_decref(body);
        return NULL;
    }
    const char *grace = x->opt[OPT_GRACE];
    if (grace) {
        long ms = cli_parse_duration(grace);
        if (ms < MS_PER_S || ms / MS_PER_S > GRACE_MAX_S) {
            json_decref(body);
            cli_fail(EXIT_USAGE, "--grace: '%s' is not a duration from 1s to 168h", grace);
            return NULL;
        }
        json_object_set_new(body, "grace_period_seconds", json_integer(ms / MS_PER_S));
    }
    return body;
}

int cmd_users_rotate(cli_ctx *x)
{
    if (x->opt[OPT_FINISH] && (x->opt[OPT_PASSWORD_STDIN] || x->opt[OPT_GRACE]))
        return cli_fail(EXIT_USAGE, "--finish ends a rotation: it takes no --password-stdin or "
                                    "--grace");
    json_t *body = x->opt[OPT_FINISH] ? NULL : rotate_request(x);
    if (!x->opt[OPT_FINISH] && !body)
        return EXIT_USAGE;
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK) {
        json_decref(body);
        return rc;
    }
    dflyapi_result r = {0};
    if (x->opt[OPT_FINISH]) {
        rc = print_user(x, dflyapi_user_finish_rotation(cli_api(x), id, x->args[1], &r), &r);
        if (rc == EXIT_OK)
            fprintf(stderr, "rotation of %s finished: only the new password works now\n",
                    x->args[1]);
        return rc;
    }
    dflyapi_err e = dflyapi_user_rotate_password(cli_api(x), id, x->args[1], body,
                                                 x->opt[OPT_IDEMPOTENCY_KEY], &r);
    json_decref(body);
    rc = print_with_password(x, e, &r);
    if (rc == EXIT_OK)
        fprintf(stderr,
                "Both passwords work until the grace period ends; 'dfly users rotate %s %s "
                "--finish' ends it now.\n",
                x->args[0], x->args[1]);
    return rc;
}
