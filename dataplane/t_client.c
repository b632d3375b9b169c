/* CLIENT and its subcommands.
 *
 * Most subcommands read or change the caller's own connection and run on its thread. CLIENT
 * LIST and CLIENT KILL concern every connection, and a connection belongs to the worker that
 * accepted it: only that worker's thread may read or close it, and holding shards (tx.h) does
 * not protect it, since each worker touches its connections while its loop runs whatever
 * transaction holds its shard. So these two ask every worker with a message (worker_post); each
 * worker lists or closes its own matching connections and posts its part back to the caller's
 * worker, which assembles the reply once all parts are in. Meanwhile the caller's command is in
 * flight (client_defer_reply), so its pipeline keeps its order. As such a command cannot finish
 * inside EXEC (which runs its commands in one step) or a script, it is refused there. */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "blocking.h"
#include "client.h"
#include "clock.h"
#include "connection.h"
#include "pause.h"
#include "reply.h"
#include "server.h"
#include "t_wait.h"
#include "tracking.h"
#include "worker.h"

#define ERR_CLIENT_ID "ERR client-id should be greater than 0"

/* Client types of Redis's getClientTypeByName. A replica's link to its master is not a client
 * here (replica.c runs it on its own thread), so no connection is of type master. */
enum client_type { CTYPE_ANY = -1, CTYPE_NORMAL = 0, CTYPE_REPLICA, CTYPE_PUBSUB, CTYPE_MASTER };

static int client_type_by_name(const slice *s)
{
    if (arg_eq(s, "normal"))
        return CTYPE_NORMAL;
    if (arg_eq(s, "slave") || arg_eq(s, "replica"))
        return CTYPE_REPLICA;
    if (arg_eq(s, "pubsub"))
        return CTYPE_PUBSUB;
    if (arg_eq(s, "master"))
        return CTYPE_MASTER;
    return CTYPE_ANY;
}

static int client_type_of(const client *cl)
{
    if (cl->flags & CLIENT_REPLICA)
        return CTYPE_REPLICA;
    return (cl->flags & CLIENT_PUBSUB) ? CTYPE_PUBSUB : CTYPE_NORMAL;
}

/* The user a connection is logged in as (ACL). */
static const char *client_user(const client *cl)
{
    return acl_client_username(cl);
}

/* ---- CLIENT LIST / CLIENT KILL across workers -------------------------------------------- */

enum gather_op { GATHER_LIST, GATHER_KILL, GATHER_UNBLOCK };

/* Which connections a LIST or KILL is about. Strings are owned copies: the request's arguments
 * live in the caller's input buffer, which the workers must not read. */
typedef struct client_filter {
    char *addr, *laddr, *user;
    int type;      /* CTYPE_ANY: any */
    uint64_t id;   /* 0: any */
    uint64_t *ids; /* CLIENT LIST ID ...: NULL for any */
    int nids;
    int skipme;
    uint64_t self; /* the caller's id */
} client_filter;

/* One connection's CLIENT LIST line within a part's text. */
typedef struct listed {
    uint64_t id;
    size_t off, len;
} listed;

struct gather;

/* What one worker found. Written by that worker only, read by the caller's worker after the
 * message that brings it back. */
typedef struct gather_part {
    struct gather *g;
    buf text;
    listed *ents;
    int nents, cap;
    long killed;
    int kill_self; /* the caller matched a KILL: it is closed after its reply */
} gather_part;

typedef struct gather {
    client *cl; /* the caller: touched on its own worker only */
    worker *origin;
    enum gather_op op;
    int old_form;      /* CLIENT KILL addr: replies +OK or "No such client" */
    int unblock_error; /* CLIENT UNBLOCK ... ERROR */
    int muted;
    int resp;
    int pending; /* parts not back yet; origin thread only */
    client_filter f;
    gather_part parts[];
} gather;

