/* Loading the journal at start: the manifest, the base file (rdb_load_file, or RESP commands
 * for a Redis base written with aof-use-rdb-preamble no), then the commands of the incremental
 * files. See journal.h.
 *
 * The loader thread parses commands into batches; worker 0 runs each batch through the normal
 * shard scheduling (tx_run) without a client: the commands of one shard run in file order on
 * that shard's thread, commands of different shards in parallel, and a command or MULTI/EXEC
 * that touches several shards runs alone, holding them all, after everything before it. So the
 * outcome is the order of the file. Each command runs with the time of the "#MS:" annotation
 * before it (as an EXEC does: nothing expires in the middle), so expiry decides exactly as it
 * did when the command first ran; files without annotations (Redis's) replay with time 0,
 * Redis's "nothing expires while loading", since Redis journals the deletions itself.
 *
 * A torn tail of the last file (power loss in the middle of a record) is cut at the last
 * complete command, as Redis does with aof-load-truncated yes; a MULTI without its EXEC at
 * the end is cut too. Anything else that is not a command is an error naming the file and the
 * offset. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "blocking.h"
#include "clock.h"
#include "db.h"
#include "dispatch.h"
#include "journal_int.h"
#include "loading.h"
#include "log.h"
#include "rdb_load.h"
#include "replay.h"
#include "server.h"
#include "tx.h"
#include "worker.h"

#define REPLAY_BATCH_CMDS 4096        /* commands a batch gathers before it runs */
#define REPLAY_BATCH_BYTES (8u << 20) /* argument bytes likewise */
#define REPLAY_READ_CHUNK (1u << 20)  /* bytes read at once */
#define REPLAY_LINE_MAX 1024          /* Redis's AOF_ANNOTATION_LINE_MAX_LEN */
#define REPLAY_ERRORS_LOGGED 10       /* failing commands logged one by one, then counted */
#define REPLAY_ERROR_TEXT_MAX 200
#define REPLAY_KEYS_MAX 256
#define REPLAY_ARGV_STACK 16 /* argument slices kept on the stack */
#define RDB_SIGNATURE "REDIS"
#define RDB_SUFFIX ".rdb"
#define TS_ANNOTATION "#MS:"

/* ---- batches --------------------------------------------------------------------------------- */

typedef struct rp_cmd {
    const command *cmd;
    int argc;
    size_t arg0; /* its first argument in the batch's argument table */
    int dbid;
    int64_t now_ms;
} rp_cmd;

/* A command, or the commands of a MULTI/EXEC: run as one step. */
typedef struct rp_unit {
    int first, n;
    int shard; /* the only shard it touches, or -1: it holds `set` */
    shardset set;
} rp_unit;

struct rp_batch;

/* The single-shard units of one shard gathered between two multi-shard ones. */
typedef struct rp_group {
    struct rp_batch *b;
    int *units;
    int n, cap;
    buf out;
} rp_group;

typedef struct rp_batch {
    const char *file;
    int flags; /* REPLAY_* */
    rp_cmd *cmds;
    int ncmds, cmds_cap;
    size_t *off, *len; /* arguments: offsets into arena */
    size_t nargs, args_cap;
    slice *argv; /* resolved when the batch runs */
    buf arena;
    rp_unit *units;
    int nunits, units_cap;
    /* Running, on worker 0. */
    rp_group *groups;
    int next, pending, multi_unit;
    buf out;
    _Atomic long long errors;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
} rp_batch;

