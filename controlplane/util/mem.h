/* Allocation that cannot fail quietly: out of memory aborts, as everywhere in dfly. The control
 * plane's callers use mem_realloc; the wrappers themselves live in common/alloc.h, shared with
 * dfly-server. */
#ifndef DFLY_CONTROL_MEM_H
#define DFLY_CONTROL_MEM_H

#include "alloc.h"

#endif
