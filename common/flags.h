/* Flags and configuration shared by every dfly program.
 *
 * A program describes its flags in one table. Values are applied in this order, later wins:
 * the table's defaults, a config file (Redis "name value" syntax, one per line, '#' comments),
 * the environment (PREFIX + upper-case name, e.g. DFLY_PORT), then the command line
 * (--name=value, --name value, or a bare --name for booleans). Names compare with '-' and '_'
 * as the same character and without regard to case. */
#ifndef DFLY_FLAGS_H
#define DFLY_FLAGS_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

enum flag_type {
    FLAG_STR,   /* target: char ** (heap string, owned by the table) */
    FLAG_INT,   /* target: long long *, bounded by min..max */
    FLAG_BOOL,  /* target: int *, yes/no/true/false/1/0/on/off */
    FLAG_BYTES, /* target: long long *, accepts 4gb, 100mb, 1k (Redis units) */
};

typedef struct flag_def {
    const char *name;
    enum flag_type type;
    void *target;
    const char *defval;
    const char *help;
    long long min, max; /* FLAG_INT and FLAG_BYTES; both 0 means unbounded */
} flag_def;

enum { FLAGS_OK = 0, FLAGS_ERROR = -1, FLAGS_HELP = 1, FLAGS_VERSION = 2 };

#define FLAGS_ERR_MAX 256

/* Returns the table entry for name, or NULL. The table ends with an entry whose name is NULL. */
const flag_def *flags_find(const flag_def *defs, const char *name);
/* Parses and stores value. Returns 0, or -1 with a message in err. */
int flags_set(const flag_def *d, const char *value, char *err, size_t errlen);
/* Appends the current value as text. */
void flags_format(const flag_def *d, buf *out);

/* Applies defaults, config file, environment and argv in that order. A config file is the first
 * argument that does not start with "--", or the value of --config. Returns FLAGS_OK, FLAGS_HELP
 * (--help), FLAGS_VERSION (--version) or FLAGS_ERROR with a message in err. */
int flags_init(const flag_def *defs, int argc, char **argv, const char *env_prefix, char *err,
               size_t errlen);
/* Applies one config file; used by flags_init and by programs that reload. */
int flags_load_file(const flag_def *defs, const char *path, char *err, size_t errlen);
void flags_print_help(const flag_def *defs, FILE *out, const char *usage);
void flags_free(const flag_def *defs);

/* Value parsers, usable on their own. Return 0 or -1. */
int flags_parse_bytes(const char *s, long long *out);
int flags_parse_bool(const char *s, int *out);
int flags_parse_int(const char *s, long long *out);

/* Splits a config line into up to max words, honouring "double" and 'single' quotes.
 * Returns the word count, or -1 on unbalanced quotes. Words point into line, which is modified. */
int flags_split_line(char *line, char **words, int max);

#endif
