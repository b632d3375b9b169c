/* The command table: registration of every family, lookup, key positions, argument helpers. */
#include "command.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "object.h"
#include "reply.h"

const char *const acl_category_names[ACL_CATEGORY_COUNT] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};

/* Each family's part of the table, ending with an entry whose name is NULL. */
extern command string_commands[];
extern command sort_commands[];
extern command keyspace_commands[];
extern command server_commands[];
extern command config_commands[];
extern command info_commands[];
extern command debug_commands[];
extern command introspection_commands[];
extern command connection_commands[];
extern command client_commands[];
extern command multi_commands[];
extern command bits_commands[];

extern command list_commands[];
extern command hash_commands[];
extern command set_commands[];
extern command zset_commands[];
extern command hll_commands[];
extern command geo_commands[];
extern command stream_commands[];
extern command pubsub_commands[];
extern command scripting_commands[];
extern command function_commands[];
extern command wait_commands[];
extern command dump_commands[];
extern command save_commands[];
extern command journal_commands[];
extern command cluster_commands[];
extern command migrate_commands[];
extern command replication_commands[];
extern command acl_commands[];

static command *const families[] = {
    string_commands,   keyspace_commands,      server_commands,      connection_commands,
    multi_commands,    bits_commands,          config_commands,      info_commands,
    debug_commands,    introspection_commands, client_commands,      list_commands,
    hash_commands,     set_commands,           zset_commands,        hll_commands,
    geo_commands,      stream_commands,        pubsub_commands,      scripting_commands,
    function_commands, wait_commands,          dump_commands,        save_commands,
    journal_commands,  cluster_commands,       replication_commands, migrate_commands,
    acl_commands,      sort_commands,
};

#define COMMAND_TABLE_SIZE 1024 /* open addressing, power of two, > 2x the commands */

static const command *by_name[COMMAND_TABLE_SIZE];
/* The name each by_name slot answers to: the command's own, or its --rename_command name. */
static const char *by_name_key[COMMAND_TABLE_SIZE];
static const command *by_id[COMMAND_TABLE_SIZE];
static int ncommands;
/* By id: the name a renamed top-level command answers to ("": disabled), or NULL. */
static char *renamed[COMMAND_TABLE_SIZE];

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

static int name_eq(const char *lower, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!lower[i] || lower[i] != tolower((unsigned char)s[i]))
            return 0;
    return lower[len] == '\0';
}

static void assign_id(const command *cmd)
{
    ((command *)cmd)->id = ncommands;
    by_id[ncommands++] = cmd;
}

static void name_table_put(const char *key, const command *cmd)
{
    uint32_t h = name_hash(key, strlen(key)) & (COMMAND_TABLE_SIZE - 1);
    while (by_name[h]) {
        if (!strcmp(by_name_key[h], key))
            abort(); /* a command registered twice */
        h = (h + 1) & (COMMAND_TABLE_SIZE - 1);
    }
    by_name[h] = cmd;
    by_name_key[h] = key;
}

void command_table_init(void)
{
    if (ncommands)
        return;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (const command *cmd = families[f]; cmd->name; cmd++) {
            name_table_put(cmd->name, cmd);
            assign_id(cmd);
            for (command *sub = cmd->subcommands; sub && sub->name; sub++) {
                assign_id(sub);
                sub->parent = cmd;
            }
        }
    }
}

const command *command_lookup_name(const char *name, size_t len)
{
    uint32_t h = name_hash(name, len) & (COMMAND_TABLE_SIZE - 1);
    while (by_name[h]) {
        if (name_eq(by_name_key[h], name, len))
            return by_name[h];
        h = (h + 1) & (COMMAND_TABLE_SIZE - 1);
    }
    return NULL;
}

/* Rebuilds the name table with the renames applied (before threads start). */
static void name_table_rebuild(void)
{
    memset(by_name, 0, sizeof(by_name));
    memset(by_name_key, 0, sizeof(by_name_key));
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (const command *cmd = families[f]; cmd->name; cmd++) {
            const char *key = renamed[cmd->id] ? renamed[cmd->id] : cmd->name;
            if (*key)
                name_table_put(key, cmd);
        }
    }
}

int command_rename(const char *old_name, const char *new_name)
{
    const command *cmd = command_lookup_name(old_name, strlen(old_name));
    if (!cmd || (*new_name && command_lookup_name(new_name, strlen(new_name))))
        return -1;
    char *key = mem_strdup(new_name);
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    free(renamed[cmd->id]);
    renamed[cmd->id] = key;
    name_table_rebuild();
    return 0;
}

const command *command_lookup(int argc, const slice *argv, const command **container)
{
    *container = NULL;
    if (argc < 1)
        return NULL;
    const command *cmd = command_lookup_name(argv[0].p, argv[0].len);
    if (!cmd || !cmd->subcommands || argc < 2)
        return cmd;
    for (const command *sub = cmd->subcommands; sub->name; sub++) {
        if (name_eq(sub->name, argv[1].p, argv[1].len)) {
            *container = cmd;
            return sub;
        }
    }
    return cmd; /* the container's proc reports the unknown subcommand */
}

int command_count(void)
{
    return ncommands;
}

const command *command_by_id(int id)
{
    return id >= 0 && id < ncommands ? by_id[id] : NULL;
}

