/* Client-side caching: tracking tables, BCAST prefixes and invalidation delivery; see
 * tracking.h. */
#include "tracking.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "hashtab.h"
#include "server.h"
#include "worker.h"
#include "zmalloc.h"

#define CACHE_LINE 64
/* Stripes of the connection id index: accept and close of different connections rarely meet. */
#define REG_STRIPES 64
/* Ids of a tracked key kept in a plain array before they get a hash index for the duplicate
 * check (a hot key read by thousands of clients). */
#define IDS_LINEAR_MAX 16
/* Tracked keys a shard forgets at most per remembered key when over the limit. */
#define LIMIT_EFFORT 100
/* Key positions looked up without a heap allocation. */
#define KEYS_STACK 64
/* Longest "*<n>\r\n" or "$<len>\r\n" header. */
#define RESP_HDR_MAX 32

#define INVALIDATE_PUSH ">2\r\n$10\r\ninvalidate\r\n"
#define INVALIDATE_MESSAGE "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
#define REDIR_BROKEN_PUSH ">2\r\n$21\r\ntracking-redir-broken\r\n"

/* ---- connection ids ----------------------------------------------------------------------- *
 * Every connection by id, for REDIRECT (which names any connection, tracking or not) and for
 * finding a recipient when an invalidation reaches its worker. A stripe's lock guards its table;
 * a client is removed by its own thread before it is freed, so a pointer found under the lock
 * may be dereferenced by the client's own thread, and by others only for `owner`, which never
 * changes. */

typedef struct reg_stripe {
    _Alignas(CACHE_LINE) pthread_mutex_t lock;
    hashtab *ids; /* 8-byte id -> client * */
} reg_stripe;

static reg_stripe reg[REG_STRIPES];
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static void reg_init(void)
{
    for (int i = 0; i < REG_STRIPES; i++) {
        pthread_mutex_init(&reg[i].lock, NULL);
        reg[i].ids = ht_new(HT_VALUES, 0);
    }
}

static reg_stripe *reg_of(uint64_t id)
{
    pthread_once(&reg_once, reg_init);
    return &reg[id % REG_STRIPES];
}

/* The client with this id, or NULL (stripe lock held). */
static client *reg_find_locked(reg_stripe *s, uint64_t id)
{
    const ht_elem *e = ht_find(s->ids, (const char *)&id, sizeof(id));
    if (!e)
        return NULL;
    size_t len;
    client *cl;
    memcpy(&cl, ht_elem_val(e, &len), sizeof(cl));
    return cl;
}

/* The worker of connection id, or NULL when there is none. Any thread. */
static worker *reg_worker(uint64_t id)
{
    reg_stripe *s = reg_of(id);
    pthread_mutex_lock(&s->lock);
    client *cl = reg_find_locked(s, id);
    worker *w = cl ? cl->owner : NULL;
    pthread_mutex_unlock(&s->lock);
    return w;
}

/* Connection id if it belongs to the calling worker and is not closing, else NULL. */
static client *reg_local(uint64_t id)
{
    reg_stripe *s = reg_of(id);
    pthread_mutex_lock(&s->lock);
    client *cl = reg_find_locked(s, id);
    if (cl && cl->owner != current_worker)
        cl = NULL; /* another thread's: it may be freed once the lock is released */
    pthread_mutex_unlock(&s->lock);
    return cl && !cl->closing ? cl : NULL;
}

int tracking_client_exists(uint64_t id)
{
    return reg_worker(id) != NULL;
}

/* ---- per-client state ------------------------------------------------------------------------ */

/* A client's tracking state (client.tracking), also kept for a client that is only a redirect
 * target, for its pending output. The client's commands change the options, usually on its own
 * thread, but a CLIENT TRACKING inside an EXEC that runs on another shard's thread does so from
 * there while the client's thread may be delivering to it: so the state is published with a
 * compare-and-swap and the fields deliveries read are atomics. `prefixes` is touched by the
 * client's commands only (never two at once); `pend` and `flush_idx` by its own thread only. */
typedef struct trk_client {
    client *cl;
    _Atomic unsigned flags; /* TRK_ON ... TRK_NOLOOP */
    _Atomic uint64_t redirect;
    atomic_int caching;
    atomic_int broken_redir;
    slice *prefixes; /* BCAST prefixes, owned, sorted */
    int nprefixes;
    buf pend;      /* records (below) waiting to be written */
    int flush_idx; /* in the worker's flush list, -1 when not */
} trk_client;