static int filter_match(const client_filter *f, const client *x)
{
    if (x->proto == PROTO_HTTP)
        return 0; /* /metrics scrapes are not Redis clients */
    if (f->addr && strcmp(x->addr, f->addr))
        return 0;
    if (f->laddr && strcmp(x->laddr, f->laddr))
        return 0;
    if (f->type != CTYPE_ANY && client_type_of(x) != f->type)
        return 0;
    if (f->id && x->id != f->id)
        return 0;
    if (f->user && strcmp(client_user(x), f->user))
        return 0;
    if (f->skipme && x->id == f->self)
        return 0;
    if (f->ids) {
        for (int i = 0; i < f->nids; i++)
            if (f->ids[i] == x->id)
                return 1;
        return 0;
    }
    return 1;
}

static void part_add_line(gather_part *p, client *x)
{
    if (p->nents == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->ents = mem_realloc(p->ents, sizeof(listed) * (size_t)p->cap);
    }
    listed *e = &p->ents[p->nents++];
    e->id = x->id;
    e->off = p->text.len;
    client_describe(x, &p->text);
    e->len = p->text.len - e->off;
}

static void gather_back(void *arg);

/* On each worker: list or close its own matching connections, then report to the caller. */
static void gather_run(void *arg)
{
    gather_part *p = arg;
    gather *g = p->g;
    client *next;
    for (client *x = current_worker->clients; x; x = next) {
        next = x->next; /* client_close unlinks x */
        if (x->closing || !filter_match(&g->f, x))
            continue;
        if (g->op == GATHER_LIST) {
            part_add_line(p, x);
            continue;
        }
        if (g->op == GATHER_UNBLOCK) {
            p->killed += block_unblock(x, g->unblock_error) || wait_unblock(x, g->unblock_error);
            continue;
        }
        p->killed++;
        if (x->id == g->f.self)
            p->kill_self = 1; /* Redis answers first, then closes the caller */
        else
            client_close(x);
    }
    worker_post(g->origin, gather_back, p);
}

static void filter_free(client_filter *f)
{
    free(f->addr);
    free(f->laddr);
    free(f->user);
    free(f->ids);
}

static void gather_free(gather *g)
{
    for (int i = 0; i < nworkers; i++) {
        buf_free(&g->parts[i].text);
        free(g->parts[i].ents);
    }
    filter_free(&g->f);
    free(g);
}

/* A line of the final listing, pointing into its part's text. */
typedef struct line_ref {
    uint64_t id;
    const char *p;
    size_t len;
} line_ref;

static int line_ref_cmp(const void *a, const void *b)
{
    uint64_t x = ((const line_ref *)a)->id, y = ((const line_ref *)b)->id;
    return x < y ? -1 : x > y;
}

/* CLIENT LIST's text: oldest connection (lowest id) first as in Redis, or with ID the order of
 * the arguments, repeats included. */
static void gather_list_text(const gather *g, buf *out)
{
    int total = 0;
    for (int i = 0; i < nworkers; i++)
        total += g->parts[i].nents;
    if (total == 0)
        return;
    line_ref *all = mem_malloc(sizeof(line_ref) * (size_t)total);
    int k = 0;
    for (int i = 0; i < nworkers; i++) {
        const gather_part *p = &g->parts[i];
        for (int j = 0; j < p->nents; j++)
            all[k++] = (line_ref){p->ents[j].id, p->text.data + p->ents[j].off, p->ents[j].len};
    }
    qsort(all, (size_t)total, sizeof(line_ref), line_ref_cmp);
    if (g->f.ids) {
        for (int n = 0; n < g->f.nids; n++) {
            line_ref key = {.id = g->f.ids[n]};
            const line_ref *r = bsearch(&key, all, (size_t)total, sizeof(line_ref), line_ref_cmp);
            if (r)
                buf_append(out, r->p, r->len);
        }
    } else {
        for (int i = 0; i < total; i++)
            buf_append(out, all[i].p, all[i].len);
    }
    free(all);
}

