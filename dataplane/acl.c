/* The ACL registry, connections' users, permission checks, ACL LOG and statistics (acl.h). */
#include "acl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "glob.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"
#include "worker.h"

#define ACL_LOG_GROUP_MS 60000  /* same denial within this time: one entry, count++ */
#define ACL_CHECK_KEYS_STACK 64 /* keys checked without allocating */
#define ACL_CHECK_KEYS_MAX 4096 /* more keys than this: the command's own error wins */
#define MS_PER_SECOND 1000.0

/* ---- the registry -------------------------------------------------------------------------- */

/* Users sorted by name (ACL USERS and ACL LIST list them in this order, as Redis's rax does). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static acl_user **users;
static int nusers;
/* Bumped on every change: connections look their user up again when it moved. */
static _Atomic uint64_t acl_epoch = 1;

static _Atomic uint64_t denied_auth, denied_cmd, denied_key, denied_channel;

static void key_perm_init(void);
static pthread_once_t key_perm_once; /* defined with the key permission table below */

void acl_lock(void)
{
    pthread_mutex_lock(&reg_lock);
}

void acl_unlock(void)
{
    pthread_mutex_unlock(&reg_lock);
}

static int name_cmp(const acl_user *u, const char *name, size_t len)
{
    size_t n = u->namelen < len ? u->namelen : len;
    int r = memcmp(u->name, name, n);
    return r ? r : (u->namelen > len) - (u->namelen < len);
}

