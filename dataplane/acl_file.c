/* The ACL file (--aclfile): one "user <name> <rule>..." line per user, as ACL LIST prints them.
 * Loading is all or nothing: the file replaces the users only when every line is valid. Saving
 * writes a temporary file, syncs it and renames it over the old one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "alloc.h"
#include "log.h"

#define ACL_LINE_MAX_ARGS 4096
#define ACL_FILE_ERR_MAX 512

/* Splits a line at spaces and tabs, in place. Returns the count. */
static int split_line(char *line, slice *args, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            break;
        char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        args[n].p = start;
        args[n].len = (size_t)(p - start);
        n++;
    }
    return n;
}

static int has_user(acl_user **v, int n, const slice *name)
{
    for (int i = 0; i < n; i++)
        if (v[i]->namelen == name->len && !memcmp(v[i]->name, name->p, name->len))
            return 1;
    return 0;
}

#define SETUSER_ERR_PREFIX "ERR Error in ACL SETUSER modifier "
#define LOAD_ERR_SUFFIX                                                                            \
    " WARNING: ACL errors detected, no change to the previously active ACL rules was performed"

/* Redis's ACL LOAD wording for a rule that failed: "<path>:<line>: Error in applying operation
 * '<op>': <why>." (SETUSER's text is "ERR Error in ACL SETUSER modifier '<op>': <why>"). */
static void file_error(char *err, size_t errlen, const char *path, int lineno, const char *why)
{
    size_t plen = strlen(SETUSER_ERR_PREFIX);
    if (!strncmp(why, SETUSER_ERR_PREFIX, plen))
        snprintf(err, errlen, "%s:%d: Error in applying operation %s.", path, lineno, why + plen);
    else
        snprintf(err, errlen, "%s:%d: Unmatched parenthesis in selector definition.", path, lineno);
}

/* Parses one line into a new user appended to *v. Returns 0, or -1 with err. */
static int load_line(char *line, int lineno, const char *path, acl_user ***v, int *n, char *err,
                     size_t errlen)
{
    slice *args = mem_malloc(sizeof(slice) * ACL_LINE_MAX_ARGS);
    int argc = split_line(line, args, ACL_LINE_MAX_ARGS);
    int rc = 0;
    if (argc == 0 || args[0].p[0] == '#') {
        free(args);
        return 0; /* blank line or comment */
    }
    if (argc < 2 || args[0].len != 4 || memcmp(args[0].p, "user", 4)) {
        snprintf(err, errlen, "%s:%d should start with user keyword followed by the username.",
                 path, lineno);
        rc = -1;
    } else if (!acl_name_ok(args[1].p, args[1].len)) {
        snprintf(err, errlen, "%s:%d: username '%.*s' contains invalid characters.", path, lineno,
                 (int)args[1].len, args[1].p);
        rc = -1;
    } else if (has_user(*v, *n, &args[1])) {
        snprintf(err, errlen, "WARNING: Duplicate user '%.*s' found on line %d.", (int)args[1].len,
                 args[1].p, lineno);
        rc = -1;
    } else {
        acl_user *u = acl_user_new(args[1].p, args[1].len);
        char why[ACL_FILE_ERR_MAX];
        if (acl_user_apply_args(u, argc - 2, args + 2, why, sizeof(why))) {
            file_error(err, errlen, path, lineno, why);
            acl_user_unref(u);
            rc = -1;
        } else {
            *v = mem_realloc(*v, sizeof(**v) * (size_t)(*n + 1));
            (*v)[(*n)++] = u;
        }
    }
    free(args);
    return rc;
}

typedef struct name_list {
    char **v;
    size_t *len;
    int n;
} name_list;

static void collect_name(const acl_user *u, void *arg)
{
    name_list *nl = arg;
    nl->v = mem_realloc(nl->v, sizeof(char *) * (size_t)(nl->n + 1));
    nl->len = mem_realloc(nl->len, sizeof(size_t) * (size_t)(nl->n + 1));
    nl->v[nl->n] = mem_malloc(u->namelen + 1);
    memcpy(nl->v[nl->n], u->name, u->namelen + 1);
    nl->len[nl->n++] = u->namelen;
}

/* The users that were there and are not any more: their connections are closed. (Changed ones
 * follow at their next command, acl_refresh.) */
static void kill_vanished(acl_user **nu, int n)
{
    name_list old = {0};
    acl_foreach(collect_name, &old);
    for (int i = 0; i < old.n; i++) {
        slice name = {old.v[i], old.len[i]};
        if (!has_user(nu, n, &name))
            acl_kill_user(name.p, name.len, NULL);
        free(old.v[i]);
    }
    free(old.v);
    free(old.len);
}

int acl_file_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return -1;
    }
    acl_user **v = NULL;
    int n = 0, lineno = 0, rc = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len && line[len - 1] == '\n')
            line[len - 1] = '\0';
        rc = load_line(line, lineno, path, &v, &n, err, errlen);
    }
    free(line);
    fclose(f);
    if (rc) {
        size_t used = strlen(err);
        if (used < errlen)
            snprintf(err + used, errlen - used, "%s", LOAD_ERR_SUFFIX);
        for (int i = 0; i < n; i++)
            acl_user_unref(v[i]);
        free(v);
        return -1;
    }
    slice def = {ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER)};
    if (!has_user(v, n, &def)) { /* a file without "default" gets Redis's default user */
        v = mem_realloc(v, sizeof(*v) * (size_t)(n + 1));
        v[n++] = acl_default_user_new();
    }
    kill_vanished(v, n);
    acl_replace_all(v, n);
    return 0;
}

typedef struct save_ctx {
    FILE *f;
    buf line;
    int failed;
} save_ctx;

static void save_user(const acl_user *u, void *arg)
{
    save_ctx *sc = arg;
    buf_clear(&sc->line);
    buf_printf(&sc->line, "user %s ", u->name);
    acl_user_describe(u, &sc->line);
    buf_append(&sc->line, "\n", 1);
    if (fwrite(sc->line.data, 1, sc->line.len, sc->f) != sc->line.len)
        sc->failed = 1;
}

int acl_file_save(const char *path, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = mem_malloc(plen + 32);
    snprintf(tmp, plen + 32, "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "opening '%s': %s", tmp, strerror(errno));
        log_warning("ACL SAVE: %s", err);
        free(tmp);
        return -1;
    }
    save_ctx sc = {f, {0}, 0};
    buf_init(&sc.line);
    acl_foreach(save_user, &sc);
    buf_free(&sc.line);
    if (fflush(f) || fsync(fileno(f)))
        sc.failed = 1;
    if (fclose(f))
        sc.failed = 1;
    if (sc.failed || rename(tmp, path)) {
        snprintf(err, errlen, "writing '%s': %s", path, strerror(errno));
        log_warning("ACL SAVE: %s", err);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
