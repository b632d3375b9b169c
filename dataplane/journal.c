/* The append-only journal: what a command journals, appending records, writing and syncing the
 * files, the journal thread, MISCONF, CONFIG SET and INFO. See journal.h; the manifest and
 * rewrites are in journal_files.c, loading in journal_load.c.
 *
 * Locks: J.io_mu serializes writes and syncs of the files (so bytes reach them in the order
 * they were appended); J.mu guards everything else, and is taken after io_mu when both are
 * needed. Records are appended under mu into J.pending by the thread that ran the command,
 * while it still holds the command's shards; whoever flushes takes the buffer under mu and
 * writes it under io_mu alone, so appending goes on during a write or an fsync (one fdatasync
 * then covers every record appended meanwhile: group commit). A file descriptor is closed only
 * under both locks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "db.h"
#include "journal_int.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "tx.h"

#define JOURNAL_KEYS_MAX 64 /* keys whose shards' counters are read; more: every shard's */
#define JOURNAL_TS_PREFIX "#MS:"
#define JOURNAL_IO_KEEP (1024 * 1024) /* capacity the write buffers keep */
#define LL_TEXT_MAX 24
#define JOURNAL_WAIT_US 1000 /* polling period while shutdown waits for a rewrite */

struct journal J = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .io_mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .fd = -1,
    .old_fd = -1,
    .cur_db = -1,
    .cur_ms = -1,
    .fsync_mode = JFSYNC_EVERYSEC,
    .rw = {.next_fd = -1, .last_secs = -1, .last_ok = 1},
};

atomic_int journal_active;
atomic_int journal_tap_on;
atomic_int journal_write_failed;
_Atomic uint64_t journal_appended_seq, journal_durable_seq;

/* ---- RESP encoding ------------------------------------------------------------------------ */

/* "<prefix><n>\r\n" without printf: this runs for every journaled argument. */
static void put_count(buf *b, char prefix, unsigned long long n)
{
    char tmp[LL_TEXT_MAX + 3];
    char *p = tmp + sizeof(tmp);
    *--p = '\n';
    *--p = '\r';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *--p = prefix;
    buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void put_bulk(buf *b, const char *p, size_t len)
{
    put_count(b, '$', len);
    buf_append(b, p, len);
    buf_append(b, "\r\n", 2);
}

static void put_bulk_ll(buf *b, long long v)
{
    char tmp[LL_TEXT_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    put_bulk(b, tmp, (size_t)n);
}

static void put_argv(buf *b, int argc, const slice *argv)
{
    put_count(b, '*', (unsigned long long)argc);
    for (int i = 0; i < argc; i++)
        put_bulk(b, argv[i].p, argv[i].len);
}

/* One command from journal_rewrite's format. */
static void put_fmt(buf *b, const char *fmt, va_list ap)
{
    put_count(b, '*', strlen(fmt));
    for (const char *f = fmt; *f; f++) {
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            put_bulk(b, s, strlen(s));
            break;
        }
        case 'b': {
            const slice *s = va_arg(ap, const slice *);
            put_bulk(b, s->p, s->len);
            break;
        }
        case 'l': put_bulk_ll(b, va_arg(ap, long long)); break;
        default: abort(); /* a proc passed a format this file does not know */
        }
    }
}

/* ---- what a command journals --------------------------------------------------------------- */

/* The innermost running command of this thread, and the records of commands nested in an
 * EXEC or a script, kept until the outermost command ends. */
static _Thread_local journal_rec *tl_cur;
static _Thread_local int tl_depth;
static _Thread_local buf tl_capture;
static _Thread_local int tl_ncapture;
static _Thread_local int tl_ncapture_file; /* of them, those the file takes */

typedef struct capture_hdr {
    int dbid;
    int ncmds;
    int tap_only;
    int slot; /* for the slot tap: the command's one slot, or -1 */
    size_t len;
} capture_hdr;

static uint64_t dirty_all(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < server.nshards; i++)
        sum += atomic_load_explicit(&shards[i]->stats.dirty, memory_order_relaxed);
    return sum;
}

/* The dirty counters of the shards c may write: they move exactly when it changes something
 * (nobody else touches a shard while the command holds it). A blocked client being served
 * touches only the ready key's shard; its other keys' shards belong to other threads. */
