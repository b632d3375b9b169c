/* The local provisioner: every node is a dfly-server child process of this daemon, with its
 * files in <root>/<instance>/<node>/: node.conf (its configuration, mode 0600: it holds the
 * password), node.pid, server.log (the server's log) and stdout.log (anything it printed).
 *
 * Children run in their own session (setsid), so a Ctrl-C meant for the daemon, or its death,
 * does not take them down: a new daemon adopts them through their pid files, each checked
 * against /proc (the pid must run `dfly-server <that node.conf>`), so a recycled pid is never
 * mistaken for a node. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "procfs.h"
#include "provisioner.h"

#define NODE_CONF "node.conf"
#define NODE_PID "node.pid"
#define NODE_LOG "server.log"
#define NODE_STDOUT "stdout.log"
#define NODE_TLS_CERT "tls.crt" /* issue 14: the node's TLS files */
#define NODE_TLS_KEY "tls.key"
#define NODE_TLS_CA "ca.crt"
#define NODE_TLS_CRL "crl.pem"
#define NODE_SNAPSHOT "dump.rdb"         /* dfly-server's default --dbfilename */
#define NODE_JOURNAL_DIR "appendonlydir" /* and its default --appenddirname */
#define COPY_CHUNK (256 * 1024)
#define DIR_MODE 0700
#define FILE_MODE 0600
#define NFTW_FDS 16
#define GC_SPAWN_WAIT_MS 5000 /* for a previous daemon's child to exec (gc_wait_unexeced) */
#define GC_SPAWN_POLL_MS 20
#define NS_PER_MS 1000000L
#define ENV_HIDDEN_PREFIX "DFLY_" /* the server reads DFLY_* as flags; they are not for it */

extern char **environ;

typedef struct child {
    uv_process_t proc;
    struct local_prov *lp;
    char instance_id[ID_MAX];
    char node_id[ID_MAX];
    long pid;
    int exited;
    struct child *next;
} child;

typedef struct local_prov {
    provisioner base;
    uv_loop_t *loop;
    char root[PATH_MAX];
    char binary[PATH_MAX];
    const char *exe_name;
    prov_exit_fn exit_fn;
    void *ctx;
    child *children;
    char **env; /* the environment children get */
} local_prov;

static local_prov *impl(provisioner *p)
{
    return p->impl;
}

static void node_path(local_prov *lp, const char *inst, const char *node, const char *file,
                      char *out)
{
    int n;
    if (node && file)
        n = snprintf(out, PATH_MAX, "%s/%s/%s/%s", lp->root, inst, node, file);
    else if (node)
        n = snprintf(out, PATH_MAX, "%s/%s/%s", lp->root, inst, node);
    else
        n = snprintf(out, PATH_MAX, "%s/%s", lp->root, inst);
    if (n >= PATH_MAX) /* an empty path fails every use instead of naming another file */
        out[0] = '\0';
}

/* Writes data to path through a temporary file and a rename, so a crash never leaves half a
 * file. Returns 0 or -errno. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return -errno;
    int ok = write(fd, data, len) == (ssize_t)len;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return -e;
    }
    return 0;
}

static int mkdir_one(const char *path)
{
    return mkdir(path, DIR_MODE) < 0 && errno != EEXIST ? -errno : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int rm_rf(const char *path)
{
    if (access(path, F_OK) < 0)
        return 0;
    nftw(path, rm_entry, NFTW_FDS, FTW_DEPTH | FTW_PHYS);
    return access(path, F_OK) == 0 ? -EBUSY : 0;
}

/* issue 14: TLS on the client port and the replication link; the admin port, which only the
 * control plane uses, stays plain text. */
static void conf_render_tls(const prov_node *s, const char *dir, buf *b)
{
    buf_printf(b, "tls yes\nno_tls_on_admin_port yes\ntls_replication yes\n");
    buf_printf(b, "tls_cert_file \"%s/%s\"\ntls_key_file \"%s/%s\"\n", dir, NODE_TLS_CERT, dir,
               NODE_TLS_KEY);
    buf_printf(b, "tls_ca_cert_file \"%s/%s\"\ntls_crl_file \"%s/%s\"\n", dir, NODE_TLS_CA, dir,
               NODE_TLS_CRL);
    buf_printf(b, "tls_auth_clients %s\n", s->tls_client_auth ? s->tls_client_auth : "no");
}

