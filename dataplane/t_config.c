/* CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
 *
 * The parameters are the flags of server.c (server_flags), named as Redis names them: the flag
 * "maxmemory_policy" is the parameter "maxmemory-policy" (CONFIG GET also answers the '_'
 * spelling). Which parameters CONFIG SET may change, and the checks and side effects beyond
 * the flag's type, are in config_rules below; everything else is immutable.
 *
 * CONFIG SET runs while holding every shard, so no command runs meanwhile; threads that read a
 * setting outside a command (timers, new connections) may still be reading an old string, so a
 * replaced string is retired, not freed, until the process exits. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl.h"
#include "alloc.h"
#include "cron.h"
#include "db.h"
#include "glob.h"
#include "journal.h"
#include "log.h"
#include "pubsub.h"
#include "replication.h"
#include "reply.h"
#include "server.h"
#include "stats.h"
#include "t_server.h"
#include "tls.h"
#include "worker.h"

#define CONFIG_NAME_MAX 128
#define CONFIG_ERR_MAX 256
#define CONFIG_VALUE_MAX 4096 /* longest value CONFIG SET takes (a path) */
#define SAVE_WORDS_MAX 64     /* 32 save points */

/* ---- parameter rules ----------------------------------------------------------------------- */

/* Extra validation of a new value; may rewrite it into canonical form (out, when not NULL).
 * Returns 0, or -1 with Redis's reason in err. */
typedef int (*config_check_fn)(const char *value, char *out, size_t outlen, char *err,
                               size_t errlen);
/* Side effect after a change was stored; returns 0, or -1 with a reason (the change is undone). */
typedef int (*config_apply_fn)(char *err, size_t errlen);

typedef struct config_rule {
    const char *name; /* Redis's spelling */
    config_check_fn check;
    config_apply_fn apply;
} config_rule;

static int check_one_of(const char *value, char *out, size_t outlen, char *err, size_t errlen,
                        const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(value, names[i])) {
            snprintf(out, outlen, "%s", names[i]);
            return 0;
        }
    }
    size_t len = (size_t)snprintf(err, errlen, "argument(s) must be one of the following: ");
    for (size_t i = 0; i < n && len < errlen; i++)
        len += (size_t)snprintf(err + len, errlen - len, "%s%s", i ? ", " : "", names[i]);
    return -1;
}

static int check_policy(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    /* Listed in Redis's order, which its error message shows. */
    static const char *const names[] = {"volatile-lru",   "volatile-lfu", "volatile-random",
                                        "volatile-ttl",   "allkeys-lru",  "allkeys-lfu",
                                        "allkeys-random", "noeviction"};
    return check_one_of(v, out, outlen, err, errlen, names, sizeof(names) / sizeof(names[0]));
}

static int check_loglevel(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};
    return check_one_of(v, out, outlen, err, errlen, names, sizeof(names) / sizeof(names[0]));
}

static int check_appendfsync(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    static const char *const names[] = {"always", "everysec", "no"};
    return check_one_of(v, out, outlen, err, errlen, names, sizeof(names) / sizeof(names[0]));
}

static int check_appendonly(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    int b;
    if (flags_parse_bool(v, &b)) {
        snprintf(err, errlen, "argument must be 'yes' or 'no'");
        return -1;
    }
    snprintf(out, outlen, "%s", b ? "yes" : "no");
    return 0;
}

/* On: the first base is written by a rewrite and appending starts at its point in time; off:
 * the journal is synced and closed (journal.h). */
static int apply_appendonly(char *err, size_t errlen)
{
    return journal_config_appendonly(err, errlen);
}

static int apply_appendfsync(char *err, size_t errlen)
{
    return journal_config_appendfsync(err, errlen);
}

/* "" or a 5-field cron expression (cron.h). */
static int check_snapshot_cron(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    cron_expr e;
    if (*v && cron_parse(v, &e, err, errlen) < 0)
        return -1;
    snprintf(out, outlen, "%s", v);
    return 0;
}

