/* Error counters for INFO errorstats, and the per-command hook. */
#include "stats.h"

#include <pthread.h>
#include <string.h>

#include "reply.h"

#define ERRORSTATS_MAX 128 /* Redis keeps at most this many distinct codes */
#define ERROR_CODE_MAX 32

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char code[ERROR_CODE_MAX];
    uint64_t count;
} errs[ERRORSTATS_MAX];
static int nerrs;
static uint64_t total_errors;

void stats_count_error(const char *msg)
{
    size_t n = strcspn(msg, " ");
    if (n >= ERROR_CODE_MAX)
        n = ERROR_CODE_MAX - 1;
    pthread_mutex_lock(&err_lock);
    total_errors++;
    int i;
    for (i = 0; i < nerrs; i++)
        if (strlen(errs[i].code) == n && !memcmp(errs[i].code, msg, n))
            break;
    if (i == nerrs && nerrs < ERRORSTATS_MAX) {
        memcpy(errs[i].code, msg, n);
        errs[i].code[n] = '\0';
        errs[i].count = 0;
        nerrs++;
    }
    if (i < nerrs)
        errs[i].count++;
    pthread_mutex_unlock(&err_lock);
}

void stats_format_errors(buf *out)
{
    pthread_mutex_lock(&err_lock);
    for (int i = 0; i < nerrs; i++)
        buf_printf(out, "errorstat_%s:count=%llu\r\n", errs[i].code,
                   (unsigned long long)errs[i].count);
    pthread_mutex_unlock(&err_lock);
}

uint64_t stats_total_errors(void)
{
    pthread_mutex_lock(&err_lock);
    uint64_t n = total_errors;
    pthread_mutex_unlock(&err_lock);
    return n;
}

void stats_reset(void)
{
    pthread_mutex_lock(&err_lock);
    nerrs = 0;
    total_errors = 0;
    pthread_mutex_unlock(&err_lock);
}

void stats_after_command(cmd_ctx *c, uint64_t dur_us)
{
    (void)c, (void)dur_us;
}