/* The TLS files of a node, each written whole (a reload never reads half a file). */
static int tls_files_write(local_prov *lp, const prov_node *s, char *err, size_t errlen)
{
    const struct {
        const char *name, *pem;
    } files[] = {{NODE_TLS_CERT, s->tls_cert},
                 {NODE_TLS_KEY, s->tls_key},
                 {NODE_TLS_CA, s->tls_ca},
                 {NODE_TLS_CRL, s->tls_crl}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[PATH_MAX];
        node_path(lp, s->instance_id, s->node_id, files[i].name, path);
        const char *pem = files[i].pem ? files[i].pem : "";
        int rc = write_atomic(path, pem, strlen(pem));
        if (rc < 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* The configuration file of a node: dfly-server's flags in its config-file syntax. Values
 * are quoted; none of them can hold a quote (ids, hex passwords, validated cron text). */
static void conf_render(const prov_node *s, const char *dir, buf *b)
{
    buf_printf(b, "# written by dfly-control: changes are overwritten\n");
    buf_printf(b, "port %d\nbind \"%s\"\n", s->port, s->host);
    buf_printf(b, "admin_port %d\nadmin_bind \"%s\"\n", s->admin_port, s->host);
    buf_printf(b, "threads %d\n", s->threads);
    buf_printf(b, "dir \"%s\"\nlogfile \"%s/%s\"\n", dir, dir, NODE_LOG);
    buf_printf(b, "cluster_mode %s\ncluster_node_id %s\ncluster_announce_ip \"%s\"\n",
               s->cluster_mode, s->cluster_id, s->host);
    buf_printf(b, "maxmemory %lld\nmaxmemory_policy %s\n", s->maxmemory, s->eviction_policy);
    buf_printf(b, "requirepass \"%s\"\n", s->password);
    if (s->masterauth)
        buf_printf(b, "masterauth \"%s\"\n", s->masterauth);
    buf_printf(b, "snapshot_cron \"%s\"\n", s->snapshot_cron ? s->snapshot_cron : "");
    buf_printf(b, "appendonly %s\n", s->appendonly ? "yes" : "no");
    if (s->tls_cert)
        conf_render_tls(s, dir, b);
}

static int local_create(provisioner *p, const prov_node *s, char *err, size_t errlen)
{
    local_prov *lp = impl(p);
    char dir[PATH_MAX], conf[PATH_MAX];
    node_path(lp, s->instance_id, NULL, NULL, dir);
    int rc = mkdir_one(lp->root);
    if (rc == 0)
        rc = mkdir_one(dir);
    node_path(lp, s->instance_id, s->node_id, NULL, dir);
    if (rc == 0)
        rc = mkdir_one(dir);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return rc;
    }
    if (s->tls_cert && (rc = tls_files_write(lp, s, err, errlen)) < 0)
        return rc;
    buf b;
    buf_init(&b);
    conf_render(s, dir, &b);
    node_path(lp, s->instance_id, s->node_id, NODE_CONF, conf);
    rc = write_atomic(conf, b.data, b.len);
    buf_free(&b);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", conf, strerror(-rc));
    return rc;
}

static child *child_find(local_prov *lp, const char *inst, const char *node)
{
    for (child *c = lp->children; c; c = c->next)
        if (!c->exited && !strcmp(c->node_id, node) && !strcmp(c->instance_id, inst))
            return c;
    return NULL;
}

static void child_closed(uv_handle_t *h)
{
    child *c = h->data;
    local_prov *lp = c->lp;
    for (child **pp = &lp->children; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    free(c);
}

static long pid_file_read(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid;
}

static void child_exited(uv_process_t *proc, int64_t status, int sig)
{
    child *c = proc->data;
    local_prov *lp = c->lp;
    c->exited = 1;
    char pidfile[PATH_MAX];
    node_path(lp, c->instance_id, c->node_id, NODE_PID, pidfile);
    if (pid_file_read(pidfile) == c->pid)
        unlink(pidfile);
    if (lp->exit_fn)
        lp->exit_fn(lp->ctx, c->instance_id, c->node_id, c->pid, status, sig);
    uv_close((uv_handle_t *)proc, child_closed);
}

static int local_start(provisioner *p, const char *inst, const char *node, long *pid, char *err,
                       size_t errlen)
{
    local_prov *lp = impl(p);
    char dir[PATH_MAX], conf[PATH_MAX], out[PATH_MAX], pidfile[PATH_MAX];
    node_path(lp, inst, node, NULL, dir);
    node_path(lp, inst, node, NODE_CONF, conf);
    node_path(lp, inst, node, NODE_STDOUT, out);
    node_path(lp, inst, node, NODE_PID, pidfile);
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, FILE_MODE);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", out, strerror(errno));
        return -errno;
    }
    child *c = calloc(1, sizeof(*c));
    c->lp = lp;
    snprintf(c->instance_id, sizeof(c->instance_id), "%s", inst);
    snprintf(c->node_id, sizeof(c->node_id), "%s", node);
    char *args[] = {lp->binary, conf, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fd},
        {.flags = UV_INHERIT_FD, .data.fd = fd},
    };
    uv_process_options_t opt = {
        .exit_cb = child_exited,
        .file = lp->binary,
        .args = args,
        .env = lp->env,
        .cwd = dir,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    c->proc.data = c;
    int rc = uv_spawn(lp->loop, &c->proc, &opt);
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start %s: %s", lp->binary, uv_strerror(rc));
        /* A failed uv_spawn still initialized the handle: it must be closed. */
        c->exited = 1;
        c->next = lp->children;
        lp->children = c;
        uv_close((uv_handle_t *)&c->proc, child_closed);
        return rc;
    }
    c->pid = c->proc.pid;
    c->next = lp->children;
    lp->children = c;
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", c->pid);
    rc = write_atomic(pidfile, text, (size_t)n);
    if (rc < 0)
        log_warning("local: cannot write %s: %s", pidfile, strerror(-rc));
    *pid = c->pid;
    return 0;
}

