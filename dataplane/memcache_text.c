/* memcached's text and meta protocols: from bytes to a request (memcache_int.h).
 *
 * The parser is a pure function of its input, as memcached's proto_text.c is the model for every
 * answer: a command line is cut into space-separated tokens (at most MC_TOKENS_MAX, as memcached
 * does), each command checks its token count and arguments in memcached's order, and every
 * malformed line gets memcached's own error line. Nothing is run here: a request either names a
 * command (with its tokens, and its data block for storage commands) or carries the error to
 * answer and the input to discard. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "memcache_int.h"

#define ERR_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define ERR_DELTA "CLIENT_ERROR invalid numeric delta argument"
#define ERR_DELETE_USAGE "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define ERR_TOO_LARGE "SERVER_ERROR object too large for cache"
#define ERR_BAD_CHUNK "CLIENT_ERROR bad data chunk"
#define ERR_UNAUTH "CLIENT_ERROR unauthenticated"
#define ERR_AUTH_TERM "CLIENT_ERROR bad command line termination"
#define ERR_AUTH_FORMAT "CLIENT_ERROR bad authentication token format"
#define NUM_TEXT_MAX 64 /* longer number tokens are refused (strtoul would say ERANGE anyway) */

/* ---- numbers ------------------------------------------------------------------------------- */

/* Copies a token into a NUL-terminated buffer for strto*; 0 when too long or empty. */
static int num_copy(const slice *s, char *buf)
{
    if (s->len == 0 || s->len >= NUM_TEXT_MAX)
        return 0;
    memcpy(buf, s->p, s->len);
    buf[s->len] = '\0';
    return 1;
}

/* memcached's safe_strtoul: strtoul, the whole token, no minus sign on a value that would be
 * negative as signed; the result is cut to 32 bits as memcached's assignment does. */
int mc_strtoul32(const slice *s, uint32_t *out)
{
    char b[NUM_TEXT_MAX], *end;
    if (!num_copy(s, b))
        return 0;
    errno = 0;
    unsigned long l = strtoul(b, &end, 10);
    if (errno == ERANGE || end == b || *end)
        return 0;
    if ((long)l < 0 && strchr(b, '-'))
        return 0;
    *out = (uint32_t)l;
    return 1;
}

/* memcached's safe_strtol: a long that fits 32 bits, the whole token. */
int mc_strtol32(const slice *s, int32_t *out)
{
    char b[NUM_TEXT_MAX], *end;
    if (!num_copy(s, b))
        return 0;
    errno = 0;
    long l = strtol(b, &end, 10);
    if (errno == ERANGE || end == b || *end || l > INT_MAX || l < INT_MIN)
        return 0;
    *out = (int32_t)l;
    return 1;
}

/* memcached's safe_strtoull. */
int mc_strtoull(const slice *s, uint64_t *out)
{
    char b[NUM_TEXT_MAX], *end;
    if (!num_copy(s, b))
        return 0;
    errno = 0;
    unsigned long long l = strtoull(b, &end, 10);
    if (errno == ERANGE || end == b || *end)
        return 0;
    if ((long long)l < 0 && strchr(b, '-'))
        return 0;
    *out = l;
    return 1;
}

int mc_is(const slice *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && memcmp(s->p, lit, n) == 0;
}

/* ---- base64 (meta flag b) ------------------------------------------------------------------ */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char ch)
{
    const char *p = ch ? strchr(b64_chars, ch) : NULL;
    return p ? (int)(p - b64_chars) : -1;
}

size_t mc_base64_decode(const char *in, size_t inlen, char *out, size_t outcap)
{
    if (inlen == 0 || inlen % 4)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < inlen; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char ch = (unsigned char)in[i + j];
            if (ch == '=' && i + 4 == inlen && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad || (v[j] = b64_value(ch)) < 0)
                return 0;
        }
        uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        char bytes[3] = {(char)(w >> 16), (char)(w >> 8), (char)w};
        int n = 3 - pad;
        if (o + (size_t)n > outcap)
            return 0;
        memcpy(out + o, bytes, (size_t)n);
        o += (size_t)n;
    }
    return o;
}

