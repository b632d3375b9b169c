/* libfault: an LD_PRELOAD shim that injects disk faults (and, where the allocator is malloc,
 * allocation failures) into dfly-server, for tests/integration/test_faults.py.
 *
 * Settings are "key=value" lines, read at start from the environment (DFLY_FAULT_<KEY>, e.g.
 * DFLY_FAULT_WRITE=enospc) and again whenever the file named by DFLY_FAULT_CTL changes (looked at
 * on every write or sync of a regular file, and every 1024 allocations), so a test can switch a
 * fault on and off while the server runs (the file's settings replace the environment's; an
 * empty file clears every fault). Keys:
 *   path=SUBSTRING    only regular files whose path contains it (default: every regular file;
 *                     sockets, pipes and terminals are never touched)
 *   write=MODE        write()/pwrite()/writev() on those files: enospc or eio (fail with that
 *                     errno), short (write at most half, at least 1 byte), slow (see slow_us)
 *   after=BYTES       bytes written to matching files (since the setting was read) before
 *                     write= starts failing (default 0: at once)
 *   slow_us=N         microseconds each matching write sleeps (write=slow, or alone)
 *   fsync=MODE        fsync()/fdatasync() of matching files: enospc or eio
 *   malloc_after=N    malloc/calloc/realloc fail (NULL, ENOMEM) after N more calls. Only where
 *                     the program allocates through malloc: the sanitizer build of dfly-server
 *                     does; the normal build allocates values with mimalloc (mi_malloc), which
 *                     this shim cannot see, so there it only reaches libc's own users.
 * Every injected fault is counted in the file DFLY_FAULT_LOG names (one line per fault kind), so
 * a test can check that the fault really happened. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FAULT_PATH_MAX 256
#define FAULT_CTL_MAX 4096
#define FAULT_ENV_PREFIX "DFLY_FAULT_"

enum { MODE_NONE, MODE_ENOSPC, MODE_EIO, MODE_SHORT, MODE_SLOW };

typedef struct fault_cfg {
    char path[FAULT_PATH_MAX];
    int write_mode;
    long long after;
    long long slow_us;
    int fsync_mode;
    long long malloc_after; /* -1: off */
} fault_cfg;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static fault_cfg cfg = {.malloc_after = -1};
static struct timespec ctl_mtime;
static _Atomic long long written; /* bytes to matching files since the settings were read */
static _Atomic long long malloc_left = -1;
static _Atomic int in_shim;     /* dlsym and stdio may allocate: never fail those */
static _Atomic int initialized; /* fault_init ran: allocations before it never look */
static _Atomic long long counts[4];
enum { COUNT_WRITE, COUNT_SHORT, COUNT_FSYNC, COUNT_MALLOC };
static const char *const count_names[] = {"write", "short", "fsync", "malloc"};

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static int parse_mode(const char *v)
{
    if (!strcmp(v, "enospc"))
        return MODE_ENOSPC;
    if (!strcmp(v, "eio"))
        return MODE_EIO;
    if (!strcmp(v, "short"))
        return MODE_SHORT;
    if (!strcmp(v, "slow"))
        return MODE_SLOW;
    return MODE_NONE;
}

static void set_key(fault_cfg *c, const char *k, const char *v)
{
    if (!strcasecmp(k, "path"))
        snprintf(c->path, sizeof(c->path), "%s", v);
    else if (!strcasecmp(k, "write"))
        c->write_mode = parse_mode(v);
    else if (!strcasecmp(k, "after"))
        c->after = atoll(v);
    else if (!strcasecmp(k, "slow_us"))
        c->slow_us = atoll(v);
    else if (!strcasecmp(k, "fsync"))
        c->fsync_mode = parse_mode(v);
    else if (!strcasecmp(k, "malloc_after"))
        c->malloc_after = atoll(v);
}

static void apply(const fault_cfg *c)
{
    cfg = *c;
    atomic_store(&written, 0);
    atomic_store(&malloc_left, c->malloc_after);
}

