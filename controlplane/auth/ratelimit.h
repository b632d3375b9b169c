/* Requests per second per token: a token bucket per token id (--rate-limit refills it,
 * --rate-burst is its size). Thread-safe. */
#ifndef DFLY_CONTROL_RATELIMIT_H
#define DFLY_CONTROL_RATELIMIT_H

/* rate 0 turns limiting off. */
void ratelimit_configure(long long rate, long long burst);
/* Takes one request from key's bucket. Returns 0 when allowed, else the seconds to wait
 * (at least 1) before a request will be. */
int ratelimit_take(const char *key);
void ratelimit_free(void);

#endif