size_t mc_base64_encode(const char *in, size_t inlen, char *out, size_t outcap)
{
    size_t o = 0;
    for (size_t i = 0; i < inlen; i += 3) {
        size_t n = inlen - i < 3 ? inlen - i : 3;
        uint32_t w = (uint32_t)(unsigned char)in[i] << 16;
        if (n > 1)
            w |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (n > 2)
            w |= (unsigned char)in[i + 2];
        if (o + 4 > outcap)
            return 0;
        out[o++] = b64_chars[w >> 18 & 63];
        out[o++] = b64_chars[w >> 12 & 63];
        out[o++] = n > 1 ? b64_chars[w >> 6 & 63] : '=';
        out[o++] = n > 2 ? b64_chars[w & 63] : '=';
    }
    return o;
}

/* ---- meta flags ---------------------------------------------------------------------------- */

/* The argument of a flag token (what follows its letter). */
static slice flag_arg(const slice *t)
{
    return (slice){t->p + 1, t->len - 1};
}

/* memcached's _meta_flag_preparse: every token's first character is a flag, each at most once.
 * Numeric arguments that do not parse leave an error and parsing goes on (a later error wins,
 * as in memcached); an unknown flag ends it at once. */
const char *mc_meta_parse(const slice *tok, int first, int ntok, mc_meta *m)
{
    unsigned char seen[128] = {0};
    const char *err = NULL;
    memset(m, 0, sizeof(*m));
    for (int i = first; i < ntok; i++) {
        unsigned char o = (unsigned char)tok[i].p[0];
        if (o >= 127 || seen[o])
            return "CLIENT_ERROR duplicate flag";
        seen[o] = 1;
        slice a = flag_arg(&tok[i]);
        switch (o) {
        case 'b': m->base64 = 1; break;
        case 'N':
            m->vivify = 1;
            if (!mc_strtol32(&a, &m->vivify_ttl))
                err = "CLIENT_ERROR bad token in command line format";
            break;
        case 'T':
            m->has_ttl = 1;
            if (!mc_strtol32(&a, &m->ttl))
                err = "CLIENT_ERROR bad token in command line format";
            break;
        case 'R':
            m->has_recache = 1;
            if (!mc_strtol32(&a, &m->recache))
                err = "CLIENT_ERROR bad token in command line format";
            break;
        case 'l': m->la_ret = 1; break;
        case 'O': m->opaque = tok[i]; break;
        case 'P':
        case 'L': break; /* proxy hints: ignored */
        case 'k': m->key_ret = 1; break;
        case 's': m->size_ret = 1; break;
        case 't': m->ttl_ret = 1; break;
        case 'c': m->cas_ret = 1; break;
        case 'f': m->flags_ret = 1; break;
        case 'v': m->value = 1; break;
        case 'h': m->hit_ret = 1; break;
        case 'u': m->no_bump = 1; break;
        case 'q': m->quiet = 1; break;
        case 'F':
            m->has_flags = 1;
            if (!mc_strtoul32(&a, &m->client_flags))
                err = ERR_FORMAT;
            break;
        case 'C':
            m->has_cas = 1;
            if (!mc_strtoull(&a, &m->cas))
                err = "CLIENT_ERROR bad token in command line format";
            break;
        case 'E': /* memcached 1.6.21+: the CAS the change gives the item */
            m->has_new_cas = 1;
            if (!mc_strtoull(&a, &m->new_cas))
                err = "CLIENT_ERROR bad token in command line format";
            break;
        case 'M':
            if (tok[i].len != 2)
                err = "CLIENT_ERROR incorrect length for M token";
            else
                m->mode = tok[i].p[1];
            break;
        case 'J':
            if (!mc_strtoull(&a, &m->initial))
                err = "CLIENT_ERROR invalid numeric initial value";
            break;
        case 'D':
            if (!mc_strtoull(&a, &m->delta))
                err = "CLIENT_ERROR invalid numeric delta value";
            break;
        case 'I': m->invalidate = 1; break;
        default: return "CLIENT_ERROR invalid flag";
        }
    }
    return err;
}

/* ---- the command line ---------------------------------------------------------------------- */

