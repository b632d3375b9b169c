/* HyperLogLog: PFADD PFCOUNT PFMERGE (Redis's sparse and dense representations). */
#include "db.h"
#include "reply.h"

void hll_type_init(void)
{
}

command hll_commands[] = {
    {0},
};