/* On the caller's worker: one more part is in; the last one completes the command. */
static void gather_back(void *arg)
{
    gather_part *p = arg;
    gather *g = p->g;
    if (--g->pending > 0)
        return;
    buf out;
    buf_init(&out);
    cmd_ctx rc = {.cl = g->cl, .resp = g->resp, .out = &out};
    int close_after = 0;
    if (g->op == GATHER_LIST) {
        buf text;
        buf_init(&text);
        gather_list_text(g, &text);
        reply_verbatim(&rc, text.data ? text.data : "", text.len, "txt");
        buf_free(&text);
    } else {
        long killed = 0;
        for (int i = 0; i < nworkers; i++) {
            killed += g->parts[i].killed;
            close_after |= g->parts[i].kill_self;
        }
        if (g->op == GATHER_UNBLOCK)
            reply_int(&rc, killed > 0);
        else if (!g->old_form)
            reply_int(&rc, killed);
        else if (killed)
            reply_ok(&rc);
        else
            reply_error(&rc, "ERR No such client");
    }
    client_deferred_reply(g->cl, out.data, out.len, g->muted, close_after);
    buf_free(&out);
    gather_free(g);
}

/* Takes ownership of f and sends the request to every worker. */
static void gather_start(cmd_ctx *c, enum gather_op op, int old_form, client_filter *f)
{
    gather *g = mem_calloc(1, sizeof(gather) + sizeof(gather_part) * (size_t)nworkers);
    g->cl = c->cl;
    g->origin = current_worker;
    g->op = op;
    g->old_form = old_form;
    g->unblock_error = op == GATHER_UNBLOCK && old_form; /* UNBLOCK passes ERROR here */
    g->resp = c->resp;
    g->f = *f;
    g->f.self = c->cl->id;
    g->pending = nworkers;
    g->muted = client_defer_reply(c->cl);
    for (int i = 0; i < nworkers; i++) {
        g->parts[i].g = g;
        buf_init(&g->parts[i].text);
    }
    for (int i = 0; i < nworkers; i++)
        worker_post(workers[i], gather_run, &g->parts[i]);
}

/* LIST and KILL need to finish later on the caller's thread, which EXEC and scripts cannot
 * wait for. Their rows carry CMD_NO_MULTI and CMD_NOSCRIPT; this covers other callers. */
static int gather_allowed_or_reply(cmd_ctx *c)
{
    if (!c->cl || (c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT | CTX_REMOTE)) ||
        c->cl->owner != current_worker) {
        reply_error(c, "ERR Command not allowed inside a transaction or script");
        return 0;
    }
    return 1;
}

static char *slice_dup(const slice *s)
{
    return mem_memdupz(s->p, s->len);
}

