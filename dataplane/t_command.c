/* COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS|GETKEYSANDFLAGS|HELP]: the command table as Redis 7
 * describes itself to clients (redis-cli, cluster clients read it at connect time).
 *
 * The table states flags, ACL categories and a key range per command; key specs are derived
 * from the range (or marked unknown for commands that find their keys themselves), and the
 * ACL categories include the ones Redis implies from the flags (setImplicitACLCategories). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "glob.h"
#include "reply.h"
#include "t_server.h"

#define COMMAND_NAME_MAX 128
#define GETKEYS_MAX 4096

/* Redis's flag names, in the order COMMAND INFO lists them. */
static const struct {
    uint32_t flag;
    const char *name;
} flag_names[] = {
    {CMD_WRITE, "write"},
    {CMD_READONLY, "readonly"},
    {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},
    {CMD_NOSCRIPT, "noscript"},
    {CMD_BLOCKING, "blocking"},
    {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},
    {CMD_SKIP_MONITOR, "skip_monitor"},
    {CMD_SKIP_SLOWLOG, "skip_slowlog"},
    {CMD_FAST, "fast"},
    {CMD_NO_AUTH, "no_auth"},
    {CMD_MAY_REPLICATE, "may_replicate"},
    {CMD_NO_MULTI, "no_multi"},
};

static int movable_keys(const command *cmd)
{
    return cmd->getkeys != NULL;
}

static void reply_flags(cmd_ctx *c, const command *cmd)
{
    size_t h = reply_deferred(c);
    long n = 0;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (cmd->flags & flag_names[i].flag) {
            reply_simple(c, flag_names[i].name);
            n++;
        }
    if (movable_keys(cmd)) {
        reply_simple(c, "movablekeys");
        n++;
    }
    if (cmd->flags & CMD_ALLOW_BUSY) {
        reply_simple(c, "allow_busy");
        n++;
    }
    reply_set_deferred_set(c, h, n);
}

static void reply_acl(cmd_ctx *c, const command *cmd)
{
    uint32_t acl = command_acl_categories(cmd);
    size_t h = reply_deferred(c);
    long n = 0;
    for (int i = 0; i < ACL_CATEGORY_COUNT; i++) {
        if (acl & (1u << i)) {
            char name[COMMAND_NAME_MAX];
            snprintf(name, sizeof(name), "@%s", acl_category_names[i]);
            reply_simple(c, name);
            n++;
        }
    }
    reply_set_deferred_set(c, h, n);
}

/* The key flags a key spec or GETKEYSANDFLAGS reports: the table has no per-key access
 * description, so read-only commands say RO/access and writes assume the worst (RW, access,
 * update), as Redis does for commands it cannot describe (EVAL). */
static void reply_key_flags(cmd_ctx *c, const command *cmd)
{
    if (cmd->flags & CMD_WRITE) {
        reply_set(c, 3);
        reply_simple(c, "RW");
        reply_simple(c, "access");
        reply_simple(c, "update");
    } else {
        reply_set(c, 2);
        reply_simple(c, "RO");
        reply_simple(c, "access");
    }
}

static void reply_key_specs(cmd_ctx *c, const command *cmd)
{
    if (cmd->first_key <= 0 && !movable_keys(cmd)) {
        reply_array(c, 0);
        return;
    }
    reply_array(c, 1);
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_key_flags(c, cmd);
    reply_bulk_cstr(c, "begin_search");
    if (movable_keys(cmd)) {
        reply_map(c, 2);
        reply_bulk_cstr(c, "type");
        reply_bulk_cstr(c, "unknown");
        reply_bulk_cstr(c, "spec");
        reply_map(c, 0);
        reply_bulk_cstr(c, "find_keys");
        reply_map(c, 2);
        reply_bulk_cstr(c, "type");
        reply_bulk_cstr(c, "unknown");
        reply_bulk_cstr(c, "spec");
        reply_map(c, 0);
        return;
    }
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "index");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 1);
    reply_bulk_cstr(c, "index");
    reply_int(c, cmd->first_key);
    reply_bulk_cstr(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "range");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 3);
    /* lastkey is relative to the first key when not negative. */
    reply_bulk_cstr(c, "lastkey");
    reply_int(c, cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key);
    reply_bulk_cstr(c, "keystep");
    reply_int(c, cmd->key_step > 0 ? cmd->key_step : 1);
    reply_bulk_cstr(c, "limit");
    reply_int(c, 0);
}

static void reply_command_info(cmd_ctx *c, const command *cmd, const command *container)
{
    char name[COMMAND_NAME_MAX];
    command_fullname(cmd, container, name, sizeof(name));
    reply_array(c, 10);
    reply_bulk_cstr(c, name);
    reply_int(c, cmd->arity);
    reply_flags(c, cmd);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->key_step);
    reply_acl(c, cmd);
    reply_set(c, 0); /* tips */
    reply_key_specs(c, cmd);
    long nsub = 0;
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++)
        nsub++;
    reply_array(c, nsub);
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++)
        reply_command_info(c, sub, cmd);
}

