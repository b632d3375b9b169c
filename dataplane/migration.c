/* Cluster slot migration, the source's side (see migration.h): configuration changes, the
 * sender thread, the per-shard serialization of the migrating slots, the write hook, the
 * journal's slot tap, finalization and routing state. The target's side and the reports are in
 * migration_in.c; the shared state in migration_int.h.
 *
 * Ownership. An outgoing migration (out_mig) is created by DFLYCLUSTER CONFIG and driven by its
 * own thread. Its per-shard flows are touched three ways: the bucket bitmaps and cursor by
 * whoever holds the shard (its thread's slices, the hook, transactions), the buffer of bytes to
 * send under the flow's mutex (appended by shard holders, drained by the thread), and the socket
 * by the thread alone. Objects are never freed while the process runs (a migration that ends
 * goes to a retired list): a slice or a routing check may still read one after it ended, and
 * they are few. The per-slot tables below change only while every shard is held, or (phases)
 * by one atomic store that any order of readers tolerates. The connections' I/O (plain, or TLS
 * under --tls_cluster) is in migration_link.c. */
#include "migration_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "crc64.h"
#include "db.h"
#include "journal.h"
#include "log.h"
#include "rdb.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "table.h"
#include "tx.h"
#include "worker.h"

#define MIG_SLICE_BUCKETS 2048          /* buckets one serialization slice visits at most */
#define MIG_FLOW_BUF_MAX (1024 * 1024)  /* queued bytes of a flow above which slices wait */
#define MIG_FINALIZE_LAG 1000           /* unanswered commands under which finalizing starts */
#define MIG_FINALIZE_BYTES (256 * 1024) /* ... and bytes still to send */
#define MIG_POLL_MS 5                   /* the thread's poll period while work is pending */
#define MIG_SLICE_POLL_MS 1             /* ... while shards serialize (slices end silently) */
#define MIG_INIT_RETRY_MS 100           /* INIT again after UNKNOWN_MIGRATION */
#define MIG_INIT_RETRIES 300            /* ... this many times (30 s) */
#define MIG_REPLY_TIMEOUT_MS 30000      /* silence of the target while replies are due */
#define MIG_LINE_MAX 512                /* a handshake reply line */
#define LL_TEXT 24
#define DUMP_VERSION_SIZE 2
#define DUMP_CRC_SIZE 8

extern atomic_int snapshot_active_any; /* snapshot.h: who needs snapshot_before_write */

/* ---- the objects (migration_int.h) ----------------------------------------------------------- */

/* Outgoing migrations by index (the configuration's thread writes, under outs_mu). */
pthread_mutex_t outs_mu = PTHREAD_MUTEX_INITIALIZER;
out_mig *outs[MIGRATIONS_MAX];
static out_mig *retired_outs;
/* Per slot: the outgoing migration (index + 1, 0 none) and its MIG_SLOT_* phase. */
_Atomic uint8_t slot_out[CLUSTER_SLOTS];
_Atomic uint8_t slot_phase[CLUSTER_SLOTS];
/* Incoming migrations (in_mu). */
pthread_mutex_t in_mu = PTHREAD_MUTEX_INITIALIZER;
in_mig *ins;
/* Slots whose incoming migration is FINISHED (ASKING may use them). */
_Atomic uint8_t slot_importing[CLUSTER_SLOTS];
/* Migrations forwarding writes: the journal's slot tap is installed while there are some. */
static atomic_int forwarding;
_Atomic uint64_t keys_sent_total;
atomic_int finished_total, failed_total;

void migration_ranges_to_bits(const cluster_slot_range *r, int n, uint8_t *bits)
{
    memset(bits, 0, CLUSTER_SLOTS / 8);
    for (int i = 0; i < n; i++)
        for (int s = r[i].start; s <= r[i].end; s++)
            bit_set(bits, (size_t)s);
}

int migration_ranges_equal(const cluster_slot_range *a, int na, const cluster_slot_range *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i].start != b[i].start || a[i].end != b[i].end)
            return 0;
    return 1;
}

const char *migration_state_name(int state)
{
    switch (state) {
    case MIGRATION_CONNECTING: return "CONNECTING";
    case MIGRATION_SYNC: return "SYNC";
    case MIGRATION_FINISHED: return "FINISHED";
    case MIGRATION_ERROR: return "ERROR";
    default: return "NO_STATE";
    }
}

/* ---- RESP helpers (pure) -------------------------------------------------------------------- */

static void put_count(buf *b, char prefix, unsigned long long n)
{
    char tmp[LL_TEXT + 4];
    int len = snprintf(tmp, sizeof(tmp), "%c%llu\r\n", prefix, n);
    buf_append(b, tmp, (size_t)len);
}