/* A worker's clients with pending output, written once per loop iteration by a prepare
 * handle. */
typedef struct trk_worker {
    trk_client **flush;
    int nflush, flush_cap;
    uv_prepare_t prepare;
    int prepare_ready;
} trk_worker;

static trk_worker trk_workers[DFLY_MAX_THREADS];
static atomic_long nclients; /* connections with tracking on */

static trk_client *st_of(const client *cl)
{
    return __atomic_load_n((void *const *)&cl->tracking, __ATOMIC_ACQUIRE);
}

static trk_client *st_get(client *cl)
{
    trk_client *st = st_of(cl);
    if (st)
        return st;
    st = mem_calloc(1, sizeof(*st));
    st->cl = cl;
    st->flush_idx = -1;
    buf_init(&st->pend);
    void *none = NULL;
    if (__atomic_compare_exchange_n(&cl->tracking, &none, st, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return st;
    free(st); /* another thread published one first */
    return none;
}

unsigned tracking_flags(const client *cl)
{
    trk_client *st = st_of(cl);
    unsigned f = st ? atomic_load(&st->flags) : 0;
    if (!(f & TRK_ON))
        return 0;
    if (atomic_load(&st->caching))
        f |= TRK_CACHING;
    if (atomic_load(&st->broken_redir))
        f |= TRK_BROKEN_REDIR;
    return f;
}

uint64_t tracking_redirect(const client *cl)
{
    trk_client *st = st_of(cl);
    return st ? atomic_load(&st->redirect) : 0;
}

void tracking_set_caching(client *cl)
{
    atomic_store(&st_get(cl)->caching, 1);
}

/* ---- records: what a client is to be told ------------------------------------------------------
 * Pending output and the messages between workers carry invalidations as records: a header,
 * then for REC_KEYS the keys as [u32 length][bytes]. They are turned into RESP only when written
 * to their client, in the form its protocol and state call for then. */

enum { REC_KEYS, REC_NULL, REC_BROKEN };

typedef struct rec_hdr {
    uint8_t type;
    uint8_t redirected; /* for a redirect target: RESP2 subscribers get it as a message */
    uint8_t bcast;      /* BCAST keys: consecutive ones go out as one array */
    uint8_t pad;
    uint32_t nkeys;
    uint64_t id; /* REC_BROKEN: the redirect that is gone */
} rec_hdr;

static void rec_put(buf *b, int type, int bcast, uint32_t nkeys, uint64_t id)
{
    rec_hdr h = {.type = (uint8_t)type, .bcast = (uint8_t)bcast, .nkeys = nkeys, .id = id};
    buf_append(b, &h, sizeof(h));
}

static void rec_put_key(buf *b, const char *key, size_t len)
{
    uint32_t l = (uint32_t)len;
    buf_append(b, &l, sizeof(l));
    buf_append(b, key, len);
}

/* Past the keys of a record whose keys start at p. */
static const char *rec_skip_keys(const char *p, uint32_t nkeys)
{
    for (uint32_t i = 0; i < nkeys; i++) {
        uint32_t l;
        memcpy(&l, p, sizeof(l));
        p += sizeof(l) + l;
    }
    return p;
}

static void append_hdr(buf *b, char type, size_t n)
{
    char tmp[RESP_HDR_MAX];
    int l = snprintf(tmp, sizeof(tmp), "%c%zu\r\n", type, n);
    buf_append(b, tmp, (size_t)l);
}

/* The start of an invalidation in the form cl takes it; 0 when it takes none (RESP2 without
 * subscribed mode, as Redis: RESP2 has no pushes). */
static int emit_start(client *cl, int redirected)
{
    if (cl->resp == 3) {
        buf_append_str(&cl->wbuf, INVALIDATE_PUSH);
        return 1;
    }
    if (redirected && (cl->flags & CLIENT_PUBSUB)) {
        buf_append_str(&cl->wbuf, INVALIDATE_MESSAGE);
        return 1;
    }
    return 0;
}

/* Writes the keys of the records in [p, end) as one array of nkeys. */
static void emit_keys(client *cl, const char *p, const char *end, uint32_t nkeys)
{
    append_hdr(&cl->wbuf, '*', nkeys);
    while (p < end) {
        rec_hdr h;
        memcpy(&h, p, sizeof(h));
        p += sizeof(h);
        for (uint32_t i = 0; i < h.nkeys; i++) {
            uint32_t l;
            memcpy(&l, p, sizeof(l));
            p += sizeof(l);
            append_hdr(&cl->wbuf, '$', l);
            buf_append(&cl->wbuf, p, l);
            buf_append(&cl->wbuf, "\r\n", 2);
            p += l;
        }
    }
}

/* Writes st's pending records to its client's output. Runs of BCAST keys become one array,
 * as Redis sends the keys of one event loop cycle together. */
static void emit_pending(trk_client *st)
{
    client *cl = st->cl;
    const char *p = st->pend.data, *end = p + st->pend.len;
    while (p < end) {
        rec_hdr h;
        memcpy(&h, p, sizeof(h));
        const char *next = rec_skip_keys(p + sizeof(h), h.nkeys);
        if (h.type == REC_BROKEN) {
            if (cl->resp == 3) {
                buf_append_str(&cl->wbuf, REDIR_BROKEN_PUSH);
                buf_printf(&cl->wbuf, ":%llu\r\n", (unsigned long long)h.id);
            }
            p = next;
            continue;
        }
        uint32_t nkeys = h.nkeys;
        while (h.type == REC_KEYS && h.bcast && next < end) {
            rec_hdr h2;
            memcpy(&h2, next, sizeof(h2));
            if (h2.type != REC_KEYS || !h2.bcast || h2.redirected != h.redirected)
                break;
            nkeys += h2.nkeys;
            next = rec_skip_keys(next + sizeof(h2), h2.nkeys);
        }
        if (emit_start(cl, h.redirected)) {
            if (h.type == REC_NULL)
                buf_append_str(&cl->wbuf, cl->resp == 3 ? "_\r\n" : "$-1\r\n");
            else
                emit_keys(cl, p, next, nkeys);
        }
        p = next;
    }
    buf_clear(&st->pend);
    buf_shrink(&st->pend, 0);
}

/* ---- writing pending output -------------------------------------------------------------------
 */

/* Whether cl's output may take invalidations now: not while a command or pipeline is in flight,
 * whose reply may still carry a value the invalidation is about and would then come after it.
 * A blocked command's reply comes later anyway; it may take them unless its reply is to be cut
 * (CLIENT REPLY SKIP: finish_command truncates the output back to where the command began). */
static int takes_output_now(const client *cl)
{
    if (!cl->waiting)
        return 1;
    return (cl->flags & CLIENT_BLOCKED) && !(cl->flags & CLIENT_REPLY_SKIP);
}

static void flush_run(uv_prepare_t *p)
{
    trk_worker *tw = p->data;
    int keep = 0;
    for (int i = 0; i < tw->nflush; i++) {
        trk_client *st = tw->flush[i];
        client *cl = st->cl;
        if (cl->closing || (cl->flags & CLIENT_REPLY_OFF)) {
            buf_clear(&st->pend); /* Redis 7.0 sends no pushes to a connection that is off */
            st->flush_idx = -1;
            continue;
        }
        if (!takes_output_now(cl)) {
            st->flush_idx = keep;
            tw->flush[keep++] = st;
            continue;
        }
        st->flush_idx = -1;
        emit_pending(st);
        client_flush(cl); /* may close cl, which is freed only later */
    }
    tw->nflush = keep;
    if (!keep)
        uv_prepare_stop(&tw->prepare);
}

/* Adds one record to st's pending output (on st's worker) and schedules the write. */
static void queue_rec(trk_client *st, const char *rec, size_t len, int redirected)
{
    size_t at = st->pend.len;
    buf_append(&st->pend, rec, len);
    rec_hdr h;
    memcpy(&h, st->pend.data + at, sizeof(h));
    h.redirected = (uint8_t)redirected;
    memcpy(st->pend.data + at, &h, sizeof(h));
    if (st->flush_idx >= 0)
        return;
    worker *w = st->cl->owner;
    trk_worker *tw = &trk_workers[w->id];
    if (!tw->prepare_ready) {
        uv_prepare_init(&w->loop, &tw->prepare);
        tw->prepare.data = tw;
        tw->prepare_ready = 1;
    }
    if (tw->nflush == tw->flush_cap) {
        tw->flush_cap = tw->flush_cap ? tw->flush_cap * 2 : 16;
        tw->flush = mem_realloc(tw->flush, sizeof(trk_client *) * (size_t)tw->flush_cap);
    }
    if (tw->nflush == 0)
        uv_prepare_start(&tw->prepare, flush_run);
    st->flush_idx = tw->nflush;
    tw->flush[tw->nflush++] = st;
}

static void flush_forget(trk_client *st)
{
    if (st->flush_idx < 0)
        return;
    trk_worker *tw = &trk_workers[st->cl->owner->id];
    tw->flush[st->flush_idx] = tw->flush[--tw->nflush];
    tw->flush[st->flush_idx]->flush_idx = st->flush_idx;
    st->flush_idx = -1;
}

/* ---- messages between workers -----------------------------------------------------------------
 */

/* An id of a tracking client and the worker it lives on. */
typedef struct trk_ref {
    uint64_t id;
    uint32_t wid;
} trk_ref;

enum note_mode {
    NOTE_KEYS,   /* to default-mode clients that read the key */
    NOTE_BCAST,  /* to BCAST clients with a matching prefix */
    NOTE_ALL,    /* to every tracking client of the worker (flush) */
    NOTE_DIRECT, /* to a redirect target, already resolved */
};

/* A record for some clients of one worker. */
typedef struct trk_note {
    msg m;
    int mode;
    uint64_t writer; /* for NOLOOP */
    uint32_t nids;
    size_t reclen;
    uint64_t *ids;
    char *rec;
    uint64_t data[]; /* the ids, then the record */
} trk_note;

static void note_run(void *arg);

static trk_note *note_new(int mode, uint64_t writer, uint32_t nids, const char *rec, size_t reclen)
{
    trk_note *n = mem_malloc(sizeof(trk_note) + sizeof(uint64_t) * nids + reclen);
    memset(&n->m, 0, sizeof(n->m));
    n->mode = mode;
    n->writer = writer;
    n->nids = 0;
    n->reclen = reclen;
    n->ids = n->data;
    n->rec = (char *)(n->data + nids);
    memcpy(n->rec, rec, reclen);
    n->m.fn = note_run;
    n->m.arg = n;
    return n;
}

/* Posts rec to the clients of refs[0..n), one message per worker. */
static void note_post_refs(const trk_ref *refs, size_t n, int mode, uint64_t writer,
                           const char *rec, size_t reclen)
{
    uint32_t count[DFLY_MAX_THREADS] = {0};
    for (size_t i = 0; i < n; i++)
        count[refs[i].wid]++;
    trk_note *notes[DFLY_MAX_THREADS] = {0};
    for (int w = 0; w < nworkers; w++)
        if (count[w])
            notes[w] = note_new(mode, writer, count[w], rec, reclen);
    for (size_t i = 0; i < n; i++) {
        trk_note *note = notes[refs[i].wid];
        note->ids[note->nids++] = refs[i].id;
    }
    for (int w = 0; w < nworkers; w++)
        if (notes[w])
            worker_post_msg(workers[w], &notes[w]->m);
}

/* Sends rec on behalf of tracking client st: to st itself, or to its redirect target, which
 * may live on another worker. On st's worker. */
static void route(trk_client *st, const char *rec, size_t len)
{
    uint64_t redirect = atomic_load(&st->redirect);
    if (!redirect) {
        if (st->cl->resp == 3)
            queue_rec(st, rec, len, 0);
        return;
    }
    worker *w = reg_worker(redirect);
    client *target = w == current_worker ? reg_local(redirect) : NULL;
    if (!w || (w == current_worker && !target)) {
        atomic_store(&st->broken_redir, 1);
        if (st->cl->resp == 3) {
            buf b;
            buf_init(&b);
            rec_put(&b, REC_BROKEN, 0, 0, redirect);
            queue_rec(st, b.data, b.len, 0);
            buf_free(&b);
        }
        return;
    }
    if (target) {
        queue_rec(st_get(target), rec, len, 1);
        return;
    }
    trk_note *n = note_new(NOTE_DIRECT, 0, 1, rec, len);
    n->ids[n->nids++] = redirect;
    worker_post_msg(w, &n->m);
}

/* Whether tracking client cl takes an invalidation of this kind. */
static trk_client *note_recipient(const trk_note *n, uint64_t id)
{
    client *cl = reg_local(id);
    trk_client *st = cl ? st_of(cl) : NULL;
    unsigned f = st ? atomic_load(&st->flags) : 0;
    if (!(f & TRK_ON))
        return NULL;
    /* Keys read before switching to BCAST are not reported (Redis's trackingInvalidateKey). */
    if (!!(f & TRK_BCAST) != (n->mode == NOTE_BCAST))
        return NULL;
    if ((f & TRK_NOLOOP) && n->writer == id)
        return NULL;
    return st;
}

/* On the recipients' worker. */
static void note_run(void *arg)
{
    trk_note *n = arg;
    if (n->mode == NOTE_ALL) {
        for (client *x = current_worker->clients; x; x = x->next) {
            trk_client *st = st_of(x);
            if (st && (atomic_load(&st->flags) & TRK_ON))
                route(st, n->rec, n->reclen);
        }
    } else if (n->mode == NOTE_DIRECT) {
        client *target = reg_local(n->ids[0]);
        if (target)
            queue_rec(st_get(target), n->rec, n->reclen, 1);
    } else {
        for (uint32_t i = 0; i < n->nids; i++) {
            trk_client *st = note_recipient(n, n->ids[i]);
            if (st)
                route(st, n->rec, n->reclen);
        }
    }
    free(n);
}

/* ---- tracking tables: per shard, touched by whoever holds the shard ---------------------------
 */

/* The clients that read one key. */
typedef struct trk_ids {
    uint32_t n, cap;
    hashtab *index; /* ids, once there are more than IDS_LINEAR_MAX */
    trk_ref *v;
} trk_ids;

static hashtab *tables[DFLY_MAX_THREADS]; /* per shard: key -> trk_ids * */
static atomic_long total_keys, total_items;

static int ids_has(const trk_ids *ids, uint64_t id)
{
    if (ids->index)
        return ht_find(ids->index, (const char *)&id, sizeof(id)) != NULL;
    for (uint32_t i = 0; i < ids->n; i++)
        if (ids->v[i].id == id)
            return 1;
    return 0;
}

/* Adds a reader; returns 1 when it was not there yet. */
static int ids_add(trk_ids *ids, uint64_t id, uint32_t wid)
{
    if (ids_has(ids, id))
        return 0;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 2;
        ids->v = zrealloc(ids->v, sizeof(trk_ref) * ids->cap);
    }
    ids->v[ids->n++] = (trk_ref){id, wid};
    if (ids->index) {
        ht_add(ids->index, (const char *)&id, sizeof(id), NULL, 0);
    } else if (ids->n > IDS_LINEAR_MAX) {
        ids->index = ht_new(HT_KEYS_ONLY, ids->n);
        for (uint32_t i = 0; i < ids->n; i++)
            ht_add(ids->index, (const char *)&ids->v[i].id, sizeof(uint64_t), NULL, 0);
    }
    return 1;
}

static void ids_free(trk_ids *ids)
{
    atomic_fetch_sub(&total_items, (long)ids->n);
    if (ids->index)
        ht_free(ids->index);
    zfree(ids->v);
    zfree(ids);
}

static trk_ids *elem_ids(const ht_elem *e)
{
    size_t len;
    trk_ids *ids;
    memcpy(&ids, ht_elem_val(e, &len), sizeof(ids));
    return ids;
}

static void table_remember(int sid, const char *key, size_t len, uint64_t id, uint32_t wid)
{
    if (!tables[sid])
        tables[sid] = ht_new(HT_VALUES, 0);
    const ht_elem *e = ht_find(tables[sid], key, len);
    trk_ids *ids;
    if (e) {
        ids = elem_ids(e);
    } else {
        ids = zcalloc(sizeof(*ids));
        ht_set(tables[sid], key, len, (const char *)&ids, sizeof(ids));
        atomic_fetch_add(&total_keys, 1);
    }
    if (ids_add(ids, id, wid))
        atomic_fetch_add(&total_items, 1);
}

/* Forgets key and sends an invalidation to everyone who read it. */
static void table_invalidate(int sid, const char *key, size_t len, uint64_t writer)
{
    hashtab *t = tables[sid];
    const ht_elem *e = t ? ht_find(t, key, len) : NULL;
    if (!e)
        return;
    trk_ids *ids = elem_ids(e);
    buf rec;
    buf_init(&rec);
    rec_put(&rec, REC_KEYS, 0, 1, 0);
    rec_put_key(&rec, key, len); /* before the delete: key may point into the element */
    ht_delete(t, key, len);
    atomic_fetch_sub(&total_keys, 1);
    note_post_refs(ids->v, ids->n, NOTE_KEYS, writer, rec.data, rec.len);
    ids_free(ids);
    buf_free(&rec);
}

/* Keeps the tables near tracking-table-max-keys: shard sid, when the total is over the limit
 * and the shard over its share of it, forgets random keys, telling their readers (Redis's
 * trackingLimitUsedSlots, which works on its one table the same way). A shard trims only its
 * own table, so the total can exceed the limit by the shares of the other shards. */
static void table_limit(int sid)
{
    long long max = server.cfg.tracking_table_max_keys;
    hashtab *t = tables[sid];
    if (max <= 0 || !t || atomic_load(&total_keys) <= max)
        return;
    size_t share = (size_t)(max / server.nshards);
    for (int i = 0; i < LIMIT_EFFORT && atomic_load(&total_keys) > max && ht_count(t) > share;
         i++) {
        const ht_elem *e = ht_random(t, shard_rand(shards[sid]));
        if (!e)
            break;
        size_t len;
        const char *k = ht_elem_key(e, &len);
        table_invalidate(sid, k, len, 0);
    }
}

static void table_clear_all(void)
{
    for (int sid = 0; sid < server.nshards; sid++) {
        hashtab *t = tables[sid];
        if (!t)
            continue;
        ht_iter it;
        ht_iter_init(&it, t);
        for (const ht_elem *e; (e = ht_iter_next(&it));)
            ids_free(elem_ids(e));
        ht_free(t);
        tables[sid] = NULL;
    }
    atomic_store(&total_keys, 0);
}

/* ---- BCAST prefixes: shared by every thread ----------------------------------------------------
 */

typedef struct bc_prefix {
    trk_ref *v; /* its clients */
    int n, cap;
    size_t len;
    char name[];
} bc_prefix;

static pthread_rwlock_t bc_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static bc_prefix **bc_v; /* every prefix with a client: a changed key is matched to each */
static int bc_n, bc_cap;
static atomic_int bc_count; /* bc_n, read without the lock by writers' fast path */

static int bc_find(const char *p, size_t len)
{
    for (int i = 0; i < bc_n; i++)
        if (bc_v[i]->len == len && !memcmp(bc_v[i]->name, p, len))
            return i;
    return -1;
}

static void bc_add(const char *p, size_t len, uint64_t id, uint32_t wid)
{
    pthread_rwlock_wrlock(&bc_lock);
    int i = bc_find(p, len);
    if (i < 0) {
        bc_prefix *x = mem_calloc(1, sizeof(bc_prefix) + len + 1);
        x->len = len;
        memcpy(x->name, p, len);
        if (bc_n == bc_cap) {
            bc_cap = bc_cap ? bc_cap * 2 : 8;
            bc_v = mem_realloc(bc_v, sizeof(bc_prefix *) * (size_t)bc_cap);
        }
        i = bc_n++;
        bc_v[i] = x;
        atomic_store(&bc_count, bc_n);
    }
    bc_prefix *x = bc_v[i];
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 4;
        x->v = mem_realloc(x->v, sizeof(trk_ref) * (size_t)x->cap);
    }
    x->v[x->n++] = (trk_ref){id, wid};
    pthread_rwlock_unlock(&bc_lock);
}