/* Cuts line[0..len) at spaces into *tok (grown as needed). Returns the token count. */
static int tokenize(const char *line, size_t len, slice **tok, int *tokcap)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (n == *tokcap) {
            int cap = *tokcap ? *tokcap * 2 : MC_TOKENS_MAX;
            *tok = mem_realloc(*tok, sizeof(slice) * (size_t)cap);
            *tokcap = cap;
        }
        (*tok)[n++] = (slice){line + start, i - start};
    }
    return n;
}

/* memcached's token count for a command other than get: the tokenizer stops after
 * MC_TOKENS_MAX - 1 tokens, and the count includes a terminal token. */
static int mc_ntokens(int ntok)
{
    return (ntok < MC_TOKENS_MAX - 1 ? ntok : MC_TOKENS_MAX - 1) + 1;
}

/* set_noreply_maybe: the last token memcached saw is "noreply". */
static int noreply_maybe(const slice *tok, int ntok)
{
    int last = mc_ntokens(ntok) - 2;
    return last >= 0 && mc_is(&tok[last], "noreply");
}

static int fail(mc_text_req *r, const char *err)
{
    r->op = MT_NONE;
    r->error = err;
    return MCT_PARSE_OK;
}

/* A meta command's error: answered whatever q says. */
static int fail_always(mc_text_req *r, const char *err)
{
    r->error_always = 1;
    return fail(r, err);
}

/* Finds the line; *line_len excludes the terminator, *consumed includes it. Returns
 * MCT_PARSE_OK, MCT_PARSE_INCOMPLETE, or MCT_PARSE_CLOSE for a line too long to be anything. */
static int find_line(const char *p, size_t n, size_t *line_len, size_t *consumed)
{
    const char *nl = memchr(p, '\n', n);
    if (!nl) {
        if (n <= MC_LINE_MAX)
            return MCT_PARSE_INCOMPLETE;
        /* Only a long multiget may go on without a newline (memcached's rule). */
        size_t sp = 0;
        while (sp < n && p[sp] == ' ')
            sp++;
        int multiget =
            sp <= MC_MULTIGET_PREFIX_MAX && ((n - sp >= 4 && !memcmp(p + sp, "get ", 4)) ||
                                             (n - sp >= 5 && !memcmp(p + sp, "gets ", 5)));
        return multiget && n <= MC_MULTIGET_LINE_MAX ? MCT_PARSE_INCOMPLETE : MCT_PARSE_CLOSE;
    }
    size_t len = (size_t)(nl - p);
    *consumed = len + 1;
    if (len > 1 && p[len - 1] == '\r')
        len--;
    *line_len = len;
    return MCT_PARSE_OK;
}

/* Reads the data block of a storage command: `vlen` bytes and \r\n after the line. */
static int take_data(const char *p, size_t n, size_t vlen, mc_text_req *r)
{
    if (n - r->consumed < vlen + 2)
        return MCT_PARSE_INCOMPLETE;
    const char *d = p + r->consumed;
    r->consumed += vlen + 2;
    if (d[vlen] != '\r' || d[vlen + 1] != '\n')
        return fail(r, ERR_BAD_CHUNK);
    r->data = (slice){d, vlen};
    return MCT_PARSE_OK;
}

/* An item of vlen value bytes under key would pass -I. */
static int too_large(size_t klen, long long vlen, long long max_item)
{
    return (long long)klen + vlen + MC_ITEM_OVERHEAD > max_item;
}

/* set, add, replace, append, prepend, cas (process_update_command). */
static int parse_update(const char *p, size_t n, long long max_item, int op, const slice *tok,
                        int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    int with_cas = op == MT_CAS;
    if (nt != (with_cas ? 7 : 6) && nt != (with_cas ? 8 : 7))
        return fail(r, "ERROR");
    r->noreply = noreply_maybe(tok, ntok);
    if (tok[1].len > MC_KEY_MAX)
        return fail(r, ERR_FORMAT);
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas;
    if (!mc_strtoul32(&tok[2], &flags) || !mc_strtol32(&tok[3], &exptime) ||
        !mc_strtol32(&tok[4], &vlen))
        return fail(r, ERR_FORMAT);
    if (with_cas && !mc_strtoull(&tok[5], &cas))
        return fail(r, ERR_FORMAT);
    if (vlen < 0 || vlen > INT_MAX - 2)
        return fail(r, ERR_FORMAT);
    r->op = op;
    if (too_large(tok[1].len, vlen, max_item)) {
        r->too_large = 1;
        r->swallow = (size_t)vlen + 2;
        return MCT_PARSE_OK;
    }
    return take_data(p, n, (size_t)vlen, r);
}