static void put_bulk(buf *b, const char *p, size_t len)
{
    put_count(b, '$', len);
    buf_append(b, p, len);
    buf_append(b, "\r\n", 2);
}

static void put_bulk_ll(buf *b, long long v)
{
    char tmp[LL_TEXT];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    put_bulk(b, tmp, (size_t)n);
}

void migration_put_restore(buf *out, const char *key, size_t klen, int64_t ttl_ms,
                           const char *value, size_t vlen)
{
    /* The DUMP footer (t_dump.c's format): RDB version, then a CRC64 of everything before. */
    unsigned char footer[DUMP_VERSION_SIZE + DUMP_CRC_SIZE];
    footer[0] = RDB_VERSION & 0xff;
    footer[1] = RDB_VERSION >> 8;
    uint64_t crc = crc64(0, value, vlen);
    crc = crc64(crc, footer, DUMP_VERSION_SIZE);
    for (int i = 0; i < DUMP_CRC_SIZE; i++)
        footer[DUMP_VERSION_SIZE + i] = (unsigned char)(crc >> (8 * i));
    put_count(out, '*', 6);
    put_bulk(out, "RESTORE", strlen("RESTORE"));
    put_bulk(out, key, klen);
    put_bulk_ll(out, ttl_ms > 0 ? ttl_ms : 0);
    put_count(out, '$', vlen + sizeof(footer));
    buf_append(out, value, vlen);
    buf_append(out, footer, sizeof(footer));
    buf_append(out, "\r\n", 2);
    put_bulk(out, "REPLACE", strlen("REPLACE"));
    put_bulk(out, "ABSTTL", strlen("ABSTTL"));
}

/* The end of the line starting at p (the '\r'), or NULL when it is not complete. */
static const char *line_end(const char *p, const char *end)
{
    for (const char *q = p; q + 1 < end; q++)
        if (q[0] == '\r' && q[1] == '\n')
            return q;
    return NULL;
}

/* Skips one reply at *pp. Returns 1 when complete (moved past it), 0 when incomplete, -1 when
 * malformed. An error reply sets *is_err and, when it is the first, its text in err. */
static int skip_reply(const char **pp, const char *end, int *is_err, char *err, size_t errlen)
{
    const char *p = *pp;
    if (p >= end)
        return 0;
    const char *eol = line_end(p, end);
    if (!eol)
        return 0;
    char type = *p;
    long long n = 0;
    if (type == '$' || type == '*') {
        char tmp[LL_TEXT];
        size_t l = (size_t)(eol - p - 1);
        if (l == 0 || l >= sizeof(tmp))
            return -1;
        memcpy(tmp, p + 1, l);
        tmp[l] = '\0';
        char *e;
        n = strtoll(tmp, &e, 10);
        if (*e)
            return -1;
    }
    p = eol + 2;
    switch (type) {
    case '+':
    case ':': break;
    case '-':
        *is_err = 1;
        if (err && !err[0]) {
            size_t l = (size_t)(eol - *pp - 1);
            snprintf(err, errlen, "%.*s", (int)(l < errlen ? l : errlen - 1), *pp + 1);
        }
        break;
    case '$':
        if (n >= 0) {
            if ((size_t)(end - p) < (size_t)n + 2)
                return 0;
            p += n + 2;
        }
        break;
    case '*':
        for (long long i = 0; i < n; i++) {
            int sub_err = 0;
            int rc = skip_reply(&p, end, &sub_err, NULL, 0);
            if (rc <= 0)
                return rc;
        }
        break;
    default: return -1;
    }
    *pp = p;
    return 1;
}

