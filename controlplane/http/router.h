/* The route table of API v1 and the dispatch of a request: match, authenticate, rate-limit,
 * Idempotency-Key, handler. */
#ifndef DFLY_CONTROL_ROUTER_H
#define DFLY_CONTROL_ROUTER_H

#include "http.h"

enum route_auth {
    ROUTE_PUBLIC,   /* no token: health, metrics, the OpenAPI document */
    ROUTE_TOKEN,    /* any valid token; handlers scope what it sees */
    ROUTE_OPERATOR, /* operator tokens only (403 for tenant tokens) */
};

typedef struct route {
    const char *method;
    const char *pattern; /* "/v1/instances/{id}": {name} matches one segment */
    enum route_auth auth;
    void (*fn)(http_req *r);
} route;

/* Routes in table order, ending with {0}. */
extern const route router_routes[];
int router_route_count(void);

/* Answers r (sets its response). Called once the body is complete. */
void router_dispatch(http_req *r);

/* Set by main once the reconciler runs: router_dispatch calls it when a handler changed
 * desired state. */
extern void (*router_on_change)(void);

#endif