static int local_status(provisioner *p, const char *inst, const char *node, long *pid)
{
    local_prov *lp = impl(p);
    child *c = child_find(lp, inst, node);
    if (c) {
        *pid = c->pid;
        return PROV_RUNNING;
    }
    char pidfile[PATH_MAX], conf[PATH_MAX];
    node_path(lp, inst, node, NODE_PID, pidfile);
    node_path(lp, inst, node, NODE_CONF, conf);
    long filepid = pid_file_read(pidfile);
    if (filepid > 0 && procfs_runs(filepid, lp->exe_name, conf)) {
        *pid = filepid;
        return PROV_RUNNING;
    }
    *pid = 0;
    return PROV_ABSENT;
}

static int local_stop(provisioner *p, const char *inst, const char *node, int force)
{
    long pid = 0;
    if (local_status(p, inst, node, &pid) != PROV_RUNNING)
        return 0;
    return kill((pid_t)pid, force ? SIGKILL : SIGTERM) < 0 && errno != ESRCH ? -errno : 0;
}

static int local_destroy(provisioner *p, const char *inst, const char *node)
{
    char dir[PATH_MAX];
    node_path(impl(p), inst, node, NULL, dir);
    return rm_rf(dir);
}

static int local_destroy_instance(provisioner *p, const char *inst)
{
    char dir[PATH_MAX];
    node_path(impl(p), inst, NULL, NULL, dir);
    return rm_rf(dir);
}

typedef struct gc_ctx {
    local_prov *lp;
    const prov_known *known;
    int n;
    int killed;
} gc_ctx;

static int known_node(const gc_ctx *g, const char *inst, const char *node)
{
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->known[i].instance_id, inst) &&
            (node ? g->known[i].node_id && !strcmp(g->known[i].node_id, node) : 1))
            return 1;
    return 0;
}