long migration_count_replies(const char *p, size_t len, size_t *used, long *errors, char *err,
                             size_t errlen)
{
    const char *at = p, *end = p + len;
    long n = 0;
    for (;;) {
        int is_err = 0;
        int rc = skip_reply(&at, end, &is_err, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        n++;
        *errors += is_err;
    }
    *used = (size_t)(at - p);
    return n;
}

/* ---- flows: appending -------------------------------------------------------------------- */

static void flow_append(mig_flow *f, const char *p, size_t len, int ncmds)
{
    pthread_mutex_lock(&f->mu);
    buf_append(&f->out, p, len);
    f->appended += (uint64_t)ncmds;
    pthread_mutex_unlock(&f->mu);
}

static size_t flow_queued(mig_flow *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->out.len;
    pthread_mutex_unlock(&f->mu);
    return n;
}

out_mig *migration_out_of_slot(uint16_t slot)
{
    int idx = atomic_load_explicit(&slot_out[slot], memory_order_relaxed);
    return idx ? outs[idx - 1] : NULL;
}

/* The journal's slot tap: a write to a slot that is being forwarded goes to its shard's flow,
 * behind whatever serialization the write caused first. */
static void slot_tap(int slot, const char *resp, size_t len, int ncmds)
{
    if (atomic_load_explicit(&slot_phase[slot], memory_order_relaxed) != MIG_SLOT_SYNC)
        return;
    out_mig *m = migration_out_of_slot((uint16_t)slot);
    if (m)
        flow_append(&m->flows[slot_shard((uint16_t)slot)], resp, len, ncmds);
}

/* ---- flows: serializing ------------------------------------------------------------------- */

/* The keys of the migration's slots in one bucket chain, as RESTOREs. */
static void serialize_chain(mig_flow *f, entry *link, int64_t now_ms)
{
    buf b, val;
    buf_init(&b);
    buf_init(&val);
    int n = 0;
    for (entry *e = table_untag(link); e; e = table_untag(e->next)) {
        size_t klen;
        const char *k = entry_key(e, &klen);
        if (!bit_get(f->m->slots, key_slot(k, klen)) || db_expired(e, now_ms))
            continue;
        buf_clear(&val);
        if (rdb_save_object(&val, e) < 0) {
            log_warning("migration: key '%.*s' has a type that cannot move; skipped",
                        (int)(klen > 64 ? 64 : klen), k);
            continue;
        }
        migration_put_restore(&b, k, klen, entry_expire(e), val.data, val.len);
        n++;
    }
    if (n) {
        flow_append(f, b.data, b.len, n);
        atomic_fetch_add_explicit(&f->keys, (uint64_t)n, memory_order_relaxed);
        atomic_fetch_add_explicit(&keys_sent_total, (uint64_t)n, memory_order_relaxed);
    }
    buf_free(&b);
    buf_free(&val);
}

static void visit_bucket(mig_flow *f, int arr, size_t idx)
{
    if (idx >= f->nbits[arr] || bit_get(f->done[arr], idx))
        return;
    bit_set(f->done[arr], idx);
    serialize_chain(f, shards[f->shard_id]->dbs[0].keys.buckets[arr][idx], clock_wall_ms());
}

/* The flow's shard is completely serialized (or the migration is undone): the table may resize
 * again. By whoever holds the shard. */
static void flow_stop_serializing(mig_flow *f)
{
    if (!f->serializing)
        return;
    f->serializing = 0;
    shards[f->shard_id]->dbs[0].keys.frozen--;
    free(f->done[0]);
    free(f->done[1]);
    f->done[0] = f->done[1] = NULL;
    atomic_fetch_sub(&snapshot_active_any, 1);
    atomic_store(&f->serial_done, 1);
}

/* Advances the cursor by up to budget buckets; returns 1 when every bucket is done. */
static int flow_advance(mig_flow *f, size_t budget)
{
    while (f->arr < 2) {
        while (f->idx < f->nbits[f->arr]) {
            if (budget-- == 0)
                return 0;
            visit_bucket(f, f->arr, f->idx);
            f->idx++;
        }
        f->arr++;
        f->idx = 0;
    }
    return 1;
}

/* A slice on the flow's shard thread, posted by the migration's thread. */
static void slice_msg(void *arg)
{
    mig_flow *f = arg;
    if (f->serializing && tx_shard_idle(f->shard_id) && flow_advance(f, MIG_SLICE_BUCKETS))
        flow_stop_serializing(f);
    atomic_store(&f->slice_posted, 0);
}

void migration_before_write(shard *s, int dbid, const char *key, size_t len)
{
    if (dbid != 0 || cluster_mode != CLUSTER_YES)
        return;
    out_mig *m = migration_out_of_slot(key_slot(key, len));
    if (!m)
        return;
    mig_flow *f = &m->flows[s->id];
    if (!f->serializing)
        return;
    /* As the snapshot does: the key's bucket in either array (a new key goes to the newer). */
    table *t = &s->dbs[0].keys;
    uint64_t h = table_hash(key, len);
    for (int arr = 0; arr < 2; arr++)
        if (f->nbits[arr])
            visit_bucket(f, arr, h & (t->size[arr] - 1));
}

/* DFLYCLUSTER FLUSHSLOTS of the migration's slots that live in shard s: what FLUSHALL or
 * FLUSHDB does to them, for the target (the flow's connection is on its admin port). Slots of
 * other shards are left to their own flows, which carry their own FLUSHSLOTS in their order. */
static void forward_flush(out_mig *m, shard *s)
{
    buf b;
    buf_init(&b);
    int n = 0;
    for (int slot = s->id; slot < CLUSTER_SLOTS; slot += dfly_nshards)
        n += bit_get(m->slots, (size_t)slot) && atomic_load(&slot_phase[slot]) == MIG_SLOT_SYNC &&
             atomic_load(&slot_out[slot]) == m->index;
    if (n) {
        put_count(&b, '*', 2 + 2 * (unsigned long long)n);
        put_bulk(&b, "DFLYCLUSTER", strlen("DFLYCLUSTER"));
        put_bulk(&b, "FLUSHSLOTS", strlen("FLUSHSLOTS"));
        for (int slot = s->id; slot < CLUSTER_SLOTS; slot += dfly_nshards) {
            if (bit_get(m->slots, (size_t)slot) &&
                atomic_load(&slot_phase[slot]) == MIG_SLOT_SYNC &&
                atomic_load(&slot_out[slot]) == m->index) {
                put_bulk_ll(&b, slot);
                put_bulk_ll(&b, slot);
            }
        }
        flow_append(&m->flows[s->id], b.data, b.len, 1);
    }
    buf_free(&b);
}

void migration_flush_shard(shard *s)
{
    if (cluster_mode != CLUSTER_YES)
        return;
    for (int i = 0; i < MIGRATIONS_MAX; i++) {
        out_mig *m = outs[i];
        if (!m || !m->flows || !m->point_ms)
            continue;
        /* The keys as they were go first (the flush may come before the slice reached them),
         * then the flush: the target ends up as empty as this shard. */
        if (m->flows[s->id].serializing) {
            flow_advance(&m->flows[s->id], SIZE_MAX);
            flow_stop_serializing(&m->flows[s->id]);
        }
        forward_flush(m, s);
    }
}

/* ---- transactions over every shard, from the migration's thread ---------------------------- */

typedef struct mig_tx {
    out_mig *m;
    tx_fn body;
    atomic_int *done;
} mig_tx;

static void mig_tx_done(void *arg)
{
    mig_tx *t = arg;
    atomic_store(t->done, 1);
    free(t);
}

static void mig_tx_start(void *arg)
{
    mig_tx *t = arg;
    shardset all;
    shardset_all(&all);
    /* The bodies take the mig_tx (->m is the migration); mig_tx_done frees it. */
    if (tx_run(&all, t->body, mig_tx_done, t))
        mig_tx_done(t);
}

/* Runs body(m) while every shard is held, on worker 0, and waits for it. */
static void run_all_shards(out_mig *m, tx_fn body, atomic_int *done)
{
    atomic_store(done, 0);
    mig_tx *t = mem_malloc(sizeof(*t));
    t->m = m;
    t->body = body;
    t->done = done;
    worker_post(workers[0], mig_tx_start, t);
    /* On the way out the workers may stop before running it: nothing matters then. */
    while (!atomic_load(done) && !atomic_load(&server.shutdown_asked))
        usleep(MIG_POLL_MS * 1000);
}

/* The point in time: the tables freeze, the slots start forwarding. */
static void point_body(void *arg)
{
    out_mig *m = ((mig_tx *)arg)->m;
    m->point_ms = clock_wall_ms();
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        table *t = &shards[i]->dbs[0].keys;
        t->frozen++;
        for (int arr = 0; arr < 2; arr++) {
            size_t n = t->buckets[arr] ? t->size[arr] : 0;
            f->nbits[arr] = n;
            f->done[arr] = n ? mem_calloc((n + 7) / 8, 1) : NULL;
        }
        f->arr = 0;
        f->idx = 0;
        f->serializing = 1;
        atomic_fetch_add(&snapshot_active_any, 1);
    }
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        if (!bit_get(m->slots, (size_t)s))
            continue;
        atomic_store(&slot_out[s], (uint8_t)m->index);
        atomic_store(&slot_phase[s], MIG_SLOT_SYNC);
    }
    if (atomic_fetch_add(&forwarding, 1) == 0)
        journal_slot_tap_set(slot_tap);
}