/* Decodes a meta command's key (flag b) into r->key and points tok[1] at it. */
static const char *meta_key(const mc_meta *m, slice *tok, mc_text_req *r)
{
    if (!m->base64)
        return NULL;
    size_t k = mc_base64_decode(tok[1].p, tok[1].len, r->key, sizeof(r->key));
    if (!k)
        return "CLIENT_ERROR error decoding key";
    tok[1] = (slice){r->key, k};
    return NULL;
}

static int opaque_ok(const mc_meta *m)
{
    return m->opaque.len <= MC_OPAQUE_MAX;
}

/* mg, md, ma (process_mget/mdelete/marithmetic_command's checks). */
static int parse_meta_keyed(int op, slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt < 3)
        return fail(r, "ERROR");
    if (tok[1].len > MC_KEY_MAX)
        return fail_always(r, ERR_FORMAT);
    if (nt > MC_META_TOKENS_MAX)
        return fail_always(r, op == MT_MG ? "CLIENT_ERROR options flags are too long"
                                          : "CLIENT_ERROR options flags too long");
    mc_meta m;
    const char *err = mc_meta_parse(tok, 2, nt - 1, &m);
    if (!err)
        err = meta_key(&m, tok, r);
    if (err)
        return fail_always(r, op == MT_MG ? err : "CLIENT_ERROR invalid or duplicate flag");
    if (op == MT_MA && m.mode && !strchr("I+D-", m.mode))
        return fail_always(r, "CLIENT_ERROR invalid mode for ma M token");
    if (!opaque_ok(&m))
        return fail_always(r, "CLIENT_ERROR opaque token too long");
    r->op = op;
    r->ntok = nt - 1;
    r->noreply = m.quiet;
    r->writes = op == MT_MG && (m.vivify || m.has_ttl);
    return MCT_PARSE_OK;
}

/* ms <key> <datalen> <flags>* and its data block (process_mset_command). */
static int parse_ms(const char *p, size_t n, long long max_item, slice *tok, int ntok,
                    mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt < 3)
        return fail(r, "ERROR");
    if (tok[1].len > MC_KEY_MAX || nt == 3)
        return fail_always(r, ERR_FORMAT);
    if (nt > MC_META_TOKENS_MAX)
        return fail_always(r, "CLIENT_ERROR options flags too long");
    int32_t vlen;
    if (!mc_strtol32(&tok[2], &vlen) || vlen < 0 || vlen > INT_MAX - 2)
        return fail_always(r, ERR_FORMAT);
    /* From here on an error also discards the data block. */
    mc_meta m;
    const char *err = mc_meta_parse(tok, 3, nt - 1, &m);
    if (!err)
        err = meta_key(&m, tok, r);
    if (!err && !opaque_ok(&m))
        err = "CLIENT_ERROR opaque token too long";
    if (!err && m.mode && !strchr("EAPRS", m.mode))
        err = "CLIENT_ERROR invalid mode for ms M token";
    if (err) {
        r->swallow = (size_t)vlen + 2;
        return fail_always(r, err);
    }
    r->op = MT_MS;
    r->ntok = nt - 1;
    r->noreply = m.quiet;
    if (too_large(tok[1].len, vlen, max_item)) {
        r->too_large = 1;
        r->swallow = (size_t)vlen + 2;
        return MCT_PARSE_OK;
    }
    int rc = take_data(p, n, (size_t)vlen, r);
    if (r->error)
        r->error_always = 1; /* a bad data chunk of ms is always answered */
    return rc;
}

/* me <key> [b] (process_meta_command). */
static int parse_me(slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt < 3 || tok[1].len > MC_KEY_MAX)
        return fail(r, ERR_FORMAT);
    if (nt >= 4 && mc_is(&tok[2], "b")) {
        size_t k = mc_base64_decode(tok[1].p, tok[1].len, r->key, sizeof(r->key));
        if (!k)
            return fail(r, ERR_FORMAT);
        tok[1] = (slice){r->key, k};
    }
    r->op = MT_ME;
    r->ntok = nt - 1;
    return MCT_PARSE_OK;
}

