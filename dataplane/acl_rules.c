/* ACL users as values: creating, copying, applying ACL SETUSER rules and describing them back
 * (Redis 7.0's acl.c: ACLSetUser, ACLSetSelector, ACLDescribeUser). No server state here but
 * the command table, so unit tests and the fuzzer drive it alone. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "acl.h"
#include "alloc.h"
#include "glob.h"

/* Redis's explanations (ACLSetUserStringError). */
#define ERRS_UNKNOWN "Unknown command or category name in ACL"
#define ERRS_SYNTAX "Syntax error"
#define ERRS_ALLKEYS                                                                               \
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "      \
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
#define ERRS_ALLCHANNELS                                                                           \
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "  \
    "have any effect. Try 'resetchannels' to start with an empty list of channels"
#define ERRS_NOPASS "The password you are trying to remove from the user does not exist"
#define ERRS_BADHASH                                                                               \
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "      \
    "characters"
#define ERRS_SUBFIRSTARG "Allowing first-arg of a subcommand is not supported"

static int lit_eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* ---- digests ------------------------------------------------------------------------------- */

/* SHA-256 as fetched at start. OpenSSL sets its library context up on the first fetch, and a
 * set-up that runs out of memory leaves it broken (a NULL lock a later call dereferences) rather
 * than failing: done at start, a digest under memory pressure only needs its context. */
static EVP_MD *sha256;

void acl_digest_init(void)
{
    if (!sha256 && !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        mem_oom_in("loading SHA-256");
}

void acl_digest(const char *pass, size_t len, unsigned char out[ACL_DIGEST_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(pass, len, out, &n, sha256 ? sha256 : EVP_sha256(), NULL))
        mem_oom_in("hashing a password"); /* SHA-256 itself cannot fail */
}

void acl_digest_hex(const unsigned char d[ACL_DIGEST_LEN], char out[ACL_DIGEST_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < ACL_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 0xf];
    }
    out[ACL_DIGEST_HEX_LEN] = '\0';
}

/* Redis accepts only lower-case hex for #hash and !hash. */
static int hex_to_digest(const char *s, size_t len, unsigned char out[ACL_DIGEST_LEN])
{
    if (len != ACL_DIGEST_HEX_LEN)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

int acl_user_password_ok(const acl_user *u, const char *pass, size_t len)
{
    if (u->flags & ACL_USER_NOPASS)
        return 1;
    unsigned char d[ACL_DIGEST_LEN];
    acl_digest(pass, len, d);
    int ok = 0;
    for (int i = 0; i < u->npass; i++) {
        unsigned char diff = 0;
        for (int j = 0; j < ACL_DIGEST_LEN; j++)
            diff |= (unsigned char)(d[j] ^ u->pass[i][j]);
        ok |= diff == 0; /* no early exit: every password costs the same */
    }
    return ok;
}

static int pass_find(const acl_user *u, const unsigned char d[ACL_DIGEST_LEN])
{
    for (int i = 0; i < u->npass; i++)
        if (!memcmp(u->pass[i], d, ACL_DIGEST_LEN))
            return i;
    return -1;
}

static void pass_add(acl_user *u, const unsigned char d[ACL_DIGEST_LEN])
{
    u->flags &= ~ACL_USER_NOPASS;
    if (pass_find(u, d) >= 0)
        return;
    u->pass = mem_realloc(u->pass, sizeof(*u->pass) * (size_t)(u->npass + 1));
    memcpy(u->pass[u->npass++], d, ACL_DIGEST_LEN);
}

static int pass_remove(acl_user *u, const unsigned char d[ACL_DIGEST_LEN])
{
    u->flags &= ~ACL_USER_NOPASS;
    int i = pass_find(u, d);
    if (i < 0)
        return -1;
    memmove(u->pass[i], u->pass[i + 1], sizeof(*u->pass) * (size_t)(u->npass - i - 1));
    u->npass--;
    return 0;
}

/* ---- selectors ----------------------------------------------------------------------------- */

static void patterns_free(acl_pattern *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].p);
    free(v);
}

