/* Token buckets per API token. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define BUCKETS 1024 /* hash chains; entries are per token, so this bounds nothing */
#define NS_PER_S 1e9

typedef struct bucket {
    char *key;
    double tokens;
    uint64_t last_ns;
    struct bucket *next;
} bucket;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bucket *table[BUCKETS];
static double rate_per_s, burst;

void ratelimit_configure(long long rate, long long burst_size)
{
    rate_per_s = (double)rate;
    burst = (double)burst_size;
}

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static bucket *bucket_get(const char *key, uint64_t now)
{
    unsigned h = hash_key(key);
    for (bucket *b = table[h]; b; b = b->next)
        if (!strcmp(b->key, key))
            return b;
    bucket *b = calloc(1, sizeof(*b));
    b->key = strdup(key);
    b->tokens = burst;
    b->last_ns = now;
    b->next = table[h];
    table[h] = b;
    return b;
}

int ratelimit_take(const char *key)
{
    if (rate_per_s <= 0)
        return 0;
    uint64_t now = clock_mono_ns();
    pthread_mutex_lock(&lock);
    bucket *b = bucket_get(key, now);
    b->tokens += (double)(now - b->last_ns) / NS_PER_S * rate_per_s;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ns = now;
    int wait = 0;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else /* Retry-After is in whole seconds: a refused request waits at least one */
        wait = (int)fmax(1.0, ceil((1 - b->tokens) / rate_per_s));
    pthread_mutex_unlock(&lock);
    return wait;
}

void ratelimit_free(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < BUCKETS; i++) {
        bucket *b = table[i];
        while (b) {
            bucket *next = b->next;
            free(b->key);
            free(b);
            b = next;
        }
        table[i] = NULL;
    }
    pthread_mutex_unlock(&lock);
}
