/* Geo: GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE GEORADIUS(BYMEMBER), stored
 * in sorted sets with 52-bit geohash scores as Redis does. */
#include "db.h"
#include "reply.h"

void geo_type_init(void)
{
}

command geo_commands[] = {
    {0},
};
