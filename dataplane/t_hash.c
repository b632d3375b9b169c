/* Hashes: HSET HGET ... HRANDFIELD HSCAN. Small hashes are a listpack of field/value
 * pairs; larger ones a hash table. */
#include "db.h"
#include "reply.h"

void hash_type_init(void)
{
}

command hash_commands[] = {
    {0},
};