/* Finalizing: the slots stop taking writes; what was forwarded drains. */
static void finalize_body(void *arg)
{
    out_mig *m = ((mig_tx *)arg)->m;
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (bit_get(m->slots, (size_t)s) && atomic_load(&slot_out[s]) == m->index)
            atomic_store(&slot_phase[s], MIG_SLOT_FINALIZING);
}

/* The end of the thread's work: serialization state goes; the slots keep -ASK when the
 * migration finished, else they are served here again. */
static void teardown_body(void *arg)
{
    out_mig *m = ((mig_tx *)arg)->m;
    /* A configuration that dropped the migration meanwhile takes the slots back. */
    int finished = atomic_load(&m->state) == MIGRATION_FINISHED && !atomic_load(&m->stop);
    for (int i = 0; i < m->nflows; i++)
        flow_stop_serializing(&m->flows[i]);
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        if (!bit_get(m->slots, (size_t)s) || atomic_load(&slot_out[s]) != m->index)
            continue;
        if (finished) {
            atomic_store(&slot_phase[s], MIG_SLOT_MOVED);
        } else {
            atomic_store(&slot_phase[s], MIG_SLOT_NONE);
            atomic_store(&slot_out[s], 0);
        }
    }
    if (m->point_ms && atomic_fetch_sub(&forwarding, 1) == 1)
        journal_slot_tap_set(NULL);
}

