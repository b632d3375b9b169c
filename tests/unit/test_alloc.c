/* common/alloc.h: the wrappers never return NULL, treat 0 bytes sanely, copy what they are told,
 * and out of memory ends the program by abort() after one line naming the program and the size. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "testing.h"

#define OOM_OUTPUT_MAX 512

TEST(zero_bytes_give_a_block)
{
    void *p = mem_malloc(0);
    CHECK(p != NULL);
    p = mem_realloc(p, 0); /* libc's realloc(p, 0) may free p and return NULL */
    CHECK(p != NULL);
    free(p);
    void *q = mem_calloc(0, sizeof(int));
    CHECK(q != NULL);
    free(q);
}

TEST(calloc_zeroes_and_realloc_keeps)
{
    unsigned char *p = mem_calloc(64, 1);
    int zero = 1;
    for (int i = 0; i < 64; i++)
        zero &= p[i] == 0;
    CHECK(zero);
    memcpy(p, "kept", 5);
    p = mem_realloc(p, 1 << 20);
    CHECK_EQ_STR((char *)p, "kept");
    free(p);
}

TEST(copies)
{
    char *s = mem_strdup("hello");
    CHECK_EQ_STR(s, "hello");
    free(s);
    s = mem_strndup("hello", 3);
    CHECK_EQ_STR(s, "hel");
    free(s);
    s = mem_strndup("hi\0there", 8); /* strndup's rule: the copy ends at the NUL */
    CHECK_EQ_STR(s, "hi");
    free(s);
    s = mem_memdupz("a\0b", 3); /* a key or an argument: every byte, then a NUL */
    CHECK(memcmp(s, "a\0b\0", 4) == 0);
    free(s);
}

/* Runs fn in a child with stderr on a pipe; returns what it wrote, *status its wait status. */
static void run_child(void (*fn)(void), char *out, size_t outlen, int *status)
{
    int fds[2];
    out[0] = '\0';
    *status = 0;
    if (pipe(fds) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < outlen && (n = read(fds[0], out + got, outlen - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fds[0]);
    waitpid(pid, status, 0);
}

static void calloc_overflow(void)
{
    volatile size_t huge = SIZE_MAX / 2;
    void *p = mem_calloc(huge, 4); /* count * size overflows: no allocation is even tried */
    free(p);
}

static void library_oom(void)
{
    mem_oom_in("hashing a password");
}

TEST(out_of_memory_aborts_with_one_line)
{
    char out[OOM_OUTPUT_MAX];
    int status;
    run_child(calloc_overflow, out, sizeof(out), &status);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    char want[OOM_OUTPUT_MAX];
    snprintf(want, sizeof(want), "%s: out of memory allocating %zu bytes\n",
             program_invocation_short_name, (size_t)SIZE_MAX);
    CHECK(strstr(out, want) != NULL);

    run_child(library_oom, out, sizeof(out), &status);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    snprintf(want, sizeof(want), "%s: out of memory hashing a password\n",
             program_invocation_short_name);
    CHECK(strstr(out, want) != NULL);
}

int main(void)
{
    RUN_TEST(zero_bytes_give_a_block);
    RUN_TEST(calloc_zeroes_and_realloc_keeps);
    RUN_TEST(copies);
    RUN_TEST(out_of_memory_aborts_with_one_line);
    TEST_MAIN_END();
}