/* "" or pairs of "<seconds> <changes>", as Redis accepts them. */
static int check_save(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    char copy[CONFIG_VALUE_MAX];
    snprintf(copy, sizeof(copy), "%s", v);
    char *words[SAVE_WORDS_MAX];
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (n == SAVE_WORDS_MAX) {
            snprintf(err, errlen, "Invalid save parameters");
            return -1;
        }
        words[n++] = w;
    }
    if (n % 2) {
        snprintf(err, errlen, "Invalid save parameters");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        long long x;
        if (flags_parse_int(words[i], &x) || x < 0) {
            snprintf(err, errlen, "Invalid save parameters");
            return -1;
        }
    }
    snprintf(out, outlen, "%s", v);
    return 0;
}

static int check_dbfilename(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    if (strchr(v, '/')) {
        snprintf(err, errlen, "dbfilename can't be a path, just a filename");
        return -1;
    }
    snprintf(out, outlen, "%s", v);
    return 0;
}

/* Keyspace notification classes: Redis's letters, stored in Redis's canonical order so that
 * CONFIG GET answers what Redis answers. */
static int check_notify(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    static const char classes[] = "g$lshzxetd"; /* what 'A' stands for, in output order */
    static const char other[] = "KEmn";
    int seen[256] = {0};
    for (const char *p = v; *p; p++) {
        if (*p == 'A') {
            for (const char *q = classes; *q; q++)
                seen[(unsigned char)*q] = 1;
        } else if (strchr(classes, *p) || strchr(other, *p)) {
            seen[(unsigned char)*p] = 1;
        } else {
            snprintf(err, errlen, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
            return -1;
        }
    }
    size_t n = 0;
    int all = 1;
    for (const char *q = classes; *q; q++)
        all &= seen[(unsigned char)*q];
    if (all && n + 1 < outlen)
        out[n++] = 'A';
    for (const char *q = classes; *q && !all; q++)
        if (seen[(unsigned char)*q] && n + 1 < outlen)
            out[n++] = *q;
    for (const char *q = other; *q; q++)
        if (seen[(unsigned char)*q] && n + 1 < outlen)
            out[n++] = *q;
    out[n] = '\0';
    return 0;
}

static int apply_policy(char *err, size_t errlen)
{
    return server_config_apply(err, errlen);
}

static int apply_loglevel(char *err, size_t errlen)
{
    enum log_level level;
    if (log_level_parse(server.cfg.loglevel, &level)) {
        snprintf(err, errlen, "invalid log level");
        return -1;
    }
    log_set_level(level);
    return 0;
}

static int apply_dir(char *err, size_t errlen)
{
    if (chdir(server.cfg.dir) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    return 0;
}

/* On each worker's own thread: its timer picks up the new hz. */
static void worker_hz_msg(void *arg)
{
    worker *w = arg;
    uint64_t period = (uint64_t)(1000 / server.cfg.hz);
    uv_timer_set_repeat(&w->cron, period ? period : 1);
    uv_timer_again(&w->cron);
}

static int apply_hz(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], worker_hz_msg, workers[i]);
    return 0;
}

/* replica-read-only, min-replicas-*: the write guards follow (replication.h). */
static int apply_replication(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    replication_config_changed();
    return 0;
}

static int check_tls_auth(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
    static const char *const names[] = {"no", "yes", "optional"}; /* Redis's order */
    return check_one_of(v, out, outlen, err, errlen, names, sizeof(names) / sizeof(names[0]));
}

/* tls-*: new connections get a context built from the new settings; failing to build one undoes
 * the change (the old context stays), with Redis's reply. */
static int apply_tls(char *err, size_t errlen)
{
    char why[TLS_ERR_MAX];
    if (tls_reload(why, sizeof(why)) == 0)
        return 0;
    log_warning("CONFIG SET: TLS configuration not changed: %s", why);
    snprintf(err, errlen, "Unable to update TLS configuration. Check server logs.");
    return -1;
}

/* requirepass is the default user's password (ACL): empty makes it nopass. */
static int apply_requirepass(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    acl_set_requirepass(server.cfg.requirepass);
    return 0;
}

