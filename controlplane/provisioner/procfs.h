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

#endif
