/* Slot migration, the target's side and the reports (see migration.h): the incoming
 * migrations DFLYMIGRATE registers (t_migration.c has the commands), which slots ASKING may
 * use, and SLOT-MIGRATION-STATUS, INFO and /metrics for both directions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "migration_int.h"
#include "reply.h"
#include "server.h"

/* The incoming migrations the configuration lists for this node: towards my id. */
static int in_listed(const cluster_config *cfg, const in_mig *im)
{
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        if (strcmp(sh->master.id, im->source_id))
            continue;
        for (int k = 0; k < sh->nmigrations; k++) {
            const cluster_migration *cm = &sh->migrations[k];
            if (!strcmp(cm->target.id, cluster_my_id()) &&
                migration_ranges_equal(cm->ranges, cm->nranges, im->ranges, im->nranges))
                return 1;
        }
    }
    return 0;
}

static void in_free(in_mig *im)
{
    free(im->source_id);
    free(im->ranges);
    free(im);
}

static void importing_set(const in_mig *im, int on)
{
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (bit_get(im->slots, (size_t)s))
            atomic_store(&slot_importing[s], (uint8_t)on);
}

void migration_incoming_apply(const cluster_config *cfg)
{
    pthread_mutex_lock(&in_mu);
    for (in_mig **p = &ins; *p;) {
        in_mig *im = *p;
        if (in_listed(cfg, im)) {
            p = &im->next;
            continue;
        }
        importing_set(im, 0);
        *p = im->next;
        in_free(im);
    }
    pthread_mutex_unlock(&in_mu);
}

int migration_importing(uint16_t slot)
{
    return atomic_load_explicit(&slot_importing[slot], memory_order_relaxed);
}

/* ---- the target side ------------------------------------------------------------------------ */

static in_mig *in_find_locked(const char *id, size_t idlen)
{
    for (in_mig *im = ins; im; im = im->next)
        if (strlen(im->source_id) == idlen && !memcmp(im->source_id, id, idlen))
            return im;
    return NULL;
}

int migration_incoming_init(const char *source_id, size_t idlen, int nflows,
                            const cluster_slot_range *ranges, int nranges, char *err, size_t errlen)
{
    const cluster_config *cfg = cluster_current();
    in_mig probe = {.source_id = mem_strndup(source_id, idlen),
                    .ranges = (cluster_slot_range *)ranges,
                    .nranges = nranges};
    int listed = cfg && in_listed(cfg, &probe);
    free(probe.source_id);
    if (!listed)
        return 1;
    if (nflows < 1 || nflows > DFLY_MAX_THREADS) {
        snprintf(err, errlen, "ERR invalid number of flows");
        return -1;
    }
    pthread_mutex_lock(&in_mu);
    in_mig *im = in_find_locked(source_id, idlen);
    if (im) {
        importing_set(im, 0);
        free(im->ranges);
    } else {
        im = mem_calloc(1, sizeof(*im));
        im->source_id = mem_strndup(source_id, idlen);
        im->next = ins;
        ins = im;
    }
    im->ranges = mem_malloc(sizeof(cluster_slot_range) * (size_t)nranges);
    memcpy(im->ranges, ranges, sizeof(cluster_slot_range) * (size_t)nranges);
    im->nranges = nranges;
    migration_ranges_to_bits(ranges, nranges, im->slots);
    im->state = MIGRATION_SYNC;
    im->nflows = nflows;
    im->flows_seen = 0;
    pthread_mutex_unlock(&in_mu);
    log_info("migration from %.*s: incoming, %d flows", (int)idlen, source_id, nflows);
    return 0;
}

int migration_incoming_flow(const char *source_id, size_t idlen, int flow)
{
    pthread_mutex_lock(&in_mu);
    in_mig *im = in_find_locked(source_id, idlen);
    int ok = im && im->state == MIGRATION_SYNC && flow >= 0 && flow < im->nflows;
    if (ok)
        im->flows_seen++;
    pthread_mutex_unlock(&in_mu);
    return ok ? 0 : -1;
}

int migration_incoming_ack(const char *source_id, size_t idlen)
{
    pthread_mutex_lock(&in_mu);
    in_mig *im = in_find_locked(source_id, idlen);
    int ok = im && im->state != MIGRATION_ERROR;
    if (ok) {
        im->state = MIGRATION_FINISHED;
        importing_set(im, 1);
    }
    pthread_mutex_unlock(&in_mu);
    if (ok)
        log_info("migration from %.*s finished", (int)idlen, source_id);
    return ok ? 0 : -1;
}

/* ---- status ------------------------------------------------------------------------------- */

static uint64_t out_keys(out_mig *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->nflows; i++)
        n += atomic_load(&m->flows[i].keys);
    return n;
}

static uint64_t in_keys(const in_mig *im)
{
    uint64_t n = 0;
    for (int r = 0; r < im->nranges; r++)
        for (int s = im->ranges[r].start; s <= im->ranges[r].end; s++)
            n += cluster_slot_key_count((uint16_t)s);
    return n;
}

typedef struct status_row {
    const char *direction;
    char *node_id;
    int state;
    uint64_t keys;
    char err[MIGRATION_ERR_MAX];
} status_row;

static status_row *rows_reserve(status_row *rows, int n, int *cap)
{
    if (n < *cap)
        return rows;
    *cap *= 2;
    return mem_realloc(rows, sizeof(status_row) * (size_t)*cap);
}

