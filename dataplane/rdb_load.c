/* Reading whole RDB files; see rdb_load.h. (Stub.) */
#include <stdio.h>

#include "rdb_load.h"

int rdb_load_file(const char *path, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: loading RDB files is not implemented yet", path);
    return -1;
}
