/* CRC-64/Jones, the checksum of Redis's RDB files and DUMP payloads: a table-driven reflected
 * CRC (init 0, no final xor), one table lookup per byte. */
#include "crc64.h"

#include <pthread.h>

/* Jones' polynomial 0xad93d23594c935a9, bit-reversed for the reflected algorithm. */
#define CRC64_JONES_REFLECTED 0x95ac9329ac4bc9b5ULL
#define CRC64_TABLE_SIZE 256
#define BITS_PER_BYTE 8

static uint64_t crc64_table[CRC64_TABLE_SIZE];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
    for (unsigned n = 0; n < CRC64_TABLE_SIZE; n++) {
        uint64_t c = n;
        for (int k = 0; k < BITS_PER_BYTE; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64_JONES_REFLECTED : c >> 1;
        crc64_table[n] = c;
    }
}

uint64_t crc64(uint64_t crc, const void *p, size_t len)
{
    pthread_once(&crc64_once, crc64_init);
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++)
        crc = crc64_table[(crc ^ s[i]) & 0xff] ^ (crc >> BITS_PER_BYTE);
    return crc;
}