static uint64_t dirty_of(cmd_ctx *c)
{
    const command *cmd = c->cmd;
    if (!(cmd->flags & CMD_WRITE))
        return 0;
    if (c->flags & CTX_UNBLOCKED)
        return atomic_load_explicit(&ctx_shard(c, c->ready_key.p, c->ready_key.len)->stats.dirty,
                                    memory_order_relaxed);
    if (cmd->flags & CMD_ALL_SHARDS)
        return dirty_all();
    int keys[JOURNAL_KEYS_MAX];
    int n = command_get_keys(cmd, c->argc, c->argv, keys, JOURNAL_KEYS_MAX);
    if (n < 0)
        return dirty_all();
    shardset seen;
    shardset_clear(&seen);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        int id = ctx_key_shard(c, c->argv[keys[i]].p, c->argv[keys[i]].len);
        if (shardset_has(&seen, id))
            continue;
        shardset_add(&seen, id);
        sum += atomic_load_explicit(&shards[id]->stats.dirty, memory_order_relaxed);
    }
    return sum;
}

void journal_before(cmd_ctx *c, journal_rec *r)
{
    r->replaced = 0;
    r->ncmds = 0;
    r->tap_only = 0;
    buf_init(&r->resp);
    r->dirty = dirty_of(c);
    r->outer = tl_cur;
    tl_cur = r;
    tl_depth++;
}

/* The commands r stands for: what the proc asked for, else the command as it was called. */
static void rec_resolve(cmd_ctx *c, journal_rec *r)
{
    if (r->replaced)
        return;
    put_argv(&r->resp, c->argc, c->argv);
    r->ncmds = 1;
    r->replaced = 1;
}

static void put_annotation_locked(int64_t now_ms)
{
    if (now_ms == J.cur_ms)
        return;
    char tmp[LL_TEXT_MAX + 8];
    int n = snprintf(tmp, sizeof(tmp), JOURNAL_TS_PREFIX "%lld\r\n", (long long)now_ms);
    buf_append(&J.pending, tmp, (size_t)n);
    J.cur_ms = now_ms;
}

/* Where records go: the file's pending buffer, or the tap's, each with its own idea of the
 * selected database. */
typedef struct jsink {
    buf *out;
    int *cur_db;
} jsink;

static void put_select(jsink *k, int dbid)
{
    if (dbid == *k->cur_db)
        return;
    put_count(k->out, '*', 2);
    put_bulk(k->out, "SELECT", 6);
    put_bulk_ll(k->out, dbid);
    *k->cur_db = dbid;
}

static void put_word(jsink *k, const char *w)
{
    put_count(k->out, '*', 1);
    put_bulk(k->out, w, strlen(w));
}

/* Takes mu; opens the journal if loading just ended. Returns 1 when the file takes records,
 * 0 when only the tap does, -1 (mu released) when nobody does. */
static int append_begin(void)
{
    pthread_mutex_lock(&J.mu);
    if (J.state == J_STARTING && !atomic_load(&server.loading)) {
        char err[JOURNAL_ERR_MAX];
        if (journal_start_locked(err, sizeof(err)) < 0) {
            log_warning("journal: cannot open the append only file: %s", err);
            journal_set_error_locked(errno ? errno : EIO, "opening");
        }
    }
    if (J.fd >= 0)
        return 1;
    if (J.tap || J.slot_tap)
        return 0;
    pthread_mutex_unlock(&J.mu);
    return -1;
}

/* Hands what the tap's buffer holds to the tap (mu). */
static void tap_flush_locked(void)
{
    if (J.tap && J.tap_buf.len)
        J.tap(J.tap_buf.data, J.tap_buf.len);
    buf_clear(&J.tap_buf);
    buf_shrink(&J.tap_buf, JOURNAL_IO_KEEP);
}

static void append_end(size_t before)
{
    atomic_fetch_add_explicit(&journal_appended_seq, J.pending.len - before, memory_order_relaxed);
    tap_flush_locked();
    pthread_mutex_unlock(&J.mu);
}

/* A top-level command's own records, into one sink. */
static void put_rec(jsink *k, cmd_ctx *c, journal_rec *r)
{
    put_select(k, c->dbid);
    if (r->ncmds > 1)
        put_word(k, "MULTI");
    buf_append(k->out, r->resp.data, r->resp.len);
    if (r->ncmds > 1)
        put_word(k, "EXEC");
}

/* The one slot of the keys of c's command (a record of db 0 for the slot tap), or -1 when it
 * has none or several. Rewrites keep their command's keys, so the call's keys decide. */
