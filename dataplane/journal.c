/* The append-only journal; see journal.h. (Stub: no journal yet.) */
#include <stdio.h>

#include "journal.h"

int journal_exists(void)
{
    return 0;
}

int journal_load(char *err, size_t errlen)
{
    snprintf(err, errlen, "the journal is not implemented yet");
    return -1;
}

void journal_info(buf *out)
{
    buf_printf(out, "aof_enabled:0\r\n"
                    "aof_rewrite_in_progress:0\r\n"
                    "aof_rewrite_scheduled:0\r\n"
                    "aof_last_rewrite_time_sec:-1\r\n"
                    "aof_current_rewrite_time_sec:-1\r\n"
                    "aof_last_bgrewrite_status:ok\r\n"
                    "aof_rewrites:0\r\n"
                    "aof_last_write_status:ok\r\n");
}
