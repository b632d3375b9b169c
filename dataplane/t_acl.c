/* The ACL command: SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT GENPASS LOG DRYRUN SAVE LOAD
 * HELP (Redis 7.0's aclCommand). Users live in acl.c; rules are parsed in acl_rules.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "acl.h"
#include "client.h"
#include "reply.h"

#define GENPASS_DEFAULT_BITS 256
#define GENPASS_MAX_BITS 4096
#define ACL_LOG_DEFAULT_COUNT 10
#define ACL_ERR_MAX 512
#define GETUSER_FIELDS 6
#define SELECTOR_FIELDS 3
#define BITS_PER_HEX 4
#define BITS_PER_BYTE 8

/* ACL SETUSER name rule...: the rules apply to a copy, which replaces the user only when every
 * rule was valid. Connections of a user that is now off are closed. */
static void acl_setuser_cmd(cmd_ctx *c)
{
    const slice *name = &c->argv[2];
    if (!acl_name_ok(name->p, name->len)) {
        reply_error(c, "ERR Usernames can't contain spaces or null characters");
        return;
    }
    acl_user *old = acl_lookup(name->p, name->len);
    acl_user *u = old ? acl_user_dup(old) : acl_user_new(name->p, name->len);
    acl_user_unref(old);
    char err[ACL_ERR_MAX];
    if (acl_user_apply_args(u, c->argc - 3, c->argv + 3, err, sizeof(err))) {
        acl_user_unref(u);
        reply_error(c, err);
        return;
    }
    int off = !(u->flags & ACL_USER_ON);
    acl_store(u);
    if (off) {
        client *cl = c->cl;
        if (cl && cl->authenticated && !strcmp(acl_client_username(cl), u->name))
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY; /* Redis answers first, then closes */
        acl_kill_user(name->p, name->len, cl);
    } else {
        acl_kill_pubsub_if_needed(name->p, name->len);
    }
    reply_ok(c);
}

static void reply_selector(cmd_ctx *c, const acl_selector *s)
{
    buf b;
    buf_init(&b);
    reply_bulk_cstr(c, "commands");
    acl_selector_describe_commands(s, &b);
    reply_bulk(c, b.data ? b.data : "", b.len);
    buf_clear(&b);
    reply_bulk_cstr(c, "keys");
    acl_selector_describe_keys(s, &b);
    reply_bulk(c, b.data ? b.data : "", b.len);
    buf_clear(&b);
    reply_bulk_cstr(c, "channels");
    acl_selector_describe_channels(s, &b);
    reply_bulk(c, b.data ? b.data : "", b.len);
    buf_free(&b);
}

/* Redis 7.0's shape: flags, passwords (hex digests), the root selector's commands, keys and
 * channels, then selectors as maps. */
static void acl_getuser_cmd(cmd_ctx *c)
{
    acl_user *u = acl_lookup(c->argv[2].p, c->argv[2].len);
    if (!u) {
        reply_null(c);
        return;
    }
    reply_map(c, GETUSER_FIELDS);
    reply_bulk_cstr(c, "flags");
    static const struct {
        unsigned flag;
        const char *name;
    } flags[] = {{ACL_USER_NOPASS, "nopass"},
                 {ACL_USER_SKIP_SANITIZE, "skip-sanitize-payload"},
                 {ACL_USER_SANITIZE, "sanitize-payload"}};
    long nf = 1;
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        nf += (u->flags & flags[i].flag) != 0;
    reply_set(c, nf);
    reply_bulk_cstr(c, (u->flags & ACL_USER_ON) ? "on" : "off");
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (u->flags & flags[i].flag)
            reply_bulk_cstr(c, flags[i].name);
    reply_bulk_cstr(c, "passwords");
    reply_array(c, u->npass);
    for (int i = 0; i < u->npass; i++) {
        char hex[ACL_DIGEST_HEX_LEN + 1];
        acl_digest_hex(u->pass[i], hex);
        reply_bulk_cstr(c, hex);
    }
    reply_selector(c, &u->root);
    reply_bulk_cstr(c, "selectors");
    reply_array(c, u->nsels);
    for (int i = 0; i < u->nsels; i++) {
        reply_map(c, SELECTOR_FIELDS);
        reply_selector(c, &u->sels[i]);
    }
    acl_user_unref(u);
}

static void acl_deluser_cmd(cmd_ctx *c)
{
    for (int i = 2; i < c->argc; i++) {
        if (arg_eq(&c->argv[i], ACL_DEFAULT_USER)) {
            reply_error(c, "ERR The 'default' user cannot be removed");
            return;
        }
    }
    long n = 0;
    client *cl = c->cl;
    for (int i = 2; i < c->argc; i++) {
        const slice *name = &c->argv[i];
        if (!acl_remove(name->p, name->len))
            continue;
        n++;
        if (cl && cl->authenticated && strlen(acl_client_username(cl)) == name->len &&
            !memcmp(acl_client_username(cl), name->p, name->len))
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        acl_kill_user(name->p, name->len, cl);
    }
    reply_int(c, n);
}

