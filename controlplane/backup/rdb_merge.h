/* Merging RDB files: the shards of a backup into one file that redis-server 7.0 and
 * dfly-server load.
 *
 * Each input is a complete RDB file (magic, version, AUX fields, databases, EOF, CRC-64). The
 * output is the first input's header and AUX fields, then the body of every input (from its
 * first non-AUX opcode to its EOF; function libraries only from the first input, since every
 * shard of an instance holds the same ones), then EOF and the CRC-64 of everything before it.
 * Bodies are copied as they are: no key is parsed, so any type or encoding goes through.
 * Shards hold disjoint keys, so the merged file has every key once. */
#ifndef DFLY_CONTROL_RDB_MERGE_H
#define DFLY_CONTROL_RDB_MERGE_H

#include <stddef.h>
#include <stdio.h>

#define RDB_MERGE_ERR_MAX 256

/* Reads the n inputs (each from its current position to its end) and writes the merged file
 * to out. Returns 0, or -1 with err naming the input and the problem. */
int rdb_merge(FILE *const *inputs, int n, FILE *out, char *err, size_t errlen);

#endif
