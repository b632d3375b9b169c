/* Accounting allocator: see zmalloc.h. */
#include "zmalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef DFLY_SANITIZE
#include <malloc.h>
#define ALLOC(n) malloc(n)
#define REALLOC(p, n) realloc(p, n)
#define FREE(p) free(p)
#define USABLE(p) malloc_usable_size((void *)(p))
#define LIBNAME "libc"
#else
#include <mimalloc.h>
#define ALLOC(n) mi_malloc(n)
#define REALLOC(p, n) mi_realloc(p, n)
#define FREE(p) mi_free(p)
#define USABLE(p) mi_usable_size(p)
#define LIBNAME "mimalloc-" MI_STRINGIFY(MI_MALLOC_VERSION)
#define MI_STRINGIFY(x) MI_STRINGIFY2(x)
#define MI_STRINGIFY2(x) #x
#endif

#define ZMALLOC_MAX_THREADS 1024

/* One counter per thread, padded to its own cache line. */
struct counter {
    _Atomic int64_t used;
    char pad[64 - sizeof(int64_t)];
};
static struct counter counters[ZMALLOC_MAX_THREADS];
static atomic_int next_slot;
static _Thread_local struct counter *my_counter;

static struct counter *counter_get(void)
{
    if (!my_counter) {
        int slot = atomic_fetch_add(&next_slot, 1);
        /* Threads beyond the table share the last slot: still exact, just contended. */
        my_counter = &counters[slot < ZMALLOC_MAX_THREADS ? slot : ZMALLOC_MAX_THREADS - 1];
    }
    return my_counter;
}

static void account(int64_t delta)
{
    struct counter *c = counter_get();
    atomic_store_explicit(&c->used, atomic_load_explicit(&c->used, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

static void oom(size_t size)
{
    fprintf(stderr, "zmalloc: out of memory allocating %zu bytes\n", size);
    abort();
}

void *zmalloc(size_t size)
{
    void *p = ALLOC(size ? size : 1);
    if (!p)
        oom(size);
    account((int64_t)USABLE(p));
    return p;
}

void *zcalloc(size_t size)
{
    void *p = zmalloc(size);
    memset(p, 0, size);
    return p;
}

void *zrealloc(void *p, size_t size)
{
    if (!p)
        return zmalloc(size);
    int64_t old = (int64_t)USABLE(p);
    void *np = REALLOC(p, size ? size : 1);
    if (!np)
        oom(size);
    account((int64_t)USABLE(np) - old);
    return np;
}

void zfree(void *p)
{
    if (!p)
        return;
    account(-(int64_t)USABLE(p));
    FREE(p);
}

char *zstrndup(const char *s, size_t n)
{
    char *p = zmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t zmalloc_size(const void *p)
{
    return USABLE(p);
}

int64_t zmalloc_used(void)
{
    int64_t sum = 0;
    int n = atomic_load(&next_slot);
    if (n > ZMALLOC_MAX_THREADS)
        n = ZMALLOC_MAX_THREADS;
    for (int i = 0; i < n; i++)
        sum += atomic_load_explicit(&counters[i].used, memory_order_relaxed);
    return sum;
}

size_t zmalloc_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (size_t)sysconf(_SC_PAGESIZE);
}

const char *zmalloc_lib(void)
{
    return LIBNAME;
}