static void bc_remove(const char *p, size_t len, uint64_t id)
{
    pthread_rwlock_wrlock(&bc_lock);
    int i = bc_find(p, len);
    if (i >= 0) {
        bc_prefix *x = bc_v[i];
        for (int j = 0; j < x->n; j++) {
            if (x->v[j].id == id) {
                x->v[j] = x->v[--x->n];
                break;
            }
        }
        if (x->n == 0) {
            free(x->v);
            free(x);
            bc_v[i] = bc_v[--bc_n];
            atomic_store(&bc_count, bc_n);
        }
    }
    pthread_rwlock_unlock(&bc_lock);
}

/* Sends key to the BCAST clients of every prefix it starts with. */
static void bc_invalidate(const char *key, size_t len, uint64_t writer)
{
    if (atomic_load_explicit(&bc_count, memory_order_relaxed) == 0)
        return;
    trk_ref *refs = NULL;
    size_t n = 0, cap = 0;
    pthread_rwlock_rdlock(&bc_lock);
    for (int i = 0; i < bc_n; i++) {
        const bc_prefix *x = bc_v[i];
        if (x->len > len || memcmp(x->name, key, x->len))
            continue;
        if (n + (size_t)x->n > cap) {
            cap = (n + (size_t)x->n) * 2;
            refs = mem_realloc(refs, sizeof(trk_ref) * cap);
        }
        memcpy(refs + n, x->v, sizeof(trk_ref) * (size_t)x->n);
        n += (size_t)x->n;
    }
    pthread_rwlock_unlock(&bc_lock);
    if (n) {
        buf rec;
        buf_init(&rec);
        rec_put(&rec, REC_KEYS, 1, 1, 0);
        rec_put_key(&rec, key, len);
        note_post_refs(refs, n, NOTE_BCAST, writer, rec.data, rec.len);
        buf_free(&rec);
    }
    free(refs);
}

