/* Sorted sets: ZADD ... ZSCAN, BZPOPMIN BZPOPMAX BZMPOP. Small sorted sets are a listpack
 * of member/score pairs; larger ones a skiplist with a member index. */
#include "db.h"
#include "reply.h"

void zset_type_init(void)
{
}

command zset_commands[] = {
    {0},
};
