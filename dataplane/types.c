/* Registration of the collection types; see types.h. */
#include "types.h"

void types_init(void)
{
    list_type_init();
    hash_type_init();
    set_type_init();
    zset_type_init();
    hll_type_init();
    geo_type_init();
    stream_type_init();
}
