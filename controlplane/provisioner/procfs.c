/* /proc readers. */
#include "procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMDLINE_MAX 8192
#define STAT_MAX 512

/* Reads /proc/<pid>/cmdline (arguments separated by NUL). Returns its length, or -1. */
static ssize_t read_cmdline(long pid, char *out, size_t outlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, outlen - 1);
    close(fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return n;
}

/* 1 when the process is a zombie (or gone): state 'Z' or 'X' in /proc/<pid>/stat. */
static int is_dead(long pid)
{
    char path[64], st[STAT_MAX];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, st, sizeof(st) - 1);
    close(fd);
    if (n <= 0)
        return 1;
    st[n] = '\0';
    const char *paren = strrchr(st, ')'); /* the name may hold spaces and parentheses */
    if (!paren || paren[1] != ' ')
        return 1;
    return paren[2] == 'Z' || paren[2] == 'X';
}

/* The base name of argv[0] in a NUL-separated command line. */
static const char *argv0_base(const char *cmd)
{
    const char *slash = strrchr(cmd, '/');
    return slash ? slash + 1 : cmd;
}

/* argv[1] of pid when its argv[0]'s base name is exe_name and it is alive, else NULL. */
static const char *node_arg(long pid, const char *exe_name, char *cmd, size_t cmdlen)
{
    ssize_t n = read_cmdline(pid, cmd, cmdlen);
    if (n < 0)
        return NULL;
    size_t first = strlen(cmd);
    if ((ssize_t)first + 1 >= n)
        return NULL;
    if (strcmp(argv0_base(cmd), exe_name) || is_dead(pid))
        return NULL;
    return cmd + first + 1;
}

int procfs_runs(long pid, const char *exe_name, const char *arg)
{
    if (pid <= 0)
        return 0;
    char cmd[CMDLINE_MAX];
    const char *a = node_arg(pid, exe_name, cmd, sizeof(cmd));
    return a && !strcmp(a, arg);
}

/* The next process of the open /proc listing d other than this one, or 0 at its end. */
static long next_other_pid(DIR *d)
{
    long self = (long)getpid();
    struct dirent *e;
    // cppcheck-suppress readdirCalled
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        long pid = strtol(e->d_name, NULL, 10);
        if (pid != self)
            return pid;
    }
    return 0;
}

void procfs_each(const char *exe_name, const char *prefix,
                 int (*fn)(void *ctx, long pid, const char *arg), void *ctx)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    size_t plen = strlen(prefix);
    long pid;
    while ((pid = next_other_pid(d)) > 0) {
        char cmd[CMDLINE_MAX];
        const char *a = node_arg(pid, exe_name, cmd, sizeof(cmd));
        if (a && !strncmp(a, prefix, plen) && fn(ctx, pid, a))
            break;
    }
    closedir(d);
}

/* 1 when the link /proc/<pid>/<name> points under prefix. */
static int link_under(long pid, const char *name, const char *prefix, size_t plen)
{
    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return !strncmp(target, prefix, plen);
}

/* 1 when pid works in a directory under prefix or has a file under it open (a child between
 * fork and exec holds the node's stdout.log its parent opened for it). */
static int uses_path_under(long pid, const char *prefix, size_t plen)
{
    if (link_under(pid, "cwd", prefix, plen))
        return 1;
    char dir[64], name[NAME_MAX + 8];
    snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    // cppcheck-suppress readdirCalled
    while (!found && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        snprintf(name, sizeof(name), "fd/%s", e->d_name);
        found = link_under(pid, name, prefix, plen);
    }
    closedir(d);
    return found;
}

int procfs_count_unexeced(const char *prefix)
{
    char self_exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    DIR *d = n > 0 ? opendir("/proc") : NULL;
    if (!d)
        return 0;
    self_exe[n] = '\0';
    const char *self_name = argv0_base(self_exe);
    size_t plen = strlen(prefix);
    int count = 0;
    long pid;
    while ((pid = next_other_pid(d)) > 0) {
        char cmd[CMDLINE_MAX];
        if (read_cmdline(pid, cmd, sizeof(cmd)) < 0 || strcmp(argv0_base(cmd), self_name) ||
            is_dead(pid) || !uses_path_under(pid, prefix, plen))
            continue;
        count++;
    }
    closedir(d);
    return count;
}
