/* What /proc says about processes: is a pid alive (not a zombie) and started as
 * `<...>/<exe_name> <arg>`. Used to adopt nodes after a restart of the daemon (their pid
 * files are checked against this) and to find strays. */
#ifndef DFLY_CONTROL_PROCFS_H
#define DFLY_CONTROL_PROCFS_H

#include <stddef.h>

/* 1 when pid is alive, its argv[0]'s base name is exe_name and its argv[1] is arg. */
int procfs_runs(long pid, const char *exe_name, const char *arg);
/* Calls fn for every live process whose argv[0]'s base name is exe_name and whose argv[1]
 * starts with prefix. fn returns nonzero to stop. */
void procfs_each(const char *exe_name, const char *prefix,
                 int (*fn)(void *ctx, long pid, const char *arg), void *ctx);

/* Live processes (not this one) that still run this program (argv[0]'s base name that of
 * /proc/self/exe) and work in a directory under prefix (a resolved path ending in '/') or hold
 * a file under it open: children forked to become a node whose parent died before their exec. */
int procfs_count_unexeced(const char *prefix);

#endif
