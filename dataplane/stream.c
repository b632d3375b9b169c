/* The stream type's data structure: nodes of delta-encoded entries under an idtree, iteration,
 * trimming, consumer groups. See stream.h.
 *
 * Node layout (one zmalloc block after a small header):
 *
 *   master:  <varint nfields> <field>...
 *   entry:   <flags:1> <varint ms-delta> <varint zigzag seq-delta>
 *            [<varint nfields> <field> <value>...]   unless SAMEFIELDS
 *            [<value>...]                            with SAMEFIELDS (the master's fields)
 *            <backlen>                               the entry's length, readable backwards
 *
 * An element is a varint header, then bytes: header = len << 1 for a string, or
 * (zigzag(v) << 1) | 1 for a string that reads as an integer (stored as the integer, like
 * listpack does). The backlen is a varint written back to front so that iteration can walk a
 * node from its end. Deleting an entry sets its DELETED flag in place; the node goes away with
 * its last live entry, as in Redis.
 *
 * Each node also tracks how many bytes Redis's listpack for the same entries would take, so
 * that new nodes start exactly where Redis starts them (stream-node-max-bytes is about Redis's
 * bytes), which keeps approximate trimming and XINFO's node counts identical to Redis's. */
#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "server.h"
#include "zmalloc.h"

#define SF_DELETED STREAM_ENTRY_DELETED
#define SF_SAMEFIELDS STREAM_ENTRY_SAMEFIELDS

/* Redis's STREAM_LISTPACK_MAX_SIZE: the largest node, and the largest entry. */
#define STREAM_NODE_MAX_SIZE (1u << 30)
/* Growth of the tail node: by half again, at least this many bytes. */
#define SNODE_GROW_MIN 64
/* Integers with a magnitude below this are stored as integers (their zigzag form, shifted
 * left by the tag bit, must fit 64 bits). */
#define EL_INT_LIMIT (1LL << 62)

/* Redis listpack constants, for computing the size Redis would give a node. */
#define RLP_HEADER_AND_END 7 /* 6-byte header + end byte */
#define RLP_INT_STR_MAX 20   /* longer strings are never integer-encoded */

typedef struct snode {
    uint32_t used;    /* bytes of data[] in use */
    uint32_t cap;     /* bytes of data[] allocated */
    uint32_t count;   /* live entries */
    uint32_t deleted; /* tombstones */
    uint32_t rbase;   /* Redis's listpack bytes for this node, minus its count/deleted fields */
    uint32_t first;   /* offset of the first entry (the master fields come before it) */
    unsigned char data[];
} snode;

/* A decoded entry header. */
typedef struct sentry {
    uint32_t off;  /* of the flags byte */
    uint32_t next; /* past the backlen: the next entry */
    int flags;
    stream_id id;
    long nfields;
    const unsigned char *fields; /* first field, or first value with SAMEFIELDS */
} sentry;

/* ---- varints and elements ------------------------------------------------------------------ */

