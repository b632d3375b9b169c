/* The journal's files: the manifest (Redis 7's format), opening the journal at start, rewrites
 * (BGREWRITEAOF and the first base after CONFIG SET appendonly yes) and the BGREWRITEAOF
 * command. See journal.h.
 *
 * A rewrite, as Redis's multi-part AOF does it:
 *   1. (appendonly on) a new incremental file is created and the manifest, now naming the old
 *      base, the old incremental files and the new one, is written; a crash from here on loads
 *      all of them.
 *   2. A snapshot with aux aof-base 1 starts. At its point in time (every shard held) appending
 *      moves to the new incremental file: what precedes the point is in the snapshot, what
 *      follows it in the new file.
 *   3. When the snapshot file is complete, the manifest names the new base and the new
 *      incremental file alone, and the old files are deleted.
 * With CONFIG SET appendonly yes the incremental file of step 1 is a temporary one, named in a
 * manifest only at step 3 (the journal does not exist before). With appendonly off the rewrite
 * writes a base and a manifest naming it alone. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "clock.h"
#include "journal_int.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "worker.h"

#define MANIFEST_MAX_LINE 1024 /* Redis's limit */
#define MANIFEST_SUFFIX ".manifest"
#define TEMP_PREFIX "temp-" /* Redis's temporary files */
#define BASE_SUFFIX ".base.rdb"
#define INCR_SUFFIX ".incr.aof"
#define SNAPSHOT_TEMP_MARK ".tmp-" /* snapshot.c writes <path>.tmp-<pid> */
#define COPY_CHUNK (1 << 20)
#define FILE_TYPE_BASE 'b'
#define FILE_TYPE_HIST 'h'
#define FILE_TYPE_INCR 'i'

/* ---- names ---------------------------------------------------------------------------------- */

const char *journal_dir(void)
{
    return server.cfg.appenddirname && *server.cfg.appenddirname ? server.cfg.appenddirname : ".";
}

void journal_path(char *out, size_t outlen, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", journal_dir(), name);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0'; /* a name this long cannot be opened: fail visibly, not elsewhere */
}

