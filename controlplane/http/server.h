/* The REST API's listener: libmicrohttpd with a pool of --http-threads threads, HTTPS when
 * --tls-cert-file and --tls-key-file are given. */
#ifndef DFLY_CONTROL_HTTP_SERVER_H
#define DFLY_CONTROL_HTTP_SERVER_H

#include <stddef.h>

/* Starts listening. Returns 0 or -1 with err. */
int http_server_start(char *err, size_t errlen);
/* Stops accepting, waits for the pool threads to finish their requests. */
void http_server_stop(void);

#endif