static void batch_init(rp_batch *b, const char *file)
{
    memset(b, 0, sizeof(*b));
    b->file = file;
    b->groups = mem_calloc((size_t)server.nshards, sizeof(rp_group));
    for (int i = 0; i < server.nshards; i++)
        b->groups[i].b = b;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void batch_free(rp_batch *b)
{
    for (int i = 0; i < server.nshards; i++) {
        free(b->groups[i].units);
        buf_free(&b->groups[i].out);
    }
    free(b->groups);
    free(b->cmds);
    free(b->off);
    free(b->len);
    free(b->argv);
    free(b->units);
    buf_free(&b->arena);
    buf_free(&b->out);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
}

/* Forgets the commands that ran. */
static void batch_reset(rp_batch *b)
{
    b->ncmds = 0;
    b->nargs = 0;
    b->nunits = 0;
    buf_clear(&b->arena);
}

static void *grow(void *p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return p;
    int n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    p = mem_realloc(p, (size_t)n * size);
    *cap = n;
    return p;
}

static void batch_add_arg(rp_batch *b, const char *p, size_t len)
{
    if (b->nargs == b->args_cap) {
        b->args_cap = b->args_cap ? b->args_cap * 2 : 256;
        b->off = mem_realloc(b->off, sizeof(size_t) * b->args_cap);
        b->len = mem_realloc(b->len, sizeof(size_t) * b->args_cap);
    }
    b->off[b->nargs] = b->arena.len;
    b->len[b->nargs] = len;
    b->nargs++;
    buf_append(&b->arena, p, len);
}

/* The slices of arguments [from, from + n), valid until the next argument is added. */
static void batch_slices(rp_batch *b, size_t from, int n, slice *out)
{
    for (int i = 0; i < n; i++) {
        out[i].p = b->arena.data + b->off[from + (size_t)i];
        out[i].len = b->len[from + (size_t)i];
    }
}

/* batch_slices into stack (room for REPLAY_ARGV_STACK) or, for more, a block to free. */
static slice *batch_argv(rp_batch *b, size_t from, int n, slice *stack)
{
    slice *argv = n <= REPLAY_ARGV_STACK ? stack : mem_malloc(sizeof(slice) * (size_t)n);
    batch_slices(b, from, n, argv);
    return argv;
}

/* The shards a command touches; keyless commands (FLUSHALL...) and unknown key lists hold all. */
static void add_cmd_shards(const command *cmd, int argc, const slice *argv, shardset *set)
{
    int keys[REPLAY_KEYS_MAX];
    int n = (cmd->flags & CMD_ALL_SHARDS)
                ? -1
                : command_get_keys(cmd, argc, argv, keys, REPLAY_KEYS_MAX);
    if (n <= 0) {
        shardset_all(set);
        return;
    }
    for (int i = 0; i < n; i++)
        shardset_add(set, key_shard(argv[keys[i]].p, argv[keys[i]].len));
}

/* Closes commands [first, ncmds) into a unit. */
static void batch_close_unit(rp_batch *b, int first)
{
    if (first == b->ncmds)
        return; /* an empty MULTI/EXEC */
    b->units = grow(b->units, &b->units_cap, b->nunits + 1, sizeof(rp_unit));
    rp_unit *u = &b->units[b->nunits++];
    u->first = first;
    u->n = b->ncmds - first;
    shardset_clear(&u->set);
    for (int i = first; i < b->ncmds; i++) {
        rp_cmd *rc = &b->cmds[i];
        slice stack[REPLAY_ARGV_STACK];
        slice *argv = batch_argv(b, rc->arg0, rc->argc, stack);
        add_cmd_shards(rc->cmd, rc->argc, argv, &u->set);
        if (argv != stack)
            free(argv);
    }
    u->shard = shardset_count(&u->set) == 1 ? shardset_first(&u->set) : -1;
}

/* ---- running a batch (worker 0 and the shards' threads) -------------------------------------- */

static void run_cmd(rp_batch *b, const rp_cmd *rc, buf *out)
{
    cmd_ctx c;
    memset(&c, 0, sizeof(c));
    c.cmd = rc->cmd;
    c.argc = rc->argc;
    c.argv = b->argv + rc->arg0;
    c.dbid = rc->dbid;
    c.resp = 2;
    c.out = out;
    c.now_ms = rc->now_ms;
    /* As in EXEC: the time stays the annotated one, nothing blocks, nobody is served. */
    c.flags = CTX_IN_EXEC;
    if (b->flags & REPLAY_AS_MASTER) {
        c.flags |= CTX_MASTER;
        dispatch_call(&c);
    } else {
        c.cmd->proc(&c);
    }
    if (c.error) {
        long long n = atomic_fetch_add(&b->errors, 1);
        if (n < REPLAY_ERRORS_LOGGED) {
            size_t len = out->len;
            const char *nl = memchr(out->data, '\r', len);
            if (nl)
                len = (size_t)(nl - out->data);
            log_warning("journal: '%.*s' in %s failed when replayed: %.*s", (int)c.argv[0].len,
                        c.argv[0].p, b->file,
                        (int)(len > REPLAY_ERROR_TEXT_MAX ? REPLAY_ERROR_TEXT_MAX : len),
                        out->data);
        }
    }
    buf_clear(out);
}

/* A replica journals its master's MULTI/EXEC as one, as EXEC itself is journaled. */
static void run_unit_as_master(rp_batch *b, const rp_unit *unit, buf *out)
{
    static const command *exec_cmd;
    if (!exec_cmd)
        exec_cmd = command_lookup_name("exec", 4);
    const rp_cmd *first = &b->cmds[unit->first];
    cmd_ctx outer = {.cmd = exec_cmd, .dbid = first->dbid, .now_ms = first->now_ms};
    journal_rec jr;
    int wrap = unit->n > 1 && atomic_load_explicit(&journal_active, memory_order_relaxed);
    if (wrap)
        journal_before(&outer, &jr);
    for (int i = 0; i < unit->n; i++)
        run_cmd(b, &b->cmds[unit->first + i], out);
    if (wrap)
        journal_after(&outer, &jr);
    block_serve_ready(); /* clients blocked on keys it filled (BLPOP on a replica) */
}

static void run_unit(rp_batch *b, int u, buf *out)
{
    const rp_unit *unit = &b->units[u];
    if (b->flags & REPLAY_AS_MASTER) {
        run_unit_as_master(b, unit, out);
        return;
    }
    for (int i = 0; i < unit->n; i++)
        run_cmd(b, &b->cmds[unit->first + i], out);
}

static void batch_step(rp_batch *b);

static void group_body(void *arg)
{
    rp_group *g = arg;
    for (int i = 0; i < g->n; i++)
        run_unit(g->b, g->units[i], &g->out);
}

static void group_done(void *arg)
{
    rp_group *g = arg;
    rp_batch *b = g->b;
    g->n = 0;
    if (--b->pending == 0)
        batch_step(b);
}

/* Runs the gathered groups; 1 when some went to other threads (the last to finish resumes). */
static int groups_launch(rp_batch *b)
{
    b->pending = 1; /* held until every group is on its way */
    for (int s = 0; s < server.nshards; s++) {
        rp_group *g = &b->groups[s];
        if (!g->n)
            continue;
        shardset set;
        shardset_clear(&set);
        shardset_add(&set, s);
        b->pending++;
        if (tx_run(&set, group_body, group_done, g)) {
            g->n = 0;
            b->pending--;
        }
    }
    return --b->pending > 0;
}

static int groups_gathered(const rp_batch *b)
{
    for (int s = 0; s < server.nshards; s++)
        if (b->groups[s].n)
            return 1;
    return 0;
}

static void multi_body(void *arg)
{
    rp_batch *b = arg;
    run_unit(b, b->multi_unit, &b->out);
}

static void multi_done(void *arg)
{
    batch_step(arg);
}

static void batch_finish(rp_batch *b)
{
    pthread_mutex_lock(&b->mu);
    b->finished = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Single-shard units gather per shard; a multi-shard unit first lets them all finish, then
 * runs alone. Resumed by the completions of what went elsewhere. */
static void batch_step(rp_batch *b)
{
    while (b->next < b->nunits) {
        rp_unit *u = &b->units[b->next];
        if (u->shard >= 0) {
            rp_group *g = &b->groups[u->shard];
            g->units = grow(g->units, &g->cap, g->n + 1, sizeof(int));
            g->units[g->n++] = b->next++;
            continue;
        }
        if (groups_gathered(b) && groups_launch(b))
            return;
        b->multi_unit = b->next++;
        if (!tx_run(&u->set, multi_body, multi_done, b))
            return;
    }
    if (groups_gathered(b) && groups_launch(b))
        return;
    batch_finish(b);
}

static void batch_start_msg(void *arg)
{
    batch_step(arg);
}

/* Runs the batch's units on the workers and waits for them (loader thread). */
static void batch_run(rp_batch *b)
{
    if (!b->nunits)
        return;
    b->argv = mem_realloc(b->argv, sizeof(slice) * (b->nargs ? b->nargs : 1));
    batch_slices(b, 0, (int)b->nargs, b->argv);
    b->next = 0;
    b->finished = 0;
    worker_post(workers[0], batch_start_msg, b);
    pthread_mutex_lock(&b->mu);
    while (!b->finished)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* ---- reading --------------------------------------------------------------------------------- */

typedef struct rp_reader {
    int fd;
    buf data;   /* bytes read, from file offset data_off on */
    size_t pos; /* parse position in data */
    off_t data_off;
    int eof;
    int io_errno;
} rp_reader;

/* Makes n bytes available from pos. Returns 0, or -1 at the end of the file (or an error). */
static int reader_need(rp_reader *r, size_t n)
{
    while (r->data.len - r->pos < n) {
        if (r->eof)
            return -1;
        if (r->pos > 0 && r->pos == r->data.len) {
            r->data_off += (off_t)r->pos;
            buf_clear(&r->data);
            r->pos = 0;
        } else if (r->pos > REPLAY_READ_CHUNK) {
            r->data_off += (off_t)r->pos;
            buf_consume(&r->data, r->pos);
            r->pos = 0;
        }
        size_t want = n - (r->data.len - r->pos);
        if (want < REPLAY_READ_CHUNK)
            want = REPLAY_READ_CHUNK;
        buf_reserve(&r->data, want);
        ssize_t got = read(r->fd, r->data.data + r->data.len, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0)
                r->io_errno = errno;
            r->eof = 1;
            continue;
        }
        r->data.len += (size_t)got;
    }
    return 0;
}

static off_t reader_offset(const rp_reader *r)
{
    return r->data_off + (off_t)r->pos;
}

enum { LINE_OK = 0, LINE_EOF, LINE_TORN, LINE_LONG };

/* The next line (without its "\r\n"). */
static int reader_line(rp_reader *r, const char **line, size_t *len)
{
    size_t scanned = 0;
    for (;;) {
        const char *start = r->data.data + r->pos;
        size_t avail = r->data.len - r->pos;
        const char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - start);
            r->pos += n + 1;
            *line = start;
            *len = n && start[n - 1] == '\r' ? n - 1 : n;
            return LINE_OK;
        }
        if (avail > REPLAY_LINE_MAX)
            return LINE_LONG;
        scanned = avail;
        if (reader_need(r, avail + 1) < 0)
            return avail ? LINE_TORN : LINE_EOF;
    }
}

