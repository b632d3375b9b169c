/* Cluster mode at run time (see cluster.h): the node id, the configuration in force and its
 * safe replacement, dropping the keys of slots that left, the routing checks of dispatch, and
 * the per-slot counters. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "log.h"
#include "migration.h"
#include "replication.h"
#include "multi.h"
#include "object.h"
#include "reply.h"
#include "server.h"
#include "worker.h"

#define ERR_CROSSSLOT "CROSSSLOT Keys in request don't hash to the same slot"
/* Dragonfly answers a node without a configuration with "Cluster is not yet configured"; we send
 * it with Redis's CLUSTERDOWN code, which cluster clients retry after refreshing the topology. */
#define ERR_NOT_CONFIGURED "CLUSTERDOWN Cluster is not yet configured"
/* Redis 7.0's texts for a script touching keys this node does not serve. */
#define ERR_SCRIPT_NON_LOCAL "ERR Script attempted to access a non local key in a cluster node"
#define ERR_SCRIPT_DOWN "ERR Script attempted to execute a command while the cluster is down"
/* A migrating slot's last writes are draining to the target (migration.h); clients retry. */
#define ERR_TRYAGAIN "TRYAGAIN Slot migration is being finalized, try again"
#define STACK_KEYS 64        /* key positions looked at without allocating */
#define DROP_BATCH 1024      /* keys collected per scan step before deleting them */
#define NODE_ID_FILE_MAX 256 /* bytes read from CLUSTER_NODE_ID_FILE */
#define SLOT_LIST_MAX 256    /* characters of a slot list in a log line */

int cluster_mode;
cluster_slot_stats *cluster_stats_of[DFLY_MAX_THREADS];

static char my_id[CLUSTER_NODE_ID_MAX + 1];
static _Atomic(cluster_config *) current_cfg;
static atomic_uint_fast64_t epoch_counter;
static atomic_uint_fast64_t keys_dropped;

/* Commands refused in cluster mode (found once at startup; compared by address). */
static const command *cmd_select, *cmd_move, *cmd_swapdb, *cmd_copy;

int cluster_mode_parse(const char *s, int *out)
{
    if (!s || !*s || !strcmp(s, "no"))
        *out = CLUSTER_OFF;
    else if (!strcmp(s, "yes"))
        *out = CLUSTER_YES;
    else if (!strcmp(s, "emulated"))
        *out = CLUSTER_EMULATED;
    else
        return -1;
    return 0;
}

const char *cluster_my_id(void)
{
    return my_id;
}

/* ---- the node id -------------------------------------------------------------------------- */

static void id_generate(char *out)
{
    unsigned char raw[CLUSTER_NODE_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            break;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Writes id to CLUSTER_NODE_ID_FILE (in the working directory, which is --dir) through a
 * temporary file, fsync and rename, so that a crash leaves the old file or the new one. */
static int id_store(const char *id, char *err, size_t errlen)
{
    const char *tmp = CLUSTER_NODE_ID_FILE ".tmp";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[CLUSTER_NODE_ID_MAX + 2];
    int len = snprintf(line, sizeof(line), "%s\n", id);
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, CLUSTER_NODE_ID_FILE) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", CLUSTER_NODE_ID_FILE,
                 strerror(ok ? errno : e));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Reads the stored id. Returns 1 when found, 0 when there is no file, -1 on error. */
static int id_load(char *out, char *err, size_t errlen)
{
    FILE *f = fopen(CLUSTER_NODE_ID_FILE, "re");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", CLUSTER_NODE_ID_FILE, strerror(errno));
        return -1;
    }
    char text[NODE_ID_FILE_MAX];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    text[n] = '\0';
    if (!cluster_valid_id(text, n)) {
        snprintf(err, errlen, "%s does not hold a valid node id", CLUSTER_NODE_ID_FILE);
        return -1;
    }
    memcpy(out, text, n + 1);
    return 1;
}

