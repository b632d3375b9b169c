/* go-plugin's side of the handshake: the magic cookie, the protocol version, a listening unix
 * socket, the self-signed server certificate, and the one line on stdout that tells Terraform
 * where and how to connect (docs/terraform.md, "How it works"). */
#ifndef TF_PLUGIN_H
#define TF_PLUGIN_H

#include <openssl/ssl.h>
#include <stdbool.h>

#define PLUGIN_COOKIE_KEY "TF_PLUGIN_MAGIC_COOKIE"
#define PLUGIN_COOKIE_VALUE "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
#define PLUGIN_CORE_VERSION 1
#define PLUGIN_APP_VERSION 6

typedef struct plugin_listener {
    int fd;         /* the listening unix socket */
    char dir[256];  /* its private directory, removed at exit */
    char path[300]; /* the socket's path */
    SSL_CTX *tls;   /* NULL when Terraform sent no client certificate: plain HTTP/2 */
    char *cert_b64; /* the server certificate, DER in unpadded base64 (NULL without TLS) */
} plugin_listener;

/* True when the environment carries Terraform's magic cookie. */
bool plugin_cookie_ok(void);

/* Checks PLUGIN_PROTOCOL_VERSIONS, makes the certificate and TLS context, binds the socket.
 * Returns 0, or -1 with a message on stderr. */
int plugin_listen(plugin_listener *pl);

/* Prints the handshake line on stdout and flushes it. */
void plugin_announce(const plugin_listener *pl);

/* Closes the socket, removes its directory, frees the TLS context. */
void plugin_close(plugin_listener *pl);

#endif
