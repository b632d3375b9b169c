/* dfly's configuration: profiles in $XDG_CONFIG_HOME/dfly/config.json, and the order in which
 * the endpoint and the token are resolved:
 *   --endpoint / --token  >  $DFLY_ENDPOINT / $DFLY_TOKEN  >  the profile  >  the default.
 * The profile is --profile, else $DFLY_PROFILE, else the file's "current_profile", else
 * "default". --ca-file, $DFLY_CA_FILE and the profile's "ca_file" go the same way. The file
 * holds tokens: it is written with mode 0600 in a 0700 directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:8080"
#define DEFAULT_PROFILE "default"
#define CONFIG_DIR_MODE 0700
#define CONFIG_FILE_MODE 0600

static char *join(const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, "%s%s", a, b) < 0)
        mem_oom_in("joining a path"); /* short strings: asprintf fails only for want of memory */
    return s;
}

char *config_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg)
        return join(xdg, "/dfly/config.json");
    const char *home = getenv("HOME");
    return join(home && *home ? home : ".", "/.config/dfly/config.json");
}

json_t *config_load(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return json_object();
        fprintf(stderr, "dfly: error: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    /* it holds tokens: say so when others may read it (as ssh does of a private key) */
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        fprintf(stderr, "dfly: warning: %s is readable by others; chmod 600 it\n", path);
    json_error_t err;
    json_t *cfg = json_loadf(f, 0, &err);
    fclose(f);
    if (!json_is_object(cfg)) {
        fprintf(stderr, "dfly: error: %s is not valid JSON (line %d: %s); fix or remove it\n", path,
                err.line, err.text);
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

/* mkdir -p of the directory of path, mode 0700 for what it makes. */
static int make_parent_dirs(const char *path)
{
    char *dir = strdup(path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, CONFIG_DIR_MODE) < 0 && errno != EEXIST) {
            free(dir);
            return -1;
        }
        *p = '/';
    }
    free(dir);
    return 0;
}

int config_save(const char *path, const json_t *cfg)
{
    if (make_parent_dirs(path) < 0)
        return -1;
    char *tmp = join(path, ".tmp");
    /* created 0600 from the start: the token never sits in a readable file, even briefly */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, CONFIG_FILE_MODE);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    int rc = fchmod(fd, CONFIG_FILE_MODE) == 0 &&
                     json_dumpfd(cfg, fd, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 &&
                     write(fd, "\n", 1) == 1 && fsync(fd) == 0
                 ? 0
                 : -1;
    int saved = errno;
    if (close(fd) < 0 && rc == 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1;
    if (rc < 0) {
        saved = errno;
        unlink(tmp);
    }
    free(tmp);
    errno = saved;
    return rc;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *profile_str(json_t *cfg, const char *profile, const char *key)
{
    json_t *p = json_object_get(json_object_get(cfg, "profiles"), profile);
    const char *v = json_string_value(json_object_get(p, key));
    return v && *v ? v : NULL;
}

int config_resolve(cli_ctx *x)
{
    char *path = config_path();
    json_t *cfg = config_load(path);
    free(path);
    if (!cfg)
        return -1;
    const char *profile = x->opt[OPT_PROFILE];
    if (!profile)
        profile = env("DFLY_PROFILE");
    if (!profile)
        profile = json_string_value(json_object_get(cfg, "current_profile"));
    if (!profile)
        profile = DEFAULT_PROFILE;
    x->profile = strdup(profile);

    const char *endpoint = x->opt[OPT_ENDPOINT];
    if (!endpoint)
        endpoint = env("DFLY_ENDPOINT");
    if (!endpoint)
        endpoint = profile_str(cfg, profile, "endpoint");
    x->endpoint = strdup(endpoint ? endpoint : DEFAULT_ENDPOINT);

    const char *token = x->opt[OPT_TOKEN];
    if (!token)
        token = env("DFLY_TOKEN");
    if (!token)
        token = profile_str(cfg, profile, "token");
    x->token = token ? strdup(token) : NULL;

    const char *ca = x->opt[OPT_CA_FILE];
    if (!ca)
        ca = env("DFLY_CA_FILE");
    if (!ca)
        ca = profile_str(cfg, profile, "ca_file");
    x->ca_file = ca ? strdup(ca) : NULL;
    json_decref(cfg);
    return 0;
}