/* "<root>/<inst>/<node>/node.conf" into its parts. Returns 0 or -1. */
static int parse_conf_path(local_prov *lp, const char *arg, char *inst, char *node)
{
    size_t rl = strlen(lp->root);
    const char *rest = arg + rl + 1;
    const char *s1 = strchr(rest, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || strcmp(s2 + 1, NODE_CONF) || s1 - rest >= ID_MAX || s2 - s1 - 1 >= ID_MAX)
        return -1;
    snprintf(inst, ID_MAX, "%.*s", (int)(s1 - rest), rest);
    snprintf(node, ID_MAX, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    return 0;
}

/* One dfly-server under root: unknown → ended; a second one of a node → ended; a node with
 * no (valid) pid file gets this process as its own. */
static int gc_process(void *ctx, long pid, const char *arg)
{
    gc_ctx *g = ctx;
    local_prov *lp = g->lp;
    char inst[ID_MAX], node[ID_MAX], pidfile[PATH_MAX];
    if (parse_conf_path(lp, arg, inst, node) < 0)
        return 0;
    if (!known_node(g, inst, node)) {
        log_warning("local: ending pid %ld: it runs %s, which no node owns", pid, arg);
        kill((pid_t)pid, SIGKILL);
        g->killed++;
        return 0;
    }
    node_path(lp, inst, node, NODE_PID, pidfile);
    long owner = pid_file_read(pidfile);
    if (owner == pid)
        return 0;
    if (owner > 0 && procfs_runs(owner, lp->exe_name, arg)) {
        log_warning("local: ending pid %ld: a second process of node %s (pid %ld runs it)", pid,
                    node, owner);
        kill((pid_t)pid, SIGKILL);
        g->killed++;
        return 0;
    }
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", pid);
    write_atomic(pidfile, text, (size_t)n);
    log_info("local: node %s runs as pid %ld (pid file restored)", node, pid);
    return 0;
}

/* Removes directories under root that no known instance or node owns. */
static void gc_dirs(gc_ctx *g)
{
    local_prov *lp = g->lp;
    uv_fs_t req;
    if (uv_fs_scandir(NULL, &req, lp->root, 0, NULL) < 0) {
        uv_fs_req_cleanup(&req);
        return;
    }
    uv_dirent_t ent;
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
        char dir[PATH_MAX];
        node_path(lp, ent.name, NULL, NULL, dir);
        if (!known_node(g, ent.name, NULL)) {
            log_info("local: removing %s: no instance owns it", dir);
            rm_rf(dir);
            continue;
        }
        uv_fs_t sub;
        if (uv_fs_scandir(NULL, &sub, dir, 0, NULL) >= 0) {
            uv_dirent_t ne;
            while (uv_fs_scandir_next(&sub, &ne) != UV_EOF) {
                if (ne.type != UV_DIRENT_DIR || known_node(g, ent.name, ne.name))
                    continue;
                char nd[PATH_MAX];
                node_path(lp, ent.name, ne.name, NULL, nd);
                log_info("local: removing %s: no node owns it", nd);
                rm_rf(nd);
            }
        }
        uv_fs_req_cleanup(&sub);
    }
    uv_fs_req_cleanup(&req);
}

/* A daemon killed while it spawned a node leaves a child that becomes the node only at its
 * exec (up to ~0.3 s later on a busy host), with no pid file yet: missed by the scan below, the
 * node would be started a second time. Waits, bounded, until no such child is left. */
static void gc_wait_unexeced(local_prov *lp)
{
    char real[PATH_MAX], prefix[PATH_MAX + 1];
    if (!realpath(lp->root, real)) /* /proc/<pid>/cwd is a resolved path */
        return;
    snprintf(prefix, sizeof(prefix), "%s/", real);
    const struct timespec step = {0, GC_SPAWN_POLL_MS * NS_PER_MS};
    int left = 0, waited = 0;
    for (; (left = procfs_count_unexeced(prefix)) > 0 && waited < GC_SPAWN_WAIT_MS;
         waited += GC_SPAWN_POLL_MS)
        nanosleep(&step, NULL);
    if (left)
        log_warning("local: %d process(es) of a previous daemon under %s did not exec in %d ms",
                    left, real, GC_SPAWN_WAIT_MS);
    else if (waited)
        log_info("local: waited %d ms for a previous daemon's child to become its node", waited);
}