/* The parameters CONFIG SET may change. */
static const config_rule config_rules[] = {
    {"maxmemory", NULL, NULL},
    {"maxmemory-policy", check_policy, apply_policy},
    {"maxmemory-samples", NULL, NULL},
    {"cache-mode", NULL, apply_policy},
    {"requirepass", NULL, apply_requirepass},
    {"acllog-max-len", NULL, NULL}, /* ACL LOG trims to it at the next entry */
    {"dir", NULL, apply_dir},
    {"dbfilename", check_dbfilename, NULL},
    {"loglevel", check_loglevel, apply_loglevel},
    {"maxclients", NULL, NULL},
    {"timeout", NULL, NULL},
    {"proto-max-bulk-len", NULL, NULL},
    {"client-query-buffer-limit", NULL, NULL},
    {"max-multibulk-len", NULL, NULL},
    {"tcp-keepalive", NULL, NULL},
    {"hz", NULL, apply_hz},
    {"slowlog-log-slower-than", NULL, NULL},
    {"slowlog-max-len", NULL, NULL},
    {"latency-monitor-threshold", NULL, NULL},
    {"busy-reply-threshold", NULL, NULL},
    {"lua-time-limit", NULL, NULL},
    {"lfu-log-factor", NULL, NULL},
    {"lfu-decay-time", NULL, NULL},
    {"active-expire-effort", NULL, NULL},
    {"active-expire-enabled", NULL, NULL},
    {"protected-mode", NULL, NULL},
    {"save", check_save, NULL},
    {"snapshot-cron", check_snapshot_cron, NULL},
    {"appendonly", check_appendonly, apply_appendonly},
    {"appendfsync", check_appendfsync, apply_appendfsync},
    {"notify-keyspace-events", check_notify, NULL},
    {"client-output-buffer-limit", pubsub_obuf_limit_check, NULL},
    {"list-max-listpack-size", NULL, NULL},
    {"list-compress-depth", NULL, NULL},
    {"hash-max-listpack-entries", NULL, NULL},
    {"hash-max-listpack-value", NULL, NULL},
    {"set-max-intset-entries", NULL, NULL},
    {"set-max-listpack-entries", NULL, NULL},
    {"set-max-listpack-value", NULL, NULL},
    {"zset-max-listpack-entries", NULL, NULL},
    {"zset-max-listpack-value", NULL, NULL},
    /* Redis 7.0's aliases from its ziplist days, still in many config files */
    {"list-max-ziplist-size", NULL, NULL},
    {"hash-max-ziplist-entries", NULL, NULL},
    {"hash-max-ziplist-value", NULL, NULL},
    {"zset-max-ziplist-entries", NULL, NULL},
    {"zset-max-ziplist-value", NULL, NULL},
    {"stream-node-max-bytes", NULL, NULL},
    {"stream-node-max-entries", NULL, NULL},
    {"hll-sparse-max-bytes", NULL, NULL},
    {"tracking-table-max-keys", NULL, NULL},
    {"masterauth", NULL, NULL},
    {"masteruser", NULL, NULL},
    {"repl-backlog-size", NULL, NULL},
    {"replica-read-only", NULL, apply_replication},
    {"slave-read-only", NULL, apply_replication},
    {"min-replicas-to-write", NULL, apply_replication},
    {"min-replicas-max-lag", NULL, apply_replication},
    {"repl-ping-replica-period", NULL, NULL},
    {"repl-timeout", NULL, NULL},
    /* TLS (tls.h) */
    {"tls-cert-file", NULL, apply_tls},
    {"tls-key-file", NULL, apply_tls},
    {"tls-key-file-pass", NULL, apply_tls},
    {"tls-ca-cert-file", NULL, apply_tls},
    {"tls-ca-cert-dir", NULL, apply_tls},
    {"tls-crl-file", NULL, apply_tls},
    {"tls-auth-clients", check_tls_auth, apply_tls},
    {"tls-protocols", NULL, apply_tls},
    {"tls-ciphers", NULL, apply_tls},
    {"tls-ciphersuites", NULL, apply_tls},
    {"tls-prefer-server-ciphers", NULL, apply_tls},
};

/* ---- names --------------------------------------------------------------------------------- */

