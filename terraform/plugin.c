/* go-plugin's handshake (see plugin.h). */
#include "plugin.h"

#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4
#define VERSIONS_MAX 128 /* PLUGIN_PROTOCOL_VERSIONS is a short list like "5,6" */

bool plugin_cookie_ok(void)
{
    const char *v = getenv(PLUGIN_COOKIE_KEY);
    return v && strcmp(v, PLUGIN_COOKIE_VALUE) == 0;
}

/* PLUGIN_PROTOCOL_VERSIONS is the set Terraform speaks ("5,6"); we speak 6 only. */
static bool version_offered(void)
{
    const char *v = getenv("PLUGIN_PROTOCOL_VERSIONS");
    if (!v || !*v)
        return true; /* an old client that does not negotiate: it asks for our version */
    char copy[VERSIONS_MAX];
    snprintf(copy, sizeof copy, "%s", v);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (atoi(t) == PLUGIN_APP_VERSION)
            return true;
    return false;
}

static int listen_unix(plugin_listener *pl)
{
    const char *base = getenv("PLUGIN_UNIX_SOCKET_DIR");
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(pl->dir, sizeof pl->dir, "%s/tfdfly-XXXXXX", base);
    if (!mkdtemp(pl->dir)) {
        perror("terraform-provider-dfly: mkdtemp");
        pl->dir[0] = '\0';
        return -1;
    }
    snprintf(pl->path, sizeof pl->path, "%s/plugin.sock", pl->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(pl->path) >= sizeof sa.sun_path) {
        fprintf(stderr, "terraform-provider-dfly: socket path too long: %s\n", pl->path);
        return -1;
    }
    strcpy(sa.sun_path, pl->path);
    pl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (pl->fd < 0 || bind(pl->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(pl->fd, LISTEN_BACKLOG) != 0) {
        perror("terraform-provider-dfly: unix socket");
        return -1;
    }
    return 0;
}

int plugin_listen(plugin_listener *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->fd = -1;
    if (!version_offered()) {
        fprintf(stderr,
                "terraform-provider-dfly: Terraform offers plugin protocol versions %s; this "
                "provider speaks version %d (Terraform 1.0 or newer)\n",
                getenv("PLUGIN_PROTOCOL_VERSIONS"), PLUGIN_APP_VERSION);
        return -1;
    }
    const char *client_cert = getenv("PLUGIN_CLIENT_CERT");
    if (client_cert && *client_cert) {
        pl->tls = tls_server_context(client_cert, &pl->cert_b64);
        if (!pl->tls) {
            fputs("terraform-provider-dfly: cannot set up TLS with PLUGIN_CLIENT_CERT\n", stderr);
            return -1;
        }
    }
    return listen_unix(pl);
}

void plugin_announce(const plugin_listener *pl)
{
    printf("%d|%d|unix|%s|grpc|%s\n", PLUGIN_CORE_VERSION, PLUGIN_APP_VERSION, pl->path,
           pl->cert_b64 ? pl->cert_b64 : "");
    fflush(stdout);
}

void plugin_close(plugin_listener *pl)
{
    if (pl->fd >= 0)
        close(pl->fd);
    pl->fd = -1;
    if (pl->path[0])
        unlink(pl->path);
    if (pl->dir[0])
        rmdir(pl->dir);
    pl->path[0] = pl->dir[0] = '\0';
    SSL_CTX_free(pl->tls);
    pl->tls = NULL;
    free(pl->cert_b64);
    pl->cert_b64 = NULL;
}
