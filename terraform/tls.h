/* The provider's TLS: a fresh self-signed ECDSA P-256 certificate for "localhost" at every start,
 * a server context that selects ALPN h2 and requires the client certificate Terraform names in
 * PLUGIN_CLIENT_CERT (go-plugin's automatic mutual TLS). */
#ifndef TF_TLS_H
#define TF_TLS_H

#include <openssl/ssl.h>

/* Builds the server context trusting exactly client_cert_pem. On success returns it and sets
 * *cert_b64 (caller frees) to the server certificate's DER in base64 without padding. */
SSL_CTX *tls_server_context(const char *client_cert_pem, char **cert_b64);

#endif