static int rec_slot(cmd_ctx *c)
{
    if (c->dbid != 0)
        return -1;
    if (c->flags & CTX_UNBLOCKED)
        return key_slot(c->ready_key.p, c->ready_key.len);
    /* Every key counts here (a big MSET of one hash tag is one slot's too): no key lists
     * more keys than arguments. */
    int stack[JOURNAL_KEYS_MAX];
    int *keys = c->argc > JOURNAL_KEYS_MAX ? mem_malloc(sizeof(int) * (size_t)c->argc) : stack;
    int n = command_get_keys(c->cmd, c->argc, c->argv, keys,
                             c->argc > JOURNAL_KEYS_MAX ? c->argc : JOURNAL_KEYS_MAX);
    int slot = -1;
    for (int i = 0; i < n; i++) {
        int s = key_slot(c->argv[keys[i]].p, c->argv[keys[i]].len);
        if (slot >= 0 && s != slot) {
            slot = -1;
            break;
        }
        slot = s;
    }
    if (keys != stack)
        free(keys);
    return n > 0 ? slot : -1;
}

static void slot_tap_rec(cmd_ctx *c, journal_rec *r)
{
    int slot = rec_slot(c);
    if (slot >= 0)
        J.slot_tap(slot, r->resp.data, r->resp.len, r->ncmds);
}

static void emit_rec(cmd_ctx *c, journal_rec *r)
{
    int file = append_begin();
    if (file < 0)
        return;
    if (r->tap_only)
        file = 0;
    size_t before = J.pending.len;
    if (file) {
        put_annotation_locked(c->now_ms);
        put_rec(&(jsink){&J.pending, &J.cur_db}, c, r);
    }
    if (J.tap)
        put_rec(&(jsink){&J.tap_buf, &J.tap_db}, c, r);
    if (J.slot_tap && !r->tap_only)
        slot_tap_rec(c, r);
    append_end(before);
}

static void capture_add(cmd_ctx *c, journal_rec *r)
{
    int slot = atomic_load_explicit(&journal_tap_on, memory_order_relaxed) ? rec_slot(c) : -1;
    capture_hdr h = {.dbid = c->dbid,
                     .ncmds = r->ncmds,
                     .tap_only = r->tap_only,
                     .slot = slot,
                     .len = r->resp.len};
    buf_append(&tl_capture, &h, sizeof(h));
    buf_append(&tl_capture, r->resp.data, r->resp.len);
    tl_ncapture += r->ncmds;
    if (!r->tap_only)
        tl_ncapture_file += r->ncmds;
}

/* The captured writes into one sink, as one MULTI/EXEC (Redis 7.0 wraps more than one); the
 * file skips what only the tap takes. */
static void put_capture(jsink *k, int file)
{
    int wrap = (file ? tl_ncapture_file : tl_ncapture) > 1;
    size_t at = 0;
    capture_hdr h;
    memcpy(&h, tl_capture.data, sizeof(h));
    put_select(k, h.dbid); /* before MULTI: the group's first database */
    if (wrap)
        put_word(k, "MULTI");
    while (at < tl_capture.len) {
        memcpy(&h, tl_capture.data + at, sizeof(h));
        at += sizeof(h);
        if (!(file && h.tap_only)) {
            put_select(k, h.dbid);
            buf_append(k->out, tl_capture.data + at, h.len);
        }
        at += h.len;
    }
    if (wrap)
        put_word(k, "EXEC");
}

/* The captured writes to the slot tap, command by command (mu). */
static void slot_tap_capture(void)
{
    size_t at = 0;
    while (at < tl_capture.len) {
        capture_hdr h;
        memcpy(&h, tl_capture.data + at, sizeof(h));
        at += sizeof(h);
        if (h.slot >= 0 && !h.tap_only)
            J.slot_tap(h.slot, tl_capture.data + at, h.len, h.ncmds);
        at += h.len;
    }
}

/* The writes of an EXEC or a script. */
static void emit_capture(cmd_ctx *c)
{
    int file = append_begin();
    if (file >= 0) {
        size_t before = J.pending.len;
        if (file && tl_ncapture_file) {
            put_annotation_locked(c->now_ms);
            put_capture(&(jsink){&J.pending, &J.cur_db}, 1);
        }
        if (J.tap)
            put_capture(&(jsink){&J.tap_buf, &J.tap_db}, 0);
        if (J.slot_tap)
            slot_tap_capture();
        append_end(before);
    }
    buf_free(&tl_capture); /* thread-local: nothing would free it when the thread ends */
    tl_ncapture = 0;
    tl_ncapture_file = 0;
}