/* A non-negative decimal, strictly. */
static int parse_count(const char *p, size_t len, long long max, long long *out)
{
    if (!len || len > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

enum { ITEM_CMD, ITEM_NOTE, ITEM_END, ITEM_TORN, ITEM_BAD };

/* Reads one command (its arguments go to the batch from b->nargs on) or annotation. */
static int read_item(rp_reader *r, rp_batch *b, int *argc, int64_t *now_ms, const char **why)
{
    const char *line;
    size_t len;
    int rc = reader_line(r, &line, &len);
    if (rc == LINE_EOF)
        return ITEM_END;
    if (rc == LINE_TORN)
        return ITEM_TORN;
    if (rc == LINE_LONG) {
        *why = "line too long";
        return ITEM_BAD;
    }
    if (len && line[0] == '#') {
        long long ms;
        size_t pl = strlen(TS_ANNOTATION);
        if (len > pl && !memcmp(line, TS_ANNOTATION, pl) &&
            parse_count(line + pl, len - pl, INT64_MAX, &ms) == 0)
            *now_ms = ms;
        return ITEM_NOTE;
    }
    long long n;
    if (!len || line[0] != '*' || parse_count(line + 1, len - 1, INT32_MAX, &n) < 0 || n < 1) {
        *why = "a command ('*<count>') was expected";
        return ITEM_BAD;
    }
    for (long long j = 0; j < n; j++) {
        rc = reader_line(r, &line, &len);
        if (rc == LINE_EOF || rc == LINE_TORN)
            return ITEM_TORN;
        long long blen;
        if (rc == LINE_LONG || !len || line[0] != '$' ||
            parse_count(line + 1, len - 1, server.cfg.proto_max_bulk_len, &blen) < 0) {
            *why = "an argument ('$<length>') was expected";
            return ITEM_BAD;
        }
        if (reader_need(r, (size_t)blen + 2) < 0)
            return ITEM_TORN;
        const char *p = r->data.data + r->pos;
        if (p[blen] != '\r' || p[blen + 1] != '\n') {
            *why = "an argument does not end with CRLF";
            return ITEM_BAD;
        }
        batch_add_arg(b, p, (size_t)blen);
        r->pos += (size_t)blen + 2;
    }
    *argc = (int)n;
    return ITEM_CMD;
}

/* ---- replaying a file ------------------------------------------------------------------------ */

typedef struct rp_state {
    const char *name;
    rp_batch b;
    int dbid;
    int64_t now_ms;
    int in_multi, multi_first;
    off_t valid_up_to, valid_before_multi;
} rp_state;

/* Takes the command just read: SELECT, MULTI and EXEC shape the batch, the rest goes in it.
 * Returns 0, or -1 with err. */
static int take_cmd_argv(rp_state *st, size_t arg0, int argc, const slice *argv, char *err,
                         size_t errlen)
{
    rp_batch *b = &st->b;
    if (arg_eq(&argv[0], "select") && argc == 2) {
        long long id;
        if (parse_count(argv[1].p, argv[1].len, INT32_MAX, &id) < 0 || id >= server.cfg.databases) {
            snprintf(err, errlen,
                     "SELECT %.*s in the append only file %s: DB index is out of "
                     "range (databases %lld)",
                     (int)argv[1].len, argv[1].p, st->name, server.cfg.databases);
            return -1;
        }
        st->dbid = (int)id;
        return 0;
    }
    if (arg_eq(&argv[0], "multi")) {
        st->in_multi = 1;
        st->multi_first = b->ncmds;
        return 0;
    }
    if (arg_eq(&argv[0], "exec")) {
        if (st->in_multi)
            batch_close_unit(b, st->multi_first);
        st->in_multi = 0;
        return 0;
    }
    const command *container;
    const command *cmd = command_lookup(argc, argv, &container);
    if (!cmd) {
        snprintf(err, errlen, "Unknown command '%.*s' reading the append only file %s",
                 (int)argv[0].len, argv[0].p, st->name);
        return -1;
    }
    if (!command_arity_ok(cmd, argc)) {
        atomic_fetch_add(&b->errors, 1);
        log_warning("journal: wrong number of arguments for '%.*s' in %s; skipped",
                    (int)argv[0].len, argv[0].p, st->name);
        return 0;
    }
    b->cmds = grow(b->cmds, &b->cmds_cap, b->ncmds + 1, sizeof(rp_cmd));
    b->cmds[b->ncmds++] = (rp_cmd){cmd, argc, arg0, st->dbid, st->now_ms};
    if (!st->in_multi)
        batch_close_unit(b, b->ncmds - 1);
    return 0;
}

static int take_cmd(rp_state *st, size_t arg0, int argc, char *err, size_t errlen)
{
    slice stack[REPLAY_ARGV_STACK];
    slice *argv = batch_argv(&st->b, arg0, argc, stack);
    int rc = take_cmd_argv(st, arg0, argc, argv, err, errlen);
    if (argv != stack)
        free(argv);
    return rc;
}

/* Runs what the batch holds, keeping the commands of a MULTI still open. */
static void flush_batch(rp_state *st)
{
    rp_batch *b = &st->b;
    batch_run(b);
    if (!st->in_multi) {
        batch_reset(b);
        return;
    }
    /* Move the open MULTI's commands and arguments to the front. */
    int keep_from = st->multi_first;
    size_t arg_from = keep_from < b->ncmds ? b->cmds[keep_from].arg0 : b->nargs;
    size_t byte_from = arg_from < b->nargs ? b->off[arg_from] : b->arena.len;
    int nkeep = b->ncmds - keep_from;
    memmove(b->cmds, b->cmds + keep_from, sizeof(rp_cmd) * (size_t)nkeep);
    for (int i = 0; i < nkeep; i++)
        b->cmds[i].arg0 -= arg_from;
    size_t nargs = b->nargs - arg_from;
    memmove(b->off, b->off + arg_from, sizeof(size_t) * nargs);
    memmove(b->len, b->len + arg_from, sizeof(size_t) * nargs);
    for (size_t i = 0; i < nargs; i++)
        b->off[i] -= byte_from;
    buf_consume(&b->arena, byte_from);
    b->ncmds = nkeep;
    b->nargs = nargs;
    b->nunits = 0;
    st->multi_first = 0;
}

/* Cuts the torn tail of the last file at the last complete command (aof-load-truncated). */
static int cut_tail(rp_state *st, const char *path, int last, off_t torn_at, char *err,
                    size_t errlen)
{
    if (!last || !server.cfg.aof_load_truncated) {
        snprintf(err, errlen,
                 "Unexpected end of file reading the append only file %s (a command is cut "
                 "off at offset %lld). You can: 1) Make a backup of your AOF file, then use "
                 "./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set "
                 "the 'aof_load_truncated' option to yes and restart the server.",
                 st->name, (long long)torn_at);
        return -1;
    }
    off_t valid = st->in_multi ? st->valid_before_multi : st->valid_up_to;
    if (st->in_multi)
        log_warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", st->name);
    log_warning("!!! Warning: short read while loading the AOF file %s!!!", st->name);
    log_warning("!!! Truncating the AOF %s at offset %lld !!!", st->name, (long long)valid);
    if (truncate(path, valid) < 0) {
        snprintf(err, errlen, "Error truncating the AOF file %s: %s", st->name, strerror(errno));
        return -1;
    }
    log_warning("AOF %s loaded anyway because aof_load_truncated is enabled", st->name);
    return 0;
}

static int replay_loop(rp_state *st, rp_reader *r, const char *path, int last, char *err,
                       size_t errlen)
{
    rp_batch *b = &st->b;
    for (;;) {
        off_t at = reader_offset(r);
        size_t arg0 = b->nargs;
        int argc = 0;
        const char *why = NULL;
        int item = read_item(r, b, &argc, &st->now_ms, &why);
        if (r->io_errno) {
            snprintf(err, errlen, "Unrecoverable error reading the append only file %s: %s",
                     st->name, strerror(r->io_errno));
            return -1;
        }
        if (item == ITEM_BAD) {
            snprintf(err, errlen,
                     "Bad file format reading the append only file %s at offset "
                     "%lld: %s",
                     st->name, (long long)at, why);
            return -1;
        }
        if (item == ITEM_END || item == ITEM_TORN) {
            b->nargs = arg0; /* a command cut off takes no part */
            flush_batch(st);
            if (item == ITEM_END && !st->in_multi)
                return 0;
            return cut_tail(st, path, last, at, err, errlen);
        }
        if (item == ITEM_CMD) {
            int was_multi = st->in_multi;
            if (take_cmd(st, arg0, argc, err, errlen) < 0)
                return -1;
            if (st->in_multi && !was_multi)
                st->valid_before_multi = at;
        }
        if (!st->in_multi)
            st->valid_up_to = reader_offset(r);
        if (b->ncmds >= REPLAY_BATCH_CMDS || b->arena.len >= REPLAY_BATCH_BYTES) {
            flush_batch(st);
            loading_set_loaded_bytes((uint64_t)reader_offset(r));
            if (loading_cancelled()) {
                snprintf(err, errlen, "loading of %s interrupted", st->name);
                return -1;
            }
        }
    }
}

int journal_replay_file(const char *name, int last, char *err, size_t errlen)
{
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), name);
    rp_reader r = {.fd = open(path, O_RDONLY | O_CLOEXEC)};
    if (r.fd < 0) {
        snprintf(err, errlen, "Fatal error: can't open the append log file %s for reading: %s",
                 name, strerror(errno));
        return -1;
    }
    buf_init(&r.data);
    buf_reserve(&r.data, REPLAY_READ_CHUNK); /* reader_line's pointers are never NULL + 0 */
    struct stat fst;
    if (fstat(r.fd, &fst) == 0)
        loading_set_total_bytes((uint64_t)fst.st_size);
    rp_state st = {.name = name};
    batch_init(&st.b, name);
    int rc = replay_loop(&st, &r, path, last, err, errlen);
    long long errors = atomic_load(&st.b.errors);
    if (errors)
        log_warning("journal: %lld commands of %s failed when replayed", errors, name);
    batch_free(&st.b);
    buf_free(&r.data);
    close(r.fd);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------------------
 */

/* A base in RDB format (Redis names them .rdb; a Redis base may also be RESP commands). */
static int base_is_rdb(const char *name)
{
    size_t n = strlen(name), sl = strlen(RDB_SUFFIX);
    if (n > sl && !strcmp(name + n - sl, RDB_SUFFIX))
        return 1;
    char path[JOURNAL_PATH_MAX], sig[sizeof(RDB_SIGNATURE) - 1];
    journal_path(path, sizeof(path), name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, sig, sizeof(sig));
    close(fd);
    return got == (ssize_t)sizeof(sig) && !memcmp(sig, RDB_SIGNATURE, sizeof(sig));
}

static int check_files(const jmanifest *m, char *err, size_t errlen)
{
    for (int i = -1; i < m->nincr; i++) {
        const char *name = i < 0 ? m->base.name : m->incr[i].name;
        if (!name)
            continue;
        char path[JOURNAL_PATH_MAX];
        journal_path(path, sizeof(path), name);
        struct stat st;
        if (stat(path, &st) < 0) {
            snprintf(err, errlen, "The AOF file %s named by the manifest cannot be read: %s", name,
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int load_files(const jmanifest *m, char *err, size_t errlen)
{
    int total = (m->base.name ? 1 : 0) + m->nincr, done = 0;
    if (m->base.name) {
        int64_t start = clock_wall_ms();
        char path[JOURNAL_PATH_MAX];
        journal_path(path, sizeof(path), m->base.name);
        /* Expired keys stay: a command after the base, replayed at its own time, may still
         * find them alive (Redis loads a base so too). */
        int last = ++done == total; /* counted whatever the base's format */
        int rc = base_is_rdb(m->base.name)
                     ? rdb_load_file_flags(path, RDB_LOAD_KEEP_EXPIRED, err, errlen)
                     : journal_replay_file(m->base.name, last, err, errlen);
        if (rc < 0)
            return -1;
        log_info("DB loaded from base file %s: %.3f seconds", m->base.name,
                 (double)(clock_wall_ms() - start) / 1000.0);
    }
    for (int i = 0; i < m->nincr; i++) {
        int64_t start = clock_wall_ms();
        if (journal_replay_file(m->incr[i].name, ++done == total, err, errlen) < 0)
            return -1;
        log_info("DB loaded from incr file %s: %.3f seconds", m->incr[i].name,
                 (double)(clock_wall_ms() - start) / 1000.0);
    }
    return 0;
}

int journal_load(char *err, size_t errlen)
{
    journal_remove_temp_files();
    jmanifest m;
    int rc = journal_manifest_read(&m, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (check_files(&m, err, errlen) < 0 || load_files(&m, err, errlen) < 0) {
            journal_manifest_free(&m);
            return -1;
        }
        journal_manifest_free(&m);
    }
    /* Appending goes on at the end of the last file (after a cut tail). */
    pthread_mutex_lock(&J.mu);
    J.state = J_STARTING;
    rc = journal_start_locked(err, errlen);
    if (rc < 0)
        J.state = J_OFF;
    pthread_mutex_unlock(&J.mu);
    return rc;
}

/* ---- replay.h: the same machinery for other sequences of commands -------------------------- */

struct replay {
    rp_state st;
    char *what;
};

replay *replay_new(const char *what, int flags)
{
    replay *rp = mem_calloc(1, sizeof(*rp));
    rp->what = mem_strdup(what);
    rp->st.name = rp->what;
    batch_init(&rp->st.b, rp->what);
    rp->st.b.flags = flags;
    return rp;
}

void replay_free(replay *rp)
{
    if (!rp)
        return;
    batch_free(&rp->st.b);
    free(rp->what);
    free(rp);
}

void replay_set_time(replay *rp, int64_t now_ms)
{
    rp->st.now_ms = now_ms;
}

int replay_add(replay *rp, int argc, const slice *argv, char *err, size_t errlen)
{
    if (argc < 1) {
        snprintf(err, errlen, "an empty command");
        return -1;
    }
    rp_batch *b = &rp->st.b;
    size_t arg0 = b->nargs;
    for (int i = 0; i < argc; i++)
        batch_add_arg(b, argv[i].p, argv[i].len);
    if (take_cmd_argv(&rp->st, arg0, argc, argv, err, errlen) < 0) {
        b->nargs = arg0; /* nothing refers to them */
        return -1;
    }
    return 0;
}

int replay_pending(const replay *rp)
{
    return rp->st.b.ncmds;
}

int replay_in_multi(const replay *rp)
{
    return rp->st.in_multi;
}

void replay_run(replay *rp)
{
    flush_batch(&rp->st);
}

long long replay_errors(const replay *rp)
{
    return atomic_load(&rp->st.b.errors);
}

/* ---- fuzzing ------------------------------------------------------------------------------- */

/* tests/fuzz/fuzz_journal.c: reads fd as journal_replay_file reads a file (lines, annotations,
 * SELECT/MULTI/EXEC, command lookup and arity, the shards of each command's keys) but runs
 * nothing: full batches are dropped instead. */
int journal_parse_for_fuzzing(int fd, char *err, size_t errlen)
{
    rp_reader r = {.fd = fd};
    buf_init(&r.data);
    buf_reserve(&r.data, REPLAY_READ_CHUNK);
    rp_state st = {.name = "fuzz"};
    batch_init(&st.b, st.name);
    int rc = 0;
    for (;;) {
        size_t arg0 = st.b.nargs;
        int argc = 0;
        const char *why = NULL;
        int item = read_item(&r, &st.b, &argc, &st.now_ms, &why);
        if (item == ITEM_BAD) {
            snprintf(err, errlen, "%s", why);
            rc = -1;
            break;
        }
        if (item == ITEM_END || item == ITEM_TORN)
            break;
        if (item == ITEM_CMD) {
            slice *argv = mem_malloc(sizeof(slice) * (size_t)argc); /* argc >= 1 */
            batch_slices(&st.b, arg0, argc, argv);
            int taken = take_cmd_argv(&st, arg0, argc, argv, err, errlen);
            free(argv);
            if (taken < 0) {
                rc = -1;
                break;
            }
        }
        if (!st.in_multi && st.b.ncmds >= REPLAY_BATCH_CMDS)
            batch_reset(&st.b);
    }
    batch_free(&st.b);
    buf_free(&r.data);
    return rc;
}
