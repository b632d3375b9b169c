/* Idempotency-Key on POST: the first response to a key is kept (24 hours) and a retry with
 * the same key, method, path and body gets it again instead of a second effect. The same key
 * with another request is refused (422). Keys are per caller scope (a tenant, or the operator).
 *
 * The lookup, the handler's writes and the record of the response share one transaction, so a
 * crash can never leave an effect without its record, and concurrent retries serialize. */
#ifndef DFLY_CONTROL_IDEMPOTENCY_H
#define DFLY_CONTROL_IDEMPOTENCY_H

#include "http.h"

#define IDEMPOTENCY_HEADER "Idempotency-Key"
#define IDEMPOTENCY_KEY_MAX 255
#define IDEMPOTENCY_TTL_MS (24LL * 3600 * 1000)

/* Runs fn for r under key (see above). */
void idempotency_run(http_req *r, const char *key, void (*fn)(http_req *r));
/* Deletes records older than the TTL. Returns how many went. */
int idempotency_expire(long long now_ms);

#endif