static void reply_command_docs(cmd_ctx *c, const command *cmd, const command *container)
{
    char name[COMMAND_NAME_MAX];
    command_fullname(cmd, container, name, sizeof(name));
    reply_bulk_cstr(c, name);
    long nsub = 0;
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++)
        nsub++;
    reply_map(c, (cmd->summary != NULL) + (cmd->since != NULL) + (cmd->group != NULL) + (nsub > 0));
    if (cmd->summary) {
        reply_bulk_cstr(c, "summary");
        reply_bulk_cstr(c, cmd->summary);
    }
    if (cmd->since) {
        reply_bulk_cstr(c, "since");
        reply_bulk_cstr(c, cmd->since);
    }
    if (cmd->group) {
        reply_bulk_cstr(c, "group");
        reply_bulk_cstr(c, cmd->group);
    }
    if (nsub) {
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, nsub);
        for (const command *sub = cmd->subcommands; sub->name; sub++)
            reply_command_docs(c, sub, cmd);
    }
}

/* ---- COMMAND, COMMAND INFO, COMMAND DOCS, COMMAND COUNT ------------------------------------ */

struct foreach_reply {
    cmd_ctx *c;
    long n;
    int docs;
};

static void foreach_reply(const command *cmd, void *arg)
{
    struct foreach_reply *f = arg;
    if (f->docs)
        reply_command_docs(f->c, cmd, NULL);
    else
        reply_command_info(f->c, cmd, NULL);
    f->n++;
}

static void count_one(const command *cmd, void *arg)
{
    (void)cmd;
    (*(long *)arg)++;
}

static long toplevel_count(void)
{
    long n = 0;
    command_foreach(count_one, &n);
    return n;
}

/* Every command, or the named ones ("config|get" names a subcommand). */
static void command_info_generic(cmd_ctx *c, int first, int docs)
{
    if (c->argc <= first) {
        struct foreach_reply f = {c, 0, docs};
        if (docs)
            reply_map(c, toplevel_count());
        else
            reply_array(c, toplevel_count());
        command_foreach(foreach_reply, &f);
        return;
    }
    size_t h = reply_deferred(c);
    long n = 0;
    for (int i = first; i < c->argc; i++) {
        const slice *a = &c->argv[i];
        const char *bar = memchr(a->p, '|', a->len);
        slice parts[2] = {{a->p, bar ? (size_t)(bar - a->p) : a->len},
                          {bar ? bar + 1 : NULL, bar ? a->len - (size_t)(bar - a->p) - 1 : 0}};
        const command *container = NULL, *cmd;
        cmd = bar ? command_lookup(2, parts, &container) : command_lookup_name(a->p, a->len);
        if (bar && !container)
            cmd = NULL; /* "x|y" names a subcommand, not the container */
        if (docs) {
            if (!cmd)
                continue; /* DOCS leaves unknown names out */
            reply_command_docs(c, cmd, container);
        } else if (!cmd) {
            reply_null(c);
        } else {
            reply_command_info(c, cmd, container);
        }
        n++;
    }
    if (docs)
        reply_set_deferred_map(c, h, n);
    else
        reply_set_deferred_array(c, h, n);
}

static void command_cmd(cmd_ctx *c)
{
    if (c->argc > 1) {
        reply_unknown_subcommand(c, "COMMAND");
        return;
    }
    command_info_generic(c, 1, 0);
}

static void command_info_cmd(cmd_ctx *c)
{
    command_info_generic(c, 2, 0);
}

static void command_docs_cmd(cmd_ctx *c)
{
    command_info_generic(c, 2, 1);
}

static void command_count_cmd(cmd_ctx *c)
{
    reply_int(c, toplevel_count());
}

/* ---- COMMAND LIST [FILTERBY MODULE m|ACLCAT cat|PATTERN p] --------------------------------- */

enum list_filter { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN };

struct list_state {
    cmd_ctx *c;
    enum list_filter filter;
    const slice *arg;
    uint32_t acl_bit; /* 0: an unknown category, nothing matches */
    long n;
};

static int list_matches(const struct list_state *st, const command *cmd, const char *name)
{
    switch (st->filter) {
    case FILTER_NONE: return 1;
    case FILTER_MODULE: return 0; /* no modules */
    case FILTER_ACLCAT: return st->acl_bit && (command_acl_categories(cmd) & st->acl_bit);
    case FILTER_PATTERN: return glob_match(st->arg->p, st->arg->len, name, strlen(name), 1);
    }
    return 0;
}