/* Redis's spelling of a flag name. */
static void redis_name(const char *flag, char *out, size_t outlen)
{
    size_t i = 0;
    for (; flag[i] && i + 1 < outlen; i++)
        out[i] = flag[i] == '_' ? '-' : flag[i];
    out[i] = '\0';
}

static const flag_def *param_find(const slice *name)
{
    char tmp[CONFIG_NAME_MAX];
    if (name->len >= sizeof(tmp) || memchr(name->p, '\0', name->len))
        return NULL;
    memcpy(tmp, name->p, name->len);
    tmp[name->len] = '\0';
    return flags_find(server_flags, tmp);
}

static const config_rule *rule_of(const flag_def *d)
{
    char name[CONFIG_NAME_MAX];
    redis_name(d->name, name, sizeof(name));
    for (size_t i = 0; i < sizeof(config_rules) / sizeof(config_rules[0]); i++)
        if (!strcmp(config_rules[i].name, name))
            return &config_rules[i];
    return NULL;
}

/* ---- retired strings ------------------------------------------------------------------------ */

static char **retired;
static size_t nretired, retired_cap;

static void retired_free_all(void)
{
    for (size_t i = 0; i < nretired; i++)
        free(retired[i]);
    free(retired);
    retired = NULL;
    nretired = retired_cap = 0;
}

/* Keeps s alive until exit: another thread may still be reading it. Runs under CONFIG SET,
 * which holds every shard, so calls never overlap. */
static void retire(char *s)
{
    if (!s)
        return;
    if (nretired == retired_cap) {
        if (!retired)
            atexit(retired_free_all);
        retired_cap = retired_cap ? retired_cap * 2 : 16;
        retired = mem_realloc(retired, retired_cap * sizeof(*retired));
    }
    retired[nretired++] = s;
}

/* ---- values -------------------------------------------------------------------------------- */

typedef union config_value {
    long long ll;
    int b;
    char *s;
} config_value;

static void value_load(const flag_def *d, config_value *v)
{
    switch (d->type) {
    case FLAG_STR: v->s = *(char **)d->target; break;
    case FLAG_BOOL: v->b = *(int *)d->target; break;
    case FLAG_INT:
    case FLAG_BYTES: v->ll = *(long long *)d->target; break;
    }
}

static void value_store(const flag_def *d, const config_value *v)
{
    switch (d->type) {
    case FLAG_STR: *(char **)d->target = v->s; break;
    case FLAG_BOOL: *(int *)d->target = v->b; break;
    case FLAG_INT:
    case FLAG_BYTES: *(long long *)d->target = v->ll; break;
    }
}

/* Parses text for parameter d with Redis's error texts. A string result is malloc'ed. */
static int value_parse(const flag_def *d, const config_rule *rule, const char *text,
                       config_value *v, char *err, size_t errlen)
{
    char canon[CONFIG_VALUE_MAX];
    long long ll;
    switch (d->type) {
    case FLAG_STR:
        if (rule && rule->check) {
            if (rule->check(text, canon, sizeof(canon), err, errlen))
                return -1;
            text = canon;
        }
        v->s = mem_strdup(text);
        return 0;
    case FLAG_BOOL:
        if (rule && rule->check) {
            if (rule->check(text, canon, sizeof(canon), err, errlen))
                return -1;
            text = canon;
        }
        if (flags_parse_bool(text, &v->b)) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        return 0;
    case FLAG_INT:
    case FLAG_BYTES:
        if (d->type == FLAG_INT ? flags_parse_int(text, &ll) : flags_parse_bytes(text, &ll)) {
            snprintf(err, errlen,
                     d->type == FLAG_INT ? "argument couldn't be parsed into an integer"
                                         : "argument must be a memory value");
            return -1;
        }
        if ((d->min || d->max) && (ll < d->min || ll > d->max)) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min,
                     d->max);
            return -1;
        }
        v->ll = ll;
        return 0;
    }
    return -1;
}

/* The text of d's default value, formatted as CONFIG GET formats values. */
static void default_format(const flag_def *d, buf *out)
{
    config_value v = {0};
    flag_def tmp = *d;
    tmp.target = &v;
    char err[FLAGS_ERR_MAX];
    if (flags_set(&tmp, d->defval ? d->defval : "", err, sizeof(err)) == 0)
        flags_format(&tmp, out);
    if (d->type == FLAG_STR)
        free(v.s);
}