/* get, gets, gat, gats, bget: every key checked up front, as memcached drops a reply begun
 * before a key that is too long and answers only the error. */
static int parse_get(int op, const slice *tok, int ntok, mc_text_req *r)
{
    int first = 1;
    if (op == MT_GAT || op == MT_GATS) {
        int32_t exptime;
        if (!mc_strtol32(&tok[1], &exptime))
            return fail(r, ERR_EXPTIME);
        first = 2;
    }
    for (int i = first; i < ntok; i++) {
        if (tok[i].len <= MC_KEY_MAX)
            continue;
        if ((op == MT_GAT || op == MT_GATS) && i > first) {
            /* memcached touched the keys before this one, then answers only the error */
            r->op = op;
            r->ntok = i;
            r->touch_then_fail = 1;
            return MCT_PARSE_OK;
        }
        return fail(r, ERR_FORMAT);
    }
    r->op = op; /* "gat 10" names no key: memcached answers END */
    return MCT_PARSE_OK;
}

static int parse_arith(int op, const slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt != 4 && nt != 5)
        return fail(r, "ERROR");
    r->noreply = noreply_maybe(tok, ntok);
    uint64_t delta;
    if (tok[1].len > MC_KEY_MAX)
        return fail(r, ERR_FORMAT);
    if (!mc_strtoull(&tok[2], &delta))
        return fail(r, ERR_DELTA);
    r->op = op;
    return MCT_PARSE_OK;
}

static int parse_delete(const slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt < 3 || nt > 5)
        return fail(r, "ERROR");
    if (nt > 3) {
        int hold_is_zero = mc_is(&tok[2], "0");
        int sets_noreply = noreply_maybe(tok, ntok);
        r->noreply = sets_noreply;
        int valid = (nt == 4 && (hold_is_zero || sets_noreply)) ||
                    (nt == 5 && hold_is_zero && sets_noreply);
        if (!valid)
            return fail(r, ERR_DELETE_USAGE);
    }
    if (tok[1].len > MC_KEY_MAX)
        return fail(r, ERR_FORMAT);
    r->op = MT_DELETE;
    return MCT_PARSE_OK;
}

static int parse_touch(const slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt != 4 && nt != 5)
        return fail(r, "ERROR");
    r->noreply = noreply_maybe(tok, ntok);
    int32_t exptime;
    if (tok[1].len > MC_KEY_MAX)
        return fail(r, ERR_FORMAT);
    if (!mc_strtol32(&tok[2], &exptime))
        return fail(r, ERR_EXPTIME);
    r->op = MT_TOUCH;
    return MCT_PARSE_OK;
}

static int parse_flush_all(const slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt < 2 || nt > 4)
        return fail(r, "ERROR");
    r->noreply = noreply_maybe(tok, ntok);
    int32_t exptime;
    if (nt != (r->noreply ? 3 : 2) && !mc_strtol32(&tok[1], &exptime))
        return fail(r, ERR_EXPTIME);
    r->op = MT_FLUSH_ALL;
    return MCT_PARSE_OK;
}

static int parse_verbosity(const slice *tok, int ntok, mc_text_req *r)
{
    int nt = mc_ntokens(ntok);
    if (nt != 3 && nt != 4)
        return fail(r, "ERROR");
    r->noreply = noreply_maybe(tok, ntok);
    uint32_t level;
    if (!mc_strtoul32(&tok[1], &level))
        return fail(r, ERR_FORMAT);
    r->op = MT_VERBOSITY;
    return MCT_PARSE_OK;
}

/* Before authentication (requirepass) every line is an attempt at memcached's ASCII
 * authentication: a "set" whose data is "username password". memcached reads size + 2 bytes and
 * wants them to end in \r\n. tok[0..1] become user and password. */
