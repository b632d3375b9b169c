/* terraform-provider-dfly: the Terraform provider of dfly-control, on plugin protocol 6.
 * Terraform starts it, reads the handshake line, connects once over the unix socket with mutual
 * TLS and HTTP/2, calls RPCs, and ends with go-plugin's Shutdown (docs/terraform.md). */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc.h"
#include "plugin.h"
#include "rpc.h"

static const char not_a_program_message[] =
    "This binary is a plugin of Terraform: it is not meant to be run directly.\n"
    "Install it as terraform-provider-dfly (see docs/terraform.md) and use it from a Terraform\n"
    "configuration with\n"
    "\n"
    "  terraform { required_providers { dfly = { source = \"dfly/dfly\" } } }\n";

/* The one connection Terraform makes, served until it closes it or says Shutdown. */
static int serve_connection(plugin_listener *pl, rpc_ctx *ctx)
{
    int fd = accept4(pl->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        perror("terraform-provider-dfly: accept");
        return -1;
    }
    SSL *ssl = NULL;
    int rc = 0;
    if (pl->tls) {
        ssl = SSL_new(pl->tls);
        if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
            fputs("terraform-provider-dfly: TLS handshake with Terraform failed\n", stderr);
            ERR_print_errors_fp(stderr);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = grpc_serve(fd, ssl, rpc_handle, ctx);
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (!plugin_cookie_ok()) {
        fputs(not_a_program_message, stderr);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Terraform sends SIGINT to the whole process group on Ctrl-C; it then asks us to stop
     * through StopProvider, so the signal itself is not ours to act on. */
    signal(SIGINT, SIG_IGN);
    plugin_listener pl;
    if (plugin_listen(&pl) != 0) {
        plugin_close(&pl);
        return 1;
    }
    plugin_announce(&pl);
    rpc_ctx ctx;
    rpc_ctx_init(&ctx);
    int rc = serve_connection(&pl, &ctx);
    if (rc == GRPC_SERVE_ABANDONED) {
        /* Terraform went away during a call: its thread still uses ctx, so leave at once. */
        plugin_close(&pl);
        _exit(1);
    }
    rpc_ctx_free(&ctx);
    plugin_close(&pl);
    return rc == 0 ? 0 : 1;
}