void journal_after(cmd_ctx *c, journal_rec *r)
{
    tl_cur = r->outer;
    int depth = --tl_depth;
    int changed = r->replaced || ((c->cmd->flags & CMD_WRITE) && dirty_of(c) != r->dirty);
    if (changed)
        rec_resolve(c, r);
    if (depth > 0) {
        if (changed)
            capture_add(c, r);
    } else if (tl_ncapture) {
        emit_capture(c); /* EXEC and scripts journal the writes they made, not themselves */
    } else if (changed && !atomic_load_explicit(&server.loading, memory_order_relaxed)) {
        emit_rec(c, r);
    }
    buf_free(&r->resp);
}

/* ---- the procs' API ------------------------------------------------------------------------ */

static journal_rec *rec_for(cmd_ctx *c)
{
    (void)c; /* the record is the innermost running command's: c's own */
    return journal_wanted() ? tl_cur : NULL;
}

void journal_rewrite(cmd_ctx *c, const char *fmt, ...)
{
    journal_rec *r = rec_for(c);
    if (!r)
        return;
    buf_clear(&r->resp);
    va_list ap;
    va_start(ap, fmt);
    put_fmt(&r->resp, fmt, ap);
    va_end(ap);
    r->ncmds = 1;
    r->replaced = 1;
}

void journal_also(cmd_ctx *c, const char *fmt, ...)
{
    journal_rec *r = rec_for(c);
    if (!r)
        return;
    rec_resolve(c, r);
    va_list ap;
    va_start(ap, fmt);
    put_fmt(&r->resp, fmt, ap);
    va_end(ap);
    r->ncmds++;
}

void journal_rewrite_argv(cmd_ctx *c, int argc, const slice *argv)
{
    journal_rec *r = rec_for(c);
    if (!r)
        return;
    buf_clear(&r->resp);
    put_argv(&r->resp, argc, argv);
    r->ncmds = 1;
    r->replaced = 1;
}

void journal_force(cmd_ctx *c)
{
    journal_rewrite_argv(c, c->argc, c->argv);
}

void journal_tap_force(cmd_ctx *c)
{
    journal_rec *r = rec_for(c);
    if (!r || !atomic_load_explicit(&journal_tap_on, memory_order_relaxed))
        return;
    rec_resolve(c, r);
    r->tap_only = 1;
}

void journal_cmd_init(journal_cmd *jc, const char *name)
{
    jc->argc = 0;
    buf_init(&jc->args);
    journal_cmd_add(jc, name, strlen(name));
}

void journal_cmd_add(journal_cmd *jc, const char *p, size_t len)
{
    put_bulk(&jc->args, p, len);
    jc->argc++;
}

void journal_cmd_add_ll(journal_cmd *jc, long long v)
{
    put_bulk_ll(&jc->args, v);
    jc->argc++;
}

void journal_cmd_free(journal_cmd *jc)
{
    buf_free(&jc->args);
    jc->argc = 0;
}

void journal_cmd_commit(cmd_ctx *c, journal_cmd *jc, int also)
{
    journal_rec *r = rec_for(c);
    if (r) {
        if (also) {
            rec_resolve(c, r);
            r->ncmds++;
        } else {
            buf_clear(&r->resp);
            r->ncmds = 1;
            r->replaced = 1;
        }
        put_count(&r->resp, '*', (unsigned long long)jc->argc);
        buf_append(&r->resp, jc->args.data, jc->args.len);
    }
    journal_cmd_free(jc);
}

/* ---- writing and syncing -------------------------------------------------------------------- */

static int fsync_policy(void)
{
    return atomic_load_explicit(&J.fsync_mode, memory_order_relaxed);
}

void journal_update_durable(void)
{
    uint64_t d = fsync_policy() == JFSYNC_ALWAYS ? J.synced_seq : J.written_seq;
    atomic_store_explicit(&journal_durable_seq, d, memory_order_relaxed);
}

void journal_set_error_locked(int err, const char *what)
{
    J.write_errno = err;
    int64_t now = clock_mono_ms();
    if (!atomic_load(&journal_write_failed) ||
        now - J.last_err_log_ms > JOURNAL_ERR_LOG_PERIOD_MS) {
        log_warning("Error %s the AOF file: %s", what, strerror(err));
        J.last_err_log_ms = now;
    }
    atomic_store(&journal_write_failed, 1);
}

/* Writes all of b to fd. A short write is cut off again (Redis's ftruncate), so that the file
 * never ends in half a record that later records would follow. */