/* --cluster_node_id, else the stored id, else a new one, stored. */
static int id_init(char *err, size_t errlen)
{
    const char *flag = server.cfg.cluster_node_id;
    if (flag && *flag) {
        if (!cluster_valid_id(flag, strlen(flag))) {
            snprintf(err, errlen,
                     "invalid --cluster_node_id '%s': 1 to %d printable characters "
                     "without spaces",
                     flag, CLUSTER_NODE_ID_MAX);
            return -1;
        }
        snprintf(my_id, sizeof(my_id), "%s", flag);
        return 0;
    }
    int rc = id_load(my_id, err, errlen);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    id_generate(my_id);
    return id_store(my_id, err, errlen);
}

int cluster_init(char *err, size_t errlen)
{
    if (cluster_mode_parse(server.cfg.cluster_mode, &cluster_mode) < 0) {
        snprintf(err, errlen, "invalid --cluster_mode '%s': no, yes or emulated",
                 server.cfg.cluster_mode);
        return -1;
    }
    if (cluster_mode == CLUSTER_OFF)
        return 0;
    if (id_init(err, errlen) < 0)
        return -1;
    size_t per_shard = CLUSTER_SLOTS / (size_t)server.nshards + 1;
    for (int i = 0; i < server.nshards; i++)
        cluster_stats_of[i] = mem_calloc(per_shard, sizeof(cluster_slot_stats));
    cmd_select = command_lookup_name("select", strlen("select"));
    cmd_move = command_lookup_name("move", strlen("move"));
    cmd_swapdb = command_lookup_name("swapdb", strlen("swapdb"));
    cmd_copy = command_lookup_name("copy", strlen("copy"));
    log_info("cluster mode %s, node id %s", cluster_mode == CLUSTER_YES ? "yes" : "emulated",
             my_id);
    if (cluster_mode == CLUSTER_YES && server.cfg.admin_port == 0)
        log_warning("cluster mode without --admin_port: DFLYCLUSTER CONFIG cannot reach this node");
    return 0;
}

/* ---- the configuration in force ------------------------------------------------------------ */

/* A replaced configuration waits here until every worker has gone back to its loop once: a
 * reader that loaded the old pointer has finished with it by then. The list keeps it reachable,
 * so one whose messages were dropped at shutdown is not a leak. */
typedef struct retired {
    cluster_config *cfg;
    atomic_int pending; /* workers that have not run retire_msg yet */
    struct retired *next;
} retired;

static pthread_mutex_t retire_mu = PTHREAD_MUTEX_INITIALIZER;
static retired *retired_list;

static void retire_msg(void *arg)
{
    retired *r = arg;
    atomic_fetch_sub(&r->pending, 1);
}

static void retired_sweep_locked(void)
{
    for (retired **p = &retired_list; *p;) {
        retired *r = *p;
        if (atomic_load(&r->pending) == 0) {
            *p = r->next;
            cluster_config_free(r->cfg);
            free(r);
        } else {
            p = &r->next;
        }
    }
}

const cluster_config *cluster_current(void)
{
    return atomic_load_explicit(&current_cfg, memory_order_acquire);
}

static void config_publish(cluster_config *cfg)
{
    cfg->epoch = atomic_fetch_add(&epoch_counter, 1) + 1;
    cluster_config *old = atomic_exchange_explicit(&current_cfg, cfg, memory_order_acq_rel);
    pthread_mutex_lock(&retire_mu);
    retired_sweep_locked();
    if (old) {
        retired *r = mem_calloc(1, sizeof(*r));
        r->cfg = old;
        atomic_init(&r->pending, nworkers);
        r->next = retired_list;
        retired_list = r;
        for (int i = 0; i < nworkers; i++)
            worker_post(workers[i], retire_msg, r);
    }
    pthread_mutex_unlock(&retire_mu);
}

/* "0-99,200,300-400" for the log, cut at SLOT_LIST_MAX characters. */
static void slot_list(const uint8_t *bits, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (int s = 0; s < CLUSTER_SLOTS && len + 1 < outlen; s++) {
        if (!(bits[s / 8] & (1u << (s % 8))))
            continue;
        int e = s;
        while (e + 1 < CLUSTER_SLOTS && (bits[(e + 1) / 8] & (1u << ((e + 1) % 8))))
            e++;
        int n = e == s ? snprintf(out + len, outlen - len, "%s%d", len ? "," : "", s)
                       : snprintf(out + len, outlen - len, "%s%d-%d", len ? "," : "", s, e);
        len += n > 0 ? (size_t)n : 0;
        s = e;
    }
}