/* Every migration of this node (the caller frees the rows' node ids and the array). */
static status_row *status_rows(int *count)
{
    int cap = MIGRATIONS_MAX, n = 0;
    status_row *rows = mem_calloc((size_t)cap, sizeof(status_row));
    pthread_mutex_lock(&in_mu);
    for (in_mig *im = ins; im; im = im->next) {
        rows = rows_reserve(rows, n, &cap);
        rows[n++] = (status_row){.direction = "in",
                                 .node_id = mem_strdup(im->source_id),
                                 .state = im->state,
                                 .keys = in_keys(im)};
    }
    pthread_mutex_unlock(&in_mu);
    pthread_mutex_lock(&outs_mu);
    for (int i = 0; i < MIGRATIONS_MAX; i++) {
        out_mig *m = outs[i];
        if (!m)
            continue;
        rows = rows_reserve(rows, n, &cap);
        status_row *r = &rows[n++];
        *r = (status_row){.direction = "out",
                          .node_id = mem_strdup(m->target_id),
                          .state = atomic_load(&m->state),
                          .keys = out_keys(m)};
        if (r->state == MIGRATION_ERROR) {
            pthread_mutex_lock(&m->mu);
            snprintf(r->err, sizeof(r->err), "%s", m->err);
            pthread_mutex_unlock(&m->mu);
        }
    }
    pthread_mutex_unlock(&outs_mu);
    *count = n;
    return rows;
}

static void rows_free(status_row *rows, int n)
{
    for (int i = 0; i < n; i++)
        free(rows[i].node_id);
    free(rows);
}

/* The configuration's incoming migrations this node has not heard of yet: CONNECTING. */
static int status_pending_in(const cluster_config *cfg, const status_row *rows, int n,
                             status_row *out, int cap)
{
    int added = 0;
    for (int i = 0; cfg && i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        for (int k = 0; k < sh->nmigrations && added < cap; k++) {
            if (strcmp(sh->migrations[k].target.id, cluster_my_id()))
                continue;
            int known = 0;
            for (int r = 0; r < n && !known; r++)
                known = !strcmp(rows[r].direction, "in") && !strcmp(rows[r].node_id, sh->master.id);
            if (!known)
                out[added++] = (status_row){.direction = "in",
                                            .node_id = mem_strdup(sh->master.id),
                                            .state = MIGRATION_CONNECTING};
        }
    }
    return added;
}

#define PENDING_MAX 64

void migration_status_reply(cmd_ctx *c, const char *filter, size_t flen)
{
    int n;
    status_row *rows = status_rows(&n);
    status_row pending[PENDING_MAX];
    int np = status_pending_in(cluster_current(), rows, n, pending, PENDING_MAX);
    long shown = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && shown == 0) {
            reply_simple(c, "NO_STATE"); /* Dragonfly's answer when there is nothing */
            break;
        }
        if (pass == 1)
            reply_array(c, shown);
        for (int i = 0; i < n + np; i++) {
            const status_row *r = i < n ? &rows[i] : &pending[i - n];
            if (filter && (strlen(r->node_id) != flen || memcmp(r->node_id, filter, flen)))
                continue;
            if (pass == 0) {
                shown++;
                continue;
            }
            reply_array(c, 5);
            reply_bulk_cstr(c, r->direction);
            reply_bulk_cstr(c, r->node_id);
            reply_bulk_cstr(c, migration_state_name(r->state));
            reply_int(c, (long long)r->keys);
            reply_bulk_cstr(c, r->err[0] ? r->err : "0"); /* Dragonfly's "no error" */
        }
    }
    rows_free(rows, n);
    for (int i = 0; i < np; i++)
        free(pending[i].node_id);
}

void migration_info(buf *out)
{
    int n;
    status_row *rows = status_rows(&n);
    int active = 0;
    for (int i = 0; i < n; i++)
        active += rows[i].state == MIGRATION_CONNECTING || rows[i].state == MIGRATION_SYNC;
    buf_printf(out,
               "cluster_migrations_active:%d\r\n"
               "cluster_migrations_finished:%d\r\n"
               "cluster_migrations_failed:%d\r\n"
               "cluster_migration_keys_sent:%llu\r\n",
               active, atomic_load(&finished_total), atomic_load(&failed_total),
               (unsigned long long)atomic_load(&keys_sent_total));
    for (int i = 0; i < n; i++)
        buf_printf(out, "cluster_migration_%d:direction=%s,node=%s,state=%s,keys=%llu\r\n", i,
                   rows[i].direction, rows[i].node_id, migration_state_name(rows[i].state),
                   (unsigned long long)rows[i].keys);
    rows_free(rows, n);
}

void migration_metrics(buf *out)
{
    int n;
    status_row *rows = status_rows(&n);
    buf_printf(out, "# HELP dragonfly_cluster_migration_keys Keys moved by each slot migration "
                    "(sent by the source, present on the target).\n"
                    "# TYPE dragonfly_cluster_migration_keys gauge\n");
    for (int i = 0; i < n; i++)
        buf_printf(out,
                   "dragonfly_cluster_migration_keys{direction=\"%s\",node=\"%s\",state=\"%s\"} "
                   "%llu\n",
                   rows[i].direction, rows[i].node_id, migration_state_name(rows[i].state),
                   (unsigned long long)rows[i].keys);
    buf_printf(out,
               "# HELP dragonfly_cluster_migration_keys_sent_total Keys this node sent to "
               "migration targets.\n"
               "# TYPE dragonfly_cluster_migration_keys_sent_total counter\n"
               "dragonfly_cluster_migration_keys_sent_total %llu\n",
               (unsigned long long)atomic_load(&keys_sent_total));
    rows_free(rows, n);
}