static size_t uv_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static unsigned char *uv_put(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static const unsigned char *uv_get(const unsigned char *p, uint64_t *v)
{
    uint64_t r = 0;
    int shift = 0;
    while (*p & 0x80) {
        r |= (uint64_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    *v = r | ((uint64_t)*p++ << shift);
    return p;
}

/* The backlen: groups of 7 bits, least significant last, every byte but the first flagged. */
static unsigned char *bl_put(unsigned char *p, uint64_t len)
{
    size_t n = uv_len(len);
    for (size_t i = 0; i < n; i++) {
        unsigned char g = (unsigned char)((len >> (7 * i)) & 0x7f);
        p[n - 1 - i] = (unsigned char)(i + 1 < n ? g | 0x80 : g);
    }
    return p + n;
}

/* Reads the backlen that ends at `end`; returns its first byte. */
static const unsigned char *bl_get(const unsigned char *end, uint64_t *len)
{
    const unsigned char *p = end - 1;
    uint64_t v = *p & 0x7f;
    int shift = 7;
    while (*p & 0x80) {
        p--;
        v |= (uint64_t)(*p & 0x7f) << shift;
        shift += 7;
    }
    *len = v;
    return p;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); /* all ones when v < 0 */
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int el_as_int(const char *s, size_t len, long long *v)
{
    return len > 0 && len <= RLP_INT_STR_MAX && str_to_ll(s, len, v) && *v > -EL_INT_LIMIT &&
           *v < EL_INT_LIMIT;
}

static size_t el_size(const char *s, size_t len)
{
    long long v;
    if (el_as_int(s, len, &v))
        return uv_len(zigzag(v) << 1 | 1);
    return uv_len((uint64_t)len << 1) + len;
}

static unsigned char *el_put(unsigned char *p, const char *s, size_t len)
{
    long long v;
    if (el_as_int(s, len, &v))
        return uv_put(p, zigzag(v) << 1 | 1);
    p = uv_put(p, (uint64_t)len << 1);
    memcpy(p, s, len);
    return p + len;
}

static const unsigned char *el_get(const unsigned char *p, const char **s, size_t *len,
                                   char tmp[OBJ_INT_STR_MAX])
{
    uint64_t h;
    p = uv_get(p, &h);
    if (h & 1) {
        *len = (size_t)ll_to_str(tmp, unzigzag(h >> 1));
        *s = tmp;
        return p;
    }
    *len = (size_t)(h >> 1);
    *s = (const char *)p;
    return p + *len;
}

static const unsigned char *el_skip(const unsigned char *p)
{
    uint64_t h;
    p = uv_get(p, &h);
    return (h & 1) ? p : p + (h >> 1);
}

static int el_eq(const unsigned char *p, const char *s, size_t len)
{
    char tmp[OBJ_INT_STR_MAX];
    const char *e;
    size_t elen;
    el_get(p, &e, &elen, tmp);
    return elen == len && memcmp(e, s, len) == 0;
}

/* ---- what Redis's listpack would take ------------------------------------------------------ */

static uint32_t rlp_backlen(uint64_t l)
{
    if (l <= 127)
        return 1;
    if (l < 16383)
        return 2;
    if (l < 2097151)
        return 3;
    if (l < 268435455)
        return 4;
    return 5;
}

static uint32_t rlp_int(int64_t v)
{
    uint32_t enc;
    if (v >= 0 && v <= 127)
        enc = 1;
    else if (v >= -4096 && v <= 4095)
        enc = 2;
    else if (v >= -32768 && v <= 32767)
        enc = 3;
    else if (v >= -8388608 && v <= 8388607)
        enc = 4;
    else if (v >= INT32_MIN && v <= INT32_MAX)
        enc = 5;
    else
        enc = 9;
    return enc + rlp_backlen(enc);
}

static uint64_t rlp_str(const char *s, size_t len)
{
    long long v;
    if (len > 0 && len <= RLP_INT_STR_MAX && str_to_ll(s, len, &v))
        return rlp_int(v);
    uint64_t enc = len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + (uint64_t)len;
    return enc + rlp_backlen(enc);
}

static uint64_t snode_rbytes(const snode *n)
{
    return n->rbase + rlp_int(n->count) + rlp_int(n->deleted);
}

/* ---- IDs --------------------------------------------------------------------------------- */

int stream_id_incr(stream_id *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            id->ms = id->seq = 0;
            return -1;
        }
        id->ms++;
        id->seq = 0;
        return 0;
    }
    id->seq++;
    return 0;
}

int stream_id_decr(stream_id *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) {
            id->ms = id->seq = UINT64_MAX;
            return -1;
        }
        id->ms--;
        id->seq = UINT64_MAX;
        return 0;
    }
    id->seq--;
    return 0;
}