static acl_pattern *patterns_dup(const acl_pattern *v, int n)
{
    if (!n)
        return NULL;
    acl_pattern *d = mem_malloc(sizeof(*d) * (size_t)n);
    for (int i = 0; i < n; i++) {
        d[i] = v[i];
        d[i].p = mem_memdupz(v[i].p, v[i].len);
    }
    return d;
}

static void fargs_clear(acl_selector *s)
{
    for (int i = 0; i < s->nfargs; i++)
        free(s->fargs[i].arg);
    free(s->fargs);
    s->fargs = NULL;
    s->nfargs = 0;
}

/* Forgets the first-args allowed for command id (the whole command is now on or off). */
static void fargs_drop(acl_selector *s, int id)
{
    int j = 0;
    for (int i = 0; i < s->nfargs; i++) {
        if (s->fargs[i].id == id)
            free(s->fargs[i].arg);
        else
            s->fargs[j++] = s->fargs[i];
    }
    s->nfargs = j;
}

static void selector_free(acl_selector *s)
{
    patterns_free(s->keys, s->nkeys);
    patterns_free(s->chans, s->nchans);
    fargs_clear(s);
    memset(s, 0, sizeof(*s));
}

static void selector_copy(acl_selector *d, const acl_selector *s)
{
    *d = *s;
    d->keys = patterns_dup(s->keys, s->nkeys);
    d->chans = patterns_dup(s->chans, s->nchans);
    d->fargs = NULL;
    if (s->nfargs) {
        d->fargs = mem_malloc(sizeof(*d->fargs) * (size_t)s->nfargs);
        for (int i = 0; i < s->nfargs; i++) {
            d->fargs[i].id = s->fargs[i].id;
            d->fargs[i].arg = mem_memdupz(s->fargs[i].arg, strlen(s->fargs[i].arg));
        }
    }
}

static int bit_get(const acl_selector *s, int id)
{
    return (s->cmds[id / 64] >> (id % 64)) & 1;
}

static void bit_set(acl_selector *s, int id, int on)
{
    if (on)
        s->cmds[id / 64] |= 1ull << (id % 64);
    else
        s->cmds[id / 64] &= ~(1ull << (id % 64));
}

/* A command and all its subcommands on or off (Redis's ACLChangeSelectorPerm). */
static void cmd_change(acl_selector *s, const command *cmd, int on)
{
    bit_set(s, cmd->id, on);
    fargs_drop(s, cmd->id);
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++) {
        bit_set(s, sub->id, on);
        fargs_drop(s, sub->id);
    }
}

typedef struct cat_change {
    acl_selector *s;
    uint32_t cat;
    int on;
} cat_change;

static void cat_change_one(const command *cmd, void *arg)
{
    cat_change *cc = arg;
    if (command_acl_categories(cmd) & cc->cat) {
        bit_set(cc->s, cmd->id, cc->on);
        fargs_drop(cc->s, cmd->id);
    }
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++) {
        if (command_acl_categories(sub) & cc->cat) {
            bit_set(cc->s, sub->id, cc->on);
            fargs_drop(cc->s, sub->id);
        }
    }
}

static void cat_change_all(acl_selector *s, uint32_t cat, int on)
{
    cat_change cc = {s, cat, on};
    command_foreach(cat_change_one, &cc);
}

uint32_t acl_category_by_name(const char *name, size_t len)
{
    for (int i = 0; i < ACL_CATEGORY_COUNT; i++)
        if (lit_eq(name, len, acl_category_names[i]))
            return 1u << i;
    return 0;
}

static int has_space(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)p[i]) || p[i] == '\0')
            return 1;
    return 0;
}