/* ---- the connection to the target --------------------------------------------------------- */

void mig_fail(out_mig *m, const char *fmt, ...)
{
    pthread_mutex_lock(&m->mu);
    if (!m->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->err, sizeof(m->err), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&m->mu);
}

static int has_failed(out_mig *m)
{
    pthread_mutex_lock(&m->mu);
    int failed = m->err[0] != '\0';
    pthread_mutex_unlock(&m->mu);
    return failed;
}

/* Sends a command and reads its one-line reply into line. Returns 0 or -1. */
static int command_line(out_mig *m, mig_link *l, const buf *cmd, char *line, size_t cap)
{
    if (mig_link_send_all(m, l, cmd->data, cmd->len) < 0 || mig_link_read_line(m, l, line, cap) < 0)
        return -1;
    return 0;
}

/* The target's password: the one for masters (--masterauth, --masteruser), else this node's
 * own (cluster nodes usually share one). Returns 0 when there is none or it was accepted. */
static int authenticate(out_mig *m, mig_link *l)
{
    const char *pass = server.cfg.masterauth && *server.cfg.masterauth ? server.cfg.masterauth
                       : server.cfg.requirepass                        ? server.cfg.requirepass
                                                                       : "";
    if (!*pass)
        return 0;
    const char *user = server.cfg.masterauth && *server.cfg.masterauth && server.cfg.masteruser
                           ? server.cfg.masteruser
                           : "";
    buf b;
    buf_init(&b);
    put_count(&b, '*', *user ? 3 : 2);
    put_bulk(&b, "AUTH", strlen("AUTH"));
    if (*user)
        put_bulk(&b, user, strlen(user));
    put_bulk(&b, pass, strlen(pass));
    char line[MIG_LINE_MAX];
    int rc = command_line(m, l, &b, line, sizeof(line));
    buf_free(&b);
    if (rc == 0 && strcmp(line, "+OK")) {
        mig_fail(m, "the target refused the password: %s", line + (line[0] == '-'));
        rc = -1;
    }
    return rc;
}

static void put_migrate_cmd(buf *b, const char *sub, int extra)
{
    put_count(b, '*', (unsigned long long)(3 + extra));
    put_bulk(b, "DFLYMIGRATE", strlen("DFLYMIGRATE"));
    put_bulk(b, sub, strlen(sub));
    put_bulk(b, cluster_my_id(), strlen(cluster_my_id()));
}

/* DFLYMIGRATE INIT until the target knows the migration. Returns 0 or -1. */
static int handshake_init(out_mig *m)
{
    buf b;
    buf_init(&b);
    put_migrate_cmd(&b, "INIT", 1 + 2 * m->nranges);
    put_bulk_ll(&b, m->nflows);
    for (int i = 0; i < m->nranges; i++) {
        put_bulk_ll(&b, m->ranges[i].start);
        put_bulk_ll(&b, m->ranges[i].end);
    }
    char line[MIG_LINE_MAX];
    int rc = -1;
    for (int tries = 0; tries < MIG_INIT_RETRIES && !atomic_load(&m->stop); tries++) {
        if (command_line(m, &m->ctrl, &b, line, sizeof(line)) < 0)
            break;
        if (!strcmp(line, "+OK")) {
            rc = 0;
            break;
        }
        if (strcmp(line, "+" MIGRATION_UNKNOWN)) {
            mig_fail(m, "the target refused the migration: %s", line + (line[0] == '-'));
            break;
        }
        usleep(MIG_INIT_RETRY_MS * 1000);
    }
    if (rc < 0 && !has_failed(m))
        mig_fail(m, "the target does not know the migration (its configuration lacks it)");
    buf_free(&b);
    return rc;
}

static int handshake_flows(out_mig *m)
{
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        if (mig_link_open(m, &f->link) < 0 || authenticate(m, &f->link) < 0)
            return -1;
        buf b;
        buf_init(&b);
        put_migrate_cmd(&b, "FLOW", 1);
        put_bulk_ll(&b, i);
        char line[MIG_LINE_MAX];
        int rc = command_line(m, &f->link, &b, line, sizeof(line));
        buf_free(&b);
        if (rc < 0)
            return -1;
        if (strcmp(line, "+OK")) {
            mig_fail(m, "the target refused a flow: %s", line + (line[0] == '-'));
            return -1;
        }
    }
    return 0;
}

/* ---- pumping the flows ------------------------------------------------------------------- */

/* Bytes of f left to send or queued. */
static int flow_has_output(mig_flow *f)
{
    return f->sent < f->sending.len || flow_queued(f) > 0;
}

