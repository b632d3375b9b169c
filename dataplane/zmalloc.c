/* Accounting allocator: see zmalloc.h. */
#include "zmalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"

#ifdef DFLY_SANITIZE
#include <malloc.h>
#define ALLOC(n) malloc(n)
#define REALLOC(p, n) realloc(p, n)
#define FREE(p) free(p)
#define USABLE(p) malloc_usable_size((void *)(p))
#define LIBNAME "libc"
#else
#include <mimalloc.h>
#define ALLOC(n) mi_heap_malloc(data_heap_get(), n)
#define REALLOC(p, n) mi_heap_realloc(data_heap_get(), p, n)
#define FREE(p) mi_free(p)
#define USABLE(p) mi_usable_size(p)
#define LIBNAME "mimalloc-" MI_STRINGIFY(MI_MALLOC_VERSION)
#define MI_STRINGIFY(x) MI_STRINGIFY2(x)
#define MI_STRINGIFY2(x) #x
#endif

#define ZMALLOC_MAX_THREADS 1024

#ifndef DFLY_SANITIZE
/* Keyspace data lives in a heap of its own per thread, apart from the thread's default heap
 * (connections, buffers, messages, statistics). A page of mimalloc holds blocks of one heap only,
 * so the long-lived small blocks of the server's own bookkeeping never pin a page of data: after
 * a FLUSHALL or a big DEL the data pages empty out entirely and go back to the system. A heap
 * may be used by its own thread only; blocks are freed from any thread as before. At thread exit
 * mimalloc hands the heap's remaining pages to the thread's default heap. */
static _Thread_local mi_heap_t *data_heap;

static mi_heap_t *data_heap_get(void)
{
    if (__builtin_expect(data_heap == NULL, 0)) {
        data_heap = mi_heap_new();
        if (!data_heap)
            mem_oom(sizeof(void *));
    }
    return data_heap;
}
#endif

/* What a thread's heaps (keyspace data, and the rest) held at its last collection (MEMORY
 * MALLOC-STATS): pages, the bytes they keep committed, and the bytes of the live blocks; and the
 * block sizes whose pages keep the most committed memory that no live block uses (a page
 * stays resident while any of its blocks lives: this names what pins memory). */
enum { HEAP_DATA, HEAP_OTHER, HEAP_KINDS };
#define HEAP_IDLE_TOP 4 /* block sizes listed per heap */
struct heap_figures {
    _Atomic int64_t block, pages, committed, live; /* block: its size, for the per-size rows */
};
struct heap_summary {
    struct heap_figures total[HEAP_KINDS];
    struct heap_figures idle[HEAP_KINDS][HEAP_IDLE_TOP]; /* most unused first; block 0: none */
    char name[16];
    atomic_bool recorded; /* set once name is written */
};
#ifndef DFLY_SANITIZE
/* This thread's heaps, by HEAP_* (the data heap NULL until the thread first stores data). */
static void thread_heaps(mi_heap_t *heaps[HEAP_KINDS])
{
    heaps[HEAP_DATA] = data_heap;
    heaps[HEAP_OTHER] = mi_heap_get_default();
}

static struct heap_summary summaries[ZMALLOC_MAX_THREADS];
#endif