/* +cmd, -cmd, +cmd|sub, -cmd|sub, +cmd|firstarg (op without the sign). */
static int selector_set_command(acl_selector *s, const char *op, size_t len, int on,
                                const char **err)
{
    const char *bar = memchr(op, '|', len);
    size_t nlen = bar ? (size_t)(bar - op) : len;
    const command *cmd = command_lookup_name(op, nlen);
    if (!cmd) {
        *err = ERRS_UNKNOWN;
        return -1;
    }
    if (!bar) {
        cmd_change(s, cmd, on);
        return 0;
    }
    const char *rest = bar + 1;
    size_t rlen = len - nlen - 1;
    if (cmd->subcommands) {
        if (memchr(rest, '|', rlen)) {
            *err = ERRS_SUBFIRSTARG;
            return -1;
        }
        for (const command *sub = cmd->subcommands; sub->name; sub++) {
            if (lit_eq(rest, rlen, sub->name)) {
                bit_set(s, sub->id, on);
                return 0;
            }
        }
        *err = ERRS_UNKNOWN;
        return -1;
    }
    /* First-arg rules: only adding, only one level, never empty, and printable back as one
     * word (no spaces or NUL). */
    if (on && (!rlen || has_space(rest, rlen))) {
        *err = ERRS_SYNTAX;
        return -1;
    }
    if (!on || memchr(rest, '|', rlen)) {
        *err = ERRS_UNKNOWN;
        return -1;
    }
    if (bit_get(s, cmd->id))
        return 0; /* the whole command is allowed already */
    for (int i = 0; i < s->nfargs; i++)
        if (s->fargs[i].id == cmd->id && lit_eq(rest, rlen, s->fargs[i].arg))
            return 0;
    s->fargs = mem_realloc(s->fargs, sizeof(*s->fargs) * (size_t)(s->nfargs + 1));
    s->fargs[s->nfargs].id = cmd->id;
    s->fargs[s->nfargs].arg = mem_memdupz(rest, rlen);
    for (char *p = s->fargs[s->nfargs].arg; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    s->nfargs++;
    return 0;
}

/* ~pattern, %R~pattern, %W~pattern, %RW~pattern. */
static int selector_add_key(acl_selector *s, const char *op, size_t len, const char **err)
{
    int perm = 0;
    size_t off;
    if (op[0] == '~') {
        perm = ACL_PERM_RW;
        off = 1;
    } else {
        for (off = 1; off < len && op[off] != '~'; off++) {
            char ch = (char)toupper((unsigned char)op[off]);
            if (ch == 'R')
                perm |= ACL_PERM_READ;
            else if (ch == 'W')
                perm |= ACL_PERM_WRITE;
            else
                break;
        }
        if (!perm || off >= len || op[off] != '~') {
            *err = ERRS_SYNTAX;
            return -1;
        }
        off++;
    }
    if (s->flags & ACL_SEL_ALLKEYS) {
        *err = ERRS_ALLKEYS;
        return -1;
    }
    const char *p = op + off;
    size_t plen = len - off;
    if (has_space(p, plen)) {
        *err = ERRS_SYNTAX;
        return -1;
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (s->keys[i].len == plen && !memcmp(s->keys[i].p, p, plen)) {
            s->keys[i].perm |= perm;
            return 0;
        }
    }
    s->keys = mem_realloc(s->keys, sizeof(*s->keys) * (size_t)(s->nkeys + 1));
    s->keys[s->nkeys++] = (acl_pattern){mem_memdupz(p, plen), plen, perm};
    return 0;
}

static int selector_add_channel(acl_selector *s, const char *p, size_t plen, const char **err)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        *err = ERRS_ALLCHANNELS;
        return -1;
    }
    if (has_space(p, plen)) {
        *err = ERRS_SYNTAX;
        return -1;
    }
    for (int i = 0; i < s->nchans; i++)
        if (s->chans[i].len == plen && !memcmp(s->chans[i].p, p, plen))
            return 0;
    s->chans = mem_realloc(s->chans, sizeof(*s->chans) * (size_t)(s->nchans + 1));
    s->chans[s->nchans++] = (acl_pattern){mem_memdupz(p, plen), plen, 0};
    return 0;
}