/* ---- CONFIG GET ---------------------------------------------------------------------------- */

static int param_count(void)
{
    int n = 0;
    while (server_flags[n].name)
        n++;
    return n;
}

/* The name under which parameter d matches pattern p, or NULL: Redis's spelling first, then
 * dfly's flag spelling. */
static const char *param_matches(const flag_def *d, const slice *p, char *rname, size_t rlen)
{
    redis_name(d->name, rname, rlen);
    if (glob_match(p->p, p->len, rname, strlen(rname), 1))
        return rname;
    if (strcmp(rname, d->name) && glob_match(p->p, p->len, d->name, strlen(d->name), 1))
        return d->name;
    return NULL;
}

/* CONFIG GET parameter [parameter ...] */
static void config_get_cmd(cmd_ctx *c)
{
    int n = param_count();
    unsigned char *seen = mem_calloc((size_t)n, 1);
    size_t h = reply_deferred(c);
    long pairs = 0;
    buf val;
    buf_init(&val);
    for (int i = 2; i < c->argc; i++) {
        for (int k = 0; k < n; k++) {
            char rname[CONFIG_NAME_MAX];
            const char *name = param_matches(&server_flags[k], &c->argv[i], rname, sizeof(rname));
            if (!name || seen[k])
                continue;
            seen[k] = 1;
            buf_clear(&val);
            flags_format(&server_flags[k], &val);
            reply_bulk_cstr(c, name);
            reply_bulk(c, val.data ? val.data : "", val.len);
            pairs++;
        }
    }
    reply_set_deferred_map(c, h, pairs);
    buf_free(&val);
    free(seen);
}

/* ---- CONFIG SET ---------------------------------------------------------------------------- */

typedef struct config_change {
    const flag_def *def;
    const config_rule *rule;
    config_value old, new;
    int stored;
} config_change;

static void reply_set_failed(cmd_ctx *c, const slice *name, const char *why)
{
    reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                 (int)name->len, name->p, why);
}

/* Checks every pair before changing anything: unknown, immutable, duplicate or unparsable
 * values fail the whole command. Returns the number of changes, or -1 after replying. */
static int config_set_prepare(cmd_ctx *c, config_change *ch)
{
    int n = 0;
    for (int i = 2; i < c->argc; i += 2, n++) {
        const slice *name = &c->argv[i];
        const flag_def *d = param_find(name);
        if (!d) {
            reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                         (int)name->len, name->p);
            return -1;
        }
        const config_rule *rule = rule_of(d);
        if (!rule) {
            reply_set_failed(c, name, "can't set immutable config");
            return -1;
        }
        for (int j = 0; j < n; j++) {
            if (ch[j].def == d) {
                reply_set_failed(c, name, "duplicate parameter");
                return -1;
            }
        }
        ch[n].def = d;
        ch[n].rule = rule;
    }
    for (int k = 0; k < n; k++) {
        const slice *val = &c->argv[3 + 2 * k];
        char text[CONFIG_VALUE_MAX], err[CONFIG_ERR_MAX];
        if (val->len >= sizeof(text) || memchr(val->p, '\0', val->len)) {
            reply_set_failed(c, &c->argv[2 + 2 * k], "argument is too long");
            return -1;
        }
        memcpy(text, val->p, val->len);
        text[val->len] = '\0';
        if (value_parse(ch[k].def, ch[k].rule, text, &ch[k].new, err, sizeof(err))) {
            reply_set_failed(c, &c->argv[2 + 2 * k], err);
            return -1;
        }
    }
    return n;
}

static void config_changes_free(config_change *ch, int n)
{
    for (int k = 0; k < n; k++)
        if (ch[k].def && ch[k].def->type == FLAG_STR && !ch[k].stored)
            free(ch[k].new.s);
}

