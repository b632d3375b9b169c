/* DFLYCLUSTER CONFIG's JSON: parsing and validation into a cluster_config (see cluster.h).
 *
 * Pure functions of their input, so that tests/fuzz/fuzz_cluster_config.c can drive them. The
 * document is Dragonfly's:
 *   [{"slot_ranges": [{"start": 0, "end": 8191}],
 *     "master": {"id": "...", "ip": "10.0.0.1", "port": 6379},
 *     "replicas": [{"id": "...", "ip": "...", "port": 6379}],
 *     "migrations": [{"node_id": "...", "ip": "...", "port": 6379,
 *                     "slot_ranges": [{"start": 0, "end": 99}]}]},   <- optional
 *    ...]
 * Members we do not know are ignored (a newer control plane may send more); every known member
 * must have its type. Work is linear in the document plus CLUSTER_SLOTS: a hostile document
 * cannot make validation quadratic. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"

/* A node id seen in the document: where it is, for the uniqueness check and lookups. */
typedef struct id_ref {
    const char *id;
    int shard;
    int role; /* CLUSTER_ROLE_MASTER or CLUSTER_ROLE_REPLICA */
} id_ref;

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Printable ASCII without spaces: ids and addresses are written into CLUSTER NODES lines and
 * MOVED errors, where a space, a newline or a control byte would break the format. */
static int text_ok(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f)
            return 0;
    }
    return 1;
}

int cluster_valid_id(const char *id, size_t len)
{
    return text_ok(id, len, CLUSTER_NODE_ID_MAX);
}

/* ---- pieces ------------------------------------------------------------------------------- */

static int parse_ranges(json_t *j, const char *what, cluster_slot_range **out, int *n, char *err,
                        size_t errlen)
{
    if (!json_is_array(j))
        return fail(err, errlen, "%s: \"slot_ranges\" is not an array", what);
    size_t count = json_array_size(j);
    /* Each range has at least one slot and no slot may appear twice. */
    if (count > CLUSTER_SLOTS)
        return fail(err, errlen, "%s: more slot ranges than slots", what);
    *out = count ? mem_calloc(count, sizeof(**out)) : NULL;
    *n = (int)count;
    for (size_t i = 0; i < count; i++) {
        json_t *r = json_array_get(j, i);
        json_t *start = json_object_get(r, "start"), *end = json_object_get(r, "end");
        if (!json_is_object(r) || !json_is_integer(start) || !json_is_integer(end))
            return fail(err, errlen, "%s: slot range %zu is not {\"start\": int, \"end\": int}",
                        what, i);
        json_int_t s = json_integer_value(start), e = json_integer_value(end);
        if (s < 0 || e >= CLUSTER_SLOTS || s > e)
            return fail(err, errlen, "%s: invalid slot range %lld-%lld", what, (long long)s,
                        (long long)e);
        (*out)[i].start = (uint16_t)s;
        (*out)[i].end = (uint16_t)e;
    }
    return 0;
}

/* A node object: {"<id_key>": str, "ip": str, "port": int}. */
static int parse_node(json_t *j, const char *what, const char *id_key, cluster_node *out, char *err,
                      size_t errlen)
{
    if (!json_is_object(j))
        return fail(err, errlen, "%s is not an object", what);
    json_t *id = json_object_get(j, id_key), *ip = json_object_get(j, "ip");
    json_t *port = json_object_get(j, "port");
    if (!json_is_string(id) || !cluster_valid_id(json_string_value(id), json_string_length(id)))
        return fail(err, errlen, "%s: \"%s\" is missing or not a valid node id", what, id_key);
    if (!json_is_string(ip) ||
        !text_ok(json_string_value(ip), json_string_length(ip), CLUSTER_IP_MAX))
        return fail(err, errlen, "%s: \"ip\" is missing or not a valid address", what);
    if (!json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > CLUSTER_PORT_MAX)
        return fail(err, errlen, "%s: \"port\" is missing or not in 1..%d", what, CLUSTER_PORT_MAX);
    out->id = mem_strdup(json_string_value(id));
    out->ip = mem_strdup(json_string_value(ip));
    out->port = (int)json_integer_value(port);
    return 0;
}