static void selector_reset_keys(acl_selector *s)
{
    patterns_free(s->keys, s->nkeys);
    s->keys = NULL;
    s->nkeys = 0;
    s->flags &= ~ACL_SEL_ALLKEYS;
}

static void selector_reset_channels(acl_selector *s)
{
    patterns_free(s->chans, s->nchans);
    s->chans = NULL;
    s->nchans = 0;
    s->flags &= ~ACL_SEL_ALLCHANNELS;
}

static void selector_all_commands(acl_selector *s, int on)
{
    memset(s->cmds, on ? 0xff : 0, sizeof(s->cmds));
    fargs_clear(s);
}

/* One selector rule (Redis's ACLSetSelector). */
static int selector_apply(acl_selector *s, const char *op, size_t len, const char **err)
{
    if (lit_eq(op, len, "allkeys") || (len == 2 && !memcmp(op, "~*", 2))) {
        selector_reset_keys(s);
        s->flags |= ACL_SEL_ALLKEYS;
    } else if (lit_eq(op, len, "resetkeys")) {
        selector_reset_keys(s);
    } else if (lit_eq(op, len, "allchannels") || (len == 2 && !memcmp(op, "&*", 2))) {
        selector_reset_channels(s);
        s->flags |= ACL_SEL_ALLCHANNELS;
    } else if (lit_eq(op, len, "resetchannels")) {
        selector_reset_channels(s);
    } else if (lit_eq(op, len, "allcommands") || lit_eq(op, len, "+@all")) {
        selector_all_commands(s, 1);
    } else if (lit_eq(op, len, "nocommands") || lit_eq(op, len, "-@all")) {
        selector_all_commands(s, 0);
    } else if (len && (op[0] == '~' || op[0] == '%')) {
        return selector_add_key(s, op, len, err);
    } else if (len && op[0] == '&') {
        return selector_add_channel(s, op + 1, len - 1, err);
    } else if (len > 2 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
        uint32_t cat = acl_category_by_name(op + 2, len - 2);
        if (!cat) {
            *err = ERRS_UNKNOWN;
            return -1;
        }
        cat_change_all(s, cat, op[0] == '+');
    } else if (len > 1 && (op[0] == '+' || op[0] == '-')) {
        return selector_set_command(s, op + 1, len - 1, op[0] == '+', err);
    } else {
        *err = ERRS_SYNTAX;
        return -1;
    }
    return 0;
}

/* ---- users --------------------------------------------------------------------------------- */

acl_user *acl_user_new(const char *name, size_t len)
{
    acl_user *u = mem_malloc(sizeof(*u));
    memset(u, 0, sizeof(*u));
    u->name = mem_memdupz(name, len);
    u->namelen = len;
    atomic_init(&u->refs, 1);
    return u;
}

acl_user *acl_user_dup(const acl_user *u)
{
    acl_user *d = acl_user_new(u->name, u->namelen);
    d->flags = u->flags;
    if (u->npass) {
        d->pass = mem_malloc(sizeof(*d->pass) * (size_t)u->npass);
        memcpy(d->pass, u->pass, sizeof(*d->pass) * (size_t)u->npass);
        d->npass = u->npass;
    }
    selector_copy(&d->root, &u->root);
    if (u->nsels) {
        d->sels = mem_malloc(sizeof(*d->sels) * (size_t)u->nsels);
        for (int i = 0; i < u->nsels; i++)
            selector_copy(&d->sels[i], &u->sels[i]);
        d->nsels = u->nsels;
    }
    return d;
}

void acl_user_ref(acl_user *u)
{
    atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
}

static void clear_selectors(acl_user *u)
{
    for (int i = 0; i < u->nsels; i++)
        selector_free(&u->sels[i]);
    free(u->sels);
    u->sels = NULL;
    u->nsels = 0;
}

void acl_user_unref(acl_user *u)
{
    if (!u || atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) != 1)
        return;
    clear_selectors(u);
    selector_free(&u->root);
    free(u->pass);
    free(u->name);
    free(u);
}

int acl_name_ok(const char *name, size_t len)
{
    return !has_space(name, len);
}