static int u64_format(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

int stream_id_format(char buf[STREAM_ID_STR_MAX], const stream_id *id)
{
    int n = u64_format(buf, id->ms);
    buf[n++] = '-';
    n += u64_format(buf + n, id->seq);
    buf[n] = '\0';
    return n;
}

/* Redis's string2ull: its strict integer rules first, then strtoull's laxer ones. */
static int parse_ull(const char *s, unsigned long long *out)
{
    long long ll;
    if (str_to_ll(s, strlen(s), &ll)) {
        if (ll < 0)
            return 0;
        *out = (unsigned long long)ll;
        return 1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || !(*s != '\0' && *end == '\0'))
        return 0;
    *out = v;
    return 1;
}

#define STREAM_ID_ARG_MAX 127 /* longer arguments are never IDs (Redis's parse buffer) */

int stream_id_parse(const char *p, size_t len, stream_id *id, uint64_t missing_seq, int strict,
                    int *seq_given)
{
    char buf[STREAM_ID_ARG_MAX + 1];
    if (len > STREAM_ID_ARG_MAX)
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0')
        return -1;
    if (seq_given)
        *seq_given = 1;
    if (buf[0] == '-' && buf[1] == '\0') {
        id->ms = id->seq = 0;
        return 0;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        id->ms = id->seq = UINT64_MAX;
        return 0;
    }
    unsigned long long ms, seq;
    char *dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    if (!parse_ull(buf, &ms))
        return -1;
    if (dash) {
        if (seq_given && dash[1] == '*' && dash[2] == '\0') {
            seq = 0;
            *seq_given = 0;
        } else if (!parse_ull(dash + 1, &seq)) {
            return -1;
        }
    } else {
        seq = missing_seq;
    }
    id->ms = ms;
    id->seq = seq;
    return 0;
}

/* ---- nodes ------------------------------------------------------------------------------- */

static void node_free(stream *s, snode *n)
{
    s->node_bytes -= zmalloc_size(n);
    zfree(n);
}

/* Resizes n to hold cap bytes of data; returns its new address. */
static snode *node_resize(stream *s, snode *n, size_t cap)
{
    s->node_bytes -= zmalloc_size(n);
    n = zrealloc(n, sizeof(snode) + cap);
    size_t usable = zmalloc_size(n);
    s->node_bytes += usable;
    n->cap = (uint32_t)(usable - sizeof(snode) > UINT32_MAX ? UINT32_MAX : usable - sizeof(snode));
    return n;
}

static long node_master_fields(const snode *n, const unsigned char **first)
{
    uint64_t nf;
    *first = uv_get(n->data, &nf);
    return (long)nf;
}

/* A node whose master fields are those of fv, with room for `extra` more bytes. */
static snode *node_new(stream *s, const slice *fv, long nfields, size_t extra)
{
    size_t mlen = uv_len((uint64_t)nfields);
    uint64_t rbase = RLP_HEADER_AND_END + rlp_int(nfields) + rlp_int(0);
    for (long i = 0; i < nfields; i++) {
        mlen += el_size(fv[2 * i].p, fv[2 * i].len);
        rbase += rlp_str(fv[2 * i].p, fv[2 * i].len);
    }
    snode *n = zmalloc(sizeof(snode) + mlen + extra);
    size_t usable = zmalloc_size(n);
    s->node_bytes += usable;
    n->cap = (uint32_t)(usable - sizeof(snode));
    unsigned char *p = uv_put(n->data, (uint64_t)nfields);
    for (long i = 0; i < nfields; i++)
        p = el_put(p, fv[2 * i].p, fv[2 * i].len);
    n->used = n->first = (uint32_t)mlen;
    n->count = n->deleted = 0;
    n->rbase = (uint32_t)rbase;
    return n;
}

static int node_same_fields(const snode *n, const slice *fv, long nfields)
{
    const unsigned char *p;
    if (node_master_fields(n, &p) != nfields)
        return 0;
    for (long i = 0; i < nfields; i++, p = el_skip(p))
        if (!el_eq(p, fv[2 * i].p, fv[2 * i].len))
            return 0;
    return 1;
}

/* What an entry takes: bytes in our node, and bytes in Redis's listpack. */
typedef struct entry_sizes {
    uint64_t msd, seqz; /* ms delta, zigzag seq delta */
    size_t body;        /* before the backlen */
    size_t need;        /* with the backlen */
    uint64_t rsize;     /* Redis's listpack bytes */
} entry_sizes;

/* Sizes of entry id (fields fv, or only their values with SF_SAMEFIELDS) under master. */
static void entry_measure(const stream_id *master, const stream_id *id, int flags, const slice *fv,
                          long nfields, entry_sizes *sz)
{
    int same = (flags & SF_SAMEFIELDS) != 0;
    int64_t seqd = (int64_t)(id->seq - master->seq);
    sz->msd = id->ms - master->ms;
    sz->seqz = zigzag(seqd);
    sz->body = 1 + uv_len(sz->msd) + uv_len(sz->seqz) + (same ? 0 : uv_len((uint64_t)nfields));
    sz->rsize =
        rlp_int(flags) + rlp_int((int64_t)sz->msd) + rlp_int(seqd) + (same ? 0 : rlp_int(nfields));
    for (long i = 0; i < nfields; i++) {
        if (!same) {
            sz->body += el_size(fv[2 * i].p, fv[2 * i].len);
            sz->rsize += rlp_str(fv[2 * i].p, fv[2 * i].len);
        }
        sz->body += el_size(fv[2 * i + 1].p, fv[2 * i + 1].len);
        sz->rsize += rlp_str(fv[2 * i + 1].p, fv[2 * i + 1].len);
    }
    int64_t lp_count = nfields + 3 + (same ? 0 : nfields + 1); /* elements of the entry */
    sz->rsize += rlp_int(lp_count);
    sz->need = sz->body + uv_len(sz->body);
}

/* Appends entry id to node n (master ID master), growing the node as needed; a DELETED entry
 * counts as a tombstone. Returns the node's new address (the caller updates the index). */
static snode *node_add_entry(stream *s, snode *n, const stream_id *master, const stream_id *id,
                             int flags, const slice *fv, long nfields)
{
    entry_sizes sz;
    entry_measure(master, id, flags, fv, nfields, &sz);
    if (n->used + sz.need > n->cap) {
        size_t grow = n->cap / 2 > SNODE_GROW_MIN ? n->cap / 2 : SNODE_GROW_MIN;
        size_t cap = n->used + sz.need > n->cap + grow ? n->used + sz.need : n->cap + grow;
        n = node_resize(s, n, cap);
    }
    int same = (flags & SF_SAMEFIELDS) != 0;
    unsigned char *p = n->data + n->used;
    *p++ = (unsigned char)flags;
    p = uv_put(p, sz.msd);
    p = uv_put(p, sz.seqz);
    if (!same)
        p = uv_put(p, (uint64_t)nfields);
    for (long i = 0; i < nfields; i++) {
        if (!same)
            p = el_put(p, fv[2 * i].p, fv[2 * i].len);
        p = el_put(p, fv[2 * i + 1].p, fv[2 * i + 1].len);
    }
    p = bl_put(p, sz.body);
    n->used = (uint32_t)(p - n->data);
    if (flags & SF_DELETED)
        n->deleted++;
    else
        n->count++;
    n->rbase = (uint32_t)(n->rbase + sz.rsize);
    return n;
}

/* Decodes the entry at off. */
static void entry_parse(const snode *n, const stream_id *master, uint32_t off, sentry *e)
{
    const unsigned char *p = n->data + off;
    e->off = off;
    e->flags = *p++;
    uint64_t msd, seqz;
    p = uv_get(p, &msd);
    p = uv_get(p, &seqz);
    e->id.ms = master->ms + msd;
    e->id.seq = master->seq + (uint64_t)unzigzag(seqz);
    long skip;
    if (e->flags & SF_SAMEFIELDS) {
        const unsigned char *mf;
        e->nfields = node_master_fields(n, &mf);
        skip = e->nfields;
    } else {
        uint64_t nf;
        p = uv_get(p, &nf);
        e->nfields = (long)nf;
        skip = 2 * e->nfields;
    }
    e->fields = p;
    while (skip--)
        p = el_skip(p);
    size_t body = (size_t)(p - (n->data + off));
    e->next = (uint32_t)(off + body + uv_len(body));
}

/* Decodes the entry that ends (backlen included) at end. */
static void entry_parse_before(const snode *n, const stream_id *master, uint32_t end, sentry *e)
{
    uint64_t body;
    const unsigned char *bl = bl_get(n->data + end, &body);
    entry_parse(n, master, (uint32_t)(bl - n->data - body), e);
}

/* ---- the stream -------------------------------------------------------------------------- */

stream *stream_new(void)
{
    stream *s = zcalloc(sizeof(stream));
    return s;
}

static void consumer_free(stream_consumer *c)
{
    idtree_clear(&c->pel, NULL);
    zfree(c);
}

static void cg_free(stream_cg *cg)
{
    idtree_clear(&cg->pel, (void (*)(void *))stream_nack_free);
    for (uint32_t i = 0; i < cg->nconsumers; i++)
        consumer_free(cg->consumers[i]);
    zfree(cg->consumers);
    zfree(cg);
}

void stream_free(stream *s)
{
    idtree_clear(&s->nodes, zfree);
    for (uint32_t i = 0; i < s->ngroups; i++)
        cg_free(s->groups[i]);
    zfree(s->groups);
    zfree(s);
}

/* Redis's streamNextID: the clock's ms, or the last ID's successor when the clock is behind. */
static void next_id(const stream_id *last, int64_t now_ms, stream_id *out)
{
    uint64_t ms = now_ms > 0 ? (uint64_t)now_ms : 0;
    if (ms > last->ms) {
        out->ms = ms;
        out->seq = 0;
    } else {
        *out = *last;
        stream_id_incr(out);
    }
}

/* 1 when the tail node n cannot take an entry of totelelen bytes of fields and values (Redis
 * 7.0's rules, on Redis's byte count). */
static int node_full(const snode *n, size_t totelelen)
{
    long long max_bytes = server.cfg.stream_node_max_bytes;
    if (max_bytes <= 0 || max_bytes > STREAM_NODE_MAX_SIZE)
        max_bytes = STREAM_NODE_MAX_SIZE;
    if (snode_rbytes(n) + totelelen >= (uint64_t)max_bytes)
        return 1;
    long long max_entries = server.cfg.stream_node_max_entries;
    return max_entries > 0 && (long long)n->count + n->deleted >= max_entries;
}

int stream_append(stream *s, const slice *fv, long nfields, const stream_id *use_id, int seq_given,
                  int64_t now_ms, stream_id *added)
{
    stream_id id;
    if (!use_id) {
        next_id(&s->last_id, now_ms, &id);
    } else if (seq_given || s->last_id.ms != use_id->ms) {
        id = *use_id;
    } else {
        if (s->last_id.seq == UINT64_MAX)
            return STREAM_ERR_ID;
        id = s->last_id;
        id.seq++;
    }
    if (stream_id_cmp(&id, &s->last_id) <= 0)
        return STREAM_ERR_ID;
    size_t totelelen = 0;
    for (long i = 0; i < 2 * nfields; i++)
        totelelen += fv[i].len;
    if (totelelen > STREAM_NODE_MAX_SIZE)
        return STREAM_ERR_TOO_BIG;

    idtree_iter it;
    snode *n = NULL;
    stream_id master = {0, 0};
    if (idtree_last(&s->nodes, &it)) {
        n = idtree_val(&it);
        master = idtree_key(&it);
        if (node_full(n, totelelen)) {
            if (n->used < n->cap) /* sealed: give back the growth room */
                idtree_set_val(&it, node_resize(s, n, n->used));
            n = NULL;
        }
    }
    int same = n ? node_same_fields(n, fv, nfields) : 1;
    int flags = same ? SF_SAMEFIELDS : 0;
    if (!n) {
        entry_sizes sz;
        entry_measure(&id, &id, flags, fv, nfields, &sz);
        n = node_new(s, fv, nfields, sz.need);
        n = node_add_entry(s, n, &id, &id, flags, fv, nfields);
        idtree_insert(&s->nodes, &id, n);
    } else {
        snode *grown = node_add_entry(s, n, &master, &id, flags, fv, nfields);
        if (grown != n)
            idtree_set_val(&it, grown);
    }

    s->length++;
    s->entries_added++;
    s->last_id = id;
    if (s->length == 1)
        s->first_id = id;
    *added = id;
    return STREAM_OK;
}

/* ---- iteration --------------------------------------------------------------------------- */

static const stream_id id_min = {0, 0};
static const stream_id id_max = {UINT64_MAX, UINT64_MAX};

void stream_iter_start(stream_iter *si, stream *s, const stream_id *start, const stream_id *end,
                       int rev)
{
    si->s = s;
    si->start = start ? *start : id_min;
    si->end = end ? *end : id_max;
    si->rev = rev;
    si->skip_tombstones = 1;
    si->started = 0;
    si->node = NULL;
}

/* Positions si->ti on the first node to read: the node that may hold the range's first ID. */
static int iter_seek(stream_iter *si)
{
    const idtree *t = &si->s->nodes;
    if (si->rev)
        return idtree_seek_le(t, &si->end, &si->ti);
    return idtree_seek_le(t, &si->start, &si->ti) || idtree_first(t, &si->ti);
}

int stream_iter_next(stream_iter *si, stream_id *id, long *nfields)
{
    for (;;) {
        if (!si->node) {
            int ok;
            if (si->started == 2)
                return 0;
            if (!si->started) {
                si->started = 1;
                ok = iter_seek(si);
            } else {
                ok = si->rev ? idtree_prev(&si->ti) : idtree_next(&si->ti);
            }
            if (!ok) {
                si->started = 2;
                return 0;
            }
            snode *n = idtree_val(&si->ti);
            si->node = n;
            si->master = idtree_key(&si->ti);
            si->pos = si->rev ? n->used : n->first;
        }
        snode *n = si->node;
        sentry e;
        if (!si->rev) {
            if (si->pos >= n->used) {
                si->node = NULL;
                continue;
            }
            entry_parse(n, &si->master, si->pos, &e);
            si->pos = e.next;
            if (stream_id_cmp(&e.id, &si->end) > 0)
                goto done;
            if (stream_id_cmp(&e.id, &si->start) < 0)
                continue;
        } else {
            if (si->pos <= n->first) {
                si->node = NULL;
                continue;
            }
            entry_parse_before(n, &si->master, si->pos, &e);
            si->pos = e.off;
            if (stream_id_cmp(&e.id, &si->start) < 0)
                goto done;
            if (stream_id_cmp(&e.id, &si->end) > 0)
                continue;
        }
        if (si->skip_tombstones && (e.flags & SF_DELETED))
            continue;
        si->cur_off = e.off;
        si->cur_flags = e.flags;
        si->fp = e.fields;
        node_master_fields(n, &si->mfp);
        *id = e.id;
        *nfields = e.nfields;
        return 1;
    }
done:
    si->node = NULL;
    si->started = 2;
    return 0;
}

void stream_iter_field(stream_iter *si, const char **f, size_t *flen, const char **v, size_t *vlen)
{
    if (si->cur_flags & SF_SAMEFIELDS)
        si->mfp = el_get(si->mfp, f, flen, si->ftmp);
    else
        si->fp = el_get(si->fp, f, flen, si->ftmp);
    si->fp = el_get(si->fp, v, vlen, si->vtmp);
}

void stream_iter_remove(stream_iter *si, const stream_id *cur)
{
    stream *s = si->s;
    snode *n = si->node;
    n->data[si->cur_off] |= SF_DELETED;
    if (n->count == 1) {
        idtree_remove(&s->nodes, &si->master, NULL);
        node_free(s, n);
    } else {
        n->count--;
        n->deleted++;
    }
    s->length--;
    /* Re-seek from the deleted entry: the node may be gone. */
    stream_id start = si->start, end = si->end;
    if (si->rev)
        end = *cur;
    else
        start = *cur;
    int skip = si->skip_tombstones;
    stream_iter_start(si, s, &start, &end, si->rev);
    si->skip_tombstones = skip;
}

int stream_delete(stream *s, const stream_id *id)
{
    stream_iter si;
    stream_id found;
    long nf;
    stream_iter_start(&si, s, id, id, 0);
    if (!stream_iter_next(&si, &found, &nf))
        return 0;
    stream_iter_remove(&si, &found);
    return 1;
}

int stream_entry_exists(stream *s, const stream_id *id)
{
    stream_iter si;
    stream_id found;
    long nf;
    stream_iter_start(&si, s, id, id, 0);
    return stream_iter_next(&si, &found, &nf);
}

void stream_edge_id(stream *s, int first, int skip_tombstones, stream_id *out)
{
    stream_iter si;
    long nf;
    stream_iter_start(&si, s, NULL, NULL, !first);
    si.skip_tombstones = skip_tombstones;
    if (!stream_iter_next(&si, out, &nf))
        *out = first ? id_max : id_min;
}

/* ---- trimming ---------------------------------------------------------------------------- */

/* Marks entries of the head node n deleted from its start while the strategy wants more gone;
 * returns how many. */
static int64_t trim_in_node(stream *s, snode *n, const stream_id *master, const stream_trim_args *a)
{
    int64_t removed = 0;
    for (uint32_t off = n->first; off < n->used;) {
        sentry e;
        entry_parse(n, master, off, &e);
        int stop = a->strategy == TRIM_MAXLEN ? s->length <= (uint64_t)a->maxlen
                                              : stream_id_cmp(&e.id, &a->minid) >= 0;
        if (stop)
            break;
        if (!(e.flags & SF_DELETED)) {
            n->data[off] |= SF_DELETED;
            removed++;
            s->length--;
        }
        off = e.next;
    }
    n->count -= (uint32_t)removed;
    n->deleted += (uint32_t)removed;
    return removed;
}

int64_t stream_trim(stream *s, const stream_trim_args *a)
{
    if (a->strategy == TRIM_NONE)
        return 0;
    int64_t deleted = 0;
    idtree_iter it;
    while (idtree_first(&s->nodes, &it)) {
        if (a->strategy == TRIM_MAXLEN && s->length <= (uint64_t)a->maxlen)
            break;
        snode *n = idtree_val(&it);
        stream_id master = idtree_key(&it);
        int64_t entries = n->count;
        if (a->limit && deleted + entries > a->limit)
            break;
        int whole;
        if (a->strategy == TRIM_MAXLEN) {
            whole = s->length - (uint64_t)entries >= (uint64_t)a->maxlen;
        } else {
            sentry last; /* tombstones included, as Redis's lpGetEdgeStreamID */
            entry_parse_before(n, &master, n->used, &last);
            whole = stream_id_cmp(&last.id, &a->minid) < 0;
        }
        if (whole) {
            idtree_remove(&s->nodes, &master, NULL);
            node_free(s, n);
            s->length -= (uint64_t)entries;
            deleted += entries;
            continue;
        }
        if (!a->approx)
            deleted += trim_in_node(s, n, &master, a);
        break;
    }
    if (s->length == 0)
        s->first_id = id_min;
    else if (deleted)
        stream_edge_id(s, 1, 1, &s->first_id);
    return deleted;
}

/* ---- XINFO's radix tree figures ------------------------------------------------------------ */

#define RAX_KEY_LEN 16 /* Redis keys its rax by the 128-bit big-endian master ID */

static void rax_key(unsigned char out[RAX_KEY_LEN], const stream_id *id)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        out[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

/* Nodes of a compressed radix tree (rax) over the sorted keys k[lo..hi), all sharing their first
 * `depth` bytes: a compressed node for a common run, a branching node where they differ, an
 * empty node where a key ends. */
static uint64_t rax_count(unsigned char (*k)[RAX_KEY_LEN], size_t lo, size_t hi, int depth)
{
    if (hi - lo == 1)
        return depth < RAX_KEY_LEN ? 2 : 1;
    int p = depth;
    while (p < RAX_KEY_LEN && k[lo][p] == k[hi - 1][p])
        p++;
    uint64_t n = (p > depth ? 1 : 0) + 1;
    for (size_t i = lo; i < hi;) {
        size_t j = i;
        while (j < hi && k[j][p] == k[i][p])
            j++;
        n += rax_count(k, i, j, p + 1);
        i = j;
    }
    return n;
}

uint64_t stream_rax_nodes(const stream *s)
{
    size_t n = s->nodes.size;
    if (!n)
        return 1; /* the empty head node */
    unsigned char(*keys)[RAX_KEY_LEN] = mem_malloc(n * RAX_KEY_LEN);
    idtree_iter it;
    size_t i = 0;
    for (int ok = idtree_first(&s->nodes, &it); ok; ok = idtree_next(&it)) {
        stream_id id = idtree_key(&it);
        rax_key(keys[i++], &id);
    }
    uint64_t count = rax_count(keys, 0, n, 0);
    free(keys);
    return count;
}

/* ---- logical read counters (Redis 7.0) ----------------------------------------------------- */

int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end)
{
    if (!s->length || stream_id_is_zero(&s->max_deleted))
        return 0;
    if (stream_id_cmp(&s->first_id, &s->max_deleted) > 0)
        return 0; /* the latest tombstone is before the first entry */
    const stream_id *from = start ? start : &id_min;
    const stream_id *to = end ? end : &id_max;
    return stream_id_cmp(from, &s->max_deleted) <= 0 && stream_id_cmp(&s->max_deleted, to) <= 0;
}

long long stream_estimate_distance(const stream *s, const stream_id *id)
{
    if (!s->entries_added)
        return 0; /* an empty, never used stream */
    if (!s->length && stream_id_cmp(id, &s->last_id) < 1)
        return (long long)s->entries_added;
    int cmp_last = stream_id_cmp(id, &s->last_id);
    if (cmp_last == 0)
        return (long long)s->entries_added;
    if (cmp_last > 0)
        return STREAM_ENTRIES_READ_INVALID; /* a future ID */
    int cmp_first = stream_id_cmp(id, &s->first_id);
    if (stream_id_is_zero(&s->max_deleted) || stream_id_cmp(&s->max_deleted, &s->first_id) < 0) {
        /* No fragmentation ahead. */
        if (cmp_first < 0)
            return (long long)(s->entries_added - s->length);
        if (cmp_first == 0)
            return (long long)(s->entries_added - s->length + 1);
    }
    return STREAM_ENTRIES_READ_INVALID;
}

/* ---- consumer groups --------------------------------------------------------------------- */

/* Names sort as Redis's rax orders them: bytewise, a prefix first. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r)
        return r;
    return alen < blen ? -1 : alen > blen;
}

static const char *cg_name(const void *p, size_t *len)
{
    const stream_cg *cg = p;
    *len = cg->name_len;
    return cg->name;
}

static const char *consumer_name(const void *p, size_t *len)
{
    const stream_consumer *c = p;
    *len = c->name_len;
    return c->name;
}

/* Binary search of a sorted vector of named items: the index of name, or where it would go. */
static uint32_t vec_search(void *const *items, uint32_t n,
                           const char *(*name_of)(const void *, size_t *), const char *name,
                           size_t len, int *found)
{
    uint32_t lo = 0, hi = n;
    *found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        size_t mlen;
        const char *m = name_of(items[mid], &mlen);
        int r = name_cmp(m, mlen, name, len);
        if (r == 0) {
            *found = 1;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void **vec_insert(void **items, uint32_t *n, uint32_t *cap, uint32_t pos, void *item)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1;
        items = zrealloc(items, sizeof(void *) * *cap);
    }
    memmove(items + pos + 1, items + pos, sizeof(void *) * (*n - pos));
    items[pos] = item;
    (*n)++;
    return items;
}

static void vec_remove(void **items, uint32_t *n, uint32_t pos)
{
    memmove(items + pos, items + pos + 1, sizeof(void *) * (*n - pos - 1));
    (*n)--;
}

stream_cg *stream_cg_lookup(const stream *s, const char *name, size_t len)
{
    int found;
    uint32_t i = vec_search((void *const *)s->groups, s->ngroups, cg_name, name, len, &found);
    return found ? s->groups[i] : NULL;
}

stream_cg *stream_cg_create(stream *s, const char *name, size_t len, const stream_id *last_id,
                            long long entries_read)
{
    int found;
    uint32_t i = vec_search((void *const *)s->groups, s->ngroups, cg_name, name, len, &found);
    if (found)
        return NULL;
    stream_cg *cg = zcalloc(sizeof(stream_cg) + len);
    cg->last_id = *last_id;
    cg->entries_read = entries_read;
    cg->name_len = len;
    memcpy(cg->name, name, len);
    s->groups = (stream_cg **)vec_insert((void **)s->groups, &s->ngroups, &s->groups_cap, i, cg);
    return cg;
}

void stream_cg_destroy(stream *s, stream_cg *cg)
{
    int found;
    uint32_t i =
        vec_search((void *const *)s->groups, s->ngroups, cg_name, cg->name, cg->name_len, &found);
    if (found)
        vec_remove((void **)s->groups, &s->ngroups, i);
    cg_free(cg);
}

stream_consumer *stream_consumer_lookup(const stream_cg *cg, const char *name, size_t len)
{
    int found;
    uint32_t i =
        vec_search((void *const *)cg->consumers, cg->nconsumers, consumer_name, name, len, &found);
    return found ? cg->consumers[i] : NULL;
}

stream_consumer *stream_consumer_create(stream_cg *cg, const char *name, size_t len, int64_t now_ms)
{
    int found;
    uint32_t i =
        vec_search((void *const *)cg->consumers, cg->nconsumers, consumer_name, name, len, &found);
    if (found)
        return NULL;
    stream_consumer *c = zcalloc(sizeof(stream_consumer) + len);
    c->seen_time = now_ms;
    c->name_len = len;
    memcpy(c->name, name, len);
    cg->consumers = (stream_consumer **)vec_insert((void **)cg->consumers, &cg->nconsumers,
                                                   &cg->consumers_cap, i, c);
    return c;
}

uint64_t stream_consumer_delete(stream_cg *cg, stream_consumer *consumer)
{
    uint64_t pending = consumer->pel.size;
    idtree_iter it;
    for (int ok = idtree_first(&consumer->pel, &it); ok; ok = idtree_next(&it)) {
        stream_id id = idtree_key(&it);
        idtree_remove(&cg->pel, &id, NULL);
        stream_nack_free(idtree_val(&it));
    }
    int found;
    uint32_t i = vec_search((void *const *)cg->consumers, cg->nconsumers, consumer_name,
                            consumer->name, consumer->name_len, &found);
    if (found)
        vec_remove((void **)cg->consumers, &cg->nconsumers, i);
    consumer_free(consumer);
    return pending;
}

stream_nack *stream_nack_new(stream_consumer *consumer, int64_t now_ms)
{
    stream_nack *nack = zmalloc(sizeof(stream_nack));
    nack->delivery_time = now_ms;
    nack->delivery_count = 1;
    nack->consumer = consumer;
    return nack;
}

void stream_nack_free(stream_nack *nack)
{
    zfree(nack);
}

void stream_nack_drop(stream_cg *cg, const stream_id *id, stream_nack *nack)
{
    idtree_remove(&cg->pel, id, NULL);
    if (nack->consumer)
        idtree_remove(&nack->consumer->pel, id, NULL);
    stream_nack_free(nack);
}

/* ---- raw nodes (the RDB codec) ------------------------------------------------------------ */

void stream_node_open(stream_node_reader *nr, const void *node, const stream_id *master,
                      uint32_t *count, uint32_t *deleted, long *master_fields)
{
    const snode *n = node;
    nr->node = node;
    nr->master = *master;
    nr->pos = n->first;
    nr->flags = 0;
    *master_fields = node_master_fields(n, &nr->fp);
    nr->mfp = nr->fp;
    *count = n->count;
    *deleted = n->deleted;
}

void stream_node_master_field(stream_node_reader *nr, const char **f, size_t *len)
{
    nr->fp = el_get(nr->fp, f, len, nr->ftmp);
}

int stream_node_next(stream_node_reader *nr, stream_id *id, int *flags, long *nfields)
{
    const snode *n = nr->node;
    if (nr->pos >= n->used)
        return 0;
    sentry e;
    entry_parse(n, &nr->master, nr->pos, &e);
    nr->pos = e.next;
    nr->flags = e.flags;
    nr->fp = e.fields;
    node_master_fields(n, &nr->mfp);
    *id = e.id;
    *flags = e.flags;
    *nfields = e.nfields;
    return 1;
}

void stream_node_field(stream_node_reader *nr, const char **f, size_t *flen, const char **v,
                       size_t *vlen)
{
    if (nr->flags & SF_SAMEFIELDS)
        nr->mfp = el_get(nr->mfp, f, flen, nr->ftmp);
    else
        nr->fp = el_get(nr->fp, f, flen, nr->ftmp);
    nr->fp = el_get(nr->fp, v, vlen, nr->vtmp);
}

void *stream_node_create(stream *s, const slice *fv, long nfields)
{
    return node_new(s, fv, nfields, 0);
}

void *stream_node_append(stream *s, void *node, const stream_id *master, const stream_id *id,
                         int flags, const slice *fv, long nfields)
{
    snode *n = node;
    entry_sizes sz;
    entry_measure(master, id, flags, fv, nfields, &sz);
    if ((uint64_t)n->used + sz.need > STREAM_NODE_MAX_SIZE)
        return NULL;
    return node_add_entry(s, n, master, id, flags, fv, nfields);
}

int stream_node_index(stream *s, const stream_id *master, void *node)
{
    snode *n = node;
    if (n->used < n->cap)
        n = node_resize(s, n, n->used);
    if (!idtree_insert(&s->nodes, master, n)) {
        node_free(s, n);
        return -1;
    }
    return 0;
}

void stream_node_discard(stream *s, void *node)
{
    node_free(s, node);
}

/* ---- copies and sizes -------------------------------------------------------------------- */

static stream_cg *cg_dup(stream *to, const stream_cg *cg)
{
    stream_cg *ncg = stream_cg_create(to, cg->name, cg->name_len, &cg->last_id, cg->entries_read);
    idtree_iter it;
    for (int ok = idtree_first(&cg->pel, &it); ok; ok = idtree_next(&it)) {
        const stream_nack *nack = idtree_val(&it);
        stream_nack *copy = stream_nack_new(NULL, nack->delivery_time);
        copy->delivery_count = nack->delivery_count;
        stream_id id = idtree_key(&it);
        idtree_insert(&ncg->pel, &id, copy);
    }
    for (uint32_t i = 0; i < cg->nconsumers; i++) {
        const stream_consumer *c = cg->consumers[i];
        stream_consumer *nc = stream_consumer_create(ncg, c->name, c->name_len, c->seen_time);
        for (int ok = idtree_first(&c->pel, &it); ok; ok = idtree_next(&it)) {
            stream_id id = idtree_key(&it);
            stream_nack *nack = *idtree_find(&ncg->pel, &id);
            nack->consumer = nc;
            idtree_insert(&nc->pel, &id, nack);
        }
    }
    return ncg;
}

stream *stream_dup(const stream *s)
{
    stream *d = stream_new();
    idtree_iter it;
    for (int ok = idtree_first(&s->nodes, &it); ok; ok = idtree_next(&it)) {
        const snode *n = idtree_val(&it);
        snode *copy = zmalloc(sizeof(snode) + n->used);
        memcpy(copy, n, sizeof(snode) + n->used);
        copy->cap = n->used;
        d->node_bytes += zmalloc_size(copy);
        stream_id key = idtree_key(&it);
        idtree_insert(&d->nodes, &key, copy);
    }
    d->length = s->length;
    d->last_id = s->last_id;
    d->first_id = s->first_id;
    d->max_deleted = s->max_deleted;
    d->entries_added = s->entries_added;
    for (uint32_t i = 0; i < s->ngroups; i++)
        cg_dup(d, s->groups[i]);
    return d;
}

size_t stream_mem_usage(const stream *s)
{
    size_t bytes = zmalloc_size(s) + s->node_bytes + s->nodes.bytes;
    if (s->groups)
        bytes += zmalloc_size(s->groups);
    for (uint32_t i = 0; i < s->ngroups; i++) {
        const stream_cg *cg = s->groups[i];
        size_t nack_size = 0; /* every nack has the same size */
        idtree_iter it;
        if (idtree_first(&cg->pel, &it))
            nack_size = zmalloc_size(idtree_val(&it));
        bytes += zmalloc_size(cg) + cg->pel.bytes + cg->pel.size * nack_size;
        if (cg->consumers)
            bytes += zmalloc_size(cg->consumers);
        for (uint32_t j = 0; j < cg->nconsumers; j++)
            bytes += zmalloc_size(cg->consumers[j]) + cg->consumers[j]->pel.bytes;
    }
    return bytes;
}
