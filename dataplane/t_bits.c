/* Bit commands on strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO. */
#include "db.h"
#include "reply.h"

command bits_commands[] = {
    {0},
};