/* "(rule rule ...)": a new selector built from nothing. */
static int user_add_selector(acl_user *u, const char *op, size_t len, const char **err)
{
    acl_selector s;
    memset(&s, 0, sizeof(s));
    size_t i = 1, end = len - 1;
    while (i < end) {
        while (i < end && op[i] == ' ')
            i++;
        size_t j = i;
        while (j < end && op[j] != ' ')
            j++;
        if (j > i && selector_apply(&s, op + i, j - i, err)) {
            selector_free(&s);
            return -1;
        }
        i = j;
    }
    u->sels = mem_realloc(u->sels, sizeof(*u->sels) * (size_t)(u->nsels + 1));
    u->sels[u->nsels++] = s;
    return 0;
}

static void user_reset(acl_user *u)
{
    free(u->pass);
    u->pass = NULL;
    u->npass = 0;
    u->flags = ACL_USER_SANITIZE; /* off, no nopass: what Redis's "reset" leaves */
    selector_reset_keys(&u->root);
    selector_reset_channels(&u->root);
    clear_selectors(u);
    selector_all_commands(&u->root, 0);
}

int acl_user_apply(acl_user *u, const char *op, size_t len, const char **err)
{
    unsigned char d[ACL_DIGEST_LEN];
    if (len == 0) {
        return 0; /* an empty argument changes nothing, as in Redis */
    } else if (lit_eq(op, len, "on")) {
        u->flags |= ACL_USER_ON;
    } else if (lit_eq(op, len, "off")) {
        u->flags &= ~ACL_USER_ON;
    } else if (lit_eq(op, len, "skip-sanitize-payload")) {
        u->flags = (u->flags & ~ACL_USER_SANITIZE) | ACL_USER_SKIP_SANITIZE;
    } else if (lit_eq(op, len, "sanitize-payload")) {
        u->flags = (u->flags & ~ACL_USER_SKIP_SANITIZE) | ACL_USER_SANITIZE;
    } else if (lit_eq(op, len, "nopass")) {
        free(u->pass);
        u->pass = NULL;
        u->npass = 0;
        u->flags |= ACL_USER_NOPASS;
    } else if (lit_eq(op, len, "resetpass")) {
        free(u->pass);
        u->pass = NULL;
        u->npass = 0;
        u->flags &= ~ACL_USER_NOPASS;
    } else if (len && op[0] == '>') {
        acl_digest(op + 1, len - 1, d);
        pass_add(u, d);
    } else if (len && op[0] == '<') {
        acl_digest(op + 1, len - 1, d);
        if (pass_remove(u, d)) {
            *err = ERRS_NOPASS;
            return -1;
        }
    } else if (len && (op[0] == '#' || op[0] == '!')) {
        if (hex_to_digest(op + 1, len - 1, d)) {
            *err = ERRS_BADHASH;
            return -1;
        }
        if (op[0] == '#') {
            pass_add(u, d);
        } else if (pass_remove(u, d)) {
            *err = ERRS_NOPASS;
            return -1;
        }
    } else if (len >= 2 && op[0] == '(' && op[len - 1] == ')') {
        return user_add_selector(u, op, len, err);
    } else if (lit_eq(op, len, "clearselectors")) {
        clear_selectors(u);
    } else if (lit_eq(op, len, "reset")) {
        user_reset(u);
    } else {
        return selector_apply(&u->root, op, len, err);
    }
    return 0;
}

static void errfmt(char *errbuf, size_t errlen, const char *what, const char *op, size_t len,
                   const char *why)
{
    int n = len > 128 ? 128 : (int)len;
    snprintf(errbuf, errlen, "ERR %s '%.*s'%s%s", what, n, op, why ? ": " : ".", why ? why : "");
}