static char *file_name(long long seq, const char *suffix)
{
    char tmp[JOURNAL_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.%lld%s", server.cfg.appendfilename, seq, suffix);
    return mem_strdup(tmp);
}

static void manifest_path(char *out, size_t outlen, int temp)
{
    char name[JOURNAL_PATH_MAX];
    snprintf(name, sizeof(name), "%s%s%s", temp ? TEMP_PREFIX : "", server.cfg.appendfilename,
             MANIFEST_SUFFIX);
    journal_path(out, outlen, name);
}

static void temp_incr_path(char *out, size_t outlen)
{
    char name[JOURNAL_PATH_MAX];
    snprintf(name, sizeof(name), TEMP_PREFIX "%s.incr", server.cfg.appendfilename);
    journal_path(out, outlen, name);
}

int journal_mkdir(char *err, size_t errlen)
{
    if (mkdir(journal_dir(), 0755) == 0 || errno == EEXIST)
        return 0;
    snprintf(err, errlen, "Can't open or create append-only dir %s: %s", journal_dir(),
             strerror(errno));
    return -1;
}

static int fsync_dir(void)
{
    int fd = open(journal_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

void journal_remove_temp_files(void)
{
    DIR *d = opendir(journal_dir());
    if (!d)
        return;
    size_t fnlen = strlen(server.cfg.appendfilename);
    struct dirent *de;
    /* readdir is safe here: the stream is this function's own (readdir_r is deprecated). */
    // cppcheck-suppress readdirCalled
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        int ours = !strncmp(n, TEMP_PREFIX, strlen(TEMP_PREFIX)) ||
                   (!strncmp(n, server.cfg.appendfilename, fnlen) && strstr(n, BASE_SUFFIX) &&
                    strstr(n, SNAPSHOT_TEMP_MARK));
        if (!ours)
            continue;
        char path[JOURNAL_PATH_MAX];
        journal_path(path, sizeof(path), n);
        unlink(path);
    }
    closedir(d);
}

/* ---- the manifest --------------------------------------------------------------------------- */

void journal_manifest_free(jmanifest *m)
{
    free(m->base.name);
    for (int i = 0; i < m->nincr; i++)
        free(m->incr[i].name);
    free(m->incr);
    memset(m, 0, sizeof(*m));
}

static void manifest_add_incr(jmanifest *m, char *name, long long seq)
{
    m->incr = mem_realloc(m->incr, sizeof(jfile) * (size_t)(m->nincr + 1));
    m->incr[m->nincr].name = name;
    m->incr[m->nincr].seq = seq;
    m->nincr++;
    if (seq > m->incr_seq)
        m->incr_seq = seq;
}

/* Redis's sdssplitargs, enough for manifest lines: words, "double quoted" with \ escapes (\xHH
 * too), 'single quoted'. Returns the word count, or -1 on unbalanced quotes. */
static int split_args(char *line, char **argv, int max)
{
    int argc = 0;
    char *p = line;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            return argc;
        if (argc == max)
            return -1;
        char *out = p, *start = p;
        char quote = 0;
        if (*p == '"' || *p == '\'')
            quote = *p++;
        while (*p && (quote || !isspace((unsigned char)*p))) {
            if (quote == '"' && *p == '\\' && p[1]) {
                p++;
                char ch = *p;
                if (ch == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
                    char hex[3] = {p[1], p[2], 0};
                    ch = (char)strtol(hex, NULL, 16);
                    p += 2;
                } else if (ch == 'n') {
                    ch = '\n';
                } else if (ch == 'r') {
                    ch = '\r';
                } else if (ch == 't') {
                    ch = '\t';
                }
                *out++ = ch;
                p++;
            } else if (quote && *p == quote) {
                p++;
                quote = 0;
                if (*p && !isspace((unsigned char)*p))
                    return -1; /* a closing quote must end the word */
                break;
            } else {
                *out++ = *p++;
            }
        }
        if (quote)
            return -1;
        if (*p)
            p++;
        *out = '\0';
        argv[argc++] = start;
    }
}

/* Parses one line into an entry; returns NULL or Redis's reason. */
static const char *parse_line(char *line, jfile *f, char *type)
{
    char *argv[MANIFEST_MAX_LINE / 2];
    int argc = split_args(line, argv, (int)(sizeof(argv) / sizeof(argv[0])));
    /* More than 6 words is allowed for forward compatibility, as in Redis. */
    if (argc < 6 || argc % 2)
        return "Invalid AOF manifest file format";
    f->name = NULL;
    f->seq = 0;
    *type = 0;
    for (int i = 0; i < argc; i += 2) {
        if (!strcasecmp(argv[i], "file")) {
            if (strchr(argv[i + 1], '/'))
                return "File can't be a path, just a filename";
            free(f->name);
            f->name = mem_strdup(argv[i + 1]);
        } else if (!strcasecmp(argv[i], "seq")) {
            f->seq = atoll(argv[i + 1]);
        } else if (!strcasecmp(argv[i], "type")) {
            *type = argv[i + 1][0];
        }
    }
    if (!f->name || !f->seq || !*type)
        return "Invalid AOF manifest file format";
    return NULL;
}

/* Adds a parsed entry; returns NULL or Redis's reason. */
static const char *manifest_take(jmanifest *m, jfile *f, char type)
{
    if (type == FILE_TYPE_BASE) {
        if (m->base.name)
            return "Found duplicate base file information";
        m->base = *f;
        if (f->seq > m->base_seq)
            m->base_seq = f->seq;
        return NULL;
    }
    if (type == FILE_TYPE_HIST) {
        /* A history file of a Redis rewrite: no longer part of the journal. */
        char path[JOURNAL_PATH_MAX];
        journal_path(path, sizeof(path), f->name);
        unlink(path);
        free(f->name);
        return NULL;
    }
    if (type == FILE_TYPE_INCR) {
        if (m->nincr && f->seq <= m->incr[m->nincr - 1].seq)
            return "Found a non-monotonic sequence number";
        manifest_add_incr(m, f->name, f->seq);
        return NULL;
    }
    return "Unknown AOF file type";
}

int journal_manifest_read(jmanifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    char path[JOURNAL_PATH_MAX];
    manifest_path(path, sizeof(path), 0);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "can't open the AOF manifest file %s for reading: %s", path,
                 strerror(errno));
        return -1;
    }
    char line[MANIFEST_MAX_LINE + 1];
    int linenum = 0;
    const char *why = NULL;
    while (!why && fgets(line, sizeof(line), fp)) {
        linenum++;
        if (line[0] == '#')
            continue;
        if (!strchr(line, '\n')) {
            why = "The AOF manifest file contains too long line";
            break;
        }
        jfile f = {0};
        char type = 0;
        why = parse_line(line, &f, &type);
        if (!why)
            why = manifest_take(m, &f, type); /* takes f.name, unless it refuses the entry */
        if (why)
            free(f.name);
    }
    if (!why && ferror(fp))
        why = "Read AOF manifest failed";
    if (!why && linenum == 0)
        why = "Found an empty AOF manifest";
    fclose(fp);
    if (why) {
        snprintf(err, errlen, "%s (line %d of the AOF manifest %s)", why, linenum, path);
        journal_manifest_free(m);
        return -1;
    }
    return 0;
}