/* One counter per thread, padded to its own cache lines. */
struct counter {
    _Atomic int64_t used;
    char pad[128 - sizeof(int64_t)];
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

void *zmalloc(size_t size)
{
    void *p = ALLOC(size ? size : 1);
    if (!p)
        mem_oom(size); /* one line on stderr, then abort(), as everywhere in dfly */
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
        mem_oom(size);
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

#ifdef DFLY_SANITIZE
void zmalloc_stats(buf *out)
{
    buf_append_str(out, "Stats not supported for the current allocator (" LIBNAME ")");
}
#else
static void stats_line(const char *msg, void *arg)
{
    buf_append_str(arg, msg);
}

static void figures_line(buf *out, const char *thread, const char *kind,
                         const struct heap_figures *f, int with_block)
{
    long long block = atomic_load_explicit(&f->block, memory_order_relaxed);
    if (with_block && !block)
        return;
    buf_printf(out, "  %-16s %-5s ", thread, kind);
    if (with_block)
        buf_printf(out, "%8lld ", block);
    buf_printf(out, "%8lld %11lld %11lld\n",
               (long long)atomic_load_explicit(&f->pages, memory_order_relaxed),
               (long long)atomic_load_explicit(&f->committed, memory_order_relaxed),
               (long long)atomic_load_explicit(&f->live, memory_order_relaxed));
}

void zmalloc_stats(buf *out)
{
    mi_stats_merge(); /* the calling thread's figures into the process's */
    mi_stats_print_out(stats_line, out);
    static const char *const kinds[HEAP_KINDS] = {"data", "other"};
    int n = atomic_load(&next_slot);
    for (int idle = 0; idle < 2; idle++) {
        buf_append_str(out, idle ? "\nblock sizes keeping the most unused memory committed:\n"
                                   "  thread           heap     block    pages   committed        "
                                   "live\n"
                                 : "\nthread heaps at their last collection:\n"
                                   "  thread           heap     pages   committed        live\n");
        for (int i = 0; i < n && i < ZMALLOC_MAX_THREADS; i++) {
            struct heap_summary *h = &summaries[i];
            if (!atomic_load_explicit(&h->recorded, memory_order_acquire))
                continue;
            for (int k = 0; k < HEAP_KINDS; k++)
                for (int j = 0; j < (idle ? HEAP_IDLE_TOP : 1); j++)
                    figures_line(out, h->name, kinds[k], idle ? &h->idle[k][j] : &h->total[k],
                                 idle);
        }
    }
}
#endif

/* ---- giving memory back ------------------------------------------------------------------- */

/* mimalloc (which is also malloc in the normal build: the shared library replaces it process
 * wide) keeps a thread's freed pages, and decommits emptied segments only after a delay, on a
 * later call of that same thread into the allocator. A shard that deletes much and then goes quiet
 * (FLUSHALL, a big DEL, expiry of a burst) would hold that memory for good. So each worker collects
 * its own heap when the used memory fell by a good share since the last collection, or when MEMORY
 * PURGE asked for it. */
#define RELEASE_DROP_SHARE 8         /* a fall of 1/8 of the peak since the last collection... */
#define RELEASE_DROP_MIN (1LL << 20) /* ...and of at least 1 MiB */

/* Emptied segments wait in mimalloc's cache until their decommit time, counted from when they
 * were freed: a collection right after a big free misses them, so one more follows this long
 * after (longer than mimalloc's default segment decommit delay of 500 ms). */
#define RELEASE_FOLLOWUP_MS 1000

/* Freed memory outside the accounting (connections) triggers a release once it reaches
 * RELEASE_DROP_MIN, at most this often: a stream of short connections must not make every tick
 * walk the heap. */
#define RELEASE_UNTRACKED_MIN_MS 1000

static _Thread_local int64_t release_peak;
static _Thread_local uint64_t release_untracked; /* bytes noted since the last release */
static _Thread_local uint64_t release_last_ms;
static _Thread_local uint64_t release_followup_at; /* 0: none due */
static _Thread_local uint64_t release_epoch_seen;
static _Atomic uint64_t purge_epoch; /* MEMORY PURGE requests, counted */

/* The decommit delays are mimalloc's global options: one collection at a time sets and restores
 * them. Without the delays at 0, an emptied segment is decommitted only on a later allocation
 * of its thread, which an idle shard never makes. */
static pthread_mutex_t release_lock = PTHREAD_MUTEX_INITIALIZER;

#ifndef DFLY_SANITIZE
/* Spans a thread freed while the decommit delay was in force wait in their segment's decommit
 * mask, and mimalloc 2.0 acts on that mask only when the thread next takes a page from the same
 * segment: a collection does not, so a shard that freed much and went quiet would keep it all
 * resident. The flush below takes a page from every segment of the thread: it allocates from a
 * heap of its own, which has no partly used pages, until an allocation lands in a segment that
 * holds none of the thread's pages (a fresh one: every free span of the others is taken), then
 * frees those blocks. With the delays at 0, each page taken applies its segment's expired
 * decommits, and each page given back is decommitted at once with the free span it joins, so
 * every free span ends up decommitted whether its delay had passed or not. The blocks are freed
 * one by one (each holds the list of those taken before it) and the heap deleted, not destroyed:
 * taking a page may reclaim into that heap a segment a thread abandoned when it ended, with
 * live blocks in it, and mi_heap_delete hands those pages on to the default heap. Blocks of 192 KiB
 * (pages of 3 slices, untouched but for a word) take the large spans cheaply; 16 KiB blocks,
 * mimalloc's largest small ones, then take the spans of 1 and 2 slices (64 KiB each). The work is
 * bounded: a thread with more segments than are listed, or more free spans than the limits, is
 * flushed in part. */
#define FLUSH_SEGMENT_BYTES ((uintptr_t)32 << 20) /* mimalloc 2.0's segment size, alignment */
#define FLUSH_SEGMENTS_MAX 256                    /* 8 GiB of segments per thread */
#define FLUSH_LARGE_BLOCK (192u << 10)
#define FLUSH_LARGE_MAX 4096 /* 768 MiB of free spans */
#define FLUSH_SMALL_BLOCK (16u << 10)
#define FLUSH_SMALL_MAX 8192 /* 2,048 pages of one slice */

struct segment_set {
    uintptr_t base[FLUSH_SEGMENTS_MAX];
    int n;
};

static uintptr_t segment_of(const void *p)
{
    return (uintptr_t)p & ~(FLUSH_SEGMENT_BYTES - 1);
}

static bool segment_set_has(const struct segment_set *s, uintptr_t base)
{
    for (int i = 0; i < s->n; i++)
        if (s->base[i] == base)
            return true;
    return false;
}

static bool segment_note(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                         size_t block_size, void *arg)
{
    (void)heap;
    (void)block;
    (void)block_size;
    struct segment_set *s = arg;
    uintptr_t base = segment_of(area->blocks);
    if (s->n < FLUSH_SEGMENTS_MAX && !segment_set_has(s, base))
        s->base[s->n++] = base;
    return true;
}

/* Allocates blocks of one size from the scratch heap until one lands outside the thread's
 * segments, or `max` of them; each block's first word links it to the blocks taken before it
 * (`taken`). Returns the newest. */
static void **flush_take(mi_heap_t *scratch, const struct segment_set *s, size_t size, int max,
                         void **taken)
{
    for (int i = 0; i < max; i++) {
        void **p = mi_heap_malloc(scratch, size);
        if (!p)
            break;
        *p = taken;
        taken = p;
        if (!segment_set_has(s, segment_of(p)))
            break;
    }
    return taken;
}

static void release_pending_decommits(void)
{
    static _Thread_local struct segment_set segments;
    segments.n = 0;
    mi_heap_t *heaps[HEAP_KINDS];
    thread_heaps(heaps);
    for (int k = 0; k < HEAP_KINDS; k++)
        if (heaps[k])
            mi_heap_visit_blocks(heaps[k], false, segment_note, &segments);
    mi_heap_t *scratch = mi_heap_new();
    if (!scratch)
        return; /* out of memory: nothing to flush with */
    void **taken = flush_take(scratch, &segments, FLUSH_LARGE_BLOCK, FLUSH_LARGE_MAX, NULL);
    taken = flush_take(scratch, &segments, FLUSH_SMALL_BLOCK, FLUSH_SMALL_MAX, taken);
    while (taken) {
        void **next = *taken;
        mi_free(taken);
        taken = next;
    }
    mi_heap_delete(scratch);
}
#endif

#ifndef DFLY_SANITIZE
#define HEAP_TALLY_SIZES 96 /* distinct block sizes tallied (mimalloc has 74 size classes) */
struct tally {
    int64_t block, pages, committed, live;
};
struct heap_tally {
    struct tally total;
    struct tally by_size[HEAP_TALLY_SIZES];
    int nsizes;
};

static void tally_add(struct tally *t, const mi_heap_area_t *area)
{
    t->pages++;
    t->committed += (int64_t)area->committed;
    t->live += (int64_t)(area->used * area->block_size);
}

static bool tally_area(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                       size_t block_size, void *arg)
{
    (void)heap;
    (void)block;
    (void)block_size;
    struct heap_tally *t = arg;
    tally_add(&t->total, area);
    int i = 0;
    while (i < t->nsizes && t->by_size[i].block != (int64_t)area->block_size)
        i++;
    if (i == HEAP_TALLY_SIZES)
        return true; /* more sizes than any mimalloc has: the total still counts it */
    if (i == t->nsizes) {
        t->nsizes++;
        t->by_size[i] = (struct tally){.block = (int64_t)area->block_size};
    }
    tally_add(&t->by_size[i], area);
    return true;
}

static int64_t tally_unused(const struct tally *t)
{
    return t->committed - t->live;
}

static int by_unused_desc(const void *a, const void *b)
{
    int64_t ua = tally_unused(a), ub = tally_unused(b);
    return (ua < ub) - (ua > ub);
}

static void figures_store(struct heap_figures *f, const struct tally *t)
{
    atomic_store_explicit(&f->block, t->block, memory_order_relaxed);
    atomic_store_explicit(&f->pages, t->pages, memory_order_relaxed);
    atomic_store_explicit(&f->committed, t->committed, memory_order_relaxed);
    atomic_store_explicit(&f->live, t->live, memory_order_relaxed);
}

/* Records this thread's heaps in its slot; the areas only, no walk over the blocks. */
static void heap_summarize(void)
{
    struct heap_summary *h = &summaries[counter_get() - counters];
    mi_heap_t *heaps[HEAP_KINDS];
    thread_heaps(heaps);
    for (int k = 0; k < HEAP_KINDS; k++) {
        static _Thread_local struct heap_tally t;
        memset(&t, 0, sizeof(t));
        if (heaps[k])
            mi_heap_visit_blocks(heaps[k], false, tally_area, &t);
        figures_store(&h->total[k], &t.total);
        qsort(t.by_size, (size_t)t.nsizes, sizeof(t.by_size[0]), by_unused_desc);
        for (int j = 0; j < HEAP_IDLE_TOP; j++) { /* the sizes with the most unused, in order */
            static const struct tally none;
            int some = j < t.nsizes && tally_unused(&t.by_size[j]) > 0;
            figures_store(&h->idle[k][j], some ? &t.by_size[j] : &none);
        }
    }
    mi_stats_merge(); /* and this thread's allocator statistics into the process's table */
    if (!atomic_load_explicit(&h->recorded, memory_order_relaxed)) {
        if (pthread_getname_np(pthread_self(), h->name, sizeof h->name) != 0)
            strcpy(h->name, "?");
        atomic_store_explicit(&h->recorded, true, memory_order_release);
    }
}
#endif

static void release_now(void)
{
    pthread_mutex_lock(&release_lock);
#ifndef DFLY_SANITIZE
    long delay = mi_option_get(mi_option_decommit_delay);
    long seg_delay = mi_option_get(mi_option_segment_decommit_delay);
    mi_option_set(mi_option_decommit_delay, 0);
    mi_option_set(mi_option_segment_decommit_delay, 0);
    if (data_heap)
        mi_heap_collect(data_heap, true);
    mi_collect(true);
    release_pending_decommits();
    mi_collect(true);
    mi_option_set(mi_option_decommit_delay, delay);
    mi_option_set(mi_option_segment_decommit_delay, seg_delay);
    heap_summarize();
#endif
    pthread_mutex_unlock(&release_lock);
}

void zmalloc_maintain(void)
{
    int64_t used = zmalloc_used();
    if (used > release_peak)
        release_peak = used;
    int64_t fall = release_peak - used;
    uint64_t epoch = atomic_load_explicit(&purge_epoch, memory_order_relaxed);
    int fell = fall >= RELEASE_DROP_MIN && fall >= release_peak / RELEASE_DROP_SHARE;
    uint64_t now = clock_mono_ms();
    int untracked = release_untracked >= (uint64_t)RELEASE_DROP_MIN &&
                    now - release_last_ms >= RELEASE_UNTRACKED_MIN_MS;
    if (fell || untracked || epoch != release_epoch_seen) {
        release_epoch_seen = epoch;
        release_peak = used;
        release_untracked = 0;
        release_last_ms = now;
        release_followup_at = now + RELEASE_FOLLOWUP_MS;
        release_now();
    } else if (release_followup_at && now >= release_followup_at) {
        release_followup_at = 0;
        release_now();
    }
}

void zmalloc_note_freed(size_t bytes)
{
    release_untracked += bytes;
}

void zmalloc_purge(void)
{
    atomic_fetch_add_explicit(&purge_epoch, 1, memory_order_relaxed);
    release_now();
}