/* Re-reads DFLY_FAULT_CTL when it changed. mu held. Uses only syscalls: no allocation. */
static void reload_ctl(void)
{
    const char *ctl = getenv(FAULT_ENV_PREFIX "CTL");
    struct stat st;
    if (!ctl || stat(ctl, &st) < 0)
        return;
    if (st.st_mtim.tv_sec == ctl_mtime.tv_sec && st.st_mtim.tv_nsec == ctl_mtime.tv_nsec)
        return;
    int fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char text[FAULT_CTL_MAX];
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0)
        return;
    text[n] = '\0';
    ctl_mtime = st.st_mtim;
    fault_cfg c = {.malloc_after = -1};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        set_key(&c, line, eq + 1);
    }
    apply(&c);
}

__attribute__((constructor)) static void fault_init(void)
{
    atomic_fetch_add(&in_shim, 1);
    real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_pwrite = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    real_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    fault_cfg c = {.malloc_after = -1};
    static const char *const keys[] = {"path",    "write", "after",
                                       "slow_us", "fsync", "malloc_after"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), FAULT_ENV_PREFIX "%s", keys[i]);
        for (char *p = name + strlen(FAULT_ENV_PREFIX); *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        const char *v = getenv(name);
        if (v)
            set_key(&c, keys[i], v);
    }
    apply(&c);
    pthread_mutex_lock(&mu);
    reload_ctl();
    pthread_mutex_unlock(&mu);
    atomic_store(&initialized, 1);
    atomic_fetch_sub(&in_shim, 1);
}

/* Adds one to the count of `kind` in DFLY_FAULT_LOG (rewritten whole: a few short lines). */
static void count(int kind)
{
    long long n = atomic_fetch_add(&counts[kind], 1) + 1;
    const char *log = getenv(FAULT_ENV_PREFIX "LOG");
    if (!log || !real_write)
        return;
    char text[256];
    int len = 0;
    for (int i = 0; i < 4; i++)
        len += snprintf(text + len, sizeof(text) - (size_t)len, "%s %lld\n", count_names[i],
                        i == kind ? n : atomic_load(&counts[i]));
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        real_write(fd, text, (size_t)len);
        close(fd);
    }
}

/* A snapshot of the settings if fd is a regular file they apply to, else 0. */
static int matches(int fd, fault_cfg *out)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    pthread_mutex_lock(&mu);
    reload_ctl();
    *out = cfg;
    pthread_mutex_unlock(&mu);
    if (!out->write_mode && !out->fsync_mode && !out->slow_us)
        return 0;
    if (!out->path[0])
        return 1;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n < 0)
        return 0;
    path[n] = '\0';
    return strstr(path, out->path) != NULL;
}

/* How much of a write of len bytes may go through: len, a shorter length, or -1 with errno. */
static ssize_t write_allowance(int fd, size_t len)
{
    fault_cfg c;
    if (!matches(fd, &c))
        return (ssize_t)len;
    if (c.slow_us)
        usleep((useconds_t)c.slow_us);
    if (c.write_mode == MODE_NONE || c.write_mode == MODE_SLOW)
        return (ssize_t)len;
    long long before = atomic_load(&written);
    if (before + (long long)len <= c.after) {
        atomic_fetch_add(&written, (long long)len);
        return (ssize_t)len;
    }
    long long room = c.after > before ? c.after - before : 0;
    if (c.write_mode == MODE_SHORT) {
        size_t part = len > 1 ? len / 2 : len;
        count(COUNT_SHORT);
        return (ssize_t)part;
    }
    if (room > 0) { /* what fits goes first, as on a disk that fills up */
        atomic_fetch_add(&written, room);
        return (ssize_t)room;
    }
    count(COUNT_WRITE);
    errno = c.write_mode == MODE_ENOSPC ? ENOSPC : EIO;
    return -1;
}

ssize_t write(int fd, const void *b, size_t len)
{
    ssize_t allow = write_allowance(fd, len);
    if (allow < 0)
        return -1;
    return real_write(fd, b, (size_t)allow);
}

