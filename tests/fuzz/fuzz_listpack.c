/* libFuzzer target: listpack validation (dataplane/listpack.c). A block lp_validate accepts
 * must be safe to walk both ways and to modify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listpack.h"
#include "zmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!lp_validate(data, size))
        return 0;
    unsigned char *lp = zmalloc(size);
    memcpy(lp, data, size);
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    uint32_t n = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        lp_get(p, &v, tmp);
        n++;
    }
    if (n != lp_count(lp))
        abort();
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p))
        n--;
    if (n != 0)
        abort();
    lp = lp_append(lp, "tail", 4);
    if (lp_count(lp))
        lp = lp_delete_range(lp, 0, 1);
    lp_free(lp);
    return 0;
}