/* ---- the client's prefixes --------------------------------------------------------------------
 */

static int slice_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static void prefix_add(trk_client *st, const char *p, size_t len)
{
    int at = 0;
    while (at < st->nprefixes && slice_cmp(st->prefixes[at].p, st->prefixes[at].len, p, len) < 0)
        at++;
    if (at < st->nprefixes && !slice_cmp(st->prefixes[at].p, st->prefixes[at].len, p, len))
        return; /* already there */
    st->prefixes = mem_realloc(st->prefixes, sizeof(slice) * (size_t)(st->nprefixes + 1));
    memmove(st->prefixes + at + 1, st->prefixes + at, sizeof(slice) * (size_t)(st->nprefixes - at));
    char *copy = mem_malloc(len + 1);
    memcpy(copy, p, len);
    copy[len] = '\0';
    st->prefixes[at] = (slice){copy, len};
    st->nprefixes++;
    bc_add(p, len, st->cl->id, (uint32_t)st->cl->owner->id);
}

static void prefixes_clear(trk_client *st)
{
    for (int i = 0; i < st->nprefixes; i++) {
        bc_remove(st->prefixes[i].p, st->prefixes[i].len, st->cl->id);
        free((char *)st->prefixes[i].p);
    }
    free(st->prefixes);
    st->prefixes = NULL;
    st->nprefixes = 0;
}

