/* Leveled logging: one record per write(2) so lines from several threads never interleave. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_RECORD_MAX 4096

static const char *level_names[] = {"debug", "info", "warning", "error"};
static atomic_int cur_level = LOG_INFO;
static int log_fd = 2;
static int log_json;
static char log_program[64] = "dfly";

int log_level_parse(const char *name, enum log_level *out)
{
    if (!strcasecmp(name, "debug") || !strcasecmp(name, "verbose"))
        *out = LOG_DEBUG;
    else if (!strcasecmp(name, "info") || !strcasecmp(name, "notice"))
        *out = LOG_INFO;
    else if (!strcasecmp(name, "warning"))
        *out = LOG_WARNING;
    else if (!strcasecmp(name, "error"))
        *out = LOG_ERROR;
    else
        return -1;
    return 0;
}

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

int log_open(const char *program, const char *path, enum log_level level, int json)
{
    if (path && *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        if (log_fd > 2)
            close(log_fd);
        log_fd = fd;
    }
    if (program)
        snprintf(log_program, sizeof(log_program), "%s", program);
    atomic_store(&cur_level, level);
    log_json = json;
    return 0;
}

void log_set_level(enum log_level level)
{
    atomic_store(&cur_level, level);
}

enum log_level log_get_level(void)
{
    return atomic_load_explicit(&cur_level, memory_order_relaxed);
}

void log_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
}

/* Appends `s` to out as a JSON string body (no quotes), escaping what JSON requires. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (ch < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
    return n;
}

void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
    if (level < log_get_level())
        return;
    char msg[LOG_RECORD_MAX / 2];
    vsnprintf(msg, sizeof(msg), fmt, ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(tv.tv_usec / 1000));

    char rec[LOG_RECORD_MAX];
    int n;
    if (log_json) {
        char esc[LOG_RECORD_MAX / 2 + 64];
        json_escape(esc, sizeof(esc), msg);
        n = snprintf(
            rec, sizeof(rec),
            "{\"ts\":\"%s\",\"level\":\"%s\",\"program\":\"%s\",\"pid\":%d,\"msg\":\"%s\"}\n", ts,
            level_names[level], log_program, (int)getpid(), esc);
    } else {
        n = snprintf(rec, sizeof(rec), "%s %s[%d] %s %s\n", ts, log_program, (int)getpid(),
                     level_names[level], msg);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(rec)) {
        n = sizeof(rec) - 1;
        rec[n - 1] = '\n';
    }
    ssize_t w;
    do {
        w = write(log_fd, rec, (size_t)n);
    } while (w < 0 && errno == EINTR);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fmt, ap);
    va_end(ap);
}
