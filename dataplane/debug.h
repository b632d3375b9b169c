/* Hooks of the DEBUG command for other subsystems: value digests of their types (DEBUG DIGEST,
 * DEBUG DIGEST-VALUE) and subcommands of their own (e.g. DEBUG RELOAD). */
#ifndef DFLY_DEBUG_H
#define DFLY_DEBUG_H

#include <stddef.h>

#include "command.h"
#include "object.h"

#define DEBUG_DIGEST_LEN 20 /* a SHA1, as Redis's digests */

/* Redis's digest primitives (debug.c): xor folds SHA1(p) into digest; mix replaces digest by
 * SHA1(digest xor SHA1(p)), so the order of mixed items matters. A type's digest function mixes
 * its elements in Redis's way (xorObjectDigest) so that digests match Redis's. */
void debug_digest_xor(unsigned char digest[DEBUG_DIGEST_LEN], const void *p, size_t len);
void debug_digest_mix(unsigned char digest[DEBUG_DIGEST_LEN], const void *p, size_t len);

/* Folds the value of e (not its key or expiry) into digest. Runs for the entry's shard. */
typedef void (*debug_digest_fn)(const entry *e, unsigned char digest[DEBUG_DIGEST_LEN]);
/* Registers the digest function of a type; call at startup, before the workers start. Types
 * without one contribute only their type name. */
void debug_register_digest(int type, debug_digest_fn fn);

/* Registers DEBUG <name> ...: proc runs with argv[1] == name, holding every shard. Call at
 * startup, before the workers start. */
void debug_register(const char *name, cmd_proc proc);

#endif
