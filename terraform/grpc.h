/* A unary gRPC server over HTTP/2 (nghttp2) on one connection, TLS or plain: requests are
 * POST /<service>/<method> with one length-prefixed message; answers carry one message and
 * trailers with grpc-status. Each call's handler runs on a thread of its own, so handlers must
 * be thread-safe; the connection itself is served by the calling thread. */
#ifndef TF_GRPC_H
#define TF_GRPC_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* gRPC status codes we answer with. */
#define GRPC_OK 0
#define GRPC_INVALID_ARGUMENT 3
#define GRPC_UNIMPLEMENTED 12
#define GRPC_INTERNAL 13

/* grpc_serve's answer when the connection ended while handlers still ran: the process must
 * exit without freeing what they use. */
#define GRPC_SERVE_ABANDONED (-2)

/* One call: method is the request path ("/tfplugin6.Provider/ReadResource"); req the message.
 * The handler appends the answer's message to resp and returns a gRPC status; *stop set to
 * true ends the connection once the answer is sent (go-plugin's Shutdown). */
typedef int (*grpc_handler_fn)(void *ud, const char *method, const uint8_t *req, size_t req_len,
                               buf *resp, bool *stop);

/* Serves the connection fd (through ssl when not NULL) until the peer closes it, an error, or a
 * handler asks to stop. Returns 0 on an orderly end, -1 on an error, GRPC_SERVE_ABANDONED. */
int grpc_serve(int fd, SSL *ssl, grpc_handler_fn handler, void *ud);

#endif
