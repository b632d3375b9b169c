/* HTTP on the main port: GET /metrics answers Prometheus text, anything else 404, a malformed
 * request 400 and a close. Chosen per connection from its first line (client.c). */
#ifndef DFLY_HTTP_H
#define DFLY_HTTP_H

#include "buf.h"
#include "client.h"

/* Handles the complete requests in cl->rbuf. */
void http_process(client *cl);
void http_client_free(client *cl);
/* Renders the Prometheus exposition; the caller holds every shard. */
void metrics_render(buf *out);

#endif