/* Redis's sdscatrepr when a name needs it (spaces, quotes, unprintable bytes). */
static void put_name(buf *b, const char *name)
{
    int plain = *name != '\0';
    for (const char *p = name; *p && plain; p++)
        plain = isprint((unsigned char)*p) && !isspace((unsigned char)*p) && *p != '"' &&
                *p != '\\' && *p != '\'';
    if (plain) {
        buf_append_str(b, name);
        return;
    }
    buf_append_char(b, '"');
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        switch (*p) {
        case '\\': buf_append_str(b, "\\\\"); break;
        case '"': buf_append_str(b, "\\\""); break;
        case '\n': buf_append_str(b, "\\n"); break;
        case '\r': buf_append_str(b, "\\r"); break;
        case '\t': buf_append_str(b, "\\t"); break;
        default:
            if (isprint(*p))
                buf_append_char(b, (char)*p);
            else
                buf_printf(b, "\\x%02x", *p);
        }
    }
    buf_append_char(b, '"');
}

static void put_entry(buf *b, const jfile *f, char type)
{
    buf_append_str(b, "file ");
    put_name(b, f->name);
    buf_printf(b, " seq %lld type %c\n", f->seq, type);
}

static int write_whole(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int journal_manifest_write(const jmanifest *m, char *err, size_t errlen)
{
    buf b;
    buf_init(&b);
    if (m->base.name)
        put_entry(&b, &m->base, FILE_TYPE_BASE);
    for (int i = 0; i < m->nincr; i++)
        put_entry(&b, &m->incr[i], FILE_TYPE_INCR);
    char tmp[JOURNAL_PATH_MAX], path[JOURNAL_PATH_MAX];
    manifest_path(tmp, sizeof(tmp), 1);
    manifest_path(path, sizeof(path), 0);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "can't open the AOF manifest file %s: %s", tmp, strerror(errno));
    } else if (write_whole(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "can't write the AOF manifest file %s: %s", tmp, strerror(errno));
    } else if (close(fd) < 0 || (fd = -1, rename(tmp, path) < 0)) {
        snprintf(err, errlen, "can't rename %s to %s: %s", tmp, path, strerror(errno));
    } else if (fsync_dir() < 0) {
        snprintf(err, errlen, "can't fsync the AOF directory %s: %s", journal_dir(),
                 strerror(errno));
    } else {
        rc = 0;
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    buf_free(&b);
    return rc;
}

/* Deletes the files of old that new does not name (the history of a rewrite). */
static void delete_unreferenced(const jmanifest *old, const jmanifest *new)
{
    for (int i = -1; i < old->nincr; i++) {
        const jfile *f = i < 0 ? &old->base : &old->incr[i];
        if (!f->name)
            continue;
        int kept = new->base.name && !strcmp(new->base.name, f->name);
        for (int k = 0; k < new->nincr && !kept; k++)
            kept = !strcmp(new->incr[k].name, f->name);
        if (kept)
            continue;
        char path[JOURNAL_PATH_MAX];
        journal_path(path, sizeof(path), f->name);
        if (unlink(path) == 0)
            log_info("Removing the history file %s in the background", f->name);
    }
}