size_t cluster_apply(cmd_ctx *c, cluster_config *cfg)
{
    /* Before the first configuration every key might be ours (a snapshot loaded at start):
     * what the new one does not give this node goes, as Dragonfly does. */
    const cluster_config *old = cluster_current();
    uint8_t lost[CLUSTER_SLOTS / 8] = {0};
    int nlost = 0;
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        int had = old ? cluster_config_holds(old, (uint16_t)s) : 1;
        if (had && !cluster_config_holds(cfg, (uint16_t)s)) {
            lost[s / 8] |= (uint8_t)(1u << (s % 8));
            nlost++;
        }
    }
    config_publish(cfg);
    size_t dropped = nlost ? cluster_drop_slots(c, lost) : 0;
    migration_config_applied(cfg);
    int served = 0;
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        served += cluster_config_owns(cfg, (uint16_t)s);
    log_info("cluster: configuration %llu in force: %d shards, this node %s, %d slots served",
             (unsigned long long)cfg->epoch, cfg->nshards,
             cfg->my_role == CLUSTER_ROLE_MASTER    ? "a master"
             : cfg->my_role == CLUSTER_ROLE_REPLICA ? "a replica"
                                                    : "not in it",
             served);
    if (dropped) {
        char list[SLOT_LIST_MAX];
        slot_list(lost, list, sizeof(list));
        log_info("cluster: dropped %zu keys of slots this node no longer holds: %s", dropped, list);
    }
    /* A replica of a shard replicates from its master; a node the configuration makes a
     * master stops replicating (replication.h). */
    if (cfg->my_shard >= 0 && cfg->my_role != CLUSTER_ROLE_NONE) {
        const cluster_node *m = &cfg->shards[cfg->my_shard].master;
        replication_follow(cfg->my_role == CLUSTER_ROLE_REPLICA, m->ip, m->port);
    }
    return dropped;
}

/* ---- dropping the keys of slots ------------------------------------------------------------ */

typedef struct drop_scan {
    const uint8_t *slots;
    entry *victims[DROP_BATCH];
    int n;
} drop_scan;

static void drop_scan_cb(void *arg, entry *e)
{
    drop_scan *d = arg;
    size_t klen;
    const char *k = entry_key(e, &klen);
    uint16_t slot = key_slot(k, klen);
    if ((d->slots[slot / 8] & (1u << (slot % 8))) && d->n < DROP_BATCH)
        d->victims[d->n++] = e;
}

/* Keys of shard s's db 0 in the marked slots: their counters tell how many to look for, so the
 * walk ends as soon as they are all found (at once when there are none). */
static uint64_t shard_keys_in(int shard_id, const uint8_t *slots)
{
    uint64_t n = 0;
    for (int s = shard_id; s < CLUSTER_SLOTS; s += dfly_nshards)
        if (slots[s / 8] & (1u << (s % 8)))
            n += atomic_load_explicit(&cluster_slot_stat((uint16_t)s)->keys, memory_order_relaxed);
    return n;
}

static size_t drop_shard(cmd_ctx *dc, shard *s, const uint8_t *slots)
{
    uint64_t want = shard_keys_in(s->id, slots);
    table *t = &s->dbs[0].keys;
    drop_scan *d = mem_malloc(sizeof(*d));
    d->slots = slots;
    size_t dropped = 0;
    uint64_t cursor = 0;
    while (dropped < want) {
        d->n = 0;
        /* A batch may stop short inside a bucket: the same cursor is scanned again. */
        uint64_t next = table_scan(t, cursor, drop_scan_cb, d);
        int full = d->n == DROP_BATCH;
        for (int i = 0; i < d->n; i++) {
            size_t klen;
            const char *k = entry_key(d->victims[i], &klen);
            db_signal_modified(dc, k, klen); /* WATCH and client-side caching see it go */
            dropped += (size_t)db_delete(dc, k, klen);
        }
        if (!full) {
            cursor = next;
            if (cursor == 0)
                break;
        }
    }
    free(d);
    return dropped;
}