static int write_fd(int fd, const buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            break;
        }
        off += (size_t)n;
    }
    if (off == b->len)
        return 0;
    int err = errno;
    if (off > 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < 0 || ftruncate(fd, end - (off_t)off) < 0)
            log_warning("Could not remove short write from the append-only file: %s",
                        strerror(errno));
    }
    errno = err;
    return -1;
}

/* Puts bytes that could not be written back in front of what was appended since (mu). */
static void put_back_locked(int fd, buf *chunk)
{
    buf *to = fd == J.fd ? &J.pending : fd == J.old_fd ? &J.old_pending : NULL;
    if (!to) {
        buf_clear(chunk);
        return;
    }
    buf_append(chunk, to->data, to->len);
    buf tmp = *to;
    *to = *chunk;
    *chunk = tmp;
    buf_clear(chunk);
}

/* With appendfsync always nothing that was acknowledged may be lost, and replies may already
 * be on their way: Redis exits rather than go on. */
static void die_if_always(const char *what, int err)
{
    if (fsync_policy() != JFSYNC_ALWAYS)
        return;
    log_error("Can't recover from AOF %s error when the AOF fsync policy is 'always' (%s). "
              "Exiting...",
              what, strerror(err));
    _exit(1);
}

/* Records a failed write or fsync: what was not written goes back in front of what was
 * appended since, to be tried again (everysec and no); with always the process ends. */
static int flush_failed(const char *what, int old_fd, buf *old_chunk, int fd, buf *chunk)
{
    int err = errno ? errno : EIO;
    die_if_always(what, err);
    pthread_mutex_lock(&J.mu);
    if (old_chunk && old_chunk->len)
        put_back_locked(old_fd, old_chunk);
    if (chunk && chunk->len)
        put_back_locked(fd, chunk);
    journal_set_error_locked(err, what);
    pthread_mutex_unlock(&J.mu);
    journal_update_durable();
    return -1;
}

/* The file a rewrite moved away from: completes it, makes it durable, lets it go. */
static int retire_old(int old_fd, buf *io_old, int fd, buf *io_new)
{
    if (write_fd(old_fd, io_old) < 0)
        return flush_failed("writing to", old_fd, io_old, fd, io_new);
    buf_clear(io_old);
    if (fdatasync(old_fd) < 0)
        return flush_failed("syncing", -1, NULL, fd, io_new);
    pthread_mutex_lock(&J.mu);
    if (J.old_fd == old_fd) {
        close(old_fd);
        J.old_fd = -1;
    }
    pthread_mutex_unlock(&J.mu);
    return 0;
}

/* Writes (and with sync fdatasyncs) everything appended so far. io_mu held. */
static int flush_io_locked(int sync)
{
    static buf io_old, io_new; /* io_mu */
    pthread_mutex_lock(&J.mu);
    uint64_t target = atomic_load(&journal_appended_seq);
    int old_fd = J.old_fd, fd = J.fd;
    buf t = io_old;
    io_old = J.old_pending;
    J.old_pending = t;
    t = io_new;
    io_new = J.pending;
    J.pending = t;
    pthread_mutex_unlock(&J.mu);

    if (old_fd >= 0 && retire_old(old_fd, &io_old, fd, &io_new) < 0)
        return -1;
    if (io_new.len && fd >= 0 && write_fd(fd, &io_new) < 0)
        return flush_failed("writing to", -1, NULL, fd, &io_new);
    buf_clear(&io_new);
    buf_shrink(&io_new, JOURNAL_IO_KEEP);
    J.written_seq = target;
    if (sync && fd >= 0 && fdatasync(fd) < 0)
        return flush_failed("syncing", -1, NULL, -1, NULL);
    if (sync || fd < 0) {
        J.synced_seq = target;
        J.last_fsync_ms = (int64_t)clock_mono_ms();
    }
    if (atomic_load(&journal_write_failed)) {
        pthread_mutex_lock(&J.mu);
        atomic_store(&journal_write_failed, 0);
        pthread_mutex_unlock(&J.mu);
        log_warning("AOF write error looks solved, Redis can write again.");
    }
    journal_update_durable();
    return 0;
}

int journal_flush(int sync)
{
    pthread_mutex_lock(&J.io_mu);
    int rc = flush_io_locked(sync);
    pthread_mutex_unlock(&J.io_mu);
    return rc;
}

void journal_before_reply_slow(void)
{
    int always = fsync_policy() == JFSYNC_ALWAYS;
    /* Everysec and no answer even when the file cannot be written (Redis does); the journal
     * thread retries, and writes are refused meanwhile. */
    if (!always && atomic_load(&journal_write_failed))
        return;
    uint64_t want = atomic_load(&journal_appended_seq);
    pthread_mutex_lock(&J.io_mu);
    /* Another thread's write or fsync may already cover ours: group commit. */
    uint64_t have = always ? J.synced_seq : J.written_seq;
    if (have < want)
        flush_io_locked(always);
    pthread_mutex_unlock(&J.io_mu);
}