ssize_t pwrite(int fd, const void *b, size_t len, off_t off)
{
    ssize_t allow = write_allowance(fd, len);
    if (allow < 0)
        return -1;
    return real_pwrite(fd, b, (size_t)allow, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    ssize_t allow = write_allowance(fd, total);
    if (allow < 0)
        return -1;
    if ((size_t)allow == total)
        return real_writev(fd, iov, cnt);
    /* A short writev: the first `allow` bytes. */
    size_t left = (size_t)allow;
    struct iovec part[cnt > 0 ? cnt : 1];
    int n = 0;
    for (int i = 0; i < cnt && left; i++) {
        part[n] = iov[i];
        if (part[n].iov_len > left)
            part[n].iov_len = left;
        left -= part[n].iov_len;
        n++;
    }
    return real_writev(fd, part, n);
}

static int sync_fault(int fd)
{
    fault_cfg c;
    if (!matches(fd, &c) || c.fsync_mode == MODE_NONE)
        return 0;
    count(COUNT_FSYNC);
    errno = c.fsync_mode == MODE_ENOSPC ? ENOSPC : EIO;
    return -1;
}

int fsync(int fd)
{
    return sync_fault(fd) < 0 ? -1 : real_fsync(fd);
}

int fdatasync(int fd)
{
    return sync_fault(fd) < 0 ? -1 : real_fdatasync(fd);
}

/* ---- allocation failure ---------------------------------------------------------------------
 * The next malloc in line (libc's, or the sanitizer's when it is loaded first) is found with
 * dlsym, which may itself allocate: those few early calls get memory from a static arena. */
#define EARLY_ARENA (64 * 1024)
static _Alignas(16) char early[EARLY_ARENA];
static _Atomic size_t early_used;
static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static _Atomic int resolving;

static void *early_alloc(size_t n)
{
    size_t at = atomic_fetch_add(&early_used, (n + 15) & ~(size_t)15);
    return at + n <= EARLY_ARENA ? early + at : NULL;
}

static int is_early(const void *p)
{
    return (const char *)p >= early && (const char *)p < early + EARLY_ARENA;
}

static int resolve(void)
{
    if (next_free)
        return 1;
    if (atomic_exchange(&resolving, 1))
        return 0; /* dlsym is allocating: the arena serves it */
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    atomic_store(&resolving, 0);
    return next_free != NULL;
}

/* Allocations do not touch files: every MALLOC_RELOAD_EVERY calls they look at the control
 * file themselves, so that malloc_after takes effect in a program that writes nothing. */
#define MALLOC_RELOAD_EVERY 1024
static _Atomic unsigned long malloc_calls;

static int malloc_fails(void)
{
    if (atomic_load(&in_shim))
        return 0;
    if (atomic_load(&initialized) &&
        (atomic_fetch_add_explicit(&malloc_calls, 1, memory_order_relaxed) % MALLOC_RELOAD_EVERY) ==
            0) {
        atomic_fetch_add(&in_shim, 1);
        pthread_mutex_lock(&mu);
        reload_ctl();
        pthread_mutex_unlock(&mu);
        atomic_fetch_sub(&in_shim, 1);
    }
    if (atomic_load_explicit(&malloc_left, memory_order_relaxed) < 0)
        return 0;
    if (atomic_fetch_sub(&malloc_left, 1) > 0)
        return 0;
    atomic_store(&malloc_left, 0);
    return 1;
}

static void *alloc_failed(void)
{
    atomic_fetch_add(&in_shim, 1);
    count(COUNT_MALLOC);
    atomic_fetch_sub(&in_shim, 1);
    errno = ENOMEM;
    return NULL;
}

void *malloc(size_t n)
{
    if (!resolve())
        return early_alloc(n);
    return malloc_fails() ? alloc_failed() : next_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (!resolve())
        return early_alloc(n * size); /* the arena is zeroed and never reused */
    return malloc_fails() ? alloc_failed() : next_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (!resolve() || is_early(p)) {
        void *q = resolve() ? next_malloc(n) : early_alloc(n);
        if (q && p) {
            size_t room = (size_t)(early + EARLY_ARENA - (char *)p); /* the block's size is not
                                                                      * kept: copy what can be */
            memcpy(q, p, n < room ? n : room);
        }
        return q;
    }
    return malloc_fails() ? alloc_failed() : next_realloc(p, n);
}

void free(void *p)
{
    if (!p || is_early(p))
        return;
    if (resolve())
        next_free(p);
}
