/* Streams in Redis's RDB format; see rdb_stream.h.
 *
 * Our nodes hold the same entries as Redis's listpacks (the same cuts, master fields and
 * tombstones) in a byte format of our own, so each node is transcoded: on the way out into
 * Redis's stream-node listpack, on the way in through stream.h's node builder. That listpack is
 *
 *   master entry:  <count> <deleted> <nfields> <field>... <0>
 *   each entry:    <flags> <ms-diff> <seq-diff> <nfields> <field> <value>...  <lp-count>
 *             or:  <flags> <ms-diff> <seq-diff> <value>...                    <lp-count>
 *
 * the second form for SAMEFIELDS entries (the master's fields, values only). The diffs are
 * relative to the node's master ID (as 64-bit two's complement, as Redis computes them) and
 * lp-count is the number of elements of the entry before it, which lets Redis walk backwards. */
#include "rdb_stream.h"

#include <string.h>

#include "rdb_listpack.h"
#include "stream.h"
#include "zmalloc.h"

#define STREAM_ID_RAW_SIZE 16 /* node keys and PEL IDs: ms then seq, 64-bit big-endian each */
#define RDB_MS_TIME_SIZE 8    /* Redis's rdbSaveMillisecondTime: int64, little-endian */
#define LP_ENTRY_HEADER 3     /* flags, ms-diff, seq-diff: in every entry */
#define LP_MASTER_END 0       /* the master entry's terminator */
#define STREAM_FLAGS_KNOWN (STREAM_ENTRY_DELETED | STREAM_ENTRY_SAMEFIELDS)
#define ENTRIES_READ_INVALID_RAW UINT64_MAX /* SCG_INVALID_ENTRIES_READ (-1) as RDB writes it */
#define ELEM_VEC_MIN 16

/* lp-count: the elements of an entry before its lp-count. */
static long long lp_entry_elements(long long nfields, int same)
{
    return same ? nfields + LP_ENTRY_HEADER : 2 * nfields + 1 + LP_ENTRY_HEADER;
}

/* ---- writing ------------------------------------------------------------------------------- */