size_t cluster_drop_slots(cmd_ctx *c, const uint8_t *slots)
{
    cmd_ctx dc = *c;
    dc.dbid = 0;
    dc.kc_len = 0;
    size_t dropped = 0;
    for (int i = 0; i < server.nshards; i++)
        dropped += drop_shard(&dc, shards[i], slots);
    atomic_fetch_add(&keys_dropped, dropped);
    return dropped;
}

/* ---- routing -------------------------------------------------------------------------------- */

enum { ROUTE_OK = 0, ROUTE_CROSSSLOT, ROUTE_MOVED, ROUTE_DOWN, ROUTE_ASK, ROUTE_TRYAGAIN };

/* The one slot of the keys of a call: 1 with *slot set, 0 when it has no keys (or keys the
 * command will report a syntax error about), -1 when they hash to several slots. */
static int call_slot(const command *cmd, int argc, const slice *argv, int *slot)
{
    int stack_keys[STACK_KEYS];
    int *keys = argc > STACK_KEYS ? mem_malloc(sizeof(int) * (size_t)argc) : stack_keys;
    int n = command_get_keys(cmd, argc, argv, keys, argc > STACK_KEYS ? argc : STACK_KEYS);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int s = key_slot(argv[keys[i]].p, argv[keys[i]].len);
        if (rc == 0) {
            *slot = s;
            rc = 1;
        } else if (s != *slot) {
            rc = -1;
            break;
        }
    }
    if (keys != stack_keys)
        free(keys);
    return rc;
}

/* Whether this node may run a call on slot: as its master (unless the slot's keys have moved
 * to a migration's target, or are draining there), as its replica for a read from a READONLY
 * connection (Redis's rule), or as a migration's target after ASKING. */
static int route_slot(const cluster_config *cfg, int slot, int write, const client *cl)
{
    if (cluster_mode == CLUSTER_EMULATED)
        return ROUTE_OK;
    if (!cfg)
        return ROUTE_DOWN;
    if (cluster_config_owns(cfg, (uint16_t)slot)) {
        int phase = migration_slot_phase((uint16_t)slot);
        return phase == MIG_SLOT_MOVED        ? ROUTE_ASK
               : phase == MIG_SLOT_FINALIZING ? ROUTE_TRYAGAIN
                                              : ROUTE_OK;
    }
    if (!write && cl && (cl->flags & CLIENT_READONLY) && cluster_config_holds(cfg, (uint16_t)slot))
        return ROUTE_OK;
    if (cl && (cl->flags & CLIENT_ASKING) && migration_importing((uint16_t)slot))
        return ROUTE_OK;
    return ROUTE_MOVED;
}

static void reply_route(cmd_ctx *c, const cluster_config *cfg, int route, int slot)
{
    if (route == ROUTE_CROSSSLOT) {
        reply_error(c, ERR_CROSSSLOT);
    } else if (route == ROUTE_DOWN) {
        reply_error(c, ERR_NOT_CONFIGURED);
    } else if (route == ROUTE_TRYAGAIN) {
        reply_error(c, ERR_TRYAGAIN);
    } else if (route == ROUTE_ASK) {
        char ip[CLUSTER_IP_MAX + 1];
        int port;
        if (migration_ask_target((uint16_t)slot, ip, sizeof(ip), &port) < 0)
            reply_error(c, ERR_TRYAGAIN); /* the migration is being taken down */
        else
            reply_errorf(c, "ASK %d %s:%d", slot, ip, port);
    } else {
        const cluster_node *m = &cfg->shards[cfg->slot_shard[slot]].master;
        reply_errorf(c, "MOVED %d %s:%d", slot, m->ip, m->port);
    }
}

static void count_access(int slot, int write)
{
    cluster_slot_stats *st = cluster_slot_stat((uint16_t)slot);
    cluster_counter_add(write ? &st->writes : &st->reads, 1);
}

/* ASKING covers the next command (Redis's rule), a script's calls included. The flag is the
 * connection's, so it is only cleared by its own thread: a command that runs on another one,
 * or a script (whose calls still need it), leaves it for the next command. */
