/* The web console: dfly-control serves the files of --web-dir (web/ in the source tree) at `/`,
 * next to the API. Everything that is not an API path and is a GET or HEAD comes here. */
#ifndef DFLY_CONTROL_HTTP_STATIC_H
#define DFLY_CONTROL_HTTP_STATIC_H

#include <microhttpd.h>

#include "http.h"

/* Finds the console's directory (--web-dir, else an installed or the source tree's web/) and
 * logs where the console is. Called once the listener is up. */
void static_init(void);

/* Is r a request for a console file (GET or HEAD outside the API's paths)? */
int static_wants(const http_req *r);

/* Answers r with a file, 304, or 404, always with the console's security headers. */
enum MHD_Result static_respond(http_req *r);

#endif
