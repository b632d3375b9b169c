/* TLS (OpenSSL 3) for client connections, as a transport under client.c's libuv reads and
 * writes: each connection's SSL object works on two memory BIOs, so encrypted bytes come from
 * and go to the socket through the same uv_read_start/uv_write paths as plain text, and a
 * connection without TLS pays nothing.
 *
 * Contexts. One server SSL_CTX is "current": new connections take it (SSL_new keeps its own
 * reference), and tls_reload (CONFIG SET tls-*, SIGHUP) builds a new one from the files and makes
 * it current; connections keep the context they started with. A context that fails to build
 * never replaces the current one. The current context is guarded by a mutex, so any thread may
 * create connections or reload. */
#ifndef DFLY_TLS_H
#define DFLY_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "buf.h"

#define TLS_ERR_MAX 256

typedef struct tls_conn tls_conn;

/* At startup, when --tls, --tls_replication or --tls_cluster is set: checks the settings and
 * builds the contexts. Returns 0, or -1 with the reason in err. */
int tls_init(char *err, size_t errlen);
/* Builds new contexts from the current settings and files; on success new connections use them.
 * Returns 0, or -1 with the reason in err (the old contexts stay). A no-op without TLS. */
int tls_reload(char *err, size_t errlen);
/* Frees the current contexts (at exit; connections still open keep theirs). */
void tls_shutdown(void);
/* True when client listeners speak TLS (--tls). */
int tls_server_enabled(void);
/* The client end of a TLS link on a connected socket, in connect state: a replica's to its
 * master (--tls_replication), a migration's to its target (--tls_cluster). The caller drives
 * SSL_connect and frees it. NULL without a client context. */
SSL *tls_client_new(int fd);
/* The calling thread's last OpenSSL error as text (and the error queue emptied). */
void tls_last_error(char *out, size_t outlen);

/* A server-side connection with the current context; NULL when out of memory or TLS is off.
 * Owned by the caller, used by one thread at a time. */
tls_conn *tls_conn_new_server(void);
/* Another owner (a full sync's writer thread, while the client's thread leaves the connection
 * alone: CLIENT_REPL_TRANSFER). tls_conn_free drops one reference; the last frees. */
void tls_conn_ref(tls_conn *t);
void tls_conn_free(tls_conn *t);
/* Takes encrypted bytes received from the peer and appends what they decrypt to into out
 * (handshake first). Returns 0, or -1 when the connection must close (handshake failure, alert,
 * close_notify); a failure is logged at verbose level with the peer's addr. */
int tls_conn_feed(tls_conn *t, const char *data, size_t len, buf *out, const char *addr);
/* Encrypts up to len plaintext bytes. Returns how many were taken (0 while the handshake is not
 * done), or -1 on a fatal error. */
long tls_conn_write(tls_conn *t, const char *data, size_t len);
/* Queues TLS's close_notify alert (after a completed handshake), for a graceful close. */
void tls_conn_close_notify(tls_conn *t);
/* Encrypted bytes waiting to be sent. */
size_t tls_conn_pending(const tls_conn *t);
/* Moves the encrypted bytes waiting to be sent to the end of out. */
void tls_conn_take(tls_conn *t, buf *out);

#endif