static void asking_consume(cmd_ctx *c)
{
    if (c->cl && (c->cl->flags & CLIENT_ASKING) && !(c->flags & CTX_REMOTE) &&
        !(c->cmd->acl & ACL_SCRIPTING))
        c->cl->flags &= ~CLIENT_ASKING;
}

/* The checks of one command; counts its access when count is set and it may run. */
static int refuse_one(cmd_ctx *c, int count)
{
    /* A migration's stream (DFLYMIGRATE FLOW) writes slots this node does not serve yet. */
    if (c->cl && (c->cl->flags & CLIENT_MIGRATION_FLOW))
        return 0;
    /* Emulated: every slot is ours and nothing is counted, so only several keys need a look. */
    if (cluster_mode == CLUSTER_EMULATED && c->cmd->first_key > 0 && !c->cmd->getkeys &&
        c->cmd->first_key == c->cmd->last_key)
        return 0;
    int slot;
    int rc = call_slot(c->cmd, c->argc, c->argv, &slot);
    if (rc == 0)
        return 0;
    const cluster_config *cfg = cluster_current();
    int write = (c->cmd->flags & CMD_WRITE) != 0;
    int route = rc < 0 ? ROUTE_CROSSSLOT : route_slot(cfg, slot, write, c->cl);
    if (count)
        asking_consume(c);
    if (route != ROUTE_OK) {
        reply_route(c, cfg, route, slot);
        return 1;
    }
    if (count && cluster_mode == CLUSTER_YES)
        count_access(slot, write);
    return 0;
}

int cluster_refuse_command(cmd_ctx *c)
{
    return refuse_one(c, 1);
}

int cluster_refuse_queued(cmd_ctx *c)
{
    return refuse_one(c, 0);
}

int cluster_refuse_exec(cmd_ctx *c)
{
    client *cl = c->cl;
    int slot = -1, write = 0, route = ROUTE_OK;
    for (int i = 0; i < cl->mcount && route == ROUTE_OK; i++) {
        const queued_cmd *q = &cl->mqueue[i];
        int s;
        int rc = call_slot(q->cmd, q->argc, q->argv, &s);
        if (rc < 0 || (rc > 0 && slot >= 0 && s != slot))
            route = ROUTE_CROSSSLOT;
        else if (rc > 0)
            slot = s;
        write |= (q->cmd->flags & CMD_WRITE) != 0;
    }
    const cluster_config *cfg = cluster_current();
    if (route == ROUTE_OK && slot >= 0)
        route = route_slot(cfg, slot, write, cl);
    if (route == ROUTE_OK)
        return 0;
    /* Redis discards the transaction and answers with the redirection itself. */
    reply_route(c, cfg, route, slot);
    multi_reset(cl);
    return 1;
}

/* COPY ... DB n with n other than the current db. */
static int copy_to_other_db(const cmd_ctx *c)
{
    for (int i = 3; i + 1 < c->argc; i++) {
        long long db;
        if (arg_eq(&c->argv[i], "db") && str_to_ll(c->argv[i + 1].p, c->argv[i + 1].len, &db))
            return db != c->dbid;
    }
    return 0;
}

/* Redis 7.0 refuses these in cluster mode, where only db 0 exists. */
static int refuse_other_db(cmd_ctx *c)
{
    const command *cmd = c->cmd;
    if (cmd == cmd_select && c->argc == 2) {
        long long db;
        if (str_to_ll(c->argv[1].p, c->argv[1].len, &db) && db != 0) {
            reply_error(c, "ERR SELECT is not allowed in cluster mode");
            return 1;
        }
    } else if (cmd == cmd_move) {
        reply_error(c, "ERR MOVE is not allowed in cluster mode");
        return 1;
    } else if (cmd == cmd_swapdb) {
        reply_error(c, "ERR SWAPDB is not allowed in cluster mode");
        return 1;
    } else if (cmd == cmd_copy && copy_to_other_db(c)) {
        reply_error(c, "ERR Copying to another database is not allowed in cluster mode");
        return 1;
    }
    return 0;
}