int acl_user_apply_args(acl_user *u, int n, const slice *args, char *errbuf, size_t errlen)
{
    buf sel;
    buf_init(&sel);
    int open = -1; /* index of the argument that opened a selector */
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const char *p = args[i].p;
        size_t len = args[i].len;
        if (open < 0 && len && p[0] == '(' && p[len - 1] != ')') {
            open = i; /* a selector spread over arguments: join them with spaces */
            buf_clear(&sel);
            buf_append(&sel, p, len);
            continue;
        }
        if (open >= 0) {
            buf_append(&sel, " ", 1);
            buf_append(&sel, p, len);
            if (!len || p[len - 1] != ')')
                continue;
            p = sel.data;
            len = sel.len;
            open = -1;
        }
        const char *why = NULL;
        if (acl_user_apply(u, p, len, &why)) {
            errfmt(errbuf, errlen, "Error in ACL SETUSER modifier", p, len, why);
            rc = -1;
        }
    }
    if (!rc && open >= 0) {
        errfmt(errbuf, errlen, "Unmatched parenthesis in acl selector starting at", args[open].p,
               args[open].len, NULL);
        rc = -1;
    }
    buf_free(&sel);
    return rc;
}

/* ---- checks -------------------------------------------------------------------------------- */

int acl_selector_allows_cmd(const acl_selector *s, const command *cmd, int argc, const slice *argv)
{
    if (bit_get(s, cmd->id))
        return 1;
    if (cmd->parent || argc < 2)
        return 0;
    for (int i = 0; i < s->nfargs; i++)
        if (s->fargs[i].id == cmd->id && lit_eq(argv[1].p, argv[1].len, s->fargs[i].arg))
            return 1;
    return 0;
}

/* ---- describing ---------------------------------------------------------------------------- */

typedef struct cat_count {
    const acl_selector *s;
    uint32_t cat;
    unsigned long on, off;
} cat_count;

static void cat_count_one(const command *cmd, void *arg)
{
    cat_count *cc = arg;
    if (command_acl_categories(cmd) & cc->cat)
        *(bit_get(cc->s, cmd->id) ? &cc->on : &cc->off) += 1;
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++)
        if (command_acl_categories(sub) & cc->cat)
            *(bit_get(cc->s, sub->id) ? &cc->on : &cc->off) += 1;
}

typedef struct single_diff {
    const acl_selector *s;
    acl_selector *fake;
    buf *out;
} single_diff;

static void single_diff_one(const command *cmd, void *arg)
{
    single_diff *sd = arg;
    int userbit = bit_get(sd->s, cmd->id);
    if (userbit != bit_get(sd->fake, cmd->id)) {
        buf_printf(sd->out, "%c%s ", userbit ? '+' : '-', cmd->name);
        cmd_change(sd->fake, cmd, userbit);
    }
    for (const command *sub = cmd->subcommands; sub && sub->name; sub++) {
        int ub = bit_get(sd->s, sub->id);
        if (ub != bit_get(sd->fake, sub->id)) {
            buf_printf(sd->out, "%c%s|%s ", ub ? '+' : '-', cmd->name, sub->name);
            bit_set(sd->fake, sub->id, ub);
        }
    }
    if (!userbit)
        for (int i = 0; i < sd->s->nfargs; i++)
            if (sd->s->fargs[i].id == cmd->id)
                buf_printf(sd->out, "+%s|%s ", cmd->name, sd->s->fargs[i].arg);
}

/* The category that best describes what is left to explain in temp: the one with more
 * commands to keep than to fix, fewest to fix first (Redis 7.0's best fit). -1 when none. */
static int best_category(const acl_selector *temp, int additive, const char *applied)
{
    int best = -1;
    unsigned long mindiff = (unsigned long)-1, maxsame = 0;
    for (int i = 0; i < ACL_CATEGORY_COUNT; i++) {
        if (applied[i])
            continue;
        cat_count cc = {temp, 1u << i, 0, 0};
        command_foreach(cat_count_one, &cc);
        unsigned long diff = additive ? cc.off : cc.on;
        unsigned long same = additive ? cc.on : cc.off;
        if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
            best = i;
            mindiff = diff;
            maxsame = same;
        }
    }
    return best;
}