static int parse_auth_payload(const char *p, size_t n, const slice *tok, int ntok, mc_text_req *r,
                              slice **toks, int *tokcap)
{
    uint32_t size;
    if (mc_ntokens(ntok) < 6 || !mc_is(&tok[0], "set") || !mc_strtoul32(&tok[4], &size))
        return fail(r, ERR_UNAUTH);
    if (n - r->consumed < (size_t)size + 2)
        return MCT_PARSE_INCOMPLETE;
    const char *d = p + r->consumed;
    r->consumed += (size_t)size + 2;
    if (d[size] != '\r' || d[size + 1] != '\n')
        return fail(r, ERR_AUTH_TERM);
    int k = tokenize(d, size, toks, tokcap);
    if (k < 2)
        return fail(r, ERR_AUTH_FORMAT);
    r->op = MT_AUTH;
    r->ntok = 2;
    return MCT_PARSE_OK;
}

/* Resolves the command name (process_command_ascii's order: meta commands, then by first
 * letter) and checks it. */
static int parse_command(const char *p, size_t n, long long max_item, mc_text_req *r, slice *tok,
                         int ntok)
{
    if (ntok < 1 || tok[0].len < 2)
        return fail(r, "ERROR");
    const slice *c = &tok[0];
    if (c->p[0] == 'm' && c->len == 2) {
        switch (c->p[1]) {
        case 'g': return parse_meta_keyed(MT_MG, tok, ntok, r);
        case 's': return parse_ms(p, n, max_item, tok, ntok, r);
        case 'd': return parse_meta_keyed(MT_MD, tok, ntok, r);
        case 'a': return parse_meta_keyed(MT_MA, tok, ntok, r);
        case 'e': return parse_me(tok, ntok, r);
        case 'n':
            if (ntok != 1)
                return fail(r, "ERROR");
            r->op = MT_MN;
            return MCT_PARSE_OK;
        default: return fail(r, "ERROR");
        }
    }
    static const struct {
        const char *name;
        int op;
    } updates[] = {{"set", MT_SET},         {"add", MT_ADD},         {"append", MT_APPEND},
                   {"prepend", MT_PREPEND}, {"replace", MT_REPLACE}, {"cas", MT_CAS}};
    for (size_t i = 0; i < sizeof(updates) / sizeof(updates[0]); i++)
        if (mc_is(c, updates[i].name))
            return parse_update(p, n, max_item, updates[i].op, tok, ntok, r);
    static const struct {
        const char *name;
        int op;
    } gets[] = {
        {"get", MT_GET}, {"gets", MT_GETS}, {"gat", MT_GAT}, {"gats", MT_GATS}, {"bget", MT_GET}};
    for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++)
        if (mc_is(c, gets[i].name))
            return ntok < 2 ? fail(r, "ERROR") : parse_get(gets[i].op, tok, ntok, r);
    if (mc_is(c, "incr") || mc_is(c, "decr"))
        return parse_arith(c->p[0] == 'i' ? MT_INCR : MT_DECR, tok, ntok, r);
    if (mc_is(c, "delete"))
        return parse_delete(tok, ntok, r);
    if (mc_is(c, "touch"))
        return parse_touch(tok, ntok, r);
    if (mc_is(c, "flush_all"))
        return parse_flush_all(tok, ntok, r);
    if (mc_is(c, "verbosity"))
        return parse_verbosity(tok, ntok, r);
    if (mc_is(c, "version")) {
        r->op = MT_VERSION;
        return MCT_PARSE_OK;
    }
    if (mc_is(c, "quit")) {
        r->op = MT_QUIT;
        return MCT_PARSE_OK;
    }
    if (mc_is(c, "stats")) {
        r->op = MT_STATS;
        r->ntok = mc_ntokens(ntok) - 1;
        return MCT_PARSE_OK;
    }
    if (mc_is(c, "shutdown"))
        return fail(r, "ERROR: shutdown not enabled");
    return fail(r, "ERROR");
}

int mc_text_parse(const char *p, size_t n, long long max_item, int authenticated, mc_text_req *r,
                  slice **tok, int *tokcap)
{
    memset(r, 0, offsetof(mc_text_req, key));
    size_t line_len = 0;
    int rc = find_line(p, n, &line_len, &r->consumed);
    if (rc != MCT_PARSE_OK)
        return rc;
    int ntok = tokenize(p, line_len, tok, tokcap);
    r->ntok = ntok;
    if (!authenticated)
        return parse_auth_payload(p, n, *tok, ntok, r, tok, tokcap);
    return parse_command(p, n, max_item, r, *tok, ntok);
}