void journal_sizes_locked(long long *base, long long *total)
{
    struct stat st;
    char path[JOURNAL_PATH_MAX];
    *base = *total = 0;
    if (J.m.base.name) {
        journal_path(path, sizeof(path), J.m.base.name);
        if (stat(path, &st) == 0)
            *base = (long long)st.st_size;
    }
    *total = *base;
    for (int i = 0; i < J.m.nincr; i++) {
        journal_path(path, sizeof(path), J.m.incr[i].name);
        if (stat(path, &st) == 0)
            *total += (long long)st.st_size;
    }
}

/* ---- opening the journal -------------------------------------------------------------------- */

static int open_append(const char *name, int create, char *err, size_t errlen)
{
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
    if (fd < 0)
        snprintf(err, errlen, "Can't open the append-only file %s: %s", path, strerror(errno));
    return fd;
}

/* Copies src to dst and syncs it (when a hard link cannot be made). */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char *chunk = malloc(COPY_CHUNK);
    int rc = chunk ? 0 : -1;
    ssize_t n;
    while (rc == 0 && (n = read(in, chunk, COPY_CHUNK)) != 0)
        rc = n < 0 ? -1 : write_whole(out, chunk, (size_t)n);
    if (rc == 0)
        rc = fsync(out);
    free(chunk);
    close(in);
    if (close(out) < 0)
        rc = -1;
    if (rc < 0)
        unlink(dst);
    return rc;
}

/* The snapshot that was just loaded becomes the first base: the dataset in memory is exactly
 * that file as long as nothing has been written, and the journal starts before any write. */
static void adopt_snapshot_as_base(jmanifest *m)
{
    const char *dump = server.cfg.dbfilename;
    if (!dump || !*dump || access(dump, R_OK) != 0)
        return;
    long long seq = m->base_seq + 1;
    char *name = file_name(seq, BASE_SUFFIX);
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), name);
    unlink(path);
    if (link(dump, path) < 0 && copy_file(dump, path) < 0) {
        log_warning("journal: cannot take %s as the base: %s", dump, strerror(errno));
        free(name);
        return;
    }
    m->base.name = name;
    m->base.seq = seq;
    m->base_seq = seq;
}

int journal_start_locked(char *err, size_t errlen)
{
    if (journal_mkdir(err, errlen) < 0)
        return -1;
    jmanifest m;
    int rc = journal_manifest_read(&m, err, errlen);
    if (rc < 0)
        return -1;
    int fd;
    if (rc == 0 && m.nincr) {
        fd = open_append(m.incr[m.nincr - 1].name, 0, err, errlen);
        if (fd < 0) {
            journal_manifest_free(&m);
            return -1;
        }
    } else {
        if (rc == 1) {
            /* No journal yet: keep the sequence numbers of an earlier one going. */
            m.base_seq = J.m.base_seq;
            m.incr_seq = J.m.incr_seq;
            adopt_snapshot_as_base(&m);
        }
        long long seq = m.incr_seq + 1;
        char *name = file_name(seq, INCR_SUFFIX);
        fd = open_append(name, 1, err, errlen);
        if (fd < 0) {
            free(name);
            journal_manifest_free(&m);
            return -1;
        }
        manifest_add_incr(&m, name, seq);
        if (journal_manifest_write(&m, err, errlen) < 0) {
            close(fd);
            journal_manifest_free(&m);
            return -1;
        }
        /* Redis starts with a base: write one of what there is when none was adopted. */
        if (!m.base.name)
            J.rw.scheduled = 1;
    }
    journal_manifest_free(&J.m);
    J.m = m;
    J.have_manifest = 1;
    J.fd = fd;
    J.cur_db = -1;
    J.cur_ms = -1;
    J.state = J_ON;
    journal_file_active_locked(1);
    log_info("journal: appending to %s/%s", journal_dir(), m.incr[m.nincr - 1].name);
    return 0;
}

/* ---- rewrites ------------------------------------------------------------------------------- */