static void id_to_raw(unsigned char out[STREAM_ID_RAW_SIZE], const stream_id *id)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        out[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

static void save_raw_id(buf *out, const stream_id *id)
{
    unsigned char raw[STREAM_ID_RAW_SIZE];
    id_to_raw(raw, id);
    buf_append(out, raw, sizeof(raw));
}

static void save_ms_time(buf *out, int64_t t)
{
    unsigned char b[RDB_MS_TIME_SIZE];
    for (int i = 0; i < RDB_MS_TIME_SIZE; i++)
        b[i] = (unsigned char)((uint64_t)t >> (8 * i));
    buf_append(out, b, sizeof(b));
}

static void save_id(buf *out, const stream_id *id)
{
    rdb_save_len(out, id->ms);
    rdb_save_len(out, id->seq);
}

static void rlp_append_ll(rlp_writer *w, long long v)
{
    char tmp[OBJ_INT_STR_MAX];
    int n = ll_to_str(tmp, v);
    rlp_append(w, tmp, (size_t)n);
}

/* One node as its key and Redis listpack, both RDB strings. */
static void save_node(buf *out, const stream_id *master, const void *node)
{
    stream_node_reader nr;
    uint32_t count, deleted;
    long nmaster;
    const char *f, *v;
    size_t flen, vlen;
    stream_node_open(&nr, node, master, &count, &deleted, &nmaster);

    rlp_writer w;
    rlp_writer_init(&w);
    rlp_append_ll(&w, count);
    rlp_append_ll(&w, deleted);
    rlp_append_ll(&w, nmaster);
    for (long i = 0; i < nmaster; i++) {
        stream_node_master_field(&nr, &f, &flen);
        rlp_append(&w, f, flen);
    }
    rlp_append_ll(&w, LP_MASTER_END);

    stream_id id;
    int flags;
    long nfields;
    while (stream_node_next(&nr, &id, &flags, &nfields)) {
        int same = (flags & STREAM_ENTRY_SAMEFIELDS) != 0;
        rlp_append_ll(&w, flags);
        rlp_append_ll(&w, (long long)(id.ms - master->ms));
        rlp_append_ll(&w, (long long)(id.seq - master->seq));
        if (!same)
            rlp_append_ll(&w, nfields);
        for (long i = 0; i < nfields; i++) {
            stream_node_field(&nr, &f, &flen, &v, &vlen);
            if (!same)
                rlp_append(&w, f, flen);
            rlp_append(&w, v, vlen);
        }
        rlp_append_ll(&w, lp_entry_elements(nfields, same));
    }
    rlp_finish(&w);

    unsigned char key[STREAM_ID_RAW_SIZE];
    id_to_raw(key, master);
    rdb_save_string(out, (const char *)key, sizeof(key));
    rdb_save_string(out, w.b.data, w.b.len);
    rlp_writer_free(&w);
}

/* A PEL: its size, then each ID, with the delivery time and count for a group's PEL (a
 * consumer's PEL lists only IDs, resolved against the group's at load). */
static void save_pel(buf *out, const idtree *pel, int with_nacks)
{
    rdb_save_len(out, pel->size);
    idtree_iter it;
    for (int ok = idtree_first(pel, &it); ok; ok = idtree_next(&it)) {
        stream_id id = idtree_key(&it);
        save_raw_id(out, &id);
        if (with_nacks) {
            const stream_nack *nack = idtree_val(&it);
            save_ms_time(out, nack->delivery_time);
            rdb_save_len(out, nack->delivery_count);
        }
    }
}

/* Redis 7.0's consumer: name, seen time, PEL IDs (7.2's active time is not written). */
static void save_group(buf *out, const stream_cg *cg)
{
    rdb_save_string(out, cg->name, cg->name_len);
    save_id(out, &cg->last_id);
    rdb_save_len(out, (uint64_t)cg->entries_read);
    save_pel(out, &cg->pel, 1);
    rdb_save_len(out, cg->nconsumers);
    for (uint32_t i = 0; i < cg->nconsumers; i++) {
        const stream_consumer *c = cg->consumers[i];
        rdb_save_string(out, c->name, c->name_len);
        save_ms_time(out, c->seen_time);
        save_pel(out, &c->pel, 0);
    }
}

void rdb_save_stream(buf *out, const entry *e)
{
    const stream *s = entry_ptr(e);
    buf_append_char(out, (char)RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_save_len(out, s->nodes.size);
    idtree_iter it;
    for (int ok = idtree_first(&s->nodes, &it); ok; ok = idtree_next(&it)) {
        stream_id master = idtree_key(&it);
        save_node(out, &master, idtree_val(&it));
    }
    rdb_save_len(out, s->length);
    save_id(out, &s->last_id);
    save_id(out, &s->first_id);
    save_id(out, &s->max_deleted);
    rdb_save_len(out, s->entries_added);
    rdb_save_len(out, s->ngroups);
    for (uint32_t i = 0; i < s->ngroups; i++)
        save_group(out, s->groups[i]);
}

/* ---- reading: primitives ------------------------------------------------------------------- */

static int read_raw(rdb_reader *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

static void id_from_raw(const unsigned char raw[STREAM_ID_RAW_SIZE], stream_id *id)
{
    id->ms = id->seq = 0;
    for (int i = 0; i < 8; i++) {
        id->ms = (id->ms << 8) | raw[i];
        id->seq = (id->seq << 8) | raw[8 + i];
    }
}

static int load_raw_id(rdb_reader *r, stream_id *id)
{
    unsigned char raw[STREAM_ID_RAW_SIZE];
    if (read_raw(r, raw, sizeof(raw)) < 0)
        return -1;
    id_from_raw(raw, id);
    return 0;
}

/* A time in ms. Redis only ever stores clock readings (XCLAIM TIME clamps to [0, now]), and a
 * negative one could overflow the idle-time arithmetic of XPENDING and XINFO: refused. */
static int load_ms_time(rdb_reader *r, int64_t *t)
{
    unsigned char b[RDB_MS_TIME_SIZE];
    if (read_raw(r, b, sizeof(b)) < 0)
        return -1;
    uint64_t u = 0;
    for (int i = 0; i < RDB_MS_TIME_SIZE; i++)
        u |= (uint64_t)b[i] << (8 * i);
    if (u > INT64_MAX)
        return -1;
    *t = (int64_t)u;
    return 0;
}

static int load_id(rdb_reader *r, stream_id *id)
{
    return rdb_load_len(r, &id->ms) < 0 || rdb_load_len(r, &id->seq) < 0 ? -1 : 0;
}

/* ---- reading: nodes ------------------------------------------------------------------------
 * The elements of one entry are collected before the entry is built. A string element points
 * into the listpack; an integer's text lives in its slot, whose address changes when the vector
 * grows, so slices are made only once the entry is complete. The vector grows with what was
 * actually read, never with a count from the input. */

typedef struct lp_slot {
    const char *p; /* NULL: the text is in tmp */
    size_t len;
    char tmp[OBJ_INT_STR_MAX];
} lp_slot;

typedef struct elem_vec {
    lp_slot *slots;
    slice *fv;
    size_t cap;
} elem_vec;

static void ev_reserve(elem_vec *v, size_t n)
{
    if (n <= v->cap)
        return;
    size_t cap = v->cap ? v->cap : ELEM_VEC_MIN;
    while (cap < n)
        cap *= 2;
    v->slots = zrealloc(v->slots, cap * sizeof(*v->slots));
    v->fv = zrealloc(v->fv, cap * sizeof(*v->fv));
    v->cap = cap;
}

static void ev_free(elem_vec *v)
{
    zfree(v->slots);
    zfree(v->fv);
}

/* Reads the listpack's next element into slot i. */
static int ev_read(elem_vec *v, rlp_iter *it, size_t i)
{
    ev_reserve(v, i + 1);
    lp_slot *sl = &v->slots[i];
    const char *s;
    if (rlp_next(it, &s, &sl->len, sl->tmp) != 1)
        return -1;
    sl->p = s == sl->tmp ? NULL : s;
    return 0;
}

/* Slot i holds nothing (a field name a SAMEFIELDS entry does not repeat). */
static void ev_empty(elem_vec *v, size_t i)
{
    ev_reserve(v, i + 1);
    v->slots[i].p = "";
    v->slots[i].len = 0;
}

/* Makes fv[0..n) from the slots; valid until the vector grows. */
static const slice *ev_slices(elem_vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const lp_slot *sl = &v->slots[i];
        v->fv[i] = (slice){sl->p ? sl->p : sl->tmp, sl->len};
    }
    return v->fv;
}

/* An integer element (Redis's lpGetIntegerIfValid: an integer, or a string that is one). */
static int lp_read_int(rlp_iter *it, long long *v)
{
    const char *s;
    size_t len;
    char tmp[OBJ_INT_STR_MAX];
    return rlp_next(it, &s, &len, tmp) == 1 && str_to_ll(s, len, v) ? 0 : -1;
}

typedef struct node_loader {
    stream *s;
    elem_vec master; /* master field names at even slots, as field/value pairs for the builder */
    elem_vec ent;    /* the current entry's field/value pairs */
    stream_id last;  /* the greatest entry ID so far, tombstones included */
    int have_last;
    uint64_t live; /* live entries of the nodes so far */
} node_loader;

/* The master entry: counts and field names. */
static int load_master_entry(node_loader *nl, rlp_iter *it, size_t lplen, long long *count,
                             long long *deleted, long long *nmaster)
{
    long long end;
    if (lp_read_int(it, count) < 0 || lp_read_int(it, deleted) < 0 || lp_read_int(it, nmaster) < 0)
        return -1;
    if (*count < 0 || *count > UINT32_MAX || *deleted < 0 || *deleted > UINT32_MAX ||
        *count + *deleted == 0 || *nmaster < 1 || (unsigned long long)*nmaster > lplen)
        return -1;
    for (long long i = 0; i < *nmaster; i++) {
        if (ev_read(&nl->master, it, 2 * (size_t)i) < 0)
            return -1;
        ev_empty(&nl->master, 2 * (size_t)i + 1);
    }
    return lp_read_int(it, &end) < 0 || end != LP_MASTER_END ? -1 : 0;
}

/* One entry after the master entry: its ID (checked against prev), flags and pairs in nl->ent.
 * Returns the number of fields, or -1. */
static long long load_entry(node_loader *nl, rlp_iter *it, size_t lplen, const stream_id *master,
                            long long nmaster, stream_id *id, int *flags)
{
    long long fl, msd, seqd, nfields, elements;
    if (lp_read_int(it, &fl) < 0 || lp_read_int(it, &msd) < 0 || lp_read_int(it, &seqd) < 0)
        return -1;
    if (fl & ~(long long)STREAM_FLAGS_KNOWN)
        return -1;
    *flags = (int)fl;
    id->ms = master->ms + (uint64_t)msd;
    id->seq = master->seq + (uint64_t)seqd;
    int same = (fl & STREAM_ENTRY_SAMEFIELDS) != 0;
    if (same) {
        nfields = nmaster;
        for (long long i = 0; i < nfields; i++) {
            ev_empty(&nl->ent, 2 * (size_t)i);
            if (ev_read(&nl->ent, it, 2 * (size_t)i + 1) < 0)
                return -1;
        }
    } else {
        if (lp_read_int(it, &nfields) < 0 || nfields < 1 || (unsigned long long)nfields > lplen)
            return -1;
        for (size_t i = 0; i < 2 * (size_t)nfields; i++)
            if (ev_read(&nl->ent, it, i) < 0)
                return -1;
    }
    if (lp_read_int(it, &elements) < 0 || elements != lp_entry_elements(nfields, same))
        return -1;
    return nfields;
}

/* Checks the Redis listpack lp of the node keyed master and adds its entries to the stream as
 * one node. Entries must ascend from master on, above every entry of earlier nodes. */
static int load_node(node_loader *nl, const stream_id *master, const unsigned char *lp, size_t len)
{
    rlp_iter it;
    long long count, deleted, nmaster;
    if (nl->have_last && stream_id_cmp(master, &nl->last) <= 0)
        return -1;
    if (rlp_open(&it, lp, len) < 0 ||
        load_master_entry(nl, &it, len, &count, &deleted, &nmaster) < 0)
        return -1;
    void *node = stream_node_create(nl->s, ev_slices(&nl->master, 2 * (size_t)nmaster), nmaster);
    stream_id prev = *master, id;
    long long live = 0;
    for (long long e = 0; e < count + deleted; e++) {
        int flags;
        long long nfields = load_entry(nl, &it, len, master, nmaster, &id, &flags);
        if (nfields < 0)
            goto fail;
        int cmp = stream_id_cmp(&id, &prev); /* the first may be the master ID itself */
        if (cmp < 0 || (cmp == 0 && e > 0))
            goto fail;
        const slice *fv = ev_slices(&nl->ent, 2 * (size_t)nfields);
        void *grown = stream_node_append(nl->s, node, master, &id, flags, fv, (long)nfields);
        if (!grown)
            goto fail;
        node = grown;
        live += !(flags & STREAM_ENTRY_DELETED);
        prev = id;
    }
    const char *s;
    size_t slen;
    char tmp[OBJ_INT_STR_MAX];
    if (rlp_next(&it, &s, &slen, tmp) != 0 || live != count)
        goto fail;
    if (stream_node_index(nl->s, master, node) < 0)
        return -1;
    nl->last = prev;
    nl->have_last = 1;
    nl->live += (uint64_t)live;
    return 0;
fail:
    stream_node_discard(nl->s, node);
    return -1;
}

static int load_nodes(rdb_reader *r, node_loader *nl)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        rdb_str key, lp;
        if (rdb_load_string(r, &key) < 0)
            return -1;
        int rc = key.len == STREAM_ID_RAW_SIZE ? 0 : -1;
        stream_id master;
        if (rc == 0)
            id_from_raw((const unsigned char *)key.s, &master);
        rdb_str_free(&key);
        if (rc < 0 || rdb_load_string(r, &lp) < 0)
            return -1;
        rc = load_node(nl, &master, (const unsigned char *)lp.s, lp.len);
        rdb_str_free(&lp);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- reading: the stream's counters and its groups ----------------------------------------- */

/* Length, last ID and (from Redis 7.0 on) first ID, greatest deleted ID and entries added;
 * Redis 5/6 payloads get the values Redis 7.0 derives for them. */
static int load_meta(rdb_reader *r, int type, const node_loader *nl)
{
    stream *s = nl->s;
    if (rdb_load_len(r, &s->length) < 0 || load_id(r, &s->last_id) < 0)
        return -1;
    if (type == RDB_TYPE_STREAM_LISTPACKS) {
        s->max_deleted = (stream_id){0, 0};
        s->entries_added = s->length;
        stream_edge_id(s, 1, 1, &s->first_id);
    } else if (load_id(r, &s->first_id) < 0 || load_id(r, &s->max_deleted) < 0 ||
               rdb_load_len(r, &s->entries_added) < 0) {
        return -1;
    }
    /* XADD must go on above every entry, XLEN and trimming count live entries, and the lag
     * arithmetic of XINFO needs length <= entries_added <= INT64_MAX (XSETID's rules). */
    if (s->length != nl->live || s->entries_added < s->length || s->entries_added > INT64_MAX)
        return -1;
    if (nl->have_last && stream_id_cmp(&s->last_id, &nl->last) < 0)
        return -1;
    return 0;
}

/* The group's PEL, each nack without its consumer yet. */
static int load_group_pel(rdb_reader *r, stream_cg *cg)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        stream_id id;
        int64_t t;
        uint64_t count;
        if (load_raw_id(r, &id) < 0 || load_ms_time(r, &t) < 0 || rdb_load_len(r, &count) < 0)
            return -1;
        stream_nack *nack = stream_nack_new(NULL, t);
        nack->delivery_count = count;
        if (!idtree_insert(&cg->pel, &id, nack)) {
            stream_nack_free(nack);
            return -1;
        }
    }
    return 0;
}