int cluster_refuse_call(cmd_ctx *c)
{
    if (refuse_other_db(c))
        return 1;
    if (!(c->flags & (CTX_IN_EXEC | CTX_IN_SCRIPT)))
        return 0; /* dispatch_run checked and counted it */
    int slot;
    int rc = call_slot(c->cmd, c->argc, c->argv, &slot);
    if (rc == 0)
        return 0;
    int write = (c->cmd->flags & CMD_WRITE) != 0;
    /* EXEC was routed before its shards were held: a migration may have moved the slot since.
     * Its writes must not land here, where nothing forwards them any more. */
    if (rc > 0 && cluster_mode == CLUSTER_YES &&
        !(c->cl && (c->cl->flags & CLIENT_MIGRATION_FLOW)) &&
        migration_slot_phase((uint16_t)slot) >= MIG_SLOT_FINALIZING) {
        reply_error(c, ERR_TRYAGAIN);
        return 1;
    }
    if (c->flags & CTX_IN_SCRIPT) {
        int route = rc < 0 ? ROUTE_CROSSSLOT : route_slot(cluster_current(), slot, write, c->cl);
        if (route != ROUTE_OK) {
            reply_error(c, route == ROUTE_DOWN ? ERR_SCRIPT_DOWN : ERR_SCRIPT_NON_LOCAL);
            return 1;
        }
    }
    if (rc > 0 && cluster_mode == CLUSTER_YES)
        count_access(slot, write);
    return 0;
}

/* ---- counters and status ------------------------------------------------------------------- */

void cluster_forget_shard_keys(int shard_id)
{
    if (cluster_mode == CLUSTER_OFF)
        return;
    for (int s = shard_id; s < CLUSTER_SLOTS; s += dfly_nshards)
        atomic_store_explicit(&cluster_slot_stat((uint16_t)s)->keys, 0, memory_order_relaxed);
}

uint64_t cluster_slot_key_count(uint16_t slot)
{
    if (cluster_mode == CLUSTER_OFF)
        return 0;
    return atomic_load_explicit(&cluster_slot_stat(slot)->keys, memory_order_relaxed);
}

void cluster_get_status(cluster_status *st)
{
    memset(st, 0, sizeof(*st));
    st->mode = cluster_mode;
    st->epoch = atomic_load(&epoch_counter);
    st->keys_dropped = atomic_load(&keys_dropped);
    if (cluster_mode == CLUSTER_EMULATED) {
        st->configured = 1;
        st->slots_served = CLUSTER_SLOTS;
        st->known_nodes = 1;
        return;
    }
    const cluster_config *cfg = cluster_current();
    if (cluster_mode == CLUSTER_OFF || !cfg)
        return;
    st->configured = 1;
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        st->slots_served += cluster_config_owns(cfg, (uint16_t)s);
    for (int i = 0; i < cfg->nshards; i++) {
        const cluster_shard *sh = &cfg->shards[i];
        st->known_nodes += 1 + sh->nreplicas;
        for (int m = 0; m < sh->nmigrations; m++) {
            if (i == cfg->my_shard && cfg->my_role == CLUSTER_ROLE_MASTER)
                st->migrations_out++;
            else if (!strcmp(sh->migrations[m].target.id, my_id))
                st->migrations_in++;
        }
    }
}

void cluster_info_section(buf *out)
{
    buf_printf(out, "cluster_enabled:%d\r\n", cluster_enabled());
    if (!cluster_enabled())
        return;
    cluster_status st;
    cluster_get_status(&st);
    buf_printf(out,
               "cluster_mode:%s\r\n"
               "cluster_node_id:%s\r\n"
               "cluster_state:%s\r\n"
               "cluster_config_epoch:%llu\r\n"
               "cluster_slots_served:%d\r\n"
               "cluster_known_nodes:%d\r\n"
               "cluster_migrations_out:%d\r\n"
               "cluster_migrations_in:%d\r\n"
               "cluster_keys_dropped:%llu\r\n",
               st.mode == CLUSTER_YES ? "yes" : "emulated", my_id, st.configured ? "ok" : "fail",
               (unsigned long long)st.epoch, st.slots_served, st.known_nodes, st.migrations_out,
               st.migrations_in, (unsigned long long)st.keys_dropped);
    if (st.mode == CLUSTER_YES)
        migration_info(out);
}
