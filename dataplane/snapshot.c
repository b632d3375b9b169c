/* Forkless snapshots; see snapshot.h. (Stub: being written.) */
#include <stdio.h>

#include "db.h"
#include "server.h"
#include "snapshot.h"

int snapshot_active_any;

int snapshot_start(const snapshot_req *req, char *err, size_t errlen)
{
    (void)req;
    snprintf(err, errlen, "snapshots are not implemented yet");
    return -1;
}

int snapshot_in_progress(void)
{
    return 0;
}

void snapshot_before_write_slow(struct shard *s, int dbid, const char *key, size_t len)
{
    (void)s, (void)dbid, (void)key, (void)len;
}

void snapshot_info(buf *out)
{
    uint64_t dirty = 0;
    for (int i = 0; i < server.nshards; i++)
        dirty += atomic_load(&shards[i]->stats.dirty);
    buf_printf(out,
               "current_cow_peak:0\r\n"
               "current_cow_size:0\r\n"
               "current_fork_perc:0.00\r\n"
               "current_save_keys_processed:0\r\n"
               "current_save_keys_total:0\r\n"
               "rdb_changes_since_last_save:%llu\r\n"
               "rdb_bgsave_in_progress:0\r\n"
               "rdb_last_save_time:%lld\r\n"
               "rdb_last_bgsave_status:ok\r\n"
               "rdb_last_bgsave_time_sec:-1\r\n"
               "rdb_current_bgsave_time_sec:-1\r\n"
               "rdb_saves:0\r\n"
               "rdb_last_cow_size:0\r\n",
               (unsigned long long)dirty, (long long)atomic_load(&server.lastsave));
}