int tracking_prefix_overlap(const client *cl, const slice *p, slice *other)
{
    const trk_client *st = st_of(cl);
    for (int i = 0; st && i < st->nprefixes; i++) {
        const slice *x = &st->prefixes[i];
        if (!memcmp(x->p, p->p, x->len < p->len ? x->len : p->len)) {
            *other = *x;
            return 1;
        }
    }
    return 0;
}

void tracking_prefixes(const client *cl, void (*fn)(void *arg, const char *p, size_t len),
                       void *arg)
{
    const trk_client *st = st_of(cl);
    for (int i = 0; st && i < st->nprefixes; i++)
        fn(arg, st->prefixes[i].p, st->prefixes[i].len);
}

int tracking_prefix_count(const client *cl)
{
    const trk_client *st = st_of(cl);
    return st ? st->nprefixes : 0;
}

/* ---- on and off -------------------------------------------------------------------------------
 */

void tracking_enable(client *cl, uint64_t redirect, unsigned options, int nprefixes,
                     const slice *prefixes)
{
    trk_client *st = st_get(cl);
    if (!(atomic_load(&st->flags) & TRK_ON))
        atomic_fetch_add(&nclients, 1);
    atomic_store(&st->redirect, redirect);
    atomic_store(&st->broken_redir, 0);
    atomic_store(&st->flags,
                 TRK_ON | (options & (TRK_BCAST | TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP)));
    if (options & TRK_BCAST) {
        if (nprefixes == 0)
            prefix_add(st, "", 0);
        for (int i = 0; i < nprefixes; i++)
            prefix_add(st, prefixes[i].p, prefixes[i].len);
    }
}