void journal_close_files_locked(void)
{
    if (J.fd >= 0)
        close(J.fd);
    if (J.old_fd >= 0)
        close(J.old_fd);
    J.fd = J.old_fd = -1;
    buf_clear(&J.pending);
    buf_clear(&J.old_pending);
    J.cur_db = -1;
    J.cur_ms = -1;
    uint64_t seq = atomic_load(&journal_appended_seq);
    J.written_seq = J.synced_seq = seq;
    atomic_store(&journal_durable_seq, seq);
}

/* ---- the tap -------------------------------------------------------------------------------- */

void journal_file_active_locked(int on)
{
    J.file_active = on;
    atomic_store(&journal_active, on || J.tap != NULL || J.slot_tap != NULL);
}

/* The flags that follow the consumers (mu). */
static void taps_changed_locked(void)
{
    int taps = J.tap != NULL || J.slot_tap != NULL;
    atomic_store(&journal_tap_on, taps);
    atomic_store(&journal_active, J.file_active || taps);
}

void journal_tap_set(journal_tap_fn fn)
{
    pthread_mutex_lock(&J.mu);
    J.tap = fn;
    J.tap_db = -1;
    buf_clear(&J.tap_buf);
    taps_changed_locked();
    pthread_mutex_unlock(&J.mu);
}

void journal_slot_tap_set(journal_slot_tap_fn fn)
{
    pthread_mutex_lock(&J.mu);
    J.slot_tap = fn;
    taps_changed_locked();
    pthread_mutex_unlock(&J.mu);
}

void journal_tap_sync(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&J.mu);
    J.tap_db = -1;
    fn(arg);
    pthread_mutex_unlock(&J.mu);
}

void journal_tap_command(int argc, const slice *argv)
{
    pthread_mutex_lock(&J.mu);
    if (J.tap) {
        put_argv(&J.tap_buf, argc, argv);
        tap_flush_locked();
    }
    pthread_mutex_unlock(&J.mu);
}

void journal_tap_deleted_slow(int dbid, const char *key, size_t len)
{
    pthread_mutex_lock(&J.mu);
    if (J.tap) {
        put_select(&(jsink){&J.tap_buf, &J.tap_db}, dbid);
        put_count(&J.tap_buf, '*', 2);
        put_bulk(&J.tap_buf, "DEL", 3);
        put_bulk(&J.tap_buf, key, len);
        tap_flush_locked();
    }
    if (J.slot_tap && dbid == 0) {
        buf_clear(&J.slot_buf);
        put_count(&J.slot_buf, '*', 2);
        put_bulk(&J.slot_buf, "DEL", 3);
        put_bulk(&J.slot_buf, key, len);
        J.slot_tap(key_slot(key, len), J.slot_buf.data, J.slot_buf.len, 1);
    }
    pthread_mutex_unlock(&J.mu);
}

/* ---- MISCONF -------------------------------------------------------------------------------- */

int journal_refuse_slow(cmd_ctx *c, const command *cmd)
{
    if (!(cmd->flags & CMD_WRITE) && strcmp(cmd->name, "ping"))
        return 0;
    pthread_mutex_lock(&J.mu);
    int err = J.write_errno;
    pthread_mutex_unlock(&J.mu);
    reply_errorf(c, "MISCONF Errors writing to the AOF file: %s", strerror(err));
    return 1;
}

/* ---- the journal thread --------------------------------------------------------------------- */

static int parse_fsync(const char *s)
{
    if (s && !strcasecmp(s, "always"))
        return JFSYNC_ALWAYS;
    if (s && !strcasecmp(s, "no"))
        return JFSYNC_NO;
    return JFSYNC_EVERYSEC;
}

static void tick_start(void)
{
    pthread_mutex_lock(&J.mu);
    if (J.state == J_STARTING && !atomic_load(&server.loading)) {
        char err[JOURNAL_ERR_MAX];
        if (journal_start_locked(err, sizeof(err)) < 0) {
            log_warning("journal: cannot open the append only file: %s", err);
            journal_set_error_locked(errno ? errno : EIO, "opening");
        }
    }
    pthread_mutex_unlock(&J.mu);
}

