/* Streams: XADD ... XINFO and consumer groups, with XREAD/XREADGROUP BLOCK. */
#include "db.h"
#include "reply.h"

void stream_type_init(void)
{
}

command stream_commands[] = {
    {0},
};