void tracking_disable(client *cl)
{
    trk_client *st = st_of(cl);
    if (!st || !(atomic_load(&st->flags) & TRK_ON))
        return;
    atomic_store(&st->flags, 0);
    prefixes_clear(st);
    atomic_fetch_sub(&nclients, 1);
    atomic_store(&st->caching, 0);
    atomic_store(&st->broken_redir, 0);
    atomic_store(&st->redirect, 0);
}

/* ---- hooks --------------------------------------------------------------------------------------
 */

void tracking_client_opened(client *cl)
{
    reg_stripe *s = reg_of(cl->id);
    pthread_mutex_lock(&s->lock);
    ht_set(s->ids, (const char *)&cl->id, sizeof(cl->id), (const char *)&cl, sizeof(cl));
    pthread_mutex_unlock(&s->lock);
}

void tracking_client_freed(client *cl)
{
    reg_stripe *s = reg_of(cl->id);
    pthread_mutex_lock(&s->lock);
    ht_delete(s->ids, (const char *)&cl->id, sizeof(cl->id));
    pthread_mutex_unlock(&s->lock);
    trk_client *st = st_of(cl);
    if (!st)
        return;
    tracking_disable(cl);
    flush_forget(st);
    buf_free(&st->pend);
    free(st);
    cl->tracking = NULL;
}