static void flow_take_output(mig_flow *f)
{
    if (f->sent < f->sending.len)
        return;
    buf_clear(&f->sending);
    f->sent = 0;
    pthread_mutex_lock(&f->mu);
    buf tmp = f->sending;
    f->sending = f->out;
    f->out = tmp;
    pthread_mutex_unlock(&f->mu);
}

static int flow_write(out_mig *m, mig_flow *f)
{
    while (f->sent < f->sending.len) {
        /* Until all of it is sent the buffer stays as it is: a TLS write that did not go
         * through is repeated with the same bytes. */
        long n = mig_link_write(m, &f->link, f->sending.data + f->sent, f->sending.len - f->sent);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        f->sent += (size_t)n;
        m->last_progress_ms = clock_mono_ms();
    }
    return 0;
}

static int flow_read(out_mig *m, mig_flow *f)
{
    long n = mig_link_read(m, &f->link, &f->in);
    if (n < 0)
        return -1;
    if (n > 0)
        m->last_progress_ms = clock_mono_ms();
    size_t used = 0;
    long errors = 0;
    char err[MIGRATION_ERR_MAX / 2] = "";
    long got = migration_count_replies(f->in.data, f->in.len, &used, &errors, err, sizeof(err));
    if (got < 0) {
        mig_fail(m, "the target sent a malformed reply");
        return -1;
    }
    if (errors) {
        mig_fail(m, "the target refused a command: %s", err);
        return -1;
    }
    f->replies += (uint64_t)got;
    buf_consume(&f->in, used);
    return 0;
}

/* One round of I/O over every flow, waiting at most timeout_ms. Returns 0 or -1. */
static int pump(out_mig *m, int timeout_ms)
{
    struct pollfd pf[DFLY_MAX_THREADS];
    for (int i = 0; i < m->nflows; i++) {
        flow_take_output(&m->flows[i]);
        pf[i].fd = m->flows[i].link.fd;
        pf[i].events = (short)(POLLIN | (m->flows[i].sent < m->flows[i].sending.len ? POLLOUT : 0));
        pf[i].revents = 0;
    }
    if (poll(pf, (nfds_t)m->nflows, timeout_ms) < 0 && errno != EINTR) {
        mig_fail(m, "poll: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        /* Bytes TLS already took from the socket do not wake poll(). */
        if ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) || mig_link_pending(&f->link))
            if (flow_read(m, f) < 0)
                return -1;
        if (flow_write(m, f) < 0)
            return -1;
    }
    return 0;
}

/* Commands sent (or queued) that the target has not answered yet, over every flow. */
static uint64_t unanswered(out_mig *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        pthread_mutex_lock(&f->mu);
        uint64_t appended = f->appended;
        pthread_mutex_unlock(&f->mu);
        n += appended - f->replies;
    }
    return n;
}

static int all_serialized(out_mig *m)
{
    for (int i = 0; i < m->nflows; i++)
        if (!atomic_load(&m->flows[i].serial_done))
            return 0;
    return 1;
}

/* Posts the next serialization slice of each flow that has room in its buffer. */
static void kick_slices(out_mig *m)
{
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        if (atomic_load(&f->serial_done) || flow_queued(f) > MIG_FLOW_BUF_MAX)
            continue;
        int idle = 0;
        if (atomic_compare_exchange_strong(&f->slice_posted, &idle, 1))
            worker_post(workers[i], slice_msg, f);
    }
}

/* Bytes queued for every flow, not yet taken for sending. */
static size_t queued_total(out_mig *m)
{
    size_t n = 0;
    for (int i = 0; i < m->nflows; i++)
        n += flow_queued(&m->flows[i]) + (m->flows[i].sending.len - m->flows[i].sent);
    return n;
}

/* Pumps until at most `lag` commands are unanswered and at most out_max bytes wait to be sent
 * (with serializing: once every shard is serialized too). Writes keep coming while the slots
 * forward, so the first wait only gets close; the second, after finalizing, gets to zero. */
static int drain(out_mig *m, uint64_t lag, size_t out_max, int serializing)
{
    for (;;) {
        if (atomic_load(&m->stop)) {
            mig_fail(m, "cancelled by a new configuration");
            return -1;
        }
        if (atomic_load(&server.shutdown_asked)) {
            mig_fail(m, "the server is shutting down");
            return -1;
        }
        if (serializing)
            kick_slices(m);
        int out = 0;
        for (int i = 0; i < m->nflows; i++)
            out |= flow_has_output(&m->flows[i]);
        int near = out_max ? queued_total(m) <= out_max : !out;
        if (near && unanswered(m) <= lag && (!serializing || all_serialized(m)))
            return 0;
        if (pump(m, serializing && !all_serialized(m) ? MIG_SLICE_POLL_MS : MIG_POLL_MS) < 0)
            return -1;
        if (clock_mono_ms() - m->last_progress_ms > MIG_REPLY_TIMEOUT_MS && unanswered(m)) {
            mig_fail(m, "the target stopped answering");
            return -1;
        }
    }
}

