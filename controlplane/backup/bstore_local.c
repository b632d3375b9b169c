/* The local backup store: <root>/<backup id>/<object>, written through a temporary file, an
 * fsync and a rename, so an object is whole or absent after a crash. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bstore.h"
#include "config.h"
#include "ids.h"

#define DIR_MODE 0700
#define FILE_MODE 0600
#define COPY_CHUNK (256 * 1024)
#define NFTW_FDS 16

typedef struct local_store {
    bstore base;
    char root[PATH_MAX];
} local_store;

/* <root>/<id>[/<name>] into out. Ids and names are ours (no slash, no dots): checked anyway,
 * so a bad one can never name a file outside the store. */
static int obj_path(local_store *ls, const char *id, const char *name, char *out)
{
    if (!*id || strchr(id, '/') || id[0] == '.' || (name && (strchr(name, '/') || name[0] == '.')))
        return -EINVAL;
    int n = name ? snprintf(out, PATH_MAX, "%s/%s/%s", ls->root, id, name)
                 : snprintf(out, PATH_MAX, "%s/%s", ls->root, id);
    return n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* A temporary file beside the object's path, in the backup's directory (made). */
static int tmp_open(local_store *ls, const char *id, const char *name, char *path, char *tmp)
{
    char dir[PATH_MAX];
    int rc = obj_path(ls, id, NULL, dir);
    if (rc == 0)
        rc = obj_path(ls, id, name, path);
    if (rc < 0)
        return rc;
    if (mkdir(ls->root, DIR_MODE) < 0 && errno != EEXIST)
        return -errno;
    if (mkdir(dir, DIR_MODE) < 0 && errno != EEXIST)
        return -errno;
    snprintf(tmp, PATH_MAX + 8, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return -errno;
    return fd; /* the caller's: tmp_commit closes it */
}

/* fsync, close and rename tmp over path; on failure removes tmp. */
static int tmp_commit(int fd, const char *tmp, const char *path, int ok)
{
    int rc = ok ? 0 : -EIO;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int local_put_fd(bstore *s, const char *id, const char *name, int src, long long *size,
                        char *sha256, char *err, size_t errlen)
{
    local_store *ls = s->impl;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int fd = tmp_open(ls, id, name, path, tmp);
    if (fd < 0) {
        snprintf(err, errlen, "backup store: cannot write %s/%s: %s", id, name, strerror(-fd));
        return fd;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char *chunk = malloc(COPY_CHUNK);
    long long total = 0;
    int ok = 1;
    for (;;) {
        ssize_t r = read(src, chunk, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ok = r == 0;
            break;
        }
        EVP_DigestUpdate(md, chunk, (size_t)r);
        if (write_all(fd, chunk, (size_t)r) < 0) {
            ok = 0;
            break;
        }
        total += r;
    }
    free(chunk);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    int rc = tmp_commit(fd, tmp, path, ok);
    if (rc < 0) {
        snprintf(err, errlen, "backup store: cannot write %s/%s: %s", id, name, strerror(-rc));
        return rc;
    }
    ids_hex(digest, dlen, sha256);
    *size = total;
    return 0;
}

static int local_put_data(bstore *s, const char *id, const char *name, const void *data, size_t len,
                          char *err, size_t errlen)
{
    local_store *ls = s->impl;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int fd = tmp_open(ls, id, name, path, tmp);
    int rc = fd < 0 ? fd : tmp_commit(fd, tmp, path, write_all(fd, data, len) == 0);
    if (rc < 0)
        snprintf(err, errlen, "backup store: cannot write %s/%s: %s", id, name, strerror(-rc));
    return rc;
}

static int local_open(bstore *s, const char *id, const char *name, FILE **out, char *err,
                      size_t errlen)
{
    local_store *ls = s->impl;
    char path[PATH_MAX];
    int rc = obj_path(ls, id, name, path);
    if (rc == 0 && !(*out = fopen(path, "rbe")))
        rc = -errno;
    if (rc < 0)
        snprintf(err, errlen, "backup store: cannot read %s/%s: %s", id, name, strerror(-rc));
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int local_remove(bstore *s, const char *id, char *err, size_t errlen)
{
    local_store *ls = s->impl;
    char dir[PATH_MAX];
    int rc = obj_path(ls, id, NULL, dir);
    if (rc == 0 && access(dir, F_OK) == 0) {
        nftw(dir, rm_entry, NFTW_FDS, FTW_DEPTH | FTW_PHYS);
        rc = access(dir, F_OK) == 0 ? -EBUSY : 0;
    }
    if (rc < 0)
        snprintf(err, errlen, "backup store: cannot remove %s: %s", id, strerror(-rc));
    return rc;
}

static const bstore_ops local_ops = {
    .name = "local",
    .put_fd = local_put_fd,
    .put_data = local_put_data,
    .open = local_open,
    .remove = local_remove,
};

bstore *bstore_local_new(const char *root)
{
    local_store *ls = calloc(1, sizeof(*ls));
    ls->base.ops = &local_ops;
    ls->base.impl = ls;
    snprintf(ls->root, sizeof(ls->root), "%s", root);
    mkdir(ls->root, DIR_MODE);
    return &ls->base;
}

static bstore *default_store;

int bstore_init(char *err, size_t errlen)
{
    if (!strcmp(ctl_cfg.backup_store, "s3"))
        default_store =
            bstore_s3_new(ctl_cfg.backup_s3_endpoint, ctl_cfg.backup_s3_bucket,
                          ctl_cfg.backup_s3_prefix, ctl_cfg.backup_s3_region, err, errlen);
    else
        default_store = bstore_local_new(ctl_cfg.backup_dir_abs);
    return default_store ? 0 : -1;
}

bstore *bstore_default(void)
{
    if (!default_store) /* unit tests: nobody called bstore_init */
        default_store = bstore_local_new(ctl_cfg.backup_dir_abs);
    return default_store;
}