/* Commands after which CLIENT CACHING still holds: CLIENT's own subcommands and MULTI (Redis's
 * resetClient keeps the flag for them, and for everything queued in a transaction). */
static int keeps_caching(const command *cmd)
{
    const command *top = cmd->parent ? cmd->parent : cmd;
    return !strcmp(top->name, "client") || !strcmp(top->name, "multi");
}

/* Whether CLIENT CACHING was given for this command; a top-level command consumes it. */
static int caching_given(cmd_ctx *c, trk_client *st)
{
    if ((c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT | CTX_UNBLOCKED)) || keeps_caching(c->cmd))
        return atomic_load(&st->caching);
    return atomic_exchange(&st->caching, 0);
}

/* Read-only commands have their keys remembered; not scripts (the commands they run are) and
 * not shard channels, which sit in key positions. */
static int tracks_reads(const command *cmd)
{
    return (cmd->flags & CMD_READONLY) && !(cmd->flags & CMD_PUBSUB) && !(cmd->acl & ACL_SCRIPTING);
}

static void remember(cmd_ctx *c, const char *key, size_t len)
{
    int sid = ctx_key_shard(c, key, len);
    table_remember(sid, key, len, c->cl->id, (uint32_t)c->cl->owner->id);
    table_limit(sid);
}