typedef struct list_ctx {
    cmd_ctx *c;
    int names_only;
    buf line;
} list_ctx;

static void list_user(const acl_user *u, void *arg)
{
    list_ctx *lc = arg;
    if (lc->names_only) {
        reply_bulk(lc->c, u->name, u->namelen);
        return;
    }
    buf_clear(&lc->line);
    buf_printf(&lc->line, "user %s ", u->name);
    acl_user_describe(u, &lc->line);
    reply_bulk(lc->c, lc->line.data, lc->line.len);
}

/* ACL LIST and ACL USERS: one consistent view under the registry lock. */
static void list_generic(cmd_ctx *c, int names_only)
{
    list_ctx lc = {c, names_only, {0}};
    buf_init(&lc.line);
    size_t h = reply_deferred(c);
    int n = acl_foreach(list_user, &lc);
    reply_set_deferred_array(c, h, n);
    buf_free(&lc.line);
}

static void acl_list_cmd(cmd_ctx *c)
{
    list_generic(c, 0);
}

static void acl_users_cmd(cmd_ctx *c)
{
    list_generic(c, 1);
}

static void acl_whoami_cmd(cmd_ctx *c)
{
    reply_bulk_cstr(c, c->cl ? acl_client_username(c->cl) : ACL_DEFAULT_USER);
}

typedef struct cat_list {
    cmd_ctx *c;
    uint32_t cat;
    long n;
} cat_list;

static void cat_list_one(const command *cmd, void *arg)
{
    cat_list *cl = arg;
    if (command_acl_categories(cmd) & cl->cat) {
        reply_bulk_cstr(cl->c, cmd->name);
        cl->n++;
    }
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++) {
        if (command_acl_categories(sub) & cl->cat) {
            char name[128];
            command_fullname(sub, cmd, name, sizeof(name));
            reply_bulk_cstr(cl->c, name);
            cl->n++;
        }
    }
}

static void acl_cat_cmd(cmd_ctx *c)
{
    if (c->argc == 2) {
        reply_array(c, ACL_CATEGORY_COUNT);
        for (int i = 0; i < ACL_CATEGORY_COUNT; i++)
            reply_bulk_cstr(c, acl_category_names[i]);
        return;
    }
    if (c->argc > 3) {
        reply_wrong_args(c);
        return;
    }
    uint32_t cat = acl_category_by_name(c->argv[2].p, c->argv[2].len);
    if (!cat) {
        reply_errorf(c, "ERR Unknown category '%.*s'", (int)c->argv[2].len, c->argv[2].p);
        return;
    }
    size_t h = reply_deferred(c);
    cat_list cl = {c, cat, 0};
    command_foreach(cat_list_one, &cl);
    reply_set_deferred_array(c, h, cl.n);
}

static void acl_genpass_cmd(cmd_ctx *c)
{
    long long bits = GENPASS_DEFAULT_BITS;
    if (c->argc > 3) {
        reply_wrong_args(c);
        return;
    }
    if (c->argc == 3 && arg_ll_or_reply(c, &c->argv[2], &bits, NULL))
        return;
    if (bits <= 0 || bits > GENPASS_MAX_BITS) {
        reply_error(c, "ERR ACL GENPASS argument must be the number of bits for the output "
                       "password, a positive number up to 4096");
        return;
    }
    int chars = (int)((bits + BITS_PER_HEX - 1) / BITS_PER_HEX);
    unsigned char raw[GENPASS_MAX_BITS / BITS_PER_BYTE];
    if (RAND_bytes(raw, (chars + 1) / 2) != 1) {
        reply_error(c, "ERR cannot get random bytes");
        return;
    }
    char out[GENPASS_MAX_BITS / BITS_PER_HEX + 1];
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < chars; i++)
        out[i] = hex[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
    reply_bulk(c, out, (size_t)chars);
}

static void acl_log_cmd(cmd_ctx *c)
{
    long long count = ACL_LOG_DEFAULT_COUNT;
    if (c->argc > 3) {
        reply_wrong_args(c);
        return;
    }
    if (c->argc == 3) {
        if (arg_eq(&c->argv[2], "reset")) {
            acl_log_reset();
            reply_ok(c);
            return;
        }
        if (arg_ll_or_reply(c, &c->argv[2], &count, NULL))
            return;
        if (count < 0)
            count = 0;
    }
    acl_log_reply(c, (long)count);
}

