/* Statistics shared by INFO, SLOWLOG, MONITOR and /metrics. */
#ifndef DFLY_STATS_H
#define DFLY_STATS_H

#include <stdint.h>

#include "buf.h"
#include "command.h"

/* After every command (dispatch_call): slowlog and monitor feeds. */
void stats_after_command(cmd_ctx *c, uint64_t dur_us);
/* Appends "errorstat_ERR:count=N" lines for INFO errorstats. */
void stats_format_errors(buf *out);
/* Total error replies. */
uint64_t stats_total_errors(void);
void stats_reset(void);

#endif
