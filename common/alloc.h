/* Allocation that cannot fail quietly, for every dfly program: when libc has no memory left the
 * program says so in one line on stderr and aborts, as Redis does, rather than go on with a
 * NULL that would end it later in a segfault with no message (or write through NULL+offset).
 *
 * These wrap libc's malloc family: what they return is freed with free(), never zfree(). Code
 * that can answer an allocation failure meaningfully (an error reply, a refused request) keeps
 * calling malloc and checking for NULL itself. */
#ifndef DFLY_ALLOC_H
#define DFLY_ALLOC_H

#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_OOM_LINE_MAX 160

/* Writes "<program>: out of memory <what>" and aborts: for a library call that failed for want of
 * memory (OpenSSL, Lua), where the size is not known. The line is formatted on the stack and
 * written with one write(2): stdio may itself need memory that is not there. */
__attribute__((noreturn, cold)) static inline void mem_oom_in(const char *what)
{
    char line[MEM_OOM_LINE_MAX];
    int len =
        snprintf(line, sizeof(line), "%s: out of memory %s\n", program_invocation_short_name, what);
    if (len > 0) {
        size_t out = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
        ssize_t rc = write(STDERR_FILENO, line, out);
        (void)rc; /* nothing better to do: we abort either way */
    }
    abort();
}

/* Writes "<program>: out of memory allocating N bytes" and aborts. */
__attribute__((noreturn, cold)) static inline void mem_oom(size_t n)
{
    char what[MEM_OOM_LINE_MAX / 2];
    snprintf(what, sizeof(what), "allocating %zu bytes", n);
    mem_oom_in(what);
}

/* malloc that never returns NULL. A request of 0 bytes gets a unique block of its own (libc may
 * return NULL for it, which would read as a failure). */
static inline void *mem_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        mem_oom(n);
    return p;
}

/* calloc that never returns NULL; count * size overflowing is out of memory too. */
static inline void *mem_calloc(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        mem_oom(SIZE_MAX);
    void *p = total ? calloc(count, size) : calloc(1, 1);
    if (!p)
        mem_oom(total);
    return p;
}

/* realloc that never returns NULL. Shrinking to 0 bytes keeps a valid (1-byte) block instead of
 * freeing p, so the caller's pointer stays owned and freeable either way. */
static inline void *mem_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mem_oom(n);
    return q;
}

/* A NUL-terminated copy of len bytes that may themselves hold NULs (a key, an argument). */
static inline char *mem_memdupz(const void *p, size_t len)
{
    char *d = mem_malloc(len + 1);
    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

/* strndup that never returns NULL (the copy stops at the first NUL, as strndup's does). */
static inline char *mem_strndup(const char *s, size_t n)
{
    return mem_memdupz(s, strnlen(s, n));
}

static inline char *mem_strdup(const char *s)
{
    return mem_memdupz(s, strlen(s));
}

#endif