/* Appending moves to the rewrite's new file (mu). */
static void rw_switch_locked(void)
{
    if (J.rw.gen == J.gen && J.rw.next_fd >= 0) {
        if (J.fd >= 0) {
            /* What is pending belongs to the old file; flushes write it there first. */
            buf t = J.old_pending;
            J.old_pending = J.pending;
            J.pending = t;
            J.old_fd = J.fd;
        }
        J.fd = J.rw.next_fd;
        J.rw.next_fd = -1;
        J.cur_db = -1;
        J.cur_ms = -1;
        if (J.state == J_WAIT_REWRITE)
            journal_file_active_locked(1);
    }
}

/* At the snapshot's point in time, every shard held: what precedes it is in the snapshot,
 * what follows it goes to the new file. */
static void rw_at_point(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&J.mu);
    rw_switch_locked();
    pthread_mutex_unlock(&J.mu);
}

static void rw_unlink(const char *name)
{
    if (!name)
        return;
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), name);
    unlink(path);
}

/* Forgets the rewrite's files that will not be used (mu). */
static void rw_discard_locked(int drop_base)
{
    if (J.rw.next_fd >= 0) {
        close(J.rw.next_fd);
        J.rw.next_fd = -1;
    }
    if (J.rw.mode == J_WAIT_REWRITE) {
        char path[JOURNAL_PATH_MAX];
        temp_incr_path(path, sizeof(path));
        unlink(path);
    }
    if (drop_base)
        rw_unlink(J.rw.base.name);
    free(J.rw.base.name);
    free(J.rw.next_incr.name);
    J.rw.base.name = J.rw.next_incr.name = NULL;
}

/* The first base of CONFIG SET appendonly yes could not be written: stop appending to the
 * temporary file and try again later (io_mu and mu held). */
static void rw_wait_failed_locked(void)
{
    journal_file_active_locked(0);
    journal_close_files_locked();
    J.rw.scheduled = 1;
    J.rw.retry_at_ms = clock_wall_ms() + JOURNAL_RETRY_MS;
}

/* The new manifest of a finished rewrite: its base, and the incremental file appending moved
 * to (none when appendonly is off). */
static int rw_apply_locked(char *err, size_t errlen)
{
    jmanifest n = {.base_seq = J.m.base_seq, .incr_seq = J.m.incr_seq};
    n.base.name = mem_strdup(J.rw.base.name);
    n.base.seq = J.rw.base.seq;
    if (n.base.seq > n.base_seq)
        n.base_seq = n.base.seq;
    if (J.rw.mode == J_ON) {
        manifest_add_incr(&n, mem_strdup(J.rw.next_incr.name), J.rw.next_incr.seq);
    } else if (J.rw.mode == J_WAIT_REWRITE) {
        long long seq = n.incr_seq + 1;
        char *name = file_name(seq, INCR_SUFFIX);
        char from[JOURNAL_PATH_MAX], to[JOURNAL_PATH_MAX];
        temp_incr_path(from, sizeof(from));
        journal_path(to, sizeof(to), name);
        if (rename(from, to) < 0) {
            snprintf(err, errlen, "can't rename the temporary incremental file to %s: %s", name,
                     strerror(errno));
            free(name);
            journal_manifest_free(&n);
            return -1;
        }
        manifest_add_incr(&n, name, seq);
    }
    if (journal_manifest_write(&n, err, errlen) < 0) {
        if (J.rw.mode == J_WAIT_REWRITE)
            rw_unlink(n.incr[0].name); /* the renamed temporary file: it is dropped below */
        journal_manifest_free(&n);
        return -1;
    }
    delete_unreferenced(&J.m, &n);
    journal_manifest_free(&J.m);
    J.m = n;
    J.have_manifest = 1;
    if (J.state == J_WAIT_REWRITE)
        J.state = J_ON;
    return 0;
}