/* CONFIG SET parameter value [parameter value ...] */
static void config_set_cmd(cmd_ctx *c)
{
    if ((c->argc - 2) % 2) {
        reply_syntax_error(c);
        return;
    }
    int want = (c->argc - 2) / 2;
    config_change *ch = mem_calloc((size_t)want, sizeof(*ch));
    int n = config_set_prepare(c, ch);
    if (n < 0) {
        config_changes_free(ch, want);
        free(ch);
        return;
    }
    for (int k = 0; k < n; k++) {
        value_load(ch[k].def, &ch[k].old);
        value_store(ch[k].def, &ch[k].new);
        ch[k].stored = 1;
    }
    char err[CONFIG_ERR_MAX];
    int failed = -1;
    for (int k = 0; k < n && failed < 0; k++)
        if (ch[k].rule->apply && ch[k].rule->apply(err, sizeof(err)))
            failed = k;
    if (failed >= 0) {
        /* Undo every change, then re-apply the old settings' side effects. */
        for (int k = 0; k < n; k++) {
            value_store(ch[k].def, &ch[k].old);
            if (ch[k].def->type == FLAG_STR)
                retire(ch[k].new.s);
        }
        char ignored[CONFIG_ERR_MAX];
        for (int k = 0; k < n; k++)
            if (ch[k].rule->apply)
                ch[k].rule->apply(ignored, sizeof(ignored));
        reply_set_failed(c, &c->argv[2 + 2 * failed], err);
    } else {
        for (int k = 0; k < n; k++)
            if (ch[k].def->type == FLAG_STR)
                retire(ch[k].old.s);
        reply_ok(c);
    }
    free(ch);
}

/* ---- CONFIG REWRITE ------------------------------------------------------------------------ */

/* Appends value quoted the way flags_split_line reads it back, when it needs quotes. */
static void append_quoted(buf *out, const char *v, size_t len)
{
    int plain = len > 0;
    for (size_t i = 0; i < len && plain; i++) {
        unsigned char ch = (unsigned char)v[i];
        plain = ch > ' ' && ch < 0x7f && ch != '"' && ch != '\'' && ch != '\\' && ch != '#';
    }
    if (plain) {
        buf_append(out, v, len);
        return;
    }
    buf_append_char(out, '"');
    for (size_t i = 0; i < len; i++) {
        switch (v[i]) {
        case '"': buf_append_str(out, "\\\""); break;
        case '\\': buf_append_str(out, "\\\\"); break;
        case '\n': buf_append_str(out, "\\n"); break;
        case '\r': buf_append_str(out, "\\r"); break;
        case '\t': buf_append_str(out, "\\t"); break;
        default: buf_append_char(out, v[i]); break;
        }
    }
    buf_append_char(out, '"');
}

static void append_option_line(buf *out, const flag_def *d)
{
    char name[CONFIG_NAME_MAX];
    redis_name(d->name, name, sizeof(name));
    buf val;
    buf_init(&val);
    flags_format(d, &val);
    buf_printf(out, "%s ", name);
    append_quoted(out, val.data ? val.data : "", val.len);
    buf_append_char(out, '\n');
    buf_free(&val);
}

/* The option a config line sets, or NULL for comments, blank and unknown lines. */
static const flag_def *line_option(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i + 2 <= len && line[i] == '-' && line[i + 1] == '-')
        i += 2;
    size_t start = i;
    while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '=' && line[i] != '\r')
        i++;
    if (i == start || line[start] == '#')
        return NULL;
    slice name = {line + start, i - start};
    return param_find(&name);
}

static int option_differs_from_default(const flag_def *d)
{
    buf cur, def;
    buf_init(&cur);
    buf_init(&def);
    flags_format(d, &cur);
    default_format(d, &def);
    int differs = cur.len != def.len || (cur.len && memcmp(cur.data, def.data, cur.len));
    buf_free(&cur);
    buf_free(&def);
    return differs;
}

/* Redis's rewrite: lines that set an option get its current value in place (later duplicates
 * go), other lines stay as they are, and options that differ from their default and were not
 * in the file are appended. */