/* A consumer and the IDs it owns: each must be in the group's PEL and owned by nobody else. */
static int load_consumer(rdb_reader *r, int type, stream_cg *cg)
{
    rdb_str name;
    if (rdb_load_string(r, &name) < 0)
        return -1;
    stream_consumer *c = stream_consumer_create(cg, name.s, name.len, 0);
    rdb_str_free(&name);
    int64_t active;
    if (!c || load_ms_time(r, &c->seen_time) < 0)
        return -1;
    /* 7.2's active time: ours is Redis 7.0's consumer, which keeps only the seen time. */
    if (type == RDB_TYPE_STREAM_LISTPACKS_3 && load_ms_time(r, &active) < 0)
        return -1;
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        stream_id id;
        if (load_raw_id(r, &id) < 0)
            return -1;
        void **slot = idtree_find(&cg->pel, &id);
        if (!slot)
            return -1;
        stream_nack *nack = *slot;
        if (nack->consumer)
            return -1;
        nack->consumer = c;
        idtree_insert(&c->pel, &id, nack);
    }
    return 0;
}

/* 1 when every entry of the group's PEL has a consumer. */
static int group_pel_owned(const stream_cg *cg)
{
    idtree_iter it;
    for (int ok = idtree_first(&cg->pel, &it); ok; ok = idtree_next(&it)) {
        const stream_nack *nack = idtree_val(&it);
        if (!nack->consumer)
            return 0;
    }
    return 1;
}