static void rw_done(void *arg, int ok, const char *why)
{
    (void)arg;
    pthread_mutex_lock(&J.io_mu);
    pthread_mutex_lock(&J.mu);
    J.rw.in_progress = 0;
    J.rw.last_secs = (clock_wall_ms() - J.rw.start_ms + 500) / 1000;
    int current = J.rw.gen == J.gen;
    if (current && J.rw.mode == J_ON)
        rw_switch_locked(); /* (normally done at the point in time already) */
    char err[JOURNAL_ERR_MAX];
    if (ok && current && rw_apply_locked(err, sizeof(err)) == 0) {
        J.rw.last_ok = 1;
        J.rw.count++;
        J.rw.failures = 0;
        log_info("Background AOF rewrite finished successfully");
        rw_discard_locked(0);
    } else {
        if (ok && !current) {
            log_info("Background AOF rewrite result discarded: the append only file was "
                     "turned off or on meanwhile");
        } else {
            J.rw.last_ok = 0;
            J.rw.failures++;
            log_warning("Background AOF rewrite failed: %s", ok ? err : why);
            if (J.rw.mode == J_WAIT_REWRITE && current)
                rw_wait_failed_locked();
        }
        rw_discard_locked(1);
    }
    pthread_mutex_unlock(&J.mu);
    pthread_mutex_unlock(&J.io_mu);
}

/* Step 1 for appendonly on: the new incremental file, named by the manifest already (mu). */
static int rw_new_incr_locked(char *err, size_t errlen)
{
    long long seq = J.m.incr_seq + 1;
    char *name = file_name(seq, INCR_SUFFIX);
    int fd = open_append(name, 1, err, errlen);
    if (fd < 0) {
        free(name);
        return -1;
    }
    jmanifest n = J.m;
    n.incr = mem_malloc(sizeof(jfile) * (size_t)(J.m.nincr + 1));
    memcpy(n.incr, J.m.incr, sizeof(jfile) * (size_t)J.m.nincr);
    n.incr[n.nincr].name = name;
    n.incr[n.nincr].seq = seq;
    n.nincr++;
    n.incr_seq = seq;
    if (journal_manifest_write(&n, err, errlen) < 0) {
        free(n.incr);
        close(fd);
        rw_unlink(name);
        free(name);
        return -1;
    }
    free(J.m.incr);
    J.m = n;
    J.rw.next_fd = fd;
    J.rw.next_incr.name = mem_strdup(name);
    J.rw.next_incr.seq = seq;
    return 0;
}

/* Prepares the files of a rewrite (mu). Returns a JRW_* code. */
static int rw_prepare_locked(char *err, size_t errlen)
{
    if (J.rw.in_progress)
        return JRW_IN_PROGRESS;
    if (J.stop) {
        snprintf(err, errlen, "the server is shutting down");
        return JRW_ERROR;
    }
    if (snapshot_in_progress() || J.state == J_STARTING || J.old_fd >= 0) {
        J.rw.scheduled = 1;
        return JRW_SCHEDULED;
    }
    J.rw.mode = J.state;
    J.rw.gen = J.gen;
    J.rw.next_fd = -1;
    if (journal_mkdir(err, errlen) < 0)
        return JRW_ERROR;
    if (J.state == J_ON && rw_new_incr_locked(err, errlen) < 0)
        return JRW_ERROR;
    if (J.state == J_WAIT_REWRITE) {
        char path[JOURNAL_PATH_MAX];
        temp_incr_path(path, sizeof(path));
        J.rw.next_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (J.rw.next_fd < 0) {
            snprintf(err, errlen, "Can't open the append-only file %s: %s", path, strerror(errno));
            return JRW_ERROR;
        }
    }
    J.rw.base.seq = J.m.base_seq + 1;
    J.rw.base.name = file_name(J.rw.base.seq, BASE_SUFFIX);
    J.rw.in_progress = 1;
    J.rw.scheduled = 0;
    J.rw.start_ms = clock_wall_ms();
    return JRW_STARTED;
}

/* A rewrite that could not start: with appendonly on, appending moves to the new file now
 * (the manifest names it already); a temporary file goes. io_mu and mu held. */
static void rw_start_failed_locked(void)
{
    J.rw.in_progress = 0;
    J.rw.last_ok = 0;
    J.rw.failures++;
    if (J.rw.mode == J_ON) {
        rw_switch_locked();
    } else if (J.rw.mode == J_WAIT_REWRITE) {
        J.rw.scheduled = 1;
        J.rw.retry_at_ms = clock_wall_ms() + JOURNAL_RETRY_MS;
    }
    rw_discard_locked(1);
}