static int local_collect_garbage(provisioner *p, const prov_known *known, int n)
{
    gc_ctx g = {impl(p), known, n, 0};
    char prefix[PATH_MAX + 1];
    snprintf(prefix, sizeof(prefix), "%s/", g.lp->root);
    gc_wait_unexeced(g.lp);
    procfs_each(g.lp->exe_name, prefix, gc_process, &g);
    gc_dirs(&g);
    atomic_fetch_add(&ctl_counters.orphans_killed, g.killed);
    return g.killed;
}

static int local_snapshot_open(provisioner *p, const char *inst, const char *node, int *fd)
{
    char path[PATH_MAX];
    node_path(impl(p), inst, node, NODE_SNAPSHOT, path);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    return *fd < 0 ? -errno : 0;
}

/* Copies src to dst through dst.tmp, fsynced and renamed. Returns 0 or -errno. */
static int copy_file(const char *src, const char *dst)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (out < 0) {
        int e = errno;
        close(in);
        return -e;
    }
    char *chunk = malloc(COPY_CHUNK);
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, chunk, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : 0;
            break;
        }
        if (write(out, chunk, (size_t)r) != r) {
            rc = -EIO;
            break;
        }
    }
    free(chunk);
    close(in);
    if (rc == 0 && fsync(out) < 0)
        rc = -errno;
    close(out);
    if (rc == 0 && rename(tmp, dst) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int local_snapshot_place(provisioner *p, const char *inst, const char *node, const char *src)
{
    local_prov *lp = impl(p);
    char dir[PATH_MAX], snap[PATH_MAX], journal[PATH_MAX];
    node_path(lp, inst, NULL, NULL, dir);
    int rc = mkdir_one(lp->root);
    if (rc == 0)
        rc = mkdir_one(dir);
    node_path(lp, inst, node, NULL, dir);
    if (rc == 0)
        rc = mkdir_one(dir);
    if (rc < 0)
        return rc;
    node_path(lp, inst, node, NODE_SNAPSHOT, snap);
    node_path(lp, inst, node, NODE_JOURNAL_DIR, journal);
    if ((rc = rm_rf(journal)) < 0)
        return rc;
    if (!src)
        return unlink(snap) < 0 && errno != ENOENT ? -errno : 0;
    return copy_file(src, snap);
}

static void local_close(provisioner *p)
{
    local_prov *lp = impl(p);
    /* Children keep running (they are adopted by the next daemon); their handles go. */
    for (child *c = lp->children; c; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->proc))
            uv_close((uv_handle_t *)&c->proc, child_closed);
    uv_run(lp->loop, UV_RUN_NOWAIT);
    for (char **e = lp->env; e && *e; e++)
        free(*e);
    free(lp->env);
    free(lp);
}

static const provisioner_ops local_ops = {
    .name = "local",
    .create = local_create,
    .start = local_start,
    .stop = local_stop,
    .destroy = local_destroy,
    .destroy_instance = local_destroy_instance,
    .status = local_status,
    .collect_garbage = local_collect_garbage,
    .snapshot_open = local_snapshot_open,
    .snapshot_place = local_snapshot_place,
    .close = local_close,
};

/* This process's environment minus DFLY_* (dfly-server would read them as its flags). */
static char **child_env(void)
{
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    char **out = calloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, ENV_HIDDEN_PREFIX, strlen(ENV_HIDDEN_PREFIX)))
            out[k++] = strdup(*e);
    return out;
}

provisioner *provisioner_local_new(uv_loop_t *loop, const char *root, const char *binary,
                                   prov_exit_fn exit_fn, void *ctx)
{
    local_prov *lp = calloc(1, sizeof(*lp));
    lp->base.ops = &local_ops;
    lp->base.impl = lp;
    lp->loop = loop;
    snprintf(lp->root, sizeof(lp->root), "%s", root);
    snprintf(lp->binary, sizeof(lp->binary), "%s", binary);
    const char *slash = strrchr(lp->binary, '/');
    lp->exe_name = slash ? slash + 1 : lp->binary;
    lp->exit_fn = exit_fn;
    lp->ctx = ctx;
    lp->env = child_env();
    mkdir_one(root);
    return &lp->base;
}