static int parse_migrations(json_t *j, const char *what, cluster_shard *sh, char *err,
                            size_t errlen)
{
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_array(j))
        return fail(err, errlen, "%s: \"migrations\" is not an array", what);
    size_t count = json_array_size(j);
    if (count > CLUSTER_SLOTS) /* each moves at least one slot, none twice */
        return fail(err, errlen, "%s: more migrations than slots", what);
    sh->migrations = count ? mem_calloc(count, sizeof(cluster_migration)) : NULL;
    sh->nmigrations = (int)count;
    for (size_t i = 0; i < count; i++) {
        char mwhat[96];
        snprintf(mwhat, sizeof(mwhat), "%s, migration %zu", what, i);
        cluster_migration *m = &sh->migrations[i];
        json_t *mj = json_array_get(j, i);
        if (parse_node(mj, mwhat, "node_id", &m->target, err, errlen) ||
            parse_ranges(json_object_get(mj, "slot_ranges"), mwhat, &m->ranges, &m->nranges, err,
                         errlen))
            return -1;
        if (m->nranges == 0)
            return fail(err, errlen, "%s: no slots to migrate", mwhat);
    }
    return 0;
}

static int parse_shard(json_t *j, int index, cluster_shard *sh, char *err, size_t errlen)
{
    char what[32];
    snprintf(what, sizeof(what), "shard %d", index);
    if (!json_is_object(j))
        return fail(err, errlen, "%s is not an object", what);
    if (parse_ranges(json_object_get(j, "slot_ranges"), what, &sh->ranges, &sh->nranges, err,
                     errlen))
        return -1;
    char mwhat[64];
    snprintf(mwhat, sizeof(mwhat), "%s: \"master\"", what);
    if (parse_node(json_object_get(j, "master"), mwhat, "id", &sh->master, err, errlen))
        return -1;
    json_t *replicas = json_object_get(j, "replicas");
    if (!json_is_array(replicas))
        return fail(err, errlen, "%s: \"replicas\" is missing or not an array", what);
    size_t count = json_array_size(replicas);
    sh->replicas = count ? mem_calloc(count, sizeof(cluster_node)) : NULL;
    sh->nreplicas = (int)count;
    for (size_t i = 0; i < count; i++) {
        char rwhat[64];
        snprintf(rwhat, sizeof(rwhat), "%s, replica %zu", what, i);
        if (parse_node(json_array_get(replicas, i), rwhat, "id", &sh->replicas[i], err, errlen))
            return -1;
    }
    return parse_migrations(json_object_get(j, "migrations"), what, sh, err, errlen);
}

/* ---- whole-document checks ---------------------------------------------------------------- */

/* Every slot in exactly one shard's ranges; fills cfg->slot_shard. */
static int check_coverage(cluster_config *cfg, char *err, size_t errlen)
{
    static const uint16_t unset = UINT16_MAX; /* more than any shard index (<= CLUSTER_SLOTS) */
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        cfg->slot_shard[s] = unset;
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        for (int r = 0; r < sh->nranges; r++) {
            for (int s = sh->ranges[r].start; s <= sh->ranges[r].end; s++) {
                if (cfg->slot_shard[s] != unset)
                    return fail(err, errlen, "slot %d is in more than one range", s);
                cfg->slot_shard[s] = (uint16_t)i;
            }
        }
    }
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (cfg->slot_shard[s] == unset)
            return fail(err, errlen, "slot %d is not covered", s);
    return 0;
}

static int id_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const id_ref *)a)->id, ((const id_ref *)b)->id);
}

/* The ids of every master and replica, sorted; NULL with err when one appears twice. */
static id_ref *collect_ids(const cluster_config *cfg, int *n, char *err, size_t errlen)
{
    size_t total = 0;
    for (int i = 0; i < cfg->nshards; i++)
        total += 1 + (size_t)cfg->shards[i].nreplicas;
    id_ref *ids = mem_malloc(sizeof(id_ref) * total);
    size_t k = 0;
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        ids[k++] = (id_ref){sh->master.id, i, CLUSTER_ROLE_MASTER};
        for (int r = 0; r < sh->nreplicas; r++)
            ids[k++] = (id_ref){sh->replicas[r].id, i, CLUSTER_ROLE_REPLICA};
    }
    qsort(ids, total, sizeof(id_ref), id_ref_cmp);
    for (size_t i = 1; i < total; i++) {
        if (!strcmp(ids[i - 1].id, ids[i].id)) {
            fail(err, errlen, "node id %s appears more than once", ids[i].id);
            free(ids);
            return NULL;
        }
    }
    *n = (int)total;
    return ids;
}

