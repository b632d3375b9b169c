/* The backup store: where backups' files live, behind one small interface so that a remote
 * backend (S3-compatible) can be added beside the local directory (bstore_local.c).
 *
 * A backup is a set of named objects under its id: one RDB file per shard and manifest.json.
 * Objects are written whole (put) and read as a stream (open); nothing is updated in place.
 *
 * Threads: a store is stateless apart from its configuration, so any thread may use it (API
 * handlers read, the reconciler writes). Operations return 0 or a negative errno-style code
 * with a message in err. */
#ifndef DFLY_CONTROL_BSTORE_H
#define DFLY_CONTROL_BSTORE_H

#include <stddef.h>
#include <stdio.h>

#define BSTORE_SHA256_HEX 65 /* 64 hex digits and the NUL */

typedef struct bstore bstore;

typedef struct bstore_ops {
    const char *name;
    /* Copies everything readable from fd into object id/name; *size and sha256 (hex) of what
     * was copied. The object appears whole or not at all. */
    int (*put_fd)(bstore *s, const char *id, const char *name, int fd, long long *size,
                  char *sha256, char *err, size_t errlen);
    /* Writes data as object id/name, whole or not at all. */
    int (*put_data)(bstore *s, const char *id, const char *name, const void *data, size_t len,
                    char *err, size_t errlen);
    /* Opens object id/name for reading (fclose it). */
    int (*open)(bstore *s, const char *id, const char *name, FILE **out, char *err, size_t errlen);
    /* Removes every object of backup id (0 when there is none). */
    int (*remove)(bstore *s, const char *id, char *err, size_t errlen);
} bstore_ops;

struct bstore {
    const bstore_ops *ops;
    void *impl;
};

/* Makes the store dfly-control uses (--backup-store): call once at start, before other
 * threads use it. Returns 0 or -1 with err (a misconfigured s3 store). */
int bstore_init(char *err, size_t errlen);
/* The store made by bstore_init (without it: the local one under --backup-dir). */
bstore *bstore_default(void);
/* A local directory store under root (created). */
bstore *bstore_local_new(const char *root);
/* An S3-compatible store (bstore_s3.c); NULL with err when it cannot be configured. */
bstore *bstore_s3_new(const char *endpoint, const char *bucket, const char *prefix,
                      const char *region, char *err, size_t errlen);

#endif