static void rewrite_render(const char *old, size_t oldlen, buf *out)
{
    int n = param_count();
    unsigned char *done = mem_calloc((size_t)n, 1);
    const char *p = old, *end = old + oldlen;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const flag_def *d = line_option(p, len);
        if (!d) {
            buf_append(out, p, len);
            buf_append_char(out, '\n');
        } else if (!done[d - server_flags]) {
            done[d - server_flags] = 1;
            append_option_line(out, d);
        }
        p += len + 1;
    }
    int header = 0;
    for (int k = 0; k < n; k++) {
        if (done[k] || !option_differs_from_default(&server_flags[k]))
            continue;
        if (!header++)
            buf_append_str(out, "# Generated by CONFIG REWRITE\n");
        append_option_line(out, &server_flags[k]);
    }
    free(done);
}

static int read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1; /* a deleted file is written anew, as Redis does */
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(out, chunk, n);
    int rc = ferror(f) ? -1 : 0;
    fclose(f);
    return rc;
}

/* Writes data to path through a temporary file, fsynced and renamed over it. */
static int write_file_atomic(const char *path, const buf *data)
{
    buf tmp;
    buf_init(&tmp);
    buf_printf(&tmp, "%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -1 : 0;
    size_t off = 0;
    while (rc == 0 && off < data->len) {
        ssize_t w = write(fd, data->data + off, data->len - off);
        if (w < 0 && errno != EINTR)
            rc = -1;
        else if (w > 0)
            off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp.data, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        unlink(tmp.data);
    buf_free(&tmp);
    errno = saved;
    return rc;
}

static void config_rewrite_cmd(cmd_ctx *c)
{
    if (!server.config_file) {
        reply_error(c, "ERR The server is running without a config file");
        return;
    }
    buf old, out;
    buf_init(&old);
    buf_init(&out);
    if (read_file(server.config_file, &old) == 0) {
        rewrite_render(old.data ? old.data : "", old.len, &out);
        if (write_file_atomic(server.config_file, &out) == 0) {
            log_info("CONFIG REWRITE executed with success.");
            reply_ok(c);
        } else {
            reply_errorf(c, "ERR Rewriting config file: %s", strerror(errno));
        }
    } else {
        reply_errorf(c, "ERR Rewriting config file: %s", strerror(errno));
    }
    buf_free(&old);
    buf_free(&out);
}

/* ---- RESETSTAT, HELP and the container ----------------------------------------------------- */

static void config_resetstat_cmd(cmd_ctx *c)
{
    stats_reset();
    reply_ok(c);
}

static void config_help_cmd(cmd_ctx *c)
{
    static const char *const lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL,
    };
    reply_help(c, "CONFIG", lines);
}

static void config_cmd(cmd_ctx *c)
{
    reply_unknown_subcommand(c, "CONFIG");
}

#define CONFIG_SUB .group = "server", .since = "2.0.0"
#define CONFIG_ADMIN                                                                               \
    .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,                                   \
    .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS

static command config_subcommands[] = {
    {.name = "get",
     .proc = config_get_cmd,
     .arity = -3,
     CONFIG_ADMIN,
     CONFIG_SUB,
     .summary = "Get the values of configuration parameters"},
    {.name = "set",
     .proc = config_set_cmd,
     .arity = -4,
     .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_ALL_SHARDS,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     CONFIG_SUB,
     .summary = "Set configuration parameters to the given values"},
    {.name = "resetstat",
     .proc = config_resetstat_cmd,
     .arity = 2,
     CONFIG_ADMIN,
     CONFIG_SUB,
     .summary = "Reset the stats returned by INFO"},
    {.name = "rewrite",
     .proc = config_rewrite_cmd,
     .arity = 2,
     CONFIG_ADMIN,
     .group = "server",
     .since = "2.8.0",
     .summary = "Rewrite the configuration file with the in memory configuration"},
    {.name = "help",
     .proc = config_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE,
     .acl = ACL_SLOW,
     .group = "server",
     .since = "5.0.0",
     .summary = "Show helpful text about the different subcommands"},
    {0},
};

command config_commands[] = {
    {.name = "config",
     .proc = config_cmd,
     .arity = -2,
     .acl = ACL_SLOW,
     .group = "server",
     .since = "2.0.0",
     .summary = "A container for server configuration commands",
     .subcommands = config_subcommands},
    {0},
};