int journal_rewrite_start(char *err, size_t errlen)
{
    /* A switch of files must find nothing left for the previous one. */
    journal_flush(0);
    pthread_mutex_lock(&J.mu);
    int rc = rw_prepare_locked(err, errlen);
    if (rc == JRW_ERROR) {
        J.rw.last_ok = 0;
        J.rw.failures++;
        if (J.rw.mode == J_WAIT_REWRITE) {
            J.rw.scheduled = 1;
            J.rw.retry_at_ms = clock_wall_ms() + JOURNAL_RETRY_MS;
        }
        rw_discard_locked(1);
    }
    char base[JOURNAL_PATH_MAX];
    if (rc == JRW_STARTED)
        journal_path(base, sizeof(base), J.rw.base.name);
    pthread_mutex_unlock(&J.mu);
    if (rc != JRW_STARTED)
        return rc;
    log_info("Background append only file rewriting started");
    /* Not under mu: with one shard the point in time may come inside snapshot_start. */
    snapshot_req req = {.path = base, .aof_base = 1, .at_point = rw_at_point, .done = rw_done};
    if (snapshot_start(&req, err, errlen) == 0)
        return JRW_STARTED;
    pthread_mutex_lock(&J.io_mu);
    pthread_mutex_lock(&J.mu);
    int busy = snapshot_in_progress();
    rw_start_failed_locked();
    if (busy)
        J.rw.scheduled = 1; /* a BGSAVE got there first: after it */
    pthread_mutex_unlock(&J.mu);
    pthread_mutex_unlock(&J.io_mu);
    if (busy)
        return JRW_SCHEDULED;
    log_warning("Can't rewrite append only file in background: %s", err);
    return JRW_ERROR;
}

/* A scheduled rewrite, on worker 0. One that must still wait stays scheduled. */
static void rewrite_msg(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&J.mu);
    J.rw.posted = 0;
    int wanted = J.rw.scheduled;
    pthread_mutex_unlock(&J.mu);
    char err[JOURNAL_ERR_MAX];
    if (wanted && journal_rewrite_start(err, sizeof(err)) == JRW_IN_PROGRESS) {
        pthread_mutex_lock(&J.mu);
        J.rw.scheduled = 1; /* after the one running (CONFIG SET appendonly yes) */
        pthread_mutex_unlock(&J.mu);
    }
}

void journal_rewrite_post(void)
{
    pthread_mutex_lock(&J.mu);
    int post = !J.rw.posted;
    J.rw.posted = 1;
    pthread_mutex_unlock(&J.mu);
    if (post)
        worker_post(workers[0], rewrite_msg, NULL);
}

/* ---- BGREWRITEAOF ---------------------------------------------------------------------------- */

static void bgrewriteaof_cmd(cmd_ctx *c)
{
    char err[JOURNAL_ERR_MAX];
    switch (journal_rewrite_start(err, sizeof(err))) {
    case JRW_STARTED: reply_simple(c, "Background append only file rewriting started"); break;
    case JRW_SCHEDULED: reply_simple(c, "Background append only file rewriting scheduled"); break;
    case JRW_IN_PROGRESS:
        reply_error(c, "ERR Background append only file rewriting already in progress");
        break;
    default:
        reply_error(c, "ERR Can't execute an AOF background rewriting. Please check the server "
                       "logs for more information.");
    }
}

command journal_commands[] = {
    {.name = "bgrewriteaof",
     .proc = bgrewriteaof_cmd,
     .arity = 1,
     .flags = CMD_ADMIN | CMD_NOSCRIPT,
     .acl = ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS,
     .group = "server",
     .since = "1.0.0",
     .summary = "Asynchronously rewrite the append-only file"},
    {0},
};

void journal_rewrite_schedule(void)
{
    pthread_mutex_lock(&J.mu);
    if (J.state == J_ON) {
        J.rw.scheduled = 1; /* the journal thread starts it when nothing stands in the way */
        J.rw.retry_at_ms = 0;
    }
    pthread_mutex_unlock(&J.mu);
}
