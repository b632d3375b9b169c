/* Leveled logging shared by every dfly program: text or JSON lines, to stderr or a file.
 * Thread-safe: each record is written with one write(2). */
#ifndef DFLY_LOG_H
#define DFLY_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARNING, LOG_ERROR };

/* Returns 0, or -1 when `name` is not a level name (debug|info|notice|verbose|warning|error). */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Configure the sink. path NULL or "" means stderr. json selects JSON-lines records.
 * Returns 0 or -errno when the file cannot be opened (the previous sink stays). */
int log_open(const char *program, const char *path, enum log_level level, int json);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_close(void);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vwrite(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() <= LOG_DEBUG)                                                          \
            log_write(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_write(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