static void list_one(struct list_state *st, const command *cmd, const command *container)
{
    char name[COMMAND_NAME_MAX];
    command_fullname(cmd, container, name, sizeof(name));
    if (list_matches(st, cmd, name)) {
        reply_bulk_cstr(st->c, name);
        st->n++;
    }
}

static void list_command(const command *cmd, void *arg)
{
    struct list_state *st = arg;
    list_one(st, cmd, NULL);
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++)
        list_one(st, sub, cmd);
}

static void command_list_cmd(cmd_ctx *c)
{
    struct list_state st = {.c = c, .filter = FILTER_NONE};
    if (c->argc == 5 && arg_eq(&c->argv[2], "filterby")) {
        st.arg = &c->argv[4];
        if (arg_eq(&c->argv[3], "module")) {
            st.filter = FILTER_MODULE;
        } else if (arg_eq(&c->argv[3], "pattern")) {
            st.filter = FILTER_PATTERN;
        } else if (arg_eq(&c->argv[3], "aclcat")) {
            st.filter = FILTER_ACLCAT;
            for (int i = 0; i < ACL_CATEGORY_COUNT; i++)
                if (arg_eq(st.arg, acl_category_names[i]))
                    st.acl_bit = 1u << i;
        } else {
            reply_syntax_error(c);
            return;
        }
    } else if (c->argc != 2) {
        reply_syntax_error(c);
        return;
    }
    size_t h = reply_deferred(c);
    command_foreach(list_command, &st);
    reply_set_deferred_array(c, h, st.n);
}

/* ---- COMMAND GETKEYS / GETKEYSANDFLAGS ------------------------------------------------------ */

static void getkeys_generic(cmd_ctx *c, int with_flags)
{
    const slice *args = c->argv + 2;
    int nargs = c->argc - 2;
    const command *container;
    const command *cmd = command_lookup(nargs, args, &container);
    if (!cmd) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    if (!command_arity_ok(cmd, nargs)) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    int max = nargs < GETKEYS_MAX ? nargs : GETKEYS_MAX;
    int *keys = mem_malloc(sizeof(int) * (size_t)(max > 0 ? max : 1));
    int n = command_get_keys(cmd, nargs, args, keys, max);
    if (n <= 0) {
        reply_error(c, n < 0 ? "ERR Invalid arguments specified for command"
                             : "ERR The command has no key arguments");
        free(keys);
        return;
    }
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        if (with_flags) {
            reply_array(c, 2);
            reply_bulk(c, args[keys[i]].p, args[keys[i]].len);
            reply_key_flags(c, cmd);
        } else {
            reply_bulk(c, args[keys[i]].p, args[keys[i]].len);
        }
    }
    free(keys);
}

static void command_getkeys_cmd(cmd_ctx *c)
{
    getkeys_generic(c, 0);
}

static void command_getkeysandflags_cmd(cmd_ctx *c)
{
    getkeys_generic(c, 1);
}

static void command_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        NULL,
    };
    reply_help(c, "COMMAND", lines);
}

#define COMMAND_SUB                                                                                \
    .flags = CMD_LOADING | CMD_STALE, .acl = ACL_SLOW | ACL_CONNECTION, .group = "server"

static command command_subcommands[] = {
    {.name = "count",
     .proc = command_count_cmd,
     .arity = 2,
     COMMAND_SUB,
     .since = "2.8.13",
     .summary = "Get total number of Redis commands"},
    {.name = "info",
     .proc = command_info_cmd,
     .arity = -2,
     COMMAND_SUB,
     .since = "2.8.13",
     .summary = "Get array of specific Redis command details, or all when no argument is "
                "given."},
    {.name = "docs",
     .proc = command_docs_cmd,
     .arity = -2,
     COMMAND_SUB,
     .since = "7.0.0",
     .summary = "Get array of specific Redis command documentation"},
    {.name = "list",
     .proc = command_list_cmd,
     .arity = -2,
     COMMAND_SUB,
     .since = "7.0.0",
     .summary = "Get an array of Redis command names"},
    {.name = "getkeys",
     .proc = command_getkeys_cmd,
     .arity = -4,
     COMMAND_SUB,
     .since = "2.8.13",
     .summary = "Extract keys given a full Redis command"},
    {.name = "getkeysandflags",
     .proc = command_getkeysandflags_cmd,
     .arity = -4,
     COMMAND_SUB,
     .since = "7.0.0",
     .summary = "Extract keys and access flags given a full Redis command"},
    {.name = "help",
     .proc = command_help_cmd,
     .arity = 2,
     COMMAND_SUB,
     .since = "5.0.0",
     .summary = "Show helpful text about the different subcommands"},
    {0},
};

command introspection_commands[] = {
    {.name = "command",
     .proc = command_cmd,
     .arity = -1,
     COMMAND_SUB,
     .since = "2.8.13",
     .summary = "Get array of Redis command details",
     .subcommands = command_subcommands},
    {0},
};