void tracking_after_command(cmd_ctx *c)
{
    trk_client *st = c->cl ? st_of(c->cl) : NULL;
    unsigned f = st ? atomic_load_explicit(&st->flags, memory_order_relaxed) : 0;
    if (!(f & TRK_ON))
        return;
    int caching = caching_given(c, st);
    if ((f & TRK_BCAST) || !tracks_reads(c->cmd))
        return;
    if (((f & TRK_OPTIN) && !caching) || ((f & TRK_OPTOUT) && caching))
        return;
    if (c->flags & CTX_UNBLOCKED) {
        /* Serving a blocked read runs on the ready key's shard only; its other keys were
         * remembered when it first ran. */
        if (c->ready_key.p)
            remember(c, c->ready_key.p, c->ready_key.len);
        return;
    }
    int stack[KEYS_STACK];
    int *keys = stack;
    int max = KEYS_STACK;
    if (c->argc > max) {
        max = c->argc;
        keys = mem_malloc(sizeof(int) * (size_t)max);
    }
    int n = command_get_keys(c->cmd, c->argc, c->argv, keys, max);
    for (int i = 0; i < n; i++)
        remember(c, c->argv[keys[i]].p, c->argv[keys[i]].len);
    if (keys != stack)
        free(keys);
}

void tracking_key_changed(shard *s, const char *key, size_t len, uint64_t writer)
{
    if (atomic_load_explicit(&nclients, memory_order_relaxed) == 0)
        return;
    if (tables[s->id])
        table_invalidate(s->id, key, len, writer);
    bc_invalidate(key, len, writer);
}

void tracking_on_flush(void)
{
    table_clear_all();
    if (atomic_load(&nclients) == 0)
        return;
    buf rec;
    buf_init(&rec);
    rec_put(&rec, REC_NULL, 0, 0, 0);
    for (int w = 0; w < nworkers; w++)
        worker_post_msg(workers[w], &note_new(NOTE_ALL, 0, 0, rec.data, rec.len)->m);
    buf_free(&rec);
}

void tracking_shutdown(void)
{
    table_clear_all();
}

/* ---- INFO -------------------------------------------------------------------------------------
 */

long tracking_clients_count(void)
{
    return atomic_load(&nclients);
}

uint64_t tracking_total_keys(void)
{
    return (uint64_t)atomic_load(&total_keys);
}

uint64_t tracking_total_items(void)
{
    return (uint64_t)atomic_load(&total_items);
}

uint64_t tracking_total_prefixes(void)
{
    return (uint64_t)atomic_load(&bc_count);
}
