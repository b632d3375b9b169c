/* Sets: SADD SREM ... SINTERCARD SSCAN. Small integer sets are an intset, small sets a
 * listpack, larger ones a hash table. */
#include "db.h"
#include "reply.h"

void set_type_init(void)
{
}

command set_commands[] = {
    {0},
};
