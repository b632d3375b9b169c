/* LZF compression in liblzf's format, the compression of strings in Redis's RDB files and DUMP
 * payloads (a string is stored compressed when that makes it smaller). Our own implementation
 * of the format: what it writes liblzf (and so Redis) reads, and it reads what they write.
 * Pure functions on caller-owned buffers; any thread may call them. */
#ifndef DFLY_LZF_H
#define DFLY_LZF_H

#include <stddef.h>

/* Compresses in_len bytes of in into out (room: out_len bytes). Returns the compressed length,
 * or 0 when the result does not fit in out_len (or in_len is 0): store the data uncompressed. */
size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_len);
/* Decompresses in_len bytes of in into out (room: out_len bytes). Returns the decompressed
 * length, or 0 when the input is malformed or its output would not fit: never reads or writes
 * outside the two buffers. */
size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_len);

#endif
