/* Allocation that cannot fail quietly: out of memory aborts, as everywhere in dfly. */
#ifndef DFLY_CONTROL_MEM_H
#define DFLY_CONTROL_MEM_H

#include <stdio.h>
#include <stdlib.h>

static inline void *mem_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n) {
        fprintf(stderr, "dfly-control: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

#endif