static void tick_rewrite(void)
{
    pthread_mutex_lock(&J.mu);
    int go = J.rw.scheduled && !J.rw.posted && !J.rw.in_progress && !snapshot_in_progress() &&
             !atomic_load(&server.loading) && clock_wall_ms() >= J.rw.retry_at_ms;
    pthread_mutex_unlock(&J.mu);
    if (go)
        journal_rewrite_post();
}

/* Once per tick: open the journal after loading, write what replies did not, fsync once a
 * second with everysec, retry after errors, start a scheduled rewrite. */
static void journal_tick(void)
{
    tick_start();
    int mode = fsync_policy();
    int64_t now = (int64_t)clock_mono_ms();
    int due = mode == JFSYNC_EVERYSEC && now - J.last_fsync_ms >= JOURNAL_FSYNC_PERIOD_MS;
    pthread_mutex_lock(&J.io_mu);
    int behind = atomic_load(&journal_appended_seq) != J.written_seq ||
                 J.synced_seq != J.written_seq || J.old_fd >= 0;
    if (behind || atomic_load(&journal_write_failed))
        flush_io_locked(mode == JFSYNC_ALWAYS || due);
    else if (due)
        J.last_fsync_ms = now;
    pthread_mutex_unlock(&J.io_mu);
    tick_rewrite();
}

static void *journal_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "dfly-journal");
    pthread_mutex_lock(&J.mu);
    while (!J.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)JOURNAL_TICK_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&J.cv, &J.mu, &ts);
        if (J.stop)
            break;
        pthread_mutex_unlock(&J.mu);
        journal_tick();
        pthread_mutex_lock(&J.mu);
    }
    pthread_mutex_unlock(&J.mu);
    return NULL;
}

void journal_init(void)
{
    atomic_store(&J.fsync_mode, parse_fsync(server.cfg.appendfsync));
    pthread_mutex_lock(&J.mu);
    if (!J.have_manifest) {
        journal_remove_temp_files();
        char err[JOURNAL_ERR_MAX];
        int rc = journal_manifest_read(&J.m, err, sizeof(err));
        if (rc < 0 && server.cfg.appendonly)
            log_warning("journal: %s", err);
        J.have_manifest = rc == 0;
    }
    /* journal_load may have opened the journal already (it runs on the loader thread). */
    if (server.cfg.appendonly && J.state == J_OFF) {
        J.state = J_STARTING;
        journal_file_active_locked(1);
    }
    /* Nothing to load: open it now, before the first command. */
    if (J.state == J_STARTING && !atomic_load(&server.loading)) {
        char err[JOURNAL_ERR_MAX];
        if (journal_start_locked(err, sizeof(err)) < 0) {
            int e = errno ? errno : EIO;
            log_warning("journal: cannot open the append only file: %s", err);
            journal_set_error_locked(e, "opening");
        }
    }
    pthread_mutex_unlock(&J.mu);
    if (pthread_create(&J.thread, NULL, journal_thread, NULL) == 0)
        J.thread_started = 1;
    else
        log_error("journal: cannot start the journal thread");
}

/* A rewrite under way cannot be cancelled (Redis kills its child): it is waited for, so that
 * its completion does not arrive at stopped workers. The workers still run. */
static void wait_rewrite(void)
{
    int64_t logged = 0;
    for (;;) {
        pthread_mutex_lock(&J.mu);
        int running = J.rw.in_progress;
        J.rw.scheduled = 0;
        pthread_mutex_unlock(&J.mu);
        if (!running)
            return;
        int64_t now = (int64_t)clock_mono_ms();
        if (!logged)
            logged = now;
        else if (now - logged > JOURNAL_RETRY_MS) {
            log_info("waiting for the AOF rewrite in progress to finish");
            logged = now;
        }
        usleep(JOURNAL_WAIT_US);
    }
}

void journal_shutdown(void)
{
    pthread_mutex_lock(&J.mu);
    J.stop = 1; /* no rewrite starts from here on */
    pthread_cond_signal(&J.cv);
    pthread_mutex_unlock(&J.mu);
    if (J.thread_started) {
        pthread_join(J.thread, NULL);
        J.thread_started = 0;
    }
    wait_rewrite();
    pthread_mutex_lock(&J.io_mu);
    if (J.fd >= 0 || J.old_fd >= 0)
        flush_io_locked(1);
    pthread_mutex_lock(&J.mu);
    journal_file_active_locked(0);
    journal_close_files_locked();
    buf_free(&J.pending);
    buf_free(&J.old_pending);
    buf_free(&J.tap_buf);
    buf_free(&J.slot_buf);
    journal_manifest_free(&J.m);
    J.have_manifest = 0;
    pthread_mutex_unlock(&J.mu);
    pthread_mutex_unlock(&J.io_mu);
}

