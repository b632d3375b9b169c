/* CRC-64 with Jones' polynomial, reflected, as Redis computes it (crc64.c of Redis): the
 * checksum of DUMP payloads and RDB files. crc64(0, "123456789", 9) is 0xe9c6d914c4b8d9ca.
 * Pure functions; any thread may call them (the table is built once, before threads start, or
 * lazily on first use). */
#ifndef DFLY_CRC64_H
#define DFLY_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues the checksum crc (0 to start) over len bytes at p. */
uint64_t crc64(uint64_t crc, const void *p, size_t len);

#endif