static const id_ref *find_id(const id_ref *ids, int n, const char *id)
{
    id_ref key = {id, 0, 0};
    return bsearch(&key, ids, (size_t)n, sizeof(id_ref), id_ref_cmp);
}

/* Migrations move slots of their own shard, each slot at most once, to another shard's master. */
static int check_migrations(const cluster_config *cfg, const id_ref *ids, int nids, char *err,
                            size_t errlen)
{
    uint8_t *moving = mem_calloc(CLUSTER_SLOTS, 1);
    int rc = 0;
    for (int i = 0; i < cfg->nshards && rc == 0; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        for (int m = 0; m < sh->nmigrations && rc == 0; m++) {
            const cluster_migration *mig = &sh->migrations[m];
            const id_ref *t = find_id(ids, nids, mig->target.id);
            if (!t || t->role != CLUSTER_ROLE_MASTER || t->shard == i) {
                rc = fail(err, errlen,
                          "shard %d, migration %d: target %s is not the master of "
                          "another shard",
                          i, m, mig->target.id);
                break;
            }
            for (int r = 0; r < mig->nranges && rc == 0; r++) {
                for (int s = mig->ranges[r].start; s <= mig->ranges[r].end; s++) {
                    if (cfg->slot_shard[s] != i || moving[s]) {
                        rc = fail(err, errlen,
                                  "shard %d, migration %d: slot %d is outside the "
                                  "shard or already migrating",
                                  i, m, s);
                        break;
                    }
                    moving[s] = 1;
                }
            }
        }
    }
    free(moving);
    return rc;
}

/* Where my_id is in the topology (role NONE when it is not). */
static void locate_me(cluster_config *cfg, const id_ref *ids, int nids, const char *my_id)
{
    cfg->my_shard = -1;
    cfg->my_role = CLUSTER_ROLE_NONE;
    const id_ref *me = my_id ? find_id(ids, nids, my_id) : NULL;
    if (me) {
        cfg->my_shard = me->shard;
        cfg->my_role = me->role;
    }
}

/* ---- entry points ------------------------------------------------------------------------- */

cluster_config *cluster_config_parse(const char *json, size_t len, const char *my_id, char *err,
                                     size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fail(err, errlen, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    cluster_config *cfg = mem_calloc(1, sizeof(*cfg));
    int rc = 0;
    if (!json_is_array(root)) {
        rc = fail(err, errlen, "the configuration is not an array of shards");
    } else if (json_array_size(root) > CLUSTER_SLOTS) {
        rc = fail(err, errlen, "more shards than slots"); /* shard indexes fit in 16 bits */
    } else {
        cfg->nshards = (int)json_array_size(root);
        cfg->shards = cfg->nshards ? mem_calloc((size_t)cfg->nshards, sizeof(cluster_shard)) : NULL;
        for (int i = 0; i < cfg->nshards && rc == 0; i++)
            rc = parse_shard(json_array_get(root, (size_t)i), i, &cfg->shards[i], err, errlen);
    }
    json_decref(root);
    if (rc == 0)
        rc = check_coverage(cfg, err, errlen);
    int nids = 0;
    id_ref *ids = rc == 0 ? collect_ids(cfg, &nids, err, errlen) : NULL;
    if (rc == 0 && !ids)
        rc = -1;
    if (rc == 0)
        rc = check_migrations(cfg, ids, nids, err, errlen);
    if (rc == 0)
        locate_me(cfg, ids, nids, my_id);
    free(ids); /* its strings belong to cfg */
    if (rc < 0) {
        cluster_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static void node_free(cluster_node *n)
{
    free(n->id);
    free(n->ip);
}

void cluster_config_free(cluster_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nshards; i++) {
        cluster_shard *sh = &cfg->shards[i];
        free(sh->ranges);
        node_free(&sh->master);
        for (int r = 0; r < sh->nreplicas; r++)
            node_free(&sh->replicas[r]);
        free(sh->replicas);
        for (int m = 0; m < sh->nmigrations; m++) {
            node_free(&sh->migrations[m].target);
            free(sh->migrations[m].ranges);
        }
        free(sh->migrations);
    }
    free(cfg->shards);
    free(cfg);
}