/* ---- the thread ---------------------------------------------------------------------------- */

/* The target's client address, from the configuration in force (for -ASK). */
static void resolve_ask_target(out_mig *m)
{
    const cluster_config *cfg = cluster_current();
    snprintf(m->ask_ip, sizeof(m->ask_ip), "%s", m->ip);
    m->ask_port = m->port;
    for (int i = 0; cfg && i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        if (!strcmp(sh->master.id, m->target_id)) {
            snprintf(m->ask_ip, sizeof(m->ask_ip), "%s", sh->master.ip);
            m->ask_port = sh->master.port;
        }
    }
}

/* The target has everything: the slots redirect there. No write runs on them meanwhile (they
 * are finalizing), so plain stores do. */
static void mark_moved(out_mig *m)
{
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (bit_get(m->slots, (size_t)s) && atomic_load(&slot_out[s]) == m->index)
            atomic_store(&slot_phase[s], MIG_SLOT_MOVED);
}

static int send_ack(out_mig *m)
{
    buf b;
    buf_init(&b);
    put_migrate_cmd(&b, "ACK", 0);
    char line[MIG_LINE_MAX];
    int rc = command_line(m, &m->ctrl, &b, line, sizeof(line));
    buf_free(&b);
    if (rc == 0 && strcmp(line, "+OK")) {
        mig_fail(m, "the target refused the end of the migration: %s", line + (line[0] == '-'));
        rc = -1;
    }
    return rc;
}

static void close_fds(out_mig *m)
{
    mig_link_close(&m->ctrl);
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        mig_link_close(&f->link);
        buf_free(&f->sending);
        buf_free(&f->in);
        pthread_mutex_lock(&f->mu);
        buf_free(&f->out);
        pthread_mutex_unlock(&f->mu);
    }
}

static int mig_run(out_mig *m)
{
    if (mig_link_open(m, &m->ctrl) < 0 || authenticate(m, &m->ctrl) < 0 || handshake_init(m) < 0 ||
        handshake_flows(m) < 0)
        return -1;
    atomic_store(&m->state, MIGRATION_SYNC);
    run_all_shards(m, point_body, &m->point_done);
    m->last_progress_ms = clock_mono_ms();
    log_info("migration to %s: point in time taken, serializing", m->target_id);
    if (drain(m, MIG_FINALIZE_LAG, MIG_FINALIZE_BYTES, 1) < 0)
        return -1;
    run_all_shards(m, finalize_body, &m->finalize_done);
    if (drain(m, 0, 0, 0) < 0 || send_ack(m) < 0)
        return -1;
    return 0;
}

static void *mig_main(void *arg)
{
    out_mig *m = arg;
    pthread_setname_np(pthread_self(), "dfly-migrate");
    log_info("migration of slots to %s (%s:%d) starting", m->target_id, m->ip, m->port);
    int rc = mig_run(m);
    if (rc == 0) {
        /* The slots answer -ASK from before FINISHED shows: whoever sees the state sees it. */
        resolve_ask_target(m);
        mark_moved(m);
        atomic_store(&m->state, MIGRATION_FINISHED);
        atomic_fetch_add(&finished_total, 1);
    }
    /* Nothing is appended to the flows once the slots are given back (or moved): only then
     * do their buffers go. */
    run_all_shards(m, teardown_body, &m->teardown_done);
    close_fds(m);
    uint64_t keys = 0;
    for (int i = 0; i < m->nflows; i++)
        keys += atomic_load(&m->flows[i].keys);
    if (rc == 0) {
        log_info("migration to %s finished: %llu keys moved", m->target_id,
                 (unsigned long long)keys);
    } else {
        pthread_mutex_lock(&m->mu);
        log_warning("migration to %s failed: %s", m->target_id, m->err);
        pthread_mutex_unlock(&m->mu);
        atomic_fetch_add(&failed_total, 1);
        atomic_store(&m->state, MIGRATION_ERROR);
    }
    return NULL;
}

/* ---- the configuration ------------------------------------------------------------------- */

static out_mig *out_new(const cluster_migration *cm)
{
    out_mig *m = mem_calloc(1, sizeof(*m));
    m->target_id = mem_strdup(cm->target.id);
    m->ip = mem_strdup(cm->target.ip);
    m->port = cm->target.port;
    m->nranges = cm->nranges;
    m->ranges = mem_malloc(sizeof(cluster_slot_range) * (size_t)cm->nranges);
    memcpy(m->ranges, cm->ranges, sizeof(cluster_slot_range) * (size_t)cm->nranges);
    migration_ranges_to_bits(m->ranges, m->nranges, m->slots);
    pthread_mutex_init(&m->mu, NULL);
    m->ctrl.fd = -1;
    m->nflows = server.nshards;
    m->flows = mem_calloc((size_t)m->nflows, sizeof(mig_flow));
    for (int i = 0; i < m->nflows; i++) {
        mig_flow *f = &m->flows[i];
        f->m = m;
        f->shard_id = i;
        f->link.fd = -1;
        pthread_mutex_init(&f->mu, NULL);
        buf_init(&f->out);
        buf_init(&f->sending);
        buf_init(&f->in);
    }
    return m;
}