void command_foreach(void (*fn)(const command *cmd, void *arg), void *arg)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
        for (const command *cmd = families[f]; cmd->name; cmd++)
            fn(cmd, arg);
}

int command_arity_ok(const command *cmd, int argc)
{
    return cmd->arity >= 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

int command_get_keys(const command *cmd, int argc, const slice *argv, int *keys, int max)
{
    if (cmd->getkeys)
        return cmd->getkeys(argc, argv, keys, max);
    if (cmd->first_key <= 0)
        return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc; i += step) {
        if (n == max)
            return -1;
        keys[n++] = i;
    }
    return n;
}

uint32_t command_acl_categories(const command *cmd)
{
    uint32_t acl = cmd->acl;
    if (cmd->flags & CMD_WRITE)
        acl |= ACL_WRITE;
    if ((cmd->flags & CMD_READONLY) && !(acl & ACL_SCRIPTING))
        acl |= ACL_READ;
    if (cmd->flags & CMD_ADMIN)
        acl |= ACL_ADMIN | ACL_DANGEROUS;
    if (cmd->flags & CMD_PUBSUB)
        acl |= ACL_PUBSUB;
    if (cmd->flags & CMD_FAST)
        acl |= ACL_FAST;
    if (cmd->flags & CMD_BLOCKING)
        acl |= ACL_BLOCKING;
    if (!(acl & ACL_FAST))
        acl |= ACL_SLOW;
    return acl;
}

void command_fullname(const command *cmd, const command *container, char *out, size_t outlen)
{
    if (container)
        snprintf(out, outlen, "%s|%s", container->name, cmd->name);
    else
        snprintf(out, outlen, "%s", cmd->name);
}

/* ---- argument helpers -------------------------------------------------------------------- */

int arg_eq(const slice *a, const char *lit)
{
    size_t n = strlen(lit);
    return a->len == n && strncasecmp(a->p, lit, n) == 0;
}

int arg_ll_or_reply(cmd_ctx *c, const slice *a, long long *out, const char *errmsg)
{
    if (!str_to_ll(a->p, a->len, out)) {
        reply_error(c, errmsg ? errmsg : ERR_NOT_INT);
        return -1;
    }
    return 0;
}

int arg_ll_range_or_reply(cmd_ctx *c, const slice *a, long long min, long long max, long long *out,
                          const char *errmsg)
{
    long long v;
    if (!str_to_ll(a->p, a->len, &v) || v < min || v > max) {
        reply_error(c, errmsg ? errmsg : ERR_NOT_INT);
        return -1;
    }
    *out = v;
    return 0;
}

int str_to_long_double(const char *s, size_t len, long double *out)
{
    char tmp[5200];
    if (len == 0 || len >= sizeof(tmp) || isspace((unsigned char)s[0]))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(tmp, &end);
    /* end short of len: a NUL byte inside the argument stopped strtold early. */
    if (*end || (size_t)(end - tmp) != len || isnan(v) ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)))
        return 0;
    *out = v;
    return 1;
}

int str_to_double(const char *s, size_t len, double *out)
{
    char tmp[512];
    if (len == 0 || len >= sizeof(tmp) || isspace((unsigned char)s[0]))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (*end || (size_t)(end - tmp) != len || isnan(v) ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)))
        return 0;
    *out = v;
    return 1;
}

int arg_double_or_reply(cmd_ctx *c, const slice *a, double *out, const char *errmsg)
{
    if (!str_to_double(a->p, a->len, out)) {
        reply_error(c, errmsg ? errmsg : ERR_NOT_FLOAT);
        return -1;
    }
    return 0;
}

int arg_long_double_or_reply(cmd_ctx *c, const slice *a, long double *out, const char *errmsg)
{
    if (!str_to_long_double(a->p, a->len, out)) {
        reply_error(c, errmsg ? errmsg : ERR_NOT_FLOAT);
        return -1;
    }
    return 0;
}

#define CURSOR_MAX_LEN 64

int arg_cursor_or_reply(cmd_ctx *c, const slice *a, uint64_t *out)
{
    char tmp[CURSOR_MAX_LEN + 1];
    if (a->len > CURSOR_MAX_LEN || (a->len && memchr(a->p, '\0', a->len)) ||
        (a->len && isspace((unsigned char)a->p[0])))
        goto invalid;
    memcpy(tmp, a->p, a->len);
    tmp[a->len] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        goto invalid;
    *out = v;
    return 0;
invalid:
    reply_error(c, "ERR invalid cursor");
    return -1;
}

int arg_expire_or_reply(cmd_ctx *c, const slice *a, long long unit_ms, int absolute,
                        int64_t *when_ms)
{
    long long v;
    if (!str_to_ll(a->p, a->len, &v)) {
        reply_error(c, ERR_NOT_INT);
        return -1;
    }
    /* Redis rejects values whose millisecond form overflows. */
    if (v > INT64_MAX / unit_ms || v < INT64_MIN / unit_ms) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
        return -1;
    }
    long long ms = v * unit_ms;
    if (!absolute) {
        if ((ms > 0 && c->now_ms > INT64_MAX - ms)) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
            return -1;
        }
        ms += c->now_ms;
    }
    *when_ms = ms;
    return 0;
}