/* Index of name, or -(insertion point)-1. Under the lock. */
static int find_locked(const char *name, size_t len)
{
    int lo = 0, hi = nusers - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int r = name_cmp(users[mid], name, len);
        if (!r)
            return mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

acl_user *acl_lookup(const char *name, size_t len)
{
    acl_lock();
    int i = find_locked(name, len);
    acl_user *u = i >= 0 ? users[i] : NULL;
    if (u)
        acl_user_ref(u);
    acl_unlock();
    return u;
}

static int selector_unrestricted(const acl_selector *s)
{
    if ((s->flags & (ACL_SEL_ALLKEYS | ACL_SEL_ALLCHANNELS)) !=
        (ACL_SEL_ALLKEYS | ACL_SEL_ALLCHANNELS))
        return 0;
    for (int id = 0; id < command_count(); id++)
        if (!((s->cmds[id / 64] >> (id % 64)) & 1))
            return 0;
    return 1;
}

static void mark_unrestricted(acl_user *u)
{
    u->unrestricted = selector_unrestricted(&u->root);
    for (int i = 0; i < u->nsels && !u->unrestricted; i++)
        u->unrestricted = selector_unrestricted(&u->sels[i]);
}

void acl_store(acl_user *u)
{
    mark_unrestricted(u);
    acl_lock();
    int i = find_locked(u->name, u->namelen);
    acl_user *old = NULL;
    if (i >= 0) {
        old = users[i];
        users[i] = u;
    } else {
        i = -i - 1;
        users = mem_realloc(users, sizeof(*users) * (size_t)(nusers + 1));
        memmove(users + i + 1, users + i, sizeof(*users) * (size_t)(nusers - i));
        users[i] = u;
        nusers++;
    }
    atomic_fetch_add(&acl_epoch, 1);
    acl_unlock();
    acl_user_unref(old);
}

int acl_remove(const char *name, size_t len)
{
    acl_lock();
    int i = find_locked(name, len);
    acl_user *old = NULL;
    if (i >= 0) {
        old = users[i];
        memmove(users + i, users + i + 1, sizeof(*users) * (size_t)(nusers - i - 1));
        nusers--;
        atomic_fetch_add(&acl_epoch, 1);
    }
    acl_unlock();
    acl_user_unref(old);
    return old != NULL;
}

int acl_foreach(void (*fn)(const acl_user *u, void *arg), void *arg)
{
    acl_lock();
    int n = nusers;
    for (int i = 0; i < nusers; i++)
        fn(users[i], arg);
    acl_unlock();
    return n;
}

static int user_ptr_cmp(const void *a, const void *b)
{
    const acl_user *x = *(acl_user *const *)a, *y = *(acl_user *const *)b;
    return name_cmp(x, y->name, y->namelen);
}

void acl_replace_all(acl_user **nu, int n)
{
    qsort(nu, (size_t)n, sizeof(*nu), user_ptr_cmp);
    for (int i = 0; i < n; i++)
        mark_unrestricted(nu[i]);
    acl_lock();
    acl_user **old = users;
    int nold = nusers;
    users = nu;
    nusers = n;
    atomic_fetch_add(&acl_epoch, 1);
    acl_unlock();
    for (int i = 0; i < nold; i++)
        acl_user_unref(old[i]);
    free(old);
}

acl_user *acl_default_user_new(void)
{
    acl_user *u = acl_user_new(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    static const char *const rules[] = {"on", "nopass", "~*", "&*", "+@all"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const char *err;
        acl_user_apply(u, rules[i], strlen(rules[i]), &err);
    }
    return u;
}

/* Makes sure "default" exists (an ACL file may leave it out). */
static void ensure_default(void)
{
    acl_user *d = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    if (d)
        acl_user_unref(d);
    else
        acl_store(acl_default_user_new());
}

void acl_set_requirepass(const char *pw)
{
    acl_user *d = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    acl_user *n = d ? acl_user_dup(d) : acl_default_user_new();
    acl_user_unref(d);
    const char *err;
    acl_user_apply(n, "resetpass", strlen("resetpass"), &err);
    if (pw && *pw) {
        size_t len = strlen(pw);
        char *op = mem_malloc(len + 2);
        op[0] = '>';
        memcpy(op + 1, pw, len + 1);
        acl_user_apply(n, op, len + 1, &err);
        free(op);
    } else {
        acl_user_apply(n, "nopass", strlen("nopass"), &err);
    }
    acl_store(n);
}

int acl_default_nopass(void)
{
    acl_user *d = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    int r = d && (d->flags & ACL_USER_ON) && (d->flags & ACL_USER_NOPASS);
    acl_user_unref(d);
    return r;
}

const char *acl_file_path(void)
{
    return server.cfg.aclfile ? server.cfg.aclfile : "";
}

/* ---- --restricted_commands and --rename_command ------------------------------------------- */

static uint64_t restricted[ACL_CMD_WORDS];
static int any_restricted;

int acl_restricted(const client *cl, const command *cmd)
{
    if (!any_restricted || (cl && (cl->flags & CLIENT_ADMIN_PORT)))
        return 0;
    int id = cmd->parent ? cmd->parent->id : cmd->id;
    return (restricted[id / 64] >> (id % 64)) & 1;
}

typedef int (*list_item_fn)(const char *item, size_t len, char *err, size_t errlen);

/* Calls fn for each item of a list separated by commas or spaces. */
static int list_foreach(const char *spec, list_item_fn fn, char *err, size_t errlen)
{
    const char *p = spec ? spec : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        if (p > start && fn(start, (size_t)(p - start), err, errlen))
            return -1;
    }
    return 0;
}

static int restrict_one(const char *item, size_t len, char *err, size_t errlen)
{
    const command *cmd = command_lookup_name(item, len);
    if (!cmd) {
        snprintf(err, errlen, "--restricted_commands: unknown command '%.*s'", (int)len, item);
        return -1;
    }
    restricted[cmd->id / 64] |= 1ull << (cmd->id % 64);
    any_restricted = 1;
    return 0;
}

static int rename_one(const char *item, size_t len, char *err, size_t errlen)
{
    const char *eq = memchr(item, '=', len);
    if (!eq) {
        snprintf(err, errlen, "--rename_command: '%.*s' is not OLD=NEW", (int)len, item);
        return -1;
    }
    char *old_name = mem_strndup(item, (size_t)(eq - item));
    char *new_name = mem_strndup(eq + 1, len - (size_t)(eq - item) - 1);
    int rc = command_rename(old_name, new_name);
    if (rc)
        snprintf(err, errlen, "--rename_command: cannot rename '%s' to '%s'", old_name, new_name);
    free(old_name);
    free(new_name);
    return rc;
}

int acl_init(char *err, size_t errlen)
{
    if (command_count() >= ACL_FUTURE_BIT) {
        snprintf(err, errlen, "more commands than ACL_CMD_BITS allows");
        return -1;
    }
    pthread_once(&key_perm_once, key_perm_init); /* by the original names too */
    acl_digest_init();
    /* Restricted names are the original ones: resolve them before renaming. */
    if (list_foreach(server.cfg.restricted_commands, restrict_one, err, errlen) ||
        list_foreach(server.cfg.rename_command, rename_one, err, errlen))
        return -1;
    const char *path = acl_file_path();
    if (*path && acl_file_load(path, err, errlen))
        return -1;
    ensure_default();
    if (!*path)
        acl_set_requirepass(server.cfg.requirepass);
    return 0;
}

/* ---- connections --------------------------------------------------------------------------- */

const acl_user *acl_client_user(client *cl)
{
    if (!cl->acl_user) {
        cl->acl_user = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
        cl->acl_epoch = atomic_load(&acl_epoch);
    }
    return cl->acl_user;
}

const char *acl_client_username(const client *cl)
{
    return cl->acl_user ? cl->acl_user->name : ACL_DEFAULT_USER;
}

void acl_client_login(client *cl, acl_user *u)
{
    acl_user_ref(u);
    acl_user_unref(cl->acl_user);
    cl->acl_user = u;
    cl->acl_epoch = atomic_load(&acl_epoch);
}

void acl_client_free(client *cl)
{
    acl_user_unref(cl->acl_user);
    cl->acl_user = NULL;
}

int acl_refresh(client *cl)
{
    uint64_t e = atomic_load_explicit(&acl_epoch, memory_order_acquire);
    if (cl->acl_user && cl->acl_epoch == e)
        return 0;
    const char *name = acl_client_username(cl);
    acl_user *u = acl_lookup(name, strlen(name));
    /* Only a logged-in connection is bound to its user: one that has not authenticated yet
     * runs nothing but AUTH/HELLO, which pick a user themselves. */
    if (cl->authenticated && (!u || !(u->flags & ACL_USER_ON))) {
        acl_user_unref(u);
        return -1;
    }
    if (!u)
        u = acl_lookup(ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
    acl_user_unref(cl->acl_user);
    cl->acl_user = u;
    cl->acl_epoch = e;
    return 0;
}

int acl_client_unrestricted(client *cl)
{
    if (acl_refresh(cl))
        return 0;
    const acl_user *u = acl_client_user(cl);
    return !u || u->unrestricted;
}

typedef struct kill_req {
    char *name;
    uint64_t except_id;
    int pubsub_only; /* only subscribers that lost a channel */
} kill_req;

static int channel_allowed(const acl_selector *s, const slice *ch, int literal);
static int subscription_lost(int kind, const char *name, size_t len, void *arg);

static int subscription_lost_any(client *cl, const acl_user *u)
{
    return pubsub_total(cl) > 0 && pubsub_client_any(cl, subscription_lost, (void *)u);
}

/* fn of pubsub_client_any: a subscription the user (arg) may no longer hold. */
static int subscription_lost(int kind, const char *name, size_t len, void *arg)
{
    const acl_user *u = arg;
    slice ch = {name, len};
    int literal = kind == PUBSUB_PATTERN;
    if (channel_allowed(&u->root, &ch, literal))
        return 0;
    for (int i = 0; i < u->nsels; i++)
        if (channel_allowed(&u->sels[i], &ch, literal))
            return 0;
    return 1;
}

static void kill_on_worker(void *arg)
{
    kill_req *k = arg;
    acl_user *now = k->pubsub_only ? acl_lookup(k->name, strlen(k->name)) : NULL;
    client *next;
    for (client *cl = current_worker->clients; cl; cl = next) {
        next = cl->next;
        if (cl->id == k->except_id || !cl->authenticated || !cl->acl_user || cl->closing ||
            strcmp(cl->acl_user->name, k->name))
            continue;
        if (!k->pubsub_only || !now || subscription_lost_any(cl, now))
            client_close(cl);
    }
    acl_user_unref(now);
    free(k->name);
    free(k);
}

static void kill_post(const char *name, size_t len, client *except, int pubsub_only)
{
    for (int i = 0; i < nworkers; i++) {
        kill_req *k = mem_malloc(sizeof(*k));
        k->name = mem_strndup(name, len);
        k->except_id = except ? except->id : 0;
        k->pubsub_only = pubsub_only;
        worker_post(workers[i], kill_on_worker, k);
    }
}

void acl_kill_user(const char *name, size_t len, client *except)
{
    kill_post(name, len, except, 0);
}

void acl_kill_pubsub_if_needed(const char *name, size_t len)
{
    kill_post(name, len, NULL, 1);
}

int acl_authenticate(client *cl, const slice *user, const slice *pass)
{
    const char *name = user ? user->p : ACL_DEFAULT_USER;
    size_t nlen = user ? user->len : strlen(ACL_DEFAULT_USER);
    acl_user *u = acl_lookup(name, nlen);
    int ok = u && (u->flags & ACL_USER_ON) && acl_user_password_ok(u, pass->p, pass->len);
    if (ok) {
        acl_client_login(cl, u);
        cl->authenticated = 1;
    } else {
        atomic_fetch_add_explicit(&denied_auth, 1, memory_order_relaxed);
        acl_log_add(ACL_DENIED_AUTH, (cl->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
                    "AUTH", 4, name, nlen, cl);
    }
    acl_user_unref(u);
    return ok;
}

/* ---- checks -------------------------------------------------------------------------------- */

/* The key permissions a command needs, from Redis 7.0's key specs: ACCESS needs read, INSERT,
 * DELETE and UPDATE need write. Most commands agree with their write/read-only flag; the ones
 * below do not, or treat their first key (a destination, a source) differently from the rest. */
enum { KP_NONE = 0, KP_R = ACL_PERM_READ, KP_W = ACL_PERM_WRITE, KP_RW = ACL_PERM_RW };
static const struct {
    const char *name;
    unsigned char first, rest;
} key_perm_table[] = {
    {"bitfield", KP_RW, KP_RW},
    {"bitop", KP_W, KP_R},
    {"blmove", KP_RW, KP_W},
    {"blmpop", KP_RW, KP_RW},
    {"blpop", KP_RW, KP_RW},
    {"brpop", KP_RW, KP_RW},
    {"brpoplpush", KP_RW, KP_W},
    {"bzmpop", KP_RW, KP_RW},
    {"bzpopmax", KP_RW, KP_RW},
    {"bzpopmin", KP_RW, KP_RW},
    {"copy", KP_R, KP_W},
    {"decr", KP_RW, KP_RW},
    {"decrby", KP_RW, KP_RW},
    {"eval", KP_RW, KP_RW},
    {"evalsha", KP_RW, KP_RW},
    {"eval_ro", KP_R, KP_R},
    {"evalsha_ro", KP_R, KP_R},
    {"exists", KP_NONE, KP_NONE},
    {"fcall", KP_RW, KP_RW},
    {"georadius", KP_R, KP_W},
    {"georadiusbymember", KP_R, KP_W},
    {"geosearchstore", KP_W, KP_R},
    {"getdel", KP_RW, KP_RW},
    {"getex", KP_RW, KP_RW},
    {"getset", KP_RW, KP_RW},
    {"hexists", KP_NONE, KP_NONE},
    {"hincrby", KP_RW, KP_RW},
    {"hincrbyfloat", KP_RW, KP_RW},
    {"hlen", KP_NONE, KP_NONE},
    {"hstrlen", KP_NONE, KP_NONE},
    {"incr", KP_RW, KP_RW},
    {"incrby", KP_RW, KP_RW},
    {"incrbyfloat", KP_RW, KP_RW},
    {"llen", KP_NONE, KP_NONE},
    {"lmove", KP_RW, KP_W},
    {"lmpop", KP_RW, KP_RW},
    {"lpop", KP_RW, KP_RW},
    {"migrate", KP_RW, KP_RW},
    {"move", KP_RW, KP_RW},
    {"pfdebug", KP_R, KP_R},
    {"pfmerge", KP_RW, KP_R},
    {"rename", KP_RW, KP_W},
    {"renamenx", KP_RW, KP_W},
    {"rpop", KP_RW, KP_RW},
    {"rpoplpush", KP_RW, KP_W},
    {"scard", KP_NONE, KP_NONE},
    {"sdiffstore", KP_W, KP_R},
    {"setbit", KP_RW, KP_RW},
    {"sinterstore", KP_W, KP_R},
    {"sismember", KP_NONE, KP_NONE},
    {"smove", KP_RW, KP_W},
    {"sort", KP_R, KP_W},
    {"spop", KP_RW, KP_RW},
    {"strlen", KP_NONE, KP_NONE},
    {"sunionstore", KP_W, KP_R},
    {"touch", KP_NONE, KP_NONE},
    {"type", KP_NONE, KP_NONE},
    {"xlen", KP_NONE, KP_NONE},
    {"xreadgroup", KP_R, KP_R},
    {"zcard", KP_NONE, KP_NONE},
    {"zdiffstore", KP_W, KP_R},
    {"zincrby", KP_RW, KP_RW},
    {"zinterstore", KP_W, KP_R},
    {"zmpop", KP_RW, KP_RW},
    {"zpopmax", KP_RW, KP_RW},
    {"zpopmin", KP_RW, KP_RW},
    {"zrangestore", KP_W, KP_R},
    {"zunionstore", KP_W, KP_R},
    {"object|encoding", KP_NONE, KP_NONE},
    {"object|freq", KP_NONE, KP_NONE},
    {"object|idletime", KP_NONE, KP_NONE},
    {"object|refcount", KP_NONE, KP_NONE},
    {"memory|usage", KP_NONE, KP_NONE},
};
#define KP_DEFAULT 0xff

/* By command id: index into key_perm_table, or KP_DEFAULT. Built once. */
static unsigned char key_perm_of[ACL_CMD_BITS];
static pthread_once_t key_perm_once = PTHREAD_ONCE_INIT;

static void key_perm_init(void)
{
    memset(key_perm_of, KP_DEFAULT, sizeof(key_perm_of));
    for (size_t i = 0; i < sizeof(key_perm_table) / sizeof(key_perm_table[0]); i++) {
        const char *name = key_perm_table[i].name;
        const char *bar = strchr(name, '|'); /* "container|subcommand" */
        const command *cmd = command_lookup_name(name, bar ? (size_t)(bar - name) : strlen(name));
        if (cmd && bar) {
            const command *sub = cmd->subcommands;
            while (sub && sub->name && strcmp(sub->name, bar + 1))
                sub++;
            cmd = sub && sub->name ? sub : NULL;
        }
        if (cmd && cmd->id < ACL_CMD_BITS)
            key_perm_of[cmd->id] = (unsigned char)i;
    }
}

/* SET ... GET also reads the old value (Redis's variable key-spec flags). */
static int set_with_get(const command *cmd, int argc, const slice *argv)
{
    if (strcmp(cmd->name, "set"))
        return 0;
    for (int i = 3; i < argc; i++)
        if (arg_eq(&argv[i], "get"))
            return 1;
    return 0;
}

/* The permission the nth key (0-based) of cmd needs. */
static int key_perm_needed(const command *cmd, int nth, int argc, const slice *argv)
{
    if (set_with_get(cmd, argc, argv))
        return ACL_PERM_RW;
    pthread_once(&key_perm_once, key_perm_init);
    unsigned char i = cmd->id < ACL_CMD_BITS ? key_perm_of[cmd->id] : KP_DEFAULT;
    if (i != KP_DEFAULT)
        return nth == 0 ? key_perm_table[i].first : key_perm_table[i].rest;
    if (cmd->flags & CMD_WRITE)
        return ACL_PERM_WRITE;
    if (cmd->flags & CMD_READONLY)
        return ACL_PERM_READ;
    return 0;
}

static int key_allowed(const acl_selector *s, const slice *key, int need)
{
    for (int i = 0; i < s->nkeys; i++) {
        const acl_pattern *p = &s->keys[i];
        if ((p->perm & need) == need && glob_match(p->p, p->len, key->p, key->len, 0))
            return 1;
    }
    return 0;
}

static int channel_allowed(const acl_selector *s, const slice *ch, int literal)
{
    if (s->flags & ACL_SEL_ALLCHANNELS)
        return 1;
    for (int i = 0; i < s->nchans; i++) {
        const acl_pattern *p = &s->chans[i];
        if (literal ? (p->len == ch->len && !memcmp(p->p, ch->p, ch->len))
                    : glob_match(p->p, p->len, ch->p, ch->len, 0))
            return 1;
    }
    return 0;
}

/* Which arguments are channels: PUBLISH/SPUBLISH their first, (S|P)SUBSCRIBE all. *literal is
 * set for patterns, which Redis compares literally with the allowed ones. */
static int channel_args(const command *cmd, int argc, int *first, int *last, int *literal)
{
    if (!(cmd->flags & CMD_PUBSUB) || argc < 2)
        return 0;
    *literal = 0;
    *first = 1;
    if (!strcmp(cmd->name, "publish") || !strcmp(cmd->name, "spublish")) {
        *last = 1;
        return 1;
    }
    *last = argc - 1;
    if (!strcmp(cmd->name, "subscribe") || !strcmp(cmd->name, "ssubscribe"))
        return 1;
    if (!strcmp(cmd->name, "psubscribe")) {
        *literal = 1;
        return 1;
    }
    return 0;
}

static int selector_check_keys(const acl_selector *s, const command *cmd, int argc,
                               const slice *argv, int *errpos)
{
    /* Sharded channels (SPUBLISH, SSUBSCRIBE) are routed like keys, but Redis marks them
     * not-key: only the channel rules apply to them. */
    if ((s->flags & ACL_SEL_ALLKEYS) || (cmd->flags & CMD_PUBSUB))
        return ACL_OK;
    int stack[ACL_CHECK_KEYS_STACK];
    int *keys = stack;
    int max = ACL_CHECK_KEYS_STACK;
    if (argc > ACL_CHECK_KEYS_STACK) {
        max = argc < ACL_CHECK_KEYS_MAX ? argc : ACL_CHECK_KEYS_MAX;
        keys = mem_malloc(sizeof(int) * (size_t)max);
    }
    int n = command_get_keys(cmd, argc, argv, keys, max);
    int rc = ACL_OK;
    for (int i = 0; i < n; i++) {
        if (!key_allowed(s, &argv[keys[i]], key_perm_needed(cmd, i, argc, argv))) {
            *errpos = keys[i];
            rc = ACL_DENIED_KEY;
            break;
        }
    }
    if (keys != stack)
        free(keys);
    return rc;
}

static int selector_check(const acl_selector *s, const command *cmd, int argc, const slice *argv,
                          int *errpos)
{
    *errpos = 0;
    if (!acl_selector_allows_cmd(s, cmd, argc, argv))
        return ACL_DENIED_CMD;
    int rc = selector_check_keys(s, cmd, argc, argv, errpos);
    if (rc != ACL_OK)
        return rc;
    int first, last, literal;
    if (channel_args(cmd, argc, &first, &last, &literal)) {
        for (int i = first; i <= last; i++) {
            if (!channel_allowed(s, &argv[i], literal)) {
                *errpos = i;
                return ACL_DENIED_CHANNEL;
            }
        }
    }
    return ACL_OK;
}

int acl_check(const acl_user *u, const command *cmd, int argc, const slice *argv, int *errpos)
{
    int pos;
    int relevant = selector_check(&u->root, cmd, argc, argv, &pos);
    if (relevant == ACL_OK)
        return ACL_OK;
    int last = pos;
    /* Denied by every selector: report the most relevant reason, as Redis does. */
    for (int i = 0; i < u->nsels; i++) {
        int r = selector_check(&u->sels[i], cmd, argc, argv, &pos);
        if (r == ACL_OK)
            return ACL_OK;
        if (r > relevant || (r == relevant && pos > last)) {
            relevant = r;
            last = pos;
        }
    }
    *errpos = last;
    return relevant;
}

int acl_check_client(client *cl, const command *cmd, const command *container, int argc,
                     const slice *argv, int context, int *errpos)
{
    const acl_user *u = acl_client_user(cl);
    if (!u || u->unrestricted)
        return ACL_OK; /* (no user: acl_init not run, as in unit tests) */
    int why = acl_check(u, cmd, argc, argv, errpos);
    if (why == ACL_OK)
        return ACL_OK;
    char name[128];
    const char *obj = name;
    size_t olen;
    if (why == ACL_DENIED_CMD) {
        command_fullname(cmd, container, name, sizeof(name));
        olen = strlen(name);
        atomic_fetch_add_explicit(&denied_cmd, 1, memory_order_relaxed);
    } else {
        obj = argv[*errpos].p;
        olen = argv[*errpos].len;
        atomic_fetch_add_explicit(why == ACL_DENIED_KEY ? &denied_key : &denied_channel, 1,
                                  memory_order_relaxed);
    }
    acl_log_add(why, context, obj, olen, u->name, u->namelen, cl);
    return why;
}

void acl_reply_denied(cmd_ctx *c, int why, const command *cmd, const command *container)
{
    if (why == ACL_DENIED_CMD) {
        char name[128];
        command_fullname(cmd, container, name, sizeof(name));
        reply_errorf(c, "NOPERM this user has no permissions to run the '%s' command", name);
    } else if (why == ACL_DENIED_KEY) {
        reply_error(c, "NOPERM this user has no permissions to access one of the keys used as "
                       "arguments");
    } else {
        reply_error(c, "NOPERM this user has no permissions to access one of the channels used "
                       "as arguments");
    }
}

const char *acl_script_error(int why)
{
    switch (why) {
    case ACL_DENIED_CMD:
        return "The user executing the script can't run this command or subcommand";
    case ACL_DENIED_KEY:
        return "The user executing the script can't access at least one of the keys mentioned "
               "in the command arguments";
    default:
        return "The user executing the script can't publish to the channel mentioned in the "
               "command";
    }
}

/* ---- ACL LOG ------------------------------------------------------------------------------- */

typedef struct log_entry {
    struct log_entry *next;
    long count;
    int reason, context;
    char *object, *username;
    size_t olen, ulen;
    int64_t ctime_ms;
    char *cinfo;
} log_entry;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_entry *log_head; /* newest first */
static int log_len;

static void log_entry_free(log_entry *e)
{
    free(e->object);
    free(e->username);
    free(e->cinfo);
    free(e);
}

static char *client_info(client *cl)
{
    buf b;
    buf_init(&b);
    if (cl && current_worker == cl->owner) {
        client_describe(cl, &b);
    } else if (cl) { /* a script running on another thread: what may be read from here */
        buf_printf(&b, "id=%llu addr=%s laddr=%s user=%s", (unsigned long long)cl->id, cl->addr,
                   cl->laddr, acl_client_username(cl));
    }
    char *s = mem_strndup(b.data ? b.data : "", b.len);
    buf_free(&b);
    /* client_describe ends with a newline (CLIENT LIST), a log entry does not */
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

void acl_log_add(int reason, int context, const char *object, size_t olen, const char *user,
                 size_t ulen, client *cl)
{
    int64_t now = clock_wall_ms();
    char *cinfo = client_info(cl);
    pthread_mutex_lock(&log_lock);
    log_entry **pp = &log_head;
    for (log_entry *e = log_head; e; pp = &e->next, e = e->next) {
        if (e->reason == reason && e->context == context && e->olen == olen && e->ulen == ulen &&
            !memcmp(e->object, object, olen) && !memcmp(e->username, user, ulen) &&
            now - e->ctime_ms < ACL_LOG_GROUP_MS) {
            *pp = e->next; /* moved to the front, as Redis does */
            e->count++;
            e->ctime_ms = now;
            free(e->cinfo);
            e->cinfo = cinfo;
            e->next = log_head;
            log_head = e;
            pthread_mutex_unlock(&log_lock);
            return;
        }
    }
    log_entry *e = mem_calloc(1, sizeof(*e));
    *e = (log_entry){.count = 1,
                     .reason = reason,
                     .context = context,
                     .object = mem_strndup(object, olen),
                     .username = mem_strndup(user, ulen),
                     .olen = olen,
                     .ulen = ulen,
                     .ctime_ms = now,
                     .cinfo = cinfo,
                     .next = log_head};
    log_head = e;
    log_len++;
    /* Over acllog-max-len: the oldest go. */
    while (log_len > 0 && log_len > server.cfg.acllog_max_len) {
        log_entry **last = &log_head;
        while ((*last)->next)
            last = &(*last)->next;
        log_entry_free(*last);
        *last = NULL;
        log_len--;
    }
    pthread_mutex_unlock(&log_lock);
}

void acl_log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    log_entry *e = log_head;
    log_head = NULL;
    log_len = 0;
    pthread_mutex_unlock(&log_lock);
    while (e) {
        log_entry *n = e->next;
        log_entry_free(e);
        e = n;
    }
}

static const char *const reason_names[] = {"", "command", "key", "auth", "channel"};
static const char *const context_names[] = {"toplevel", "multi", "lua"};
#define LOG_ENTRY_FIELDS 7

void acl_log_reply(cmd_ctx *c, long count)
{
    int64_t now = clock_wall_ms();
    pthread_mutex_lock(&log_lock);
    long n = count < log_len ? count : log_len;
    reply_array(c, n);
    log_entry *e = log_head;
    for (long i = 0; i < n; i++, e = e->next) {
        reply_map(c, LOG_ENTRY_FIELDS);
        reply_bulk_cstr(c, "count");
        reply_int(c, e->count);
        reply_bulk_cstr(c, "reason");
        reply_bulk_cstr(c, reason_names[e->reason]);
        reply_bulk_cstr(c, "context");
        reply_bulk_cstr(c, context_names[e->context]);
        reply_bulk_cstr(c, "object");
        reply_bulk(c, e->object, e->olen);
        reply_bulk_cstr(c, "username");
        reply_bulk(c, e->username, e->ulen);
        reply_bulk_cstr(c, "age-seconds");
        reply_double(c, (double)(now - e->ctime_ms) / MS_PER_SECOND);
        reply_bulk_cstr(c, "client-info");
        reply_bulk_cstr(c, e->cinfo);
    }
    pthread_mutex_unlock(&log_lock);
}

void acl_info_stats(buf *out)
{
    buf_printf(out,
               "acl_access_denied_auth:%llu\r\n"
               "acl_access_denied_cmd:%llu\r\n"
               "acl_access_denied_key:%llu\r\n"
               "acl_access_denied_channel:%llu\r\n",
               (unsigned long long)atomic_load(&denied_auth),
               (unsigned long long)atomic_load(&denied_cmd),
               (unsigned long long)atomic_load(&denied_key),
               (unsigned long long)atomic_load(&denied_channel));
}

/* ---- redaction ----------------------------------------------------------------------------- */

static int hello_redacted(int argc, const slice *argv, int i)
{
    for (int j = 2; j < argc;) { /* HELLO protover [AUTH user pass] [SETNAME name] */
        int more = argc - 1 - j;
        if (arg_eq(&argv[j], "auth") && more >= 2) {
            if (i == j + 1 || i == j + 2)
                return 1;
            j += 3;
        } else if (arg_eq(&argv[j], "setname") && more >= 1) {
            j += 2;
        } else {
            break;
        }
    }
    return 0;
}

/* MIGRATE ... [AUTH password | AUTH2 username password] [KEYS key...] */
static int migrate_redacted(int argc, const slice *argv, int i)
{
    for (int j = 6; j < argc && j < i; j++) {
        if (arg_eq(&argv[j], "keys"))
            return 0;
        if (arg_eq(&argv[j], "auth") && i == j + 1)
            return 1;
        if (arg_eq(&argv[j], "auth2") && (i == j + 1 || i == j + 2))
            return 1;
    }
    return 0;
}

static int config_set_redacted(int argc, const slice *argv, int i)
{
    if (i < 3 || i % 2 == 0 || i >= argc)
        return 0;
    const slice *name = &argv[i - 1];
    return arg_eq(name, "requirepass") || arg_eq(name, "masterauth") ||
           arg_eq(name, "tls-key-file-pass");
}

int acl_arg_redacted(int argc, const slice *argv, int i)
{
    if (argc < 2 || i <= 0)
        return 0;
    if (arg_eq(&argv[0], "auth"))
        return 1;
    if (arg_eq(&argv[0], "hello"))
        return hello_redacted(argc, argv, i);
    if (arg_eq(&argv[0], "acl"))
        return arg_eq(&argv[1], "setuser") && i >= 2;
    if (arg_eq(&argv[0], "migrate"))
        return migrate_redacted(argc, argv, i);
    if (arg_eq(&argv[0], "config"))
        return arg_eq(&argv[1], "set") && config_set_redacted(argc, argv, i);
    return 0;
}