/* Moves m out of the table (outs_mu); it stays reachable in the retired list. Its slots were
 * given back by its thread, unless it finished (they keep -ASK until now). */
static void out_retire_locked(out_mig *m)
{
    outs[m->index - 1] = NULL;
    if (atomic_load(&m->state) == MIGRATION_FINISHED) {
        for (int s = 0; s < CLUSTER_SLOTS; s++) {
            if (atomic_load(&slot_out[s]) == m->index) {
                atomic_store(&slot_phase[s], MIG_SLOT_NONE);
                atomic_store(&slot_out[s], 0);
            }
        }
    }
    m->next_retired = retired_outs;
    retired_outs = m;
}

static int out_start_locked(const cluster_migration *cm)
{
    int slot = -1;
    for (int i = 0; i < MIGRATIONS_MAX && slot < 0; i++)
        if (!outs[i])
            slot = i;
    if (slot < 0) {
        log_warning("migration: more than %d outgoing migrations; %s ignored", MIGRATIONS_MAX,
                    cm->target.id);
        return -1;
    }
    out_mig *m = out_new(cm);
    m->index = slot + 1;
    outs[slot] = m;
    if (pthread_create(&m->thread, NULL, mig_main, m) != 0) {
        mig_fail(m, "cannot start a thread");
        atomic_store(&m->state, MIGRATION_ERROR);
        return -1;
    }
    pthread_detach(m->thread);
    return 0;
}

static out_mig *out_find_locked(const cluster_migration *cm)
{
    for (int i = 0; i < MIGRATIONS_MAX; i++) {
        out_mig *m = outs[i];
        if (m && !strcmp(m->target_id, cm->target.id) &&
            migration_ranges_equal(m->ranges, m->nranges, cm->ranges, cm->nranges))
            return m;
    }
    return NULL;
}

/* An outgoing migration whose thread still runs cannot be retired yet: it is asked to stop,
 * and the next configuration (or this one, once stopped) retires it. */
static int out_running(out_mig *m)
{
    int st = atomic_load(&m->state);
    return st == MIGRATION_CONNECTING || st == MIGRATION_SYNC ||
           (st == MIGRATION_FINISHED && !atomic_load(&m->teardown_done));
}

static void outgoing_apply(const cluster_config *cfg)
{
    const cluster_shard *mine = cfg->my_shard >= 0 && cfg->my_role == CLUSTER_ROLE_MASTER
                                    ? &cfg->shards[cfg->my_shard]
                                    : NULL;
    pthread_mutex_lock(&outs_mu);
    /* Cancel or retire what the configuration no longer lists. */
    for (int i = 0; i < MIGRATIONS_MAX; i++) {
        out_mig *m = outs[i];
        if (!m)
            continue;
        int listed = 0;
        for (int k = 0; mine && k < mine->nmigrations && !listed; k++)
            listed = out_find_locked(&mine->migrations[k]) == m;
        if (listed)
            continue;
        if (out_running(m))
            atomic_store(&m->stop, 1);
        else
            out_retire_locked(m);
    }
    /* Start what is new, and what failed (pushing the configuration again retries). */
    for (int k = 0; mine && k < mine->nmigrations; k++) {
        const cluster_migration *cm = &mine->migrations[k];
        out_mig *m = out_find_locked(cm);
        if (m && atomic_load(&m->state) == MIGRATION_ERROR) {
            out_retire_locked(m);
            m = NULL;
        }
        if (!m)
            out_start_locked(cm);
    }
    pthread_mutex_unlock(&outs_mu);
}

void migration_config_applied(const cluster_config *cfg)
{
    outgoing_apply(cfg);
    migration_incoming_apply(cfg);
}

/* ---- routing -------------------------------------------------------------------------------- */

int migration_slot_phase(uint16_t slot)
{
    return atomic_load_explicit(&slot_phase[slot], memory_order_relaxed);
}

int migration_ask_target(uint16_t slot, char *ip, size_t iplen, int *port)
{
    out_mig *m = migration_out_of_slot(slot);
    if (!m || atomic_load(&slot_phase[slot]) != MIG_SLOT_MOVED)
        return -1;
    snprintf(ip, iplen, "%s", m->ask_ip);
    *port = m->ask_port;
    return 0;
}