static int load_group(rdb_reader *r, int type, stream *s)
{
    rdb_str name;
    stream_id last;
    uint64_t read_raw_count = ENTRIES_READ_INVALID_RAW;
    if (rdb_load_string(r, &name) < 0)
        return -1;
    int rc = load_id(r, &last);
    if (rc == 0 && type != RDB_TYPE_STREAM_LISTPACKS)
        rc = rdb_load_len(r, &read_raw_count);
    /* -1 (unknown) or a count XGROUP SETID ENTRIESREAD could have set. */
    if (rc == 0 && read_raw_count != ENTRIES_READ_INVALID_RAW && read_raw_count > INT64_MAX)
        rc = -1;
    stream_cg *cg = NULL;
    if (rc == 0) {
        long long entries_read = type == RDB_TYPE_STREAM_LISTPACKS
                                     ? stream_estimate_distance(s, &last)
                                     : (long long)read_raw_count;
        cg = stream_cg_create(s, name.s, name.len, &last, entries_read);
    }
    rdb_str_free(&name);
    if (!cg || load_group_pel(r, cg) < 0)
        return -1;
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (load_consumer(r, type, cg) < 0)
            return -1;
    return group_pel_owned(cg) ? 0 : -1;
}

static int load_groups(rdb_reader *r, int type, stream *s)
{
    uint64_t n;
    if (rdb_load_len(r, &n) < 0)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (load_group(r, type, s) < 0)
            return -1;
    return 0;
}

entry *rdb_load_stream(rdb_reader *r, int type, const char *key, size_t klen)
{
    node_loader nl = {.s = stream_new()};
    int rc = load_nodes(r, &nl);
    ev_free(&nl.master);
    ev_free(&nl.ent);
    if (rc < 0 || load_meta(r, type, &nl) < 0 || load_groups(r, type, nl.s) < 0) {
        stream_free(nl.s);
        return NULL;
    }
    return entry_new_ptr(key, klen, OBJ_STREAM, ENC_STREAM, nl.s, -1);
}