/* Redis 7.0's ACLDescribeSelectorCommandRules: start from +@all or -@all, add the categories
 * that fit best, then fix single commands, replaying the rules on a fake selector so that the
 * result rebuilds exactly the same bitmap. */
void acl_selector_describe_commands(const acl_selector *s, buf *out)
{
    size_t start = out->len;
    acl_selector fake, temp;
    memset(&fake, 0, sizeof(fake));
    memset(&temp, 0, sizeof(temp));
    memcpy(temp.cmds, s->cmds, sizeof(temp.cmds));
    int additive = !bit_get(s, ACL_FUTURE_BIT);
    buf_printf(out, additive ? "-@all " : "+@all ");
    selector_all_commands(&fake, !additive);
    char applied[ACL_CATEGORY_COUNT] = {0};
    int best;
    while ((best = best_category(&temp, additive, applied)) >= 0) {
        buf_printf(out, "%c@%s ", additive ? '+' : '-', acl_category_names[best]);
        cat_change_all(&fake, 1u << best, additive);
        cat_change_all(&temp, 1u << best, !additive);
        applied[best] = 1;
    }
    single_diff sd = {s, &fake, out};
    command_foreach(single_diff_one, &sd);
    selector_free(&fake);
    selector_free(&temp);
    if (out->len > start)
        out->len--; /* the last space */
    out->data[out->len] = '\0';
}

void acl_selector_describe_keys(const acl_selector *s, buf *out)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        buf_append(out, "~*", 2);
        return;
    }
    for (int i = 0; i < s->nkeys; i++) {
        const acl_pattern *k = &s->keys[i];
        /* A read-write "*" that is not allkeys keeps its %RW~ form: "~*" would load back as
         * allkeys, after which the next pattern is refused (Redis's ACL SAVE has this flaw). */
        int star = k->len == 1 && k->p[0] == '*';
        const char *pre = k->perm == ACL_PERM_RW     ? (star ? "%RW~" : "~")
                          : k->perm == ACL_PERM_READ ? "%R~"
                                                     : "%W~";
        buf_printf(out, "%s%s", i ? " " : "", pre);
        buf_append(out, k->p, k->len);
    }
}

void acl_selector_describe_channels(const acl_selector *s, buf *out)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        buf_append(out, "&*", 2);
        return;
    }
    for (int i = 0; i < s->nchans; i++) {
        buf_printf(out, "%s&", i ? " " : "");
        buf_append(out, s->chans[i].p, s->chans[i].len);
    }
}

/* One selector as ACL LIST writes it: keys, channels (resetchannels first unless all), commands. */
static void selector_describe(const acl_selector *s, buf *out)
{
    size_t before = out->len;
    acl_selector_describe_keys(s, out);
    if (out->len > before)
        buf_append(out, " ", 1);
    if (!(s->flags & ACL_SEL_ALLCHANNELS))
        buf_append(out, "resetchannels ", 14);
    before = out->len;
    acl_selector_describe_channels(s, out);
    if (out->len > before)
        buf_append(out, " ", 1);
    acl_selector_describe_commands(s, out);
}

void acl_user_describe(const acl_user *u, buf *out)
{
    buf_printf(out, "%s", (u->flags & ACL_USER_ON) ? "on" : "off");
    if (u->flags & ACL_USER_NOPASS)
        buf_printf(out, " nopass");
    if (u->flags & ACL_USER_SANITIZE)
        buf_printf(out, " sanitize-payload");
    if (u->flags & ACL_USER_SKIP_SANITIZE)
        buf_printf(out, " skip-sanitize-payload");
    for (int i = 0; i < u->npass; i++) {
        char hex[ACL_DIGEST_HEX_LEN + 1];
        acl_digest_hex(u->pass[i], hex);
        buf_printf(out, " #%s", hex);
    }
    buf_append(out, " ", 1);
    selector_describe(&u->root, out);
    for (int i = 0; i < u->nsels; i++) {
        buf_append(out, " (", 2);
        selector_describe(&u->sels[i], out);
        buf_append(out, ")", 1);
    }
}