/* ACL DRYRUN user command arg...: would the user be allowed? No log entry, no statistics. */
static void acl_dryrun_cmd(cmd_ctx *c)
{
    acl_user *u = acl_lookup(c->argv[2].p, c->argv[2].len);
    if (!u) {
        reply_errorf(c, "ERR User '%.*s' not found", (int)c->argv[2].len, c->argv[2].p);
        return;
    }
    const command *container = NULL;
    int argc = c->argc - 3;
    const slice *argv = c->argv + 3;
    const command *cmd = command_lookup(argc, argv, &container);
    if (!cmd) {
        reply_errorf(c, "ERR Command '%.*s' not found", (int)argv[0].len, argv[0].p);
    } else if (!command_arity_ok(cmd, argc)) {
        char name[128];
        command_fullname(cmd, container, name, sizeof(name));
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", name);
    } else {
        int pos = 0;
        int why = acl_check(u, cmd, argc, argv, &pos);
        char name[128];
        command_fullname(cmd, container, name, sizeof(name));
        buf msg;
        buf_init(&msg);
        if (why == ACL_DENIED_CMD)
            buf_printf(&msg, "This user has no permissions to run the '%s' command", name);
        else if (why != ACL_OK)
            buf_printf(&msg, "This user has no permissions to access the '%.*s' %s",
                       (int)argv[pos].len, argv[pos].p, why == ACL_DENIED_KEY ? "key" : "channel");
        if (why == ACL_OK)
            reply_ok(c);
        else
            reply_bulk(c, msg.data, msg.len);
        buf_free(&msg);
    }
    acl_user_unref(u);
}

#define ERR_NO_ACLFILE                                                                             \
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "       \
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "      \
    "Redis configuration file set) in order to store users in the Redis configuration."

static void acl_save_cmd(cmd_ctx *c)
{
    const char *path = acl_file_path();
    if (!*path) {
        reply_error(c, ERR_NO_ACLFILE);
        return;
    }
    char err[ACL_ERR_MAX];
    if (acl_file_save(path, err, sizeof(err))) {
        reply_errorf(c, "ERR There was an error trying to save the ACLs. Please check the server "
                        "logs for more information");
        return;
    }
    reply_ok(c);
}

static void acl_load_cmd(cmd_ctx *c)
{
    const char *path = acl_file_path();
    if (!*path) {
        reply_error(c, ERR_NO_ACLFILE);
        return;
    }
    char err[ACL_ERR_MAX];
    if (acl_file_load(path, err, sizeof(err))) {
        reply_errorf(c, "ERR %s", err);
        return;
    }
    reply_ok(c);
}

static const char *const acl_help[] = {
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
};

static void acl_help_cmd(cmd_ctx *c)
{
    size_t n = sizeof(acl_help) / sizeof(acl_help[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, acl_help[i]);
}

/* Reached only when no subcommand matched. */
static void acl_cmd(cmd_ctx *c)
{
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try ACL HELP.", (int)c->argv[1].len,
                 c->argv[1].p);
}

#define ACL_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CLIENT_STATE)
#define ACL_ADMIN_FLAGS (ACL_FLAGS | CMD_ADMIN)
#define ACL_SUB(n, p, a, f, sum)                                                                   \
    {                                                                                              \
        .name = n, .proc = p, .arity = a, .flags = f, .acl = ACL_SLOW, .group = "server",          \
        .since = "6.0.0", .summary = sum                                                           \
    }

static command acl_subcommands[] = {
    ACL_SUB("cat", acl_cat_cmd, -2, ACL_FLAGS,
            "Lists the ACL categories, or the commands inside a "
            "category."),
    ACL_SUB("deluser", acl_deluser_cmd, -3, ACL_ADMIN_FLAGS,
            "Deletes ACL users, and terminates their connections."),
    ACL_SUB("dryrun", acl_dryrun_cmd, -4, ACL_ADMIN_FLAGS,
            "Simulates the execution of a command by a user, without executing the command."),
    ACL_SUB("genpass", acl_genpass_cmd, -2, ACL_FLAGS,
            "Generates a pseudorandom, secure password that can be used to identify ACL users."),
    ACL_SUB("getuser", acl_getuser_cmd, 3, ACL_ADMIN_FLAGS, "Lists the ACL rules of a user."),
    ACL_SUB("help", acl_help_cmd, 2, ACL_FLAGS,
            "Returns helpful text about the different "
            "subcommands."),
    ACL_SUB("list", acl_list_cmd, 2, ACL_ADMIN_FLAGS,
            "Dumps the effective rules in ACL file "
            "format."),
    ACL_SUB("load", acl_load_cmd, 2, ACL_ADMIN_FLAGS,
            "Reloads the rules from the configured ACL "
            "file."),
    ACL_SUB("log", acl_log_cmd, -2, ACL_ADMIN_FLAGS,
            "Lists recent security events generated due "
            "to ACL rules."),
    ACL_SUB("save", acl_save_cmd, 2, ACL_ADMIN_FLAGS,
            "Saves the effective ACL rules in the "
            "configured ACL file."),
    ACL_SUB("setuser", acl_setuser_cmd, -3, ACL_ADMIN_FLAGS,
            "Creates and modifies an ACL user and its rules."),
    ACL_SUB("users", acl_users_cmd, 2, ACL_ADMIN_FLAGS, "Lists all ACL users."),
    ACL_SUB("whoami", acl_whoami_cmd, 2, ACL_FLAGS,
            "Returns the authenticated username of the current connection."),
    {0},
};

command acl_commands[] = {
    {.name = "acl",
     .proc = acl_cmd,
     .arity = -2,
     .flags = 0,
     .acl = ACL_SLOW,
     .group = "server",
     .since = "6.0.0",
     .summary = "A container for Access List Control commands.",
     .subcommands = acl_subcommands},
    {0},
};