/* ---- CONFIG SET ------------------------------------------------------------------------------ */

/* Redis's startAppendOnly: the first base is written by a rewrite; appending starts at its
 * point in time. */
static int journal_enable(char *err, size_t errlen)
{
    pthread_mutex_lock(&J.mu);
    if (J.state != J_OFF) {
        pthread_mutex_unlock(&J.mu);
        return 0;
    }
    if (journal_mkdir(err, errlen) < 0) {
        pthread_mutex_unlock(&J.mu);
        return -1;
    }
    J.gen++;
    J.state = J_WAIT_REWRITE;
    J.rw.scheduled = 1;
    J.rw.retry_at_ms = 0;
    pthread_mutex_unlock(&J.mu);
    journal_rewrite_post();
    return 0;
}

/* Redis's stopAppendOnly: what is pending is written and synced, the files closed. A rewrite
 * under way finishes; its result is applied only if it still describes the journal. */
static void journal_disable(void)
{
    pthread_mutex_lock(&J.io_mu);
    pthread_mutex_lock(&J.mu);
    J.gen++;
    int was = J.state;
    J.state = J_OFF;
    journal_file_active_locked(0);
    J.rw.scheduled = 0;
    pthread_mutex_unlock(&J.mu);
    if (was != J_OFF)
        flush_io_locked(1);
    pthread_mutex_lock(&J.mu);
    journal_close_files_locked();
    atomic_store(&journal_write_failed, 0);
    pthread_mutex_unlock(&J.mu);
    pthread_mutex_unlock(&J.io_mu);
}

int journal_config_appendonly(char *err, size_t errlen)
{
    if (server.cfg.appendonly)
        return journal_enable(err, errlen);
    journal_disable();
    return 0;
}

int journal_config_appendfsync(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    pthread_mutex_lock(&J.io_mu);
    atomic_store(&J.fsync_mode, parse_fsync(server.cfg.appendfsync));
    journal_update_durable();
    pthread_mutex_unlock(&J.io_mu);
    return 0;
}

int journal_exists(void)
{
    if (!server.cfg.appendonly)
        return 0;
    char path[JOURNAL_PATH_MAX], name[JOURNAL_PATH_MAX];
    snprintf(name, sizeof(name), "%s.manifest", server.cfg.appendfilename);
    journal_path(path, sizeof(path), name);
    return access(path, F_OK) == 0;
}

/* ---- INFO ------------------------------------------------------------------------------------ */

void journal_info(buf *out)
{
    pthread_mutex_lock(&J.mu);
    int enabled = J.state != J_OFF;
    int64_t current = J.rw.in_progress ? (clock_wall_ms() - J.rw.start_ms) / 1000 : -1;
    buf_printf(out,
               "aof_enabled:%d\r\n"
               "aof_rewrite_in_progress:%d\r\n"
               "aof_rewrite_scheduled:%d\r\n"
               "aof_last_rewrite_time_sec:%lld\r\n"
               "aof_current_rewrite_time_sec:%lld\r\n"
               "aof_last_bgrewrite_status:%s\r\n"
               "aof_rewrites:%lld\r\n"
               "aof_rewrites_consecutive_failures:%lld\r\n"
               "aof_last_write_status:%s\r\n"
               "aof_last_cow_size:0\r\n"
               "module_fork_in_progress:0\r\n"
               "module_fork_last_cow_size:0\r\n",
               enabled, J.rw.in_progress, J.rw.scheduled, (long long)J.rw.last_secs,
               (long long)current, J.rw.last_ok ? "ok" : "err", J.rw.count, J.rw.failures,
               atomic_load(&journal_write_failed) ? "err" : "ok");
    if (enabled) {
        long long base = 0, total = 0;
        journal_sizes_locked(&base, &total);
        uint64_t behind = atomic_load(&journal_appended_seq) - atomic_load(&journal_durable_seq);
        buf_printf(out,
                   "aof_current_size:%lld\r\n"
                   "aof_base_size:%lld\r\n"
                   "aof_pending_rewrite:%d\r\n"
                   "aof_buffer_length:%llu\r\n"
                   "aof_pending_bio_fsync:0\r\n"
                   "aof_delayed_fsync:0\r\n",
                   total, base, J.rw.scheduled, (unsigned long long)behind);
    }
    pthread_mutex_unlock(&J.mu);
}
