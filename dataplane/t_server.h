/* Helpers shared by the server command families (t_server.c, t_config.c, t_info.c,
 * t_debug.c, t_command.c). */
#ifndef DFLY_T_SERVER_H
#define DFLY_T_SERVER_H

#include "command.h"

/* Replies a container's HELP text as Redis's addReplyHelp does: the title line
 * "<CONTAINER> <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", the NULL-terminated
 * lines, then the HELP entry. */
void reply_help(cmd_ctx *c, const char *container, const char *const *lines);
/* "ERR unknown subcommand 'x'. Try <CONTAINER> HELP." for argv[1]. */
void reply_unknown_subcommand(cmd_ctx *c, const char *container);

/* Formats bytes the way INFO's *_human fields do ("1.50M"). */
void bytes_to_human(char *out, size_t outlen, unsigned long long n);

/* INFO's text for the given section arguments (none: the default sections). The caller holds
 * every shard. */
void info_render(buf *out, int argc, const slice *argv);

#endif