/* Parses CLIENT LIST ID's arguments into f. Returns 0, or -1 after replying. */
static int list_ids_or_reply(cmd_ctx *c, client_filter *f)
{
    int n = c->argc - 3;
    uint64_t *ids = mem_malloc(sizeof(uint64_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        long long id;
        if (arg_ll_or_reply(c, &c->argv[3 + i], &id, "ERR Invalid client ID")) {
            free(ids);
            return -1;
        }
        ids[i] = (uint64_t)id; /* 0 or negative match nobody */
    }
    f->ids = ids;
    f->nids = n;
    return 0;
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] | [ID id [id ...]] — Redis 7.0 takes one of
 * the two filters. */
static void client_list_cmd(cmd_ctx *c)
{
    if (!gather_allowed_or_reply(c))
        return;
    client_filter f = {.type = CTYPE_ANY};
    if (c->argc == 4 && arg_eq(&c->argv[2], "type")) {
        f.type = client_type_by_name(&c->argv[3]);
        if (f.type == CTYPE_ANY) {
            reply_errorf(c, "ERR Unknown client type '%.*s'", (int)c->argv[3].len, c->argv[3].p);
            return;
        }
    } else if (c->argc > 3 && arg_eq(&c->argv[2], "id")) {
        if (list_ids_or_reply(c, &f))
            return;
    } else if (c->argc != 2) {
        reply_syntax_error(c);
        return;
    }
    gather_start(c, GATHER_LIST, 0, &f);
}

/* Parses CLIENT KILL's filters (ID ADDR LADDR TYPE USER SKIPME, in pairs). Returns 0, or -1
 * after replying. */
static int kill_filter_or_reply(cmd_ctx *c, client_filter *f)
{
    for (int i = 2; i < c->argc; i += 2) {
        const slice *opt = &c->argv[i];
        if (i + 1 >= c->argc) {
            reply_syntax_error(c);
            return -1;
        }
        const slice *val = &c->argv[i + 1];
        if (arg_eq(opt, "id")) {
            long long id;
            if (arg_ll_range_or_reply(c, val, 1, INT64_MAX, &id, ERR_CLIENT_ID))
                return -1;
            f->id = (uint64_t)id;
        } else if (arg_eq(opt, "type")) {
            f->type = client_type_by_name(val);
            if (f->type == CTYPE_ANY) {
                reply_errorf(c, "ERR Unknown client type '%.*s'", (int)val->len, val->p);
                return -1;
            }
        } else if (arg_eq(opt, "addr")) {
            free(f->addr);
            f->addr = slice_dup(val);
        } else if (arg_eq(opt, "laddr")) {
            free(f->laddr);
            f->laddr = slice_dup(val);
        } else if (arg_eq(opt, "user")) {
            acl_user *u = acl_lookup(val->p, val->len);
            if (!u) {
                reply_errorf(c, "ERR No such user '%.*s'", (int)val->len, val->p);
                return -1;
            }
            acl_user_unref(u);
            free(f->user);
            f->user = slice_dup(val);
        } else if (arg_eq(opt, "skipme")) {
            if (arg_eq(val, "yes")) {
                f->skipme = 1;
            } else if (arg_eq(val, "no")) {
                f->skipme = 0;
            } else {
                reply_syntax_error(c);
                return -1;
            }
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

/* CLIENT KILL ip:port  |  CLIENT KILL <filter> <value> ... — the old form may kill the caller
 * itself and answers +OK; the new form skips the caller unless SKIPME no and answers the count. */
static void client_kill_cmd(cmd_ctx *c)
{
    if (!gather_allowed_or_reply(c))
        return;
    client_filter f = {.type = CTYPE_ANY, .skipme = 1};
    int old_form = c->argc == 3;
    if (old_form) {
        f.addr = slice_dup(&c->argv[2]);
        f.skipme = 0;
    } else if (kill_filter_or_reply(c, &f)) {
        filter_free(&f);
        return;
    }
    gather_start(c, GATHER_KILL, old_form, &f);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocking command of another connection as if it
 * timed out, or with an UNBLOCKED error. Replies 1 when that client was blocked. */
static void client_unblock_cmd(cmd_ctx *c)
{
    if (!gather_allowed_or_reply(c))
        return;
    long long id;
    if (arg_ll_or_reply(c, &c->argv[2], &id, NULL))
        return;
    int with_error = 0;
    if (c->argc == 4) {
        if (arg_eq(&c->argv[3], "error")) {
            with_error = 1;
        } else if (!arg_eq(&c->argv[3], "timeout")) {
            reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    } else if (c->argc > 4) {
        reply_syntax_error(c);
        return;
    }
    client_filter f = {.type = CTYPE_ANY, .id = (uint64_t)id};
    if (id <= 0) {
        reply_int(c, 0);
        return;
    }
    gather_start(c, GATHER_UNBLOCK, with_error, &f);
}

/* ---- the caller's own connection --------------------------------------------------------- */

static void client_id_cmd(cmd_ctx *c)
{
    reply_int(c, (long long)c->cl->id);
}

static void client_info_cmd(cmd_ctx *c)
{
    buf text;
    buf_init(&text);
    client_describe(c->cl, &text);
    reply_verbatim(c, text.data ? text.data : "", text.len, "txt");
    buf_free(&text);
}

static void client_getname_cmd(cmd_ctx *c)
{
    reply_bulk_cstr(c, c->cl->name);
}

static void client_setname_cmd(cmd_ctx *c)
{
    if (connection_setname_or_reply(c, &c->argv[2]) == 0)
        reply_ok(c);
}

/* CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2): what the client library calls itself. */
static void client_setinfo_cmd(cmd_ctx *c)
{
    const slice *attr = &c->argv[2], *val = &c->argv[3];
    char **dest;
    if (arg_eq(attr, "lib-name")) {
        dest = &c->cl->lib_name;
    } else if (arg_eq(attr, "lib-ver")) {
        dest = &c->cl->lib_ver;
    } else {
        reply_errorf(c, "ERR Unrecognized option '%.*s'", (int)attr->len, attr->p);
        return;
    }
    for (size_t i = 0; i < val->len; i++) {
        if (val->p[i] < '!' || val->p[i] > '~') { /* CLIENT LIST splits on spaces */
            reply_errorf(c, "ERR %.*s cannot contain spaces, newlines or special characters.",
                         (int)attr->len, attr->p);
            return;
        }
    }
    free(*dest);
    *dest = val->len ? slice_dup(val) : NULL;
    reply_ok(c);
}

/* CLIENT REPLY ON|OFF|SKIP. OFF and SKIP have no reply: finish_command drops it. */
static void client_reply_cmd(cmd_ctx *c)
{
    client *cl = c->cl;
    const slice *mode = &c->argv[2];
    if (arg_eq(mode, "on")) {
        cl->flags &= ~(CLIENT_REPLY_SKIP | CLIENT_REPLY_OFF);
        reply_ok(c);
    } else if (arg_eq(mode, "off")) {
        cl->flags |= CLIENT_REPLY_OFF;
    } else if (arg_eq(mode, "skip")) {
        if (!(cl->flags & CLIENT_REPLY_OFF))
            cl->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_syntax_error(c);
    }
}

/* CLIENT NO-EVICT / NO-TOUCH ON|OFF: one flag of the caller. */
static void client_flag_generic(cmd_ctx *c, uint32_t flag)
{
    const slice *v = &c->argv[2];
    if (arg_eq(v, "on"))
        c->cl->flags |= flag;
    else if (arg_eq(v, "off"))
        c->cl->flags &= ~flag;
    else {
        reply_syntax_error(c);
        return;
    }
    reply_ok(c);
}

static void client_noevict_cmd(cmd_ctx *c)
{
    client_flag_generic(c, CLIENT_NO_EVICT);
}

static void client_notouch_cmd(cmd_ctx *c)
{
    client_flag_generic(c, CLIENT_NO_TOUCH);
}

/* ---- client-side caching (tracking.h) ------------------------------------------------------ */

#define ERR_REDIRECT_MISSING "ERR The client ID you want redirect to does not exist"
#define ERR_PREFIX_OVERLAP_FMT                                                                     \
    "ERR Prefix '%.*s' overlaps with %s prefix '%.*s'. Prefixes for a single client must not "     \
    "overlap."

/* CLIENT TRACKING's options as given. */
typedef struct tracking_opts {
    long long redirect; /* 0: none */
    unsigned options;   /* TRK_BCAST, TRK_OPTIN, TRK_OPTOUT, TRK_NOLOOP */
    slice *prefixes;    /* point into the arguments */
    int nprefixes;
} tracking_opts;

/* Parses the options after ON|OFF. As in Redis, the REDIRECT target must exist now, even for
 * OFF. Returns 0, or -1 after replying. */
static int tracking_parse_or_reply(cmd_ctx *c, tracking_opts *o)
{
    for (int j = 3; j < c->argc; j++) {
        const slice *a = &c->argv[j];
        int more = j + 1 < c->argc;
        if (arg_eq(a, "redirect") && more) {
            if (o->redirect) {
                reply_error(c, "ERR A client can only redirect to a single other client");
                return -1;
            }
            if (arg_ll_or_reply(c, &c->argv[++j], &o->redirect, NULL))
                return -1;
            if (o->redirect <= 0 || !tracking_client_exists((uint64_t)o->redirect)) {
                reply_error(c, ERR_REDIRECT_MISSING);
                return -1;
            }
        } else if (arg_eq(a, "bcast")) {
            o->options |= TRK_BCAST;
        } else if (arg_eq(a, "optin")) {
            o->options |= TRK_OPTIN;
        } else if (arg_eq(a, "optout")) {
            o->options |= TRK_OPTOUT;
        } else if (arg_eq(a, "noloop")) {
            o->options |= TRK_NOLOOP;
        } else if (arg_eq(a, "prefix") && more) {
            o->prefixes[o->nprefixes++] = c->argv[++j];
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

static int prefixes_overlap(const slice *a, const slice *b)
{
    return !memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
}

/* BCAST prefixes of one client must not overlap: neither with the ones it has nor among
 * themselves (Redis's checkPrefixCollisionsOrReply). Returns 0, or -1 after replying. */
static int tracking_prefixes_or_reply(cmd_ctx *c, const tracking_opts *o)
{
    for (int i = 0; i < o->nprefixes; i++) {
        const slice *p = &o->prefixes[i];
        slice other;
        if (tracking_prefix_overlap(c->cl, p, &other)) {
            reply_errorf(c, ERR_PREFIX_OVERLAP_FMT, (int)p->len, p->p, "an existing",
                         (int)other.len, other.p);
            return -1;
        }
        for (int j = i + 1; j < o->nprefixes; j++) {
            const slice *q = &o->prefixes[j];
            if (prefixes_overlap(p, q)) {
                reply_errorf(c, ERR_PREFIX_OVERLAP_FMT, (int)p->len, p->p, "another provided",
                             (int)q->len, q->p);
                return -1;
            }
        }
    }
    return 0;
}

/* The checks of CLIENT TRACKING ON, in Redis's order. Returns 0, or -1 after replying. */
static int tracking_on_ok_or_reply(cmd_ctx *c, const tracking_opts *o)
{
    unsigned cur = tracking_flags(c->cl), opt = o->options;
    if (!(opt & TRK_BCAST) && o->nprefixes) {
        reply_error(c, "ERR PREFIX option requires BCAST mode to be enabled");
        return -1;
    }
    if ((cur & TRK_ON) && !(cur & TRK_BCAST) != !(opt & TRK_BCAST)) {
        reply_error(c, "ERR You can't switch BCAST mode on/off before disabling tracking for "
                       "this client, and then re-enabling it with a different mode.");
        return -1;
    }
    if ((opt & TRK_BCAST) && (opt & (TRK_OPTIN | TRK_OPTOUT))) {
        reply_error(c, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return -1;
    }
    if ((opt & TRK_OPTIN) && (opt & TRK_OPTOUT)) {
        reply_error(c, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return -1;
    }
    if (((opt & TRK_OPTIN) && (cur & TRK_OPTOUT)) || ((opt & TRK_OPTOUT) && (cur & TRK_OPTIN))) {
        reply_error(c, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                       "this client, and then re-enabling it with a different mode.");
        return -1;
    }
    return (opt & TRK_BCAST) ? tracking_prefixes_or_reply(c, o) : 0;
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP] */
static void client_tracking_cmd(cmd_ctx *c)
{
    tracking_opts o = {0};
    o.prefixes = mem_malloc(sizeof(slice) * (size_t)c->argc);
    if (tracking_parse_or_reply(c, &o))
        goto done;
    if (arg_eq(&c->argv[2], "on")) {
        if (tracking_on_ok_or_reply(c, &o))
            goto done;
        tracking_enable(c->cl, (uint64_t)o.redirect, o.options, o.nprefixes, o.prefixes);
    } else if (arg_eq(&c->argv[2], "off")) {
        tracking_disable(c->cl);
    } else {
        reply_syntax_error(c);
        goto done;
    }
    reply_ok(c);
done:
    free(o.prefixes);
}

/* CLIENT CACHING YES|NO: in OPTIN mode, cache the keys of the next command; in OPTOUT mode,
 * do not. */
static void client_caching_cmd(cmd_ctx *c)
{
    unsigned f = tracking_flags(c->cl);
    if (!(f & TRK_ON)) {
        reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode "
                       "with OPTIN or OPTOUT mode enabled");
        return;
    }
    const slice *v = &c->argv[2];
    if (arg_eq(v, "yes")) {
        if (!(f & TRK_OPTIN)) {
            reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                           "OPTIN mode.");
            return;
        }
    } else if (arg_eq(v, "no")) {
        if (!(f & TRK_OPTOUT)) {
            reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                           "OPTOUT mode.");
            return;
        }
    } else {
        reply_syntax_error(c);
        return;
    }
    tracking_set_caching(c->cl);
    reply_ok(c);
}

/* CLIENT GETREDIR: the client invalidations go to; 0 for none, -1 when tracking is off. */
static void client_getredir_cmd(cmd_ctx *c)
{
    if (tracking_flags(c->cl) & TRK_ON)
        reply_int(c, (long long)tracking_redirect(c->cl));
    else
        reply_int(c, -1);
}

static void reply_prefix(void *arg, const char *p, size_t len)
{
    reply_bulk(arg, p, len);
}

/* CLIENT TRACKINGINFO: a map of flags (a set), redirect and prefixes. */
static void client_trackinginfo_cmd(cmd_ctx *c)
{
    unsigned f = tracking_flags(c->cl);
    const char *flags[8];
    int n = 0;
    flags[n++] = (f & TRK_ON) ? "on" : "off";
    if (f & TRK_BCAST)
        flags[n++] = "bcast";
    if (f & TRK_OPTIN) {
        flags[n++] = "optin";
        if (f & TRK_CACHING)
            flags[n++] = "caching-yes";
    }
    if (f & TRK_OPTOUT) {
        flags[n++] = "optout";
        if (f & TRK_CACHING)
            flags[n++] = "caching-no";
    }
    if (f & TRK_NOLOOP)
        flags[n++] = "noloop";
    if (f & TRK_BROKEN_REDIR)
        flags[n++] = "broken_redirect";
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_set(c, n);
    for (int i = 0; i < n; i++)
        reply_bulk_cstr(c, flags[i]);
    reply_bulk_cstr(c, "redirect");
    reply_int(c, (f & TRK_ON) ? (long long)tracking_redirect(c->cl) : -1);
    reply_bulk_cstr(c, "prefixes");
    reply_array(c, tracking_prefix_count(c->cl));
    tracking_prefixes(c->cl, reply_prefix, c);
}

/* ---- pause -------------------------------------------------------------------------------- */

/* CLIENT PAUSE timeout [WRITE|ALL] — checks the mode first, then the timeout, as Redis. */
static void client_pause_cmd(cmd_ctx *c)
{
    if (c->argc > 4) {
        reply_errorf(c,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "CLIENT HELP.",
                     (int)c->argv[1].len, c->argv[1].p);
        return;
    }
    enum pause_type type = PAUSE_ALL;
    if (c->argc == 4) {
        if (arg_eq(&c->argv[3], "write")) {
            type = PAUSE_WRITE;
        } else if (!arg_eq(&c->argv[3], "all")) {
            reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (arg_ll_or_reply(c, &c->argv[2], &ms, "ERR timeout is not an integer or out of range"))
        return;
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    int64_t now = clock_wall_ms();
    if (ms > INT64_MAX - now) {
        reply_error(c, "ERR timeout is out of range");
        return;
    }
    pause_start(type, now + ms);
    reply_ok(c);
}

static void client_unpause_cmd(cmd_ctx *c)
{
    pause_end();
    reply_ok(c);
}

/* ---- help and the container -------------------------------------------------------------- */

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETNAME",
    "    Return the name of the current connection.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Print this help.",
};

static void client_help_cmd(cmd_ctx *c)
{
    size_t n = sizeof(client_help) / sizeof(client_help[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, client_help[i]);
}

/* Reached only when no subcommand matched. */
static void client_cmd(cmd_ctx *c)
{
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.", (int)c->argv[1].len,
                 c->argv[1].p);
}

#define CLIENT_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CLIENT_STATE)
#define CLIENT_ACL (ACL_SLOW | ACL_CONNECTION)
#define CLIENT_ADMIN_ACL (ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS | ACL_CONNECTION)

static command client_subcommands[] = {
    {.name = "id",
     .proc = client_id_cmd,
     .arity = 2,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "5.0.0",
     .summary = "Returns the unique client ID of the connection."},
    {.name = "info",
     .proc = client_info_cmd,
     .arity = 2,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "6.2.0",
     .summary = "Returns information about the connection."},
    {.name = "list",
     .proc = client_list_cmd,
     .arity = -2,
     .flags = CLIENT_FLAGS | CMD_ADMIN | CMD_NO_MULTI,
     .acl = CLIENT_ADMIN_ACL,
     .group = "connection",
     .since = "2.4.0",
     .summary = "Lists open connections."},
    {.name = "kill",
     .proc = client_kill_cmd,
     .arity = -3,
     .flags = CLIENT_FLAGS | CMD_ADMIN | CMD_NO_MULTI,
     .acl = CLIENT_ADMIN_ACL,
     .group = "connection",
     .since = "2.4.0",
     .summary = "Terminates open connections."},
    {.name = "unblock",
     .proc = client_unblock_cmd,
     .arity = -3,
     .flags = CLIENT_FLAGS | CMD_ADMIN | CMD_NO_MULTI,
     .acl = CLIENT_ADMIN_ACL,
     .group = "connection",
     .since = "5.0.0",
     .summary = "Unblocks a client blocked by a blocking command from a different connection."},
    {.name = "getname",
     .proc = client_getname_cmd,
     .arity = 2,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "2.6.9",
     .summary = "Returns the name of the connection."},
    {.name = "setname",
     .proc = client_setname_cmd,
     .arity = 3,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "2.6.9",
     .summary = "Sets the connection name."},
    {.name = "setinfo",
     .proc = client_setinfo_cmd,
     .arity = 4,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "7.2.0",
     .summary = "Sets information specific to the client or connection."},
    {.name = "reply",
     .proc = client_reply_cmd,
     .arity = 3,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "3.2.0",
     .summary = "Instructs the server whether to reply to commands."},
    {.name = "no-evict",
     .proc = client_noevict_cmd,
     .arity = 3,
     .flags = CLIENT_FLAGS | CMD_ADMIN,
     .acl = CLIENT_ADMIN_ACL,
     .group = "connection",
     .since = "7.0.0",
     .summary = "Sets the client eviction mode of the connection."},
    {.name = "no-touch",
     .proc = client_notouch_cmd,
     .arity = 3,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "7.2.0",
     .summary =
         "Controls whether commands sent by the client affect the LRU/LFU of accessed keys."},
    {.name = "getredir",
     .proc = client_getredir_cmd,
     .arity = 2,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "6.0.0",
     .summary =
         "Returns the client ID to which the connection's tracking notifications are redirected."},
    {.name = "tracking",
     .proc = client_tracking_cmd,
     .arity = -3,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "6.0.0",
     .summary = "Controls server-assisted client-side caching for the connection."},
    {.name = "trackinginfo",
     .proc = client_trackinginfo_cmd,
     .arity = 2,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "6.2.0",
     .summary =
         "Returns information about server-assisted client-side caching for the connection."},
    {.name = "caching",
     .proc = client_caching_cmd,
     .arity = 3,
     .flags = CLIENT_FLAGS,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "6.0.0",
     .summary = "Instructs the server whether to track the keys in the next request."},
    {.name = "pause",
     .proc = client_pause_cmd,
     .arity = -3,
     .flags = CLIENT_FLAGS | CMD_ADMIN,
     .acl = CLIENT_ADMIN_ACL,
     .group = "connection",
     .since = "3.0.0",
     .summary = "Suspends commands processing."},
    {.name = "unpause",
     .proc = client_unpause_cmd,
     .arity = 2,
     .flags = CLIENT_FLAGS | CMD_ADMIN,
     .acl = CLIENT_ADMIN_ACL,
     .group = "connection",
     .since = "6.2.0",
     .summary = "Resumes processing commands from paused clients."},
    {.name = "help",
     .proc = client_help_cmd,
     .arity = 2,
     .flags = CMD_LOADING | CMD_STALE,
     .acl = CLIENT_ACL,
     .group = "connection",
     .since = "5.0.0",
     .summary = "Returns helpful text about the different subcommands."},
    {0},
};

command client_commands[] = {
    {.name = "client",
     .proc = client_cmd,
     .arity = -2,
     .flags = 0,
     .acl = ACL_SLOW,
     .group = "connection",
     .since = "2.4.0",
     .summary = "A container for client connection commands.",
     .subcommands = client_subcommands},
    {0},
};
