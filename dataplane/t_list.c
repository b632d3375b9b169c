/* Lists: LPUSH RPUSH LPOP ... LMOVE LMPOP and the blocking BLPOP BRPOP BLMOVE BLMPOP.
 * Small lists are one listpack; larger ones a quicklist (a linked list of listpack nodes). */
#include "db.h"
#include "reply.h"

void list_type_init(void)
{
}

command list_commands[] = {
    {0},
};
